//! What the header (MSH) says, read through the parts.

use super::parsed::Message;
use super::parts::Segment;

impl Message {
    /// All segments in message order; the first is MSH.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = Segment<'_>> + '_ {
        self.segments.iter().enumerate().map(move |(index, &span)| Segment {
            message: self,
            index,
            span,
        })
    }

    /// The segments with this id, in message order.
    pub fn segments_named<'a>(&'a self, id: &'a str) -> impl Iterator<Item = Segment<'a>> + 'a {
        self.segments().filter(move |s| s.id() == id)
    }

    /// The first segment with this id.
    pub fn first(&self, id: &str) -> Option<Segment<'_>> {
        self.segments().find(|s| s.id() == id)
    }

    /// The MSH segment.
    fn header(&self) -> Option<Segment<'_>> {
        self.segments().next()
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
            .map(|msh| msh.field(21).repetitions().filter_map(|r| r.component(1)).collect())
            .unwrap_or_default()
    }
}
