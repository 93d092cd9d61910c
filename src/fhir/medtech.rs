//! What Azure MedTech writes on a FHIR server besides its Observations: the ids it gives resources it
//! creates, the Patient and Device of its "Create" identity mode, and the entries of its transactions
//! (writes at an id, `If-Match` the version read). The mapper uses them to show what MedTech would
//! write on an empty server; delivery to write it.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// MedTech's identifier system and the system of its service codings.
pub const SERVICE_SYSTEM: &str = "https://azure.microsoft.com/en-us/services/iomt-fhir-connector/";

/// The FHIR resource ids a MedTech Observation refers to.
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
        "patient": patient_reference(patient),
    });
    (id, device)
}

/// `{"reference": "Patient/{id}"}`.
pub fn patient_reference(patient: &str) -> Value {
    json!({"reference": format!("Patient/{patient}")})
}

/// A Device read from the server that links no patient, linked to `patient` (MedTech's Create mode
/// links a registered Device on its first message).
pub fn linked_device(mut device: Value, patient: &str) -> Value {
    if let Value::Object(fields) = &mut device {
        fields.insert("patient".into(), patient_reference(patient));
    }
    device
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

/// The version (`meta.versionId`) of a resource read from the server.
pub fn version_id(resource: &Value) -> Option<&str> {
    resource.pointer("/meta/versionId").and_then(Value::as_str)
}

/// The Patient id of a reference: relative, absolute or versioned (`…/Patient/7/_history/2`).
pub fn patient_id(link: &Value) -> Option<String> {
    let reference = link.get("reference").and_then(Value::as_str)?;
    let (_, after) = reference.rsplit_once("Patient/")?;
    let id = after.split("/_history/").next().unwrap_or(after);
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

/// The resource ids of a search Bundle's matches, with each match.
pub fn search_matches(bundle: &Value) -> Vec<(&str, &Value)> {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|e| {
            e.pointer("/search/mode")
                .and_then(Value::as_str)
                .is_none_or(|m| m == "match")
        })
        .filter_map(|e| Some((e.pointer("/resource/id")?.as_str()?, e.get("resource")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_devices_patient_is_read_from_relative_absolute_and_versioned_references() {
        let id = |reference: &str| patient_id(&serde_json::json!({ "reference": reference }));
        assert_eq!(id("Patient/7").as_deref(), Some("7"));
        assert_eq!(id("https://ehr.example/fhir/Patient/7").as_deref(), Some("7"));
        assert_eq!(id("Patient/7/_history/2").as_deref(), Some("7"));
        assert_eq!(id("Group/7"), None);
        assert_eq!(id("Patient/"), None);
        assert_eq!(patient_id(&serde_json::json!({ "display": "Jane" })), None);
    }

    #[test]
    fn an_unlinked_device_is_linked_and_keeps_the_rest() {
        let device = json!({"resourceType": "Device", "id": "d1", "meta": {"versionId": "3"}});
        assert_eq!(version_id(&device), Some("3"));
        let linked = linked_device(device, "p9");
        assert_eq!(linked["patient"]["reference"], "Patient/p9");
        assert_eq!(linked["id"], "d1");
    }
}
