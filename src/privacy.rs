//! Keeping patient data out of messages that reach terminals and logs. Payload errors must say which
//! field and which rule, never the value: a value may be a patient's identifier or a measurement.

/// A JSON decoding error for people: serde reports a wrongly typed value by quoting it
/// (`invalid type: string "MRN-4711", expected …`); the value is withheld, the rest (which field,
/// what was expected, line and column) kept.
pub fn json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some(at) = rest.find(", expected") {
                return format!("{}(value withheld){}", prefix, rest.get(at..).unwrap_or_default());
            }
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(json: &str) -> serde_json::Error {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Patient {
            value: String,
        }
        serde_json::from_str::<Patient>(json).unwrap_err()
    }

    #[test]
    fn wrongly_typed_values_are_withheld_but_the_rule_is_kept() {
        let text = json_error(&error_of(r#"{"value": 4711}"#));
        assert!(!text.contains("4711"), "{text}");
        assert!(text.contains("expected a string") && text.contains("line 1"), "{text}");
    }

    #[test]
    fn structural_errors_are_unchanged() {
        let text = json_error(&error_of(r#"{"valeu": "x"}"#));
        assert!(
            text.contains("missing field `value`") || text.contains("unknown field"),
            "{text}"
        );
    }
}
