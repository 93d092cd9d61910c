//! Bluetooth gateways that carry raw characteristic bytes in their own JSON (Cassia's event streams),
//! connected by the shipped mapping files alone: each documented example maps to the values its bytes
//! hold (decoded in `mappings/tests/cassia/SOURCES.md`), the device is the same Device a hub's
//! envelope would name, an association by Bluetooth address gives the patient, and what cannot be
//! decoded is refused naming the handle, never the bytes.

mod common;

use std::sync::Arc;

use fhirgate::adapters::declarative::DeclarativeMappings;
use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::{map_payload, map_payload_for, MapSettings};
use serde_json::Value as Json;

const PATIENT: &str = "urn:oid:2.16.840.1.113883.19.5|MRN-4711";

fn settings() -> MapSettings {
    MapSettings {
        declarative: Arc::new(DeclarativeMappings::load(&common::repo_path("mappings")).unwrap()),
        ..common::settings()
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::repo_path(&format!("mappings/tests/cassia/{name}"))).unwrap()
}

fn bundle(name: &str) -> Json {
    let json = map_payload_for(
        AdapterKind::Declarative,
        &fixture(name),
        &settings(),
        common::now(),
        Some(PATIENT),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&json).unwrap()
}

fn identifier(resource: &Json) -> (String, String) {
    let id = &resource["identifier"][0];
    (
        id["system"].as_str().unwrap().into(),
        id["value"].as_str().unwrap().into(),
    )
}

#[test]
fn a_cassia_heart_rate_notification_is_the_heart_rate_its_bytes_hold() {
    let bundle = bundle("heart-rate-notification.json");
    let observations = common::observations(&bundle);
    assert_eq!(observations.len(), 1);
    let heart_rate = observations[0];
    assert_eq!(heart_rate["code"]["coding"][0]["code"], "147842");
    assert_eq!(heart_rate["code"]["coding"][1]["code"], "8867-4");
    assert_eq!(heart_rate["valueQuantity"]["value"], serde_json::json!(86));
    assert_eq!(heart_rate["valueQuantity"]["code"], "/min");
    // 2A37 carries no time: the receipt time stands (the tests' clock).
    assert_eq!(heart_rate["effectiveDateTime"], "2030-01-01T00:00:00+00:00");
    let devices = common::resources(&bundle, "Device");
    assert_eq!(devices.len(), 1, "the local stream names no gateway");
    assert_eq!(
        identifier(devices[0]),
        (
            "http://hl7.org/fhir/sid/eui-48/bluetooth".into(),
            "63-B4-C5-46-5C-A2".into()
        )
    );

    // The same bytes from a hub's envelope name the same Device.
    let envelope = br#"{"device": {"address": "63:B4:C5:46:5C:A2"}, "characteristic": "2A37", "value": "08560000",
        "patient": {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711"}}"#;
    let by_hub: Json =
        serde_json::from_str(&map_payload(AdapterKind::Ble, envelope, &settings(), common::now()).unwrap()).unwrap();
    let hub_device = common::resources(&by_hub, "Device")[0];
    assert_eq!(identifier(hub_device), identifier(devices[0]));
    assert_eq!(
        common::observations(&by_hub)[0]["valueQuantity"],
        heart_rate["valueQuantity"]
    );
}

#[test]
fn an_omron_indication_through_cassia_is_the_blood_pressure_its_bytes_hold() {
    let bundle = bundle("omron-blood-pressure-indication.json");
    let observations = common::observations(&bundle);
    let pressure = observations
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == "150020")
        .unwrap();
    let components: Vec<(String, Json, String)> = pressure["component"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"]["coding"][0]["code"].as_str().unwrap().to_string(),
                c["valueQuantity"]["value"].clone(),
                c["valueQuantity"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        components,
        vec![
            ("150021".into(), serde_json::json!(117), "mm[Hg]".into()),
            ("150022".into(), serde_json::json!(68), "mm[Hg]".into()),
            ("150023".into(), serde_json::json!(84), "mm[Hg]".into()),
        ]
    );
    // The monitor's own clock, device-local, at the configured default offset (UTC in the tests).
    assert_eq!(pressure["effectiveDateTime"], "2018-02-27T10:11:09+00:00");
    let pulse = observations
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == "149546")
        .unwrap();
    assert_eq!(pulse["valueQuantity"]["value"], serde_json::json!(64));
    let device = common::resources(&bundle, "Device")[0];
    assert_eq!(identifier(device).1, "B0-49-5F-01-38-C4");
    assert_eq!(
        device["specialization"][0]["systemType"]["coding"][0]["code"], "528391",
        "a blood pressure monitor"
    );
}

#[test]
fn the_ac_stream_names_the_gateway_and_refuses_what_no_characteristic_describes() {
    let bundle = bundle("ac-heart-rate-notification.json");
    let gateway = common::resources(&bundle, "Device")
        .into_iter()
        .find(|d| d["identifier"][0]["value"] == "CC:1B:E0:E7:FE:F8")
        .expect("the AC's `ap` is the gateway");
    assert_eq!(gateway["manufacturer"], "Cassia Networks");
    let heart_rate = common::observations(&bundle)[0];
    assert_eq!(heart_rate["valueQuantity"]["value"], serde_json::json!(86));
    let gateway_url = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["identifier"][0]["value"] == "CC:1B:E0:E7:FE:F8")
        .unwrap()["fullUrl"]
        .clone();
    assert_eq!(heart_rate["extension"][0]["valueReference"]["reference"], gateway_url);

    // Cassia's own AC example: handle 16, a vendor protocol. Refused, naming the handle, not the bytes.
    let error = map_payload_for(
        AdapterKind::Declarative,
        &fixture("ac-vendor-notification.json"),
        &settings(),
        common::now(),
        Some(PATIENT),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("mapping cassia-ac-events, record 0: `$.handle` names handle 16, which `gatt.handles` does not list (52, 1041)"),
        "{error}"
    );
    assert!(!error.to_uppercase().contains("FF000C"), "{error}");
}

#[test]
fn an_association_by_bluetooth_address_gives_a_gateway_reading_its_patient() {
    let associations = br#"[{"device": {"address": "63:B4:C5:46:5C:A2"},
        "patient": {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-0042"}, "from": "2000-01-01T00:00:00Z"}]"#;
    let settings = MapSettings {
        associations: fhirgate::pipeline::association::AssociationTable::from_json(associations).unwrap(),
        ..settings()
    };
    let json = map_payload(
        AdapterKind::Declarative,
        &fixture("heart-rate-notification.json"),
        &settings,
        common::now(),
    )
    .unwrap();
    let bundle: Json = serde_json::from_str(&json).unwrap();
    assert_eq!(
        common::observations(&bundle)[0]["subject"]["identifier"]["value"],
        "MRN-0042"
    );
    // Without one, the reading names no patient; `map` says which device needs one.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args(["map", "--adapter", "declarative", "--mapping"])
        .arg(common::repo_path("mappings"))
        .arg(common::repo_path("mappings/tests/cassia/heart-rate-notification.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no device-patient association covers its device"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"(the device: {"address":"63-B4-C5-46-5C-A2"})"#),
        "{stderr}"
    );
}
