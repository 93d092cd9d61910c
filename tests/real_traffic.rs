//! The real-traffic corpus (`fixtures/real/`): captures from hospital pumps and monitors (B. Braun
//! SpaceCom, Mindray, GE Mural, Philips, Smiths, Nihon Kohden, Comen) and Bluetooth devices (Beurer,
//! Roche Accu-Chek, Polar, ChoiceMMed, Xiaomi and two unnamed monitors), each copied verbatim with its
//! source and licence (`fixtures/real/README.md`). Every value is asserted against what its source
//! says; what the bridge refuses is refused with the reason it should give. These are the cases the
//! bridge once got wrong: one Device for every pump of a maker, readings under "Unknown Patient", a
//! pump's IP address in a chart, body fat 0 % as a measurement.

mod common;

use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::{map_payload, MapError, MapSettings};
use serde_json::{json, Value};

const HOSPITAL: &str = "urn:oid:2.16.840.1.113883.19.5";

use common::{real_hl7 as message, real_settings as hospital, resources};

fn map_hl7(name: &str, settings: &MapSettings) -> Result<Value, MapError> {
    map_payload(AdapterKind::Hl7v2, &message(name), settings, common::now())
        .map(|json| serde_json::from_str(&json).unwrap())
}

fn bundle(name: &str) -> Value {
    map_hl7(name, &hospital()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn refusal(name: &str) -> String {
    match map_hl7(name, &hospital()) {
        Ok(bundle) => panic!("{name} was mapped, not refused: {bundle}"),
        Err(error) => {
            assert!(error.is_bad_input(), "{name}: {error}");
            error.to_string()
        }
    }
}

/// The Observation coded `code` (or, for a code the sender left pending, named so in `code.text`).
fn observation<'a>(bundle: &'a Value, code: &str) -> &'a Value {
    resources(bundle, "Observation")
        .into_iter()
        .find(|o| o["code"]["coding"][0]["code"] == code || o["code"]["text"] == code)
        .unwrap_or_else(|| panic!("no Observation {code}"))
}

fn identifiers(device: &Value) -> Vec<(String, String)> {
    device["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["system"].as_str().unwrap().to_string(),
                i["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The Device identified first by `(system, value)`.
fn device<'a>(bundle: &'a Value, system: &str, value: &str) -> &'a Value {
    resources(bundle, "Device")
        .into_iter()
        .find(|d| identifiers(d).first().is_some_and(|(s, v)| s == system && v == value))
        .unwrap_or_else(|| panic!("no Device {system}|{value} in {bundle}"))
}

fn subject_is_patient(observation: &Value, mrn: &str) {
    assert_eq!(observation["subject"]["type"], "Patient", "{observation}");
    assert_eq!(observation["subject"]["identifier"]["system"], HOSPITAL);
    assert_eq!(observation["subject"]["identifier"]["value"], mrn);
}

fn subject_is_device(observation: &Value) {
    assert_eq!(observation["subject"]["type"], "Device", "{observation}");
    assert!(observation["subject"]["identifier"].is_null(), "{observation}");
}

fn location_name(observation: &Value) -> &str {
    observation["contained"][0]["name"].as_str().unwrap_or_default()
}

const UUID: &str = "urn:ietf:rfc:3986";
const BBRAUN_LABELS: &str = "urn:fhirgate:equipment-id:PAT_DEVICE_BBRAUN";

/// What every B. Braun SpaceCom message shares: `PAT_DEVICE_BBRAUN^0012211839000001^EUI-64` is the
/// SpaceStation (a gateway), `…^^0012210000000000^EUI-64` in OBX-18 B. Braun's OUI and zeros, which
/// names no pump; `Unknown Patient^Unknown Patient` with PID-31 = Y no patient.
fn bbraun_conventions(bundle: &Value) {
    let gateway = device(
        bundle,
        "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680",
        "00-12-21-18-39-00-00-01",
    );
    assert!(identifiers(gateway).contains(&("urn:fhirgate:gateway-id".into(), "PAT_DEVICE_BBRAUN".into())));
    let text = bundle.to_string();
    assert!(
        !text.contains("00-12-21-00-00-00-00-00") && !text.contains("0012210000000000"),
        "the placeholder EUI names no device"
    );
    assert!(!text.contains("Unknown Patient"), "a placeholder patient is no patient");
    assert!(
        !text.contains("urn:fhirgate:assigning-authority"),
        "no identifier from an empty assigning authority"
    );
    assert!(
        resources(bundle, "Observation")
            .iter()
            .all(|o| o["code"]["coding"][0]["code"] != "67972"),
        "the system id is the Device's identity, not an Observation"
    );
}

// ---- B. Braun SpaceCom, real ward captures (kelvinric123/smartward4.0) -------------------------

#[test]
fn bbraun_ward_d5_infusomat_is_its_own_device_with_its_ward_and_the_associated_patient() {
    let b = bundle("bbraun_pcd01_real_ward_d5_infusomat_stopped");
    bbraun_conventions(&b);
    // tests/test_parser.py asserts device_id 743d27f8-…, pump_label I51559, pump_model
    // "B Braun SpacePlus Infusomat", drug_library PHKL_D5, ward "WARD D5", facility "PHKL".
    let pump = device(&b, UUID, "urn:uuid:743d27f8-c72b-516b-8622-e7f2df7b6ec5");
    assert_eq!(
        identifiers(pump)[0].0,
        UUID,
        "a UUID system id is never under the EUI-64 OID"
    );
    assert!(identifiers(pump).contains(&(BBRAUN_LABELS.into(), "I51559".into())));
    assert_eq!(pump["modelNumber"], "B Braun SpacePlus Infusomat");
    assert_eq!(pump["type"]["coding"][0]["code"], "70049", "MDC_DEV_PUMP_INFUS_LVP_MDS");
    let library = observation(&b, "184520");
    assert_eq!(library["valueString"], "PHKL_D5");
    subject_is_device(library);
    // pump_status not-infusing, delivery_status not-delivering, reason powered off, rate 0 mL/h.
    let status = observation(&b, "184519");
    assert_eq!(status["valueCodeableConcept"]["text"], "pump-status-not-infusing");
    subject_is_patient(status, "MRN-D5-0001");
    assert_eq!(
        observation(&b, "158005")["valueCodeableConcept"]["text"],
        "pump-delivery-status-not-delivering"
    );
    assert_eq!(
        observation(&b, "158006")["valueCodeableConcept"]["text"],
        "pump-stopped-powered-off"
    );
    let rate = observation(&b, "158014");
    assert_eq!(rate["valueQuantity"]["value"], 0);
    assert_eq!(rate["valueQuantity"]["code"], "mL/h");
    assert_eq!(rate["effectiveDateTime"], "2026-02-19T07:58:31+00:00", "OBR-7");
    assert_eq!(
        location_name(status),
        "PHKL, WARD D5",
        "facility and ward from the pillar details"
    );
    assert_eq!(status["contained"][0]["physicalType"]["coding"][0]["code"], "wa");
    // alarm is None: no alert Observation.
    assert_eq!(resources(&b, "Observation").len(), 9);
}

#[test]
fn bbraun_ward_d6_perfusor_has_a_facility_but_no_ward() {
    let b = bundle("bbraun_pcd01_real_ward_d6_perfusor_stopped");
    bbraun_conventions(&b);
    let pump = device(&b, UUID, "urn:uuid:3107c7c4-59d7-54b7-b500-8d716e5ca2cb");
    assert!(identifiers(pump).contains(&(BBRAUN_LABELS.into(), "P52814".into())));
    assert_eq!(pump["modelNumber"], "B Braun SpacePlus Perfusor");
    assert_eq!(observation(&b, "184520")["valueString"], "PHKL_D6");
    let status = observation(&b, "184519");
    subject_is_patient(status, "MRN-D6-0002");
    // `~~~PHKL^^…`: the facility alone; the ward is only in the drug library's name, not guessed.
    assert_eq!(location_name(status), "PHKL");
    assert_eq!(
        status["contained"][0]["physicalType"]["coding"][0]["code"], "si",
        "a facility alone is a site, not a ward"
    );
}

#[test]
fn bbraun_ward_d6_spread_location_is_read_as_the_source_reads_it() {
    // The repository's test: pump_label I51316, device_id 46637152-…, ward "Ward D6", facility None.
    let b = bundle("bbraun_pcd01_EXCERPT_ward_d6_spread_location");
    bbraun_conventions(&b);
    let pump = device(&b, UUID, "urn:uuid:46637152-3159-5f31-be9c-86e104aaf384");
    assert!(identifiers(pump).contains(&(BBRAUN_LABELS.into(), "I51316".into())));
    let status = observation(&b, "184519");
    assert_eq!(location_name(status), "Ward D6");
    assert_eq!(status["contained"][0]["physicalType"]["coding"][0]["code"], "wa");
}

#[test]
fn two_pumps_behind_one_spacestation_are_two_devices() {
    // The D5 and D6 captures come through the same SpaceStation (MSH-3) with the same placeholder
    // EUI-64 in OBX-18: delivered together, they are two pumps, two patients, one gateway.
    let settings = hospital();
    let mut readings = Vec::new();
    for name in [
        "bbraun_pcd01_real_ward_d5_infusomat_stopped",
        "bbraun_pcd01_real_ward_d6_perfusor_stopped",
    ] {
        readings.extend(
            fhirgate::pipeline::associated_readings(AdapterKind::Hl7v2, &message(name), &settings, common::now())
                .unwrap(),
        );
    }
    let b: Value = serde_json::from_str(&fhirgate::pipeline::bundle_json(&readings, &settings).unwrap()).unwrap();
    let pumps: Vec<&Value> = resources(&b, "Device")
        .into_iter()
        .filter(|d| identifiers(d)[0].0 == UUID)
        .collect();
    assert_eq!(pumps.len(), 2, "{b}");
    assert_ne!(identifiers(pumps[0]), identifiers(pumps[1]));
    let patients: std::collections::BTreeSet<String> = resources(&b, "Observation")
        .iter()
        .filter_map(|o| o["subject"]["identifier"]["value"].as_str().map(str::to_string))
        .collect();
    assert_eq!(patients, ["MRN-D5-0001", "MRN-D6-0002"].map(String::from).into());

    // And within one message: two pumps (MDS 1 and 2) sharing the placeholder EUI and carrying no
    // system id are told apart by their labels; without labels the message is refused, not merged.
    let text = String::from_utf8(message("bbraun_pcd01_real_ward_d5_infusomat_stopped")).unwrap();
    let rows: Vec<&str> = text.split('\r').filter(|s| !s.is_empty()).collect();
    let head = rows[..3].join("\r");
    let pump = |mds: &str, label: &str| {
        format!(
            "OBX|1||70049^MDC_DEV_PUMP_INFUS_LVP_MDS^MDC|{mds}.0.0.0|||||||X|||||||{label}^^0012210000000000^EUI-64\r\
             OBX|2|NM|158014^MDC_FLOW_FLUID_PUMP_CURRENT^MDC|{mds}.1.1.2|25|265266^MDC_DIM_MILLI_L_PER_HR^MDC^mL/h^mL/h^UCUM|||||R"
        )
    };
    let two = format!("{head}\r{}\r{}\r", pump("1", "I51559"), pump("2", "I51560"));
    let association = json!([
        {"device": {"instanceId": {"value": "I51559", "namespace": "PAT_DEVICE_BBRAUN"}},
         "patient": {"system": HOSPITAL, "value": "MRN-A"}, "from": "2026-01-01T00:00:00Z"},
        {"device": {"instanceId": {"value": "I51560", "namespace": "PAT_DEVICE_BBRAUN"}},
         "patient": {"system": HOSPITAL, "value": "MRN-B"}, "from": "2026-01-01T00:00:00Z"}
    ]);
    let settings = MapSettings {
        associations: fhirgate::pipeline::association::AssociationTable::from_json(association.to_string().as_bytes())
            .unwrap(),
        ..common::settings()
    };
    let b: Value =
        serde_json::from_str(&map_payload(AdapterKind::Hl7v2, two.as_bytes(), &settings, common::now()).unwrap())
            .unwrap();
    let rates: Vec<&Value> = resources(&b, "Observation");
    assert_eq!(rates.len(), 2);
    let patients: Vec<&str> = rates
        .iter()
        .map(|o| o["subject"]["identifier"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(patients, ["MRN-A", "MRN-B"]);
    device(&b, BBRAUN_LABELS, "I51559");
    device(&b, BBRAUN_LABELS, "I51560");
    let unlabelled = two.replace("I51559^^", "^^").replace("I51560^^", "^^");
    let error = map_payload(AdapterKind::Hl7v2, unlabelled.as_bytes(), &settings, common::now()).unwrap_err();
    assert!(error.to_string().contains("MDS 1 has no identity"), "{error}");
}

#[test]
fn a_pump_without_an_association_waits_naming_the_device_as_an_association_must() {
    let error = map_hl7("bbraun_pcd01_real_ward_d5_infusomat_stopped", &common::settings()).unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with(fhirgate::pipeline::NO_PATIENT), "{text}");
    assert!(text.contains("PID-31 (identity unknown indicator) is Y"), "why: {text}");
    let fhirgate::pipeline::MapError::NoPatient { device, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(
        device.to_string(),
        r#"{"systemIdText":"743d27f8-c72b-516b-8622-e7f2df7b6ec5"}"#,
        "the device as an association names it, kept beside the reason"
    );
    assert!(
        !text.contains("743d27f8"),
        "the reason is logged: it names no device: {text}"
    );
    assert!(!text.contains("Unknown Patient"));
}

// ---- B. Braun vendor samples (2022, B. Braun test system to DOC_AM_TEST) ----------------------

#[test]
fn bbraun_perfusor_infusing_dobutamine() {
    let b = bundle("bbraun_pcd01_spaceplus_perfusor_infusing_dobutamine");
    bbraun_conventions(&b);
    // The repository asserts pump_type syringe and medication Dobutamine.
    let pump = device(&b, UUID, "urn:uuid:ee794b2a-5e04-56b4-91e6-b4d637f1d894");
    assert_eq!(
        pump["type"]["coding"][0]["code"], "70053",
        "MDC_DEV_PUMP_INFUS_SYRINGE_MDS"
    );
    assert!(identifiers(pump).contains(&(BBRAUN_LABELS.into(), "P2449".into())));
    assert_eq!(observation(&b, "184514")["valueString"], "Dobutamine");
    let rate = observation(&b, "157784");
    assert_eq!(rate["valueQuantity"]["value"], 18);
    assert_eq!(rate["valueQuantity"]["code"], "mL/h");
    subject_is_patient(rate, "MRN-4711");
    assert_eq!(observation(&b, "157760")["valueQuantity"]["value"], 5, "5 mg/mL");
    assert_eq!(
        observation(&b, "157984")["valueQuantity"]["value"],
        30.95,
        "syringe actual volume"
    );
    assert_eq!(
        observation(&b, "68063")["valueQuantity"]["value"],
        100,
        "patient weight programmed"
    );
    let near_complete = observation(&b, "68012");
    assert_eq!(near_complete["valueCodeableConcept"]["coding"][0]["code"], "197334");
    subject_is_device(observation(&b, "184516"));
    assert_eq!(observation(&b, "184516")["valueString"], "Global Surgery");
}

#[test]
fn bbraun_syringe_holder_open_alarm_sequence_is_four_alert_observations_of_one_pump() {
    // The vendor's prose: start, muted, minimized, end of one "syringe holder open" alarm. The
    // repository asserts alert_text "Syringe Holder Open", priority PH, event
    // MDC_EVT_SYRINGE_BARREL_CAPTURE_FAULT, phases start/update/update/end, states
    // active/active/active/inactive, and that PCD-04 carries no system id (the label, prefix dropped:
    // 2449).
    let mut identifiers_seen = Vec::new();
    let expected = [
        ("1_start", "start", "active", "enabled", "2022-05-11T15:24:02+00:00"),
        (
            "2_muted",
            "update",
            "active",
            "audio-paused",
            "2022-05-11T15:24:20+00:00",
        ),
        (
            "3_minimized",
            "update",
            "active",
            "audio-paused",
            "2022-05-11T15:24:32+00:00",
        ),
        ("4_end", "end", "inactive", "alarm-off", "2022-05-11T15:24:42+00:00"),
    ];
    for (step, phase, state, inactivation, time) in expected {
        let b = bundle(&format!("bbraun_pcd04_syringe_holder_open_{step}"));
        bbraun_conventions(&b);
        device(&b, BBRAUN_LABELS, "2449");
        let alerts = resources(&b, "Observation");
        assert_eq!(alerts.len(), 1, "the MDS and VMD rows are no alerts: {b}");
        let alert = alerts[0];
        assert_eq!(alert["code"]["coding"][0]["code"], "197218");
        assert_eq!(
            alert["code"]["coding"][0]["display"],
            "MDC_EVT_SYRINGE_BARREL_CAPTURE_FAULT"
        );
        assert_eq!(alert["valueString"], "Syringe Holder Open", "the text the pump showed");
        assert_eq!(alert["effectiveDateTime"], time);
        subject_is_patient(alert, "MRN-4711");
        let component = |code: &str| {
            alert["component"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["code"]["coding"][0]["code"] == code)
                .and_then(|c| c["valueString"].as_str().map(str::to_string))
                .unwrap_or_else(|| panic!("{step}: no component {code}"))
        };
        assert_eq!(component("68481"), phase);
        assert_eq!(component("68482"), state);
        assert_eq!(component("68483"), inactivation);
        assert_eq!(component("68484"), "PH");
        assert_eq!(component("68485"), "ST");
        identifiers_seen.push(alert["identifier"][0]["value"].as_str().unwrap().to_string());
    }
    identifiers_seen.dedup();
    assert_eq!(identifiers_seen.len(), 4, "four states of the alarm, four Observations");
}

#[test]
fn bbraun_delivery_start_and_complete_events() {
    let start = bundle("bbraun_pcd10_spaceplus_perfusor_delivery_start");
    bbraun_conventions(&start);
    let event = observation(&start, "197288");
    subject_is_patient(event, "MRN-4711");
    let source = event["component"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"]["coding"][0]["code"] == "68488")
        .unwrap();
    assert_eq!(source["valueString"], "1.1.2.0", "the path of the source channel");
    assert_eq!(event["effectiveDateTime"], "2022-05-23T14:17:00+00:00");
    let complete = bundle("bbraun_pcd10_spaceplus_perfusor_delivery_complete");
    bbraun_conventions(&complete);
    observation(&complete, "197292");
    assert_eq!(
        observation(&complete, "158006")["valueCodeableConcept"]["text"],
        "pump-stopped-alarming"
    );
    assert_eq!(
        observation(&complete, "157992")["valueQuantity"]["value"],
        2,
        "segment volume 2 mL"
    );
}

#[test]
fn bbraun_device_status_is_about_the_pump_never_in_the_patients_chart() {
    for (name, power, ssid, charge) in [
        (
            "bbraun_pcd15_spaceplus_perfusor_on_battery",
            "onBattery(1)",
            "BBraunPumps",
            100,
        ),
        // The mains message's SSID has a leading space, kept as sent.
        (
            "bbraun_pcd15_spaceplus_perfusor_on_mains",
            "onMains(0)",
            " BBraunPumps",
            99,
        ),
    ] {
        let b = bundle(name);
        bbraun_conventions(&b);
        let observations = resources(&b, "Observation");
        assert!(observations.len() >= 15, "{name}");
        for o in &observations {
            subject_is_device(o);
        }
        assert_eq!(observation(&b, "67925")["valueString"], power);
        assert_eq!(
            observation(&b, "69410")["valueString"],
            "10.0.0.13",
            "the IP address, about the pump"
        );
        assert_eq!(observation(&b, "69416")["valueString"], "c0:ee:40:0d:16:8f");
        assert_eq!(observation(&b, "69417")["valueString"], ssid);
        assert_eq!(observation(&b, "69425")["valueQuantity"]["value"], 96);
        assert_eq!(observation(&b, "67996")["valueQuantity"]["value"], charge);
        assert_eq!(
            observation(&b, "531976")["valueString"],
            "Pump Firmware = 1.1.13, Wifi Firmware = 1.4.59"
        );
        assert!(!b.to_string().contains(HOSPITAL), "no patient is named: {name}");
    }
}

// ---- Mindray and GE ----------------------------------------------------------------------------

#[test]
fn mindray_vs8_in_demo_mode_has_no_patient_and_its_values_are_marked_test_data() {
    // gateway/vs8_new/README.md: EUI-64 00A037009B023649; "PID-3 is 99999^^^Hospital^PI … until ADT
    // supplies it"; "OBX-8 = DEMO means the monitor is in demo mode and the values are simulated".
    let error = map_hl7("mindray_vs8_pcd01_real_capture_demo_mode", &common::settings()).unwrap_err();
    assert!(error.to_string().contains("placeholder"), "{error}");
    let b = bundle("mindray_vs8_pcd01_real_capture_demo_mode");
    let monitor = device(
        &b,
        "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680",
        "00-A0-37-00-9B-02-36-49",
    );
    assert_eq!(
        resources(&b, "Device").len(),
        1,
        "the monitor sends for itself: {monitor}"
    );
    for (code, value, unit) in [
        ("150456", 77.0, "%"),
        ("149530", 50.0, "/min"),
        ("150488", 3.06, "%"),
        ("151658", 12.0, "/min"),
    ] {
        let o = observation(&b, code);
        assert_eq!(o["valueQuantity"]["value"].as_f64(), Some(value), "{code}");
        assert_eq!(o["valueQuantity"]["code"], unit, "{code}");
        assert_eq!(
            o["meta"]["security"][0]["code"], "HTEST",
            "simulated, not the patient's: {code}"
        );
        assert_eq!(o["effectiveDateTime"], "2026-07-27T12:44:24+00:00");
        subject_is_patient(o, "MRN-VS8-0004");
    }
}

#[test]
fn ge_mural_advisory_names_its_patient_place_and_priority_once() {
    let b = bundle("ge_mural_pcd04_hypertension_advisory");
    let alert = observation(&b, "MDCX_EVT_ALERT_ADVISORY");
    assert_eq!(alert["valueString"], "HYPERTENSION-Alert Recheck BP");
    assert_eq!(
        alert["subject"]["identifier"]["system"],
        common::UNQUALIFIED_PATIENT_SYSTEM
    );
    assert_eq!(alert["subject"]["identifier"]["value"], "PID-12345");
    assert_eq!(location_name(alert), "GE_BLR_LAB, ICU, room B1, bed B1", "PV1-3");
    let priorities: Vec<&Value> = alert["component"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"]["coding"][0]["code"] == "68484")
        .collect();
    assert_eq!(
        priorities.len(),
        1,
        "OBX-8's PM beside the priority row is not a second priority"
    );
    assert_eq!(priorities[0]["valueString"], "PM");
    // The alert's source is Mural itself (OBX-18 and MDC_ATTR_ALERT_SOURCE name the sender): one
    // Device, no separate gateway.
    assert_eq!(resources(&b, "Device").len(), 1);
}

// ---- What the bridge refuses, and why --------------------------------------------------------

#[test]
fn messages_that_are_no_ihe_pcd_observations_are_refused_with_the_reason() {
    let cases = [
        // Philips IntelliVue Information Center's own export: MDIL codes, not MDC.
        (
            "philips_piic_mdil_nbps_low_yellow_idemo1",
            "every observation is coded in \"MDIL\", not MDC",
        ),
        (
            "philips_piic_mdil_pap_disconnect_spo2_low_idemo1",
            "every observation is coded in \"MDIL\", not MDC",
        ),
        (
            "philips_piic_mdil_red_xtachy_yellow_rr_idemo2",
            "every observation is coded in \"MDIL\", not MDC",
        ),
        (
            "philips_piic_mdil_short_yellow_pacer_not_pacing_pdemo7",
            "every observation is coded in \"MDIL\", not MDC",
        ),
        (
            "philips_piic_mdil_null_patient_spo2t_no_pulse_pdemo6",
            "every observation is coded in \"MDIL\", not MDC",
        ),
        (
            "philips_piic_mdil_oru_urmc_fixture",
            "every observation is coded in \"MDIL\", not MDC",
        ),
        (
            "philips_piic_mdil_hardinop_no_data_monitor_idemo1",
            "every observation is coded in \"MDIL-ALERT\"",
        ),
        // The central station's clock broadcast on the same socket.
        (
            "philips_piic_nmd_nck_clock_sync",
            "message type NMD is not a device observation report",
        ),
        // Orders and queries, and a device's own ADT.
        (
            "bbraun_pcd03_rgv_test_iop",
            "RGV^O15 is not a device observation report",
        ),
        (
            "comen_nc5_qry_r02_patient_query_real",
            "QRY^R02 is not a device observation report",
        ),
        (
            "comen_nc5_adt_a08_bed_context",
            "ADT^A08 is not a device observation report",
        ),
        // Comen's spot check names its device only by a serial in MSH-4 (the sending facility); its
        // private rows (99COMEN) are left out, and no row says which device measured.
        ("comen_nc5_pcd01_real_spot_check", "MDS 1 has no identity"),
        // Nihon Kohden's export: plain-text units, no coding system.
        (
            "nihonkohden_oru_r01_vital_bed001_inicu",
            "field 6: the unit has no UCUM form",
        ),
        // Smiths' RTLS location rows sit at OBX-4 `LOC`, outside the containment tree.
        (
            "smiths_medfusion4000_pcd15_memdmc_with_rtls_location",
            "is not a dotted containment path",
        ),
        // Mindray VS900's alarm names no device in OBX-18 and sends no system id.
        ("mindray_vs900_pcd04_alarm_issue_nhapi231", "MDS 1 has no identity"),
    ];
    for (name, reason) in cases {
        let text = refusal(name);
        assert!(text.contains(reason), "{name}: {text}");
    }
}

// ---- Bluetooth captures (fixtures/real/ble/captures.json) ------------------------------------

fn captures() -> Vec<Value> {
    common::real_ble_captures()
}

fn envelope(ids: &[&str], received_at: &str) -> Vec<u8> {
    common::real_ble_envelope(ids, received_at)
}

fn map_ble(ids: &[&str], received_at: &str) -> Result<Value, MapError> {
    map_payload(
        AdapterKind::Ble,
        &envelope(ids, received_at),
        &common::settings(),
        common::now(),
    )
    .map(|json| serde_json::from_str(&json).unwrap())
}

fn quantity(o: &Value) -> (f64, &str) {
    (
        o["valueQuantity"]["value"].as_f64().unwrap(),
        o["valueQuantity"]["code"].as_str().unwrap(),
    )
}

#[test]
fn every_capture_is_recorded_with_its_source_and_licence() {
    let all = captures();
    assert!(all.len() >= 20);
    for c in &all {
        assert!(c["hex"].as_str().is_some_and(|h| hex::decode(h).is_ok()), "{c}");
        assert!(c["licence"].as_str().is_some_and(|l| !l.is_empty()), "{c}");
        let source = &c["source"];
        assert!(source["repo"].is_string() || source["url"].is_string(), "{c}");
        assert!(c["source_says"].is_object(), "{c}");
    }
    let makers: std::collections::BTreeSet<&str> = all
        .iter()
        .filter(|c| c["kind"] == "real device capture")
        .filter_map(|c| c["maker"].as_str())
        .filter(|m| !m.starts_with("unknown"))
        .collect();
    assert!(makers.len() >= 3, "{makers:?}");
    let hl7 = std::fs::read_dir(common::repo_path("fixtures/real/hl7v2"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "hl7"))
        .count();
    assert!(hl7 >= 20, "{hl7} HL7 v2 captures");
    let sources = std::fs::read_to_string(common::repo_path("fixtures/real/hl7v2/SOURCES.md")).unwrap();
    for entry in std::fs::read_dir(common::repo_path("fixtures/real/hl7v2")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "hl7") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert!(sources.contains(&name), "{name} has no source in SOURCES.md");
        }
    }
}

#[test]
fn beurer_bf720_weight_and_body_composition() {
    // ble-scale-sync: weight toBeCloseTo(79.96, 2), timestamp 2026-05-12 (month 4, 0-based);
    // body fat toBeCloseTo(19.4, 1), water mass 43.25 kg.
    let b = map_ble(&["beurer-bf720-wss-168"], "2026-05-12T19:00:00Z").unwrap();
    let weight = observation(&b, "188736");
    assert_eq!(quantity(weight), (79.96, "kg"));
    assert_eq!(weight["effectiveDateTime"], "2026-05-12T18:53:54+00:00");
    assert_eq!(
        quantity(observation(&b, "188740")),
        (183.0, "cm"),
        "height field 1830 (0.1 cm)"
    );
    assert_eq!(quantity(observation(&b, "188752")), (23.8, "kg/m2"));
    let b = map_ble(&["beurer-bf720-bcs-168"], "2026-05-12T19:00:00Z").unwrap();
    assert_eq!(quantity(observation(&b, "188748")), (19.4, "%"));
    assert_eq!(quantity(observation(&b, "188764")), (43.25, "kg"));
}

#[test]
fn beurer_bf788_back_fill_stub_is_refused_and_the_real_frame_kept() {
    // "35 zeroed stubs paired with the scale's backfilled history, and exactly one real frame": the
    // stub (body fat 0 %, soft lean 0, water 0) is no measurement.
    let error = map_ble(&["beurer-bf788-bcs-zeroed-229"], "2026-07-15T00:00:00Z").unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("placeholder frame") && text.contains("MDC_BODY_FAT"),
        "{text}"
    );
    assert!(
        !text.contains("0 %"),
        "the reason names the rule, not the value: {text}"
    );
    // The real frame: fat 24.3 %, soft lean 84.8 kg, water 61.41 kg.
    let b = map_ble(&["beurer-bf788-bcs-real-229"], "2026-07-15T00:00:00Z").unwrap();
    assert_eq!(quantity(observation(&b, "188748")), (24.3, "%"));
    assert_eq!(quantity(observation(&b, "188760")), (84.8, "kg"));
    assert_eq!(quantity(observation(&b, "188764")), (61.41, "kg"));
    // The weigh-in: 117.92 kg, 2026-07-14 23:41:32, BMI 32.0, height 192.0 cm.
    let b = map_ble(&["beurer-bf788-wss-229"], "2026-07-15T00:00:00Z").unwrap();
    let weight = observation(&b, "188736");
    assert_eq!(quantity(weight), (117.92, "kg"));
    assert_eq!(weight["effectiveDateTime"], "2026-07-14T23:41:32+00:00");
    assert_eq!(quantity(observation(&b, "188752")), (32.0, "kg/m2"));
    assert_eq!(quantity(observation(&b, "188740")), (192.0, "cm"));
}

#[test]
fn beurer_bf600_weigh_in() {
    // openScale's log: flags 0x0e, Fri Jul 23 21:33:31 (GMT+03:00) 2021, BMI 21.2; #759: weight
    // 61.37, height 1.7 m.
    let b = map_ble(&["beurer-bf600-wss-openscale-219"], "2021-07-23T22:00:00Z").unwrap();
    let weight = observation(&b, "188736");
    assert_eq!(quantity(weight), (61.37, "kg"));
    assert_eq!(
        weight["effectiveDateTime"], "2021-07-23T21:33:31+00:00",
        "device-local digits, offset as the hub says"
    );
    assert_eq!(quantity(observation(&b, "188752")), (21.2, "kg/m2"));
    assert_eq!(quantity(observation(&b, "188740")), (170.0, "cm"));
}

#[test]
fn beurer_blood_pressure_monitors() {
    // BM96 (Stack Overflow 78184770): 125/83 mmHg, pulse 82; MAP 0x07FF ("2047.0 mmHg" in nRF
    // Connect) is NaN, not a pressure.
    let b = map_ble(&["beurer-bm96-so78184770"], "2024-03-19T03:00:00Z").unwrap();
    let bp = observation(&b, "150020");
    let component = |code: &str| {
        bp["component"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == code)
            .unwrap()
            .clone()
    };
    assert_eq!(component("150021")["valueQuantity"]["value"], 125.0);
    assert_eq!(component("150022")["valueQuantity"]["value"], 83.0);
    assert_eq!(
        component("150023")["dataAbsentReason"]["coding"][0]["code"],
        "not-a-number"
    );
    assert_eq!(quantity(observation(&b, "149546")), (82.0, "/min"));
    assert!(!b.to_string().contains("2047"));
    // BM96 (78176577): 116/80, pulse 70, irregular pulse in the status.
    let b = map_ble(&["beurer-bm96-so78176577"], "2024-03-19T03:00:00Z").unwrap();
    assert_eq!(quantity(observation(&b, "149546")), (70.0, "/min"));
    let status = observation(&b, "8410608");
    assert!(status.to_string().contains("irregular-pulse"), "{status}");
    // BM85 sends pulse and status big-endian and a user byte its flags do not announce: refused,
    // naming the byte, rather than read as a wrong pulse.
    let error = map_ble(&["beurer-bm85-user0"], "2026-08-11T19:00:00Z").unwrap_err();
    assert!(error.to_string().contains("unexpected byte(s) at offset 18"), "{error}");
}

#[test]
fn blood_pressure_error_frames_are_absent_values_not_2047_mmhg() {
    // derdilla #80: the device showed "Err" / "Err CUF"; every SFLOAT is 0x07FF (NaN).
    for id in ["bp-err-nan-derdilla80-a", "bp-err-cuff-nan-derdilla80-b"] {
        let b = map_ble(&[id], "2024-06-24T00:00:00Z").unwrap();
        let bp = observation(&b, "150020");
        for c in bp["component"].as_array().unwrap() {
            assert_eq!(c["dataAbsentReason"]["coding"][0]["code"], "not-a-number", "{id}");
            assert!(c["valueQuantity"].is_null());
        }
        assert_eq!(
            observation(&b, "149546")["dataAbsentReason"]["coding"][0]["code"],
            "not-a-number"
        );
        assert!(!b.to_string().contains("2047"), "{id}");
    }
}

#[test]
fn accu_chek_guide_back_fill_records_and_their_resend() {
    // The btsnoop of mySugr reading an Accu-Chek Guide (records 4..14, time offset +60 min on every
    // record, type/location 0xF8: undetermined plasma; the same notifications sent again on the
    // next connection).
    let first = map_ble(&["accuchek-guide-btsnoop-f1413"], "2022-05-30T20:10:55Z").unwrap();
    let glucose = observation(&first, "160368");
    assert_eq!(
        glucose["effectiveDateTime"], "2021-10-19T09:03:35+00:00",
        "08:03:35 plus the +60 min offset"
    );
    assert_eq!(quantity(glucose), (88.0, "mg/dL"));
    // The resend on the next connection is the same reading: same identifier, nothing new.
    let again = map_ble(&["accuchek-guide-btsnoop-f1413"], "2022-05-30T20:40:00Z").unwrap();
    assert_eq!(
        observation(&again, "160368")["identifier"],
        glucose["identifier"],
        "a resend creates nothing"
    );
    let next = map_ble(&["accuchek-guide-btsnoop-f1414"], "2022-05-30T20:10:55Z").unwrap();
    assert_ne!(observation(&next, "160368")["identifier"], glucose["identifier"]);
    // "LO": -INFINITY with "result lower than the device can process".
    let low = map_ble(&["accuchek-guide-btsnoop-f1425"], "2022-05-30T20:10:55Z").unwrap();
    assert_eq!(
        observation(&low, "160368")["dataAbsentReason"]["coding"][0]["code"],
        "negative-infinity"
    );
    assert!(low.to_string().contains("sensor-result-too-low"));
    // Record 12 and its context (meal: preprandial), which the meter sends as its own notification
    // right after: together they are one reading with its meal context; the context alone is
    // refused with the reason (a hub must forward the pair in one envelope).
    let pair = map_ble(
        &["accuchek-guide-btsnoop-f1421", "accuchek-guide-btsnoop-f1422"],
        "2022-05-30T20:10:55Z",
    )
    .unwrap();
    let meal = observation(&pair, "8417864");
    assert_eq!(
        meal["valueCodeableConcept"]["coding"][0]["display"],
        "MDC_CTXT_GLU_MEAL_PREPRANDIAL"
    );
    let glucose_url = pair["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["code"]["coding"][0]["code"] == "160368")
        .map(|e| e["fullUrl"].clone())
        .unwrap();
    assert_eq!(
        meal["derivedFrom"][0]["reference"], glucose_url,
        "the context qualifies record 12"
    );
    let alone = map_ble(&["accuchek-guide-btsnoop-f1422"], "2022-05-30T20:10:55Z").unwrap_err();
    assert!(
        alone
            .to_string()
            .contains("has no glucose measurement (2A18) with that sequence number"),
        "{alone}"
    );
}

#[test]
fn heart_rate_straps_and_a_pulse_oximeter() {
    // Polar H10: [16, 59, 83, 4], "the second byte (59) is the heart rate"; RR 0x0453 = 1107/1024 s.
    let b = map_ble(&["polar-h10-so67024800"], "2026-11-21T10:00:00Z").unwrap();
    assert_eq!(quantity(observation(&b, "147842")), (59.0, "/min"));
    assert!(b.to_string().contains("1.0810546875"), "RR 1107/1024 s");
    // Polar H7: [22, 77, 22, 3]: 77 bpm, RR 790/1024 s = 0.77 s.
    let b = map_ble(&["polar-h7-elearn"], "2026-11-21T10:00:00Z").unwrap();
    assert_eq!(quantity(observation(&b, "147842")), (77.0, "/min"));
    assert!(b.to_string().contains("0.771484375"));
    // ChoiceMMed continuous: SpO2 98 %, pulse 78.
    let b = map_ble(&["choicemmed-plx-continuous-so71264072"], "2026-11-21T10:00:00Z").unwrap();
    assert_eq!(quantity(observation(&b, "150456")), (98.0, "%"));
    assert_eq!(quantity(observation(&b, "149530")), (78.0, "/min"));
    // ChoiceMMed spot check: SpO2 97 %; its clock is not set (flags bit 4, 2017-01-01), so the
    // reading is timed by its receipt, not by the factory default.
    let b = map_ble(&["choicemmed-plx-spotcheck-so71264072"], "2026-11-21T10:00:00Z").unwrap();
    let spo2 = observation(&b, "150456");
    assert_eq!(quantity(spo2), (97.0, "%"));
    assert_eq!(spo2["effectiveDateTime"], "2026-11-21T10:00:00+00:00");
    assert!(!b.to_string().contains("2017-01-01"));
}

#[test]
fn a_scale_that_sends_its_own_layout_under_the_standard_uuid_is_refused() {
    // Xiaomi Mi Scale 2 uses the 0x2A9C UUID with its own 13-byte layout (year 1970, weight /200):
    // read as the standard, it would be nonsense; it is refused naming the byte.
    let error = map_ble(&["xiaomi-mi-scale2-so59118489-q"], "2026-11-21T10:00:00Z").unwrap_err();
    assert!(
        error.to_string().contains("timestamp at offset 4 is invalid"),
        "{error}"
    );
}

#[test]
fn readings_without_a_device_time_stay_distinct_and_a_resend_stays_one() {
    // Two heart-rate notifications of one strap (no device time) received in the same instant: two
    // readings, two identifiers. The same notification sent again: one.
    let at = "2026-11-21T10:00:00.004Z";
    let first = map_ble(&["polar-h10-so67024800"], at).unwrap();
    let second = map_ble(&["polar-h7-elearn"], at).unwrap();
    let resend = map_ble(&["polar-h10-so67024800"], at).unwrap();
    let id = |b: &Value| {
        observation(b, "147842")["identifier"][0]["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(id(&first), id(&second));
    assert_eq!(id(&first), id(&resend));
    assert!(id(&first).contains("-rx"), "{}", id(&first));
    // Two elements of one hub batch with the same bytes and receipt: their place in the batch tells
    // them apart.
    let pipeline = fhirgate::pipeline::Pipeline::new(common::settings());
    let envelope = envelope(&["polar-h10-so67024800"], at);
    let batch = [envelope.clone(), b",".to_vec(), envelope].concat();
    let body = [b"[".to_vec(), batch, b"]".to_vec()].concat();
    let payloads = pipeline.check(AdapterKind::Ble, &body).unwrap();
    let mut identifiers = Vec::new();
    for (index, payload) in payloads.into_iter().enumerate() {
        let record = fhirgate::store::OutboxRecord {
            adapter: "ble".into(),
            received_at: chrono::DateTime::parse_from_rfc3339(at).unwrap(),
            source: "test".into(),
            payload,
            patient: None,
            batch_index: Some(index as u32),
        };
        let fhirgate::delivery::Plan::Transaction(transaction) = pipeline.plan(&record) else {
            panic!("not a transaction")
        };
        let bundle: Value =
            serde_json::from_str(&fhirgate::fhir::bundle_to_json(&transaction.bundle).unwrap()).unwrap();
        identifiers.push(id(&bundle));
    }
    assert_eq!(identifiers.len(), 2);
    assert_ne!(identifiers[0], identifiers[1]);
}

#[test]
fn rows_a_vendor_codes_in_its_own_nomenclature_are_left_out_and_said() {
    // The VS8 capture with one private row added (constructed: Mindray's eGateway sends such
    // 99MNDRY rows beside MDC ones).
    let text = String::from_utf8(message("mindray_vs8_pcd01_real_capture_demo_mode")).unwrap();
    let with_private = format!(
        "{}OBX|5|NM|2046^ST-II^99MNDRY|1.3.1.2046|0.01|||DEMO|||R|||20260727124424.0000+0000\r",
        text.trim_end_matches('\r').to_string() + "\r"
    );
    let record = fhirgate::store::OutboxRecord {
        adapter: "hl7v2".into(),
        received_at: chrono::DateTime::parse_from_rfc3339("2026-07-27T12:45:00Z").unwrap(),
        source: "test".into(),
        payload: with_private.into_bytes(),
        patient: None,
        batch_index: None,
    };
    let pipeline = fhirgate::pipeline::Pipeline::new(hospital());
    let fhirgate::delivery::Plan::Transaction(transaction) = pipeline.plan(&record) else {
        panic!("not a transaction")
    };
    assert_eq!(
        transaction.left_out,
        vec![fhirgate::delivery::plan::LeftOut {
            what: "OBX segment 9".into(),
            reason: "coded in \"99MNDRY\", not MDC: a vendor's own term the bridge cannot code".into(),
        }]
    );
}

#[test]
fn a_bundle_that_would_break_a_fhir_rule_is_never_sent() {
    // A text row whose first component is empty (`^x`) would become `valueString: ""`, which no FHIR
    // server should store: the structural check before sending refuses it, naming the path and rule.
    let text = String::from_utf8(message("mindray_vs8_pcd01_real_capture_demo_mode")).unwrap();
    let broken = text.replace(
        "OBX|4|NM|151658^MDC_PULS_OXIM_PLETH_RESP_RATE^MDC|1.3.1.151658|12|264928^MDC_DIM_RESP_PER_MIN^MDC",
        "OBX|4|ST|151658^MDC_PULS_OXIM_PLETH_RESP_RATE^MDC|1.3.1.151658|^x|",
    );
    assert_ne!(broken, text);
    let error = map_payload(AdapterKind::Hl7v2, broken.as_bytes(), &hospital(), common::now()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("would break a rule") && text.contains("valueString: an empty string"),
        "{text}"
    );
    let record = fhirgate::store::OutboxRecord {
        adapter: "hl7v2".into(),
        received_at: chrono::DateTime::parse_from_rfc3339("2026-07-27T12:45:00Z").unwrap(),
        source: "test".into(),
        payload: broken.into_bytes(),
        patient: None,
        batch_index: None,
    };
    let plan = fhirgate::pipeline::Pipeline::new(hospital()).plan(&record);
    assert!(
        matches!(&plan, fhirgate::delivery::Plan::Refuse(refused) if refused.reason.contains("an empty string")),
        "to the dead-letter store with the rule"
    );
}
