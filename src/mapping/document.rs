//! A device's report (an implant's PDF) → FHIR R4 DocumentReference: the content as a base64
//! attachment of its MIME type, the type as the sender coded it, the patient as subject and the
//! device as author; a conditional create on its identifier like every Observation.

use fhirbolt::model::r4::resources::{DocumentReference, DocumentReferenceContent};
use fhirbolt::model::r4::types::{Attachment, Reference};

use super::fhir_types::{coding, concept, identifier, reference};
use super::observation::date_time;
use crate::model::Document;

/// The identifier system of documents' dedup identifiers.
pub const DOCUMENT_IDENTIFIER_SYSTEM: &str = "urn:fhirgate:device-document-id";

/// The DocumentReference of `document`.
pub fn document_reference(
    document: &Document,
    dedup_identifier: &str,
    subject: Option<&Reference>,
    device_url: &str,
) -> DocumentReference {
    let when = date_time(document.time.anchor());
    DocumentReference {
        identifier: vec![identifier(DOCUMENT_IDENTIFIER_SYSTEM, dedup_identifier)],
        status: "current".into(),
        r#type: document.kind.as_ref().map(|kind| {
            Box::new(concept(
                vec![coding(&kind.system, &kind.code, kind.display.as_deref())],
                kind.display.as_deref(),
            ))
        }),
        subject: subject.cloned().map(Box::new),
        date: Some(when.as_str().into()),
        author: vec![Reference {
            r#type: Some("Device".into()),
            ..reference(device_url)
        }],
        content: vec![DocumentReferenceContent {
            attachment: Box::new(Attachment {
                content_type: Some(document.content_type.as_str().into()),
                data: Some(document.base64.as_str().into()),
                title: document.title.as_deref().map(Into::into),
                creation: Some(when.as_str().into()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}
