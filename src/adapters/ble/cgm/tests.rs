//! Unit tests of `cgm`, kept beside it so the decoder file stays readable.

use super::*;
use crate::model::{ClockQuality, Decimal, NoDeviceTimeReason, Quantity, Timestamp};
use chrono::{DateTime, NaiveDate};

/// cgm_nordic_full_with_crc.json
const FULL_WITH_CRC: &str = "0fe3d2e405000214ff02f0e5f38e3f";
/// cgm_nordic_small.json
const SMALL: &str = "06000c100600";
/// cgm_nordic_two_records_one_notification.json
const TWO_RECORDS: &str = "06000c10050006000c100600";
/// cgm_nordic_crc_error.json
const CRC_ERROR: &str = "08000c100600586f";

fn number(mantissa: i64, exponent: i32) -> MderFloat {
    MderFloat::Number(Decimal::new(mantissa, exponent))
}

fn time_context() -> TimeContext {
    TimeContext {
        received_at: DateTime::parse_from_rfc3339("2026-03-01T09:00:00+01:00").unwrap(),
        device_offset: FixedOffset::east_opt(3600).unwrap(),
        offset_source: OffsetSource::Envelope,
    }
}

/// 2026-03-01 08:00:00, time zone +4 quarter hours (+01:00), DST +1 h.
fn session_start() -> CgmSessionStart {
    decode_session_start(&hex::decode("ea0703010800000404").unwrap()).unwrap()
}

fn decode_hex(hex: &str) -> Result<Vec<CgmRecord>, FrameError> {
    decode(&hex::decode(hex).unwrap())
}

#[test]
fn crc_is_mcrf4xx() {
    assert_eq!(crc16_mcrf4xx(b"123456789"), 0x6F91);
    assert_eq!(
        crc16_mcrf4xx(&hex::decode("0fe3d2e405000214ff02f0e5f3").unwrap()),
        0x3F8E
    );
    assert_eq!(crc16_mcrf4xx(&hex::decode("08000c100600").unwrap()), 0x6F59);
}

#[test]
fn nordic_full_with_crc() {
    let records = decode_hex(FULL_WITH_CRC).unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!((r.position, r.size, r.flags), (0, 15, 0xE3));
    assert_eq!(r.glucose, number(1234, -2));
    assert_eq!(r.time_offset_minutes, 5);
    assert_eq!(
        (r.status_octet, r.cal_temp_octet, r.warning_octet),
        (Some(0x02), Some(0x14), Some(0xFF))
    );
    assert_eq!(r.trend, Some(number(2, -1)));
    assert_eq!(r.quality, Some(number(997, -1)));
    assert_eq!(r.e2e_crc, Some(0x3F8E));
    let status = r.annunciation().unwrap();
    assert_eq!(status.0, 0xFF_14_02);
    assert!(status.battery_low() && !status.session_stopped());
    assert!(status.calibration_recommended() && status.temperature_too_high() && !status.calibration_required());
    assert!(status.below_patient_low() && status.result_too_high());
}

#[test]
fn nordic_small() {
    let records = decode_hex(SMALL).unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r.size, r.flags, r.glucose, r.time_offset_minutes),
        (6, 0, number(12, 1), 6)
    );
    assert_eq!(
        (r.trend, r.quality, r.e2e_crc, r.annunciation()),
        (None, None, None, None)
    );
}

#[test]
fn nordic_two_records_in_one_notification() {
    let records = decode_hex(TWO_RECORDS).unwrap();
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r.position, r.glucose, r.time_offset_minutes))
        .collect();
    assert_eq!(summary, vec![(0, number(12, 1), 5), (6, number(12, 1), 6)]);
}

#[test]
fn nordic_crc_error_is_rejected() {
    let err = decode_hex(CRC_ERROR).unwrap_err();
    assert_eq!(
        err,
        FrameError::CrcMismatch {
            characteristic: Characteristic::CgmMeasurement,
            offset: 0,
            received: 0x6F58,
            computed: 0x6F59,
            covered: 6,
        }
    );
}

#[test]
fn errors_carry_the_absolute_offset() {
    // A bad CRC in the second record.
    let err = decode_hex(&format!("{SMALL}{CRC_ERROR}")).unwrap_err();
    assert!(matches!(err, FrameError::CrcMismatch { offset: 6, .. }), "{err}");
    // Second record's size byte below the minimum.
    let err = decode_hex(&format!("{SMALL}05000c1006")).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::InvalidField {
                field: "record size",
                offset: 6,
                ..
            }
        ),
        "{err}"
    );
    // Second record's size runs past the notification.
    let err = decode_hex(&format!("{SMALL}08000c1006")).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Truncated {
                field: "record",
                offset: 6,
                needed: 8,
                available: 5,
                ..
            }
        ),
        "{err}"
    );
    // Flags announce a trend the size leaves no room for: the field overruns the record.
    let err = decode_hex(&format!("{SMALL}06010c100600")).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Truncated {
                field: "trend",
                offset: 12,
                available: 0,
                ..
            }
        ),
        "{err}"
    );
    // One byte left over after the fields is neither nothing nor a CRC.
    let err = decode_hex("07000c10060000").unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::TrailingBytes {
                offset: 6,
                count: 1,
                ..
            }
        ),
        "{err}"
    );
    // Three bytes left over.
    let err = decode_hex("09000c10060000aabb").unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::TrailingBytes {
                offset: 6,
                count: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(decode(&[]), Err(FrameError::NoMeasurement { .. })));
}

#[test]
fn session_start_offsets() {
    let start = session_start();
    assert_eq!(start.time_zone_quarter_hours, Some(4));
    assert_eq!(start.dst, Some(DstOffset::OneHour));
    assert_eq!(start.utc_offset(), FixedOffset::east_opt(7200));
}

#[test]
fn session_start_validation() {
    let unknown = decode_session_start(&hex::decode("ea07030108000080ff").unwrap()).unwrap();
    assert_eq!(
        (unknown.time_zone_quarter_hours, unknown.dst, unknown.utc_offset()),
        (None, None, None)
    );
    let err = decode_session_start(&hex::decode("ea07030108000039ff").unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::InvalidField {
                field: "time zone",
                offset: 7,
                ..
            }
        ),
        "{err}"
    );
    let err = decode_session_start(&hex::decode("ea07030108000004030000").unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::InvalidField {
                field: "DST offset",
                offset: 8,
                ..
            }
        ),
        "{err}"
    );
    // With an E2E-CRC.
    let body = hex::decode("ea0703010800000404").unwrap();
    let mut with_crc = body.clone();
    with_crc.extend_from_slice(&crc16_mcrf4xx(&body).to_le_bytes());
    assert_eq!(
        decode_session_start(&with_crc).unwrap().e2e_crc,
        Some(crc16_mcrf4xx(&body))
    );
    with_crc[9] ^= 1;
    assert!(matches!(
        decode_session_start(&with_crc),
        Err(FrameError::CrcMismatch { covered: 9, .. })
    ));
}

#[test]
fn measurements_of_the_full_record() {
    let records = decode_hex(FULL_WITH_CRC).unwrap();
    let out = records[0].measurements(&session_start(), &time_context());
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].code, mdc::CONC_GLU_ISF);
    assert_eq!(
        out[0].value,
        Some(Value::Quantity(Quantity::new(Decimal::new(1234, -2), "mg/dL")))
    );
    // Temperature too high for a valid result and "higher than the device can process".
    assert_eq!(out[0].quality, vec![QualityFlag::Questionable]);
    let expected = EffectiveTime::Instant(Timestamp {
        local: NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(8, 5, 0)
            .unwrap(),
        offset: FixedOffset::east_opt(7200).unwrap(),
        quality: ClockQuality::DeviceClockWithRelativeOffset {
            offset: OffsetSource::Device,
        },
    });
    assert_eq!(out[0].time, expected);

    assert_eq!(out[1].code, mdc::CONC_GLU_TREND);
    assert_eq!(
        out[1].value,
        Some(Value::Quantity(Quantity::new(Decimal::new(2, -1), "mg/dL/min")))
    );
    assert_eq!(out[1].qualifies, Some(0));

    assert_eq!(out[2].code, mdc::CGM_DEV_STAT);
    assert_eq!(out[2].qualifies, Some(0));
    let Some(Value::Flags(flags)) = &out[2].value else {
        panic!("{:?}", out[2].value)
    };
    let set: Vec<_> = flags.iter().filter(|f| f.set).map(|f| (f.bit, f.name)).collect();
    assert_eq!(
        set,
        vec![
            (8, "sensor-calibration-recommended"),
            (10, "sensor-temp-too-high"),
            (12, "sensor-result-below-patient-low"),
            (13, "sensor-result-above-patient-high"),
            (14, "sensor-low-hypo"),
            (15, "sensor-high-hyper"),
            (16, "sensor-rate-decrease-exceeded"),
            (17, "sensor-rate-increase-exceeded"),
            (18, "sensor-result-too-low"),
            (19, "sensor-result-too-high"),
        ]
    );
}

#[test]
fn unknown_zone_takes_the_envelope_offset_and_incomplete_start_the_receipt_time() {
    let records = decode_hex(TWO_RECORDS).unwrap();
    let unknown_zone = decode_session_start(&hex::decode("ea07030108000080ff").unwrap()).unwrap();
    let out = notification_measurements(&records, &unknown_zone, &time_context());
    assert_eq!(out.len(), 2);
    let EffectiveTime::Instant(second) = out[1].time else {
        panic!()
    };
    assert_eq!(second.local.to_string(), "2026-03-01 08:06:00");
    assert_eq!(second.offset, FixedOffset::east_opt(3600).unwrap());
    assert_eq!(
        second.quality,
        ClockQuality::DeviceClockWithRelativeOffset {
            offset: OffsetSource::Envelope
        }
    );
    assert!(out.iter().all(|m| m.quality.is_empty() && m.qualifies.is_none()));

    // Year 0 (unknown).
    let incomplete = decode_session_start(&hex::decode("000003010800000404").unwrap()).unwrap();
    let EffectiveTime::Instant(t) = records[0].effective_time(&incomplete, &time_context()) else {
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
fn qualifying_indices_follow_the_combined_vector() {
    let records = decode_hex(&format!("{FULL_WITH_CRC}{FULL_WITH_CRC}")).unwrap();
    assert_eq!(records[1].position, 15);
    let out = notification_measurements(&records, &session_start(), &time_context());
    let qualifies: Vec<_> = out.iter().map(|m| m.qualifies).collect();
    assert_eq!(qualifies, vec![None, Some(0), Some(0), None, Some(3), Some(3)]);
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        if let Ok(records) = decode(&bytes) {
            let _ = notification_measurements(&records, &session_start(), &time_context());
        }
        if let Ok(start) = decode_session_start(&bytes) {
            let _ = start.utc_offset();
        }
    }
}
