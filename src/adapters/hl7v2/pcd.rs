//! IHE PCD-01 (`ORU^R01`, Device Enterprise Communication): a device observation report becomes model
//! readings, one per MDS (medical device system, the first number of the OBX-4 containment path).
//!
//! Device rows (no value; containment path ending in zeros, e.g. `1.1.0.0`) describe the MDS, VMD and
//! channel; every row with a value is a metric of the MDS its path starts with. IHE PCD TF-2 §B.8.

use chrono::{DateTime, FixedOffset};
use thiserror::Error;

use super::report::{DeviceObservationReport, EquipmentId, ObxRow, ObxValue};
use super::time::Hl7DateTime;
use crate::model::{
    ClockQuality, DeviceIdentity, EffectiveTime, GatewayIdentity, InstanceId, MdcCode, Measurement, NoDeviceTimeReason,
    OffsetSource, Origin, PatientRef, Quantity, Reading, Timestamp, Value,
};

/// MDC_ATTR_SYS_ID: a metric row whose value is the device's EUI-64.
const MDC_ATTR_SYS_ID: u32 = 67972;
/// MDC_ATTR_ID_MODEL: the device's model.
const MDC_ATTR_ID_MODEL: u32 = 67880;

/// Prefix of patient identifier systems built from a PID-3 assigning authority that is not an OID.
pub const ASSIGNING_AUTHORITY_SYSTEM_PREFIX: &str = "urn:fhirgate:assigning-authority:";

/// Why a report cannot become readings.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PcdError {
    #[error("message type {0} is not a device observation report (IHE PCD-01 ORU^R01); it is not mapped")]
    NotDeviceObservation(String),
    #[error("message type {0} (IHE PCD event or alert) is recognised but its mapping is not implemented yet")]
    NotYetSupported(String),
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
    match authority {
        Some(aa)
            if aa
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            format!("urn:oid:{aa}")
        }
        Some(aa) => {
            let safe: String = aa
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-._".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("{ASSIGNING_AUTHORITY_SYSTEM_PREFIX}{safe}")
        }
        None => ASSIGNING_AUTHORITY_SYSTEM_PREFIX.trim_end_matches(':').to_string(),
    }
}

fn is_device_row(row: &ObxRow) -> bool {
    row.value == ObxValue::Empty && (1..=3).contains(&row.path.significant().len())
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
        (Some("ORU"), Some("R01")) => Ok(()),
        (Some("ORU"), Some("R40" | "R42")) => Err(PcdError::NotYetSupported(kind)),
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
        let measurements: Vec<Measurement> = in_mds
            .iter()
            .filter(|(r, _)| !is_device_row(r) && r.value != ObxValue::Empty)
            .map(|(row, obr_time)| {
                let time = row_time(row, *obr_time, &in_mds, report, settings);
                Measurement::simple(MdcCode(row.code.code), value(row), time).with_label(row.code.reference_id.clone())
            })
            .collect();
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
        });
    }
    if readings.is_empty() {
        return Err(PcdError::NoMetrics);
    }
    Ok(readings)
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

/// OBX-14 of the row, else of its nearest ancestor row that has one, else OBR-7, else MSH-7; with the
/// row's own offset, else MSH-7's, else the configured default. Without any time: the receipt time.
fn row_time(
    row: &ObxRow,
    obr_time: Option<Hl7DateTime>,
    mds_rows: &[&(&ObxRow, Option<Hl7DateTime>)],
    report: &DeviceObservationReport,
    settings: &PcdSettings,
) -> EffectiveTime {
    let ancestor_time = mds_rows
        .iter()
        .filter(|(r, _)| r.time.is_some() && r.path.0.len() <= row.path.0.len())
        .filter(|(r, _)| row.path.0.starts_with(r.path.significant()) && r.path.significant().len() < row.path.0.len())
        .max_by_key(|(r, _)| r.path.significant().len())
        .and_then(|(r, _)| r.time);
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
    let equipment: Vec<&EquipmentId> = mds_row
        .into_iter()
        .flat_map(|r| &r.equipment)
        .chain(rows.iter().flat_map(|(r, _)| &r.equipment))
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
    let model_number = rows
        .iter()
        .find(|(r, _)| r.code.code == MDC_ATTR_ID_MODEL)
        .and_then(|(r, _)| match &r.value {
            ObxValue::Text(text) => Some(text.clone()),
            ObxValue::Coded { text, .. } => text.clone(),
            _ => None,
        });
    let identity = DeviceIdentity {
        system_id,
        instance_id,
        model_number,
        mds_type: mds_row.map(|r| (MdcCode(r.code.code), r.code.reference_id.clone())),
        ..Default::default()
    };
    if !identity.is_identifiable() {
        return Err(PcdError::NoDeviceIdentity { mds });
    }
    Ok(identity)
}
