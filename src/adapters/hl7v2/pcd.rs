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

use super::left_out::LeftOutRow;
use super::report::{significant, DeviceObservationReport, EquipmentId, ObxRow, ObxValue};
use super::time::Hl7DateTime;
use super::waveform;
use crate::codes::mdc;
use crate::model::{
    CareLocation, ClockQuality, Component, DeviceIdentity, DevicePart, EffectiveTime, Eui64, GatewayIdentity,
    InstanceId, MdcCode, Measurement, NoDeviceTimeReason, OffsetSource, Origin, PatientRef, QualityFlag, Quantity,
    Reading, Timestamp, Value,
};

/// MDC_ATTR_SYS_ID: a metric row whose value is the device's EUI-64.
const MDC_ATTR_SYS_ID: u32 = 67972;
/// MDC_ATTR_ID_MODEL: the device's model.
const MDC_ATTR_ID_MODEL: u32 = 67880;
/// MDC_ATTR_ALERT_TEXT: the text the device shows for an alert.
const MDC_ATTR_ALERT_TEXT: u32 = 68546;
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
        "MDS {mds} has no identity: no EUI-64 that names one device in OBX-18 or MDC_ATTR_SYS_ID (an EUI-64 \
         whose device part is all zeros or ones, or one the message repeats for several devices, names none), \
         no other system id and no equipment instance id; the bridge cannot say which device measured"
    )]
    NoDeviceIdentity { mds: u32 },
}

/// Settings the message may leave open.
#[derive(Debug, Clone, Copy)]
pub struct PcdSettings<'a> {
    /// The UTC offset of times that carry none when MSH-7 carries none either.
    pub default_offset: FixedOffset,
    /// When the bridge received the message (the time of last resort).
    pub received_at: DateTime<FixedOffset>,
    /// The identifier system of PID-3 ids that carry no assigning authority (CX-4), for a site whose
    /// gateways send MRNs without one; `None`: such an id names nobody for sure, so the reading waits
    /// for an association.
    pub unqualified_patient_system: Option<&'a str>,
}

/// MDC_MOC_NCC_WIRELESS and MDC_MOC_BATTERY: objects of the device whose attributes (IP address,
/// MAC, SSID, signal strength; battery state and capacity) are facts about the device.
const DEVICE_FACT_OBJECTS: [u32; 2] = [65620, 65577];

/// What becomes of PID-3: the patient, or why there is none to take.
fn patient_of(report: &DeviceObservationReport, settings: &PcdSettings) -> (Option<PatientRef>, Option<String>) {
    let Some(p) = report.patient.as_ref() else {
        return (None, None);
    };
    if p.identity_unknown {
        return (
            None,
            Some("PID-31 (identity unknown indicator) is Y: the sender does not know the patient".into()),
        );
    }
    match (p.assigning_authority.as_deref(), settings.unqualified_patient_system) {
        (Some(authority), _) => (
            Some(PatientRef {
                system: assigning_authority_system(Some(authority)),
                value: p.id.clone(),
            }),
            None,
        ),
        (None, Some(system)) => (
            Some(PatientRef {
                system: system.to_string(),
                value: p.id.clone(),
            }),
            None,
        ),
        (None, None) => (
            None,
            Some(
                "PID-3 has no assigning authority (CX-4), so its id could belong to any patient of any \
                 system; set mapping.unqualified_patient_system if this site's gateways send MRNs so"
                    .into(),
            ),
        ),
    }
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
    // Only a type of HL7 table 0076 with a trigger event of HL7's shape is named: MSH-9 may hold
    // anything, and a refusal quotes no field value.
    let hl7_shaped =
        |event: &str| event.len() == 3 && event.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let kind = match (message_type, trigger_event) {
        (Some(code), Some(event)) if crate::codes::is_hl7_message_type(code) && hl7_shaped(event) => {
            format!("{code}^{event}")
        }
        (Some(code), None) if crate::codes::is_hl7_message_type(code) => code.to_string(),
        _ => "outside HL7 table 0076 (MSH-9)".to_string(),
    };
    match (message_type, trigger_event) {
        (Some("ORU"), Some("R01" | "W01" | "R40" | "R42")) => Ok(()),
        _ => Err(PcdError::NotDeviceObservation(kind)),
    }
}

/// The readings of a PCD-01 report, one per MDS, in path order.
pub fn readings(report: &DeviceObservationReport, settings: &PcdSettings) -> Result<Vec<Reading>, PcdError> {
    readings_explained(report, settings).map(|(readings, _)| readings)
}

/// [`readings`], with the rows left out and why (a waveform that cannot be timed, a lead whose code
/// and name disagree).
pub fn readings_explained(
    report: &DeviceObservationReport,
    settings: &PcdSettings,
) -> Result<(Vec<Reading>, Vec<LeftOutRow>), PcdError> {
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
    let (patient, patient_withheld) = patient_of(report, settings);

    // Rows with the default time of their OBR.
    let rows: Vec<(&ObxRow, Option<Hl7DateTime>)> = report
        .groups
        .iter()
        .flat_map(|g| g.rows.iter().map(move |r| (r, g.time)))
        .collect();
    let mut mds_numbers: Vec<u32> = rows.iter().filter_map(|(r, _)| r.path.0.first().copied()).collect();
    mds_numbers.sort_unstable();
    mds_numbers.dedup();

    let shared = shared_euis(&rows, &mds_numbers);
    let mut readings = Vec::new();
    let mut left_out = Vec::new();
    for mds in mds_numbers {
        let in_mds: Vec<&(&ObxRow, Option<Hl7DateTime>)> =
            rows.iter().filter(|(r, _)| r.path.0.first() == Some(&mds)).collect();
        let ancestors = AncestorTimes::new(&in_mds);
        let time_of =
            |row: &ObxRow, obr_time: Option<Hl7DateTime>| row_time(row, obr_time, &ancestors, report, settings);
        let mut measurements = match report.trigger_event.as_str() {
            "R40" => alerts(&in_mds, &time_of),
            "R42" => events_and_metrics(&in_mds, &time_of),
            // PCD-01 (`R01`, and `W01` for waveforms): the waveforms, then every other valued row.
            _ => {
                let waves = waveform::waveforms(&in_mds, &time_of, &part_of);
                left_out.extend(waves.left_out);
                // A range outside a waveform (an alarm limit pair) has no measurement of its own yet.
                left_out.extend(
                    in_mds
                        .iter()
                        .filter(|(r, _)| matches!(r.value, ObxValue::Range(..)) && !waves.consumed.contains(&r.segment))
                        .map(|(r, _)| LeftOutRow {
                            segment: r.segment,
                            reason: format!(
                                "OBX segment {} ({}): a numeric range (NR) that is no waveform's attribute is not mapped",
                                r.segment, r.path
                            ),
                        }),
                );
                let mut measurements = metrics(&in_mds, &time_of, |r| !waves.consumed.contains(&r.segment));
                measurements.extend(waves.measurements);
                measurements
            }
        };
        // MSH-11 `T` (training) or `D` (debugging): the whole message is not a patient's data
        // (Philips central stations send their demo beds so).
        if report
            .processing_id
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("T") || p.eq_ignore_ascii_case("D"))
        {
            for m in &mut measurements {
                if !m.quality.contains(&QualityFlag::TestData) {
                    m.quality.push(QualityFlag::TestData);
                }
            }
        }
        if measurements.is_empty() {
            continue;
        }
        readings.push(Reading {
            device: identity(mds, &in_mds, report, &shared)?,
            gateway: (!gateway.id.is_empty()).then(|| gateway.clone()),
            patient: patient.clone(),
            received_at: settings.received_at,
            measurements,
            origin: Origin::PointOfCare,
            documents: Vec::new(),
            patient_withheld: patient_withheld.clone(),
            receipt_key: None,
            location: care_location(report.location.as_ref(), &in_mds),
        });
    }
    if readings.is_empty() {
        return Err(PcdError::NoMetrics);
    }
    Ok((readings, left_out))
}

type Rows<'a> = [&'a (&'a ObxRow, Option<Hl7DateTime>)];

/// Every valued row of the MDS that `keep` accepts, as its own measurement. The system id is the
/// device's identity, not a measurement ([`identity`]); rows of the device's network and battery
/// objects, and the device facts of the code table, are about the device.
fn metrics(
    rows: &Rows<'_>,
    time_of: &dyn Fn(&ObxRow, Option<Hl7DateTime>) -> EffectiveTime,
    keep: impl Fn(&ObxRow) -> bool,
) -> Vec<Measurement> {
    let objects = fact_objects(rows);
    rows.iter()
        .filter(|(r, _)| {
            !is_device_row(r)
                && r.value != ObxValue::Empty
                && !matches!(r.value, ObxValue::Range(..) | ObxValue::Samples(_))
                && !is_system_id(r)
                && keep(r)
        })
        .map(|(row, obr_time)| {
            Measurement::simple(MdcCode(row.code.code), value(row), time_of(row, *obr_time))
                .with_label(row.code.reference_id.clone())
                .with_device_part(part_of(&row.path.0))
                .with_source(source_of(row))
                .about_device(is_device_fact(row, &objects))
                .with_quality(row_quality(row))
        })
        .collect()
}

/// What OBX-8 says of a row's value beyond the HL7 abnormal flags: Mindray monitors in demo mode
/// mark every value `DEMO` (simulated, not the patient's).
fn row_quality(row: &ObxRow) -> Vec<QualityFlag> {
    if row.abnormal_flags.iter().any(|f| f.eq_ignore_ascii_case("DEMO")) {
        vec![QualityFlag::DemoData]
    } else {
        Vec::new()
    }
}

/// Where a row is, for reasons.
fn source_of(row: &ObxRow) -> String {
    format!("OBX segment {} ({})", row.segment, row.path)
}

fn is_system_id(row: &ObxRow) -> bool {
    is_attribute(row, MdcCode(MDC_ATTR_SYS_ID), "MDC_ATTR_SYS_ID")
}

/// The significant paths of the MDS's network and battery objects (`1.1.1` for a wireless NCC at
/// `1.1.1.0`), whose attribute rows are facts about the device.
fn fact_objects<'a>(rows: &Rows<'a>) -> Vec<&'a [u32]> {
    rows.iter()
        .map(|(r, _)| *r)
        .filter(|r| is_device_row(r) && DEVICE_FACT_OBJECTS.contains(&r.code.code))
        .map(|r| r.path.significant())
        .collect()
}

/// A row that states a fact about the device: inside one of its network or battery objects, or a
/// pending-code attribute the code table names a device fact (the code-table codes themselves are
/// the mapper's to recognise).
fn is_device_fact(row: &ObxRow, objects: &[&[u32]]) -> bool {
    let pending_fact = row.code.code == 0
        && row
            .code
            .reference_id
            .as_deref()
            .is_some_and(crate::codes::is_device_status_reference_id);
    pending_fact
        || objects
            .iter()
            .any(|object| row.path.significant().len() > object.len() && row.path.0.starts_with(object))
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
            event_measurement(MdcCode(code), text.clone(), time, components)
                .with_label(text)
                .with_device_part(part)
                .with_source(source_of(condition)),
        );
    }
    out.extend(metrics(rows, time_of, |r| !is_condition(r) && !is_source(r)));
    out
}

/// PCD-04: one measurement per alert (rows sharing all but the last path element).
fn alerts(rows: &Rows<'_>, time_of: &dyn Fn(&ObxRow, Option<Hl7DateTime>) -> EffectiveTime) -> Vec<Measurement> {
    // Rows by alert (all but the last path element), alerts in path order, rows in message order.
    // The MDS, VMD and channel rows an alert message repeats say which device raised it (read by
    // [`identity`]); they are no alerts themselves.
    let mut groups: BTreeMap<&[u32], Vec<&(&ObxRow, Option<Hl7DateTime>)>> = BTreeMap::new();
    for entry in rows.iter().copied().filter(|(r, _)| !is_device_row(r)) {
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
            // A message that also sends the attribute as its own row (GE Mural repeats `A~PM~SA` in
            // OBX-8 beside MDC_ATTR_ALARM_PRIORITY) has said it already.
            if components.iter().any(|c| c.code == code) {
                continue;
            }
            components.push(Component::new(code, Value::Text(meaning.to_string())));
        }
        // The text the device showed (MDC_ATTR_ALERT_TEXT, `Syringe Holder Open`) says more than
        // the event's reference id; it stays a component too.
        let shown = components.iter().find_map(|c| match &c.value {
            Value::Text(shown) if c.code == MdcCode(MDC_ATTR_ALERT_TEXT) && !shown.trim().is_empty() => {
                Some(shown.clone())
            }
            _ => None,
        });
        let text = shown.or(text).filter(|t| !t.trim().is_empty());
        let time = time_of(first, obr_time);
        out.push(
            event_measurement(MdcCode(code), text, time, components)
                .with_label(label)
                .with_device_part(part_of(&first.path.0))
                .with_source(source_of(first)),
        );
    }
    out
}

/// An alert or event: valued by its text when it has one, else by its components alone (never an
/// empty string).
fn event_measurement(
    code: MdcCode,
    text: Option<String>,
    time: EffectiveTime,
    components: Vec<Component>,
) -> Measurement {
    match text {
        Some(text) => Measurement::simple(code, Value::Text(text), time).with_components(components),
        None => Measurement::compound(code, components, time),
    }
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
        // Waveforms are read by [`waveform`]; a range or array anywhere else is said as written.
        ObxValue::Samples(_) | ObxValue::Range(..) => Value::Text(String::new()),
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

/// Where the device was: PV1-3, with what the device's own OBX-18 repetitions say overriding it
/// (the device's report is more precise than the patient's assigned location in PV1):
/// * repetitions labelled so in their namespace or universal-id type (`ICU-3^WARD~12^BED`);
/// * B. Braun SpaceCom's pillar details (`MDC_ATTR_PUMP_PILLAR_DETAILS`), which say ward and facility
///   by position (see [`pillar_location`]).
///
/// A part that is a network address (Nihon Kohden puts the monitor's `IP:port` in PV1-3.4) is no
/// place and is left out.
fn care_location(assigned: Option<&CareLocation>, rows: &[&(&ObxRow, Option<Hl7DateTime>)]) -> Option<CareLocation> {
    let mut location = assigned.cloned().unwrap_or_default();
    for (row, _) in rows {
        if is_pillar_details(row) {
            pillar_location(&row.equipment, &mut location);
            continue;
        }
        for id in &row.equipment {
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
    }
    for part in [
        &mut location.point_of_care,
        &mut location.room,
        &mut location.bed,
        &mut location.facility,
    ] {
        if part.as_deref().is_some_and(is_network_address) {
            *part = None;
        }
    }
    (location != CareLocation::default()).then_some(location)
}

/// `MDC_ATTR_PUMP_PILLAR_DETAILS`, which has no code yet (sent as `0`).
fn is_pillar_details(row: &ObxRow) -> bool {
    row.code.code == 0 && row.code.reference_id.as_deref() == Some("MDC_ATTR_PUMP_PILLAR_DETAILS")
}

/// B. Braun SpaceCom puts the ward and facility of a pump in the OBX-18 repetitions of its pillar
/// details row, by position, the last repetition carrying the placeholder EUI-64. Three forms were
/// seen in one installation (real captures, kelvinric123/smartward4.0, whose parser and tests read
/// them so):
/// * `~~WARD D5~PHKL^^…`: the 3rd repetition is the ward, the 4th the facility;
/// * `~~~PHKL^^…`: the facility alone;
/// * `~~~Ward~~~~D6^^…`: the ward spread over the 4th and 8th repetitions (`Ward D6`), no facility.
///
/// So: when a repetition after the 4th carries text, the ward is all the texts joined; otherwise
/// the 4th is the facility and the ones before it the ward.
fn pillar_location(repetitions: &[EquipmentId], location: &mut CareLocation) {
    let texts: Vec<(usize, &str)> = repetitions
        .iter()
        .enumerate()
        .filter_map(|(i, id)| Some((i + 1, id.entity.as_deref().map(str::trim).filter(|t| !t.is_empty())?)))
        .collect();
    if texts.is_empty() {
        return;
    }
    let join = |texts: &[(usize, &str)]| {
        let joined = texts.iter().map(|(_, t)| *t).collect::<Vec<_>>().join(" ");
        (!joined.is_empty()).then_some(joined)
    };
    if texts.iter().any(|(position, _)| *position > 4) {
        location.point_of_care = join(&texts);
        return;
    }
    type Texts<'t> = Vec<(usize, &'t str)>;
    let (facility, ward): (Texts, Texts) = texts.into_iter().partition(|(position, _)| *position == 4);
    if let Some(ward) = join(&ward) {
        location.point_of_care = Some(ward);
    }
    if let Some(facility) = join(&facility) {
        location.facility = Some(facility);
    }
}

/// An IPv4 address (with a port or an index after a colon), an IPv6 address or a MAC address: where
/// a device is on the network, not in the hospital.
fn is_network_address(text: &str) -> bool {
    let text = text.trim();
    let host = text
        .rsplit_once(':')
        .filter(|(h, _)| h.contains('.'))
        .map_or(text, |(h, _)| h);
    if host.parse::<std::net::Ipv4Addr>().is_ok() || text.parse::<std::net::Ipv6Addr>().is_ok() {
        return true;
    }
    let hex_pairs: Vec<&str> = text.split([':', '-']).collect();
    hex_pairs.len() == 6
        && hex_pairs
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
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

/// The EUI-64s that the MDS rows of several MDSs of one message carry: a gateway that repeats one
/// EUI for every device it forwards, which identifies none of them.
fn shared_euis(rows: &[(&ObxRow, Option<Hl7DateTime>)], mds_numbers: &[u32]) -> Vec<Eui64> {
    let mut seen: Vec<(Eui64, u32)> = Vec::new();
    let mut shared = Vec::new();
    for (row, _) in rows {
        let Some(&mds) = row.path.0.first() else { continue };
        if !(is_device_row(row) && row.path.significant() == [mds] && mds_numbers.contains(&mds)) {
            continue;
        }
        for eui in row.equipment.iter().filter_map(EquipmentId::eui64) {
            match seen.iter().find(|(e, _)| *e == eui) {
                Some((_, other)) if *other != mds && !shared.contains(&eui) => shared.push(eui),
                Some(_) => {}
                None => seen.push((eui, mds)),
            }
        }
    }
    shared
}

/// The MDS's identity, from what the message says of it:
/// * its EUI-64: from its own OBX-18, else from any of its rows, else `MDC_ATTR_SYS_ID`; an EUI-64
///   that names only the maker (device part all zeros or ones, [`Eui64::is_placeholder`]) or that
///   the message repeats for several MDSs is no identity;
/// * `MDC_ATTR_SYS_ID` wherever it appears under the MDS (B. Braun sends a UUID at the VMD level,
///   `1.1.0.9`): when it is not an EUI-64 it is the system id under a system of its own;
/// * without an EUI, its equipment instance id (OBX-18.1: a serial, or the label a hospital gave the
///   pump beside a placeholder EUI), in the namespace OBX-18.2 names or else the sending application;
/// * the model from `MDC_ATTR_ID_MODEL`, the revisions, and the type from its row.
fn identity(
    mds: u32,
    rows: &[&(&ObxRow, Option<Hl7DateTime>)],
    report: &DeviceObservationReport,
    shared: &[Eui64],
) -> Result<DeviceIdentity, PcdError> {
    let mds_row = rows
        .iter()
        .map(|(r, _)| *r)
        .find(|r| is_device_row(r) && r.path.significant() == [mds]);
    // A repetition naming the ward or bed is where the device is, not which device it is; so are the
    // pillar details.
    let equipment: Vec<&EquipmentId> = mds_row
        .into_iter()
        .flat_map(|r| &r.equipment)
        .chain(
            rows.iter()
                .filter(|(r, _)| !is_pillar_details(r))
                .flat_map(|(r, _)| &r.equipment),
        )
        .filter(|id| !id.is_empty() && location_label(id).is_none())
        .collect();
    let is_identity = |eui: &Eui64| !eui.is_placeholder() && !shared.contains(eui);
    // The system id attribute: the MDS's own first, then a VMD's.
    let mut sys_id_rows: Vec<&ObxRow> = rows.iter().map(|(r, _)| *r).filter(|r| is_system_id(r)).collect();
    sys_id_rows.sort_by_key(|r| part_of(&r.path.0).len());
    let sys_id_text = sys_id_rows.iter().find_map(|r| match &r.value {
        ObxValue::Text(text) => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
        ObxValue::Coded { text, .. } => text.clone(),
        _ => None,
    });
    let sys_id_eui = sys_id_text.as_deref().and_then(|t| t.parse::<Eui64>().ok());
    let system_id = equipment
        .iter()
        .find_map(|e| e.eui64())
        .filter(is_identity)
        .or(sys_id_eui.filter(is_identity));
    // A system id that is not an EUI-64 (a UUID) is an identity of its own; one that is a placeholder
    // EUI-64 is none.
    let system_id_text = sys_id_text.filter(|_| sys_id_eui.is_none()).map(|value| InstanceId {
        namespace: uuid::Uuid::parse_str(&value)
            .is_err()
            .then(|| report.sending_application.namespace.clone())
            .flatten(),
        value,
    });
    let instance_id = if system_id.is_some() {
        None
    } else {
        equipment.iter().find_map(|e| {
            // A universal id that is a (placeholder) EUI-64 names the maker, not the namespace the
            // label was given in.
            let universal = e.universal_id.clone().filter(|_| e.eui64().is_none());
            Some(InstanceId {
                value: e.entity.clone().filter(|v| !v.trim().is_empty())?,
                namespace: e
                    .namespace
                    .clone()
                    .or(universal)
                    .or_else(|| report.sending_application.namespace.clone()),
            })
        })
    };
    // An attribute of the MDS itself (`1.0.0.n`), else of a VMD (`1.1.0.n`), as text.
    let attribute = |code: u32| {
        let mut found: Vec<&ObxRow> = rows
            .iter()
            .map(|(r, _)| *r)
            .filter(|r| r.code.code == code && part_of(&r.path.0).len() <= 2)
            .collect();
        found.sort_by_key(|r| part_of(&r.path.0).len());
        found.into_iter().find_map(|r| match &r.value {
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
        system_id_text,
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
