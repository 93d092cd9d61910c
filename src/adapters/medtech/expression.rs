//! The expressions of a MedTech device mapping, evaluated the way iomt-fhir evaluates them.
//!
//! JSONPath is JSON.NET's dialect (Newtonsoft `SelectToken(s)`), which differs from RFC 9535 in ways
//! MedTech templates rely on (fixtures/medtech/EXPECTED-OUTPUT.md §3):
//! * a filter may name a member without the dot (`@heartrate`), and dotted names may hold `-`
//!   (`$.SystemProperties.iothub-connection-device-id`): both are rewritten into RFC 9535;
//! * `$..[?(f)]` tests the document itself too, not only what lies below it: so a `$..` path runs on
//!   `[document]`, which makes the document one of the nodes the filter tests;
//! * where one value is expected, more than one is an error, not a choice.
//!
//! JMESPath runs with iomt-fhir's custom functions ([`super::jmespath_functions`]).

use serde_json::Value;
use serde_json_path::JsonPath;

use super::jmespath_functions::RUNTIME;

/// The language of one expression (`defaultExpressionLanguage`, or `{value, language}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    JsonPath,
    JmesPath,
}

impl Language {
    /// MedTech's names, case-insensitively (`JsonPath`, `JmesPath`).
    pub fn from_name(name: &str) -> Option<Language> {
        if name.eq_ignore_ascii_case("JsonPath") {
            Some(Language::JsonPath)
        } else if name.eq_ignore_ascii_case("JmesPath") {
            Some(Language::JmesPath)
        } else {
            None
        }
    }
}

/// One compiled expression, with its text for messages.
pub struct Expression {
    pub text: String,
    compiled: Compiled,
}

enum Compiled {
    JsonPath { path: JsonPath, includes_document: bool },
    JmesPath(jmespath::Expression<'static>),
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expression({:?})", self.text)
    }
}

impl Expression {
    /// Compiles `text`; the error says why it is not an expression of its language.
    pub fn compile(text: &str, language: Language) -> Result<Expression, String> {
        let compiled = match language {
            Language::JsonPath => {
                let translated = jsonpath_from_json_net(text);
                let path = JsonPath::parse(&translated).map_err(|e| format!("`{text}` is not a JSONPath: {e}"))?;
                Compiled::JsonPath {
                    path,
                    includes_document: translated.starts_with("$.."),
                }
            }
            Language::JmesPath => Compiled::JmesPath(
                RUNTIME
                    .compile(&jmespath_without_decimal_literals(text))
                    .map_err(|e| format!("`{text}` is not a JMESPath expression: {e}"))?,
            ),
        };
        Ok(Expression {
            text: text.to_string(),
            compiled,
        })
    }

    /// Every node the expression selects (a type match). A JMESPath array result is its elements;
    /// `null` is nothing.
    pub fn select_all(&self, document: &Value) -> Result<Vec<Value>, String> {
        match &self.compiled {
            Compiled::JsonPath {
                path,
                includes_document,
            } => Ok(if *includes_document {
                let wrapped = Value::Array(vec![document.clone()]);
                path.query(&wrapped).all().into_iter().cloned().collect()
            } else {
                path.query(document).all().into_iter().cloned().collect()
            }),
            Compiled::JmesPath(expression) => match jmespath_search(expression, document)? {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => Ok(items),
                other => Ok(vec![other]),
            },
        }
    }

    /// The one node the expression selects, `None` when it selects nothing (or JSON `null`); more
    /// than one is an error, as in MedTech.
    pub fn select_one(&self, document: &Value) -> Result<Option<Value>, String> {
        let found = match &self.compiled {
            Compiled::JsonPath { .. } => self.select_all(document)?,
            // A JMESPath array is one value here (a projection of one element is still an array).
            Compiled::JmesPath(expression) => match jmespath_search(expression, document)? {
                Value::Array(items) if items.len() <= 1 => items,
                other => vec![other],
            },
        };
        let mut found: Vec<Value> = found.into_iter().filter(|v| !v.is_null()).collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            n => Err(format!("`{}` selects {n} values where one is expected", self.text)),
        }
    }
}

fn jmespath_search(expression: &jmespath::Expression<'static>, document: &Value) -> Result<Value, String> {
    // Not `Expression::search`, which would pass the document through serde (see `to_variable`).
    let mut context = jmespath::Context::new(expression.as_str(), &RUNTIME);
    let result = jmespath::interpret(&to_variable(document), expression.as_ast(), &mut context)
        .map_err(|e| format!("`{}` failed: {}", expression.as_str(), e.reason))?;
    Ok(from_variable(&result))
}

// The conversions are written out because serde_json is built with `arbitrary_precision` (fhirbolt
// asks for it, and a decimal stays exactly as sent), under which a number passes through serde as a
// private map that jmespath would take for an object.
fn to_variable(value: &Value) -> jmespath::Rcvar {
    use jmespath::Variable;
    std::sync::Arc::new(match value {
        Value::Null => Variable::Null,
        Value::Bool(b) => Variable::Bool(*b),
        Value::Number(n) => Variable::Number(n.clone()),
        Value::String(s) => Variable::String(s.clone()),
        Value::Array(items) => Variable::Array(items.iter().map(to_variable).collect()),
        Value::Object(fields) => Variable::Object(fields.iter().map(|(k, v)| (k.clone(), to_variable(v))).collect()),
    })
}

fn from_variable(variable: &jmespath::Variable) -> Value {
    use jmespath::Variable;
    match variable {
        Variable::Null | Variable::Expref(_) => Value::Null,
        Variable::Bool(b) => Value::Bool(*b),
        Variable::Number(n) => Value::Number(n.clone()),
        Variable::String(s) => Value::String(s.clone()),
        Variable::Array(items) => Value::Array(items.iter().map(|i| from_variable(i)).collect()),
        Variable::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), from_variable(v))).collect()),
    }
}

/// JMESPath number literals (`` `0.0254` ``) as `to_number('0.0254')`: jmespath reads literals
/// through serde, where (see [`to_variable`]) a non-integer would arrive as an object.
pub fn jmespath_without_decimal_literals(expression: &str) -> String {
    let mut out = String::with_capacity(expression.len());
    let mut rest = expression;
    while let Some(start) = rest.find('`') {
        let Some(length) = rest.get(start + 1..).and_then(|after| after.find('`')) else {
            break;
        };
        let literal = rest.get(start + 1..start + 1 + length).unwrap_or_default();
        out.push_str(rest.get(..start).unwrap_or_default());
        let trimmed = literal.trim();
        let is_decimal = trimmed.parse::<f64>().is_ok()
            && trimmed.parse::<i64>().is_err()
            && trimmed.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
        if is_decimal {
            out.push_str(&format!("to_number('{trimmed}')"));
        } else {
            out.push('`');
            out.push_str(literal);
            out.push('`');
        }
        rest = rest.get(start + length + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// A JSON.NET JSONPath as MedTech templates write it, in RFC 9535: a filter may name a member without
/// the dot (`@heartrate` → `@.heartrate`), and a dotted member name may hold characters RFC 9535
/// shorthand does not allow (`.iothub-enqueuedtime` → `['iothub-enqueuedtime']`).
pub fn jsonpath_from_json_net(expression: &str) -> String {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = String::with_capacity(expression.len() + 8);
    let mut i = 0;
    let mut quote: Option<char> = None;
    while let Some(&c) = chars.get(i) {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
                i += 1;
            }
            '@' | '.' => {
                let dots = if c == '.' && chars.get(i + 1) == Some(&'.') {
                    2
                } else {
                    1
                };
                let start = i + if c == '@' { 1 } else { dots };
                let mut end = start;
                while chars
                    .get(end)
                    .is_some_and(|n| n.is_alphanumeric() || *n == '_' || *n == '-')
                {
                    end += 1;
                }
                let name: String = chars.get(start..end).unwrap_or_default().iter().collect();
                if c == '@' {
                    out.push('@');
                }
                if name.is_empty() {
                    if c == '.' {
                        out.push_str(if dots == 2 { ".." } else { "." });
                    }
                } else if name.contains('-') || name.starts_with(|n: char| n.is_ascii_digit()) {
                    if dots == 2 {
                        out.push_str("..");
                    }
                    out.push_str(&format!("['{name}']"));
                } else {
                    out.push_str(if dots == 2 { ".." } else { "." });
                    out.push_str(&name);
                }
                i = end;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_net_paths_become_rfc_9535() {
        assert_eq!(jsonpath_from_json_net("$..[?(@heartrate)]"), "$..[?(@.heartrate)]");
        assert_eq!(
            jsonpath_from_json_net("$..[?(@systolic && @diastolic)]"),
            "$..[?(@.systolic && @.diastolic)]"
        );
        assert_eq!(
            jsonpath_from_json_net("$..[?(@.unit == 'in.ches')]"),
            "$..[?(@.unit == 'in.ches')]"
        );
        assert_eq!(
            jsonpath_from_json_net("$.SystemProperties.iothub-connection-device-id"),
            "$.SystemProperties['iothub-connection-device-id']"
        );
        assert_eq!(
            jsonpath_from_json_net("$..[?(@Body.heartRate)]"),
            "$..[?(@.Body.heartRate)]"
        );
        assert_eq!(jsonpath_from_json_net("$.a[0].b"), "$.a[0].b");
    }

    #[test]
    fn a_descendant_filter_tests_the_document_itself_as_json_net_does() {
        let message = json!({"Body": {"heartRate": 78}, "Properties": {}, "SystemProperties": {}});
        // The IoT Hub pattern: the filter holds for the message itself, which RFC 9535 never selects.
        let whole = Expression::compile("$..[?(@Body.heartRate)]", Language::JsonPath).unwrap();
        assert_eq!(whole.select_all(&message).unwrap(), vec![message.clone()]);
        // The basic pattern selects the body.
        let body = Expression::compile("$..[?(@heartRate)]", Language::JsonPath).unwrap();
        assert_eq!(body.select_all(&message).unwrap(), vec![json!({"heartRate": 78})]);
    }

    #[test]
    fn one_value_where_one_is_expected() {
        let document = json!({"readings": [{"v": 1}, {"v": 2}], "none": null});
        let many = Expression::compile("$.readings[*].v", Language::JsonPath).unwrap();
        let error = many.select_one(&document).unwrap_err();
        assert!(error.contains("selects 2 values where one is expected"), "{error}");
        let null = Expression::compile("$.none", Language::JsonPath).unwrap();
        assert_eq!(null.select_one(&document).unwrap(), None);
        let first = Expression::compile("readings[0].v", Language::JmesPath).unwrap();
        assert_eq!(first.select_one(&document).unwrap(), Some(json!(1)));
        let error = Expression::compile("$..[?(@x", Language::JsonPath).unwrap_err();
        assert!(error.contains("is not a JSONPath"), "{error}");
    }
}
