//! FHIR R4 below both the mapper and delivery: serialization in one place (fhirbolt's generic
//! serializers are expensive to compile, so every crate path that writes FHIR JSON goes through here;
//! see the README's build notes), search queries, the patient references a Bundle makes, and the
//! resources Azure MedTech writes for the identities it creates. Nothing here knows a device format or
//! the canonical model.

pub mod medtech;
pub mod patients;
pub mod search;
pub mod validate;

use fhirbolt::model::r4::resources::Bundle;
use thiserror::Error;

/// A resource that could not be written as FHIR JSON (a value the model allowed but FHIR does not,
/// e.g. a decimal that is not a number). Indicates a bug in the mapper, not bad input.
#[derive(Debug, Error)]
#[error("could not serialize the FHIR Bundle: {0}")]
pub struct SerializeError(String);

/// The Bundle as pretty-printed FHIR JSON.
pub fn bundle_to_json_pretty(bundle: &Bundle) -> Result<String, SerializeError> {
    fhirbolt::json::to_string_pretty(bundle, None).map_err(|e| SerializeError(e.to_string()))
}

/// The Bundle as compact FHIR JSON.
pub fn bundle_to_json(bundle: &Bundle) -> Result<String, SerializeError> {
    // Sized for a typical entry (a Device or an Observation is 0.5–1.5 KB), so that a Bundle is
    // written without growing its buffer again and again.
    let mut out = Vec::with_capacity(256 + 1536 * bundle.entry.len());
    fhirbolt::json::to_writer(&mut out, bundle, None).map_err(|e| SerializeError(e.to_string()))?;
    String::from_utf8(out).map_err(|e| SerializeError(e.to_string()))
}

/// A `transaction` Bundle with no entries yet.
pub fn empty_transaction() -> Bundle {
    Bundle {
        r#type: "transaction".into(),
        ..Default::default()
    }
}
