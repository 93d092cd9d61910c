//! Why a payload could not be read or mapped, whichever adapter read it.

use thiserror::Error;

use super::association::AssociationError;
use crate::adapters::ble::envelope::EnvelopeError;
use crate::adapters::declarative::DeclarativeError;
use crate::adapters::hl7v2::error::Hl7Error;
use crate::adapters::hl7v2::idco::IdcoError;
use crate::adapters::hl7v2::pcd::PcdError;
use crate::adapters::hl7v2::report::ReportError;
use crate::adapters::medtech::MedtechError;
use crate::fhir::SerializeError;
use crate::mapping::medtech::MedtechMappingError;
use crate::mapping::MappingError;

/// Why a payload could not be mapped. `Input` errors are the payload's fault (exit 2, HTTP 400);
/// anything else is the bridge's.
#[derive(Debug, Error)]
pub enum MapError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Hl7(#[from] Hl7Error),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Pcd(#[from] PcdError),
    #[error(transparent)]
    Idco(#[from] IdcoError),
    #[error(transparent)]
    Association(#[from] AssociationError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Serialize(#[from] SerializeError),
    #[error(transparent)]
    Declarative(#[from] DeclarativeError),
    #[error(transparent)]
    Medtech(#[from] MedtechError),
    #[error(transparent)]
    MedtechMapping(#[from] MedtechMappingError),
    /// A rule of the pipeline: an impossible time, nothing plausible, nothing at all.
    #[error("{0}")]
    Rule(String),
    /// The Bundle breaks a structural rule of FHIR (a bug or a payload the checks above let through):
    /// never sent.
    #[error("the FHIR Bundle would break a rule, so it is not sent: {0}")]
    Invalid(String),
    #[error(
        "{NO_PATIENT}{}: associate the device (the dead letter's `device` names it) in mapping.associations or \
         with POST /admin/associations, or give the patient in the payload; the bridge never guesses a patient",
        why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default()
    )]
    NoPatient {
        device: serde_json::Value,
        why: Option<String>,
    },
}

/// How every reason for a reading without a patient begins: the dead letters an association may
/// release are found by it.
pub const NO_PATIENT: &str =
    "the reading names no patient and no device-patient association covers its device at its time";

impl MapError {
    /// True when the payload itself is at fault (as opposed to the bridge).
    pub fn is_bad_input(&self) -> bool {
        match self {
            MapError::Serialize(_)
            | MapError::Medtech(MedtechError::NotConfigured)
            | MapError::MedtechMapping(MedtechMappingError::NotConfigured) => false,
            MapError::Envelope(_)
            | MapError::Hl7(_)
            | MapError::Report(_)
            | MapError::Pcd(_)
            | MapError::Idco(_)
            | MapError::Association(_)
            | MapError::Mapping(_)
            | MapError::Declarative(_)
            | MapError::Medtech(_)
            | MapError::MedtechMapping(_)
            | MapError::Rule(_)
            | MapError::Invalid(_)
            | MapError::NoPatient { .. } => true,
        }
    }
}
