//! The parts of a parsed message: segments, fields, repetitions, components and subcomponents.

/// One segment: its id, where it is, and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub(super) id: String,
    pub(super) position: usize,
    pub(super) offset: usize,
    /// `fields[0]` is field 1.
    pub(super) fields: Vec<Field>,
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
    pub(super) raw: String,
    pub(super) offset: usize,
    /// Empty when the field is empty.
    pub(super) repetitions: Vec<Repetition>,
}

impl Field {
    /// A field that is not split or unescaped (MSH-1, MSH-2).
    pub(super) fn literal(text: String, offset: usize) -> Field {
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
    pub(super) components: Vec<Vec<String>>,
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
