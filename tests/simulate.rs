//! `fhirgate simulate` (issue #17): what it sends is what the standards say and what the bridge
//! maps to the values simulated; a seed repeats a run; and its summary matches the bridge's counters.

mod common;
mod harness;

use std::time::Duration;

use chrono::{DateTime, Utc};
use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::map_payload;
use fhirgate::simulate::messages;
use fhirgate::simulate::ward::{BleDevice, Kind, Ward};
use serde_json::Value;

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T09:30:15Z").unwrap().to_utc()
}

fn bundle(kind: AdapterKind, payload: &[u8]) -> Value {
    let json = map_payload(kind, payload, &common::settings(), common::now())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(payload)));
    serde_json::from_str(&json).unwrap()
}

/// The Observations of a Bundle, by their first LOINC code.
fn observation<'b>(bundle: &'b Value, loinc: &str) -> &'b Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| {
            r["resourceType"] == "Observation"
                && r["code"]["coding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["code"] == loinc)
        })
        .unwrap_or_else(|| panic!("no Observation coded {loinc} in {bundle}"))
}

fn quantity(observation: &Value) -> f64 {
    observation["valueQuantity"]["value"].as_f64().unwrap()
}

#[test]
fn every_simulated_device_reading_maps_to_the_values_simulated() {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut ward = Ward::new(&mut rng, 24);
    assert_eq!(
        (ward.ble.len(), ward.monitors.len(), ward.pumps.len(), ward.clouds.len()),
        (12, 6, 3, 3)
    );
    let mut seen = Vec::new();
    for device in &mut ward.ble {
        let now = at() + device.clock_offset;
        let value = device.next_value(&mut rng, now);
        let envelope = device.envelope(&value, at(), true);
        let values = device.values();
        let bundle = bundle(AdapterKind::Ble, envelope.to_string().as_bytes());
        let subject = &observation_any(&bundle)["subject"]["identifier"];
        assert_eq!(subject["value"], device.patient.value);
        assert_eq!(subject["system"], "urn:oid:2.16.840.1.113883.19.5");
        match device.kind {
            Kind::BloodPressure => {
                let bp = observation(&bundle, "85354-9");
                assert_eq!(
                    bp["component"][0]["valueQuantity"]["value"].as_f64().unwrap(),
                    values[0].round()
                );
                assert_eq!(
                    bp["component"][1]["valueQuantity"]["value"].as_f64().unwrap(),
                    values[1].round()
                );
                assert_eq!(quantity(observation(&bundle, "8867-4")), values[2].round());
                // The intermediate cuff pressure before it: preliminary, as the cuff deflates.
                let cuff = resource_coded(&bundle, "150300");
                assert_eq!(quantity(cuff), BleDevice::cuff_pressure(values[0]));
                assert_eq!(cuff["status"], "preliminary");
            }
            Kind::HeartRate => assert_eq!(quantity(observation(&bundle, "8867-4")), values[0].round()),
            Kind::Thermometer => {
                let temperature = observation(&bundle, "8310-5");
                assert!(
                    (quantity(temperature) - values[0]).abs() <= 0.05 + 1e-9,
                    "{temperature}"
                );
                assert_eq!(temperature["valueQuantity"]["code"], "Cel");
            }
            Kind::Scale => {
                let weight = observation(&bundle, "29463-7");
                assert!((quantity(weight) - values[0]).abs() <= 0.0025 + 1e-9, "{weight}");
                assert_eq!(weight["valueQuantity"]["code"], "kg");
            }
            Kind::Glucometer => {
                let glucose = observation(&bundle, "41653-7");
                assert_eq!(glucose["valueQuantity"]["code"], "mg/dL", "{glucose}");
                assert_eq!(quantity(glucose), values[0].round());
                // Its context, paired by sequence number: the meal (8417868 preprandial,
                // 8417872 postprandial, 8417876 fasting).
                let meal = resource_coded(&bundle, "8417864");
                let expected = 8417864 + 4 * u32::from(device.meal());
                assert_eq!(
                    meal["valueCodeableConcept"]["coding"][0]["code"],
                    expected.to_string(),
                    "{meal}"
                );
            }
            Kind::Cgm => {
                // Interstitial glucose at the session start plus the record's whole minutes.
                let glucose = observation(&bundle, "99504-3");
                assert_eq!(quantity(glucose), values[0].round());
                let device_now = now + device.clock_offset;
                let minutes = (device_now - device.session_start).num_minutes();
                let expected = device.session_start + chrono::Duration::minutes(minutes);
                assert_eq!(
                    glucose["effectiveDateTime"],
                    expected.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
                    "{glucose}"
                );
            }
            Kind::ContinuousOximeter => {
                assert_eq!(quantity(observation(&bundle, "59408-5")), values[0].round());
                assert_eq!(quantity(observation(&bundle, "8867-4")), values[1].round());
            }
            Kind::EcgStrap => {
                let ecg = &resource_coded(&bundle, "131328")["valueSampledData"];
                let expected: Vec<String> = device.ecg.iter().map(i32::to_string).collect();
                assert_eq!(ecg["data"], expected.join(" "));
                assert_eq!(device.ecg.len(), 73);
                assert_eq!(ecg["origin"]["code"], "uV");
                assert_eq!(ecg["period"].to_string(), "7.692308");
            }
            Kind::Oximeter => {
                assert_eq!(quantity(observation(&bundle, "59408-5")), values[0].round());
                assert_eq!(quantity(observation(&bundle, "8867-4")), values[1].round());
            }
            Kind::BodyComposition => {
                let fat = observation(&bundle, "41982-0");
                assert!((quantity(fat) - values[0]).abs() <= 0.05 + 1e-9, "{fat}");
                assert_eq!(fat["valueQuantity"]["code"], "%");
                // Fat-free mass as the device computes it, to the characteristic's 5 g steps.
                let fat_free = bundle["entry"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| &e["resource"])
                    .find(|r| r["code"]["coding"][0]["code"] == "188756")
                    .unwrap_or_else(|| panic!("no fat-free mass: {bundle}"));
                let expected = ((values[1] * (1.0 - values[0] / 100.0)) / 0.005).round() * 0.005;
                assert!((quantity(fat_free) - expected).abs() < 1e-6, "{fat_free}");
                assert_eq!(fat_free["valueQuantity"]["code"], "kg");
            }
        }
        seen.push(device.kind);
    }
    assert_eq!(
        seen[..10],
        Kind::ALL,
        "every kind of device is on a ward of twenty-four"
    );

    // The monitors' PCD-01 reports and PCD-04 alarms map to their patient and values.
    let monitor = &ward.monitors[0];
    let report = bundle(AdapterKind::Hl7v2, messages::pcd01(monitor, 1, at()).as_bytes());
    assert_eq!(quantity(observation(&report, "59408-5")), monitor.spo2.value.round());
    assert_eq!(
        quantity(observation(&report, "9279-1")),
        monitor.respiration.value.round()
    );
    assert_eq!(
        observation(&report, "59408-5")["subject"]["identifier"]["value"],
        monitor.patient.value
    );
    assert_eq!(
        observation(&report, "59408-5")["effectiveDateTime"],
        "2026-12-04T09:30:15+00:00"
    );
    for start in [true, false] {
        let alarm = bundle(
            AdapterKind::Hl7v2,
            messages::pcd04(monitor, 2, 77, start, at()).as_bytes(),
        );
        let text = alarm.to_string();
        assert!(text.contains(if start { "\"start\"" } else { "\"end\"" }), "{text}");
    }

    // A pump's PCD-10 delivery start and completion: its rate and volumes, under its own Device.
    let resource = |bundle: &Value, mdc: &str| -> Value {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .find(|r| r["code"]["coding"][0]["code"] == mdc)
            .unwrap_or_else(|| panic!("no {mdc} in {bundle}"))
    };
    let mut pump = ward.pumps[0].clone();
    for started in [true, false] {
        pump.infusing = started;
        pump.delivered = if started { 0.0 } else { pump.volume };
        let event = bundle(AdapterKind::Hl7v2, messages::pcd10(&pump, 3, started, at()).as_bytes());
        let text = event.to_string();
        assert!(text.contains(if started { "197288" } else { "197292" }), "{text}");
        assert_eq!(quantity(&resource(&event, "157993")), pump.delivered);
        assert_eq!(quantity(&resource(&event, "157784")), (pump.rate * 10.0).round() / 10.0);
        assert_eq!(quantity(&resource(&event, "157884")), pump.volume);
        assert!(text.contains(&pump.patient.value), "{text}");
        assert!(text.contains(&pump.eui64), "the pump's own EUI-64: {text}");
    }

    // Its PCD-15 status: power source and battery, facts about the pump.
    pump.on_battery = true;
    pump.battery = 37.4;
    let status = bundle(AdapterKind::Hl7v2, messages::pcd15(&pump, 4, at()).as_bytes());
    assert!(status.to_string().contains("onBattery"), "{status}");
    let charge = resource(&status, "67996");
    assert_eq!(quantity(&charge), 37.0);
    assert_eq!(charge["valueQuantity"]["code"], "%");
    assert_eq!(quantity(&resource(&status, "67976")), (37.4f64 * 2.4).round());

    // A vendor cloud's measure group through the shipped Withings mapping, for the patient the
    // connector names.
    let account = &mut ward.clouds[0];
    let poll = account.next_poll(&mut rng, at());
    let settings = fhirgate::pipeline::MapSettings {
        declarative: std::sync::Arc::new(
            fhirgate::adapters::declarative::DeclarativeMappings::load(&common::repo_path("mappings")).unwrap(),
        ),
        ..common::settings()
    };
    let patient = format!("{}|{}", account.patient.system, account.patient.value);
    let (explanation, vendor) =
        fhirgate::pipeline::explain_payload(poll.to_string().as_bytes(), &settings, common::now(), Some(&patient))
            .unwrap();
    assert_eq!(explanation.mapping, "withings-getmeas");
    let vendor: Value = serde_json::from_str(&vendor.unwrap()).unwrap();
    assert!((quantity(observation(&vendor, "29463-7")) - account.weight.value).abs() < 0.0006);
    let bp = observation(&vendor, "85354-9");
    assert_eq!(
        bp["component"][0]["valueQuantity"]["value"].as_f64().unwrap(),
        account.systolic.value.round()
    );
    assert_eq!(
        bp["component"][1]["valueQuantity"]["value"].as_f64().unwrap(),
        account.diastolic.value.round()
    );
    assert_eq!(bp["subject"]["identifier"]["value"], account.patient.value);
    assert_eq!(bp["effectiveDateTime"], "2026-12-04T09:30:15+00:00");
}

/// The resource whose first coding is `mdc`.
fn resource_coded<'b>(bundle: &'b Value, mdc: &str) -> &'b Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["code"]["coding"][0]["code"] == mdc)
        .unwrap_or_else(|| panic!("no {mdc} in {bundle}"))
}

fn observation_any(bundle: &Value) -> &Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Observation")
        .unwrap()
}

#[test]
fn a_seed_gives_the_same_ward_and_readings_and_another_seed_does_not() {
    let readings = |seed: u64| {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut ward = Ward::new(&mut rng, 6);
        (0..20)
            .map(|n| {
                let device = &mut ward.ble[n % 4];
                let value = device.next_value(&mut rng, at());
                device.envelope(&value, at(), true).to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(readings(7), readings(7));
    assert_ne!(readings(7), readings(8));
}

/// Against the real bridge (embedded destination), with faults: every send is counted once, the
/// acknowledged ones are what the bridge says it accepted, the refused ones what it rejected, and
/// the readings become resources in the files.
#[test]
fn the_summary_matches_what_the_bridge_counted() {
    let bridge = harness::Bridge::start("simulate", &[]);
    let mllp = format!("127.0.0.1:{}", bridge.mllp_port);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args([
            "simulate", "--json", "--count", "120", "--rate", "200", "--seed", "7", "--faults", "0.3",
        ])
        .args(["--devices", "16", "--http", &bridge.url(""), "--mllp", &mllp])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let sent = summary["sent"].as_u64().unwrap();
    let acknowledged = summary["acknowledged"].as_u64().unwrap();
    let sum = |v: &Value| {
        v.as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>()
    };
    let refused = sum(&summary["refused"]);
    let unanswered = sum(&summary["unanswered"]);
    assert!(sent >= 120, "{summary}");
    assert_eq!(sent, acknowledged + refused + unanswered, "{summary}");
    // Every kind of fault was mixed in, and each shows in the answers.
    for fault in ["BadFrame", "Duplicate", "Resend", "Disconnect", "UnknownDevice"] {
        assert!(
            summary["faults"][fault].as_u64().unwrap_or(0) > 0,
            "no {fault}: {summary}"
        );
    }
    assert!(refused > 0 && summary["unanswered"]["mllp dropped on purpose"].as_u64().unwrap() > 0);
    assert_eq!(
        summary["unanswered"].as_object().unwrap().len(),
        1,
        "only the drops go unanswered: {summary}"
    );
    assert_eq!(
        bridge.metric("fhirgate_accepted_total") as u64,
        acknowledged,
        "{summary}"
    );
    assert_eq!(bridge.metric("fhirgate_rejected_total") as u64, refused, "{summary}");

    // Accepted readings are delivered into the files, or wait for an association (the unknown
    // devices): nothing else.
    let files = bridge.dir.join("data/fhir");
    harness::wait_until("the outbox emptied", Duration::from_secs(30), || {
        bridge.outbox_depth() == 0
    });
    let observations = std::fs::read_to_string(files.join("Observation.ndjson")).unwrap();
    // Readings of one device within one second are one reading (their identifier is the device,
    // patient, code and time to the second), so at this rate fewer Observations than sends.
    let lines: Vec<&str> = observations.lines().collect();
    assert!(lines.len() > 30, "{}", lines.len());
    let identifiers: std::collections::HashSet<String> = lines
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["identifier"].to_string())
        .collect();
    assert_eq!(identifiers.len(), lines.len(), "an Observation written twice");
    let (code, listing) = bridge.deadletter(&["list"]);
    assert_eq!(code, 0);
    let unknown = summary["faults"]["UnknownDevice"].as_u64().unwrap();
    let waiting = listing.lines().filter(|l| l.contains("association")).count() as u64;
    // A resend or duplicate of an unknown device's reading is one more dead letter.
    assert!(waiting >= unknown, "{listing}");
    assert_eq!(
        listing.lines().count() as u64,
        waiting,
        "only unknown devices are dead letters: {listing}"
    );
}

/// Hubs over MQTT through a real broker: every publish the broker acknowledged reaches the bridge
/// and is stored.
#[test]
fn over_mqtt_every_reading_the_broker_took_is_stored_by_the_bridge() {
    let Some(broker) = harness::Broker::start("simulate-mqtt") else {
        return;
    };
    let bridge = harness::Bridge::start(
        "simulate-mqtt",
        &[
            ("FHIRGATE_MQTT__ENABLED", "true".into()),
            ("FHIRGATE_MQTT__PORT", broker.port.to_string()),
            ("FHIRGATE_MQTT__CLIENT_ID", "fhirgate-simulate-mqtt".into()),
        ],
    );
    bridge.wait_for_subscription();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args(["simulate", "--json", "--count", "40", "--rate", "100", "--seed", "5"])
        .args(["--http", "none", "--mllp", "none", "--mqtt-topic", "hubs"])
        .args(["--mqtt", &format!("127.0.0.1:{}", broker.port)])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sent"], 40, "{summary}");
    assert_eq!(summary["acknowledged"], 40, "{summary}");
    assert_eq!(summary["byTransport"]["mqtt"], 40, "{summary}");
    harness::wait_until("every reading stored", Duration::from_secs(30), || {
        bridge.metric("fhirgate_accepted_total") >= 40.0
    });
    assert_eq!(bridge.metric("fhirgate_accepted_total"), 40.0);
}
