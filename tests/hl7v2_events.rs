//! IHE PCD-10 infusion events and PCD-04 alerts become event/alert Observations: coded by the event,
//! valued by its text, with the alert's attributes as components (IHE PCD TF examples).

mod common;

use serde_json::Value;

const HL7V2: fhirgate::adapters::AdapterKind = fhirgate::adapters::AdapterKind::Hl7v2;

fn bundle(example: &str) -> Value {
    serde_json::from_str(&common::map_fixture(&common::repo_path(&format!(
        "fixtures/hl7v2/{example}.hl7"
    ))))
    .unwrap()
}

fn coded<'a>(observations: &[&'a Value], code: &str) -> Vec<&'a Value> {
    observations
        .iter()
        .copied()
        .filter(|o| o["code"]["coding"][0]["code"] == code)
        .collect()
}

/// (component code or text, value as a string) pairs.
fn components(observation: &Value) -> Vec<(String, String)> {
    observation["component"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let code = c["code"]["coding"][0]["code"]
                .as_str()
                .or(c["code"]["text"].as_str())
                .unwrap()
                .to_string();
            let value = if let Some(s) = c["valueString"].as_str() {
                s.to_string()
            } else if c["valueQuantity"].is_object() {
                format!(
                    "{} {}",
                    c["valueQuantity"]["value"],
                    c["valueQuantity"]["code"].as_str().unwrap()
                )
            } else {
                c["valueCodeableConcept"]["coding"][0]["code"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            (code, value)
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn pcd10_delivery_start_is_one_event_observation_beside_the_pump_metrics() {
    let bundle = bundle("ihe_pcd10_iec_infusion_delivery_start_example");
    let observations = common::observations(&bundle);
    let events = coded(&observations, "197288");
    assert_eq!(events.len(), 1);
    let event = events[0];
    assert_eq!(event["valueString"], "MDC_EVT_PUMP_DELIV_START");
    assert_eq!(
        components(event),
        pairs(&[("68488", "1.1.2.0"), ("MDC_DEV_PUMP_SOURCE_CHANNEL_LABEL", "Primary")])
    );
    assert_eq!(
        event["effectiveDateTime"], "2015-10-15T13:21:06-05:00",
        "OBR-7 with its offset"
    );
    // 23 OBX rows: 4 describe devices, 2 make the event, 17 are metrics.
    assert_eq!(observations.len(), 1 + 17);
    let rate = coded(&observations, "157784")[0];
    assert_eq!(
        (
            rate["valueQuantity"]["value"].as_f64(),
            rate["valueQuantity"]["code"].as_str()
        ),
        (Some(15.4), Some("mL/h"))
    );
    // No Observation for the raw event condition/source rows.
    assert!(observations
        .iter()
        .all(|o| o["code"]["text"] != "MDC_ATTR_EVT_COND" && o["code"]["text"] != "MDC_ATTR_EVT_SOURCE"));
    // A vendor-coded status keeps its text.
    let status = coded(&observations, "184519")[0];
    assert_eq!(status["valueCodeableConcept"]["text"], "pump-status-infusing");
}

#[test]
fn pcd04_occlusion_start_and_end_are_alert_observations_with_their_phase() {
    let start = bundle("ihe_pcd04_acm_bbraun_pump_occlusion_start_example");
    let end = bundle("ihe_pcd04_acm_bbraun_pump_occlusion_end_example");
    let mut identifiers = Vec::new();
    for (bundle, phase, state) in [(&start, "start", "active"), (&end, "end", "inactive")] {
        let observations = common::observations(bundle);
        assert_eq!(observations.len(), 1, "one alert, no separate attribute Observations");
        let alert = observations[0];
        assert_eq!(
            alert["code"]["coding"][0]["code"], "196940",
            "the specific event, not the generic MDC_EVT_ALARM"
        );
        assert_eq!(alert["valueString"], "Occlusion", "the alert text as the user saw it");
        assert_eq!(
            components(alert),
            pairs(&[
                ("68480", "69985"),
                ("68481", phase),
                ("68482", state),
                ("68483", "enabled"),
                ("68485", "technical")
            ])
        );
        identifiers.push(alert["identifier"][0]["value"].as_str().unwrap().to_string());
        // The EUI-64 the alarm row carries is B. Braun's OUI and zeros, which names only the maker: the
        // pump is identified by its label beside it (OBX-18.1), in the sender's namespace, and left
        // untyped (no MDS row).
        let device = &bundle["entry"][1]["resource"];
        assert_eq!(device["identifier"][0]["value"], "P6013");
        assert_eq!(
            device["identifier"][0]["system"],
            "urn:fhirgate:equipment-id:PAT_DEVICE_BBRAUN"
        );
        assert!(
            !device.to_string().contains("00-12-21-00-00-00-00-00"),
            "the placeholder is no identifier: {device}"
        );
        assert!(device["type"].is_null());
    }
    assert_ne!(identifiers[0], identifiers[1], "start and end are two Observations");
}

#[test]
fn pcd04_physiological_alarm_carries_the_triggering_value_and_priority() {
    let bundle = bundle("ihe_pcd04_acm_mindray_low_spo2_alarm_start_example");
    let observations = common::observations(&bundle);
    assert_eq!(observations.len(), 1);
    let alert = observations[0];
    assert_eq!(alert["code"]["coding"][0]["code"], "196670");
    assert_eq!(alert["valueString"], "Low SpO2");
    assert_eq!(
        components(alert),
        pairs(&[
            ("150456", "88 %"),
            ("68481", "start"),
            ("68482", "active"),
            ("68483", "enabled"),
            ("68484", "medium"),
            ("68485", "physiological"),
        ])
    );
    assert_eq!(alert["effectiveDateTime"], "2012-01-11T15:04:57-06:00");
}

#[test]
fn handwritten_delivery_complete_with_numeric_event_codes_and_crlf() {
    let bundle = bundle("handwritten_pcd10_delivery_complete");
    let observations = common::observations(&bundle);
    let event = coded(&observations, "197292");
    assert_eq!(event.len(), 1);
    assert_eq!(components(event[0]), pairs(&[("68488", "1.1.1.0")]));
    assert_eq!(event[0]["effectiveDateTime"], "2026-11-21T09:29:55+01:00");
    let delivered = coded(&observations, "157993")[0];
    assert_eq!(delivered["valueQuantity"]["value"].as_f64(), Some(500.0));
    let rate = coded(&observations, "157784")[0];
    assert_eq!(
        (
            rate["valueQuantity"]["value"].as_i64(),
            rate["valueQuantity"]["code"].as_str()
        ),
        (Some(0), Some("mL/h"))
    );
    // Escapes resolved: \S\ is the component separator, \T\ the subcomponent separator.
    assert_eq!(coded(&observations, "184514")[0]["valueString"], "NaCl 0.9^ & KCl");
    // An OID assigning authority becomes urn:oid:.
    assert_eq!(
        event[0]["subject"]["identifier"]["system"],
        "urn:oid:2.16.840.1.113883.19.5"
    );
}

#[test]
fn handwritten_device_status_maps_battery_and_power() {
    let bundle = bundle("handwritten_pcd15_device_status");
    let observations = common::observations(&bundle);
    let battery = coded(&observations, "67996")[0];
    assert_eq!(
        (
            battery["valueQuantity"]["value"].as_i64(),
            battery["valueQuantity"]["code"].as_str()
        ),
        (Some(42), Some("%"))
    );
    let remaining = coded(&observations, "67976")[0];
    assert_eq!(remaining["valueQuantity"]["code"], "min");
    let power = coded(&observations, "67925")[0];
    assert_eq!(power["valueCodeableConcept"]["text"], "onBattery");
    // The pump sends for itself (MSH-3 and OBX-18 carry its EUI-64): one Device, no gateway.
    let devices: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Device")
        .collect();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["modelNumber"], "Space Infusomat");
    // The production specification's firmware revision, typed as the PHD IG types Device.version.
    assert_eq!(devices[0]["version"][0]["type"]["coding"][0]["code"], "531976");
    assert_eq!(devices[0]["version"][0]["value"], "3.1.2");
    let firmware = coded(&observations, "531976")[0];
    assert_eq!(firmware["valueString"], "3.1.2");
    assert_eq!(firmware["subject"]["type"], "Device", "the firmware is about the pump");
    assert_eq!(devices[0]["identifier"][0]["value"], "00-12-21-18-39-00-00-02");
    assert_eq!(devices[0]["type"]["coding"][0]["code"], "70049");
    assert!(
        battery["extension"].is_null(),
        "no gateway extension when there is no gateway"
    );
    // Device status is about the device (PHD IG): its subject is the Device, not the patient.
    let device_url = bundle["entry"][0]["fullUrl"].as_str().unwrap();
    for observation in [battery, remaining, power] {
        assert_eq!(observation["subject"]["reference"], device_url);
        assert_eq!(observation["subject"]["type"], "Device");
    }
    assert!(battery["identifier"][0]["value"]
        .as_str()
        .unwrap()
        .contains("-device-67996-"));
}

#[test]
fn device_status_without_any_patient_still_maps_but_patient_data_does_not() {
    let text =
        std::fs::read_to_string(common::repo_path("fixtures/hl7v2/handwritten_pcd15_device_status.hl7")).unwrap();
    let without_pid: String = text
        .split('\r')
        .filter(|s| !s.is_empty() && !s.starts_with("PID"))
        .map(|s| format!("{s}\r"))
        .collect();
    let settings = common::settings();
    let json = fhirgate::pipeline::map_payload(HL7V2, without_pid.as_bytes(), &settings, common::now()).unwrap();
    let bundle: Value = serde_json::from_str(&json).unwrap();
    let observations = common::observations(&bundle);
    assert_eq!(observations.len(), 5, "power, battery, time remaining, model, firmware");
    assert!(observations.iter().all(|o| o["subject"]["type"] == "Device"));
    // A flow rate is about the patient: without a patient it is refused, never attributed to the device.
    let with_rate = without_pid.replace(
        "OBX|5|",
        "OBX|6|NM|157784^MDC_FLOW_FLUID_PUMP^MDC|1.1.1.1|5|265266^MDC_DIM_MILLI_L_PER_HR^MDC|||||R\rOBX|5|",
    );
    let error = fhirgate::pipeline::map_payload(HL7V2, with_rate.as_bytes(), &settings, common::now()).unwrap_err();
    assert!(error.to_string().contains("names no patient"), "{error}");
}

#[test]
fn the_care_location_of_pv1_rides_on_every_observation() {
    let bundle = bundle("ihe_pcd10_iec_infusion_delivery_start_example");
    for observation in common::observations(&bundle) {
        let location = &observation["contained"][0];
        assert_eq!(location["resourceType"], "Location");
        assert_eq!(location["name"], "3 West ICU, room 3002, bed 1");
        assert_eq!(location["physicalType"]["coding"][0]["code"], "bd");
        let extension = observation["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/event-location")
            .expect("event-location extension");
        assert_eq!(
            extension["valueReference"]["reference"],
            format!("#{}", location["id"].as_str().unwrap())
        );
    }
    // A message without PV1 says nothing about location.
    let without = serde_json::from_str::<Value>(&common::map_fixture(&common::repo_path(
        "fixtures/hl7v2/handwritten_pcd15_device_status.hl7",
    )))
    .unwrap();
    assert!(common::observations(&without).iter().all(|o| o["contained"].is_null()));
}

#[test]
fn ward_room_and_bed_in_obx18_repetitions_say_where_the_device_was() {
    // A pump reporting where it stands in labelled OBX-18 repetitions, beside its EUI-64, while PV1
    // still holds the patient's assigned ward. The device's own report wins, field by field.
    let message = |obx18: &str| {
        [
            "MSH|^~\\&|PUMP_GW^0012211839000009^EUI-64|ACME|||20261121093000+0100||ORU^R01^ORU_R01|m-loc|P|2.6",
            "PID|||MRN-4711^^^2.16.840.1.113883.19.5^MR||Doe^Jane",
            "PV1||I|ICU^12^2",
            "OBR|1|||69986^MDC_DEV_PUMP_INFUS_VMD^MDC|||20261121092955+0100",
            &format!("OBX|1||70049^MDC_DEV_PUMP_INFUS_LVP_MDS^MDC|1.0.0.0|||||||X|||||||{obx18}"),
            "OBX|2|NM|157784^MDC_FLOW_FLUID_PUMP^MDC|1.1.1.1|15.4|265266^MDC_DIM_MILLI_L_PER_HR^MDC||||||R",
        ]
        .join("\r")
    };
    let settings = common::settings();
    let map = |text: String| -> Value {
        let json = fhirgate::pipeline::map_payload(HL7V2, text.as_bytes(), &settings, common::now()).unwrap();
        serde_json::from_str(&json).unwrap()
    };
    let bundle = map(message("P9^^0012211839000009^EUI-64~3 West ICU^WARD~3002^^^ROOM~1^BED"));
    let observation = common::observations(&bundle)[0];
    assert_eq!(observation["contained"][0]["name"], "3 West ICU, room 3002, bed 1");
    let device = &bundle["entry"][0]["resource"];
    assert_eq!(device["identifier"][0]["value"], "00-12-21-18-39-00-00-09");

    // Only a bed: the ward and room stay PV1's.
    let bundle = map(message("P9^^0012211839000009^EUI-64~4^BED"));
    assert_eq!(
        common::observations(&bundle)[0]["contained"][0]["name"],
        "ICU, room 12, bed 4"
    );

    // A device with no EUI-64 is identified by its instance id, never by a location repetition.
    let bundle = map(message("3 West ICU^WARD~P9-SERIAL^ACME"));
    let device = &bundle["entry"][1]["resource"];
    assert_eq!(device["identifier"][0]["value"], "P9-SERIAL");
}
