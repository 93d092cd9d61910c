//! The parts of a parsed message — segments, fields, repetitions, components and subcomponents — as
//! views into the message's text. Nothing is split or copied until it is read: a part is a span of the
//! text, found by scanning for its delimiters when asked for, and a value is a slice of the text, or of
//! the message's decoded text when it holds an escape sequence.

use super::parsed::{Message, Span};

/// The pieces of a span between `separator` bytes (one piece for a span without any, an empty piece
/// on each side of a separator at an edge).
struct Pieces<'t> {
    bytes: &'t [u8],
    base: u32,
    at: usize,
    separator: u8,
    done: bool,
}

impl Iterator for Pieces<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.done {
            return None;
        }
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let start = self.base + self.at as u32;
        match memchr::memchr(self.separator, rest) {
            Some(i) => {
                self.at += i + 1;
                Some(Span {
                    start,
                    end: start + i as u32,
                })
            }
            None => {
                self.done = true;
                Some(Span {
                    start,
                    end: start + rest.len() as u32,
                })
            }
        }
    }
}

fn pieces(text: &str, span: Span, separator: u8) -> Pieces<'_> {
    Pieces {
        bytes: text
            .as_bytes()
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default(),
        base: span.start,
        at: 0,
        separator,
        done: false,
    }
}

/// One segment: its id, its number in the message and its fields.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'m> {
    pub(super) message: &'m Message,
    pub(super) index: usize,
    pub(super) span: Span,
}

impl<'m> Segment<'m> {
    /// The segment id, three uppercase letters or digits (`MSH`, `OBX`, `ZPD`).
    pub fn id(&self) -> &'m str {
        self.message.slice(Span {
            start: self.span.start,
            end: self.span.start.saturating_add(3).min(self.span.end),
        })
    }

    /// The 1-based segment number in the message (blank lines are not counted), for errors.
    pub fn position(&self) -> usize {
        self.index + 1
    }

    /// The byte offset of the segment's first byte in the input.
    pub fn offset(&self) -> usize {
        self.message.input_offset(self.span.start)
    }

    /// Where the fields after the segment id (for MSH, after MSH-2) are, if the segment has any.
    fn rest(&self) -> Option<Span> {
        if self.index == 0 {
            self.span.after(4 + u32::from(self.message.msh2_len) + 1)
        } else {
            self.span.after(4)
        }
    }

    /// The fields present, field 1 first (for MSH, MSH-1 the field separator).
    pub fn fields(&self) -> impl Iterator<Item = Field<'m>> + 'm {
        let message = self.message;
        let literal = (self.index == 0).then(|| [self.literal(1), self.literal(2)]);
        let rest = self.rest().into_iter().flat_map(move |rest| {
            pieces(&message.text, rest, message.encoding.field).map(move |span| Field::new(message, span))
        });
        literal.into_iter().flatten().chain(rest)
    }

    /// How many fields the segment has.
    pub fn field_count(&self) -> usize {
        self.fields().count()
    }

    /// MSH-1 or MSH-2, which are neither split nor unescaped.
    fn literal(&self, n: usize) -> Field<'m> {
        let start = self.span.start + 3;
        let span = if n == 1 {
            Span { start, end: start + 1 }
        } else {
            Span {
                start: start + 1,
                end: start + 1 + u32::from(self.message.msh2_len),
            }
        };
        Field {
            literal: true,
            ..Field::new(self.message, span)
        }
    }

    /// HL7 field numbering: for MSH, field(1) is the field separator itself and field(2) the encoding
    /// characters (neither is split or unescaped); for every other segment field(1) is the first field
    /// after the segment id. Absent fields (and field 0) give an empty [`Field`].
    pub fn field(&self, n: usize) -> Field<'m> {
        let absent = Field::new(self.message, Span::EMPTY);
        if self.index == 0 && (n == 1 || n == 2) {
            return self.literal(n);
        }
        let first = if self.index == 0 { 3 } else { 1 };
        let (Some(nth), Some(rest)) = (n.checked_sub(first), self.rest()) else {
            return absent;
        };
        pieces(&self.message.text, rest, self.message.encoding.field)
            .nth(nth)
            .map_or(absent, |span| Field::new(self.message, span))
    }

    /// Shorthand: first repetition, component `component` (1-based), first subcomponent, unescaped;
    /// `None` if empty or absent.
    pub fn get(&self, field: usize, component: usize) -> Option<&'m str> {
        self.field(field).component(component)
    }

    /// Fields 1 to `N`, found in one pass over the segment (each [`Segment::field`] scans from the
    /// start): for a reader that takes many fields of one segment. Absent fields are empty.
    pub fn leading_fields<const N: usize>(&self) -> LeadingFields<'m, N> {
        let mut fields = [Field::new(self.message, Span::EMPTY); N];
        for (slot, field) in fields.iter_mut().zip(self.fields()) {
            *slot = field;
        }
        LeadingFields {
            message: self.message,
            fields,
        }
    }
}

/// The first `N` fields of a segment, numbered as [`Segment::field`] numbers them.
#[derive(Debug, Clone, Copy)]
pub struct LeadingFields<'m, const N: usize> {
    message: &'m Message,
    fields: [Field<'m>; N],
}

impl<'m, const N: usize> LeadingFields<'m, N> {
    /// Field `n` (1-based); empty when absent or past `N`.
    pub fn field(&self, n: usize) -> Field<'m> {
        n.checked_sub(1)
            .and_then(|i| self.fields.get(i))
            .copied()
            .unwrap_or_else(|| Field::new(self.message, Span::EMPTY))
    }

    /// Component `component` of field `field`, as [`Segment::get`].
    pub fn get(&self, field: usize, component: usize) -> Option<&'m str> {
        self.field(field).component(component)
    }
}

/// One field: its repetitions, and its text as received.
#[derive(Debug, Clone, Copy)]
pub struct Field<'m> {
    message: &'m Message,
    span: Span,
    /// MSH-1 and MSH-2: one repetition of one component, the text as it is.
    literal: bool,
}

impl<'m> Field<'m> {
    fn new(message: &'m Message, span: Span) -> Field<'m> {
        Field {
            message,
            span,
            literal: false,
        }
    }

    /// The repetitions; none for an empty field.
    pub fn repetitions(&self) -> impl Iterator<Item = Repetition<'m>> + 'm {
        let (message, literal) = (self.message, self.literal);
        let split = (self.span.len() > 0 && !literal).then_some(self.span);
        let whole = literal.then_some(Repetition {
            message,
            span: self.span,
            literal,
        });
        let split = split.into_iter().flat_map(move |span| {
            pieces(&message.text, span, message.encoding.repetition).map(move |span| Repetition {
                message,
                span,
                literal: false,
            })
        });
        whole.into_iter().chain(split)
    }

    /// Repetition `r` (1-based).
    pub fn repetition(&self, r: usize) -> Option<Repetition<'m>> {
        self.repetitions().nth(r.checked_sub(1)?)
    }

    /// True when no subcomponent has any text (`""`, HL7's explicit null, is not empty).
    pub fn is_empty(&self) -> bool {
        self.repetitions().all(|r| r.is_empty())
    }

    /// True when the field is HL7's explicit null `""` (HL7 v2.6 §2.5.3).
    pub fn is_null(&self) -> bool {
        self.raw() == "\"\""
    }

    /// Component `c` (1-based) of the first repetition: first subcomponent, unescaped; `None` if empty.
    pub fn component(&self, c: usize) -> Option<&'m str> {
        self.repetitions().next()?.component(c)
    }

    /// Subcomponent `s` of component `c` (both 1-based) of the first repetition, unescaped; `None` if empty.
    pub fn subcomponent(&self, c: usize, s: usize) -> Option<&'m str> {
        self.repetitions().next()?.subcomponent(c, s)
    }

    /// The field's text as it appeared (escape sequences kept).
    pub fn raw(&self) -> &'m str {
        self.message.slice(self.span)
    }

    /// The byte offset of the field's first byte in the input (for an absent field, 0).
    pub fn offset(&self) -> usize {
        if self.span == Span::EMPTY {
            0
        } else {
            self.message.input_offset(self.span.start)
        }
    }
}

/// One repetition of a field: components of subcomponents, unescaped when read.
#[derive(Debug, Clone, Copy)]
pub struct Repetition<'m> {
    message: &'m Message,
    span: Span,
    literal: bool,
}

impl<'m> Repetition<'m> {
    fn components(&self) -> impl Iterator<Item = Span> + 'm {
        let separator = if self.literal {
            // Nothing splits a literal: a separator that cannot occur in it.
            b'\r'
        } else {
            self.message.encoding.component
        };
        pieces(&self.message.text, self.span, separator)
    }

    fn subcomponents(&self, component: Span) -> impl Iterator<Item = Span> + 'm {
        let separator = if self.literal {
            b'\r'
        } else {
            self.message.encoding.subcomponent
        };
        pieces(&self.message.text, component, separator)
    }

    /// How many components the repetition has (trailing empty ones included).
    pub fn component_count(&self) -> usize {
        self.components().count()
    }

    /// Component `c` (1-based): its first subcomponent, unescaped; `None` if empty or absent.
    pub fn component(&self, c: usize) -> Option<&'m str> {
        self.subcomponent(c, 1)
    }

    /// Every component's first subcomponent, unescaped, in order (empty ones as `""`): one pass over
    /// the repetition, for values made of many components (a waveform's samples).
    pub fn component_texts(&self) -> impl Iterator<Item = &'m str> + 'm {
        let this = *self;
        self.components().map(move |component| {
            let first = this.subcomponents(component).next().unwrap_or(component);
            if this.literal {
                this.message.slice(first)
            } else {
                this.message.value(first)
            }
        })
    }

    /// Subcomponent `s` of component `c` (both 1-based), unescaped; `None` if empty or absent.
    pub fn subcomponent(&self, c: usize, s: usize) -> Option<&'m str> {
        let component = self.components().nth(c.checked_sub(1)?)?;
        let subcomponent = self.subcomponents(component).nth(s.checked_sub(1)?)?;
        let text = if self.literal {
            self.message.slice(subcomponent)
        } else {
            self.message.value(subcomponent)
        };
        Some(text).filter(|text| !text.is_empty())
    }

    fn is_empty(&self) -> bool {
        self.components().all(|component| {
            self.subcomponents(component).all(|s| {
                if self.literal {
                    s.len() == 0
                } else {
                    self.message.value(s).is_empty()
                }
            })
        })
    }
}
