//! The deliverer against a hand-written FHIR endpoint that misbehaves on cue: 500s, 429 with
//! Retry-After, a dropped connection, an answer slower than the client's timeout, and 4xx refusals.
//! (The real server is in `end_to_end.rs`; this one exists to inject the faults a real one will not
//! produce on demand.)

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::DateTime;
use fhirgate::config::FhirConfig;
use fhirgate::delivery::fhir_server::FhirClient;
use fhirgate::delivery::{Deliverer, FhirServerSink};
use fhirgate::metrics::Metrics;
use fhirgate::pipeline::Pipeline;
use fhirgate::store::{Outbox, OutboxRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the fake server does with one request.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Status(u16),
    TooManyRequests {
        retry_after_secs: u64,
    },
    /// Closes the connection without answering.
    Drop,
    /// Answers 200 after this long.
    Slow(Duration),
    /// 200 with a transaction-response.
    Ok,
    /// 422 with an OperationOutcome when the body contains the marker, else 200.
    RefuseContaining(&'static str),
}

struct Fake {
    url: String,
    /// Every request body received, with the time it arrived.
    requests: Arc<Mutex<Vec<(Instant, String)>>>,
}

/// Serves `script` in order, one behaviour per request; the last one repeats.
async fn fake_server(script: Vec<Behaviour>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/fhir", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        let mut served = 0usize;
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let seen = Arc::clone(&seen);
            let behaviour = script[served.min(script.len() - 1)];
            served += 1;
            tokio::spawn(async move {
                let body = read_request(&mut stream).await;
                seen.lock().unwrap().push((Instant::now(), body.clone()));
                // A transaction-response with one 201 per entry sent, as a server answers.
                let sent = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|b| b["entry"].as_array().map(Vec::len))
                    .unwrap_or(0);
                let ok_body = serde_json::json!({
                    "resourceType": "Bundle",
                    "type": "transaction-response",
                    "entry": vec![serde_json::json!({ "response": { "status": "201 Created" } }); sent]
                })
                .to_string();
                let ok = ok_body.as_str();
                let outcome =
                    "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"invalid\"}]}";
                let (status, extra, text) = match behaviour {
                    Behaviour::Drop => return,
                    Behaviour::Status(code) => (code, String::new(), outcome),
                    Behaviour::TooManyRequests { retry_after_secs } => {
                        (429, format!("Retry-After: {retry_after_secs}\r\n"), outcome)
                    }
                    Behaviour::Slow(wait) => {
                        tokio::time::sleep(wait).await;
                        (200, String::new(), ok)
                    }
                    Behaviour::Ok => (200, String::new(), ok),
                    Behaviour::RefuseContaining(marker) if body.contains(marker) => (422, String::new(), outcome),
                    Behaviour::RefuseContaining(_) => (200, String::new(), ok),
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/fhir+json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Fake { url, requests }
}

/// Reads one HTTP/1.1 request with a Content-Length body; returns the body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).to_string();
            }
        }
    }
    String::new()
}

fn weight_record(n: u32) -> OutboxRecord {
    let raw = 13000 + n;
    let payload = serde_json::json!({
        "gateway": { "id": "hub-ward-7" },
        "device": { "address": "C4:7C:8D:6A:1F:20" },
        "patient": { "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711" },
        "characteristic": "2A9D",
        "value": format!("02{:02x}{:02x}ea07081008{:02x}00", raw & 0xFF, raw >> 8, n % 60),
        "receivedAt": "2026-11-21T10:00:00Z",
        "utcOffset": "+01:00"
    });
    OutboxRecord {
        adapter: "ble".into(),
        received_at: DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap(),
        source: "test".into(),
        payload: payload.to_string().into_bytes(),
        patient: None,
        batch_index: None,
    }
}

fn store(name: &str) -> Outbox {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("faults-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    Outbox::open(&dir).unwrap()
}

struct Running {
    outbox: Outbox,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start(outbox: &Outbox, url: &str, batch_size: usize) -> Running {
    let config = FhirConfig {
        base_url: Some(url.into()),
        batch_size,
        linger_ms: 20,
        timeout_secs: 1,
        initial_backoff_ms: 50,
        max_backoff_secs: 1,
        // The script answers transactions; patient lookup is exercised against the real server.
        resolve_patients: false,
        ..FhirConfig::default()
    };
    let metrics = Arc::new(Metrics::new());
    let sink = FhirServerSink::new(FhirClient::new(url, &config).unwrap(), config.resolve_patients);
    let deliverer = Deliverer::new(
        outbox.clone(),
        sink,
        Arc::new(Pipeline::new(common::settings())),
        config,
        Arc::clone(&metrics),
    );
    let (stop, stopping) = watch::channel(false);
    let task = tokio::spawn(deliverer.run(stopping));
    Running {
        outbox: outbox.clone(),
        metrics,
        stop,
        task,
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric(metrics: &Metrics, name: &str) -> f64 {
    metrics
        .render()
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_until_the_server_takes_the_same_bundle() {
    let fake = fake_server(vec![
        Behaviour::Status(500),
        Behaviour::TooManyRequests { retry_after_secs: 1 },
        Behaviour::Drop,
        Behaviour::Slow(Duration::from_secs(3)),
        Behaviour::Status(503),
        Behaviour::Ok,
    ])
    .await;
    let outbox = store("transient");
    outbox
        .append_all(&[weight_record(1), weight_record(2), weight_record(3)])
        .await
        .unwrap();
    let running = start(&outbox, &fake.url, 10);
    until("the delivery", || running.metrics.delivered.get() == 3).await;
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 6, "five failures, then the success");
    assert!(
        requests.iter().all(|(_, body)| body == &requests[0].1),
        "every attempt sends the same Bundle"
    );
    assert_eq!(
        requests[0].1.matches("\"resourceType\":\"Observation\"").count(),
        3,
        "the three payloads travel in one transaction"
    );
    assert!(
        requests[2].0 - requests[1].0 >= Duration::from_secs(1),
        "Retry-After: 1 is honoured"
    );
    assert_eq!(running.metrics.retried.get(), 5);
    assert_eq!(running.metrics.delivered.get(), 3);
    assert!(
        outbox.dead_letters().unwrap().is_empty(),
        "nothing retryable is dead-lettered"
    );
    let _ = running.stop.send(true);
    running.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_splits_the_batch_and_buries_only_the_refused_payload() {
    // Weight 13100 × 0.005 kg: only the second record's Bundle holds 65.500.
    let fake = fake_server(vec![Behaviour::RefuseContaining("\"value\":65.500,")]).await;
    let outbox = store("refusal");
    outbox
        .append_all(&[weight_record(1), weight_record(100), weight_record(2)])
        .await
        .unwrap();
    let running = start(&outbox, &fake.url, 10);
    until("the batch to be settled", || {
        running.metrics.delivered.get() == 2 && running.outbox.dead_letters().unwrap().len() == 1
    })
    .await;
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 4, "the batch, then each payload alone");
    let letters = outbox.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0].1;
    assert_eq!(letter.record, weight_record(100));
    assert_eq!(letter.status, Some(422));
    assert!(letter.reason.contains("422"), "{}", letter.reason);
    assert!(letter.outcome.as_deref().unwrap().contains("OperationOutcome"));
    assert!(letter.bundle.as_deref().unwrap().contains("\"value\":65.500,"));
    assert_eq!(running.metrics.delivered.get(), 2);
    assert_eq!(
        metric(&running.metrics, "fhirgate_dead_lettered_total{reason=\"server\"}"),
        1.0
    );

    // Replay puts it back at the end of the outbox; the server still refuses, so it returns.
    let replayed = outbox.replay(letters[0].0).unwrap();
    assert!(replayed.is_some());
    until("the replay to be refused again", || {
        outbox.dead_letters().unwrap().len() == 1 && outbox.is_empty().unwrap()
    })
    .await;
    assert_eq!(fake.requests.lock().unwrap().len(), 5);
    let _ = running.stop.send(true);
    running.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_that_cannot_be_mapped_is_buried_without_bothering_the_server() {
    let fake = fake_server(vec![Behaviour::Ok]).await;
    let outbox = store("unmappable");
    let pump = std::fs::read(common::repo_path("fixtures/hl7v2/unassociated_pump_pcd01.hl7")).unwrap();
    let record = OutboxRecord {
        adapter: "hl7v2".into(),
        payload: pump,
        ..weight_record(0)
    };
    outbox.append_all(&[record.clone(), weight_record(5)]).await.unwrap();
    let running = start(&outbox, &fake.url, 10);
    until("the weight's delivery", || running.metrics.delivered.get() == 1).await;
    let letters = outbox.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].1.record, record);
    assert!(
        letters[0].1.reason.contains("names no patient"),
        "{}",
        letters[0].1.reason
    );
    assert_eq!(letters[0].1.status, None);
    // The reason (which is logged) does not name the device; the letter does, for the operator.
    assert!(
        !letters[0].1.reason.contains("0012211839000003"),
        "{}",
        letters[0].1.reason
    );
    assert_eq!(
        letters[0].1.device,
        Some(serde_json::json!({"systemId": "00-12-21-18-39-00-00-03"}))
    );
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "only the weight reading went to the server");
    assert_eq!(
        requests[0].1.matches("\"resourceType\":\"Observation\"").count(),
        1,
        "only the weight's Observation was sent, none of the pump's"
    );
    assert!(requests[0].1.contains("\"value\":65.025,"));
    let _ = running.stop.send(true);
    running.task.await.unwrap();
}
