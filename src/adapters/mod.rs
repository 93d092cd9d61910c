//! Adapters: one per device family. Bytes, JSON, XML or HL7 in; the canonical model out. No FHIR.
//!
//! [`AdapterKind`] names them wherever a payload's kind is chosen: the URL of `POST /ingest/{kind}`,
//! an MQTT subscription's `adapter`, `fhirgate map --adapter`, and the label a stored payload keeps.

pub mod ble;
pub mod declarative;
pub mod hl7v2;
pub mod medtech;

/// The adapters a payload can be read by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    /// Bluetooth GATT characteristics in the generic hub envelope (JSON).
    Ble,
    /// HL7 v2 IHE PCD device observation reports from monitors and pumps: PCD-01 (ORU^R01), PCD-04
    /// alerts (ORU^R40), PCD-10 infusion events (ORU^R42).
    Hl7v2,
    /// Vendor JSON or XML (WiFi devices, vendor clouds) through declarative mapping files. `json` is
    /// its older name, still accepted everywhere.
    #[serde(alias = "json")]
    #[value(alias = "json")]
    Declarative,
    /// Device messages through an Azure MedTech device mapping + FHIR destination mapping pair.
    Medtech,
}

impl AdapterKind {
    /// Every adapter, in the order help texts list them.
    pub const ALL: [AdapterKind; 4] = [
        AdapterKind::Ble,
        AdapterKind::Hl7v2,
        AdapterKind::Declarative,
        AdapterKind::Medtech,
    ];

    /// The adapter's name in URLs, configuration and stored payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterKind::Ble => "ble",
            AdapterKind::Hl7v2 => "hl7v2",
            AdapterKind::Declarative => "declarative",
            AdapterKind::Medtech => "medtech",
        }
    }

    /// The adapter of this name (`ble`, `hl7v2`, `declarative` or its older name `json`, `medtech`).
    pub fn from_name(name: &str) -> Option<AdapterKind> {
        if name == "json" {
            return Some(AdapterKind::Declarative);
        }
        Self::ALL.into_iter().find(|adapter| adapter.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_old_name_of_declarative_mappings_is_accepted() {
        for kind in AdapterKind::ALL {
            assert_eq!(AdapterKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(AdapterKind::from_name("json"), Some(AdapterKind::Declarative));
        assert_eq!(AdapterKind::from_name("vendor"), None);
        let kind: AdapterKind = serde_json::from_str("\"json\"").unwrap();
        assert_eq!(kind, AdapterKind::Declarative);
    }
}
