//! Azure MedTech FHIR destination mappings, run unchanged: normalized measurements
//! (`crate::adapters::medtech`) → Observations exactly as iomt-fhir writes them. Pure functions; the
//! deliverer reads what is on the server and writes what these return.
//!
//! MedTech's Observation is identified by `{patient id}.{device id}.{type}.{window}` in its service
//! system, and its resource id is the SHA-256 of that identifier, so a window's second message finds
//! the first one's Observation by id and merges into it ([`observation::merge`]).

pub mod group;
pub mod observation;
pub mod sampled_data;
pub mod template;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use group::{group, ObservationGroup};
pub use template::{CodeValueTemplate, FhirTemplates};

use crate::adapters::medtech::NormalizedMeasurement;

/// MedTech's identifier system and the system of its service codings.
pub const SERVICE_SYSTEM: &str = "https://azure.microsoft.com/en-us/services/iomt-fhir-connector/";

#[derive(Debug, Error)]
pub enum MedtechMappingError {
    #[error("MedTech FHIR destination mapping {0}")]
    Template(String),
    #[error("the MedTech FHIR destination mapping has no template for the type {0:?}")]
    NoTemplate(String),
    #[error("MedTech measurement {0}")]
    Measurement(String),
    #[error("MedTech measurement time: {0}")]
    Time(String),
    #[error("cannot merge into the Observation on the server: {0}")]
    Merge(String),
    #[error("no MedTech FHIR destination mapping is configured (medtech.fhir_mapping)")]
    NotConfigured,
}

/// The FHIR resource ids a group's Observation refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    pub patient: String,
    pub device: String,
    /// The Encounter the message's `encounterIdExpression` names, found by identifier.
    pub encounter: Option<String>,
}

/// Lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The Observation identifier's value.
pub fn identifier_value(subjects: &Subjects, group: &ObservationGroup) -> String {
    format!(
        "{}.{}.{}.{}",
        subjects.patient,
        subjects.device,
        group.type_name,
        group.id_segment()
    )
}

/// The Observation's resource id: SHA-256 of `{system}_{identifier value}`.
pub fn observation_id(identifier_value: &str) -> String {
    sha256_hex(&format!("{SERVICE_SYSTEM}_{identifier_value}"))
}

/// The id MedTech gives a resource it creates for an identifier (`{system}_{value}`, system empty when
/// unset), in its "Create" identity mode.
pub fn created_id(system: Option<&str>, value: &str) -> String {
    sha256_hex(&format!("{}_{value}", system.unwrap_or_default()))
}

fn identifier(system: Option<&str>, value: &str) -> Value {
    match system {
        Some(system) => json!({"system": system, "value": value}),
        None => json!({"value": value}),
    }
}

/// The Patient MedTech creates for a patient id it has not seen.
pub fn created_patient(patient_id: &str) -> (String, Value) {
    let id = created_id(None, patient_id);
    let patient = json!({"resourceType": "Patient", "id": id, "identifier": [identifier(None, patient_id)]});
    (id, patient)
}

/// The Device MedTech creates for a device id it has not seen, linked to its patient.
pub fn created_device(system: Option<&str>, device_id: &str, patient: &str) -> (String, Value) {
    let id = created_id(system, device_id);
    let device = json!({
        "resourceType": "Device",
        "id": id,
        "identifier": [identifier(system, device_id)],
        "patient": {"reference": format!("Patient/{patient}")},
    });
    (id, device)
}

/// A transaction entry that writes `resource` at its id (`If-Match` its version when updating).
pub fn put_entry(resource: &Value, if_match: Option<&str>) -> Value {
    let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut request = json!({"method": "PUT", "url": format!("{kind}/{id}")});
    if let (Some(version), Value::Object(r)) = (if_match, &mut request) {
        r.insert("ifMatch".into(), json!(format!("W/\"{version}\"")));
    }
    // No fullUrl: it would have to be the server's absolute URL, which the mapper does not know.
    json!({"resource": resource, "request": request})
}

/// A transaction Bundle of entries.
pub fn transaction(entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

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
