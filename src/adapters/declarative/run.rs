//! Runs a compiled mapping over a payload: selects the records, and from each takes the device,
//! patient, time and values, converting units as the mapping says. Every step is written down for
//! `--explain`, and every measurement left out is written down with the reason.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde_json::Value as Json;

use super::compile::{label, Compiled, CompiledGatt, CompiledMeasurement, CompiledTerm, StatisticRule};
use super::error::DeclarativeError;
use super::spec::{Field, GattEncoding, Source, ZoneUnit};
use super::time::{self, TimeError};
use super::units;
use crate::adapters::ble::{Characteristic, Decoded, TimeContext};
use crate::model::{
    BluetoothAddress, Circumstances, Component, Decimal, DeviceIdentity, EffectiveTime, GatewayIdentity, InstanceId,
    MdcCode, Measurement, OffsetSource, Origin, PatientRef, Quantity, Reading, Sample, SampleRate, SampledSeries,
    Statistic, Term, TermCode, Value,
};

impl CompiledTerm {
    /// The record's term, if it says one; the code where the mapping knows the word.
    fn of(&self, what: &str, at: &Context, explanation: &mut Explanation) -> Option<Term> {
        let text = text_of(&self.field, at)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())?;
        if self.in_code.contains(&text) {
            explanation.steps.push(format!(
                "record {}: {what}: `{}` = {text}, which the code already says",
                at.index,
                self.field.text()
            ));
            return None;
        }
        let code = self.terms.get(&text).map(|(code, display)| TermCode {
            system: self.system.clone(),
            code: code.clone(),
            display: display.clone(),
        });
        explanation.steps.push(format!(
            "record {}: {what}: `{}` = {text} → {}",
            at.index,
            self.field.text(),
            code.as_ref()
                .map(|c| format!("{} {}", c.system, c.code))
                .unwrap_or_else(|| "text only (not in `terms`)".into())
        ));
        Some(Term { text, code })
    }
}
/// What a run found, for `--explain` and for operators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    pub mapping: String,
    pub records: usize,
    /// One line per step: the path, what it found, the conversion applied.
    pub steps: Vec<String>,
    pub dropped: Vec<Dropped>,
    /// Vendor codes no measurement of the mapping takes, with how often they occurred.
    pub unknown_codes: BTreeMap<String, usize>,
}

impl Explanation {
    /// Adds what another mapping did with the same payload; with `named`, each of its steps says
    /// which mapping took it.
    pub fn merge(&mut self, other: Explanation, named: bool) {
        self.records += other.records;
        let prefix = if named {
            format!("{}: ", other.mapping)
        } else {
            String::new()
        };
        self.steps
            .extend(other.steps.into_iter().map(|step| format!("{prefix}{step}")));
        self.dropped.extend(other.dropped.into_iter().map(|mut dropped| {
            dropped.measurement = format!("{prefix}{}", dropped.measurement);
            dropped
        }));
        for (code, count) in other.unknown_codes {
            *self.unknown_codes.entry(code).or_default() += count;
        }
    }
}

/// A measurement left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub record: usize,
    pub measurement: String,
    pub reason: String,
}

/// Two vendor values the same: as numbers when both are (`1.0` and `1`, since payload numbers keep the
/// digits they were written with), else as text.
fn same_value(said: &str, wanted: &str) -> bool {
    match (decimal_of(said), decimal_of(wanted)) {
        (Some(a), Some(b)) => a.numerically_equals(b),
        _ => said.trim() == wanted.trim(),
    }
}

impl Compiled {
    /// True when the mapping is for this payload.
    pub fn matches(&self, payload: &Json) -> bool {
        !select(&self.match_path, &Context::root(&self.file.name, payload)).is_empty()
    }

    /// The records of `payload` this mapping takes (its `records`, those its `when` holds for), each
    /// with its location (a JSON Pointer) and the objects that hold it, nearest first.
    pub(super) fn records_of<'a>(&self, payload: &'a Json) -> (usize, Vec<Located<'a>>) {
        let root = Context::root(&self.file.name, payload);
        let located = match &self.records.source {
            Source::Payload(path) | Source::Record(path) => path
                .query_located(payload)
                .iter()
                .map(|node| located(payload, node.location(), node.node()))
                .collect(),
            // `compile` allows only paths; a literal finds nothing.
            _ => Vec::new(),
        };
        let found: Vec<Located> = located;
        let all = found.len();
        let taken = found
            .into_iter()
            .enumerate()
            .map(|(position, record)| Located { position, ..record })
            .filter(|record| {
                let at = Context {
                    record: record.node,
                    ancestors: &record.ancestors,
                    ..root
                };
                holds(&self.when, &at)
            })
            .collect();
        (all, taken)
    }

    /// The readings of `payload` (received at `received_at`; `default_offset` for local times with no
    /// zone rule).
    pub fn extract(
        &self,
        payload: &Json,
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
    ) -> Result<(Vec<Reading>, Explanation), DeclarativeError> {
        let mut explanation = Explanation {
            mapping: self.file.name.clone(),
            ..Explanation::default()
        };
        let readings = self.extract_into(payload, received_at, default_offset, &mut explanation)?;
        Ok((readings, explanation))
    }

    /// As [`Compiled::extract`], writing what it did into `explanation` also when it refuses the
    /// payload (that is when `--explain` is needed).
    pub fn extract_into(
        &self,
        payload: &Json,
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
        explanation: &mut Explanation,
    ) -> Result<Vec<Reading>, DeclarativeError> {
        let (all, records) = self.records_of(payload);
        explanation.records = records.len();
        if self.when.is_empty() {
            explanation
                .steps
                .push(format!("records `{}`: {all} found", self.records.text()));
        } else {
            let when: Vec<String> = self
                .when
                .iter()
                .map(|(field, values)| format!("`{}` = {}", field.text(), values.join(" or ")))
                .collect();
            explanation.steps.push(format!(
                "records `{}`: {all} found, {} of them this mapping's (when {})",
                self.records.text(),
                records.len(),
                when.join(", ")
            ));
        }
        if let Some(gatt) = &self.gatt {
            return self.gatt_readings(gatt, payload, &records, received_at, default_offset, explanation);
        }
        let mut readings = Vec::new();
        for record in records {
            let context = Context {
                mapping: &self.file.name,
                payload,
                record: record.node,
                ancestors: &record.ancestors,
                index: record.position,
            };
            if let Some(reading) = self.reading(&context, received_at, default_offset, explanation)? {
                readings.push(reading);
            }
        }
        Ok(readings)
    }

    fn reading(
        &self,
        at: &Context,
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
        explanation: &mut Explanation,
    ) -> Result<Option<Reading>, DeclarativeError> {
        // The time first: a record without a usable time is refused for that, whatever else it has.
        let Some(compiled_time) = &self.time else {
            return Err(at.error("time", "the mapping gives no `[time]`".into()));
        };
        let time = self.time(compiled_time, at, received_at, default_offset, explanation)?;
        for (field, check) in &self.checks {
            let found = select(field, at);
            if check.required && found.is_empty() {
                return Err(at.error(field.text(), "is required but missing".into()));
            }
            if check.forbidden && !found.is_empty() {
                let why = check
                    .message
                    .clone()
                    .unwrap_or_else(|| "is not taken by this mapping".into());
                return Err(at.error(field.text(), format!("is present: {why}")));
            }
            if let Some(value) = found.first() {
                let text = scalar_text(value);
                if !check.one_of.is_empty() && !check.one_of.iter().any(|allowed| Some(allowed) == text.as_ref()) {
                    let why = check.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                    return Err(at.error(
                        field.text(),
                        format!("is not one of the allowed values ({}){why}", check.one_of.join(", ")),
                    ));
                }
            }
        }
        if let Some((field, spec)) = &self.unknown_codes {
            for code in select(field, at).iter().filter_map(|v| scalar_text(v)) {
                if !spec.known.contains(&code) {
                    *explanation.unknown_codes.entry(code).or_default() += 1;
                }
            }
        }
        let mut measurements = Vec::new();
        // Which produced measurement each spec became, by name, for `qualifies`.
        let mut produced: Vec<(String, usize)> = Vec::new();
        let mut qualifiers: Vec<(usize, String)> = Vec::new();
        for measurement in &self.measurements {
            if !holds(&measurement.when, at) {
                continue;
            }
            if let Some((members, per, interval)) = &measurement.series {
                let found = select(members, at);
                // A member's parent fields are the record's, then the record's own parents'.
                let member_ancestors: Vec<&Json> = std::iter::once(at.record)
                    .filter(|r| r.is_object())
                    .chain(at.ancestors.iter().copied())
                    .collect();
                let items: Vec<(String, i64, &Json)> = match found.first() {
                    Some(Json::Object(object)) => object
                        .iter()
                        .map(|(name, value)| (name.clone(), name.trim().parse::<i64>().unwrap_or(i64::MIN), value))
                        .collect(),
                    Some(Json::Array(values)) => match interval {
                        Some(interval) => values
                            .iter()
                            .enumerate()
                            .map(|(i, value)| (i.to_string(), i as i64 * i64::from(*interval), value))
                            .collect(),
                        None => {
                            return Err(at.error(
                                members.text(),
                                "is an array: the series needs `interval` to time its items".into(),
                            ))
                        }
                    },
                    Some(_) => return Err(at.error(members.text(), "is neither an object nor an array".into())),
                    None => Vec::new(),
                };
                for (name, offset, value) in items {
                    let shifted = offset
                        .checked_mul(*per)
                        .filter(|_| offset != i64::MIN)
                        .and_then(chrono::TimeDelta::try_seconds)
                        .map(|delta| time.shifted(delta));
                    let Some(at_time) = shifted else {
                        explanation.dropped.push(Dropped {
                            record: at.index,
                            measurement: label(&measurement.spec),
                            reason: format!(
                                "`{}`: a member whose name is not a whole number of the series' unit",
                                members.text()
                            ),
                        });
                        continue;
                    };
                    let member = Context {
                        record: value,
                        ancestors: &member_ancestors,
                        ..*at
                    };
                    match measurement_of(measurement, &member, at_time, explanation)? {
                        Taken::Yes(m) => {
                            explanation.steps.push(format!(
                                "record {}: {}: member `{name}` → {}",
                                at.index,
                                label(&measurement.spec),
                                at_time.anchor().instant().map(|i| i.to_rfc3339()).unwrap_or_default()
                            ));
                            measurements.push(m.with_source(format!(
                                "record {} `{}`[{name}]",
                                at.index,
                                members.text()
                            )))
                        }
                        Taken::NotPresent => {}
                        Taken::Dropped(reason) => explanation.dropped.push(Dropped {
                            record: at.index,
                            measurement: label(&measurement.spec),
                            reason,
                        }),
                    }
                }
                continue;
            }
            match measurement_of(measurement, at, time, explanation)? {
                Taken::Yes(m) => {
                    produced.push((measurement.spec.name.clone(), measurements.len()));
                    if let Some(target) = &measurement.spec.qualifies {
                        qualifiers.push((measurements.len(), target.clone()));
                    }
                    // Where it was read: the record, and the value's path (or the measurement's name).
                    let path = measurement
                        .value
                        .as_ref()
                        .map_or_else(|| label(&measurement.spec), |v| format!("`{}`", v.text()));
                    measurements.push(m.with_source(format!("record {} {path}", at.index)))
                }
                // An optional value the record does not have: nothing was left out.
                Taken::NotPresent => {}
                Taken::Dropped(reason) => explanation.dropped.push(Dropped {
                    record: at.index,
                    measurement: label(&measurement.spec),
                    reason,
                }),
            }
        }
        // A qualifier whose measurement was left out (a meal context of a glucose value the record
        // lacked, or a statistic the bridge does not map) qualifies nothing: left out too, and said.
        let mut orphans = Vec::new();
        for (index, target) in qualifiers {
            match produced.iter().find(|(name, _)| name == &target) {
                Some((_, target_index)) => {
                    if let Some(m) = measurements.get_mut(index) {
                        m.qualifies = Some(*target_index);
                    }
                }
                None => orphans.push((index, target)),
            }
        }
        if !orphans.is_empty() {
            let kept: Vec<bool> = (0..measurements.len())
                .map(|i| !orphans.iter().any(|(index, _)| *index == i))
                .collect();
            // Where each kept measurement moves, for the `qualifies` of the others.
            let moved: Vec<Option<usize>> = kept
                .iter()
                .scan(0, |next, keep| {
                    let at = keep.then_some(*next);
                    *next += usize::from(*keep);
                    Some(at)
                })
                .collect();
            for (index, target) in &orphans {
                let name = self
                    .measurements
                    .iter()
                    .find(|m| m.spec.qualifies.as_ref() == Some(target))
                    .map_or_else(|| format!("measurement {index}"), |m| label(&m.spec));
                explanation.dropped.push(Dropped {
                    record: at.index,
                    measurement: name,
                    reason: format!("it qualifies `{target}`, which the record does not give"),
                });
            }
            let mut index = 0;
            measurements.retain(|_| {
                index += 1;
                kept[index - 1]
            });
            for m in &mut measurements {
                m.qualifies = m.qualifies.and_then(|q| moved.get(q).copied().flatten());
            }
        }
        if measurements.is_empty() {
            return Ok(None);
        }
        let circumstances = Circumstances {
            body_site: self.body_site.as_ref().and_then(|t| t.of("body site", at, explanation)),
            body_position: self
                .body_position
                .as_ref()
                .and_then(|t| t.of("body position", at, explanation)),
            note: self.note.as_ref().and_then(|field| {
                let note = text_of(field, at).filter(|n| !n.trim().is_empty())?;
                explanation
                    .steps
                    .push(format!("record {}: note: `{}` found one", at.index, field.text()));
                Some(note)
            }),
            self_reported: self.self_reported.as_ref().is_some_and(|(field, when)| {
                let said = text_of(field, at);
                let typed = said.as_ref().is_some_and(|s| when.iter().any(|w| same_value(s, w)));
                if typed {
                    explanation.steps.push(format!(
                        "record {}: `{}` says the person typed the values in: no device measured them",
                        at.index,
                        field.text()
                    ));
                }
                typed
            }),
        };
        for m in &mut measurements {
            m.circumstances = circumstances.clone();
        }
        // Without a device id in the payload, the mapping stands in as the device. That stand-in is
        // shared by every user of the vendor, so no device-patient association may ever apply to it
        // (see `crate::model::SHARED_DEVICE_NAMESPACE`).
        let device_id = self.device_id.as_ref().and_then(|field| text_of(field, at));
        let address = self.bluetooth_address(at)?;
        let manufacturer = self.device_manufacturer.as_ref().and_then(|f| text_of(f, at));
        let model_number = self.device_model.as_ref().and_then(|f| text_of(f, at));
        let hardware_revision = self.device_hardware.as_ref().and_then(|f| text_of(f, at));
        let software_revision = self.device_software.as_ref().and_then(|f| text_of(f, at));
        let instance_id = match device_id {
            // A Bluetooth address identifies the device by itself.
            None if address.is_some() => None,
            Some(value) => Some(InstanceId {
                value,
                namespace: Some(
                    self.file
                        .device
                        .system
                        .clone()
                        .unwrap_or_else(|| format!("urn:fhirgate:mapping:{}", self.file.name)),
                ),
            }),
            // The stand-in is every user's, so it cannot carry one user's device facts: facts the record
            // states (an Apple export's hardware and software) make it the stand-in for exactly the
            // devices with those facts, so that what its Device says is true of every reading on it.
            None => {
                // Each fact by its name, and a missing one as empty: a maker without a model and a
                // model without a maker are two stand-ins, not one.
                let facts: Vec<String> = [
                    ("manufacturer", &manufacturer, &self.device_manufacturer),
                    ("model", &model_number, &self.device_model),
                    ("hardware", &hardware_revision, &self.device_hardware),
                    ("software", &software_revision, &self.device_software),
                ]
                .into_iter()
                .filter(|(_, _, field)| field.as_ref().is_some_and(|f| !f.is_literal()))
                .map(|(name, fact, _)| format!("{name}={}", fact.as_deref().unwrap_or_default()))
                .collect();
                let mut value = self.file.name.clone();
                if !facts.is_empty() {
                    value = format!("{value}|{}", facts.join("|"));
                    explanation.steps.push(format!(
                        "record {}: no device id: the stand-in device is this mapping's for devices stating {}",
                        at.index,
                        facts.join(", ")
                    ));
                }
                Some(InstanceId {
                    value,
                    namespace: Some(format!("{}{}", crate::model::SHARED_DEVICE_NAMESPACE, self.file.name)),
                })
            }
        };
        let device = DeviceIdentity {
            instance_id,
            bluetooth_address: address,
            manufacturer,
            model_number,
            hardware_revision,
            software_revision,
            ..DeviceIdentity::default()
        };
        let patient = self.patient(at);
        let patient_withheld = self.patient_withheld(patient.as_ref(), at.index);
        Ok(Some(Reading {
            device,
            gateway: self.gateway(at)?,
            patient,
            received_at,
            measurements,
            origin: Origin::PersonalHealth,
            documents: Vec::new(),
            patient_withheld,
            receipt_key: None,
            location: None,
        }))
    }

    /// The device's Bluetooth address, where the mapping says it is and the record has one.
    fn bluetooth_address(&self, at: &Context) -> Result<Option<BluetoothAddress>, DeclarativeError> {
        let Some(field) = &self.device_address else {
            return Ok(None);
        };
        let Some(text) = text_of(field, at) else {
            return Ok(None);
        };
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_: crate::model::HardwareIdError| {
                at.error(
                    field.text(),
                    "is not a Bluetooth address (six hex pairs, e.g. CC:1B:E0:E0:DD:70)".into(),
                )
            })
    }

    /// The gateway that forwarded the record, where the mapping says it is named.
    fn gateway(&self, at: &Context) -> Result<Option<GatewayIdentity>, DeclarativeError> {
        let (Some(field), Some(spec)) = (&self.gateway_id, &self.file.gateway) else {
            return Ok(None);
        };
        match text_of(field, at).filter(|id| !id.trim().is_empty()) {
            Some(id) => Ok(Some(GatewayIdentity {
                id,
                system_id: None,
                manufacturer: spec.manufacturer.clone(),
                model_number: spec.model.clone(),
                firmware_revision: None,
            })),
            None => Ok(None),
        }
    }

    /// The readings of a `[gatt]` mapping: each record's raw characteristic value decoded by the
    /// bridge's GATT decoders. The values of one device (through one gateway) in one payload are read
    /// together, as a hub envelope's `notifications` are, so that a glucose measurement finds its
    /// context and CGM records their session start.
    fn gatt_readings(
        &self,
        gatt: &CompiledGatt,
        payload: &Json,
        records: &[Located],
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
        explanation: &mut Explanation,
    ) -> Result<Vec<Reading>, DeclarativeError> {
        struct Group {
            first: usize,
            address: BluetoothAddress,
            gateway: Option<GatewayIdentity>,
            patient: Option<PatientRef>,
            time: TimeContext,
            manufacturer: Option<String>,
            model: Option<String>,
            values: Vec<(usize, Decoded)>,
        }
        let mut groups: Vec<Group> = Vec::new();
        type GroupKey = ([u8; 6], Option<String>, Option<(String, String)>, i32, bool);
        let mut by_key: std::collections::HashMap<GroupKey, usize> = std::collections::HashMap::new();
        for record in records {
            let index = record.position;
            let at = Context {
                mapping: &self.file.name,
                payload,
                record: record.node,
                ancestors: &record.ancestors,
                index,
            };
            let address = self.bluetooth_address(&at)?.ok_or_else(|| {
                let path = self.device_address.as_ref().map_or("device.address", |f| f.text());
                at.error(
                    path,
                    "found no Bluetooth address: a characteristic value names no device".into(),
                )
            })?;
            let characteristic = gatt_characteristic(gatt, &at)?;
            let bytes = match gatt.encoding {
                GattEncoding::Bytes => match select(&gatt.value, &at).first() {
                    Some(Json::Array(items)) => byte_list(items).map_err(|rule| at.error(gatt.value.text(), rule))?,
                    Some(_) => return Err(at.error(gatt.value.text(), "is not an array of bytes".into())),
                    None => return Err(at.error(gatt.value.text(), "found no characteristic value".into())),
                },
                encoding => {
                    let text = text_of(&gatt.value, &at)
                        .ok_or_else(|| at.error(gatt.value.text(), "found no characteristic value".into()))?;
                    gatt_bytes(&text, encoding).map_err(|rule| at.error(gatt.value.text(), rule))?
                }
            };
            let decoded = crate::adapters::ble::decode(characteristic, &bytes)
                .map_err(|e| at.error(gatt.value.text(), format!("is not a valid value: {e}")))?;
            explanation.steps.push(format!(
                "record {index}: `{}` = {} bytes of characteristic {} from {}",
                gatt.value.text(),
                bytes.len(),
                characteristic.uuid_text(),
                address.dashed()
            ));
            let time = gatt_time(gatt, &at, received_at, default_offset)?;
            let gateway = self.gateway(&at)?;
            let patient = self.patient(&at);
            // One group per device, gateway, patient and time context, found by key: a payload of many
            // devices costs no more than its records.
            let key = (
                address.0,
                gateway.as_ref().map(|g| g.id.clone()),
                patient.as_ref().map(|p| (p.system.clone(), p.value.clone())),
                time.device_offset.local_minus_utc(),
                matches!(time.offset_source, OffsetSource::Envelope),
            );
            match by_key.get(&key).and_then(|&i| groups.get_mut(i)) {
                Some(group) => group.values.push((index, decoded)),
                None => {
                    by_key.insert(key, groups.len());
                    groups.push(Group {
                        first: index,
                        address,
                        gateway,
                        patient,
                        time,
                        manufacturer: self.device_manufacturer.as_ref().and_then(|f| text_of(f, &at)),
                        model: self.device_model.as_ref().and_then(|f| text_of(f, &at)),
                        values: vec![(index, decoded)],
                    })
                }
            }
        }
        let mut readings = Vec::new();
        for group in groups {
            let decoded: Vec<Decoded> = group.values.iter().map(|(_, d)| d.clone()).collect();
            let measurements = crate::adapters::ble::envelope::assemble(&decoded, &group.time).map_err(|e| {
                // The pairing names a value by its place among this device's (`notifications[k]`):
                // the record that is, in the payload.
                let (record, rule) = match e {
                    crate::adapters::ble::envelope::EnvelopeError::Field { field, rule } => {
                        let k = field
                            .strip_prefix("notifications[")
                            .and_then(|rest| rest.strip_suffix(']'))
                            .and_then(|k| k.parse::<usize>().ok());
                        let record = k.and_then(|k| group.values.get(k)).map_or(group.first, |(i, _)| *i);
                        (record, rule)
                    }
                    other => (group.first, other.to_string()),
                };
                DeclarativeError::Record {
                    mapping: self.file.name.clone(),
                    record,
                    path: gatt.value.text().to_string(),
                    rule,
                }
            })?;
            let records: Vec<String> = group.values.iter().map(|(i, _)| i.to_string()).collect();
            let source = format!("record {} `{}`", records.join("+"), gatt.value.text());
            let device = DeviceIdentity {
                bluetooth_address: Some(group.address),
                manufacturer: group.manufacturer,
                model_number: group.model,
                kind: decoded.first().and_then(Decoded::device_kind),
                ..DeviceIdentity::default()
            };
            let patient_withheld = self.patient_withheld(group.patient.as_ref(), group.first);
            readings.push(Reading {
                device,
                gateway: group.gateway,
                patient: group.patient,
                received_at: group.time.received_at,
                measurements: measurements
                    .into_iter()
                    .map(|m| m.with_source(source.clone()))
                    .collect(),
                origin: Origin::PersonalHealth,
                documents: Vec::new(),
                patient_withheld,
                receipt_key: None,
                location: None,
            });
        }
        Ok(readings)
    }

    /// Why a record has no patient when the mapping says where it is: the path is what to fix (the
    /// sender's patient, or an association, may still stand in later).
    fn patient_withheld(&self, patient: Option<&PatientRef>, record: usize) -> Option<String> {
        match (patient, &self.patient_id) {
            (None, Some(field)) => Some(format!(
                "mapping {}, record {record}: `{}` (patient.id) found nothing",
                self.file.name,
                field.text()
            )),
            _ => None,
        }
    }

    /// The patient the record names, where the mapping says it does.
    fn patient(&self, at: &Context) -> Option<PatientRef> {
        match (&self.patient_id, &self.file.patient) {
            (Some(field), Some(spec)) => text_of(field, at).map(|value| PatientRef {
                system: spec.system.clone(),
                value,
            }),
            _ => None,
        }
    }

    fn time(
        &self,
        t: &super::compile::CompiledTime,
        at: &Context,
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
        explanation: &mut Explanation,
    ) -> Result<EffectiveTime, DeclarativeError> {
        let zone = match &t.zone_path {
            Some(field) => match select(field, at).first().and_then(|v| scalar_text(v)) {
                Some(text) => Some(
                    time::parse_offset_in(&text, t.spec.zone_unit.unwrap_or(ZoneUnit::Hours))
                        .map_err(|e| at.error(field.text(), format!("is not a UTC offset: {e}")))?,
                ),
                None => None,
            },
            None => None,
        };
        let rule = time::ZoneRule {
            stated: zone,
            fixed: t.spec.zone.as_deref().and_then(|z| time::parse_offset(z).ok()),
            default: default_offset,
        };
        let read = |field: &Option<Field>| -> Result<Option<(String, Json)>, DeclarativeError> {
            match field {
                Some(field) if field.is_literal() => {
                    Ok(Some((field.text().to_string(), Json::String(field.text().to_string()))))
                }
                // A part of a string, taken by the field's regex.
                Some(field) if field.has_capture() => {
                    Ok(text_of(field, at).map(|text| (field.text().to_string(), Json::String(text))))
                }
                // An XML element (a one-element array, or `#text`) is read as its text.
                Some(field) => Ok(select(field, at).first().map(|v| {
                    let value = match v {
                        Json::Array(_) | Json::Object(_) => {
                            scalar_text(v).map(Json::String).unwrap_or_else(|| (*v).clone())
                        }
                        other => (*other).clone(),
                    };
                    (field.text().to_string(), value)
                })),
                None => Ok(None),
            }
        };
        // A date-only value joined to `time_of_day` (Fitbit's `date` + `time`).
        let with_time_of_day = |found: Option<(String, Json)>| -> Result<Option<(String, Json)>, DeclarativeError> {
            let Some((path, value)) = found else { return Ok(None) };
            match (read(&t.time_of_day)?, value.as_str()) {
                (Some((_, Json::String(clock))), Some(date)) => {
                    Ok(Some((path, Json::String(format!("{date}T{clock}")))))
                }
                _ => Ok(Some((path, value))),
            }
        };
        // `compile` requires a format wherever a time is read.
        let format = t.spec.format.unwrap_or(super::spec::TimeFormat::Iso8601);
        let parse = |path: &str, value: &Json| {
            time::parse(value, format, t.spec.pattern.as_deref(), &rule)
                .map_err(|e: TimeError| at.error(path, e.to_string()))
        };
        if let Some((path, value)) = with_time_of_day(read(&t.instant)?)? {
            let stamp = parse(&path, &value)?;
            explanation.steps.push(format!(
                "record {}: time `{path}` = {} → {}",
                at.index,
                value,
                stamp.instant().map(|i| i.to_rfc3339()).unwrap_or_default()
            ));
            return Ok(EffectiveTime::Instant(stamp));
        }
        let start = with_time_of_day(read(&t.start)?)?
            .map(|(p, v)| parse(&p, &v))
            .transpose()?;
        let end = with_time_of_day(read(&t.end)?)?
            .map(|(p, v)| parse(&p, &v))
            .transpose()?;
        let duration = match read(&t.duration)? {
            Some((path, value)) => {
                Some(time::duration(&value).map_err(|e| at.error(&path, format!("is not a duration: {e}")))?)
            }
            None => None,
        };
        let period = match (start, end, duration) {
            (Some(start), Some(end), _) => Some((start, end)),
            (Some(start), None, Some(d)) => time::shifted(&start, d).map(|end| (start, end)),
            (None, Some(end), Some(d)) => time::shifted(&end, -d).map(|start| (start, end)),
            (Some(_), None, None) | (None, Some(_), None) => {
                return Err(at.error(
                    "time",
                    "a time interval needs both ends, or one end and a duration".into(),
                ))
            }
            _ => None,
        };
        if let Some((start, end)) = period.filter(|(start, end)| start != end) {
            if end.instant() < start.instant() {
                return Err(at.error(
                    "time",
                    "the time interval ends before it starts (FHIR Period needs start ≤ end)".into(),
                ));
            }
            explanation.steps.push(format!(
                "record {}: time period {} → {}",
                at.index,
                start.instant().map(|i| i.to_rfc3339()).unwrap_or_default(),
                end.instant().map(|i| i.to_rfc3339()).unwrap_or_default()
            ));
            return Ok(EffectiveTime::Period { start, end });
        }
        if let Some((start, _)) = period {
            // Start and end the same: an instant (Google Fit writes instants so).
            explanation.steps.push(format!(
                "record {}: time: start and end the same → {}",
                at.index,
                start.instant().map(|i| i.to_rfc3339()).unwrap_or_default()
            ));
            return Ok(EffectiveTime::Instant(start));
        }
        if t.spec.required {
            // Name the paths that were tried: the one that found nothing is what to fix.
            let tried: Vec<&str> = [&t.instant, &t.start, &t.end]
                .into_iter()
                .flatten()
                .map(Field::text)
                .collect();
            return Err(at.error(
                &tried.join("`, `"),
                "no time found (time.instant, or time.start/end): the record is refused".into(),
            ));
        }
        explanation.steps.push(format!(
            "record {}: no time in the record; the receipt time is used",
            at.index
        ));
        Ok(EffectiveTime::Instant(crate::model::Timestamp::gateway_receipt(
            received_at,
            crate::model::NoDeviceTimeReason::NotSent,
        )))
    }
}
#[derive(Clone, Copy)]
struct Context<'a> {
    mapping: &'a str,
    payload: &'a Json,
    record: &'a Json,
    /// The objects that hold the record, nearest first (`^`, `^^`, …).
    ancestors: &'a [&'a Json],
    index: usize,
}

/// A record where the payload holds it.
pub(super) struct Located<'a> {
    /// Its place among the nodes `records` finds, before `when` chooses: what refusals call it.
    pub(super) position: usize,
    /// Its JSON Pointer, which tells records of different mappings apart.
    pub(super) pointer: String,
    pub(super) node: &'a Json,
    /// The objects that hold it, nearest first.
    pub(super) ancestors: Vec<&'a Json>,
}

/// A located node with the objects on its way from the root (arrays are passed through: the parent of
/// `$.users[0].values[3]` is `$.users[0]`).
fn located<'a>(payload: &'a Json, location: &serde_json_path::NormalizedPath<'_>, node: &'a Json) -> Located<'a> {
    let mut ancestors = Vec::new();
    let mut current = payload;
    for element in location.iter() {
        if current.is_object() {
            ancestors.push(current);
        }
        let next = match (element.as_name(), element.as_index()) {
            (Some(name), _) => current.get(name),
            (None, Some(index)) => current.get(index),
            (None, None) => None,
        };
        match next {
            Some(next) => current = next,
            None => break,
        }
    }
    ancestors.reverse();
    Located {
        position: 0,
        pointer: location.to_json_pointer(),
        node,
        ancestors,
    }
}

/// True when every field of a `when` table holds its value (an empty table always holds).
fn holds(when: &[(Field, Vec<String>)], at: &Context) -> bool {
    when.iter()
        .all(|(field, wanted)| text_of(field, at).is_some_and(|said| wanted.iter().any(|w| same_value(&said, w))))
}

impl<'a> Context<'a> {
    /// The payload as its own record.
    fn root(mapping: &'a str, payload: &'a Json) -> Context<'a> {
        Context {
            mapping,
            payload,
            record: payload,
            ancestors: &[],
            index: 0,
        }
    }

    fn error(&self, path: &str, rule: String) -> DeclarativeError {
        DeclarativeError::Record {
            mapping: self.mapping.to_string(),
            record: self.index,
            path: path.to_string(),
            rule,
        }
    }
}

/// The nodes a field's path selects (a literal selects none). An ancestor the record does not have
/// (`^^` of a record one level down) selects nothing.
fn select<'a>(field: &Field, at: &Context<'a>) -> Vec<&'a Json> {
    if let Some(simple) = field.simple() {
        let root = match &field.source {
            Source::Payload(_) => Some(at.payload),
            Source::Record(_) => Some(at.record),
            Source::Ancestor(level, _) => level.checked_sub(1).and_then(|i| at.ancestors.get(i)).copied(),
            Source::Literal => None,
        };
        return root.and_then(|root| simple.select(root)).into_iter().collect();
    }
    match &field.source {
        Source::Payload(path) => path.query(at.payload).all(),
        Source::Record(path) => path.query(at.record).all(),
        Source::Ancestor(level, path) => match level.checked_sub(1).and_then(|i| at.ancestors.get(i)) {
            Some(ancestor) => path.query(ancestor).all(),
            None => Vec::new(),
        },
        Source::Literal => Vec::new(),
    }
}

/// The text of a field: the literal, or the first scalar the path selects (the part its regex takes).
fn text_of(field: &Field, at: &Context) -> Option<String> {
    if field.is_literal() {
        return Some(field.text().to_string());
    }
    select(field, at)
        .first()
        .and_then(|v| scalar_text(v))
        .and_then(|text| field.captured(text))
}

/// A string or number as text (numbers in their shortest form); `None` for anything else. An XML
/// element read as a one-element array, or as an object with `#text`, gives its text.
fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(text) => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Array(items) if items.len() == 1 => items.first().and_then(scalar_text),
        Json::Object(fields) => fields.get("#text").and_then(scalar_text),
        _ => None,
    }
}

/// What became of one measurement of a record.
enum Taken {
    Yes(Box<Measurement>),
    /// An optional value the record does not carry.
    NotPresent,
    /// Left out, with the reason (a required value missing, the vendor's "no value" marker).
    Dropped(String),
}

/// One measurement of a record; `Err` when the payload is refused (a value that is not a number, a
/// unit not allowed).
fn measurement_of(
    m: &CompiledMeasurement,
    at: &Context,
    time: EffectiveTime,
    explanation: &mut Explanation,
) -> Result<Taken, DeclarativeError> {
    let taken = taken_of(m, at, time, explanation)?;
    let Taken::Yes(measurement) = taken else {
        return Ok(taken);
    };
    let measurement = Box::new(measurement.with_code_outside_mdc(m.code_outside_mdc.clone()));
    let Some(rule) = &m.statistic else {
        return Ok(Taken::Yes(measurement));
    };
    let statistic = match rule {
        StatisticRule::Always(statistic) => *statistic,
        StatisticRule::Said(field, words) => match text_of(field, at) {
            // The payload says no statistic: a reading.
            None => return Ok(Taken::Yes(measurement)),
            Some(said) => {
                let found = match words.is_empty() {
                    true => Statistic::from_name(&said),
                    false => words.get(said.trim()).copied(),
                };
                match found {
                    Some(statistic) => statistic,
                    None => {
                        return Ok(Taken::Dropped(format!(
                            "`{}` names a statistic the bridge does not map (it maps {})",
                            field.text(),
                            Statistic::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
                        )))
                    }
                }
            }
        },
    };
    if !matches!(measurement.time, EffectiveTime::Period { .. }) {
        return Ok(Taken::Dropped(format!(
            "a statistic ({}) summarises a period, and the record's time is an instant: give `time.start` and `time.end` (or a duration)",
            statistic.name()
        )));
    }
    explanation.steps.push(format!(
        "record {}: {}: a statistic, the {} over the record's period",
        at.index,
        label(&m.spec),
        statistic.name()
    ));
    Ok(Taken::Yes(Box::new(measurement.with_statistic(Some(statistic)))))
}

/// The measurement a record holds, before it is said whether it is a statistic.
fn taken_of(
    m: &CompiledMeasurement,
    at: &Context,
    time: EffectiveTime,
    explanation: &mut Explanation,
) -> Result<Taken, DeclarativeError> {
    let code = code_of(m, at, explanation);
    if !m.spec.coded.is_empty() {
        return Ok(coded_of(m, code, at, time, explanation));
    }
    if let Some((samples, rate)) = &m.samples {
        return waveform_of(m, code, samples, rate, at, time, explanation);
    }
    if let Some(term) = &m.term {
        return Ok(match term.of(&label(&m.spec), at, explanation) {
            Some(mut word) => {
                // A vendor's code number (Withings' afib `1`) is no text for a person: the code's
                // display is.
                if decimal_of(&word.text).is_some() {
                    if let Some(code) = &word.code {
                        word.text = code.display.clone().unwrap_or_else(|| code.code.clone());
                    }
                }
                Taken::Yes(Box::new(
                    Measurement::simple(code, Value::Term(word), time).with_label(m.spec.reference_id.clone()),
                ))
            }
            None if m.spec.required.unwrap_or(false) => {
                Taken::Dropped(format!("required value missing: `{}` found nothing", term.field.text()))
            }
            None => Taken::NotPresent,
        });
    }
    if m.value.is_some() {
        return Ok(match quantity_of(m, at, explanation)? {
            Got::Value(q) => Taken::Yes(Box::new(
                Measurement::simple(code, Value::Quantity(q), time)
                    .with_label(m.spec.reference_id.clone())
                    .with_quality(quality_of(m, at, explanation)),
            )),
            Got::Missing(_) if !m.spec.required.unwrap_or(false) => Taken::NotPresent,
            Got::Missing(reason) => Taken::Dropped(format!("required value missing: {reason}")),
            Got::Absent(reason) => Taken::Dropped(reason),
        });
    }
    let mut components = Vec::new();
    let mut missing = Vec::new();
    for component in &m.components {
        match quantity_of(component, at, explanation)? {
            Got::Value(q) => components.push(Component {
                label: component.spec.reference_id.clone(),
                ..Component::new(MdcCode(component.spec.code), Value::Quantity(q))
            }),
            Got::Missing(reason) | Got::Absent(reason) if component.spec.required.unwrap_or(true) => {
                missing.push(format!("component {}: {reason}", label(&component.spec)));
            }
            Got::Missing(_) | Got::Absent(_) => {}
        }
    }
    Ok(if components.is_empty() && missing.is_empty() {
        Taken::NotPresent
    } else if missing.is_empty() {
        Taken::Yes(Box::new(
            Measurement::compound(code, components, time).with_label(m.spec.reference_id.clone()),
        ))
    } else if components.is_empty() && !m.spec.required.unwrap_or(false) {
        Taken::NotPresent
    } else {
        Taken::Dropped(missing.join("; "))
    })
}

/// The measurement's code: the first `code_when` case the record meets, else `code`.
fn code_of(m: &CompiledMeasurement, at: &Context, explanation: &mut Explanation) -> MdcCode {
    let met = m.code_when.iter().find(|(fields, _)| {
        fields
            .iter()
            .all(|(field, wanted)| text_of(field, at).is_some_and(|said| same_value(&said, wanted)))
    });
    match met {
        Some((fields, code)) => {
            let said: Vec<String> = fields
                .iter()
                .map(|(field, wanted)| format!("`{}` = {wanted}", field.text()))
                .collect();
            explanation.steps.push(format!(
                "record {}: {}: {} → MDC {code}",
                at.index,
                label(&m.spec),
                said.join(", ")
            ));
            *code
        }
        None => MdcCode(m.spec.code),
    }
}

/// A coded measurement: the vendor's value looked up in the mapping's `coded` table.
fn coded_of(
    m: &CompiledMeasurement,
    code: MdcCode,
    at: &Context,
    time: EffectiveTime,
    explanation: &mut Explanation,
) -> Taken {
    let Some(field) = &m.value else {
        return Taken::NotPresent;
    };
    let Some(said) = text_of(field, at).filter(|s| !s.trim().is_empty()) else {
        return if m.spec.required.unwrap_or(false) {
            Taken::Dropped(format!("required value missing: `{}` found nothing", field.text()))
        } else {
            Taken::NotPresent
        };
    };
    match m.spec.coded.get(said.trim()) {
        Some(value) => {
            explanation.steps.push(format!(
                "record {}: {}: `{}` = {said} → MDC {value}",
                at.index,
                label(&m.spec),
                field.text()
            ));
            Taken::Yes(Box::new(
                Measurement::simple(code, Value::Coded(MdcCode(*value)), time).with_label(m.spec.reference_id.clone()),
            ))
        }
        None => Taken::Dropped(format!(
            "`{}` holds a value the mapping's `coded` table does not list",
            field.text()
        )),
    }
}

/// A waveform: the record's array of samples at its rate, kept exactly as sent.
fn waveform_of(
    m: &CompiledMeasurement,
    code: MdcCode,
    samples: &Field,
    rate: &Field,
    at: &Context,
    time: EffectiveTime,
    explanation: &mut Explanation,
) -> Result<Taken, DeclarativeError> {
    let items = match select(samples, at).first() {
        Some(Json::Array(items)) if !items.is_empty() => items,
        Some(Json::Array(_)) | None | Some(Json::Null) => {
            let reason = format!("`{}` holds no samples", samples.text());
            return Ok(match m.spec.required.unwrap_or(false) {
                true => Taken::Dropped(format!("required value missing: {reason}")),
                false => Taken::NotPresent,
            });
        }
        Some(_) => return Err(at.error(samples.text(), "is not an array of samples".into())),
    };
    let rate_text = text_of(rate, at).ok_or_else(|| at.error(rate.text(), "found no sampling rate".into()))?;
    let per_second = decimal_of(&rate_text)
        .and_then(|r| SampleRate::new(r).ok())
        .ok_or_else(|| at.error(rate.text(), "is not a rate of at least 1 sample per second".into()))?;
    let mut gaps = 0;
    let mut values = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            // A sample the vendor left out: an error mark (FHIR `E`), so that no later sample moves.
            Json::Null => {
                gaps += 1;
                values.push(Sample::Error);
            }
            Json::Number(number) => match decimal_of(&number.to_string()) {
                Some(value) => values.push(Sample::Value(value)),
                None => {
                    return Err(at.error(
                        samples.text(),
                        format!("item {i} is not a number the bridge can keep exactly"),
                    ))
                }
            },
            _ => return Err(at.error(samples.text(), format!("item {i} is not a number"))),
        }
    }
    let unit = m.spec.unit.clone().unwrap_or_default();
    explanation.steps.push(format!(
        "record {}: {}: `{}` = {} samples at {} per second (`{}`) in {unit}{}",
        at.index,
        label(&m.spec),
        samples.text(),
        values.len(),
        per_second.per_second(),
        rate.text(),
        if gaps > 0 {
            format!(", {gaps} of them null (sent as errors, E)")
        } else {
            String::new()
        }
    ));
    let series = SampledSeries::of_values(&unit, per_second, values);
    Ok(Taken::Yes(Box::new(
        Measurement::simple(code, Value::Samples(series), time).with_label(m.spec.reference_id.clone()),
    )))
}

/// The quality flags the vendor's statement maps to.
fn quality_of(m: &CompiledMeasurement, at: &Context, explanation: &mut Explanation) -> Vec<crate::model::QualityFlag> {
    let places = m
        .quality_path
        .iter()
        .map(|field| (field, &m.spec.quality))
        .chain(m.quality_paths.iter().map(|(field, answers)| (field, answers)));
    let mut flags = Vec::new();
    for (field, answers) in places {
        let Some(said) = select(field, at).first().and_then(|v| scalar_text(v)) else {
            continue;
        };
        if let Some(flag) = answers.get(&said).and_then(|f| crate::model::QualityFlag::from_name(f)) {
            explanation.steps.push(format!(
                "record {}: {}: `{}` = {said} → {flag:?}",
                at.index,
                label(&m.spec),
                field.text()
            ));
            if !flags.contains(&flag) {
                flags.push(flag);
            }
        }
    }
    flags
}

/// The characteristic of a record's value: the mapping's, the record's, or its handle's.
fn gatt_characteristic(gatt: &CompiledGatt, at: &Context) -> Result<Characteristic, DeclarativeError> {
    if let Some(field) = &gatt.characteristic {
        let text = text_of(field, at).ok_or_else(|| at.error(field.text(), "found no characteristic".into()))?;
        // The payload's text is not repeated: a refusal names the path and the rule.
        return Characteristic::parse(&text).map_err(|e| {
            let rule = match e {
                crate::adapters::ble::CharacteristicIdError::Unsupported(uuid) => {
                    format!("names characteristic {uuid:04X}, which the bridge does not decode")
                }
                _ => "is not a characteristic UUID (2A37, 0x2A37, or the 128-bit form)".to_string(),
            };
            at.error(field.text(), rule)
        });
    }
    let Some(field) = &gatt.handle else {
        return Err(at.error("gatt", "names neither a characteristic nor a handle".into()));
    };
    let text = text_of(field, at).ok_or_else(|| at.error(field.text(), "found no handle".into()))?;
    let handle = super::compile::parse_handle(&text)
        .ok_or_else(|| at.error(field.text(), "is not a handle (0 to 65535, or 0x0000 to 0xFFFF)".into()))?;
    gatt.handles.get(&handle).copied().ok_or_else(|| {
        at.error(
            field.text(),
            format!(
                "names handle {handle}, which `gatt.handles` does not list ({}): add the device model's handle",
                gatt.handles.keys().map(u16::to_string).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// A value written as a JSON array of byte numbers (nRF Cloud's `[22, 117, 0, …]`).
fn byte_list(items: &[Json]) -> Result<Vec<u8>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| format!("item {i} is not a byte (a whole number from 0 to 255)"))
        })
        .collect()
}

/// The bytes of a characteristic value as the gateway writes them.
fn gatt_bytes(text: &str, encoding: GattEncoding) -> Result<Vec<u8>, String> {
    use base64::Engine;
    match encoding {
        GattEncoding::Hex => {
            let compact: String = text
                .chars()
                .filter(|c| !c.is_ascii_whitespace() && !matches!(c, ':' | '-'))
                .collect();
            let compact = compact.strip_prefix("0x").unwrap_or(&compact);
            hex::decode(compact).map_err(|_| "is not hexadecimal (`encoding = \"base64\"` reads base64)".to_string())
        }
        GattEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64".to_string()),
        GattEncoding::Bytes => Err("is not an array of bytes".to_string()),
    }
}

/// The receipt time and the device's UTC offset, for the times inside the values.
fn gatt_time(
    gatt: &CompiledGatt,
    at: &Context,
    received_at: DateTime<FixedOffset>,
    default_offset: FixedOffset,
) -> Result<TimeContext, DeclarativeError> {
    let stated = match &gatt.zone_path {
        Some(field) => match text_of(field, at) {
            Some(text) => Some(
                time::parse_offset_in(&text, gatt.zone_unit.unwrap_or(ZoneUnit::Hours))
                    .map_err(|e| at.error(field.text(), format!("is not a UTC offset: {e}")))?,
            ),
            None => None,
        },
        None => None,
    };
    let fixed = gatt.zone.as_deref().and_then(|z| time::parse_offset(z).ok());
    let (device_offset, offset_source) = match stated.or(fixed) {
        Some(offset) => (offset, OffsetSource::Envelope),
        None => (default_offset, OffsetSource::ConfiguredDefault),
    };
    Ok(TimeContext {
        received_at,
        device_offset,
        offset_source,
    })
}

/// True when the vendor's value is one of its "no value" markers.
fn is_marker(text: &str, absent: &super::compile::Absent) -> bool {
    use std::cmp::Ordering;
    match absent {
        super::compile::Absent::Value(marker) => same_value(text, marker),
        super::compile::Absent::Range(min, max) => decimal_of(text).is_some_and(|value| {
            min.is_none_or(|min| value.compare(min) != Ordering::Less)
                && max.is_none_or(|max| value.compare(max) != Ordering::Greater)
        }),
    }
}

/// The largest power of ten a payload may scale a value by (Withings sends -3 to 0).
const MAX_EXPONENT: i32 = 30;

/// A payload number as an exact decimal. JSON numbers arrive as their shortest decimal text, which
/// may use exponent notation (`1e-7`); that is written out in full first.
fn decimal_of(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if let Ok(value) = text.parse() {
        return Some(value);
    }
    if text.contains(['e', 'E']) {
        let float: f64 = text.parse().ok().filter(|f: &f64| f.is_finite() && f.abs() < 1e15)?;
        return format!("{float}").parse().ok();
    }
    None
}

/// What a value path gave.
enum Got {
    Value(Quantity),
    /// The path found nothing (or null).
    Missing(String),
    /// The vendor's "no value" marker.
    Absent(String),
}

/// A value with its UCUM unit, converted as the spec says.
fn quantity_of(m: &CompiledMeasurement, at: &Context, explanation: &mut Explanation) -> Result<Got, DeclarativeError> {
    let Some(field) = &m.value else {
        return Ok(Got::Missing("no value path".into()));
    };
    let found: Vec<Json> = if field.is_literal() {
        vec![Json::String(field.text().to_string())]
    } else if field.has_capture() {
        // A part of a string: the regex's, or nothing when it does not match.
        text_of(field, at).map(Json::String).into_iter().collect()
    } else {
        select(field, at).into_iter().cloned().collect()
    };
    let name = label(&m.spec);
    let raw = match found.as_slice() {
        [] => {
            let reason = format!("`{}` found nothing", field.text());
            explanation.steps.push(format!("record {}: {name}: {reason}", at.index));
            return Ok(Got::Missing(reason));
        }
        [one] => one.clone(),
        many => {
            return Err(at.error(
                field.text(),
                format!("selects {} values where one is expected; narrow the path", many.len()),
            ))
        }
    };
    let text = match &raw {
        Json::Null => return Ok(Got::Missing(format!("`{}` is null", field.text()))),
        other => {
            scalar_text(other).ok_or_else(|| at.error(field.text(), "is not a number (an object or array)".into()))?
        }
    };
    if m.absent.iter().any(|absent| is_marker(&text, absent)) {
        explanation.steps.push(format!(
            "record {}: {name}: `{}` is the vendor's \"no value\" marker",
            at.index,
            field.text()
        ));
        return Ok(Got::Absent(format!(
            "the vendor marks it absent (`{}` holds an `absent_when` marker)",
            field.text()
        )));
    }
    let mut value = decimal_of(&text).ok_or_else(|| at.error(field.text(), "is not a number".into()))?;
    let mut step = format!("record {}: {name}: `{}` = {value}", at.index, field.text());
    if let Some(exponent_field) = &m.exponent {
        let exponent_text = text_of(exponent_field, at)
            .ok_or_else(|| at.error(exponent_field.text(), "found nothing (the exponent is needed)".into()))?;
        let exponent: i32 = exponent_text
            .trim()
            .parse()
            .ok()
            .filter(|e: &i32| e.abs() <= MAX_EXPONENT)
            .ok_or_else(|| {
                at.error(
                    exponent_field.text(),
                    format!("is not a whole number from -{MAX_EXPONENT} to {MAX_EXPONENT}"),
                )
            })?;
        value = value.scaled_by_power_of_ten(exponent);
        step.push_str(&format!(" × 10^{exponent} (`{}`) = {value}", exponent_field.text()));
    }
    let unit = match (&m.spec.unit, &m.unit_path) {
        (_, Some(unit_field)) => {
            let sent = text_of(unit_field, at).ok_or_else(|| at.error(unit_field.text(), "found no unit".into()))?;
            let ucum = m.spec.units.get(&sent).cloned().ok_or_else(|| {
                at.error(
                    unit_field.text(),
                    format!(
                        "unit is not one this mapping takes ({})",
                        m.spec.units.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            step.push_str(&format!(" {ucum} (`{}`)", unit_field.text()));
            ucum
        }
        (Some(unit), None) => {
            step.push_str(&format!(" {unit}"));
            unit.clone()
        }
        (None, None) => return Ok(Got::Missing("no unit".into())),
    };
    let (value, unit) = match &m.spec.convert_to {
        Some(to) if to != &unit => {
            let converted =
                units::convert(value, &unit, to).map_err(|e| at.error(field.text(), format!("cannot convert: {e}")))?;
            step.push_str(&format!(" → {converted} {to}"));
            (converted, to.clone())
        }
        _ => (value, unit),
    };
    explanation.steps.push(step);
    Ok(Got::Value(Quantity::new(value, &unit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(toml: &str) -> Compiled {
        Compiled::new(super::super::spec::parse_text(toml, false).unwrap()).unwrap()
    }

    /// A mapping file's text compiled, or why it cannot be.
    fn file(toml: &str) -> Result<Compiled, String> {
        super::super::spec::parse_text(toml, false)
            .map_err(|e| e.to_string())
            .and_then(Compiled::new)
    }

    const MAPPING: &str = "name = \"t\"\nmatch = \"$.list\"\nrecords = \"$.list[*]\"\n\
        [device]\nid = \"$.device\"\n[patient]\nid = \"$.user\"\nsystem = \"urn:x\"\n\
        [time]\ninstant = \"@.t\"\nformat = \"unix-seconds\"\n\
        [[measurements]]\nname = \"hr\"\ncode = 147842\nvalue = \"@.v\"\nunit = \"/min\"\nabsent_when = [0]\n";

    #[test]
    fn records_become_readings_and_what_is_left_out_is_said() {
        let payload: Json = serde_json::json!({
            "device": "D1", "user": "U1",
            "list": [{"t": 1700000000, "v": 61}, {"t": 1700000060, "v": 0}]
        });
        let received = DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap();
        let mapping = compiled(MAPPING);
        assert!(mapping.matches(&payload));
        assert!(!mapping.matches(&serde_json::json!({"other": []})));
        let (readings, explanation) = mapping.extract(&payload, received, *received.offset()).unwrap();
        assert_eq!(explanation.records, 2);
        assert_eq!(readings.len(), 1, "the second record holds only a placeholder 0");
        let reading = &readings[0];
        assert_eq!(reading.patient.as_ref().map(|p| p.value.as_str()), Some("U1"));
        assert_eq!(reading.measurements.len(), 1);
        let Some(Value::Quantity(q)) = &reading.measurements[0].value else {
            panic!("{:?}", reading.measurements[0].value)
        };
        assert_eq!((q.value.to_string().as_str(), q.unit.as_str()), ("61", "/min"));
        assert_eq!(
            reading.measurements[0].time.anchor().instant().unwrap().to_rfc3339(),
            "2023-11-14T22:13:20+00:00"
        );
        assert_eq!(explanation.dropped.len(), 1);
        assert_eq!(explanation.dropped[0].record, 1);
        assert_eq!(explanation.dropped[0].measurement, "hr");
        assert!(explanation
            .steps
            .iter()
            .any(|s| s.starts_with("records `$.list[*]`: 2 found")));
    }

    #[test]
    fn a_pattern_time_with_an_offset_in_seconds_from_the_payload() {
        let mapping = MAPPING.replace(
            "instant = \"@.t\"\nformat = \"unix-seconds\"\n",
            "instant = \"@.t\"\nformat = \"pattern\"\npattern = \"%m/%d/%Y %I:%M:%S %p\"\n\
             zone_path = \"@.offset\"\nzone_unit = \"seconds\"\n",
        );
        let payload: Json = serde_json::json!({
            "device": "D1", "user": "U1",
            "list": [{"t": "12/30/2022 4:50:40 PM", "offset": -18000, "v": 61}]
        });
        let received = DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap();
        let (readings, _) = compiled(&mapping)
            .extract(&payload, received, *received.offset())
            .unwrap();
        let time = readings[0].measurements[0].time.anchor();
        assert_eq!(time.instant().unwrap().to_rfc3339(), "2022-12-30T16:50:40-05:00");
        // A number of seconds that is no offset is refused by path, never quoted.
        let wrong = serde_json::json!({"device": "D1", "user": "U1", "list": [{"t": "12/30/2022 4:50:40 PM", "offset": 999999, "v": 61}]});
        let error = compiled(&mapping)
            .extract(&wrong, received, *received.offset())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`@.offset`") && error.contains("not a UTC offset"),
            "{error}"
        );
        assert!(!error.contains("999999"), "{error}");
        // What `mappings check` refuses: no pattern, a broken one, a pattern without its format, a unit
        // without a path.
        let without = mapping.replace("pattern = \"%m/%d/%Y %I:%M:%S %p\"\n", "");
        assert!(file(&without).unwrap_err().contains("needs `pattern`"));
        let broken = mapping.replace("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %Q");
        assert!(file(&broken).unwrap_err().contains("not a valid pattern"));
        let stray = MAPPING.replace(
            "format = \"unix-seconds\"\n",
            "format = \"unix-seconds\"\npattern = \"%Y\"\n",
        );
        assert!(file(&stray).unwrap_err().contains("only with `format = \"pattern\"`"));
        let unit_alone = MAPPING.replace(
            "format = \"unix-seconds\"\n",
            "format = \"unix-seconds\"\nzone_unit = \"minutes\"\n",
        );
        assert!(file(&unit_alone).unwrap_err().contains("give `zone_path`"));
    }

    #[test]
    fn an_array_series_is_timed_by_its_interval() {
        let mapping = MAPPING.replace(
            "value = \"@.v\"\n",
            "series = { members = \"@.v\", interval = 5, unit = \"minutes\" }\n",
        );
        let payload: Json =
            serde_json::json!({"device": "D1", "user": "U1", "list": [{"t": 1700000000, "v": [61, 0, 63]}]});
        let received = DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap();
        let (readings, explanation) = compiled(&mapping)
            .extract(&payload, received, *received.offset())
            .unwrap();
        let got: Vec<String> = readings[0]
            .measurements
            .iter()
            .map(|m| m.time.anchor().instant().unwrap().to_rfc3339())
            .collect();
        // The 0 is the mapping's placeholder (absent_when): left out, and the third is still 10 min on.
        assert_eq!(got, vec!["2023-11-14T22:13:20+00:00", "2023-11-14T22:23:20+00:00"]);
        assert_eq!(explanation.dropped.len(), 1);
        assert!(file(&mapping.replace("interval = 5", "interval = 0"))
            .unwrap_err()
            .contains("one time"));
        let both = mapping.replace("series = {", "value = \"@.v\"\nseries = {");
        assert!(file(&both).unwrap_err().contains("leave out `value`"));
        let no_interval = mapping.replace(", interval = 5", "");
        let error = compiled(&no_interval)
            .extract(&payload, received, *received.offset())
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs `interval`"), "{error}");
    }

    fn received() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap()
    }

    fn values(readings: &[Reading]) -> Vec<String> {
        readings
            .iter()
            .flat_map(|r| &r.measurements)
            .map(|m| {
                let value = |v: &Option<Value>| match v {
                    Some(Value::Quantity(q)) => format!("{} {}", q.value, q.unit),
                    Some(Value::Coded(code)) => format!("coded {}", code.0),
                    Some(Value::Flags(flags)) => format!("{} flags", flags.len()),
                    other => format!("{other:?}"),
                };
                let components: Vec<String> = m
                    .components
                    .iter()
                    .map(|c| format!("{} {}", c.code.0, value(&Some(c.value.clone()))))
                    .collect();
                match components.is_empty() {
                    true => format!("{} {}", m.code.0, value(&m.value)),
                    false => format!("{} [{}]", m.code.0, components.join(", ")),
                }
            })
            .collect()
    }

    #[test]
    fn a_regex_takes_a_part_of_a_string_and_a_parent_field_names_the_user() {
        // Polar AccessLink's shape: the user only in a URL, a bare-number series under its parent.
        let mapping = "name = \"t\"\nmatch = \"$.exercises\"\nrecords = \"$.exercises[*].samples[*]\"\n\
            [device]\nid = { path = \"^.device\", regex = \"^(?P<value>[A-Z0-9]+)/\" }\n\
            model = { path = \"^.device\", regex = \"/(.+)$\" }\n\
            [patient]\nsystem = \"urn:polar:user\"\nid = { path = \"^^.user\", regex = \"users/([0-9]+)\" }\n\
            [time]\ninstant = \"^.start\"\nformat = \"iso8601\"\n\
            [[measurements]]\nname = \"hr\"\ncode = 147842\nunit = \"/min\"\nabsent_when = [0]\n\
            series = { members = \"@.values\", interval = 5 }\n";
        let payload: Json = serde_json::json!({
            "user": "https://www.polaraccesslink.com/v3/users/627139",
            "exercises": [
                {"device": "A1B2/Polar Vantage V", "start": "2026-11-21T10:00:00+01:00",
                 "samples": [{"values": [0, 100, 102]}]}
            ]
        });
        let (readings, explanation) = compiled(mapping)
            .extract(&payload, received(), *received().offset())
            .unwrap();
        assert_eq!(readings.len(), 1, "{explanation:?}");
        let reading = &readings[0];
        assert_eq!(reading.patient.as_ref().map(|p| p.value.as_str()), Some("627139"));
        let id = reading.device.instance_id.as_ref().unwrap();
        assert_eq!(id.value, "A1B2");
        assert_eq!(reading.device.model_number.as_deref(), Some("Polar Vantage V"));
        assert_eq!(values(&readings), vec!["147842 100 /min", "147842 102 /min"]);
        let times: Vec<String> = reading
            .measurements
            .iter()
            .map(|m| m.time.anchor().instant().unwrap().to_rfc3339())
            .collect();
        assert_eq!(times, vec!["2026-11-21T10:00:05+01:00", "2026-11-21T10:00:10+01:00"]);
        // A regex that does not match finds nothing: the patient path is then missing, not guessed.
        let other = serde_json::json!({"user": "https://example.org/nobody", "exercises": [
            {"device": "A1B2/V", "start": "2026-11-21T10:00:00+01:00", "samples": [{"values": [100]}]}]});
        let (readings, _) = compiled(mapping)
            .extract(&other, received(), *received().offset())
            .unwrap();
        assert_eq!(readings[0].patient, None);
        // A regex without a group, a broken one, or on a literal, is refused when compiled.
        assert!(file(&mapping.replace("users/([0-9]+)", "users/[0-9]+"))
            .unwrap_err()
            .contains("give a group"));
        assert!(file(&mapping.replace("users/([0-9]+)", "users/("))
            .unwrap_err()
            .contains("not a regular expression"));
        assert!(file(&mapping.replace("path = \"^^.user\"", "path = \"user\""))
            .unwrap_err()
            .contains("is not a path"));
    }

    #[test]
    fn when_picks_the_records_and_measurements_of_one_type_and_ranges_mark_absent_values() {
        let mapping = "name = \"t\"\nmatch = \"$.records\"\nrecords = \"$.records[*]\"\n\
            when = { \"@.kind\" = \"body\" }\n\
            [time]\ninstant = \"@.t\"\nformat = \"unix-seconds\"\n\
            [[measurements]]\nname = \"weight\"\ncode = 188736\nvalue = \"@.v\"\nunit = \"kg\"\n\
            when = { \"@.type\" = \"BodyMass\" }\nabsent_when = [{ max = 0 }, { min = 500 }]\n\
            [[measurements]]\nname = \"height\"\ncode = 188740\nvalue = \"@.v\"\nunit = \"cm\"\n\
            when = { \"@.type\" = \"Height\" }\nexponent = 2\n";
        let payload: Json = serde_json::json!({"records": [
            {"kind": "body", "type": "BodyMass", "t": 1700000000, "v": 72.5},
            {"kind": "body", "type": "Height", "t": 1700000000, "v": 1.78},
            {"kind": "body", "type": "BodyMass", "t": 1700000060, "v": -1},
            {"kind": "body", "type": "BodyMass", "t": 1700000120, "v": 999},
            {"kind": "heart", "type": "HeartRate", "t": 1700000000, "v": 61}
        ]});
        let (readings, explanation) = compiled(mapping)
            .extract(&payload, received(), *received().offset())
            .unwrap();
        // The heart record is not this mapping's; the height is scaled by 10^2 (a number in TOML).
        assert_eq!(explanation.records, 4);
        assert_eq!(values(&readings), vec!["188736 72.5 kg", "188740 178 cm"]);
        // -1 and 999 are the vendor's markers (ranges), each left out with the reason.
        let records: Vec<usize> = explanation.dropped.iter().map(|d| d.record).collect();
        assert_eq!(records, vec![2, 3]);
        assert!(
            explanation.dropped[0].reason.contains("absent_when"),
            "{:?}",
            explanation.dropped
        );
        assert!(
            explanation.steps.iter().any(|s| s.contains("4 of them this mapping's")),
            "{:?}",
            explanation.steps
        );
        assert!(file(&mapping.replace("{ min = 500 }", "{ min = 5, max = 1 }"))
            .unwrap_err()
            .contains("below its `min`"));
        assert!(file(&mapping.replace("{ min = 500 }", "{ }"))
            .unwrap_err()
            .contains("needs `min`, `max`"));
    }

    const GATT: &str = "name = \"gw\"\nmatch = \"$.handle\"\n\
        [device]\naddress = \"@.id\"\n\
        [gatt]\nvalue = \"@.value\"\nhandle = \"@.handle\"\nhandles = { 52 = \"2A37\", \"0x0411\" = \"2A35\" }\n";

    #[test]
    fn a_gateway_notification_is_decoded_by_the_gatt_decoders_by_its_handle() {
        let payload: Json = serde_json::json!({"value": "08560000", "handle": 52, "id": "63:B4:C5:46:5C:A2", "dataType": "notification"});
        let (readings, explanation) = compiled(GATT)
            .extract(&payload, received(), *received().offset())
            .unwrap();
        assert_eq!(values(&readings), vec!["147842 86 /min"]);
        let reading = &readings[0];
        assert_eq!(reading.device.bluetooth_address.unwrap().dashed(), "63-B4-C5-46-5C-A2");
        assert_eq!(reading.device.kind, Some(crate::model::DeviceKind::HeartRateSensor));
        assert_eq!(reading.device.instance_id, None, "the address is the identity");
        assert!(
            explanation
                .steps
                .iter()
                .any(|s| s.contains("4 bytes of characteristic 2A37")),
            "{:?}",
            explanation.steps
        );
        // The handle written as text, in hex, and a blood pressure indication.
        let bp = serde_json::json!({"value": "16750044005400e207021b0a0b0940000000", "handle": "1041", "id": "B0:49:5F:01:38:C4"});
        let (readings, _) = compiled(GATT).extract(&bp, received(), *received().offset()).unwrap();
        assert_eq!(
            values(&readings),
            vec![
                "150020 [150021 117 mm[Hg], 150022 68 mm[Hg], 150023 84 mm[Hg]]",
                "149546 64 /min",
                "8410608 6 flags"
            ]
        );
        // A handle the table does not list is refused, naming the path and the handle, never the value.
        let unknown = serde_json::json!({"value": "FF000C000205100101010126", "handle": 16, "id": "CA:79:F5:B6:1F:04"});
        let error = compiled(GATT)
            .extract(&unknown, received(), *received().offset())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`@.handle` names handle 16, which `gatt.handles` does not list (52, 1041)"),
            "{error}"
        );
        assert!(!error.contains("FF000C"), "{error}");
        // A frame its decoder refuses is refused with the decoder's byte offset.
        let short = serde_json::json!({"value": "09", "handle": 52, "id": "63:B4:C5:46:5C:A2"});
        let error = compiled(GATT)
            .extract(&short, received(), *received().offset())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("mapping gw, record 0: `@.value` is not a valid value: characteristic 2A37"),
            "{error}"
        );
        let no_address = serde_json::json!({"value": "08560000", "handle": 52});
        let error = compiled(GATT)
            .extract(&no_address, received(), *received().offset())
            .unwrap_err()
            .to_string();
        assert!(error.contains("`@.id` found no Bluetooth address"), "{error}");
        assert!(file(&GATT.replace("\"2A37\"", "\"2A3\""))
            .unwrap_err()
            .contains("gatt.handles.52"));
        assert!(file(&GATT.replace("address = \"@.id\"\n", ""))
            .unwrap_err()
            .contains("device.address"));
        assert!(
            file(&format!("{GATT}[time]\ninstant = \"@.t\"\nformat = \"iso8601\"\n"))
                .unwrap_err()
                .contains("only `zone` or `zone_path`")
        );
    }

    #[test]
    fn a_value_written_as_byte_numbers_with_a_full_uuid_is_decoded() {
        // nRF Cloud's gateway protocol (nRFCloud/lte-gateway, ble_codec.c): the characteristic by UUID,
        // its value as a JSON array of byte numbers.
        let mapping = "name = \"nrf\"\nmatch = \"$.event.characteristic\"\n\
            when = { \"$.event.type\" = \"device_characteristic_value_changed\" }\n\
            [device]\naddress = \"$.event.device.address.address\"\n[gateway]\nid = \"$.gatewayId\"\n\
            [gatt]\nvalue = \"$.event.characteristic.value\"\nencoding = \"bytes\"\n\
            characteristic = \"$.event.characteristic.uuid\"\n";
        let payload: Json = serde_json::json!({"type": "event", "gatewayId": "gw-1", "requestId": null,
            "event": {"type": "device_characteristic_value_changed", "timestamp": "2020-02-20T16:01:37.544Z",
                "device": {"id": "D6:57:7D:CC:50:17", "address": {"address": "D6:57:7D:CC:50:17", "type": "random"}},
                "characteristic": {"uuid": "00002A3700001000800000805F9B34FB", "path": "180D/2A37", "value": [8, 86, 0, 0]}}});
        let (readings, _) = compiled(mapping)
            .extract(&payload, received(), *received().offset())
            .unwrap();
        assert_eq!(values(&readings), vec!["147842 86 /min"]);
        assert_eq!(readings[0].gateway.as_ref().unwrap().id, "gw-1");
        let mut wrong = payload.clone();
        wrong["event"]["characteristic"]["value"] = serde_json::json!([8, 300, 0, 0]);
        let error = compiled(mapping)
            .extract(&wrong, received(), *received().offset())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("item 1 is not a byte (a whole number from 0 to 255)"),
            "{error}"
        );
        // Another event type is not this mapping's: nothing to send.
        let mut other = payload.clone();
        other["event"]["type"] = serde_json::json!("device_connected");
        let (readings, _) = compiled(mapping)
            .extract(&other, received(), *received().offset())
            .unwrap();
        assert!(readings.is_empty());
    }

    #[test]
    fn an_array_of_samples_at_a_rate_is_a_waveform_kept_exactly() {
        let mapping = "name = \"ecg\"\nmatch = \"$.series\"\nrecords = \"$.series[*]\"\n\
            [time]\ninstant = \"@.timestamp\"\nformat = \"unix-seconds\"\n\
            [[measurements]]\nname = \"ECG\"\ncode = 131329\nsamples = \"@.ecg.signal.signal\"\n\
            rate = \"@.ecg.signal.sampling_frequency\"\nunit = \"uV\"\nrequired = true\n";
        let payload: Json = serde_json::json!({"series": [{"timestamp": 1700000000,
            "ecg": {"signal": {"signal": [-12, 0, 35, null, 1.5], "sampling_frequency": 500}}}]});
        let (readings, explanation) = compiled(mapping)
            .extract(&payload, received(), *received().offset())
            .unwrap();
        let Some(Value::Samples(series)) = &readings[0].measurements[0].value else {
            panic!("{:?}", readings[0].measurements[0].value)
        };
        assert_eq!(series.unit, "uV");
        assert_eq!(series.rate.per_second().to_string(), "500");
        assert_eq!(series.rate.period_ms(), ("2".parse().unwrap(), true));
        let samples: Vec<String> = series
            .samples
            .iter()
            .map(|s| match s {
                Sample::Value(v) => v.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(samples, vec!["-12", "0", "35", "Error", "1.5"]);
        assert!(
            explanation
                .steps
                .iter()
                .any(|s| s.contains("5 samples at 500 per second") && s.contains("1 of them null")),
            "{:?}",
            explanation.steps
        );
        // A rate that is no rate, and samples that are not numbers, are refused by path.
        let mut bad = payload.clone();
        bad["series"][0]["ecg"]["signal"]["sampling_frequency"] = serde_json::json!(0);
        let error = compiled(mapping)
            .extract(&bad, received(), *received().offset())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`@.ecg.signal.sampling_frequency` is not a rate of at least 1 sample per second"),
            "{error}"
        );
        bad["series"][0]["ecg"]["signal"]["sampling_frequency"] = serde_json::json!(0.1);
        let error = compiled(mapping)
            .extract(&bad, received(), *received().offset())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("is not a rate of at least 1 sample per second"),
            "{error}"
        );
        bad["series"][0]["ecg"]["signal"] = serde_json::json!({"signal": [1, "x"], "sampling_frequency": 500});
        let error = compiled(mapping)
            .extract(&bad, received(), *received().offset())
            .unwrap_err()
            .to_string();
        assert!(error.contains("item 1 is not a number"), "{error}");
        assert!(
            file(&mapping.replace("rate = \"@.ecg.signal.sampling_frequency\"\n", ""))
                .unwrap_err()
                .contains("needs their `rate`")
        );
        assert!(
            file(&mapping.replace("rate = \"@.ecg.signal.sampling_frequency\"", "rate = 0"))
                .unwrap_err()
                .contains("at least 1 sample per second")
        );
    }

    #[test]
    fn a_qualifier_of_a_measurement_left_out_is_left_out_too_and_mistakes_are_refused_when_compiled() {
        // Open mHealth's glucose: a statistic the bridge does not map leaves the meal context
        // qualifying nothing; it is not sent alone.
        let mapping = "name = \"g\"\nmatch = \"$.list\"\nrecords = \"$.list[*]\"\n\
            [time]\nstart = \"@.s\"\nend = \"@.e\"\nformat = \"unix-seconds\"\n\
            [[measurements]]\nname = \"glucose\"\ncode = 160184\nvalue = \"@.v\"\nunit = \"mg/dL\"\n\
            statistic = \"@.stat\"\n\
            [[measurements]]\nname = \"meal\"\ncode = 8417864\nvalue = \"@.meal\"\n\
            coded = { fasting = 8417876 }\nqualifies = \"glucose\"\n";
        let payload: Json = serde_json::json!({"list": [
            {"s": 1700000000, "e": 1700086400, "v": 95, "stat": "sum", "meal": "fasting"},
            {"s": 1700000000, "e": 1700086400, "v": 90, "stat": "minimum", "meal": "fasting"}]});
        let (readings, explanation) = compiled(mapping)
            .extract(&payload, received(), *received().offset())
            .unwrap();
        assert_eq!(readings.len(), 1, "the first record gives nothing");
        let kept = &readings[0].measurements;
        assert_eq!(values(&readings), vec!["160184 90 mg/dL", "8417864 coded 8417876"]);
        assert_eq!(kept[1].qualifies, Some(0));
        let reasons: Vec<(usize, &str, &str)> = explanation
            .dropped
            .iter()
            .map(|d| (d.record, d.measurement.as_str(), d.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert_eq!((reasons[0].0, reasons[0].1), (0, "glucose"));
        assert_eq!(
            reasons[1],
            (0, "meal", "it qualifies `glucose`, which the record does not give")
        );

        // What a mapping cannot mean is refused when it is compiled.
        assert!(
            file(&GATT.replace("[gatt]", "[[checks]]\npath = \"$.x\"\nrequired = true\n[gatt]"))
                .unwrap_err()
                .contains("does not read checks")
        );
        assert!(file(&format!("{GATT}[time]\nformat = \"iso8601\"\n"))
            .unwrap_err()
            .contains("only `zone` or `zone_path`"));
        let both = "name = \"t\"\nmatch = \"$.l\"\n[time]\ninstant = \"@.t\"\nformat = \"unix-seconds\"\n\
            [[measurements]]\ncode_in = \"http://loinc.org|20150-9 FEV1\"\nvalue = \"@.v\"\nunit = \"L\"\n\
            code_when = [{ when = { \"@.k\" = 1 }, code = 188736 }]\n";
        assert!(file(both).unwrap_err().contains("`code_when` picks an MDC code"));
        let bare = both
            .replace("code_in = \"http://loinc.org|20150-9 FEV1\"", "code_in = \"20150-9\"")
            .replace("code_when = [{ when = { \"@.k\" = 1 }, code = 188736 }]\n", "");
        assert!(file(&bare).unwrap_err().contains("system|code display"));
    }

    #[test]
    fn a_value_group_that_did_not_match_finds_nothing() {
        let field = Field::compile_text(
            &super::super::spec::FieldText::Capture(super::super::spec::CaptureSpec {
                path: "@.s".into(),
                regex: "(other:[0-9]+)|id:(?P<value>[0-9]+)".into(),
            }),
            "t",
        )
        .unwrap();
        assert_eq!(field.captured("id:42".into()), Some("42".into()));
        assert_eq!(
            field.captured("other:7".into()),
            None,
            "group 1 never stands in for `value`"
        );
    }

    #[test]
    fn values_of_one_device_in_one_payload_are_assembled_together() {
        // A glucose measurement and its context arrive as two records: paired as a hub's envelope's.
        let mapping = "name = \"gw\"\nmatch = \"$.data\"\nrecords = \"$.data[*]\"\n\
            [device]\naddress = \"@.id\"\n[gateway]\nid = \"$.gateway\"\n\
            [gatt]\nvalue = \"@.value\"\ncharacteristic = \"@.uuid\"\nencoding = \"base64\"\n";
        use base64::Engine;
        let b64 = |hex_text: &str| base64::engine::general_purpose::STANDARD.encode(hex::decode(hex_text).unwrap());
        // 2A18: flags 0x12 (concentration in kg/L with type and location; a context follows), seq 1,
        // 2026-11-21 08:30:00, 95 mg/dL (SFLOAT 0xB05F = 95e-5 kg/L), capillary whole blood from a finger;
        // 2A34: flags 0x02 (meal), seq 1, preprandial.
        let payload: Json = serde_json::json!({"gateway": "CC:1B:E0:E7:FE:F8", "data": [
            {"id": "C4:7C:8D:6A:1F:20", "uuid": "2A18", "value": b64("120100ea070b15081e005fb011")},
            {"id": "C4:7C:8D:6A:1F:20", "uuid": "2A34", "value": b64("02010001")}
        ]});
        let (readings, _) = compiled(mapping)
            .extract(&payload, received(), *received().offset())
            .unwrap();
        assert_eq!(readings.len(), 1);
        assert_eq!(readings[0].gateway.as_ref().unwrap().id, "CC:1B:E0:E7:FE:F8");
        let measurements = &readings[0].measurements;
        // The meter's sample location (finger) and the context's meal (preprandial) both qualify the
        // glucose value, as they do when a hub sends the two in one envelope.
        assert_eq!(
            values(&readings),
            vec!["160184 95 mg/dL", "8417844 coded 8417848", "8417864 coded 8417868"]
        );
        let qualified: Vec<Option<usize>> = measurements.iter().map(|m| m.qualifies).collect();
        assert_eq!(qualified, vec![None, Some(0), Some(0)]);
    }

    #[test]
    fn a_record_without_its_time_is_refused_with_the_mapping_record_and_path() {
        let payload: Json = serde_json::json!({"device": "D1", "user": "U1", "list": [{"v": 61}]});
        let received = DateTime::parse_from_rfc3339("2023-11-14T23:00:00Z").unwrap();
        let error = compiled(MAPPING)
            .extract(&payload, received, *received.offset())
            .unwrap_err()
            .to_string();
        assert!(error.contains("mapping t, record 0: `@.t`"), "{error}");
        assert!(!error.contains("61"), "never a value: {error}");
    }
}
