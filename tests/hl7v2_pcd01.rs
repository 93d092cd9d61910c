//! IHE PCD-01 Technical Framework examples (`fixtures/hl7v2/ihe_pcd01_*.hl7`) map with every numeric
//! value, unit and time exact: the expectations are derived from the message itself (OBX-5, OBX-6,
//! OBX-14/OBR-7/MSH-7) and compared with the Bundle.

mod common;

use fhirgate::adapters::hl7v2::message::Message;
use fhirgate::adapters::hl7v2::report::{read_report, ObxValue};
use serde_json::Value;

fn mdc_code(observation: &Value) -> Option<&str> {
    observation["code"]["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == "urn:iso:std:iso:11073:10101")?["code"]
        .as_str()
}

#[test]
fn every_numeric_value_unit_and_time_is_exact() {
    let fixtures = common::pcd01_fixtures();
    assert_eq!(fixtures.len(), 3);
    let mut checked = 0;
    for path in fixtures {
        let text = std::fs::read(&path).unwrap();
        let report = read_report(&Message::parse(&text).unwrap()).unwrap();
        let json = common::map_fixture(&path);
        let bundle: Value = serde_json::from_str(&json).unwrap();
        let observations = common::observations(&bundle);
        for group in &report.groups {
            for row in &group.rows {
                let ObxValue::Numeric(number) = &row.value else {
                    continue;
                };
                let matching: Vec<&&Value> = observations
                    .iter()
                    .filter(|o| mdc_code(o) == Some(&row.code.code.to_string()))
                    .collect();
                assert_eq!(
                    matching.len(),
                    1,
                    "{}: OBX {} ({})",
                    path.display(),
                    row.segment,
                    row.code.code
                );
                let observation = matching[0];
                let quantity = &observation["valueQuantity"];
                // The value exactly as sent: numerically, and with its written precision in the JSON text.
                let sent = number.to_string();
                assert_eq!(
                    quantity["value"].as_f64().unwrap(),
                    sent.parse::<f64>().unwrap(),
                    "{}",
                    path.display()
                );
                assert!(
                    json.contains(&format!("\"value\": {sent}")),
                    "{}: {sent} not written as sent",
                    path.display()
                );
                // The unit as sent, or its UCUM equivalent (`{beat}/min` is written `/min`).
                let unit = row.unit.clone().unwrap();
                let expected_unit = if unit.starts_with('{') {
                    unit.split_once('}').unwrap().1.to_string()
                } else {
                    unit
                };
                assert_eq!(quantity["code"], expected_unit.as_str(), "{}", path.display());
                // The time: OBX-14 when given, with the message's offset when the row has none.
                let effective = observation["effectiveDateTime"].as_str().unwrap();
                if let Some(time) = row.time {
                    let digits = time.local.format("%Y-%m-%dT%H:%M:%S").to_string();
                    assert!(
                        effective.starts_with(&digits),
                        "{}: {effective} vs {digits}",
                        path.display()
                    );
                }
                let offset = report.message_time.and_then(|t| t.offset).unwrap();
                let own = row.time.and_then(|t| t.offset).unwrap_or(offset);
                assert!(
                    effective.ends_with(&own.to_string()),
                    "{}: {effective} offset {own}",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 9 + 4 + 3, "numeric rows across the three examples");
}

#[test]
fn vmds_and_channels_are_devices_under_their_mds_and_observations_name_their_channel() {
    let bundle: Value = serde_json::from_str(&common::map_fixture(&common::repo_path(
        "fixtures/hl7v2/ihe_pcd01_physio_monitor_philips_example.hl7",
    )))
    .unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    let devices: Vec<&Value> = entries
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Device")
        .collect();
    let url_of = |code: &str| -> String {
        devices
            .iter()
            .find(|d| d["resource"]["type"]["coding"][0]["code"] == code)
            .map(|d| d["fullUrl"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no Device typed {code}"))
    };
    let parent_of = |code: &str| -> String {
        let device = devices
            .iter()
            .find(|d| d["resource"]["type"]["coding"][0]["code"] == code)
            .unwrap();
        device["resource"]["parent"]["reference"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // The gateway; MDS 69965; VMDs NIBP 70686, ECG 4262, SpO2 69642; a channel in each.
    assert_eq!(devices.len(), 8);
    let mds = url_of("69965");
    for vmd in ["70686", "4262", "69642"] {
        assert_eq!(parent_of(vmd), mds, "VMD {vmd} is in the MDS");
    }
    for (channel, vmd) in [("70675", "70686"), ("4263", "4262"), ("70771", "69642")] {
        assert_eq!(parent_of(channel), url_of(vmd), "channel {channel} is in VMD {vmd}");
    }
    let identifier = devices
        .iter()
        .find(|d| d["resource"]["type"]["coding"][0]["code"] == "70675")
        .unwrap()["resource"]["identifier"][0]
        .clone();
    assert_eq!(identifier["system"], "urn:fhirgate:device-part");
    assert_eq!(
        identifier["value"],
        "urn:fhirgate:equipment-id:PAT_DEVICE_PHILIPS_C:e86c094f-f751-4acf-92b2-38f11c1f6f57-Device/1.1.1:70675"
    );
    // Each Observation names the channel that measured it.
    for (code, channel) in [("150021", "70675"), ("147842", "4263"), ("150456", "70771")] {
        let observation = common::observations(&bundle)
            .into_iter()
            .find(|o| mdc_code(o) == Some(code))
            .unwrap();
        assert_eq!(observation["device"]["reference"], url_of(channel).as_str(), "{code}");
    }
}

#[test]
fn devices_and_patients_are_identified_as_the_messages_say() {
    let bundle: Value = serde_json::from_str(&common::map_fixture(&common::repo_path(
        "fixtures/hl7v2/ihe_pcd01_dec_soap_wan_bp_example.hl7",
    )))
    .unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    let gateway = &entries[0]["resource"];
    assert_eq!(
        gateway["identifier"][0]["value"], "AC-DE-48-23-45-67-AB-CD",
        "MSH-3 EUI-64"
    );
    let device = &entries[1]["resource"];
    assert_eq!(
        device["identifier"][0]["value"], "01-23-45-67-89-AB-CD-EF",
        "OBX-18 EUI-64 in the namespace slot"
    );
    assert_eq!(device["type"]["coding"][0]["code"], "528391", "the MDS row's code");
    assert!(
        device["meta"].is_null(),
        "no PHD profile claimed for point-of-care devices"
    );
    // The row at the channel level (`1.0.1`) is the compound blood pressure, not a device part: no
    // Device is made of it, and the Observation's device is the MDS.
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["resource"]["resourceType"] == "Device")
            .count(),
        2,
        "the gateway and the MDS"
    );
    let observation = common::observations(&bundle)[0];
    assert_eq!(observation["device"]["reference"], entries[1]["fullUrl"]);
    assert_eq!(observation["subject"]["identifier"]["value"], "789567");
    assert_eq!(
        observation["subject"]["identifier"]["system"],
        "urn:fhirgate:assigning-authority:Imaginary-Hospital"
    );
    assert_eq!(
        observation["identifier"][0]["system"],
        "urn:fhirgate:observation-dedup-id"
    );
    assert!(!observation["category"].to_string().contains("\"phd\""));
    assert_eq!(
        observation["effectiveDateTime"], "2009-08-13T09:57:15+05:00",
        "inherited from the parent row's OBX-14"
    );
}

#[test]
fn two_channels_reporting_the_same_metric_at_once_are_two_observations() {
    // A two-channel pump (hand-written in the PCD-01 TF's pump shape): both sources report their rate
    // at the same instant. Without the channel in its identity, the second would be taken for a
    // conflicting copy of the first.
    let message = [
        "MSH|^~\\&|PUMP_GW^0012211839000009^EUI-64|ACME|||20261121093000+0100||ORU^R01^ORU_R01|m-2ch|P|2.6",
        "PID|||MRN-4711^^^2.16.840.1.113883.19.5^MR||Doe^Jane",
        "OBR|1|||69986^MDC_DEV_PUMP_INFUS_VMD^MDC|||20261121092955+0100",
        "OBX|1||70049^MDC_DEV_PUMP_INFUS_LVP_MDS^MDC|1.0.0.0|||||||X|||||||P9^^0012211839000009^EUI-64",
        "OBX|2||70050^MDC_DEV_PUMP_INFUS_LVP_VMD^MDC|1.1.0.0|||||||X",
        "OBX|3||0^MDC_DEV_PUMP_INFUSATE_SOURCE_PRIMARY^MDC|1.1.1.0|||||||X",
        "OBX|4|NM|157784^MDC_FLOW_FLUID_PUMP^MDC|1.1.1.1|15.4|265266^MDC_DIM_MILLI_L_PER_HR^MDC||||||R",
        "OBX|5||0^MDC_DEV_PUMP_INFUSATE_SOURCE_SECONDARY^MDC|1.1.2.0|||||||X",
        "OBX|6|NM|157784^MDC_FLOW_FLUID_PUMP^MDC|1.1.2.1|2.5|265266^MDC_DIM_MILLI_L_PER_HR^MDC||||||R",
    ]
    .join("\r");
    let settings = common::settings();
    let bundle = fhirgate::pipeline::map_payload(
        fhirgate::adapters::AdapterKind::Hl7v2,
        message.as_bytes(),
        &settings,
        common::now(),
    )
    .unwrap();
    let bundle: Value = serde_json::from_str(&bundle).unwrap();
    let rates: Vec<&Value> = common::observations(&bundle)
        .into_iter()
        .filter(|o| mdc_code(o) == Some("157784"))
        .collect();
    assert_eq!(rates.len(), 2);
    let values: Vec<String> = rates.iter().map(|o| o["valueQuantity"]["value"].to_string()).collect();
    assert_eq!(values, vec!["15.4", "2.5"]);
    let identifiers: Vec<&str> = rates
        .iter()
        .map(|o| o["identifier"][0]["value"].as_str().unwrap())
        .collect();
    assert!(identifiers[0].ends_with("-1.1.1"), "{identifiers:?}");
    assert!(identifiers[1].ends_with("-1.1.2"), "{identifiers:?}");
    assert_ne!(
        rates[0]["device"], rates[1]["device"],
        "each names its own source channel"
    );
}
