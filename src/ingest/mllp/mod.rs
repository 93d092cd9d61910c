//! The MLLP listener (HL7 v2 Minimal Lower Layer Protocol over TCP): hospital gateways, pumps and
//! monitors send IHE PCD messages framed as `0x0B message 0x1C 0x0D`, one after another on a
//! connection, and wait for an original-mode acknowledgement for each.
//!
//! A message is acknowledged `AA` only once it is durably in the outbox; a malformed one `AE`, a
//! message the bridge does not take (an order, say) `AR`, each with an ERR segment that names the
//! problem, and nothing is stored for them. Whether a message can be delivered is the pipeline's
//! check at the door ([`Pipeline::check`]); the transport reads only the header its ACK echoes
//! ([`ack`]), and cuts frames ([`framer`]).

pub mod ack;
pub mod config;
pub mod framer;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::adapters::AdapterKind;
use crate::ingest::limits::{AcceptBackoff, Checks, ConnectionCap};
use crate::metrics::{Metrics, Transport};
use crate::pipeline::{Pipeline, RefusalKind};
use crate::store::{Outbox, OutboxRecord};
use ack::{acknowledgement, AckCode, Header};
pub use config::MllpConfig;
use framer::{Frame, Framer};

/// Serves MLLP on `listener` until `shutdown` completes, then waits for open connections to finish
/// the message they are on (at most `idle_timeout`).
pub async fn serve(
    listener: TcpListener,
    outbox: Outbox,
    pipeline: Arc<Pipeline>,
    config: MllpConfig,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let acks = Arc::new(AtomicU64::new(1));
    let mut connections = JoinSet::new();
    let (stopping, stop_signal) = watch::channel(false);
    let cap = ConnectionCap::new(config.max_connections);
    let checks = Checks::new(config.max_concurrent_checks);
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    // A failed accept (too many open files) must neither end the listener nor spin.
                    Err(error) => {
                        backoff.failed("mllp", &error).await;
                        continue;
                    }
                };
                backoff.accepted();
                let Some(place) = cap.admit() else {
                    metrics.connection_refused(Transport::Mllp, "connections");
                    continue;
                };
                let context = Context {
                    outbox: outbox.clone(),
                    pipeline: Arc::clone(&pipeline),
                    metrics: Arc::clone(&metrics),
                    acks: Arc::clone(&acks),
                    checks: checks.clone(),
                };
                let stop = stop_signal.clone();
                let config = config.clone();
                connections.spawn(async move {
                    let _place = place;
                    match config.tls.clone() {
                        None => connection(stream, peer, context, config, stop).await,
                        Some(tls) => {
                            // A client that does not finish its handshake is dropped like a slow frame.
                            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                            match tokio::time::timeout(config.frame_timeout, acceptor.accept(stream)).await {
                                Ok(Ok(secured)) => connection(secured, peer, context, config, stop).await,
                                Ok(Err(_)) => {}
                                Err(_) => context.metrics.connection_refused(Transport::Mllp, "timeout"),
                            }
                        }
                    }
                });
            }
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Every connection finishes the message it is in, answers it, and closes; one that never completes
    // its frame is cut after the idle timeout (nothing of it was stored).
    let _ = stopping.send(true);
    let _ = tokio::time::timeout(config.idle_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// What every connection shares.
struct Context {
    outbox: Outbox,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
    /// The next ACK control id.
    acks: Arc<AtomicU64>,
    checks: Checks,
}

/// One connection: reads frames, answers each, until the peer hangs up, idles or misbehaves.
async fn connection<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    context: Context,
    config: MllpConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut framer = Framer::default();
    let mut chunk = vec![0u8; 16 * 1024];
    // When the frame in progress began: it must end within the frame timeout, however the bytes trickle.
    let mut frame_started: Option<tokio::time::Instant> = None;
    loop {
        // Between messages, a shutdown closes the connection; inside one, reading goes on to its end.
        let between_messages = !framer.in_message();
        let wait = match frame_started {
            Some(started) if !between_messages => {
                (started + config.frame_timeout).saturating_duration_since(tokio::time::Instant::now())
            }
            _ => config.idle_timeout,
        };
        let read = tokio::select! {
            read = tokio::time::timeout(wait, stream.read(&mut chunk)) => match read {
                Ok(Ok(0)) | Ok(Err(_)) => return, // closed (a partial frame is discarded) or failed
                Err(_) => {
                    if !between_messages {
                        context.metrics.connection_refused(Transport::Mllp, "timeout");
                    }
                    return; // idle, or a frame too slow
                }
                Ok(Ok(n)) => n,
            },
            _ = stop.wait_for(|stopping| *stopping), if between_messages => return,
        };
        framer.push(chunk.get(..read).unwrap_or_default());
        let mut completed = false;
        loop {
            match framer.next(config.max_message_bytes) {
                Frame::Incomplete => break,
                Frame::TooLarge => {
                    context.metrics.received(Transport::Mllp, 1);
                    context.metrics.rejected(Transport::Mllp, "too_large");
                    let text = format!("the message exceeds {} bytes", config.max_message_bytes);
                    let ack = acknowledgement(None, AckCode::Reject, Some(("207", &text)), &context.acks);
                    let _ = stream.write_all(&ack).await;
                    return;
                }
                Frame::Message(message) => {
                    completed = true;
                    let ack = handle(&message, peer, &context).await;
                    if stream.write_all(&ack).await.is_err() {
                        return;
                    }
                }
            }
        }
        // What is left is nothing or the start of the next frame, whose clock starts now.
        frame_started = match frame_started {
            _ if !framer.in_message() => None,
            Some(started) if !completed => Some(started),
            _ => Some(tokio::time::Instant::now()),
        };
    }
}

/// Decides about one message and stores it when accepted; returns the framed ACK.
async fn handle(bytes: &[u8], peer: SocketAddr, context: &Context) -> Vec<u8> {
    let (acks, metrics) = (&*context.acks, &context.metrics);
    metrics.received(Transport::Mllp, 1);
    // The check is CPU-bound (a message can hold thousands of rows): off the async workers, and no
    // more at once than the listener's limit.
    let (owned, pipeline) = (bytes.to_vec(), Arc::clone(&context.pipeline));
    let checked = context
        .checks
        .run(move || pipeline.check(AdapterKind::Hl7v2, &owned))
        .await;
    let header = Header::read(bytes);
    match checked {
        Some(Ok(_)) => {}
        Some(Err(refusal)) => {
            let (reason, code, hl7_code, header) = match refusal.kind {
                RefusalKind::Malformed => ("bad_payload", AckCode::Error, "102", None),
                RefusalKind::Unsupported => ("unsupported", AckCode::Reject, "200", header.as_ref()),
                RefusalKind::Invalid => ("bad_payload", AckCode::Error, "207", header.as_ref()),
                RefusalKind::Forbidden => ("unauthorized", AckCode::Reject, "207", header.as_ref()),
            };
            metrics.rejected(Transport::Mllp, reason);
            return acknowledgement(header, code, Some((hl7_code, &refusal.detail)), acks);
        }
        None => {
            metrics.rejected(Transport::Mllp, "bad_payload");
            return acknowledgement(
                None,
                AckCode::Error,
                Some(("102", "the message could not be checked")),
                acks,
            );
        }
    }
    let record = OutboxRecord {
        adapter: AdapterKind::Hl7v2.as_str().into(),
        received_at: Utc::now().fixed_offset(),
        source: format!("mllp {peer}"),
        payload: bytes.to_vec(),
        patient: None,
        batch_index: None,
    };
    match context.outbox.append(&record).await {
        Ok(_) => {
            metrics.accepted(Transport::Mllp, 1);
            acknowledgement(header.as_ref(), AckCode::Accept, None, acks)
        }
        // Never AA for what is not stored. AR, not AE: the content is fine, the bridge cannot take it
        // now, and interface engines resend on AR. The store's own error stays in our log.
        Err(error) => {
            metrics.rejected(Transport::Mllp, "store");
            tracing::error!(%error, "could not store an HL7 message; answered AR");
            acknowledgement(
                header.as_ref(),
                AckCode::Reject,
                Some(("207", "the bridge could not store the message now; send it again")),
                acks,
            )
        }
    }
}
