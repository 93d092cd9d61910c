//! IHE PCD device observation messages as a typed report: the header (who sent it, which profile),
//! the patient, and per OBR the OBX rows with their MDC codes, containment paths, values, UCUM units,
//! times and equipment ids. Shared by PCD-01 (`ORU^R01`), PCD-04 (`ORU^R40`) and PCD-10 (`ORU^R42`).
//!
//! IHE PCD TF-2 §B.8 (OBX): OBX-3 is the MDC observation identifier (numeric code first; `0` marks a
//! code still pending assignment, so the reference id in component 2 is then the only identity),
//! OBX-4 the containment path `MDS.VMD.CHAN.METRIC[.FACET]`, OBX-5 the value, OBX-6 the unit (MDC
//! and/or UCUM), OBX-14 the observation time (overrides OBR-7), OBX-18 the equipment instance ids.

use thiserror::Error;

use super::message::{Field, LeadingFields, Message, Segment};
use super::time::{parse_dtm, Hl7DateTime};
use crate::model::{CareLocation, Decimal, Eui64};

/// Why a message is not a usable device observation report.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("HL7 v2 message: segment {segment} ({segment_id}) field {field}: {rule}")]
pub struct ReportError {
    pub segment: usize,
    pub segment_id: String,
    pub field: usize,
    pub rule: String,
}

fn error(segment: Segment<'_>, field: usize, rule: impl Into<String>) -> ReportError {
    ReportError {
        segment: segment.position(),
        segment_id: segment.id().to_string(),
        field,
        rule: rule.into(),
    }
}

/// An equipment or application identifier: HL7 `EI` (OBX-18: entity ^ namespace ^ universal id ^ type)
/// or `HD` (MSH-3: namespace ^ universal id ^ type), normalised to the same four parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EquipmentId {
    pub entity: Option<String>,
    pub namespace: Option<String>,
    pub universal_id: Option<String>,
    pub universal_id_type: Option<String>,
}

impl EquipmentId {
    /// The EUI-64, when the universal id is typed as one (`EUI-64`; some vendors write `EUI64`), or
    /// when a sender put the type where the namespace belongs (`0123456789ABCDEF^EUI-64`, as in the
    /// IHE PCD-01 DEC example).
    pub fn eui64(&self) -> Option<Eui64> {
        let is_eui64 = |kind: &Option<String>| {
            kind.as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("EUI-64") || k.eq_ignore_ascii_case("EUI64"))
        };
        if is_eui64(&self.universal_id_type) {
            return self.universal_id.as_deref()?.trim().parse().ok();
        }
        if is_eui64(&self.namespace) && self.universal_id.is_none() {
            return self.entity.as_deref()?.trim().parse().ok();
        }
        None
    }
}

/// An MDC observation identifier from a CWE field: numeric code, reference id, coding system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdcTerm {
    /// The 32-bit MDC code; 0 means "pending assignment" (identity is then the reference id).
    pub code: u32,
    pub reference_id: Option<String>,
    pub system: Option<String>,
}

/// An OBX-4 containment path, e.g. `1.1.1.5`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainmentPath(pub Vec<u32>);

impl ContainmentPath {
    /// The path without its trailing zeros: `1.1.0.0` → `1.1` (a VMD).
    pub fn significant(&self) -> &[u32] {
        significant(&self.0)
    }
}

/// A containment path without its trailing zeros (`1.1.0.0` → `1.1`).
pub fn significant(path: &[u32]) -> &[u32] {
    let end = path.iter().rposition(|&n| n != 0).map_or(0, |i| i + 1);
    path.get(..end).unwrap_or(&[])
}

impl std::fmt::Display for ContainmentPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

/// OBX-5 by OBX-2 value type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObxValue {
    /// No value: a device-description row (MDS, VMD, channel) or an empty metric.
    Empty,
    /// `NM`, exactly as sent (`1.1` stays 1.1, `0` stays 0).
    Numeric(Decimal),
    /// `CWE`/`CE`/`CNE`: an MDC code when given, and the text (component 2, else the original text
    /// in component 9) such as `pump-status-infusing`.
    Coded {
        code: Option<u32>,
        text: Option<String>,
        system: Option<String>,
        /// Component 9, the text as the user saw it (an alarm's `Occlusion`).
        original_text: Option<String>,
    },
    /// `ST`, `TX`, `FT`.
    Text(String),
    /// `NA`: a numeric array, the samples of a waveform (`-0.53714565^-0.54203324`), each exactly as
    /// sent.
    Samples(Vec<Decimal>),
    /// `NR`: a numeric range `low^high` (a waveform's `MDC_ATTR_DATA_RANGE`); either end may be open.
    Range(Option<Decimal>, Option<Decimal>),
}

/// One OBX row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObxRow {
    /// Position of the OBX segment in the message (1-based), for error messages.
    pub segment: usize,
    pub value_type: String,
    pub code: MdcTerm,
    pub path: ContainmentPath,
    pub value: ObxValue,
    /// The UCUM unit, resolved from OBX-6.
    pub unit: Option<String>,
    pub reference_range: Option<String>,
    /// OBX-8 repetitions (`L`, `PM`, `SP`, ...).
    pub abnormal_flags: Vec<String>,
    /// OBX-11 (`R`, `F`, `X`, ...).
    pub result_status: Option<String>,
    /// OBX-14.
    pub time: Option<Hl7DateTime>,
    /// OBX-18 repetitions, empty ones kept: some senders say what a repetition means by its position
    /// (B. Braun's pillar details carry ward and facility so).
    pub equipment: Vec<EquipmentId>,
}

/// One OBR and the OBX rows under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservationGroup {
    pub segment: usize,
    /// OBR-4, as code ^ text ^ system (e.g. `182777000^monitoring of patient^SCT`, `196616^MDC_EVT_ALARM^MDC`).
    pub universal_service: (Option<String>, Option<String>, Option<String>),
    /// OBR-7, the default time of the rows.
    pub time: Option<Hl7DateTime>,
    pub rows: Vec<ObxRow>,
}

/// PID-3: the first repetition that carries an id.
#[derive(Clone, PartialEq, Eq)]
pub struct PatientId {
    pub id: String,
    /// CX-4 assigning authority (namespace id, or universal id when only that is given).
    pub assigning_authority: Option<String>,
    /// CX-5 identifier type code (`MR`, `PI`, ...).
    pub id_type: Option<String>,
    /// PID-31 Identity Unknown Indicator is `Y`: the sender says it does not know who the patient is
    /// (B. Braun pumps send it with `Unknown Patient` in PID-3).
    pub identity_unknown: bool,
}

impl std::fmt::Debug for PatientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatientId")
            .field("id", &"<redacted>")
            .field("assigning_authority", &self.assigning_authority)
            .field("id_type", &self.id_type)
            .field("identity_unknown", &self.identity_unknown)
            .finish()
    }
}

/// A device observation report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceObservationReport {
    /// MSH-9.1 and MSH-9.2, e.g. `ORU` and `R01`.
    pub message_type: String,
    pub trigger_event: String,
    pub control_id: String,
    /// MSH-11 processing id: `P` production, `T` training, `D` debugging.
    pub processing_id: Option<String>,
    /// MSH-21 universal ids (profile OIDs), kept for information only: real traffic uses OIDs other
    /// than the TF's, so nothing depends on them.
    pub profiles: Vec<String>,
    /// MSH-3, the sending application: the gateway.
    pub sending_application: EquipmentId,
    /// MSH-7.
    pub message_time: Option<Hl7DateTime>,
    pub patient: Option<PatientId>,
    /// PV1-3: point of care, room, bed, facility.
    pub location: Option<CareLocation>,
    pub groups: Vec<ObservationGroup>,
    /// OBX rows coded in a vendor's own nomenclature rather than MDC (`99MNDRY`, `99COMEN`, Philips'
    /// `MDIL`): not readable as IHE PCD terms, so left out, and said so.
    pub foreign_rows: Vec<ForeignRow>,
}

/// An OBX row the report leaves out because its OBX-3 is not coded in MDC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRow {
    pub segment: usize,
    /// The coding system OBX-3.3 names.
    pub system: String,
}

/// The fields of an OBX the report reads (OBX-1 to OBX-18), found in one pass.
type ObxFields<'m> = LeadingFields<'m, 18>;

/// The coding system of an OBX's observation identifier when it is not MDC (IEEE 11073-10101).
fn foreign_system(fields: &ObxFields<'_>) -> Option<String> {
    text(fields.get(3, 3))
        .filter(|system| !system.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("MDC")))
        .map(str::to_string)
}

/// A value with text: trimmed, neither empty nor HL7's explicit null `""`.
fn text(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty() && *v != "\"\"")
}

fn non_empty(value: Option<&str>) -> Option<String> {
    text(value).map(str::to_string)
}

fn equipment_from_ei(field: Field<'_>) -> Vec<EquipmentId> {
    field
        .repetitions()
        .map(|r| EquipmentId {
            entity: non_empty(r.component(1)),
            namespace: non_empty(r.component(2)),
            universal_id: non_empty(r.component(3)),
            universal_id_type: non_empty(r.component(4)),
        })
        .collect()
}

impl EquipmentId {
    /// True when the repetition carries nothing.
    pub fn is_empty(&self) -> bool {
        self == &EquipmentId::default()
    }
}

fn optional_time(segment: Segment<'_>, field: usize) -> Result<Option<Hl7DateTime>, ReportError> {
    time_of(segment, field, segment.field(field))
}

/// The time in `value` (field `field` of `segment`), if it has one.
fn time_of(segment: Segment<'_>, field: usize, value: Field<'_>) -> Result<Option<Hl7DateTime>, ReportError> {
    match text(value.component(1)) {
        Some(text) => parse_dtm(text).map(Some).map_err(|rule| error(segment, field, rule)),
        None => Ok(None),
    }
}

fn mdc_term(segment: Segment<'_>, fields: &ObxFields<'_>) -> Result<MdcTerm, ReportError> {
    let field = fields.field(3);
    let code_text = text(field.component(1)).ok_or_else(|| error(segment, 3, "the observation identifier is empty"))?;
    let code = code_text.parse::<u32>().map_err(|_| {
        error(
            segment,
            3,
            "is not a numeric MDC code (IHE PCD matches terms by number)".to_string(),
        )
    })?;
    Ok(MdcTerm {
        code,
        reference_id: text(field.component(2))
            .filter(|text| is_reference_id(text))
            .map(str::to_string),
        system: non_empty(field.component(3)),
    })
}

/// An IEEE 11073-10101 reference id (`MDC_ATTR_SYS_ID`): letters, digits and `_`, at most 64. Other
/// text in OBX-3.2 is not a name the bridge can use or show (it reaches reasons and logs): it is read
/// as absent, and the row goes by its number.
fn is_reference_id(text: &str) -> bool {
    text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn containment_path(segment: Segment<'_>, fields: &ObxFields<'_>) -> Result<ContainmentPath, ReportError> {
    let text = text(fields.get(4, 1)).ok_or_else(|| {
        error(
            segment,
            4,
            "the containment path (OBX-4, e.g. 1.1.1.5) is empty; the metric cannot be placed in its device",
        )
    })?;
    text.split('.')
        .map(|part| part.parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .map(ContainmentPath)
        .map_err(|_| {
            error(
                segment,
                4,
                "is not a dotted containment path of numbers (e.g. 1.1.1.5)".to_string(),
            )
        })
}

/// OBX-6 → UCUM: `ucum^ucum^UCUM`, or `mdc^refid^MDC^ucum^ucum^UCUM`, or an MDC unit code alone,
/// looked up in the code table.
fn unit(segment: Segment<'_>, fields: &ObxFields<'_>) -> Result<Option<String>, ReportError> {
    let field = fields.field(6);
    if field.is_empty() {
        return Ok(None);
    }
    let part = |c| text(field.component(c));
    let is_ucum = |system: Option<&str>| system.is_some_and(|s| s.eq_ignore_ascii_case("UCUM"));
    if is_ucum(part(3)) {
        return Ok(part(1).map(str::to_string));
    }
    if is_ucum(part(6)) {
        return Ok(part(4).map(str::to_string));
    }
    let code = part(1).unwrap_or_default();
    match code.parse::<u32>().ok().and_then(crate::codes::ucum_for_mdc_unit) {
        Some(ucum) => Ok(Some(ucum.to_string())),
        None => Err(error(
            segment,
            6,
            "the unit has no UCUM form (`ucum^ucum^UCUM` or `mdc^refid^MDC^ucum^ucum^UCUM`) and its MDC code no \
             UCUM equivalent in the code table",
        )),
    }
}

fn value(segment: Segment<'_>, fields: &ObxFields<'_>, value_type: &str) -> Result<ObxValue, ReportError> {
    let field = fields.field(5);
    if field.is_empty() {
        return Ok(ObxValue::Empty);
    }
    Ok(match value_type {
        "NM" => {
            let text = text(field.component(1)).unwrap_or_default();
            ObxValue::Numeric(
                text.parse()
                    .map_err(|e: crate::model::DecimalParseError| error(segment, 5, e.to_string()))?,
            )
        }
        "CWE" | "CE" | "CNE" => {
            let code_text = text(field.component(1));
            let code = match code_text {
                Some(text) => Some(
                    text.parse::<u32>()
                        .map_err(|_| error(segment, 5, "the coded value is not a numeric MDC code"))?,
                ),
                None => None,
            };
            ObxValue::Coded {
                code,
                text: non_empty(field.component(2)).or_else(|| non_empty(field.component(9))),
                system: non_empty(field.component(3)),
                original_text: non_empty(field.component(9)),
            }
        }
        "ST" | "TX" | "FT" | "" => ObxValue::Text(field.component(1).unwrap_or_default().to_string()),
        "NA" => {
            let texts = field.repetitions().next().into_iter().flat_map(|r| r.component_texts());
            let samples = texts
                .enumerate()
                .map(|(index, text)| {
                    text.trim().parse::<Decimal>().map_err(|_| {
                        error(
                            segment,
                            5,
                            format!("sample {} of the numeric array (NA) is not a decimal number", index + 1),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            ObxValue::Samples(samples)
        }
        "NR" => {
            let end = |c: usize| -> Result<Option<Decimal>, ReportError> {
                match non_empty(field.component(c)) {
                    Some(text) => text.parse().map(Some).map_err(|_| {
                        error(
                            segment,
                            5,
                            format!(
                                "the {} end of the numeric range (NR) is not a decimal number",
                                if c == 1 { "low" } else { "high" }
                            ),
                        )
                    }),
                    None => Ok(None),
                }
            };
            ObxValue::Range(end(1)?, end(2)?)
        }
        other => {
            return Err(error(
                segment,
                2,
                format!(
                    "value type ({} characters) is not supported (NM, NA, NR, CWE, CE, CNE, ST, TX, FT)",
                    other.chars().count()
                ),
            ))
        }
    })
}

fn obx_row(segment: Segment<'_>, fields: &ObxFields<'_>) -> Result<ObxRow, ReportError> {
    let value_type = text(fields.get(2, 1)).unwrap_or_default();
    let code = mdc_term(segment, fields)?;
    let path = containment_path(segment, fields)?;
    let value = value(segment, fields, value_type)?;
    // A row without a value (an MDS, VMD or channel) has no use for a unit: a placeholder there
    // (`x^x^x`) says nothing about any measurement.
    let unit = match value {
        ObxValue::Empty => unit(segment, fields).ok().flatten(),
        _ => unit(segment, fields)?,
    };
    Ok(ObxRow {
        segment: segment.position(),
        code,
        path,
        value,
        unit,
        reference_range: non_empty(fields.get(7, 1)),
        abnormal_flags: fields
            .field(8)
            .repetitions()
            .filter_map(|r| non_empty(r.component(1)))
            .collect(),
        result_status: non_empty(fields.get(11, 1)),
        time: time_of(segment, 14, fields.field(14))?,
        equipment: equipment_from_ei(fields.field(18)),
        value_type: value_type.to_string(),
    })
}

/// Reads a device observation report from a parsed message.
pub fn read_report(message: &Message) -> Result<DeviceObservationReport, ReportError> {
    let msh = message.first("MSH").ok_or_else(|| ReportError {
        segment: 1,
        segment_id: String::new(),
        field: 0,
        rule: "the message has no MSH segment".into(),
    })?;
    let message_type = non_empty(msh.get(9, 1)).ok_or_else(|| error(msh, 9, "the message type is empty"))?;
    let trigger_event = non_empty(msh.get(9, 2)).unwrap_or_default();
    let control_id = non_empty(msh.get(10, 1)).ok_or_else(|| error(msh, 10, "the message control id is empty"))?;
    let sending = msh.field(3);
    let sending_application = EquipmentId {
        entity: None,
        namespace: non_empty(sending.component(1)),
        universal_id: non_empty(sending.component(2)),
        universal_id_type: non_empty(sending.component(3)),
    };
    let profiles = msh
        .field(21)
        .repetitions()
        .filter_map(|r| non_empty(r.component(3)))
        .collect();
    let patient = message.first("PID").and_then(|pid| {
        let identity_unknown = non_empty(pid.get(31, 1)).is_some_and(|flag| flag.eq_ignore_ascii_case("Y"));
        pid.field(3).repetitions().find_map(|r| {
            Some(PatientId {
                id: non_empty(r.component(1))?,
                // CX-4 is HD: namespace & universal id & type. A universal ISO id (an OID) is the
                // authority's global name, so it wins over the local namespace.
                assigning_authority: match (non_empty(r.subcomponent(4, 2)), non_empty(r.subcomponent(4, 3))) {
                    (Some(oid), Some(kind)) if kind.eq_ignore_ascii_case("ISO") => Some(oid),
                    _ => non_empty(r.subcomponent(4, 1)).or_else(|| non_empty(r.subcomponent(4, 2))),
                },
                id_type: non_empty(r.component(5)),
                identity_unknown,
            })
        })
    });
    let location = message.first("PV1").map(|pv1| pv1.field(3)).and_then(|field| {
        let location = CareLocation {
            point_of_care: non_empty(field.component(1)),
            room: non_empty(field.component(2)),
            bed: non_empty(field.component(3)),
            facility: non_empty(field.component(4)),
        };
        (location != CareLocation::default()).then_some(location)
    });

    let mut foreign_rows: Vec<ForeignRow> = Vec::new();
    let mut groups: Vec<ObservationGroup> = Vec::new();
    for segment in message.segments() {
        match segment.id() {
            "OBR" => groups.push(ObservationGroup {
                segment: segment.position(),
                universal_service: (
                    non_empty(segment.get(4, 1)),
                    non_empty(segment.get(4, 2)),
                    non_empty(segment.get(4, 3)),
                ),
                time: optional_time(segment, 7)?,
                rows: Vec::new(),
            }),
            "OBX" => {
                let group = groups.last_mut().ok_or_else(|| {
                    error(
                        segment,
                        0,
                        "an OBX comes before any OBR; device observations belong to an OBR",
                    )
                })?;
                let fields = segment.leading_fields::<18>();
                if let Some(system) = foreign_system(&fields) {
                    foreign_rows.push(ForeignRow {
                        segment: segment.position(),
                        system,
                    });
                    continue;
                }
                group.rows.push(obx_row(segment, &fields)?);
            }
            _ => {}
        }
    }
    // A message coded in another nomenclature throughout is not an IHE PCD message at all.
    if let Some(first) = foreign_rows.first() {
        if groups.iter().all(|g| g.rows.is_empty()) {
            return Err(ReportError {
                segment: first.segment,
                segment_id: "OBX".into(),
                field: 3,
                rule: format!(
                    "every observation is coded in {}, not MDC (IEEE 11073-10101): this is not an IHE PCD device \
                     message; send it through the vendor's IHE PCD gateway",
                    crate::codes::coding_system_for_people(&first.system)
                ),
            });
        }
    }
    Ok(DeviceObservationReport {
        message_type,
        trigger_event,
        control_id,
        processing_id: non_empty(msh.get(11, 1)),
        profiles,
        sending_application,
        message_time: optional_time(msh, 7)?,
        patient,
        location,
        groups,
        foreign_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(text: &str) -> DeviceObservationReport {
        read_report(&Message::parse(text.as_bytes()).unwrap()).unwrap()
    }

    fn row<'a>(report: &'a DeviceObservationReport, path: &str) -> &'a ObxRow {
        report
            .groups
            .iter()
            .flat_map(|g| &g.rows)
            .find(|r| r.path.to_string() == path)
            .unwrap()
    }

    const PHILIPS: &str = include_str!("../../../fixtures/hl7v2/ihe_pcd01_physio_monitor_philips_example.hl7");
    const ACME: &str = include_str!("../../../fixtures/hl7v2/ihe_pcd01_episodic_nibp_acme_gateway_example.hl7");
    const PUMP_EVENT: &str = include_str!("../../../fixtures/hl7v2/ihe_pcd10_iec_infusion_delivery_start_example.hl7");
    const BBRAUN_ALARM: &str =
        include_str!("../../../fixtures/hl7v2/ihe_pcd04_acm_bbraun_pump_occlusion_start_example.hl7");

    #[test]
    fn philips_monitor_header_patient_and_metrics() {
        let r = report(PHILIPS);
        assert_eq!((r.message_type.as_str(), r.trigger_event.as_str()), ("ORU", "R01"));
        assert_eq!(r.control_id, "HP0122182658686QQ000CND119C0WS61");
        assert_eq!(r.profiles, vec!["1.3.6.1.4.1.19376.1.6.1.1.1".to_string()]);
        assert_eq!(r.sending_application.namespace.as_deref(), Some("PAT_DEVICE_PHILIPS_C"));
        let t = r.message_time.unwrap();
        assert_eq!(
            (t.local.to_string().as_str(), t.offset.map(|o| o.local_minus_utc())),
            ("2015-01-22 18:26:58", Some(0))
        );
        let patient = r.patient.as_ref().unwrap();
        assert_eq!(
            (patient.id.as_str(), patient.id_type.as_deref()),
            ("HO2009001", Some("MR"))
        );
        let location = r.location.as_ref().unwrap();
        assert_eq!(
            (
                location.point_of_care.as_deref(),
                location.room.as_deref(),
                location.bed.as_deref(),
                location.facility.as_deref()
            ),
            (Some("HO Surgery"), Some("OR"), Some("1"), None)
        );
        assert_eq!(r.groups.len(), 1);
        assert_eq!(r.groups[0].rows.len(), 17);

        let systolic = row(&r, "1.1.1.5");
        assert_eq!(
            systolic.code,
            MdcTerm {
                code: 150021,
                reference_id: Some("MDC_PRESS_BLD_NONINV_SYS".into()),
                system: Some("MDC".into())
            }
        );
        assert_eq!(systolic.value, ObxValue::Numeric(Decimal::new(117, 0)));
        assert_eq!(systolic.unit.as_deref(), Some("mm[Hg]"));
        assert_eq!(systolic.reference_range.as_deref(), Some("90-160"));
        assert_eq!(systolic.time.unwrap().local.to_string(), "2015-01-22 11:50:00");
        assert_eq!(systolic.time.unwrap().offset, None);
        // 3.9 with an MDC dimensionless unit stays 3.9, unit "1".
        let perfusion = row(&r, "1.3.1.3");
        assert_eq!(
            (perfusion.value.clone(), perfusion.unit.as_deref()),
            (ObxValue::Numeric(Decimal::new(39, -1)), Some("1"))
        );
        assert_eq!(row(&r, "1.2.1.14").unit.as_deref(), Some("ms"));
        assert_eq!(row(&r, "1.2.1.21").value, ObxValue::Text("MDC_ECG_SINUS_RHY".into()));
        // Device rows: no value, trailing zeros.
        let vmd = row(&r, "1.1.0.0");
        assert_eq!(
            (vmd.value.clone(), vmd.path.significant()),
            (ObxValue::Empty, &[1u32, 1][..])
        );
        assert_eq!(vmd.equipment[0].entity.as_deref(), Some("0600dc750001"));
    }

    #[test]
    fn acme_gateway_ucum_units_and_eui64_sender() {
        let r = report(ACME);
        assert_eq!(r.sending_application.eui64().unwrap().compact(), "080019FFFE3ED02D");
        assert_eq!(row(&r, "1.16.1.1").unit.as_deref(), Some("mm[Hg]"));
        assert_eq!(row(&r, "1.16.1.4").unit.as_deref(), Some("{beat}/min"));
        assert_eq!(r.groups[0].universal_service.0.as_deref(), Some("182777000"));
        assert_eq!(r.patient.as_ref().unwrap().assigning_authority.as_deref(), Some("A"));
    }

    #[test]
    fn pump_event_pending_codes_coded_texts_and_mixed_units() {
        let r = report(PUMP_EVENT);
        assert_eq!(r.trigger_event, "R42");
        let condition = row(&r, "1.0.0.2");
        assert_eq!(condition.code.code, 0, "pending code kept as 0");
        assert_eq!(condition.code.reference_id.as_deref(), Some("MDC_ATTR_EVT_COND"));
        assert_eq!(
            condition.value,
            ObxValue::Coded {
                code: Some(197288),
                text: Some("MDC_EVT_PUMP_DELIV_START".into()),
                system: Some("MDC".into()),
                original_text: None,
            }
        );
        assert_eq!(
            row(&r, "1.1.1.1").value,
            ObxValue::Coded {
                code: None,
                text: Some("pump-status-infusing".into()),
                system: None,
                original_text: None,
            }
        );
        let rate = row(&r, "1.1.2.4");
        assert_eq!(
            (rate.value.clone(), rate.unit.as_deref()),
            (ObxValue::Numeric(Decimal::new(154, -1)), Some("mL/h"))
        );
        assert_eq!(
            row(&r, "1.1.2.7").value,
            ObxValue::Numeric(Decimal::new(0, -1)),
            "0.0 keeps its decimal"
        );
        assert_eq!(row(&r, "1.1.2.5").unit.as_deref(), Some("ug/kg/min"));
        assert_eq!(
            row(&r, "1.0.0.0").equipment[0].eui64().unwrap().compact(),
            "0012210000000000"
        );
    }

    #[test]
    fn alarm_five_level_paths_and_original_text() {
        let r = report(BBRAUN_ALARM);
        assert_eq!(r.trigger_event, "R40");
        let alarm = row(&r, "1.0.0.0.1");
        assert_eq!(
            alarm.value,
            ObxValue::Coded {
                code: Some(196940),
                text: Some("MDC_EVT_FLUID_LINE_OCCL".into()),
                system: Some("MDC".into()),
                original_text: Some("Occlusion".into()),
            }
        );
        assert_eq!(row(&r, "1.0.0.0.3").value, ObxValue::Text("start".into()));
        assert_eq!(
            r.message_time.unwrap().offset.map(|o| o.local_minus_utc()),
            Some(-6 * 3600)
        );
    }

    #[test]
    fn an_iso_universal_id_in_cx4_wins_over_the_namespace() {
        let text = "MSH|^~\\&|GW|X|||20261121100000+0100||ORU^R01|1|P|2.6\rPID|||123^^^HOSP&1.2.3&ISO^MR\rOBR|1|||x|||20261121100000\r";
        let r = report(text);
        assert_eq!(r.patient.unwrap().assigning_authority.as_deref(), Some("1.2.3"));
        let local = report(&text.replace("HOSP&1.2.3&ISO", "HOSP"));
        assert_eq!(local.patient.unwrap().assigning_authority.as_deref(), Some("HOSP"));
    }

    #[test]
    fn errors_name_segment_field_and_rule() {
        let base = "MSH|^~\\&|GW|X|||20150122182658+0000||ORU^R01|1|P|2.6\rOBR|1||1|x|||20150122182656\r";
        let cases = [
            ("OBX|1|NM|abc^X^MDC|1.1.1.1|5", "field 3", "numeric MDC code"),
            ("OBX|1|NM|150021^X^MDC||5", "field 4", "containment path"),
            ("OBX|1|NM|150021^X^MDC|1.a.1|5", "field 4", "dotted"),
            ("OBX|1|NM|150021^X^MDC|1.1.1.1|1,5", "field 5", "not a decimal"),
            (
                "OBX|1|NM|150021^X^MDC|1.1.1.1|5|999999^MDC_DIM_X^MDC",
                "field 6",
                "no UCUM",
            ),
            ("OBX|1|NM|150021^X^MDC|1.1.1.1|5|||||||||2015", "field 14", "at least"),
            ("OBX|1|XX|150021^X^MDC|1.1.1.1|5", "field 2", "not supported"),
        ];
        for (obx, field, rule) in cases {
            let message = Message::parse(format!("{base}{obx}\r").as_bytes()).unwrap();
            let text = read_report(&message).unwrap_err().to_string();
            assert!(
                text.contains("segment 3 (OBX)") && text.contains(field) && text.contains(rule),
                "{obx}: {text}"
            );
        }
        let orphan =
            Message::parse(b"MSH|^~\\&|GW|X|||20150122182658||ORU^R01|1|P|2.6\rOBX|1|NM|150021^X^MDC|1.1.1.1|5\r")
                .unwrap();
        assert!(read_report(&orphan).unwrap_err().to_string().contains("before any OBR"));
    }
}
