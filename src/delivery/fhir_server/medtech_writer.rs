//! Writing MedTech messages: read, merge, write. A MedTech Observation covers a window (an hour, a
//! day), so the second message of a window must land in the Observation the first one made: the
//! writer reads it by its id, merges (the plan's [`Window::merge`], pure) and writes it back with
//! `If-Match` on the version read, so a concurrent change makes the write fail and the message is
//! tried again from the read. A merge that changes nothing (a replay) writes nothing.
//!
//! Device and patient ids are resolved the way MedTech resolves them: the Device by identifier; in
//! create mode the Patient by identifier, each created (at MedTech's hash id) when missing, and a
//! Device that links no patient linked to the message's; in lookup mode the Device must exist and its
//! `patient` names the patient.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use super::client::{Answer, FhirClient};
use crate::delivery::plan::{IdentityMode, MergePlan, Window};
use crate::delivery::sink::{Outcome, Refusal};
use crate::fhir::medtech::{
    created_device, created_patient, linked_device, patient_id, put_entry, search_matches, transaction, version_id,
    Subjects,
};
use crate::fhir::search::{identifier_query, identifier_query_any_system};

/// How long a Device's patient link is trusted without reading the Device again. A device handed to
/// another patient must be seen soon: MedTech's own cache keeps the link for two hours after the last
/// message, which files two hours of the new patient's readings under the old one.
const DEVICE_LINK_TTL: Duration = Duration::from_secs(5 * 60);

/// FHIR ids already found or made: MedTech device id → (Device id, its patient's id, when read),
/// MedTech patient id → Patient id. Only what the server confirmed is kept.
#[derive(Debug, Default)]
struct MedtechIds {
    devices: HashMap<String, (String, Option<String>, Instant)>,
    patients: HashMap<String, String>,
    /// MedTech encounter id → Encounter id.
    encounters: HashMap<String, String>,
}

/// What one message will write, and the ids to remember once it is written.
#[derive(Default)]
struct Writes {
    entries: Vec<Value>,
    devices: HashMap<String, (String, Option<String>)>,
    patients: HashMap<String, String>,
    encounters: HashMap<String, String>,
}

/// Why a message stops before its write: the outcome to report.
type Stop = Outcome;

fn read_failed(answer: Answer) -> Stop {
    match answer {
        Answer::Retry { reason, after } => Outcome::Retry { reason, after },
        Answer::Rejected { status, body } => Outcome::Refused(Refusal {
            reason: format!("the FHIR server refused a read with {status}"),
            status: Some(status),
            answer: Some(body),
            sent: None,
        }),
        Answer::Delivered => Outcome::retry("unexpected answer to a read"),
    }
}

/// Writes MedTech messages to one FHIR server, remembering the ids it found.
pub struct MedtechWriter {
    client: FhirClient,
    ids: MedtechIds,
}

impl MedtechWriter {
    pub fn new(client: FhirClient) -> Self {
        MedtechWriter {
            client,
            ids: MedtechIds::default(),
        }
    }

    /// Writes one message's windows in one transaction.
    pub async fn write(&mut self, plan: &MergePlan) -> Outcome {
        let mut writes = Writes::default();
        for window in &plan.windows {
            if let Err(stop) = self.write_for(window.as_ref(), plan, &mut writes).await {
                return stop;
            }
        }
        if writes.entries.is_empty() {
            // The message changes nothing on the server (a replay).
            return Outcome::Delivered { entries: 0 };
        }
        let entries = writes.entries.len();
        let bundle = transaction(std::mem::take(&mut writes.entries));
        let json = bundle.to_string();
        // What a template made must pass the same structural rules as every Bundle the bridge sends.
        if let Err(rule) = crate::fhir::validate::transaction_json(&bundle) {
            return Outcome::Refused(Refusal {
                reason: format!("the FHIR Bundle would break a rule, so it is not sent: {rule}"),
                status: None,
                answer: None,
                sent: Some(json),
            });
        }
        match self.client.transaction(json.clone(), entries).await {
            Answer::Delivered => {
                let now = Instant::now();
                self.ids.devices.extend(
                    writes
                        .devices
                        .into_iter()
                        .map(|(key, (device, patient))| (key, (device, patient, now))),
                );
                self.ids.patients.extend(writes.patients);
                self.ids.encounters.extend(writes.encounters);
                Outcome::Delivered { entries }
            }
            Answer::Retry { reason, after } => Outcome::Retry { reason, after },
            // The Observation changed since it was read: read and merge again.
            Answer::Rejected { status: 412, .. } => {
                Outcome::retry("an Observation changed on the server since it was read; merging again")
            }
            Answer::Rejected { status, body } => Outcome::Refused(Refusal {
                reason: format!("the FHIR server refused the Bundle with {status}"),
                status: Some(status),
                answer: Some(body),
                sent: Some(json),
            }),
        }
    }

    async fn read(&self, path: &str) -> Result<Option<Value>, Stop> {
        self.client.read(path).await.map_err(read_failed)
    }

    /// Adds to `writes` what one window writes: its Observation, new or merged, and the Patient and
    /// Device it needs made.
    async fn write_for(&self, window: &dyn Window, plan: &MergePlan, writes: &mut Writes) -> Result<(), Stop> {
        let subjects = self.subjects(window, plan, writes).await?;
        let now = Utc::now();
        let new = window.create(&subjects, now).map_err(Outcome::refused)?;
        let observation_id = new.get("id").and_then(Value::as_str).unwrap_or_default();
        match self.read(&format!("Observation/{observation_id}")).await? {
            None => writes.entries.push(put_entry(&new, None)),
            Some(existing) => {
                if let Some(merged) = window.merge(&existing, now).map_err(Outcome::refused)? {
                    writes.entries.push(put_entry(&merged, version_id(&existing)));
                }
            }
        }
        Ok(())
    }

    /// The Patient and Device ids of a window, found, remembered or planned.
    async fn subjects(&self, window: &dyn Window, plan: &MergePlan, writes: &mut Writes) -> Result<Subjects, Stop> {
        let system = plan.device_identifier_system.as_deref();
        let device_key = window.device_id();
        let known = self
            .ids
            .devices
            .get(device_key)
            .filter(|(_, _, read)| read.elapsed() < DEVICE_LINK_TTL)
            .map(|(device, patient, _)| (device.clone(), patient.clone()))
            .or_else(|| writes.devices.get(device_key).cloned());
        let from_memory = known.is_some();
        let mut device = match known {
            Some((device, patient)) => Some((device, patient, None)),
            None => self.find_device(device_key, system).await?,
        };
        if plan.identity == IdentityMode::Lookup {
            return match device {
                Some((device, Some(patient), _)) => Ok(Subjects {
                    patient,
                    device,
                    encounter: self.encounter(window, writes).await?,
                }),
                Some((_, None, _)) => Err(Outcome::refused("the Device names no patient (lookup identity mode)")),
                None => Err(Outcome::refused(
                    "no Device has the message's device id (lookup identity mode: register the Device, then replay)",
                )),
            };
        }
        let patient_key = window
            .patient_id()
            .ok_or_else(|| Outcome::refused("no patient id, which the create identity mode needs"))?;
        let patient = match self
            .ids
            .patients
            .get(patient_key)
            .or_else(|| writes.patients.get(patient_key))
        {
            Some(patient) => patient.clone(),
            None => {
                let found = self
                    .find_one("Patient", identifier_query_any_system(patient_key))
                    .await?;
                let patient = match found {
                    Some((id, _)) => id,
                    None => {
                        let (patient, resource) = created_patient(patient_key);
                        writes.entries.push(put_entry(&resource, None));
                        patient
                    }
                };
                writes.patients.insert(patient_key.to_string(), patient.clone());
                patient
            }
        };
        // A remembered link that disagrees with the message may be out of date: read the Device again.
        if from_memory
            && device
                .as_ref()
                .is_some_and(|(_, linked, _)| linked.as_ref() != Some(&patient))
        {
            device = self.find_device(device_key, system).await?;
        }
        // As MedTech's Create: a Device that links no patient is linked to the message's; one that
        // links another patient is refused. (MedTech would file the reading under the Device's patient
        // without a word; a bridge that does not guess asks for the link to be put right.)
        let device = match device {
            Some((device, Some(linked), _)) if linked == patient => device,
            Some((_, Some(_), _)) => {
                return Err(Outcome::refused(
                    "the Device is linked to another Patient than the message's patient id; link the Device to \
                     the right Patient (or give each patient's use of the device its own device id), then replay",
                ))
            }
            Some((device, None, unlinked)) => {
                if let Some(resource) = unlinked {
                    let version = version_id(&resource).map(str::to_string);
                    writes
                        .entries
                        .push(put_entry(&linked_device(resource, &patient), version.as_deref()));
                }
                device
            }
            None => {
                let (device, resource) = created_device(system, device_key, &patient);
                writes.entries.push(put_entry(&resource, None));
                device
            }
        };
        writes
            .devices
            .insert(device_key.to_string(), (device.clone(), Some(patient.clone())));
        Ok(Subjects {
            patient,
            device,
            encounter: self.encounter(window, writes).await?,
        })
    }

    /// The Device with the message's device id: its id, its patient's id, and the resource itself when
    /// it links no patient (for create mode to link it).
    async fn find_device(
        &self,
        device_id: &str,
        system: Option<&str>,
    ) -> Result<Option<(String, Option<String>, Option<Value>)>, Stop> {
        let query = match system {
            Some(system) => identifier_query(system, device_id),
            None => identifier_query_any_system(device_id),
        };
        let Some((id, device)) = self.find_one("Device", query).await? else {
            return Ok(None);
        };
        let patient = match device.get("patient") {
            None => None,
            Some(link) => Some(
                patient_id(link)
                    .ok_or_else(|| Outcome::refused("the Device's `patient` is not a Patient/{id} reference"))?,
            ),
        };
        let unlinked = patient.is_none().then_some(device);
        Ok(Some((id, patient, unlinked)))
    }

    /// The one resource of `kind` a search finds: `None` for none, a refusal for several (the
    /// message's id would name more than one).
    async fn find_one(&self, kind: &str, query: String) -> Result<Option<(String, Value)>, Stop> {
        let found = self.read(&format!("{kind}?{query}")).await?.unwrap_or_default();
        match search_matches(&found).as_slice() {
            [] => Ok(None),
            [(id, resource)] => Ok(Some(((*id).to_string(), (*resource).clone()))),
            _ => Err(Outcome::refused(format!(
                "more than one {kind} has the message's {} id",
                kind.to_lowercase()
            ))),
        }
    }

    /// The Encounter the message names, found by identifier as MedTech finds it; a named Encounter
    /// the server does not hold stops the message (MedTech fails it too), as a guess would file the
    /// reading under the wrong stay.
    async fn encounter(&self, window: &dyn Window, writes: &mut Writes) -> Result<Option<String>, Stop> {
        let Some(encounter_id) = window.encounter_id() else {
            return Ok(None);
        };
        if let Some(known) = self
            .ids
            .encounters
            .get(encounter_id)
            .or_else(|| writes.encounters.get(encounter_id))
        {
            return Ok(Some(known.clone()));
        }
        let Some((encounter, _)) = self
            .find_one("Encounter", identifier_query_any_system(encounter_id))
            .await?
        else {
            return Err(Outcome::refused(
                "no Encounter has the message's encounter id (create it, then replay)",
            ));
        };
        writes.encounters.insert(encounter_id.to_string(), encounter.clone());
        Ok(Some(encounter))
    }
}
