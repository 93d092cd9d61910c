//! A FHIR endpoint that answers at once, for measuring the bridge alone (`benches/bridge_ceiling.rs`):
//! axum on 127.0.0.1, keep-alive HTTP/1.1 (the bridge's reqwest client pools connections), on a
//! runtime and a thread of its own. It answers what `fhirgate serve` asks of a FHIR server:
//! * `POST [base]` with a transaction Bundle: a `transaction-response`, one `201 Created` per entry;
//! * `GET [base]/Patient?identifier=…`: a searchset with one Patient, so that patients resolve;
//! * `GET [base]/metadata`: a CapabilityStatement (the deliverer's probe during a long backoff).
//!
//! While it is [down](InstantFhir::go_down) it answers everything `503`, as a server in an outage.
//!
//! It records, per Observation posted, its dedup identifier and the instant the answer left.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

/// The system of the dedup identifier every Observation carries (PHD IG, PhdBaseObservation).
const DEDUP_SYSTEM: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdBaseObservation";

/// When an Observation was first answered, and how many times it was.
#[derive(Debug, Clone, Copy)]
pub struct Answered {
    pub first: Instant,
    pub times: u32,
}

/// What the endpoint was sent.
#[derive(Debug, Default)]
pub struct Ledger {
    /// By dedup identifier value.
    pub observations: HashMap<String, Answered>,
    pub bundles: u64,
    /// Observations posted, counting every resend.
    pub observations_posted: u64,
    /// Observations without a dedup identifier.
    pub unidentified: u64,
    pub patient_searches: u64,
    /// Requests for anything else (answered 404): a request the bench did not expect.
    pub other_requests: u64,
    pub first_answer: Option<Instant>,
    pub last_answer: Option<Instant>,
}

impl Ledger {
    fn record(&mut self, identifiers: Vec<Option<String>>, answered: Instant) {
        self.bundles += 1;
        self.first_answer.get_or_insert(answered);
        self.last_answer = Some(answered);
        for identifier in identifiers {
            self.observations_posted += 1;
            let Some(identifier) = identifier else {
                self.unidentified += 1;
                continue;
            };
            self.observations
                .entry(identifier)
                .and_modify(|seen| seen.times += 1)
                .or_insert(Answered {
                    first: answered,
                    times: 1,
                });
        }
    }
}

#[derive(Clone)]
struct Shared {
    ledger: Arc<Mutex<Ledger>>,
    /// The next server-assigned id.
    next_id: Arc<AtomicU64>,
    /// Answering `503` to everything.
    down: Arc<AtomicBool>,
}

pub struct InstantFhir {
    pub base_url: String,
    ledger: Arc<Mutex<Ledger>>,
    down: Arc<AtomicBool>,
}

impl InstantFhir {
    /// Listens on a free port of 127.0.0.1 and serves until the process ends.
    pub fn start() -> InstantFhir {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the endpoint");
        let base_url = format!("http://{}/fhir", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let shared = Shared {
            ledger: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1)),
            down: Arc::default(),
        };
        let (ledger, down) = (Arc::clone(&shared.ledger), Arc::clone(&shared.down));
        let app = Router::new()
            .route("/fhir", post(transaction))
            .route("/fhir/Patient", get(patient_search))
            .route("/fhir/metadata", get(capability_statement))
            .fallback(unexpected)
            .layer(axum::middleware::from_fn_with_state(shared.clone(), outage))
            .layer(DefaultBodyLimit::disable())
            .with_state(shared);
        std::thread::Builder::new()
            .name("instant-fhir".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(listener, app).await.unwrap();
                });
            })
            .unwrap();
        InstantFhir { base_url, ledger, down }
    }

    /// How many distinct Observations have been answered since the last [`InstantFhir::take`].
    pub fn distinct_observations(&self) -> usize {
        self.ledger.lock().unwrap().observations.len()
    }

    /// Answers `503 Service Unavailable` to every request from now on, as a server in an outage.
    pub fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
    }

    /// Answers again.
    pub fn come_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// What was sent since the last call, leaving an empty ledger for the next phase.
    pub fn take(&self) -> Ledger {
        std::mem::take(&mut *self.ledger.lock().unwrap())
    }
}

/// The parts of a posted transaction Bundle the endpoint reads; the rest is skipped unread.
#[derive(Deserialize)]
struct PostedBundle {
    #[serde(default)]
    entry: Vec<PostedEntry>,
}

#[derive(Deserialize)]
struct PostedEntry {
    resource: Option<PostedResource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostedResource {
    resource_type: String,
    #[serde(default)]
    identifier: Vec<PostedIdentifier>,
}

#[derive(Deserialize)]
struct PostedIdentifier {
    system: Option<String>,
    value: Option<String>,
}

impl PostedResource {
    fn dedup_identifier(&self) -> Option<String> {
        self.identifier
            .iter()
            .find(|i| i.system.as_deref() == Some(DEDUP_SYSTEM))
            .and_then(|i| i.value.clone())
    }
}

/// While down, `503` without a `Retry-After`, so the deliverer backs off on its own schedule.
async fn outage(
    State(shared): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if shared.down.load(Ordering::SeqCst) {
        return fhir_json(StatusCode::SERVICE_UNAVAILABLE, operation_outcome("down for the bench"));
    }
    next.run(request).await
}

/// `POST [base]` with a transaction Bundle: a `transaction-response` with one `201 Created` per
/// entry, in the entries' order (FHIR R4 §3.1.0.11.2 / http.html#transaction-response).
async fn transaction(State(shared): State<Shared>, body: Bytes) -> Response {
    let Ok(bundle) = serde_json::from_slice::<PostedBundle>(&body) else {
        return fhir_json(StatusCode::BAD_REQUEST, operation_outcome("not a Bundle"));
    };
    let last_modified = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut observations = Vec::new();
    let entries: Vec<Value> = bundle
        .entry
        .iter()
        .map(|entry| {
            let kind = entry.resource.as_ref().map_or("Basic", |r| r.resource_type.as_str());
            if let Some(resource) = entry.resource.as_ref().filter(|r| r.resource_type == "Observation") {
                observations.push(resource.dedup_identifier());
            }
            let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
            json!({ "response": {
                "status": "201 Created",
                "location": format!("{kind}/{id}/_history/1"),
                "etag": "W/\"1\"",
                "lastModified": last_modified,
            }})
        })
        .collect();
    let answer = json!({
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": entries,
    });
    let response = fhir_json(StatusCode::OK, answer);
    shared.ledger.lock().unwrap().record(observations, Instant::now());
    response
}

/// `GET [base]/Patient?identifier=…`: a searchset with one Patient, so the patient resolves.
async fn patient_search(State(shared): State<Shared>) -> Response {
    shared.ledger.lock().unwrap().patient_searches += 1;
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    fhir_json(
        StatusCode::OK,
        json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 1,
            "entry": [{ "resource": { "resourceType": "Patient", "id": format!("p{id}") }, "search": { "mode": "match" } }],
        }),
    )
}

/// `GET [base]/metadata`: what the deliverer's probe asks while it waits out a backoff.
async fn capability_statement() -> Response {
    fhir_json(
        StatusCode::OK,
        json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
        }),
    )
}

async fn unexpected(State(shared): State<Shared>) -> Response {
    shared.ledger.lock().unwrap().other_requests += 1;
    fhir_json(
        StatusCode::NOT_FOUND,
        operation_outcome("not served by the instant endpoint"),
    )
}

fn operation_outcome(diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": "not-supported", "diagnostics": diagnostics }],
    })
}

fn fhir_json(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/fhir+json")],
        body.to_string(),
    )
        .into_response()
}
