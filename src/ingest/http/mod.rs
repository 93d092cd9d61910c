//! The HTTP listener (axum): device payloads in, health and metrics out, and the operator's
//! dead-letter endpoints.
//!
//! `POST /ingest/{adapter}` answers `202` only once the payload (or every element of a JSON array
//! batch) is durably in the outbox; `400` with an RFC 9457 problem body naming the field, byte or rule
//! when a payload cannot be mapped (nothing of the batch is stored); `413` over the size limit; `401`
//! without a valid gateway token when tokens are configured.

pub mod admin;
pub mod config;
pub mod problem;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;
use tracing::{debug, warn};

use crate::adapters::AdapterKind;
use crate::metrics::{Metrics, Transport};
use crate::pipeline::association_registry::Associations;
use crate::pipeline::{Pipeline, RefusalKind};
use crate::store::{Outbox, OutboxRecord};
use config::HttpConfig;
use problem::Problem;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub outbox: Outbox,
    pub metrics: Arc<Metrics>,
    pub config: Arc<HttpConfig>,
    /// The door every payload passes before it is stored.
    pub pipeline: Arc<Pipeline>,
    /// The live device-patient associations, for the admin API (absent: no association endpoints).
    pub associations: Option<Arc<Associations>>,
}

/// The routes of the bridge's HTTP listener.
pub fn router(state: HttpState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/ingest/{adapter}", post(ingest))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin::router())
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests in progress.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The HTTPS settings of the listener, when configured: its certificate and key, and with
/// `client_ca` mutual TLS (a client without a certificate from that CA cannot connect).
pub fn tls_config(config: &HttpConfig) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    crate::tls::server_config(
        config.tls_cert.as_deref(),
        config.tls_key.as_deref(),
        config.client_ca.as_deref(),
        &[b"http/1.1"],
    )
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, then finishes the requests in
/// progress (at most 30 s).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.into_std()?;
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
    });
    axum_server::from_tcp_rustls(listener, axum_server::tls_rustls::RustlsConfig::from_config(tls))?
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

async fn ingest(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(adapter): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    state.metrics.received(Transport::Http, 1);
    let refused = |reason: &str, problem: Problem| {
        state.metrics.rejected(Transport::Http, reason);
        problem
    };
    let gateway = authenticate(&state.config, &headers).map_err(|p| refused("unauthorized", p))?;
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(refused(
                "too_large",
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Payload too large",
                    format!(
                        "the body exceeds {} bytes (http.max_body_bytes)",
                        state.config.max_body_bytes
                    ),
                ),
            ));
        }
        Err(rejection) => {
            return Err(refused(
                "bad_payload",
                Problem::new(rejection.status(), "Unreadable body", rejection.body_text()),
            ))
        }
    };
    // `?patient=system|value`: whose data this is, for payloads that do not say (a vendor-cloud poller
    // posting one user's data).
    let patient = query.get("patient").cloned();
    if patient
        .as_deref()
        .is_some_and(|p| !matches!(p.split_once('|'), Some((system, value)) if !system.is_empty() && !value.is_empty()))
    {
        return Err(refused(
            "bad_payload",
            Problem::new(
                StatusCode::BAD_REQUEST,
                "Invalid patient",
                "the `patient` query parameter must be `system|value`",
            ),
        ));
    }
    let Some(adapter) = AdapterKind::from_name(&adapter) else {
        return Err(refused(
            "unsupported",
            Problem::not_found(
                "Unknown adapter",
                format!(
                    "there is no such adapter; use /ingest/{}",
                    AdapterKind::ALL.map(AdapterKind::as_str).join(", /ingest/")
                ),
            ),
        ));
    };
    let pipeline = Arc::clone(&state.pipeline);
    let claimed_by = gateway.clone();
    let checked = tokio::task::spawn_blocking(move || pipeline.check_from(adapter, &body, claimed_by.as_deref()))
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Check failed",
                "the payload could not be checked",
            )
        })?;
    let payloads = checked.map_err(|refusal| {
        debug!(adapter = adapter.as_str(), "refused a payload");
        let (status, title, reason) = match refusal.kind {
            RefusalKind::Forbidden => (StatusCode::FORBIDDEN, "Forbidden", "forbidden"),
            _ => (StatusCode::BAD_REQUEST, "Invalid payload", "bad_payload"),
        };
        let problem = Problem::new(status, title, refusal.detail);
        refused(
            reason,
            match refusal.index {
                Some(index) => problem.with("index", index),
                None => problem,
            },
        )
    })?;
    let received_at = Utc::now().fixed_offset();
    let source = match gateway {
        Some(id) => format!("http gateway {id}"),
        None => format!("http {peer}"),
    };
    let batch = payloads.len() > 1;
    let records: Vec<OutboxRecord> = payloads
        .into_iter()
        .enumerate()
        .map(|(index, payload)| OutboxRecord {
            adapter: adapter.as_str().to_string(),
            received_at,
            source: source.clone(),
            payload,
            patient: patient.clone(),
            batch_index: batch.then(|| u32::try_from(index).unwrap_or(u32::MAX)),
        })
        .collect();
    match state.outbox.append_all(&records).await {
        Ok(first) => {
            state.metrics.accepted(Transport::Http, records.len() as u64);
            let ids: Vec<u64> = (first..first + records.len() as u64).collect();
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "accepted": records.len(), "ids": ids })),
            )
                .into_response())
        }
        Err(error) => {
            warn!(%error, "could not store a payload");
            Err(refused(
                "store",
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Not stored",
                    "the bridge could not store the payload; send it again",
                ),
            ))
        }
    }
}

/// The gateway id of a valid bearer token; `None` when no tokens are configured (loopback only).
fn authenticate(config: &HttpConfig, headers: &HeaderMap) -> Result<Option<String>, Problem> {
    if config.gateways.is_empty() {
        return Ok(None);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match token.and_then(|token| config.gateway_for_token(token)) {
        Some(gateway) => Ok(Some(gateway.id.clone())),
        None => Err(Problem::unauthorized(
            "a valid gateway bearer token is required (Authorization: Bearer ...)",
        )),
    }
}

async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Ready when the store answers: what the bridge needs to accept readings. Delivery state is shown
/// but does not make the bridge unready (readings wait in the outbox).
async fn readyz(State(state): State<HttpState>) -> Response {
    match state.outbox.len() {
        Ok(depth) => Json(json!({ "status": "ready", "outboxDepth": depth })).into_response(),
        Err(error) => {
            warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "store unavailable" })),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<HttpState>) -> Response {
    if let Ok(depth) = state.outbox.len() {
        state.metrics.outbox_depth.set(depth as i64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
