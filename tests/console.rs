//! The console in a real browser (issue #17): headless Chromium driven by playwright-core
//! (`tests/console/console.test.mjs`) against a running bridge fed by `fhirgate simulate`. Needs
//! Debian's `chromium` and `npm ci --prefix tests/console` (`.ci/run` installs both); without them
//! the test says SKIPPED, and fails under `FHIRGATE_REQUIRE_E2E=1`.

mod harness;

use std::path::Path;
use std::process::Command;

#[test]
fn the_console_shows_the_flow_dead_letters_associations_and_the_playground_in_a_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = root.join("tests/console/node_modules/playwright-core");
    let missing: Vec<&str> = [
        (!Path::new(&chromium).exists()).then_some("chromium (Debian package)"),
        (!driver.exists()).then_some("playwright-core (npm ci --prefix tests/console)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var("FHIRGATE_REQUIRE_E2E").is_err(),
            "{missing:?} not installed but FHIRGATE_REQUIRE_E2E=1"
        );
        eprintln!("SKIPPED: {missing:?} not installed");
        return;
    }

    let mappings = root.join("mappings").display().to_string();
    let bridge = harness::Bridge::start("console", &[("FHIRGATE_MAPPING__DECLARATIVE_MAPPINGS", mappings)]);
    // A ward with faults, so that there are readings, refusals and dead letters (unknown devices).
    let simulated = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args([
            "simulate",
            "--count",
            "80",
            "--rate",
            "40",
            "--seed",
            "3",
            "--faults",
            "0.3",
            "--devices",
            "9",
        ])
        .args([
            "--http",
            &bridge.url(""),
            "--mllp",
            &format!("127.0.0.1:{}", bridge.mllp_port),
        ])
        .output()
        .unwrap();
    assert!(
        simulated.status.success(),
        "{}",
        String::from_utf8_lossy(&simulated.stderr)
    );
    // The ward keeps sending while the browser looks, so the overview's chart moves.
    let mut ward = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args([
            "simulate",
            "--duration",
            "120",
            "--rate",
            "5",
            "--seed",
            "4",
            "--devices",
            "6",
        ])
        .args([
            "--http",
            &bridge.url(""),
            "--mllp",
            &format!("127.0.0.1:{}", bridge.mllp_port),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let shots = bridge.dir.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let output = Command::new("node")
        .arg(root.join("tests/console/console.test.mjs"))
        .arg(bridge.url(""))
        .arg(&shots)
        .arg(root.join("mappings/tests/withings/withings-body-measures.json"))
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let _ = ward.kill();
    let _ = ward.wait();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for name in ["overview", "flow", "dead-letters", "associations", "playground"] {
        assert!(shots.join(format!("{name}.png")).is_file(), "no {name} screenshot");
    }
    // The replay reached the bridge, not only the page; the association the page added (and listed
    // from the bridge), ended and removed is gone from the bridge too.
    assert!(bridge.metric("fhirgate_delivered_total") > 0.0);
    let associations: serde_json::Value = reqwest::blocking::get(bridge.url("/admin/associations"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(associations["associations"], serde_json::json!([]), "{associations}");
}
