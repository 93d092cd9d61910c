//! What an attacker or a careless sender tries, and what must hold (issue #16): answers and logged
//! reasons that never quote a value, whatever field of whatever payload the value sits in.

mod common;
mod harness;

use std::path::PathBuf;
use std::sync::Arc;

use fhirgate::adapters::declarative::DeclarativeMappings;
use fhirgate::adapters::AdapterKind;
use fhirgate::delivery::{Plan, Refused};
use fhirgate::pipeline::medtech::{MedtechConfig, MedtechTemplates};
use fhirgate::pipeline::{MapSettings, Pipeline};
use fhirgate::store::OutboxRecord;
use serde_json::Value;

/// A value no rule could produce: where it comes back in an answer, a field value was quoted.
const MARKER: &str = "ZQX";

/// The settings with every adapter armed: the shipped mappings and MedTech's sample templates.
fn armed_settings() -> MapSettings {
    let medtech = MedtechConfig {
        device_mapping: Some(common::repo_path("fixtures/medtech/devicecontent.json")),
        fhir_mapping: Some(common::repo_path("fixtures/medtech/fhirmapping.json")),
        ..MedtechConfig::default()
    };
    MapSettings {
        declarative: Arc::new(DeclarativeMappings::load(&common::repo_path("mappings")).unwrap()),
        medtech: Arc::new(MedtechTemplates::load(&medtech).unwrap()),
        ..common::settings()
    }
}

/// The values a field is replaced with: the marker alone, and the marker where a number, a time or
/// a code was expected, so that the rules which read the start of a field see it too.
fn hostile_values() -> [String; 4] {
    [
        format!("{MARKER}1"),
        format!("12{MARKER}2"),
        format!("2024{MARKER}3"),
        format!("{MARKER}4^{MARKER}5^MDC"),
    ]
}

/// Every HL7 v2 message with one field (or one component) at a time replaced by a hostile value.
fn hl7_mutants() -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = common::pcd01_fixtures()
        .iter()
        .chain(common::pcd_report_fixtures().iter())
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    messages.extend(common::real_hl7_names().iter().map(|name| common::real_hl7(name)));
    let mut mutants = Vec::new();
    for message in messages {
        let text = String::from_utf8_lossy(&message)
            .replace("\r\n", "\r")
            .replace('\n', "\r");
        let segments: Vec<&str> = text.split('\r').filter(|s| !s.is_empty()).collect();
        for (s, segment) in segments.iter().enumerate() {
            let fields: Vec<&str> = segment.split('|').collect();
            // MSH-1 and MSH-2 are the delimiters; MSH-10 comes back in MSA-2 as HL7 requires.
            let first = if segment.starts_with("MSH") { 2 } else { 1 };
            for f in first..fields.len() {
                if segment.starts_with("MSH") && f == 9 {
                    continue;
                }
                let components: Vec<&str> = fields[f].split('^').collect();
                let mut replacements: Vec<String> = hostile_values().to_vec();
                // An escape sequence HL7 does not define, and one that is not closed.
                replacements.push(format!("\\{MARKER}7\\"));
                replacements.push(format!("A\\X{MARKER}8"));
                for c in (0..components.len().min(6)).filter(|_| components.len() > 1) {
                    let mut parts: Vec<String> = components.iter().map(|p| p.to_string()).collect();
                    parts[c] = format!("{MARKER}6");
                    replacements.push(parts.join("^"));
                }
                for replacement in replacements {
                    let mut mutated: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
                    mutated[f] = replacement;
                    let mut lines: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
                    lines[s] = mutated.join("|");
                    mutants.push((lines.join("\r") + "\r").into_bytes());
                }
            }
        }
    }
    mutants
}

/// Every JSON document with one leaf at a time (string or number) replaced by a hostile string, and
/// with one member name at a time replaced by the marker.
fn json_mutants(document: &Value) -> Vec<Vec<u8>> {
    /// Every leaf's path, and every member's.
    fn walk(
        value: &Value,
        path: &mut Vec<PathStep>,
        leaves: &mut Vec<Vec<PathStep>>,
        members: &mut Vec<Vec<PathStep>>,
    ) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(PathStep::Key(key.clone()));
                    members.push(path.clone());
                    walk(child, path, leaves, members);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(PathStep::Index(i));
                    walk(child, path, leaves, members);
                    path.pop();
                }
            }
            _ => leaves.push(path.clone()),
        }
    }
    fn at<'a>(document: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
        path.iter().fold(document, |at, step| match step {
            PathStep::Key(key) => &mut at[key.as_str()],
            PathStep::Index(i) => &mut at[*i],
        })
    }
    let (mut leaves, mut members) = (Vec::new(), Vec::new());
    walk(document, &mut Vec::new(), &mut leaves, &mut members);
    let mut mutants = Vec::new();
    for path in leaves {
        for hostile in hostile_values() {
            let mut copy = document.clone();
            *at(&mut copy, &path) = Value::String(hostile);
            mutants.push(serde_json::to_vec(&copy).unwrap());
        }
    }
    for path in members {
        let Some((PathStep::Key(key), parent)) = path.split_last() else {
            continue;
        };
        let mut copy = document.clone();
        if let Some(object) = at(&mut copy, parent).as_object_mut() {
            let value = object.remove(key).unwrap_or_default();
            object.insert(format!("{MARKER}9"), value);
            mutants.push(serde_json::to_vec(&copy).unwrap());
        }
    }
    mutants
}

fn record(kind: AdapterKind, payload: &[u8]) -> OutboxRecord {
    OutboxRecord {
        adapter: kind.as_str().into(),
        received_at: common::now().fixed_offset(),
        source: "test".into(),
        payload: payload.to_vec(),
        patient: None,
        batch_index: None,
    }
}

#[derive(Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn json_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::repo_path(dir))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn read_json(path: &PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The Philips example with one field replaced.
fn philips_with(segment: &str, field: usize, value: &str) -> Vec<u8> {
    let text = String::from_utf8(
        std::fs::read(common::repo_path(
            "fixtures/hl7v2/ihe_pcd01_physio_monitor_philips_example.hl7",
        ))
        .unwrap(),
    )
    .unwrap();
    let mut done = false;
    let lines: Vec<String> = text
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .map(|line| {
            if done || !line.starts_with(segment) {
                return line.to_string();
            }
            let mut fields: Vec<&str> = line.split('|').collect();
            if segment == "OBX" && fields.get(2) != Some(&"NM") {
                return line.to_string();
            }
            done = true;
            fields[field] = value;
            fields.join("|")
        })
        .collect();
    assert!(done, "no {segment} to change");
    (lines.join("\r") + "\r").into_bytes()
}

/// Refusals name the field, the byte and the rule, never the value: every field of every fixture
/// and real capture, replaced in turn by a marker, is checked, and no refusal quotes the marker.
#[test]
fn refusals_name_field_byte_and_rule_never_a_value() {
    let pipeline = Pipeline::new(armed_settings());
    let mut cases: Vec<(AdapterKind, Vec<u8>)> = Vec::new();
    cases.extend(hl7_mutants().into_iter().map(|m| (AdapterKind::Hl7v2, m)));
    for path in common::ble_fixtures() {
        cases.extend(
            json_mutants(&read_json(&path))
                .into_iter()
                .map(|m| (AdapterKind::Ble, m)),
        );
    }
    for ids in [
        ["beurer-bm96-so78184770"].as_slice(),
        &["accuchek-guide-btsnoop-f1413", "accuchek-guide-btsnoop-f1414"],
        &["choicemmed-plx-spotcheck-so71264072"],
    ] {
        let envelope: Value = serde_json::from_slice(&common::real_ble_envelope(ids, "2026-11-30T08:00:00Z")).unwrap();
        cases.extend(json_mutants(&envelope).into_iter().map(|m| (AdapterKind::Ble, m)));
    }
    for vendor in [
        "cassia",
        "dexcom",
        "fitbit",
        "garmin",
        "googlefit",
        "ihealth",
        "librelinkup",
        "nightscout",
        "polar",
        "withings",
    ] {
        for path in json_files(&format!("mappings/tests/{vendor}")) {
            cases.extend(
                json_mutants(&read_json(&path))
                    .into_iter()
                    .map(|m| (AdapterKind::Declarative, m)),
            );
        }
    }
    let medtech = serde_json::json!({"systolic": 120, "diastolic": 80, "heartrate": 72, "deviceid": "device1",
        "patientid": "patient1", "measurementdatetime": "2023-10-09T19:18:23+00:00"});
    cases.extend(json_mutants(&medtech).into_iter().map(|m| (AdapterKind::Medtech, m)));

    // What each payload makes the bridge say, on every core (the sweep is long in a debug build).
    let said = |kind: AdapterKind, payload: &[u8]| -> (bool, Vec<String>) {
        match pipeline.check(kind, payload) {
            Err(refusal) => (true, vec![refusal.detail]),
            // Taken: what delivery says of it (a dead letter's reason, what was left out) is
            // logged, so it must not quote a value either.
            Ok(_) => match pipeline.plan(&record(kind, payload)) {
                Plan::Refuse(Refused { reason, .. }) | Plan::Nothing(reason) => (true, vec![reason]),
                Plan::Transaction(transaction) => (
                    false,
                    transaction
                        .left_out
                        .iter()
                        .map(|left| format!("{}: {}", left.what, left.reason))
                        .collect(),
                ),
                Plan::Merge(_) => (false, Vec::new()),
            },
        }
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = cases.len().div_ceil(threads);
    let results: Vec<(&str, bool, Vec<String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(kind, payload)| {
                            let (refused, texts) = said(*kind, payload);
                            (kind.as_str(), refused, texts)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let mut refused = std::collections::BTreeMap::<&str, usize>::new();
    let mut leaks = std::collections::BTreeSet::new();
    for (kind, was_refused, texts) in results {
        if was_refused {
            *refused.entry(kind).or_default() += 1;
        }
        for text in texts.into_iter().filter(|text| text.contains(MARKER)) {
            leaks.insert(format!("{kind}: {text}"));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} refusals quote a value:\n{}",
        leaks.len(),
        leaks.iter().cloned().collect::<Vec<_>>().join("\n")
    );
    // The sweep means something only if the mutants are refused, by every adapter.
    for kind in ["hl7v2", "ble", "declarative", "medtech"] {
        assert!(
            refused.get(kind).copied().unwrap_or(0) >= 10,
            "{kind}: {refused:?} of {}",
            cases.len()
        );
    }
}

/// A real listener of each kind, for what the sweep above shows on the pipeline's side: an HTTP
/// problem body and an MLLP acknowledgement name field, byte and rule, never the value.
mod answers {
    use super::*;
    use fhirgate::config::HttpConfig;
    use fhirgate::ingest::http::{self, HttpState};
    use fhirgate::ingest::mllp::{self, MllpConfig};
    use fhirgate::metrics::Metrics;
    use fhirgate::store::Outbox;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn outbox(name: &str) -> Outbox {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hardening-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        Outbox::open(&dir).unwrap()
    }

    fn hostile_messages() -> Vec<Vec<u8>> {
        vec![
            philips_with("OBX", 5, &format!("12{MARKER}")),
            philips_with("OBX", 14, &format!("2024{MARKER}")),
            philips_with("OBX", 6, &format!("{MARKER}^{MARKER}^{MARKER}")),
            philips_with("PID", 3, &format!("\\{MARKER}\\^^^A^MR")),
            philips_with("MSH", 8, &format!("{MARKER}^R01")),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_problem_bodies_quote_no_value() {
        fhirgate::tls::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let metrics = Arc::new(Metrics::new());
        let router = http::router(HttpState {
            outbox: outbox("http-answers"),
            metrics: Arc::clone(&metrics),
            config: Arc::new(HttpConfig::default()),
            pipeline: Arc::new(Pipeline::new(common::settings())),
            associations: None,
        });
        tokio::spawn(async move {
            http::serve(
                listener,
                router,
                &HttpConfig::default(),
                None,
                metrics,
                std::future::pending(),
            )
            .await
        });
        let mut bodies: Vec<(&str, Vec<u8>)> = hostile_messages().into_iter().map(|m| ("hl7v2", m)).collect();
        let envelope = format!(
            r#"{{"gateway":{{"id":"hub-1"}},"device":{{"address":"00:1A:7D:DA:71:13"}},"receivedAt":"2026-11-21T10:00:00Z","characteristic":"{MARKER}","value":"1E7800"}}"#
        );
        bodies.push(("ble", envelope.into_bytes()));
        bodies.push((
            "ble",
            format!(r#"{{"gateway":{{"id":"{MARKER}"}},"receivedAt":"20{MARKER}"}}"#).into_bytes(),
        ));
        for (adapter, body) in bodies {
            let response = reqwest::Client::new()
                .post(format!("{base}/ingest/{adapter}"))
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_eq!(status, 400, "{text}");
            assert!(text.contains("\"detail\""), "a problem body: {text}");
            assert!(!text.contains(MARKER), "the problem quotes a value: {text}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mllp_acknowledgements_quote_no_value() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let store = outbox("mllp-answers");
        tokio::spawn(mllp::serve(
            listener,
            store,
            Arc::new(Pipeline::new(common::settings())),
            MllpConfig::default(),
            Default::default(),
            std::future::pending(),
        ));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        for message in hostile_messages() {
            let mut framed = vec![0x0B];
            framed.extend_from_slice(&message);
            framed.extend_from_slice(&[0x1C, 0x0D]);
            stream.write_all(&framed).await.unwrap();
            let mut ack = Vec::new();
            while !ack.ends_with(&[0x1C, 0x0D]) {
                let mut byte = [0u8; 1024];
                let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut byte))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(n > 0, "the connection closed");
                ack.extend_from_slice(&byte[..n]);
            }
            let ack = String::from_utf8_lossy(&ack).to_string();
            let msa = ack.split('\r').find(|s| s.starts_with("MSA|")).unwrap().to_string();
            assert!(msa.starts_with("MSA|AE|") || msa.starts_with("MSA|AR|"), "{ack}");
            let err = ack
                .split('\r')
                .find(|s| s.starts_with("ERR|"))
                .unwrap_or_else(|| panic!("no ERR: {ack}"));
            assert!(
                !err.contains(MARKER) && !msa.contains(MARKER),
                "the ACK quotes a value: {ack}"
            );
        }
    }
}

/// `fhirgate serve` at its default level (info), fed hostile payloads over HTTP, MQTT and MLLP:
/// refused at the door, refused at delivery, delivered with a row left out, delivered. Its log holds
/// no payload text (the marker) and no line a payload forged.
#[test]
fn the_log_at_info_holds_no_payload_text_and_no_forged_line() {
    use harness::{Bridge, Broker, FhirServer};
    use std::time::Duration;
    let Some(fhir) = FhirServer::start("hardening-log") else {
        return;
    };
    let Some(broker) = Broker::start("hardening-log") else {
        return;
    };
    let env = [
        ("FHIRGATE_FHIR__BASE_URL", fhir.base_url()),
        ("FHIRGATE_MQTT__ENABLED", "true".into()),
        ("FHIRGATE_MQTT__PORT", broker.port.to_string()),
        ("FHIRGATE_MQTT__CLIENT_ID", "fhirgate-hardening-log".into()),
        (
            "FHIRGATE_MAPPING__UNQUALIFIED_PATIENT_SYSTEM",
            common::UNQUALIFIED_PATIENT_SYSTEM.into(),
        ),
        ("RUST_LOG", "info".into()),
    ];
    let bridge = Bridge::start("hardening-log", &env);
    let forged = format!("{MARKER}\n2026-12-03T00:00:00.000000Z  INFO fhirgate: forged\u{1b}[2K\r");
    let mut envelope: Value = read_json(&common::repo_path("fixtures/ble/2A35-blood-pressure.json"));
    envelope["patient"]["value"] = Value::String(format!("MRN-{forged}"));
    envelope["gateway"]["id"] = Value::String(forged.clone());
    envelope["device"]["serial"] = Value::String(forged.clone());
    let delivered_ble = serde_json::to_vec(&envelope).unwrap();
    envelope["characteristic"] = Value::String(forged.clone());
    let refused_ble = serde_json::to_vec(&envelope).unwrap();

    // Over MQTT, on a topic the publisher chose: refused at the door, and delivered.
    bridge.wait_for_subscription();
    broker.publish(&format!("hubs/{MARKER}-room-12/ble"), &refused_ble);
    broker.publish(&format!("hubs/{MARKER}-room-12/ble"), &delivered_ble);
    // Over HTTP: refused at the door; taken and refused at delivery (no patient); delivered with a
    // row in another coding system left out.
    assert_eq!(
        bridge.post("hl7v2", &philips_with("OBX", 5, &format!("12{MARKER}"))),
        400
    );
    let pump =
        String::from_utf8(std::fs::read(common::repo_path("fixtures/hl7v2/unassociated_pump_pcd01.hl7")).unwrap())
            .unwrap()
            .replace("Unknown Patient", &format!("{MARKER}^Patient"));
    assert_eq!(bridge.post("hl7v2", pump.as_bytes()), 202);
    let foreign = String::from_utf8(philips_with("OBX", 14, "20150122115000"))
        .unwrap()
        .replace(
            "150022^MDC_PRESS_BLD_NONINV_DIA^MDC",
            &format!("150022^{MARKER}_DIA^{MARKER}"),
        );
    assert_eq!(bridge.post("hl7v2", foreign.as_bytes()), 202);
    // Over MLLP: an escape HL7 does not define in the patient's identifier.
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", bridge.mllp_port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let message = philips_with("PID", 3, &format!("\\{MARKER}\\^^^A^MR"));
        let mut framed = vec![0x0B];
        framed.extend_from_slice(&message);
        framed.extend_from_slice(&[0x1C, 0x0D]);
        stream.write_all(&framed).unwrap();
        let mut ack = [0u8; 4096];
        let n = stream.read(&mut ack).unwrap();
        assert!(String::from_utf8_lossy(&ack[..n]).contains("MSA|AE|"));
    }
    harness::wait_until("two deliveries and two dead letters", Duration::from_secs(60), || {
        bridge.metric("fhirgate_delivered_total") >= 2.0 && bridge.metric("fhirgate_dead_lettered_total") >= 2.0
    });
    let log = bridge.log();
    assert!(log.contains("delivered") && log.contains("dead-letter store"), "{log}");
    assert!(log.contains("left_out"), "the row left out is said: {log}");
    assert!(!log.contains(MARKER), "the log quotes payload text:\n{log}");
    assert!(
        !log.contains('\u{1b}') && !log.contains('\r'),
        "control characters: {log:?}"
    );
    for line in log.lines().filter(|l| !l.is_empty()) {
        let stamp = line.get(..4).unwrap_or_default();
        assert!(
            stamp.bytes().all(|b| b.is_ascii_digit()),
            "a line that is no log record: {line:?}"
        );
    }
}
