//! The pipeline: the one place that turns a payload into what delivery does with it. At the door,
//! [`Pipeline::check`] runs the adapter the way delivery will, so a transport refuses what could
//! never be delivered; at delivery, [`Pipeline::plan`] (the [`Planner`]) reads the stored payload
//! again, gives readings their patient (the payload's, the sender's, or an association's) and maps them
//! into a [`Plan`]. `fhirgate map`, `mappings test`, the tests and the benchmarks go through the same
//! functions.
//!
//! ```text
//! payload ─▶ adapter (adapters/) ─▶ readings (model/) ─▶ patient + association ─▶ mapper (mapping/) ─▶ Plan
//! ```

pub mod association;
pub mod association_registry;
pub mod config;
mod error;
pub mod medtech;
pub mod placeholders;
pub mod plausibility;
mod settings;
pub mod time_window;

use chrono::{DateTime, Utc};
use fhirbolt::model::r4::resources::Bundle;
use tokio::sync::watch;

pub use error::{MapError, NO_PATIENT};
pub use settings::{load_associations, MapSettings};

use crate::adapters::ble::envelope::{self, EnvelopeDefaults};
use crate::adapters::declarative::Explanation;
use crate::adapters::hl7v2::idco;
use crate::adapters::hl7v2::message::Message;
use crate::adapters::hl7v2::pcd::{self, PcdError, PcdSettings};
use crate::adapters::hl7v2::report::read_report;
use crate::adapters::AdapterKind;
use crate::delivery::plan::{LeftOut, Plan, Planner, Refused, Transaction};
use crate::mapping::medtech::MedtechMappingError;
use crate::model::{PatientRef, Reading};
use crate::store::OutboxRecord;
use association::AssociationTable;

/// The pipeline of a running bridge: its settings and, while it runs, the live association table.
pub struct Pipeline {
    settings: MapSettings,
    /// The current device-patient associations (they change while the bridge runs); without them,
    /// the settings' table.
    associations: Option<watch::Receiver<AssociationTable>>,
}

/// Why the door refused a payload: what kind of refusal (an MLLP ACK code depends on it), which
/// element of a batch, and the field, byte or rule (never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// The element of a batch that was refused (the whole batch is).
    pub index: Option<usize>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Not the payload's format at all (HL7 v2 that does not parse).
    Malformed,
    /// The format, but not a message the bridge takes (an HL7 order, an acknowledgement).
    Unsupported,
    /// A payload of the kind the bridge takes that cannot be mapped.
    Invalid,
    /// The payload claims another sender than the one that authenticated (a hub envelope's
    /// `gateway.id` that is not the token's gateway).
    Forbidden,
}

impl Refusal {
    fn of(error: &MapError) -> Refusal {
        let kind = match error {
            MapError::Hl7(_) => RefusalKind::Malformed,
            MapError::Pcd(PcdError::NotDeviceObservation(_)) => RefusalKind::Unsupported,
            _ => RefusalKind::Invalid,
        };
        Refusal {
            kind,
            index: None,
            detail: error.to_string(),
        }
    }

    fn invalid(index: Option<usize>, detail: String) -> Refusal {
        Refusal {
            kind: RefusalKind::Invalid,
            index,
            detail,
        }
    }
}

impl Pipeline {
    pub fn new(settings: MapSettings) -> Pipeline {
        Pipeline {
            settings,
            associations: None,
        }
    }

    /// The pipeline, reading associations from a live table instead of the settings'.
    pub fn with_live_associations(mut self, associations: watch::Receiver<AssociationTable>) -> Pipeline {
        self.associations = Some(associations);
        self
    }

    pub fn settings(&self) -> &MapSettings {
        &self.settings
    }

    /// The door: splits a body into the payloads to store (a JSON array of hub envelopes is a batch,
    /// each element its own payload) and runs each through its adapter as delivery will. A missing
    /// patient is not a refusal: the reading waits for an association.
    pub fn check(&self, kind: AdapterKind, body: &[u8]) -> Result<Vec<Vec<u8>>, Refusal> {
        self.check_from(kind, body, None)
    }

    /// [`Self::check`] for a sender that authenticated as gateway `gateway`: a hub envelope that
    /// names another gateway is refused (a token speaks for its own gateway only); one that names
    /// none is the authenticated gateway's.
    pub fn check_from(&self, kind: AdapterKind, body: &[u8], gateway: Option<&str>) -> Result<Vec<Vec<u8>>, Refusal> {
        let is_batch = kind == AdapterKind::Ble && body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        if !is_batch {
            self.check_one(kind, body, gateway)?;
            return Ok(vec![body.to_vec()]);
        }
        let elements: Vec<serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| Refusal::invalid(None, format!("batch: {}", crate::privacy::json_error(&e))))?;
        if elements.is_empty() {
            return Err(Refusal::invalid(None, "batch: the array is empty".into()));
        }
        let mut payloads = Vec::with_capacity(elements.len());
        for (index, element) in elements.iter().enumerate() {
            let payload = serde_json::to_vec(element).map_err(|e| Refusal::invalid(Some(index), e.to_string()))?;
            self.check_one(kind, &payload, gateway).map_err(|refusal| Refusal {
                index: Some(index),
                detail: format!("element {index}: {}", refusal.detail),
                ..refusal
            })?;
            payloads.push(payload);
        }
        Ok(payloads)
    }

    fn check_one(&self, kind: AdapterKind, payload: &[u8], gateway: Option<&str>) -> Result<(), Refusal> {
        if kind == AdapterKind::Medtech {
            return self.settings.medtech.check(payload).map_err(|e| Refusal::of(&e));
        }
        let prepared =
            prepare(kind, payload, &self.settings, Utc::now(), &Context::default()).map_err(|e| Refusal::of(&e))?;
        if let Some(authenticated) = gateway {
            let claims_another = prepared
                .readings
                .iter()
                .filter_map(|reading| reading.gateway.as_ref())
                .any(|claimed| claimed.id != authenticated);
            if claims_another {
                return Err(Refusal {
                    kind: RefusalKind::Forbidden,
                    index: None,
                    detail: "hub envelope field `gateway.id`: names another gateway than the one the bearer token \
                             belongs to (http.gateways); a token speaks for its own gateway only"
                        .into(),
                });
            }
        }
        Ok(())
    }

    /// What delivery does with a stored payload, read with the time it was received (not now), so a
    /// replay plans it the same.
    pub fn plan(&self, record: &OutboxRecord) -> Plan {
        let Some(kind) = AdapterKind::from_name(&record.adapter) else {
            return Plan::Refuse(Refused::because(format!(
                "stored with an unknown adapter {:?}",
                record.adapter
            )));
        };
        let received_at = record.received_at.with_timezone(&Utc);
        if kind == AdapterKind::Medtech {
            return match medtech::merge_plan(&self.settings.medtech, &record.payload) {
                Ok(plan) => Plan::Merge(plan),
                Err(error) => refuse(error),
            };
        }
        let live = self.associations.as_ref().map(|live| live.borrow().clone());
        let context = Context {
            sender_patient: record.patient.as_deref(),
            batch_index: record.batch_index,
            associations: Some(live.as_ref().unwrap_or(&self.settings.associations)),
        };
        let prepared = match prepare(kind, &record.payload, &self.settings, received_at, &context) {
            Ok(prepared) => prepared,
            Err(error) => return refuse(error),
        };
        match transaction(&prepared.readings, &self.settings) {
            Ok(bundle) if !has_observation(&bundle) => {
                Plan::Nothing("the payload's readings hold nothing to report (status words with no bit set)".into())
            }
            Ok(bundle) => Plan::Transaction(Box::new(Transaction {
                bundle,
                left_out: prepared.left_out,
            })),
            Err(error) => refuse(error),
        }
    }
}

/// A payload refused at delivery, with the device to associate when a patient is what it lacks.
fn refuse(error: MapError) -> Plan {
    let device = match &error {
        MapError::NoPatient { device, .. } => Some(device.clone()),
        _ => None,
    };
    Plan::Refuse(Refused {
        reason: error.to_string(),
        device,
    })
}

impl Planner for Pipeline {
    fn plan(&self, record: &OutboxRecord) -> Plan {
        Pipeline::plan(self, record)
    }
}

/// What the payload alone does not say: the patient its sender named (`?patient=system|value`), its
/// place in the batch it came in, and the associations to give readings their patient.
#[derive(Debug, Default, Clone, Copy)]
pub struct Context<'a> {
    pub sender_patient: Option<&'a str>,
    pub batch_index: Option<u32>,
    /// `None` at the door: a missing patient is no refusal there.
    pub associations: Option<&'a AssociationTable>,
}

/// A payload's readings ready for the mapper, and what was left out of them (by measurement and
/// rule), to be said when the rest is delivered.
#[derive(Debug)]
pub struct Prepared {
    pub readings: Vec<Reading>,
    pub left_out: Vec<LeftOut>,
}

/// Runs the adapter and every rule the pipeline keeps, in order: placeholder patients come off; the
/// sender's patient goes on readings that name none; each reading gets its receipt key; a time
/// outside the plausible window refuses the payload; implausible values become absent (or refuse the
/// payload when nothing plausible is left); associations give patients. A payload that holds no
/// reading is refused: a payload taken must become something.
pub fn prepare(
    kind: AdapterKind,
    payload: &[u8],
    settings: &MapSettings,
    received_at: DateTime<Utc>,
    context: &Context<'_>,
) -> Result<Prepared, MapError> {
    let (mut readings, mut left_out) = read_payload_explained(kind, payload, settings, received_at)?;
    if readings.is_empty() {
        return Err(MapError::Rule(
            "the payload holds no readings (no record its mapping selects, no metric): there is nothing to \
             deliver, so it is not taken"
                .into(),
        ));
    }
    let sender = context.sender_patient.and_then(|p| p.split_once('|'));
    let digest = receipt_digest(payload, context.batch_index);
    for reading in &mut readings {
        settings.patients.apply(reading);
        if let (None, Some((system, value))) = (&reading.patient, sender) {
            reading.patient = Some(PatientRef {
                system: system.to_string(),
                value: value.to_string(),
            });
        }
        reading.receipt_key = Some(digest.clone());
        settings.time_window.check(reading).map_err(MapError::Rule)?;
        for kept in plausibility::apply(reading).map_err(MapError::Rule)? {
            left_out.push(LeftOut {
                what: kept.measurement,
                reason: kept.rule,
            });
        }
    }
    if let Some(table) = context.associations {
        associate(&mut readings, table)?;
    }
    Ok(Prepared { readings, left_out })
}

/// The receipt key of a payload's readings: 16 hex digits of the SHA-256 of its bytes, and its place
/// in its batch. Stable across a resend of the same bytes, different for any other notification.
fn receipt_digest(payload: &[u8], batch_index: Option<u32>) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode_upper(Sha256::digest(payload).get(..8).unwrap_or_default());
    match batch_index {
        Some(index) => format!("{digest}.{index}"),
        None => digest,
    }
}

/// The readings as a transaction Bundle, every reading that needs a patient having one, checked by
/// the structural rules before anything is sent.
fn transaction(readings: &[Reading], settings: &MapSettings) -> Result<Bundle, MapError> {
    for reading in readings {
        let about_patient = reading.measurements.iter().any(|m| !crate::mapping::about_device(m));
        if reading.patient.is_none() && about_patient {
            return Err(MapError::NoPatient {
                device: association::device_json(&reading.device),
                why: reading.patient_withheld.clone(),
            });
        }
    }
    let bundle = crate::mapping::map_readings(readings, &settings.mapping)?;
    crate::fhir::validate::transaction(&bundle).map_err(MapError::Invalid)?;
    Ok(bundle)
}

fn has_observation(bundle: &Bundle) -> bool {
    bundle
        .entry
        .iter()
        .any(|e| matches!(e.resource, Some(fhirbolt::model::r4::Resource::Observation(_))))
}

/// Gives each reading that names no patient the one its device is associated with at its time.
fn associate(readings: &mut [Reading], table: &AssociationTable) -> Result<(), MapError> {
    for reading in readings {
        table.associate(reading)?;
    }
    Ok(())
}

/// Runs the adapter on one payload: the readings it holds (one HL7 message may report several
/// devices).
pub fn read_payload(
    kind: AdapterKind,
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
) -> Result<Vec<Reading>, MapError> {
    Ok(read_payload_explained(kind, payload, settings, now)?.0)
}

/// [`read_payload`], with what the adapter left out and why: a declarative mapping's dropped
/// measurements, an HL7 message's rows coded outside MDC.
pub fn read_payload_explained(
    kind: AdapterKind,
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
) -> Result<(Vec<Reading>, Vec<LeftOut>), MapError> {
    let (mut readings, left_out) = read_adapter(kind, payload, settings, now)?;
    // A long recording becomes pieces an EHR can store, whichever adapter read it.
    for reading in &mut readings {
        crate::model::split_long_recordings(&mut reading.measurements);
    }
    Ok((readings, left_out))
}

fn read_adapter(
    kind: AdapterKind,
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
) -> Result<(Vec<Reading>, Vec<LeftOut>), MapError> {
    match kind {
        AdapterKind::Ble => {
            let defaults = EnvelopeDefaults {
                utc_offset: settings.default_utc_offset,
                received_at: now.fixed_offset(),
            };
            Ok((vec![envelope::parse(payload, &defaults)?], Vec::new()))
        }
        AdapterKind::Hl7v2 => {
            let message = Message::parse(payload)?;
            pcd::accept_message_type(message.message_type(), message.trigger_event())?;
            let pcd_settings = PcdSettings {
                default_offset: settings.default_utc_offset,
                received_at: now.fixed_offset(),
                unqualified_patient_system: settings.unqualified_patient_system.as_deref(),
            };
            // A cardiac implant's follow-up (IHE PCD-09) is coded in the IDC nomenclature, one item a
            // row, not in the point-of-care containment tree.
            if idco::is_idco(&message) {
                let (readings, rows) = idco::readings_explained(&message, &pcd_settings)?;
                let left_out = rows
                    .into_iter()
                    .map(|row| LeftOut {
                        what: format!(
                            "{} {}",
                            if row.reason.starts_with("NTE") {
                                "NTE segment"
                            } else {
                                "OBX segment"
                            },
                            row.segment
                        ),
                        reason: row.reason,
                    })
                    .collect();
                return Ok((readings, left_out));
            }
            let report = read_report(&message)?;
            let mut left_out: Vec<LeftOut> = report
                .foreign_rows
                .iter()
                .map(|row| LeftOut {
                    what: format!("OBX segment {}", row.segment),
                    reason: format!(
                        "coded in {}, not MDC: a vendor's own term the bridge cannot code",
                        crate::codes::coding_system_for_people(&row.system)
                    ),
                })
                .collect();
            let (readings, rows) = pcd::readings_explained(&report, &pcd_settings)?;
            left_out.extend(rows.into_iter().map(|row| LeftOut {
                what: format!("OBX segment {}", row.segment),
                reason: row.reason,
            }));
            Ok((readings, left_out))
        }
        AdapterKind::Declarative => {
            let (readings, explanation) =
                settings
                    .declarative
                    .read(payload, now.fixed_offset(), settings.default_utc_offset)?;
            let left_out = explanation
                .dropped
                .into_iter()
                .map(|d| LeftOut {
                    what: format!("record {} {}", d.record, d.measurement),
                    reason: d.reason,
                })
                .collect();
            Ok((readings, left_out))
        }
        // MedTech messages become Observations through their own templates, never readings.
        AdapterKind::Medtech => {
            Err(MedtechMappingError::Template("messages are mapped by their templates, not as readings".into()).into())
        }
    }
}

/// The payload's readings ready for the mapper, with the settings' associations.
pub fn associated_readings(
    kind: AdapterKind,
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
) -> Result<Vec<Reading>, MapError> {
    associated_readings_for(kind, payload, settings, now, None)
}

/// As [`associated_readings`], readings that name no patient given the sender's (`system|value`, as
/// `POST /ingest/declarative?patient=` and `map --patient` give it).
pub fn associated_readings_for(
    kind: AdapterKind,
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
    sender_patient: Option<&str>,
) -> Result<Vec<Reading>, MapError> {
    let context = Context {
        associations: Some(&settings.associations),
        sender_patient,
        ..Context::default()
    };
    Ok(prepare(kind, payload, settings, now, &context)?.readings)
}

/// Maps one payload to a transaction Bundle serialized as pretty JSON (`fhirgate map`).
pub fn map_payload(
    kind: AdapterKind,
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
) -> Result<String, MapError> {
    if kind == AdapterKind::Medtech {
        let bundle = settings.medtech.bundle_for_empty_server(payload, now)?;
        return serde_json::to_string_pretty(&bundle)
            .map_err(|e| MapError::from(MedtechMappingError::Template(e.to_string())));
    }
    map_payload_for(kind, payload, settings, now, None)
}

/// As [`map_payload`], with the sender's patient for readings that name none (`map --patient`).
pub fn map_payload_for(
    kind: AdapterKind,
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
    sender_patient: Option<&str>,
) -> Result<String, MapError> {
    if kind == AdapterKind::Medtech {
        return map_payload(kind, payload, settings, now);
    }
    let readings = associated_readings_for(kind, payload, settings, now, sender_patient)?;
    bundle_json(&readings, settings)
}

/// The readings as a pretty-printed transaction Bundle, checked as delivery checks it.
pub fn bundle_json(readings: &[Reading], settings: &MapSettings) -> Result<String, MapError> {
    Ok(crate::fhir::bundle_to_json_pretty(&transaction(readings, settings)?)?)
}

/// `map --explain` for declarative mappings: what the mapping did, and the Bundle it led to (pretty
/// JSON) or why none could be made, also when the mapping refused the payload (that is when the trace
/// is needed). `Err` only when no mapping could be chosen (not JSON, none matches, two take a record).
pub fn explain_payload(
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
    sender_patient: Option<&str>,
) -> Result<(Explanation, Result<String, MapError>), MapError> {
    let (result, explanation) =
        settings
            .declarative
            .read_explained(payload, now.fixed_offset(), settings.default_utc_offset);
    let explanation = match (result, explanation) {
        (Err(error), None) => return Err(error.into()),
        (Err(error), Some(explanation)) => return Ok((explanation, Err(error.into()))),
        (Ok(_), explanation) => explanation.unwrap_or_default(),
    };
    let context = Context {
        associations: Some(&settings.associations),
        sender_patient,
        ..Context::default()
    };
    let bundle = prepare(AdapterKind::Declarative, payload, settings, now, &context)
        .and_then(|prepared| bundle_json(&prepared.readings, settings));
    Ok((explanation, bundle))
}
