//! Small constructors for the fhirbolt data types the mapper builds over and over.

use fhirbolt::model::r4::types::{CodeableConcept, Coding, Identifier, Quantity, Reference};

use super::terminology::{MDC_SYSTEM, UCUM_SYSTEM};
use crate::model::MdcCode;

pub fn coding(system: &str, code: &str, display: Option<&str>) -> Coding {
    Coding {
        system: Some(system.into()),
        code: Some(code.into()),
        display: display.map(Into::into),
        ..Default::default()
    }
}

pub fn concept(codings: Vec<Coding>, text: Option<&str>) -> CodeableConcept {
    CodeableConcept {
        coding: codings,
        text: text.map(Into::into),
        ..Default::default()
    }
}

/// An MDC coding; the display is the reference id when the code table knows the code.
pub fn mdc_coding(code: MdcCode) -> Coding {
    let display = crate::codes::lookup(code).map(|entry| entry.reference_id);
    coding(MDC_SYSTEM, &code.to_string(), display)
}

/// A quantity with its UCUM unit; a value sent without a unit gets none (no unit is invented).
pub fn ucum_quantity(value: String, unit: &str) -> Quantity {
    if unit.is_empty() {
        return Quantity {
            value: Some(value.into()),
            ..Default::default()
        };
    }
    Quantity {
        value: Some(value.into()),
        unit: Some(unit.into()),
        system: Some(UCUM_SYSTEM.into()),
        code: Some(unit.into()),
        ..Default::default()
    }
}

pub fn reference(url: &str) -> Reference {
    Reference {
        reference: Some(url.into()),
        ..Default::default()
    }
}

pub fn identifier(system: &str, value: &str) -> Identifier {
    Identifier {
        system: Some(system.into()),
        value: Some(value.into()),
        ..Default::default()
    }
}
