//! Why a Bluetooth payload was rejected: always the characteristic, the byte offset and the rule.

use thiserror::Error;

use super::characteristic::{Characteristic, CharacteristicIdError};

/// A characteristic value that does not follow its Bluetooth specification.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error(
        "characteristic {characteristic}: {field} needs {needed} byte(s) at offset {offset} but only \
         {available} remain ({rule})"
    )]
    Truncated {
        characteristic: Characteristic,
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
        /// Why the field is expected there, e.g. "flags bit 1 says a timestamp follows".
        rule: &'static str,
    },
    #[error(
        "characteristic {characteristic}: {count} unexpected byte(s) at offset {offset} after the last \
         field the flags announce (flags 0x{flags:04X})"
    )]
    TrailingBytes {
        characteristic: Characteristic,
        offset: usize,
        count: usize,
        flags: u16,
    },
    #[error("characteristic {characteristic}: {field} at offset {offset} is invalid: {rule}")]
    InvalidField {
        characteristic: Characteristic,
        field: &'static str,
        offset: usize,
        rule: String,
    },
    #[error(
        "characteristic {characteristic}: record at offset {offset} fails its E2E-CRC: received \
         0x{received:04X}, computed 0x{computed:04X} over the record's first {covered} bytes"
    )]
    CrcMismatch {
        characteristic: Characteristic,
        offset: usize,
        received: u16,
        computed: u16,
        covered: usize,
    },
    #[error("characteristic {characteristic}: the frame carries no measurement: {rule}")]
    NoMeasurement {
        characteristic: Characteristic,
        rule: &'static str,
    },
}

/// Why an envelope was rejected.
#[derive(Debug, Error)]
pub enum EnvelopeError {
    #[error("hub envelope is not valid JSON for the envelope format: {}", crate::privacy::json_error(.0))]
    Json(#[from] serde_json::Error),
    #[error("hub envelope field `{field}`: {rule}")]
    Field { field: String, rule: String },
    #[error("hub envelope field `{field}`: {source}")]
    Characteristic {
        field: String,
        source: CharacteristicIdError,
    },
    #[error("hub envelope field `{field}`: {source}")]
    Frame { field: String, source: FrameError },
}

impl EnvelopeError {
    pub(super) fn field(field: impl Into<String>, rule: impl Into<String>) -> Self {
        EnvelopeError::Field {
            field: field.into(),
            rule: rule.into(),
        }
    }
}
