//! Vendor JSON through the declarative mappings: parse, map to a transaction Bundle, compact JSON —
//! the work the `vendor-js` peer of `shared/peers/` does on `inputs/vendor_readings.json` (copied to
//! `benches/inputs/vendor/`, with the mapping written for it there), and the same on real vendor
//! payloads of the shipped mappings: Withings measure groups and a Dexcom CGM page.
//! divan prints payloads/s (`item/s`). Run with `cargo bench --bench vendor`.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use fhirgate::adapters::declarative::DeclarativeMappings;
use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::{associated_readings_for, MapSettings};

/// The allocator the `fhirgate` binary runs with (src/main.rs), so that the figures are the bridge's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

/// A vendor cloud's poller says whose data it posts (`?patient=`); the peers' payload names its own.
const SENDER_PATIENT: &str = "urn:oid:2.16.840.1.113883.19.5|MRN-4711";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc()
}

fn settings(mappings: &str) -> MapSettings {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(mappings);
    MapSettings {
        declarative: Arc::new(DeclarativeMappings::load(&path).unwrap()),
        ..MapSettings::default()
    }
}

fn payload(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Parse, read with the mappings, map, compact JSON: one payload.
fn parse_map_serialize(bencher: Bencher, settings: MapSettings, payload: Vec<u8>) {
    bencher.counter(ItemsCount::new(1usize)).bench(|| {
        let readings = associated_readings_for(
            AdapterKind::Declarative,
            black_box(&payload),
            &settings,
            now(),
            Some(SENDER_PATIENT),
        )
        .unwrap();
        let bundle = fhirgate::mapping::map_readings(&readings, &settings.mapping).unwrap();
        fhirgate::fhir::bundle_to_json(&bundle).unwrap()
    });
}

/// The peers' payload: five readings of five kinds (one with three components) for one patient.
#[divan::bench]
fn peers_vendor_readings(bencher: Bencher) {
    parse_map_serialize(
        bencher,
        settings("benches/inputs/vendor/acmehealth.toml"),
        payload("benches/inputs/vendor/vendor_readings.json"),
    );
}

/// Withings `getmeas`: measure groups of a scale (weight, fat, muscle, ...), shipped mappings.
#[divan::bench]
fn withings_measure_groups(bencher: Bencher) {
    parse_map_serialize(
        bencher,
        settings("mappings"),
        payload("mappings/tests/withings/withings-body-measures.json"),
    );
}

/// A Dexcom v3 `egvs` page from a G7 (CGM readings), shipped mappings.
#[divan::bench]
fn dexcom_cgm(bencher: Bencher) {
    parse_map_serialize(
        bencher,
        settings("mappings"),
        payload("mappings/tests/dexcom/dexcom_v3_egvs_g7_low.json"),
    );
}
