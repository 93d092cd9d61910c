//! Byte-level decoding of one message: MLLP framing and byte order mark, line splitting, the
//! character set, the segment ids, and every escape sequence, checked and decoded with the message's
//! own delimiters. What it keeps is the text, where each segment is, and the decoded text of the
//! subcomponents that hold an escape; the rest is split when read ([`super::parts`]).

use super::super::error::{EscapeProblem, Hl7Error};
use super::encoding::{Charset, EncodingCharacters, BYTE_ORDER_MARK, ESCAPE_SHOWN, MLLP_END, MLLP_START};
use super::parsed::{Decoded, Message, Span};

impl Message {
    /// Parses one message. Accepts CR, LF or CRLF segment terminators (mixed), skips blank lines,
    /// accepts UTF-8, and when the bytes are not valid UTF-8 decodes them as ISO-8859-1 (MSH-18
    /// "8859/1" is common). Also tolerates a leading MLLP start byte 0x0B and trailing 0x1C 0x0D (they
    /// are stripped) and a UTF-8 byte order mark. Every escape sequence is checked here; see the
    /// module documentation for the rules.
    pub fn parse(bytes: &[u8]) -> Result<Message, Hl7Error> {
        parse(bytes)
    }
}

/// Parses one message (see [`Message::parse`]).
fn parse(bytes: &[u8]) -> Result<Message, Hl7Error> {
    if u32::try_from(bytes.len()).is_err() {
        return Err(Hl7Error::TooLarge { len: bytes.len() });
    }
    let (base, body) = strip_framing(bytes);
    if let Some(at) = memchr::memchr2(MLLP_START, MLLP_END, body) {
        return Err(Hl7Error::StrayByte {
            offset: base + at,
            byte: body.get(at).copied().unwrap_or_default(),
            rule: "MLLP framing byte inside the message (only a leading 0x0B and a trailing 0x1C are removed)",
        });
    }
    let (msh_offset, msh_line) = lines(body, base).next().ok_or(Hl7Error::Empty)?;
    if !msh_line.starts_with(b"MSH") {
        let id = msh_line.split(|b| b.is_ascii_punctuation()).next().unwrap_or_default();
        // A segment id (FHS, PID) names the segment; anything else is the line's data (a patient's
        // name after a lost MSH), never shown.
        let is_segment_id = id.len() == 3 && id.iter().all(u8::is_ascii_alphanumeric);
        return Err(Hl7Error::FirstSegmentNotMsh {
            found: if is_segment_id {
                String::from_utf8_lossy(id).into_owned()
            } else {
                "not a segment id".into()
            },
            offset: msh_offset,
        });
    }
    let (encoding, declared_len) = EncodingCharacters::from_msh(msh_line, msh_offset)?;
    let charset = charset_of(body, msh_line, &encoding);
    let decoder = Decoder { encoding, charset };

    // Counted first, so that every buffer is allocated once at its final size: a message of tiny
    // segments or of escapes costs a bounded multiple of its size, not a doubling vector's.
    let mut segment_count = 0;
    let mut escaped = Escaped::default();
    for (position, (offset, line)) in (1..).zip(lines(body, base)) {
        segment_count += 1;
        decoder.check_id(position, offset, line)?;
        decoder.escaped_subcomponents(line, position == 1, declared_len, |_, sub| {
            escaped.add(decoder.decoded_bound(sub))
        });
    }

    let text = decoder.text_of(body);
    let mut segments = Vec::with_capacity(segment_count);
    let mut decoded = Vec::with_capacity(escaped.count);
    let mut decoded_text = Vec::with_capacity(escaped.bytes);
    let mut text_at = TextPosition::new(decoder.charset, body);
    for (position, (offset, line)) in (1..).zip(lines(body, base)) {
        let line_start = offset - base;
        segments.push(Span {
            start: text_at.of(line_start),
            end: text_at.of(line_start + line.len()),
        });
        let id = String::from_utf8_lossy(line.get(..3).unwrap_or_default()).into_owned();
        let mut failure = None;
        decoder.escaped_subcomponents(line, position == 1, declared_len, |within, sub| {
            if failure.is_some() {
                return;
            }
            let place = Within {
                place: Place {
                    segment: position,
                    segment_id: &id,
                    field: within.place.field,
                },
                ..within
            };
            let sub_at = sub.as_ptr() as usize - line.as_ptr() as usize;
            let from = decoded_text.len() as u32;
            match decoder.unescape_into(place, sub, offset + sub_at, &mut decoded_text) {
                Ok(()) => decoded.push(Decoded {
                    at: text_at.of(line_start + sub_at),
                    from,
                }),
                Err(error) => failure = Some(error),
            }
        });
        if let Some(error) = failure {
            return Err(error);
        }
    }
    decoded_text.shrink_to_fit();
    // Every piece was checked as UTF-8 (or written from characters) as it was appended.
    let decoded_text =
        String::from_utf8(decoded_text).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok(Message {
        text,
        segments,
        decoded,
        decoded_text,
        msh2_len: declared_len as u8,
        base: base as u32,
        encoding,
        charset: decoder.charset,
    })
}

/// How many subcomponents hold an escape, and an upper bound of their decoded text.
#[derive(Default)]
struct Escaped {
    count: usize,
    bytes: usize,
}

impl Escaped {
    fn add(&mut self, bound: usize) {
        self.count += 1;
        self.bytes += bound;
    }
}

/// Text positions of input positions: the same in UTF-8; in ISO-8859-1 one more for every non-ASCII
/// byte before (it becomes two bytes of UTF-8). Asked in increasing order, it counts each byte once.
struct TextPosition<'b> {
    body: &'b [u8],
    latin1: bool,
    counted_to: usize,
    extra: usize,
}

impl<'b> TextPosition<'b> {
    fn new(charset: Charset, body: &'b [u8]) -> TextPosition<'b> {
        TextPosition {
            body,
            latin1: charset == Charset::Latin1 && !body.is_ascii(),
            counted_to: 0,
            extra: 0,
        }
    }

    fn of(&mut self, at: usize) -> u32 {
        if self.latin1 && at > self.counted_to {
            let between = self.body.get(self.counted_to..at).unwrap_or_default();
            self.extra += between.iter().filter(|b| !b.is_ascii()).count();
            self.counted_to = at;
        }
        (at + self.extra) as u32
    }
}

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

    /// The whole body as text, in one allocation of its final size.
    pub(super) fn text_of(&self, body: &[u8]) -> String {
        match self.charset {
            Charset::Utf8 => String::from_utf8_lossy(body).into_owned(),
            Charset::Latin1 => {
                let mut text = String::with_capacity(body.len() + body.iter().filter(|b| !b.is_ascii()).count());
                text.extend(body.iter().copied().map(char::from));
                text
            }
        }
    }

    /// Checks the id of segment `position`: three uppercase letters or digits, and MSH only first.
    pub(super) fn check_id(&self, position: usize, offset: usize, line: &[u8]) -> Result<(), Hl7Error> {
        if position == 1 {
            return Ok(());
        }
        let id_bytes = line.split(|&b| b == self.encoding.field).next().unwrap_or_default();
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
        Ok(())
    }

    /// Calls `found` with every subcomponent of `line` that holds the escape character, and where it
    /// is (field, repetition, component and subcomponent numbers). MSH-1 and MSH-2 are not looked at.
    /// Fields without the escape character are not split.
    pub(super) fn escaped_subcomponents<'l>(
        &self,
        line: &'l [u8],
        is_msh: bool,
        msh2_len: usize,
        mut found: impl FnMut(Within<'static>, &'l [u8]),
    ) {
        let enc = &self.encoding;
        let (first_number, rest) = if is_msh {
            (3, line.get(4 + msh2_len + 1..))
        } else {
            (1, line.get(4..))
        };
        let Some(rest) = rest else { return };
        if memchr::memchr(enc.escape, rest).is_none() {
            return;
        }
        for (field, bytes) in (first_number..).zip(rest.split(|&b| b == enc.field)) {
            if memchr::memchr(enc.escape, bytes).is_none() {
                continue;
            }
            for (r, repetition) in (1..).zip(bytes.split(|&b| b == enc.repetition)) {
                for (c, component) in (1..).zip(repetition.split(|&b| b == enc.component)) {
                    for (s, subcomponent) in (1..).zip(component.split(|&b| b == enc.subcomponent)) {
                        if memchr::memchr(enc.escape, subcomponent).is_some() {
                            let within = Within {
                                place: Place {
                                    segment: 0,
                                    segment_id: "",
                                    field,
                                },
                                repetition: r,
                                component: c,
                                subcomponent: s,
                            };
                            found(within, subcomponent);
                        }
                    }
                }
            }
        }
    }

    /// Resolves the escape sequences of one subcomponent (HL7 v2.6 §2.7) and appends its text, as
    /// UTF-8, to `out`; on an error `out` is as it was.
    pub(super) fn unescape_into(
        &self,
        within: Within<'_>,
        bytes: &[u8],
        offset: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Hl7Error> {
        let escape = self.encoding.escape;
        let start = out.len();
        let mut sink = Out {
            bytes: out,
            latin1: self.charset == Charset::Latin1,
        };
        let mut rest = bytes;
        let mut at = offset;
        // The first `\X..\` escape, blamed if the bytes it produced are not valid UTF-8.
        let mut first_hex: Option<(usize, &[u8])> = None;
        let result = loop {
            let mut parts = rest.splitn(3, |&b| b == escape);
            let before = parts.next().unwrap_or_default();
            sink.extend(before);
            let Some(body) = parts.next() else { break Ok(()) };
            let escape_at = at + before.len();
            let Some(after) = parts.next() else {
                break Err(self.escape_error(within, escape_at, body, false, EscapeProblem::Unterminated));
            };
            if let Err(problem) = self.expand(body, &mut sink) {
                break Err(self.escape_error(within, escape_at, body, true, problem));
            }
            if body.first() == Some(&b'X') && first_hex.is_none() {
                first_hex = Some((escape_at, body));
            }
            at = escape_at + body.len() + 2;
            rest = after;
        };
        let result = result.and_then(|()| {
            let written = sink.bytes.get(start..).unwrap_or_default();
            if sink.latin1 || std::str::from_utf8(written).is_ok() {
                return Ok(());
            }
            let (escape_at, body) = first_hex.unwrap_or((offset, bytes));
            Err(self.escape_error(within, escape_at, body, true, EscapeProblem::NotUtf8))
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Appends what the escape sequence with this body (the text between the escape characters) stands for.
    fn expand(&self, body: &[u8], out: &mut Out<'_>) -> Result<(), EscapeProblem> {
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

    /// An upper bound of the decoded length of a subcomponent holding escapes: an escape sequence
    /// never stands for more bytes than its body (the two escape characters go), and ISO-8859-1 text
    /// at most doubles in UTF-8.
    fn decoded_bound(&self, bytes: &[u8]) -> usize {
        let bound = bytes
            .len()
            .saturating_sub(memchr::memchr_iter(self.encoding.escape, bytes).count());
        if self.charset == Charset::Latin1 {
            2 * bound
        } else {
            bound
        }
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

/// Decoded bytes being appended: as they are in UTF-8; in ISO-8859-1 each byte as its character.
struct Out<'o> {
    bytes: &'o mut Vec<u8>,
    latin1: bool,
}

impl Out<'_> {
    fn push(&mut self, byte: u8) {
        if self.latin1 && !byte.is_ascii() {
            let mut utf8 = [0u8; 2];
            self.bytes
                .extend_from_slice(char::from(byte).encode_utf8(&mut utf8).as_bytes());
        } else {
            self.bytes.push(byte);
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        if self.latin1 && !bytes.is_ascii() {
            bytes.iter().for_each(|&b| self.push(b));
        } else {
            self.bytes.extend_from_slice(bytes);
        }
    }
}

/// Where a subcomponent sits, for escape errors.
#[derive(Clone, Copy)]
pub(super) struct Within<'a> {
    pub(super) place: Place<'a>,
    pub(super) repetition: usize,
    pub(super) component: usize,
    pub(super) subcomponent: usize,
}
