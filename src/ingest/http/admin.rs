//! The operator's admin routes: dead letters (list, show, replay) and the device-patient
//! associations added at run time (list, add, remove). Dead letters hold patient data, so every route
//! sits behind [`admin_guard`].

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;

use super::problem::Problem;
use super::HttpState;
use crate::pipeline::association_registry::{AssociationUpdateError, Associations};

/// The admin routes, guarded.
pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/admin/dead-letters", get(list_dead_letters))
        .route("/admin/dead-letters/{id}", get(show_dead_letter))
        .route("/admin/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/admin/associations", get(list_associations).post(add_association))
        .route("/admin/associations/{id}", delete(remove_association))
        .route("/admin/associations/{id}/end", post(end_association))
        .route_layer(axum::middleware::from_fn(admin_guard))
}

/// The header a state-changing admin request without a JSON body carries (`fhirgate deadletter
/// replay` sends it): a browser sends no custom header cross-site without a CORS preflight, which the
/// bridge never grants.
pub const ADMIN_HEADER: &str = "x-fhirgate-admin";

/// Dead letters hold patient data: the admin endpoints answer loopback clients only.
///
/// A loopback peer is not enough on its own: a web page in a browser on the same machine can reach
/// loopback too (DNS rebinding, cross-site requests). So the Host must name loopback; an `Origin` (or
/// `Sec-Fetch-Site`) from another site is refused; and a state-changing request must be one no page can
/// send cross-site without a CORS preflight the bridge never grants: a JSON body, a `DELETE`, or the
/// [`ADMIN_HEADER`].
pub async fn admin_guard(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match guard(peer, request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(problem) => problem.into_response(),
    }
}

/// True for a host name (without port) that is loopback.
fn is_loopback_name(name: &str) -> bool {
    matches!(name, "127.0.0.1" | "localhost" | "::1")
}

/// The host name of `host` (`name:port`, `[v6]:port`), without the port.
fn host_name(host: &str) -> &str {
    match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    }
}

fn guard(peer: SocketAddr, method: &axum::http::Method, headers: &axum::http::HeaderMap) -> Result<(), Problem> {
    if !peer.ip().is_loopback() {
        return Err(Problem::forbidden("the admin endpoints answer loopback clients only"));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !is_loopback_name(host_name(host)) {
        return Err(Problem::forbidden(
            "the admin endpoints answer requests addressed to 127.0.0.1, localhost or [::1] only",
        ));
    }
    // A page of another site: its Origin (`null` from a sandboxed or file page) names no loopback host.
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let loopback = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|host| is_loopback_name(host_name(host)));
        if !loopback {
            return Err(Problem::forbidden(
                "the admin endpoints answer no request from a web page of another origin",
            ));
        }
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"cross-site")
    {
        return Err(Problem::forbidden(
            "the admin endpoints answer no request from a web page of another site",
        ));
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
        return Err(Problem::forbidden("send the body as Content-Type: application/json"));
    }
    let changes_state = !matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
    if changes_state && !json && *method != axum::http::Method::DELETE && !headers.contains_key(ADMIN_HEADER) {
        return Err(Problem::forbidden(
            "a state-changing admin request without a JSON body must carry the header X-Fhirgate-Admin: 1",
        ));
    }
    Ok(())
}

async fn list_dead_letters(State(state): State<HttpState>) -> Result<Response, Problem> {
    let letters = state.outbox.dead_letters().map_err(|e| Problem::store(&e))?;
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
                "device": letter.device,
            })
        })
        .collect();
    Ok(Json(json!({ "deadLetters": list })).into_response())
}

async fn show_dead_letter(State(state): State<HttpState>, Path(id): Path<u64>) -> Result<Response, Problem> {
    match state.outbox.dead_letter(id).map_err(|e| Problem::store(&e))? {
        Some(letter) => Ok(Json(letter).into_response()),
        None => Err(Problem::not_found("No such dead letter", format!("{id}"))),
    }
}

async fn replay_dead_letter(State(state): State<HttpState>, Path(id): Path<u64>) -> Result<Response, Problem> {
    match state.outbox.replay(id).map_err(|e| Problem::store(&e))? {
        Some(outbox_id) => Ok(Json(json!({ "replayed": id, "outboxId": outbox_id })).into_response()),
        None => Err(Problem::not_found("No such dead letter", format!("{id}"))),
    }
}

fn association_registry(state: &HttpState) -> Result<&Associations, Problem> {
    state.associations.as_deref().ok_or_else(|| {
        Problem::not_found(
            "No association registry",
            "this listener has no device-patient association registry",
        )
    })
}

impl From<AssociationUpdateError> for Problem {
    fn from(error: AssociationUpdateError) -> Problem {
        match error {
            AssociationUpdateError::Invalid(rule) => Problem::new(StatusCode::BAD_REQUEST, "Invalid association", rule),
            AssociationUpdateError::Overlap(rule) => {
                Problem::new(StatusCode::CONFLICT, "Overlapping association", rule)
            }
            AssociationUpdateError::Store(error) => Problem::store(&error),
        }
    }
}

/// The associations added through this API (the file's are in the file).
async fn list_associations(State(state): State<HttpState>) -> Result<Response, Problem> {
    let entries = association_registry(&state)?.stored()?;
    let list: Vec<serde_json::Value> = entries
        .into_iter()
        .map(|(id, entry)| json!({ "id": id, "association": entry }))
        .collect();
    Ok(Json(json!({ "associations": list })).into_response())
}

/// Adds one association (the file's entry format); readings dead-lettered for want of a patient are
/// replayed.
async fn add_association(State(state): State<HttpState>, body: Bytes) -> Result<Response, Problem> {
    let (id, replayed) = association_registry(&state)?.add(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "replayedDeadLetters": replayed })),
    )
        .into_response())
}

/// Ends an association at the time a JSON body `{"to": "2026-12-04T10:00:00Z"}` gives.
async fn end_association(
    State(state): State<HttpState>,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            format!("the body is not JSON: {}", crate::privacy::json_error(&e)),
        )
    })?;
    let Some(to) = request["to"].as_str() else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "the body names no `to` (an RFC 3339 date-time)",
        ));
    };
    match association_registry(&state)?.end(id, to)? {
        Some(entry) => Ok(Json(json!({ "id": id, "association": entry })).into_response()),
        None => Err(Problem::not_found("No such association", format!("{id}"))),
    }
}

async fn remove_association(State(state): State<HttpState>, Path(id): Path<u64>) -> Result<Response, Problem> {
    if association_registry(&state)?.remove(id)? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Problem::not_found("No such association", format!("{id}")))
    }
}
