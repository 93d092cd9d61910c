//! CGM Measurement (0x2AA7) and CGM Session Start Time (0x2AAA), Bluetooth CGMS 1.0.
//!
//! A CGM Measurement notification holds one or more records, each delimited by its own Size byte.
//! Record: size u8 (the whole record, size byte included); flags u8; glucose SFLOAT mg/dL; time offset
//! u16 (minutes since the session start); then the Sensor Status Annunciation octets that the flags
//! announce, in the order Status (b7), Cal/Temp (b6), Warning (b5) — the order of their bits 0–7,
//! 8–15 and 16–23, and the order the Nordic vector `cgm_nordic_full_with_crc` needs —; [trend SFLOAT
//! (mg/dL)/min] (b0); [quality SFLOAT %] (b1); [E2E-CRC u16]. The CRC's presence is a CGM Feature
//! setting the bridge does not see, so the size decides: exactly two bytes left after the flagged
//! fields are the CRC (CRC-16/MCRF4XX over the record's preceding bytes); any other remainder is an
//! error.
//!
//! Session Start Time: Date Time (7 bytes); time zone s8 in 15-minute steps (−128 unknown); DST offset
//! u8 (0 standard, 2 +0.5 h, 4 +1 h, 8 +2 h, 255 unknown); [E2E-CRC u16]. A record's time is the
//! session start plus its time offset.

use chrono::{Duration, FixedOffset};

use super::characteristic::Characteristic;
use super::date_time::DeviceDateTime;
use super::error::FrameError;
use super::float::MderFloat;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use super::value::{flag, quantity_or_absent};
use crate::codes::mdc;
use crate::model::{EffectiveTime, Measurement, OffsetSource, QualityFlag, Value};

/// CRC-16/MCRF4XX (reflected polynomial 0x8408, initial value 0xFFFF, no final XOR): the CGMS E2E-CRC.
pub fn crc16_mcrf4xx(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0xFFFF, |crc, &byte| {
        (0..8).fold(crc ^ u16::from(byte), |crc, _| {
            if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            }
        })
    })
}

/// The 24-bit Sensor Status Annunciation: Status octet = bits 0–7, Cal/Temp = 8–15, Warning = 16–23.
/// Octets a record leaves out are zero (CGMS lets a device omit an octet with no bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensorStatusAnnunciation(pub u32);

impl SensorStatusAnnunciation {
    /// Whether Bluetooth bit `bit` (0–23) is set.
    pub fn bit(self, bit: u8) -> bool {
        bit < 24 && self.0 & (1 << bit) != 0
    }
    pub fn session_stopped(self) -> bool {
        self.bit(0)
    }
    pub fn battery_low(self) -> bool {
        self.bit(1)
    }
    pub fn sensor_type_incorrect(self) -> bool {
        self.bit(2)
    }
    pub fn sensor_malfunction(self) -> bool {
        self.bit(3)
    }
    pub fn device_specific_alert(self) -> bool {
        self.bit(4)
    }
    pub fn general_device_fault(self) -> bool {
        self.bit(5)
    }
    pub fn time_synchronization_required(self) -> bool {
        self.bit(8)
    }
    pub fn calibration_not_allowed(self) -> bool {
        self.bit(9)
    }
    pub fn calibration_recommended(self) -> bool {
        self.bit(10)
    }
    pub fn calibration_required(self) -> bool {
        self.bit(11)
    }
    pub fn temperature_too_high(self) -> bool {
        self.bit(12)
    }
    pub fn temperature_too_low(self) -> bool {
        self.bit(13)
    }
    pub fn below_patient_low(self) -> bool {
        self.bit(16)
    }
    pub fn above_patient_high(self) -> bool {
        self.bit(17)
    }
    pub fn below_hypo(self) -> bool {
        self.bit(18)
    }
    pub fn above_hyper(self) -> bool {
        self.bit(19)
    }
    pub fn rate_of_decrease_exceeded(self) -> bool {
        self.bit(20)
    }
    pub fn rate_of_increase_exceeded(self) -> bool {
        self.bit(21)
    }
    /// The result is lower than the device can process.
    pub fn result_too_low(self) -> bool {
        self.bit(22)
    }
    /// The result is higher than the device can process.
    pub fn result_too_high(self) -> bool {
        self.bit(23)
    }

    /// The quality the annunciation gives the glucose value.
    ///
    /// `Questionable`: sensor malfunction, general device fault, wrong sensor type, temperature out of
    /// range (CGMS: "too high/low for valid test/result"), result outside what the device can process,
    /// and calibration *required* (the device says its readings need a calibration to be trusted).
    /// Calibration *recommended* and *not allowed* add no quality flag (the value stands; the flags
    /// carry the advice). `CalibrationOngoing` is not used: no bit says a calibration is under way.
    pub fn quality(self) -> Vec<QualityFlag> {
        let questionable = self.sensor_malfunction()
            || self.general_device_fault()
            || self.sensor_type_incorrect()
            || self.temperature_too_high()
            || self.temperature_too_low()
            || self.result_too_low()
            || self.result_too_high()
            || self.calibration_required();
        if questionable {
            vec![QualityFlag::Questionable]
        } else {
            Vec::new()
        }
    }
}

/// Bluetooth bit → (11073-10425 `MDC_CGM_DEV_STAT` bit, PHD IG ASN1 name). The 11073 attribute packs
/// the Bluetooth octets differently (Cal/Temp bit 9 is its bit 7, Warning bit 16 its bit 12), and the
/// PHD IG codes each bit as `8418060.<11073 bit>`, so flags carry the 11073 bit number, as the blood
/// pressure status does. Bluetooth bits with no bit in the IG's table — 1 battery low, 5 general device
/// fault, 8 time synchronization required — are decoded (see [`SensorStatusAnnunciation`]) but not
/// emitted as flags; general device fault still makes the value questionable.
const ANNUNCIATION_FLAGS: [(u8, u8, &str); 17] = [
    (0, 0, "sensor-session-stopped"),
    (2, 2, "sensor-type-incorrect"),
    (3, 3, "sensor-malfunction"),
    (4, 4, "device-specific-alert"),
    (9, 7, "sensor-calibration-not-allowed"),
    (10, 8, "sensor-calibration-recommended"),
    (11, 9, "sensor-calibration-required"),
    (12, 10, "sensor-temp-too-high"),
    (13, 11, "sensor-temp-too-low"),
    (16, 12, "sensor-result-below-patient-low"),
    (17, 13, "sensor-result-above-patient-high"),
    (18, 14, "sensor-low-hypo"),
    (19, 15, "sensor-high-hyper"),
    (20, 16, "sensor-rate-decrease-exceeded"),
    (21, 17, "sensor-rate-increase-exceeded"),
    (22, 18, "sensor-result-too-low"),
    (23, 19, "sensor-result-too-high"),
];

/// One decoded CGM Measurement record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgmRecord {
    /// Where the record starts in the notification.
    pub position: usize,
    pub size: u8,
    pub flags: u8,
    /// mg/dL.
    pub glucose: MderFloat,
    /// Minutes since the session start.
    pub time_offset_minutes: u16,
    pub status_octet: Option<u8>,
    pub cal_temp_octet: Option<u8>,
    pub warning_octet: Option<u8>,
    /// (mg/dL)/min.
    pub trend: Option<MderFloat>,
    /// Percent.
    pub quality: Option<MderFloat>,
    /// The E2E-CRC, already checked.
    pub e2e_crc: Option<u16>,
}

impl CgmRecord {
    /// The annunciation, when the record carries at least one of its octets.
    pub fn annunciation(&self) -> Option<SensorStatusAnnunciation> {
        if self.status_octet.is_none() && self.cal_temp_octet.is_none() && self.warning_octet.is_none() {
            return None;
        }
        let octet = |o: Option<u8>| u32::from(o.unwrap_or(0));
        Some(SensorStatusAnnunciation(
            octet(self.status_octet) | octet(self.cal_temp_octet) << 8 | octet(self.warning_octet) << 16,
        ))
    }
}

/// Decodes a 2AA7 notification into its records.
pub fn decode(bytes: &[u8]) -> Result<Vec<CgmRecord>, FrameError> {
    const C: Characteristic = Characteristic::CgmMeasurement;
    if bytes.is_empty() {
        return Err(FrameError::NoMeasurement {
            characteristic: C,
            rule: "a CGM notification holds at least one record",
        });
    }
    let mut records = Vec::new();
    let mut start = 0;
    while let Some(&size) = bytes.get(start) {
        if size < 6 {
            return Err(FrameError::InvalidField {
                characteristic: C,
                field: "record size",
                offset: start,
                rule: format!("size {size} is below 6, the length of size, flags, glucose and time offset"),
            });
        }
        let end = start + usize::from(size);
        let record = bytes.get(start..end).ok_or(FrameError::Truncated {
            characteristic: C,
            field: "record",
            offset: start,
            needed: usize::from(size),
            available: bytes.len() - start,
            rule: "the record's Size byte gives its length",
        })?;
        records.push(decode_record(record, start).map_err(|err| at_position(err, start))?);
        start = end;
    }
    Ok(records)
}

/// Decodes one record (`record` is exactly `size` bytes). Offsets in errors are relative to the record.
fn decode_record(record: &[u8], position: usize) -> Result<CgmRecord, FrameError> {
    let mut frame = FrameReader::new(Characteristic::CgmMeasurement, record);
    let size = frame.u8("record size", "every record starts with its size")?;
    let flags = frame.u8("flags", "the size is followed by flags")?;
    let glucose = frame.sfloat("glucose concentration", "the glucose concentration is mandatory")?;
    let time_offset_minutes = frame.u16("time offset", "the time offset is mandatory")?;
    let status_octet = (flags & 0x80 != 0)
        .then(|| frame.u8("status octet", "flags bit 7 says a status octet follows"))
        .transpose()?;
    let cal_temp_octet = (flags & 0x40 != 0)
        .then(|| frame.u8("cal/temp octet", "flags bit 6 says a cal/temp octet follows"))
        .transpose()?;
    let warning_octet = (flags & 0x20 != 0)
        .then(|| frame.u8("warning octet", "flags bit 5 says a warning octet follows"))
        .transpose()?;
    let trend = (flags & 0x01 != 0)
        .then(|| frame.sfloat("trend", "flags bit 0 says a trend follows"))
        .transpose()?;
    let quality = (flags & 0x02 != 0)
        .then(|| frame.sfloat("quality", "flags bit 1 says a quality follows"))
        .transpose()?;
    let e2e_crc = read_e2e_crc(frame, record, u16::from(flags))?;
    Ok(CgmRecord {
        position,
        size,
        flags,
        glucose,
        time_offset_minutes,
        status_octet,
        cal_temp_octet,
        warning_octet,
        trend,
        quality,
        e2e_crc,
    })
}

/// Ends a record or session start value: no bytes left means no CRC, exactly two are the E2E-CRC
/// (checked against the bytes before it), anything else is trailing garbage.
fn read_e2e_crc(mut frame: FrameReader<'_>, bytes: &[u8], flags: u16) -> Result<Option<u16>, FrameError> {
    if frame.remaining() != 2 {
        return frame.finish(flags).map(|()| None);
    }
    let covered = frame.offset();
    let received = frame.u16("E2E-CRC", "two bytes after the last field are the E2E-CRC")?;
    let computed = crc16_mcrf4xx(bytes.get(..covered).unwrap_or_default());
    if received != computed {
        return Err(FrameError::CrcMismatch {
            characteristic: frame.characteristic(),
            offset: 0,
            received,
            computed,
            covered,
        });
    }
    Ok(Some(received))
}

/// Makes a record-relative error absolute within the notification.
fn at_position(err: FrameError, position: usize) -> FrameError {
    match err {
        FrameError::Truncated {
            characteristic,
            field,
            offset,
            needed,
            available,
            rule,
        } => FrameError::Truncated {
            characteristic,
            field,
            offset: offset + position,
            needed,
            available,
            rule,
        },
        FrameError::TrailingBytes {
            characteristic,
            offset,
            count,
            flags,
        } => FrameError::TrailingBytes {
            characteristic,
            offset: offset + position,
            count,
            flags,
        },
        FrameError::InvalidField {
            characteristic,
            field,
            offset,
            rule,
        } => FrameError::InvalidField {
            characteristic,
            field,
            offset: offset + position,
            rule,
        },
        FrameError::CrcMismatch {
            characteristic,
            offset,
            received,
            computed,
            covered,
        } => FrameError::CrcMismatch {
            characteristic,
            offset: offset + position,
            received,
            computed,
            covered,
        },
        other @ FrameError::NoMeasurement { .. } => other,
    }
}

/// The DST offset field of the Session Start Time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstOffset {
    Standard,
    HalfHour,
    OneHour,
    TwoHours,
}

impl DstOffset {
    pub fn minutes(self) -> i32 {
        match self {
            DstOffset::Standard => 0,
            DstOffset::HalfHour => 30,
            DstOffset::OneHour => 60,
            DstOffset::TwoHours => 120,
        }
    }
}

/// A decoded 2AAA value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgmSessionStart {
    /// Local time of the session start.
    pub start: DeviceDateTime,
    /// UTC offset in 15-minute steps (−48..=56); `None` when the device sent −128 (unknown).
    pub time_zone_quarter_hours: Option<i8>,
    /// `None` when the device sent 255 (unknown).
    pub dst: Option<DstOffset>,
    pub e2e_crc: Option<u16>,
}

/// Decodes 2AAA.
pub fn decode_session_start(bytes: &[u8]) -> Result<CgmSessionStart, FrameError> {
    let mut frame = FrameReader::new(Characteristic::CgmSessionStartTime, bytes);
    let start = frame.date_time("session start time", "the session start time is mandatory")?;
    let zone_offset = frame.offset();
    let zone = i8::from_le_bytes([frame.u8("time zone", "the time zone follows the date-time")?]);
    let time_zone_quarter_hours = match zone {
        -128 => None,
        -48..=56 => Some(zone),
        other => {
            let rule = format!("time zone {other} is outside −48..=56 quarter hours (−128 = unknown)");
            return Err(frame.invalid_at("time zone", zone_offset, rule));
        }
    };
    let dst_offset = frame.offset();
    let dst = match frame.u8("DST offset", "the DST offset follows the time zone")? {
        0 => Some(DstOffset::Standard),
        2 => Some(DstOffset::HalfHour),
        4 => Some(DstOffset::OneHour),
        8 => Some(DstOffset::TwoHours),
        255 => None,
        other => {
            let rule = format!("DST offset {other} is reserved (0, 2, 4, 8, or 255 = unknown)");
            return Err(frame.invalid_at("DST offset", dst_offset, rule));
        }
    };
    let e2e_crc = read_e2e_crc(frame, bytes, 0)?;
    Ok(CgmSessionStart {
        start,
        time_zone_quarter_hours,
        dst,
        e2e_crc,
    })
}

impl CgmSessionStart {
    /// The UTC offset the device states (time zone + DST), when it states both.
    pub fn utc_offset(&self) -> Option<FixedOffset> {
        let zone = i32::from(self.time_zone_quarter_hours?) * 15;
        FixedOffset::east_opt((zone + self.dst?.minutes()) * 60)
    }

    /// The time context for records of this session: the device's own offset (`OffsetSource::Device`)
    /// when it states one, otherwise `time`'s.
    fn time_context(&self, time: &TimeContext) -> TimeContext {
        match self.utc_offset() {
            Some(device_offset) => TimeContext {
                device_offset,
                offset_source: OffsetSource::Device,
                ..*time
            },
            None => *time,
        }
    }
}

impl CgmRecord {
    /// Session start + time offset, with `DeviceClockWithRelativeOffset`; an incomplete session start
    /// date gives the receipt time (see [`TimeContext::offset_time`]).
    pub fn effective_time(&self, session_start: &CgmSessionStart, time: &TimeContext) -> EffectiveTime {
        session_start.time_context(time).offset_time(
            session_start.start,
            Duration::minutes(i64::from(self.time_offset_minutes)),
        )
    }

    /// The record's measurements: glucose (`MDC_CONC_GLU_ISF`, mg/dL, index 0), then, each qualifying
    /// it, the trend (`MDC_CONC_GLU_TREND`, mg/dL/min) and the annunciation flags (`MDC_CGM_DEV_STAT`).
    /// The quality SFLOAT (%) has no MDC code the bridge could confirm and stays in the record.
    /// Indices are relative to the returned vector; [`notification_measurements`] shifts them.
    pub fn measurements(&self, session_start: &CgmSessionStart, time: &TimeContext) -> Vec<Measurement> {
        let when = self.effective_time(session_start, time);
        let annunciation = self.annunciation();
        let quality = annunciation.map(SensorStatusAnnunciation::quality).unwrap_or_default();
        let mut out = vec![
            Measurement::simple(mdc::CONC_GLU_ISF, quantity_or_absent(self.glucose, "mg/dL"), when)
                .with_quality(quality),
        ];
        if let Some(trend) = self.trend {
            out.push(
                Measurement::simple(mdc::CONC_GLU_TREND, quantity_or_absent(trend, "mg/dL/min"), when).qualifying(0),
            );
        }
        if let Some(status) = annunciation {
            let flags = ANNUNCIATION_FLAGS
                .iter()
                .map(|&(bluetooth, bit, name)| flag(bit, name, status.bit(bluetooth)))
                .collect();
            out.push(Measurement::simple(mdc::CGM_DEV_STAT, Value::Flags(flags), when).qualifying(0));
        }
        out
    }
}

/// The measurements of every record of a notification, in record order, with `qualifies` indices
/// pointing into the combined vector.
pub fn notification_measurements(
    records: &[CgmRecord],
    session_start: &CgmSessionStart,
    time: &TimeContext,
) -> Vec<Measurement> {
    let mut out = Vec::new();
    for record in records {
        let base = out.len();
        out.extend(record.measurements(session_start, time).into_iter().map(|mut m| {
            m.qualifies = m.qualifies.map(|index| index + base);
            m
        }));
    }
    out
}

#[cfg(test)]
mod tests {
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
}
