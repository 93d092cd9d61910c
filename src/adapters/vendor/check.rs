//! `fhirgate mappings check`: what a mapping file says, checked against the code table. Codes must
//! exist; a unit must fit the code (a heart rate in mm[Hg] is a mistake); a LOINC stated for a vital
//! sign must be the one that means it (MedTech's own sample codes diastolic pressure as 8867-4, the heart
//! rate).

use crate::codes;
use crate::model::MdcCode;

/// One finding: `error` stops `check` with a non-zero exit, a warning does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub error: bool,
    pub message: String,
}

/// The UCUM units that fit a code: its table unit and the conversions the mapper or the vital-signs
/// profile accept for it.
pub fn units_for(code: MdcCode) -> Vec<&'static str> {
    let Some(entry) = codes::lookup(code) else {
        return Vec::new();
    };
    match entry.ucum {
        Some("kg") => vec!["kg", "g", "[lb_av]"],
        Some("cm") | Some("m") => vec!["cm", "m", "[in_i]"],
        Some("mm[Hg]") => vec!["mm[Hg]", "kPa"],
        Some("Cel") => vec!["Cel", "[degF]"],
        Some("/min") => vec!["/min", "{beat}/min", "{beats}/min"],
        Some("mg/dL") | Some("mmol/L") => vec!["mg/dL", "mmol/L"],
        Some(unit) => vec![unit],
        None => Vec::new(),
    }
}

/// Checks that `unit` fits `code`; `None` when it does (or the table does not say).
pub fn unit_mismatch(code: MdcCode, unit: &str) -> Option<String> {
    let allowed = units_for(code);
    if allowed.is_empty() || allowed.contains(&unit) {
        return None;
    }
    let name = codes::lookup(code).map(|e| e.reference_id).unwrap_or("?");
    Some(format!(
        "unit {unit} does not fit MDC {} {name} (expected one of {})",
        code.0,
        allowed.join(", ")
    ))
}

/// What the code table knows about a LOINC code: the MDC codes it belongs to.
pub fn mdc_for_loinc(loinc: &str) -> Vec<&'static codes::CodeEntry> {
    codes::TABLE
        .iter()
        .filter(|entry| entry.loinc == Some(loinc) || entry.extra_loinc.contains(&loinc))
        .collect()
}
