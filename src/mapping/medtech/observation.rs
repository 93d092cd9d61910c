//! The Observation of one group, created or merged into the one already on the server, field by field
//! as iomt-fhir does it (fixtures/medtech/EXPECTED-OUTPUT.md §2): codes followed by the service
//! coding, `effectivePeriod` of the window, one value processor per value type, components found again
//! by their service coding, `final` when created and `amended` when a merge changed something.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Number, Value};

use super::error::MedtechMappingError;
use super::group::ObservationGroup;
use super::sampled_data;
use super::template::{CodeValueTemplate, ComponentTemplate, TemplateCode, ValueKind, ValueTemplate};
use crate::fhir::medtech::{sha256_hex, Subjects, SERVICE_SYSTEM};

/// More slots than this in one SampledData is a template mistake (a 1 ms period over a day), not data.
const MAX_SLOTS: i64 = 1_000_000;

/// The Observation identifier's value.
pub fn identifier_value(subjects: &Subjects, group: &ObservationGroup) -> String {
    format!(
        "{}.{}.{}.{}",
        subjects.patient,
        subjects.device,
        group.type_name,
        group.id_segment()
    )
}

/// The Observation's resource id: SHA-256 of `{system}_{identifier value}`.
pub fn observation_id(identifier_value: &str) -> String {
    sha256_hex(&format!("{SERVICE_SYSTEM}_{identifier_value}"))
}

/// MedTech's instant format: seven fractional digits and `Z` (.NET's "o" of a UTC time).
pub fn instant(time: DateTime<Utc>) -> String {
    // chrono has no seven-digit fraction: ticks of 100 ns written out.
    format!(
        "{}.{:07}Z",
        time.format("%Y-%m-%dT%H:%M:%S"),
        time.timestamp_subsec_nanos() / 100
    )
}

fn coding(code: &TemplateCode) -> Value {
    let mut coding = Map::new();
    if let Some(system) = &code.system {
        coding.insert("system".into(), json!(system));
    }
    coding.insert("code".into(), json!(code.code));
    if let Some(display) = &code.display {
        coding.insert("display".into(), json!(display));
    }
    Value::Object(coding)
}

/// The template's codes followed by the service coding of `name`, with `name` as the text.
fn concept(codes: &[TemplateCode], name: &str) -> Value {
    let mut codings: Vec<Value> = codes.iter().map(coding).collect();
    codings.push(json!({"system": SERVICE_SYSTEM, "code": name, "display": name}));
    json!({"coding": codings, "text": name})
}

fn category(template: &CodeValueTemplate) -> Option<Value> {
    (!template.category.is_empty()).then(|| {
        Value::Array(
            template
                .category
                .iter()
                .map(|c| {
                    let mut concept = Map::new();
                    concept.insert("coding".into(), Value::Array(c.codes.iter().map(coding).collect()));
                    if let Some(text) = &c.text {
                        concept.insert("text".into(), json!(text));
                    }
                    Value::Object(concept)
                })
                .collect(),
        )
    })
}

fn period_of(kind: &ValueKind) -> Result<i64, MedtechMappingError> {
    match kind {
        ValueKind::SampledData { default_period, .. } => default_period
            .as_f64()
            .and_then(sampled_data::period_nanos)
            .ok_or_else(|| MedtechMappingError::Template("defaultPeriod must be positive".into())),
        _ => Ok(1),
    }
}

fn check_slots(start: DateTime<Utc>, end: DateTime<Utc>, period: i64, name: &str) -> Result<(), MedtechMappingError> {
    let span = (end - start).num_nanoseconds().unwrap_or(i64::MAX);
    if span / period >= MAX_SLOTS {
        return Err(MedtechMappingError::Template(format!(
            "{name}: a SampledData of more than {MAX_SLOTS} slots (the window over defaultPeriod)"
        )));
    }
    Ok(())
}

/// A value as a FHIR decimal, exactly as sent: serde_json keeps its digits (arbitrary precision), and
/// JSON's number grammar is FHIR's decimal.
fn decimal(text: &str, value_name: &str) -> Result<Number, MedtechMappingError> {
    serde_json::from_str(text.trim())
        .map_err(|_| MedtechMappingError::Measurement(format!("{value_name}: the value is not a number")))
}

/// A new value of `template` for the group's values (sorted by time) over [start, end]; the key is
/// the `value[x]` name.
fn new_value(
    template: &ValueTemplate,
    values: &[(DateTime<Utc>, String)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(&'static str, Value), MedtechMappingError> {
    let single = || match values {
        [(_, value)] => Ok(value.as_str()),
        _ => Err(MedtechMappingError::Measurement(format!(
            "{}: expected 1 value, received {} (a window of more than one measurement needs SampledData)",
            template.value_name,
            values.len()
        ))),
    };
    Ok(match &template.kind {
        ValueKind::SampledData { default_period, unit } => {
            // SampledData.data holds decimals (and E, U, L): text that is none is refused, not written.
            for (_, value) in values {
                decimal(value, &template.value_name)?;
            }
            let period = period_of(&template.kind)?;
            check_slots(start, end, period, &template.value_name)?;
            let mut origin = Map::new();
            origin.insert("value".into(), json!(0));
            if let Some(unit) = unit {
                origin.insert("unit".into(), json!(unit));
            }
            (
                "valueSampledData",
                json!({
                    "origin": origin,
                    "period": default_period,
                    "dimensions": 1,
                    "data": sampled_data::build(values, start, end, period),
                }),
            )
        }
        ValueKind::Quantity { unit, code, system } => {
            let number = decimal(single()?, &template.value_name)?;
            let mut quantity = Map::new();
            quantity.insert("value".into(), Value::Number(number));
            for (field, v) in [("unit", unit), ("system", system), ("code", code)] {
                if let Some(v) = v {
                    quantity.insert(field.into(), json!(v));
                }
            }
            ("valueQuantity", Value::Object(quantity))
        }
        ValueKind::String => ("valueString", json!(single()?)),
        ValueKind::CodeableConcept { text, codes } => {
            let mut concept = Map::new();
            concept.insert("coding".into(), Value::Array(codes.iter().map(coding).collect()));
            if let Some(text) = text {
                concept.insert("text".into(), json!(text));
            }
            ("valueCodeableConcept", Value::Object(concept))
        }
    })
}

/// A component of `template` for its values: its codes with the service coding, and its value.
fn new_component(
    template: &ComponentTemplate,
    values: &[(DateTime<Utc>, String)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Value, MedtechMappingError> {
    let (key, value) = new_value(&template.value, values, start, end)?;
    let mut component = Map::new();
    component.insert("code".into(), concept(&template.codes, &template.value.value_name));
    component.insert(key.into(), value);
    Ok(Value::Object(component))
}

/// The Observation MedTech creates for a group.
pub fn create(
    template: &CodeValueTemplate,
    group: &ObservationGroup,
    subjects: &Subjects,
    issued: DateTime<Utc>,
) -> Result<Value, MedtechMappingError> {
    let identifier = identifier_value(subjects, group);
    let mut observation = Map::new();
    observation.insert("resourceType".into(), json!("Observation"));
    observation.insert("id".into(), json!(observation_id(&identifier)));
    observation.insert(
        "identifier".into(),
        json!([{"system": SERVICE_SYSTEM, "value": identifier}]),
    );
    observation.insert("status".into(), json!("final"));
    if let Some(category) = category(template) {
        observation.insert("category".into(), category);
    }
    observation.insert("code".into(), concept(&template.codes, &group.type_name));
    observation.insert(
        "subject".into(),
        json!({"reference": format!("Patient/{}", subjects.patient)}),
    );
    if let Some(encounter) = &subjects.encounter {
        observation.insert(
            "encounter".into(),
            json!({"reference": format!("Encounter/{encounter}")}),
        );
    }
    observation.insert(
        "effectivePeriod".into(),
        json!({"start": instant(group.start), "end": instant(group.end)}),
    );
    observation.insert(
        "issued".into(),
        json!(issued.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    );
    observation.insert(
        "device".into(),
        json!({"reference": format!("Device/{}", subjects.device)}),
    );
    if let Some(value) = &template.value {
        if let Some(values) = group.values.get(&value.value_name) {
            let (key, v) = new_value(value, values, group.start, group.end)?;
            observation.insert(key.into(), v);
        }
    }
    let components: Vec<Value> = template
        .components
        .iter()
        .filter_map(|c| {
            let values = group.values.get(&c.value.value_name)?;
            Some(new_component(c, values, group.start, group.end))
        })
        .collect::<Result<_, _>>()?;
    if !components.is_empty() {
        observation.insert("component".into(), Value::Array(components));
    }
    Ok(Value::Object(observation))
}

fn parse_instant(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?).ok().map(|t| t.to_utc())
}

/// Two instants a server may have stored at different precisions (a FHIR server can keep
/// `…59.9999999` as `…59.999`) are the same when within a millisecond.
fn same_instant(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    (a - b).num_microseconds().is_some_and(|d| d.abs() < 1000)
}

/// The merged value in `holder` (an Observation or a component) for a value template.
fn merge_value(
    holder: &mut Map<String, Value>,
    template: &ValueTemplate,
    values: &[(DateTime<Utc>, String)],
    existing_start: DateTime<Utc>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(), MedtechMappingError> {
    let ValueKind::SampledData { .. } = template.kind else {
        // Quantity, String, CodeableConcept: the new value replaces the old one.
        let (key, value) = new_value(template, values, start, end)?;
        holder.retain(|k, _| !k.starts_with("value"));
        holder.insert(key.into(), value);
        return Ok(());
    };
    let existing = holder.get("valueSampledData").ok_or_else(|| {
        MedtechMappingError::Merge(format!(
            "{}: the Observation on the server holds no SampledData to merge into",
            template.value_name
        ))
    })?;
    if existing.get("dimensions").and_then(Value::as_i64).unwrap_or(1) > 1 {
        return Err(MedtechMappingError::Merge(format!(
            "{}: the SampledData on the server has more than one dimension",
            template.value_name
        )));
    }
    let existing_period = existing
        .get("period")
        .and_then(Value::as_f64)
        .and_then(sampled_data::period_nanos)
        .ok_or_else(|| {
            MedtechMappingError::Merge(format!(
                "{}: the SampledData on the server has no period",
                template.value_name
            ))
        })?;
    let data = existing.get("data").and_then(Value::as_str).unwrap_or_default();
    let merged = sampled_data::merge(sampled_data::decode(data, existing_start, existing_period), values);
    let (key, value) = new_value(template, &merged, start, end)?;
    holder.insert(key.into(), value);
    Ok(())
}

fn has_service_code(concept: &Value, name: &str) -> bool {
    concept.get("coding").and_then(Value::as_array).is_some_and(|codings| {
        codings.iter().any(|c| {
            c.get("system").and_then(Value::as_str) == Some(SERVICE_SYSTEM)
                && c.get("code").and_then(Value::as_str) == Some(name)
        })
    })
}

/// The existing Observation with the group merged in, or `None` when that changes nothing (a replay,
/// a duplicate): then nothing is written.
pub fn merge(
    template: &CodeValueTemplate,
    existing: &Value,
    group: &ObservationGroup,
    issued: DateTime<Utc>,
) -> Result<Option<Value>, MedtechMappingError> {
    let Value::Object(original) = existing else {
        return Err(MedtechMappingError::Merge(
            "the Observation on the server is not a JSON object".into(),
        ));
    };
    let mut merged = original.clone();
    let period = merged.get("effectivePeriod");
    let existing_start = parse_instant(period.and_then(|p| p.get("start"))).unwrap_or(group.start);
    let existing_end = parse_instant(period.and_then(|p| p.get("end"))).unwrap_or(group.end);
    let start = if group.start < existing_start && !same_instant(group.start, existing_start) {
        group.start
    } else {
        existing_start
    };
    let end = if group.end > existing_end && !same_instant(group.end, existing_end) {
        group.end
    } else {
        existing_end
    };
    if start != existing_start || end != existing_end {
        merged.insert(
            "effectivePeriod".into(),
            json!({"start": instant(start), "end": instant(end)}),
        );
    }
    match category(template) {
        Some(category) => merged.insert("category".into(), category),
        None => merged.remove("category"),
    };
    if let Some(value) = &template.value {
        if let Some(values) = group.values.get(&value.value_name) {
            merge_value(&mut merged, value, values, existing_start, start, end)?;
        }
    }
    for component in &template.components {
        let Some(values) = group.values.get(&component.value.value_name) else {
            continue;
        };
        let name = &component.value.value_name;
        let list = merged.entry("component").or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(list) = list else {
            return Err(MedtechMappingError::Merge(
                "the Observation's component is not a list".into(),
            ));
        };
        match list
            .iter_mut()
            .find(|c| c.get("code").is_some_and(|code| has_service_code(code, name)))
        {
            Some(Value::Object(found)) => merge_value(found, &component.value, values, existing_start, start, end)?,
            _ => list.push(new_component(component, values, start, end)?),
        }
    }
    if &merged == original {
        return Ok(None);
    }
    merged.insert("status".into(), json!("amended"));
    merged.insert(
        "issued".into(),
        json!(issued.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    );
    Ok(Some(Value::Object(merged)))
}
