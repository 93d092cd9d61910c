//! Shared by the integration tests: the fixtures and the fixed settings they are mapped with.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use fhirgate::mapping::MappingOptions;
use fhirgate::pipeline::{AdapterName, MapSettings};

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The envelopes in `fixtures/ble/`, sorted.
pub fn ble_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_path("fixtures/ble"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

pub fn settings() -> MapSettings {
    MapSettings {
        adapter: AdapterName::Ble,
        default_utc_offset: FixedOffset::east_opt(0).unwrap(),
        mapping: MappingOptions::default(),
    }
}

/// A fixed "now", so that outputs never depend on the clock (fixtures all carry `receivedAt`).
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc()
}

/// Maps one fixture to its Bundle JSON text.
pub fn map_fixture(path: &Path) -> String {
    let payload = std::fs::read(path).unwrap();
    fhirgate::pipeline::map_payload(&payload, &settings(), now()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
