//! Ventilator metrics over IHE PCD-01: codes, LOINC and UCUM units. No public capture from a
//! ventilator was found (README, "Known gaps"), so the message is constructed in the shape of the
//! IHE PCD TF examples, with the MDC codes checked against the NIST RTMMS export and the LOINC codes
//! the MII ICU profiles pair with them.

mod common;

use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::map_payload;
use serde_json::Value;

const MESSAGE: &str = "MSH|^~\\&|VENT_GW^0012210000000001^EUI-64|ICU|||20261121100000+0100||ORU^R01^ORU_R01|V1|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r\
PID|||MRN-7^^^HOSP&1.2.3&ISO^MR\r\
OBR|1||V1^VENT_GW|182777000^monitoring of patient^SCT|||20261121100000\r\
OBX|1||70480^MDC_DEV_SYS_PT_VENT_MDS^MDC|1.0.0.0|||||||X|||||||0012210000000002^^0012210000000002^EUI-64\r\
OBX|2|NM|151586^MDC_VENT_RESP_RATE^MDC|1.1.1.1|14|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R\r\
OBX|3|NM|151980^MDC_VENT_VOL_TIDAL^MDC|1.1.1.2|450|263762^MDC_DIM_MILLI_L^MDC|||||R\r\
OBX|4|NM|151976^MDC_VENT_PRESS_AWAY_END_EXP_POS^MDC|1.1.1.3|5|266048^MDC_DIM_CM_H2O^MDC|||||R\r\
OBX|5|NM|151804^MDC_PRESS_AWAY_END_EXP_POS^MDC|1.1.1.4|6|266048^MDC_DIM_CM_H2O^MDC|||||R\r\
OBX|6|NM|152196^MDC_CONC_AWAY_O2_INSP^MDC|1.1.1.5|40|262688^MDC_DIM_PERCENT^MDC|||||R\r\
OBX|7|NM|151817^MDC_PRESS_AWAY_INSP_MAX^MDC|1.1.1.6|22|266048^MDC_DIM_CM_H2O^MDC|||||R\r\
OBX|8|NM|151880^MDC_VOL_MINUTE_AWAY^MDC|1.1.1.7|6.3|265216^MDC_DIM_X_L_PER_MIN^MDC|||||R\r\
OBX|9|NM|151562^MDC_RESP_RATE^MDC|1.1.1.8|16|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R\r\
OBX|10|NM|152424^MDC_VENT_PRESS_RESP_PLAT^MDC|1.1.1.9|18|266048^MDC_DIM_CM_H2O^MDC|||||R\r";

fn observation<'a>(bundle: &'a Value, code: &str) -> &'a Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Observation" && r["code"]["coding"][0]["code"] == code)
        .unwrap_or_else(|| panic!("no Observation {code}"))
}

fn loinc(observation: &Value) -> Vec<&str> {
    observation["code"]["coding"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["system"] == "http://loinc.org")
        .map(|c| c["code"].as_str().unwrap())
        .collect()
}

#[test]
fn ventilator_metrics_map_with_their_codes_loinc_and_units() {
    let json = map_payload(
        AdapterKind::Hl7v2,
        MESSAGE.as_bytes(),
        &common::settings(),
        common::now(),
    )
    .unwrap();
    let bundle: Value = serde_json::from_str(&json).unwrap();
    // (MDC code, LOINC, value, UCUM unit)
    let expected: [(&str, &[&str], f64, &str); 9] = [
        ("151586", &["33438-3"], 14.0, "/min"),
        ("151980", &["76222-9"], 450.0, "mL"),
        ("151976", &["76248-4"], 5.0, "cm[H2O]"),
        // The monitors' PEEP code stays what it is, without a LOINC no source pairs with it.
        ("151804", &[], 6.0, "cm[H2O]"),
        // FiO2: no LOINC (the MII profile forbids one), a fraction in %.
        ("152196", &[], 40.0, "%"),
        ("151817", &[], 22.0, "cm[H2O]"),
        ("151880", &[], 6.3, "L/min"),
        ("151562", &["9279-1"], 16.0, "/min"),
        ("152424", &["76259-1"], 18.0, "cm[H2O]"),
    ];
    for (code, loincs, value, unit) in expected {
        let o = observation(&bundle, code);
        assert_eq!(loinc(o), loincs.to_vec(), "{code}");
        assert_eq!(o["valueQuantity"]["value"].as_f64(), Some(value), "{code}");
        assert_eq!(o["valueQuantity"]["code"], unit, "{code}");
        assert_eq!(o["valueQuantity"]["system"], "http://unitsofmeasure.org", "{code}");
        assert_eq!(o["subject"]["identifier"]["value"], "MRN-7", "{code}");
    }
    // Only the patient's respiratory rate is an R4 vital sign; ventilator settings and mechanics are not.
    let vital = |code: &str| {
        observation(&bundle, code)["category"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["coding"][0]["code"] == "vital-signs"))
    };
    assert!(vital("151562"));
    assert!(!vital("151586") && !vital("151976"));
}

/// A home spirometer's result through a declarative mapping, in the shape vendor SDKs give it:
/// centilitres and centilitres per second (constructed; no public vendor payload was found).
const SPIROMETER: &str = r#"name = "spirometer"
match = "$.results"
records = "$.results[*]"
[device]
id = "$.serial"
system = "urn:example:spirometer-serial"
[patient]
system = "urn:example:mrn"
id = "$.patient"
[time]
instant = "@.date"
format = "iso8601"
[[measurements]]
name = "FEV1"
code_in = "http://loinc.org|20150-9 FEV1"
value = "@.fev1_cL"
unit = "cL"
convert_to = "L"
required = true
[[measurements]]
name = "FVC"
code_in = "http://loinc.org|19870-5 Forced vital capacity [Volume] Respiratory system"
value = "@.fvc_cL"
unit = "cL"
convert_to = "L"
[[measurements]]
name = "PEF"
code = 152584
value = "@.pef_cLs"
unit = "cL/s"
convert_to = "L/min"
"#;

#[test]
fn spirometry_through_a_mapping_converts_its_unit_traps_and_codes_what_mdc_lacks_with_loinc() {
    let dir = std::env::temp_dir().join(format!("fhirgate-spirometry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("spirometer.toml"), SPIROMETER).unwrap();
    let settings = fhirgate::pipeline::MapSettings {
        declarative: std::sync::Arc::new(
            fhirgate::adapters::declarative::DeclarativeMappings::load(&dir.join("spirometer.toml")).unwrap(),
        ),
        ..common::settings()
    };
    let payload = br#"{"serial": "SB-1042", "patient": "P-7",
        "results": [{"date": "2026-11-21T09:15:00+01:00", "fev1_cL": 320, "fvc_cL": 410, "pef_cLs": 820}]}"#;
    let json = map_payload(AdapterKind::Declarative, payload, &settings, common::now()).unwrap();
    let bundle: Value = serde_json::from_str(&json).unwrap();
    let by_code = |code: &str| {
        common::observations(&bundle)
            .into_iter()
            .find(|o| o["code"]["coding"][0]["code"] == code)
            .unwrap_or_else(|| panic!("{code}: {bundle}"))
    };
    // FEV1 and FVC: LOINC alone (no MDC code is claimed), litres from centilitres.
    let fev1 = by_code("20150-9");
    assert_eq!(fev1["code"]["coding"][0]["system"], "http://loinc.org");
    assert_eq!(fev1["code"]["coding"].as_array().unwrap().len(), 1);
    // Three significant digits, as sent (320 cL): 3.20, not 3.2.
    assert_eq!(fev1["valueQuantity"]["value"].to_string(), "3.20");
    assert_eq!(fev1["valueQuantity"]["code"], "L");
    assert!(fev1
        .get("category")
        .is_none_or(|c| !c.to_string().contains("vital-signs")));
    assert_eq!(by_code("19870-5")["valueQuantity"]["value"].to_string(), "4.10");
    // PEF: MDC 152584 as the R4 core example codes it, 820 cL/s (the example's value) = 492 L/min.
    let pef = by_code("152584");
    assert_eq!(pef["valueQuantity"]["value"].to_string(), "492");
    assert_eq!(pef["valueQuantity"]["code"], "L/min");
    assert_eq!(pef["effectiveDateTime"], "2026-11-21T09:15:00+01:00");
    // A peak flow mislabelled as a volume is caught by `mappings check`.
    let wrong = SPIROMETER.replace("unit = \"cL/s\"\nconvert_to = \"L/min\"", "unit = \"L\"");
    std::fs::write(dir.join("wrong.toml"), wrong).unwrap();
    let report = fhirgate::mappings_cli::check(&dir.join("wrong.toml"));
    assert!(report.failed, "{}", report.text);
    assert!(
        report.text.contains("unit L does not fit MDC 152584"),
        "{}",
        report.text
    );
}
