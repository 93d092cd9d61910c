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
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            default_utc_offset: "+00:00".into(),
            gateway_id_system: crate::mapping::DEFAULT_GATEWAY_ID_SYSTEM.into(),
            associations: None,
            declarative_mappings: None,
        }
    }
}

impl MappingConfig {
    /// What a configuration must not say: a default offset that is not one.
    pub fn check(&self) -> Result<(), String> {
        crate::model::parse_utc_offset(&self.default_utc_offset)
            .map(|_| ())
            .map_err(|e| format!("mapping.default_utc_offset: {e}"))
    }
}
