//! Shared by the integration tests: the fixtures and the fixed settings they are mapped with.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::MapSettings;

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The files in `fixtures/<folder>/` with extension `ext` whose names start with one of `prefixes`
/// (any name when empty), sorted.
fn fixtures(folder: &str, ext: &str, prefixes: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_path(&format!("fixtures/{folder}")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            prefixes.is_empty() || prefixes.iter().any(|prefix| name.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

/// The envelopes in `fixtures/ble/`.
pub fn ble_fixtures() -> Vec<PathBuf> {
    fixtures("ble", "json", &[])
}

/// The IHE PCD-01 (`ORU^R01`) examples in `fixtures/hl7v2/`.
pub fn pcd01_fixtures() -> Vec<PathBuf> {
    fixtures("hl7v2", "hl7", &["ihe_pcd01_"])
}

/// Every IHE PCD device observation example in `fixtures/hl7v2/` (PCD-01, PCD-04 alerts, PCD-10
/// events; the TF's and our hand-written ones).
pub fn pcd_report_fixtures() -> Vec<PathBuf> {
    fixtures(
        "hl7v2",
        "hl7",
        &["ihe_pcd01_", "ihe_pcd04_", "ihe_pcd10_", "handwritten_pcd"],
    )
}

/// The system the tests give HL7 v2 patient ids that carry no assigning authority (the IHE PCD
/// Philips example's `HO2009001^^^^MR`), as a site would configure `mapping.unqualified_patient_system`.
pub const UNQUALIFIED_PATIENT_SYSTEM: &str = "https://hospital.example.org/fhir/sid/mrn";

/// UTC for device-local times, the default gateway id system, no associations or mappings.
pub fn settings() -> MapSettings {
    MapSettings {
        default_utc_offset: FixedOffset::east_opt(0).unwrap(),
        unqualified_patient_system: Some(UNQUALIFIED_PATIENT_SYSTEM.into()),
        ..MapSettings::default()
    }
}

/// A fixed "now", so that outputs never depend on the clock (fixtures all carry `receivedAt`).
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc()
}

/// Maps one fixture to its Bundle JSON text, with the adapter its folder names.
pub fn map_fixture(path: &Path) -> String {
    let payload = std::fs::read(path).unwrap();
    let adapter = if path.extension().is_some_and(|e| e == "hl7") {
        AdapterKind::Hl7v2
    } else {
        AdapterKind::Ble
    };
    fhirgate::pipeline::map_payload(adapter, &payload, &settings(), now())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The resources of a Bundle of type `kind` (`Device`, `DocumentReference`).
pub fn resources<'a>(bundle: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

/// The Observations of a Bundle.
pub fn observations(bundle: &serde_json::Value) -> Vec<&serde_json::Value> {
    resources(bundle, "Observation")
}

/// The settings a hospital running the devices of the real-traffic corpus would have: the corpus's
/// associations (the B. Braun pumps and the Mindray monitor name no patient), the site's MRN system
/// for ids sent without an assigning authority.
pub fn real_settings() -> MapSettings {
    MapSettings {
        associations: fhirgate::pipeline::load_associations(&repo_path("fixtures/real/hl7v2/associations.json"))
            .unwrap(),
        ..settings()
    }
}

/// A message of `fixtures/real/hl7v2/`.
pub fn real_hl7(name: &str) -> Vec<u8> {
    std::fs::read(repo_path(&format!("fixtures/real/hl7v2/{name}.hl7"))).unwrap()
}

/// The names of the messages of `fixtures/real/hl7v2/`.
pub fn real_hl7_names() -> Vec<String> {
    fixtures("real/hl7v2", "hl7", &[])
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect()
}

/// An IHE PCD-09 message of `fixtures/real/idco/`.
pub fn idco_message(name: &str) -> Vec<u8> {
    std::fs::read(repo_path(&format!("fixtures/real/idco/{name}.hl7"))).unwrap()
}

/// The settings of a clinic that associated the corpus's implants with their patients.
pub fn idco_settings() -> MapSettings {
    MapSettings {
        associations: fhirgate::pipeline::load_associations(&repo_path("fixtures/real/idco/associations.json"))
            .unwrap(),
        ..settings()
    }
}

/// Every message of `fixtures/real/idco/` mapped with [`idco_settings`], by name.
pub fn idco_bundles() -> Vec<(String, String)> {
    fixtures("real/idco", "hl7", &[])
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let json = fhirgate::pipeline::map_payload(
                AdapterKind::Hl7v2,
                &std::fs::read(path).unwrap(),
                &idco_settings(),
                now(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, json)
        })
        .collect()
}

/// The Bluetooth captures of `fixtures/real/ble/captures.json`.
pub fn real_ble_captures() -> Vec<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(repo_path("fixtures/real/ble/captures.json")).unwrap()).unwrap()
}

/// The hub envelope a gateway would post for captures of one device: the envelope is ours, each value
/// the captured bytes verbatim. Received at `received_at`, device times in UTC.
pub fn real_ble_envelope(ids: &[&str], received_at: &str) -> Vec<u8> {
    let captures = real_ble_captures();
    let notifications: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            let c = captures
                .iter()
                .find(|c| c["id"] == *id)
                .unwrap_or_else(|| panic!("no capture {id}"));
            serde_json::json!({"characteristic": c["characteristic"], "value": c["hex"]})
        })
        .collect();
    serde_json::json!({
        "gateway": {"id": "hub-ward-7"},
        "device": {"address": "C4:7C:8D:6A:1F:20"},
        "patient": {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711"},
        "notifications": notifications,
        "receivedAt": received_at,
        "utcOffset": "+00:00"
    })
    .to_string()
    .into_bytes()
}

/// A disk that fills up on cue: while `full` is set, every write to the outbox's file fails with
/// `ENOSPC`, as a full disk fails, and opening the file (which may write) fails too.
#[derive(Clone, Default)]
pub struct FailingDisk {
    pub full: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FailingDisk {
    pub fn fill(&self, full: bool) {
        self.full.store(full, std::sync::atomic::Ordering::SeqCst);
    }

    fn failing(&self) -> bool {
        self.full.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[derive(Debug)]
struct FailingFile {
    inner: redb::backends::FileBackend,
    full: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn no_space() -> std::io::Error {
    std::io::Error::from_raw_os_error(28)
}

impl redb::StorageBackend for FailingFile {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.inner.read(offset, len)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(no_space());
        }
        self.inner.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(no_space());
        }
        self.inner.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(no_space());
        }
        self.inner.write(offset, data)
    }
}

impl fhirgate::store::database::Opener for FailingDisk {
    fn open(&self, path: &Path) -> Result<redb::Database, redb::DatabaseError> {
        if self.failing() {
            return Err(redb::DatabaseError::Storage(redb::StorageError::Io(no_space())));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| redb::DatabaseError::Storage(redb::StorageError::Io(e)))?;
        let backend = FailingFile {
            inner: redb::backends::FileBackend::new(file)?,
            full: std::sync::Arc::clone(&self.full),
        };
        redb::Builder::new().create_with_backend(backend)
    }
}
