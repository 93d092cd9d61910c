//! Runs a compiled mapping over a payload: selects the records, and from each takes the device,
//! patient, time and values, converting units as the mapping says. Every step is written down for
//! `--explain`, and every measurement left out is written down with the reason.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde_json::Value as Json;

use super::spec::{CheckSpec, Field, MappingFile, MeasurementSpec, TermSpec, TimeSpec, UnknownCodesSpec};
use super::time::{self, TimeError};
use super::units;
use super::VendorError;
use crate::model::{
    Circumstances, Component, Decimal, DeviceIdentity, EffectiveTime, InstanceId, MdcCode, Measurement, Origin,
    PatientRef, Quantity, Reading, Term, TermCode, Value,
};

/// A mapping ready to run: its paths parsed.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub file: MappingFile,
    match_path: Field,
    records: Field,
    device_id: Option<Field>,
    patient_id: Option<Field>,
    time: CompiledTime,
    checks: Vec<(Field, CheckSpec)>,
    unknown_codes: Option<(Field, UnknownCodesSpec)>,
    measurements: Vec<CompiledMeasurement>,
    body_site: Option<CompiledTerm>,
    body_position: Option<CompiledTerm>,
    note: Option<Field>,
    /// Where the vendor says the value was typed in, and the values that say so.
    self_reported: Option<(Field, Vec<String>)>,
}

#[derive(Debug, Clone)]
struct CompiledTerm {
    field: Field,
    system: String,
    /// The vendor's word → code and display.
    terms: BTreeMap<String, (String, Option<String>)>,
    in_code: Vec<String>,
}

impl CompiledTerm {
    fn new(spec: &Option<TermSpec>, what: &str) -> Result<Option<CompiledTerm>, String> {
        let Some(spec) = spec else {
            return Ok(None);
        };
        let mut terms = BTreeMap::new();
        for (word, coded) in &spec.terms {
            let (code, display) = match coded.trim().split_once(' ') {
                Some((code, display)) => (code, Some(display.trim().to_string())),
                None => (coded.trim(), None),
            };
            if code.is_empty() {
                return Err(format!("{what}.terms: {word:?} names no code"));
            }
            terms.insert(word.clone(), (code.to_string(), display));
        }
        Ok(Some(CompiledTerm {
            field: path_field(&spec.path, &format!("{what}.path"))?,
            system: spec.system.clone(),
            terms,
            in_code: spec.in_code.clone(),
        }))
    }

    /// The record's term, if it says one; the code where the mapping knows the word.
    fn of(&self, what: &str, at: &Context, explanation: &mut Explanation) -> Option<Term> {
        let text = text_of(&self.field, at)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())?;
        if self.in_code.contains(&text) {
            explanation.steps.push(format!(
                "record {}: {what}: `{}` = {text}, which the code already says",
                at.index,
                self.field.text()
            ));
            return None;
        }
        let code = self.terms.get(&text).map(|(code, display)| TermCode {
            system: self.system.clone(),
            code: code.clone(),
            display: display.clone(),
        });
        explanation.steps.push(format!(
            "record {}: {what}: `{}` = {text} → {}",
            at.index,
            self.field.text(),
            code.as_ref()
                .map(|c| format!("{} {}", c.system, c.code))
                .unwrap_or_else(|| "text only (not in `terms`)".into())
        ));
        Some(Term { text, code })
    }
}

#[derive(Debug, Clone)]
struct CompiledTime {
    spec: TimeSpec,
    instant: Option<Field>,
    time_of_day: Option<Field>,
    start: Option<Field>,
    end: Option<Field>,
    duration: Option<Field>,
    zone_path: Option<Field>,
}

#[derive(Debug, Clone)]
struct CompiledMeasurement {
    spec: MeasurementSpec,
    /// `code_when`, compiled: each case's fields and values, and its code.
    code_when: Vec<(Vec<(Field, String)>, MdcCode)>,
    value: Option<Field>,
    quality_path: Option<Field>,
    exponent: Option<Field>,
    unit_path: Option<Field>,
    components: Vec<CompiledMeasurement>,
}

/// What a run found, for `--explain` and for operators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    pub mapping: String,
    pub records: usize,
    /// One line per step: the path, what it found, the conversion applied.
    pub steps: Vec<String>,
    pub dropped: Vec<Dropped>,
    /// Vendor codes no measurement of the mapping takes, with how often they occurred.
    pub unknown_codes: BTreeMap<String, usize>,
}

/// A measurement left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub record: usize,
    pub measurement: String,
    pub reason: String,
}

fn optional(text: &Option<String>, what: &str) -> Result<Option<Field>, String> {
    text.as_deref().map(|t| Field::compile(t, what)).transpose()
}

/// A field that must be read from the payload: a literal there (`specimen_source` without `$.`) is a
/// typo that would never, or always, match.
fn path_field(text: &str, what: &str) -> Result<Field, String> {
    if !text.starts_with(['$', '@']) {
        return Err(format!(
            "{what}: {text:?} is not a JSONPath (start it with `$` for the payload or `@` for the record)"
        ));
    }
    Field::compile(text, what)
}

/// Two vendor values the same: as numbers when both are (`1.0` and `1`, since payload numbers keep the
/// digits they were written with), else as text.
fn same_value(said: &str, wanted: &str) -> bool {
    match (decimal_of(said), decimal_of(wanted)) {
        (Some(a), Some(b)) => a.numerically_equals(b),
        _ => said.trim() == wanted.trim(),
    }
}

impl Compiled {
    pub fn new(file: MappingFile) -> Result<Compiled, String> {
        let time = CompiledTime {
            instant: optional(&file.time.instant, "time.instant")?,
            time_of_day: optional(&file.time.time_of_day, "time.time_of_day")?,
            start: optional(&file.time.start, "time.start")?,
            end: optional(&file.time.end, "time.end")?,
            duration: optional(&file.time.duration, "time.duration")?,
            zone_path: optional(&file.time.zone_path, "time.zone_path")?,
            spec: file.time.clone(),
        };
        if time.instant.is_none() && time.start.is_none() && time.end.is_none() {
            return Err("time: give `instant`, or `start`/`end` (with `end` or `duration`)".into());
        }
        if let Some(zone) = &file.time.zone {
            time::parse_offset(zone).map_err(|e| format!("time.zone: {e}"))?;
        }
        let checks = file
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| Ok((Field::compile(&c.path, &format!("checks[{i}].path"))?, c.clone())))
            .collect::<Result<Vec<_>, String>>()?;
        let unknown_codes = file
            .unknown_codes
            .as_ref()
            .map(|u| Ok::<_, String>((Field::compile(&u.path, "unknown_codes.path")?, u.clone())))
            .transpose()?;
        if file.measurements.is_empty() {
            return Err("measurements: a mapping needs at least one".into());
        }
        let measurements = file
            .measurements
            .iter()
            .enumerate()
            .map(|(i, m)| compile_measurement(m, &format!("measurements[{i}]"), false))
            .collect::<Result<Vec<_>, String>>()?;
        for (i, m) in file.measurements.iter().enumerate() {
            if let Some(target) = &m.qualifies {
                if !file.measurements.iter().any(|other| &other.name == target) {
                    return Err(format!(
                        "measurements[{i}].qualifies: no measurement is named {target:?}"
                    ));
                }
            }
        }
        Ok(Compiled {
            match_path: Field::compile(&file.match_path, "match")?,
            records: Field::compile(&file.records, "records")?,
            device_id: optional(&file.device.id, "device.id")?,
            patient_id: file
                .patient
                .as_ref()
                .map(|p| Field::compile(&p.id, "patient.id"))
                .transpose()?,
            time,
            checks,
            unknown_codes,
            measurements,
            body_site: CompiledTerm::new(&file.circumstances.body_site, "circumstances.body_site")?,
            body_position: CompiledTerm::new(&file.circumstances.body_position, "circumstances.body_position")?,
            note: file
                .circumstances
                .note
                .as_deref()
                .map(|note| path_field(note, "circumstances.note"))
                .transpose()?,
            self_reported: file
                .circumstances
                .self_reported
                .as_ref()
                .map(|s| Ok::<_, String>((path_field(&s.path, "circumstances.self_reported.path")?, s.when.clone())))
                .transpose()?,
            file,
        })
    }

    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// True when the mapping is for this payload.
    pub fn matches(&self, payload: &Json) -> bool {
        !select(&self.match_path, payload, payload).is_empty()
    }

    /// The readings of `payload` (received at `received_at`; `default_offset` for local times with no
    /// zone rule).
    pub fn extract(
        &self,
        payload: &Json,
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
    ) -> Result<(Vec<Reading>, Explanation), VendorError> {
        let mut explanation = Explanation {
            mapping: self.file.name.clone(),
            ..Explanation::default()
        };
        let records = select(&self.records, payload, payload);
        explanation.records = records.len();
        explanation
            .steps
            .push(format!("records `{}`: {} found", self.records.text(), records.len()));
        let mut readings = Vec::new();
        for (index, record) in records.into_iter().enumerate() {
            let context = Context {
                mapping: &self.file.name,
                payload,
                record,
                index,
            };
            if let Some(reading) = self.reading(&context, received_at, default_offset, &mut explanation)? {
                readings.push(reading);
            }
        }
        Ok((readings, explanation))
    }

    fn reading(
        &self,
        at: &Context,
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
        explanation: &mut Explanation,
    ) -> Result<Option<Reading>, VendorError> {
        // The time first: a record without a usable time is refused for that, whatever else it has.
        let time = self.time(at, received_at, default_offset, explanation)?;
        for (field, check) in &self.checks {
            let found = select(field, at.payload, at.record);
            if check.required && found.is_empty() {
                return Err(at.error(field.text(), "is required but missing".into()));
            }
            if check.forbidden && !found.is_empty() {
                let why = check
                    .message
                    .clone()
                    .unwrap_or_else(|| "is not taken by this mapping".into());
                return Err(at.error(field.text(), format!("is present: {why}")));
            }
            if let Some(value) = found.first() {
                let text = scalar_text(value);
                if !check.one_of.is_empty() && !check.one_of.iter().any(|allowed| Some(allowed) == text.as_ref()) {
                    let why = check.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                    return Err(at.error(
                        field.text(),
                        format!("is not one of the allowed values ({}){why}", check.one_of.join(", ")),
                    ));
                }
            }
        }
        if let Some((field, spec)) = &self.unknown_codes {
            for code in select(field, at.payload, at.record)
                .iter()
                .filter_map(|v| scalar_text(v))
            {
                if !spec.known.contains(&code) {
                    *explanation.unknown_codes.entry(code).or_default() += 1;
                }
            }
        }
        let mut measurements = Vec::new();
        // Which produced measurement each spec became, by name, for `qualifies`.
        let mut produced: Vec<(String, usize)> = Vec::new();
        let mut qualifiers: Vec<(usize, String)> = Vec::new();
        for measurement in &self.measurements {
            match measurement_of(measurement, at, time, explanation)? {
                Taken::Yes(m) => {
                    produced.push((measurement.spec.name.clone(), measurements.len()));
                    if let Some(target) = &measurement.spec.qualifies {
                        qualifiers.push((measurements.len(), target.clone()));
                    }
                    measurements.push(*m)
                }
                // An optional value the record does not have: nothing was left out.
                Taken::NotPresent => {}
                Taken::Dropped(reason) => explanation.dropped.push(Dropped {
                    record: at.index,
                    measurement: label(&measurement.spec),
                    reason,
                }),
            }
        }
        for (index, target) in qualifiers {
            if let Some((_, target_index)) = produced.iter().find(|(name, _)| name == &target) {
                if let Some(m) = measurements.get_mut(index) {
                    m.qualifies = Some(*target_index);
                }
            }
        }
        if measurements.is_empty() {
            return Ok(None);
        }
        let circumstances = Circumstances {
            body_site: self.body_site.as_ref().and_then(|t| t.of("body site", at, explanation)),
            body_position: self
                .body_position
                .as_ref()
                .and_then(|t| t.of("body position", at, explanation)),
            note: self.note.as_ref().and_then(|field| {
                let note = text_of(field, at).filter(|n| !n.trim().is_empty())?;
                explanation
                    .steps
                    .push(format!("record {}: note: `{}` found one", at.index, field.text()));
                Some(note)
            }),
            self_reported: self.self_reported.as_ref().is_some_and(|(field, when)| {
                let said = text_of(field, at);
                let typed = said.as_ref().is_some_and(|s| when.iter().any(|w| same_value(s, w)));
                if typed {
                    explanation.steps.push(format!(
                        "record {}: `{}` says the person typed the values in: no device measured them",
                        at.index,
                        field.text()
                    ));
                }
                typed
            }),
        };
        for m in &mut measurements {
            m.circumstances = circumstances.clone();
        }
        // Without a device id in the payload, the mapping stands in as the device. That stand-in is
        // shared by every user of the vendor, so no device-patient association may ever apply to it
        // (see `crate::association::SHARED_DEVICE_NAMESPACE`).
        let device_id = match &self.device_id {
            Some(field) => text_of(field, at),
            None => None,
        };
        let instance_id = match device_id {
            Some(value) => InstanceId {
                value,
                namespace: Some(
                    self.file
                        .device
                        .system
                        .clone()
                        .unwrap_or_else(|| format!("urn:fhirgate:mapping:{}", self.file.name)),
                ),
            },
            None => InstanceId {
                value: self.file.name.clone(),
                namespace: Some(format!(
                    "{}{}",
                    crate::association::SHARED_DEVICE_NAMESPACE,
                    self.file.name
                )),
            },
        };
        let device = DeviceIdentity {
            instance_id: Some(instance_id),
            manufacturer: self.file.device.manufacturer.clone(),
            model_number: self.file.device.model.clone(),
            ..DeviceIdentity::default()
        };
        let patient = match (&self.patient_id, &self.file.patient) {
            (Some(field), Some(spec)) => text_of(field, at).map(|value| PatientRef {
                system: spec.system.clone(),
                value,
            }),
            _ => None,
        };
        Ok(Some(Reading {
            device,
            gateway: None,
            patient,
            received_at,
            measurements,
            origin: Origin::PersonalHealth,
            location: None,
        }))
    }

    fn time(
        &self,
        at: &Context,
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
        explanation: &mut Explanation,
    ) -> Result<EffectiveTime, VendorError> {
        let t = &self.time;
        let zone = match &t.zone_path {
            Some(field) => match select(field, at.payload, at.record)
                .first()
                .and_then(|v| scalar_text(v))
            {
                Some(text) => Some(
                    time::parse_offset(&text)
                        .map_err(|e| at.error(field.text(), format!("is not a UTC offset: {e}")))?,
                ),
                None => None,
            },
            None => None,
        };
        let rule = time::ZoneRule {
            stated: zone,
            fixed: t.spec.zone.as_deref().and_then(|z| time::parse_offset(z).ok()),
            default: default_offset,
        };
        let read = |field: &Option<Field>| -> Result<Option<(String, Json)>, VendorError> {
            match field {
                Some(Field::Literal(text)) => Ok(Some((text.clone(), Json::String(text.clone())))),
                // An XML element (a one-element array, or `#text`) is read as its text.
                Some(field) => Ok(select(field, at.payload, at.record).first().map(|v| {
                    let value = match v {
                        Json::Array(_) | Json::Object(_) => {
                            scalar_text(v).map(Json::String).unwrap_or_else(|| (*v).clone())
                        }
                        other => (*other).clone(),
                    };
                    (field.text().to_string(), value)
                })),
                None => Ok(None),
            }
        };
        // A date-only value joined to `time_of_day` (Fitbit's `date` + `time`).
        let with_time_of_day = |found: Option<(String, Json)>| -> Result<Option<(String, Json)>, VendorError> {
            let Some((path, value)) = found else { return Ok(None) };
            match (read(&t.time_of_day)?, value.as_str()) {
                (Some((_, Json::String(clock))), Some(date)) => {
                    Ok(Some((path, Json::String(format!("{date}T{clock}")))))
                }
                _ => Ok(Some((path, value))),
            }
        };
        let parse = |path: &str, value: &Json| {
            time::parse(value, t.spec.format, &rule).map_err(|e: TimeError| at.error(path, e.to_string()))
        };
        if let Some((path, value)) = with_time_of_day(read(&t.instant)?)? {
            let stamp = parse(&path, &value)?;
            explanation.steps.push(format!(
                "record {}: time `{path}` = {} → {}",
                at.index,
                value,
                stamp.instant().map(|i| i.to_rfc3339()).unwrap_or_default()
            ));
            return Ok(EffectiveTime::Instant(stamp));
        }
        let start = with_time_of_day(read(&t.start)?)?
            .map(|(p, v)| parse(&p, &v))
            .transpose()?;
        let end = read(&t.end)?.map(|(p, v)| parse(&p, &v)).transpose()?;
        let duration = match read(&t.duration)? {
            Some((path, value)) => {
                Some(time::duration(&value).map_err(|e| at.error(&path, format!("is not a duration: {e}")))?)
            }
            None => None,
        };
        let period = match (start, end, duration) {
            (Some(start), Some(end), _) => Some((start, end)),
            (Some(start), None, Some(d)) => time::shifted(&start, d).map(|end| (start, end)),
            (None, Some(end), Some(d)) => time::shifted(&end, -d).map(|start| (start, end)),
            (Some(_), None, None) | (None, Some(_), None) => {
                return Err(at.error(
                    "time",
                    "a time interval needs both ends, or one end and a duration".into(),
                ))
            }
            _ => None,
        };
        if let Some((start, end)) = period.filter(|(start, end)| start != end) {
            if end.instant() < start.instant() {
                return Err(at.error(
                    "time",
                    "the time interval ends before it starts (FHIR Period needs start ≤ end)".into(),
                ));
            }
            explanation.steps.push(format!(
                "record {}: time period {} → {}",
                at.index,
                start.instant().map(|i| i.to_rfc3339()).unwrap_or_default(),
                end.instant().map(|i| i.to_rfc3339()).unwrap_or_default()
            ));
            return Ok(EffectiveTime::Period { start, end });
        }
        if let Some((start, _)) = period {
            // Start and end the same: an instant (Google Fit writes instants so).
            return Ok(EffectiveTime::Instant(start));
        }
        if t.spec.required {
            return Err(at.error("time", "no time found: the record is refused".into()));
        }
        explanation.steps.push(format!(
            "record {}: no time in the record; the receipt time is used",
            at.index
        ));
        Ok(EffectiveTime::Instant(crate::model::Timestamp::gateway_receipt(
            received_at,
            crate::model::NoDeviceTimeReason::NotSent,
        )))
    }
}

fn compile_measurement(spec: &MeasurementSpec, what: &str, component: bool) -> Result<CompiledMeasurement, String> {
    if crate::codes::lookup(MdcCode(spec.code)).is_none() && spec.reference_id.is_none() {
        return Err(format!(
            "{what}: MDC code {} is not in the code table (src/codes.rs); give its `reference_id`",
            spec.code
        ));
    }
    if component && !spec.components.is_empty() {
        return Err(format!("{what}: a component cannot have components"));
    }
    if component && !spec.code_when.is_empty() {
        return Err(format!(
            "{what}: a component's code is fixed; `code_when` belongs on the measurement"
        ));
    }
    if spec.value.is_none() == spec.components.is_empty() {
        return Err(format!("{what}: give a `value` or `components`, not both"));
    }
    let mut code_when = Vec::new();
    for (i, case) in spec.code_when.iter().enumerate() {
        let what = format!("{what}.code_when[{i}]");
        if crate::codes::lookup(MdcCode(case.code)).is_none() {
            return Err(format!("{what}: MDC code {} is not in the code table", case.code));
        }
        if case.when.is_empty() {
            return Err(format!("{what}: `when` names no field, so the case would always hold"));
        }
        let fields = case
            .when
            .iter()
            .map(|(path, value)| Ok((path_field(path, &format!("{what}.when"))?, value.clone())))
            .collect::<Result<Vec<_>, String>>()?;
        code_when.push((fields, MdcCode(case.code)));
    }
    for (vendor, code) in &spec.coded {
        if crate::codes::lookup(MdcCode(*code)).is_none() {
            return Err(format!("{what}.coded: {vendor:?} = {code} is not in the code table"));
        }
    }
    if spec.value.is_some() && spec.coded.is_empty() && spec.unit.is_none() && spec.unit_path.is_none() {
        return Err(format!("{what}: give the `unit` (UCUM) or a `unit_path`"));
    }
    if spec.unit_path.is_some() && spec.units.is_empty() {
        return Err(format!("{what}: a `unit_path` needs `units` (vendor unit → UCUM)"));
    }
    if let Some(to) = spec.convert_to.as_deref() {
        for from in spec.unit.iter().chain(spec.units.values()) {
            units::convert(Decimal::integer(1), from, to).map_err(|e| format!("{what}: {e}"))?;
        }
    }
    for flag in spec.quality.values() {
        if crate::model::QualityFlag::from_name(flag).is_none() {
            return Err(format!("{what}.quality: {flag:?} is not a quality flag"));
        }
    }
    Ok(CompiledMeasurement {
        code_when,
        quality_path: optional(&spec.quality_path, &format!("{what}.quality_path"))?,
        value: optional(&spec.value, &format!("{what}.value"))?,
        exponent: optional(&spec.exponent, &format!("{what}.exponent"))?,
        unit_path: optional(&spec.unit_path, &format!("{what}.unit_path"))?,
        components: spec
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| compile_measurement(c, &format!("{what}.components[{i}]"), true))
            .collect::<Result<Vec<_>, String>>()?,
        spec: spec.clone(),
    })
}

fn label(spec: &MeasurementSpec) -> String {
    if spec.name.is_empty() {
        format!("MDC {}", spec.code)
    } else {
        spec.name.clone()
    }
}

struct Context<'a> {
    mapping: &'a str,
    payload: &'a Json,
    record: &'a Json,
    index: usize,
}

impl Context<'_> {
    fn error(&self, path: &str, rule: String) -> VendorError {
        VendorError::Record {
            mapping: self.mapping.to_string(),
            record: self.index,
            path: path.to_string(),
            rule,
        }
    }
}

/// The nodes a field selects (a literal is one string node).
fn select<'a>(field: &Field, payload: &'a Json, record: &'a Json) -> Vec<&'a Json> {
    match field {
        Field::Absolute(_, path) => path.query(payload).all(),
        Field::Relative(_, path) => path.query(record).all(),
        Field::Literal(_) => Vec::new(),
    }
}

/// The text of a field: the literal, or the first scalar the path selects.
fn text_of(field: &Field, at: &Context) -> Option<String> {
    match field {
        Field::Literal(text) => Some(text.clone()),
        _ => select(field, at.payload, at.record)
            .first()
            .and_then(|v| scalar_text(v)),
    }
}

/// A string or number as text (numbers in their shortest form); `None` for anything else. An XML
/// element read as a one-element array, or as an object with `#text`, gives its text.
fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(text) => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Array(items) if items.len() == 1 => items.first().and_then(scalar_text),
        Json::Object(fields) => fields.get("#text").and_then(scalar_text),
        _ => None,
    }
}

/// What became of one measurement of a record.
enum Taken {
    Yes(Box<Measurement>),
    /// An optional value the record does not carry.
    NotPresent,
    /// Left out, with the reason (a required value missing, the vendor's "no value" marker).
    Dropped(String),
}

/// One measurement of a record; `Err` when the payload is refused (a value that is not a number, a
/// unit not allowed).
fn measurement_of(
    m: &CompiledMeasurement,
    at: &Context,
    time: EffectiveTime,
    explanation: &mut Explanation,
) -> Result<Taken, VendorError> {
    let code = code_of(m, at, explanation);
    if !m.spec.coded.is_empty() {
        return Ok(coded_of(m, code, at, time, explanation));
    }
    if m.value.is_some() {
        return Ok(match quantity_of(m, at, explanation)? {
            Got::Value(q) => Taken::Yes(Box::new(
                Measurement::simple(code, Value::Quantity(q), time)
                    .with_label(m.spec.reference_id.clone())
                    .with_quality(quality_of(m, at, explanation)),
            )),
            Got::Missing(_) if !m.spec.required.unwrap_or(false) => Taken::NotPresent,
            Got::Missing(reason) => Taken::Dropped(format!("required value missing: {reason}")),
            Got::Absent(reason) => Taken::Dropped(reason),
        });
    }
    let mut components = Vec::new();
    let mut missing = Vec::new();
    for component in &m.components {
        match quantity_of(component, at, explanation)? {
            Got::Value(q) => components.push(Component {
                label: component.spec.reference_id.clone(),
                ..Component::new(MdcCode(component.spec.code), Value::Quantity(q))
            }),
            Got::Missing(reason) | Got::Absent(reason) if component.spec.required.unwrap_or(true) => {
                missing.push(format!("component {}: {reason}", label(&component.spec)));
            }
            Got::Missing(_) | Got::Absent(_) => {}
        }
    }
    Ok(if components.is_empty() && missing.is_empty() {
        Taken::NotPresent
    } else if missing.is_empty() {
        Taken::Yes(Box::new(
            Measurement::compound(code, components, time).with_label(m.spec.reference_id.clone()),
        ))
    } else if components.is_empty() && !m.spec.required.unwrap_or(false) {
        Taken::NotPresent
    } else {
        Taken::Dropped(missing.join("; "))
    })
}

/// The measurement's code: the first `code_when` case the record meets, else `code`.
fn code_of(m: &CompiledMeasurement, at: &Context, explanation: &mut Explanation) -> MdcCode {
    let met = m.code_when.iter().find(|(fields, _)| {
        fields
            .iter()
            .all(|(field, wanted)| text_of(field, at).is_some_and(|said| same_value(&said, wanted)))
    });
    match met {
        Some((fields, code)) => {
            let said: Vec<String> = fields
                .iter()
                .map(|(field, wanted)| format!("`{}` = {wanted}", field.text()))
                .collect();
            explanation.steps.push(format!(
                "record {}: {}: {} → MDC {code}",
                at.index,
                label(&m.spec),
                said.join(", ")
            ));
            *code
        }
        None => MdcCode(m.spec.code),
    }
}

/// A coded measurement: the vendor's value looked up in the mapping's `coded` table.
fn coded_of(
    m: &CompiledMeasurement,
    code: MdcCode,
    at: &Context,
    time: EffectiveTime,
    explanation: &mut Explanation,
) -> Taken {
    let Some(field) = &m.value else {
        return Taken::NotPresent;
    };
    let Some(said) = text_of(field, at).filter(|s| !s.trim().is_empty()) else {
        return if m.spec.required.unwrap_or(false) {
            Taken::Dropped(format!("required value missing: `{}` found nothing", field.text()))
        } else {
            Taken::NotPresent
        };
    };
    match m.spec.coded.get(said.trim()) {
        Some(value) => {
            explanation.steps.push(format!(
                "record {}: {}: `{}` = {said} → MDC {value}",
                at.index,
                label(&m.spec),
                field.text()
            ));
            Taken::Yes(Box::new(
                Measurement::simple(code, Value::Coded(MdcCode(*value)), time).with_label(m.spec.reference_id.clone()),
            ))
        }
        None => Taken::Dropped(format!(
            "`{}` holds a value the mapping's `coded` table does not list",
            field.text()
        )),
    }
}

/// The quality flags the vendor's statement maps to.
fn quality_of(m: &CompiledMeasurement, at: &Context, explanation: &mut Explanation) -> Vec<crate::model::QualityFlag> {
    let Some(field) = &m.quality_path else {
        return Vec::new();
    };
    let Some(said) = select(field, at.payload, at.record)
        .first()
        .and_then(|v| scalar_text(v))
    else {
        return Vec::new();
    };
    match m
        .spec
        .quality
        .get(&said)
        .and_then(|f| crate::model::QualityFlag::from_name(f))
    {
        Some(flag) => {
            explanation.steps.push(format!(
                "record {}: {}: `{}` = {said} → {flag:?}",
                at.index,
                label(&m.spec),
                field.text()
            ));
            vec![flag]
        }
        None => Vec::new(),
    }
}

/// The largest power of ten a payload may scale a value by (Withings sends -3 to 0).
const MAX_EXPONENT: i32 = 30;

/// A payload number as an exact decimal. JSON numbers arrive as their shortest decimal text, which
/// may use exponent notation (`1e-7`); that is written out in full first.
fn decimal_of(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if let Ok(value) = text.parse() {
        return Some(value);
    }
    if text.contains(['e', 'E']) {
        let float: f64 = text.parse().ok().filter(|f: &f64| f.is_finite() && f.abs() < 1e15)?;
        return format!("{float}").parse().ok();
    }
    None
}

/// What a value path gave.
enum Got {
    Value(Quantity),
    /// The path found nothing (or null).
    Missing(String),
    /// The vendor's "no value" marker.
    Absent(String),
}

/// A value with its UCUM unit, converted as the spec says.
fn quantity_of(m: &CompiledMeasurement, at: &Context, explanation: &mut Explanation) -> Result<Got, VendorError> {
    let Some(field) = &m.value else {
        return Ok(Got::Missing("no value path".into()));
    };
    let found = match field {
        Field::Literal(text) => vec![Json::String(text.clone())],
        _ => select(field, at.payload, at.record).into_iter().cloned().collect(),
    };
    let name = label(&m.spec);
    let raw = match found.as_slice() {
        [] => {
            let reason = format!("`{}` found nothing", field.text());
            explanation.steps.push(format!("record {}: {name}: {reason}", at.index));
            return Ok(Got::Missing(reason));
        }
        [one] => one.clone(),
        many => {
            return Err(at.error(
                field.text(),
                format!("selects {} values where one is expected; narrow the path", many.len()),
            ))
        }
    };
    let text = match &raw {
        Json::Null => return Ok(Got::Missing(format!("`{}` is null", field.text()))),
        other => {
            scalar_text(other).ok_or_else(|| at.error(field.text(), "is not a number (an object or array)".into()))?
        }
    };
    if m.spec.absent_when.iter().any(|absent| same_value(&text, absent)) {
        explanation.steps.push(format!(
            "record {}: {name}: `{}` is the vendor's \"no value\" marker",
            at.index,
            field.text()
        ));
        return Ok(Got::Absent(format!(
            "the vendor marks it absent (`{}` holds an `absent_when` marker)",
            field.text()
        )));
    }
    let mut value = decimal_of(&text).ok_or_else(|| at.error(field.text(), "is not a number".into()))?;
    let mut step = format!("record {}: {name}: `{}` = {value}", at.index, field.text());
    if let Some(exponent_field) = &m.exponent {
        let exponent_text = text_of(exponent_field, at)
            .ok_or_else(|| at.error(exponent_field.text(), "found nothing (the exponent is needed)".into()))?;
        let exponent: i32 = exponent_text
            .trim()
            .parse()
            .ok()
            .filter(|e: &i32| e.abs() <= MAX_EXPONENT)
            .ok_or_else(|| {
                at.error(
                    exponent_field.text(),
                    format!("is not a whole number from -{MAX_EXPONENT} to {MAX_EXPONENT}"),
                )
            })?;
        value = value.scaled_by_power_of_ten(exponent);
        step.push_str(&format!(" × 10^{exponent} (`{}`) = {value}", exponent_field.text()));
    }
    let unit = match (&m.spec.unit, &m.unit_path) {
        (_, Some(unit_field)) => {
            let sent = text_of(unit_field, at).ok_or_else(|| at.error(unit_field.text(), "found no unit".into()))?;
            let ucum = m.spec.units.get(&sent).cloned().ok_or_else(|| {
                at.error(
                    unit_field.text(),
                    format!(
                        "unit is not one this mapping takes ({})",
                        m.spec.units.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            step.push_str(&format!(" {ucum} (`{}`)", unit_field.text()));
            ucum
        }
        (Some(unit), None) => {
            step.push_str(&format!(" {unit}"));
            unit.clone()
        }
        (None, None) => return Ok(Got::Missing("no unit".into())),
    };
    let (value, unit) = match &m.spec.convert_to {
        Some(to) if to != &unit => {
            let converted =
                units::convert(value, &unit, to).map_err(|e| at.error(field.text(), format!("cannot convert: {e}")))?;
            step.push_str(&format!(" → {converted} {to}"));
            (converted, to.clone())
        }
        _ => (value, unit),
    };
    explanation.steps.push(step);
    Ok(Got::Value(Quantity::new(value, &unit)))
}
