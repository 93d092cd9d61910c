//! Declarative mappings: vendor JSON and XML (WiFi devices, vendor clouds: Withings, iHealth,
//! Fitbit, Google Fit, Dexcom, Open mHealth, …) connected by writing a mapping file, not Rust. The
//! format is in [`spec`] and `mappings/README.md`; [`compile`] reads a file into a mapping that can
//! run, [`run`] runs it and explains what it did.

pub mod compile;
mod error;
pub mod run;
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

    pub fn mappings(&self) -> impl Iterator<Item = (&Path, &Compiled)> {
        self.mappings.iter().map(|(path, m)| (path.as_path(), m))
    }

    /// The readings of a payload, by the one mapping that matches it.
    pub fn read(
        &self,
        payload: &[u8],
        received_at: DateTime<FixedOffset>,
        default_offset: FixedOffset,
    ) -> Result<(Vec<Reading>, Explanation), DeclarativeError> {
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
        let mapping = match matching.as_slice() {
            [one] => *one,
            [] => {
                return Err(DeclarativeError::NoMapping {
                    tried: self
                        .mappings
                        .iter()
                        .filter(|(_, m)| m.file.payload == format)
                        .map(|(_, m)| m.name().to_string())
                        .collect(),
                })
            }
            many => {
                return Err(DeclarativeError::Ambiguous(
                    many.iter().map(|m| m.name().to_string()).collect(),
                ))
            }
        };
        let (readings, explanation) = mapping.extract(&json, received_at, default_offset)?;
        // No record at all is a normal answer of a poll with nothing new: nothing to send. Records
        // that gave nothing are not: each was left out for a reason, and the payload says so.
        if readings.is_empty() && explanation.records > 0 {
            let reasons: Vec<String> = explanation
                .dropped
                .iter()
                .map(|d| format!("record {} {}: {}", d.record, d.measurement, d.reason))
                .collect();
            return Err(DeclarativeError::NoMeasurements {
                mapping: mapping.name().to_string(),
                reasons,
            });
        }
        Ok((readings, explanation))
    }
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
