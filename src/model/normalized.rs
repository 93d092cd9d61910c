//! MedTech's normalized measurement: what a device mapping extracts from one matched part of a message.

use chrono::{DateTime, Utc};

/// One measurement as MedTech normalizes it. Values stay the text the device sent (`120`, `98.6`);
/// the FHIR destination mapping decides what they become.
#[derive(Clone, PartialEq, Eq)]
pub struct NormalizedMeasurement {
    /// The device mapping's `typeName`: the FHIR template it goes to.
    pub type_name: String,
    pub device_id: String,
    pub patient_id: Option<String>,
    pub encounter_id: Option<String>,
    pub correlation_id: Option<String>,
    pub occurrence: DateTime<Utc>,
    /// `valueName` → value, in template order.
    pub values: Vec<(String, String)>,
}

/// Names the measurement without its identifiers or values (they are patient data).
impl std::fmt::Debug for NormalizedMeasurement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NormalizedMeasurement")
            .field("type_name", &self.type_name)
            .field("occurrence", &self.occurrence)
            .field("values", &self.values.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
