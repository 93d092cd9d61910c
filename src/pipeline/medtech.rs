//! The Azure MedTech template pair a deployment runs (`[medtech]` in the configuration, or `map
//! --adapter medtech --mapping … --fhir-mapping …`): the device mapping that normalizes messages and
//! the FHIR destination mapping that makes them Observations, with MedTech's identity settings.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::MapError;
use crate::adapters::medtech::{DeviceMapping, MedtechError};
pub use crate::delivery::plan::IdentityMode;
use crate::delivery::plan::{MergePlan, Window};
use crate::mapping::medtech::{
    self, CodeValueTemplate, FhirTemplates, MedtechMappingError, ObservationGroup, Subjects,
};

/// Azure MedTech templates the `medtech` adapter runs (README, "Azure MedTech templates").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MedtechConfig {
    /// The device mapping (`CollectionContent` JSON), unchanged from MedTech.
    pub device_mapping: Option<PathBuf>,
    /// The FHIR destination mapping (`CollectionFhir` JSON), unchanged from MedTech.
    pub fhir_mapping: Option<PathBuf>,
    /// MedTech's resolution type: `create` (make the Patient and Device when missing) or `lookup`
    /// (the Device must exist, and its `patient` names the patient).
    pub identity: IdentityMode,
    /// The identifier system of device ids (MedTech's default device identifier system); unset: none.
    pub device_identifier_system: Option<String>,
}

#[derive(Debug, Default)]
pub struct MedtechTemplates {
    pub device: Option<DeviceMapping>,
    pub fhir: Option<FhirTemplates>,
    pub identity: IdentityMode,
    pub device_identifier_system: Option<String>,
}

impl MedtechTemplates {
    /// Loads the pair the configuration names (neither, or both).
    pub fn load(config: &MedtechConfig) -> Result<MedtechTemplates, String> {
        let (device, fhir) = match (&config.device_mapping, &config.fhir_mapping) {
            (None, None) => (None, None),
            (Some(device), Some(fhir)) => (
                Some(DeviceMapping::load(device).map_err(|e| e.to_string())?),
                Some(FhirTemplates::load(fhir).map_err(|e| e.to_string())?),
            ),
            _ => return Err("medtech: device_mapping and fhir_mapping go together".into()),
        };
        Ok(MedtechTemplates {
            device,
            fhir,
            identity: config.identity,
            device_identifier_system: config.device_identifier_system.clone(),
        })
    }

    fn fhir(&self) -> Result<&FhirTemplates, MedtechMappingError> {
        self.fhir.as_ref().ok_or(MedtechMappingError::NotConfigured)
    }

    /// The template of a group's type.
    pub fn template(&self, type_name: &str) -> Result<&CodeValueTemplate, MedtechMappingError> {
        self.fhir()?.for_type(type_name)
    }

    /// A message's Observation groups (the deliverer makes their Observations).
    pub fn groups(&self, payload: &[u8]) -> Result<Vec<ObservationGroup>, MapError> {
        let device = self.device.as_ref().ok_or(MedtechError::NotConfigured)?;
        let measurements = device.normalize(payload)?;
        let groups = medtech::group(&measurements, self.fhir()?)?;
        if self.identity == IdentityMode::Create {
            if let Some(g) = groups.iter().find(|g| g.patient_id.is_none()) {
                return Err(MedtechMappingError::Measurement(format!(
                    "{}: no patient id (patientIdExpression), which the create identity mode needs",
                    g.type_name
                ))
                .into());
            }
        }
        Ok(groups)
    }

    /// The check at the door: [`Self::groups`], each also made into an Observation once (with
    /// stand-in ids), so a value that can never become FHIR (not a number, two values for one
    /// Quantity) is refused before it is stored rather than found at delivery.
    pub fn check(&self, payload: &[u8]) -> Result<(), MapError> {
        let stand_in = Subjects {
            patient: "p".into(),
            device: "d".into(),
            encounter: None,
        };
        for g in &self.groups(payload)? {
            medtech::observation::create(self.template(&g.type_name)?, g, &stand_in, Utc::now())?;
        }
        Ok(())
    }

    /// `fhirgate map`: what would be written on a server that has seen none of it (create mode).
    pub fn bundle_for_empty_server(&self, payload: &[u8], now: DateTime<Utc>) -> Result<serde_json::Value, MapError> {
        let device = self.device.as_ref().ok_or(MedtechError::NotConfigured)?;
        let measurements = device.normalize(payload)?;
        Ok(medtech::bundle_for_empty_server(
            &measurements,
            self.fhir()?,
            self.device_identifier_system.as_deref(),
            now,
        )?)
    }
}

/// The windows a stored message writes into (the deliverer reads, merges and writes them).
pub fn merge_plan(templates: &Arc<MedtechTemplates>, payload: &[u8]) -> Result<MergePlan, MapError> {
    let windows = templates
        .groups(payload)?
        .into_iter()
        .map(|group| {
            Box::new(MedtechWindow {
                templates: Arc::clone(templates),
                group,
            }) as Box<dyn Window>
        })
        .collect();
    Ok(MergePlan {
        windows,
        identity: templates.identity,
        device_identifier_system: templates.device_identifier_system.clone(),
    })
}

/// One group of a message and the templates that make its Observation.
struct MedtechWindow {
    templates: Arc<MedtechTemplates>,
    group: ObservationGroup,
}

impl MedtechWindow {
    fn template(&self) -> Result<&CodeValueTemplate, String> {
        self.templates
            .template(&self.group.type_name)
            .map_err(|e| e.to_string())
    }
}

impl Window for MedtechWindow {
    fn type_name(&self) -> &str {
        &self.group.type_name
    }

    fn device_id(&self) -> &str {
        &self.group.device_id
    }

    fn patient_id(&self) -> Option<&str> {
        self.group.patient_id.as_deref()
    }

    fn encounter_id(&self) -> Option<&str> {
        self.group.encounter_id.as_deref()
    }

    fn create(&self, subjects: &Subjects, now: DateTime<Utc>) -> Result<serde_json::Value, String> {
        medtech::observation::create(self.template()?, &self.group, subjects, now).map_err(|e| e.to_string())
    }

    fn merge(&self, existing: &serde_json::Value, now: DateTime<Utc>) -> Result<Option<serde_json::Value>, String> {
        medtech::observation::merge(self.template()?, existing, &self.group, now).map_err(|e| e.to_string())
    }
}
