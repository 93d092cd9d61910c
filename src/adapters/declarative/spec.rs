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
    /// A discriminator: only the records whose fields hold these values are this mapping's
    /// (`{ "@['@type']" = "HKQuantityTypeIdentifierBodyMass" }`). Mappings whose records do not overlap
    /// may share one payload.
    #[serde(default, deserialize_with = "alternatives")]
    pub when: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub device: DeviceSpec,
    /// The gateway that forwarded the payload (a Bluetooth gateway's own id), when it says one.
    #[serde(default)]
    pub gateway: Option<GatewaySpec>,
    /// Absent: the payload names no patient (a device-patient association supplies it).
    #[serde(default)]
    pub patient: Option<PatientSpec>,
    /// When the readings were taken. Required with `measurements`; a `[gatt]` mapping's values carry
    /// their own times (or the receipt time stands), and its `[time]` may only give the zone.
    #[serde(default)]
    pub time: Option<TimeSpec>,
    /// Raw Bluetooth characteristic values in the vendor's JSON (a gateway's notification): decoded by
    /// the bridge's GATT decoders instead of `measurements`.
    #[serde(default)]
    pub gatt: Option<GattSpec>,
    /// Rules a record must meet, or the payload is refused (a vendor's enumerations, say).
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// Vendor type codes this mapping knows; others are ignored and counted.
    #[serde(default)]
    pub unknown_codes: Option<UnknownCodesSpec>,
    #[serde(default)]
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
    pub id: Option<FieldText>,
    /// Where that id is unique (the identifier system), e.g. `https://withings.com/device-id`.
    pub system: Option<String>,
    /// The device's Bluetooth address (`CC:1B:E0:E0:DD:70`), path or literal: the device's hardware
    /// identity, as a hub's envelope gives it, so associations and Devices are the same either way.
    pub address: Option<FieldText>,
    /// Path or literal.
    pub manufacturer: Option<FieldText>,
    /// Path or literal.
    pub model: Option<FieldText>,
    /// The hardware revision (Apple's `hardware:Watch2,4`), path or literal.
    pub hardware: Option<FieldText>,
    /// The software or firmware version, path or literal.
    pub software: Option<FieldText>,
}

/// The gateway that forwarded the payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySpec {
    /// The gateway's id (path or literal), e.g. a Cassia router's MAC.
    pub id: FieldText,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
}

/// Where a record carries a raw characteristic value, and which characteristic it is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GattSpec {
    /// The value's text (path).
    pub value: String,
    /// How it is written: `hex` (default), `base64`, or `bytes` (a JSON array of byte numbers).
    #[serde(default)]
    pub encoding: GattEncoding,
    /// The characteristic: a UUID (`2A37`, `00002a37-0000-1000-8000-00805f9b34fb`) or a path to one.
    pub characteristic: Option<String>,
    /// Or: the path of the attribute handle the gateway names, translated by `handles`.
    pub handle: Option<String>,
    /// Handle → characteristic UUID, as the device model's GATT table has them (`{ 52 = "2A37" }`;
    /// `0x34` is read too).
    #[serde(default)]
    pub handles: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GattEncoding {
    #[default]
    Hex,
    Base64,
    Bytes,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientSpec {
    /// The identifier system of the patient id.
    pub system: String,
    /// The patient id (path or literal).
    pub id: FieldText,
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
    pub instant: Option<FieldText>,
    /// A time of day to join to a date-only `instant`, `start` or `end` (Fitbit's `date` + `time`).
    pub time_of_day: Option<String>,
    /// A period: `start` with `end` or `duration`, or `end` with `duration`.
    pub start: Option<FieldText>,
    pub end: Option<FieldText>,
    /// A duration: seconds as a number, or an object `{value, unit}` (Open mHealth).
    pub duration: Option<String>,
    /// Required whenever the mapping reads a time (`instant`, `start`, `end`).
    pub format: Option<TimeFormat>,
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
    /// Leave it out (0) only with `code_in`.
    #[serde(default)]
    pub code: u32,
    /// Where MDC has no code for the measurement, its code in another system: `system|code display`
    /// (`http://hl7.org/fhir/uv/phr/CodeSystem/ecg-codes|classification Classification`).
    pub code_in: Option<String>,
    /// A value coded in a system other than MDC: the path of the vendor's word, the system, and the
    /// vendor words' codes (`terms = { 1 = "atrialFibrillation Atrial fibrillation" }`).
    pub term: Option<TermSpec>,
    /// Other codes for what the payload says about the measurement (a glucose reading's sample:
    /// capillary blood, plasma, interstitial fluid). The first case whose fields all hold their values
    /// gives the code; none does, `code`.
    #[serde(default)]
    pub code_when: Vec<CodeCase>,
    /// The MDC reference id (`MDC_FLOW_FLUID_PUMP`), for a code the code table does not hold: it becomes
    /// the coding's display, as for HL7 v2 devices.
    pub reference_id: Option<String>,
    /// Only for the records whose fields hold these values (`{ "@['@type']" = "HKQuantityTypeIdentifierHeight" }`);
    /// in other records the measurement is simply not there.
    #[serde(default, deserialize_with = "alternatives")]
    pub when: BTreeMap<String, Vec<String>>,
    /// The value (path or literal). A compound measurement (blood pressure) has none, only components.
    pub value: Option<FieldText>,
    /// A power of ten to multiply the value by (Withings' `unit`: value × 10^unit): a path, or a number.
    #[serde(default, deserialize_with = "optional_scalar")]
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
    /// Vendor values that mean "no value" (iHealth sends 0), or ranges of them
    /// (`{ max = -1 }`: every negative number is a marker).
    #[serde(default)]
    pub absent_when: Vec<AbsentMarker>,
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
    /// A waveform: the path of an array of samples (Withings' ECG `signal`), timed by `rate`; the
    /// measurement becomes SampledData, split into pieces an EHR can store.
    pub samples: Option<String>,
    /// Samples per second of `samples`: a path (`@.sampling_frequency`) or a number (`rate = 500`).
    #[serde(default, deserialize_with = "optional_scalar")]
    pub rate: Option<String>,
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
    /// A summary of many readings over the record's period, not a reading: `average`, `minimum`,
    /// `maximum` or `median`, or the path where the payload says which (Open mHealth's
    /// `descriptive_statistic`), its words translated by `statistics` when they differ.
    pub statistic: Option<String>,
    /// Vendor word → statistic (`{ avg = "average" }`), for `statistic` paths.
    #[serde(default)]
    pub statistics: BTreeMap<String, String>,
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

/// A field as written: a path or a literal, or a path with a regular expression that takes a part of
/// its text (`{ path = "$.url", regex = "users/([0-9]+)/" }`: the first group, or the group named
/// `value`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FieldText {
    Plain(String),
    Capture(CaptureSpec),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    pub path: String,
    pub regex: String,
}

impl FieldText {
    /// The path (or literal) as written.
    pub fn path(&self) -> &str {
        match self {
            FieldText::Plain(text) => text,
            FieldText::Capture(capture) => &capture.path,
        }
    }
}

/// A vendor's "no value" marker: one value, or a range (`{ min = 0, max = 0.5 }`; either end may be
/// left out, both are included).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AbsentMarker {
    Range(AbsentRange),
    #[serde(deserialize_with = "scalar")]
    Value(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbsentRange {
    #[serde(default, deserialize_with = "optional_scalar")]
    pub min: Option<String>,
    #[serde(default, deserialize_with = "optional_scalar")]
    pub max: Option<String>,
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

fn scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Scalar::deserialize(deserializer).map(Scalar::text)
}

/// `exponent = -3` or `exponent = "@.unit"`.
fn optional_scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<Scalar>::deserialize(deserializer).map(|s| s.map(Scalar::text))
}

/// Accepts strings and numbers alike (`known = [1, 4]` or `["1", "4"]`).
fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let items = Vec::<Scalar>::deserialize(deserializer)?;
    Ok(items.into_iter().map(Scalar::text).collect())
}

/// A `when` table: each path with the value it must find, or a list of values it may find
/// (`{ "$.dataType" = ["notification", "indication"] }`).
fn alternatives<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Scalar),
        Many(Vec<Scalar>),
    }
    let items = BTreeMap::<String, OneOrMany>::deserialize(deserializer)?;
    Ok(items
        .into_iter()
        .map(|(key, value)| {
            let values = match value {
                OneOrMany::One(one) => vec![one.text()],
                OneOrMany::Many(many) => many.into_iter().map(Scalar::text).collect(),
            };
            (key, values)
        })
        .collect())
}

/// A table whose values may be strings or numbers (`{ "$.type" = 1 }`).
fn string_values<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let items = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(items.into_iter().map(|(key, value)| (key, value.text())).collect())
}

/// A field: a JSONPath into the payload, the record or one of the objects that hold the record, or a
/// literal; with a regular expression that takes a part of its text.
#[derive(Debug, Clone)]
pub struct Field {
    text: String,
    pub source: Source,
    /// The path as member names and indexes, when it is no more than that (walked directly).
    simple: Option<super::simple_path::SimplePath>,
    capture: Option<regex_lite::Regex>,
}

/// Where a field's path starts.
#[derive(Debug, Clone)]
pub enum Source {
    /// `$…`: the whole payload.
    Payload(JsonPath),
    /// `@…`: the record.
    Record(JsonPath),
    /// `^…`: the nearest object that holds the record (`^^…` the one above it, and so on): a fanned-out
    /// record's parent fields.
    Ancestor(usize, JsonPath),
    /// Anything else.
    Literal,
}

/// The largest regular expression a mapping may hold, compiled (the `regex` crate's default is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Field {
    pub fn compile(text: &str, what: &str) -> Result<Field, String> {
        let parse = |path: &str| JsonPath::parse(path).map_err(|e| format!("{what}: `{text}` is not a JSONPath: {e}"));
        let simple = |path: &str| super::simple_path::SimplePath::parse(path);
        let (source, simple) = if text.starts_with('$') {
            (Source::Payload(parse(text)?), simple(text))
        } else if let Some(rest) = text.strip_prefix('@') {
            let path = format!("${rest}");
            (Source::Record(parse(&path)?), simple(&path))
        } else if text.starts_with('^') {
            let rest = text.trim_start_matches('^');
            let path = format!("${rest}");
            (Source::Ancestor(text.len() - rest.len(), parse(&path)?), simple(&path))
        } else {
            (Source::Literal, None)
        };
        Ok(Field {
            text: text.to_string(),
            source,
            simple,
            capture: None,
        })
    }

    /// A field as written in the mapping: a path or literal, or a path with its `regex`.
    pub fn compile_text(field: &FieldText, what: &str) -> Result<Field, String> {
        match field {
            FieldText::Plain(text) => Field::compile(text, what),
            FieldText::Capture(capture) => {
                let mut field = Field::compile(&capture.path, what)?;
                if matches!(field.source, Source::Literal) {
                    return Err(format!(
                        "{what}: a `regex` reads a part of a path's text; {:?} is not a path (start it with `$`, `@` or `^`)",
                        capture.path
                    ));
                }
                let regex = regex_lite::RegexBuilder::new(&capture.regex)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| format!("{what}.regex: not a regular expression: {e}"))?;
                if regex.captures_len() < 2 {
                    return Err(format!(
                        "{what}.regex: give a group, `(...)` or `(?P<value>...)`, for the part to take"
                    ));
                }
                field.text = format!("{} ~ /{}/", capture.path, capture.regex);
                field.capture = Some(regex);
                Ok(field)
            }
        }
    }

    /// The text as written in the mapping (a regex shown after the path).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The path as member names and indexes, when it is no more than that.
    pub fn simple(&self) -> Option<&super::simple_path::SimplePath> {
        self.simple.as_ref()
    }

    pub fn has_capture(&self) -> bool {
        self.capture.is_some()
    }

    pub fn is_literal(&self) -> bool {
        matches!(self.source, Source::Literal)
    }

    /// The part of `text` the field's regex takes (the group named `value`, else the first group);
    /// the whole text without one. `None`: the regex does not match.
    pub fn captured(&self, text: String) -> Option<String> {
        let Some(regex) = &self.capture else {
            return Some(text);
        };
        let captures = regex.captures(&text)?;
        // A regex with a `value` group takes that group alone: when it did not take part in the
        // match (the other side of an alternation), nothing was found, and no other group stands in.
        let part = if regex.capture_names().any(|name| name == Some("value")) {
            captures.name("value")
        } else {
            captures.get(1)
        };
        part.map(|m| m.as_str().to_string())
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
