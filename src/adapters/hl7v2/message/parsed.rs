//! A parsed message as it is kept: its text once, where each segment is, and the decoded text of the
//! subcomponents that hold an escape sequence.

use super::encoding::{Charset, EncodingCharacters};

/// A range of the message text, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: u32,
    pub(super) end: u32,
}

impl Span {
    pub(super) const EMPTY: Span = Span { start: 0, end: 0 };

    pub(super) fn len(self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    /// The part of the span from `skip` bytes in; `None` when the span is shorter.
    pub(super) fn after(self, skip: u32) -> Option<Span> {
        (self.len() >= skip).then(|| Span {
            start: self.start + skip,
            end: self.end,
        })
    }
}

/// One parsed HL7 v2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message as UTF-8 text (MLLP framing and byte order mark removed).
    pub(super) text: String,
    /// Where each segment is in the text. Never empty: the first segment is MSH.
    pub(super) segments: Vec<Span>,
    /// The subcomponents that hold an escape sequence, by where they start in the text, in text order;
    /// each one's decoded text runs in `decoded_text` up to the next one's.
    pub(super) decoded: Vec<Decoded>,
    pub(super) decoded_text: String,
    /// The length of MSH-2 (4 or 5).
    pub(super) msh2_len: u8,
    /// The input offset of the text's first byte (MLLP start byte and byte order mark skipped).
    pub(super) base: u32,
    pub(super) encoding: EncodingCharacters,
    pub(super) charset: Charset,
}

/// A subcomponent that holds an escape sequence: where it starts in the text, and where its decoded
/// text starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decoded {
    pub(super) at: u32,
    pub(super) from: u32,
}

impl Message {
    /// The text of a span.
    pub(super) fn slice(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    /// A subcomponent's value: its text, or its decoded text when it holds an escape sequence.
    pub(super) fn value(&self, span: Span) -> &str {
        let raw = self.slice(span);
        if self.decoded.is_empty() || memchr::memchr(self.encoding.escape, raw.as_bytes()).is_none() {
            return raw;
        }
        let Ok(i) = self.decoded.binary_search_by_key(&span.start, |d| d.at) else {
            return raw;
        };
        let from = self.decoded.get(i).map_or(0, |d| d.from);
        let to = self
            .decoded
            .get(i + 1)
            .map_or(self.decoded_text.len() as u32, |d| d.from);
        self.decoded_text.get(from as usize..to as usize).unwrap_or_default()
    }

    /// The input offset of a text position: the same byte in UTF-8; in ISO-8859-1, where every input
    /// byte is one character, the number of characters before it.
    pub(super) fn input_offset(&self, at: u32) -> usize {
        let base = self.base as usize;
        match self.charset {
            Charset::Latin1 if !self.text.is_ascii() => {
                base + self
                    .text
                    .get(..at as usize)
                    .map_or(at as usize, |before| before.chars().count())
            }
            _ => base + at as usize,
        }
    }

    /// The delimiters from MSH-1 and MSH-2.
    pub fn encoding(&self) -> &EncodingCharacters {
        &self.encoding
    }

    /// The character set the text was decoded with (see the module documentation).
    pub fn charset(&self) -> Charset {
        self.charset
    }
}
