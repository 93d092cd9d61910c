//! Waveforms: IHE PCD-01 waveform rows (real public test messages of the Karolinska MDI lab's T5
//! platform, `fixtures/real/hl7v2/karolinska_t5_*`), Polar H10 ECG frames (Polar's own SDK vectors),
//! and the PHD IG's real-time sample array examples, each becoming SampledData whose samples, period,
//! limits and units are asserted against the source.

mod common;

use fhirgate::adapters::AdapterKind;
use fhirgate::model::{
    ClockQuality, Decimal, DeviceIdentity, EffectiveTime, MdcCode, Measurement, OffsetSource, Origin, PatientRef,
    Reading, Sample, SampleRate, SampledSeries, Timestamp, Value,
};
use fhirgate::pipeline::{map_payload, read_payload_explained};
use serde_json::Value as Json;

const MDC: &str = "urn:iso:std:iso:11073:10101";

fn bundle(payload: &[u8], kind: AdapterKind) -> Json {
    let json = map_payload(kind, payload, &common::settings(), common::now()).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&json).unwrap()
}

use common::observations;

fn coded<'a>(bundle: &'a Json, code: &str) -> Vec<&'a Json> {
    observations(bundle)
        .into_iter()
        .filter(|o| o["code"]["coding"][0]["code"] == code)
        .collect()
}

fn component<'a>(observation: &'a Json, code: &str) -> &'a Json {
    observation["component"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"]["coding"][0]["code"] == code)
        .unwrap_or_else(|| panic!("no component {code}"))
}

/// The samples of a SampledData as text, split on any whitespace.
fn samples(sampled: &Json) -> Vec<String> {
    sampled["data"]
        .as_str()
        .unwrap()
        .split(|c: char| c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn number(value: &Json) -> f64 {
    value.as_f64().unwrap()
}

#[test]
fn karolinska_two_leads_are_one_ecg_and_the_spo2_curve_its_own_observation() {
    let message = common::real_hl7("karolinska_t5_pcd01_waveform_ecg_spo2");
    let bundle = bundle(&message, AdapterKind::Hl7v2);
    let ecg = coded(&bundle, "131328");
    assert_eq!(ecg.len(), 1, "leads I and II of channel 1.1.1 are one ECG");
    let ecg = ecg[0];
    assert_eq!(ecg["code"]["coding"][0]["system"], MDC);
    assert_eq!(ecg["effectiveDateTime"], "2015-06-17T12:00:00+00:00");
    assert!(ecg.get("valueSampledData").is_none());
    assert!(ecg.get("category").is_none(), "a waveform is no vital sign: {ecg}");
    // OBX 1001: 131329 lead I, three samples in mV, 150.0 Hz, range -5.0^10.0.
    let lead_i = &component(ecg, "131329")["valueSampledData"];
    assert_eq!(samples(lead_i), vec!["-0.53714565", "-0.54203324", "-0.53128055"]);
    assert_eq!(lead_i["origin"]["code"], "mV");
    assert_eq!(number(&lead_i["origin"]["value"]), 0.0);
    // 1000 / 150 ms does not terminate: rounded to the nanosecond.
    assert_eq!(lead_i["period"].to_string(), "6.666667");
    assert_eq!(lead_i["lowerLimit"].to_string(), "-5.0");
    assert_eq!(lead_i["upperLimit"].to_string(), "10.0");
    assert_eq!(lead_i["dimensions"], 1);
    assert!(lead_i.get("factor").is_none());
    // OBX 1005: 131330 lead II.
    let lead_ii = &component(ecg, "131330")["valueSampledData"];
    assert_eq!(samples(lead_ii), vec!["1.04980469", "1.0546875", "1.04003906"]);
    assert_eq!(lead_ii["lowerLimit"].to_string(), "0.39013672");
    assert_eq!(lead_ii["upperLimit"].to_string(), "1.4296875");
    assert_eq!(
        component(ecg, "131330")["code"]["coding"][0]["display"],
        "MDC_ECG_ELEC_POTL_II"
    );

    // OBX 1014: the sender codes its SpO2 curve 150456 (SpO2) in %, at 125 Hz: a waveform, not an
    // SpO2 value, so no LOINC and no vital-signs category.
    let spo2 = coded(&bundle, "150456");
    assert_eq!(spo2.len(), 1);
    let spo2 = spo2[0];
    assert!(spo2.get("valueQuantity").is_none());
    assert!(spo2.get("category").is_none());
    assert_eq!(spo2["code"]["coding"].as_array().unwrap().len(), 1, "MDC only: {spo2}");
    let curve = &spo2["valueSampledData"];
    assert_eq!(samples(curve), vec!["1.18", "1.17595308", "1.17008798"]);
    assert_eq!(curve["period"].to_string(), "8");
    assert_eq!(curve["origin"]["code"], "%");
    assert_eq!(curve["lowerLimit"].to_string(), "0.98924731");
    assert_eq!(curve["upperLimit"].to_string(), "3.30107527");
    // The MDS row (OBX-18 ABC123, OBX-6 `x^x^x`) names the device; its placeholder unit is no matter.
    assert_eq!(observations(&bundle).len(), 2);
    let device = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Device" && r["identifier"][0]["value"] == "ABC123");
    assert!(device.is_some(), "the monitor is Device ABC123");
    // PID-3 010101-2425, without an assigning authority: the site's system for such ids.
    assert_eq!(ecg["subject"]["identifier"]["value"], "010101-2425");
}

#[test]
fn a_lead_whose_code_and_name_disagree_is_left_out_with_the_reason() {
    // The T5 driver's mock message codes its third lead 131331 (MDC: lead V1) and names it
    // MDC_ECG_LEAD_III.
    let message = common::real_hl7("karolinska_t5_pcd01_waveform_three_leads");
    let (readings, left_out) =
        read_payload_explained(AdapterKind::Hl7v2, &message, &common::settings(), common::now()).unwrap();
    assert_eq!(left_out.len(), 1, "{left_out:?}");
    assert_eq!(left_out[0].what, "OBX segment 12");
    assert!(
        left_out[0].reason.contains("code 131331 is lead V1")
            && left_out[0].reason.contains("names lead III")
            && left_out[0].reason.contains("does not guess"),
        "{}",
        left_out[0].reason
    );
    let ecg = readings[0]
        .measurements
        .iter()
        .find(|m| m.code == MdcCode(131328))
        .unwrap();
    let leads: Vec<u32> = ecg.components.iter().map(|c| c.code.0).collect();
    assert_eq!(leads, vec![131329, 131330]);

    let bundle = bundle(&message, AdapterKind::Hl7v2);
    let ecg = coded(&bundle, "131328")[0];
    let lead_i = &component(ecg, "131329")["valueSampledData"];
    assert_eq!(samples(lead_i), vec!["0.0", "0.029039286658642516"]);
    // 256 Hz: 3.90625 ms exactly.
    assert_eq!(lead_i["period"].to_string(), "3.90625");
    // The range row carries no unit; it is the waveform's.
    assert_eq!(lead_i["lowerLimit"].to_string(), "-0.9999728924443673");
    assert_eq!(lead_i["upperLimit"].to_string(), "0.9999969880372782");
    assert_eq!(ecg["effectiveDateTime"], "2015-06-15T14:55:31+00:00");
    assert_eq!(coded(&bundle, "131331").len(), 0, "the doubtful lead is not sent");
    assert_eq!(coded(&bundle, "150456").len(), 1, "the second OBR's curve is sent");
}

/// A constructed PCD-01 message in the T5 shape with one lead of `samples` samples at `rate`.
fn one_lead_message(samples: usize, rate: &str, extra: &str) -> Vec<u8> {
    let data: Vec<String> = (0..samples).map(|i| format!("{}.{:03}", i / 1000, i % 1000)).collect();
    format!(
        "MSH|^~\\&|GW|X|||20261121100000+0100||ORU^R01^ORU_R01|1|P|2.6\rPID|||77^^^HOSP&1.2.3&ISO^MR\r\
         OBR|1||1|WAVEFORM|||20261121100000\r\
         OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||F|||||||MON-1\r\
         OBX|2|NA|131330^MDC_ECG_ELEC_POTL_II^MDC|1.1.1.1|{}|266418^MDC_DIM_MILLI_VOLT^MDC|||||F|||20261121100000.000\r\
         {rate}{extra}",
        data.join("^")
    )
    .into_bytes()
}

const RATE_150: &str = "OBX|3|NM|0^MDC_ATTR_SAMP_RATE^MDC|1.1.1.1.1|150|264608^MDC_DIM_PER_SEC^MDC|||||F\r";

#[test]
fn a_long_recording_is_split_into_ten_second_observations_without_losing_a_sample() {
    // 3100 samples at 150 Hz: 20.67 s, so pieces of 1500, 1500 and 100 samples.
    let bundle = bundle(&one_lead_message(3100, RATE_150, ""), AdapterKind::Hl7v2);
    let mut pieces = coded(&bundle, "131330");
    pieces.sort_by_key(|o| o["effectiveDateTime"].as_str().unwrap().to_string());
    let times: Vec<&str> = pieces
        .iter()
        .map(|o| o["effectiveDateTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        vec![
            "2026-11-21T10:00:00+01:00",
            "2026-11-21T10:00:10+01:00",
            "2026-11-21T10:00:20+01:00"
        ]
    );
    let all: Vec<String> = pieces.iter().flat_map(|o| samples(&o["valueSampledData"])).collect();
    let expected: Vec<String> = (0..3100).map(|i| format!("{}.{:03}", i / 1000, i % 1000)).collect();
    assert_eq!(all, expected, "every sample once, in order");
    let lens: Vec<usize> = pieces.iter().map(|o| samples(&o["valueSampledData"]).len()).collect();
    assert_eq!(lens, vec![1500, 1500, 100]);
    let identifiers: std::collections::HashSet<&str> = pieces
        .iter()
        .map(|o| o["identifier"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(identifiers.len(), 3, "each piece is its own conditional create");
    // A resend is the same three pieces.
    assert_eq!(
        bundle,
        self::bundle(&one_lead_message(3100, RATE_150, ""), AdapterKind::Hl7v2)
    );
}

#[test]
fn waveforms_that_cannot_be_timed_are_left_out_and_bad_samples_refused_by_place() {
    // No sampling rate: left out, the reason says why.
    let (readings, left_out) = read_payload_explained(
        AdapterKind::Hl7v2,
        &one_lead_message(
            3,
            "",
            "OBX|3|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.1|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F\r",
        ),
        &common::settings(),
        common::now(),
    )
    .unwrap();
    assert!(
        left_out
            .iter()
            .any(|l| l.what == "OBX segment 5" && l.reason.contains("no numeric MDC_ATTR_SAMP_RATE")),
        "{left_out:?}"
    );
    assert_eq!(readings[0].measurements.len(), 1, "the pulse rate is still delivered");
    // A rate per minute is no rate the samples can be timed by.
    let per_minute = RATE_150.replace("264608^MDC_DIM_PER_SEC^MDC", "264352^MDC_DIM_MIN^MDC");
    let (_, left_out) = read_payload_explained(
        AdapterKind::Hl7v2,
        &one_lead_message(
            3,
            &per_minute,
            "OBX|4|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.1|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F\r",
        ),
        &common::settings(),
        common::now(),
    )
    .unwrap();
    assert!(left_out[0].reason.contains("not in samples per second"), "{left_out:?}");
    // A sample that is no number refuses the message, naming the segment and the sample, not the text.
    let mut broken = String::from_utf8(one_lead_message(3, RATE_150, "")).unwrap();
    broken = broken.replace("0.001^0.002", "0.001^1,5");
    let error = map_payload(
        AdapterKind::Hl7v2,
        broken.as_bytes(),
        &common::settings(),
        common::now(),
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("segment 5 (OBX) field 5") && text.contains("sample 3 of the numeric array"),
        "{text}"
    );
    assert!(!text.contains("1,5"), "the value is not quoted: {text}");
}

fn polar_envelope(value_hex: &str) -> Vec<u8> {
    format!(
        r#"{{"gateway": {{"id": "hub-7"}}, "device": {{"address": "A0:9E:1A:12:34:56"}},
            "patient": {{"system": "urn:oid:1.2.3", "value": "P1"}},
            "characteristic": "FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8", "value": "{value_hex}",
            "receivedAt": "2026-11-21T10:00:00Z"}}"#
    )
    .into_bytes()
}

#[test]
fn polar_h10_ecg_frame_becomes_a_microvolt_waveform_at_130_hz() {
    // Polar's vector (EcgDataTest.kt, frame type 0): header 00 | 00 94 35 77 00 00 00 00 | 00, then
    // 02 80 FF 02 80 00 → -32766 µV, 32770 µV.
    let bundle = bundle(&polar_envelope("000094357700000000000280FF028000"), AdapterKind::Ble);
    let ecg = coded(&bundle, "131328");
    assert_eq!(ecg.len(), 1);
    let ecg = ecg[0];
    assert_eq!(
        ecg["meta"]["profile"][0],
        "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdRtsaObservation"
    );
    let wave = &ecg["valueSampledData"];
    assert_eq!(samples(wave), vec!["-32766", "32770"]);
    assert_eq!(wave["origin"]["code"], "uV");
    assert_eq!(wave["period"].to_string(), "7.692308", "130 Hz");
    // The strap's clock has no epoch the bridge can place: timed by the hub's receipt.
    assert_eq!(ecg["effectiveDateTime"], "2026-11-21T10:00:00+00:00");
    // Frame type 1 is another sensor's: refused at the door with the rule.
    let refused = map_payload(
        AdapterKind::Ble,
        &polar_envelope("000094357700000000010280FF800200"),
        &common::settings(),
        common::now(),
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("frame type 1 is not the H10's"),
        "{refused}"
    );
}

/// The PHD IG's rtsa-example-2 (ECG lead I): the same content, mapped by the bridge, gives the same
/// SampledData, code, profile and category.
#[test]
fn the_phd_rtsa_example_is_what_the_mapper_writes_for_the_same_samples() {
    let example: Json = serde_json::from_str(
        &std::fs::read_to_string(common::repo_path("tests/vectors/fhir_phd/rtsa-example-2.json")).unwrap(),
    )
    .unwrap();
    let published = &example["valueSampledData"];
    let data: Vec<Sample> = samples(published)
        .iter()
        .map(|s| Sample::Value(s.parse::<Decimal>().unwrap()))
        .collect();
    let series = SampledSeries {
        unit: "mV".into(),
        origin: Decimal::integer(-3300),
        factor: Some("1.612".parse().unwrap()),
        // period 10 ms
        rate: SampleRate::new(Decimal::integer(100)).unwrap(),
        lower_limit: Some(Decimal::integer(-500)),
        upper_limit: Some(Decimal::integer(500)),
        samples: data,
    };
    let time = Timestamp {
        local: chrono::NaiveDate::from_ymd_opt(2018, 8, 2)
            .unwrap()
            .and_hms_opt(2, 25, 24)
            .unwrap(),
        offset: chrono::FixedOffset::west_opt(4 * 3600).unwrap(),
        quality: ClockQuality::DeviceClock {
            offset: OffsetSource::Envelope,
        },
    };
    let reading = Reading {
        device: DeviceIdentity {
            system_id: Some("00601900010E9234".parse().unwrap()),
            ..Default::default()
        },
        gateway: None,
        patient: Some(PatientRef {
            system: "urn:oid:1.2.3".into(),
            value: "patientExample-1".into(),
        }),
        patient_withheld: None,
        receipt_key: None,
        received_at: time.instant().unwrap(),
        measurements: vec![Measurement::simple(
            MdcCode(131329),
            Value::Samples(series),
            EffectiveTime::Instant(time),
        )],
        origin: Origin::PersonalHealth,
        documents: Vec::new(),
        location: None,
    };
    let json = fhirgate::pipeline::bundle_json(&[reading], &common::settings()).unwrap();
    let bundle: Json = serde_json::from_str(&json).unwrap();
    let ours = coded(&bundle, "131329")[0];
    let mine = &ours["valueSampledData"];
    assert_eq!(samples(mine), samples(published));
    assert_eq!(samples(mine).len(), 116);
    for key in ["period", "factor", "lowerLimit", "upperLimit", "dimensions"] {
        assert_eq!(number(&mine[key]), number(&published[key]), "{key}");
    }
    assert_eq!(mine["origin"], published["origin"]);
    assert!(
        !mine["data"].as_str().unwrap().contains('\u{a0}'),
        "single spaces (u20) only"
    );
    assert_eq!(ours["code"]["coding"][0], example["code"]["coding"][0]);
    assert_eq!(ours["meta"]["profile"], example["meta"]["profile"]);
    assert_eq!(ours["category"], example["category"]);
    assert_eq!(ours["effectiveDateTime"], example["effectiveDateTime"]);
}

/// The Withings recording: a real `list` answer and the real `get` answer of its signal 2500741
/// (`mappings/tests/withings-heart/`), joined as the connector does.
fn withings_heart() -> (Json, Json, Vec<u8>) {
    let dir = "mappings/tests/withings-heart";
    let read = |name: &str| std::fs::read(common::repo_path(&format!("{dir}/{name}"))).unwrap();
    let list: Json = serde_json::from_slice(&read("heart-list.json")).unwrap();
    let get: Json = serde_json::from_slice(&read("heart-get-2500741.json")).unwrap();
    (list, get, read("heart-ecg-2500741.json"))
}

#[test]
fn a_withings_ecg_is_sampled_data_with_every_sample_of_its_signal_in_order() {
    let (list, get, joined) = withings_heart();
    // The fixture is exactly the list item of signal 2500741 with the get answer's body as its
    // `ecg.signal`: nothing in it is made up.
    let document: Json = serde_json::from_slice(&joined).unwrap();
    let item = &document["body"]["series"][0];
    let mut listed = list["body"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["ecg"]["signalid"] == 2500741)
        .unwrap()
        .clone();
    listed["ecg"]["signal"] = get["body"].clone();
    assert_eq!(item, &listed);

    let settings = fhirgate::pipeline::MapSettings {
        declarative: std::sync::Arc::new(
            fhirgate::adapters::declarative::DeclarativeMappings::load(&common::repo_path("mappings")).unwrap(),
        ),
        ..common::settings()
    };
    let json = fhirgate::pipeline::map_payload_for(
        AdapterKind::Declarative,
        &joined,
        &settings,
        common::now(),
        Some("urn:oid:2.16.840.1.113883.19.5|MRN-4711"),
    )
    .unwrap();
    let bundle: Json = serde_json::from_str(&json).unwrap();
    // 10,000 µV samples at 500 Hz (20 s, a BPM Core's recording): two pieces of 10 s, 2 ms apart,
    // the second starting 10 s after the recording (2020-02-14T15:25:10Z).
    let pieces = coded(&bundle, "131328");
    assert_eq!(pieces.len(), 2);
    let times: Vec<&str> = pieces
        .iter()
        .map(|p| p["effectiveDateTime"].as_str().unwrap())
        .collect();
    assert_eq!(times, vec!["2020-02-14T15:25:10+00:00", "2020-02-14T15:25:20+00:00"]);
    let mut all = Vec::new();
    for piece in &pieces {
        let sampled = &piece["valueSampledData"];
        assert_eq!(number(&sampled["period"]), 2.0);
        assert_eq!(sampled["dimensions"], 1);
        assert_eq!(sampled["origin"]["code"], "uV");
        assert_eq!(number(&sampled["origin"]["value"]), 0.0);
        assert!(piece
            .get("category")
            .is_none_or(|c| !c.to_string().contains("vital-signs")));
        all.extend(samples(sampled));
    }
    let signal: Vec<String> = get["body"]["signal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(signal.len(), 10_000);
    assert_eq!(all, signal, "every sample, in order, none lost or repeated");
    assert_eq!(
        &all[..10],
        ["-13", "-24", "-41", "-58", "-72", "-79", "-76", "-69", "-55", "-48"]
    );
    // The session's heart rate and blood pressure, and the device, from the list item.
    assert_eq!(
        coded(&bundle, "147842")[0]["valueQuantity"]["value"],
        serde_json::json!(72)
    );
    let pressure = coded(&bundle, "150020")[0];
    assert_eq!(
        component(pressure, "150021")["valueQuantity"]["value"],
        serde_json::json!(111)
    );
    assert_eq!(
        component(pressure, "150022")["valueQuantity"]["value"],
        serde_json::json!(79)
    );
    let device = common::resources(&bundle, "Device")[0];
    assert_eq!(
        device["identifier"][0]["value"],
        "153570f9668b0259ffef08536f8f3ba879774490"
    );
    // afib 0, Withings' "negative", is HL7 PHR's sinusRhythm ("no signs of atrial fibrillation").
    let classification = |bundle: &Json| -> Json {
        observations(bundle)
            .into_iter()
            .find(|o| o["code"]["coding"][0]["code"] == "classification")
            .expect("the ECG's classification")
            .clone()
    };
    let found = classification(&bundle);
    assert_eq!(
        found["code"]["coding"][0]["system"],
        "http://hl7.org/fhir/uv/phr/CodeSystem/ecg-codes"
    );
    assert_eq!(
        found["valueCodeableConcept"],
        serde_json::json!({"coding": [{"system": "http://hl7.org/fhir/uv/phr/CodeSystem/ecg-classification-codes",
            "code": "sinusRhythm", "display": "Sinus rhythm"}], "text": "Sinus rhythm"})
    );
    assert_eq!(found["effectiveDateTime"], "2020-02-14T15:25:10+00:00");
    // A positive and an inconclusive classification; a value Withings does not define refuses the
    // payload.
    let with_afib = |afib: i64| {
        let mut other = document.clone();
        other["body"]["series"][0]["ecg"]["afib"] = serde_json::json!(afib);
        fhirgate::pipeline::map_payload_for(
            AdapterKind::Declarative,
            other.to_string().as_bytes(),
            &settings,
            common::now(),
            Some("urn:oid:2.16.840.1.113883.19.5|MRN-4711"),
        )
    };
    for (afib, code) in [(1, "atrialFibrillation"), (2, "inconclusiveOther")] {
        let bundle: Json = serde_json::from_str(&with_afib(afib).unwrap()).unwrap();
        assert_eq!(
            classification(&bundle)["valueCodeableConcept"]["coding"][0]["code"],
            code
        );
    }
    let error = with_afib(7).unwrap_err().to_string();
    assert!(
        error.contains("`@.ecg.afib` is not one of the allowed values (0, 1, 2)"),
        "{error}"
    );
}
