//! The `map` job as a library call: payload bytes → adapter → model → mapper → FHIR JSON. The CLI,
//! the tests and the benchmark all go through here.

use chrono::{DateTime, FixedOffset, Utc};
use thiserror::Error;

use crate::adapters::ble::envelope::{self, EnvelopeDefaults, EnvelopeError};
use crate::fhir::{self, SerializeError};
use crate::mapping::{self, MappingError, MappingOptions};
use crate::model::Reading;

/// The adapters `map` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AdapterName {
    /// Bluetooth GATT characteristics in the generic hub envelope (JSON).
    Ble,
}

/// Settings of a mapping run.
#[derive(Debug, Clone)]
pub struct MapSettings {
    pub adapter: AdapterName,
    /// The UTC offset of device-local times when the payload does not state one.
    pub default_utc_offset: FixedOffset,
    pub mapping: MappingOptions,
}

/// Why a payload could not be mapped. `Input` errors are the payload's fault (exit 2, HTTP 400);
/// anything else is the bridge's.
#[derive(Debug, Error)]
pub enum MapError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Serialize(#[from] SerializeError),
}

impl MapError {
    /// True when the payload itself is at fault (as opposed to the bridge).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, MapError::Envelope(_) | MapError::Mapping(_))
    }
}

/// Runs the adapter on one payload.
pub fn read_payload(payload: &[u8], settings: &MapSettings, now: DateTime<Utc>) -> Result<Reading, MapError> {
    match settings.adapter {
        AdapterName::Ble => {
            let defaults = EnvelopeDefaults {
                utc_offset: settings.default_utc_offset,
                received_at: now.fixed_offset(),
            };
            Ok(envelope::parse(payload, &defaults)?)
        }
    }
}

/// Maps one payload to a transaction Bundle serialized as pretty JSON.
pub fn map_payload(payload: &[u8], settings: &MapSettings, now: DateTime<Utc>) -> Result<String, MapError> {
    let reading = read_payload(payload, settings, now)?;
    let bundle = mapping::map_reading(&reading, &settings.mapping)?;
    Ok(fhir::bundle_to_json_pretty(&bundle)?)
}
