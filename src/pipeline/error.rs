//! Why a payload could not be read or mapped, whichever adapter read it.

use thiserror::Error;

use super::association::AssociationError;
use crate::adapters::ble::envelope::EnvelopeError;
use crate::adapters::declarative::DeclarativeError;
use crate::adapters::hl7v2::error::Hl7Error;
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
}

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
            | MapError::Association(_)
            | MapError::Mapping(_)
            | MapError::Declarative(_)
            | MapError::Medtech(_)
            | MapError::MedtechMapping(_) => true,
        }
    }
}
