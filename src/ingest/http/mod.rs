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
mod server;

pub use server::serve;

use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

use crate::adapters::AdapterKind;
use crate::ingest::limits::Checks;
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

/// What bounds the payloads in flight on one listener: the bytes of bodies being read or held, how
/// many checks run at once, and how long a body may take to arrive.
struct IngestLimits {
    /// One permit per byte of body a request reads or holds (its `Content-Length`, or the limit
    /// when it gives none), released when the request is answered.
    buffered: Arc<Semaphore>,
    checks: Checks,
    body_timeout: Duration,
}

/// The routes of the bridge's HTTP listener.
pub fn router(state: HttpState) -> Router {
    let config = &state.config;
    let limits = Arc::new(IngestLimits {
        buffered: Arc::new(Semaphore::new(config.max_buffered_bytes.max(config.max_body_bytes))),
        checks: Checks::new(config.max_concurrent_checks),
        body_timeout: Duration::from_secs(config.body_timeout_secs.max(1)),
    });
    let limit = config.max_body_bytes;
    Router::new()
        .route("/ingest/{adapter}", post(ingest))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin::router())
        .layer(DefaultBodyLimit::max(limit))
        .layer(Extension(limits))
        .with_state(state)
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

/// `POST /ingest/{adapter}`. Everything that needs no body is decided before any of it is read:
/// the token, the adapter, the declared length; then the body is read within its deadline and the
/// listener's byte budget, checked when a check's place is free, and stored.
async fn ingest(
    State(state): State<HttpState>,
    Extension(limits): Extension<Arc<IngestLimits>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(adapter): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    state.metrics.received(Transport::Http, 1);
    let refused = |reason: &str, problem: Problem| {
        state.metrics.rejected(Transport::Http, reason);
        problem
    };
    let gateway = authenticate(&state.config, &headers).map_err(|p| refused("unauthorized", p))?;
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
    let (_held, body) = read_body(body, &headers, &state.config, &limits)
        .await
        .map_err(|(reason, problem)| refused(reason, problem))?;
    let pipeline = Arc::clone(&state.pipeline);
    let claimed_by = gateway.clone();
    let checked = limits
        .checks
        .run(move || pipeline.check_from(adapter, &body, claimed_by.as_deref()))
        .await
        .ok_or_else(|| {
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

/// The body, read within the listener's limits, with the budget it holds (released when dropped).
/// A declared length over the limit is refused before a byte is read; a body that does not arrive in
/// time, or a budget that does not free up in time, is answered without it.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    config: &HttpConfig,
    limits: &IngestLimits,
) -> Result<(OwnedSemaphorePermit, Bytes), (&'static str, Problem)> {
    let limit = config.max_body_bytes;
    let too_large = || {
        (
            "too_large",
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload too large",
                format!("the body exceeds {limit} bytes (http.max_body_bytes)"),
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let busy = || {
        (
            "busy",
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Busy",
                "the bridge holds as many request bodies as it takes at once (http.max_buffered_bytes); send again",
            )
            .retry_after(1),
        )
    };
    let reserve = declared.map_or(limit, |length| length as usize).clamp(1, limit.max(1));
    let permits = u32::try_from(reserve).unwrap_or(u32::MAX);
    let held = tokio::time::timeout(
        limits.body_timeout,
        Arc::clone(&limits.buffered).acquire_many_owned(permits),
    )
    .await
    .map_err(|_| busy())?
    .map_err(|_| busy())?;
    let collected = tokio::time::timeout(limits.body_timeout, Limited::new(body, limit).collect()).await;
    match collected {
        Ok(Ok(collected)) => Ok((held, collected.to_bytes())),
        Ok(Err(error)) if error.is::<LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err((
            "bad_payload",
            Problem::new(
                StatusCode::BAD_REQUEST,
                "Unreadable body",
                "the request body could not be read",
            ),
        )),
        Err(_) => Err((
            "timeout",
            Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "Body too slow",
                format!(
                    "the body did not arrive within {} s (http.body_timeout_secs)",
                    limits.body_timeout.as_secs()
                ),
            ),
        )),
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
    let outbox = state.outbox.clone();
    // An empty write when writes have been failing: off the async workers, it waits for a disk.
    let writable = tokio::task::spawn_blocking(move || outbox.writable())
        .await
        .unwrap_or(false);
    if !writable {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "store cannot write", "detail": "the outbox cannot commit (is the disk full?)" })),
        )
            .into_response();
    }
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
