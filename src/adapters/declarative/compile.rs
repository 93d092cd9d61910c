//! Compiles a mapping file: every path parsed, every code case and term table read, the time
//! rule checked, so that a mapping that cannot run is refused when it is loaded (and by `mappings
//! check`), not on the first payload. [`super::run`] runs what this makes.

use std::collections::BTreeMap;

use super::spec::{
    AbsentMarker, CheckSpec, Field, FieldText, GattEncoding, MappingFile, MeasurementSpec, TermSpec, TimeSpec,
    UnknownCodesSpec,
};
use super::time;
use super::units;
use crate::model::{Decimal, MdcCode};

/// A mapping ready to run: its paths parsed.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub file: MappingFile,
    pub(super) match_path: Field,
    pub(super) records: Field,
    /// The mapping's discriminator: the fields a record's must hold (one of their values each).
    pub(super) when: Vec<(Field, Vec<String>)>,
    pub(super) device_id: Option<Field>,
    pub(super) device_address: Option<Field>,
    pub(super) device_manufacturer: Option<Field>,
    pub(super) device_model: Option<Field>,
    pub(super) device_hardware: Option<Field>,
    pub(super) device_software: Option<Field>,
    pub(super) gateway_id: Option<Field>,
    pub(super) patient_id: Option<Field>,
    /// Always there for a mapping with `measurements`.
    pub(super) time: Option<CompiledTime>,
    pub(super) gatt: Option<CompiledGatt>,
    pub(super) checks: Vec<(Field, CheckSpec)>,
    pub(super) unknown_codes: Option<(Field, UnknownCodesSpec)>,
    pub(super) measurements: Vec<CompiledMeasurement>,
    pub(super) body_site: Option<CompiledTerm>,
    pub(super) body_position: Option<CompiledTerm>,
    pub(super) note: Option<Field>,
    /// Where the vendor says the value was typed in, and the values that say so.
    pub(super) self_reported: Option<(Field, Vec<String>)>,
}

#[derive(Debug, Clone)]
pub(super) struct CompiledTerm {
    pub(super) field: Field,
    pub(super) system: String,
    /// The vendor's word → code and display.
    pub(super) terms: BTreeMap<String, (String, Option<String>)>,
    pub(super) in_code: Vec<String>,
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
}

#[derive(Debug, Clone)]
pub(super) struct CompiledTime {
    pub(super) spec: TimeSpec,
    pub(super) instant: Option<Field>,
    pub(super) time_of_day: Option<Field>,
    pub(super) start: Option<Field>,
    pub(super) end: Option<Field>,
    pub(super) duration: Option<Field>,
    pub(super) zone_path: Option<Field>,
}

/// A `[gatt]` section, compiled.
#[derive(Debug, Clone)]
pub(super) struct CompiledGatt {
    pub(super) value: Field,
    pub(super) encoding: GattEncoding,
    pub(super) characteristic: Option<Field>,
    pub(super) handle: Option<Field>,
    /// Handle → characteristic.
    pub(super) handles: BTreeMap<u16, crate::adapters::ble::Characteristic>,
    /// The device's UTC offset for device-local times in the values (`[time] zone` / `zone_path`).
    pub(super) zone: Option<String>,
    pub(super) zone_path: Option<Field>,
    pub(super) zone_unit: Option<super::spec::ZoneUnit>,
}

/// A vendor's "no value" marker, compiled.
#[derive(Debug, Clone)]
pub(super) enum Absent {
    Value(String),
    /// Both ends included; `None` is open.
    Range(Option<Decimal>, Option<Decimal>),
}

#[derive(Debug, Clone)]
pub(super) struct CompiledMeasurement {
    pub(super) spec: MeasurementSpec,
    /// `when`, compiled: the fields a record's must hold for this measurement to be in it.
    pub(super) when: Vec<(Field, Vec<String>)>,
    pub(super) absent: Vec<Absent>,
    /// `code_when`, compiled: each case's fields and values, and its code.
    pub(super) code_when: Vec<(Vec<(Field, String)>, MdcCode)>,
    pub(super) value: Option<Field>,
    pub(super) quality_path: Option<Field>,
    /// `quality_paths`, compiled: each path with its answers.
    pub(super) quality_paths: Vec<(Field, BTreeMap<String, String>)>,
    /// `series`, compiled: the members' path, the seconds one unit counts, and the interval of an
    /// array.
    pub(super) series: Option<(Field, i64, Option<u32>)>,
    pub(super) exponent: Option<Field>,
    pub(super) unit_path: Option<Field>,
    pub(super) components: Vec<CompiledMeasurement>,
    pub(super) statistic: Option<StatisticRule>,
    /// `samples` and `rate`, compiled.
    pub(super) samples: Option<(Field, Field)>,
    /// `code_in`, read.
    pub(super) code_outside_mdc: Option<crate::model::TermCode>,
    /// `term`, compiled.
    pub(super) term: Option<CompiledTerm>,
}

/// Whether a measurement is a statistic, and which.
#[derive(Debug, Clone)]
pub(super) enum StatisticRule {
    Always(crate::model::Statistic),
    /// Where the payload says, and its words (vendor word → statistic; empty: the names themselves).
    Said(Field, BTreeMap<String, crate::model::Statistic>),
}

fn optional(text: &Option<String>, what: &str) -> Result<Option<Field>, String> {
    text.as_deref().map(|t| Field::compile(t, what)).transpose()
}

fn optional_text(text: &Option<FieldText>, what: &str) -> Result<Option<Field>, String> {
    text.as_ref().map(|t| Field::compile_text(t, what)).transpose()
}

/// A `when` table: each path with the value it must find.
fn discriminator(when: &BTreeMap<String, Vec<String>>, what: &str) -> Result<Vec<(Field, Vec<String>)>, String> {
    when.iter()
        .map(|(path, values)| {
            if values.is_empty() {
                return Err(format!("{what}: `{path}` lists no value, so the rule could never hold"));
            }
            Ok((path_field(path, what)?, values.clone()))
        })
        .collect()
}

/// A handle as a gateway or a mapping writes it: `52` or `0x34`.
pub(super) fn parse_handle(text: &str) -> Option<u16> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn compile_gatt(file: &MappingFile) -> Result<Option<CompiledGatt>, String> {
    let Some(gatt) = &file.gatt else {
        return Ok(None);
    };
    if !file.measurements.is_empty() {
        return Err(
            "a mapping gives `[gatt]` (raw characteristic values the GATT decoders read) or `measurements`, not both"
                .into(),
        );
    }
    if file.device.address.is_none() {
        return Err(
            "gatt: give `device.address` (the Bluetooth address path): a characteristic value names no device".into(),
        );
    }
    // What a `[gatt]` mapping would accept and never use is refused, so that no rule is silently
    // not enforced: the decoders read the values, their times and their devices' kinds.
    let unused = [
        (!file.checks.is_empty(), "checks"),
        (file.unknown_codes.is_some(), "unknown_codes"),
        (file.circumstances.body_site.is_some(), "circumstances.body_site"),
        (
            file.circumstances.body_position.is_some(),
            "circumstances.body_position",
        ),
        (file.circumstances.note.is_some(), "circumstances.note"),
        (
            file.circumstances.self_reported.is_some(),
            "circumstances.self_reported",
        ),
        (
            file.device.id.is_some(),
            "device.id (the Bluetooth address is the identity)",
        ),
        (file.device.hardware.is_some(), "device.hardware"),
        (file.device.software.is_some(), "device.software"),
    ];
    if let Some((_, key)) = unused.iter().find(|(given, _)| *given) {
        return Err(format!("gatt: a `[gatt]` mapping does not read {key}; leave it out"));
    }
    let characteristic = match (&gatt.characteristic, &gatt.handle, gatt.handles.is_empty()) {
        (Some(text), None, true) => {
            let field = Field::compile(text, "gatt.characteristic")?;
            if field.is_literal() {
                crate::adapters::ble::Characteristic::parse(text).map_err(|e| format!("gatt.characteristic: {e}"))?;
            }
            Some(field)
        }
        (None, Some(_), false) => None,
        (None, Some(_), true) => {
            return Err("gatt: a `handle` path needs `handles` (handle → characteristic UUID)".into())
        }
        (None, None, _) => {
            return Err("gatt: give `characteristic` (a UUID or its path), or `handle` with `handles`".into())
        }
        _ => return Err("gatt: give `characteristic`, or `handle` with `handles`, not both".into()),
    };
    let mut handles = BTreeMap::new();
    for (handle, uuid) in &gatt.handles {
        let number = parse_handle(handle)
            .ok_or_else(|| format!("gatt.handles: {handle:?} is not a handle (0 to 65535, or 0x0000 to 0xFFFF)"))?;
        let characteristic =
            crate::adapters::ble::Characteristic::parse(uuid).map_err(|e| format!("gatt.handles.{handle}: {e}"))?;
        if handles.insert(number, characteristic).is_some() {
            return Err(format!("gatt.handles: handle {number} is listed twice"));
        }
    }
    let time = file.time.as_ref();
    if let Some(time) = time {
        if time.instant.is_some()
            || time.start.is_some()
            || time.end.is_some()
            || time.duration.is_some()
            || time.time_of_day.is_some()
            || time.format.is_some()
            || time.pattern.is_some()
        {
            return Err("time: a `[gatt]` mapping's values carry their own times (or the receipt time stands); its `[time]` gives only `zone` or `zone_path`".into());
        }
        if let Some(zone) = &time.zone {
            time::parse_offset(zone).map_err(|e| format!("time.zone: {e}"))?;
        }
    }
    Ok(Some(CompiledGatt {
        value: path_field(&gatt.value, "gatt.value")?,
        encoding: gatt.encoding,
        characteristic,
        handle: optional(&gatt.handle, "gatt.handle")?,
        handles,
        zone: time.and_then(|t| t.zone.clone()),
        zone_path: time
            .map(|t| optional(&t.zone_path, "time.zone_path"))
            .transpose()?
            .flatten(),
        zone_unit: time.and_then(|t| t.zone_unit),
    }))
}

fn compile_time(time: &TimeSpec) -> Result<CompiledTime, String> {
    let compiled = CompiledTime {
        instant: optional_text(&time.instant, "time.instant")?,
        time_of_day: optional(&time.time_of_day, "time.time_of_day")?,
        start: optional_text(&time.start, "time.start")?,
        end: optional_text(&time.end, "time.end")?,
        duration: optional(&time.duration, "time.duration")?,
        zone_path: optional(&time.zone_path, "time.zone_path")?,
        spec: time.clone(),
    };
    if compiled.instant.is_none() && compiled.start.is_none() && compiled.end.is_none() {
        return Err("time: give `instant`, or `start`/`end` (with `end` or `duration`)".into());
    }
    let Some(format) = time.format else {
        return Err(
            "time: give `format` (iso8601, unix-seconds, unix-millis, unix-nanos, local-unix-seconds or pattern)"
                .into(),
        );
    };
    if let Some(zone) = &time.zone {
        time::parse_offset(zone).map_err(|e| format!("time.zone: {e}"))?;
    }
    match (format, &time.pattern) {
        (super::spec::TimeFormat::Pattern, Some(pattern)) => {
            time::check_pattern(pattern).map_err(|e| format!("time.pattern: {e}"))?
        }
        (super::spec::TimeFormat::Pattern, None) => {
            return Err("time: `format = \"pattern\"` needs `pattern` (e.g. \"%m/%d/%Y %I:%M:%S %p\")".into())
        }
        (_, Some(_)) => return Err("time.pattern is read only with `format = \"pattern\"`".into()),
        (_, None) => {}
    }
    if time.zone_unit.is_some() && time.zone_path.is_none() {
        return Err("time.zone_unit says what `zone_path` counts; give `zone_path`".into());
    }
    Ok(compiled)
}

/// A field that must be read from the payload: a literal there (`specimen_source` without `$.`) is a
/// typo that would never, or always, match.
fn path_field(text: &str, what: &str) -> Result<Field, String> {
    if !text.starts_with(['$', '@', '^']) {
        return Err(format!(
            "{what}: {text:?} is not a JSONPath (start it with `$` for the payload, `@` for the record or `^` for the object that holds it)"
        ));
    }
    Field::compile(text, what)
}

impl Compiled {
    pub fn new(file: MappingFile) -> Result<Compiled, String> {
        let gatt = compile_gatt(&file)?;
        let time = match (&file.time, &gatt) {
            (_, Some(_)) => None,
            (Some(time), None) => Some(compile_time(time)?),
            (None, None) => return Err("time: give `[time]` with `instant`, or `start`/`end`".into()),
        };
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
        if file.measurements.is_empty() && gatt.is_none() {
            return Err("measurements: a mapping needs at least one (or a `[gatt]` section)".into());
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
            when: discriminator(&file.when, "when")?,
            device_id: optional_text(&file.device.id, "device.id")?,
            device_address: optional_text(&file.device.address, "device.address")?,
            device_manufacturer: optional_text(&file.device.manufacturer, "device.manufacturer")?,
            device_model: optional_text(&file.device.model, "device.model")?,
            device_hardware: optional_text(&file.device.hardware, "device.hardware")?,
            device_software: optional_text(&file.device.software, "device.software")?,
            gateway_id: file
                .gateway
                .as_ref()
                .map(|g| Field::compile_text(&g.id, "gateway.id"))
                .transpose()?,
            patient_id: file
                .patient
                .as_ref()
                .map(|p| Field::compile_text(&p.id, "patient.id"))
                .transpose()?,
            time,
            gatt,
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
}

/// `system|code display`.
fn code_in(text: &str, what: &str) -> Result<crate::model::TermCode, String> {
    let (system, rest) = text.split_once('|').ok_or_else(|| {
        format!("{what}: write `system|code display` (e.g. `http://loinc.org|8884-9 Heart rate rhythm`)")
    })?;
    let rest = rest.trim();
    let (code, display) = match rest.split_once(' ') {
        Some((code, display)) => (code, Some(display.trim().to_string())),
        None => (rest, None),
    };
    if system.trim().is_empty() || code.is_empty() {
        return Err(format!("{what}: both the system and the code are needed"));
    }
    Ok(crate::model::TermCode {
        system: system.trim().to_string(),
        code: code.to_string(),
        display,
    })
}

fn compile_measurement(spec: &MeasurementSpec, what: &str, component: bool) -> Result<CompiledMeasurement, String> {
    let code_outside_mdc = match &spec.code_in {
        None => None,
        Some(_) if component => return Err(format!("{what}: a component's code is MDC's")),
        Some(_) if spec.code != 0 => {
            return Err(format!(
                "{what}: give the MDC `code` or `code_in` (a code of another system), not both"
            ))
        }
        Some(_) if !spec.code_when.is_empty() => {
            return Err(format!(
                "{what}: `code_when` picks an MDC code, which `code_in` would replace; give one of them"
            ))
        }
        Some(text) => Some(code_in(text, &format!("{what}.code_in"))?),
    };
    let term = CompiledTerm::new(&spec.term, &format!("{what}.term"))?;
    if term.is_some()
        && (spec.value.is_some()
            || spec.samples.is_some()
            || spec.series.is_some()
            || !spec.components.is_empty()
            || !spec.coded.is_empty())
    {
        return Err(format!(
            "{what}: a `term` is the value; leave out `value`, `samples`, `series`, `components` and `coded`"
        ));
    }
    if code_outside_mdc.is_none() && crate::codes::lookup(MdcCode(spec.code)).is_none() && spec.reference_id.is_none() {
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
    let samples = match (&spec.samples, &spec.rate) {
        (None, None) => None,
        (Some(_), _) if component => return Err(format!("{what}: a component cannot be a waveform")),
        (Some(_), None) => {
            return Err(format!(
                "{what}: `samples` needs their `rate` (samples per second: a path or a number)"
            ))
        }
        (None, Some(_)) => return Err(format!("{what}: `rate` times `samples`; give `samples`")),
        (Some(path), Some(rate)) => {
            if spec.value.is_some() || spec.series.is_some() || !spec.components.is_empty() || !spec.coded.is_empty() {
                return Err(format!(
                    "{what}: a waveform (`samples`) has no `value`, `series`, `components` or `coded`"
                ));
            }
            if spec.unit.is_none() {
                return Err(format!("{what}: give the samples' `unit` (UCUM, e.g. \"uV\")"));
            }
            if spec.statistic.is_some() {
                return Err(format!("{what}: a waveform is samples, not a statistic"));
            }
            let rate_field = Field::compile(rate, &format!("{what}.rate"))?;
            if rate_field.is_literal() {
                let per_second = rate
                    .trim()
                    .parse::<Decimal>()
                    .ok()
                    .and_then(|r| crate::model::SampleRate::new(r).ok());
                if per_second.is_none() {
                    return Err(format!(
                        "{what}.rate: {rate:?} is not a rate of at least 1 sample per second"
                    ));
                }
            }
            Some((path_field(path, &format!("{what}.samples"))?, rate_field))
        }
    };
    // A series' value is each member (`@`), a waveform's its samples, a term's its word.
    let has_value = spec.value.is_some() || spec.series.is_some() || samples.is_some() || term.is_some();
    if has_value != spec.components.is_empty() {
        return Err(format!(
            "{what}: give a `value` (or a `series`) or `components`, not both"
        ));
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
    let series = match &spec.series {
        None => None,
        Some(_) if component => return Err(format!("{what}: a component cannot be a series")),
        Some(series) => {
            if spec.value.as_ref().is_some_and(|v| v.path() != "@") {
                return Err(format!(
                    "{what}: in a series each member is the value: leave out `value` (or write \"@\")"
                ));
            }
            if series.interval == Some(0) {
                return Err(format!("{what}.series.interval: 0 would put every item at one time"));
            }
            let per = match series.unit {
                super::spec::SeriesUnit::Seconds => 1,
                super::spec::SeriesUnit::Minutes => 60,
            };
            Some((
                path_field(&series.members, &format!("{what}.series.members"))?,
                per,
                series.interval,
            ))
        }
    };
    let value_text = if series.is_some() {
        Some("@".to_string())
    } else {
        spec.value.as_ref().map(|v| v.path().to_string())
    };
    if value_text.is_some() && spec.coded.is_empty() && spec.unit.is_none() && spec.unit_path.is_none() {
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
    let quality_paths = spec
        .quality_paths
        .iter()
        .enumerate()
        .map(|(i, q)| {
            for flag in q.quality.values() {
                if crate::model::QualityFlag::from_name(flag).is_none() {
                    return Err(format!(
                        "{what}.quality_paths[{i}].quality: {flag:?} is not a quality flag"
                    ));
                }
            }
            Ok((
                path_field(&q.path, &format!("{what}.quality_paths[{i}].path"))?,
                q.quality.clone(),
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let absent = spec
        .absent_when
        .iter()
        .map(|marker| match marker {
            AbsentMarker::Value(value) => Ok(Absent::Value(value.clone())),
            AbsentMarker::Range(range) => {
                let end = |text: &Option<String>, key: &str| {
                    text.as_deref()
                        .map(|t| {
                            t.trim()
                                .parse::<Decimal>()
                                .map_err(|_| format!("{what}.absent_when: `{key}` {t:?} is not a number"))
                        })
                        .transpose()
                };
                let (min, max) = (end(&range.min, "min")?, end(&range.max, "max")?);
                match (min, max) {
                    (None, None) => Err(format!("{what}.absent_when: a range needs `min`, `max` or both")),
                    (Some(min), Some(max)) if max.compare(min) == std::cmp::Ordering::Less => {
                        Err(format!("{what}.absent_when: the range's `max` is below its `min`"))
                    }
                    (min, max) => Ok(Absent::Range(min, max)),
                }
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    let statistic = match &spec.statistic {
        None if spec.statistics.is_empty() => None,
        None => {
            return Err(format!(
                "{what}.statistics translates the words of a `statistic` path; give `statistic`"
            ))
        }
        Some(_) if component => {
            return Err(format!(
                "{what}: a statistic belongs on the measurement, not a component"
            ))
        }
        Some(text) => {
            let known = || {
                crate::model::Statistic::ALL
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let field = Field::compile(text, &format!("{what}.statistic"))?;
            if field.is_literal() {
                if !spec.statistics.is_empty() {
                    return Err(format!(
                        "{what}.statistics is for a `statistic` path, not the name {text:?}"
                    ));
                }
                let statistic = crate::model::Statistic::from_name(text)
                    .ok_or_else(|| format!("{what}.statistic: {text:?} is not one of {} (or a path)", known()))?;
                Some(StatisticRule::Always(statistic))
            } else {
                let mut words = BTreeMap::new();
                for (word, name) in &spec.statistics {
                    let statistic = crate::model::Statistic::from_name(name)
                        .ok_or_else(|| format!("{what}.statistics: {name:?} is not one of {}", known()))?;
                    words.insert(word.clone(), statistic);
                }
                Some(StatisticRule::Said(field, words))
            }
        }
    };
    let value = match &spec.value {
        Some(text) if series.is_none() => Some(Field::compile_text(text, &format!("{what}.value"))?),
        _ => optional(&value_text, &format!("{what}.value"))?,
    };
    Ok(CompiledMeasurement {
        code_outside_mdc,
        term,
        samples,
        statistic,
        when: discriminator(&spec.when, &format!("{what}.when"))?,
        absent,
        code_when,
        quality_path: optional(&spec.quality_path, &format!("{what}.quality_path"))?,
        quality_paths,
        series,
        value,
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

pub(super) fn label(spec: &MeasurementSpec) -> String {
    if spec.name.is_empty() {
        format!("MDC {}", spec.code)
    } else {
        spec.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(toml: &str) -> Result<Compiled, String> {
        Compiled::new(super::super::spec::parse_text(toml, false)?)
    }

    const BASE: &str = "name = \"t\"\nmatch = \"$.list\"\nrecords = \"$.list[*]\"\n[time]\ninstant = \"@.t\"\nformat = \"unix-seconds\"\n";

    #[test]
    fn a_mapping_that_cannot_run_is_refused_when_compiled_naming_the_key() {
        let good = format!("{BASE}[[measurements]]\nname = \"hr\"\ncode = 147842\nvalue = \"@.v\"\nunit = \"/min\"\n");
        let mapping = compiled(&good).unwrap();
        assert_eq!(mapping.name(), "t");
        assert_eq!(mapping.measurements.len(), 1);

        let none = compiled(&BASE.replace("[time]", "measurements = []\n[time]")).unwrap_err();
        assert!(none.contains("measurements: a mapping needs at least one"), "{none}");

        let bad_path = good.replace("@.v", "@.[");
        let error = compiled(&bad_path).unwrap_err();
        assert!(error.contains("measurements[0]"), "{error}");

        let no_time = good.replace("instant = \"@.t\"\n", "");
        assert!(compiled(&no_time).unwrap_err().contains("time: give `instant`"));

        let bad_zone = good.replace("[time]\n", "[time]\nzone = \"Mars/Olympus\"\n");
        assert!(compiled(&bad_zone).unwrap_err().contains("time.zone"));

        let qualifies = format!("{good}qualifies = \"nothing\"\n");
        assert!(compiled(&qualifies)
            .unwrap_err()
            .contains("measurements[0].qualifies: no measurement is named \"nothing\""));
    }
}
