//! `fhirgate mappings check`: what a mapping file says, checked against the code table. Codes must
//! exist; a unit must fit the code (a heart rate in mm[Hg] is a mistake); a LOINC stated for a vital
//! sign must be the one that means it (MedTech's own sample codes diastolic pressure as 8867-4, the heart
//! rate).

use crate::codes;
use crate::model::MdcCode;

/// One finding: `error` stops `check` with a non-zero exit, a warning does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub error: bool,
    pub message: String,
}

/// The UCUM units that fit a code: its table unit and the conversions the mapper or the vital-signs
/// profile accept for it.
pub fn units_for(code: MdcCode) -> Vec<&'static str> {
    let Some(entry) = codes::lookup(code) else {
        return Vec::new();
    };
    match entry.ucum {
        Some("kg") => vec!["kg", "g", "[lb_av]"],
        Some("cm") | Some("m") => vec!["cm", "m", "[in_i]"],
        Some("mm[Hg]") => vec!["mm[Hg]", "kPa"],
        // Flows: per minute or per second, litres or parts of them (a peak flow, a minute volume).
        Some("L/min") => vec!["L/min", "L/s", "cL/s", "mL/s"],
        // Potentials: ECG leads come in millivolts or microvolts (Withings and Polar send µV).
        Some("mV") => vec!["mV", "uV"],
        Some("Cel") => vec!["Cel", "[degF]"],
        // UCUM annotations (`{beat}`, `{breath}`) are comments: the unit is /min either way.
        Some("/min") => vec!["/min", "{beat}/min", "{beats}/min", "{breath}/min", "{breaths}/min"],
        Some("mg/dL") | Some("mmol/L") => vec!["mg/dL", "mmol/L"],
        Some(unit) => vec![unit],
        None => Vec::new(),
    }
}

/// Checks that `unit` fits `code`; `None` when it does (or the table does not say).
pub fn unit_mismatch(code: MdcCode, unit: &str) -> Option<String> {
    let allowed = units_for(code);
    if allowed.is_empty() || allowed.contains(&unit) {
        return None;
    }
    let name = codes::lookup(code).map(|e| e.reference_id).unwrap_or("?");
    Some(format!(
        "unit {unit} does not fit MDC {} {name} (expected one of {})",
        code.0,
        allowed.join(", ")
    ))
}

/// What the code table knows about a LOINC code: the MDC codes it belongs to.
pub fn mdc_for_loinc(loinc: &str) -> Vec<&'static codes::CodeEntry> {
    codes::TABLE
        .iter()
        .filter(|entry| entry.loinc == Some(loinc) || entry.extra_loinc.contains(&loinc))
        .collect()
}

/// A concentration LOINC used with a unit of the other dimension (glucose 2339-0 is mg/dL, 15074-8
/// mmol/L): the value would be read as ten to eighteen times what it is.
fn dimension_contradiction(what: &str, loinc: &str, unit: &str) -> Option<Finding> {
    let dimension = codes::concentration_dimension(unit)?;
    codes::LOINC_BY_DIMENSION.iter().find_map(|row| {
        let (meant, fits) = if row.mass == loinc {
            ("a mass concentration", dimension == codes::Dimension::Mass)
        } else if row.moles == loinc {
            ("a substance concentration", dimension == codes::Dimension::Moles)
        } else {
            return None;
        };
        let right = if dimension == codes::Dimension::Mass {
            row.mass
        } else {
            row.moles
        };
        (!fits).then(|| Finding {
            error: true,
            message: format!(
                "{what}: LOINC {loinc} ({}) is {meant}, but the value's unit is {unit}; in {unit} it is LOINC {right}",
                row.meaning
            ),
        })
    })
}

/// UCUM for the unit spellings MedTech templates use.
fn ucum(unit: &str) -> &str {
    match unit {
        "mmHg" => "mm[Hg]",
        "count/min" | "beats/min" | "bpm" | "{beats}/min" => "/min",
        "degC" | "C" => "Cel",
        other => other,
    }
}

/// Checks an Azure MedTech "FHIR destination mapping" (`CollectionFhir` of `CodeValueFhir`
/// templates): every LOINC coding of a vital sign must fit the unit of the value it codes and the name
/// given to it. MedTech's own sample codes the diastolic component as 8867-4, the heart rate.
pub fn check_medtech_fhir(template: &serde_json::Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    let templates = template
        .get("template")
        .and_then(|t| t.as_array())
        .cloned()
        .unwrap_or_default();
    for (i, entry) in templates.iter().enumerate() {
        let inner = entry.get("template").unwrap_or(entry);
        let type_name = inner.get("typeName").and_then(|t| t.as_str()).unwrap_or("?");
        let mut coded = vec![(format!("template[{i}] ({type_name})"), inner.clone())];
        for (j, component) in inner
            .get("components")
            .and_then(|c| c.as_array())
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            coded.push((format!("template[{i}] ({type_name}) components[{j}]"), component));
        }
        for (what, item) in coded {
            let unit = item.pointer("/value/unit").and_then(|u| u.as_str()).map(ucum);
            let value_name = item
                .pointer("/value/valueName")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            for code in item
                .get("codes")
                .and_then(|c| c.as_array())
                .cloned()
                .unwrap_or_default()
            {
                if code.get("system").and_then(|s| s.as_str()) != Some("http://loinc.org") {
                    continue;
                }
                let loinc = code.get("code").and_then(|c| c.as_str()).unwrap_or_default();
                let display = code.get("display").and_then(|d| d.as_str()).unwrap_or_default();
                findings.extend(loinc_contradictions(&what, loinc, display, value_name, unit));
                findings.extend(unit.and_then(|unit| dimension_contradiction(&what, loinc, unit)));
            }
        }
    }
    findings
}

/// Where a LOINC code disagrees with the unit or the name it is used with.
fn loinc_contradictions(what: &str, loinc: &str, display: &str, value_name: &str, unit: Option<&str>) -> Vec<Finding> {
    let entries = mdc_for_loinc(loinc);
    let Some(first) = entries.first() else {
        return Vec::new();
    };
    let mut meanings: Vec<&str> = entries.iter().map(|e| e.text).collect();
    meanings.sort_unstable();
    meanings.dedup();
    let meaning = meanings.join(" or ");
    let mut findings = Vec::new();
    if let Some(unit) = unit {
        let fits = entries.iter().any(|e| units_for(e.mdc).contains(&unit));
        if !fits {
            findings.push(Finding {
                error: true,
                message: format!(
                    "{what}: LOINC {loinc} ({meaning}) is measured in {}, but the value's unit is {unit}",
                    first.ucum.unwrap_or("?")
                ),
            });
        }
    }
    // The name given to the coding (display or valueName) is what another vital sign means.
    for name in [display, value_name].into_iter().filter(|n| !n.is_empty()) {
        let said = name.to_lowercase();
        let own = entries
            .iter()
            .any(|e| e.text.to_lowercase() == said || said.contains(&first_word(e.text)));
        let other = codes::TABLE.iter().find(|e| {
            e.vital_sign && e.loinc.is_some() && e.loinc != Some(loinc) && {
                let text = e.text.to_lowercase();
                text == said || (said.len() >= 5 && text.starts_with(&said))
            }
        });
        if let (false, Some(other)) = (own, other) {
            findings.push(Finding {
                error: true,
                message: format!(
                    "{what}: \"{name}\" is coded LOINC {loinc}, which means {meaning}; {} is LOINC {}",
                    other.text,
                    other.loinc.unwrap_or_default()
                ),
            });
            break;
        }
    }
    findings
}

fn first_word(text: &str) -> String {
    text.split_whitespace().next().unwrap_or_default().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medtechs_sample_diastolic_coded_as_heart_rate_is_caught() {
        let sample = serde_json::json!({
            "templateType": "CollectionFhir",
            "template": [{
                "templateType": "CodeValueFhir",
                "template": {
                    "codes": [{ "code": "85354-9", "display": "Blood pressure panel", "system": "http://loinc.org" }],
                    "periodInterval": 60,
                    "typeName": "bloodpressure",
                    "components": [
                        { "codes": [{ "code": "8867-4", "display": "Diastolic blood pressure", "system": "http://loinc.org" }],
                          "value": { "defaultPeriod": 1000, "unit": "mmHg", "valueName": "diastolic", "valueType": "SampledData" } },
                        { "codes": [{ "code": "8480-6", "display": "Systolic blood pressure", "system": "http://loinc.org" }],
                          "value": { "defaultPeriod": 1000, "unit": "mmHg", "valueName": "systolic", "valueType": "SampledData" } }
                    ]
                }
            }, {
                "templateType": "CodeValueFhir",
                "template": {
                    "codes": [{ "code": "8867-4", "system": "http://loinc.org", "display": "Heart rate" }],
                    "periodInterval": 60,
                    "typeName": "heartrate",
                    "value": { "defaultPeriod": 1000, "unit": "count/min", "valueName": "hr", "valueType": "SampledData" }
                }
            }]
        });
        let findings = check_medtech_fhir(&sample);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(findings.len(), 2, "{messages:#?}");
        assert!(
            messages[0].contains("components[0]: LOINC 8867-4 (Heart rate or Pulse rate) is measured in /min"),
            "{messages:#?}"
        );
        assert!(messages[0].contains("the value's unit is mm[Hg]"), "{messages:#?}");
        assert!(
            messages[1].contains("\"Diastolic blood pressure\" is coded LOINC 8867-4, which means Heart rate or Pulse rate; Diastolic blood pressure is LOINC 8462-4"),
            "{messages:#?}"
        );
        // The correct heart-rate and systolic codings raise nothing.
        assert!(findings
            .iter()
            .all(|f| !f.message.contains("template[1]") && !f.message.contains("components[1]")));
    }

    #[test]
    fn medtech_device_expressions_are_read_as_the_runtime_reads_them() {
        let template = serde_json::json!({"templateType": "CollectionContent", "template": [
            {"templateType": "JsonPathContent", "template": {
                "typeName": "hr", "typeMatchExpression": "$..[?(@hr)]",
                "deviceIdExpression": {"value": "device", "language": "JmesPath"},
                "timestampExpression": {"language": "JsonPath"},
                "values": [{"valueName": "hr", "valueExpression": "$.hr"}]}},
            {"templateType": "CalculatedContent", "template": {
                "typeName": "bp", "typeMatchExpression": "$..[?(@bp)]",
                "defaultExpressionLanguage": "XPath",
                "deviceIdExpression": "$.d", "timestampExpression": "$.t"}}
        ]});
        let (findings, names) = check_medtech_device(&template);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "template[0] (JsonPathContent) deviceIdExpression: JsonPathContent expressions are JSONPath; \
                 JMESPath needs CalculatedContent",
                "template[0] (JsonPathContent) timestampExpression: an expression object needs `value`",
                "template[1] (CalculatedContent): defaultExpressionLanguage \"XPath\" is not JsonPath or JmesPath",
            ]
        );
        assert_eq!(names, vec!["hr", "bp"]);
        // The runtime refuses the same template for the same reason.
        let runtime = crate::adapters::medtech::device_mapping::DeviceMapping::from_json(&template, "t")
            .unwrap_err()
            .to_string();
        assert!(runtime.contains("JMESPath needs CalculatedContent"), "{runtime}");
    }

    #[test]
    fn a_glucose_loinc_of_the_other_dimension_is_caught() {
        let glucose = |loinc: &str, unit: &str| {
            serde_json::json!({
                "templateType": "CollectionFhir",
                "template": [{
                    "templateType": "CodeValueFhir",
                    "template": {
                        "codes": [{ "code": loinc, "system": "http://loinc.org" }],
                        "typeName": "glucose",
                        "value": { "unit": unit, "valueName": "glucose", "valueType": "Quantity" }
                    }
                }]
            })
        };
        let findings = check_medtech_fhir(&glucose("2339-0", "mmol/L"));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(
            findings[0].message,
            "template[0] (glucose): LOINC 2339-0 (glucose in blood) is a mass concentration, but the value's \
             unit is mmol/L; in mmol/L it is LOINC 15074-8"
        );
        let findings = check_medtech_fhir(&glucose("105272-9", "mg/dL"));
        assert!(
            findings[0].message.contains("in mg/dL it is LOINC 99504-3"),
            "{findings:#?}"
        );
        assert!(check_medtech_fhir(&glucose("2339-0", "mg/dL")).is_empty());
        assert!(check_medtech_fhir(&glucose("14743-9", "mmol/L")).is_empty());
    }
}

use crate::adapters::medtech::device_mapping::read_expression;
pub use crate::adapters::medtech::expression::jsonpath_from_json_net;
use crate::adapters::medtech::expression::{Expression, Language};

/// Checks an Azure MedTech "device mapping" (`CollectionContent`): known template types, the
/// expressions each type requires, and every JSONPath expression parses (after the JSON.NET dialect is
/// translated) and every JMESPath expression compiles. Returns the type names the templates produce.
pub fn check_medtech_device(template: &serde_json::Value) -> (Vec<Finding>, Vec<String>) {
    let mut findings = Vec::new();
    let mut type_names = Vec::new();
    let error = |message: String| Finding { error: true, message };
    let templates = template
        .get("template")
        .and_then(|t| t.as_array())
        .cloned()
        .unwrap_or_default();
    if templates.is_empty() {
        findings.push(error("template: a CollectionContent needs a list of templates".into()));
    }
    for (i, entry) in templates.iter().enumerate() {
        let kind = entry.get("templateType").and_then(|t| t.as_str()).unwrap_or_default();
        let inner = entry.get("template").cloned().unwrap_or_default();
        let what = format!("template[{i}] ({kind})");
        let required: &[&str] = match kind {
            "JsonPathContent" | "CalculatedContent" => &[
                "typeName",
                "typeMatchExpression",
                "deviceIdExpression",
                "timestampExpression",
            ],
            "IotJsonPathContent" | "IotCentralJsonPathContent" => &["typeName", "typeMatchExpression"],
            other => {
                findings.push(error(format!("{what}: unknown templateType {other:?}")));
                continue;
            }
        };
        for field in required {
            if inner.get(*field).is_none() {
                findings.push(error(format!("{what}: `{field}` is required")));
            }
        }
        if let Some(name) = inner.get("typeName").and_then(|t| t.as_str()) {
            type_names.push(name.to_string());
        }
        let default_language = match inner.get("defaultExpressionLanguage").and_then(|l| l.as_str()) {
            None => Language::JsonPath,
            Some(name) => match Language::from_name(name) {
                Some(language) => language,
                None => {
                    findings.push(error(format!(
                        "{what}: defaultExpressionLanguage {name:?} is not JsonPath or JmesPath"
                    )));
                    continue;
                }
            },
        };
        let mut expressions: Vec<(String, serde_json::Value)> = [
            "typeMatchExpression",
            "deviceIdExpression",
            "patientIdExpression",
            "encounterIdExpression",
            "correlationIdExpression",
            "timestampExpression",
        ]
        .iter()
        .filter_map(|field| inner.get(*field).map(|e| (field.to_string(), e.clone())))
        .collect();
        for (j, value) in inner
            .get("values")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if value.get("valueName").and_then(|n| n.as_str()).is_none() {
                findings.push(error(format!("{what} values[{j}]: `valueName` is required")));
            }
            if let Some(expression) = value.get("valueExpression") {
                expressions.push((format!("values[{j}].valueExpression"), expression.clone()));
            }
        }
        for (field, expression) in expressions {
            let (text, language) = match read_expression(kind, default_language, &expression) {
                Ok(read) => read,
                Err(message) => {
                    findings.push(error(format!("{what} {field}: {message}")));
                    continue;
                }
            };
            if let Err(message) = Expression::compile(&text, language) {
                findings.push(error(format!("{what} {field}: {message}")));
            }
        }
    }
    (findings, type_names)
}

/// The `typeName`s of a MedTech FHIR destination mapping.
pub fn medtech_fhir_type_names(template: &serde_json::Value) -> Vec<String> {
    template
        .get("template")
        .and_then(|t| t.as_array())
        .map(|templates| {
            templates
                .iter()
                .filter_map(|t| {
                    t.pointer("/template/typeName")
                        .and_then(|n| n.as_str())
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod medtech_device_tests {
    use super::*;

    #[test]
    fn json_net_paths_are_translated_and_device_templates_checked() {
        assert_eq!(jsonpath_from_json_net("$..[?(@heartrate)]"), "$..[?(@.heartrate)]");
        assert_eq!(
            jsonpath_from_json_net("$..[?(@systolic && @diastolic)]"),
            "$..[?(@.systolic && @.diastolic)]"
        );
        assert_eq!(
            jsonpath_from_json_net("$..[?(@.unit == 'inches')]"),
            "$..[?(@.unit == 'inches')]"
        );
        let template = serde_json::json!({
            "templateType": "CollectionContent",
            "template": [
                { "templateType": "JsonPathContent", "template": {
                    "typeName": "heartrate", "typeMatchExpression": "$..[?(@heartrate)]",
                    "deviceIdExpression": "$.deviceid", "timestampExpression": "$.measurementdatetime",
                    "values": [{ "required": true, "valueExpression": "$.heartrate", "valueName": "hr" }] } },
                { "templateType": "CalculatedContent", "template": {
                    "typeName": "height", "typeMatchExpression": "$..[?(@unit == 'inches')]",
                    "deviceIdExpression": "$.matchedToken.deviceId",
                    "values": [{ "valueExpression": { "value": "multiply(to_number(matchedToken.height), `0.0254`)", "language": "JmesPath" }, "valueName": "height" }] } },
                { "templateType": "JsonPathContent", "template": {
                    "typeName": "broken", "typeMatchExpression": "$..[?(@x",
                    "deviceIdExpression": "$.d", "timestampExpression": "$.t" } },
                { "templateType": "CsvContent", "template": {} }
            ]
        });
        let (findings, names) = check_medtech_device(&template);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(names, vec!["heartrate", "height", "broken"]);
        assert_eq!(findings.len(), 3, "{messages:#?}");
        assert!(
            messages[0].contains("template[1] (CalculatedContent): `timestampExpression` is required"),
            "{messages:#?}"
        );
        assert!(
            messages[1].contains("template[2] (JsonPathContent) typeMatchExpression: `$..[?(@x` is not a JSONPath"),
            "{messages:#?}"
        );
        assert!(
            messages[2].contains("template[3] (CsvContent): unknown templateType"),
            "{messages:#?}"
        );
    }
}
