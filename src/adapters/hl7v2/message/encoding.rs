//! The delimiters and character set of a message (MSH-1, MSH-2, MSH-18).

use super::super::error::Hl7Error;

pub(super) const MLLP_START: u8 = 0x0B;
pub(super) const MLLP_END: u8 = 0x1C;
pub(super) const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";
/// Escape text longer than this is cut short in error messages.
pub(super) const ESCAPE_SHOWN: usize = 24;

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
    pub(super) field: u8,
    pub(super) component: u8,
    pub(super) repetition: u8,
    pub(super) escape: u8,
    pub(super) subcomponent: u8,
    pub(super) truncation: Option<u8>,
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
    pub(super) fn from_msh(line: &[u8], offset: usize) -> Result<(EncodingCharacters, usize), Hl7Error> {
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
