//! The `map` job as a library call: payload bytes → adapter → model → mapper → FHIR JSON. The CLI,
//! the tests and the benchmark all go through here.

use chrono::{DateTime, FixedOffset, Utc};
use thiserror::Error;

use crate::adapters::ble::envelope::{self, EnvelopeDefaults, EnvelopeError};
use crate::adapters::hl7v2::error::Hl7Error;
use crate::adapters::hl7v2::message::Message;
use crate::adapters::hl7v2::pcd::{self, PcdError, PcdSettings};
use crate::adapters::hl7v2::report::{read_report, ReportError};
use std::sync::Arc;

use crate::adapters::medtech::MedtechError;
use crate::adapters::vendor::{VendorError, VendorMappings};
use crate::association::{AssociationError, AssociationTable};
use crate::fhir::{self, SerializeError};
use crate::mapping::medtech::MedtechMappingError;
use crate::mapping::{self, MappingError, MappingOptions};
use crate::medtech_templates::MedtechTemplates;
use crate::model::Reading;

/// The adapters `map` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterName {
    /// Bluetooth GATT characteristics in the generic hub envelope (JSON).
    Ble,
    /// HL7 v2 IHE PCD device observation reports from monitors and pumps: PCD-01 (ORU^R01), PCD-04
    /// alerts (ORU^R40), PCD-10 infusion events (ORU^R42).
    Hl7v2,
    /// Vendor JSON (WiFi devices, vendor clouds) through declarative mapping files (`--mapping`).
    Json,
    /// Device messages through an Azure MedTech device mapping + FHIR destination mapping pair.
    Medtech,
}

impl AdapterName {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterName::Ble => "ble",
            AdapterName::Hl7v2 => "hl7v2",
            AdapterName::Json => "json",
            AdapterName::Medtech => "medtech",
        }
    }

    /// The adapter of this name (`ble`, `hl7v2`).
    pub fn from_name(name: &str) -> Option<AdapterName> {
        [
            AdapterName::Ble,
            AdapterName::Hl7v2,
            AdapterName::Json,
            AdapterName::Medtech,
        ]
        .into_iter()
        .find(|adapter| adapter.as_str() == name)
    }
}

/// Settings of a mapping run.
#[derive(Debug, Clone)]
pub struct MapSettings {
    pub adapter: AdapterName,
    /// The UTC offset of device-local times when the payload does not state one.
    pub default_utc_offset: FixedOffset,
    pub mapping: MappingOptions,
    /// Device↔patient associations for readings that name no patient.
    pub associations: AssociationTable,
    /// The vendor mappings the `json` adapter chooses from.
    pub vendor: Arc<VendorMappings>,
    /// The MedTech templates the `medtech` adapter runs.
    pub medtech: Arc<MedtechTemplates>,
}

/// The settings of every adapter, for the parts of the bridge that see payloads of all kinds.
#[derive(Debug, Clone)]
pub struct AdapterSettings {
    pub ble: MapSettings,
    pub hl7v2: MapSettings,
    pub json: MapSettings,
    pub medtech: MapSettings,
}

impl AdapterSettings {
    /// The same settings for every adapter.
    pub fn new(base: &MapSettings) -> Self {
        AdapterSettings {
            ble: MapSettings {
                adapter: AdapterName::Ble,
                ..base.clone()
            },
            hl7v2: MapSettings {
                adapter: AdapterName::Hl7v2,
                ..base.clone()
            },
            json: MapSettings {
                adapter: AdapterName::Json,
                ..base.clone()
            },
            medtech: MapSettings {
                adapter: AdapterName::Medtech,
                ..base.clone()
            },
        }
    }

    pub fn for_adapter(&self, adapter: AdapterName) -> &MapSettings {
        match adapter {
            AdapterName::Ble => &self.ble,
            AdapterName::Hl7v2 => &self.hl7v2,
            AdapterName::Json => &self.json,
            AdapterName::Medtech => &self.medtech,
        }
    }

    /// Runs the adapter over a payload the way delivery will, so that a transport refuses at the door
    /// what could never be delivered. A missing patient is not a refusal: the reading waits for an
    /// association. The error names the field, byte or rule, never a value.
    pub fn check(&self, adapter: AdapterName, payload: &[u8]) -> Result<(), String> {
        if adapter == AdapterName::Medtech {
            return self.medtech.medtech.check(payload).map_err(|e| e.to_string());
        }
        read_payload(payload, self.for_adapter(adapter), Utc::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

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
    Vendor(#[from] VendorError),
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
            | MapError::Vendor(_)
            | MapError::Medtech(_)
            | MapError::MedtechMapping(_) => true,
        }
    }
}

/// Runs the adapter on one payload: the readings it holds (one HL7 message may report several
/// devices).
pub fn read_payload(payload: &[u8], settings: &MapSettings, now: DateTime<Utc>) -> Result<Vec<Reading>, MapError> {
    Ok(read_payload_explained(payload, settings, now)?.0)
}

/// [`read_payload`], with what a vendor mapping left out and why (empty for the other adapters, which
/// refuse rather than leave out).
pub fn read_payload_explained(
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
) -> Result<(Vec<Reading>, Vec<crate::adapters::vendor::Dropped>), MapError> {
    if settings.adapter == AdapterName::Json {
        let (readings, explanation) = settings
            .vendor
            .read(payload, now.fixed_offset(), settings.default_utc_offset)?;
        return Ok((readings, explanation.dropped));
    }
    read_standard(payload, settings, now).map(|readings| (readings, Vec::new()))
}

fn read_standard(payload: &[u8], settings: &MapSettings, now: DateTime<Utc>) -> Result<Vec<Reading>, MapError> {
    match settings.adapter {
        AdapterName::Ble => {
            let defaults = EnvelopeDefaults {
                utc_offset: settings.default_utc_offset,
                received_at: now.fixed_offset(),
            };
            Ok(vec![envelope::parse(payload, &defaults)?])
        }
        AdapterName::Hl7v2 => {
            let message = Message::parse(payload)?;
            pcd::accept_message_type(message.message_type(), message.trigger_event())?;
            let report = read_report(&message)?;
            let pcd_settings = PcdSettings {
                default_offset: settings.default_utc_offset,
                received_at: now.fixed_offset(),
            };
            Ok(pcd::readings(&report, &pcd_settings)?)
        }
        AdapterName::Json => Ok(settings
            .vendor
            .read(payload, now.fixed_offset(), settings.default_utc_offset)?
            .0),
        // MedTech messages become Observations through their own templates, never readings.
        AdapterName::Medtech => {
            Err(MedtechMappingError::Template("messages are mapped by their templates, not as readings".into()).into())
        }
    }
}

/// Runs the adapter and gives each reading that names no patient the one its device is associated
/// with at the reading's time: the readings ready for the mapper.
pub fn associated_readings(
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
) -> Result<Vec<Reading>, MapError> {
    let mut readings = read_payload(payload, settings, now)?;
    for reading in &mut readings {
        settings.associations.associate(reading)?;
    }
    Ok(readings)
}

/// Maps one payload to a transaction Bundle serialized as pretty JSON.
pub fn map_payload(payload: &[u8], settings: &MapSettings, now: DateTime<Utc>) -> Result<String, MapError> {
    if settings.adapter == AdapterName::Medtech {
        let bundle = settings.medtech.bundle_for_empty_server(payload, now)?;
        return serde_json::to_string_pretty(&bundle)
            .map_err(|e| MapError::from(MedtechMappingError::Template(e.to_string())));
    }
    let readings = associated_readings(payload, settings, now)?;
    let bundle = if readings.is_empty() {
        mapping::empty_transaction()
    } else {
        mapping::map_readings(&readings, &settings.mapping)?
    };
    Ok(fhir::bundle_to_json_pretty(&bundle)?)
}

/// `map --explain` for vendor JSON: what the mapping did, and the Bundle it led to (pretty JSON) or
/// why none could be made. `Err` when the mapping itself refused the payload.
#[allow(clippy::type_complexity)]
pub fn explain_payload(
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
) -> Result<(crate::adapters::vendor::Explanation, Result<String, MapError>), MapError> {
    let (mut readings, explanation) = settings
        .vendor
        .read(payload, now.fixed_offset(), settings.default_utc_offset)?;
    let bundle = (|| {
        for reading in &mut readings {
            settings.associations.associate(reading)?;
        }
        let bundle = if readings.is_empty() {
            mapping::empty_transaction()
        } else {
            mapping::map_readings(&readings, &settings.mapping)?
        };
        Ok(fhir::bundle_to_json_pretty(&bundle)?)
    })();
    Ok((explanation, bundle))
}
