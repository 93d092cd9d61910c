//! The bridge end to end, with real components: `fhirgate serve` as a process, the Helios FHIR server
//! and mosquitto. Every result is read back from the FHIR server by identifier and counted: readings
//! over HTTP and MQTT arrive as the Observations and Devices the mapper makes; a reading sent twice is
//! one Observation; an outage of the server, and a SIGKILL of the bridge mid-stream, lose nothing and
//! duplicate nothing; a Bundle the server refuses lands in the dead-letter store and `deadletter
//! replay` delivers it once the cause is fixed.

mod common;
mod harness;

use std::collections::BTreeSet;
use std::time::Duration;

use harness::{Bridge, Broker, FhirServer};
use serde_json::Value;

const DEDUP_SYSTEM: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdBaseObservation";

/// A weight reading (GATT 0x2A9D) of the fixture scale, `n` minutes after 2026-08-16 08:00, with a
/// weight of its own: each `n` is a distinct reading.
fn weight_reading(n: u32) -> Vec<u8> {
    let raw = 13000 + n; // × 0.005 kg
    let (hour, minute) = (8 + n / 60, n % 60);
    let value = format!(
        "02{:02x}{:02x}ea0708{:02x}{:02x}{:02x}00",
        raw & 0xFF,
        (raw >> 8) & 0xFF,
        16,
        hour,
        minute
    );
    serde_json::json!({
        "gateway": { "id": "hub-ward-7" },
        "device": { "address": "C4:7C:8D:6A:1F:20", "manufacturer": "Acme", "model": "S-1" },
        "patient": { "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711" },
        "characteristic": "2A9D",
        "value": value,
        "receivedAt": "2026-11-21T10:00:00Z",
        "utcOffset": "+01:00"
    })
    .to_string()
    .into_bytes()
}

/// The Bundle the mapper makes of a BLE payload, as the expectation for what the server holds.
fn mapped(payload: &[u8]) -> Value {
    let json = fhirgate::pipeline::map_payload(
        fhirgate::adapters::AdapterKind::Ble,
        payload,
        &common::settings(),
        common::now(),
    )
    .unwrap();
    serde_json::from_str(&json).unwrap()
}

/// `system|value` of every identifier of the Bundle's resources of `resource_type`.
fn identifiers(bundle: &Value, resource_type: &str) -> BTreeSet<String> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == resource_type)
        .flat_map(|r| r["identifier"].as_array().cloned().unwrap_or_default())
        .map(|i| format!("{}|{}", i["system"].as_str().unwrap(), i["value"].as_str().unwrap()))
        .collect()
}

fn dedup_ids(bundle: &Value) -> BTreeSet<String> {
    identifiers(bundle, "Observation")
        .into_iter()
        .filter(|i| i.starts_with(DEDUP_SYSTEM))
        .collect()
}

fn query_value(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The one Observation with this identifier on the server (asserting there is exactly one).
fn observation_by_identifier(fhir: &FhirServer, identifier: &str) -> Value {
    let found = fhir.resources(&format!("Observation?identifier={}", query_value(identifier)));
    assert_eq!(found.len(), 1, "Observations with identifier {identifier}");
    found.into_iter().next().unwrap()
}

fn delivered(bridge: &Bridge, count: f64) -> bool {
    bridge.metric("fhirgate_delivered_total") >= count && bridge.outbox_depth() == 0
}

fn bridge_env(fhir: &FhirServer) -> Vec<(&'static str, String)> {
    vec![("FHIRGATE_FHIR__BASE_URL", fhir.base_url())]
}

#[test]
fn readings_over_http_and_mqtt_arrive_as_the_mapped_observations_and_devices() {
    let Some(fhir) = FhirServer::start("arrive") else {
        return;
    };
    let Some(broker) = Broker::start("arrive") else { return };
    let mut env = bridge_env(&fhir);
    env.push(("FHIRGATE_MQTT__ENABLED", "true".into()));
    env.push(("FHIRGATE_MQTT__PORT", broker.port.to_string()));
    env.push(("FHIRGATE_MQTT__CLIENT_ID", "fhirgate-arrive".into()));
    let bridge = Bridge::start("arrive", &env);

    let over_http = std::fs::read(common::repo_path("fixtures/ble/2A35-blood-pressure.json")).unwrap();
    let over_mqtt = std::fs::read(common::repo_path("fixtures/ble/2A9D-weight.json")).unwrap();
    assert_eq!(bridge.post("ble", &over_http), 202);
    // The bridge subscribes after connecting; publish once the broker has acknowledged it.
    bridge.wait_for_subscription();
    broker.publish("hubs/ward-7/ble", &over_mqtt);
    harness::wait_until("both deliveries", Duration::from_secs(60), || delivered(&bridge, 2.0));

    for payload in [&over_http, &over_mqtt] {
        let bundle = mapped(payload);
        for entry in bundle["entry"].as_array().unwrap() {
            let expected = &entry["resource"];
            if expected["resourceType"] != "Observation" {
                continue;
            }
            let dedup = expected["identifier"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["system"] == DEDUP_SYSTEM)
                .map(|i| format!("{DEDUP_SYSTEM}|{}", i["value"].as_str().unwrap()))
                .unwrap();
            let stored = observation_by_identifier(&fhir, &dedup);
            for field in [
                "code",
                "valueQuantity",
                "component",
                "effectiveDateTime",
                "status",
                "category",
                "subject",
            ] {
                assert_eq!(stored[field], expected[field], "{field} of {dedup}");
            }
            // The device reference, rewritten by the server from the Bundle's urn:uuid.
            let device = stored["device"]["reference"].as_str().unwrap();
            assert!(device.starts_with("Device/"), "{device}");
        }
        for device in identifiers(&bundle, "Device") {
            let found = fhir.count(&format!("Device?identifier={}", query_value(&device)));
            assert_eq!(found, 1, "Device {device}");
        }
    }
    let expected_observations = mapped(&over_http)["entry"]
        .as_array()
        .unwrap()
        .iter()
        .chain(mapped(&over_mqtt)["entry"].as_array().unwrap())
        .filter(|e| e["resource"]["resourceType"] == "Observation")
        .count() as u64;
    assert_eq!(fhir.count("Observation"), expected_observations);
    assert_eq!(bridge.metric("fhirgate_accepted_total"), 2.0);
}

#[test]
fn the_same_reading_sent_twice_is_one_observation() {
    let Some(fhir) = FhirServer::start("twice") else { return };
    let bridge = Bridge::start("twice", &bridge_env(&fhir));
    let payload = weight_reading(1);
    assert_eq!(bridge.post("ble", &payload), 202);
    harness::wait_until("the first delivery", Duration::from_secs(60), || {
        delivered(&bridge, 1.0)
    });
    assert_eq!(bridge.post("ble", &payload), 202);
    harness::wait_until("the second delivery", Duration::from_secs(60), || {
        delivered(&bridge, 2.0)
    });
    let expected = dedup_ids(&mapped(&payload));
    assert_eq!(expected.len(), 1);
    for identifier in &expected {
        observation_by_identifier(&fhir, identifier);
    }
    assert_eq!(fhir.count("Observation"), 1);
    assert_eq!(fhir.count("Device"), 2, "the scale and its gateway, once each");
}

#[test]
fn a_patient_known_to_the_ehr_is_referenced_by_id() {
    let Some(fhir) = FhirServer::start("patient") else {
        return;
    };
    let patient = fhir.create(
        "Patient",
        &serde_json::json!({
            "resourceType": "Patient",
            "identifier": [{ "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711" }]
        }),
    );
    let bridge = Bridge::start("patient", &bridge_env(&fhir));
    let payload = std::fs::read(common::repo_path("fixtures/ble/2A35-blood-pressure.json")).unwrap();
    assert_eq!(bridge.post("ble", &payload), 202);
    harness::wait_until("the delivery", Duration::from_secs(60), || delivered(&bridge, 1.0));
    let observations = fhir.resources("Observation");
    assert!(!observations.is_empty());
    for observation in &observations {
        let subject = &observation["subject"];
        if subject["type"] == "Device" {
            continue; // a device-status Observation is about the device
        }
        assert_eq!(subject["reference"], format!("Patient/{patient}"), "{observation}");
        assert_eq!(
            subject["identifier"]["value"], "MRN-4711",
            "the identifier is kept beside it"
        );
    }
    let by_patient = fhir.count(&format!("Observation?subject=Patient/{patient}"));
    assert_eq!(
        by_patient,
        observations.iter().filter(|o| o["subject"]["type"] != "Device").count() as u64
    );
}

#[test]
fn a_fhir_outage_loses_nothing() {
    let Some(mut fhir) = FhirServer::start("outage") else {
        return;
    };
    let bridge = Bridge::start("outage", &bridge_env(&fhir));
    fhir.stop();
    let readings: Vec<Vec<u8>> = (0..20).map(weight_reading).collect();
    for reading in &readings {
        assert_eq!(bridge.post("ble", reading), 202, "accepted while the server is down");
    }
    // The bridge keeps trying while the server is away.
    harness::wait_until("retries", Duration::from_secs(30), || {
        bridge.metric("fhirgate_retried_total") >= 3.0
    });
    assert_eq!(bridge.outbox_depth(), 20, "nothing is dropped while the server is down");
    fhir.resume();
    harness::wait_until("delivery after the outage", Duration::from_secs(90), || {
        delivered(&bridge, 20.0)
    });
    let expected: BTreeSet<String> = readings.iter().flat_map(|r| dedup_ids(&mapped(r))).collect();
    assert_eq!(expected.len(), 20);
    assert_eq!(fhir.count("Observation"), 20);
    for identifier in &expected {
        observation_by_identifier(&fhir, identifier);
    }
}

#[test]
fn the_bridge_killed_mid_stream_loses_and_duplicates_nothing() {
    let Some(fhir) = FhirServer::start("kill9") else { return };
    let Some(broker) = Broker::start("kill9") else { return };
    let broker = std::sync::Arc::new(broker);
    let mut env = bridge_env(&fhir);
    env.push(("FHIRGATE_MQTT__ENABLED", "true".into()));
    env.push(("FHIRGATE_MQTT__PORT", broker.port.to_string()));
    env.push(("FHIRGATE_MQTT__CLIENT_ID", "fhirgate-kill9".into()));
    let mut bridge = Bridge::start("kill9", &env);
    bridge.wait_for_subscription();

    let total = 120u32;
    let readings: Vec<Vec<u8>> = (0..total).map(weight_reading).collect();
    // Even readings stream in over HTTP, odd ones over MQTT, from two threads at once, while the bridge
    // is killed with SIGKILL and, a while later, started again. The HTTP hub resends each reading until
    // it is answered 202, as hubs do; MQTT messages wait at the broker.
    let url = bridge.url("/ingest/ble");
    let over_http: Vec<Vec<u8>> = readings.iter().step_by(2).cloned().collect();
    let hub = std::thread::spawn(move || {
        let client = harness::http();
        for reading in over_http {
            while client
                .post(&url)
                .body(reading.clone())
                .send()
                .map(|r| r.status().as_u16())
                .ok()
                != Some(202)
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let over_mqtt: Vec<Vec<u8>> = readings.iter().skip(1).step_by(2).cloned().collect();
    let publisher = {
        let broker = std::sync::Arc::clone(&broker);
        std::thread::spawn(move || {
            for reading in over_mqtt {
                broker.publish("hubs/ward-7/ble", &reading);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    harness::wait_until("a third of the stream", Duration::from_secs(60), || {
        bridge.metric("fhirgate_accepted_total") >= f64::from(total / 3)
    });
    bridge.kill9();
    std::thread::sleep(Duration::from_secs(2));
    bridge.resume();
    hub.join().unwrap();
    publisher.join().unwrap();

    let expected: BTreeSet<String> = readings.iter().flat_map(|r| dedup_ids(&mapped(r))).collect();
    assert_eq!(expected.len(), total as usize);
    harness::wait_until("every reading in the server", Duration::from_secs(120), || {
        fhir.count("Observation") >= u64::from(total) && bridge.outbox_depth() == 0
    });
    // Let any straggling duplicate land before counting exactly.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fhir.count("Observation"), u64::from(total), "no loss, no duplicate");
    let stored: BTreeSet<String> = fhir
        .resources("Observation")
        .iter()
        .flat_map(|o| o["identifier"].as_array().cloned().unwrap_or_default())
        .filter(|i| i["system"] == DEDUP_SYSTEM)
        .map(|i| format!("{DEDUP_SYSTEM}|{}", i["value"].as_str().unwrap()))
        .collect();
    assert_eq!(stored, expected);
    assert_eq!(fhir.count("Device"), 2);
}

#[test]
fn a_refused_bundle_is_dead_lettered_and_replay_delivers_it_once_fixed() {
    let Some(fhir) = FhirServer::start("refused") else {
        return;
    };
    // Two Devices already on the server carry the scale's identifier: the conditional create of the
    // scale cannot decide between them, so the server refuses the whole transaction (hfs answers 400).
    let scale = serde_json::json!({
        "resourceType": "Device",
        "identifier": [{ "system": "http://hl7.org/fhir/sid/eui-48/bluetooth", "value": "C4-7C-8D-6A-1F-20" }]
    });
    let first = fhir.create("Device", &scale);
    fhir.create("Device", &scale);
    let bridge = Bridge::start("refused", &bridge_env(&fhir));
    let payload = weight_reading(7);
    assert_eq!(bridge.post("ble", &payload), 202);
    harness::wait_until("the dead letter", Duration::from_secs(60), || {
        bridge.metric("fhirgate_dead_lettered_total") >= 1.0
    });
    assert_eq!(bridge.outbox_depth(), 0);
    assert_eq!(fhir.count("Observation"), 0, "a refused transaction commits nothing");

    let (code, listing) = bridge.deadletter(&["list"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 1, "{listing}");
    assert!(lines[0].starts_with("1\t"), "{listing}");
    assert!(lines[0].contains("refused the Bundle with 400"), "{listing}");
    let (code, shown) = bridge.deadletter(&["show", "1"]);
    assert_eq!(code, 0);
    let letter: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(letter["status"], 400);
    assert!(letter["bundle"].as_str().unwrap().contains("\"transaction\""));
    assert!(
        letter["outcome"].as_str().unwrap().contains("OperationOutcome"),
        "{letter}"
    );
    assert_eq!(letter["record"]["adapter"], "ble");

    // The fix: the operator removes the duplicate Device. Then replay.
    fhir.delete(&format!("Device/{first}"));
    let (code, replayed) = bridge.deadletter(&["replay", "1"]);
    assert_eq!(code, 0, "{replayed}");
    harness::wait_until("the replayed delivery", Duration::from_secs(60), || {
        delivered(&bridge, 1.0)
    });
    let expected = dedup_ids(&mapped(&payload));
    for identifier in &expected {
        observation_by_identifier(&fhir, identifier);
    }
    assert_eq!(fhir.count("Observation"), 1);
    assert_eq!(bridge.deadletter(&["list"]).1, "", "the dead letter left the store");
    assert_eq!(bridge.deadletter(&["replay", "1"]).0, 2, "nothing left to replay");
}

/// Sends one HL7 v2 message over MLLP and returns the ACK's MSA-1 code.
fn send_mllp(port: u16, message: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut frame = vec![0x0B];
    frame.extend_from_slice(message);
    frame.extend_from_slice(&[0x1C, 0x0D]);
    stream.write_all(&frame).unwrap();
    let mut ack = Vec::new();
    let mut chunk = [0u8; 1024];
    while !ack.ends_with(&[0x1C, 0x0D]) {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed before the ACK");
        ack.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&ack).to_string();
    text.split('\r')
        .find(|segment| segment.starts_with("MSA|"))
        .and_then(|msa| msa.split('|').nth(1))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_pump_reading_without_patient_waits_and_is_delivered_once_the_device_is_associated() {
    let Some(fhir) = FhirServer::start("associate") else {
        return;
    };
    let bridge = Bridge::start("associate", &bridge_env(&fhir));
    let pump = std::fs::read(common::repo_path("fixtures/hl7v2/unassociated_pump_pcd01.hl7")).unwrap();
    assert_eq!(
        send_mllp(bridge.mllp_port, &pump),
        "AA",
        "stored, although it names no patient"
    );
    harness::wait_until("the dead letter", Duration::from_secs(60), || {
        bridge.metric("fhirgate_dead_lettered_total") >= 1.0
    });
    let (_, listing) = bridge.deadletter(&["list"]);
    assert!(listing.contains("names no patient"), "{listing}");
    assert_eq!(fhir.count("Observation"), 0);

    // An association that does not cover the reading's time changes nothing...
    let post = |body: serde_json::Value| {
        harness::http()
            .post(bridge.url("/admin/associations"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap()
    };
    let elsewhere = post(serde_json::json!({
        "device": { "systemId": "00-12-21-18-39-00-00-03" },
        "patient": { "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-0001" },
        "from": "2026-11-20T08:00:00+01:00", "to": "2026-11-20T20:00:00+01:00"
    }));
    assert_eq!(elsewhere.status().as_u16(), 201);
    harness::wait_until("the replay to come back", Duration::from_secs(60), || {
        bridge.outbox_depth() == 0 && bridge.metric("fhirgate_dead_lettered_total") >= 2.0
    });
    assert_eq!(fhir.count("Observation"), 0);
    // ...a malformed one is refused with the rule...
    let malformed = post(
        serde_json::json!({ "device": {}, "patient": { "system": "s", "value": "v" }, "from": "2026-11-21T08:00:00+01:00" }),
    );
    assert_eq!(malformed.status().as_u16(), 400);
    assert!(malformed.text().unwrap().contains("systemId"));
    // ...and the right one delivers the waiting reading.
    let answer = post(serde_json::json!({
        "device": { "systemId": "00-12-21-18-39-00-00-03" },
        "patient": { "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711" },
        "from": "2026-11-21T08:00:00+01:00"
    }));
    assert_eq!(answer.status().as_u16(), 201);
    let answer: Value = answer.json().unwrap();
    assert_eq!(answer["replayedDeadLetters"], 1);
    let right = serde_json::json!({
        "device": { "systemId": "00-12-21-18-39-00-00-03" },
        "patient": { "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711" },
        "from": "2026-11-21T08:00:00+01:00"
    });
    let again: Value = post(right).json().unwrap();
    assert_eq!(
        again["id"], answer["id"],
        "sending the same association again is harmless"
    );
    let overlapping = post(serde_json::json!({
        "device": { "systemId": "00-12-21-18-39-00-00-03" },
        "patient": { "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-0002" },
        "from": "2026-11-21T12:00:00+01:00"
    }));
    assert_eq!(overlapping.status().as_u16(), 409, "two patients at once are refused");
    harness::wait_until("the delivery", Duration::from_secs(60), || delivered(&bridge, 1.0));
    let observations = fhir.resources("Observation?code=157784");
    assert_eq!(observations.len(), 1, "the pump's flow rate");
    assert_eq!(observations[0]["subject"]["identifier"]["value"], "MRN-4711");
    assert_eq!(observations[0]["valueQuantity"]["value"], 125.0);
    assert_eq!(bridge.deadletter(&["list"]).1, "");
    let listed: Value = harness::http()
        .get(bridge.url("/admin/associations"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["associations"].as_array().unwrap().len(), 2, "both stored ones");

    // The pump goes to another patient at noon: end the association then, and the next one fits.
    let end = |id: &Value, body: serde_json::Value| {
        harness::http()
            .post(bridge.url(&format!("/admin/associations/{id}/end")))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap()
    };
    let ended = end(&answer["id"], serde_json::json!({ "to": "2026-11-21T12:00:00+01:00" }));
    assert_eq!(ended.status().as_u16(), 200);
    let ended: Value = ended.json().unwrap();
    assert_eq!(ended["association"]["to"], "2026-11-21T12:00:00+01:00");
    assert_eq!(ended["association"]["patient"]["value"], "MRN-4711");
    let later = end(&answer["id"], serde_json::json!({ "to": "2026-11-22T12:00:00+01:00" }));
    assert_eq!(later.status().as_u16(), 400, "an end is never moved later");
    assert!(later.text().unwrap().contains("already ends"));
    let before_start = end(&answer["id"], serde_json::json!({ "to": "2026-11-20T12:00:00+01:00" }));
    assert_eq!(
        before_start.status().as_u16(),
        400,
        "an end before its start is refused"
    );
    assert_eq!(
        end(
            &serde_json::json!(999_999),
            serde_json::json!({ "to": "2026-11-21T12:00:00+01:00" })
        )
        .status()
        .as_u16(),
        404
    );
    let next = post(serde_json::json!({
        "device": { "systemId": "00-12-21-18-39-00-00-03" },
        "patient": { "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-0002" },
        "from": "2026-11-21T12:00:00+01:00"
    }));
    assert_eq!(
        next.status().as_u16(),
        201,
        "the next patient's association no longer overlaps"
    );
    // What was delivered stays delivered, under the patient of its time.
    assert_eq!(
        fhir.resources("Observation?code=157784")[0]["subject"]["identifier"]["value"],
        "MRN-4711"
    );
}

#[test]
fn a_vendor_cloud_payload_arrives_with_the_patient_its_poller_names_and_says_what_it_left_out() {
    let Some(fhir) = FhirServer::start("vendor") else {
        return;
    };
    let mut env = bridge_env(&fhir);
    env.push((
        "FHIRGATE_MAPPING__VENDOR_MAPPINGS",
        common::repo_path("mappings").display().to_string(),
    ));
    let bridge = Bridge::start("vendor", &env);
    let payload = std::fs::read(common::repo_path(
        "mappings/tests/ihealth/ihealth-bp-no-heart-rate.json",
    ))
    .unwrap();
    let url = bridge.url("/ingest/json?patient=urn:oid:2.16.840.1.113883.19.5%7CMRN-4711");
    let status = harness::http()
        .post(url)
        .body(payload)
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 202);
    harness::wait_until("the delivery", Duration::from_secs(60), || delivered(&bridge, 1.0));
    let observations = fhir.resources("Observation");
    assert_eq!(observations.len(), 1, "the blood pressure; the pulse of 0 means none");
    assert_eq!(observations[0]["subject"]["identifier"]["value"], "MRN-4711");
    assert_eq!(observations[0]["component"][0]["valueQuantity"]["value"], 130);
    assert_eq!(observations[0]["effectiveDateTime"], "2015-09-17T14:07:45-06:00");
    let log = bridge.log();
    assert!(
        log.contains("delivered without a measurement the mapping left out"),
        "{log}"
    );
    assert!(log.contains("absent_when"), "the reason, by rule: {log}");
}

#[test]
fn serve_with_no_arguments_starts_on_the_defaults_and_answers_healthz() {
    let dir = harness::scratch_dir("defaults");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .arg("serve")
        .current_dir(&dir)
        .env_remove("FHIRGATE_CONFIG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut answered = None;
    for _ in 0..100 {
        if let Ok(response) = harness::http().get("http://127.0.0.1:8080/healthz").send() {
            answered = Some((response.status().as_u16(), response.text().unwrap()));
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mllp_open = std::net::TcpStream::connect("127.0.0.1:2575").is_ok();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let mut log = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert_eq!(answered, Some((200, "{\"status\":\"ok\"}".to_string())), "{log}");
    assert!(mllp_open, "MLLP listens on 127.0.0.1:2575");
    assert!(dir.join("data/outbox.redb").is_file(), "the store is under ./data");
    assert!(status.success(), "SIGTERM stops it cleanly: {log}");
    assert!(log.contains("no FHIR server configured"), "{log}");
}

/// MedTech's sample templates, unchanged, against the real server: the hour's messages merge into one
/// Observation per type, as MedTech writes it, and a replay writes nothing.
#[test]
fn medtech_templates_merge_the_hours_messages_into_one_observation_per_type() {
    const PATIENT: &str = "cd3ee1fc63936b0083c968fe962a726d383ab6ee83af53d4f50507ccd646b68a";
    const DEVICE: &str = "e55c4dadeb1050efd66966053edc1a9f921022858367eff94c3fc7660ed1f1ef";
    const BLOOD_PRESSURE: &str = "925c385e312fd99d3f897bf3a06d3b099f5f5355dc5d7ba2afc673739181ae2d";
    let Some(fhir) = FhirServer::start("medtech") else {
        return;
    };
    let mut env = bridge_env(&fhir);
    for (key, file) in [
        ("FHIRGATE_MEDTECH__DEVICE_MAPPING", "devicecontent.json"),
        ("FHIRGATE_MEDTECH__FHIR_MAPPING", "fhirmapping.json"),
    ] {
        env.push((
            key,
            common::repo_path("fixtures/medtech").join(file).display().to_string(),
        ));
    }
    let bridge = Bridge::start("medtech", &env);
    let first = br#"{"systolic":120,"diastolic":80,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:18:23+00:00"}"#;
    assert_eq!(bridge.post("medtech", first), 202);
    harness::wait_until("the first message", Duration::from_secs(60), || delivered(&bridge, 1.0));

    let slots = |observation: &Value, component: usize| -> Vec<String> {
        observation["component"][component]["valueSampledData"]["data"]
            .as_str()
            .unwrap()
            .split(' ')
            .map(str::to_string)
            .collect()
    };
    let bp = fhir.search(&format!("Observation/{BLOOD_PRESSURE}"));
    assert_eq!(bp["status"], "final");
    assert_eq!(
        bp["identifier"][0]["value"],
        format!("{PATIENT}.{DEVICE}.bloodpressure.20231009190000Z.20231009195959Z")
    );
    assert_eq!(bp["subject"]["reference"], format!("Patient/{PATIENT}"));
    assert_eq!(bp["device"]["reference"], format!("Device/{DEVICE}"));
    let systolic = slots(&bp, 1);
    assert_eq!((systolic.len(), systolic[1103].as_str()), (3600, "120"));
    assert_eq!(slots(&bp, 0)[1103], "80");
    let patient = fhir.search(&format!("Patient/{PATIENT}"));
    assert_eq!(patient["identifier"][0]["value"], "patient1");
    let device = fhir.search(&format!("Device/{DEVICE}"));
    assert_eq!(device["patient"]["reference"], format!("Patient/{PATIENT}"));

    // Later in the hour, and a heart rate: the blood pressure is merged, the heart rate is new.
    let later = br#"{"systolic":131,"diastolic":85,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:45:00Z"}"#;
    let heart_rate =
        br#"{"heartrate":78,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:18:23Z"}"#;
    assert_eq!(bridge.post("medtech", later), 202);
    assert_eq!(bridge.post("medtech", heart_rate), 202);
    harness::wait_until("the hour's messages", Duration::from_secs(60), || {
        delivered(&bridge, 3.0)
    });
    let bp = fhir.search(&format!("Observation/{BLOOD_PRESSURE}"));
    assert_eq!(bp["status"], "amended");
    let systolic = slots(&bp, 1);
    assert_eq!((systolic[1103].as_str(), systolic[2700].as_str()), ("120", "131"));
    assert_eq!(systolic.iter().filter(|s| *s != "E").count(), 2);
    assert_eq!(
        fhir.count("Observation"),
        2,
        "one blood pressure and one heart rate for the hour"
    );
    assert_eq!(fhir.count("Patient"), 1);
    assert_eq!(fhir.count("Device"), 1);

    // The first message again: nothing changes, nothing is written.
    let version = bp["meta"]["versionId"].clone();
    assert_eq!(bridge.post("medtech", first), 202);
    harness::wait_until("the replay", Duration::from_secs(60), || delivered(&bridge, 4.0));
    let bp = fhir.search(&format!("Observation/{BLOOD_PRESSURE}"));
    assert_eq!(bp["meta"]["versionId"], version);

    // A Device the hospital registered without a patient is linked to the message's patient, as
    // MedTech's create mode does; one linked to another patient is not written to (dead letter).
    let unlinked = fhir.create(
        "Device",
        &serde_json::json!({"resourceType": "Device", "identifier": [{"value": "device2"}]}),
    );
    let other = fhir.create(
        "Patient",
        &serde_json::json!({"resourceType": "Patient", "identifier": [{"value": "patient9"}]}),
    );
    let linked = fhir.create(
        "Device",
        &serde_json::json!({"resourceType": "Device", "identifier": [{"value": "device3"}],
            "patient": {"reference": format!("Patient/{other}")}}),
    );
    let second_device =
        br#"{"heartrate":64,"deviceid":"device2","patientid":"patient1","measurementdatetime":"2023-10-09T20:05:00Z"}"#;
    assert_eq!(bridge.post("medtech", second_device), 202);
    harness::wait_until("the registered device", Duration::from_secs(60), || {
        delivered(&bridge, 5.0)
    });
    let device = fhir.search(&format!("Device/{unlinked}"));
    assert_eq!(device["patient"]["reference"], format!("Patient/{PATIENT}"));
    assert_eq!(
        device["identifier"][0]["value"], "device2",
        "the rest of the Device is kept"
    );
    let heart_rates = fhir.resources(&format!("Observation?device=Device/{unlinked}"));
    assert_eq!(heart_rates.len(), 1);
    assert_eq!(heart_rates[0]["subject"]["reference"], format!("Patient/{PATIENT}"));

    let wrong_patient =
        br#"{"heartrate":90,"deviceid":"device3","patientid":"patient1","measurementdatetime":"2023-10-09T20:05:00Z"}"#;
    assert_eq!(bridge.post("medtech", wrong_patient), 202);
    harness::wait_until("the mismatch", Duration::from_secs(60), || {
        bridge.metric("fhirgate_dead_lettered_total") >= 1.0
    });
    let (_, listing) = bridge.deadletter(&["list"]);
    assert!(listing.contains("the Device is linked to another Patient"), "{listing}");
    assert_eq!(fhir.resources(&format!("Observation?device=Device/{linked}")).len(), 0);
    let device = fhir.search(&format!("Device/{linked}"));
    assert_eq!(
        device["patient"]["reference"],
        format!("Patient/{other}"),
        "the link is left alone"
    );

    // The hospital hands device1 (remembered as patient1's) to patient9: the bridge reads the Device
    // again rather than trusting what it remembered, and files the reading under patient9.
    let mut device1 = fhir.search(&format!("Device/{DEVICE}"));
    device1["patient"] = serde_json::json!({"reference": format!("Patient/{other}")});
    fhir.update(&device1);
    let handed_over =
        br#"{"heartrate":66,"deviceid":"device1","patientid":"patient9","measurementdatetime":"2023-10-09T22:10:00Z"}"#;
    assert_eq!(bridge.post("medtech", handed_over), 202);
    harness::wait_until("the handed-over device", Duration::from_secs(60), || {
        delivered(&bridge, 6.0)
    });
    let for_patient9 = fhir.resources(&format!("Observation?subject=Patient/{other}"));
    assert_eq!(for_patient9.len(), 1);
    assert_eq!(for_patient9[0]["device"]["reference"], format!("Device/{DEVICE}"));

    // A message no template matches is refused at the door.
    assert_eq!(bridge.post("medtech", br#"{"pulse":1}"#), 400);
}

#[test]
fn medtech_encounter_ids_link_the_encounter_or_wait_in_the_dead_letter_store() {
    let Some(fhir) = FhirServer::start("medtech-encounter") else {
        return;
    };
    // MedTech's sample device mapping, with the heart rate naming its encounter.
    let fixtures = common::repo_path("fixtures/medtech");
    let mut mapping: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("devicecontent.json")).unwrap()).unwrap();
    mapping["template"][0]["template"]["encounterIdExpression"] = Value::from("$.encounterid");
    let dir = harness::scratch_dir("medtech-encounter-templates");
    std::fs::write(dir.join("devicecontent.json"), mapping.to_string()).unwrap();
    let mut env = bridge_env(&fhir);
    env.push((
        "FHIRGATE_MEDTECH__DEVICE_MAPPING",
        dir.join("devicecontent.json").display().to_string(),
    ));
    env.push((
        "FHIRGATE_MEDTECH__FHIR_MAPPING",
        fixtures.join("fhirmapping.json").display().to_string(),
    ));
    let encounter = fhir.create(
        "Encounter",
        &serde_json::json!({"resourceType": "Encounter", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "identifier": [{"system": "urn:hospital:visit", "value": "visit-42"}]}),
    );
    let bridge = Bridge::start("medtech-encounter", &env);

    let during_stay = br#"{"heartrate":71,"deviceid":"device1","patientid":"patient1","encounterid":"visit-42","measurementdatetime":"2023-10-09T19:18:23Z"}"#;
    assert_eq!(bridge.post("medtech", during_stay), 202);
    harness::wait_until("the heart rate", Duration::from_secs(60), || delivered(&bridge, 1.0));
    let observations = fhir.resources("Observation");
    assert_eq!(observations.len(), 1);
    assert_eq!(
        observations[0]["encounter"]["reference"],
        format!("Encounter/{encounter}")
    );

    // An encounter the server does not hold: not guessed, not dropped.
    let unknown_stay = br#"{"heartrate":73,"deviceid":"device1","patientid":"patient1","encounterid":"visit-99","measurementdatetime":"2023-10-09T21:00:00Z"}"#;
    assert_eq!(bridge.post("medtech", unknown_stay), 202);
    harness::wait_until("the dead letter", Duration::from_secs(60), || {
        bridge.metric("fhirgate_dead_lettered_total") >= 1.0
    });
    let (_, listing) = bridge.deadletter(&["list"]);
    assert!(
        listing.contains("no Encounter has the message's encounter id"),
        "{listing}"
    );
    assert_eq!(fhir.count("Observation"), 1);
}
