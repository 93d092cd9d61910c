//! Why a payload was refused by the declarative mappings.

use thiserror::Error;

/// Why a payload was refused by the declarative mappings. Names the mapping, the record, the path and the rule; never a value.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DeclarativeError {
    #[error("the payload is not JSON: {0}")]
    Json(String),
    #[error("the payload is not XML a mapping can read: {0}")]
    Xml(String),
    #[error("no mapping matches the payload (tried: {})", .tried.join(", "))]
    NoMapping { tried: Vec<String> },
    #[error("mappings {} all match the payload; make their `match` paths exclusive", .0.join(" and "))]
    Ambiguous(Vec<String>),
    #[error("mapping {mapping}, record {record}: `{path}` {rule}")]
    Record {
        mapping: String,
        record: usize,
        path: String,
        rule: String,
    },
    #[error("mapping {mapping}: the payload holds no measurement it takes ({})", .reasons.join("; "))]
    NoMeasurements { mapping: String, reasons: Vec<String> },
}
