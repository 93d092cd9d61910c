//! The console (`http://127.0.0.1:8080/console`): a web page for integration engineers, served by
//! the bridge from assets built into the binary (no front-end build, no external requests), behind
//! the admin guard (loopback peer, loopback Host, no cross-site request). It reads what the bridge
//! already serves (`/metrics`, the dead-letter and association routes) and the routes here: the
//! latest payloads delivery finished with, and the loaded mappings with a playground that runs a
//! pasted payload through them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::delivery::recent::{Finished, Recent};
use crate::ingest::http::admin::admin_guard;
use crate::pipeline::{explain_payload, MapSettings};

/// The page and its script and style, built in.
const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

/// The largest payload the playground takes.
const MAX_PLAYGROUND_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct ConsoleState {
    pub recent: Arc<Recent>,
    pub settings: Arc<MapSettings>,
}

/// The console's routes, guarded like the admin API.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/console", get(|| async { asset(PAGE, "text/html; charset=utf-8") }))
        .route(
            "/console/console.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/admin/recent", get(list_recent))
        .route("/admin/recent/{seq}", get(show_recent))
        .route("/admin/mappings", get(list_mappings))
        .route("/admin/mappings/explain", post(explain))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_PLAYGROUND_BYTES))
        .route_layer(axum::middleware::from_fn(admin_guard))
        .with_state(state)
}

/// A built-in asset, with a policy that lets the page load nothing but the bridge's own.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn summary(finished: &Finished) -> Value {
    json!({
        "seq": finished.seq,
        "outboxId": finished.outbox_id,
        "adapter": finished.adapter,
        "source": finished.source,
        "receivedAt": finished.received_at,
        "finishedAt": finished.finished_at,
        "fate": finished.fate,
        "reason": finished.reason,
        "resources": finished.resources.iter().map(|(t, n)| json!({"type": t, "count": n})).collect::<Vec<_>>(),
    })
}

async fn list_recent(State(state): State<ConsoleState>) -> Json<Value> {
    let list: Vec<Value> = state.recent.list(summary);
    Json(json!({ "recent": list }))
}

async fn show_recent(State(state): State<ConsoleState>, Path(seq): Path<u64>) -> Response {
    let Some(finished) = state.recent.get(seq) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"title": "No such delivery", "detail": seq.to_string()})),
        )
            .into_response();
    };
    let mut shown = summary(&finished);
    shown["payload"] = Value::String(String::from_utf8_lossy(&finished.payload).into_owned());
    shown["bundle"] = match finished.bundle.as_ref().map(crate::fhir::bundle_to_json_pretty) {
        Some(Ok(json)) => Value::String(json),
        _ => Value::Null,
    };
    Json(shown).into_response()
}

/// Every loaded mapping with what `fhirgate mappings check` says of its file now.
async fn list_mappings(State(state): State<ConsoleState>) -> Json<Value> {
    let settings = Arc::clone(&state.settings);
    let list = tokio::task::spawn_blocking(move || {
        settings
            .declarative
            .mappings()
            .map(|(path, mapping)| {
                let report = crate::mappings_cli::check(path);
                json!({
                    "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                    "name": mapping.name(),
                    "ok": !report.failed,
                    "check": report.text.trim_end(),
                })
            })
            .collect::<Vec<Value>>()
    })
    .await
    .unwrap_or_default();
    Json(json!({ "mappings": list }))
}

/// The settings with only the mapping of file `name` loaded, for a playground run that picks it.
fn with_only(settings: &MapSettings, name: &str) -> Result<MapSettings, String> {
    let path = settings
        .declarative
        .mappings()
        .map(|(path, _)| path)
        .find(|path| path.file_name().is_some_and(|n| n.to_string_lossy() == name))
        .ok_or_else(|| "no loaded mapping has that file name".to_string())?;
    let one = crate::adapters::declarative::DeclarativeMappings::load(path).map_err(|e| e.to_string())?;
    Ok(MapSettings {
        declarative: Arc::new(one),
        ..settings.clone()
    })
}

/// Runs a pasted vendor payload through the declarative mappings: which matched, every step, what
/// was left out and why, and the Bundle, or the error with its path.
/// `?patient=system|value` names the patient for payloads that name none, as an ingest's does.
async fn explain(
    State(state): State<ConsoleState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let payload = body.to_vec();
    let settings = Arc::clone(&state.settings);
    let patient = query.get("patient").filter(|p| !p.trim().is_empty()).cloned();
    let picked = query.get("mapping").filter(|m| !m.is_empty()).cloned();
    let run = tokio::task::spawn_blocking(move || {
        let settings = match picked {
            Some(name) => with_only(&settings, &name)?,
            None => (*settings).clone(),
        };
        explain_payload(&payload, &settings, chrono::Utc::now(), patient.as_deref()).map_err(|e| e.to_string())
    })
    .await;
    let answer = match run {
        Ok(Ok((explanation, bundle))) => json!({
            "mapping": explanation.mapping,
            "records": explanation.records,
            "steps": explanation.steps,
            "dropped": explanation.dropped.iter().map(|d| json!({
                "record": d.record, "measurement": d.measurement, "reason": d.reason,
            })).collect::<Vec<_>>(),
            "unknownCodes": explanation.unknown_codes,
            "bundle": bundle.as_ref().ok(),
            "error": bundle.as_ref().err().map(ToString::to_string),
        }),
        Ok(Err(error)) => json!({ "error": error }),
        Err(_) => json!({ "error": "the mapping run stopped unexpectedly" }),
    };
    Json(answer).into_response()
}
