//! The patients a transaction Bundle names by identifier, and pointing them at the Patient found at
//! the EHR. The mapper references a patient by identifier (a logical reference); delivery resolves it
//! to `Patient/{id}` before sending, because servers differ in whether they resolve
//! `Patient?identifier=` inside transactions.

use std::collections::{BTreeSet, HashMap};

use fhirbolt::model::r4::resources::Bundle;
use fhirbolt::model::r4::types::Reference;
use fhirbolt::model::r4::Resource;

/// The patients (identifier system and value) that Observations and DocumentReferences of `bundle`
/// name by identifier only.
pub fn patient_identifiers(bundle: &Bundle) -> BTreeSet<(String, String)> {
    bundle
        .entry
        .iter()
        .filter_map(|entry| match &entry.resource {
            Some(Resource::Observation(observation)) => observation.subject.as_deref(),
            Some(Resource::DocumentReference(document)) => document.subject.as_deref(),
            _ => None,
        })
        .filter(|subject| subject.reference.is_none())
        .filter_map(patient_key)
        .collect()
}

/// Points each Observation whose patient was found at the EHR at `Patient/{id}`, keeping the
/// identifier beside the reference: the subject, and the performer of a value the patient typed in.
/// `found` maps (system, value) to the Patient's id.
pub fn resolve_patients(bundle: &mut Bundle, found: &HashMap<(String, String), String>) {
    for entry in &mut bundle.entry {
        let references: Vec<&mut Reference> = match &mut entry.resource {
            Some(Resource::Observation(observation)) => {
                let observation = &mut **observation;
                observation
                    .subject
                    .as_deref_mut()
                    .into_iter()
                    .chain(observation.performer.iter_mut())
                    .collect()
            }
            Some(Resource::DocumentReference(document)) => document.subject.as_deref_mut().into_iter().collect(),
            _ => continue,
        };
        for reference in references {
            if let Some(id) = patient_key(reference).and_then(|key| found.get(&key)) {
                reference.reference = Some(format!("Patient/{id}").as_str().into());
            }
        }
    }
}

/// (system, value) of a reference to a Patient by identifier.
fn patient_key(subject: &Reference) -> Option<(String, String)> {
    if subject.r#type.as_ref().and_then(|t| t.value.as_deref()) != Some("Patient") {
        return None;
    }
    let identifier = subject.identifier.as_deref()?;
    Some((
        identifier.system.as_ref()?.value.clone()?,
        identifier.value.as_ref()?.value.clone()?,
    ))
}
