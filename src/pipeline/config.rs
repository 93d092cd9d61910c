//! `[mapping]`: what the pipeline needs to read and file payloads that the payloads leave open — the
//! UTC offset of device-local times, the identifier system of gateway ids, the device-patient
//! associations, and the declarative mapping files.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingConfig {
    /// UTC offset of device-local times when the payload states none.
    pub default_utc_offset: String,
    pub gateway_id_system: String,
    /// Device↔patient associations (JSON file).
    pub associations: Option<PathBuf>,
    /// Declarative mapping files (a file or directory) for the `declarative` adapter. Unset:
    /// `./mappings` when it exists. `vendor_mappings` is its older name, still accepted.
    #[serde(alias = "vendor_mappings", skip_serializing_if = "Option::is_none")]
    pub declarative_mappings: Option<PathBuf>,
    /// Patient ids that name nobody (compared case-insensitively, spaces collapsed): a reading that
    /// names one has no patient until an association gives it one. Ids of only zeros or only nines
    /// (`0`, `99999`) are placeholders too, unless `placeholder_patient_digits` is false.
    pub placeholder_patients: Vec<String>,
    pub placeholder_patient_digits: bool,
    /// The identifier system of HL7 v2 patient ids sent without an assigning authority (PID-3 CX-4),
    /// for a site whose gateways send MRNs so. Unset: such an id names no patient for sure, and the
    /// reading waits for an association.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unqualified_patient_system: Option<String>,
    /// Measurement times before this (RFC 3339) are refused: a device clock that was never set.
    pub earliest_time: String,
    /// Measurement times more than this many seconds after the receipt are refused (a clock far
    /// ahead, milliseconds read as seconds).
    pub future_tolerance_secs: u64,
}

/// The patient ids that mean "no patient" in the traffic seen so far (B. Braun pumps send
/// `Unknown Patient`; other gateways `UNKNOWN`, `NOPAT`, `ANONYMOUS`).
pub const DEFAULT_PLACEHOLDER_PATIENTS: &[&str] = &[
    "unknown patient",
    "unknown",
    "unk",
    "nopat",
    "no patient",
    "none",
    "null",
    "n/a",
    "na",
    "anonymous",
    "not specified",
];

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            default_utc_offset: "+00:00".into(),
            gateway_id_system: crate::mapping::DEFAULT_GATEWAY_ID_SYSTEM.into(),
            associations: None,
            declarative_mappings: None,
            placeholder_patients: DEFAULT_PLACEHOLDER_PATIENTS.iter().map(|p| p.to_string()).collect(),
            placeholder_patient_digits: true,
            unqualified_patient_system: None,
            earliest_time: "2000-01-01T00:00:00Z".into(),
            future_tolerance_secs: 24 * 3600,
        }
    }
}

impl MappingConfig {
    /// What a configuration must not say: a default offset that is not one.
    pub fn check(&self) -> Result<(), String> {
        crate::model::parse_utc_offset(&self.default_utc_offset)
            .map_err(|e| format!("mapping.default_utc_offset: {e}"))?;
        chrono::DateTime::parse_from_rfc3339(&self.earliest_time)
            .map_err(|e| format!("mapping.earliest_time: not an RFC 3339 date-time with offset ({e})"))?;
        if let Some(system) = &self.unqualified_patient_system {
            if !system.contains(':') {
                return Err("mapping.unqualified_patient_system must be a URI (`urn:oid:…`, `https://…`)".into());
            }
        }
        Ok(())
    }
}
