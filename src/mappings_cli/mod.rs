//! The `fhirgate mappings` commands, so declarative mappings are checked and tested in CI like code:
//! `check` validates every file against the format and the code table, `test` runs each mapping's
//! test cases and compares the Bundles with the expected ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};

pub mod checks;
pub mod code_table;

use crate::adapters::declarative::spec::{self, MeasurementSpec};
use crate::adapters::declarative::{Compiled, DeclarativeMappings, Explanation};
use crate::adapters::AdapterKind;
use crate::model::MdcCode;
use crate::pipeline::{map_payload, MapSettings};
use checks::unit_mismatch;

/// The outcome of a command: what to print, and whether it failed.
#[derive(Debug, Default)]
pub struct Report {
    pub text: String,
    pub failed: bool,
}

impl Report {
    fn line(&mut self, text: impl AsRef<str>) {
        self.text.push_str(text.as_ref());
        self.text.push('\n');
    }

    fn error(&mut self, text: impl AsRef<str>) {
        self.failed = true;
        self.line(format!("error: {}", text.as_ref()));
    }
}

/// The receipt time and offset tests run with, so expected Bundles never depend on the clock.
pub fn test_clock() -> (DateTime<Utc>, FixedOffset) {
    let now = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default();
    (now, FixedOffset::east_opt(0).unwrap_or(Utc.fix()))
}

use chrono::Offset;

/// Every file `check` and `test` look at.
fn files(path: &Path) -> Result<Vec<PathBuf>, String> {
    crate::adapters::declarative::mapping_files(path, true).map_err(|e| e.to_string())
}

/// The `templateType` at the root of an Azure MedTech template file, if it is one.
fn medtech_kind(file: &Path) -> Option<(String, serde_json::Value)> {
    if file.extension().is_none_or(|e| e != "json") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let kind = value.get("templateType")?.as_str()?.to_string();
    Some((kind, value))
}

/// `fhirgate mappings check`.
pub fn check(path: &Path) -> Report {
    let mut report = Report::default();
    let files = match files(path) {
        Ok(files) => files,
        Err(message) => {
            report.error(message);
            return report;
        }
    };
    if files.is_empty() {
        report.error(format!("{}: no mapping files (*.toml, *.mapping.json)", path.display()));
    }
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for file in files {
        if let Some((kind, template)) = medtech_kind(&file) {
            check_medtech(&file, &kind, &template, &mut report);
            continue;
        }
        if !crate::adapters::declarative::is_mapping_file(&file) {
            continue;
        }
        let spec = match spec::read_file(&file) {
            Ok(spec) => spec,
            Err(error) => {
                report.error(error.to_string());
                continue;
            }
        };
        if let Some((_, other)) = names.iter().find(|(name, _)| name == &spec.name) {
            report.error(format!(
                "{}: name {:?} is already used by {}",
                file.display(),
                spec.name,
                other.display()
            ));
        }
        names.push((spec.name.clone(), file.clone()));
        let mut problems = Vec::new();
        for (i, measurement) in spec.measurements.iter().enumerate() {
            unit_problems(measurement, &format!("measurements[{i}]"), &mut problems);
        }
        let tests = spec.tests.len();
        let measurements = spec.measurements.len();
        if let Err(message) = Compiled::new(spec) {
            problems.insert(0, message);
        }
        if problems.is_empty() {
            report.line(format!(
                "ok {}: {measurements} measurements, {tests} tests",
                file.display()
            ));
            if tests == 0 {
                report.line(format!("warning: {}: no [[tests]]", file.display()));
            }
        }
        for problem in problems {
            report.error(format!("{}: {problem}", file.display()));
        }
    }
    report
}

/// A MedTech template: its codes checked against the code table. (fhirgate reads MedTech templates for
/// checking; running them is not built yet, see the README.)
fn check_medtech(file: &Path, kind: &str, template: &serde_json::Value, report: &mut Report) {
    match kind {
        "CollectionFhir" => {
            let findings = checks::check_medtech_fhir(template);
            if findings.is_empty() {
                report.line(format!("ok {}: MedTech FHIR destination mapping", file.display()));
            }
            for finding in findings {
                if finding.error {
                    report.error(format!("{}: {}", file.display(), finding.message));
                } else {
                    report.line(format!("warning: {}: {}", file.display(), finding.message));
                }
            }
        }
        "CollectionContent" => {
            let (findings, type_names) = checks::check_medtech_device(template);
            if findings.is_empty() {
                report.line(format!(
                    "ok {}: MedTech device mapping ({})",
                    file.display(),
                    type_names.join(", ")
                ));
            }
            for finding in findings {
                report.error(format!("{}: {}", file.display(), finding.message));
            }
            // MedTech refuses a measurement whose type has no FHIR template (TemplateNotFoundException).
            let fhir_names: Vec<String> = file
                .parent()
                .and_then(|dir| files(dir).ok())
                .unwrap_or_default()
                .iter()
                .filter_map(|other| medtech_kind(other))
                .filter(|(kind, _)| kind == "CollectionFhir")
                .flat_map(|(_, fhir)| checks::medtech_fhir_type_names(&fhir))
                .collect();
            if !fhir_names.is_empty() {
                for name in type_names {
                    if !fhir_names.iter().any(|f| f.eq_ignore_ascii_case(&name)) {
                        report.error(format!(
                            "{}: typeName {name:?} has no CodeValueFhir template in the FHIR destination mapping beside it",
                            file.display()
                        ));
                    }
                }
            }
        }
        other => report.error(format!("{}: unknown MedTech templateType {other:?}", file.display())),
    }
}

/// Units a measurement can end up in, checked against its code.
fn unit_problems(m: &MeasurementSpec, what: &str, problems: &mut Vec<String>) {
    let mut units: Vec<&str> = match &m.convert_to {
        Some(to) => vec![to.as_str()],
        None => m
            .unit
            .iter()
            .map(String::as_str)
            .chain(m.units.values().map(String::as_str))
            .collect(),
    };
    units.dedup();
    // A `code_when` case's code takes the same value, so it must fit the same units.
    let codes = std::iter::once(m.code).chain(m.code_when.iter().map(|case| case.code));
    for code in codes {
        for unit in &units {
            if let Some(problem) = unit_mismatch(MdcCode(code), unit) {
                problems.push(format!("{what}: {problem}"));
            }
        }
    }
    for (i, component) in m.components.iter().enumerate() {
        unit_problems(component, &format!("{what}.components[{i}]"), problems);
    }
}

/// `fhirgate mappings test`; with `update`, writes the expected Bundles instead of comparing (read
/// every one before committing it).
pub fn test(path: &Path, update: bool) -> Report {
    let mut report = Report::default();
    let files = match files(path) {
        Ok(files) => files,
        Err(message) => {
            report.error(message);
            return report;
        }
    };
    let (now, offset) = test_clock();
    // As the bridge loads them: every payload must be taken by its own mapping alone.
    let all = if path.is_dir() {
        DeclarativeMappings::load(path).ok()
    } else {
        None
    };
    let total = files.len();
    // On a terminal, a progress line: a directory of many mappings takes a while.
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr()) && total > 1;
    for (n, file) in files.into_iter().enumerate() {
        if progress {
            eprint!("\rtesting {} of {total} ", n + 1);
        }
        if !crate::adapters::declarative::is_mapping_file(&file) {
            continue;
        }
        let declarative = match DeclarativeMappings::load(&file) {
            Ok(declarative) => declarative,
            Err(error) => {
                report.error(error.to_string());
                continue;
            }
        };
        let Some((_, mapping)) = declarative.mappings().next() else {
            continue;
        };
        let cases = mapping.file.tests.clone();
        let name = mapping.name().to_string();
        let settings = MapSettings {
            default_utc_offset: offset,
            declarative: Arc::new(declarative),
            ..MapSettings::default()
        };
        let base = file.parent().unwrap_or(Path::new("."));
        for case in cases {
            let label = format!("{name} {}", case.payload);
            let payload = match std::fs::read(base.join(&case.payload)) {
                Ok(payload) => payload,
                Err(error) => {
                    report.error(format!("{label}: cannot read the payload: {error}"));
                    continue;
                }
            };
            if let Some(all) = &all {
                if let Err(error @ crate::adapters::declarative::DeclarativeError::Ambiguous { .. }) =
                    all.read(&payload, now.fixed_offset(), offset)
                {
                    report.error(format!("{label}: with the whole directory, {error}"));
                    continue;
                }
            }
            let result = map_case(&payload, &settings, now, case.patient.as_deref());
            match (&case.expected, &case.error, result) {
                (_, Some(wanted), Err(error)) => {
                    if error.to_string().contains(wanted.as_str()) {
                        report.line(format!("ok {label}: refused as expected"));
                    } else {
                        report.error(format!("{label}: refused, but with \"{error}\", not \"{wanted}\""));
                    }
                }
                (_, Some(wanted), Ok(_)) => {
                    report.error(format!("{label}: mapped, but should be refused (\"{wanted}\")"))
                }
                (Some(expected), None, Ok(json)) => {
                    let expected_path = base.join(expected);
                    if update {
                        match std::fs::write(&expected_path, format!("{json}\n")) {
                            Ok(()) => report.line(format!("updated {}", expected_path.display())),
                            Err(error) => report.error(format!("{label}: cannot write: {error}")),
                        }
                        continue;
                    }
                    match compare(&expected_path, &json) {
                        Ok(()) => report.line(format!("ok {label}")),
                        Err(difference) => report.error(format!("{label}: {difference}")),
                    }
                }
                (Some(_), None, Err(error)) => report.error(format!("{label}: refused: {error}")),
                (None, None, _) => report.error(format!("{label}: give `expected` or `error`")),
            }
        }
    }
    if progress {
        eprintln!();
    }
    report
}

/// Maps a test payload, giving readings without a patient the case's patient (as an association would).
fn map_case(
    payload: &[u8],
    settings: &MapSettings,
    now: DateTime<Utc>,
    patient: Option<&str>,
) -> Result<String, crate::pipeline::MapError> {
    let Some((system, value)) = patient.and_then(|p| p.split_once('|')) else {
        return map_payload(AdapterKind::Declarative, payload, settings, now);
    };
    let mut readings = crate::pipeline::associated_readings(AdapterKind::Declarative, payload, settings, now)?;
    for reading in &mut readings {
        if reading.patient.is_none() {
            reading.patient = Some(crate::model::PatientRef {
                system: system.to_string(),
                value: value.to_string(),
            });
        }
    }
    crate::pipeline::bundle_json(&readings, settings)
}

/// Compares a Bundle with the expected file; the first line that differs.
fn compare(expected_path: &Path, actual: &str) -> Result<(), String> {
    let expected_text = std::fs::read_to_string(expected_path).map_err(|e| {
        format!(
            "cannot read {}: {e} (run with --update to write it)",
            expected_path.display()
        )
    })?;
    let expected: serde_json::Value =
        serde_json::from_str(&expected_text).map_err(|e| format!("{} is not JSON: {e}", expected_path.display()))?;
    let actual_value: serde_json::Value = serde_json::from_str(actual).map_err(|e| e.to_string())?;
    // Text first: `1.930` and `1.93` are the same number to JSON but not the same precision.
    if expected_text.trim() == actual.trim() {
        return Ok(());
    }
    let expected_pretty = serde_json::to_string_pretty(&expected).unwrap_or_default();
    let actual_pretty = serde_json::to_string_pretty(&actual_value).unwrap_or_default();
    let line = expected_pretty
        .lines()
        .zip(actual_pretty.lines())
        .enumerate()
        .find(|(_, (e, a))| e != a)
        .map(|(n, (e, a))| format!("line {}: expected `{}`, got `{}`", n + 1, e.trim(), a.trim()))
        .unwrap_or_else(|| "the Bundles differ in length or in the precision of a number".into());
    Err(format!("differs from {}: {line}", expected_path.display()))
}

/// `--explain`'s report.
pub fn explanation_text(explanation: &Explanation) -> String {
    let mut text = format!("mapping: {}\nrecords: {}\n", explanation.mapping, explanation.records);
    for step in &explanation.steps {
        text.push_str(&format!("  {step}\n"));
    }
    if !explanation.dropped.is_empty() {
        text.push_str("left out:\n");
        for dropped in &explanation.dropped {
            text.push_str(&format!(
                "  record {} {}: {}\n",
                dropped.record, dropped.measurement, dropped.reason
            ));
        }
    }
    if !explanation.unknown_codes.is_empty() {
        text.push_str("unknown vendor codes (ignored):\n");
        for (code, count) in &explanation.unknown_codes {
            text.push_str(&format!("  {code}: {count}\n"));
        }
    }
    text
}
