//! The settings every adapter and the mapper run with, resolved from `[mapping]` and `[medtech]`
//! (or from `fhirgate map`'s flags): one set for all adapters.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::FixedOffset;

use super::association::AssociationTable;
use super::config::MappingConfig;
use super::medtech::{MedtechConfig, MedtechTemplates};
use super::placeholders::PatientRules;
use super::time_window::TimeWindow;
use crate::adapters::declarative::DeclarativeMappings;
use crate::mapping::MappingOptions;

/// Settings of a mapping run.
#[derive(Debug, Clone)]
pub struct MapSettings {
    /// The UTC offset of device-local times when the payload does not state one.
    pub default_utc_offset: FixedOffset,
    pub mapping: MappingOptions,
    /// Device↔patient associations for readings that name no patient.
    pub associations: AssociationTable,
    /// The declarative mappings the `declarative` adapter chooses from.
    pub declarative: Arc<DeclarativeMappings>,
    /// The MedTech templates the `medtech` adapter runs.
    pub medtech: Arc<MedtechTemplates>,
    /// Which patient ids are placeholders.
    pub patients: PatientRules,
    /// The identifier system of HL7 v2 patient ids without an assigning authority; `None`: such ids
    /// name no patient.
    pub unqualified_patient_system: Option<String>,
    /// The times a measurement may have.
    pub time_window: TimeWindow,
}

impl Default for MapSettings {
    /// UTC, the default gateway id system, no associations, no mappings, no MedTech templates.
    fn default() -> Self {
        MapSettings {
            default_utc_offset: FixedOffset::east_opt(0).unwrap_or(chrono::Utc.fix()),
            mapping: MappingOptions::default(),
            associations: AssociationTable::default(),
            declarative: Arc::default(),
            medtech: Arc::default(),
            patients: PatientRules::default(),
            unqualified_patient_system: None,
            time_window: TimeWindow::default(),
        }
    }
}

use chrono::Offset;

impl MapSettings {
    /// The settings of a deployment: its default offset, gateway id system, association file,
    /// declarative mappings (`./mappings` when none is configured and it exists) and MedTech templates.
    pub fn from_config(mapping: &MappingConfig, medtech: &MedtechConfig) -> Result<MapSettings, String> {
        let default_utc_offset = crate::model::parse_utc_offset(&mapping.default_utc_offset)?;
        let associations = match &mapping.associations {
            Some(path) => load_associations(path)?,
            None => AssociationTable::default(),
        };
        let declarative = match &mapping.declarative_mappings {
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from("mappings")).filter(|p| p.is_dir()),
        };
        let declarative = match declarative {
            Some(path) => DeclarativeMappings::load(&path).map_err(|e| e.to_string())?,
            None => DeclarativeMappings::default(),
        };
        Ok(MapSettings {
            default_utc_offset,
            mapping: MappingOptions {
                gateway_id_system: mapping.gateway_id_system.clone(),
            },
            associations,
            declarative: Arc::new(declarative),
            medtech: Arc::new(MedtechTemplates::load(medtech)?),
            patients: PatientRules::new(&mapping.placeholder_patients, mapping.placeholder_patient_digits),
            unqualified_patient_system: mapping.unqualified_patient_system.clone(),
            time_window: TimeWindow {
                earliest: chrono::DateTime::parse_from_rfc3339(&mapping.earliest_time)
                    .map_err(|e| format!("mapping.earliest_time: {e}"))?,
                future_tolerance: chrono::Duration::seconds(
                    i64::try_from(mapping.future_tolerance_secs).unwrap_or(i64::MAX / 1000),
                ),
            },
        })
    }
}

/// An association file (`mapping.associations`, `map --associations`).
pub fn load_associations(path: &Path) -> Result<AssociationTable, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    AssociationTable::from_json(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
