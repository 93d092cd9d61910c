//! HL7 v2 throughput on the peers' IHE PCD-01 monitor message (`benches/inputs/`): parse alone, the
//! check at the door (parse and read the report into readings), and the whole `fhirgate map` job
//! (parse, map to a transaction Bundle, compact JSON) as the peers in `shared/peers/` measure it.
//! divan prints messages/s (`item/s`). Run with `cargo bench --bench hl7`.

use chrono::{DateTime, FixedOffset, Utc};
use divan::counter::{BytesCount, ItemsCount};
use divan::{black_box, Bencher};
use fhirgate::adapters::hl7v2::message::Message;
use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::{read_payload, MapSettings, Pipeline};

/// The allocator the `fhirgate` binary runs with (src/main.rs), so that the figures are the bridge's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const PCD01: &[u8] = include_bytes!("inputs/pcd01_oru_r01.hl7");

fn settings() -> MapSettings {
    MapSettings {
        default_utc_offset: FixedOffset::east_opt(0).unwrap(),
        unqualified_patient_system: Some("https://hospital.example.org/fhir/sid/mrn".into()),
        ..MapSettings::default()
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc()
}

/// Segments found, escapes checked: what every later step starts from.
#[divan::bench]
fn parse(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(1usize))
        .counter(BytesCount::of_slice(PCD01))
        .bench(|| Message::parse(black_box(PCD01)).unwrap());
}

/// Parse and every field the report reads, into readings: the check at the door.
#[divan::bench]
fn check(bencher: Bencher) {
    let pipeline = Pipeline::new(settings());
    bencher
        .counter(ItemsCount::new(1usize))
        .bench(|| pipeline.check(AdapterKind::Hl7v2, black_box(PCD01)).unwrap());
}

/// Parse, read and map to a transaction Bundle, written as compact JSON: the peers' work.
#[divan::bench]
fn parse_map_serialize(bencher: Bencher) {
    let settings = settings();
    bencher.counter(ItemsCount::new(1usize)).bench(|| {
        let readings = read_payload(AdapterKind::Hl7v2, black_box(PCD01), &settings, now()).unwrap();
        let bundle = fhirgate::mapping::map_readings(&readings, &settings.mapping).unwrap();
        fhirgate::fhir::bundle_to_json(&bundle).unwrap()
    });
}
