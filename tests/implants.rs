//! Cardiac implant follow-ups (IHE PCD-09 IDCO): the iCARDEA project's PCD-09 messages
//! (`fixtures/real/idco/`, a St. Jude ICD, two Medtronic ICDs, a Biotronik CRT-D with St. Jude leads),
//! each value asserted against the message; the implant and its leads as Devices, the session as the
//! time, episodes by instance, and what is left out said.

mod common;
mod harness;

use fhirgate::adapters::AdapterKind;
use fhirgate::pipeline::{map_payload, read_payload_explained, MapError};
use serde_json::Value;

use common::resources;

fn bundle(name: &str) -> Value {
    let json = map_payload(
        AdapterKind::Hl7v2,
        &common::idco_message(name),
        &common::idco_settings(),
        common::now(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&json).unwrap()
}

fn coded<'a>(bundle: &'a Value, code: &str) -> Vec<&'a Value> {
    resources(bundle, "Observation")
        .into_iter()
        .filter(|o| o["code"]["coding"][0]["code"] == code)
        .collect()
}

fn one<'a>(bundle: &'a Value, code: &str) -> &'a Value {
    let found = coded(bundle, code);
    assert_eq!(found.len(), 1, "{code}: {found:?}");
    found[0]
}

/// The fullUrl of the Device whose identifier value is `id`.
fn device_url<'a>(bundle: &'a Value, id: &str) -> &'a str {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Device" && e["resource"]["identifier"][0]["value"] == id)
        .and_then(|e| e["fullUrl"].as_str())
        .unwrap_or_else(|| panic!("no Device {id}"))
}

#[test]
fn st_jude_icd_is_its_device_its_session_and_two_episodes() {
    let bundle = bundle("icardea_stj_icd_af_scenario");
    let devices = resources(&bundle, "Device");
    assert_eq!(devices.len(), 1);
    let icd = devices[0];
    // PID-3 model:CD2215-36/serial:9925119^^^STJ^U, OBX 1-4.
    assert_eq!(icd["identifier"][0]["system"], "urn:fhirgate:equipment-id:STJ");
    assert_eq!(icd["identifier"][0]["value"], "model:CD2215-36/serial:9925119");
    assert_eq!(icd["modelNumber"], "CD2215-36");
    assert_eq!(icd["serialNumber"], "9925119");
    assert_eq!(icd["manufacturer"], "STJ");
    assert_eq!(icd["type"]["coding"][0]["code"], "753666");
    assert_eq!(icd["type"]["coding"][0]["display"], "MDC_IDC_ENUM_DEVICE_TYPE_ICD");
    // OBX 5: the session, 20100322101007, is every item's time.
    let session = one(&bundle, "721025");
    assert_eq!(session["valueDateTime"], "2010-03-22T10:10:07+00:00");
    for observation in resources(&bundle, "Observation") {
        assert_eq!(observation["effectiveDateTime"], "2010-03-22T10:10:07+00:00");
        assert_eq!(observation["subject"]["identifier"]["value"], "MRN-CIED-0001");
    }
    // OBX 6: 754053 MDC_IDC_ENUM_SESS_TYPE_RemoteScheduled.
    let kind = &one(&bundle, "721026")["valueCodeableConcept"];
    assert_eq!(kind["coding"][0]["code"], "754053");
    assert_eq!(kind["text"], "MDC_IDC_ENUM_SESS_TYPE_RemoteScheduled");
    // OBX 7-8: two episodes, instances 1 and 2 (OBX 7's coding system is the truncated `MD`).
    let episodes = coded(&bundle, "739568");
    let texts: Vec<&str> = episodes
        .iter()
        .map(|o| o["valueCodeableConcept"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["AT/AF", "SVT"]);
    let identifiers: Vec<&str> = episodes
        .iter()
        .map(|o| o["identifier"][0]["value"].as_str().unwrap())
        .collect();
    assert!(
        identifiers[0].ends_with("-i1") && identifiers[1].ends_with("-i2"),
        "{identifiers:?}"
    );
    // OBX 9: no shock delivered recently, in {shocks}.
    let shocks = &one(&bundle, "737824")["valueQuantity"];
    assert_eq!(
        (shocks["value"].as_f64(), shocks["code"].as_str()),
        (Some(0.0), Some("{shocks}"))
    );
    assert_eq!(
        resources(&bundle, "Observation").len(),
        5,
        "OBX 5-9; OBX 1-4 are the Device"
    );
}

#[test]
fn without_its_association_an_implant_reading_waits_and_says_why() {
    let message = common::idco_message("icardea_stj_icd_af_scenario");
    let error = map_payload(AdapterKind::Hl7v2, &message, &common::settings(), common::now()).unwrap_err();
    let MapError::NoPatient { device, why } = &error else {
        panic!("{error}")
    };
    assert_eq!(device["instanceId"]["value"], "model:CD2215-36/serial:9925119");
    assert_eq!(device["instanceId"]["namespace"], "STJ");
    let why = why.as_deref().unwrap_or_default();
    assert!(why.contains("social security number is never filed under"), "{why}");
    assert!(
        !error.to_string().contains("190"),
        "PID-3's SS id is not quoted: {error}"
    );
}

#[test]
fn medtronic_secura_settings_and_battery_are_the_devices_the_lead_status_the_patients() {
    // CR-only separators, no OBX-14, a minimal PID.
    let bundle = bundle("icardea_medtronic_secura_dr_icd");
    let icd = resources(&bundle, "Device")[0];
    assert_eq!(icd["manufacturer"], "Medtronic");
    assert_eq!(icd["identifier"][0]["value"], "model:Secura/serial:PZC600368S");
    assert_eq!(icd["identifier"][0]["system"], "urn:fhirgate:equipment-id:MDT");
    assert!(
        icd.get("type").is_none(),
        "`CIED^Implantable Cardioverter-Defibrillator` is no MDC code"
    );
    let text = bundle.to_string();
    // OBX 9, 10: 3.50 V pacing amplitudes, RA and RV, settings of the device.
    for code in ["729984", "729985"] {
        let setting = one(&bundle, code);
        assert_eq!(setting["valueQuantity"]["code"], "V");
        assert_eq!(setting["valueQuantity"]["value"].as_f64(), Some(3.5));
        assert_eq!(setting["subject"]["type"], "Device", "{code}");
    }
    assert!(text.contains("\"value\":3.50"), "3.50 keeps its digits");
    // OBX 11: battery 2.94 V.
    let battery = one(&bundle, "721344");
    assert_eq!(battery["valueQuantity"]["value"].as_f64(), Some(2.94));
    assert_eq!(battery["subject"]["type"], "Device");
    // OBX 12: the high-voltage lead channel's status, `Check Lead`: a finding for the clinician.
    let status = one(&bundle, "722752");
    assert_eq!(status["valueCodeableConcept"]["text"], "Check Lead");
    assert_eq!(status["subject"]["identifier"]["value"], "MRN-CIED-0002");
    assert_eq!(one(&bundle, "721025")["valueDateTime"], "2010-04-14T09:14:19+00:00");
}

#[test]
fn biotronik_crt_d_has_three_leads_of_their_own_with_their_chambers() {
    let bundle = bundle("icardea_biotronik_crt_d_full");
    // PID-3 1234123412341^^^BSC^U is not in model:/serial: form: the implant is OBX 1-4's.
    let crt = device_url(&bundle, "model:Device Model Name/serial:5867463524");
    let devices = resources(&bundle, "Device");
    assert_eq!(devices.len(), 4, "the CRT-D and its three leads");
    let implant = devices.iter().find(|d| d["serialNumber"] == "5867463524").unwrap();
    assert_eq!(implant["manufacturer"], "Biotronik");
    // OBX 9-35: leads 1-3, Supersense by St. Jude Medical, serials ...812, ...813, ...814 in RA, RV, LV.
    for (serial, chamber, polarity) in [
        ("1234567812", "Right Atrium", "Unipolar Lead"),
        ("1234567813", "Right Ventricle", "Bipolar Lead"),
        ("1234567814", "Left Ventricle", "Bipolar Lead"),
    ] {
        let id = format!("model:Supersense/serial:{serial}");
        let lead = device_url(&bundle, &id);
        let device = devices.iter().find(|d| d["serialNumber"] == serial).unwrap();
        assert_eq!(device["manufacturer"], "St.Jude Medical");
        assert_eq!(device["parent"]["reference"], crt, "the lead is part of the CRT-D");
        assert_eq!(device["identifier"][0]["system"], "urn:fhirgate:equipment-id:SJM");
        let of_lead = |code: &str| {
            coded(&bundle, code)
                .into_iter()
                .find(|o| o["device"]["reference"] == lead)
                .unwrap_or_else(|| panic!("{code} of lead {serial}"))
        };
        assert_eq!(of_lead("720966")["valueCodeableConcept"]["text"], chamber);
        assert_eq!(of_lead("720965")["valueCodeableConcept"]["text"], polarity);
        assert_eq!(of_lead("720964")["valueDateTime"], "2009-05-01T00:00:00+00:00");
        assert_eq!(of_lead("720966")["subject"]["type"], "Device");
    }
    // OBX 47-54: battery and capacitor, the implant's.
    let of_implant = |code: &str| {
        let o = one(&bundle, code);
        assert_eq!(o["device"]["reference"], crt, "{code}");
        o
    };
    assert_eq!(of_implant("721344")["valueQuantity"]["value"].as_f64(), Some(6.3));
    assert_eq!(of_implant("721472")["valueQuantity"]["code"], "mo");
    assert_eq!(of_implant("721728")["valueQuantity"]["value"].as_f64(), Some(8.4));
    assert_eq!(of_implant("721792")["valueQuantity"]["code"], "J");
    // OBX 5: the implant date is a date-time, not text.
    assert_eq!(of_implant("720901")["valueDateTime"], "2009-05-01T00:00:00+00:00");
    // OBX 60: RA sensing amplitude 2.5 mV, the patient's.
    let sensing = of_implant("722048");
    assert_eq!(sensing["valueQuantity"]["value"].as_f64(), Some(2.5));
    assert_eq!(sensing["subject"]["identifier"]["value"], "MRN-CIED-0003");
    // Every OBX with a value is an Observation: 292 rows less the 4 + 9 identity rows, less the rows
    // without a value.
    let (_, left_out) = read_payload_explained(
        AdapterKind::Hl7v2,
        &common::idco_message("icardea_biotronik_crt_d_full"),
        &common::idco_settings(),
        common::now(),
    )
    .unwrap();
    let observations = resources(&bundle, "Observation").len();
    assert_eq!(observations + left_out.len() + 13, 292, "{left_out:?}");
}

#[test]
fn medtronic_maximo_notes_vendor_episodes_and_pdf_reports_are_said() {
    // An NTE before the OBR (outside the PCD-09 grammar), LF-only separators.
    let message = common::idco_message("icardea_medtronic_maximo_vt_nte");
    let (readings, left_out) =
        read_payload_explained(AdapterKind::Hl7v2, &message, &common::idco_settings(), common::now()).unwrap();
    assert_eq!(readings.len(), 1);
    assert!(
        left_out
            .iter()
            .any(|l| l.what == "NTE segment 4" && l.reason.contains("outside an OBX")),
        "{left_out:?}"
    );
    let bundle = bundle("icardea_medtronic_maximo_vt_nte");
    // OBX 7-8: vendor episode types under one vendor code (772103) with two names, instances 2 and 1.
    let episodes = coded(&bundle, "739600");
    let mut texts: Vec<&str> = episodes
        .iter()
        .map(|o| o["valueCodeableConcept"]["text"].as_str().unwrap())
        .collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        vec![
            "MDC_IDC_ENUM_EPISODE_VENDOR_TYPE_MDT-Epis_Fast_VT",
            "MDC_IDC_ENUM_EPISODE_VENDOR_TYPE_MDT-Epis_NS_VT"
        ]
    );
    // OBX 13: therapy result 755137, Successful; OBX 12: `3 ATP, 1x 35J`.
    assert_eq!(
        one(&bundle, "739696")["valueCodeableConcept"]["coding"][0]["code"],
        "755137"
    );
    assert_eq!(one(&bundle, "739680")["valueString"], "3 ATP, 1x 35J");
    // OBX 17: `Null` is what the sender wrote, not a code.
    assert_eq!(one(&bundle, "722752")["valueCodeableConcept"]["text"], "Null");
}

#[test]
fn medtronic_episode_reports_are_pdf_documents_of_the_patient_by_the_implant() {
    use base64::Engine;
    // OBX 17-19: three base64 PDF reports (ED), LOINC 18750-0, one per episode (OBX-4 1-3).
    let bundle = bundle("icardea_medtronic_maximo_vt_pdf");
    let implant = device_url(&bundle, "model:Maximo/serial:D284DRG");
    let mut reports = resources(&bundle, "DocumentReference");
    assert_eq!(reports.len(), 3);
    reports.sort_by_key(|r| r["content"][0]["attachment"]["title"].as_str().unwrap().to_string());
    for (n, report) in reports.iter().enumerate() {
        assert_eq!(report["status"], "current");
        assert_eq!(report["type"]["coding"][0]["system"], "http://loinc.org");
        assert_eq!(report["type"]["coding"][0]["code"], "18750-0");
        assert_eq!(
            report["type"]["coding"][0]["display"],
            "Cardiac Electrophysiology Report"
        );
        assert_eq!(report["subject"]["identifier"]["value"], "MRN-CIED-0004");
        assert_eq!(report["author"][0]["reference"], implant);
        assert_eq!(report["date"], "2010-11-26T08:00:00+00:00", "the session's time");
        let attachment = &report["content"][0]["attachment"];
        assert_eq!(attachment["contentType"], "application/pdf");
        assert_eq!(
            attachment["title"],
            format!("Behandelte VTVF Episode Nr. 7992_{}", n + 1)
        );
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(attachment["data"].as_str().unwrap())
            .unwrap();
        assert!(
            pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"),
            "report {n} whole"
        );
        assert!(report["identifier"][0]["value"]
            .as_str()
            .unwrap()
            .ends_with(&format!("-i{}", n + 1)));
    }
    // The reports are no text values anywhere.
    assert!(resources(&bundle, "Observation")
        .iter()
        .all(|o| !o.to_string().contains("JVBERi0")));
    // A broken report is left out and said, by segment, never quoted.
    let message = String::from_utf8(common::idco_message("icardea_medtronic_maximo_vt_pdf")).unwrap();
    let broken = message.replacen("^Base64^JVBERi0x", "^Base64^!!!JVBERi0x", 1);
    let (_, left_out) = read_payload_explained(
        AdapterKind::Hl7v2,
        broken.as_bytes(),
        &common::idco_settings(),
        common::now(),
    )
    .unwrap();
    let bad: Vec<&str> = left_out
        .iter()
        .filter(|l| l.reason.contains("not valid base64"))
        .map(|l| l.what.as_str())
        .collect();
    assert_eq!(bad, vec!["OBX segment 21"], "{left_out:?}");
    assert!(left_out.iter().all(|l| !l.reason.contains("JVBER")));
}

#[test]
fn an_implant_the_message_names_twice_differently_is_refused() {
    let message = String::from_utf8(common::idco_message("icardea_stj_icd_af_scenario")).unwrap();
    let other = message.replacen("serial:9925119", "serial:1111111", 1);
    let error = map_payload(
        AdapterKind::Hl7v2,
        other.as_bytes(),
        &common::idco_settings(),
        common::now(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("name different implants"), "{error}");
    assert!(
        !error.contains("1111111") && !error.contains("9925119"),
        "no serial quoted: {error}"
    );
    // Neither PID-3 nor the items name a serial: no identity.
    let anonymous = message
        .replacen("model:CD2215-36/serial:9925119", "CD2215-36", 1)
        .replace("|9925119|", "||");
    let error = map_payload(
        AdapterKind::Hl7v2,
        anonymous.as_bytes(),
        &common::idco_settings(),
        common::now(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("the implant has no identity"), "{error}");
}

#[test]
fn paceart_pacemaker_v2_6_is_named_by_pid_3_and_its_session_kind_by_obr_4() {
    // Paceart's v2.6 header (nHapi's test): PID-3 `MODEL:A3DR01 Advisa DR MRI/SERIAL:PZK600806S^^^MDT^U`,
    // OBR-4 `754050^MDC_IDC_ENUM_SESS_TYPE_InClinic`, one OBX: the session at 20160627041809+0000, `P`.
    let bundle = bundle("paceart_medtronic_advisa_dr_mri_pacemaker");
    let devices = resources(&bundle, "Device");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["modelNumber"], "A3DR01 Advisa DR MRI");
    assert_eq!(devices[0]["serialNumber"], "PZK600806S");
    assert_eq!(
        devices[0]["manufacturer"], "MDT",
        "PID-3's assigning authority; no MFG item"
    );
    let session = one(&bundle, "721025");
    assert_eq!(session["valueDateTime"], "2016-06-27T04:18:09+00:00");
    assert_eq!(session["status"], "preliminary", "OBX-11 P");
    let kind = one(&bundle, "721026");
    assert_eq!(kind["valueCodeableConcept"]["coding"][0]["code"], "754050");
    assert_eq!(kind["valueCodeableConcept"]["text"], "MDC_IDC_ENUM_SESS_TYPE_InClinic");
    assert_eq!(kind["status"], "final");
    assert_eq!(kind["subject"]["identifier"]["value"], "MRN-CIED-0005");
}

/// Through the real bridge to the real FHIR server: the implant's follow-up with its three PDF
/// reports, once, however often it is sent.
#[test]
fn an_implant_follow_up_reaches_the_fhir_server_with_its_reports_once() {
    let Some(fhir) = harness::FhirServer::start("implants") else {
        return;
    };
    let associations = common::repo_path("fixtures/real/idco/associations.json");
    let bridge = harness::Bridge::start(
        "implants",
        &[
            ("FHIRGATE_FHIR__BASE_URL", fhir.base_url()),
            ("FHIRGATE_MAPPING__ASSOCIATIONS", associations.display().to_string()),
        ],
    );
    let message = common::idco_message("icardea_medtronic_maximo_vt_pdf");
    for sent in 1..=2 {
        assert_eq!(bridge.post("hl7v2", &message), 202);
        harness::wait_until("the follow-up delivered", std::time::Duration::from_secs(120), || {
            bridge.metric("fhirgate_delivered_total") >= f64::from(sent) && bridge.outbox_depth() == 0
        });
    }
    let reports = fhir.resources("DocumentReference");
    assert_eq!(reports.len(), 3, "three reports, the resend adding none");
    assert!(reports
        .iter()
        .all(|r| r["content"][0]["attachment"]["contentType"] == "application/pdf"));
    assert_eq!(fhir.count("Observation"), 12, "OBX 5-16 of the follow-up, once");
    assert_eq!(fhir.count("Device"), 1, "the Maximo");
}
