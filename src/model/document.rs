//! A report a device sends whole (an implant's PDF episode report): kept exactly as sent and
//! delivered as a document, never as a text value.

use super::time::EffectiveTime;

/// A coding as the sender gave it (LOINC `18750-0` "Cardiac Electrophysiology Report").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentKind {
    pub system: String,
    pub code: String,
    pub display: Option<String>,
}

/// One document.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    pub kind: Option<DocumentKind>,
    /// The MIME type (`application/pdf`).
    pub content_type: String,
    /// The content, base64 as sent (checked to decode).
    pub base64: String,
    /// The sender's title (`Behandelte VTVF Episode Nr. 7992_1`).
    pub title: Option<String>,
    pub time: EffectiveTime,
    /// Which instance of a repeated group it belongs to (an episode's report).
    pub instance: Option<u32>,
    /// Where in the payload it was read, for reasons.
    pub source: Option<String>,
}

/// Names the document without its content or title (they are the patient's).
impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("kind", &self.kind)
            .field("content_type", &self.content_type)
            .field("bytes_base64", &self.base64.len())
            .field("instance", &self.instance)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}
