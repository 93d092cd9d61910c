//! Unit tests of `glucose`, kept beside it so the decoder file stays readable.

use super::*;
use crate::adapters::ble::glucose_context;
use crate::model::{ClockQuality, Decimal, NoDeviceTimeReason, OffsetSource, Quantity, Timestamp};
use chrono::{DateTime, FixedOffset, NaiveDate};

/// glucose_nordic_full.json
const NORDIC_FULL: &str = "1b0100e307021b0b0a1efbff1e00120501";
/// glucose_nordic_invalid_missing_offset.json
const NORDIC_INVALID: &str = "1b0000e207041a0b091e1e00120501";

fn time_context() -> TimeContext {
    TimeContext {
        received_at: DateTime::parse_from_rfc3339("2019-02-27T12:00:00+01:00").unwrap(),
        device_offset: FixedOffset::east_opt(3600).unwrap(),
        offset_source: OffsetSource::Envelope,
    }
}

fn quantity(measurement: &Measurement) -> (String, String) {
    match &measurement.value {
        Some(Value::Quantity(Quantity { value, unit })) => (value.to_string(), unit.clone()),
        other => panic!("not a quantity: {other:?}"),
    }
}

#[test]
fn nordic_full_vector() {
    let glucose = decode(&hex::decode(NORDIC_FULL).unwrap()).unwrap();
    assert_eq!(glucose.sequence_number, 1);
    let t = glucose.base_time;
    assert_eq!(
        (t.year, t.month, t.day, t.hours, t.minutes, t.seconds),
        (2019, 2, 27, 11, 10, 30)
    );
    assert_eq!(glucose.time_offset_minutes, Some(-5));
    let concentration = glucose.concentration.unwrap();
    assert_eq!(concentration.value, MderFloat::Number(Decimal::new(30, 0)));
    assert_eq!(concentration.unit, ConcentrationUnit::KilogramPerLitre);
    assert_eq!(concentration.sample_type, SampleType::CapillaryPlasma);
    assert_eq!(concentration.sample_location, SampleLocation::Finger);
    let status = glucose.status.unwrap();
    assert_eq!(status.0, 261);
    assert!(status.battery_low() && status.sample_size_insufficient() && status.temperature_too_low());
    assert!(!status.sensor_malfunction() && !status.general_device_fault() && !status.time_fault());
    assert!(glucose.context_follows);
}

#[test]
fn nordic_invalid_vector_names_the_missing_status() {
    let err = decode(&hex::decode(NORDIC_INVALID).unwrap()).unwrap_err();
    assert_eq!(
        err,
        FrameError::Truncated {
            characteristic: Characteristic::GlucoseMeasurement,
            field: "sensor status annunciation",
            offset: 15,
            needed: 2,
            available: 0,
            rule: "flags bit 3 says a sensor status annunciation follows",
        }
    );
}

#[test]
fn reserved_sample_type_is_rejected_at_its_octet() {
    // Nordic full frame with type nibble 0xB (reserved) instead of 2.
    let err = decode(&hex::decode(NORDIC_FULL.replace("1e00120501", "1e001b0501")).unwrap()).unwrap_err();
    match err {
        FrameError::InvalidField {
            field: "type and sample location",
            offset: 14,
            rule,
            ..
        } => {
            assert!(rule.contains("sample type 11"), "{rule}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let err = decode(&hex::decode(format!("{NORDIC_FULL}00")).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::TrailingBytes {
                offset: 17,
                count: 1,
                flags: 0x1b,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn nordic_full_measurements() {
    let glucose = decode(&hex::decode(NORDIC_FULL).unwrap()).unwrap();
    let out = glucose.measurements(&time_context(), None);
    assert_eq!(out.len(), 3);

    let concentration = &out[0];
    assert_eq!(concentration.code, mdc::CONC_GLU_CAPILLARY_PLASMA);
    // 30 kg/L × 10^5 = 3000000 mg/dL: exact, no invented decimals.
    assert_eq!(quantity(concentration), ("3000000".to_string(), "mg/dL".to_string()));
    // Sample size insufficient (bit 2) makes the value questionable.
    assert_eq!(concentration.quality, vec![QualityFlag::Questionable]);
    assert_eq!(concentration.qualifies, None);
    let expected_time = EffectiveTime::Instant(Timestamp {
        local: NaiveDate::from_ymd_opt(2019, 2, 27)
            .unwrap()
            .and_hms_opt(11, 5, 30)
            .unwrap(),
        offset: FixedOffset::east_opt(3600).unwrap(),
        quality: ClockQuality::DeviceClockWithRelativeOffset {
            offset: OffsetSource::Envelope,
        },
    });
    assert_eq!(concentration.time, expected_time);

    assert_eq!(out[1].code, mdc::CTXT_GLU_SAMPLELOCATION);
    assert_eq!(out[1].value, Some(Value::Coded(mdc::CTXT_GLU_SAMPLELOCATION_FINGER)));
    assert_eq!(out[1].qualifies, Some(0));

    let status = &out[2];
    assert_eq!(status.code, mdc::GLU_METER_DEV_STATUS);
    assert_eq!(status.qualifies, Some(0));
    assert_eq!(status.time, expected_time);
    let Some(Value::Flags(flags)) = &status.value else {
        panic!("{:?}", status.value)
    };
    assert_eq!(flags.len(), 11);
    let set: Vec<_> = flags.iter().filter(|f| f.set).map(|f| (f.bit, f.name)).collect();
    assert_eq!(
        set,
        vec![
            (0, "device-battery-low"),
            (2, "sensor-sample-size-insufficient"),
            (8, "sensor-temp-too-low")
        ]
    );
}

#[test]
fn mol_per_litre_becomes_mmol_per_litre_and_control_solution_is_test_data() {
    // flags 0x06 (concentration, mol/L), sequence 2, base time, 56e-4 mol/L (0xC038), control
    // solution type 10 at location "control solution" 4 → octet 0x4A.
    let glucose = decode(&hex::decode("060200e307021b0b0a1e38c04a").unwrap()).unwrap();
    let out = glucose.measurements(&time_context(), None);
    assert_eq!(out[0].code, mdc::CONC_GLU_CONTROL);
    assert_eq!(quantity(&out[0]), ("5.6".to_string(), "mmol/L".to_string()));
    assert_eq!(out[0].quality, vec![QualityFlag::TestData]);
    // Without an offset the base time is the device time as is.
    let EffectiveTime::Instant(t) = out[0].time else {
        panic!()
    };
    assert_eq!(
        t.quality,
        ClockQuality::DeviceClock {
            offset: OffsetSource::Envelope
        }
    );
    assert_eq!(t.local.to_string(), "2019-02-27 11:10:30");
}

#[test]
fn sfloat_precision_survives_the_unit_change() {
    // 120e-5 kg/L (0xB078) → "120" mg/dL; 1234e-7 kg/L (0x94D2) → "12.34" mg/dL.
    for (hex, expected) in [("78b0", "120"), ("d294", "12.34")] {
        let frame = format!("020100e307021b0b0a1e{hex}11");
        let glucose = decode(&hex::decode(frame).unwrap()).unwrap();
        let out = glucose.measurements(&time_context(), None);
        assert_eq!(quantity(&out[0]).0, expected);
        assert_eq!(out[0].code, mdc::CONC_GLU_CAPILLARY_WHOLEBLOOD);
    }
}

#[test]
fn incomplete_base_time_falls_back_to_receipt_time() {
    let glucose = decode(&hex::decode("0301000000021b0b0a1efbff1e0012").unwrap()).unwrap();
    let out = glucose.measurements(&time_context(), None);
    let EffectiveTime::Instant(t) = out[0].time else {
        panic!()
    };
    assert_eq!(
        t.quality,
        ClockQuality::GatewayReceipt {
            reason: NoDeviceTimeReason::Incomplete
        }
    );
}

#[test]
fn context_measurements_take_the_glucose_time_and_qualify_it() {
    let glucose = decode(&hex::decode(NORDIC_FULL).unwrap()).unwrap();
    // flags 0x42: meal + HbA1c; sequence 1; meal 1 (preprandial); HbA1c 6.5 % (0xF041).
    let context = glucose_context::decode(&hex::decode("4201000141f0").unwrap()).unwrap();
    assert_eq!(context.sequence_number, glucose.sequence_number);
    let out = glucose.measurements(&time_context(), Some(&context));
    assert_eq!(out.len(), 5);
    assert_eq!(out[3].code, mdc::CTXT_GLU_MEAL);
    assert_eq!(out[3].value, Some(Value::Coded(mdc::CTXT_GLU_MEAL_PREPRANDIAL)));
    assert_eq!(out[4].code, mdc::CONC_HBA1C);
    assert_eq!(quantity(&out[4]), ("6.5".to_string(), "%".to_string()));
    for m in &out[3..] {
        assert_eq!((m.qualifies, m.time), (Some(0), out[0].time));
    }
}

#[test]
fn without_concentration_the_status_qualifies_nothing() {
    let glucose = decode(&hex::decode("080100e307021b0b0a1e0204").unwrap()).unwrap();
    assert!(glucose.concentration.is_none());
    let out = glucose.measurements(&time_context(), None);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].qualifies, None);
    assert!(glucose.status.unwrap().sensor_malfunction());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
        let context = glucose_context::decode(&bytes).ok();
        if let Ok(glucose) = decode(&bytes) {
            let _ = glucose.measurements(&time_context(), context.as_ref());
        }
    }
}
