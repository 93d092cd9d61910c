//! A MedTech FHIR destination mapping (`CollectionFhir` of `CodeValueFhir` templates), as MedTech users
//! have it: for each measurement type, the Observation's codes, categories, the window that groups
//! measurements into one Observation (`periodInterval`), its value and its components.

use std::path::Path;

use serde_json::{Number, Value};

use super::error::MedtechMappingError;

/// `periodInterval`: how many measurements one Observation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodInterval {
    /// 0 (or absent): one Observation per measurement time.
    Single,
    /// 60: one per clock hour (UTC).
    Hourly,
    /// 1440: one per day (UTC).
    Daily,
    /// -1: one per correlation id (`correlationIdExpression`).
    CorrelationId,
}

/// One coding as a template writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateCode {
    pub code: String,
    pub system: Option<String>,
    pub display: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateCategory {
    pub text: Option<String>,
    pub codes: Vec<TemplateCode>,
}

/// What a named value becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// Every value of the window in one series; `default_period` in milliseconds as written.
    SampledData {
        default_period: Number,
        unit: Option<String>,
    },
    Quantity {
        unit: Option<String>,
        code: Option<String>,
        system: Option<String>,
    },
    String,
    /// The template's concept, stated when the value is present.
    CodeableConcept {
        text: Option<String>,
        codes: Vec<TemplateCode>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValueTemplate {
    pub value_name: String,
    pub kind: ValueKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComponentTemplate {
    pub codes: Vec<TemplateCode>,
    pub value: ValueTemplate,
}

/// One `CodeValueFhir` template.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeValueTemplate {
    pub type_name: String,
    pub period: PeriodInterval,
    pub codes: Vec<TemplateCode>,
    pub category: Vec<TemplateCategory>,
    pub value: Option<ValueTemplate>,
    pub components: Vec<ComponentTemplate>,
}

/// A loaded FHIR destination mapping.
#[derive(Debug, Clone, Default)]
pub struct FhirTemplates {
    templates: Vec<CodeValueTemplate>,
}

impl FhirTemplates {
    pub fn load(path: &Path) -> Result<FhirTemplates, MedtechMappingError> {
        let origin = path.display().to_string();
        let text =
            std::fs::read(path).map_err(|e| MedtechMappingError::Template(format!("{origin}: cannot read it: {e}")))?;
        let value: Value = serde_json::from_slice(&text).map_err(|e| {
            MedtechMappingError::Template(format!(
                "{origin}: not JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        FhirTemplates::from_json(&value).map_err(|m| MedtechMappingError::Template(format!("{origin}: {m}")))
    }

    pub fn from_json(value: &Value) -> Result<FhirTemplates, String> {
        if value.get("templateType").and_then(Value::as_str) != Some("CollectionFhir") {
            return Err("the root templateType must be \"CollectionFhir\"".into());
        }
        let entries = value
            .get("template")
            .and_then(Value::as_array)
            .ok_or("`template` must be a list of templates")?;
        let templates = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| code_value_template(entry).map_err(|m| format!("template[{i}]: {m}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FhirTemplates { templates })
    }

    /// The template of a measurement type; MedTech matches type names case-insensitively.
    pub fn for_type(&self, type_name: &str) -> Result<&CodeValueTemplate, MedtechMappingError> {
        self.templates
            .iter()
            .find(|t| t.type_name.eq_ignore_ascii_case(type_name))
            .ok_or_else(|| MedtechMappingError::NoTemplate(type_name.to_string()))
    }
}

/// A list field's items; none when absent.
fn list<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn text(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(str::to_string)
}

fn codes(value: &Value, at: &str) -> Result<Vec<TemplateCode>, String> {
    let Some(list) = value.get("codes") else {
        return Ok(Vec::new());
    };
    let list = list.as_array().ok_or_else(|| format!("{at}codes must be a list"))?;
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(TemplateCode {
                code: text(c, "code").ok_or_else(|| format!("{at}codes[{i}]: `code` is required"))?,
                system: text(c, "system"),
                display: text(c, "display"),
            })
        })
        .collect()
}

fn value_template(value: &Value, at: &str) -> Result<ValueTemplate, String> {
    let value_name = text(value, "valueName").ok_or_else(|| format!("{at}`valueName` is required"))?;
    let kind = match value.get("valueType").and_then(Value::as_str).unwrap_or_default() {
        "SampledData" => {
            let default_period = match value.get("defaultPeriod") {
                Some(Value::Number(n)) if n.as_f64().is_some_and(|p| p > 0.0) => n.clone(),
                _ => {
                    return Err(format!(
                        "{at}SampledData needs a positive `defaultPeriod` (milliseconds)"
                    ))
                }
            };
            ValueKind::SampledData {
                default_period,
                unit: text(value, "unit"),
            }
        }
        "Quantity" => ValueKind::Quantity {
            unit: text(value, "unit"),
            code: text(value, "code"),
            system: text(value, "system"),
        },
        "String" => ValueKind::String,
        "CodeableConcept" => ValueKind::CodeableConcept {
            text: text(value, "text"),
            codes: codes(value, at)?,
        },
        other => {
            return Err(format!(
                "{at}valueType {other:?} is not SampledData, Quantity, String or CodeableConcept"
            ))
        }
    };
    Ok(ValueTemplate { value_name, kind })
}

fn code_value_template(entry: &Value) -> Result<CodeValueTemplate, String> {
    match entry.get("templateType").and_then(Value::as_str) {
        Some("CodeValueFhir") => {}
        other => return Err(format!("templateType {other:?} is not CodeValueFhir")),
    }
    let inner = entry.get("template").ok_or("`template` is missing")?;
    let type_name = text(inner, "typeName")
        .filter(|n| !n.is_empty())
        .ok_or("`typeName` is required")?;
    let period = match inner.get("periodInterval").map(Value::as_i64) {
        None | Some(Some(0)) => PeriodInterval::Single,
        Some(Some(60)) => PeriodInterval::Hourly,
        Some(Some(1440)) => PeriodInterval::Daily,
        Some(Some(-1)) => PeriodInterval::CorrelationId,
        Some(_) => return Err("periodInterval must be 0, 60, 1440 or -1".into()),
    };
    let category = list(inner, "category")
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(TemplateCategory {
                text: text(c, "text"),
                codes: codes(c, &format!("category[{i}]."))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let value = inner.get("value").map(|v| value_template(v, "value: ")).transpose()?;
    let components = list(inner, "components")
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let at = format!("components[{i}]: ");
            Ok(ComponentTemplate {
                codes: codes(c, &at)?,
                value: value_template(c.get("value").ok_or_else(|| format!("{at}`value` is required"))?, &at)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(CodeValueTemplate {
        type_name,
        period,
        codes: codes(inner, "")?,
        category,
        value,
        components,
    })
}
