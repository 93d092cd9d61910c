//! What delivery executes: a [`Plan`] per stored payload, made by the pipeline (the [`Planner`]) at
//! delivery time so that a replay after a fix, or an association added meanwhile, is planned anew.
//! A plan holds FHIR and identities only; delivery never sees the measurement it came from.

use chrono::{DateTime, Utc};
use fhirbolt::model::r4::resources::Bundle;
use serde::{Deserialize, Serialize};

use crate::fhir::medtech::Subjects;
use crate::store::OutboxRecord;

/// Turns a stored payload into what delivery does with it. The pipeline implements it; delivery
/// holds one and asks it for every payload it takes from the outbox.
pub trait Planner: Send + Sync {
    fn plan(&self, record: &OutboxRecord) -> Plan;
}

/// What becomes of one stored payload.
pub enum Plan {
    /// Conditional creates, in one transaction Bundle that may be sent together with other payloads'.
    Transaction(Box<Transaction>),
    /// Azure MedTech windows: read each Observation, merge, write back.
    Merge(MergePlan),
    /// The payload holds nothing to deliver (a vendor poll with nothing new); the reason says why.
    Nothing(String),
    /// It can never be delivered as it stands: it goes to the dead-letter store.
    Refuse(Refused),
}

/// Why a payload can never be delivered as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The field, path or rule, never a value: it is logged.
    pub reason: String,
    /// The device a missing device-patient association would cover, as an association's `device`
    /// names it; kept with the dead letter for the operator, never logged (a personal device's
    /// address identifies its owner).
    pub device: Option<serde_json::Value>,
}

impl Refused {
    pub fn because(reason: impl Into<String>) -> Refused {
        Refused {
            reason: reason.into(),
            device: None,
        }
    }
}

/// A payload's transaction.
pub struct Transaction {
    pub bundle: Bundle,
    /// What the adapter left out of the payload and why, said when the rest is delivered.
    pub left_out: Vec<LeftOut>,
}

/// A measurement (or one of its values) left out of what is delivered: which (`record 3 heart
/// rate`, `MDC_BODY_FAT (notifications[0])`) and the rule, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub what: String,
    pub reason: String,
}

/// MedTech's resolution type: how the Patient and Device of a message are found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    /// Make the Patient and Device when missing.
    #[default]
    Create,
    /// The Device must exist, and its `patient` names the patient.
    Lookup,
}

/// The windows one MedTech message writes into, and how their subjects are found.
pub struct MergePlan {
    pub windows: Vec<Box<dyn Window>>,
    pub identity: IdentityMode,
    /// The identifier system of device ids; `None`: search ids in any system.
    pub device_identifier_system: Option<String>,
}

/// One MedTech Observation window: its identities, and the Observation it makes or merges into.
pub trait Window: Send + Sync {
    /// MedTech's type name (`heartrate`), for reasons and logs.
    fn type_name(&self) -> &str;
    fn device_id(&self) -> &str;
    fn patient_id(&self) -> Option<&str>;
    fn encounter_id(&self) -> Option<&str>;
    /// The Observation for these subjects, with its deterministic id, as a new resource.
    fn create(&self, subjects: &Subjects, now: DateTime<Utc>) -> Result<serde_json::Value, String>;
    /// `existing` (read from the server) with this window's values merged in; `None` when nothing
    /// changes (a replay).
    fn merge(&self, existing: &serde_json::Value, now: DateTime<Utc>) -> Result<Option<serde_json::Value>, String>;
}
