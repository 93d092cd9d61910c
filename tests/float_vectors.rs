//! Every IEEE 11073 FLOAT/SFLOAT vector in `vectors/ble_gatt/ieee11073_float_sfloat_vectors.json`
//! (PHD IG FLOATS.md and two libraries' unit tests), special values and precision included.

use fhirgate::adapters::ble::MderFloat;
use fhirgate::model::Decimal;
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("vectors/ble_gatt/ieee11073_float_sfloat_vectors.json");
    serde_json::from_str(text).expect("vector file is JSON")
}

/// Checks one vector: `expected` is either a special value ("NaN -> …", "+INF …", "NRes …", "RFU …")
/// or a number whose written precision must be reproduced exactly (unless it is in scientific form,
/// where only the value is compared).
fn check(decoded: MderFloat, expected: &str, raw: &str) {
    let special = [
        ("NaN", MderFloat::NaN),
        ("+INF", MderFloat::PositiveInfinity),
        ("-INF", MderFloat::NegativeInfinity),
        ("NRes", MderFloat::NotAtThisResolution),
        ("RFU", MderFloat::Reserved),
    ];
    if let Some((_, variant)) = special.iter().find(|(prefix, _)| expected.starts_with(prefix)) {
        assert_eq!(decoded, *variant, "{raw}: expected {expected}");
        return;
    }
    let MderFloat::Number(value) = decoded else {
        panic!("{raw}: expected {expected}, got {decoded:?}")
    };
    let token = expected.split_whitespace().next().unwrap();
    if token.contains('e') {
        let number: f64 = token.parse().unwrap();
        assert!(
            (value.to_f64() - number).abs() <= number.abs() * 1e-12,
            "{raw}: {value} vs {expected}"
        );
    } else {
        assert_eq!(
            value.to_string(),
            token,
            "{raw}: precision or value differs from {expected}"
        );
    }
}

fn raw_value(entry: &Value) -> u32 {
    let raw = entry["raw"].as_str().unwrap();
    u32::from_str_radix(raw.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn every_sfloat_vector() {
    let vectors = vectors();
    let list = vectors["sfloat"].as_array().unwrap();
    assert_eq!(list.len(), 24);
    for entry in list {
        let raw = raw_value(entry);
        // The wire form is little-endian; check it agrees with the raw value the table gives.
        let wire = hex::decode(entry["wire_hex_le"].as_str().unwrap()).unwrap();
        assert_eq!(u32::from(u16::from_le_bytes([wire[0], wire[1]])), raw);
        check(
            MderFloat::from_sfloat(raw as u16),
            entry["expected"].as_str().unwrap(),
            entry["raw"].as_str().unwrap(),
        );
    }
}

#[test]
fn every_float_vector() {
    let vectors = vectors();
    let list = vectors["float32"].as_array().unwrap();
    assert_eq!(list.len(), 21);
    for entry in list {
        let raw = raw_value(entry);
        let wire = hex::decode(entry["wire_hex_le"].as_str().unwrap()).unwrap();
        assert_eq!(u32::from_le_bytes([wire[0], wire[1], wire[2], wire[3]]), raw);
        check(
            MderFloat::from_float(raw),
            entry["expected"].as_str().unwrap(),
            entry["raw"].as_str().unwrap(),
        );
    }
}

#[test]
fn biased_exponent_trap_is_avoided() {
    // 0x8078 is 120 × 10^-8, which a biased-exponent decoder misreads as 120.
    assert_eq!(MderFloat::from_sfloat(0x8078), MderFloat::Number(Decimal::new(120, -8)));
}
