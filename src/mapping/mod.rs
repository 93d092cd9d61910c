//! Model → FHIR R4: pure functions, no I/O. A [`Reading`] becomes one transaction Bundle holding the
//! gateway and device as conditional creates and one Observation per measurement, each a conditional
//! create on its PHD dedup identifier, so re-sending a reading creates nothing new.

mod dedup;
mod device;
mod document;
pub mod fhir_types;
mod full_url;
mod local_digits;
pub mod medtech;
mod observation;
pub mod terminology;
mod units;

use fhirbolt::model::r4::resources::{Bundle, BundleEntry, BundleEntryRequest};
use fhirbolt::model::r4::types::{Identifier, Reference};

pub use crate::fhir::empty_transaction;
use crate::fhir::search::identifier_query;
use fhirbolt::model::r4::Resource;
use thiserror::Error;

pub use observation::date_time;

use crate::model::{PatientRef, Reading, Value};

/// Settings of the mapping that are deployment choices, not facts of the reading.
#[derive(Debug, Clone)]
pub struct MappingOptions {
    /// Identifier system of gateway ids such as `hub-ward-7`.
    pub gateway_id_system: String,
}

impl Default for MappingOptions {
    fn default() -> Self {
        MappingOptions {
            gateway_id_system: DEFAULT_GATEWAY_ID_SYSTEM.to_string(),
        }
    }
}

/// The identifier system of gateway ids unless configured otherwise.
pub const DEFAULT_GATEWAY_ID_SYSTEM: &str = "urn:fhirgate:gateway-id";

/// Why a reading cannot become FHIR.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MappingError {
    #[error(
        "the reading names no patient and no device-patient association covers its device at its time: give \
         the patient in the payload or associate the device (--associations); the bridge never guesses a patient"
    )]
    NoPatient,
    #[error("the device has no hardware identifier (EUI-64 system id or Bluetooth address) to identify it by")]
    NoDeviceIdentifier,
    #[error("the reading holds no measurement")]
    NoMeasurements,
    /// Names both measurements by code and where they were read, never the identifier itself (it
    /// contains the patient's id) nor the values.
    #[error(
        "two different values of {code} for one device, patient and time ({first} and {second}): a server \
         would keep only one, so the payload is refused rather than losing a value"
    )]
    ConflictingMeasurements {
        code: String,
        first: String,
        second: String,
    },
}

use full_url::full_url;

fn conditional_entry(full_url: String, resource: Resource, kind: &str, if_none_exist: String) -> BundleEntry {
    BundleEntry {
        full_url: Some(full_url.into()),
        resource: Some(resource),
        request: Some(BundleEntryRequest {
            method: "POST".into(),
            url: kind.into(),
            if_none_exist: Some(if_none_exist.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Maps a reading to a FHIR `transaction` Bundle.
///
/// The patient is referenced by identifier (a logical reference, `subject.identifier`), not by a
/// conditional reference: delivery resolves it to `Patient/{id}` at the EHR before sending, because
/// servers differ in whether they resolve `Patient?identifier=` inside transactions.
pub fn map_reading(reading: &Reading, options: &MappingOptions) -> Result<Bundle, MappingError> {
    map_readings(std::slice::from_ref(reading), options)
}

/// Maps several readings (one HL7 v2 message can report several devices) to one transaction Bundle.
/// Entries shared between readings, such as their gateway, appear once.
pub fn map_readings(readings: &[Reading], options: &MappingOptions) -> Result<Bundle, MappingError> {
    if readings.is_empty() {
        return Err(MappingError::NoMeasurements);
    }
    // An entry is over a kilobyte: sized once, the list is not copied as it grows.
    let capacity = readings.iter().map(entry_count).sum();
    let mut entries: Vec<BundleEntry> = Vec::with_capacity(capacity);
    // fullUrl → the entry's place and the measurement it holds (for a conflict's reason).
    let mut seen: std::collections::HashMap<String, (usize, Option<Source>)> =
        std::collections::HashMap::with_capacity(capacity);
    for reading in readings {
        for (entry, source) in reading_entries(reading, options)? {
            let url = entry
                .full_url
                .as_ref()
                .and_then(|u| u.value.clone())
                .unwrap_or_default();
            match seen.get(&url) {
                None => {
                    seen.insert(url, (entries.len(), source));
                    entries.push(entry);
                }
                // The same identity twice: a verbatim repeat (a resend, a device or gateway shared by
                // readings) is written once. Two Observations that differ under one identity cannot
                // both be stored, and keeping either silently would lose the other. (Devices keep the
                // first: what one payload says of a device, another may leave out.)
                Some((index, first)) => {
                    if let (Some(first), Some(second)) = (first, &source) {
                        if entries.get(*index) != Some(&entry) {
                            return Err(MappingError::ConflictingMeasurements {
                                code: second.code.clone(),
                                first: first.place.clone(),
                                second: second.place.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(Bundle {
        r#type: "transaction".into(),
        entry: entries,
        ..Default::default()
    })
}

/// How many entries a reading can give: its gateway, device, device parts, measurements and documents.
fn entry_count(reading: &Reading) -> usize {
    2 + reading.device.parts.len() + reading.measurements.len() + reading.documents.len()
}

/// A Device as a conditional create on its identifier, with the fullUrl other entries refer to it by.
fn device_entry(mapped: device::MappedDevice) -> (String, BundleEntry) {
    let (system, value) = &mapped.conditional_identifier;
    let url = full_url("Device", &format!("{system}|{value}"));
    let entry = conditional_entry(
        url.clone(),
        Resource::Device(Box::new(mapped.resource)),
        "Device",
        identifier_query(system, value),
    );
    (url, entry)
}

pub(crate) use observation::about_device;

/// The patient part of a measurement's dedup identifier: none for the device's own status.
fn dedup_patient<'a>(
    patient: Option<&'a PatientRef>,
    measurement: &crate::model::Measurement,
) -> Option<&'a PatientRef> {
    patient.filter(|_| !about_device(measurement))
}

/// What an Observation entry was made from, for a conflict's reason: its code and where it was read.
#[derive(Debug, Clone)]
struct Source {
    code: String,
    place: String,
}

fn reading_entries(
    reading: &Reading,
    options: &MappingOptions,
) -> Result<Vec<(BundleEntry, Option<Source>)>, MappingError> {
    if reading.measurements.is_empty() && reading.documents.is_empty() {
        return Err(MappingError::NoMeasurements);
    }
    // Only a reading of nothing but device status may lack a patient (a report is the patient's).
    let patient = reading.patient.as_ref();
    let about_patient = reading.measurements.iter().any(|m| !about_device(m)) || !reading.documents.is_empty();
    if patient.is_none() && about_patient {
        return Err(MappingError::NoPatient);
    }
    let device = device::measuring_device(&reading.device, reading.origin).ok_or(MappingError::NoDeviceIdentifier)?;
    let device_part = dedup::device_part(&reading.device).ok_or(MappingError::NoDeviceIdentifier)?;
    let mut entries = Vec::with_capacity(entry_count(reading));

    // A device that sends for itself (MSH-3 and OBX-18 name the same EUI-64, or OBX-18 names the
    // sending application itself, as GE Mural's alerts do) has no separate gateway.
    let own_gateway = |gateway: &crate::model::GatewayIdentity| {
        (gateway.system_id.is_some() && gateway.system_id == reading.device.system_id)
            || (reading.device.system_id.is_none()
                && reading
                    .device
                    .instance_id
                    .as_ref()
                    .is_some_and(|i| i.value == gateway.id))
    };
    let gateway_url = reading.gateway.as_ref().filter(|g| !own_gateway(g)).map(|gateway| {
        let (url, entry) = device_entry(device::gateway_device(
            gateway,
            &options.gateway_id_system,
            reading.origin,
        ));
        entries.push((entry, None));
        url
    });
    let mds_identifier = device.conditional_identifier.clone();
    let (device_url, entry) = device_entry(device);
    entries.push((entry, None));
    // The VMDs, then the channels, each under the level above it (the MDS when the message does not
    // describe the VMD).
    let mut parts: Vec<&crate::model::DevicePart> = reading.device.parts.iter().collect();
    parts.sort_by_key(|p| p.path.len());
    let mut part_urls: Vec<(Vec<u32>, String)> = Vec::new();
    for part in parts {
        let parent = part
            .path
            .split_last()
            .and_then(|(_, above)| part_urls.iter().find(|(path, _)| path.as_slice() == above))
            .map_or(device_url.as_str(), |(_, url)| url.as_str())
            .to_string();
        let (url, entry) = device_entry(device::device_part(&mds_identifier, part, &parent));
        entries.push((entry, None));
        part_urls.push((part.path.clone(), url));
    }

    let subject = patient.map(|patient| Reference {
        r#type: Some("Patient".into()),
        identifier: Some(Box::new(Identifier {
            system: Some(patient.system.as_str().into()),
            value: Some(patient.value.as_str().into()),
            ..Default::default()
        })),
        ..Default::default()
    });
    let identifiers: Vec<String> = reading
        .measurements
        .iter()
        .map(|m| {
            dedup::observation_identifier(
                &device_part,
                dedup_patient(patient, m),
                m,
                reading.receipt_key.as_deref(),
            )
        })
        .collect();
    let measurement_urls: Vec<String> = identifiers.iter().map(|id| full_url("Observation", id)).collect();
    let links = observation::ObservationLinks {
        origin: reading.origin,
        patient: subject.as_ref(),
        device_url: &device_url,
        part_urls: &part_urls,
        gateway_url: gateway_url.as_deref(),
        measurement_urls: &measurement_urls,
        location: reading.location.as_ref(),
    };
    for (index, ((measurement, identifier), url)) in reading
        .measurements
        .iter()
        .zip(&identifiers)
        .zip(&measurement_urls)
        .enumerate()
    {
        // PHD IG (PhdBitsEnumerationObservation): event bits are reported only when set, so a status
        // word with no bit set has nothing to report.
        if let Some(Value::Flags(flags)) = &measurement.value {
            if !flags.iter().any(|f| f.set) {
                continue;
            }
        }
        let source = Source {
            code: measurement
                .label
                .clone()
                .unwrap_or_else(|| measurement.code.to_string()),
            place: measurement
                .source
                .clone()
                .unwrap_or_else(|| format!("measurement {index}")),
        };
        let resource = observation::observation(measurement, identifier, &links);
        let query = identifier_query(observation::observation_identifier_system(reading.origin), identifier);
        entries.push((
            conditional_entry(
                url.clone(),
                Resource::Observation(Box::new(resource)),
                "Observation",
                query,
            ),
            Some(source),
        ));
    }
    for document in &reading.documents {
        let id = dedup::document_identifier(&device_part, patient, document);
        let resource = document::document_reference(document, &id, subject.as_ref(), &device_url);
        let source = Source {
            code: document
                .kind
                .as_ref()
                .map_or_else(|| "document".to_string(), |k| k.code.clone()),
            place: document.source.clone().unwrap_or_else(|| "a document".into()),
        };
        entries.push((
            conditional_entry(
                full_url("DocumentReference", &id),
                Resource::DocumentReference(Box::new(resource)),
                "DocumentReference",
                identifier_query(document::DOCUMENT_IDENTIFIER_SYSTEM, &id),
            ),
            Some(source),
        ));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::patients::{patient_identifiers, resolve_patients};

    #[test]
    fn patients_found_at_the_ehr_are_referenced_by_id_beside_their_identifier() {
        let mut bundle = map_reading(&reading(&[120]), &MappingOptions::default()).unwrap();
        let key = ("urn:oid:1.2.3".to_string(), "P1".to_string());
        assert_eq!(
            patient_identifiers(&bundle).into_iter().collect::<Vec<_>>(),
            vec![key.clone()]
        );
        let mut found = std::collections::HashMap::new();
        resolve_patients(&mut bundle, &found);
        assert_eq!(patient_identifiers(&bundle).len(), 1, "nothing found, nothing changed");
        found.insert(key, "p-17".to_string());
        resolve_patients(&mut bundle, &found);
        let mut patient_subjects = 0;
        for entry in &bundle.entry {
            let Some(Resource::Observation(observation)) = &entry.resource else {
                continue;
            };
            let subject = observation.subject.as_deref().unwrap();
            if subject.r#type.as_ref().and_then(|t| t.value.as_deref()) == Some("Patient") {
                patient_subjects += 1;
                assert_eq!(
                    subject.reference.as_ref().and_then(|r| r.value.as_deref()),
                    Some("Patient/p-17")
                );
                let identifier = subject.identifier.as_deref().unwrap();
                assert_eq!(identifier.value.as_ref().and_then(|v| v.value.as_deref()), Some("P1"));
            } else {
                assert!(subject
                    .reference
                    .as_ref()
                    .and_then(|r| r.value.as_deref())
                    .is_some_and(|r| r.starts_with("urn:uuid:")));
            }
        }
        assert_eq!(patient_subjects, 1);
        assert!(patient_identifiers(&bundle).is_empty(), "all resolved");
    }

    #[test]
    fn the_performer_of_a_typed_in_value_is_resolved_with_the_subject() {
        let mut typed = reading(&[71]);
        typed.measurements[0].circumstances.self_reported = true;
        let mut bundle = map_reading(&typed, &MappingOptions::default()).unwrap();
        let found =
            std::collections::HashMap::from([(("urn:oid:1.2.3".to_string(), "P1".to_string()), "p-17".to_string())]);
        resolve_patients(&mut bundle, &found);
        let observation = bundle
            .entry
            .iter()
            .find_map(|e| match &e.resource {
                Some(Resource::Observation(o)) => Some(o),
                _ => None,
            })
            .unwrap();
        let performer = observation.performer.first().unwrap();
        assert_eq!(
            performer.reference.as_ref().and_then(|r| r.value.as_deref()),
            Some("Patient/p-17")
        );
        assert!(observation.device.is_none(), "no device measured a typed-in value");
    }

    fn reading(values: &[i64]) -> Reading {
        use crate::model::*;
        use chrono::{DateTime, FixedOffset};
        let received_at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap();
        let time = EffectiveTime::Instant(Timestamp::gateway_receipt(received_at, NoDeviceTimeReason::NotSent));
        Reading {
            device: DeviceIdentity {
                bluetooth_address: Some("C4:7C:8D:6A:1F:20".parse().unwrap()),
                ..Default::default()
            },
            gateway: None,
            patient: Some(PatientRef {
                system: "urn:oid:1.2.3".into(),
                value: "P1".into(),
            }),
            received_at: received_at.with_timezone(&FixedOffset::east_opt(0).unwrap()),
            origin: Origin::PersonalHealth,
            documents: Vec::new(),
            patient_withheld: None,
            receipt_key: None,
            location: None,
            measurements: values
                .iter()
                .map(|&v| {
                    let q = Value::Quantity(Quantity::new(Decimal::integer(v), "/min"));
                    Measurement::simple(crate::codes::mdc::ECG_HEART_RATE, q, time)
                })
                .collect(),
        }
    }

    #[test]
    fn a_verbatim_repeat_is_one_observation_but_a_conflict_is_an_error() {
        let bundle = map_reading(&reading(&[72, 72]), &MappingOptions::default()).unwrap();
        assert_eq!(bundle.entry.len(), 2, "device + one Observation");
        let error = map_reading(&reading(&[72, 73]), &MappingOptions::default()).unwrap_err();
        assert!(matches!(error, MappingError::ConflictingMeasurements { .. }), "{error}");
        assert!(
            !error.to_string().contains("P1"),
            "the patient id stays out of error messages: {error}"
        );
    }

    #[test]
    fn a_reading_without_patient_is_refused() {
        let mut without = reading(&[72]);
        without.patient = None;
        assert_eq!(
            map_reading(&without, &MappingOptions::default()).unwrap_err(),
            MappingError::NoPatient
        );
    }

    #[test]
    fn full_urls_are_stable_uuids() {
        let a = full_url("Device", "x|y");
        assert_eq!(a, full_url("Device", "x|y"));
        assert_ne!(a, full_url("Observation", "x|y"));
        assert!(a.starts_with("urn:uuid:") && a.len() == 45, "{a}");
    }
}
