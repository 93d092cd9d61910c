//! Azure MedTech FHIR destination mappings, run unchanged: normalized measurements
//! ([`crate::model::NormalizedMeasurement`], which the MedTech adapter makes) → Observations exactly as iomt-fhir writes them. Pure functions; the
//! deliverer reads what is on the server and writes what these return.
//!
//! MedTech's Observation is identified by `{patient id}.{device id}.{type}.{window}` in its service
//! system, and its resource id is the SHA-256 of that identifier, so a window's second message finds
//! the first one's Observation by id and merges into it ([`observation::merge`]).

mod error;
pub mod group;
pub mod observation;
pub mod sampled_data;
pub mod template;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use error::MedtechMappingError;
pub use group::{group, ObservationGroup};
pub use observation::{identifier_value, observation_id};
pub use template::{CodeValueTemplate, FhirTemplates};

use crate::model::NormalizedMeasurement;

use crate::fhir::medtech::{created_device, created_patient, put_entry, transaction};
pub use crate::fhir::medtech::{created_id, sha256_hex, Subjects, SERVICE_SYSTEM};

/// What MedTech would write for a message on a server that has seen none of it, in its "Create"
/// identity mode: the Patient, the Device, and each group's new Observation (`fhirgate map`). A
/// running bridge reads the server first and merges instead.
pub fn bundle_for_empty_server(
    measurements: &[NormalizedMeasurement],
    templates: &FhirTemplates,
    device_system: Option<&str>,
    issued: DateTime<Utc>,
) -> Result<Value, MedtechMappingError> {
    let mut entries: Vec<Value> = Vec::new();
    let mut written: Vec<String> = Vec::new();
    for g in group(measurements, templates)? {
        let patient_id = g.patient_id.as_deref().ok_or_else(|| {
            MedtechMappingError::Measurement(format!(
                "{}: no patient id (patientIdExpression), which the Create identity mode needs",
                g.type_name
            ))
        })?;
        let (patient, patient_resource) = created_patient(patient_id);
        let (device, device_resource) = created_device(device_system, &g.device_id, &patient);
        for resource in [patient_resource, device_resource] {
            let entry = put_entry(&resource, None);
            let url = entry["request"]["url"].as_str().unwrap_or_default().to_string();
            if !written.contains(&url) {
                written.push(url);
                entries.push(entry);
            }
        }
        let template = templates.for_type(&g.type_name)?;
        let observation = observation::create(
            template,
            &g,
            &Subjects {
                patient,
                device,
                // An empty server holds no Encounter to link; the bridge looks it up.
                encounter: None,
            },
            issued,
        )?;
        entries.push(put_entry(&observation, None));
    }
    Ok(transaction(entries))
}

#[cfg(test)]
mod tests;
