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

const MLLP_START: u8 = 0x0B;
const MLLP_END: u8 = 0x1C;
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";
/// Escape text longer than this is cut short in error messages.
const ESCAPE_SHOWN: usize = 24;

/// The character set the message text was decoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// ISO-8859-1 (HL7 `8859/1`): every byte is one character.
    Latin1,
}

/// The delimiters a message declares in MSH-1 and MSH-2 (HL7 v2.6 §2.5.4). All are ASCII punctuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingCharacters {
    field: u8,
    component: u8,
    repetition: u8,
    escape: u8,
    subcomponent: u8,
    truncation: Option<u8>,
}

impl EncodingCharacters {
    /// MSH-1, usually `|`.
    pub fn field(&self) -> char {
        char::from(self.field)
    }

    /// Usually `^`.
    pub fn component(&self) -> char {
        char::from(self.component)
    }

    /// Usually `~`.
    pub fn repetition(&self) -> char {
        char::from(self.repetition)
    }

    /// Usually `\`.
    pub fn escape(&self) -> char {
        char::from(self.escape)
    }

    /// Usually `&`.
    pub fn subcomponent(&self) -> char {
        char::from(self.subcomponent)
    }

    /// The fifth character of MSH-2 (HL7 v2.7+, usually `#`), if the message declares one.
    pub fn truncation(&self) -> Option<char> {
        self.truncation.map(char::from)
    }

    /// Reads MSH-1 and MSH-2 from the first segment's line. Returns the delimiters and the length of MSH-2.
    fn from_msh(line: &[u8], offset: usize) -> Result<(EncodingCharacters, usize), Hl7Error> {
        if line.len() < 8 {
            return Err(Hl7Error::MshTooShort {
                offset,
                len: line.len(),
            });
        }
        let field = line.get(3).copied().unwrap_or_default();
        if !field.is_ascii_punctuation() {
            return Err(Hl7Error::InvalidEncodingCharacters {
                field: 1,
                offset: offset + 3,
                text: String::from_utf8_lossy(&[field]).into_owned(),
                rule: "the field separator must be an ASCII punctuation character (HL7 recommends `|`)".into(),
            });
        }
        // MSH-2 runs to the next field separator, so it can never contain the field separator itself.
        let declared = line
            .get(4..)
            .unwrap_or_default()
            .split(|&b| b == field)
            .next()
            .unwrap_or_default();
        let invalid = |rule: String| Hl7Error::InvalidEncodingCharacters {
            field: 2,
            offset: offset + 4,
            text: String::from_utf8_lossy(declared).into_owned(),
            rule,
        };
        let &[component, repetition, escape, subcomponent, ref truncation @ ..] = declared else {
            return Err(invalid(format!(
                "MSH-2 has {} character(s); it needs 4 or 5",
                declared.len()
            )));
        };
        if truncation.len() > 1 {
            return Err(invalid(format!(
                "MSH-2 has {} characters; it needs 4 (component, repetition, escape, subcomponent) or 5 (and \
                 truncation, HL7 v2.7+)",
                declared.len()
            )));
        }
        for (i, &b) in declared.iter().enumerate() {
            if !b.is_ascii_punctuation() {
                return Err(invalid(format!(
                    "character {} (byte 0x{b:02X}) is not an ASCII punctuation character; encoding characters \
                     must not be letters, digits, spaces or line breaks",
                    i + 1
                )));
            }
            if declared.get(..i).unwrap_or_default().contains(&b) {
                return Err(invalid(format!("`{}` appears more than once", char::from(b))));
            }
        }
        let encoding = EncodingCharacters {
            field,
            component,
            repetition,
            escape,
            subcomponent,
            truncation: truncation.first().copied(),
        };
        Ok((encoding, declared.len()))
    }
}

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

/// One segment: its id, where it is, and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    id: String,
    position: usize,
    offset: usize,
    /// `fields[0]` is field 1.
    fields: Vec<Field>,
}

/// What `field()` returns for a field the segment does not have.
static ABSENT: Field = Field {
    raw: String::new(),
    offset: 0,
    repetitions: Vec::new(),
};

impl Segment {
    /// The segment id, three uppercase letters or digits (`MSH`, `OBX`, `ZPD`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The 1-based segment number in the message (blank lines are not counted), for errors.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The byte offset of the segment's first byte in the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The fields present, field 1 first (for MSH, MSH-1 the field separator).
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// HL7 field numbering: for MSH, field(1) is the field separator itself and field(2) the encoding
    /// characters (neither is split or unescaped); for every other segment field(1) is the first field
    /// after the segment id. Absent fields (and field 0) give an empty [`Field`].
    pub fn field(&self, n: usize) -> &Field {
        n.checked_sub(1).and_then(|i| self.fields.get(i)).unwrap_or(&ABSENT)
    }

    /// Shorthand: first repetition, component `component` (1-based), first subcomponent, unescaped;
    /// `None` if empty or absent.
    pub fn get(&self, field: usize, component: usize) -> Option<&str> {
        self.field(field).component(component)
    }
}

/// One field: its repetitions, and its text as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    raw: String,
    offset: usize,
    /// Empty when the field is empty.
    repetitions: Vec<Repetition>,
}

impl Field {
    /// A field that is not split or unescaped (MSH-1, MSH-2).
    fn literal(text: String, offset: usize) -> Field {
        let repetitions = vec![Repetition {
            components: vec![vec![text.clone()]],
        }];
        Field {
            raw: text,
            offset,
            repetitions,
        }
    }

    /// The repetitions; none for an empty field.
    pub fn repetitions(&self) -> &[Repetition] {
        &self.repetitions
    }

    /// Repetition `r` (1-based).
    pub fn repetition(&self, r: usize) -> Option<&Repetition> {
        r.checked_sub(1).and_then(|i| self.repetitions.get(i))
    }

    /// True when no subcomponent has any text (`""`, HL7's explicit null, is not empty).
    pub fn is_empty(&self) -> bool {
        self.repetitions
            .iter()
            .all(|r| r.components.iter().flatten().all(String::is_empty))
    }

    /// True when the field is HL7's explicit null `""` (HL7 v2.6 §2.5.3).
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// Component `c` (1-based) of the first repetition: first subcomponent, unescaped; `None` if empty.
    pub fn component(&self, c: usize) -> Option<&str> {
        self.repetitions.first()?.component(c)
    }

    /// Subcomponent `s` of component `c` (both 1-based) of the first repetition, unescaped; `None` if empty.
    pub fn subcomponent(&self, c: usize, s: usize) -> Option<&str> {
        self.repetitions.first()?.subcomponent(c, s)
    }

    /// The field's text as it appeared (escape sequences kept), for error messages and `ST` values.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The byte offset of the field's first byte in the input (for an absent field, 0).
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// One repetition of a field: components of subcomponents, all unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repetition {
    components: Vec<Vec<String>>,
}

impl Repetition {
    /// How many components the repetition has (trailing empty ones included).
    pub fn component_count(&self) -> usize {
        self.components.len()
    }

    /// Component `c` (1-based): its first subcomponent, unescaped; `None` if empty or absent.
    pub fn component(&self, c: usize) -> Option<&str> {
        self.subcomponent(c, 1)
    }

    /// Subcomponent `s` of component `c` (both 1-based), unescaped; `None` if empty or absent.
    pub fn subcomponent(&self, c: usize, s: usize) -> Option<&str> {
        let component = self.components.get(c.checked_sub(1)?)?;
        component
            .get(s.checked_sub(1)?)
            .map(String::as_str)
            .filter(|text| !text.is_empty())
    }
}

mod decode;
use decode::*;

#[cfg(test)]
mod tests;
