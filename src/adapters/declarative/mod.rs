//! Declarative mappings: vendor JSON and XML (WiFi devices, vendor clouds: Withings, iHealth,
//! Fitbit, Google Fit, Dexcom, Open mHealth, …) connected by writing a mapping file, not Rust. The
//! format is in [`spec`] and `mappings/README.md`; [`compile`] reads a file into a mapping that can
//! run, [`run`] runs it and explains what it did.

pub mod compile;
mod error;
pub mod run;
mod simple_path;
pub mod spec;
pub mod time;
pub mod units;
pub mod xml;

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

pub use compile::Compiled;
pub use error::DeclarativeError;
pub use run::{Dropped, Explanation};
pub use spec::SpecError;

use crate::model::Reading;

/// The loaded mappings.
#[derive(Debug, Clone, Default)]
pub struct DeclarativeMappings {
    mappings: Vec<(PathBuf, Compiled)>,
}

impl DeclarativeMappings {
    /// One mapping file, or every mapping file (`*.toml`, `*.mapping.json`) in a directory.
    pub fn load(path: &Path) -> Result<DeclarativeMappings, SpecError> {
        let files = mapping_files(path, false)?;
        let mut mappings = Vec::new();
        for file in files {
            let spec = spec::read_file(&file)?;
            let compiled = Compiled::new(spec).map_err(|message| SpecError {
                file: file.display().to_string(),
                message,
            })?;
            if let Some((other, _)) = mappings
                .iter()
                .find(|(_, m): &&(PathBuf, Compiled)| m.name() == compiled.name())
            {
                return Err(SpecError {
                    file: file.display().to_string(),
                    message: format!("name {:?} is already used by {}", compiled.name(), other.display()),
                });
            }
            mappings.push((file, compiled));
        }
        Ok(DeclarativeMappings { mappings })
    }

    /// Mappings compiled elsewhere (tests, the console's playground).
    pub fn of(mappings: Vec<(PathBuf, Compiled)>) -> DeclarativeMappings {
        DeclarativeMappings { mappings }
    }

    pub fn mappings(&self) -> impl Iterator<Item = (&Path, &Compiled)> {
        self.mappings.iter().map(|(path, m)| (path.as_path(), m))
    }

    /// The readings of a payload, by the mapping that matches it, or by several whose records do not
    /// overlap (a phone's health export: weight, height and heart rate records side by side, each
    /// taken by its own mapping's `when`).
    pub fn read(
        &self,
        payload: &[u8],
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
    ) -> Result<(Vec<Reading>, Explanation), DeclarativeError> {
        let (result, explanation) = self.read_explained(payload, received_at, default_offset);
        result.map(|readings| (readings, explanation.unwrap_or_default()))
    }

    /// As [`DeclarativeMappings::read`], with what the mappings did also when the payload is refused;
    /// no explanation when no mapping could be chosen.
    pub fn read_explained(
        &self,
        payload: &[u8],
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
    ) -> (Result<Vec<Reading>, DeclarativeError>, Option<Explanation>) {
        let chosen = match self.choose(payload) {
            Ok(chosen) => chosen,
            Err(error) => return (Err(error), None),
        };
        let (json, mappings) = chosen;
        let mut explanation = Explanation {
            mapping: mappings.iter().map(|m| m.name()).collect::<Vec<_>>().join(", "),
            ..Explanation::default()
        };
        let mut readings = Vec::new();
        for mapping in &mappings {
            let mut own = Explanation {
                mapping: mapping.name().to_string(),
                ..Explanation::default()
            };
            let result = mapping.extract_into(&json, received_at, default_offset, &mut own);
            explanation.merge(own, mappings.len() > 1);
            match result {
                Ok(taken) => readings.extend(taken),
                Err(error) => return (Err(error), Some(explanation)),
            }
        }
        // No record at all is a normal answer of a poll with nothing new: nothing to send. Records
        // that gave nothing are not: each was left out for a reason, and the payload says so.
        if readings.is_empty() && explanation.records > 0 {
            let reasons: Vec<String> = explanation
                .dropped
                .iter()
                .map(|d| format!("record {} {}: {}", d.record, d.measurement, d.reason))
                .collect();
            let error = DeclarativeError::NoMeasurements {
                mapping: explanation.mapping.clone(),
                reasons,
            };
            return (Err(error), Some(explanation));
        }
        (Ok(readings), Some(explanation))
    }

    /// The payload as a tree, and the mappings that take it: one, or several whose records are
    /// disjoint.
    fn choose(&self, payload: &[u8]) -> Result<(serde_json::Value, Vec<&Compiled>), DeclarativeError> {
        let is_xml = xml::looks_like_xml(payload);
        let json: serde_json::Value = if is_xml {
            xml::to_json(payload).map_err(DeclarativeError::Xml)?
        } else {
            serde_json::from_slice(payload).map_err(|e| DeclarativeError::Json(crate::privacy::json_error(&e)))?
        };
        let format = if is_xml {
            spec::PayloadFormat::Xml
        } else {
            spec::PayloadFormat::Json
        };
        let matching: Vec<&Compiled> = self
            .mappings
            .iter()
            .map(|(_, m)| m)
            .filter(|m| m.file.payload == format && m.matches(&json))
            .collect();
        match matching.as_slice() {
            [] => Err(self.no_mapping(format)),
            [_] => Ok((json, matching)),
            many => {
                // Several mappings may share a payload when no record is taken by two of them, nor
                // one record inside another's (`$.data[*]` and `$.data[*].values[*]`).
                let taken: Vec<(&Compiled, std::collections::BTreeMap<String, usize>)> = many
                    .iter()
                    .map(|m| {
                        let records = m.records_of(&json).1;
                        (*m, records.into_iter().map(|r| (r.pointer, r.position)).collect())
                    })
                    .collect();
                for (i, (a, a_records)) in taken.iter().enumerate() {
                    for (b, b_records) in taken.iter().skip(i + 1) {
                        if let Some(position) = overlap(a_records, b_records) {
                            return Err(DeclarativeError::Ambiguous {
                                mappings: vec![a.name().to_string(), b.name().to_string()],
                                record: position,
                            });
                        }
                    }
                }
                Ok((json, matching))
            }
        }
    }

    /// Why no mapping took a payload of `format`: the ones tried, and the ones skipped and why.
    fn no_mapping(&self, format: spec::PayloadFormat) -> DeclarativeError {
        let (tried, skipped): (Vec<&Compiled>, Vec<&Compiled>) = self
            .mappings
            .iter()
            .map(|(_, m)| m)
            .partition(|m| m.file.payload == format);
        let (this, other) = match format {
            spec::PayloadFormat::Xml => ("XML", "JSON"),
            spec::PayloadFormat::Json => ("JSON", "XML"),
        };
        DeclarativeError::NoMapping {
            payload: this,
            tried: tried.iter().map(|m| m.name().to_string()).collect(),
            skipped: skipped.iter().map(|m| format!("{} ({other} only)", m.name())).collect(),
        }
    }
}

/// The position (among the first mapping's records) of a record that the other mapping also takes,
/// or that holds or is held by one of its records. Records are told apart by their JSON Pointer; a
/// pointer's ancestors are its prefixes, so the check costs the records' depth, not their product.
fn overlap(
    a: &std::collections::BTreeMap<String, usize>,
    b: &std::collections::BTreeMap<String, usize>,
) -> Option<usize> {
    let ancestors = |pointer: &str| -> Vec<String> {
        let mut prefixes = vec![pointer.to_string()];
        let mut rest = pointer;
        while let Some(cut) = rest.rfind('/') {
            rest = &rest[..cut];
            prefixes.push(rest.to_string());
        }
        prefixes
    };
    for (pointer, position) in a {
        if ancestors(pointer).iter().any(|p| b.contains_key(p)) {
            return Some(*position);
        }
    }
    for pointer in b.keys() {
        if let Some(position) = ancestors(pointer).iter().find_map(|p| a.get(p)) {
            return Some(*position);
        }
    }
    None
}

/// A fhirgate mapping file by its name (`*.toml`, `*.mapping.json`), as opposed to a MedTech template
/// or other JSON beside it.
pub fn is_mapping_file(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.ends_with(".toml") || name.ends_with(".mapping.json")
}

/// The mapping files at `path` (a file, or the top level of a directory), sorted: `*.toml` and
/// `*.mapping.json`, and with `any_json` every `*.json` (MedTech templates, for `mappings check`).
pub fn mapping_files(path: &Path, any_json: bool) -> Result<Vec<PathBuf>, SpecError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| SpecError {
        file: path.display().to_string(),
        message: format!("cannot read the mapping directory: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && (is_mapping_file(p) || (any_json && p.extension().is_some_and(|e| e == "json"))))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(toml: &str) -> (PathBuf, Compiled) {
        let compiled = Compiled::new(spec::parse_text(toml, false).unwrap()).unwrap();
        (PathBuf::from(format!("{}.toml", compiled.name())), compiled)
    }

    fn body(name: &str, kind: &str, code: u32, unit: &str) -> String {
        format!(
            "name = \"{name}\"\nmatch = \"$.records\"\nrecords = \"$.records[*]\"\n\
             when = {{ \"@.type\" = \"{kind}\" }}\n[patient]\nsystem = \"urn:x\"\nid = \"$.user\"\n\
             [time]\ninstant = \"@.t\"\nformat = \"unix-seconds\"\n\
             [[measurements]]\ncode = {code}\nvalue = \"@.v\"\nunit = \"{unit}\"\n"
        )
    }

    #[test]
    fn mappings_whose_records_do_not_overlap_share_a_payload_and_overlapping_ones_are_named() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap();
        let payload = br#"{"user": "u1", "records": [
            {"type": "weight", "t": 1700000000, "v": 72.5},
            {"type": "height", "t": 1700000000, "v": 178},
            {"type": "steps", "t": 1700000000, "v": 4000}]}"#;
        let both = DeclarativeMappings::of(vec![
            mapping(&body("w", "weight", 188736, "kg")),
            mapping(&body("h", "height", 188740, "cm")),
        ]);
        let (readings, explanation) = both.read(payload, at, *at.offset()).unwrap();
        let codes: Vec<u32> = readings
            .iter()
            .flat_map(|r| &r.measurements)
            .map(|m| m.code.0)
            .collect();
        assert_eq!(codes, vec![188736, 188740]);
        assert_eq!(explanation.mapping, "w, h");
        assert_eq!(explanation.records, 2, "the steps record is neither's");
        assert!(
            explanation.steps.iter().any(|s| s.starts_with("h: records")),
            "{:?}",
            explanation.steps
        );
        // Two mappings that take the same record are refused, naming both and the record.
        let clash = DeclarativeMappings::of(vec![
            mapping(&body("w", "weight", 188736, "kg")),
            mapping(&body("w2", "weight", 188736, "kg")),
        ]);
        let error = clash.read(payload, at, *at.offset()).unwrap_err().to_string();
        assert_eq!(
            error,
            "mappings w and w2 both take record 0 of w's `records` (or a record inside it); make their `match`, \
             `records` or `when` exclusive"
        );
        // A record inside another mapping's record is taken twice as well.
        let outer = "name = \"outer\"\nmatch = \"$.records\"\nrecords = \"$.records[*]\"\n\
            [patient]\nsystem = \"urn:x\"\nid = \"$.user\"\n[time]\ninstant = \"@.t\"\nformat = \"unix-seconds\"\n\
            [[measurements]]\ncode = 188736\nvalue = \"@.v\"\nunit = \"kg\"\n";
        let inner = outer
            .replace("name = \"outer\"", "name = \"inner\"")
            .replace("records = \"$.records[*]\"", "records = \"$.records[*].t\"");
        let nested = DeclarativeMappings::of(vec![mapping(outer), mapping(&inner)]);
        let error = nested.read(payload, at, *at.offset()).unwrap_err().to_string();
        assert!(
            error.starts_with("mappings outer and inner both take record 0"),
            "{error}"
        );
    }

    #[test]
    fn no_mapping_says_which_were_tried_and_which_skipped_and_why() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap();
        let xml = body("x", "weight", 188736, "kg").replace("name = \"x\"\n", "name = \"x\"\npayload = \"xml\"\n");
        let only_xml = DeclarativeMappings::of(vec![mapping(&xml)]);
        let error = only_xml
            .read(br#"{"other": 1}"#, at, *at.offset())
            .unwrap_err()
            .to_string();
        assert_eq!(error, "no mapping takes JSON payloads; skipped: x (XML only)");
        let mixed = DeclarativeMappings::of(vec![mapping(&xml), mapping(&body("w", "weight", 188736, "kg"))]);
        let error = mixed
            .read(br#"{"other": 1}"#, at, *at.offset())
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "no mapping matches the JSON payload (tried: w); skipped: x (XML only)"
        );
        let none = DeclarativeMappings::default();
        let error = none.read(br#"{"other": 1}"#, at, *at.offset()).unwrap_err().to_string();
        assert_eq!(
            error,
            "no mapping takes JSON payloads (no mapping is loaded: check the mapping directory)"
        );
    }

    #[test]
    fn a_refused_payload_still_explains_what_the_mapping_did() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap();
        let one = DeclarativeMappings::of(vec![mapping(&body("w", "weight", 188736, "kg"))]);
        let payload = br#"{"user": "u1", "records": [{"type": "weight", "t": 1700000000, "v": "heavy"}]}"#;
        let (result, explanation) = one.read_explained(payload, at, *at.offset());
        let error = result.unwrap_err().to_string();
        assert_eq!(error, "mapping w, record 0: `@.v` is not a number");
        let explanation = explanation.expect("the trace up to the refusal");
        assert!(
            explanation.steps.iter().any(|s| s.starts_with("record 0: time `@.t`")),
            "{:?}",
            explanation.steps
        );
    }
}
