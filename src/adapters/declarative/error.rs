//! Why a payload was refused by the declarative mappings.

use thiserror::Error;

/// Why a payload was refused by the declarative mappings. Names the mapping, the record, the path and the rule; never a value.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DeclarativeError {
    #[error("the payload is not JSON: {0}")]
    Json(String),
    #[error("the payload is not XML a mapping can read: {0}")]
    Xml(String),
    #[error("{}", no_mapping(payload, tried, skipped))]
    NoMapping {
        /// `JSON` or `XML`.
        payload: &'static str,
        tried: Vec<String>,
        /// Mappings not tried, each with why (`withings-getmeas (JSON only)`).
        skipped: Vec<String>,
    },
    #[error(
        "mappings {} both take record {record} of {}'s `records` (or a record inside it); make their `match`, \
         `records` or `when` exclusive",
        .mappings.join(" and "),
        .mappings.first().map(String::as_str).unwrap_or("the first")
    )]
    Ambiguous {
        mappings: Vec<String>,
        /// A record both take, by its place among the first mapping's records (never its member
        /// names, which can be a patient's identifier).
        record: usize,
    },
    #[error("mapping {mapping}, record {record}: `{path}` {rule}")]
    Record {
        mapping: String,
        record: usize,
        path: String,
        rule: String,
    },
    #[error(
        "mapping {mapping}: the payload holds no measurement it takes ({})",
        reasons_text(reasons)
    )]
    NoMeasurements { mapping: String, reasons: Vec<String> },
}

fn no_mapping(payload: &str, tried: &[String], skipped: &[String]) -> String {
    let mut text = match tried {
        [] => format!("no mapping takes {payload} payloads"),
        _ => format!("no mapping matches the {payload} payload (tried: {})", tried.join(", ")),
    };
    match skipped {
        [] if tried.is_empty() => text.push_str(" (no mapping is loaded: check the mapping directory)"),
        [] => {}
        _ => text.push_str(&format!("; skipped: {}", skipped.join(", "))),
    }
    text
}

/// Why each record gave nothing; a payload whose records hold none of the mapping's values says so.
fn reasons_text(reasons: &[String]) -> String {
    match reasons {
        [] => "its records hold none of the values the mapping reads".into(),
        _ => reasons.join("; "),
    }
}
