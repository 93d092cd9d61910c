//! Property tests: no byte string makes a decoder panic, and whatever decodes also maps to FHIR and
//! serializes (so the model never holds a value FHIR cannot carry).

mod common;

use fhirgate::adapters::ble::{decode, Characteristic};
use proptest::prelude::*;

fn any_characteristic() -> impl Strategy<Value = Characteristic> {
    proptest::sample::select(Characteristic::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn decoders_never_panic(characteristic in any_characteristic(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(characteristic, &bytes);
    }

    /// Bytes that follow the flags more closely: a random flags byte followed by plausible lengths,
    /// which reaches deeper into each decoder than uniform noise.
    #[test]
    fn structured_frames_never_panic(characteristic in any_characteristic(), flags in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut bytes = vec![flags];
        bytes.extend(body);
        let _ = decode(characteristic, &bytes);
    }

    #[test]
    fn whatever_decodes_maps_and_serializes(characteristic in any_characteristic(), bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        let envelope = format!(
            r#"{{"gateway": {{"id": "hub"}}, "device": {{"address": "C4:7C:8D:6A:1F:20"}},
                "patient": {{"system": "urn:oid:1.2.3", "value": "P1"}},
                "characteristic": "{}", "value": "{}", "receivedAt": "2026-11-21T10:00:00Z"}}"#,
            characteristic.uuid_text(),
            hex::encode(&bytes)
        );
        match fhirgate::pipeline::map_payload(fhirgate::adapters::AdapterKind::Ble, envelope.as_bytes(), &common::settings(), common::now()) {
            Ok(json) => prop_assert!(json.contains("\"transaction\"")),
            Err(error) => prop_assert!(error.is_bad_input(), "bridge-side failure on decodable input: {}", error),
        }
    }

    /// Arbitrary text (any Unicode) in the envelope's string fields: a UUID-length string with a
    /// multi-byte character once split inside that character.
    #[test]
    fn arbitrary_characteristic_and_offset_text_never_panics(characteristic in "\\PC{0,40}", offset in "\\PC{0,8}") {
        let envelope = serde_json::json!({
            "device": {"address": "C4:7C:8D:6A:1F:20"},
            "patient": {"system": "urn:oid:1.2.3", "value": "P1"},
            "characteristic": characteristic, "value": "0055", "utcOffset": offset,
            "receivedAt": "2026-11-21T10:00:00Z"
        });
        let _ = fhirgate::pipeline::map_payload(fhirgate::adapters::AdapterKind::Ble, envelope.to_string().as_bytes(), &common::settings(), common::now());
    }

    #[test]
    fn arbitrary_envelope_text_never_panics(text in "\\PC{0,200}") {
        let _ = fhirgate::pipeline::map_payload(fhirgate::adapters::AdapterKind::Ble, text.as_bytes(), &common::settings(), common::now());
    }
}

/// The shipped mappings, loaded once.
fn vendor_settings() -> &'static fhirgate::pipeline::MapSettings {
    static SETTINGS: std::sync::OnceLock<fhirgate::pipeline::MapSettings> = std::sync::OnceLock::new();
    SETTINGS.get_or_init(|| {
        let mut settings = common::settings();
        settings.declarative = std::sync::Arc::new(
            fhirgate::adapters::declarative::DeclarativeMappings::load(&common::repo_path("mappings")).unwrap(),
        );
        settings
    })
}

/// A JSON value built from the shapes vendor payloads have (nested objects and lists of numbers and
/// strings, including the members the shipped mappings look for).
fn vendor_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[-+0-9.eE:TZ a-z]{0,24}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
    ];
    let keys = proptest::sample::select(vec![
        "body",
        "measuregrps",
        "measures",
        "type",
        "unit",
        "value",
        "date",
        "category",
        "attrib",
        "BPDataList",
        "HP",
        "LP",
        "HR",
        "MDate",
        "TimeZone",
        "BPUnit",
        "records",
        "recordType",
        "systemTime",
        "status",
        "point",
        "startTimeNanos",
        "endTimeNanos",
        "fpVal",
        "weight",
        "time",
        "effective_time_frame",
        "date_time",
        "time_interval",
        "start_date_time",
        "end_date_time",
        "duration",
        "heart_rate",
        "body_weight",
        "systolic_blood_pressure",
        "diastolic_blood_pressure",
        "descriptive_statistic",
    ]);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// No vendor payload panics the shipped mappings, and whatever they read maps and serializes.
    #[test]
    fn vendor_mappings_never_panic(payload in vendor_json()) {
        let bytes = serde_json::to_vec(&payload).unwrap();
        let _ = fhirgate::pipeline::map_payload(fhirgate::adapters::AdapterKind::Declarative, &bytes, vendor_settings(), common::now());
    }

    /// No byte string panics the XML reader.
    #[test]
    fn xml_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), text in "[<>/a-z =\"'&;#x0-9!\\[\\]CDAT-]{0,120}") {
        let _ = fhirgate::adapters::declarative::xml::to_json(&bytes);
        let _ = fhirgate::adapters::declarative::xml::to_json(text.as_bytes());
    }
}

/// The MedTech sample pair plus a CalculatedContent template whose JMESPath does arithmetic and time.
fn medtech_settings() -> &'static fhirgate::pipeline::MapSettings {
    static SETTINGS: std::sync::OnceLock<fhirgate::pipeline::MapSettings> = std::sync::OnceLock::new();
    SETTINGS.get_or_init(|| {
        let mut settings = common::settings();
        let dir = common::repo_path("fixtures/medtech");
        let config = fhirgate::config::MedtechConfig {
            device_mapping: Some(dir.join("devicecontent.json")),
            fhir_mapping: Some(dir.join("fhirmapping.json")),
            ..Default::default()
        };
        settings.medtech = std::sync::Arc::new(fhirgate::pipeline::medtech::MedtechTemplates::load(&config).unwrap());
        settings
    })
}

fn medtech_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[0-9T:.Z+-]{0,26}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("2023-10-09T19:18:23Z")),
    ];
    let keys = proptest::sample::select(vec![
        "systolic",
        "diastolic",
        "heartrate",
        "deviceid",
        "patientid",
        "measurementdatetime",
        "Body",
    ]);
    leaf.prop_recursive(3, 32, 7, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..7)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// No message panics the MedTech templates, and what they accept becomes FHIR.
    #[test]
    fn medtech_templates_never_panic(message in medtech_json(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let settings = medtech_settings();
        let encoded = serde_json::to_vec(&message).unwrap();
        let accepted = settings.medtech.check(&encoded).is_ok();
        let mapped = fhirgate::pipeline::map_payload(fhirgate::adapters::AdapterKind::Medtech, &encoded, settings, common::now());
        prop_assert!(!accepted || mapped.is_ok(), "accepted at the door but not mapped: {:?}", mapped.err());
        let _ = fhirgate::pipeline::map_payload(fhirgate::adapters::AdapterKind::Medtech, &bytes, settings, common::now());
    }
}
