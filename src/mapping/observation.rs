//! Model measurement → FHIR R4 Observation per the PHD IG and the R4 vital-signs profiles.

use fhirbolt::model::r4::resources::{
    Location, Observation, ObservationComponent, ObservationComponentValue, ObservationEffective, ObservationValue,
};
use fhirbolt::model::r4::types::{
    Annotation, CodeableConcept, Coding, DateTime, Extension, ExtensionValue, Meta, Period, Reference, SampledData,
};
use fhirbolt::model::r4::Resource;

use super::fhir_types::{coding, concept, identifier, mdc_coding, reference, ucum_quantity};
use super::terminology::*;
use crate::codes::{loinc_for_unit, lookup, mdc};
use crate::model::{
    AbsentReason, CareLocation, Component, EffectiveTime, Flag, MdcCode, Measurement, Origin, QualityFlag, Sample,
    SampledSeries, Statistic, Term, Timestamp, Value,
};

/// What an Observation refers to outside itself: fullUrls of the entries in the same Bundle, and the
/// patient reference.
pub struct ObservationLinks<'a> {
    pub origin: Origin,
    /// The patient, `None` when the reading names none (then only device status is mapped).
    pub patient: Option<&'a Reference>,
    pub device_url: &'a str,
    /// fullUrls of the device's VMDs and channels, by containment path.
    pub part_urls: &'a [(Vec<u32>, String)],
    pub gateway_url: Option<&'a str>,
    /// fullUrls of the reading's measurements, by index (for `derivedFrom`).
    pub measurement_urls: &'a [String],
    /// Where the measurements were taken (HL7 v2 PV1-3), when known.
    pub location: Option<&'a CareLocation>,
}

/// The id of the contained Location within each Observation.
const CONTAINED_LOCATION_ID: &str = "location";

/// The location at the time of the reading, as a contained Location: a snapshot, so that a device that
/// moves later does not move its past readings. Named from its parts and typed by the most specific one
/// (bed, room or ward; R4 location-physical-type).
fn contained_location(location: &CareLocation) -> Resource {
    let labelled = [
        (location.facility.as_deref(), ""),
        (location.point_of_care.as_deref(), ""),
        (location.room.as_deref(), "room "),
        (location.bed.as_deref(), "bed "),
    ];
    let name = labelled
        .iter()
        .filter_map(|(part, label)| part.map(|p| format!("{label}{p}")))
        .collect::<Vec<_>>()
        .join(", ");
    // The most specific level the location names: a facility alone is a site, not a ward.
    let (code, display) = if location.bed.is_some() {
        ("bd", "Bed")
    } else if location.room.is_some() {
        ("ro", "Room")
    } else if location.point_of_care.is_some() {
        ("wa", "Ward")
    } else {
        ("si", "Site")
    };
    Resource::Location(Box::new(Location {
        id: Some(CONTAINED_LOCATION_ID.into()),
        name: Some(name.into()),
        mode: Some("instance".into()),
        physical_type: Some(Box::new(concept(
            vec![coding(LOCATION_PHYSICAL_TYPE_SYSTEM, code, Some(display))],
            None,
        ))),
        ..Default::default()
    }))
}

/// Builds the Observation for `measurement`.
pub fn observation(measurement: &Measurement, dedup_identifier: &str, links: &ObservationLinks<'_>) -> Observation {
    let entry = lookup(measurement.code);
    // A waveform is no vital sign, whatever its code (a sender may code an SpO2 curve as SpO2).
    let vital_sign = entry.is_some_and(|e| e.vital_sign) && !is_waveform(measurement);
    let quality = &measurement.quality;
    let invalid = quality.contains(&QualityFlag::Invalid);
    let not_available = quality.contains(&QualityFlag::NotAvailable);

    let mut category = Vec::new();
    if vital_sign {
        category.push(concept(
            vec![coding(OBSERVATION_CATEGORY_SYSTEM, "vital-signs", None)],
            Some("Vital Signs"),
        ));
    }
    // The `phd` category and the PHD profiles belong to personal health devices only, and to what a
    // device measured: a value the person typed into the vendor's app is theirs, not the device's.
    let self_reported = measurement.circumstances.self_reported;
    // A statistic a vendor computed over a period is not what a device measured either.
    let personal_health = links.origin == Origin::PersonalHealth && !self_reported && measurement.statistic.is_none();
    if personal_health {
        category.push(concept(vec![coding(PHD_CATEGORY_SYSTEM, "phd", None)], None));
    }

    // The PHD IG: an invalid value is reported as absent (`error`) and the Observation entered in
    // error; "not available" as absent (`not-performed`). A value and a dataAbsentReason never coexist.
    let (value, absent) = if invalid {
        (None, Some(data_absent("error", "Error")))
    } else if not_available {
        (None, Some(data_absent("not-performed", "Not Performed")))
    } else {
        match &measurement.value {
            Some(Value::Absent(reason)) => (None, Some(absent_reason(*reason))),
            Some(value) => (observation_value(value), None),
            None => (None, None),
        }
    };

    let status = if invalid {
        "entered-in-error"
    } else if quality
        .iter()
        .any(|q| matches!(q, QualityFlag::EarlyEstimate | QualityFlag::Intermediate))
    {
        "preliminary"
    } else {
        "final"
    };

    let mut components: Vec<ObservationComponent> = measurement.components.iter().map(component).collect();
    if let Some(Value::Flags(flags)) = &measurement.value {
        components.extend(bit_components(measurement.code, flags));
    }
    for supplemental in &measurement.supplemental_types {
        components.push(ObservationComponent {
            code: Box::new(concept(vec![mdc_coding(mdc::ATTR_SUPPLEMENTAL_TYPES)], None)),
            value: Some(ObservationComponentValue::CodeableConcept(Box::new(concept(
                vec![mdc_coding(*supplemental)],
                None,
            )))),
            ..Default::default()
        });
    }

    let mut extension = Vec::new();
    let contained: Vec<Resource> = links.location.map(contained_location).into_iter().collect();
    if !contained.is_empty() {
        extension.push(Extension {
            url: EVENT_LOCATION_EXTENSION.to_string(),
            value: Some(ExtensionValue::Reference(Box::new(reference(&format!(
                "#{CONTAINED_LOCATION_ID}"
            ))))),
            ..Default::default()
        });
    }
    if let Some(gateway) = links.gateway_url {
        extension.push(Extension {
            url: GATEWAY_DEVICE_EXTENSION.to_string(),
            value: Some(ExtensionValue::Reference(Box::new(reference(gateway)))),
            ..Default::default()
        });
    }
    let circumstances = &measurement.circumstances;
    if let Some(position) = &circumstances.body_position {
        extension.push(Extension {
            url: BODY_POSITION_EXTENSION.to_string(),
            value: Some(ExtensionValue::CodeableConcept(Box::new(term_concept(position)))),
            ..Default::default()
        });
    }

    let security: Vec<Coding> = if quality
        .iter()
        .any(|q| matches!(q, QualityFlag::TestData | QualityFlag::DemoData))
    {
        vec![coding(ACT_REASON_SYSTEM, "HTEST", Some("test health data"))]
    } else {
        Vec::new()
    };

    Observation {
        meta: ((personal_health && profile(measurement).is_some()) || !security.is_empty()).then(|| {
            let profile = match profile(measurement) {
                Some(profile) if personal_health => vec![profile.into()],
                _ => Vec::new(),
            };
            Box::new(Meta {
                profile,
                security,
                ..Default::default()
            })
        }),
        contained,
        extension,
        identifier: vec![identifier(
            observation_identifier_system(links.origin),
            dedup_identifier,
        )],
        status: status.into(),
        category,
        code: Box::new(observation_code(measurement)),
        // A statistic says which, so that no EHR takes a night's average for a reading.
        method: measurement.statistic.map(|statistic| {
            let display = statistic_display(statistic);
            Box::new(concept(
                vec![coding(OBSERVATION_STATISTICS_SYSTEM, statistic.name(), Some(display))],
                Some(display),
            ))
        }),
        // A device's own status is about the device (PHD IG: battery level's subject is the Device).
        subject: Some(Box::new(match links.patient {
            Some(patient) if !about_device(measurement) => patient.clone(),
            _ => Reference {
                r#type: Some("Device".into()),
                ..reference(links.device_url)
            },
        })),
        effective: Some(effective(&measurement.time)),
        value,
        data_absent_reason: absent.map(Box::new),
        interpretation: interpretations(quality),
        device: (!self_reported).then(|| Box::new(reference(measuring_part(measurement, links)))),
        performer: match links.patient {
            Some(patient) if self_reported => vec![patient.clone()],
            _ => Vec::new(),
        },
        derived_from: measurement
            .qualifies
            .and_then(|i| links.measurement_urls.get(i))
            .map(|url| vec![reference(url)])
            .unwrap_or_default(),
        component: components,
        body_site: circumstances
            .body_site
            .as_ref()
            .map(|site| Box::new(term_concept(site))),
        note: circumstances
            .note
            .iter()
            .map(|text| Annotation {
                text: text.as_str().into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// True for a waveform, or a measurement of waveforms (the leads of an ECG).
fn is_waveform(measurement: &Measurement) -> bool {
    matches!(measurement.value, Some(Value::Samples(_)))
        || measurement
            .components
            .iter()
            .any(|c| matches!(c.value, Value::Samples(_)))
}

/// True for a measurement about the device (its battery, network, configuration) rather than the
/// patient: the adapter says so, or the code table does.
pub fn about_device(measurement: &crate::model::Measurement) -> bool {
    measurement.about_device || crate::codes::is_device_status(measurement.code)
}

/// The most specific part of the device that measured (PoCD: the channel, else the VMD), else the
/// device itself.
fn measuring_part<'a>(measurement: &Measurement, links: &'a ObservationLinks<'_>) -> &'a str {
    links
        .part_urls
        .iter()
        .filter(|(path, _)| measurement.device_part.starts_with(path))
        .max_by_key(|(path, _)| path.len())
        .map_or(links.device_url, |(_, url)| url.as_str())
}

/// The sender's words as the concept's text, with the standard coding where the mapping knows it.
fn term_concept(term: &Term) -> CodeableConcept {
    let codings = term
        .code
        .iter()
        .map(|c| coding(&c.system, &c.code, c.display.as_deref()))
        .collect();
    concept(codings, Some(&term.text))
}

/// The dedup identifier's system: the PHD IG's for personal health devices, fhirgate's otherwise.
pub fn observation_identifier_system(origin: Origin) -> &'static str {
    match origin {
        Origin::PersonalHealth => PHD_OBSERVATION_IDENTIFIER_SYSTEM,
        Origin::PointOfCare => POC_OBSERVATION_IDENTIFIER_SYSTEM,
    }
}

/// The PHD IG profile the Observation conforms to; none for a measurement of several waveforms
/// (the leads of an ECG as components), which the PHD IG does not model.
fn profile(measurement: &Measurement) -> Option<&'static str> {
    Some(match &measurement.value {
        None if measurement
            .components
            .iter()
            .any(|c| matches!(c.value, Value::Samples(_))) =>
        {
            return None
        }
        None => PROFILE_PHD_COMPOUND_NUMERIC,
        Some(Value::Flags(_)) => PROFILE_PHD_BITS,
        Some(Value::Coded(_) | Value::Concept { .. }) => PROFILE_PHD_CODED,
        Some(Value::Text(_)) => PROFILE_PHD_STRING,
        Some(Value::Quantity(_) | Value::Absent(_)) => PROFILE_PHD_NUMERIC,
        Some(Value::Samples(_)) => PROFILE_PHD_RTSA,
        // The PHD IG has no profile for a date-time finding, nor for a value coded outside MDC.
        Some(Value::DateTime(_) | Value::Term(_)) => return None,
    })
}

/// The Observation's code: a code of another system where MDC has none (that code alone, never an MDC
/// claim), else the MDC coding with its LOINC, a statistic's LOINC added.
fn observation_code(measurement: &Measurement) -> CodeableConcept {
    match &measurement.code_outside_mdc {
        Some(code) => concept(
            vec![coding(&code.system, &code.code, code.display.as_deref())],
            code.display.as_deref().or(measurement.label.as_deref()),
        ),
        None => statistic_code(
            labelled_code(
                measurement.code,
                measurement.label.as_deref(),
                measurement.value.as_ref(),
            ),
            measurement,
        ),
    }
}

/// A statistic's code: the measurement's, and LOINC's code for that statistic where it has one.
fn statistic_code(mut code: CodeableConcept, measurement: &Measurement) -> CodeableConcept {
    if let Some((loinc, display)) = measurement
        .statistic
        .and_then(|statistic| crate::codes::statistic_loinc(measurement.code, statistic))
    {
        code.coding.push(coding(LOINC_SYSTEM, loinc, Some(display)));
    }
    code
}

/// How FHIR R4's `observation-statistics` names a statistic.
fn statistic_display(statistic: Statistic) -> &'static str {
    match statistic {
        Statistic::Average => "Average",
        Statistic::Minimum => "Minimum",
        Statistic::Maximum => "Maximum",
        Statistic::Median => "Median",
    }
}

/// The MDC coding, plus the LOINC coding(s) the vital-signs profiles require. A sender's label for the
/// measurement is the display where the code table does not know the code, and the only identity when
/// the code is pending (0, IHE PCD), in which case no MDC coding is claimed.
/// Glucose's LOINC follows the value's unit (mass or substance concentration), so the unit is asked
/// for; a value without one (absent) gets no such LOINC.
pub fn labelled_code(code: MdcCode, label: Option<&str>, value: Option<&Value>) -> CodeableConcept {
    let entry = lookup(code);
    let mut codings = Vec::new();
    if code.0 != 0 {
        let display = entry.map(|e| e.reference_id).or(label);
        codings.push(coding(MDC_SYSTEM, &code.to_string(), display));
    }
    // LOINC names scalar results; a waveform under the same MDC code is not one.
    let waveform = matches!(value, Some(Value::Samples(_)));
    if let Some(entry) = entry.filter(|_| !waveform) {
        codings.extend(
            entry
                .loinc
                .iter()
                .chain(entry.extra_loinc)
                .map(|loinc| coding(LOINC_SYSTEM, loinc, None)),
        );
    }
    if let Some(Value::Quantity(quantity)) = value {
        codings.extend(loinc_for_unit(code, &quantity.unit).map(|loinc| coding(LOINC_SYSTEM, loinc, None)));
    }
    concept(codings, entry.map(|e| e.text).or(label))
}

fn component(component: &Component) -> ObservationComponent {
    let (value, absent) = match &component.value {
        Value::Absent(reason) => (None, Some(Box::new(absent_reason(*reason)))),
        other => (component_value(other), None),
    };
    ObservationComponent {
        code: Box::new(labelled_code(
            component.code,
            component.label.as_deref(),
            Some(&component.value),
        )),
        value,
        data_absent_reason: absent,
        ..Default::default()
    }
}

/// One boolean component per set bit, coded `<attribute>.<bit>` in ASN1ToHL7 (PHD IG
/// PhdBitsEnumerationObservation, example bpm-status). Clear bits are not listed.
fn bit_components(attribute: MdcCode, flags: &[Flag]) -> impl Iterator<Item = ObservationComponent> + '_ {
    flags.iter().filter(|f| f.set).map(move |f| ObservationComponent {
        code: Box::new(concept(
            vec![coding(
                ASN1_TO_HL7_SYSTEM,
                &format!("{attribute}.{}", f.bit),
                Some(f.name),
            )],
            None,
        )),
        value: Some(ObservationComponentValue::Boolean(true.into())),
        ..Default::default()
    })
}

fn observation_value(value: &Value) -> Option<ObservationValue> {
    match value {
        Value::Quantity(q) => Some(ObservationValue::Quantity(Box::new(quantity(q)))),
        Value::Coded(code) => Some(ObservationValue::CodeableConcept(Box::new(coded_value(*code)))),
        Value::Concept { code, text } => Some(ObservationValue::CodeableConcept(Box::new(concept_value(*code, text)))),
        Value::Text(text) => Some(ObservationValue::String(text.as_str().into())),
        Value::Term(term) => Some(ObservationValue::CodeableConcept(Box::new(term_concept(term)))),
        Value::Samples(series) => Some(ObservationValue::SampledData(Box::new(sampled_data(series)))),
        Value::DateTime(at) => Some(ObservationValue::DateTime(DateTime::from(date_time(at)))),
        Value::Flags(_) | Value::Absent(_) => None,
    }
}

fn component_value(value: &Value) -> Option<ObservationComponentValue> {
    match value {
        Value::Quantity(q) => Some(ObservationComponentValue::Quantity(Box::new(quantity(q)))),
        Value::Coded(code) => Some(ObservationComponentValue::CodeableConcept(Box::new(coded_value(*code)))),
        Value::Concept { code, text } => Some(ObservationComponentValue::CodeableConcept(Box::new(concept_value(
            *code, text,
        )))),
        Value::Text(text) => Some(ObservationComponentValue::String(text.as_str().into())),
        Value::Term(term) => Some(ObservationComponentValue::CodeableConcept(Box::new(term_concept(term)))),
        Value::Samples(series) => Some(ObservationComponentValue::SampledData(Box::new(sampled_data(series)))),
        Value::DateTime(at) => Some(ObservationComponentValue::DateTime(DateTime::from(date_time(at)))),
        Value::Flags(_) | Value::Absent(_) => None,
    }
}

/// A waveform as R4 `SampledData`: the origin carries the unit, the period is in ms (exact, or to the
/// nanosecond when it does not terminate: `model::SampleRate::period_ms`), and the samples are written
/// as sent, separated by single spaces, with `E`, `L` and `U` for the device's markers.
fn sampled_data(series: &SampledSeries) -> SampledData {
    let mut data = String::with_capacity(series.samples.len() * 6);
    for (index, sample) in series.samples.iter().enumerate() {
        if index > 0 {
            data.push(' ');
        }
        match sample {
            Sample::Value(value) => {
                use std::fmt::Write;
                let _ = write!(data, "{value}");
            }
            Sample::Error => data.push('E'),
            Sample::BelowRange => data.push('L'),
            Sample::AboveRange => data.push('U'),
        }
    }
    SampledData {
        origin: Box::new(ucum_quantity(series.origin.to_string(), &series.unit)),
        period: series.rate.period_ms().0.to_string().into(),
        factor: series.factor.map(|f| f.to_string().into()),
        lower_limit: series.lower_limit.map(|l| l.to_string().into()),
        upper_limit: series.upper_limit.map(|u| u.to_string().into()),
        dimensions: 1u32.into(),
        data: (!data.is_empty()).then(|| data.into()),
        ..Default::default()
    }
}

fn quantity(q: &crate::model::Quantity) -> fhirbolt::model::r4::types::Quantity {
    let q = super::units::normalize(q);
    ucum_quantity(q.value.to_string(), &q.unit)
}

/// A sender's coded value: the MDC coding when there is a (non-pending) code, and the sender's text.
fn concept_value(code: Option<MdcCode>, text: &Option<String>) -> CodeableConcept {
    let codings = code.filter(|c| c.0 != 0).map(mdc_coding).into_iter().collect();
    concept(
        codings,
        text.as_deref().or_else(|| code.and_then(lookup).map(|e| e.text)),
    )
}

fn coded_value(code: MdcCode) -> CodeableConcept {
    concept(vec![mdc_coding(code)], lookup(code).map(|e| e.text))
}

/// PHD IG FLOATS.md: NaN → not-a-number, ±INF → positive/negative-infinity, NRes and reserved →
/// error. A failed measurement (0xFFFF) is an error too.
fn absent_reason(reason: AbsentReason) -> CodeableConcept {
    match reason {
        AbsentReason::NotANumber => data_absent("not-a-number", "Not a Number (NaN)"),
        AbsentReason::PositiveInfinity => data_absent("positive-infinity", "Positive Infinity (PINF)"),
        AbsentReason::NegativeInfinity => data_absent("negative-infinity", "Negative Infinity (NINF)"),
        AbsentReason::NotAtThisResolution | AbsentReason::ReservedValue | AbsentReason::MeasurementUnsuccessful => {
            data_absent("error", "Error")
        }
        AbsentReason::NoInformation => data_absent("unknown", "Unknown"),
        AbsentReason::TemporarilyUnavailable => data_absent("temp-unknown", "Temporarily Unknown"),
        AbsentReason::SwitchedOff => data_absent("not-performed", "Not Performed"),
        // The number is not shown, so nobody can read it as real; the text says why it is absent.
        AbsentReason::Implausible => CodeableConcept {
            text: Some(
                "The device sent a value outside what a living person can have (a placeholder or a device \
                 fault); it is not reported as a value."
                    .into(),
            ),
            ..data_absent("error", "Error")
        },
    }
}

fn data_absent(code: &str, display: &str) -> CodeableConcept {
    concept(vec![coding(DATA_ABSENT_REASON_SYSTEM, code, Some(display))], None)
}

const V3_INTERPRETATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

fn interpretations(quality: &[QualityFlag]) -> Vec<CodeableConcept> {
    quality
        .iter()
        .filter_map(|q| match q {
            QualityFlag::Questionable => Some(coding(
                POCD_MEASUREMENT_STATUS_SYSTEM,
                "questionable",
                Some("questionable"),
            )),
            QualityFlag::CalibrationOngoing => Some(coding(
                POCD_MEASUREMENT_STATUS_SYSTEM,
                "calibration-ongoing",
                Some("calibration-ongoing"),
            )),
            QualityFlag::EarlyEstimate => Some(coding(
                POCD_MEASUREMENT_STATUS_SYSTEM,
                "early-indication",
                Some("early-indication"),
            )),
            // HL7 v3 ObservationInterpretation: the value is the limit of the measuring range.
            QualityFlag::BelowRange => Some(coding(V3_INTERPRETATION_SYSTEM, "<", Some("Off scale low"))),
            QualityFlag::AboveRange => Some(coding(V3_INTERPRETATION_SYSTEM, ">", Some("Off scale high"))),
            _ => None,
        })
        .map(|c| concept(vec![c], None))
        .collect()
}

/// `effectiveDateTime` with the device's local digits and its offset (`2026-08-22T08:42:36+02:00`);
/// fractional seconds only when the source had them (vendor clouds send milliseconds).
pub fn date_time(timestamp: &Timestamp) -> String {
    let mut text = String::with_capacity(35);
    super::local_digits::push_iso(&mut text, &timestamp.local);
    super::local_digits::push_offset(&mut text, timestamp.offset.local_minus_utc());
    text
}

fn effective(time: &EffectiveTime) -> ObservationEffective {
    match time {
        EffectiveTime::Instant(t) => ObservationEffective::DateTime(DateTime::from(date_time(t))),
        EffectiveTime::Period { start, end } => ObservationEffective::Period(Box::new(Period {
            start: Some(date_time(start).into()),
            end: Some(date_time(end).into()),
            ..Default::default()
        })),
    }
}
