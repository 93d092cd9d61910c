//! Placeholder patients: ids a device or gateway sends when it does not know the patient
//! (`Unknown Patient`, `UNKNOWN`, `0`, `99999`). A placeholder is no patient: filing readings under
//! it would put every pump's data into one fictitious chart. The reading takes its patient from an
//! association, or waits in the dead-letter store with the reason.

use crate::model::Reading;

/// Which patient ids name nobody (`mapping.placeholder_patients`, `placeholder_patient_digits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientRules {
    /// Lower-case, spaces collapsed.
    placeholders: Vec<String>,
    /// Ids of only zeros or only nines are placeholders.
    digits: bool,
}

impl Default for PatientRules {
    fn default() -> Self {
        PatientRules::new(super::config::DEFAULT_PLACEHOLDER_PATIENTS, true)
    }
}

fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl PatientRules {
    pub fn new<S: AsRef<str>>(placeholders: &[S], digits: bool) -> PatientRules {
        PatientRules {
            placeholders: placeholders.iter().map(|p| normalized(p.as_ref())).collect(),
            digits,
        }
    }

    /// True when `id` names nobody.
    pub fn is_placeholder(&self, id: &str) -> bool {
        let id = normalized(id);
        if id.is_empty() || self.placeholders.contains(&id) {
            return true;
        }
        self.digits && (id.bytes().all(|b| b == b'0') || id.bytes().all(|b| b == b'9'))
    }

    /// Takes a placeholder patient off the reading, saying why (never the id itself).
    pub fn apply(&self, reading: &mut Reading) {
        if reading.patient.as_ref().is_some_and(|p| self.is_placeholder(&p.value)) {
            reading.patient = None;
            reading.patient_withheld = Some(
                "the payload's patient id is a placeholder (mapping.placeholder_patients), which names nobody".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_real_devices_send_are_placeholders_and_real_ids_are_not() {
        let rules = PatientRules::default();
        for placeholder in [
            "Unknown Patient",
            "UNKNOWN",
            "unknown  patient",
            " NOPAT ",
            "0",
            "000000",
            "99999",
            "",
        ] {
            assert!(rules.is_placeholder(placeholder), "{placeholder:?}");
        }
        for real in ["MRN-4711", "HO2009001", "12345", "0600", "90099", "Unknownson"] {
            assert!(!rules.is_placeholder(real), "{real:?}");
        }
        let without_digits = PatientRules::new(&["unknown"], false);
        assert!(!without_digits.is_placeholder("99999"));
        assert!(without_digits.is_placeholder("Unknown"));
    }
}
