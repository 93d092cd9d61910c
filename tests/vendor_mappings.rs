//! The vendor JSON adapter and the shipped mappings in `mappings/`: the values each source asserts
//! (the shimmer project's unit tests for Withings and iHealth; Open mHealth's schema test data) come
//! out of the mapping, every Open mHealth shouldFail file is refused with its reason, and
//! `fhirgate mappings check` / `test` pass on the shipped files and catch broken ones.

mod common;

use std::path::Path;
use std::process::Command;

use fhirgate::adapters::declarative::DeclarativeMappings;
use fhirgate::model::{EffectiveTime, Reading, Value};
use serde_json::Value as Json;

fn mappings() -> DeclarativeMappings {
    DeclarativeMappings::load(&common::repo_path("mappings")).unwrap()
}

fn read(file: &str) -> (Vec<Reading>, fhirgate::adapters::declarative::Explanation) {
    let payload = std::fs::read(common::repo_path(&format!("mappings/tests/{file}"))).unwrap();
    let (now, offset) = fhirgate::mappings_cli::test_clock();
    mappings()
        .read(&payload, now.fixed_offset(), offset)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// (MDC code, value text, UCUM, time) of every simple measurement, and of each component.
fn values(readings: &[Reading]) -> Vec<(u32, String, String, String)> {
    let mut out = Vec::new();
    for reading in readings {
        for m in &reading.measurements {
            let time = match m.time {
                EffectiveTime::Instant(t) => t.instant().unwrap().to_rfc3339(),
                EffectiveTime::Period { start, .. } => start.instant().unwrap().to_rfc3339(),
            };
            if let Some(Value::Quantity(q)) = &m.value {
                out.push((m.code.0, q.value.to_string(), q.unit.clone(), time.clone()));
            }
            for c in &m.components {
                if let Value::Quantity(q) = &c.value {
                    out.push((c.code.0, q.value.to_string(), q.unit.clone(), time.clone()));
                }
            }
        }
    }
    out
}

fn row(code: u32, value: &str, unit: &str, time: &str) -> (u32, String, String, String) {
    (code, value.into(), unit.into(), time.into())
}

#[test]
fn librelinkup_times_in_its_own_pattern_give_what_nightscout_asserts() {
    let (readings, explanation) = read("librelinkup/librelinkup_graph_nightscout_fixture.json");
    assert_eq!(explanation.mapping, "librelinkup-graph");
    let mut rows = values(&readings);
    rows.sort_by(|a, b| a.3.cmp(&b.3));
    rows.dedup();
    // 141 graph readings and the latest (sent twice, as glucoseMeasurement and glucoseItem): 142.
    assert_eq!(rows.len(), 142);
    // 1672375840000 ms with 173 mg/dL, and the latest, 1672418860000 ms with 115 mg/dL.
    assert_eq!(rows[0], row(160212, "173", "mg/dL", "2022-12-30T04:50:40+00:00"));
    assert_eq!(rows[141], row(160212, "115", "mg/dL", "2022-12-30T16:47:40+00:00"));
    assert_eq!(rows[140], row(160212, "103", "mg/dL", "2022-12-30T16:30:41+00:00"));
    let reading = &readings[0];
    assert_eq!(reading.device.instance_id.as_ref().unwrap().value, "ABCDEF1234");
    assert_eq!(
        reading.patient.as_ref().unwrap().value,
        "7ad66b40-ba9b-401e-9845-4f49f998cf16"
    );
    // No reading of this sensor is flagged high or low; one that is is marked off scale.
    assert!(readings.iter().all(|r| r.measurements[0].quality.is_empty()));
    let mut flagged: Json = serde_json::from_slice(
        &std::fs::read(common::repo_path(
            "mappings/tests/librelinkup/librelinkup_graph_nightscout_fixture.json",
        ))
        .unwrap(),
    )
    .unwrap();
    flagged["data"]["graphData"][0]["isLow"] = Json::Bool(true);
    flagged["data"]["graphData"][1]["isHigh"] = Json::Bool(true);
    let (readings, _) = read_payload(flagged);
    let quality = |value: &str| {
        readings
            .iter()
            .flat_map(|r| &r.measurements)
            .find(|m| matches!(&m.value, Some(Value::Quantity(q)) if q.value.to_string() == value))
            .map(|m| m.quality.clone())
            .unwrap()
    };
    assert_eq!(quality("173"), vec![fhirgate::model::QualityFlag::BelowRange]);
    assert_eq!(quality("178"), vec![fhirgate::model::QualityFlag::AboveRange]);
}

#[test]
fn garmin_pulse_ox_is_timed_by_its_member_name_after_the_summary_start() {
    let (readings, explanation) = read("garmin/garmin_pulseox_radar_base_example.json");
    assert_eq!(explanation.mapping, "garmin-pulseox");
    // startTimeInSeconds 1572303600 + "55740" s, at startTimeOffsetInSeconds 3600: not 15 h 29 min
    // early at the start.
    assert_eq!(
        values(&readings),
        vec![row(150456, "93", "%", "2019-10-29T15:29:00+01:00")]
    );
    assert_eq!(readings[0].patient.as_ref().unwrap().value, "sub-1");
    let time = readings[0].measurements[0].time.anchor();
    assert_eq!(
        time.local.to_string(),
        "2019-10-29 15:29:00",
        "the wearer's local digits"
    );
    // More members are more readings, each at its own time; a name that is no number is said.
    let mut payload: Json = serde_json::from_slice(
        &std::fs::read(common::repo_path(
            "mappings/tests/garmin/garmin_pulseox_radar_base_example.json",
        ))
        .unwrap(),
    )
    .unwrap();
    payload["pulseox"][0]["timeOffsetSpo2Values"] = serde_json::json!({"55740": 93, "55800": 94, "noon": 95});
    let (readings, explanation) = read_payload(payload);
    let times: Vec<(String, String)> = values(&readings).into_iter().map(|r| (r.1, r.3)).collect();
    assert_eq!(
        times,
        vec![
            ("93".to_string(), "2019-10-29T15:29:00+01:00".to_string()),
            ("94".to_string(), "2019-10-29T15:30:00+01:00".to_string())
        ]
    );
    assert!(
        explanation
            .dropped
            .iter()
            .any(|d| d.reason.contains("not a whole number")),
        "{:?}",
        explanation.dropped
    );
}

#[test]
fn withings_getmeas_gives_the_values_shimmer_asserts() {
    let (readings, explanation) = read("withings/withings-body-measures.json");
    assert_eq!(explanation.mapping, "withings-getmeas");
    assert_eq!(
        values(&readings),
        vec![
            row(188736, "74.126", "kg", "2015-05-31T06:06:23+00:00"),
            row(150021, "104", "mm[Hg]", "2015-05-31T06:06:23+00:00"),
            row(150022, "68", "mm[Hg]", "2015-05-31T06:06:23+00:00"),
            row(149546, "41", "/min", "2015-05-31T06:06:23+00:00"),
            row(188736, "74.128", "kg", "2015-04-20T17:13:56+00:00"),
            row(149546, "51", "/min", "2015-03-02T16:28:55+00:00"),
            row(149546, "47", "/min", "2015-02-26T21:57:17+00:00"),
            row(188740, "1.930", "m", "2015-02-23T19:24:49+00:00"),
            row(150364, "37", "Cel", "2015-02-23T19:24:49+00:00"),
        ]
    );
    // Type 18 appears in three groups and is not one the mapping takes: ignored and counted.
    assert_eq!(explanation.unknown_codes.get("18"), Some(&3));
    assert!(explanation.dropped.is_empty(), "{:?}", explanation.dropped);
}

#[test]
fn ihealth_lists_give_the_values_shimmer_asserts() {
    let (bp, _) = read("ihealth/ihealth-bp.json");
    assert_eq!(
        values(&bp),
        vec![
            row(150021, "120", "mm[Hg]", "2015-09-17T12:04:23-08:00"),
            row(150022, "90", "mm[Hg]", "2015-09-17T12:04:23-08:00"),
            row(149546, "100", "/min", "2015-09-17T12:04:23-08:00"),
            row(150021, "130", "mm[Hg]", "2015-09-17T14:07:45-06:00"),
            row(150022, "95", "mm[Hg]", "2015-09-17T14:07:45-06:00"),
            row(149546, "75", "/min", "2015-09-17T14:07:45-06:00"),
        ]
    );
    // The second reading's DataSource is "Manual": typed in, as shimmer's modality SELF_REPORTED says.
    let typed: Vec<bool> = bp
        .iter()
        .flat_map(|r| &r.measurements)
        .map(|m| m.circumstances.self_reported)
        .collect();
    assert_eq!(typed, vec![false, false, true, true]);
    let (no_pulse, explanation) = read("ihealth/ihealth-bp-no-heart-rate.json");
    assert!(
        values(&no_pulse).iter().all(|(code, ..)| *code != 149546),
        "HR 0 is no pulse"
    );
    assert_eq!(explanation.dropped.len(), 1);
    assert!(
        explanation.dropped[0].reason.contains("marks it absent"),
        "{:?}",
        explanation.dropped
    );

    let (glucose, _) = read("ihealth/ihealth-glucose.json");
    assert_eq!(
        values(&glucose),
        vec![
            row(160184, "60", "mg/dL", "2015-09-17T12:03:27-08:00"),
            row(160184, "70", "mg/dL", "2015-09-24T14:44:40-06:00"),
        ]
    );
    // The meal context (shimmer: before breakfast, after breakfast), qualifying its glucose reading.
    let contexts: Vec<(Option<Value>, Option<usize>)> = glucose
        .iter()
        .flat_map(|r| r.measurements.iter().filter(|m| m.code.0 == 8417864))
        .map(|m| (m.value.clone(), m.qualifies))
        .collect();
    assert_eq!(
        contexts,
        vec![
            (Some(Value::Coded(fhirgate::model::MdcCode(8417868))), Some(0)),
            (Some(Value::Coded(fhirgate::model::MdcCode(8417872))), Some(0)),
        ]
    );
    let (spo2, _) = read("ihealth/ihealth-spo2.json");
    assert_eq!(
        values(&spo2),
        vec![
            row(150456, "99", "%", "2015-09-23T15:46:00-06:00"),
            row(149530, "80", "/min", "2015-09-23T15:46:00-06:00"),
            row(150456, "90", "%", "2015-09-24T15:03:00-06:00"),
            row(149530, "65", "/min", "2015-09-24T15:03:00-06:00"),
        ]
    );
    let (weight, _) = read("ihealth/ihealth-weight.json");
    assert_eq!(
        values(&weight),
        vec![
            row(188736, "77.5643875134944", "kg", "2015-09-17T12:04:09-08:00"),
            row(188752, "22.56052563257619", "kg/m2", "2015-09-17T12:04:09-08:00"),
            row(188736, "77.56438446044922", "kg", "2015-09-17T14:07:57-06:00"),
            row(188752, "22.56052398681641", "kg/m2", "2015-09-17T14:07:57-06:00"),
        ]
    );
}

#[test]
fn fitbit_google_fit_and_dexcom_give_their_sources_values() {
    let (weight, _) = read("fitbit/fitbit-body-log-weight.json");
    let rows = values(&weight);
    assert_eq!(rows.len(), 8, "four weights and four BMIs");
    assert_eq!(rows[0], row(188736, "56.7", "kg", "2015-05-13T18:28:59+00:00"));
    assert_eq!(rows[1], row(188752, "21.48", "kg/m2", "2015-05-13T18:28:59+00:00"));
    assert_eq!(rows[7], row(188752, "21.65", "kg/m2", "2015-05-24T15:15:25+00:00"));

    let (intraday, _) = read("fitbit/fitbit-activities-heart-1d-1m-intraday.json");
    assert_eq!(intraday.len(), 5);
    let first = &intraday[0].measurements[0];
    match first.time {
        EffectiveTime::Period { start, end } => {
            assert_eq!(start.instant().unwrap().to_rfc3339(), "2015-08-21T00:01:00+00:00");
            assert_eq!((end.local - start.local).num_seconds(), 60, "one-minute interval");
        }
        other => panic!("expected a period, got {other:?}"),
    }
    assert_eq!(
        values(&intraday).iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        vec!["64", "63", "64", "65", "65"]
    );

    let (weights, _) = read("googlefit/googlefit-merge-weight.json");
    assert_eq!(
        values(&weights),
        vec![
            row(188736, "72.0999984741211", "kg", "2015-02-13T00:00:00+00:00"),
            row(188736, "72", "kg", "2015-02-17T16:57:13.313+00:00"),
            row(188736, "75.75070190429688", "kg", "2015-07-08T03:17:00+00:00"),
        ]
    );
    assert!(
        matches!(weights[0].measurements[0].time, EffectiveTime::Instant(_)),
        "start = end is an instant"
    );
    assert!(matches!(weights[2].measurements[0].time, EffectiveTime::Period { .. }));
    let (heights, _) = read("googlefit/googlefit-merge-height.json");
    assert_eq!(values(&heights)[0].1, "1.8287990093231201");
    let (rates, _) = read("googlefit/googlefit-merge-heart-rate.json");
    assert_eq!(
        values(&rates).iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        vec!["54", "58.0"]
    );

    let (egv, _) = read("dexcom/dexcom_v3_egvs_g7_low.json");
    assert_eq!(
        values(&egv),
        vec![row(160212, "39", "mg/dL", "2025-01-30T23:49:55+00:00")]
    );
    assert_eq!(
        egv[0].measurements[0].quality,
        vec![fhirgate::model::QualityFlag::BelowRange],
        "status low: the sensor's floor, not a measured 39"
    );
    assert_eq!(
        egv[0].patient.as_ref().unwrap().system,
        "https://developer.dexcom.com/user-id"
    );
}

#[test]
fn every_open_mhealth_should_fail_file_is_refused_with_its_reason() {
    let dir = common::repo_path("mappings/tests/openmhealth");
    let mut refused = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.contains("_shouldFail_") {
            continue;
        }
        let payload = std::fs::read(&path).unwrap();
        let (now, offset) = fhirgate::mappings_cli::test_clock();
        let error = mappings()
            .read(&payload, now.fixed_offset(), offset)
            .err()
            .unwrap_or_else(|| panic!("{name} was accepted"));
        let reason = error.to_string();
        let expected = if name.contains("empty-document") {
            "no mapping matches"
        } else if name.contains("time") {
            "time"
        } else if name.contains("unit") {
            "unit"
        } else if name.contains("descriptive-statistic") {
            "`$.descriptive_statistic` is not one of the allowed values"
        } else if name.contains("pa-value") {
            "`$.temporal_relationship_to_physical_activity` is not one of the allowed values"
        } else if name.contains("missing-body-weight-value") {
            "required value missing: `$.body_weight.value`"
        } else {
            // invalid enumerations in files that also lack a time frame
            "no time found"
        };
        assert!(reason.contains(expected), "{name}: {reason}");
        refused += 1;
    }
    assert_eq!(refused, 27, "every shouldFail file of the six families");
}

#[test]
fn mappings_check_and_test_pass_on_the_shipped_mappings() {
    for command in ["check", "test"] {
        let output = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
            .args(["mappings", command, "mappings"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "mappings {command}:\n{stdout}");
        assert!(!stdout.contains("error:"), "{stdout}");
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vendor-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the test mappings share: a list of readings, each with its time, for a user.
macro_rules! acme_readings {
    () => {
        r#"
match = "$.readings"
records = "$.readings[*]"
[patient]
system = "urn:acme:user"
id = "$.user"
[time]
instant = "@.at"
format = "iso8601"
"#
    };
}

const SCALE: &str = concat!(
    "name = \"acme-scale\"",
    acme_readings!(),
    r#"[[measurements]]
name = "body weight"
code = 188736
value = "@.pounds"
unit = "[lb_av]"
convert_to = "kg"
required = true
"#
);

fn map_with(mapping: &str, payload: &str, explain: bool) -> (i32, String, String) {
    let dir = temp_dir(&format!("{}-{explain}", payload.len()));
    std::fs::write(dir.join("acme.toml"), mapping).unwrap();
    std::fs::write(dir.join("payload.json"), payload).unwrap();
    let mapping = dir.join("acme.toml").display().to_string();
    let mut args = vec!["--mapping", mapping.as_str()];
    if explain {
        args.push("--explain");
    }
    map_args(&args, &dir.join("payload.json"))
}

#[test]
fn a_new_device_is_connected_by_a_mapping_file_alone() {
    let payload = r#"{"user": "u-17", "readings": [{"at": "2026-11-21T07:30:00+01:00", "pounds": 160.2}]}"#;
    let (code, stdout, stderr) = map_with(SCALE, payload, false);
    assert_eq!(code, 0, "{stderr}");
    let bundle: Json = serde_json::from_str(&stdout).unwrap();
    let observation = common::observations(&bundle)[0];
    assert_eq!(observation["valueQuantity"]["value"], serde_json::json!(72.67));
    assert_eq!(observation["valueQuantity"]["code"], "kg");
    assert_eq!(observation["effectiveDateTime"], "2026-11-21T07:30:00+01:00");
    assert_eq!(observation["subject"]["identifier"]["value"], "u-17");
    assert_eq!(observation["code"]["coding"][1]["code"], "29463-7");

    let (code, explained, _) = map_with(SCALE, payload, true);
    assert_eq!(code, 0);
    assert!(
        explained.starts_with("mapping: acme-scale\nrecords: 1\n"),
        "{explained}"
    );
    assert!(
        explained.contains("body weight: `@.pounds` = 160.2 [lb_av] → 72.67 kg"),
        "the path, the value and the conversion: {explained}"
    );
    assert!(explained.contains("time `@.at`"), "{explained}");
    assert!(explained.contains("resources:\n{"), "{explained}");
}

#[test]
fn bad_values_times_and_unmatched_payloads_are_refused_naming_mapping_path_and_field() {
    let (code, stdout, stderr) = map_with(
        SCALE,
        r#"{"user": "u-17", "readings": [{"at": "2026-11-21T07:30:00+01:00", "pounds": "heavy"}]}"#,
        false,
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.contains("mapping acme-scale, record 0: `@.pounds` is not a number"),
        "{stderr}"
    );
    assert!(!stderr.contains("heavy"), "the value is not repeated: {stderr}");

    let (code, _, stderr) = map_with(
        SCALE,
        r#"{"user": "u-17", "readings": [{"at": "last tuesday", "pounds": 160}]}"#,
        false,
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("mapping acme-scale, record 0: `@.at` is not an ISO 8601 date-time"),
        "{stderr}"
    );

    let (code, _, stderr) = map_with(SCALE, r#"{"something": "else"}"#, false);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no mapping matches the JSON payload (tried: acme-scale)"),
        "{stderr}"
    );

    let (code, _, stderr) = map_with(
        SCALE,
        r#"{"user": "u-17", "readings": [{"at": "2026-11-21T07:30:00Z"}]}"#,
        false,
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "holds no measurement it takes (record 0 body weight: required value missing: `@.pounds` found nothing)"
        ),
        "{stderr}"
    );

    // The patient's path finds nothing: the refusal names it, and the device to associate instead.
    let (code, _, stderr) = map_with(
        SCALE,
        r#"{"readings": [{"at": "2026-11-21T07:30:00Z", "pounds": 160}]}"#,
        false,
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no device-patient association covers its device at its time (mapping acme-scale, record 0: `$.user` (patient.id) found nothing)"),
        "{stderr}"
    );
    assert!(stderr.contains("(the device: {\"instanceId\""), "{stderr}");
}

const METER: &str = concat!(
    "name = \"acme-meter\"",
    acme_readings!(),
    r#"[[measurements]]
name = "glucose"
code = 160364
code_when = [
  { when = { "@.sample" = "isf" }, code = 160212 },
  { when = { "@.sample" = "capillary", "@.calibration" = "plasma" }, code = 160188 },
  { when = { "@.sample" = "capillary" }, code = 160184 },
]
value = "@.value"
unit_path = "@.unit"
units = { "mg/dL" = "mg/dL", "mmol/L" = "mmol/L" }
"#
);

#[test]
fn the_sample_picks_the_glucose_code_and_the_unit_picks_its_loinc() {
    let reading = |sample: &str, value: &str, unit: &str| {
        format!(
            r#"{{"user": "u-17", "readings": [{{"at": "2026-11-21T07:30:00Z", {sample} "value": {value}, "unit": "{unit}"}}]}}"#
        )
    };
    let cases = [
        (r#""sample": "isf","#, "6.4", "mmol/L", "160212", "105272-9"),
        (r#""sample": "isf","#, "115", "mg/dL", "160212", "99504-3"),
        (
            r#""sample": "capillary", "calibration": "plasma","#,
            "104",
            "mg/dL",
            "160188",
            "2345-7",
        ),
        (
            r#""sample": "capillary", "calibration": "whole blood","#,
            "5.8",
            "mmol/L",
            "160184",
            "14743-9",
        ),
        (r#""sample": "capillary","#, "98", "mg/dL", "160184", "41653-7"),
        ("", "98", "mg/dL", "160364", "2339-0"),
        ("", "5.4", "mmol/L", "160364", "15074-8"),
    ];
    for (sample, value, unit, mdc, loinc) in cases {
        let (code, stdout, stderr) = map_with(METER, &reading(sample, value, unit), false);
        assert_eq!(code, 0, "{stderr}");
        let bundle: Json = serde_json::from_str(&stdout).unwrap();
        let observation = common::observations(&bundle)[0];
        let coding = &observation["code"]["coding"];
        assert_eq!(coding[0]["code"], mdc, "{sample} {unit}");
        assert_eq!(coding[1]["system"], "http://loinc.org");
        assert_eq!(coding[1]["code"], loinc, "{sample} {unit}");
        assert_eq!(observation["valueQuantity"]["value"].to_string(), value);
        assert_eq!(observation["valueQuantity"]["code"], unit);
    }

    // A vendor number matches the case's value as a number (`2` and `2.0`).
    let numbered = METER.replace("\"@.sample\" = \"isf\"", "\"@.sample\" = 2");
    let (code, stdout, stderr) = map_with(&numbered, &reading(r#""sample": 2.0,"#, "6.4", "mmol/L"), false);
    assert_eq!(code, 0, "{stderr}");
    let bundle: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(common::observations(&bundle)[0]["code"]["coding"][0]["code"], "160212");

    let (_, explained, _) = map_with(METER, &reading(r#""sample": "isf","#, "6.4", "mmol/L"), true);
    assert!(
        explained.contains("glucose: `@.sample` = isf → MDC 160212"),
        "the case that picked the code: {explained}"
    );
}

/// Reads an inline payload through the shipped mappings.
fn read_payload(payload: Json) -> (Vec<Reading>, fhirgate::adapters::declarative::Explanation) {
    let (now, offset) = fhirgate::mappings_cli::test_clock();
    mappings()
        .read(payload.to_string().as_bytes(), now.fixed_offset(), offset)
        .unwrap_or_else(|e| panic!("{payload}: {e}"))
}

#[test]
fn open_mhealth_posture_site_and_notes_reach_the_observation() {
    let (readings, explanation) = read_payload(serde_json::json!({
        "systolic_blood_pressure": { "value": 131, "unit": "mmHg" },
        "diastolic_blood_pressure": { "value": 84, "unit": "mmHg" },
        "body_posture": "semi-recumbent",
        "measurement_location": "right wrist",
        "user_notes": "after the stairs",
        "effective_time_frame": { "date_time": "2024-05-01T08:00:00+02:00" }
    }));
    let circumstances = &readings[0].measurements[0].circumstances;
    // A word the mapping has no code for is kept as the sender's text, not dropped or guessed.
    let position = circumstances.body_position.as_ref().unwrap();
    assert_eq!(position.text, "semi-recumbent");
    assert_eq!(position.code, None);
    let site = circumstances.body_site.as_ref().unwrap();
    assert_eq!(site.text, "right wrist");
    let code = site.code.as_ref().unwrap();
    assert_eq!(
        (code.system.as_str(), code.code.as_str()),
        ("http://snomed.info/sct", "9736006")
    );
    assert_eq!(circumstances.note.as_deref(), Some("after the stairs"));
    assert!(
        explanation.steps.iter().any(
            |s| s == "record 0: body site: `$.measurement_location` = right wrist → http://snomed.info/sct 9736006"
        ),
        "{:#?}",
        explanation.steps
    );

    // A temperature site 11073 codes picks the code and is not repeated as bodySite; one it does not
    // code stays the generic body temperature, with the site.
    let temperature = |site: &str| {
        let (readings, _) = read_payload(serde_json::json!({
            "body_temperature": { "value": 37.2, "unit": "C" },
            "measurement_location": site,
            "effective_time_frame": { "date_time": "2024-05-01T08:00:00Z" }
        }));
        readings[0].measurements[0].clone()
    };
    let tympanic = temperature("tympanic");
    assert_eq!(tympanic.code.0, 150392);
    assert_eq!(tympanic.circumstances.body_site, None);
    let wrist = temperature("wrist");
    assert_eq!(wrist.code.0, 150364);
    let site = wrist.circumstances.body_site.unwrap();
    assert_eq!((site.text.as_str(), site.code), ("wrist", None));
}

#[test]
fn mappings_check_reports_syntax_with_line_and_column_and_units_that_contradict_the_code() {
    let dir = temp_dir("check");
    std::fs::write(dir.join("broken.toml"), "name = \"x\"\nmatch = \"$.a\"\n[time\n").unwrap();
    std::fs::write(
        dir.join("wrong-unit.toml"),
        SCALE.replace("convert_to = \"kg\"\n", "").replace("[lb_av]", "mm[Hg]"),
    )
    .unwrap();
    std::fs::write(dir.join("unknown-code.toml"), SCALE.replace("188736", "999999")).unwrap();
    // A case's code takes the same value: a glucose code for a weight is as wrong as the main code.
    std::fs::write(
        dir.join("wrong-case.toml"),
        SCALE.replace(
            "code = 188736\n",
            "code = 188736\ncode_when = [{ when = { \"@.kind\" = \"cgm\" }, code = 160212 }]\n",
        ),
    )
    .unwrap();
    // A case keyed by a bare name is a typo for a path: as a literal it would never (or always) hold.
    std::fs::write(
        dir.join("bare-key.toml"),
        METER.replace("\"@.sample\" = \"isf\"", "\"sample\" = \"isf\""),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args(["mappings", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("broken.toml: line 3, column"), "{stdout}");
    assert!(
        stdout.contains("measurements[0].code_when[0].when: \"sample\" is not a JSONPath"),
        "{stdout}"
    );
    // A component's code is fixed: a case there would be checked and then never used.
    std::fs::write(
        dir.join("component-case.toml"),
        r#"
name = "acme-cuff"
match = "$.readings"
records = "$.readings[*]"
[time]
instant = "@.at"
format = "iso8601"
[[measurements]]
name = "blood pressure"
code = 150020
[[measurements.components]]
code = 150021
code_when = [{ when = { "@.arm" = "left" }, code = 150022 }]
value = "@.sys"
unit = "mm[Hg]"
"#,
    )
    .unwrap();
    let single = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args(["mappings", "check"])
        .arg(dir.join("component-case.toml"))
        .output()
        .unwrap();
    let single = String::from_utf8_lossy(&single.stdout);
    assert!(
        single.contains("measurements[0].components[0]: a component's code is fixed"),
        "{single}"
    );
    assert!(
        stdout.contains("wrong-unit.toml: measurements[0]: unit mm[Hg] does not fit MDC 188736 MDC_MASS_BODY_ACTUAL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("unknown-code.toml: measurements[0]: MDC code 999999 is not in the code table (src/codes.rs); give its `reference_id`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("wrong-case.toml: measurements[0]: unit kg does not fit MDC 160212 MDC_CONC_GLU_ISF"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("wrong-case.toml: measurements[0]: unit kg does not fit MDC 188736"),
        "{stdout}"
    );
}

#[test]
fn mappings_check_catches_medtechs_sample_coding_diastolic_pressure_as_heart_rate() {
    let output = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args(["mappings", "check"])
        .arg(common::repo_path("fixtures/medtech"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("devicecontent.json: MedTech device mapping"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "fhirmapping.json: template[1] (bloodpressure) components[0]: LOINC 8867-4 (Heart rate or Pulse rate) is measured in /min"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"Diastolic blood pressure\" is coded LOINC 8867-4, which means Heart rate or Pulse rate; Diastolic blood pressure is LOINC 8462-4"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("template[0] (heartrate)"),
        "the heart-rate template is right: {stdout}"
    );
}

#[test]
fn xml_payloads_go_through_the_same_mappings() {
    let mapping = r#"
name = "acme-pump-xml"
payload = "xml"
match = "$.report.reading"
records = "$.report.reading[?@['@type'] == 'rate']"
[device]
id = "$.report['@serial']"
system = "https://acme.example/pump-serial"
[patient]
system = "urn:oid:2.16.840.1.113883.19.5"
id = "$.report.patient"
[time]
instant = "@.at"
format = "iso8601"
[[measurements]]
name = "infusion rate"
code = 157784
reference_id = "MDC_FLOW_FLUID_PUMP"
value = "@.value"
unit_path = "@.value[0]['@unit']"
units = { "mL/h" = "mL/h" }
required = true
"#;
    let payload = r#"<?xml version="1.0" encoding="UTF-8"?>
<pump:report xmlns:pump="urn:acme:pump" serial="P-7">
  <pump:patient>MRN-4711</pump:patient>
  <pump:reading type="rate"><value unit="mL/h">125.0</value><at>2026-11-21T10:00:00+01:00</at></pump:reading>
  <pump:reading type="volume"><value unit="mL">42</value><at>2026-11-21T10:00:00+01:00</at></pump:reading>
</pump:report>"#;
    let (code, stdout, stderr) = map_with(mapping, payload, false);
    assert_eq!(code, 0, "{stderr}");
    let bundle: Json = serde_json::from_str(&stdout).unwrap();
    let observations = common::observations(&bundle);
    assert_eq!(observations.len(), 1, "only the rate reading");
    assert_eq!(observations[0]["valueQuantity"]["value"], serde_json::json!(125.0));
    assert_eq!(observations[0]["valueQuantity"]["code"], "mL/h");
    assert_eq!(observations[0]["effectiveDateTime"], "2026-11-21T10:00:00+01:00");
    assert_eq!(observations[0]["subject"]["identifier"]["value"], "MRN-4711");
    assert!(
        stdout.contains("\"value\": \"P-7\""),
        "the device serial from the attribute"
    );
    assert_eq!(observations[0]["code"]["coding"][0]["display"], "MDC_FLOW_FLUID_PUMP");

    let (code, _, stderr) = map_with(mapping, "<report><reading type=\"rate\"></report>", false);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("not XML a mapping can read") && stderr.contains("byte"),
        "{stderr}"
    );
}

#[test]
fn vendor_numbers_markers_and_exponents_are_read_as_numbers_and_bounded() {
    let mapping = r#"
name = "acme-numbers"
match = "$.r"
records = "$.r[*]"
[patient]
system = "urn:acme:user"
id = "u-1"
[time]
instant = "@.t"
format = "unix-seconds"
[[measurements]]
name = "body weight"
code = 188736
value = "@.v"
exponent = "@.e"
unit = "kg"
absent_when = [0]
"#;
    // 0.0 is the absent marker 0; 7.5e1 × 10^0 is 75.
    let (code, stdout, stderr) = map_with(
        mapping,
        r#"{"r": [{"t": 1700000001, "v": 0.0, "e": 0}, {"t": 1700000002, "v": 7.5e1, "e": 0}]}"#,
        false,
    );
    assert_eq!(code, 0, "{stderr}");
    let bundle: Json = serde_json::from_str(&stdout).unwrap();
    let observations = common::observations(&bundle);
    assert_eq!(observations.len(), 1, "the 0.0 marker left one out");
    assert_eq!(observations[0]["valueQuantity"]["value"].as_f64(), Some(75.0));
    // An absurd exponent is refused, not expanded.
    let (code, _, stderr) = map_with(mapping, r#"{"r": [{"t": 1700000001, "v": 5, "e": 2000000000}]}"#, false);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`@.e` is not a whole number from -30 to 30"),
        "{stderr}"
    );
    // A poll with nothing new holds no reading: it is refused with the reason, so that a payload taken
    // always becomes something (nothing vanishes after a 202).
    let (code, stdout, stderr) = map_with(mapping, r#"{"r": []}"#, false);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("the payload holds no readings"), "{stderr}");
    // Milliseconds read as seconds put the reading tens of thousands of years ahead: refused, naming
    // the record and path, never sent as `+54692-…`.
    let (code, _, stderr) = map_with(mapping, r#"{"r": [{"t": 1663430400000, "v": 75, "e": 0}]}"#, false);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("record 0 `@.v`") && stderr.contains("after the payload was received"),
        "{stderr}"
    );
}

/// Maps a payload with the shipped mappings (the CLI, as a user would).
fn map_shipped(payload: &Json) -> (i32, String, String) {
    let dir = temp_dir(&format!("shipped-{}", payload.to_string().len()));
    std::fs::write(dir.join("payload.json"), payload.to_string()).unwrap();
    let mappings = common::repo_path("mappings").display().to_string();
    map_args(&["--mapping", &mappings], &dir.join("payload.json"))
}

#[test]
fn two_different_values_at_one_time_are_refused_naming_both_and_a_repeat_is_one_reading() {
    // A CGM cloud back-filling its history sends the same sensor time twice with different values.
    let sample: Json = serde_json::from_slice(
        &std::fs::read(common::repo_path("mappings/tests/dexcom/dexcom_v3_egvs_g7_low.json")).unwrap(),
    )
    .unwrap();
    let record = sample["records"][0].clone();
    let mut other = record.clone();
    other["value"] = serde_json::json!(112);
    other["status"] = Json::Null;
    let mut conflicting = sample.clone();
    conflicting["records"] = serde_json::json!([record, other]);
    let (code, stdout, stderr) = map_shipped(&conflicting);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stderr.contains("two different values of")
            && stderr.contains("record 0 `@.value`")
            && stderr.contains("record 1 `@.value`"),
        "names both: {stderr}"
    );
    assert!(!stderr.contains("112"), "never a value: {stderr}");
    // The same record twice (a resend inside one poll) is one reading.
    let mut repeated = sample.clone();
    repeated["records"] = serde_json::json!([sample["records"][0], sample["records"][0]]);
    let (code, stdout, stderr) = map_shipped(&repeated);
    assert_eq!(code, 0, "{stderr}");
    let bundle: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(common::observations(&bundle).len(), 1);
}

/// `fhirgate map --adapter declarative ARGS PAYLOAD`: exit code, stdout, stderr.
fn map_args(args: &[&str], payload: &Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_fhirgate"))
        .args(["map", "--adapter", "declarative"])
        .args(args)
        .arg(payload)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn a_statistic_over_a_period_says_which_and_never_passes_for_a_reading() {
    // Open mHealth's heart-rate 2.0 "with descriptive statistic": the day's minimum, 50 beats/min,
    // 2020-02-05T06:00+01:00 to 2020-02-06T06:00+01:00. `--patient` names whose it is.
    let payload =
        common::repo_path("mappings/tests/openmhealth/heart-rate_2.0_shouldPass_with-descriptive-statistic.json");
    let mapping = common::repo_path("mappings").display().to_string();
    let (code, stdout, stderr) = map_args(&["--mapping", &mapping, "--patient", "urn:example:mrn|4711"], &payload);
    assert_eq!(code, 0, "{stderr}");
    let bundle: Json = serde_json::from_str(&stdout).unwrap();
    let observation = common::observations(&bundle)[0];
    assert_eq!(observation["valueQuantity"]["value"], serde_json::json!(50.0));
    assert_eq!(observation["valueQuantity"]["code"], "/min");
    assert_eq!(
        observation["effectivePeriod"],
        serde_json::json!({"start": "2020-02-05T06:00:00+01:00", "end": "2020-02-06T06:00:00+01:00"})
    );
    assert_eq!(
        observation["method"]["coding"][0],
        serde_json::json!({"system": "http://terminology.hl7.org/CodeSystem/observation-statistics", "code": "minimum", "display": "Minimum"})
    );
    assert_eq!(observation["subject"]["identifier"]["value"], "4711");
    // Still a heart rate (8867-4, as the vital-signs profile requires), but not a PHD measurement:
    // no `phd` category and no PHD profile. LOINC has no code for a minimum over any period.
    let codes: Vec<&str> = observation["code"]["coding"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["147842", "8867-4"]);
    let categories: Vec<&str> = observation["category"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["coding"][0]["code"].as_str())
        .collect();
    assert_eq!(categories, vec!["vital-signs"]);
    assert!(observation.get("meta").is_none(), "{observation}");
    assert!(observation["identifier"][0]["value"]
        .as_str()
        .unwrap()
        .ends_with("-minimum"));

    // A vendor's nightly average (Oura's `average_heart_rate` over the sleep period): LOINC's
    // "Mean heart rate" beside 8867-4.
    let dir = temp_dir("statistic-average");
    std::fs::write(
        dir.join("sleep.toml"),
        r#"name = "sleep"
match = "$.data"
records = "$.data[*]"
[patient]
system = "urn:example:user"
id = "$.user"
[time]
start = "@.bedtime_start"
end = "@.bedtime_end"
format = "iso8601"
[[measurements]]
name = "average heart rate"
code = 147842
value = "@.average_heart_rate"
unit = "/min"
statistic = "average"
required = true
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("night.json"),
        r#"{"user": "u1", "data": [{"bedtime_start": "2022-08-09T22:29:41-04:00", "bedtime_end": "2022-08-10T06:20:41-04:00", "average_heart_rate": 49.875}]}"#,
    )
    .unwrap();
    let sleep = dir.join("sleep.toml").display().to_string();
    let (code, stdout, stderr) = map_args(&["--mapping", &sleep], &dir.join("night.json"));
    assert_eq!(code, 0, "{stderr}");
    let bundle: Json = serde_json::from_str(&stdout).unwrap();
    let observation = common::observations(&bundle)[0];
    assert_eq!(observation["valueQuantity"]["value"], serde_json::json!(49.875));
    assert_eq!(observation["method"]["coding"][0]["code"], "average");
    assert_eq!(
        observation["code"]["coding"][2],
        serde_json::json!({"system": "http://loinc.org", "code": "103205-1", "display": "Mean heart rate"})
    );
    // An average at an instant is no average: left out, said on stderr, and the payload refused.
    std::fs::write(
        dir.join("instant.json"),
        r#"{"user": "u1", "data": [{"bedtime_start": "2022-08-09T22:29:41-04:00", "bedtime_end": "2022-08-09T22:29:41-04:00", "average_heart_rate": 49.875}]}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = map_args(&["--mapping", &sleep], &dir.join("instant.json"));
    assert_eq!(code, 2, "{stdout}");
    assert!(stderr.contains("a statistic (average) summarises a period"), "{stderr}");
    assert!(!stderr.contains("49.875"), "never a value: {stderr}");
    // And the trace is printed for a refused payload too.
    let (code, stdout, _) = map_args(&["--mapping", &sleep, "--explain"], &dir.join("instant.json"));
    assert_eq!(code, 2);
    assert!(stdout.contains("records `$.data[*]`: 1 found"), "{stdout}");
    assert!(
        stdout.contains("left out:\n  record 0 average heart rate: a statistic"),
        "{stdout}"
    );
    assert!(stdout.contains("no resources: "), "{stdout}");
    // A statistic the payload names that the bridge does not map is left out with the reason.
    let said = std::fs::read_to_string(dir.join("sleep.toml")).unwrap().replace(
        "statistic = \"average\"",
        "statistic = \"@.kind\"\nstatistics = { avg = \"average\" }",
    );
    std::fs::write(dir.join("said.toml"), said).unwrap();
    std::fs::write(
        dir.join("sum.json"),
        r#"{"user": "u1", "data": [{"bedtime_start": "2022-08-09T22:29:41-04:00", "bedtime_end": "2022-08-10T06:20:41-04:00", "average_heart_rate": 49.875, "kind": "sum"}]}"#,
    )
    .unwrap();
    let said = dir.join("said.toml").display().to_string();
    let (code, _, stderr) = map_args(&["--mapping", &said], &dir.join("sum.json"));
    assert_eq!(code, 2);
    assert!(
        stderr
            .contains("`@.kind` names a statistic the bridge does not map (it maps average, minimum, maximum, median)"),
        "{stderr}"
    );
}

#[test]
fn map_says_on_stderr_what_it_left_out_and_patient_must_be_system_and_value() {
    // A record whose value is the vendor's "no value" marker (a range: every number up to 0) is left
    // out; the rest is mapped, and what was left out is said on stderr without --explain.
    let dir = temp_dir("left-out");
    std::fs::write(
        dir.join("acme.toml"),
        r#"name = "acme"
match = "$.list"
records = "$.list[*]"
[patient]
system = "urn:acme:user"
id = "$.user"
[time]
instant = "@.t"
format = "unix-seconds"
[[measurements]]
name = "heart rate"
code = 147842
value = "@.hr"
unit = "/min"
absent_when = [{ max = 0 }]
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("payload.json"),
        r#"{"user": "u1", "list": [{"t": 1700000000, "hr": 61}, {"t": 1700000060, "hr": -1}]}"#,
    )
    .unwrap();
    let acme = dir.join("acme.toml").display().to_string();
    let (code, stdout, stderr) = map_args(&["--mapping", &acme], &dir.join("payload.json"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(common::observations(&serde_json::from_str(&stdout).unwrap()).len(), 1);
    assert_eq!(
        stderr.trim(),
        "fhirgate: left out: record 1 heart rate: the vendor marks it absent (`@.hr` holds an `absent_when` marker)"
    );
    let (code, _, stderr) = map_args(
        &["--mapping", &acme, "--patient", "just-a-value"],
        &dir.join("payload.json"),
    );
    assert_eq!(code, 2, "clap's usage error");
    assert!(stderr.contains("give the patient as system|value"), "{stderr}");
}

#[test]
fn one_apple_health_export_is_shared_by_the_mappings_of_its_record_types() {
    // healthkit-to-sqlite's export (Apache-2.0): a BMI record from Withings Health Mate and a heart
    // rate from an Apple Watch side by side, with a workout and activity summaries no mapping takes.
    let payload = common::repo_path("mappings/tests/applehealth/healthkit-to-sqlite-export.xml");
    let mapping = common::repo_path("mappings").display().to_string();
    let (code, stdout, stderr) = map_args(&["--mapping", &mapping, "--patient", "urn:example:mrn|4711"], &payload);
    assert_eq!(code, 0, "{stderr}");
    let bundle: Json = serde_json::from_str(&stdout).unwrap();
    let mut seen: Vec<(String, Json, String, String)> = common::observations(&bundle)
        .iter()
        .map(|o| {
            (
                o["code"]["coding"][0]["code"].as_str().unwrap().to_string(),
                o["valueQuantity"]["value"].clone(),
                o["valueQuantity"]["code"].as_str().unwrap().to_string(),
                o["effectiveDateTime"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![
            (
                "149530".into(),
                serde_json::json!(72),
                "/min".into(),
                "2018-09-10T02:28:55-07:00".into()
            ),
            (
                "188752".into(),
                serde_json::json!(22.5312),
                "kg/m2".into(),
                "2016-04-18T08:25:32-07:00".into()
            ),
        ]
    );
    // The watch's facts, taken out of Apple's one `device` string by regexes, are on a stand-in
    // Device that stands for exactly the devices stating them.
    let watch = common::resources(&bundle, "Device")
        .into_iter()
        .find(|d| d["manufacturer"] == "Apple")
        .expect("the Apple Watch's stand-in");
    assert_eq!(watch["modelNumber"], "Watch2,4");
    assert_eq!(watch["version"][0]["value"], "4.3.1");
    assert_eq!(
        watch["identifier"][0]["value"],
        "apple-health-heart-rate|manufacturer=Apple|model=Watch2,4|software=4.3.1"
    );
    // --explain says which mapping took which records.
    let (code, explained, _) = map_args(
        &["--mapping", &mapping, "--patient", "urn:example:mrn|4711", "--explain"],
        &payload,
    );
    assert_eq!(code, 0);
    assert!(
        explained.starts_with("mapping: apple-health-body-mass-index, apple-health-heart-rate\nrecords: 2\n"),
        "{explained}"
    );
    assert!(
        explained
            .contains("apple-health-heart-rate: records `$.HealthData.Record[*]`: 2 found, 1 of them this mapping's"),
        "{explained}"
    );
}

/// (code, value, statistic, period start, period end) of every measurement.
fn statistics(readings: &[Reading]) -> Vec<(u32, String, String, String, String)> {
    readings
        .iter()
        .flat_map(|r| &r.measurements)
        .map(|m| {
            let EffectiveTime::Period { start, end } = m.time else {
                panic!("a statistic over an instant: {m:?}")
            };
            let Some(Value::Quantity(q)) = &m.value else {
                panic!("{m:?}")
            };
            (
                m.code.0,
                format!("{} {}", q.value, q.unit),
                m.statistic.map(|s| s.name().to_string()).unwrap_or_default(),
                start.instant().unwrap().to_rfc3339(),
                end.instant().unwrap().to_rfc3339(),
            )
        })
        .collect()
}

#[test]
fn polar_names_its_user_in_a_url_and_its_samples_are_five_minute_averages() {
    let (readings, explanation) = read("polar/continuous-heart-rate-example.json");
    assert_eq!(explanation.mapping, "polar-continuous-heart-rate");
    assert!(readings
        .iter()
        .all(|r| r.patient.as_ref().map(|p| p.value.as_str()) == Some("627139")));
    let stat = |v: &str, s: &str, e: &str| {
        (
            149546,
            v.to_string(),
            "average".to_string(),
            s.to_string(),
            e.to_string(),
        )
    };
    assert_eq!(
        statistics(&readings),
        vec![
            stat("63 /min", "2022-09-11T23:57:08+00:00", "2022-09-12T00:02:08+00:00"),
            stat("62 /min", "2022-09-12T00:02:08+00:00", "2022-09-12T00:07:08+00:00"),
        ]
    );
}

#[test]
fn a_withings_night_gives_its_statistics_and_an_answer_without_them_is_refused() {
    let (readings, _) = read("withings/withings-sleep-summary-with-heart-rate.json");
    let night = |code: u32, value: &str, statistic: &str| {
        (
            code,
            format!("{value} /min"),
            statistic.to_string(),
            "2020-07-08T22:00:00+00:00".to_string(),
            "2020-07-09T01:13:20+00:00".to_string(),
        )
    };
    assert_eq!(
        statistics(&readings),
        vec![
            night(149546, "56", "average"),
            night(149546, "48", "minimum"),
            night(149546, "71", "maximum"),
            night(151562, "14", "average"),
            night(151562, "11", "minimum"),
            night(151562, "19", "maximum"),
        ]
    );
    let payload = std::fs::read(common::repo_path("mappings/tests/withings/withings-sleep-summary.json")).unwrap();
    let (now, offset) = fhirgate::mappings_cli::test_clock();
    let error = mappings()
        .read(&payload, now.fixed_offset(), offset)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "mapping withings-sleep-summary: the payload holds no measurement it takes (its records hold none of the values the mapping reads)"
    );
}

#[test]
fn nightscout_entries_are_sensor_and_meter_glucose_and_sentinels_are_not_values() {
    // py-nightscout's recorded answer: ten xDrip-LimiTTer readings at UTC−03:00, newest first.
    let (readings, _) = read("nightscout/entries-sgv-py-nightscout.json");
    let rows = values(&readings);
    let sgv: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        sgv,
        vec!["169", "174", "176", "182", "185", "191", "200", "203", "209", "206"]
    );
    assert!(rows.iter().all(|r| r.0 == 160212 && r.2 == "mg/dL"));
    assert_eq!(rows[0].3, "2020-08-05T16:01:06.533-03:00");
    assert_eq!(rows[9].3, "2020-08-05T15:13:16.104-03:00");
    // The constructed mix: 39 is "below 40", an error code is no value, heavy noise is questionable,
    // a meter entry is capillary glucose, a calibration is not taken.
    let (readings, explanation) = read("nightscout/entries-mixed-constructed.json");
    assert_eq!(explanation.records, 4, "the calibration is not this mapping's");
    let measurements: Vec<_> = readings.iter().flat_map(|r| &r.measurements).collect();
    let got: Vec<(u32, String, Vec<fhirgate::model::QualityFlag>)> = measurements
        .iter()
        .map(|m| {
            let Some(Value::Quantity(q)) = &m.value else {
                panic!("{m:?}")
            };
            (m.code.0, q.value.to_string(), m.quality.clone())
        })
        .collect();
    use fhirgate::model::QualityFlag::{BelowRange, Questionable};
    assert_eq!(
        got,
        vec![
            (160212, "39".into(), vec![BelowRange]),
            (160212, "58".into(), vec![Questionable]),
            (160184, "61".into(), vec![]),
        ]
    );
    assert_eq!(explanation.dropped.len(), 1);
    assert_eq!(explanation.dropped[0].record, 1);
}

/// The benchmark's mapping for the peers' vendor payload (`benches/inputs/vendor/`): every value,
/// unit, time, the patient and the device as the payload states them, and a payload of another
/// patient system refused rather than filed under this one.
#[test]
fn the_peers_vendor_payload_gives_the_values_it_states() {
    let mappings = DeclarativeMappings::load(&common::repo_path("benches/inputs/vendor/acmehealth.toml")).unwrap();
    let payload = std::fs::read(common::repo_path("benches/inputs/vendor/vendor_readings.json")).unwrap();
    let (now, offset) = fhirgate::mappings_cli::test_clock();
    let (readings, _) = mappings.read(&payload, now.fixed_offset(), offset).unwrap();
    let at = |t: &str| format!("2024-05-13T{t}+00:00");
    assert_eq!(
        values(&readings),
        vec![
            row(150021, "120", "mm[Hg]", &at("09:57:00")),
            row(150022, "80", "mm[Hg]", &at("09:57:00")),
            row(150023, "93", "mm[Hg]", &at("09:57:00")),
            row(147842, "72", "/min", &at("09:57:00")),
            row(150456, "98", "%", &at("09:57:15")),
            row(150364, "37.1", "Cel", &at("09:57:15")),
            row(188736, "72.5", "kg", &at("09:58:00")),
        ]
    );
    for reading in &readings {
        let patient = reading.patient.as_ref().unwrap();
        assert_eq!(
            (patient.system.as_str(), patient.value.as_str()),
            ("urn:oid:1.2.3.4.5", "12345678")
        );
        let device = reading.device.instance_id.as_ref().unwrap();
        assert_eq!(device.value, "SN-77881");
        assert_eq!(reading.device.manufacturer.as_deref(), Some("Acme"));
        assert_eq!(reading.device.model_number.as_deref(), Some("AcmeBP-5000"));
        assert_eq!(reading.gateway.as_ref().map(|g| g.id.as_str()), Some("GW-0042"));
    }
    let other = String::from_utf8(payload)
        .unwrap()
        .replace("urn:oid:1.2.3.4.5", "urn:oid:9.9.9");
    let refusal = mappings
        .read(other.as_bytes(), now.fixed_offset(), offset)
        .unwrap_err()
        .to_string();
    assert!(refusal.contains("$.patient.system"), "{refusal}");
}
