//! The embedded destination (issue #17): with no FHIR server, delivery writes FHIR Bulk Data NDJSON
//! files with the server path's semantics — conditional creates (a replay adds nothing), references
//! resolved to the resources written or found, and a crash between a file write and the index commit
//! healed when the sink opens.

mod common;
mod harness;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fhirgate::adapters::AdapterKind;
use fhirgate::config::FhirConfig;
use fhirgate::delivery::{Deliverer, NdjsonSink};
use fhirgate::metrics::Metrics;
use fhirgate::pipeline::Pipeline;
use fhirgate::store::{Outbox, OutboxRecord};
use serde_json::Value;

fn record(kind: AdapterKind, payload: Vec<u8>) -> OutboxRecord {
    OutboxRecord {
        adapter: kind.as_str().into(),
        received_at: common::now().fixed_offset(),
        source: "test".into(),
        payload,
        patient: None,
        batch_index: None,
    }
}

/// Every resource of `dir/Type.ndjson`, in file order.
fn resources(dir: &Path, resource_type: &str) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(dir.join(format!("{resource_type}.ndjson"))) else {
        return Vec::new();
    };
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{resource_type}.ndjson ends mid-line"
    );
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// Stores `records` in `outbox` and delivers them with a new deliverer (as after a restart) into
/// NDJSON files in `files`, until the outbox is empty.
async fn deliver(outbox: &Outbox, files: &Path, records: &[OutboxRecord]) -> Arc<Metrics> {
    outbox.append_all(records).await.unwrap();
    let sink = NdjsonSink::open(files, outbox).unwrap();
    let metrics = Arc::new(Metrics::new());
    let config = FhirConfig {
        linger_ms: 5,
        ..FhirConfig::default()
    };
    let pipeline: Arc<dyn fhirgate::delivery::Planner> = Arc::new(Pipeline::new(common::settings()));
    let deliverer = Deliverer::new(outbox.clone(), sink, pipeline, config, Arc::clone(&metrics));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(deliverer.run(stopping));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !outbox.is_empty().unwrap() {
        assert!(tokio::time::Instant::now() < deadline, "the outbox did not empty");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();
    assert!(
        outbox.dead_letters().unwrap().is_empty(),
        "{:?}",
        outbox.dead_letters().unwrap()
    );
    metrics
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::repo_path(&format!("fixtures/{name}"))).unwrap()
}

/// A new store and the files directory beside it.
fn scratch(name: &str) -> (Outbox, PathBuf) {
    let dir = harness::scratch_dir(name);
    (Outbox::open(&dir.join("data")).unwrap(), dir.join("data/fhir"))
}

/// `Type/id` of every resource in the files.
fn ids(files: &Path, resource_type: &str) -> HashSet<String> {
    resources(files, resource_type)
        .iter()
        .map(|r| format!("{resource_type}/{}", r["id"].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn readings_become_resources_in_ndjson_files_with_references_resolved() {
    let (outbox, files) = scratch("ndjson-basic");
    let glucose = record(AdapterKind::Ble, fixture("ble/2A18-glucose-with-context.json"));
    deliver(&outbox, &files, &[glucose]).await;

    let devices = resources(&files, "Device");
    let observations = resources(&files, "Observation");
    // The gateway and the meter; the glucose reading and its two context Observations.
    assert_eq!(devices.len(), 2, "{devices:?}");
    assert_eq!(observations.len(), 3, "{observations:?}");
    let device_ids = ids(&files, "Device");
    let observation_ids = ids(&files, "Observation");
    let meter = devices
        .iter()
        .find(|d| d["identifier"][0]["value"] == "C4-7C-8D-6A-1F-20")
        .unwrap();
    for observation in &observations {
        // Bulk Data NDJSON: whole resources, each with its id and when it was written.
        assert_eq!(observation["resourceType"], "Observation");
        assert!(observation["meta"]["lastUpdated"].as_str().is_some());
        let device = observation["device"]["reference"].as_str().unwrap();
        assert_eq!(device, format!("Device/{}", meter["id"].as_str().unwrap()));
        assert!(device_ids.contains(device));
        // The patient stays a logical reference by identifier: there is no registry to resolve it.
        assert_eq!(observation["subject"]["identifier"]["value"], "MRN-4711");
        assert!(observation["subject"].get("reference").is_none());
        for derived in observation["derivedFrom"].as_array().into_iter().flatten() {
            let reference = derived["reference"].as_str().unwrap();
            assert!(
                observation_ids.contains(reference),
                "{reference} is not in Observation.ndjson"
            );
        }
    }
    let text = std::fs::read_to_string(files.join("Observation.ndjson")).unwrap();
    assert!(!text.contains("urn:uuid:"), "an unresolved Bundle-internal reference");
}

#[tokio::test]
async fn a_replay_and_a_resend_add_nothing_and_shared_devices_are_written_once() {
    let (outbox, files) = scratch("ndjson-replay");
    let pcd01 = record(
        AdapterKind::Hl7v2,
        fixture("hl7v2/ihe_pcd01_physio_monitor_philips_example.hl7"),
    );
    let bp = record(AdapterKind::Ble, fixture("ble/2A35-blood-pressure.json"));
    deliver(&outbox, &files, &[pcd01.clone(), bp.clone()]).await;
    let before: HashMap<&str, String> = ["Device", "Observation"]
        .into_iter()
        .map(|t| (t, std::fs::read_to_string(files.join(format!("{t}.ndjson"))).unwrap()))
        .collect();
    assert!(resources(&files, "Observation").len() >= 10);

    // The same payloads again (a replay of dead letters, a hub that resends after a lost answer),
    // through a new deliverer on the same store and files.
    deliver(&outbox, &files, &[bp.clone(), pcd01.clone(), bp]).await;
    for (resource_type, text) in &before {
        let after = std::fs::read_to_string(files.join(format!("{resource_type}.ndjson"))).unwrap();
        assert_eq!(&after, text, "{resource_type}.ndjson changed on a replay");
    }
    // No identifier was written twice.
    for resource_type in ["Device", "Observation"] {
        let all = resources(&files, resource_type);
        let identifiers: HashSet<String> = all.iter().map(|r| r["identifier"].to_string()).collect();
        assert_eq!(
            identifiers.len(),
            all.len(),
            "{resource_type}: an identifier written twice"
        );
    }
}

#[tokio::test]
async fn a_crash_between_the_file_write_and_the_index_commit_is_healed_when_the_sink_opens() {
    // What another store delivered for a payload: the lines a crash would leave unindexed.
    let (other_outbox, other_files) = scratch("ndjson-crash-source");
    let bp = record(AdapterKind::Ble, fixture("ble/2A35-blood-pressure.json"));
    deliver(&other_outbox, &other_files, std::slice::from_ref(&bp)).await;

    let (outbox, files) = scratch("ndjson-crash");
    let weight = record(AdapterKind::Ble, fixture("ble/2A9D-weight.json"));
    deliver(&outbox, &files, &[weight]).await;
    let weight_observations = resources(&files, "Observation").len();
    // The crash: the blood pressure's lines reached the files, the index commit did not; and a last
    // line was cut short.
    for resource_type in ["Device", "Observation"] {
        let lines = std::fs::read(other_files.join(format!("{resource_type}.ndjson"))).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(files.join(format!("{resource_type}.ndjson")))
            .unwrap();
        use std::io::Write;
        file.write_all(&lines).unwrap();
        if resource_type == "Observation" {
            file.write_all(br#"{"resourceType":"Observation","id":"cut-sh"#)
                .unwrap();
        }
    }
    let bp_observations = resources(&other_files, "Observation").len();
    // The payload is still in the outbox after such a crash, so it is delivered again.
    deliver(&outbox, &files, &[bp]).await;
    let observations = resources(&files, "Observation");
    assert_eq!(
        observations.len(),
        weight_observations + bp_observations,
        "written twice or lost"
    );
    assert!(!std::fs::read_to_string(files.join("Observation.ndjson"))
        .unwrap()
        .contains("cut-sh"));
    let identifiers: HashSet<String> = observations.iter().map(|r| r["identifier"].to_string()).collect();
    assert_eq!(identifiers.len(), observations.len());
}

/// The running bridge with no `fhir.base_url`: a posted reading is in the files within seconds, and
/// `fhirgate resources` lists and prints it.
#[test]
fn the_bridge_with_no_server_delivers_into_the_files_and_the_cli_shows_them() {
    let bridge = harness::Bridge::start("ndjson-serve", &[]);
    assert_eq!(bridge.post("ble", &fixture("ble/2A35-blood-pressure.json")), 202);
    let files = bridge.dir.join("data/fhir");
    harness::wait_until("the reading in the files", Duration::from_secs(20), || {
        !resources(&files, "Observation").is_empty()
    });
    let observations = resources(&files, "Observation");
    let systolic = observations
        .iter()
        .find(|o| o["code"]["coding"][1]["code"] == "85354-9")
        .expect("the blood pressure Observation");
    assert_eq!(systolic["component"][0]["code"]["coding"][1]["code"], "8480-6");
    assert_eq!(systolic["component"][0]["valueQuantity"]["value"], 120);

    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_fhirgate"))
            .arg("resources")
            .args(args)
            .env("FHIRGATE_STORE__DATA_DIR", bridge.dir.join("data"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let listing = cli(&[]);
    let line = listing.lines().find(|l| l.starts_with("Observation")).unwrap();
    assert!(line.contains(&format!(" {} ", observations.len())), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with("Device")), "{listing}");
    let printed = cli(&["Observation", "--last", "1"]);
    assert_eq!(printed.lines().count(), 1);
    let last: Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(&last, observations.last().unwrap());
}
