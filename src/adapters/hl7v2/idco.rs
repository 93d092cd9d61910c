//! Cardiac implant follow-ups: IHE PCD-09 "Communicate IDC Observation" (IDCO), an `ORU^R01` (v2.5
//! or v2.6) whose OBX rows are coded in the IEEE 11073-10103 IDC nomenclature (partition 11, codes
//! from 720896), one item per row.
//!
//! What the reader decides (README, "Cardiac implants"):
//! * **The implant** is a Device named by its manufacturer, model and serial: the `MDC_IDC_DEV_*`
//!   items (the 2009 `MDC_IDC_PG_*` names share their codes), else PID-3's `model:…/serial:…`
//!   repetition (type `U`), the form IHE PCD TF-2 §3.9 gives it. When both name a serial and they
//!   differ, the message is refused: the bridge does not guess which implant reported.
//! * **Each lead** with a serial (`MDC_IDC_LEAD_*`, one instance per OBX-4) is a Device of its own,
//!   with its items (implant date, chamber, polarity, …) as its Observations.
//! * **The patient**: PID-3 carries the implant's id and, at most, a social security number (`SS`),
//!   which the bridge never files readings under; a clinic id (`MR`, `PI`, `PT`) with an assigning
//!   authority is taken. Otherwise the readings wait for a device-patient association naming the
//!   implant (`{"instanceId": {"value": "model:…/serial:…", "namespace": "<manufacturer>"}}`).
//! * **Time**: every item is of the interrogation session (`MDC_IDC_SESS_DTM`, else OBR-7, else MSH-7).
//! * **Values**: OBX-2 is not trusted blindly: an item whose reference id ends in `_DTM`/`_DT` (or has
//!   `_DTM_` inside) is a date-time whatever OBX-2 says. `NM` is a number with OBX-6 as its UCUM unit,
//!   `CWE`/`CNE` an enumeration (its MDC code when numeric, its text), `ST`/`TX`/`FT` text, an empty
//!   value flagged `NI`/`NAV`/`OFF` in OBX-8 an absent one. OBX-4 is the instance (lead 2, zone 3,
//!   episode 7) and part of each item's identity. An `NTE` after an OBX is its note.
//! * **Reports**: an encapsulated report (`ED`, a base64 PDF coded LOINC 18750-0) is a document of the
//!   patient by the implant, kept as sent (`model::Document`).
//! * **Left out, with the reason**: rows coded outside the IDC nomenclature, a report that is not valid
//!   base64, a qualified number (`SN` with a comparator), a row without a value.

use chrono::FixedOffset;
use thiserror::Error;

use super::left_out::LeftOutRow;
use super::message::{Message, Segment};
use super::pcd::{assigning_authority_system, PcdSettings};
use super::time::{parse_dtm, Hl7DateTime};
use crate::codes::mdc;
use crate::model::{
    AbsentReason, ClockQuality, DeviceIdentity, Document, DocumentKind, EffectiveTime, InstanceId, MdcCode,
    Measurement, NoDeviceTimeReason, OffsetSource, Origin, PatientRef, QualityFlag, Quantity, Reading, Timestamp,
    Value,
};

/// The IHE PCD-09 profile id some reporters put in MSH-21.
pub const IDCO_PROFILE: &str = "1.3.6.1.4.1.19376.1.6.1.9.1";
/// The IDC nomenclature's partition: codes 720896 to 786431.
const IDC_PARTITION: u32 = 11;

/// Why an IDCO message cannot become readings.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdcoError {
    #[error(
        "IDCO message (IHE PCD-09): the implant has no identity: no serial number in MDC_IDC_DEV_SERIAL \
         (720899) nor in PID-3's model:…/serial:… (identifier type U)"
    )]
    NoImplantIdentity,
    #[error(
        "IDCO message (IHE PCD-09): PID-3's model:…/serial:… and the MDC_IDC_DEV_SERIAL item name different \
         implants; the bridge does not guess which one reported"
    )]
    ImplantsDisagree,
    #[error("IDCO message (IHE PCD-09): no IDC item with a value to deliver")]
    NoObservations,
}

fn is_idc_code(code: u32) -> bool {
    code >> 16 == IDC_PARTITION
}

fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "\"\"")
        .map(str::to_string)
}

/// True when the message is an IDCO report: its profile says so, or its OBX rows are IDC items.
pub fn is_idco(message: &Message) -> bool {
    let profiled = message.first("MSH").is_some_and(|msh| {
        msh.field(21)
            .repetitions()
            .any(|r| r.component(3) == Some(IDCO_PROFILE))
    });
    profiled
        || message.segments_named("OBX").any(|obx| {
            obx.get(3, 1)
                .and_then(|code| code.trim().parse::<u32>().ok())
                .is_some_and(is_idc_code)
        })
}

/// One OBX row as IDCO reads it.
struct Row<'m> {
    segment: Segment<'m>,
    code: u32,
    reference_id: Option<String>,
    instance: Option<u32>,
    note: Vec<String>,
}

impl Row<'_> {
    fn refid(&self) -> &str {
        self.reference_id.as_deref().unwrap_or("")
    }

    fn place(&self) -> String {
        format!("OBX segment {}", self.segment.position())
    }

    fn is(&self, code: MdcCode) -> bool {
        self.code == code.0
    }

    /// A fact about the implant or a lead rather than a finding about the patient: its identity,
    /// battery, capacitor and settings.
    fn about_device(&self) -> bool {
        const DEVICE_SECTIONS: [&str; 6] = [
            "MDC_IDC_PG_",
            "MDC_IDC_DEV_",
            "MDC_IDC_LEAD_",
            "MDC_IDC_MSMT_BATTERY",
            "MDC_IDC_MSMT_CAP_",
            "MDC_IDC_SET_",
        ];
        DEVICE_SECTIONS.iter().any(|section| self.refid().starts_with(section))
    }
}

/// An enumeration's token: `MDC_IDC_ENUM_MFG_STJ` → `STJ`, `BIO^Biotronik` → `BIO`.
fn token(segment: Segment<'_>) -> Option<String> {
    let first = text(segment.get(5, 1))?;
    if first.parse::<u32>().is_ok() {
        let name = text(segment.get(5, 2))?;
        return Some(name.rsplit('_').next().unwrap_or(&name).to_string());
    }
    Some(first)
}

/// An enumeration's words as sent: its display (component 9), else its text (component 2), else its
/// first component (`Null`).
fn enumeration_text(segment: Segment<'_>) -> Option<String> {
    text(segment.get(5, 9))
        .or_else(|| text(segment.get(5, 2)))
        .or_else(|| text(segment.get(5, 1)).filter(|t| t.parse::<u32>().is_err()))
}

/// A manufacturer's name: its display (component 9), its text (component 2) unless that is only a
/// reference id (`MDC_IDC_ENUM_MFG_STJ`), else its token (`STJ`).
fn manufacturer_name(segment: Segment<'_>) -> Option<String> {
    text(segment.get(5, 9))
        .or_else(|| text(segment.get(5, 2)).filter(|t| !t.starts_with("MDC_IDC_ENUM")))
        .or_else(|| token(segment))
}

/// PID-3's `model:X/serial:Y` (type `U`), with its assigning authority.
fn pid_implant(message: &Message) -> Option<(Option<String>, String, Option<String>)> {
    let pid = message.first("PID")?;
    pid.field(3).repetitions().find_map(|r| {
        let id = text(r.component(1))?;
        if !text(r.component(5)).is_some_and(|t| t.eq_ignore_ascii_case("U")) {
            return None;
        }
        let lower = id.to_ascii_lowercase();
        let serial_at = lower.find("serial:")?;
        let serial = id.get(serial_at + "serial:".len()..)?.trim().to_string();
        let model = lower
            .find("model:")
            .and_then(|at| id.get(at + "model:".len()..serial_at))
            .map(|m| m.trim_end_matches('/').trim().to_string())
            .filter(|m| !m.is_empty());
        (!serial.is_empty()).then(|| (model, serial, text(r.component(4))))
    })
}

/// The clinic's patient id in PID-3, or why none is taken.
fn patient(message: &Message) -> (Option<PatientRef>, Option<String>) {
    let Some(pid) = message.first("PID") else {
        return (
            None,
            Some("the message has no PID: associate the implant with its patient".into()),
        );
    };
    let taken = pid.field(3).repetitions().find_map(|r| {
        let kind = text(r.component(5))?.to_ascii_uppercase();
        if !matches!(kind.as_str(), "MR" | "PI" | "PT") {
            return None;
        }
        let authority = text(r.subcomponent(4, 2))
            .filter(|_| text(r.subcomponent(4, 3)).is_some_and(|t| t.eq_ignore_ascii_case("ISO")))
            .or_else(|| text(r.subcomponent(4, 1)))?;
        Some(PatientRef {
            system: assigning_authority_system(Some(&authority)),
            value: text(r.component(1))?,
        })
    });
    match taken {
        Some(patient) => (Some(patient), None),
        None => (
            None,
            Some(
                "PID-3 names the implant (type U) and no clinic patient id (MR, PI or PT with an assigning \
                 authority); a social security number is never filed under. Associate the implant with its \
                 patient"
                    .into(),
            ),
        ),
    }
}

/// A timestamp with the offset its text gave, else MSH-7's, else the configured default.
fn timestamp(time: Hl7DateTime, message_offset: Option<FixedOffset>, settings: &PcdSettings) -> Timestamp {
    let (offset, source) = match (time.offset, message_offset) {
        (Some(own), _) => (own, OffsetSource::Envelope),
        (None, Some(message)) => (message, OffsetSource::Envelope),
        (None, None) => (settings.default_offset, OffsetSource::ConfiguredDefault),
    };
    Timestamp {
        local: time.local,
        offset,
        quality: ClockQuality::DeviceClock { offset: source },
    }
}

/// The value of one item, `Ok(None)` for a row with no value, `Err` with the reason it is left out.
fn value(row: &Row<'_>, message_offset: Option<FixedOffset>, settings: &PcdSettings) -> Result<Option<Value>, String> {
    let segment = row.segment;
    let value_type = text(segment.get(2, 1)).unwrap_or_default().to_ascii_uppercase();
    let first = text(segment.get(5, 1));
    let refid = row.refid();
    let is_date = refid.ends_with("_DTM") || refid.ends_with("_DT") || refid.contains("_DTM_");
    let Some(first) = first else {
        let flags: Vec<String> = segment
            .field(8)
            .repetitions()
            .filter_map(|r| text(r.component(1)))
            .collect();
        let absent = |flag: &str| flags.iter().any(|f| f.eq_ignore_ascii_case(flag));
        return Ok(if absent("NI") {
            Some(Value::Absent(AbsentReason::NoInformation))
        } else if absent("NAV") {
            Some(Value::Absent(AbsentReason::TemporarilyUnavailable))
        } else if absent("OFF") {
            Some(Value::Absent(AbsentReason::SwitchedOff))
        } else {
            None
        });
    };
    if is_date || value_type == "DTM" {
        return parse_dtm(&first)
            .map(|t| Some(Value::DateTime(timestamp(t, message_offset, settings))))
            .map_err(|_| {
                format!(
                    "{}: a date-time item (OBX-2 {}), but OBX-5 is no HL7 date-time",
                    row.place(),
                    if value_type.is_empty() {
                        "empty"
                    } else {
                        "says otherwise"
                    }
                )
            });
    }
    Ok(Some(match value_type.as_str() {
        "NM" => {
            let number = first
                .parse()
                .map_err(|_| format!("{}: a numeric item (NM) whose OBX-5 is no decimal number", row.place()))?;
            Value::Quantity(Quantity {
                value: number,
                unit: text(segment.get(6, 1)).unwrap_or_default(),
            })
        }
        "CWE" | "CNE" | "CE" => Value::Concept {
            code: first.parse::<u32>().ok().map(MdcCode),
            text: enumeration_text(segment),
        },
        "ST" | "TX" | "FT" => Value::Text(first),
        "SN" => {
            let comparator = text(segment.get(5, 1)).unwrap_or_default();
            let number = text(segment.get(5, 2)).and_then(|n| n.parse().ok());
            match (comparator.as_str(), number) {
                ("" | "=", Some(number)) => Value::Quantity(Quantity {
                    value: number,
                    unit: text(segment.get(6, 1)).unwrap_or_default(),
                }),
                _ => {
                    return Err(format!(
                        "{}: a qualified number (SN with a comparator or a ratio) is not delivered yet",
                        row.place()
                    ))
                }
            }
        }
        _ => {
            return Err(format!(
                "{}: value type ({} characters) is not one IDCO uses (NM, CWE, CNE, ST, TX, FT, DTM, SN, ED)",
                row.place(),
                value_type.chars().count()
            ))
        }
    }))
}

/// The readings of an IDCO message: the implant's, then each lead's.
pub fn readings_explained(
    message: &Message,
    settings: &PcdSettings,
) -> Result<(Vec<Reading>, Vec<LeftOutRow>), IdcoError> {
    let mut left_out = Vec::new();
    let mut rows: Vec<Row<'_>> = Vec::new();
    let mut reports: Vec<Report> = Vec::new();
    let mut last_was_obx = false;
    for segment in message.segments() {
        match segment.id() {
            "OBX" => {
                let code = segment.get(3, 1).and_then(|c| c.trim().parse::<u32>().ok());
                let system = text(segment.get(3, 3)).unwrap_or_default().to_ascii_uppercase();
                let idc = code.filter(|&c| is_idc_code(c) && (system.is_empty() || system.starts_with("MD")));
                let Some(code) = idc else {
                    last_was_obx = false;
                    if text(segment.get(2, 1)).is_some_and(|t| t.eq_ignore_ascii_case("ED")) {
                        match encapsulated(segment) {
                            Ok(document) => reports.push(document),
                            Err(reason) => left_out.push(LeftOutRow {
                                segment: segment.position(),
                                reason: format!("OBX segment {}: {reason}", segment.position()),
                            }),
                        }
                        continue;
                    }
                    left_out.push(LeftOutRow {
                        segment: segment.position(),
                        reason: format!(
                            "OBX segment {}: not coded in the IEEE 11073-10103 IDC nomenclature",
                            segment.position()
                        ),
                    });
                    continue;
                };
                let instance = match text(segment.get(4, 1)) {
                    None => None,
                    Some(sub) => match sub.parse::<u32>() {
                        Ok(n) => Some(n),
                        Err(_) => {
                            left_out.push(LeftOutRow {
                                segment: segment.position(),
                                reason: format!(
                                    "OBX segment {}: OBX-4 (the instance) is not a whole number",
                                    segment.position()
                                ),
                            });
                            last_was_obx = false;
                            continue;
                        }
                    },
                };
                rows.push(Row {
                    segment,
                    code,
                    reference_id: text(segment.get(3, 2))
                        .filter(|r| r.len() <= 64 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')),
                    instance,
                    note: Vec::new(),
                });
                last_was_obx = true;
            }
            "NTE" if last_was_obx => {
                if let (Some(row), Some(comment)) = (rows.last_mut(), text(segment.get(3, 1))) {
                    row.note.push(comment);
                }
            }
            "NTE" => left_out.push(LeftOutRow {
                segment: segment.position(),
                reason: format!("NTE segment {}: a note outside an OBX is not read", segment.position()),
            }),
            "OBR" => last_was_obx = false,
            _ => {}
        }
    }

    let msh = message.first("MSH");
    let message_time = msh.and_then(|m| text(m.get(7, 1))).and_then(|t| parse_dtm(&t).ok());
    let message_offset = message_time.and_then(|t| t.offset);
    let session = rows
        .iter()
        .find(|r| r.is(mdc::IDC_SESS_DTM))
        .and_then(|r| text(r.segment.get(5, 1)))
        .and_then(|t| parse_dtm(&t).ok())
        .or_else(|| {
            message
                .first("OBR")
                .and_then(|obr| text(obr.get(7, 1)))
                .and_then(|t| parse_dtm(&t).ok())
        })
        .or(message_time);
    let time = match session {
        Some(t) => EffectiveTime::Instant(timestamp(t, message_offset, settings)),
        None => EffectiveTime::Instant(Timestamp::gateway_receipt(
            settings.received_at,
            NoDeviceTimeReason::NotSent,
        )),
    };

    let implant = implant(message, &rows)?;
    let (patient, patient_withheld) = patient(message);
    let reading = |device: DeviceIdentity, measurements: Vec<Measurement>| Reading {
        device,
        gateway: None,
        patient: patient.clone(),
        patient_withheld: patient_withheld.clone(),
        receipt_key: None,
        received_at: settings.received_at,
        measurements,
        origin: Origin::PointOfCare,
        documents: Vec::new(),
        location: None,
    };

    // Leads with a serial are Devices of their own; their identity rows are the Device.
    let lead_instances: Vec<u32> = rows
        .iter()
        .filter(|r| r.is(mdc::IDC_LEAD_SERIAL))
        .filter(|r| text(r.segment.get(5, 1)).is_some())
        .filter_map(|r| r.instance)
        .collect();
    let mut implant_measurements = Vec::new();
    let mut leads: Vec<(u32, Vec<Measurement>)> = lead_instances.iter().map(|&i| (i, Vec::new())).collect();
    for row in &rows {
        let identity_item = [
            mdc::IDC_DEV_TYPE,
            mdc::IDC_DEV_MODEL,
            mdc::IDC_DEV_SERIAL,
            mdc::IDC_DEV_MFG,
        ]
        .iter()
        .any(|c| row.is(*c));
        let lead_identity = [mdc::IDC_LEAD_MODEL, mdc::IDC_LEAD_SERIAL, mdc::IDC_LEAD_MFG]
            .iter()
            .any(|c| row.is(*c));
        let of_lead =
            row.refid().starts_with("MDC_IDC_LEAD_") && row.instance.is_some_and(|i| lead_instances.contains(&i));
        if identity_item || (lead_identity && of_lead) {
            continue;
        }
        let value = match value(row, message_offset, settings) {
            Ok(Some(value)) => value,
            Ok(None) => {
                left_out.push(LeftOutRow {
                    segment: row.segment.position(),
                    reason: format!("{}: the item has no value (OBX-5 empty, no OBX-8 reason)", row.place()),
                });
                continue;
            }
            Err(reason) => {
                left_out.push(LeftOutRow {
                    segment: row.segment.position(),
                    reason,
                });
                continue;
            }
        };
        // OBX-11 `P`: a preliminary result, sent before the reporter verified it.
        let preliminary = text(row.segment.get(11, 1)).is_some_and(|s| s.eq_ignore_ascii_case("P"));
        let mut measurement = Measurement::simple(MdcCode(row.code), value, time)
            .with_label(row.reference_id.clone())
            .with_instance(row.instance)
            .with_source(row.place())
            .about_device(row.about_device())
            .with_quality(if preliminary {
                vec![QualityFlag::Intermediate]
            } else {
                Vec::new()
            });
        if !row.note.is_empty() {
            measurement.circumstances.note = Some(row.note.join("\n"));
        }
        match leads.iter_mut().find(|(i, _)| of_lead && Some(*i) == row.instance) {
            Some((_, measurements)) => measurements.push(measurement),
            None => implant_measurements.push(measurement),
        }
    }
    // OBR-4 is the session's kind, from MDC_IDC_ENUM_SESS_TYPE (IHE PCD TF-2 §3.9): when no item says
    // it, the OBR's coded kind does (Paceart sends it only there).
    if !rows.iter().any(|r| r.is(mdc::IDC_SESS_TYPE)) {
        let coded = message.first("OBR").and_then(|obr| {
            let code = text(obr.get(4, 1))?.parse::<u32>().ok().filter(|c| is_idc_code(*c))?;
            Some((code, text(obr.get(4, 2))))
        });
        if let Some((code, words)) = coded {
            implant_measurements.push(
                Measurement::simple(
                    mdc::IDC_SESS_TYPE,
                    Value::Concept {
                        code: Some(MdcCode(code)),
                        text: words,
                    },
                    time,
                )
                .with_label(Some("MDC_IDC_SESS_TYPE".into()))
                .with_source("OBR-4"),
            );
        }
    }
    let documents: Vec<Document> = reports
        .into_iter()
        .map(|report| Document {
            kind: report.kind,
            content_type: report.content_type,
            base64: report.base64,
            title: report.title,
            time,
            instance: report.instance,
            source: Some(report.place),
        })
        .collect();
    let mut readings = Vec::new();
    if !implant_measurements.is_empty() || !documents.is_empty() {
        let mut implant_reading = reading(implant.clone(), implant_measurements);
        implant_reading.documents = documents;
        readings.push(implant_reading);
    }
    // A lead is part of the implant when the implant's Device is in the same Bundle.
    let implant_sent = !readings.is_empty();
    for (instance, measurements) in leads {
        if measurements.is_empty() {
            continue;
        }
        let mut device = lead(&rows, instance, &implant);
        if implant_sent {
            device.part_of = implant.instance_id.clone();
        }
        readings.push(reading(device, measurements));
    }
    if readings.is_empty() {
        return Err(IdcoError::NoObservations);
    }
    Ok((readings, left_out))
}

/// An encapsulated report (ED) before it is timed.
struct Report {
    kind: Option<DocumentKind>,
    content_type: String,
    base64: String,
    title: Option<String>,
    instance: Option<u32>,
    place: String,
}

/// An `ED` row: `[source]^type^subtype^encoding^data` (the encoding `Base64`; some senders leave the
/// source out and shift the rest, `Application^PDF^^Base64^…`), coded in OBX-3 by its report type
/// (LOINC 18750-0). The data must decode as base64; it is kept as sent.
fn encapsulated(segment: Segment<'_>) -> Result<Report, String> {
    use base64::Engine;
    let field = segment.field(5);
    let components: Vec<&str> = field
        .repetitions()
        .next()
        .map(|r| r.component_texts().collect())
        .unwrap_or_default();
    let encoding = components
        .iter()
        .position(|c| c.trim().eq_ignore_ascii_case("Base64"))
        .ok_or("an encapsulated report (ED) not encoded in Base64 is not read")?;
    let data = components.get(encoding + 1).map(|d| d.trim()).unwrap_or_default();
    if data.is_empty() {
        return Err("an encapsulated report (ED) without data".into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| "the encapsulated report's data (ED) is not valid base64".to_string())?;
    let named: Vec<&str> = components
        .get(..encoding)
        .unwrap_or_default()
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    let content_type = match named.as_slice() {
        [.., kind, subtype] => format!("{}/{}", kind.to_ascii_lowercase(), subtype.to_ascii_lowercase()),
        _ => "application/octet-stream".to_string(),
    };
    let system = text(segment.get(3, 3)).map(|s| match s.to_ascii_uppercase().as_str() {
        "LN" | "LOINC" => "http://loinc.org".to_string(),
        _ => s,
    });
    let kind = match (text(segment.get(3, 1)), system) {
        (Some(code), Some(system)) => Some(DocumentKind {
            system,
            code,
            display: text(segment.get(3, 2)),
        }),
        _ => None,
    };
    Ok(Report {
        kind,
        content_type,
        base64: data.to_string(),
        title: text(segment.get(3, 5)).or_else(|| text(segment.get(3, 2))),
        instance: text(segment.get(4, 1)).and_then(|i| i.parse().ok()),
        place: format!("OBX segment {}", segment.position()),
    })
}

/// The identity item `code` of instance `instance` (the implant's: none or 1).
fn item<'a>(rows: &'a [Row<'a>], code: MdcCode, instance: Option<u32>) -> Option<&'a Row<'a>> {
    rows.iter()
        .find(|r| r.is(code) && (r.instance == instance || (instance.is_none() && r.instance == Some(1))))
}

fn implant(message: &Message, rows: &[Row<'_>]) -> Result<DeviceIdentity, IdcoError> {
    let from_items = |code| item(rows, code, None).and_then(|r| text(r.segment.get(5, 1)));
    let (serial, model) = (from_items(mdc::IDC_DEV_SERIAL), from_items(mdc::IDC_DEV_MODEL));
    let pid = pid_implant(message);
    if let (Some(serial), Some((_, pid_serial, _))) = (&serial, &pid) {
        if serial != pid_serial {
            return Err(IdcoError::ImplantsDisagree);
        }
    }
    let serial = serial
        .or_else(|| pid.as_ref().map(|(_, s, _)| s.clone()))
        .ok_or(IdcoError::NoImplantIdentity)?;
    let model = model.or_else(|| pid.as_ref().and_then(|(m, _, _)| m.clone()));
    let mfg = item(rows, mdc::IDC_DEV_MFG, None).map(|r| r.segment);
    let namespace = mfg
        .and_then(token)
        .or_else(|| pid.as_ref().and_then(|(_, _, authority)| authority.clone()));
    let mds_type = item(rows, mdc::IDC_DEV_TYPE, None).and_then(|r| {
        let code = text(r.segment.get(5, 1))?.parse::<u32>().ok()?;
        Some((MdcCode(code), text(r.segment.get(5, 2))))
    });
    Ok(DeviceIdentity {
        mds_type,
        ..identified(model, serial, mfg, namespace)
    })
}

/// A device by IHE PCD TF-2 §3.9's id, `model:xxx/serial:yyy`, in its manufacturer's namespace, with
/// the manufacturer's name from its item (`mfg`), else the namespace.
fn identified(
    model: Option<String>,
    serial: String,
    mfg: Option<Segment<'_>>,
    namespace: Option<String>,
) -> DeviceIdentity {
    let value = match &model {
        Some(model) => format!("model:{model}/serial:{serial}"),
        None => format!("serial:{serial}"),
    };
    DeviceIdentity {
        instance_id: Some(InstanceId {
            value,
            namespace: namespace.clone(),
        }),
        serial_number: Some(serial),
        model_number: model,
        manufacturer: mfg.and_then(manufacturer_name).or(namespace),
        ..Default::default()
    }
}

fn lead(rows: &[Row<'_>], instance: u32, implant: &DeviceIdentity) -> DeviceIdentity {
    let of = |code| item(rows, code, Some(instance)).and_then(|r| text(r.segment.get(5, 1)));
    let serial = of(mdc::IDC_LEAD_SERIAL).unwrap_or_default();
    let model = of(mdc::IDC_LEAD_MODEL);
    let mfg = item(rows, mdc::IDC_LEAD_MFG, Some(instance)).map(|r| r.segment);
    let namespace = mfg
        .and_then(token)
        .or_else(|| implant.instance_id.as_ref().and_then(|i| i.namespace.clone()));
    identified(model, serial, mfg, namespace)
}
