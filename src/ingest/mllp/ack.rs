//! The original-mode acknowledgement (`ACK`) of a message, addressed back to its sender from the
//! header alone (MSH), with an ERR segment that names the problem.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;

use super::framer::{END_BLOCK, START_BLOCK};
use crate::adapters::hl7v2::message::Message;

/// The header (MSH) of a message, which is all an acknowledgement echoes.
pub struct Header(Message);

impl Header {
    /// The first segment of `bytes` read as a message of its own; `None` when it is not an MSH that
    /// parses. The rest of the message is not looked at.
    pub fn read(bytes: &[u8]) -> Option<Header> {
        let end = bytes
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(bytes.len());
        let message = Message::parse(bytes.get(..end)?).ok()?;
        message.first("MSH")?;
        Some(Header(message))
    }
}

/// The acknowledgement codes of HL7 v2 original mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Accepted: durably stored.
    Accept,
    /// Error: the message is malformed.
    Error,
    /// Reject: the bridge does not take this kind of message, or it is too large.
    Reject,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }
}

/// Escapes text for an HL7 field with the default delimiters.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\r' | '\n' => out.push(' '),
            other => out.push(other),
        }
    }
    out
}

/// An original-mode ACK in an MLLP frame, addressed back to the sender, with an ERR segment
/// (HL7 table 0357 code and text) when there is a problem.
pub fn acknowledgement(
    header: Option<&Header>,
    code: AckCode,
    problem: Option<(&str, &str)>,
    acks: &AtomicU64,
) -> Vec<u8> {
    let message = header.map(|h| &h.0);
    let msh = message.and_then(|m| m.first("MSH"));
    // MSH-3/4 (HD) re-encoded with the ACK's own delimiters: the sender may use others.
    let field = |n: usize| {
        msh.and_then(|s| s.field(n).repetitions().next())
            .map(|r| {
                (1..=3)
                    .map(|c| escape(r.component(c).unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("^")
            })
            .map(|joined| joined.trim_end_matches('^').to_string())
            .unwrap_or_default()
    };
    let trigger = message.and_then(|m| m.trigger_event()).unwrap_or_default();
    let version = message.and_then(|m| m.version()).unwrap_or("2.6");
    let control_id = message.and_then(|m| m.control_id()).unwrap_or_default();
    let mut text = format!(
        "MSH|^~\\&|FHIRGATE|FHIRGATE|{}|{}|{}||ACK^{}^ACK|FG{}|P|{}\rMSA|{}|{}\r",
        field(3),
        field(4),
        Utc::now().format("%Y%m%d%H%M%S+0000"),
        escape(trigger),
        acks.fetch_add(1, Ordering::Relaxed),
        escape(version),
        code.as_str(),
        escape(control_id),
    );
    if let Some((hl7_code, description)) = problem {
        let table_text = match hl7_code {
            "102" => "Data type error",
            "200" => "Unsupported message type",
            _ => "Application internal error",
        };
        text.push_str(&format!(
            "ERR|||{hl7_code}^{table_text}^HL70357|E||||{}\r",
            escape(description)
        ));
    }
    let mut frame = Vec::with_capacity(text.len() + 3);
    frame.push(START_BLOCK);
    frame.extend_from_slice(text.as_bytes());
    frame.extend_from_slice(&END_BLOCK);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_text_is_escaped_into_one_err_field() {
        let acks = AtomicU64::new(7);
        let frame = acknowledgement(None, AckCode::Error, Some(("102", "bad | ^ & ~ \\ \r text")), &acks);
        let text = String::from_utf8(frame[1..frame.len() - 2].to_vec()).unwrap();
        assert!(text.contains("MSA|AE|\r"), "{text}");
        assert!(
            text.contains("ERR|||102^Data type error^HL70357|E||||bad \\F\\ \\S\\ \\T\\ \\R\\ \\E\\   text\r"),
            "{text}"
        );
        assert!(text.contains("|FG7|"));
    }
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn the_ack_echoes_the_header_alone() {
        let message = b"MSH|^~\\&|PUMPGW|ICU|||20261121100000||ORU^R01^ORU_R01|MSG-9|P|2.6\rPID|||not read\r";
        let header = Header::read(message).unwrap();
        let acks = AtomicU64::new(1);
        let frame = acknowledgement(Some(&header), AckCode::Accept, None, &acks);
        let text = String::from_utf8(frame[1..frame.len() - 2].to_vec()).unwrap();
        assert!(text.starts_with("MSH|^~\\&|FHIRGATE|FHIRGATE|PUMPGW|ICU|"), "{text}");
        assert!(text.contains("|ACK^R01^ACK|FG1|P|2.6\rMSA|AA|MSG-9\r"), "{text}");
        assert!(Header::read(b"PID|||1\r").is_none());
    }
}
