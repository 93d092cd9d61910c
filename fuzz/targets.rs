// The fuzz targets' bodies, one function per target, shared by `fuzz_targets/*.rs` (libFuzzer,
// nightly) and by `tests/fuzz_corpus.rs` (stable `cargo test`, which replays the seed corpus and
// every regression). Each body states what must hold for any input, beyond "does not panic".
//
// Included with `include!`/`#[path]`, so it names everything by full path.

/// The pipeline every payload target runs through: every adapter armed (the shipped mappings,
/// MedTech's sample templates), UTC for device-local times.
fn armed_pipeline() -> &'static fhirgate::pipeline::Pipeline {
    static PIPELINE: std::sync::OnceLock<fhirgate::pipeline::Pipeline> = std::sync::OnceLock::new();
    PIPELINE.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        // `fuzz/` when built as a fuzz target, the repository when built as a test.
        let repo = if root.join("mappings").is_dir() {
            root.to_path_buf()
        } else {
            root.join("..")
        };
        let medtech = fhirgate::pipeline::medtech::MedtechConfig {
            device_mapping: Some(repo.join("fixtures/medtech/devicecontent.json")),
            fhir_mapping: Some(repo.join("fixtures/medtech/fhirmapping.json")),
            ..fhirgate::pipeline::medtech::MedtechConfig::default()
        };
        let settings = fhirgate::pipeline::MapSettings {
            default_utc_offset: chrono::FixedOffset::east_opt(0).unwrap(),
            unqualified_patient_system: Some("https://hospital.example.org/fhir/sid/mrn".into()),
            declarative: std::sync::Arc::new(
                fhirgate::adapters::declarative::DeclarativeMappings::load(&repo.join("mappings")).unwrap(),
            ),
            medtech: std::sync::Arc::new(fhirgate::pipeline::medtech::MedtechTemplates::load(&medtech).unwrap()),
            ..fhirgate::pipeline::MapSettings::default()
        };
        fhirgate::pipeline::Pipeline::new(settings)
    })
}

/// The door and delivery on one payload: whatever the door takes, delivery plans without panic, and
/// a transaction it plans serializes as a transaction Bundle. A refusal's detail never quotes the
/// payload (checked for long runs of it, which no field name or rule text could hold by chance).
fn door_and_delivery(kind: fhirgate::adapters::AdapterKind, data: &[u8]) {
    let pipeline = armed_pipeline();
    let refusal_of = |bytes: &[u8]| pipeline.check(kind, bytes).err().map(|r| r.detail);
    match pipeline.check(kind, data) {
        Err(refusal) => {
            assert!(!refusal.detail.is_empty(), "a refusal without a reason");
            assert_no_echo(&refusal.detail, data, &refusal_of);
        }
        Ok(payloads) => {
            assert!(!payloads.is_empty(), "accepted, but nothing stored");
            for (index, payload) in payloads.iter().enumerate() {
                let record = fhirgate::store::OutboxRecord {
                    adapter: kind.as_str().into(),
                    received_at: chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap(),
                    source: "fuzz".into(),
                    payload: payload.clone(),
                    patient: None,
                    batch_index: (payloads.len() > 1).then_some(index as u32),
                };
                match pipeline.plan(&record) {
                    fhirgate::delivery::Plan::Transaction(transaction) => {
                        let json = fhirgate::fhir::bundle_to_json(&transaction.bundle).unwrap();
                        assert!(
                            json.contains("\"transaction\""),
                            "a planned Bundle that is not a transaction"
                        );
                    }
                    fhirgate::delivery::Plan::Refuse(refused) => {
                        assert!(!refused.reason.is_empty(), "a dead letter without a reason");
                        let reason_of = |bytes: &[u8]| {
                            let record = fhirgate::store::OutboxRecord {
                                payload: bytes.to_vec(),
                                ..record.clone()
                            };
                            match pipeline.plan(&record) {
                                fhirgate::delivery::Plan::Refuse(again) => Some(again.reason),
                                _ => None,
                            }
                        };
                        assert_no_echo(&refused.reason, payload, &reason_of);
                    }
                    fhirgate::delivery::Plan::Nothing(reason) => assert!(!reason.is_empty()),
                    fhirgate::delivery::Plan::Merge(_) => {}
                }
            }
        }
    }
}

/// No 24-character run of the input's text reappears in a reason, unless it is rule text: a reason
/// names fields and rules, never a value. A run is an echo when it disappears from the reason once
/// its letters and digits are overwritten in the input (punctuation kept, so the input's structure
/// and the error it gives stay); rule text the fuzzer copied into the input (an error message from
/// the binary's strings) stays. Identifier-like runs (letters,
/// digits, `_`, `.`, `-`, spaces: field names, key paths) are names, not values.
fn assert_no_echo(reason: &str, input: &[u8], reason_of: &dyn Fn(&[u8]) -> Option<String>) {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let chars: Vec<char> = text.chars().collect();
    const RUN: usize = 24;
    if chars.len() < RUN {
        return;
    }
    for start in (0..=chars.len() - RUN).step_by(RUN / 2) {
        let run: String = chars[start..start + RUN].iter().collect();
        if run
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '-' | '.'))
        {
            continue;
        }
        if !reason.contains(&run) {
            continue;
        }
        // Letters and digits overwritten, punctuation kept, so the input keeps its structure.
        let masked: String = run
            .chars()
            .map(|c| match c {
                c if c.is_alphabetic() => 'Q',
                c if c.is_numeric() => '7',
                c => c,
            })
            .collect();
        // A run of punctuation or control bytes alone is overwritten whole.
        let masked = if masked == run {
            "Q".repeat(run.chars().count())
        } else {
            masked
        };
        let blanked = text.replace(&run, &masked);
        let still = reason_of(blanked.as_bytes()).is_some_and(|again| again.contains(&run));
        assert!(still, "a reason quotes the payload: {run:?} in {reason:?}");
    }
}

/// A characteristic's value bytes: the first byte picks the characteristic. Whatever decodes has been
/// read within the bytes given (no decoder reads past the end without an error).
pub fn ble_characteristic(data: &[u8]) {
    let Some((&pick, value)) = data.split_first() else {
        return;
    };
    let all = fhirgate::adapters::ble::Characteristic::ALL;
    let characteristic = all[pick as usize % all.len()];
    let _ = fhirgate::adapters::ble::decode(characteristic, value);
}

/// Hub envelopes (JSON, one or a batch) through the door and delivery.
pub fn hub_envelope(data: &[u8]) {
    door_and_delivery(fhirgate::adapters::AdapterKind::Ble, data);
}

/// The HL7 v2 parser alone: whatever parses can be walked to every subcomponent, and every view lies
/// within the message.
pub fn hl7v2_message(data: &[u8]) {
    let Ok(message) = fhirgate::adapters::hl7v2::message::Message::parse(data) else {
        return;
    };
    let _ = message.encoding();
    let _ = message.charset();
    for segment in message.segments() {
        let _ = segment.id();
        for field in segment.fields() {
            let _ = field.raw();
            for repetition in field.repetitions() {
                for c in 1..=repetition.component_count() {
                    let _ = repetition.component(c);
                    let _ = repetition.subcomponent(c, 2);
                }
            }
        }
        let _ = segment.get(3, 1);
    }
}

/// HL7 v2 IHE PCD messages through the door and delivery.
pub fn hl7v2_pcd(data: &[u8]) {
    door_and_delivery(fhirgate::adapters::AdapterKind::Hl7v2, data);
}

/// A connection's bytes cut at arbitrary points: the framer yields the same messages however the
/// bytes arrive, and never holds more than one frame's limit plus one read.
pub fn mllp_framer(data: &[u8]) {
    use fhirgate::ingest::mllp::framer::{Frame, Framer};
    const MAX: usize = 64;
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let chunk = (cut as usize % 17) + 1;
    let collect = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut framer = Framer::default();
        let mut out = Vec::new();
        for piece in pieces {
            framer.push(piece);
            loop {
                match framer.next(MAX) {
                    Frame::Message(message) => {
                        assert!(message.len() <= MAX);
                        out.push(Some(message));
                    }
                    Frame::TooLarge => {
                        out.push(None);
                        // The listener closes the connection on an oversized frame.
                        return out;
                    }
                    Frame::Incomplete => break,
                }
            }
        }
        out
    };
    let whole = collect(&mut std::iter::once(stream));
    let chunked = collect(&mut stream.chunks(chunk));
    // A frame too large is found as soon as it is too large, which can be before a later frame
    // completes in the whole read; up to the first oversize frame, both see the same messages.
    let complete = |v: &[Option<Vec<u8>>]| v.iter().take_while(|m| m.is_some()).cloned().collect::<Vec<_>>();
    let (a, b) = (complete(&whole), complete(&chunked));
    let shorter = a.len().min(b.len());
    assert_eq!(a[..shorter], b[..shorter], "chunking changed the messages");
}

/// Vendor JSON and XML through the shipped mappings, the door and delivery.
pub fn declarative(data: &[u8]) {
    door_and_delivery(fhirgate::adapters::AdapterKind::Declarative, data);
}

/// Device messages through MedTech's sample templates, the door and delivery.
pub fn medtech(data: &[u8]) {
    door_and_delivery(fhirgate::adapters::AdapterKind::Medtech, data);
}

/// A configuration file: read and checked without panic; an error names the key or rule, never the
/// value (a value can be a secret).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(error) = fhirgate::config::Config::from_toml(text) {
        let reason_of = |bytes: &[u8]| {
            let text = std::str::from_utf8(bytes).ok()?;
            fhirgate::config::Config::from_toml(text).err().map(|e| e.to_string())
        };
        assert_no_echo(&error.to_string(), data, &reason_of);
    }
}
