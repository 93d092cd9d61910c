//! A MedTech device mapping (`CollectionContent`) and how it normalizes a message, as iomt-fhir does
//! (fixtures/medtech/EXPECTED-OUTPUT.md §3):
//! * the message is the wrapper `{Body, Properties, SystemProperties}`; a payload that is already such
//!   a wrapper (an Event Hubs export) is taken as it is, anything else becomes its `Body`;
//! * each template's `typeMatchExpression` selects the parts of the message it applies to;
//! * `JsonPathContent` and `IotJsonPathContent` evaluate their other expressions on the matched part;
//!   `CalculatedContent` on the wrapper with `matchedToken` added, in JSONPath or JMESPath;
//! * a required value (or the device id, or the time) that is missing fails the message; an optional
//!   one is left out.

use std::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};
use thiserror::Error;

use super::expression::{Expression, Language};
use crate::model::NormalizedMeasurement;

/// Why a MedTech device mapping could not be loaded, or a message not normalized.
#[derive(Debug, Error)]
pub enum MedtechError {
    #[error("MedTech device mapping {origin}: {message}")]
    Template { origin: String, message: String },
    #[error("the MedTech message is not JSON: {0}")]
    NotJson(String),
    #[error("no template of the MedTech device mapping matches the message (type names: {0})")]
    NoMatch(String),
    #[error("MedTech template {type_name:?}, {field}: {message}")]
    Extraction {
        type_name: String,
        field: String,
        message: String,
    },
    #[error("no MedTech device mapping is configured (medtech.device_mapping)")]
    NotConfigured,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContentKind {
    /// Expressions run on the matched part of the message.
    JsonPath,
    /// As `JsonPath`, with the device id and time taken from IoT Hub's system properties.
    IotJsonPath,
    /// As `JsonPath`, with the device id and time taken from IoT Central's export fields.
    IotCentralJsonPath,
    /// Expressions run on the message with `matchedToken` added, in JSONPath or JMESPath.
    Calculated,
}

#[derive(Debug)]
struct ValueExpression {
    name: String,
    expression: Expression,
    required: bool,
}

#[derive(Debug)]
struct ContentTemplate {
    kind: ContentKind,
    type_name: String,
    type_match: Expression,
    device_id: Expression,
    patient_id: Option<Expression>,
    encounter_id: Option<Expression>,
    correlation_id: Option<Expression>,
    /// The time: the first of these that finds one (IoT Hub: the device's creation time, else the
    /// hub's enqueued time).
    timestamp: Vec<Expression>,
    values: Vec<ValueExpression>,
}

/// A loaded `CollectionContent`.
#[derive(Debug, Default)]
pub struct DeviceMapping {
    templates: Vec<ContentTemplate>,
}

/// Where `IotJsonPathContent` finds the device and the time: IoT Hub's properties. The time is when
/// the device SDK created the message, or failing that when the hub enqueued it (iomt-fhir's
/// `IotJsonPathContentTemplate`).
const IOT_DEVICE_ID: &str = "$.SystemProperties.iothub-connection-device-id";
const IOT_CREATION_TIME: &str = "$.Properties.iothub-creation-time-utc";
const IOT_ENQUEUED_TIME: &str = "$.SystemProperties.iothub-enqueuedtime";
/// Where `IotCentralJsonPathContent` finds them: IoT Central's data export fields.
const IOT_CENTRAL_DEVICE_ID: &str = "$.deviceId";
const IOT_CENTRAL_ENQUEUED_TIME: &str = "$.enqueuedTime";

impl DeviceMapping {
    /// Reads a device mapping file as MedTech users have it.
    pub fn load(path: &Path) -> Result<DeviceMapping, MedtechError> {
        let origin = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| MedtechError::Template {
            origin: origin.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        let value: Value = serde_json::from_slice(&text).map_err(|e| MedtechError::Template {
            origin: origin.clone(),
            message: format!("not JSON at line {} column {}: {e}", e.line(), e.column()),
        })?;
        DeviceMapping::from_json(&value, &origin)
    }

    /// A device mapping from its JSON; `origin` names it in errors.
    pub fn from_json(value: &Value, origin: &str) -> Result<DeviceMapping, MedtechError> {
        let fail = |message: String| MedtechError::Template {
            origin: origin.to_string(),
            message,
        };
        if value.get("templateType").and_then(Value::as_str) != Some("CollectionContent") {
            return Err(fail("the root templateType must be \"CollectionContent\"".into()));
        }
        let entries = value
            .get("template")
            .and_then(Value::as_array)
            .ok_or_else(|| fail("`template` must be a list of templates".into()))?;
        let templates = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| content_template(entry).map_err(|message| fail(format!("template[{i}]: {message}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if templates.is_empty() {
            return Err(fail("the collection holds no templates".into()));
        }
        Ok(DeviceMapping { templates })
    }

    /// The `typeName`s the templates produce.
    pub fn type_names(&self) -> Vec<&str> {
        self.templates.iter().map(|t| t.type_name.as_str()).collect()
    }

    /// Normalizes one message: every measurement every template finds in it. A message no template
    /// matches is an error (MedTech drops it; a bridge that never loses a reading cannot).
    pub fn normalize(&self, payload: &[u8]) -> Result<Vec<NormalizedMeasurement>, MedtechError> {
        let parsed: Value = serde_json::from_slice(payload)
            .map_err(|e| MedtechError::NotJson(format!("line {} column {}: {e}", e.line(), e.column())))?;
        let message = event_wrapper(parsed);
        let mut measurements = Vec::new();
        for template in &self.templates {
            let fail = |field: &str, message: String| MedtechError::Extraction {
                type_name: template.type_name.clone(),
                field: field.to_string(),
                message,
            };
            let matches = template
                .type_match
                .select_all(&message)
                .map_err(|e| fail("typeMatchExpression", e))?;
            for matched in matches {
                let document = match template.kind {
                    ContentKind::JsonPath | ContentKind::IotJsonPath | ContentKind::IotCentralJsonPath => matched,
                    ContentKind::Calculated => {
                        let mut with_match = message.clone();
                        if let Value::Object(fields) = &mut with_match {
                            fields.insert("matchedToken".into(), matched);
                        }
                        with_match
                    }
                };
                measurements.push(template.extract(&document)?);
            }
        }
        if measurements.is_empty() {
            return Err(MedtechError::NoMatch(self.type_names().join(", ")));
        }
        Ok(measurements)
    }
}

impl ContentTemplate {
    fn extract(&self, document: &Value) -> Result<NormalizedMeasurement, MedtechError> {
        let fail = |field: &str, message: String| MedtechError::Extraction {
            type_name: self.type_name.clone(),
            field: field.to_string(),
            message,
        };
        let text = |field: &str, expression: &Expression| -> Result<Option<String>, MedtechError> {
            let found = expression.select_one(document).map_err(|e| fail(field, e))?;
            found
                .map(|value| {
                    token_text(&value).ok_or_else(|| {
                        fail(
                            field,
                            format!("`{}` selects an object or a list, not a value", expression.text),
                        )
                    })
                })
                .transpose()
        };
        let optional = |field: &str, expression: &Option<Expression>| -> Result<Option<String>, MedtechError> {
            match expression {
                Some(expression) => text(field, expression),
                None => Ok(None),
            }
        };
        let device_id = text("deviceIdExpression", &self.device_id)?.ok_or_else(|| {
            fail(
                "deviceIdExpression",
                format!("`{}` finds no device id", self.device_id.text),
            )
        })?;
        let tried = || {
            self.timestamp
                .iter()
                .map(|e| format!("`{}`", e.text))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let mut found_time = None;
        for expression in &self.timestamp {
            if let Some(found) = text("timestampExpression", expression)? {
                found_time = Some((found, expression));
                break;
            }
        }
        let (time_text, time_expression) =
            found_time.ok_or_else(|| fail("timestampExpression", format!("{} finds no time", tried())))?;
        let occurrence = parse_time(&time_text).ok_or_else(|| {
            fail(
                "timestampExpression",
                format!(
                    "`{}` finds a value that is not an ISO 8601 date and time",
                    time_expression.text
                ),
            )
        })?;
        let mut values = Vec::with_capacity(self.values.len());
        for value in &self.values {
            let field = format!("values[{}]", value.name);
            match text(&field, &value.expression)? {
                Some(found) => values.push((value.name.clone(), found)),
                None if value.required => {
                    return Err(fail(
                        &field,
                        format!("the required value `{}` is missing", value.expression.text),
                    ))
                }
                None => {}
            }
        }
        Ok(NormalizedMeasurement {
            type_name: self.type_name.clone(),
            device_id,
            patient_id: optional("patientIdExpression", &self.patient_id)?,
            encounter_id: optional("encounterIdExpression", &self.encounter_id)?,
            correlation_id: optional("correlationIdExpression", &self.correlation_id)?,
            occurrence,
            values,
        })
    }
}

/// The message as MedTech's expressions see it.
fn event_wrapper(payload: Value) -> Value {
    let is_wrapper = payload.as_object().is_some_and(|fields| {
        fields.contains_key("Body")
            && fields
                .keys()
                .all(|k| matches!(k.as_str(), "Body" | "Properties" | "SystemProperties"))
    });
    if is_wrapper {
        let mut wrapper = payload;
        if let Value::Object(fields) = &mut wrapper {
            for key in ["Properties", "SystemProperties"] {
                fields.entry(key).or_insert_with(|| Value::Object(Map::new()));
            }
        }
        wrapper
    } else {
        json!({"Body": payload, "Properties": {}, "SystemProperties": {}})
    }
}

/// A value's text as MedTech reads it (`Value<string>()`): strings as they are, numbers and booleans
/// as written; objects and lists are not values.
fn token_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(json_net_number(&n.to_string())),
        // .NET's Boolean.ToString().
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

/// A JSON number as JSON.NET hands it to MedTech: an integer as written; anything with a fraction or
/// an exponent read as a double and written back by .NET (`98.60` → `98.6`, `1e-7` → `1E-07`), so the
/// Observations are the ones MedTech wrote.
fn json_net_number(written: &str) -> String {
    if !written.contains(['.', 'e', 'E']) {
        // An Int64 (or BigInteger) to .NET: `-0` is 0.
        return written
            .parse::<i128>()
            .map_or_else(|_| written.to_string(), |n| n.to_string());
    }
    let Ok(double) = written.parse::<f64>() else {
        return written.to_string();
    };
    if !double.is_finite() {
        return written.to_string();
    }
    // Shortest round-trip digits, as .NET Core writes them, in E notation for magnitudes of 1E-05 and
    // below or 1E+15 and above.
    let scientific = format!("{double:e}");
    let exponent: i32 = scientific
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    if double != 0.0 && !(-4..15).contains(&exponent) {
        let mantissa = scientific.split_once('e').map(|(m, _)| m).unwrap_or(&scientific);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}E{sign}{:02}", exponent.abs())
    } else {
        double.to_string()
    }
}

/// An ISO 8601 time; without an offset it is UTC (MedTech runs in UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.to_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

/// An expression as a template writes it: a string in the template's default language, or
/// `{value, language}`. Only `CalculatedContent` may choose JMESPath. (`mappings check` reads
/// expressions with this too, so it refuses what the runtime refuses.)
pub fn read_expression(
    template_type: &str,
    default_language: Language,
    expression: &Value,
) -> Result<(String, Language), String> {
    let (text, language) = match expression {
        Value::String(text) => (text.clone(), default_language),
        Value::Object(o) => {
            let text = o
                .get("value")
                .and_then(Value::as_str)
                .ok_or("an expression object needs `value`")?;
            let language = match o.get("language").and_then(Value::as_str) {
                None => default_language,
                Some(name) => {
                    Language::from_name(name).ok_or_else(|| format!("language {name:?} is not JsonPath or JmesPath"))?
                }
            };
            (text.to_string(), language)
        }
        _ => return Err("an expression is a string or {value, language}".into()),
    };
    if language == Language::JmesPath && template_type != "CalculatedContent" {
        return Err(format!(
            "{template_type} expressions are JSONPath; JMESPath needs CalculatedContent"
        ));
    }
    Ok((text, language))
}

fn content_template(entry: &Value) -> Result<ContentTemplate, String> {
    let kind_name = entry.get("templateType").and_then(Value::as_str).unwrap_or_default();
    let kind = match kind_name {
        "JsonPathContent" => ContentKind::JsonPath,
        "IotJsonPathContent" => ContentKind::IotJsonPath,
        "IotCentralJsonPathContent" => ContentKind::IotCentralJsonPath,
        "CalculatedContent" => ContentKind::Calculated,
        other => {
            return Err(format!(
                "templateType {other:?} is not one fhirgate runs (JsonPathContent, IotJsonPathContent, \
                 IotCentralJsonPathContent, CalculatedContent)"
            ))
        }
    };
    let inner = entry.get("template").ok_or("`template` is missing")?;
    let default_language = match inner.get("defaultExpressionLanguage").and_then(Value::as_str) {
        None => Language::JsonPath,
        Some(name) => Language::from_name(name)
            .ok_or_else(|| format!("defaultExpressionLanguage {name:?} is not JsonPath or JmesPath"))?,
    };
    let expression = |field: &str| -> Result<Option<Expression>, String> {
        inner
            .get(field)
            .map(|e| {
                let (text, language) =
                    read_expression(kind_name, default_language, e).map_err(|m| format!("{field}: {m}"))?;
                Expression::compile(&text, language).map_err(|m| format!("{field}: {m}"))
            })
            .transpose()
    };
    let required = |field: &str| -> Result<Expression, String> {
        expression(field)?.ok_or_else(|| format!("`{field}` is required"))
    };
    let fixed = |path: &str| Expression::compile(path, Language::JsonPath);
    let (device_id, timestamp) = match kind {
        ContentKind::IotJsonPath => (
            fixed(IOT_DEVICE_ID)?,
            vec![fixed(IOT_CREATION_TIME)?, fixed(IOT_ENQUEUED_TIME)?],
        ),
        ContentKind::IotCentralJsonPath => (fixed(IOT_CENTRAL_DEVICE_ID)?, vec![fixed(IOT_CENTRAL_ENQUEUED_TIME)?]),
        _ => (required("deviceIdExpression")?, vec![required("timestampExpression")?]),
    };
    let type_name = inner
        .get("typeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or("`typeName` is required")?
        .to_string();
    let mut values = Vec::new();
    for (j, value) in inner
        .get("values")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let name = value
            .get("valueName")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("values[{j}]: `valueName` is required"))?;
        let raw = value
            .get("valueExpression")
            .ok_or_else(|| format!("values[{j}]: `valueExpression` is required"))?;
        let (text, language) =
            read_expression(kind_name, default_language, raw).map_err(|m| format!("values[{j}]: {m}"))?;
        values.push(ValueExpression {
            name: name.to_string(),
            expression: Expression::compile(&text, language).map_err(|m| format!("values[{j}]: {m}"))?,
            required: value.get("required").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    Ok(ContentTemplate {
        kind,
        type_name,
        type_match: required("typeMatchExpression")?,
        device_id,
        patient_id: expression("patientIdExpression")?,
        encounter_id: expression("encounterIdExpression")?,
        correlation_id: expression("correlationIdExpression")?,
        timestamp,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DeviceMapping {
        DeviceMapping::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/medtech/devicecontent.json"
        )))
        .unwrap()
    }

    #[test]
    fn the_sample_message_gives_one_blood_pressure_measurement() {
        let message = br#"{"systolic":120,"diastolic":80,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:18:23+00:00"}"#;
        let measurements = sample().normalize(message).unwrap();
        assert_eq!(measurements.len(), 1);
        let bp = &measurements[0];
        assert_eq!(bp.type_name, "bloodpressure");
        assert_eq!(bp.device_id, "device1");
        assert_eq!(bp.patient_id.as_deref(), Some("patient1"));
        assert_eq!(bp.occurrence.to_rfc3339(), "2023-10-09T19:18:23+00:00");
        assert_eq!(
            bp.values,
            vec![("systolic".into(), "120".into()), ("diastolic".into(), "80".into())]
        );
    }

    #[test]
    fn a_list_of_readings_gives_one_measurement_each_and_a_missing_required_value_fails() {
        let message = br#"{"readings":[
            {"heartrate":78,"deviceid":"d","patientid":"p","measurementdatetime":"2023-10-09T19:18:23Z"},
            {"heartrate":80.5,"deviceid":"d","patientid":"p","measurementdatetime":"2023-10-09T19:18:24Z"}]}"#;
        let measurements = sample().normalize(message).unwrap();
        let values: Vec<&str> = measurements.iter().map(|m| m.values[0].1.as_str()).collect();
        assert_eq!(values, vec!["78", "80.5"]);

        let no_time = br#"{"heartrate":78,"deviceid":"d"}"#;
        let error = sample().normalize(no_time).unwrap_err().to_string();
        assert_eq!(
            error,
            "MedTech template \"heartrate\", timestampExpression: `$.measurementdatetime` finds no time"
        );
        let error = sample().normalize(br#"{"pulse":1}"#).unwrap_err().to_string();
        assert!(
            error.contains("no template") && error.contains("heartrate, bloodpressure"),
            "{error}"
        );
        let error = sample().normalize(b"{").unwrap_err().to_string();
        assert!(error.contains("not JSON"), "{error}");
    }

    #[test]
    fn iot_hub_and_calculated_templates() {
        let mapping = DeviceMapping::from_json(
            &json!({"templateType": "CollectionContent", "template": [
                {"templateType": "IotJsonPathContent", "template": {
                    "typeName": "heartrate", "typeMatchExpression": "$..[?(@Body.heartRate)]",
                    "patientIdExpression": "$.Body.patientId",
                    "values": [{"required": true, "valueExpression": "$.Body.heartRate", "valueName": "hr"}]}},
                {"templateType": "CalculatedContent", "template": {
                    "typeName": "height",
                    "typeMatchExpression": {"value": "$..[?(@heightInInches)]", "language": "JsonPath"},
                    "defaultExpressionLanguage": "JmesPath",
                    "deviceIdExpression": "matchedToken.device",
                    "timestampExpression": "fromUnixTimestamp(matchedToken.endTime)",
                    "patientIdExpression": {"value": "$.matchedToken.patient", "language": "JsonPath"},
                    "values": [{"required": true, "valueName": "height",
                        "valueExpression": "multiply(matchedToken.heightInInches, `0.0254`)"}]}}
            ]}),
            "test",
        )
        .unwrap();
        let iot = br#"{"Body":{"heartRate":78,"patientId":"p1"},"Properties":{},
            "SystemProperties":{"iothub-connection-device-id":"hub-device","iothub-enqueuedtime":"2023-10-09T19:18:23.25Z"}}"#;
        let measurements = mapping.normalize(iot).unwrap();
        assert_eq!(measurements.len(), 1);
        assert_eq!(measurements[0].device_id, "hub-device");
        assert_eq!(measurements[0].patient_id.as_deref(), Some("p1"));
        assert_eq!(measurements[0].occurrence.to_rfc3339(), "2023-10-09T19:18:23.250+00:00");
        assert_eq!(measurements[0].values, vec![("hr".into(), "78".into())]);
        // The device SDK's creation time is the reading's time; the hub's enqueued time only stands in.
        let created = br#"{"Body":{"heartRate":80},"Properties":{"iothub-creation-time-utc":"2023-10-09T19:18:20.5Z"},
            "SystemProperties":{"iothub-connection-device-id":"hub-device","iothub-enqueuedtime":"2023-10-09T19:18:23.25Z"}}"#;
        let measurements = mapping.normalize(created).unwrap();
        assert_eq!(measurements[0].occurrence.to_rfc3339(), "2023-10-09T19:18:20.500+00:00");
        let error = mapping
            .normalize(br#"{"Body":{"heartRate":80},"SystemProperties":{"iothub-connection-device-id":"d"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(
                "`$.Properties.iothub-creation-time-utc` or `$.SystemProperties.iothub-enqueuedtime` finds no time"
            ),
            "{error}"
        );

        let calculated = br#"{"heightInInches":70,"device":"scale","patient":"p2","endTime":1696879103}"#;
        let measurements = mapping.normalize(calculated).unwrap();
        assert_eq!(measurements[0].type_name, "height");
        assert_eq!(measurements[0].device_id, "scale");
        assert_eq!(measurements[0].patient_id.as_deref(), Some("p2"));
        assert_eq!(measurements[0].occurrence.to_rfc3339(), "2023-10-09T19:18:23+00:00");
        assert_eq!(
            measurements[0].values,
            vec![("height".into(), (70.0 * 0.0254).to_string())]
        );
    }

    #[test]
    fn numbers_are_written_as_json_net_writes_them() {
        for (written, net) in [
            ("98.60", "98.6"),
            ("78", "78"),
            ("-12", "-12"),
            ("1.0", "1"),
            ("0.1", "0.1"),
            ("1e2", "100"),
            ("1e-7", "1E-07"),
            ("0.0001", "0.0001"),
            ("0.00001", "1E-05"),
            ("1.5e15", "1.5E+15"),
            ("123456789012.5", "123456789012.5"),
            ("12345678901234567890", "12345678901234567890"),
            ("-0", "0"),
            ("0.0", "0"),
        ] {
            assert_eq!(json_net_number(written), net, "{written}");
        }
        assert_eq!(token_text(&json!(true)).as_deref(), Some("True"));
    }

    #[test]
    fn iot_central_exports_give_their_device_and_time() {
        let mapping = DeviceMapping::from_json(
            &json!({"templateType": "CollectionContent", "template": [
                {"templateType": "IotCentralJsonPathContent", "template": {
                    "typeName": "heartrate", "typeMatchExpression": "$..[?(@telemetry.HeartRate)]",
                    "values": [{"required": true, "valueExpression": "$.telemetry.HeartRate", "valueName": "hr"}]}}
            ]}),
            "test",
        )
        .unwrap();
        // An IoT Central data export message (telemetry), as it arrives from the Event Hub.
        let export = br#"{"applicationId":"app-1","messageSource":"telemetry","deviceId":"central-7",
            "schema":"default@v1","templateId":"urn:tpl","enqueuedTime":"2023-10-09T19:18:23.25Z",
            "telemetry":{"HeartRate":"72"},"messageProperties":{}}"#;
        let measurements = mapping.normalize(export).unwrap();
        assert_eq!(measurements.len(), 1);
        assert_eq!(measurements[0].device_id, "central-7");
        assert_eq!(measurements[0].occurrence.to_rfc3339(), "2023-10-09T19:18:23.250+00:00");
        assert_eq!(measurements[0].values, vec![("hr".into(), "72".into())]);
        let error = mapping
            .normalize(br#"{"telemetry":{"HeartRate":"72"},"enqueuedTime":"2023-10-09T19:18:23Z"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("deviceIdExpression: `$.deviceId` finds no device id"),
            "{error}"
        );
    }

    #[test]
    fn template_errors_name_the_template_and_field() {
        let error = DeviceMapping::from_json(
            &json!({"templateType": "CollectionContent", "template": [
                {"templateType": "JsonPathContent", "template": {"typeName": "x", "typeMatchExpression": "$..[?(@x",
                  "deviceIdExpression": "$.d", "timestampExpression": "$.t"}}]}),
            "f.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with(
                "MedTech device mapping f.json: template[0]: typeMatchExpression: `$..[?(@x` is not a JSONPath"
            ),
            "{error}"
        );
        let error = DeviceMapping::from_json(
            &json!({"templateType": "CollectionContent", "template": [
                {"templateType": "JsonPathContent", "template": {"typeName": "x", "typeMatchExpression": "$..[?(@x)]",
                  "deviceIdExpression": {"value": "d", "language": "JmesPath"}, "timestampExpression": "$.t"}}]}),
            "f.json",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("JMESPath needs CalculatedContent"), "{error}");
    }
}
