//! Every public Bluetooth vector in `vectors/ble_gatt/<UUID>/*.json`: valid ones must decode to every
//! value the source asserts (`expected`), invalid ones must be rejected with an error that names the
//! characteristic, the byte offset and the rule.
//!
//! Our decoded values are rendered as "facts" under the vector files' own key names; each expected key
//! is compared, and a key we do not compare must be listed in `NOT_COMPARED` with the reason.

use std::path::{Path, PathBuf};

use fhirgate::adapters::ble::{decode, Characteristic, Decoded, MderFloat};
use serde_json::{json, Map, Value};

/// Expected keys that are not facts of the decoder, and why.
const NOT_COMPARED: &[(&str, &str)] = &[
    ("note", "free text"),
    ("type_name", "compared through `type`"),
    ("sample_location_name", "compared through `sample_location`"),
    ("temperature_type_name", "compared through `temperature_type`"),
    (
        "e2e_crc",
        "a valid CRC is checked by decoding at all; the CRC-error vector is an invalid vector",
    ),
    (
        "weight_kg_approx",
        "the bridge keeps pounds as sent ([lb_av]); checked in the unit test of the weight decoder",
    ),
];

fn vector_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/ble_gatt");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            for file in std::fs::read_dir(&dir).unwrap() {
                files.push(file.unwrap().path());
            }
        }
    }
    files.sort();
    files
}

fn float(value: MderFloat) -> Value {
    match value {
        MderFloat::Number(d) => json!(d.to_f64()),
        other => json!(format!("{other:?}")),
    }
}

fn date_time(dt: &fhirgate::adapters::ble::date_time::DeviceDateTime) -> Value {
    json!([dt.year, dt.month, dt.day, dt.hours, dt.minutes, dt.seconds])
}

/// Our decoded values under the vector files' key names.
fn facts(decoded: &Decoded) -> Value {
    use fhirgate::adapters::ble::{blood_pressure as bp, heart_rate as hr};
    let mut f = Map::new();
    let mut put = |k: &str, v: Value| {
        f.insert(k.to_string(), v);
    };
    match decoded {
        Decoded::BloodPressure(m) => {
            put(
                "unit",
                json!(if m.unit == bp::PressureUnit::Kilopascal {
                    "kPa"
                } else {
                    "mmHg"
                }),
            );
            put("systolic", float(m.systolic));
            put("cuff_pressure", float(m.systolic));
            put("diastolic", float(m.diastolic));
            put("mean_arterial_pressure", float(m.mean_arterial_pressure));
            put("timestamp", m.timestamp.as_ref().map(date_time).unwrap_or(Value::Null));
            put("pulse_rate", m.pulse_rate.map(float).unwrap_or(Value::Null));
            put("user_id", json!(m.user_id));
            if let Some(s) = m.status {
                let range = match s.pulse_rate_range() {
                    bp::PulseRateRange::WithinRange => "within",
                    bp::PulseRateRange::ExceedsUpperLimit => "above_upper",
                    bp::PulseRateRange::BelowLowerLimit => "below_lower",
                    bp::PulseRateRange::Reserved => "reserved",
                };
                put(
                    "status",
                    json!({"body_movement": s.body_movement(), "cuff_too_loose": s.cuff_too_loose(),
                           "irregular_pulse": s.irregular_pulse(), "pulse_rate_range": range,
                           "improper_position": s.improper_position()}),
                );
                put("status_raw", json!(s.0));
            }
        }
        Decoded::HeartRate(m) => {
            put("heart_rate", json!(m.heart_rate));
            let contact = match m.sensor_contact {
                hr::SensorContact::NotSupported => Value::Null,
                hr::SensorContact::SupportedNotDetected => json!("supported_not_detected"),
                hr::SensorContact::Detected => json!("supported_detected"),
            };
            put("sensor_contact", contact.clone());
            put("contact", contact);
            put("energy_expended_kJ", json!(m.energy_expended_kj));
            put("energy_expended", json!(m.energy_expended_kj));
            let rr = if m.rr_intervals.is_empty() {
                Value::Null
            } else {
                json!(m.rr_intervals)
            };
            put("rr_intervals_1_1024s", rr.clone());
            put("rr", rr);
        }
        Decoded::Temperature(m) => {
            put("unit", json!(if m.fahrenheit { "degF" } else { "Cel" }));
            put("temperature", float(m.temperature));
            put("timestamp", m.timestamp.as_ref().map(date_time).unwrap_or(Value::Null));
            // The Temperature Type value naming the decoded site: the decoder's own table, inverted.
            let site = m.site.and_then(|s| {
                (1..=9u8).find(|&t| fhirgate::adapters::ble::temperature::TemperatureSite::from_type(t) == Some(s))
            });
            put("temperature_type", json!(site));
        }
        Decoded::Weight(m) => {
            use fhirgate::adapters::ble::weight::MeasurementSystem;
            let weight = (m.weight_raw != 0xFFFF).then_some(m.weight_raw);
            match m.system {
                MeasurementSystem::Imperial => put("weight_lb", json!(weight.map(|w| f64::from(w) * 0.01))),
                MeasurementSystem::Si => put("weight_kg", json!(weight.map(|w| f64::from(w) * 0.005))),
            }
            put("weight", json!(weight.map(f64::from)));
            put("timestamp", m.timestamp.as_ref().map(date_time).unwrap_or(Value::Null));
            put("user_id", json!(m.user_id));
        }
        Decoded::BodyComposition(m) => {
            put(
                "body_fat_percent",
                json!((m.body_fat_raw != 0xFFFF).then(|| f64::from(m.body_fat_raw) * 0.1)),
            );
        }
        Decoded::PulseOximetry(m) => {
            put("spo2", float(m.normal.spo2));
            put("pulse_rate", float(m.normal.pulse_rate));
            if let Some(fast) = m.fast {
                put("spo2_fast", float(fast.spo2));
                put("pulse_rate_fast", float(fast.pulse_rate));
            }
            if let Some(slow) = m.slow {
                put("spo2_slow", float(slow.spo2));
                put("pulse_rate_slow", float(slow.pulse_rate));
            }
            put("timestamp", m.timestamp.as_ref().map(date_time).unwrap_or(Value::Null));
            put("measurement_status", json!(m.measurement_status.map(|s| s.0)));
            put("device_sensor_status", json!(m.device_and_sensor_status));
            put(
                "pulse_amplitude_index",
                m.pulse_amplitude_index.map(float).unwrap_or(Value::Null),
            );
        }
        Decoded::Glucose(m) => {
            use fhirgate::adapters::ble::glucose::{ConcentrationUnit, SampleLocation, SampleType};
            put("sequence_number", json!(m.sequence_number));
            put("base_time", date_time(&m.base_time));
            put("time_offset_min", json!(m.time_offset_minutes));
            let effective = m.effective_time(&time_context()).anchor().local;
            put(
                "user_facing_time_per_nordic",
                json!(effective.format("%Y-%m-%d %H:%M:%S").to_string()),
            );
            if let Some(c) = &m.concentration {
                put("concentration", float(c.value));
                let unit = if c.unit == ConcentrationUnit::KilogramPerLitre {
                    "kg/L"
                } else {
                    "mol/L"
                };
                put("concentration_unit", json!(unit));
                // The Type and Location nibbles naming the decoded values: the decoder's tables, inverted.
                let sample_type = (1..=10u8).find(|&t| SampleType::from_nibble(t) == Some(c.sample_type));
                put("type", json!(sample_type));
                let location = (0..=15u8).find(|&l| SampleLocation::from_nibble(l) == c.sample_location);
                put("sample_location", json!(location));
            }
            put("sensor_status_annunciation", json!(m.status.map(|s| s.0)));
            put("context_follows", json!(m.context_follows));
        }
        Decoded::Cgm(records) => {
            let facts: Vec<Value> = records
                .iter()
                .map(|r| {
                    json!({
                        "glucose_mg_dL": float(r.glucose),
                        "time_offset_min": r.time_offset_minutes,
                        "trend": r.trend.map(float),
                        "trend_mg_dL_per_min": r.trend.map(float),
                        "quality": r.quality.map(float),
                        "quality_percent": r.quality.map(float),
                        "status": r.annunciation().map(|a| a.0),
                        "status_octet": r.status_octet,
                        "cal_temp_octet": r.cal_temp_octet,
                        "warning_octet": r.warning_octet,
                    })
                })
                .collect();
            // A vector lists one record as an object and several as an array.
            return if facts.len() == 1 {
                facts[0].clone()
            } else {
                Value::Array(facts)
            };
        }
        Decoded::GlucoseContext(_) | Decoded::CgmSessionStart(_) | Decoded::PolarEcg(_) => {
            panic!("no vector file for 2A34/2AAA/Polar PMD (Polar's are in polar_ecg.rs and tests/waveforms.rs)")
        }
    }
    Value::Object(f)
}

fn time_context() -> fhirgate::adapters::ble::TimeContext {
    fhirgate::adapters::ble::TimeContext {
        received_at: chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap(),
        device_offset: chrono::FixedOffset::east_opt(0).unwrap(),
        offset_source: fhirgate::model::OffsetSource::ConfiguredDefault,
    }
}

/// The leading number of strings like "0x4020 (ongoing + questionable)" or "12.5".
fn leading_number(text: &str) -> Option<f64> {
    let token = text.split_whitespace().next()?;
    match token.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as f64),
        None => token.parse().ok(),
    }
}

/// All integers in a string ("year=0 (unknown), month=4, day=17, 20:41:59" → [0, 4, 17, 20, 41, 59]).
fn integers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(e), Value::Number(a)) => (e.as_f64().unwrap() - a.as_f64().unwrap()).abs() < 1e-9,
        (Value::String(e), Value::Number(a)) => {
            leading_number(e).is_some_and(|n| (n - a.as_f64().unwrap()).abs() < 1e-9)
        }
        (Value::String(e), Value::String(a)) => integers(e) == integers(a),
        (Value::String(e), Value::Array(a)) => integers(e) == a.iter().map(|v| v.as_u64().unwrap()).collect::<Vec<_>>(),
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|x| same(v, x))),
        (Value::Array(e), Value::Array(a)) => e.len() == a.len() && e.iter().zip(a).all(|(x, y)| same(x, y)),
        (e, a) => e == a,
    }
}

fn compare(file: &Path, expected: &Value, actual: &Value) {
    match (expected, actual) {
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{}: record count", file.display());
            for (x, y) in e.iter().zip(a) {
                compare(file, x, y);
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            for (key, want) in e {
                if NOT_COMPARED.iter().any(|(k, _)| k == key) {
                    continue;
                }
                let got = a
                    .get(key)
                    .unwrap_or_else(|| panic!("{}: no fact for expected key `{key}`", file.display()));
                assert!(
                    same(want, got),
                    "{}: `{key}` expected {want}, decoded {got}",
                    file.display()
                );
            }
        }
        _ => panic!("{}: unexpected shape", file.display()),
    }
}

#[test]
fn every_public_vector_decodes_to_its_expected_values_or_is_rejected() {
    let files = vector_files();
    assert!(files.len() >= 29, "vectors missing: {}", files.len());
    let mut valid = 0;
    let mut invalid = 0;
    for file in &files {
        let vector: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let characteristic = Characteristic::parse(vector["uuid"].as_str().unwrap()).unwrap();
        let bytes = hex::decode(vector["hex"].as_str().unwrap()).unwrap();
        let result = decode(characteristic, &bytes);
        // The CRC-error vector is flagged `expect_error: false` in its file, but its expected value says
        // "CRC error, reject" (CGMS §3.3.1: a record whose E2E-CRC fails shall be discarded).
        let crc_error = vector["expected"]["e2e_crc"]
            .as_str()
            .is_some_and(|t| t.contains("CRC error"));
        if vector["expect_error"].as_bool().unwrap() || crc_error {
            let error = result
                .expect_err(&format!("{} must be rejected", file.display()))
                .to_string();
            let uuid = characteristic.uuid_text();
            assert!(
                error.contains(&uuid),
                "{}: error does not name the characteristic: {error}",
                file.display()
            );
            assert!(
                error.contains("offset"),
                "{}: error does not name the offset: {error}",
                file.display()
            );
            invalid += 1;
        } else {
            let decoded = result.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            compare(file, &vector["expected"], &facts(&decoded));
            valid += 1;
        }
    }
    assert_eq!(
        (valid, invalid),
        (23, 6),
        "every vector file must be either valid or invalid"
    );
}
