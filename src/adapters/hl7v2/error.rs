//! Why an HL7 v2 message could not be parsed: always the segment (number and id), the field, the byte
//! offset in the input and the rule that was broken.
//!
//! Byte offsets count from the first byte handed to [`Message::parse`](super::message::Message::parse),
//! MLLP framing and byte order mark included, so they point into the bytes as received.

use std::fmt;

use thiserror::Error;

/// A message that does not follow the HL7 v2 encoding rules (HL7 v2.6 §2.5–§2.7).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum Hl7Error {
    #[error(
        "HL7 v2 message: the input is empty (no segment left after MLLP framing, byte order mark and blank lines)"
    )]
    Empty,
    #[error("HL7 v2 message: {len} bytes, more than a message can have (4 GiB)")]
    TooLarge { len: usize },
    #[error("HL7 v2 message: byte 0x{byte:02X} at offset {offset}: {rule}")]
    StrayByte {
        offset: usize,
        byte: u8,
        rule: &'static str,
    },
    #[error(
        "HL7 v2 message: segment 1 ({found}): a message must start with an MSH segment (byte {offset}; \
         batch headers FHS/BHS are not accepted, split the batch into messages first)"
    )]
    FirstSegmentNotMsh { found: String, offset: usize },
    #[error(
        "HL7 v2 message: segment 1 (MSH): the segment has {len} byte(s) at offset {offset}, too few to hold \
         the field separator and the encoding characters (at least `MSH|^~\\&`)"
    )]
    MshTooShort { offset: usize, len: usize },
    /// The text is kept for callers, not shown (errors reach HTTP answers, MLLP ERR segments and logs).
    #[error("HL7 v2 message: segment 1 (MSH) field {field} at byte {offset}: {rule}")]
    InvalidEncodingCharacters {
        /// 1 for the field separator (MSH-1), 2 for the encoding characters (MSH-2).
        field: usize,
        offset: usize,
        text: String,
        rule: String,
    },
    /// The line's text is kept for callers but not shown: after a stray line break inside a field it is
    /// field data (a patient's name), and errors end up in terminals and logs.
    #[error(
        "HL7 v2 message: segment {segment} at byte {offset} does not start with a segment id (3 uppercase \
         letters or digits, HL7 v2.6 §2.5.2); often a line break inside a field"
    )]
    InvalidSegmentId { segment: usize, offset: usize, id: String },
    #[error(
        "HL7 v2 message: segment {segment} (MSH) at byte {offset}: a second MSH starts another message; \
         parse one message at a time"
    )]
    SecondMsh { segment: usize, offset: usize },
    #[error(
        "HL7 v2 message: segment {segment} ({segment_id}) field {field}: {problem}{shown} at byte {offset} \
         (repetition {repetition}, component {component}, subcomponent {subcomponent})",
        shown = shown_escape(*problem, escape)
    )]
    Escape {
        segment: usize,
        segment_id: String,
        field: usize,
        repetition: usize,
        component: usize,
        subcomponent: usize,
        offset: usize,
        /// The escape sequence as written, escape characters included (cut short if very long).
        escape: String,
        problem: EscapeProblem,
    },
}

/// The escape text for a message, only where it is HL7 syntax rather than field data: an unknown or
/// unterminated escape is usually a backslash inside a value (`Doe\Jane`), which may be a patient's.
fn shown_escape(problem: EscapeProblem, escape: &str) -> String {
    match problem {
        EscapeProblem::Unknown | EscapeProblem::Unterminated => {
            format!(" ({} characters, not shown)", escape.chars().count())
        }
        // Never the text: an escape sits inside a field, which may be a patient's identifier.
        _ => format!(" ({} characters)", escape.chars().count()),
    }
}

impl Hl7Error {
    /// The 1-based segment number the error is about, when it is about one.
    pub fn segment(&self) -> Option<usize> {
        match self {
            Hl7Error::Empty | Hl7Error::TooLarge { .. } | Hl7Error::StrayByte { .. } => None,
            Hl7Error::FirstSegmentNotMsh { .. }
            | Hl7Error::MshTooShort { .. }
            | Hl7Error::InvalidEncodingCharacters { .. } => Some(1),
            Hl7Error::InvalidSegmentId { segment, .. }
            | Hl7Error::SecondMsh { segment, .. }
            | Hl7Error::Escape { segment, .. } => Some(*segment),
        }
    }

    /// The byte offset in the input the error points at, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Hl7Error::Empty | Hl7Error::TooLarge { .. } => None,
            Hl7Error::StrayByte { offset, .. }
            | Hl7Error::FirstSegmentNotMsh { offset, .. }
            | Hl7Error::MshTooShort { offset, .. }
            | Hl7Error::InvalidEncodingCharacters { offset, .. }
            | Hl7Error::InvalidSegmentId { offset, .. }
            | Hl7Error::SecondMsh { offset, .. }
            | Hl7Error::Escape { offset, .. } => Some(*offset),
        }
    }
}

/// What is wrong with an escape sequence (HL7 v2.6 §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscapeProblem {
    /// `\C..\`, `\M..\` (character set switching), `\Z..\` (locally defined) and formatting commands
    /// other than `\.br\`: valid HL7, but this parser cannot give them a meaning.
    Unsupported,
    /// Not an escape HL7 defines.
    Unknown,
    /// An escape character without a closing one in the same subcomponent.
    Unterminated,
    /// `\X..\` without an even, non-zero number of hex digits.
    BadHex,
    /// `\X..\` bytes that are not valid UTF-8 in a message whose text is UTF-8.
    NotUtf8,
    /// `\P\` (truncation character) in a message whose MSH-2 defines none.
    NoTruncationCharacter,
}

impl fmt::Display for EscapeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EscapeProblem::Unsupported => {
                "unsupported escape (character set switching \\C\\ \\M\\, local \\Z\\ and formatting commands \
                 other than \\.br\\ are not supported)"
            }
            EscapeProblem::Unknown => {
                "unknown escape (HL7 defines F, S, T, R, E, P, Xhh.., H, N, .br; a literal escape character \
                 must be written as the E escape)"
            }
            EscapeProblem::Unterminated => {
                "unterminated escape (no closing escape character before the next delimiter; a literal escape \
                 character must be written as the E escape)"
            }
            EscapeProblem::BadHex => "bad hex escape (X must be followed by an even, non-zero number of hex digits)",
            EscapeProblem::NotUtf8 => "hex escape whose bytes are not valid UTF-8 (the message text is UTF-8)",
            EscapeProblem::NoTruncationCharacter => {
                "truncation escape without a truncation character (MSH-2 has only 4 encoding characters)"
            }
        })
    }
}
