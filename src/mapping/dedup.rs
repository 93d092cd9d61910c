//! The PHD dedup identifier, which makes a re-sent reading recognisable to the FHIR server
//! (conditional create on `Observation.identifier`).
//!
//! PHD IG, PhdBaseObservation: `device-patient-type-timestamp[-supplementalTypes]`, where device is the
//! EUI-64 system id as 16 upper-case hex digits (or the EUI-48 Bluetooth address as 12 when there is
//! none), patient is `identifier.value-identifier.system`, type the decimal MDC code, and timestamp the
//! device's *original* local time as `YYYYMMDDhhmmss.ff` (so a later clock correction does not change
//! the identity of a reading).

use crate::model::{DeviceIdentity, MdcCode, Measurement, PatientRef};

/// The device part: EUI-64 if known, else the Bluetooth address, else (point-of-care devices with
/// neither) the equipment instance id as sent.
pub fn device_part(device: &DeviceIdentity) -> Option<String> {
    device
        .system_id
        .map(|id| id.compact())
        .or_else(|| device.bluetooth_address.map(|a| a.compact()))
        .or_else(|| device.system_id_text.as_ref().map(|i| i.value.clone()))
        .or_else(|| device.instance_id.as_ref().map(|i| i.value.clone()))
}

/// `{device}-{patient}-{kind}-{compact time}.{centiseconds}`: what every dedup identifier starts with
/// (`kind` is the measurement's code, or `doc-` and a document's type).
fn identifier_head(
    device_part: &str,
    patient: Option<&PatientRef>,
    kind: &[&str],
    time: &chrono::NaiveDateTime,
) -> String {
    use std::fmt::Write;
    let mut value = String::with_capacity(96);
    value.push_str(device_part);
    value.push('-');
    match patient {
        Some(p) => {
            value.push_str(&p.value);
            value.push('-');
            value.push_str(&p.system);
        }
        None => value.push_str("device"),
    }
    value.push('-');
    for part in kind {
        value.push_str(part);
    }
    value.push('-');
    super::local_digits::push_compact(&mut value, time);
    let _ = write!(value, ".{:02}", time.and_utc().timestamp_subsec_millis() / 10);
    value
}

/// The full dedup identifier value of `measurement`. A measurement about the device itself has no
/// patient; its patient part is the word `device`.
///
/// A measurement the device gave no time for is timed by its receipt, to 1/100 s: two notifications
/// received within 10 ms, or a hub batch sharing one `receivedAt`, would share an identifier. Such a
/// measurement's identifier ends in `-rx` and the reading's receipt key (a digest of the payload and
/// its place in the batch), so distinct notifications stay distinct and a resend stays one.
pub fn observation_identifier(
    device_part: &str,
    patient: Option<&PatientRef>,
    measurement: &Measurement,
    receipt_key: Option<&str>,
) -> String {
    let time = measurement.time.anchor().local;
    let kind = match &measurement.code_outside_mdc {
        Some(code) => code.code.clone(),
        None => code_identity(measurement.code, measurement.label.as_deref()),
    };
    let mut value = identifier_head(device_part, patient, &[&kind], &time);
    for supplemental in &measurement.supplemental_types {
        value.push('-');
        value.push_str(&supplemental.to_string());
    }
    // Two channels of one pump report the same metric at the same time: the channel tells them apart.
    if !measurement.device_part.is_empty() {
        value.push('-');
        push_dotted(&mut value, &measurement.device_part);
    }
    // A day's minimum and the reading at the day's start share code and time: the statistic tells them
    // apart.
    if let Some(statistic) = measurement.statistic {
        value.push('-');
        value.push_str(statistic.name());
    }
    // An implant reports one item per lead, zone or episode: the instance tells them apart.
    if let Some(instance) = measurement.instance {
        value.push_str(&format!("-i{instance}"));
    }
    let by_receipt = matches!(
        measurement.time.anchor().quality,
        crate::model::ClockQuality::GatewayReceipt { .. }
    );
    if let (true, Some(key)) = (by_receipt, receipt_key) {
        value.push_str("-rx");
        value.push_str(key);
    }
    value
}

/// The dedup identifier of a document: device, patient, `doc`, its type's code, its time and its
/// instance, as an Observation's.
pub fn document_identifier(
    device_part: &str,
    patient: Option<&PatientRef>,
    document: &crate::model::Document,
) -> String {
    let time = document.time.anchor().local;
    let kind = document.kind.as_ref().map_or("unknown", |k| k.code.as_str());
    let mut value = identifier_head(device_part, patient, &["doc-", kind], &time);
    if let Some(instance) = document.instance {
        value.push_str(&format!("-i{instance}"));
    }
    value
}

/// What identifies a code in identifiers: the decimal MDC code, or, for a code the sender marks
/// pending (0), the sender's label for it.
pub fn code_identity(code: MdcCode, label: Option<&str>) -> String {
    match (code.0, label) {
        (0, Some(label)) => label.to_string(),
        _ => code.to_string(),
    }
}

/// A containment path as written in HL7 (`1.1.2`).
pub fn dotted(path: &[u32]) -> String {
    let mut text = String::with_capacity(path.len() * 3);
    push_dotted(&mut text, path);
    text
}

/// Appends `path` as [`dotted`] writes it.
fn push_dotted(out: &mut String, path: &[u32]) {
    use std::fmt::Write;
    for (i, part) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let _ = write!(out, "{part}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClockQuality, EffectiveTime, MdcCode, OffsetSource, Timestamp, Value};
    use chrono::{FixedOffset, NaiveDate};

    #[test]
    fn matches_the_phd_ig_example() {
        // numeric-spotnumeric.json: 74E8FFFEFF051C00-sisansarahId-urn:oid:2.999.1.2.3.4.5.6.7.8.10-149530-20181113175903.00-150588
        let device = DeviceIdentity {
            system_id: Some("74E8FFFEFF051C00".parse().unwrap()),
            ..Default::default()
        };
        let patient = PatientRef {
            system: "urn:oid:2.999.1.2.3.4.5.6.7.8.10".into(),
            value: "sisansarahId".into(),
        };
        let time = Timestamp {
            local: NaiveDate::from_ymd_opt(2018, 11, 13)
                .unwrap()
                .and_hms_opt(17, 59, 3)
                .unwrap(),
            offset: FixedOffset::west_opt(5 * 3600).unwrap(),
            quality: ClockQuality::DeviceClock {
                offset: OffsetSource::Envelope,
            },
        };
        let measurement = Measurement::simple(
            MdcCode(149530),
            Value::Text(String::new()),
            EffectiveTime::Instant(time),
        )
        .with_supplemental_type(MdcCode(150588));
        let device_part = device_part(&device).unwrap();
        assert_eq!(
            observation_identifier(&device_part, Some(&patient), &measurement, None),
            "74E8FFFEFF051C00-sisansarahId-urn:oid:2.999.1.2.3.4.5.6.7.8.10-149530-20181113175903.00-150588"
        );
    }

    #[test]
    fn bluetooth_address_stands_in_for_a_missing_system_id() {
        let device = DeviceIdentity {
            bluetooth_address: Some("C4:7C:8D:6A:1F:20".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(device_part(&device).unwrap(), "C47C8D6A1F20");
        assert_eq!(device_part(&DeviceIdentity::default()), None);
    }
}
