//! IHE PCD device observation reports become model readings, one per MDS (medical device system, the
//! first number of the OBX-4 containment path):
//! * PCD-01 `ORU^R01` (Device Enterprise Communication): device rows (no value; containment path
//!   ending in zeros, e.g. `1.1.0.0`) describe the MDS, VMD and channel; every row with a value is a
//!   metric of the MDS its path starts with (IHE PCD TF-2 §B.8).
//! * PCD-10 `ORU^R42` (infusion events): the same, except that the event condition (68487) and event
//!   source (68488) rows become one event measurement coded by the event (e.g. 197288 delivery start).
//! * PCD-04 `ORU^R40` (alerts): the rows sharing a path prefix are one alert, which becomes one
//!   measurement coded by the alert's event, valued by its text, with source, phase, state,
//!   inactivation state, priority, type and the triggering value as components.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset};
use thiserror::Error;

use super::report::{significant, DeviceObservationReport, EquipmentId, ObxRow, ObxValue};
use super::time::Hl7DateTime;
use crate::codes::mdc;
use crate::model::{
    CareLocation, ClockQuality, Component, DeviceIdentity, DevicePart, EffectiveTime, GatewayIdentity, InstanceId,
    MdcCode, Measurement, NoDeviceTimeReason, OffsetSource, Origin, PatientRef, Quantity, Reading, Timestamp, Value,
};

/// MDC_ATTR_SYS_ID: a metric row whose value is the device's EUI-64.
const MDC_ATTR_SYS_ID: u32 = 67972;
/// MDC_ATTR_ID_MODEL: the device's model.
const MDC_ATTR_ID_MODEL: u32 = 67880;
/// The production specification's revisions (the same codes type `Device.version` for PHDs).
const MDC_ID_PROD_SPEC_HW: u32 = 531974;
const MDC_ID_PROD_SPEC_SW: u32 = 531975;
const MDC_ID_PROD_SPEC_FW: u32 = 531976;

/// Prefix of patient identifier systems built from a PID-3 assigning authority that is not an OID.
pub const ASSIGNING_AUTHORITY_SYSTEM_PREFIX: &str = "urn:fhirgate:assigning-authority:";

/// Why a report cannot become readings.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PcdError {
    #[error("message type {0} is not a device observation report (IHE PCD-01 ORU^R01); it is not mapped")]
    NotDeviceObservation(String),
    #[error("the message reports no observation value (every OBX is a device description or empty)")]
    NoMetrics,
    #[error(
        "MDS {mds} has no identity: no EUI-64 in OBX-18 or MDC_ATTR_SYS_ID, and no equipment instance id; \
         the bridge cannot say which device measured"
    )]
    NoDeviceIdentity { mds: u32 },
}

/// Settings the message may leave open.
#[derive(Debug, Clone, Copy)]
pub struct PcdSettings {
    /// The UTC offset of times that carry none when MSH-7 carries none either.
    pub default_offset: FixedOffset,
    /// When the bridge received the message (the time of last resort).
    pub received_at: DateTime<FixedOffset>,
}

/// The patient identifier system of a PID-3 assigning authority: `urn:oid:` for an OID, else a fhirgate
/// URN naming the authority (HL7 v2 assigning authorities are local names, not URIs).
pub fn assigning_authority_system(authority: Option<&str>) -> String {
    crate::model::namespace_system(authority, ASSIGNING_AUTHORITY_SYSTEM_PREFIX)
}

fn is_device_row(row: &ObxRow) -> bool {
    row.value == ObxValue::Empty && (1..=3).contains(&row.path.significant().len())
}

/// The VMD or channel a row belongs to: the first three numbers of its path without trailing zeros
/// (`1.2.1.5` → `[1, 2, 1]`, `1.2.0.3` → `[1, 2]`); empty for a row of the MDS itself (`1.0.0.2`).
fn part_of(path: &[u32]) -> Vec<u32> {
    let part = significant(path.get(..path.len().min(3)).unwrap_or(&[]));
    if part.len() >= 2 {
        part.to_vec()
    } else {
        Vec::new()
    }
}

/// Accepts device observation reports by MSH-9 before anything else is read, so that an order
/// (`RGV^O15`) or an acknowledgement is refused as what it is.
pub fn accept_message_type(message_type: Option<&str>, trigger_event: Option<&str>) -> Result<(), PcdError> {
    let kind = format!(
        "{}^{}",
        message_type.unwrap_or_default(),
        trigger_event.unwrap_or_default()
    );
    match (message_type, trigger_event) {
        (Some("ORU"), Some("R01" | "R40" | "R42")) => Ok(()),
        _ => Err(PcdError::NotDeviceObservation(kind)),
    }
}

/// The readings of a PCD-01 report, one per MDS, in path order.
pub fn readings(report: &DeviceObservationReport, settings: &PcdSettings) -> Result<Vec<Reading>, PcdError> {
    accept_message_type(Some(&report.message_type), Some(&report.trigger_event))?;
    let gateway = GatewayIdentity {
        id: report
            .sending_application
            .namespace
            .clone()
            .or_else(|| report.sending_application.universal_id.clone())
            .unwrap_or_default(),
        system_id: report.sending_application.eui64(),
        ..Default::default()
    };
    let patient = report.patient.as_ref().map(|p| PatientRef {
        system: assigning_authority_system(p.assigning_authority.as_deref()),
        value: p.id.clone(),
    });

    // Rows with the default time of their OBR.
    let rows: Vec<(&ObxRow, Option<Hl7DateTime>)> = report
        .groups
        .iter()
        .flat_map(|g| g.rows.iter().map(move |r| (r, g.time)))
        .collect();
    let mut mds_numbers: Vec<u32> = rows.iter().filter_map(|(r, _)| r.path.0.first().copied()).collect();
    mds_numbers.sort_unstable();
    mds_numbers.dedup();

    let mut readings = Vec::new();
    for mds in mds_numbers {
        let in_mds: Vec<&(&ObxRow, Option<Hl7DateTime>)> =
            rows.iter().filter(|(r, _)| r.path.0.first() == Some(&mds)).collect();
        let ancestors = AncestorTimes::new(&in_mds);
        let time_of =
            |row: &ObxRow, obr_time: Option<Hl7DateTime>| row_time(row, obr_time, &ancestors, report, settings);
        let measurements = match report.trigger_event.as_str() {
            "R40" => alerts(&in_mds, &time_of),
            "R42" => events_and_metrics(&in_mds, &time_of),
            _ => metrics(&in_mds, &time_of, |_| true),
        };
        if measurements.is_empty() {
            continue;
        }
        readings.push(Reading {
            device: identity(mds, &in_mds, report)?,
            gateway: (!gateway.id.is_empty()).then(|| gateway.clone()),
            patient: patient.clone(),
            received_at: settings.received_at,
            measurements,
            origin: Origin::PointOfCare,
            location: care_location(report.location.as_ref(), &in_mds),
        });
    }
    if readings.is_empty() {
        return Err(PcdError::NoMetrics);
    }
    Ok(readings)
}

type Rows<'a> = [&'a (&'a ObxRow, Option<Hl7DateTime>)];

/// Every valued row of the MDS that `keep` accepts, as its own measurement.
fn metrics(
    rows: &Rows<'_>,
    time_of: &dyn Fn(&ObxRow, Option<Hl7DateTime>) -> EffectiveTime,
    keep: impl Fn(&ObxRow) -> bool,
) -> Vec<Measurement> {
    rows.iter()
        .filter(|(r, _)| !is_device_row(r) && r.value != ObxValue::Empty && keep(r))
        .map(|(row, obr_time)| {
            Measurement::simple(MdcCode(row.code.code), value(row), time_of(row, *obr_time))
                .with_label(row.code.reference_id.clone())
                .with_device_part(part_of(&row.path.0))
        })
        .collect()
}

/// True when `row` is the attribute `code`, also when the sender marks the code pending (0) and names
/// it by its reference id (the PCD-10 TF example does this for the event condition and source).
fn is_attribute(row: &ObxRow, code: MdcCode, reference_id: &str) -> bool {
    row.code.code == code.0 || (row.code.code == 0 && row.code.reference_id.as_deref() == Some(reference_id))
}

/// PCD-10: the event (condition + source) as one measurement, then the other rows as metrics.
fn events_and_metrics(
    rows: &Rows<'_>,
    time_of: &dyn Fn(&ObxRow, Option<Hl7DateTime>) -> EffectiveTime,
) -> Vec<Measurement> {
    let is_condition = |r: &ObxRow| is_attribute(r, mdc::ATTR_EVT_COND, "MDC_ATTR_EVT_COND");
    let is_source = |r: &ObxRow| is_attribute(r, mdc::ATTR_EVT_SOURCE, "MDC_ATTR_EVT_SOURCE");
    let mut out = Vec::new();
    if let Some((condition, obr_time)) = rows.iter().map(|x| **x).find(|(r, _)| is_condition(r)) {
        let (code, text) = match &condition.value {
            ObxValue::Coded {
                code,
                text,
                original_text,
                ..
            } => (code.unwrap_or(0), original_text.clone().or(text.clone())),
            ObxValue::Text(text) => (0, Some(text.clone())),
            _ => (0, None),
        };
        let mut components = Vec::new();
        // The event is the source channel's (its path is the source's value), else the condition row's.
        let mut part = part_of(&condition.path.0);
        if let Some((source, _)) = rows.iter().map(|x| **x).find(|(r, _)| is_source(r)) {
            let source_path = match &source.value {
                ObxValue::Text(path) => path.clone(),
                _ => String::new(),
            };
            components.push(Component::new(mdc::ATTR_EVT_SOURCE, Value::Text(source_path.clone())));
            // The source channel's label, e.g. "Primary", when the message carries it.
            let channel: Vec<u32> = source_path.split('.').filter_map(|p| p.parse().ok()).collect();
            let source_part = part_of(&channel);
            if !source_part.is_empty() {
                part = source_part;
            }
            let label = rows.iter().map(|x| x.0).find(|r| {
                r.path.0.starts_with(significant(&channel))
                    && r.code
                        .reference_id
                        .as_deref()
                        .is_some_and(|id| id.ends_with("PUMP_SOURCE_CHANNEL_LABEL"))
            });
            if let Some(label_row) = label {
                components.push(Component {
                    code: MdcCode(label_row.code.code),
                    label: label_row.code.reference_id.clone(),
                    value: value(label_row),
                });
            }
        }
        let time = time_of(condition, obr_time);
        out.push(
            Measurement::simple(MdcCode(code), Value::Text(text.clone().unwrap_or_default()), time)
                .with_components(components)
                .with_label(text)
                .with_device_part(part),
        );
    }
    out.extend(metrics(rows, time_of, |r| !is_condition(r) && !is_source(r)));
    out
}

/// PCD-04: one measurement per alert (rows sharing all but the last path element).
fn alerts(rows: &Rows<'_>, time_of: &dyn Fn(&ObxRow, Option<Hl7DateTime>) -> EffectiveTime) -> Vec<Measurement> {
    // Rows by alert (all but the last path element), alerts in path order, rows in message order.
    let mut groups: BTreeMap<&[u32], Vec<&(&ObxRow, Option<Hl7DateTime>)>> = BTreeMap::new();
    for entry in rows.iter().copied() {
        if let Some((_, prefix)) = entry.0.path.0.split_last() {
            groups.entry(prefix).or_default().push(entry);
        }
    }
    let mut out = Vec::new();
    for mut group in groups.into_values() {
        group.sort_by_key(|(r, _)| r.path.0.last().copied());
        let Some((first, obr_time)) = group.first().map(|x| **x) else {
            continue;
        };
        // The event is the first row: a generic MDC_EVT_ALARM whose value names the specific event
        // (B. Braun), or the specific event itself with the alert text as its value (Mindray).
        let (code, label, text) = match (&first.value, first.code.code == mdc::EVT_ALARM.0) {
            (
                ObxValue::Coded {
                    code,
                    text,
                    original_text,
                    ..
                },
                true,
            ) => (
                code.unwrap_or(mdc::EVT_ALARM.0),
                text.clone(),
                original_text.clone().or(text.clone()),
            ),
            (ObxValue::Text(text), _) => (first.code.code, first.code.reference_id.clone(), Some(text.clone())),
            (
                ObxValue::Coded {
                    text, original_text, ..
                },
                false,
            ) => (
                first.code.code,
                first.code.reference_id.clone(),
                original_text.clone().or(text.clone()),
            ),
            _ => (first.code.code, first.code.reference_id.clone(), None),
        };
        let mut components: Vec<Component> = group
            .iter()
            .skip(1)
            .filter(|(r, _)| r.value != ObxValue::Empty)
            .map(|(r, _)| Component {
                code: MdcCode(r.code.code),
                label: r.code.reference_id.clone(),
                value: value(r),
            })
            .collect();
        // OBX-8 of the event row carries priority (PH/PM/PL/PN) and alert type (SP/ST/SA).
        for flag in &first.abnormal_flags {
            let (code, meaning) = match flag.as_str() {
                "PH" => (mdc::ATTR_ALARM_PRIORITY, "high"),
                "PM" => (mdc::ATTR_ALARM_PRIORITY, "medium"),
                "PL" => (mdc::ATTR_ALARM_PRIORITY, "low"),
                "PN" => (mdc::ATTR_ALARM_PRIORITY, "none"),
                "SP" => (mdc::ATTR_ALERT_TYPE, "physiological"),
                "ST" => (mdc::ATTR_ALERT_TYPE, "technical"),
                "SA" => (mdc::ATTR_ALERT_TYPE, "advisory"),
                _ => continue,
            };
            components.push(Component::new(code, Value::Text(meaning.to_string())));
        }
        let time = time_of(first, obr_time);
        out.push(
            Measurement::simple(MdcCode(code), Value::Text(text.unwrap_or_default()), time)
                .with_components(components)
                .with_label(label)
                .with_device_part(part_of(&first.path.0)),
        );
    }
    out
}

fn value(row: &ObxRow) -> Value {
    match &row.value {
        ObxValue::Numeric(number) => Value::Quantity(Quantity {
            value: *number,
            unit: row.unit.clone().unwrap_or_default(),
        }),
        ObxValue::Coded { code, text, .. } => Value::Concept {
            code: code.map(MdcCode),
            text: text.clone(),
        },
        ObxValue::Text(text) => Value::Text(text.clone()),
        ObxValue::Empty => Value::Text(String::new()),
    }
}

/// The OBX-14 times of one MDS's rows by significant containment path (`1.1.0.0` → `1.1`), so that a
/// row's nearest timed ancestor is found by walking up its own path instead of rescanning every row.
struct AncestorTimes<'a> {
    by_path: HashMap<&'a [u32], Vec<(usize, Hl7DateTime)>>,
}

impl<'a> AncestorTimes<'a> {
    fn new(rows: &Rows<'a>) -> Self {
        let mut by_path: HashMap<&'a [u32], Vec<(usize, Hl7DateTime)>> = HashMap::new();
        for (row, _) in rows.iter().copied() {
            if let Some(time) = row.time {
                by_path
                    .entry(row.path.significant())
                    .or_default()
                    .push((row.path.0.len(), time));
            }
        }
        AncestorTimes { by_path }
    }

    /// The time of the deepest row above `path` that has one (the last such row in message order when
    /// several share that path), ignoring rows whose own path is longer than `path`.
    fn nearest(&self, path: &[u32]) -> Option<Hl7DateTime> {
        (0..path.len()).rev().find_map(|depth| {
            let timed = self.by_path.get(path.get(..depth)?)?;
            timed
                .iter()
                .rev()
                .find(|(len, _)| *len <= path.len())
                .map(|(_, time)| *time)
        })
    }
}

/// OBX-14 of the row, else of its nearest ancestor row that has one, else OBR-7, else MSH-7; with the
/// row's own offset, else MSH-7's, else the configured default. Without any time: the receipt time.
fn row_time(
    row: &ObxRow,
    obr_time: Option<Hl7DateTime>,
    ancestors: &AncestorTimes<'_>,
    report: &DeviceObservationReport,
    settings: &PcdSettings,
) -> EffectiveTime {
    let ancestor_time = ancestors.nearest(&row.path.0);
    let Some(time) = row.time.or(ancestor_time).or(obr_time).or(report.message_time) else {
        return EffectiveTime::Instant(Timestamp::gateway_receipt(
            settings.received_at,
            NoDeviceTimeReason::NotSent,
        ));
    };
    let (offset, source) = match (time.offset, report.message_time.and_then(|t| t.offset)) {
        (Some(own), _) => (own, OffsetSource::Envelope),
        (None, Some(message)) => (message, OffsetSource::Envelope),
        (None, None) => (settings.default_offset, OffsetSource::ConfiguredDefault),
    };
    EffectiveTime::Instant(Timestamp {
        local: time.local,
        offset,
        quality: ClockQuality::DeviceClock { offset: source },
    })
}

/// Where the device was: PV1-3, with what the device's own OBX-18 repetitions say overriding it.
/// Pumps and monitors that report their ward, room or bed put each in a repetition labelled so in
/// its namespace or universal-id type (`ICU-3^WARD~12^BED`); the device's report is more precise than
/// the patient's assigned location in PV1.
fn care_location(assigned: Option<&CareLocation>, rows: &[&(&ObxRow, Option<Hl7DateTime>)]) -> Option<CareLocation> {
    let mut location = assigned.cloned().unwrap_or_default();
    for id in rows.iter().flat_map(|(r, _)| &r.equipment) {
        let Some(entity) = id.entity.as_ref().filter(|e| !e.trim().is_empty()) else {
            continue;
        };
        match location_label(id) {
            Some(LocationPart::Ward) => location.point_of_care = Some(entity.clone()),
            Some(LocationPart::Room) => location.room = Some(entity.clone()),
            Some(LocationPart::Bed) => location.bed = Some(entity.clone()),
            None => {}
        }
    }
    (location != CareLocation::default()).then_some(location)
}

enum LocationPart {
    Ward,
    Room,
    Bed,
}

/// What part of a location an OBX-18 repetition names, by its label; `None` for an equipment id.
fn location_label(id: &EquipmentId) -> Option<LocationPart> {
    [&id.namespace, &id.universal_id_type]
        .iter()
        .filter_map(|l| l.as_deref())
        .find_map(|label| match label.trim().to_ascii_uppercase().as_str() {
            "WARD" | "UNIT" | "POC" => Some(LocationPart::Ward),
            "ROOM" => Some(LocationPart::Room),
            "BED" => Some(LocationPart::Bed),
            _ => None,
        })
}

/// The MDS's identity: EUI-64 from its own OBX-18, else from any of its rows, else MDC_ATTR_SYS_ID;
/// without an EUI, its equipment instance id; the model from MDC_ATTR_ID_MODEL; the type from its row.
fn identity(
    mds: u32,
    rows: &[&(&ObxRow, Option<Hl7DateTime>)],
    report: &DeviceObservationReport,
) -> Result<DeviceIdentity, PcdError> {
    let mds_row = rows
        .iter()
        .map(|(r, _)| *r)
        .find(|r| is_device_row(r) && r.path.significant() == [mds]);
    // A repetition naming the ward or bed is where the device is, not which device it is.
    let equipment: Vec<&EquipmentId> = mds_row
        .into_iter()
        .flat_map(|r| &r.equipment)
        .chain(rows.iter().flat_map(|(r, _)| &r.equipment))
        .filter(|id| location_label(id).is_none())
        .collect();
    let sys_id_value = rows
        .iter()
        .find(|(r, _)| r.code.code == MDC_ATTR_SYS_ID)
        .and_then(|(r, _)| match &r.value {
            ObxValue::Text(text) => text.parse().ok(),
            _ => None,
        });
    let system_id = equipment.iter().find_map(|e| e.eui64()).or(sys_id_value);
    let instance_id = if system_id.is_some() {
        None
    } else {
        equipment.iter().find_map(|e| {
            Some(InstanceId {
                value: e.entity.clone()?,
                namespace: e
                    .namespace
                    .clone()
                    .or_else(|| e.universal_id.clone())
                    .or_else(|| report.sending_application.namespace.clone()),
            })
        })
    };
    // An attribute of the MDS itself (`1.0.0.n`), as text.
    let attribute = |code: u32| {
        rows.iter()
            .find(|(r, _)| r.code.code == code && part_of(&r.path.0).is_empty())
            .and_then(|(r, _)| match &r.value {
                ObxValue::Text(text) => Some(text.clone()),
                ObxValue::Coded { text, .. } => text.clone(),
                _ => None,
            })
    };
    let model_number = attribute(MDC_ATTR_ID_MODEL);
    // Senders also put a compound metric at the channel level (`150020^MDC_PRESS_BLD_NONINV` at
    // `1.0.1`, grouping systolic and diastolic): only rows that name a device (`MDC_DEV_…`, or no
    // reference id at all) are parts.
    let names_a_device = |r: &ObxRow| {
        r.code
            .reference_id
            .as_deref()
            .is_none_or(|id| id.starts_with("MDC_DEV_"))
    };
    let parts = rows
        .iter()
        .map(|(r, _)| *r)
        .filter(|r| is_device_row(r) && (2..=3).contains(&r.path.significant().len()) && names_a_device(r))
        .map(|r| DevicePart {
            path: r.path.significant().to_vec(),
            code: MdcCode(r.code.code),
            reference_id: r.code.reference_id.clone(),
        })
        .collect();
    let identity = DeviceIdentity {
        system_id,
        instance_id,
        model_number,
        firmware_revision: attribute(MDC_ID_PROD_SPEC_FW),
        software_revision: attribute(MDC_ID_PROD_SPEC_SW),
        hardware_revision: attribute(MDC_ID_PROD_SPEC_HW),
        mds_type: mds_row.map(|r| (MdcCode(r.code.code), r.code.reference_id.clone())),
        parts,
        ..Default::default()
    };
    if !identity.is_identifiable() {
        return Err(PcdError::NoDeviceIdentity { mds });
    }
    Ok(identity)
}
