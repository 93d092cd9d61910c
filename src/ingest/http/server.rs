//! The HTTP listener's connections: accepted up to a cap, each given a deadline for its TLS handshake
//! and for every request's headers (an idle keep-alive connection waits under the same deadline), and
//! served by hyper with the router. Accept failures (out of file descriptors) back off instead of
//! spinning. On shutdown the listener closes and requests in progress finish (at most 30 s).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tower_service::Service;

use super::config::HttpConfig;
use crate::ingest::limits::{AcceptBackoff, ConnectionCap};
use crate::metrics::{Metrics, Transport};

/// How long requests in progress may take to finish once the bridge stops.
const DRAIN: Duration = Duration::from_secs(30);

/// What a connection over the cap is told before it is closed (plain HTTP only; a TLS client just
/// sees the connection close).
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Serves `router` on `listener`, over TLS when `tls` is given, until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &HttpConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cap = ConnectionCap::new(config.max_connections);
    let header_timeout = Duration::from_secs(config.header_timeout_secs.max(1));
    let graceful = GracefulShutdown::new();
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    backoff.failed("http", &error).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        backoff.accepted();
        let Some(place) = cap.admit() else {
            metrics.connection_refused(Transport::Http, "connections");
            if tls.is_none() {
                let _ = stream.try_write(BUSY);
            }
            continue;
        };
        let (router, tls, metrics) = (router.clone(), tls.clone(), Arc::clone(&metrics));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _place = place;
            let Some(tls) = tls else {
                return connection(stream, peer, router, header_timeout, watcher).await;
            };
            // A client that does not finish its handshake in time is dropped like a slow one.
            match tokio::time::timeout(header_timeout, tokio_rustls::TlsAcceptor::from(tls).accept(stream)).await {
                Ok(Ok(secured)) => connection(secured, peer, router, header_timeout, watcher).await,
                Ok(Err(_)) => {}
                Err(_) => metrics.connection_refused(Transport::Http, "timeout"),
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
    Ok(())
}

/// One connection: HTTP/1.1, each request's headers within `header_timeout` (from the moment the
/// connection waits for them), the peer's address given to the handlers as `ConnectInfo`.
async fn connection<I>(io: I, peer: SocketAddr, router: Router, header_timeout: Duration, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move { router.call(request.map(axum::body::Body::new)).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let _ = watcher.watch(builder.serve_connection(TokioIo::new(io), service)).await;
}
