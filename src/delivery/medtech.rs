//! Delivery of MedTech messages: read, merge, write. A MedTech Observation covers a window (an hour,
//! a day), so the second message of a window must land in the Observation the first one made: the
//! deliverer reads it by its id, merges (`mapping::medtech::observation::merge`, pure) and writes it
//! back with `If-Match` on the version read, so a concurrent change makes the write fail and the
//! message is tried again from the read. A merge that changes nothing (a replay) writes nothing.
//!
//! Device and patient ids are resolved the way MedTech resolves them: the Device by identifier; in
//! create mode the Patient by identifier, each created (at MedTech's hash id) when missing, and a
//! Device that links no patient linked to the message's; in lookup mode the Device must exist and its
//! `patient` names the patient.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tracing::{debug, info};

use crate::config::IdentityMode;
use crate::delivery::deliverer::{Deliverer, Progress};
use crate::delivery::fhir_client::Answer;
use crate::delivery::outbox::{OutboxError, OutboxRecord};
use crate::mapping::medtech::{self, observation, ObservationGroup, Subjects};
use crate::mapping::{identifier_query, identifier_query_any_system};

/// How long a Device's patient link is trusted without reading the Device again. A device handed to
/// another patient must be seen soon: MedTech's own cache keeps the link for two hours after the last
/// message, which files two hours of the new patient's readings under the old one.
const DEVICE_LINK_TTL: Duration = Duration::from_secs(5 * 60);

/// FHIR ids already found or made: MedTech device id → (Device id, its patient's id, when read),
/// MedTech patient id → Patient id. Only what the server confirmed is kept.
#[derive(Debug, Default)]
pub struct MedtechIds {
    devices: HashMap<String, (String, Option<String>, Instant)>,
    patients: HashMap<String, String>,
    /// MedTech encounter id → Encounter id.
    encounters: HashMap<String, String>,
}

/// What one message will write, and the ids to remember once it is written.
#[derive(Default)]
struct Plan {
    entries: Vec<Value>,
    devices: HashMap<String, (String, Option<String>)>,
    patients: HashMap<String, String>,
    encounters: HashMap<String, String>,
}

/// The Patient id of a reference: relative, absolute or versioned (`…/Patient/7/_history/2`).
fn patient_id(link: &Value) -> Option<String> {
    let reference = link.get("reference").and_then(Value::as_str)?;
    let (_, after) = reference.rsplit_once("Patient/")?;
    let id = after.split("/_history/").next().unwrap_or(after);
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

/// Why a message stops before its write.
enum Stop {
    Retry(Progress),
    /// Never deliverable as it stands: the reason, and the server's answer when it refused.
    Refuse(String, Option<(u16, String, String)>),
}

impl From<Answer> for Stop {
    fn from(answer: Answer) -> Stop {
        match answer {
            Answer::Retry { reason, after } => Stop::Retry(Progress::Retry { reason, after }),
            Answer::Rejected { status, body } => Stop::Refuse(
                format!("the FHIR server refused a read with {status}"),
                Some((status, body, String::new())),
            ),
            Answer::Delivered => Stop::Retry(Progress::Retry {
                reason: "unexpected answer to a read".into(),
                after: None,
            }),
        }
    }
}

/// The resource ids of a search Bundle's matches, with each match.
fn matches(bundle: &Value) -> Vec<(&str, &Value)> {
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

impl Deliverer {
    /// Delivers one stored MedTech message: `Some` when it must be retried later (nothing removed).
    pub(crate) async fn deliver_medtech(
        &self,
        id: u64,
        record: OutboxRecord,
        ids: &mut MedtechIds,
    ) -> Result<Option<Progress>, OutboxError> {
        let templates = &self.settings.medtech.medtech;
        let groups = match templates.groups(&record.payload) {
            Ok(groups) => groups,
            Err(error) => {
                self.bury(id, record, error.to_string(), None)?;
                return Ok(None);
            }
        };
        let mut plan = Plan::default();
        for group in &groups {
            match self.write_for(group, ids, &mut plan).await {
                Ok(()) => {}
                Err(Stop::Retry(progress)) => return Ok(Some(progress)),
                Err(Stop::Refuse(reason, refusal)) => {
                    self.bury(id, record, reason, refusal)?;
                    return Ok(None);
                }
            }
        }
        if plan.entries.is_empty() {
            debug!(outbox_id = id, "the MedTech message changes nothing on the server");
            return self.delivered_medtech(id, &record, 0).map(|()| None);
        }
        let entries = plan.entries.len();
        let bundle = medtech::transaction(std::mem::take(&mut plan.entries));
        let json = bundle.to_string();
        match self.client.transaction(json.clone(), entries).await {
            Answer::Delivered => {
                let now = Instant::now();
                ids.devices.extend(
                    plan.devices
                        .into_iter()
                        .map(|(key, (device, patient))| (key, (device, patient, now))),
                );
                ids.patients.extend(plan.patients);
                ids.encounters.extend(plan.encounters);
                self.delivered_medtech(id, &record, entries).map(|()| None)
            }
            Answer::Retry { reason, after } => Ok(Some(Progress::Retry { reason, after })),
            // The Observation changed since it was read: read and merge again.
            Answer::Rejected { status: 412, .. } => Ok(Some(Progress::Retry {
                reason: "an Observation changed on the server since it was read; merging again".into(),
                after: None,
            })),
            Answer::Rejected { status, body } => {
                let reason = format!("the FHIR server refused the Bundle with {status}");
                self.bury(id, record, reason, Some((status, body, json)))?;
                Ok(None)
            }
        }
    }

    fn delivered_medtech(&self, id: u64, record: &OutboxRecord, entries: usize) -> Result<(), OutboxError> {
        self.remove_delivered(std::iter::once((id, record)))?;
        info!(payloads = 1, entries, "delivered");
        Ok(())
    }

    /// Adds to `plan` what one group writes: its Observation, new or merged, and the Patient and
    /// Device it needs made.
    async fn write_for(&self, group: &ObservationGroup, ids: &MedtechIds, plan: &mut Plan) -> Result<(), Stop> {
        let templates = &self.settings.medtech.medtech;
        let template = templates
            .template(&group.type_name)
            .map_err(|e| Stop::Refuse(e.to_string(), None))?;
        let subjects = self.subjects(group, ids, plan).await?;
        let now = Utc::now();
        let new =
            observation::create(template, group, &subjects, now).map_err(|e| Stop::Refuse(e.to_string(), None))?;
        let observation_id = new.get("id").and_then(Value::as_str).unwrap_or_default();
        match self.client.read(&format!("Observation/{observation_id}")).await? {
            None => plan.entries.push(medtech::put_entry(&new, None)),
            Some(existing) => {
                let merged = observation::merge(template, &existing, group, now)
                    .map_err(|e| Stop::Refuse(e.to_string(), None))?;
                if let Some(merged) = merged {
                    let version = existing.pointer("/meta/versionId").and_then(Value::as_str);
                    plan.entries.push(medtech::put_entry(&merged, version));
                }
            }
        }
        Ok(())
    }

    /// The Patient and Device ids of a group, found, remembered or planned.
    async fn subjects(&self, group: &ObservationGroup, ids: &MedtechIds, plan: &mut Plan) -> Result<Subjects, Stop> {
        let templates = &self.settings.medtech.medtech;
        let system = templates.device_identifier_system.as_deref();
        let known = ids
            .devices
            .get(&group.device_id)
            .filter(|(_, _, read)| read.elapsed() < DEVICE_LINK_TTL)
            .map(|(device, patient, _)| (device.clone(), patient.clone()))
            .or_else(|| plan.devices.get(&group.device_id).cloned());
        let from_memory = known.is_some();
        let mut device = match known {
            Some((device, patient)) => Some((device, patient, None)),
            None => self.find_device(&group.device_id, system).await?,
        };
        if templates.identity == IdentityMode::Lookup {
            return match device {
                Some((device, Some(patient), _)) => Ok(Subjects {
                    patient,
                    device,
                    encounter: self.encounter(group, ids, plan).await?,
                }),
                Some((_, None, _)) => Err(Stop::Refuse(
                    "the Device names no patient (lookup identity mode)".into(),
                    None,
                )),
                None => Err(Stop::Refuse(
                    "no Device has the message's device id (lookup identity mode: register the Device, then replay)"
                        .into(),
                    None,
                )),
            };
        }
        let patient_id = group
            .patient_id
            .as_deref()
            .ok_or_else(|| Stop::Refuse("no patient id, which the create identity mode needs".into(), None))?;
        let patient = match ids.patients.get(patient_id).or_else(|| plan.patients.get(patient_id)) {
            Some(patient) => patient.clone(),
            None => {
                let found = self
                    .find_one("Patient", identifier_query_any_system(patient_id))
                    .await?;
                let patient = match found {
                    Some((id, _)) => id,
                    None => {
                        let (patient, resource) = medtech::created_patient(patient_id);
                        plan.entries.push(medtech::put_entry(&resource, None));
                        patient
                    }
                };
                plan.patients.insert(patient_id.to_string(), patient.clone());
                patient
            }
        };
        // A remembered link that disagrees with the message may be out of date: read the Device again.
        if from_memory
            && device
                .as_ref()
                .is_some_and(|(_, linked, _)| linked.as_ref() != Some(&patient))
        {
            device = self.find_device(&group.device_id, system).await?;
        }
        // As MedTech's Create: a Device that links no patient is linked to the message's; one that
        // links another patient is refused. (MedTech would file the reading under the Device's patient
        // without a word; a bridge that does not guess asks for the link to be put right.)
        let device = match device {
            Some((device, Some(linked), _)) if linked == patient => device,
            Some((_, Some(_), _)) => {
                return Err(Stop::Refuse(
                    "the Device is linked to another Patient than the message's patient id; link the Device to \
                     the right Patient (or give each patient's use of the device its own device id), then replay"
                        .into(),
                    None,
                ))
            }
            Some((device, None, unlinked)) => {
                if let Some(mut resource) = unlinked {
                    let version = resource
                        .pointer("/meta/versionId")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    if let Value::Object(fields) = &mut resource {
                        fields.insert(
                            "patient".into(),
                            serde_json::json!({"reference": format!("Patient/{patient}")}),
                        );
                    }
                    plan.entries.push(medtech::put_entry(&resource, version.as_deref()));
                }
                device
            }
            None => {
                let (device, resource) = medtech::created_device(system, &group.device_id, &patient);
                plan.entries.push(medtech::put_entry(&resource, None));
                device
            }
        };
        plan.devices
            .insert(group.device_id.clone(), (device.clone(), Some(patient.clone())));
        Ok(Subjects {
            patient,
            device,
            encounter: self.encounter(group, ids, plan).await?,
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
        let patient =
            match device.get("patient") {
                None => None,
                Some(link) => Some(patient_id(link).ok_or_else(|| {
                    Stop::Refuse("the Device's `patient` is not a Patient/{id} reference".into(), None)
                })?),
            };
        let unlinked = patient.is_none().then_some(device);
        Ok(Some((id, patient, unlinked)))
    }

    /// The one resource of `kind` a search finds: `None` for none, a refusal for several (the
    /// message's id would name more than one).
    async fn find_one(&self, kind: &str, query: String) -> Result<Option<(String, Value)>, Stop> {
        let found = self.client.read(&format!("{kind}?{query}")).await?.unwrap_or_default();
        match matches(&found).as_slice() {
            [] => Ok(None),
            [(id, resource)] => Ok(Some(((*id).to_string(), (*resource).clone()))),
            _ => Err(Stop::Refuse(
                format!("more than one {kind} has the message's {} id", kind.to_lowercase()),
                None,
            )),
        }
    }

    /// The Encounter the message names, found by identifier as MedTech finds it; a named Encounter
    /// the server does not hold stops the message (MedTech fails it too), as a guess would file the
    /// reading under the wrong stay.
    async fn encounter(
        &self,
        group: &ObservationGroup,
        ids: &MedtechIds,
        plan: &mut Plan,
    ) -> Result<Option<String>, Stop> {
        let Some(encounter_id) = group.encounter_id.as_deref() else {
            return Ok(None);
        };
        if let Some(known) = ids
            .encounters
            .get(encounter_id)
            .or_else(|| plan.encounters.get(encounter_id))
        {
            return Ok(Some(known.clone()));
        }
        let Some((encounter, _)) = self
            .find_one("Encounter", identifier_query_any_system(encounter_id))
            .await?
        else {
            return Err(Stop::Refuse(
                "no Encounter has the message's encounter id (create it, then replay)".into(),
                None,
            ));
        };
        plan.encounters.insert(encounter_id.to_string(), encounter.clone());
        Ok(Some(encounter))
    }
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
}
