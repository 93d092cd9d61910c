//! The mapping file format (TOML, or the same structure as JSON): what an integration engineer writes
//! to connect a vendor's JSON without Rust. `mappings/README.md` documents it with a worked example.
//!
//! A string field that starts with `$` is a JSONPath (RFC 9535) into the whole payload; one that starts
//! with `@` is a JSONPath relative to the current record (`@.date` is the record's `date`); any other
//! string is a literal.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer};
use serde_json_path::JsonPath;
use thiserror::Error;

/// A mapping file that cannot be used, with where (line and column for TOML) and why.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{file}: {message}")]
pub struct SpecError {
    pub file: String,
    pub message: String,
}

/// One mapping file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// Unique among the loaded mappings; shown by `--explain` and in errors.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// What the vendor posts: `json` (default) or `xml` (read as the tree `xml.rs` describes).
    #[serde(default)]
    pub payload: PayloadFormat,
    /// A JSONPath that selects something in every payload this mapping is for (and in no other).
    #[serde(rename = "match")]
    pub match_path: String,
    /// The records: each node this JSONPath selects is one reading (fan-out). Default: the payload.
    #[serde(default = "whole_payload")]
    pub records: String,
    #[serde(default)]
    pub device: DeviceSpec,
    /// Absent: the payload names no patient (a device-patient association supplies it).
    #[serde(default)]
    pub patient: Option<PatientSpec>,
    pub time: TimeSpec,
    /// Rules a record must meet, or the payload is refused (a vendor's enumerations, say).
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// Vendor type codes this mapping knows; others are ignored and counted.
    #[serde(default)]
    pub unknown_codes: Option<UnknownCodesSpec>,
    pub measurements: Vec<MeasurementSpec>,
    /// Where on the body, in which position, the person's note: given to every measurement of the
    /// record.
    #[serde(default)]
    pub circumstances: CircumstancesSpec,
    /// Test cases: payload files (relative to the mapping file) and the Bundle each must produce.
    #[serde(default)]
    pub tests: Vec<TestCase>,
}

fn whole_payload() -> String {
    "$".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    #[default]
    Json,
    Xml,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    /// The device's id as the vendor gives it (path or literal).
    pub id: Option<String>,
    /// Where that id is unique (the identifier system), e.g. `https://withings.com/device-id`.
    pub system: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientSpec {
    /// The identifier system of the patient id.
    pub system: String,
    /// The patient id (path or literal).
    pub id: String,
}

/// How a time string or number is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeFormat {
    /// RFC 3339 / ISO 8601 date-time; without an offset, the zone rule applies.
    Iso8601,
    UnixSeconds,
    UnixMillis,
    /// Unix nanoseconds (Google Fit sends them as strings).
    UnixNanos,
    /// Seconds since 1970 that encode the *local* wall clock (iHealth `MDate`): the digits are local
    /// time, the zone rule gives the offset.
    LocalUnixSeconds,
    /// Text in the mapping's `pattern` (strftime-like, chrono's syntax: `%m/%d/%Y %I:%M:%S %p` for
    /// `12/30/2022 4:50:40 AM`). With an offset in the pattern (`%z`, `%:z`) the text's offset is
    /// taken; without one, the zone rule applies.
    Pattern,
}

/// Where a record's series is and how its times follow from it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    /// The object (`{"55740": 93}`: 93 at 55,740 s after the record's time) or array of values.
    pub members: String,
    /// For an array: the time between items, in `unit`s.
    pub interval: Option<u32>,
    /// What a member name or the interval counts: `seconds` (default) or `minutes`.
    #[serde(default)]
    pub unit: SeriesUnit,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesUnit {
    #[default]
    Seconds,
    Minutes,
}

/// One place the vendor states quality, and what its answers mean.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityPathSpec {
    pub path: String,
    /// Vendor answer → flag (`{ true = "above-range" }`).
    pub quality: BTreeMap<String, String>,
}

/// The unit of a `zone_path` value that is a bare number (`measurementTimeOffsetInSeconds: -18000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneUnit {
    Hours,
    Minutes,
    Seconds,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    /// An instant.
    pub instant: Option<String>,
    /// A time of day to join to a date-only `instant` (Fitbit's `date` + `time`).
    pub time_of_day: Option<String>,
    /// A period: `start` with `end` or `duration`, or `end` with `duration`.
    pub start: Option<String>,
    pub end: Option<String>,
    /// A duration: seconds as a number, or an object `{value, unit}` (Open mHealth).
    pub duration: Option<String>,
    pub format: TimeFormat,
    /// The pattern of `format = "pattern"`.
    pub pattern: Option<String>,
    /// The UTC offset for times written without one: `+01:00`, `-0800`, `Z`.
    pub zone: Option<String>,
    /// Where the payload states the offset (`-0800`, `+01:00`, or whole hours such as `-8`).
    pub zone_path: Option<String>,
    /// What a bare number at `zone_path` counts: `hours` (the default), `minutes` or `seconds`.
    pub zone_unit: Option<ZoneUnit>,
    /// Without a time the record is refused (default); with `false` the receipt time is used.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub path: String,
    /// When the path finds a value, it must be one of these.
    #[serde(default, deserialize_with = "strings")]
    pub one_of: Vec<String>,
    /// The path must find something.
    #[serde(default)]
    pub required: bool,
    /// The path must find nothing: what it finds is something the mapping does not take.
    #[serde(default)]
    pub forbidden: bool,
    /// Why, in the refusal (for `forbidden` and `one_of`).
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownCodesSpec {
    /// Every vendor code in a record.
    pub path: String,
    /// The codes this mapping maps.
    #[serde(deserialize_with = "strings")]
    pub known: Vec<String>,
}

/// A measurement (or, inside `components`, one component of it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasurementSpec {
    /// For people: shown by `--explain` and in reasons.
    #[serde(default)]
    pub name: String,
    /// The MDC code (numeric, e.g. 188736 for body weight); LOINC and display come from the code table.
    pub code: u32,
    /// Other codes for what the payload says about the measurement (a glucose reading's sample:
    /// capillary blood, plasma, interstitial fluid). The first case whose fields all hold their values
    /// gives the code; none does, `code`.
    #[serde(default)]
    pub code_when: Vec<CodeCase>,
    /// The MDC reference id (`MDC_FLOW_FLUID_PUMP`), for a code the code table does not hold: it becomes
    /// the coding's display, as for HL7 v2 devices.
    pub reference_id: Option<String>,
    /// The value (path or literal). A compound measurement (blood pressure) has none, only components.
    pub value: Option<String>,
    /// A power of ten to multiply the value by (Withings' `unit`: value × 10^unit).
    pub exponent: Option<String>,
    /// The UCUM unit of the value as sent.
    pub unit: Option<String>,
    /// Where the payload names the unit; `units` translates it to UCUM.
    pub unit_path: Option<String>,
    /// Vendor unit → UCUM (`"mmHg" = "mm[Hg]"`, `"0" = "kg"`). With `unit_path`, a unit not listed
    /// here refuses the payload.
    #[serde(default)]
    pub units: BTreeMap<String, String>,
    /// Convert to this UCUM unit (lb→kg, °F→Cel, mg/dL↔mmol/L for glucose, …).
    pub convert_to: Option<String>,
    /// Vendor values that mean "no value" (iHealth sends 0).
    #[serde(default, deserialize_with = "strings")]
    pub absent_when: Vec<String>,
    /// Where the vendor says how good the value is (Dexcom `status`), and what each answer means:
    /// `{ low = "below-range", high = "above-range" }` (flags: invalid, questionable,
    /// calibration-ongoing, test-data, demo-data, early-estimate, below-range, above-range).
    pub quality_path: Option<String>,
    #[serde(default)]
    pub quality: BTreeMap<String, String>,
    /// More places the vendor states quality, each with its own answers (LibreLinkUp's `isHigh` and
    /// `isLow`): every flag any of them gives is kept.
    #[serde(default)]
    pub quality_paths: Vec<QualityPathSpec>,
    /// A series in one record: each member of an object (its name the time after the record's) or
    /// each item of an array (`interval` apart) is one reading at its own time, its value `@`.
    pub series: Option<SeriesSpec>,
    /// A missing required value drops the measurement with a recorded reason. Components are required
    /// unless they say otherwise.
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub components: Vec<MeasurementSpec>,
    /// A coded value instead of a number: the vendor's value → the MDC code it means
    /// (`{ Before_breakfast = 8417868 }`). A value not listed is left out, with the reason.
    #[serde(default)]
    pub coded: BTreeMap<String, u32>,
    /// The `name` of the measurement of the same record this one qualifies (a meal context qualifies
    /// the glucose reading): the Observation is linked to it by `derivedFrom`, as for Bluetooth meters.
    pub qualifies: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircumstancesSpec {
    /// `Observation.bodySite`.
    pub body_site: Option<TermSpec>,
    /// The `observation-bodyPosition` extension.
    pub body_position: Option<TermSpec>,
    /// The path of the person's own note: `Observation.note`.
    pub note: Option<String>,
    /// Where the vendor says the person typed the value in, and the values that say so:
    /// `{ path = "@.DataSource", when = ["Manual"] }`.
    pub self_reported: Option<SelfReportedSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfReportedSpec {
    pub path: String,
    #[serde(deserialize_with = "strings")]
    pub when: Vec<String>,
}

/// A vendor's word for a concept, and the standard codes for the words the mapping knows:
/// `terms = { sitting = "33586001 Sitting position" }` (code, a space, the display). A word not listed
/// is kept as text alone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermSpec {
    pub path: String,
    #[serde(default = "snomed")]
    pub system: String,
    #[serde(default)]
    pub terms: BTreeMap<String, String>,
    /// Words the measurement's code already says (a rectal temperature's MDC code, picked by
    /// `code_when`): not repeated, as FHIR asks for `bodySite` only where the code does not imply it.
    #[serde(default)]
    pub in_code: Vec<String>,
}

fn snomed() -> String {
    "http://snomed.info/sct".into()
}

/// `{ when = { "$.specimen_source" = "interstitial fluid" }, code = 160212 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeCase {
    /// Path → the value it must find.
    #[serde(deserialize_with = "string_values")]
    pub when: BTreeMap<String, String>,
    pub code: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// The payload file, relative to the mapping file.
    pub payload: String,
    /// The expected transaction Bundle (JSON), relative to the mapping file. Absent with `error`.
    pub expected: Option<String>,
    /// Instead of a Bundle: text the refusal must contain.
    pub error: Option<String>,
    /// `system|value` of the patient a device-patient association would give readings that name none
    /// (vendor clouds leave the user to the OAuth context).
    pub patient: Option<String>,
}

/// A scalar written as a string, a number or a boolean, read as its text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::Text(text) => text,
            Scalar::Integer(n) => n.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// Accepts strings and numbers alike (`known = [1, 4]` or `["1", "4"]`).
fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let items = Vec::<Scalar>::deserialize(deserializer)?;
    Ok(items.into_iter().map(Scalar::text).collect())
}

/// A table whose values may be strings or numbers (`{ "$.type" = 1 }`).
fn string_values<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let items = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(items.into_iter().map(|(key, value)| (key, value.text())).collect())
}

/// A field: a JSONPath into the payload or the record, or a literal.
#[derive(Debug, Clone)]
pub enum Field {
    Absolute(String, JsonPath),
    Relative(String, JsonPath),
    Literal(String),
}

impl Field {
    pub fn compile(text: &str, what: &str) -> Result<Field, String> {
        let parse = |path: &str| JsonPath::parse(path).map_err(|e| format!("{what}: `{text}` is not a JSONPath: {e}"));
        if text.starts_with('$') {
            Ok(Field::Absolute(text.to_string(), parse(text)?))
        } else if let Some(rest) = text.strip_prefix('@') {
            Ok(Field::Relative(text.to_string(), parse(&format!("${rest}"))?))
        } else {
            Ok(Field::Literal(text.to_string()))
        }
    }

    /// The text as written in the mapping.
    pub fn text(&self) -> &str {
        match self {
            Field::Absolute(text, _) | Field::Relative(text, _) | Field::Literal(text) => text,
        }
    }
}

/// Reads a mapping file: TOML (`.toml`) or JSON (`.json`). Errors carry line and column.
pub fn read_file(path: &Path) -> Result<MappingFile, SpecError> {
    let fail = |message: String| SpecError {
        file: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    parse_text(&text, path.extension().is_some_and(|e| e == "json")).map_err(fail)
}

/// Parses mapping text; `json` selects JSON over TOML.
pub fn parse_text(text: &str, json: bool) -> Result<MappingFile, String> {
    if json {
        serde_json::from_str(text).map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))
    } else {
        toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("line {line}, column {column}: {}", e.message())
            }
            None => e.message().to_string(),
        })
    }
}

/// 1-based line and column of a byte offset.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
