//! Byte-level decoding of one message: MLLP framing and byte order mark, line splitting, the
//! character set, and splitting plus unescaping with the message's own delimiters.

use super::super::error::{EscapeProblem, Hl7Error};
use super::encoding::{Charset, EncodingCharacters, BYTE_ORDER_MARK, ESCAPE_SHOWN, MLLP_END, MLLP_START};
use super::parts::{Field, Repetition, Segment};

/// Removes a leading MLLP start byte, a UTF-8 byte order mark and a trailing MLLP end byte (with the CR
/// or LF after it). Returns the offset of what is left in the input, and what is left.
pub(super) fn strip_framing(bytes: &[u8]) -> (usize, &[u8]) {
    let mut base = 0;
    let mut body = bytes;
    if let Some(rest) = body.strip_prefix(&[MLLP_START]) {
        body = rest;
        base += 1;
    }
    if let Some(rest) = body.strip_prefix(BYTE_ORDER_MARK) {
        body = rest;
        base += BYTE_ORDER_MARK.len();
    }
    let content_end = body
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    if let Some(framed) = body.get(..content_end).and_then(|b| b.strip_suffix(&[MLLP_END])) {
        body = framed;
    }
    (base, body)
}

/// The non-blank lines with their byte offsets in the input. CR, LF and CRLF all end a line.
pub(super) fn lines(body: &[u8], base: usize) -> impl Iterator<Item = (usize, &[u8])> {
    let mut offset = base;
    body.split(|&b| b == b'\r' || b == b'\n')
        .map(move |line| {
            let at = offset;
            offset += line.len() + 1;
            (at, line)
        })
        .filter(|(_, line)| !line.iter().all(|&b| b == b' ' || b == b'\t'))
}

/// UTF-8 unless the bytes are not valid UTF-8, or are pure ASCII and MSH-18 declares ISO-8859-1.
pub(super) fn charset_of(body: &[u8], msh_line: &[u8], encoding: &EncodingCharacters) -> Charset {
    if body.is_ascii() {
        let msh18 = msh_line.split(|&b| b == encoding.field).nth(17).unwrap_or_default();
        let first = msh18.split(|&b| b == encoding.repetition).next().unwrap_or_default();
        let name = first.split(|&b| b == encoding.component).next().unwrap_or_default();
        if name.trim_ascii().eq_ignore_ascii_case(b"8859/1") {
            return Charset::Latin1;
        }
        Charset::Utf8
    } else if std::str::from_utf8(body).is_ok() {
        Charset::Utf8
    } else {
        Charset::Latin1
    }
}

/// Text as it appears in error messages: at most [`ESCAPE_SHOWN`] characters.
pub(super) fn shown(text: &str) -> String {
    match text.char_indices().nth(ESCAPE_SHOWN) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_string(),
    }
}

/// Where a value sits, for errors.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    pub(super) segment: usize,
    pub(super) segment_id: &'a str,
    pub(super) field: usize,
}

/// Splits and unescapes with one message's delimiters and character set.
pub(super) struct Decoder {
    pub(super) encoding: EncodingCharacters,
    pub(super) charset: Charset,
}

impl Decoder {
    /// Bytes as text. In a UTF-8 message every slice cut at ASCII delimiters is valid UTF-8, so the
    /// lossy conversion never replaces anything.
    pub(super) fn text(&self, bytes: &[u8]) -> String {
        match self.charset {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::Latin1 => bytes.iter().copied().map(char::from).collect(),
        }
    }

    /// A segment other than the first.
    pub(super) fn segment(&self, position: usize, offset: usize, line: &[u8]) -> Result<Segment, Hl7Error> {
        let field_separator = self.encoding.field;
        let id_bytes = line.split(|&b| b == field_separator).next().unwrap_or_default();
        let valid = id_bytes.len() == 3 && id_bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !valid {
            return Err(Hl7Error::InvalidSegmentId {
                segment: position,
                offset,
                id: shown(&self.text(id_bytes)),
            });
        }
        if id_bytes == b"MSH" {
            return Err(Hl7Error::SecondMsh {
                segment: position,
                offset,
            });
        }
        let id = self.text(id_bytes);
        let fields = match line.get(4..) {
            Some(rest) => self.fields(
                Place {
                    segment: position,
                    segment_id: &id,
                    field: 0,
                },
                1,
                rest,
                offset + 4,
            )?,
            None => Vec::new(),
        };
        Ok(Segment {
            id,
            position,
            offset,
            fields,
        })
    }

    /// Splits `bytes` into fields numbered from `first_number`.
    pub(super) fn fields(
        &self,
        place: Place<'_>,
        first_number: usize,
        bytes: &[u8],
        offset: usize,
    ) -> Result<Vec<Field>, Hl7Error> {
        let mut fields = Vec::new();
        let mut at = offset;
        for (number, piece) in (first_number..).zip(bytes.split(|&b| b == self.encoding.field)) {
            fields.push(self.field(Place { field: number, ..place }, piece, at)?);
            at += piece.len() + 1;
        }
        Ok(fields)
    }

    pub(super) fn field(&self, place: Place<'_>, bytes: &[u8], offset: usize) -> Result<Field, Hl7Error> {
        let raw = self.text(bytes);
        if bytes.is_empty() {
            return Ok(Field {
                raw,
                offset,
                repetitions: Vec::new(),
            });
        }
        let enc = &self.encoding;
        let mut repetitions = Vec::new();
        let mut repetition_at = offset;
        for (r, repetition) in (1..).zip(bytes.split(|&b| b == enc.repetition)) {
            let mut components = Vec::new();
            let mut component_at = repetition_at;
            for (c, component) in (1..).zip(repetition.split(|&b| b == enc.component)) {
                let mut subcomponents = Vec::new();
                let mut subcomponent_at = component_at;
                for (s, subcomponent) in (1..).zip(component.split(|&b| b == enc.subcomponent)) {
                    let at = Within {
                        place,
                        repetition: r,
                        component: c,
                        subcomponent: s,
                    };
                    subcomponents.push(self.unescape(at, subcomponent, subcomponent_at)?);
                    subcomponent_at += subcomponent.len() + 1;
                }
                components.push(subcomponents);
                component_at += component.len() + 1;
            }
            repetitions.push(Repetition { components });
            repetition_at += repetition.len() + 1;
        }
        Ok(Field {
            raw,
            offset,
            repetitions,
        })
    }

    /// Resolves the escape sequences of one subcomponent (HL7 v2.6 §2.7) and decodes it as text.
    pub(super) fn unescape(&self, within: Within<'_>, bytes: &[u8], offset: usize) -> Result<String, Hl7Error> {
        let escape = self.encoding.escape;
        if !bytes.contains(&escape) {
            return Ok(self.text(bytes));
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        let mut at = offset;
        // The first `\X..\` escape, blamed if the bytes it produced are not valid UTF-8.
        let mut first_hex: Option<(usize, &[u8])> = None;
        loop {
            let mut parts = rest.splitn(3, |&b| b == escape);
            let before = parts.next().unwrap_or_default();
            out.extend_from_slice(before);
            let Some(body) = parts.next() else { break };
            let escape_at = at + before.len();
            let Some(after) = parts.next() else {
                return Err(self.escape_error(within, escape_at, body, false, EscapeProblem::Unterminated));
            };
            self.expand(body, &mut out)
                .map_err(|problem| self.escape_error(within, escape_at, body, true, problem))?;
            if body.first() == Some(&b'X') && first_hex.is_none() {
                first_hex = Some((escape_at, body));
            }
            at = escape_at + body.len() + 2;
            rest = after;
        }
        match self.charset {
            Charset::Latin1 => Ok(out.into_iter().map(char::from).collect()),
            Charset::Utf8 => String::from_utf8(out).map_err(|_| {
                let (escape_at, body) = first_hex.unwrap_or((offset, bytes));
                self.escape_error(within, escape_at, body, true, EscapeProblem::NotUtf8)
            }),
        }
    }

    /// Appends what the escape sequence with this body (the text between the escape characters) stands for.
    pub(super) fn expand(&self, body: &[u8], out: &mut Vec<u8>) -> Result<(), EscapeProblem> {
        let enc = &self.encoding;
        match body {
            b"F" => out.push(enc.field),
            b"S" => out.push(enc.component),
            b"T" => out.push(enc.subcomponent),
            b"R" => out.push(enc.repetition),
            b"E" => out.push(enc.escape),
            b"P" => out.push(enc.truncation.ok_or(EscapeProblem::NoTruncationCharacter)?),
            // Highlighting on and off: the text stays, the emphasis goes.
            b"H" | b"N" => {}
            b".br" => out.push(b'\n'),
            [b'X', hex @ ..] => {
                if hex.is_empty() || hex.len() % 2 != 0 {
                    return Err(EscapeProblem::BadHex);
                }
                for pair in hex.chunks_exact(2) {
                    let &[high, low] = pair else {
                        return Err(EscapeProblem::BadHex);
                    };
                    let digit = |b: u8| char::from(b).to_digit(16).ok_or(EscapeProblem::BadHex);
                    out.push(u8::try_from(digit(high)? * 16 + digit(low)?).map_err(|_| EscapeProblem::BadHex)?);
                }
            }
            [b'C' | b'M' | b'Z' | b'.', ..] => return Err(EscapeProblem::Unsupported),
            _ => return Err(EscapeProblem::Unknown),
        }
        Ok(())
    }

    pub(super) fn escape_error(
        &self,
        within: Within<'_>,
        offset: usize,
        body: &[u8],
        closed: bool,
        problem: EscapeProblem,
    ) -> Hl7Error {
        let escape = self.encoding.escape();
        let closing = if closed { escape.to_string() } else { String::new() };
        Hl7Error::Escape {
            segment: within.place.segment,
            segment_id: within.place.segment_id.to_string(),
            field: within.place.field,
            repetition: within.repetition,
            component: within.component,
            subcomponent: within.subcomponent,
            offset,
            escape: shown(&format!("{escape}{}{closing}", self.text(body))),
            problem,
        }
    }
}

/// Where a subcomponent sits, for escape errors.
#[derive(Clone, Copy)]
pub(super) struct Within<'a> {
    place: Place<'a>,
    repetition: usize,
    component: usize,
    subcomponent: usize,
}
