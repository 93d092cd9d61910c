//! HTTP ingest over a real loopback socket: 202 only with the payload stored, 400 problem bodies
//! naming the field and storing nothing, 413 over the limit, 401 without a gateway token, batches,
//! metrics, and the admin endpoints for dead letters.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::DateTime;
use fhirgate::config::{GatewayToken, HttpConfig};
use fhirgate::ingest::http::{self, HttpState};
use fhirgate::metrics::Metrics;
use fhirgate::pipeline::Pipeline;
use fhirgate::store::{DeadLetter, Outbox, OutboxRecord};
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Server {
    base: String,
    outbox: Outbox,
}

async fn start(name: &str, config: HttpConfig) -> Server {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("http-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let outbox = Outbox::open(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let metrics = Arc::new(Metrics::new());
    let router = http::router(HttpState {
        outbox: outbox.clone(),
        metrics: Arc::clone(&metrics),
        config: Arc::new(config.clone()),
        pipeline: Arc::new(Pipeline::new(common::settings())),
        associations: None,
    });
    tokio::spawn(async move { http::serve(listener, router, &config, None, metrics, std::future::pending()).await });
    Server {
        base: format!("http://{addr}"),
        outbox,
    }
}

fn client() -> reqwest::Client {
    fhirgate::tls::install_crypto_provider();
    reqwest::Client::new()
}

async fn get_json(server: &Server, path: &str) -> Value {
    client()
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::repo_path(&format!("fixtures/{name}"))).unwrap()
}

async fn post(
    server: &Server,
    path: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = client().post(format!("{}{path}", server.base)).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_is_answered_202_once_stored_exactly_as_sent() {
    let server = start("accept", HttpConfig::default()).await;
    let payload = fixture("ble/2A35-blood-pressure.json");
    let (status, body, _) = post(&server, "/ingest/ble", payload.clone(), None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, serde_json::json!({ "accepted": 1, "ids": [1] }));
    let stored = server.outbox.pending(10).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1.payload, payload);
    assert_eq!(stored[0].1.adapter, "ble");
    assert!(stored[0].1.source.starts_with("http 127.0.0.1:"));

    // The sender may say whose data a payload is; it is kept with the payload.
    let (status, _, _) = post(
        &server,
        "/ingest/ble?patient=urn:oid:1.2.3%7CP-9",
        payload.clone(),
        None,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        server.outbox.pending(10).unwrap()[1].1.patient.as_deref(),
        Some("urn:oid:1.2.3|P-9")
    );
    let (status, body, _) = post(&server, "/ingest/ble?patient=P-9", payload.clone(), None).await;
    assert_eq!(status, 400, "{body}");
    let pcd = fixture("hl7v2/ihe_pcd01_dec_soap_wan_bp_example.hl7");
    let (status, body, _) = post(&server, "/ingest/hl7v2", pcd, None).await;
    assert_eq!((status, &body["ids"]), (202, &serde_json::json!([3])));
    assert_eq!(server.outbox.pending(10).unwrap()[2].1.adapter, "hl7v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_is_a_batch_stored_all_or_nothing() {
    let server = start("batch", HttpConfig::default()).await;
    let first: Value = serde_json::from_slice(&fixture("ble/2A35-blood-pressure.json")).unwrap();
    let second: Value = serde_json::from_slice(&fixture("ble/2A9D-weight.json")).unwrap();
    let mut broken = second.clone();
    broken["value"] = Value::String("01ff".into()); // a weight needs 3 bytes after the flags

    let (status, body, headers) = post(
        &server,
        "/ingest/ble",
        serde_json::to_vec(&[&first, &broken]).unwrap(),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["index"], 1);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("element 1: "), "{detail}");
    assert!(detail.contains("2A9D"), "names the characteristic: {detail}");
    assert!(!detail.contains("MRN-4711"), "never a patient identifier: {detail}");
    assert_eq!(server.outbox.len().unwrap(), 0, "nothing of a refused batch is stored");

    let (status, body, _) = post(
        &server,
        "/ingest/ble",
        serde_json::to_vec(&[&first, &second]).unwrap(),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["ids"], serde_json::json!([1, 2]));
    let stored = server.outbox.pending(10).unwrap();
    let stored_second: Value = serde_json::from_slice(&stored[1].1.payload).unwrap();
    assert_eq!(stored_second, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_oversize_bodies_and_unknown_adapters_are_refused_and_counted() {
    let config = HttpConfig {
        max_body_bytes: 2048,
        ..HttpConfig::default()
    };
    let server = start("refuse", config).await;
    let (status, body, _) = post(&server, "/ingest/ble", b"{\"characteristic\":\"2A35\"}".to_vec(), None).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("missing field"), "{body}");

    let (status, body, _) = post(&server, "/ingest/ble", vec![b' '; 4096], None).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("2048"));

    let (status, _, _) = post(&server, "/ingest/x73", b"{}".to_vec(), None).await;
    assert_eq!(status, 404);

    let metrics = client()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fhirgate_received_total{transport=\"http\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fhirgate_rejected_total{transport=\"http\",reason=\"bad_payload\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fhirgate_rejected_total{transport=\"http\",reason=\"too_large\"} 1"),
        "{metrics}"
    );
    assert_eq!(server.outbox.len().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_gateway_tokens_configured_only_a_valid_token_is_accepted() {
    let config = HttpConfig {
        gateways: vec![
            GatewayToken {
                id: "hub-ward-7".into(),
                token_sha256: hex::encode(Sha256::digest(b"correct horse")),
            },
            GatewayToken {
                id: "hub-ward-9".into(),
                token_sha256: hex::encode(Sha256::digest(b"battery staple")),
            },
        ],
        ..HttpConfig::default()
    };
    let server = start("tokens", config).await;
    let payload = fixture("ble/2A37-heart-rate.json");
    let (status, _, headers) = post(&server, "/ingest/ble", payload.clone(), None).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = post(&server, "/ingest/ble", payload.clone(), Some("wrong")).await;
    assert_eq!(status, 401);
    assert_eq!(server.outbox.len().unwrap(), 0);
    // Ward 9's token cannot post as ward 7's hub (issue #16 item 8), alone or inside a batch.
    let (status, body, _) = post(&server, "/ingest/ble", payload.clone(), Some("battery staple")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("gateway.id"), "{body}");
    let mut own: Value = serde_json::from_slice(&payload).unwrap();
    own["gateway"]["id"] = "hub-ward-9".into();
    let batch = serde_json::to_vec(&serde_json::json!([
        own,
        serde_json::from_slice::<Value>(&payload).unwrap()
    ]))
    .unwrap();
    let (status, body, _) = post(&server, "/ingest/ble", batch, Some("battery staple")).await;
    assert_eq!((status, &body["index"]), (403, &serde_json::json!(1)), "{body}");
    assert_eq!(server.outbox.len().unwrap(), 0);
    let (status, _, _) = post(&server, "/ingest/ble", payload.clone(), Some("correct horse")).await;
    assert_eq!(status, 202);
    assert_eq!(server.outbox.pending(1).unwrap()[0].1.source, "http gateway hub-ward-7");
    // An envelope that names no gateway is the token's gateway's.
    let mut anonymous: Value = serde_json::from_slice(&payload).unwrap();
    anonymous.as_object_mut().unwrap().remove("gateway");
    let (status, _, _) = post(
        &server,
        "/ingest/ble",
        serde_json::to_vec(&anonymous).unwrap(),
        Some("battery staple"),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(server.outbox.pending(2).unwrap()[1].1.source, "http gateway hub-ward-9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_the_dead_letter_endpoints() {
    let server = start("admin", HttpConfig::default()).await;
    let health: Value = get_json(&server, "/healthz").await;
    assert_eq!(health["status"], "ok");
    let record = OutboxRecord {
        adapter: "ble".into(),
        received_at: DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap(),
        source: "test".into(),
        payload: b"{}".to_vec(),
        patient: None,
        batch_index: None,
    };
    server
        .outbox
        .add_dead_letter(&DeadLetter {
            record: record.clone(),
            reason: "the FHIR server refused the Bundle with 422".into(),
            status: Some(422),
            device: None,
            bundle: Some("{}".into()),
            outcome: Some("{\"resourceType\":\"OperationOutcome\"}".into()),
            failed_at: DateTime::parse_from_rfc3339("2026-11-21T10:00:01Z").unwrap(),
        })
        .unwrap();
    let list: Value = get_json(&server, "/admin/dead-letters").await;
    assert_eq!(list["deadLetters"][0]["id"], 1);
    assert_eq!(list["deadLetters"][0]["status"], 422);
    assert!(
        list["deadLetters"][0].get("record").is_none(),
        "the listing carries no payload"
    );
    let shown: Value = get_json(&server, "/admin/dead-letters/1").await;
    assert_eq!(shown["record"]["payload"], "e30=", "the payload, base64");
    // A request not addressed to loopback (DNS rebinding from a web page) is refused.
    let rebound = client()
        .get(format!("{}/admin/dead-letters", server.base))
        .header("Host", "attacker.example:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status().as_u16(), 403);
    // A page of another site cannot replay (issue #16: a form post takes no body, so a JSON rule
    // alone does not stop it): a body-less post needs the admin header, and a foreign Origin or
    // Sec-Fetch-Site is refused even with it.
    let (status, body, _) = post(&server, "/admin/dead-letters/1/replay", Vec::new(), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("X-Fhirgate-Admin"), "{body}");
    for (name, value) in [
        ("Origin", "http://evil.example"),
        ("Origin", "null"),
        ("Origin", "http://127.0.0.1.evil.example:8080"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let cross_site = client()
            .post(format!("{}/admin/dead-letters/1/replay", server.base))
            .header("X-Fhirgate-Admin", "1")
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status().as_u16(), 403, "{name}: {value}");
    }
    assert!(server.outbox.pending(10).unwrap().is_empty(), "nothing was replayed");
    let replayed = client()
        .post(format!("{}/admin/dead-letters/1/replay", server.base))
        .header("X-Fhirgate-Admin", "1")
        .header("Origin", &server.base)
        .send()
        .await
        .unwrap();
    let status = replayed.status().as_u16();
    let body: Value = replayed.json().await.unwrap();
    assert_eq!((status, &body["outboxId"]), (200, &serde_json::json!(1)));
    assert_eq!(server.outbox.pending(10).unwrap()[0].1, record);
    let again = client()
        .post(format!("{}/admin/dead-letters/1/replay", server.base))
        .header("X-Fhirgate-Admin", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 404);
    let ready: Value = get_json(&server, "/readyz").await;
    assert_eq!(ready["outboxDepth"], 1);
}
