//! The HTTP listener (axum): device payloads in, health and metrics out, and the operator's
//! dead-letter endpoints.
//!
//! `POST /ingest/{adapter}` answers `202` only once the payload (or every element of a JSON array
//! batch) is durably in the outbox; `400` with an RFC 9457 problem body naming the field, byte or rule
//! when a payload cannot be mapped (nothing of the batch is stored); `413` over the size limit; `401`
//! without a valid gateway token when tokens are configured.

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

use crate::config::HttpConfig;
use crate::delivery::associations::{AssociationUpdateError, Associations};
use crate::delivery::outbox::{Outbox, OutboxRecord};
use crate::metrics::{Metrics, Transport};
use crate::pipeline::{AdapterName, AdapterSettings};

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub outbox: Outbox,
    pub metrics: Arc<Metrics>,
    pub config: Arc<HttpConfig>,
    pub check: Arc<AdapterSettings>,
    /// The live device-patient associations, for the admin API (absent: no association endpoints).
    pub associations: Option<Arc<Associations>>,
}

/// The routes of the bridge's HTTP listener.
pub fn router(state: HttpState) -> Router {
    let limit = state.config.max_body_bytes;
    let admin = Router::new()
        .route("/admin/dead-letters", get(list_dead_letters))
        .route("/admin/dead-letters/{id}", get(show_dead_letter))
        .route("/admin/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/admin/associations", get(list_associations).post(add_association))
        .route("/admin/associations/{id}", axum::routing::delete(remove_association))
        .route_layer(axum::middleware::from_fn(admin_guard));
    Router::new()
        .route("/ingest/{adapter}", post(ingest))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin)
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
    super::tls::server_config(
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

/// An RFC 9457 problem response.
fn problem(status: StatusCode, title: &str, detail: impl Into<String>, extra: Option<serde_json::Value>) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    if let (Some(serde_json::Value::Object(more)), Some(object)) = (extra, body.as_object_mut()) {
        object.extend(more);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

async fn ingest(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(adapter): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    state.metrics.received(Transport::Http, 1);
    let gateway = match authenticate(&state.config, &headers) {
        Ok(gateway) => gateway,
        Err(response) => {
            state.metrics.rejected(Transport::Http, "unauthorized");
            return response;
        }
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.metrics.rejected(Transport::Http, "too_large");
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload too large",
                format!(
                    "the body exceeds {} bytes (http.max_body_bytes)",
                    state.config.max_body_bytes
                ),
                None,
            );
        }
        Err(rejection) => {
            state.metrics.rejected(Transport::Http, "bad_payload");
            return problem(rejection.status(), "Unreadable body", rejection.body_text(), None);
        }
    };
    // `?patient=system|value`: whose data this is, for payloads that do not say (a vendor-cloud poller
    // posting one user's data).
    let patient = query.get("patient").cloned();
    if patient
        .as_deref()
        .is_some_and(|p| !matches!(p.split_once('|'), Some((system, value)) if !system.is_empty() && !value.is_empty()))
    {
        state.metrics.rejected(Transport::Http, "bad_payload");
        return problem(
            StatusCode::BAD_REQUEST,
            "Invalid patient",
            "the `patient` query parameter must be `system|value`",
            None,
        );
    }
    let Some(adapter) = AdapterName::from_name(&adapter) else {
        state.metrics.rejected(Transport::Http, "unsupported");
        return problem(
            StatusCode::NOT_FOUND,
            "Unknown adapter",
            format!("there is no adapter {adapter:?}; use /ingest/ble or /ingest/hl7v2"),
            None,
        );
    };
    let check = Arc::clone(&state.check);
    let checked = tokio::task::spawn_blocking(move || check_body(&check, adapter, &body)).await;
    let payloads = match checked {
        Ok(Ok(payloads)) => payloads,
        Ok(Err((index, detail))) => {
            state.metrics.rejected(Transport::Http, "bad_payload");
            debug!(adapter = adapter.as_str(), "refused a payload");
            let extra = index.map(|index| json!({ "index": index }));
            return problem(StatusCode::BAD_REQUEST, "Invalid payload", detail, extra);
        }
        Err(_) => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Check failed",
                "the payload could not be checked",
                None,
            )
        }
    };
    let received_at = Utc::now().fixed_offset();
    let source = match gateway {
        Some(id) => format!("http gateway {id}"),
        None => format!("http {peer}"),
    };
    let records: Vec<OutboxRecord> = payloads
        .into_iter()
        .map(|payload| OutboxRecord {
            adapter: adapter.as_str().to_string(),
            received_at,
            source: source.clone(),
            payload,
            patient: patient.clone(),
        })
        .collect();
    match state.outbox.append_all(&records).await {
        Ok(first) => {
            state.metrics.accepted(Transport::Http, records.len() as u64);
            let ids: Vec<u64> = (first..first + records.len() as u64).collect();
            (
                StatusCode::ACCEPTED,
                Json(json!({ "accepted": records.len(), "ids": ids })),
            )
                .into_response()
        }
        Err(error) => {
            state.metrics.rejected(Transport::Http, "store");
            warn!(%error, "could not store a payload");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not stored",
                "the bridge could not store the payload; send it again",
                None,
            )
        }
    }
}

/// The gateway id of a valid bearer token; `None` when no tokens are configured (loopback only).
// The error is the response to send; handlers return it at once, so its size does not matter.
#[allow(clippy::result_large_err)]
fn authenticate(config: &HttpConfig, headers: &HeaderMap) -> Result<Option<String>, Response> {
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
        None => {
            let mut response = problem(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "a valid gateway bearer token is required (Authorization: Bearer ...)",
                None,
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            Err(response)
        }
    }
}

/// Splits a body into payloads (a JSON array of hub envelopes is a batch) and checks that each can be
/// read by its adapter. On failure: the index of the bad element (for batches) and what is wrong.
fn check_body(
    check: &AdapterSettings,
    adapter: AdapterName,
    body: &[u8],
) -> Result<Vec<Vec<u8>>, (Option<usize>, String)> {
    let is_batch = adapter == AdapterName::Ble && body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if !is_batch {
        check.check(adapter, body).map_err(|detail| (None, detail))?;
        return Ok(vec![body.to_vec()]);
    }
    let elements: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| (None, format!("batch: {}", crate::privacy::json_error(&e))))?;
    if elements.is_empty() {
        return Err((None, "batch: the array is empty".into()));
    }
    let mut payloads = Vec::with_capacity(elements.len());
    for (index, element) in elements.iter().enumerate() {
        let payload = serde_json::to_vec(element).map_err(|e| (Some(index), e.to_string()))?;
        check
            .check(adapter, &payload)
            .map_err(|detail| (Some(index), format!("element {index}: {detail}")))?;
        payloads.push(payload);
    }
    Ok(payloads)
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

/// Dead letters hold patient data: the admin endpoints answer loopback clients only.
///
/// A loopback peer is not enough on its own: a web page in a browser on the same machine can reach
/// loopback too (DNS rebinding, cross-site posts). So the Host must name loopback, and a request with a
/// body must say it is JSON, which a cross-site form cannot without a CORS preflight the bridge never
/// grants.
async fn admin_guard(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers();
    let forbid = |detail: &str| problem(StatusCode::FORBIDDEN, "Forbidden", detail, None);
    if !peer.ip().is_loopback() {
        return forbid("the admin endpoints answer loopback clients only");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    if !matches!(name, "127.0.0.1" | "localhost" | "::1") {
        return forbid("the admin endpoints answer requests addressed to 127.0.0.1, localhost or [::1] only");
    }
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|length| length != "0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if has_body && !json {
        return forbid("send the body as Content-Type: application/json");
    }
    next.run(request).await
}

async fn list_dead_letters(State(state): State<HttpState>) -> Response {
    match state.outbox.dead_letters() {
        Ok(letters) => {
            let list: Vec<serde_json::Value> = letters
                .iter()
                .map(|(id, letter)| {
                    json!({
                        "id": id,
                        "adapter": letter.record.adapter,
                        "source": letter.record.source,
                        "receivedAt": letter.record.received_at,
                        "failedAt": letter.failed_at,
                        "status": letter.status,
                        "reason": letter.reason,
                    })
                })
                .collect();
            Json(json!({ "deadLetters": list })).into_response()
        }
        Err(error) => store_error(&error),
    }
}

fn store_error(error: &impl std::fmt::Display) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Store error",
        error.to_string(),
        None,
    )
}

async fn show_dead_letter(State(state): State<HttpState>, Path(id): Path<u64>) -> Response {
    match state.outbox.dead_letter(id) {
        Ok(Some(letter)) => Json(letter).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, "No such dead letter", format!("{id}"), None),
        Err(error) => store_error(&error),
    }
}

async fn replay_dead_letter(State(state): State<HttpState>, Path(id): Path<u64>) -> Response {
    match state.outbox.replay(id) {
        Ok(Some(outbox_id)) => Json(json!({ "replayed": id, "outboxId": outbox_id })).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, "No such dead letter", format!("{id}"), None),
        Err(error) => store_error(&error),
    }
}

fn association_registry(state: &HttpState) -> Result<&Associations, Box<Response>> {
    state.associations.as_deref().ok_or_else(|| {
        Box::new(problem(
            StatusCode::NOT_FOUND,
            "No association registry",
            "this listener has no device-patient association registry",
            None,
        ))
    })
}

fn association_error(error: AssociationUpdateError) -> Response {
    match error {
        AssociationUpdateError::Invalid(rule) => problem(StatusCode::BAD_REQUEST, "Invalid association", rule, None),
        AssociationUpdateError::Overlap(rule) => problem(StatusCode::CONFLICT, "Overlapping association", rule, None),
        AssociationUpdateError::Store(error) => store_error(&error),
    }
}

/// The associations added through this API (the file's are in the file).
async fn list_associations(State(state): State<HttpState>) -> Response {
    let registry = match association_registry(&state) {
        Ok(registry) => registry,
        Err(response) => return *response,
    };
    match registry.stored() {
        Ok(entries) => {
            let list: Vec<serde_json::Value> = entries
                .into_iter()
                .map(|(id, entry)| json!({ "id": id, "association": entry }))
                .collect();
            Json(json!({ "associations": list })).into_response()
        }
        Err(error) => association_error(error),
    }
}

/// Adds one association (the file's entry format); readings dead-lettered for want of a patient are
/// replayed.
async fn add_association(State(state): State<HttpState>, body: Bytes) -> Response {
    let registry = match association_registry(&state) {
        Ok(registry) => registry,
        Err(response) => return *response,
    };
    match registry.add(&body) {
        Ok((id, replayed)) => (
            StatusCode::CREATED,
            Json(json!({ "id": id, "replayedDeadLetters": replayed })),
        )
            .into_response(),
        Err(error) => association_error(error),
    }
}

async fn remove_association(State(state): State<HttpState>, Path(id): Path<u64>) -> Response {
    let registry = match association_registry(&state) {
        Ok(registry) => registry,
        Err(response) => return *response,
    };
    match registry.remove(id) {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => problem(StatusCode::NOT_FOUND, "No such association", format!("{id}"), None),
        Err(error) => association_error(error),
    }
}
