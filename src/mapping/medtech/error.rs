//! Why a MedTech FHIR destination mapping could not make or merge an Observation.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum MedtechMappingError {
    #[error("MedTech FHIR destination mapping {0}")]
    Template(String),
    #[error("the MedTech FHIR destination mapping has no template for the type {0:?}")]
    NoTemplate(String),
    #[error("MedTech measurement {0}")]
    Measurement(String),
    #[error("MedTech measurement time: {0}")]
    Time(String),
    #[error("cannot merge into the Observation on the server: {0}")]
    Merge(String),
    #[error("no MedTech FHIR destination mapping is configured (medtech.fhir_mapping)")]
    NotConfigured,
}
