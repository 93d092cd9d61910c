//! Load generator for the running bridge: starts the Helios FHIR server, mosquitto and `fhirgate serve`
//! (as the end-to-end tests do), pushes N distinct weight readings over HTTP (several concurrent hubs,
//! one reading per request) and N over MQTT (QoS 1), waits until every one is on the FHIR server, and
//! prints accepted/s, delivered/s and the latency from the device's acknowledgement to the server's
//! commit (the Observation's `meta.lastUpdated`).
//!
//! Then a simulated ward drives the same bridge: `fhirgate simulate` sends N payloads of every kind
//! (Bluetooth hubs over HTTP and MQTT, monitors and pumps over MLLP, a vendor cloud), with faults,
//! and the bench prints what it sent, what was acknowledged and refused, and how long the bridge
//! took to deliver or dead-letter everything it accepted.
//!
//! `cargo bench --bench bridge_load` (N from `FHIRGATE_BENCH_N`, default 1000 per transport). With
//! `FHIRGATE_BENCH_RATE` (readings per second per transport) the readings are paced instead of sent as
//! fast as the bridge answers, which measures latency at a load the server keeps up with.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use harness::{Bridge, Broker, FhirServer};

const DEDUP_SYSTEM: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdBaseObservation";
const HUBS: usize = 8;

/// Reading `n`: a weight of its own at its own second, and the time part of its dedup identifier.
fn weight_reading(n: u32) -> (Vec<u8>, String) {
    harness::distinct_weight_reading(n, "hub-bench", "MRN-BENCH")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let n: u32 = std::env::var("FHIRGATE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rate: Option<f64> = std::env::var("FHIRGATE_BENCH_RATE").ok().and_then(|v| v.parse().ok());
    let Some(fhir) = FhirServer::start("bench") else { return };
    let Some(broker) = Broker::start("bench") else { return };
    let env = vec![
        ("FHIRGATE_FHIR__BASE_URL", fhir.base_url()),
        ("FHIRGATE_MQTT__ENABLED", "true".to_string()),
        ("FHIRGATE_MQTT__PORT", broker.port.to_string()),
        ("FHIRGATE_MQTT__CLIENT_ID", "fhirgate-bench".to_string()),
        ("FHIRGATE_FHIR__BATCH_SIZE", "100".to_string()),
        ("RUST_LOG", "warn,fhirgate::ingest::mqtt=info".to_string()),
    ];
    let bridge = Bridge::start("bench", &env);
    bridge.wait_for_subscription();

    // When each reading was acknowledged to its sender (HTTP: the 202; MQTT: the publish, as the
    // bridge's PUBACK is not visible to a publisher), by the time part of its dedup identifier.
    let acked: Arc<Mutex<HashMap<String, SystemTime>>> = Arc::default();

    // HTTP: HUBS concurrent hubs, one reading per request.
    let started = Instant::now();
    let threads: Vec<_> = (0..HUBS)
        .map(|hub| {
            let url = bridge.url("/ingest/ble");
            let acked = Arc::clone(&acked);
            std::thread::spawn(move || {
                let client = harness::http();
                for i in (hub as u32..n).step_by(HUBS) {
                    if let Some(rate) = rate {
                        pace(started, i, rate);
                    }
                    let (payload, id) = weight_reading(i);
                    let status = client.post(&url).body(payload).send().map(|r| r.status().as_u16());
                    assert_eq!(status.ok(), Some(202), "reading {i}");
                    acked.lock().unwrap().insert(id, SystemTime::now());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let http_accept = started.elapsed();

    // MQTT: one publisher, QoS 1, readings n..2n.
    let started_mqtt = Instant::now();
    let payloads: Vec<(Vec<u8>, String)> = (n..2 * n).map(weight_reading).collect();
    publish_all(broker.port, &payloads, &acked, rate);
    harness::wait_until("MQTT acceptance", Duration::from_secs(600), || {
        bridge.metric("fhirgate_accepted_total") >= f64::from(2 * n)
    });
    let mqtt_accept = started_mqtt.elapsed();

    harness::wait_until("delivery of everything", Duration::from_secs(1800), || {
        bridge.outbox_depth() == 0 && bridge.metric("fhirgate_delivered_total") >= f64::from(2 * n)
    });
    let all_delivered = started.elapsed();

    // Server-side commit times.
    let mut latencies = Vec::new();
    let observations = all_observations(&fhir);
    let acked = acked.lock().unwrap();
    for observation in &observations {
        let Some(id) = observation["identifier"].as_array().and_then(|ids| {
            ids.iter()
                .find(|i| i["system"] == DEDUP_SYSTEM)
                .and_then(|i| i["value"].as_str())
                .and_then(|v| v.rsplit('-').next())
                .map(|v| v.split('.').next().unwrap_or(v).to_string())
        }) else {
            continue;
        };
        let Some(ack) = acked.get(&id) else { continue };
        let Some(updated) = observation["meta"]["lastUpdated"].as_str() else {
            continue;
        };
        let Ok(updated) = DateTime::parse_from_rfc3339(updated) else {
            continue;
        };
        let ack: DateTime<Utc> = (*ack).into();
        latencies.push((updated.to_utc() - ack).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));

    match rate {
        Some(rate) => println!("readings: {n} over HTTP ({HUBS} hubs) + {n} over MQTT (QoS 1), paced at {rate}/s each"),
        None => {
            println!("readings: {n} over HTTP ({HUBS} concurrent hubs) + {n} over MQTT (QoS 1), as fast as answered")
        }
    }
    println!(
        "HTTP accepted/s: {:.0}  ({} in {:.2} s)",
        f64::from(n) / http_accept.as_secs_f64(),
        n,
        http_accept.as_secs_f64()
    );
    println!(
        "MQTT accepted/s: {:.0}  ({} in {:.2} s, publish to stored)",
        f64::from(n) / mqtt_accept.as_secs_f64(),
        n,
        mqtt_accept.as_secs_f64()
    );
    println!(
        "delivered/s: {:.0}  ({} Observations on the server after {:.2} s)",
        f64::from(2 * n) / all_delivered.as_secs_f64(),
        observations.len(),
        all_delivered.as_secs_f64()
    );
    println!(
        "ack -> FHIR commit latency (ms): p50 {:.0}  p99 {:.0}  max {:.0}  (of {} readings)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );

    simulated_ward(&bridge, &broker, n, rate.unwrap_or(1000.0));
}

/// `fhirgate simulate` against the running bridge: a ward's mix of payloads and faults.
fn simulated_ward(bridge: &Bridge, broker: &Broker, n: u32, rate: f64) {
    let settled = |bridge: &Bridge| {
        (
            bridge.metric("fhirgate_accepted_total"),
            bridge.metric("fhirgate_delivered_total") + bridge.metric("fhirgate_dead_lettered_total"),
        )
    };
    let (accepted_before, finished_before) = settled(bridge);
    let verdicts_before = bridge.metric("fhirgate_accepted_total") + bridge.metric("fhirgate_rejected_total");
    let started = Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args([
            "simulate",
            "--json",
            "--seed",
            "7",
            "--faults",
            "0.1",
            "--devices",
            "48",
        ])
        .args(["--count", &n.to_string(), "--rate", &rate.to_string()])
        .args([
            "--http",
            &bridge.url(""),
            "--mqtt",
            &format!("127.0.0.1:{}", broker.port),
        ])
        .args(["--mllp", &format!("127.0.0.1:{}", bridge.mllp_port)])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sent_in = started.elapsed();
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let refused: u64 = summary["refused"].as_object().map_or(0, |reasons| {
        reasons.values().filter_map(serde_json::Value::as_u64).sum()
    });
    let acknowledged = summary["acknowledged"].as_u64().unwrap_or(0);
    // Every answered send gets the bridge's verdict (MQTT's PUBACK is the broker's, so the bridge's
    // own count comes later); then everything accepted is delivered or dead-lettered.
    let verdicts =
        |bridge: &Bridge| bridge.metric("fhirgate_accepted_total") + bridge.metric("fhirgate_rejected_total");
    harness::wait_until("the bridge's verdict on every send", Duration::from_secs(600), || {
        verdicts(bridge) - verdicts_before >= (acknowledged + refused) as f64
    });
    harness::wait_until(
        "the ward's payloads delivered or dead-lettered",
        Duration::from_secs(1800),
        || {
            let (accepted, finished) = settled(bridge);
            bridge.outbox_depth() == 0 && finished - finished_before >= accepted - accepted_before
        },
    );
    let all_done = started.elapsed();
    let (accepted, _) = settled(bridge);
    let sent = summary["sent"].as_u64().unwrap_or(0);
    println!(
        "simulated ward ({rate}/s, 48 devices, 10% faults): sent {sent}, acknowledged {}, refused {} in {:.2} s \
         ({:.0} sends/s); the bridge accepted {:.0} payloads and finished them (delivered or dead-lettered) \
         after {:.2} s ({:.0} payloads/s)",
        acknowledged,
        refused,
        sent_in.as_secs_f64(),
        sent as f64 / sent_in.as_secs_f64(),
        accepted - accepted_before,
        all_done.as_secs_f64(),
        (accepted - accepted_before) / all_done.as_secs_f64()
    );
}

/// Sleeps until reading `i` is due at `rate` readings per second after `started`.
fn pace(started: Instant, i: u32, rate: f64) {
    let due = started + Duration::from_secs_f64(f64::from(i) / rate);
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

fn publish_all(
    port: u16,
    payloads: &[(Vec<u8>, String)],
    acked: &Mutex<HashMap<String, SystemTime>>,
    rate: Option<f64>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut options = rumqttc::MqttOptions::new("fhirgate-bench-publisher", "127.0.0.1", port);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut events) = rumqttc::AsyncClient::new(options, 1000);
        let total = payloads.len();
        let publisher = {
            let client = client.clone();
            let payloads = payloads.to_vec();
            tokio::spawn(async move {
                let mut sent = Vec::with_capacity(payloads.len());
                let started = tokio::time::Instant::now();
                for (j, (payload, id)) in payloads.into_iter().enumerate() {
                    if let Some(rate) = rate {
                        tokio::time::sleep_until(started + Duration::from_secs_f64(j as f64 / rate)).await;
                    }
                    client
                        .publish("hubs/bench/ble", rumqttc::QoS::AtLeastOnce, false, payload)
                        .await
                        .unwrap();
                    sent.push((id, SystemTime::now()));
                }
                sent
            })
        };
        let mut pubacks = 0;
        while pubacks < total {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) = events.poll().await {
                pubacks += 1;
            }
        }
        for (id, at) in publisher.await.unwrap() {
            acked.lock().unwrap().insert(id, at);
        }
        let _ = client.disconnect().await;
    });
}

fn all_observations(fhir: &FhirServer) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    let mut url = Some(format!("{}/Observation?_count=1000", fhir.base_url()));
    while let Some(next) = url.take() {
        let page: serde_json::Value = harness::http().get(&next).send().unwrap().json().unwrap();
        if let Some(entries) = page["entry"].as_array() {
            found.extend(entries.iter().map(|e| e["resource"].clone()));
        }
        url = page["link"]
            .as_array()
            .and_then(|links| links.iter().find(|l| l["relation"] == "next"))
            .and_then(|l| l["url"].as_str())
            .map(str::to_string);
    }
    found
}
