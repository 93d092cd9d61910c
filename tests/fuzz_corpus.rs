//! The fuzz targets (`fuzz/`, run with `cargo +nightly fuzz run <target>`) on stable: every seed of
//! `fuzz/corpus/<target>/` and every input a campaign found (`fuzz/regressions/<target>/`) replayed
//! through the same body the fuzzer runs, so a fixed crash stays fixed under `cargo test`.

#[path = "../fuzz/targets.rs"]
#[allow(dead_code)]
mod targets;

use std::path::PathBuf;

/// The inputs kept for a target: its seeds and its regressions.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut found = Vec::new();
    for folder in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            found.push((path, bytes));
        }
    }
    found.sort();
    found
}

fn replay(target: &str, body: fn(&[u8]), at_least: usize) {
    let inputs = inputs(target);
    assert!(
        inputs.len() >= at_least,
        "fuzz/corpus/{target}: {} seeds, expected at least {at_least}",
        inputs.len()
    );
    for (path, bytes) in inputs {
        let outcome = std::panic::catch_unwind(|| body(&bytes));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
    }
}

#[test]
fn ble_characteristic_seeds() {
    replay("ble_characteristic", targets::ble_characteristic, 10);
}

#[test]
fn hub_envelope_seeds() {
    replay("hub_envelope", targets::hub_envelope, 10);
}

#[test]
fn hl7v2_message_seeds() {
    replay("hl7v2_message", targets::hl7v2_message, 20);
}

#[test]
fn hl7v2_pcd_seeds() {
    replay("hl7v2_pcd", targets::hl7v2_pcd, 20);
}

#[test]
fn mllp_framer_seeds() {
    replay("mllp_framer", targets::mllp_framer, 3);
}

#[test]
fn declarative_seeds() {
    replay("declarative", targets::declarative, 5);
}

#[test]
fn medtech_seeds() {
    replay("medtech", targets::medtech, 2);
}

#[test]
fn config_seeds() {
    replay("config", targets::config, 1);
}

/// The seeds reach past the door: the shipped fixtures are accepted and planned as transactions,
/// so the fuzzer starts from inputs that exercise the mapper, not only the first parse error.
#[test]
fn seeds_reach_the_mapper() {
    use fhirgate::adapters::AdapterKind;
    let pipeline_accepts = |kind: AdapterKind, target: &str| {
        inputs(target)
            .iter()
            .filter(|(_, bytes)| {
                let settings = fhirgate::pipeline::MapSettings {
                    default_utc_offset: chrono::FixedOffset::east_opt(0).unwrap(),
                    ..fhirgate::pipeline::MapSettings::default()
                };
                fhirgate::pipeline::Pipeline::new(settings).check(kind, bytes).is_ok()
            })
            .count()
    };
    assert!(pipeline_accepts(AdapterKind::Ble, "hub_envelope") >= 10);
    assert!(pipeline_accepts(AdapterKind::Hl7v2, "hl7v2_pcd") >= 15);
}
