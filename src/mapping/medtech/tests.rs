//! The MedTech sample (fixtures/medtech) against what iomt-fhir produces for it, as researched in
//! fixtures/medtech/EXPECTED-OUTPUT.md (hashes computed there with `sha256sum`).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::adapters::medtech::DeviceMapping;

const PATIENT: &str = "cd3ee1fc63936b0083c968fe962a726d383ab6ee83af53d4f50507ccd646b68a";
const DEVICE: &str = "e55c4dadeb1050efd66966053edc1a9f921022858367eff94c3fc7660ed1f1ef";
const BP_MESSAGE: &[u8] = br#"{"systolic":120,"diastolic":80,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:18:23+00:00"}"#;

fn fixtures() -> (DeviceMapping, FhirTemplates) {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/medtech"));
    (
        DeviceMapping::load(&dir.join("devicecontent.json")).unwrap(),
        FhirTemplates::load(&dir.join("fhirmapping.json")).unwrap(),
    )
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// The data string with `value` at `slot` of 3600 and `E` elsewhere.
fn hour_with(slot: usize, value: &str) -> String {
    let mut tokens = vec!["E"; 3600];
    tokens[slot] = value;
    tokens.join(" ")
}

fn subjects() -> Subjects {
    Subjects {
        patient: PATIENT.into(),
        device: DEVICE.into(),
        encounter: None,
    }
}

fn observation_for(message: &[u8]) -> (ObservationGroup, Value) {
    let (mapping, templates) = fixtures();
    let groups = group(&mapping.normalize(message).unwrap(), &templates).unwrap();
    assert_eq!(groups.len(), 1);
    let g = groups.into_iter().next().unwrap();
    let template = templates.for_type(&g.type_name).unwrap();
    let observation = observation::create(template, &g, &subjects(), at("2023-10-09T19:20:01Z")).unwrap();
    (g, observation)
}

#[test]
fn the_sample_blood_pressure_is_the_observation_medtech_writes() {
    assert_eq!(created_id(None, "patient1"), PATIENT);
    assert_eq!(created_id(None, "device1"), DEVICE);
    let (_, observation) = observation_for(BP_MESSAGE);
    let identifier = format!("{PATIENT}.{DEVICE}.bloodpressure.20231009190000Z.20231009195959Z");
    assert_eq!(identifier.len(), 175);
    let expected = json!({
        "resourceType": "Observation",
        "id": "925c385e312fd99d3f897bf3a06d3b099f5f5355dc5d7ba2afc673739181ae2d",
        "identifier": [{"system": SERVICE_SYSTEM, "value": identifier}],
        "status": "final",
        "code": {
            "coding": [
                {"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"},
                {"system": SERVICE_SYSTEM, "code": "bloodpressure", "display": "bloodpressure"}
            ],
            "text": "bloodpressure"
        },
        "subject": {"reference": format!("Patient/{PATIENT}")},
        "effectivePeriod": {"start": "2023-10-09T19:00:00.0000000Z", "end": "2023-10-09T19:59:59.9999999Z"},
        "issued": "2023-10-09T19:20:01Z",
        "device": {"reference": format!("Device/{DEVICE}")},
        "component": [
            {
                "code": {
                    "coding": [
                        {"system": "http://loinc.org", "code": "8867-4", "display": "Diastolic blood pressure"},
                        {"system": SERVICE_SYSTEM, "code": "diastolic", "display": "diastolic"}
                    ],
                    "text": "diastolic"
                },
                "valueSampledData": {"origin": {"value": 0, "unit": "mmHg"}, "period": 1000, "dimensions": 1,
                                     "data": hour_with(1103, "80")}
            },
            {
                "code": {
                    "coding": [
                        {"system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure"},
                        {"system": "http://snomed.info/sct", "code": "271649006", "display": "Systolic blood pressure"},
                        {"system": SERVICE_SYSTEM, "code": "systolic", "display": "systolic"}
                    ],
                    "text": "systolic"
                },
                "valueSampledData": {"origin": {"value": 0, "unit": "mmHg"}, "period": 1000, "dimensions": 1,
                                     "data": hour_with(1103, "120")}
            }
        ]
    });
    assert_eq!(observation, expected);
}

#[test]
fn the_heart_rate_analogue_has_its_own_window_id_and_no_components() {
    let (_, observation) = observation_for(
        br#"{"heartrate":78,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:18:23+00:00"}"#,
    );
    assert_eq!(
        observation["id"],
        "1468c86bd10ac7efd3cb627fa49eb528a7c715ec1fc27408eee4e31b98c384a5"
    );
    assert_eq!(
        observation["valueSampledData"],
        json!({"origin": {"value": 0, "unit": "count/min"}, "period": 1000, "dimensions": 1, "data": hour_with(1103, "78")})
    );
    assert_eq!(observation["code"]["coding"][0]["code"], "8867-4");
    assert!(observation.get("component").is_none());
}

#[test]
fn a_second_message_of_the_hour_merges_and_a_replay_changes_nothing() {
    let (mapping, templates) = fixtures();
    let template = templates.for_type("bloodpressure").unwrap();
    let (_, first) = observation_for(BP_MESSAGE);
    let later = br#"{"systolic":131,"diastolic":85,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:45:00Z"}"#;
    let g = group(&mapping.normalize(later).unwrap(), &templates).unwrap().remove(0);
    let issued = at("2023-10-09T19:46:00Z");
    let merged = observation::merge(template, &first, &g, issued).unwrap().unwrap();
    assert_eq!(merged["id"], first["id"]);
    assert_eq!(merged["status"], "amended");
    assert_eq!(merged["issued"], "2023-10-09T19:46:00Z");
    assert_eq!(merged["effectivePeriod"], first["effectivePeriod"]);
    let systolic: Vec<&str> = merged["component"][1]["valueSampledData"]["data"]
        .as_str()
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(systolic.len(), 3600);
    assert_eq!((systolic[1103], systolic[2700]), ("120", "131"));
    assert_eq!(systolic.iter().filter(|t| **t != "E").count(), 2);
    assert_eq!(merged["component"][0]["code"]["text"], "diastolic");

    // The same messages again: nothing to write.
    assert_eq!(observation::merge(template, &merged, &g, issued).unwrap(), None);
    let first_again = group(&mapping.normalize(BP_MESSAGE).unwrap(), &templates)
        .unwrap()
        .remove(0);
    assert_eq!(
        observation::merge(template, &merged, &first_again, issued).unwrap(),
        None
    );

    // A different value at the very same second keeps the one already stored (MedTech's rule).
    let conflicting = br#"{"systolic":999,"diastolic":85,"deviceid":"device1","patientid":"patient1","measurementdatetime":"2023-10-09T19:18:23Z"}"#;
    let c = group(&mapping.normalize(conflicting).unwrap(), &templates)
        .unwrap()
        .remove(0);
    let unchanged = observation::merge(template, &merged, &c, issued).unwrap();
    assert_eq!(unchanged, None);
}

#[test]
fn the_next_hour_is_another_observation_and_a_message_list_groups_by_hour() {
    let (mapping, templates) = fixtures();
    let message = br#"[
        {"heartrate":70,"deviceid":"d","patientid":"p","measurementdatetime":"2023-10-09T19:59:59.5Z"},
        {"heartrate":71,"deviceid":"d","patientid":"p","measurementdatetime":"2023-10-09T20:00:00Z"},
        {"heartrate":72,"deviceid":"d","patientid":"p","measurementdatetime":"2023-10-09T19:00:00Z"}]"#;
    let groups = group(&mapping.normalize(message).unwrap(), &templates).unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].id_segment(), "20231009190000Z.20231009195959Z");
    assert_eq!(groups[1].id_segment(), "20231009200000Z.20231009205959Z");
    let template = templates.for_type("heartrate").unwrap();
    let o = observation::create(template, &groups[0], &subjects(), at("2023-10-09T21:00:00Z")).unwrap();
    let data: Vec<&str> = o["valueSampledData"]["data"].as_str().unwrap().split(' ').collect();
    assert_eq!((data[0], data[3599]), ("72", "70"));
}

#[test]
fn quantity_string_and_concept_templates() {
    let templates = FhirTemplates::from_json(&json!({"templateType": "CollectionFhir", "template": [
        {"templateType": "CodeValueFhir", "template": {
            "typeName": "heartrate", "codes": [{"code": "8867-4", "system": "http://loinc.org", "display": "Heart rate"}],
            "category": [{"text": "Vital Signs", "codes": [{"code": "vital-signs", "system": "http://terminology.hl7.org/CodeSystem/observation-category"}]}],
            "value": {"valueType": "Quantity", "valueName": "hr", "unit": "count/min", "code": "/min", "system": "http://unitsofmeasure.org"}}},
        {"templateType": "CodeValueFhir", "template": {
            "typeName": "status", "periodInterval": 0,
            "components": [
                {"codes": [], "value": {"valueType": "String", "valueName": "state"}},
                {"codes": [], "value": {"valueType": "CodeableConcept", "valueName": "fall", "text": "Fall detected",
                    "codes": [{"code": "1912002", "system": "http://snomed.info/sct", "display": "Fall"}]}}]}}
    ]}))
    .unwrap();
    let measurement = |type_name: &str, values: Vec<(&str, &str)>| NormalizedMeasurement {
        type_name: type_name.into(),
        device_id: "d".into(),
        patient_id: Some("p".into()),
        encounter_id: None,
        correlation_id: None,
        occurrence: at("2023-03-13T22:46:01.875Z"),
        values: values.into_iter().map(|(n, v)| (n.into(), v.into())).collect(),
    };
    let groups = group(
        &[
            measurement("heartrate", vec![("hr", "78.50")]),
            measurement("status", vec![("state", "walking"), ("fall", "true")]),
        ],
        &templates,
    )
    .unwrap();
    let issued = at("2023-04-05T21:02:59Z");
    let hr = observation::create(
        templates.for_type("HeartRate").unwrap(),
        &groups[0],
        &subjects(),
        issued,
    )
    .unwrap();
    assert_eq!(
        hr["effectivePeriod"],
        json!({"start": "2023-03-13T22:46:01.8750000Z", "end": "2023-03-13T22:46:01.8750000Z"})
    );
    assert_eq!(
        hr["identifier"][0]["value"]
            .as_str()
            .unwrap()
            .rsplit_once(".heartrate.")
            .unwrap()
            .1,
        "20230313224601Z.20230313224601Z"
    );
    // The value as sent: 78.50 keeps its trailing zero.
    assert_eq!(
        serde_json::to_string(&hr["valueQuantity"]).unwrap(),
        r#"{"value":78.50,"unit":"count/min","system":"http://unitsofmeasure.org","code":"/min"}"#
    );
    assert_eq!(hr["category"][0]["coding"][0]["code"], "vital-signs");
    let status = observation::create(templates.for_type("status").unwrap(), &groups[1], &subjects(), issued).unwrap();
    assert_eq!(status["component"][0]["valueString"], "walking");
    assert_eq!(status["component"][1]["valueCodeableConcept"]["text"], "Fall detected");
    assert_eq!(status["component"][1]["code"]["coding"][0]["code"], "fall");

    // Two heart rates in one single-time window cannot be one Quantity.
    let two = group(
        &[
            measurement("heartrate", vec![("hr", "78")]),
            measurement("heartrate", vec![("hr", "79")]),
        ],
        &templates,
    )
    .unwrap();
    // The same time twice keeps the first value: one value, no error.
    assert_eq!(
        two[0].values["hr"],
        vec![(at("2023-03-13T22:46:01.875Z"), "78".to_string())]
    );
    let error = group(&[measurement("pulse", vec![])], &templates)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "the MedTech FHIR destination mapping has no template for the type \"pulse\""
    );
    let bad = measurement("heartrate", vec![("hr", "seventy")]);
    let g = group(&[bad], &templates).unwrap();
    let error = observation::create(templates.for_type("heartrate").unwrap(), &g[0], &subjects(), issued).unwrap_err();
    assert_eq!(error.to_string(), "MedTech measurement hr: the value is not a number");
}

#[test]
fn the_bundle_for_an_empty_server_creates_patient_device_and_observation() {
    let (mapping, templates) = fixtures();
    let bundle = bundle_for_empty_server(
        &mapping.normalize(BP_MESSAGE).unwrap(),
        &templates,
        None,
        at("2023-10-09T19:20:01Z"),
    )
    .unwrap();
    let urls: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        vec![
            format!("Patient/{PATIENT}"),
            format!("Device/{DEVICE}"),
            "Observation/925c385e312fd99d3f897bf3a06d3b099f5f5355dc5d7ba2afc673739181ae2d".to_string()
        ]
    );
    assert_eq!(
        bundle["entry"][1]["resource"]["patient"]["reference"],
        format!("Patient/{PATIENT}")
    );
    assert_eq!(
        bundle["entry"][0]["resource"]["identifier"],
        json!([{"value": "patient1"}])
    );
}
