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
//! Nothing is split until it is read: parsing checks the segment ids and every escape sequence, keeps
//! the text once (as UTF-8) with where each segment is, and decodes only the subcomponents that hold an
//! escape sequence, into one buffer beside the text. A field, repetition or component is found by
//! scanning for its delimiters when it is asked for, and a value is a slice. So a message takes at most
//! about four times its size in memory (`tests/hl7_memory.rs` counts the bytes), whatever it holds.
//! Escapes are resolved per subcomponent after splitting, so an escaped delimiter (`\F\`, `\S\`, ...)
//! never splits a value. A bad escape is reported at parse time with its segment, field and byte offset,
//! and accessors never fail.
//!
//! **Empty versus null.** An absent or empty component reads as `None`. HL7's explicit null `""`
//! (§2.5.3: "delete the value") is kept as the two quote characters: `component()` returns
//! `Some("\"\"")` and [`Field::is_null`] tells it apart. Whether a null clears a value is the caller's
//! decision.

mod decode;
mod encoding;
mod header;
mod parsed;
mod parts;

pub use encoding::{Charset, EncodingCharacters};
pub use parsed::Message;
pub use parts::{Field, LeadingFields, Repetition, Segment};

#[cfg(test)]
mod tests;
