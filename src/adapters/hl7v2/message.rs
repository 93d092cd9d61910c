//! A strict, generic HL7 v2 message parser: segments, fields, repetitions, components and
//! subcomponents, with escape sequences resolved (HL7 v2.6 §2.5–§2.7). It knows nothing of any profile;
//! IHE PCD meaning lives in [`report`](super::report).
//!
//! What it accepts, and why:
//! * Segment terminators CR (the standard, §2.5.1), LF or CRLF, mixed: files edited on other systems
//!   and some gateways use them. Blank (empty or all-space) lines are skipped.
//! * A leading MLLP start byte 0x0B, a trailing 0x1C (then CR/LF) and a UTF-8 byte order mark are
//!   removed, so a frame can be handed over as read from the wire. Framing bytes anywhere else are an
//!   error.
//! * Text is UTF-8 when the bytes are valid UTF-8 and not pure ASCII; ISO-8859-1 when they are not
//!   valid UTF-8. Pure ASCII text reads the same in both, and then MSH-18 decides the character set of
//!   `\Xhh\` escapes: ISO-8859-1 when it says `8859/1` (common on IHE PCD devices), UTF-8 otherwise.
//!
//! Splitting is done on the raw bytes first (field, repetition, component, subcomponent) and escape
//! sequences are resolved afterwards in each subcomponent, so an escaped delimiter (`\F\`, `\S\`, ...)
//! never splits a value. Every escape is resolved at parse time: a bad one is reported with its
//! segment, field and byte offset, and accessors never fail.
//!
//! **Empty versus null.** An absent or empty component reads as `None`. HL7's explicit null `""`
//! (§2.5.3: "delete the value") is kept as the two quote characters: `component()` returns
//! `Some("\"\"")` and [`Field::is_null`] tells it apart. Whether a null clears a value is the caller's
//! decision.

use super::error::Hl7Error;

/// One parsed HL7 v2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Never empty: the first segment is MSH.
    segments: Vec<Segment>,
    encoding: EncodingCharacters,
    charset: Charset,
}

impl Message {
    /// Parses one message. Accepts CR, LF or CRLF segment terminators (mixed), skips blank lines,
    /// accepts UTF-8, and when the bytes are not valid UTF-8 decodes them as ISO-8859-1 (MSH-18
    /// "8859/1" is common). Also tolerates a leading MLLP start byte 0x0B and trailing 0x1C 0x0D (they
    /// are stripped) and a UTF-8 byte order mark. Every escape sequence is resolved here; see the
    /// module documentation for the rules.
    pub fn parse(bytes: &[u8]) -> Result<Message, Hl7Error> {
        let (base, body) = strip_framing(bytes);
        if let Some(at) = body.iter().position(|&b| b == MLLP_START || b == MLLP_END) {
            return Err(Hl7Error::StrayByte {
                offset: base + at,
                byte: body.get(at).copied().unwrap_or_default(),
                rule: "MLLP framing byte inside the message (only a leading 0x0B and a trailing 0x1C are removed)",
            });
        }
        let mut lines = lines(body, base);
        let (msh_offset, msh_line) = lines.next().ok_or(Hl7Error::Empty)?;
        if !msh_line.starts_with(b"MSH") {
            let id = msh_line.split(|b| b.is_ascii_punctuation()).next().unwrap_or_default();
            return Err(Hl7Error::FirstSegmentNotMsh {
                found: shown(&String::from_utf8_lossy(id)),
                offset: msh_offset,
            });
        }
        let (encoding, declared_len) = EncodingCharacters::from_msh(msh_line, msh_offset)?;
        let decoder = Decoder {
            encoding,
            charset: charset_of(body, msh_line, &encoding),
        };

        let msh_fields_start = 4 + declared_len + 1;
        let mut fields = vec![
            Field::literal(char::from(encoding.field).to_string(), msh_offset + 3),
            Field::literal(
                decoder.text(msh_line.get(4..4 + declared_len).unwrap_or_default()),
                msh_offset + 4,
            ),
        ];
        if let Some(rest) = msh_line.get(msh_fields_start..) {
            let place = Place {
                segment: 1,
                segment_id: "MSH",
                field: 0,
            };
            fields.extend(decoder.fields(place, 3, rest, msh_offset + msh_fields_start)?);
        }
        let mut segments = vec![Segment {
            id: "MSH".into(),
            position: 1,
            offset: msh_offset,
            fields,
        }];
        for (position, (offset, line)) in (2..).zip(lines) {
            segments.push(decoder.segment(position, offset, line)?);
        }
        Ok(Message {
            segments,
            encoding,
            charset: decoder.charset,
        })
    }

    /// All segments in message order; the first is MSH.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The segments with this id, in message order.
    pub fn segments_named<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.id == id)
    }

    /// The first segment with this id.
    pub fn first(&self, id: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// The delimiters from MSH-1 and MSH-2.
    pub fn encoding(&self) -> &EncodingCharacters {
        &self.encoding
    }

    /// The character set the text was decoded with (see the module documentation).
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// The MSH segment.
    fn header(&self) -> Option<&Segment> {
        self.segments.first()
    }

    /// MSH-9.1, e.g. `ORU`.
    pub fn message_type(&self) -> Option<&str> {
        self.header()?.get(9, 1)
    }

    /// MSH-9.2, e.g. `R01`.
    pub fn trigger_event(&self) -> Option<&str> {
        self.header()?.get(9, 2)
    }

    /// MSH-9.3, e.g. `ORU_R01`.
    pub fn message_structure(&self) -> Option<&str> {
        self.header()?.get(9, 3)
    }

    /// MSH-10, the message control id (echoed in the acknowledgement).
    pub fn control_id(&self) -> Option<&str> {
        self.header()?.get(10, 1)
    }

    /// MSH-12.1, the HL7 version, e.g. `2.6`.
    pub fn version(&self) -> Option<&str> {
        self.header()?.get(12, 1)
    }

    /// MSH-21, the message profile identifiers: the first component of every non-empty repetition.
    pub fn profile_ids(&self) -> Vec<&str> {
        self.header()
            .map(|msh| {
                msh.field(21)
                    .repetitions()
                    .iter()
                    .filter_map(|r| r.component(1))
                    .collect()
            })
            .unwrap_or_default()
    }
}

mod decode;
mod encoding;
mod parts;

use decode::*;
pub use encoding::{Charset, EncodingCharacters};
use encoding::{MLLP_END, MLLP_START};
pub use parts::{Field, Repetition, Segment};

#[cfg(test)]
mod tests;
