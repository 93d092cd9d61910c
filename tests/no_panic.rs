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
                "characteristic": "{:04X}", "value": "{}", "receivedAt": "2026-11-21T10:00:00Z"}}"#,
            characteristic.uuid(),
            hex::encode(&bytes)
        );
        match fhirgate::pipeline::map_payload(envelope.as_bytes(), &common::settings(), common::now()) {
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
        let _ = fhirgate::pipeline::map_payload(envelope.to_string().as_bytes(), &common::settings(), common::now());
    }

    #[test]
    fn arbitrary_envelope_text_never_panics(text in "\\PC{0,200}") {
        let _ = fhirgate::pipeline::map_payload(text.as_bytes(), &common::settings(), common::now());
    }
}
