//! The generic hub envelope: the JSON a Bluetooth hub posts for each notification it forwards.
//!
//! ```json
//! {"gateway": {"id": "hub-ward-7"},
//!  "device": {"address": "C4:7C:8D:6A:1F:20", "systemId": "…", "manufacturer": "Acme", "model": "M1",
//!             "serial": "SN-991"},
//!  "patient": {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711"},
//!  "characteristic": "2A9D", "value": "025433ea070816082a24",
//!  "receivedAt": "2026-11-21T10:00:00Z", "utcOffset": "+02:00"}
//! ```
//!
//! Instead of `characteristic`/`value`, `notifications` may list several values from the same device
//! (a glucose measurement with its context, CGM records with the session start time). Unknown fields
//! are rejected: a misspelt `utcOffset` silently ignored would shift clinical times.

use base64::Engine;
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::characteristic::Characteristic;
pub use super::error::EnvelopeError;
use super::time_context::TimeContext;
use super::{decode, Decoded};
use crate::model::HardwareIdError;
use crate::model::{
    parse_utc_offset, DeviceIdentity, DeviceKind, GatewayIdentity, Measurement, OffsetSource, Origin, PatientRef,
    Reading,
};

/// How the envelope's `value` fields are encoded.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ValueEncoding {
    #[default]
    Hex,
    Base64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Envelope {
    gateway: Option<GatewayJson>,
    device: DeviceJson,
    patient: Option<PatientJson>,
    characteristic: Option<String>,
    value: Option<String>,
    notifications: Option<Vec<NotificationJson>>,
    #[serde(default)]
    encoding: ValueEncoding,
    received_at: Option<String>,
    utc_offset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GatewayJson {
    id: String,
    system_id: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    firmware: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeviceJson {
    address: Option<String>,
    system_id: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    serial: Option<String>,
    firmware: Option<String>,
    hardware: Option<String>,
    software: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatientJson {
    system: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationJson {
    characteristic: String,
    value: String,
}

/// Settings that the envelope may leave open.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeDefaults {
    /// The UTC offset of device-local timestamps when the envelope has no `utcOffset`.
    pub utc_offset: FixedOffset,
    /// The receipt time when the envelope has no `receivedAt` (the bridge's own clock).
    pub received_at: DateTime<FixedOffset>,
}

/// Parses an envelope and decodes its characteristic values into a reading.
pub fn parse(json: &[u8], defaults: &EnvelopeDefaults) -> Result<Reading, EnvelopeError> {
    let envelope: Envelope = serde_json::from_slice(json)?;
    let time = time_context(&envelope, defaults)?;
    let notifications = notifications(&envelope)?;
    let mut decoded = Vec::with_capacity(notifications.len());
    for (field, characteristic, value) in notifications {
        let path = |name: &str| {
            if field.is_empty() {
                name.to_string()
            } else {
                format!("{field}.{name}")
            }
        };
        let characteristic = Characteristic::parse(characteristic).map_err(|source| EnvelopeError::Characteristic {
            field: path("characteristic"),
            source,
        })?;
        let bytes = decode_value(value, envelope.encoding).map_err(|rule| EnvelopeError::field(path("value"), rule))?;
        let value = decode(characteristic, &bytes).map_err(|source| EnvelopeError::Frame {
            field: path("value"),
            source,
        })?;
        decoded.push(value);
    }
    let measurements = assemble(&decoded, &time)?;
    let kind = decoded.first().and_then(Decoded::device_kind);
    Ok(Reading {
        device: device_identity(&envelope.device, kind)?,
        gateway: envelope.gateway.map(gateway_identity).transpose()?,
        patient: envelope.patient.map(|p| PatientRef {
            system: p.system,
            value: p.value,
        }),
        received_at: time.received_at,
        measurements,
        origin: Origin::PersonalHealth,
        documents: Vec::new(),
        patient_withheld: None,
        receipt_key: None,
        location: None,
    })
}

/// The (field path, characteristic, value) triples of the envelope, from either form.
fn notifications(envelope: &Envelope) -> Result<Vec<(String, &str, &str)>, EnvelopeError> {
    match (&envelope.characteristic, &envelope.value, &envelope.notifications) {
        (Some(c), Some(v), None) => Ok(vec![("".to_string(), c.as_str(), v.as_str())]),
        (None, None, Some(list)) if !list.is_empty() => Ok(list
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    format!("notifications[{i}]"),
                    n.characteristic.as_str(),
                    n.value.as_str(),
                )
            })
            .collect()),
        (None, None, Some(_)) => Err(EnvelopeError::field("notifications", "the list is empty")),
        (Some(_), None, None) => Err(EnvelopeError::field(
            "value",
            "`characteristic` is given but `value` is missing",
        )),
        (None, Some(_), None) => Err(EnvelopeError::field(
            "characteristic",
            "`value` is given but `characteristic` is missing",
        )),
        (None, None, None) => Err(EnvelopeError::field(
            "characteristic",
            "give `characteristic` and `value`, or `notifications`",
        )),
        _ => Err(EnvelopeError::field(
            "notifications",
            "give either `characteristic` and `value`, or `notifications`, not both",
        )),
    }
}

fn decode_value(value: &str, encoding: ValueEncoding) -> Result<Vec<u8>, String> {
    match encoding {
        ValueEncoding::Hex => {
            let compact: String = value
                .chars()
                .filter(|c| !c.is_ascii_whitespace() && *c != ':')
                .collect();
            hex::decode(&compact)
                .map_err(|e| format!("not hexadecimal ({e}); set \"encoding\": \"base64\" for base64 values"))
        }
        ValueEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|e| format!("not base64 ({e})")),
    }
}

fn time_context(envelope: &Envelope, defaults: &EnvelopeDefaults) -> Result<TimeContext, EnvelopeError> {
    let received_at = match &envelope.received_at {
        Some(text) => DateTime::parse_from_rfc3339(text).map_err(|e| {
            EnvelopeError::field("receivedAt", format!("is not an RFC 3339 date-time with offset ({e})"))
        })?,
        None => defaults.received_at,
    };
    let (device_offset, offset_source) = match &envelope.utc_offset {
        Some(text) => (
            parse_utc_offset(text).map_err(|rule| EnvelopeError::field("utcOffset", rule))?,
            OffsetSource::Envelope,
        ),
        None => (defaults.utc_offset, OffsetSource::ConfiguredDefault),
    };
    Ok(TimeContext {
        received_at,
        device_offset,
        offset_source,
    })
}

/// An optional hardware identifier field (EUI-64 or Bluetooth address), naming the field when it
/// does not parse.
fn hardware_id<T: std::str::FromStr<Err = HardwareIdError>>(
    field: &str,
    text: Option<&str>,
) -> Result<Option<T>, EnvelopeError> {
    text.map(str::parse)
        .transpose()
        .map_err(|e: HardwareIdError| EnvelopeError::field(field, e.to_string()))
}

fn device_identity(device: &DeviceJson, kind: Option<DeviceKind>) -> Result<DeviceIdentity, EnvelopeError> {
    let system_id: Option<crate::model::Eui64> = hardware_id("device.systemId", device.system_id.as_deref())?;
    // A system id that names only the maker (device part all zeros or ones) is no identity: the
    // Bluetooth address must name the device then.
    let placeholder = system_id.is_some_and(|eui| eui.is_placeholder());
    let system_id = system_id.filter(|_| !placeholder);
    let bluetooth_address = hardware_id("device.address", device.address.as_deref())?;
    let identity = DeviceIdentity {
        system_id,
        bluetooth_address,
        serial_number: device.serial.clone(),
        manufacturer: device.manufacturer.clone(),
        model_number: device.model.clone(),
        firmware_revision: device.firmware.clone(),
        hardware_revision: device.hardware.clone(),
        software_revision: device.software.clone(),
        kind,
        ..Default::default()
    };
    if !identity.has_hardware_id() {
        let rule = if placeholder {
            "`systemId` names only a maker (its device part is all zeros or ones), so it identifies no device; give \
             the device's `address` (Bluetooth address)"
        } else {
            "needs `address` (Bluetooth address) or `systemId` (EUI-64) to identify the device"
        };
        return Err(EnvelopeError::field("device", rule));
    }
    Ok(identity)
}

fn gateway_identity(gateway: GatewayJson) -> Result<GatewayIdentity, EnvelopeError> {
    if gateway.id.trim().is_empty() {
        return Err(EnvelopeError::field("gateway.id", "must not be empty"));
    }
    let system_id = hardware_id("gateway.systemId", gateway.system_id.as_deref())?;
    Ok(GatewayIdentity {
        id: gateway.id,
        system_id,
        manufacturer: gateway.manufacturer,
        model_number: gateway.model,
        firmware_revision: gateway.firmware,
    })
}

/// Turns the decoded values of one device into one list of measurements. Values that qualify others
/// are paired here (glucose context with its measurement by sequence number, CGM records with the
/// session start time); `qualifies` indices are shifted to the combined list. Gateways' own JSON
/// (declarative `[gatt]` mappings) is assembled here too, so a value means the same by either door.
pub fn assemble(decoded: &[Decoded], time: &TimeContext) -> Result<Vec<Measurement>, EnvelopeError> {
    let mut out: Vec<Measurement> = Vec::new();
    for group in super::pairing::pair(decoded, time)? {
        let base = out.len();
        out.extend(group.into_iter().map(|mut m| {
            m.qualifies = m.qualifies.map(|i| i + base);
            m
        }));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{ClockQuality, EffectiveTime, NoDeviceTimeReason};

    pub(crate) fn time_context() -> TimeContext {
        TimeContext {
            received_at: DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap(),
            device_offset: FixedOffset::east_opt(3600).unwrap(),
            offset_source: OffsetSource::ConfiguredDefault,
        }
    }

    pub(crate) fn defaults() -> EnvelopeDefaults {
        EnvelopeDefaults {
            utc_offset: FixedOffset::east_opt(0).unwrap(),
            received_at: DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z").unwrap(),
        }
    }

    const ISSUE_EXAMPLE: &str = r#"{"gateway": {"id": "hub-ward-7"},
        "device": {"address": "C4:7C:8D:6A:1F:20", "manufacturer": "Acme", "model": "M1", "serial": "SN-991"},
        "patient": {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711"},
        "characteristic": "2A9D", "value": "025433ea070816082a24",
        "receivedAt": "2026-11-21T10:00:00Z"}"#;

    #[test]
    fn the_documented_example_keeps_the_device_local_digits() {
        let reading = parse(ISSUE_EXAMPLE.as_bytes(), &defaults()).unwrap();
        assert_eq!(reading.device.bluetooth_address.unwrap().dashed(), "C4-7C-8D-6A-1F-20");
        assert_eq!(reading.device.kind, Some(DeviceKind::WeightScale));
        assert_eq!(reading.gateway.unwrap().id, "hub-ward-7");
        assert_eq!(reading.patient.unwrap().value, "MRN-4711");
        let EffectiveTime::Instant(t) = reading.measurements[0].time else {
            panic!()
        };
        assert_eq!(t.local.to_string(), "2026-08-22 08:42:36");
        assert_eq!(t.offset, FixedOffset::east_opt(0).unwrap());
        assert_eq!(
            t.quality,
            ClockQuality::DeviceClock {
                offset: OffsetSource::ConfiguredDefault
            }
        );
    }

    #[test]
    fn utc_offset_in_the_envelope_wins_over_the_default() {
        let json = ISSUE_EXAMPLE.replace("\"receivedAt\"", "\"utcOffset\": \"+02:00\", \"receivedAt\"");
        let reading = parse(json.as_bytes(), &defaults()).unwrap();
        let t = *reading.measurements[0].time.anchor();
        assert_eq!(t.local.to_string(), "2026-08-22 08:42:36");
        assert_eq!(t.offset, FixedOffset::east_opt(7200).unwrap());
        assert_eq!(
            t.quality,
            ClockQuality::DeviceClock {
                offset: OffsetSource::Envelope
            }
        );
    }

    #[test]
    fn no_device_timestamp_falls_back_to_received_at() {
        let json = ISSUE_EXAMPLE.replace("025433ea070816082a24", "005433");
        let reading = parse(json.as_bytes(), &defaults()).unwrap();
        let t = *reading.measurements[0].time.anchor();
        assert_eq!(t.instant().unwrap().to_rfc3339(), "2026-11-21T10:00:00+00:00");
        assert_eq!(
            t.quality,
            ClockQuality::GatewayReceipt {
                reason: NoDeviceTimeReason::NotSent
            }
        );
    }

    #[test]
    fn base64_values_and_full_uuids_are_accepted() {
        let json = ISSUE_EXAMPLE
            .replace(
                "\"2A9D\"",
                "\"00002a9d-0000-1000-8000-00805f9b34fb\", \"encoding\": \"base64\"",
            )
            .replace("025433ea070816082a24", "AlQz6gcIFggqJA==");
        let reading = parse(json.as_bytes(), &defaults()).unwrap();
        assert_eq!(reading.measurements.len(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            // The name the sender wrote is withheld (some APIs key records by patient id); the names
            // expected are said.
            (
                ISSUE_EXAMPLE.replace("receivedAt", "recievedAt"),
                "unknown field (name withheld), expected one of",
            ),
            (ISSUE_EXAMPLE.replace("025433ea070816082a24", "02zz"), "`value`"),
            (ISSUE_EXAMPLE.replace("C4:7C:8D:6A:1F:20", "C4:7C"), "`device.address`"),
            (ISSUE_EXAMPLE.replace("\"2A9D\"", "\"2A00\""), "`characteristic`"),
            (ISSUE_EXAMPLE.replace("025433ea070816082a24", "025433ea07"), "timestamp"),
            (
                ISSUE_EXAMPLE.replace("\"receivedAt\"", "\"utcOffset\": \"2h\", \"receivedAt\""),
                "`utcOffset`",
            ),
            (
                ISSUE_EXAMPLE.replace("\"address\": \"C4:7C:8D:6A:1F:20\",", ""),
                "`device`",
            ),
        ];
        for (json, expected) in cases {
            let err = parse(json.as_bytes(), &defaults()).unwrap_err().to_string();
            assert!(err.contains(expected), "expected {expected} in: {err}");
        }
    }

    #[test]
    fn a_wrongly_typed_patient_id_is_not_repeated_in_the_error() {
        let json = ISSUE_EXAMPLE.replace("\"MRN-4711\"", "4711");
        let err = parse(json.as_bytes(), &defaults()).unwrap_err().to_string();
        assert!(!err.contains("4711") && err.contains("expected a string"), "{err}");
        let json = ISSUE_EXAMPLE.replace(
            "{\"system\": \"urn:oid:2.16.840.1.113883.19.5\", \"value\": \"MRN-4711\"}",
            "\"MRN-4711\"",
        );
        let err = parse(json.as_bytes(), &defaults()).unwrap_err().to_string();
        assert!(!err.contains("MRN-4711"), "{err}");
    }
}
