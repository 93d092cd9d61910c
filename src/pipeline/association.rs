//! The device↔patient association: which patient a device measured during which time. Pumps and
//! monitors often send "Unknown Patient" with no identifier; a reading that names no patient is given
//! the patient associated with its device at its measurement time, or none. Never a guess: when two
//! associations of one device overlap at that time, the reading is refused.
//!
//! The table is a JSON file (`--associations FILE`):
//!
//! ```json
//! [{"device": {"systemId": "00-12-21-18-39-00-00-03"},
//!   "patient": {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-4711"},
//!   "from": "2026-11-21T08:00:00+01:00", "to": "2026-11-21T20:00:00+01:00"}]
//! ```
//!
//! `device` names the device by any of its identifiers: `systemId` (EUI-64), `systemIdText` (an 11073
//! system id that is not an EUI-64, such as the UUID B. Braun pumps send), `address` (Bluetooth) or
//! `instanceId` (`{"value", "namespace"}`: a serial, or the label a hospital gave the device); `to` may
//! be left out for an association still in force. An EUI-64 that names only a maker (its device part
//! all zeros or ones) names no device and is refused. A reading refused for want of a patient names
//! its device in this form.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use thiserror::Error;

use crate::model::{BluetoothAddress, DeviceIdentity, Eui64, HardwareIdError, InstanceId, PatientRef, Reading};

pub use crate::model::SHARED_DEVICE_NAMESPACE;

/// A table that cannot be used.
#[derive(Debug, Error)]
pub enum AssociationFileError {
    #[error("device-patient association file is not valid: {}", crate::privacy::json_error(.0))]
    Json(#[from] serde_json::Error),
    #[error("device-patient association {index}: {rule}")]
    Entry { index: usize, rule: String },
}

/// Why a reading could not be given a patient.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AssociationError {
    #[error(
        "the reading names no patient and {count} device-patient associations cover its device at {time}; \
         the bridge does not choose between them"
    )]
    Ambiguous { count: usize, time: String },
    #[error("the reading's measurements fall into different device-patient associations; send them separately")]
    SplitAcrossAssociations,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    device: DeviceJson,
    patient: PatientJson,
    from: String,
    to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeviceJson {
    system_id: Option<String>,
    system_id_text: Option<String>,
    address: Option<String>,
    instance_id: Option<InstanceJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceJson {
    value: String,
    namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatientJson {
    system: String,
    value: String,
}

/// One association: this device measured this patient from `from` until `to` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub system_id: Option<Eui64>,
    /// Compared with the device's system id value (its namespace is the sender's).
    pub system_id_text: Option<String>,
    pub bluetooth_address: Option<BluetoothAddress>,
    pub instance_id: Option<InstanceId>,
    pub patient: PatientRef,
    pub from: DateTime<FixedOffset>,
    pub to: Option<DateTime<FixedOffset>>,
}

impl Association {
    /// True when the association names `device` by any identifier they share.
    fn names(&self, device: &DeviceIdentity) -> bool {
        let shared = device
            .instance_id
            .as_ref()
            .and_then(|i| i.namespace.as_deref())
            .is_some_and(|ns| ns.starts_with(SHARED_DEVICE_NAMESPACE));
        if shared {
            return false;
        }
        (self.system_id.is_some() && self.system_id == device.system_id)
            || (self.system_id_text.is_some()
                && self.system_id_text.as_deref() == device.system_id_text.as_ref().map(|i| i.value.as_str()))
            || (self.bluetooth_address.is_some() && self.bluetooth_address == device.bluetooth_address)
            || (self.instance_id.is_some() && self.instance_id == device.instance_id)
    }

    fn covers(&self, time: DateTime<FixedOffset>) -> bool {
        self.from <= time && self.to.is_none_or(|to| time < to)
    }
}

/// The device as an association's `device` must name it (JSON), by the identifier the bridge files
/// it under: its EUI-64, else its Bluetooth address, else its system id, else its instance id.
pub fn device_json(device: &DeviceIdentity) -> serde_json::Value {
    if let Some(eui) = device.system_id {
        serde_json::json!({ "systemId": eui.dashed() })
    } else if let Some(address) = device.bluetooth_address {
        serde_json::json!({ "address": address.dashed() })
    } else if let Some(text) = &device.system_id_text {
        serde_json::json!({ "systemIdText": text.value })
    } else if let Some(instance) = &device.instance_id {
        serde_json::json!({ "instanceId": { "value": instance.value, "namespace": instance.namespace } })
    } else {
        serde_json::json!({})
    }
}

/// All associations the bridge knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssociationTable {
    entries: Vec<Association>,
}

impl AssociationTable {
    /// Reads the JSON table; every entry is checked (identifiers, times, `from` before `to`).
    pub fn from_json(bytes: &[u8]) -> Result<Self, AssociationFileError> {
        let raw: Vec<EntryJson> = serde_json::from_slice(bytes)?;
        let entries = raw
            .into_iter()
            .enumerate()
            .map(|(index, e)| {
                let fail = |rule: String| AssociationFileError::Entry { index, rule };
                let time = |field: &str, text: &str| {
                    DateTime::parse_from_rfc3339(text).map_err(|err| {
                        fail(format!(
                            "`{field}` '{text}' is not an RFC 3339 date-time with offset ({err})"
                        ))
                    })
                };
                let association = Association {
                    system_id: e
                        .device
                        .system_id
                        .as_deref()
                        .map(str::parse)
                        .transpose()
                        .map_err(|err: HardwareIdError| fail(err.to_string()))?,
                    system_id_text: e
                        .device
                        .system_id_text
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty()),
                    bluetooth_address: e
                        .device
                        .address
                        .as_deref()
                        .map(str::parse)
                        .transpose()
                        .map_err(|err: HardwareIdError| fail(err.to_string()))?,
                    instance_id: e.device.instance_id.map(|i| InstanceId {
                        value: i.value,
                        namespace: i.namespace,
                    }),
                    patient: PatientRef {
                        system: e.patient.system,
                        value: e.patient.value,
                    },
                    from: time("from", &e.from)?,
                    to: e.to.as_deref().map(|t| time("to", t)).transpose()?,
                };
                if association.system_id.is_none()
                    && association.system_id_text.is_none()
                    && association.bluetooth_address.is_none()
                    && association.instance_id.is_none()
                {
                    return Err(fail(
                        "`device` needs `systemId`, `systemIdText`, `address` or `instanceId`".into(),
                    ));
                }
                if association.system_id.is_some_and(|eui| eui.is_placeholder()) {
                    return Err(fail(
                        "`systemId` names only a maker (its device part is all zeros or ones), so it would cover \
                         every device of that maker; name the device by `systemIdText` or `instanceId`"
                            .into(),
                    ));
                }
                if association.to.is_some_and(|to| to <= association.from) {
                    return Err(fail("`to` must be after `from`".into()));
                }
                Ok(association)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AssociationTable { entries })
    }

    /// The first association of `self` that names a device of `other`'s associations during an
    /// overlapping time: adding `other` would make readings of that time ambiguous.
    pub fn overlap(&self, other: &AssociationTable) -> Option<&Association> {
        self.entries.iter().find(|mine| {
            other.entries.iter().any(|theirs| {
                let same_device = (mine.system_id.is_some() && mine.system_id == theirs.system_id)
                    || (mine.system_id_text.is_some() && mine.system_id_text == theirs.system_id_text)
                    || (mine.bluetooth_address.is_some() && mine.bluetooth_address == theirs.bluetooth_address)
                    || (mine.instance_id.is_some() && mine.instance_id == theirs.instance_id);
                let starts_before_other_ends = theirs.to.is_none_or(|to| mine.from < to);
                let other_starts_before_end = mine.to.is_none_or(|to| theirs.from < to);
                same_device && starts_before_other_ends && other_starts_before_end
            })
        })
    }

    /// Adds the associations of `other`.
    pub fn extend(&mut self, other: AssociationTable) {
        self.entries.extend(other.entries);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The patient associated with `device` at `time`: `Ok(None)` when no association covers it.
    pub fn patient_for(
        &self,
        device: &DeviceIdentity,
        time: DateTime<FixedOffset>,
    ) -> Result<Option<&PatientRef>, AssociationError> {
        let matching: Vec<&Association> = self
            .entries
            .iter()
            .filter(|a| a.names(device) && a.covers(time))
            .collect();
        match matching.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(&one.patient)),
            many => Err(AssociationError::Ambiguous {
                count: many.len(),
                time: time.to_rfc3339(),
            }),
        }
    }

    /// Gives a reading that names no patient the patient of its device's association at the times of
    /// its measurements. A reading that names a patient is left as it is: the device's own statement
    /// wins over the table.
    pub fn associate(&self, reading: &mut Reading) -> Result<(), AssociationError> {
        if reading.patient.is_some() {
            return Ok(());
        }
        let mut found: Option<PatientRef> = None;
        for measurement in &reading.measurements {
            let Some(time) = measurement.time.anchor().instant() else {
                continue;
            };
            let patient = self.patient_for(&reading.device, time)?;
            match (&found, patient) {
                (_, None) => return Ok(()),
                (None, Some(p)) => found = Some(p.clone()),
                (Some(f), Some(p)) if f != p => return Err(AssociationError::SplitAcrossAssociations),
                _ => {}
            }
        }
        reading.patient = found;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_device_is_named_by_any_of_its_identifiers_but_never_by_a_placeholder() {
        let table = AssociationTable::from_json(
            br#"[{"device": {"systemIdText": "743d27f8-c72b-516b-8622-e7f2df7b6ec5"}, "patient": {"system": "s", "value": "A"}, "from": "2026-01-01T00:00:00Z"},
                 {"device": {"instanceId": {"value": "I51560", "namespace": "PAT_DEVICE_BBRAUN"}}, "patient": {"system": "s", "value": "B"}, "from": "2026-01-01T00:00:00Z"}]"#,
        )
        .unwrap();
        let at = DateTime::parse_from_rfc3339("2026-02-19T07:58:31Z").unwrap();
        let by_sys_id = DeviceIdentity {
            system_id_text: Some(InstanceId {
                value: "743d27f8-c72b-516b-8622-e7f2df7b6ec5".into(),
                namespace: None,
            }),
            instance_id: Some(InstanceId {
                value: "I51559".into(),
                namespace: Some("PAT_DEVICE_BBRAUN".into()),
            }),
            ..DeviceIdentity::default()
        };
        assert_eq!(
            table.patient_for(&by_sys_id, at).unwrap().map(|p| p.value.as_str()),
            Some("A")
        );
        let by_label = DeviceIdentity {
            instance_id: Some(InstanceId {
                value: "I51560".into(),
                namespace: Some("PAT_DEVICE_BBRAUN".into()),
            }),
            ..DeviceIdentity::default()
        };
        assert_eq!(
            table.patient_for(&by_label, at).unwrap().map(|p| p.value.as_str()),
            Some("B")
        );
        assert_eq!(
            device_json(&by_sys_id).to_string(),
            r#"{"systemIdText":"743d27f8-c72b-516b-8622-e7f2df7b6ec5"}"#
        );
        let placeholder = AssociationTable::from_json(
            br#"[{"device": {"systemId": "00-12-21-00-00-00-00-00"}, "patient": {"system": "s", "value": "A"}, "from": "2026-01-01T00:00:00Z"}]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(placeholder.contains("names only a maker"), "{placeholder}");
    }

    #[test]
    fn no_association_applies_to_a_device_that_stands_for_many() {
        let table = AssociationTable::from_json(
            br#"[{"device": {"instanceId": {"value": "ihealth-weight", "namespace": "urn:fhirgate:no-device-id:ihealth-weight"}},
                  "patient": {"system": "urn:x", "value": "P1"}, "from": "2026-01-01T00:00:00Z"}]"#,
        )
        .unwrap();
        let shared = DeviceIdentity {
            instance_id: Some(InstanceId {
                value: "ihealth-weight".into(),
                namespace: Some(format!("{SHARED_DEVICE_NAMESPACE}ihealth-weight")),
            }),
            ..DeviceIdentity::default()
        };
        let time = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap();
        assert_eq!(table.patient_for(&shared, time), Ok(None));
    }

    use super::*;

    fn table(json: &str) -> AssociationTable {
        AssociationTable::from_json(json.as_bytes()).unwrap()
    }

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    fn pump() -> DeviceIdentity {
        DeviceIdentity {
            system_id: Some("0012211839000003".parse().unwrap()),
            ..Default::default()
        }
    }

    const TWO_SHIFTS: &str = r#"[
        {"device": {"systemId": "00-12-21-18-39-00-00-03"}, "patient": {"system": "urn:oid:1.2", "value": "A"},
         "from": "2026-11-21T08:00:00+01:00", "to": "2026-11-21T14:00:00+01:00"},
        {"device": {"systemId": "0012211839000003"}, "patient": {"system": "urn:oid:1.2", "value": "B"},
         "from": "2026-11-21T14:00:00+01:00"}]"#;

    #[test]
    fn the_association_in_force_at_the_time_wins() {
        let t = table(TWO_SHIFTS);
        assert_eq!(
            t.patient_for(&pump(), at("2026-11-21T09:00:00+01:00"))
                .unwrap()
                .unwrap()
                .value,
            "A"
        );
        // `to` is exclusive: at 14:00 the second association applies.
        assert_eq!(
            t.patient_for(&pump(), at("2026-11-21T14:00:00+01:00"))
                .unwrap()
                .unwrap()
                .value,
            "B"
        );
        assert_eq!(
            t.patient_for(&pump(), at("2030-01-01T00:00:00Z"))
                .unwrap()
                .unwrap()
                .value,
            "B"
        );
        assert_eq!(t.patient_for(&pump(), at("2026-11-21T07:59:59+01:00")).unwrap(), None);
        let other = DeviceIdentity {
            system_id: Some("0012211839000004".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(t.patient_for(&other, at("2026-11-21T09:00:00+01:00")).unwrap(), None);
    }

    #[test]
    fn overlapping_associations_are_never_resolved_by_guessing() {
        let t = table(
            r#"[{"device": {"systemId": "0012211839000003"}, "patient": {"system": "s", "value": "A"}, "from": "2026-11-21T08:00:00Z"},
                {"device": {"systemId": "0012211839000003"}, "patient": {"system": "s", "value": "B"}, "from": "2026-11-21T09:00:00Z"}]"#,
        );
        let err = t.patient_for(&pump(), at("2026-11-21T10:00:00Z")).unwrap_err();
        assert!(matches!(err, AssociationError::Ambiguous { count: 2, .. }), "{err}");
    }

    #[test]
    fn devices_are_matched_by_instance_id_and_bluetooth_address_too() {
        let t = table(
            r#"[{"device": {"instanceId": {"value": "F1519EFX", "namespace": "SHENZHEN_DEVICE"}}, "patient": {"system": "s", "value": "A"}, "from": "2026-01-01T00:00:00Z"},
                {"device": {"address": "C4:7C:8D:6A:1F:20"}, "patient": {"system": "s", "value": "B"}, "from": "2026-01-01T00:00:00Z"}]"#,
        );
        let monitor = DeviceIdentity {
            instance_id: Some(InstanceId {
                value: "F1519EFX".into(),
                namespace: Some("SHENZHEN_DEVICE".into()),
            }),
            ..Default::default()
        };
        assert_eq!(
            t.patient_for(&monitor, at("2026-06-01T00:00:00Z"))
                .unwrap()
                .unwrap()
                .value,
            "A"
        );
        let scale = DeviceIdentity {
            bluetooth_address: Some("c4-7c-8d-6a-1f-20".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(
            t.patient_for(&scale, at("2026-06-01T00:00:00Z"))
                .unwrap()
                .unwrap()
                .value,
            "B"
        );
    }

    #[test]
    fn bad_files_name_the_entry_and_rule() {
        for (json, expected) in [
            (
                r#"[{"device": {}, "patient": {"system": "s", "value": "A"}, "from": "2026-01-01T00:00:00Z"}]"#,
                "needs `systemId`",
            ),
            (
                r#"[{"device": {"systemId": "12"}, "patient": {"system": "s", "value": "A"}, "from": "2026-01-01T00:00:00Z"}]"#,
                "EUI-64",
            ),
            (
                r#"[{"device": {"systemId": "0012211839000003"}, "patient": {"system": "s", "value": "A"}, "from": "yesterday"}]"#,
                "`from`",
            ),
            (
                r#"[{"device": {"systemId": "0012211839000003"}, "patient": {"system": "s", "value": "A"}, "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}]"#,
                "after `from`",
            ),
            (
                r#"[{"device": {"systemId": "0012211839000003"}, "patient": {"system": "s", "value": "A"}, "from": "2026-01-01T00:00:00Z", "until": "x"}]"#,
                "unknown field",
            ),
        ] {
            let err = AssociationTable::from_json(json.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
