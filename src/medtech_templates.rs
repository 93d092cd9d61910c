//! The Azure MedTech template pair a deployment runs (`[medtech]` in the configuration, or `map
//! --adapter medtech --mapping … --fhir-mapping …`): the device mapping that normalizes messages and
//! the FHIR destination mapping that makes them Observations, with MedTech's identity settings.

use chrono::{DateTime, Utc};

use crate::adapters::medtech::{DeviceMapping, MedtechError};
use crate::config::{IdentityMode, MedtechConfig};
use crate::mapping::medtech::{
    self, CodeValueTemplate, FhirTemplates, MedtechMappingError, ObservationGroup, Subjects,
};

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
    pub fn groups(&self, payload: &[u8]) -> Result<Vec<ObservationGroup>, crate::pipeline::MapError> {
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
    pub fn check(&self, payload: &[u8]) -> Result<(), crate::pipeline::MapError> {
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
    pub fn bundle_for_empty_server(
        &self,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, crate::pipeline::MapError> {
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
