//! Whose measurement it is.

/// A patient named by a business identifier (an MRN in the hospital's identifier system). The bridge
/// never invents patients: it references them, and delivery resolves the reference at the EHR.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PatientRef {
    pub system: String,
    pub value: String,
}

/// Patient identifiers are protected health information: `Debug` output (which ends up in logs and
/// error chains) shows only the identifier system.
impl std::fmt::Debug for PatientRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatientRef")
            .field("system", &self.system)
            .field("value", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_identifier() {
        let patient = PatientRef {
            system: "urn:oid:1.2.3".into(),
            value: "MRN-4711".into(),
        };
        let shown = format!("{patient:?}");
        assert!(!shown.contains("MRN-4711"), "{shown}");
        assert!(shown.contains("urn:oid:1.2.3"));
    }
}
