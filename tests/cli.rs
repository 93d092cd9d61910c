//! The `fhirgate` binary's contract: exit 0 with a Bundle on stdout; exit 2 with one line on stderr
//! and nothing on stdout for bad input; exit 1 for other failures.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn fhirgate(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args(args)
        .env_remove("FHIRGATE_DEFAULT_UTC_OFFSET")
        .env_remove("FHIRGATE_GATEWAY_ID_SYSTEM")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn envelope(characteristic: &str, hex: &str) -> String {
    format!(
        r#"{{"device": {{"address": "C4:7C:8D:6A:1F:20"}},
            "patient": {{"system": "urn:oid:1.2.3", "value": "P1"}},
            "characteristic": "{characteristic}", "value": "{hex}", "receivedAt": "2026-11-21T10:00:00Z"}}"#
    )
}

#[test]
fn maps_a_fixture_file_to_a_transaction_bundle() {
    let path = common::repo_path("fixtures/ble/2A35-blood-pressure.json");
    let out = fhirgate(&["map", "--adapter", "ble", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "transaction");
    // The CLI and the library agree (the CLI adds nothing of its own).
    let expected: serde_json::Value = serde_json::from_str(&common::map_fixture(&path)).unwrap();
    assert_eq!(bundle, expected);
}

#[test]
fn reads_standard_input_for_dash() {
    let out = fhirgate(
        &["map", "--adapter", "ble", "-"],
        Some(envelope("2A37", "0055").as_bytes()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let observation = &bundle["entry"][1]["resource"];
    assert_eq!(observation["valueQuantity"]["value"], 85);
}

#[test]
fn every_invalid_vector_exits_2_with_one_line_naming_the_rule() {
    let invalid = [
        ("2A35", "010203040506", "mean arterial pressure"),
        ("2A35", "03020304050607", "timestamp"),
        ("2A37", "170101", "RR-interval"),
        ("2A1C", "06b00e00fedc070c050b321b", "temperature type"),
        ("2A18", "1b0000e207041a0b091e1e00120501", "sensor status"),
        ("2AA7", "08000c100600586f", "E2E-CRC"),
        ("2A9C", "00000000", "placeholder"),
    ];
    for (characteristic, hex, rule) in invalid {
        let out = fhirgate(
            &["map", "--adapter", "ble", "-"],
            Some(envelope(characteristic, hex).as_bytes()),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{characteristic} {hex}: {stderr}");
        assert!(out.stdout.is_empty(), "{characteristic} {hex}: stdout not empty");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(rule) && stderr.contains(characteristic),
            "{characteristic} {hex}: {stderr}"
        );
    }
}

#[test]
fn malformed_envelopes_exit_2() {
    for payload in ["", "{", "[]", r#"{"device": {}}"#, &envelope("2A35", "zz")] {
        let out = fhirgate(&["map", "--adapter", "ble", "-"], Some(payload.as_bytes()));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{payload}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn hl7v2_messages_that_are_not_device_observations_are_refused() {
    let order = common::repo_path("fixtures/hl7v2/ihe_pcd03_rgv_o15_dopamine_example1.hl7");
    let out = fhirgate(&["map", "--adapter", "hl7v2", order.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RGV^O15 is not a device observation report"));
    for garbage in ["", "hello", "MSH|^~\\&|X\rOBX|1|NM|abc|1|2\r"] {
        let out = fhirgate(&["map", "--adapter", "hl7v2", "-"], Some(garbage.as_bytes()));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{garbage}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    // Infusion events (PCD-10) and alerts (PCD-04) are device observation reports too.
    for example in [
        "ihe_pcd10_iec_infusion_delivery_start_example.hl7",
        "ihe_pcd04_acm_mindray_low_spo2_alarm_start_example.hl7",
    ] {
        let path = common::repo_path(&format!("fixtures/hl7v2/{example}"));
        let out = fhirgate(&["map", "--adapter", "hl7v2", path.to_str().unwrap()], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn an_unreadable_file_exits_1() {
    let out = fhirgate(&["map", "--adapter", "ble", "/nonexistent/payload.json"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/payload.json"));
}

#[test]
fn the_default_offset_flag_applies_when_the_envelope_has_none() {
    let payload = envelope("2A9D", "025433ea070816082a24");
    let out = fhirgate(
        &["map", "--adapter", "ble", "--default-utc-offset", "-05:00", "-"],
        Some(payload.as_bytes()),
    );
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        bundle["entry"][1]["resource"]["effectiveDateTime"],
        "2026-08-22T08:42:36-05:00"
    );
    let bad = fhirgate(
        &["map", "--adapter", "ble", "--default-utc-offset", "5h", "-"],
        Some(payload.as_bytes()),
    );
    assert_eq!(bad.status.code(), Some(2), "clap reports usage errors with exit 2");
}

#[test]
fn help_explains_every_flag() {
    let out = fhirgate(&["map", "--help"], None);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--adapter",
        "--default-utc-offset",
        "--gateway-id-system",
        "--associations",
        "<FILE>",
        "Exit status",
    ] {
        assert!(help.contains(flag), "help lacks {flag}:\n{help}");
    }
}

#[test]
fn a_pump_with_unknown_patient_is_mapped_through_the_device_patient_association() {
    let message = common::repo_path("fixtures/hl7v2/unassociated_pump_pcd01.hl7");
    let message = message.to_str().unwrap();
    // Without an association the reading is refused, never guessed.
    let out = fhirgate(&["map", "--adapter", "hl7v2", message], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no device-patient association"));

    // With the association in force at 10:29:58+01:00, the pump's reading gets its patient.
    let table = common::repo_path("fixtures/hl7v2/associations.json");
    let out = fhirgate(
        &[
            "map",
            "--adapter",
            "hl7v2",
            "--associations",
            table.to_str().unwrap(),
            message,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let observation = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Observation")
        .unwrap();
    assert_eq!(observation["resource"]["subject"]["identifier"]["value"], "MRN-4711");
    assert_eq!(
        observation["resource"]["subject"]["identifier"]["system"],
        "urn:oid:2.16.840.1.113883.19.5"
    );

    // An association that ended before the reading does not apply.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let ended = dir.join("ended-association.json");
    let text = std::fs::read_to_string(&table)
        .unwrap()
        .replace("2026-11-21T20:00:00+01:00", "2026-11-21T10:00:00+01:00");
    std::fs::write(&ended, text).unwrap();
    let out = fhirgate(
        &[
            "map",
            "--adapter",
            "hl7v2",
            "--associations",
            ended.to_str().unwrap(),
            message,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));

    // A broken association file is the bridge's configuration problem: exit 1, naming the file.
    let broken = dir.join("broken-association.json");
    std::fs::write(
        &broken,
        r#"[{"device": {}, "patient": {"system": "s", "value": "v"}, "from": "2026-01-01T00:00:00Z"}]"#,
    )
    .unwrap();
    let out = fhirgate(
        &[
            "map",
            "--adapter",
            "hl7v2",
            "--associations",
            broken.to_str().unwrap(),
            message,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken-association.json"));
}

#[test]
fn maps_a_medtech_message_through_the_template_pair() {
    let dir = common::repo_path("fixtures/medtech");
    let device = dir.join("devicecontent.json");
    let fhir = dir.join("fhirmapping.json");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["map", "--adapter", "medtech", "--mapping", device.to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |extra: &[&str], stdin: &[u8]| {
        let args = args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fhirgate(&args, Some(stdin))
    };
    let message =
        br#"{"heartrate":78,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:18:23Z"}"#;
    let out = run(&["--fhir-mapping", fhir.to_str().unwrap(), "-"], message);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let observation = &bundle["entry"][2]["resource"];
    assert_eq!(
        observation["id"],
        "1468c86bd10ac7efd3cb627fa49eb528a7c715ec1fc27408eee4e31b98c384a5"
    );
    assert_eq!(bundle["entry"][2]["request"]["method"], "PUT");

    let out = run(
        &["--fhir-mapping", fhir.to_str().unwrap(), "-"],
        br#"{"heartrate":78,"deviceid":"d"}"#,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("timestampExpression") && stderr.contains("finds no time"),
        "{stderr}"
    );

    // The pair goes together.
    let out = run(&["-"], message);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fhir-mapping"));
}
