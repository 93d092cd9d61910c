//! Runs a compiled mapping over a payload: selects the records, and from each takes the device,
//! patient, time and values, converting units as the mapping says. Every step is written down for
//! `--explain`, and every measurement left out is written down with the reason.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde_json::Value as Json;

use super::compile::{label, Compiled, CompiledMeasurement, CompiledTerm};
use super::error::DeclarativeError;
use super::spec::{Field, ZoneUnit};
use super::time::{self, TimeError};
use super::units;
use crate::model::{
    Circumstances, Component, Decimal, DeviceIdentity, EffectiveTime, InstanceId, MdcCode, Measurement, Origin,
    PatientRef, Quantity, Reading, Term, TermCode, Value,
};

impl CompiledTerm {
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

/// Two vendor values the same: as numbers when both are (`1.0` and `1`, since payload numbers keep the
/// digits they were written with), else as text.
fn same_value(said: &str, wanted: &str) -> bool {
    match (decimal_of(said), decimal_of(wanted)) {
        (Some(a), Some(b)) => a.numerically_equals(b),
        _ => said.trim() == wanted.trim(),
    }
}

impl Compiled {
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
    ) -> Result<(Vec<Reading>, Explanation), DeclarativeError> {
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
    ) -> Result<Option<Reading>, DeclarativeError> {
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
            if let Some((members, per, interval)) = &measurement.series {
                let found = select(members, at.payload, at.record);
                let items: Vec<(String, i64, &Json)> = match found.first() {
                    Some(Json::Object(object)) => object
                        .iter()
                        .map(|(name, value)| (name.clone(), name.trim().parse::<i64>().unwrap_or(i64::MIN), value))
                        .collect(),
                    Some(Json::Array(values)) => match interval {
                        Some(interval) => values
                            .iter()
                            .enumerate()
                            .map(|(i, value)| (i.to_string(), i as i64 * i64::from(*interval), value))
                            .collect(),
                        None => {
                            return Err(at.error(
                                members.text(),
                                "is an array: the series needs `interval` to time its items".into(),
                            ))
                        }
                    },
                    Some(_) => return Err(at.error(members.text(), "is neither an object nor an array".into())),
                    None => Vec::new(),
                };
                for (name, offset, value) in items {
                    let shifted = offset
                        .checked_mul(*per)
                        .filter(|_| offset != i64::MIN)
                        .and_then(chrono::TimeDelta::try_seconds)
                        .map(|delta| time.shifted(delta));
                    let Some(at_time) = shifted else {
                        explanation.dropped.push(Dropped {
                            record: at.index,
                            measurement: label(&measurement.spec),
                            reason: format!(
                                "`{}`: a member whose name is not a whole number of the series' unit",
                                members.text()
                            ),
                        });
                        continue;
                    };
                    let member = Context { record: value, ..*at };
                    match measurement_of(measurement, &member, at_time, explanation)? {
                        Taken::Yes(m) => {
                            explanation.steps.push(format!(
                                "record {}: {}: member `{name}` → {}",
                                at.index,
                                label(&measurement.spec),
                                at_time.anchor().instant().map(|i| i.to_rfc3339()).unwrap_or_default()
                            ));
                            measurements.push(m.with_source(format!(
                                "record {} `{}`[{name}]",
                                at.index,
                                members.text()
                            )))
                        }
                        Taken::NotPresent => {}
                        Taken::Dropped(reason) => explanation.dropped.push(Dropped {
                            record: at.index,
                            measurement: label(&measurement.spec),
                            reason,
                        }),
                    }
                }
                continue;
            }
            match measurement_of(measurement, at, time, explanation)? {
                Taken::Yes(m) => {
                    produced.push((measurement.spec.name.clone(), measurements.len()));
                    if let Some(target) = &measurement.spec.qualifies {
                        qualifiers.push((measurements.len(), target.clone()));
                    }
                    // Where it was read: the record, and the value's path (or the measurement's name).
                    let path = measurement
                        .value
                        .as_ref()
                        .map_or_else(|| label(&measurement.spec), |v| format!("`{}`", v.text()));
                    measurements.push(m.with_source(format!("record {} {path}", at.index)))
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
        // (see `crate::model::SHARED_DEVICE_NAMESPACE`).
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
                namespace: Some(format!("{}{}", crate::model::SHARED_DEVICE_NAMESPACE, self.file.name)),
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
            documents: Vec::new(),
            patient_withheld: None,
            receipt_key: None,
            location: None,
        }))
    }

    fn time(
        &self,
        at: &Context,
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
        explanation: &mut Explanation,
    ) -> Result<EffectiveTime, DeclarativeError> {
        let t = &self.time;
        let zone = match &t.zone_path {
            Some(field) => match select(field, at.payload, at.record)
                .first()
                .and_then(|v| scalar_text(v))
            {
                Some(text) => Some(
                    time::parse_offset_in(&text, t.spec.zone_unit.unwrap_or(ZoneUnit::Hours))
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
        let read = |field: &Option<Field>| -> Result<Option<(String, Json)>, DeclarativeError> {
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
        let with_time_of_day = |found: Option<(String, Json)>| -> Result<Option<(String, Json)>, DeclarativeError> {
            let Some((path, value)) = found else { return Ok(None) };
            match (read(&t.time_of_day)?, value.as_str()) {
                (Some((_, Json::String(clock))), Some(date)) => {
                    Ok(Some((path, Json::String(format!("{date}T{clock}")))))
                }
                _ => Ok(Some((path, value))),
            }
        };
        let parse = |path: &str, value: &Json| {
            time::parse(value, t.spec.format, t.spec.pattern.as_deref(), &rule)
                .map_err(|e: TimeError| at.error(path, e.to_string()))
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
            // Name the paths that were tried: the one that found nothing is what to fix.
            let tried: Vec<&str> = [&t.instant, &t.start, &t.end]
                .into_iter()
                .flatten()
                .map(Field::text)
                .collect();
            return Err(at.error(
                &tried.join("`, `"),
                "no time found (time.instant, or time.start/end): the record is refused".into(),
            ));
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
struct Context<'a> {
    mapping: &'a str,
    payload: &'a Json,
    record: &'a Json,
    index: usize,
}

impl Context<'_> {
    fn error(&self, path: &str, rule: String) -> DeclarativeError {
        DeclarativeError::Record {
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
) -> Result<Taken, DeclarativeError> {
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
    let places = m
        .quality_path
        .iter()
        .map(|field| (field, &m.spec.quality))
        .chain(m.quality_paths.iter().map(|(field, answers)| (field, answers)));
    let mut flags = Vec::new();
    for (field, answers) in places {
        let Some(said) = select(field, at.payload, at.record)
            .first()
            .and_then(|v| scalar_text(v))
        else {
            continue;
        };
        if let Some(flag) = answers.get(&said).and_then(|f| crate::model::QualityFlag::from_name(f)) {
            explanation.steps.push(format!(
                "record {}: {}: `{}` = {said} → {flag:?}",
                at.index,
                label(&m.spec),
                field.text()
            ));
            if !flags.contains(&flag) {
                flags.push(flag);
            }
        }
    }
    flags
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
fn quantity_of(m: &CompiledMeasurement, at: &Context, explanation: &mut Explanation) -> Result<Got, DeclarativeError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(toml: &str) -> Compiled {
        Compiled::new(super::super::spec::parse_text(toml, false).unwrap()).unwrap()
    }

    const MAPPING: &str = "name = \"t\"\nmatch = \"$.list\"\nrecords = \"$.list[*]\"\n\
        [device]\nid = \"$.device\"\n[patient]\nid = \"$.user\"\nsystem = \"urn:x\"\n\
        [time]\ninstant = \"@.t\"\nformat = \"unix-seconds\"\n\
        [[measurements]]\nname = \"hr\"\ncode = 147842\nvalue = \"@.v\"\nunit = \"/min\"\nabsent_when = [0]\n";

    #[test]
    fn records_become_readings_and_what_is_left_out_is_said() {
        let payload: Json = serde_json::json!({
            "device": "D1", "user": "U1",
            "list": [{"t": 1700000000, "v": 61}, {"t": 1700000060, "v": 0}]
        });
        let received = DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap();
        let mapping = compiled(MAPPING);
        assert!(mapping.matches(&payload));
        assert!(!mapping.matches(&serde_json::json!({"other": []})));
        let (readings, explanation) = mapping.extract(&payload, received, *received.offset()).unwrap();
        assert_eq!(explanation.records, 2);
        assert_eq!(readings.len(), 1, "the second record holds only a placeholder 0");
        let reading = &readings[0];
        assert_eq!(reading.patient.as_ref().map(|p| p.value.as_str()), Some("U1"));
        assert_eq!(reading.measurements.len(), 1);
        let Some(Value::Quantity(q)) = &reading.measurements[0].value else {
            panic!("{:?}", reading.measurements[0].value)
        };
        assert_eq!((q.value.to_string().as_str(), q.unit.as_str()), ("61", "/min"));
        assert_eq!(
            reading.measurements[0].time.anchor().instant().unwrap().to_rfc3339(),
            "2023-11-14T22:13:20+00:00"
        );
        assert_eq!(explanation.dropped.len(), 1);
        assert_eq!(explanation.dropped[0].record, 1);
        assert_eq!(explanation.dropped[0].measurement, "hr");
        assert!(explanation
            .steps
            .iter()
            .any(|s| s.starts_with("records `$.list[*]`: 2 found")));
    }

    #[test]
    fn a_pattern_time_with_an_offset_in_seconds_from_the_payload() {
        let mapping = MAPPING.replace(
            "instant = \"@.t\"\nformat = \"unix-seconds\"\n",
            "instant = \"@.t\"\nformat = \"pattern\"\npattern = \"%m/%d/%Y %I:%M:%S %p\"\n\
             zone_path = \"@.offset\"\nzone_unit = \"seconds\"\n",
        );
        let payload: Json = serde_json::json!({
            "device": "D1", "user": "U1",
            "list": [{"t": "12/30/2022 4:50:40 PM", "offset": -18000, "v": 61}]
        });
        let received = DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap();
        let (readings, _) = compiled(&mapping)
            .extract(&payload, received, *received.offset())
            .unwrap();
        let time = readings[0].measurements[0].time.anchor();
        assert_eq!(time.instant().unwrap().to_rfc3339(), "2022-12-30T16:50:40-05:00");
        // A number of seconds that is no offset is refused by path, never quoted.
        let wrong = serde_json::json!({"device": "D1", "user": "U1", "list": [{"t": "12/30/2022 4:50:40 PM", "offset": 999999, "v": 61}]});
        let error = compiled(&mapping)
            .extract(&wrong, received, *received.offset())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`@.offset`") && error.contains("not a UTC offset"),
            "{error}"
        );
        assert!(!error.contains("999999"), "{error}");
        // What `mappings check` refuses: no pattern, a broken one, a pattern without its format, a unit
        // without a path.
        let file = |m: &str| {
            super::super::spec::parse_text(m, false)
                .map_err(|e| e.to_string())
                .and_then(Compiled::new)
        };
        let without = mapping.replace("pattern = \"%m/%d/%Y %I:%M:%S %p\"\n", "");
        assert!(file(&without).unwrap_err().contains("needs `pattern`"));
        let broken = mapping.replace("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %Q");
        assert!(file(&broken).unwrap_err().contains("not a valid pattern"));
        let stray = MAPPING.replace(
            "format = \"unix-seconds\"\n",
            "format = \"unix-seconds\"\npattern = \"%Y\"\n",
        );
        assert!(file(&stray).unwrap_err().contains("only with `format = \"pattern\"`"));
        let unit_alone = MAPPING.replace(
            "format = \"unix-seconds\"\n",
            "format = \"unix-seconds\"\nzone_unit = \"minutes\"\n",
        );
        assert!(file(&unit_alone).unwrap_err().contains("give `zone_path`"));
    }

    #[test]
    fn an_array_series_is_timed_by_its_interval() {
        let mapping = MAPPING.replace(
            "value = \"@.v\"\n",
            "series = { members = \"@.v\", interval = 5, unit = \"minutes\" }\n",
        );
        let payload: Json =
            serde_json::json!({"device": "D1", "user": "U1", "list": [{"t": 1700000000, "v": [61, 0, 63]}]});
        let received = DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap();
        let (readings, explanation) = compiled(&mapping)
            .extract(&payload, received, *received.offset())
            .unwrap();
        let got: Vec<String> = readings[0]
            .measurements
            .iter()
            .map(|m| m.time.anchor().instant().unwrap().to_rfc3339())
            .collect();
        // The 0 is the mapping's placeholder (absent_when): left out, and the third is still 10 min on.
        assert_eq!(got, vec!["2023-11-14T22:13:20+00:00", "2023-11-14T22:23:20+00:00"]);
        assert_eq!(explanation.dropped.len(), 1);
        let file = |m: &str| {
            super::super::spec::parse_text(m, false)
                .map_err(|e| e.to_string())
                .and_then(Compiled::new)
        };
        assert!(file(&mapping.replace("interval = 5", "interval = 0"))
            .unwrap_err()
            .contains("one time"));
        let both = mapping.replace("series = {", "value = \"@.v\"\nseries = {");
        assert!(file(&both).unwrap_err().contains("leave out `value`"));
        let no_interval = mapping.replace(", interval = 5", "");
        let error = compiled(&no_interval)
            .extract(&payload, received, *received.offset())
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs `interval`"), "{error}");
    }

    #[test]
    fn a_record_without_its_time_is_refused_with_the_mapping_record_and_path() {
        let payload: Json = serde_json::json!({"device": "D1", "user": "U1", "list": [{"v": 61}]});
        let received = DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap();
        let error = compiled(MAPPING)
            .extract(&payload, received, *received.offset())
            .unwrap_err()
            .to_string();
        assert!(error.contains("mapping t, record 0: `@.t`"), "{error}");
        assert!(!error.contains("61"), "never a value: {error}");
    }
}
