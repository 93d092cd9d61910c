//! Throughput per characteristic: decode alone, mapping alone, the whole `map` pipeline (envelope →
//! decode → map → pretty FHIR JSON), and serialization alone, by fhirbolt and, as the reference
//! limit, by bare serde_json writing the same resources. divan prints readings/s (`item/s`).
//! Run with `cargo bench`.

use chrono::{DateTime, FixedOffset, Utc};
use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use fhirgate::adapters::ble::envelope::{self, EnvelopeDefaults};
use fhirgate::adapters::AdapterKind;
use fhirgate::mapping::{map_reading, MappingOptions};
use fhirgate::pipeline::{map_payload, MapSettings};

/// The allocator the `fhirgate` binary runs with (src/main.rs), so that the figures are the bridge's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

/// (name, envelope) for each shipped fixture of a characteristic.
const FIXTURES: &[(&str, &str)] = &[
    (
        "2A35 blood pressure",
        include_str!("../fixtures/ble/2A35-blood-pressure.json"),
    ),
    (
        "2A36 cuff pressure",
        include_str!("../fixtures/ble/2A36-intermediate-cuff-pressure.json"),
    ),
    ("2A37 heart rate", include_str!("../fixtures/ble/2A37-heart-rate.json")),
    (
        "2A1C temperature",
        include_str!("../fixtures/ble/2A1C-temperature.json"),
    ),
    ("2A9D weight", include_str!("../fixtures/ble/2A9D-weight.json")),
    (
        "2A9C body composition",
        include_str!("../fixtures/ble/2A9C-body-composition.json"),
    ),
    (
        "2A5E spot-check SpO2",
        include_str!("../fixtures/ble/2A5E-plx-spot-check.json"),
    ),
    (
        "2A5F continuous SpO2",
        include_str!("../fixtures/ble/2A5F-plx-continuous.json"),
    ),
    (
        "2A18 glucose + context",
        include_str!("../fixtures/ble/2A18-glucose-with-context.json"),
    ),
    ("2AA7 CGM", include_str!("../fixtures/ble/2AA7-cgm.json")),
];

fn names() -> impl Iterator<Item = &'static str> {
    FIXTURES.iter().map(|(name, _)| *name)
}

fn payload(name: &str) -> &'static str {
    FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
        .unwrap_or_default()
}

fn settings() -> MapSettings {
    MapSettings {
        default_utc_offset: FixedOffset::east_opt(0).unwrap(),
        mapping: MappingOptions::default(),
        ..MapSettings::default()
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc()
}

fn defaults() -> EnvelopeDefaults {
    EnvelopeDefaults {
        utc_offset: FixedOffset::east_opt(0).unwrap(),
        received_at: now().fixed_offset(),
    }
}

/// Envelope JSON → model reading (parse, hex decode, characteristic decode).
#[divan::bench(args = names())]
fn decode(bencher: Bencher, name: &str) {
    let payload = payload(name).as_bytes();
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| envelope::parse(black_box(payload), &defaults()).unwrap());
}

/// The whole `fhirgate map` job minus process start-up: envelope → Bundle JSON text.
#[divan::bench(args = names())]
fn decode_map_serialize(bencher: Bencher, name: &str) {
    let payload = payload(name).as_bytes();
    let settings = settings();
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| map_payload(AdapterKind::Ble, black_box(payload), &settings, now()).unwrap());
}

/// Decode, map and compact JSON: what the bridge does with a reading before sending it, against
/// which `serialize_serde_json_reference` is the floor (issue #14: within 2.5× of it).
#[divan::bench(args = names())]
fn decode_map_serialize_compact(bencher: Bencher, name: &str) {
    let payload = payload(name).as_bytes();
    let options = MappingOptions::default();
    bencher.counter(ItemsCount::new(1usize)).bench(|| {
        let reading = envelope::parse(black_box(payload), &defaults()).unwrap();
        let bundle = map_reading(&reading, &options).unwrap();
        fhirgate::fhir::bundle_to_json(&bundle).unwrap()
    });
}

/// The mapper alone: model reading → fhirbolt Bundle (codes, identifiers, fullUrl UUIDs).
#[divan::bench(args = names())]
fn map(bencher: Bencher, name: &str) {
    let reading = envelope::parse(payload(name).as_bytes(), &defaults()).unwrap();
    let options = MappingOptions::default();
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| map_reading(black_box(&reading), &options).unwrap());
}

/// Serialization of a ready Bundle by fhirbolt, compact (`map` prints it pretty, which costs more).
#[divan::bench(args = names())]
fn serialize_fhirbolt(bencher: Bencher, name: &str) {
    let reading = envelope::parse(payload(name).as_bytes(), &defaults()).unwrap();
    let bundle = map_reading(&reading, &MappingOptions::default()).unwrap();
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| fhirgate::fhir::bundle_to_json(black_box(&bundle)).unwrap());
}

/// The same resources written by bare serde_json from an in-memory JSON tree: the cost of emitting the
/// bytes with no FHIR model at all, i.e. the limit any serializer could approach.
#[divan::bench(args = names())]
fn serialize_serde_json_reference(bencher: Bencher, name: &str) {
    let reading = envelope::parse(payload(name).as_bytes(), &defaults()).unwrap();
    let bundle = map_reading(&reading, &MappingOptions::default()).unwrap();
    let tree: serde_json::Value = serde_json::from_str(&fhirgate::fhir::bundle_to_json(&bundle).unwrap()).unwrap();
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| serde_json::to_string(black_box(&tree)).unwrap());
}
