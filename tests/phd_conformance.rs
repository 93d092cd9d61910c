//! PHD IG and R4 vital-signs rules, checked on every Bundle the fixtures produce. The IG package
//! cannot be loaded by an offline validator here, so its rules are written out as assertions; the
//! structural FHIR validation runs separately (`fhir_validation.rs`).

mod common;

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

const MDC: &str = "urn:iso:std:iso:11073:10101";
const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";

fn bundles() -> Vec<(String, Value)> {
    common::ble_fixtures()
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                serde_json::from_str(&common::map_fixture(p)).unwrap(),
            )
        })
        .collect()
}

fn codings<'a>(concept: &'a Value, system: &str) -> Vec<&'a str> {
    concept["coding"].as_array().map_or(Vec::new(), |list| {
        list.iter()
            .filter(|c| c["system"] == system)
            .filter_map(|c| c["code"].as_str())
            .collect()
    })
}

/// LOINC code → UCUM units the R4 vital-signs profiles allow.
fn vital_sign_units(loinc: &str) -> Option<&'static [&'static str]> {
    Some(match loinc {
        "8867-4" => &["/min"],
        "2708-6" | "59408-5" => &["%"],
        "8310-5" => &["Cel", "[degF]"],
        "29463-7" => &["kg", "g", "[lb_av]"],
        "8302-2" => &["cm", "[in_i]"],
        "39156-5" => &["kg/m2"],
        "8480-6" | "8462-4" => &["mm[Hg]"],
        "85354-9" => &[],
        _ => return None,
    })
}

fn check_quantity(file: &str, q: &Value) {
    assert_eq!(q["system"], UCUM, "{file}: quantity not UCUM: {q}");
    assert_eq!(q["code"], q["unit"], "{file}: unit and code differ: {q}");
    assert!(q["value"].is_number(), "{file}: quantity without a number: {q}");
}

#[test]
fn every_observation_follows_the_phd_and_vital_signs_rules() {
    let mut observations = 0;
    for (file, bundle) in bundles() {
        assert_eq!(bundle["type"], "transaction", "{file}");
        let entries = bundle["entry"].as_array().unwrap();
        let full_urls: HashSet<&str> = entries.iter().map(|e| e["fullUrl"].as_str().unwrap()).collect();
        assert_eq!(full_urls.len(), entries.len(), "{file}: duplicate fullUrl");
        for entry in entries {
            assert!(entry["fullUrl"].as_str().unwrap().starts_with("urn:uuid:"), "{file}");
            let resource = &entry["resource"];
            let request = &entry["request"];
            assert_eq!(request["method"], "POST", "{file}");
            let if_none_exist = request["ifNoneExist"].as_str().unwrap();
            assert!(
                if_none_exist.starts_with("identifier="),
                "{file}: conditional create on identifier"
            );
            if resource["resourceType"] == "Device" {
                assert!(
                    !resource["identifier"].as_array().unwrap().is_empty(),
                    "{file}: Device without identifier"
                );
                continue;
            }
            assert_eq!(resource["resourceType"], "Observation");
            observations += 1;

            // Dedup identifier, and the conditional create is on it.
            let identifier = &resource["identifier"][0];
            assert_eq!(
                identifier["system"], "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdBaseObservation",
                "{file}"
            );
            let id_value = identifier["value"].as_str().unwrap();
            let mdc_code = codings(&resource["code"], MDC)[0];
            assert!(
                id_value.contains(&format!("-{mdc_code}-")),
                "{file}: identifier {id_value} lacks the type {mdc_code}"
            );
            assert!(
                if_none_exist.ends_with(id_value) || if_none_exist.contains(&id_value.replace(' ', "%20")),
                "{file}"
            );

            // Code: MDC first, decimal; LOINC where a vital sign.
            assert_eq!(
                resource["code"]["coding"][0]["system"], MDC,
                "{file}: MDC coding must come first"
            );
            assert!(
                mdc_code.parse::<u32>().is_ok(),
                "{file}: MDC code not decimal: {mdc_code}"
            );
            let categories: Vec<&str> = resource["category"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| codings(c, ""))
                .collect();
            let phd = resource["category"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| codings(c, "http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories") == ["phd"]);
            assert!(phd, "{file}: category phd missing ({categories:?})");
            let loinc = codings(&resource["code"], LOINC);
            let vital_sign = loinc.iter().any(|l| vital_sign_units(l).is_some());
            let has_vital_category =
                resource["category"].as_array().unwrap().iter().any(|c| {
                    codings(c, "http://terminology.hl7.org/CodeSystem/observation-category") == ["vital-signs"]
                });
            assert_eq!(
                vital_sign, has_vital_category,
                "{file}: vital-signs category iff vital-sign LOINC ({loinc:?})"
            );

            // Subject, time, device, gateway.
            assert_eq!(resource["subject"]["type"], "Patient", "{file}");
            assert!(resource["subject"]["identifier"]["value"].is_string(), "{file}");
            let effective = resource["effectiveDateTime"].as_str().unwrap();
            assert!(
                effective.len() == 25 && (effective.ends_with(":00") || effective.contains('+')),
                "{file}: {effective}"
            );
            assert!(
                full_urls.contains(resource["device"]["reference"].as_str().unwrap()),
                "{file}: device not in Bundle"
            );
            for ext in resource["extension"].as_array().into_iter().flatten() {
                if ext["url"] == "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice" {
                    assert!(
                        full_urls.contains(ext["valueReference"]["reference"].as_str().unwrap()),
                        "{file}"
                    );
                }
            }
            for derived in resource["derivedFrom"].as_array().into_iter().flatten() {
                assert!(
                    full_urls.contains(derived["reference"].as_str().unwrap()),
                    "{file}: derivedFrom outside Bundle"
                );
            }

            // Values: never a value and a dataAbsentReason together; UCUM; vital-sign units.
            let value = &resource["valueQuantity"];
            assert!(
                !(value.is_object() && resource["dataAbsentReason"].is_object()),
                "{file}: value and DAR together"
            );
            if value.is_object() {
                check_quantity(&file, value);
                for l in &loinc {
                    if let Some(units) = vital_sign_units(l) {
                        assert!(
                            units.contains(&value["code"].as_str().unwrap()),
                            "{file}: {l} in {}",
                            value["code"]
                        );
                    }
                }
            }
            for component in resource["component"].as_array().into_iter().flatten() {
                assert!(
                    !(component["valueQuantity"].is_object() && component["dataAbsentReason"].is_object()),
                    "{file}"
                );
                if component["valueQuantity"].is_object() {
                    check_quantity(&file, &component["valueQuantity"]);
                    for l in codings(&component["code"], LOINC) {
                        let units = vital_sign_units(l).unwrap();
                        assert!(
                            units.contains(&component["valueQuantity"]["code"].as_str().unwrap()),
                            "{file}: {l}"
                        );
                    }
                }
            }
            // A vital sign carries a value, components or a dataAbsentReason (vs-2).
            if vital_sign {
                assert!(
                    value.is_object() || resource["component"].is_array() || resource["dataAbsentReason"].is_object(),
                    "{file}"
                );
            }
        }
    }
    assert!(observations >= 25, "only {observations} observations checked");
}

/// The JSON paths of all object keys in a value (array indices dropped), for shape comparisons.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| key_paths(v, prefix, out)),
        _ => {}
    }
}

fn vector(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::repo_path(&format!("tests/vectors/fhir_phd/{name}"))).unwrap(),
    )
    .unwrap()
}

#[test]
fn blood_pressure_matches_the_phd_compound_example_in_codes_units_and_shape() {
    let bundle: Value = serde_json::from_str(&common::map_fixture(&common::repo_path(
        "fixtures/ble/2A35-blood-pressure.json",
    )))
    .unwrap();
    let ours = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| codings(&r["code"], MDC) == ["150020"])
        .expect("a 150020 Observation");
    let example = vector("compound-numeric-blood-pressure.json");

    // Codes: the same MDC and LOINC codings for the panel and each component, in the same order.
    let code_list = |concept: &Value| -> Vec<(String, String)> {
        concept["coding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["system"].to_string(), c["code"].to_string()))
            .collect()
    };
    assert_eq!(code_list(&ours["code"]), code_list(&example["code"]));
    let components = |obs: &Value| -> Vec<(Vec<(String, String)>, Value)> {
        obs["component"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (code_list(&c["code"]), c["valueQuantity"]["code"].clone()))
            .collect()
    };
    assert_eq!(components(ours), components(&example), "component codes and units");
    // Categories: the same codings.
    let categories = |obs: &Value| -> BTreeSet<String> {
        obs["category"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(&code_list)
            .map(|(s, c)| format!("{s}|{c}"))
            .collect()
    };
    assert_eq!(categories(ours), categories(&example));
    // Values as sent by the fixture (120/80/93 mm[Hg]).
    let values: Vec<&Value> = ours["component"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["valueQuantity"]["value"])
        .collect();
    assert_eq!(values, [120, 80, 93]);

    // Shape: every element path of the example is present in ours, except those that need data the
    // bridge does not have (performer, the Coincident Timestamp of an 11073-20601 PHG, narrative, id).
    let mut theirs = BTreeSet::new();
    key_paths(&example, "", &mut theirs);
    let mut mine = BTreeSet::new();
    key_paths(ours, "", &mut mine);
    let not_applicable = ["id", "text", "performer", "subject.reference", "device.reference"];
    let missing: Vec<&String> = theirs
        .difference(&mine)
        .filter(|p| !not_applicable.iter().any(|n| p == n || p.starts_with(&format!("{n}."))))
        .collect();
    assert!(
        missing.is_empty(),
        "element paths of the PHD example missing from ours: {missing:?}"
    );
    // References: ours point into the Bundle (urn:uuid) or name the patient by identifier.
    assert!(ours["device"]["reference"].as_str().unwrap().starts_with("urn:uuid:"));
    assert_eq!(
        ours["subject"]["identifier"]["system"],
        "urn:oid:2.16.840.1.113883.19.5"
    );
}

#[test]
fn nan_mean_pressure_follows_the_no_mean_example() {
    let bundle: Value = serde_json::from_str(&common::map_fixture(&common::repo_path(
        "fixtures/ble/2A35-blood-pressure-kpa-nan-map.json",
    )))
    .unwrap();
    let bp = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| codings(&r["code"], MDC) == ["150020"])
        .unwrap();
    let example = vector("compound-numeric-blood-pressure-no-mean.json");
    let example_mean = example["component"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| codings(&c["code"], MDC) == ["150023"])
        .unwrap();
    let mean = bp["component"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| codings(&c["code"], MDC) == ["150023"])
        .unwrap();
    assert!(mean["valueQuantity"].is_null());
    assert_eq!(
        mean["dataAbsentReason"]["coding"][0]["code"],
        example_mean["dataAbsentReason"]["coding"][0]["code"]
    );
    assert_eq!(bp["status"], "final");
    // The kPa values were converted for the vital-signs profile: 18.9 kPa → 142 mm[Hg].
    assert_eq!(bp["component"][0]["valueQuantity"]["value"], 142);
    assert_eq!(bp["component"][0]["valueQuantity"]["code"], "mm[Hg]");
}

#[test]
fn status_bits_follow_the_bpm_status_example() {
    let bundle: Value = serde_json::from_str(&common::map_fixture(&common::repo_path(
        "fixtures/ble/2A35-blood-pressure-unknown-year.json",
    )))
    .unwrap();
    let resources: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    let status = resources
        .iter()
        .find(|r| codings(&r["code"], MDC) == ["8410608"])
        .expect("status Observation");
    let example = vector("bpm-status.json");
    // The Nordic vector sets body movement, cuff too loose, irregular pulse and improper position.
    let bits: Vec<(&str, &str)> = status["component"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"]["coding"][0]["code"].as_str().unwrap(),
                c["code"]["coding"][0]["display"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        bits,
        [
            ("8410608.0", "body-movement"),
            ("8410608.1", "cuff-too-loose"),
            ("8410608.2", "irregular-pulse"),
            ("8410608.5", "improper-body-position")
        ]
    );
    // Same code system, value type and profile as the IG example.
    assert_eq!(
        status["component"][0]["code"]["coding"][0]["system"],
        example["component"][0]["code"]["coding"][0]["system"]
    );
    assert_eq!(status["component"][0]["valueBoolean"], true);
    assert_eq!(status["meta"]["profile"], example["meta"]["profile"]);
    let bp_url = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| codings(&e["resource"]["code"], MDC) == ["150020"])
        .unwrap()["fullUrl"]
        .clone();
    assert_eq!(status["derivedFrom"][0]["reference"], bp_url);
    // Year 0: the device time is not completed by guessing; the receipt time is used.
    assert_eq!(status["effectiveDateTime"], "2026-11-21T10:00:00+00:00");
}

#[test]
fn devices_follow_the_phd_device_example() {
    let bundle: Value = serde_json::from_str(&common::map_fixture(&common::repo_path(
        "fixtures/ble/2A35-blood-pressure.json",
    )))
    .unwrap();
    let device = bundle["entry"][1]["resource"].clone();
    let example = vector("phd-711000FEFF5F49B0.B0495F001071.json");
    assert_eq!(device["type"]["coding"], example["type"]["coding"]);
    assert_eq!(
        device["specialization"][0]["systemType"]["coding"],
        example["specialization"][0]["systemType"]["coding"]
    );
    let ids: Vec<(&Value, &Value, &Value)> = device["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (&i["type"]["coding"][0]["code"], &i["system"], &i["value"]))
        .collect();
    let example_ids: Vec<(&Value, &Value)> = example["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (&i["type"]["coding"][0]["code"], &i["system"]))
        .collect();
    assert_eq!(
        ids.iter().map(|(t, s, _)| (*t, *s)).collect::<Vec<_>>(),
        example_ids,
        "SYSID then BTMAC, same systems"
    );
    assert_eq!(ids[0].2, "00-1C-05-FF-FE-E8-74-C4");
    assert_eq!(ids[1].2, "C4-7C-8D-6A-1F-20");
    assert_eq!(device["version"][0]["type"]["coding"][0]["code"], "531976");
    assert_eq!(device["version"][0]["value"], "1.4.2");
}
