//! Keeping patient data out of messages that reach terminals and logs. Payload errors must say which
//! field and which rule, never the value: a value may be a patient's identifier or a measurement.

/// A JSON decoding error for people: serde reports a wrongly typed value by quoting it
/// (`invalid type: string "MRN-4711", expected …`), and an unknown member or variant by its name
/// (which the sender chose: some APIs key records by patient id); the value or name is withheld,
/// the rest (what was expected, line and column) kept.
pub fn json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    for prefix in [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown field ",
        "unknown variant ",
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some(at) = rest.find(", expected") {
                let withheld = if prefix.starts_with("unknown") {
                    "(name withheld)"
                } else {
                    "(value withheld)"
                };
                return format!("{prefix}{withheld}{}", rest.get(at..).unwrap_or_default());
            }
        }
    }
    message
}

/// Text for a log line: every control character (line breaks, tabs, ANSI escapes, C1 controls and
/// DEL) written as an escape, so that a field can neither forge a log line nor drive a terminal.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_for_logs() {
        assert_eq!(escape_control("plain text"), "plain text");
        assert_eq!(
            escape_control("a\nINFO forged\r\t\u{1b}[31mred\u{7f}\u{85}é"),
            "a\\nINFO forged\\r\\t\\u{1b}[31mred\\u{7f}\\u{85}é"
        );
    }

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
        let text = json_error(&error_of(r#"{}"#));
        assert!(text.contains("missing field `value`"), "{text}");
    }

    #[test]
    fn unknown_names_are_withheld_but_the_expected_ones_said() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Strict {
            value: Kind,
        }
        #[derive(serde::Deserialize, Debug)]
        enum Kind {
            Mrn,
        }
        for json in [r#"{"MRN-4711": 1}"#, r#"{"value": "MRN-4711"}"#] {
            let text = json_error(&serde_json::from_str::<Strict>(json).unwrap_err());
            assert!(!text.contains("4711"), "{text}");
            assert!(text.contains("expected") && text.contains("line 1"), "{text}");
        }
    }
}
