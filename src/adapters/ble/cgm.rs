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
const E2E_CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_MCRF4XX);

/// The CGMS E2E-CRC of `bytes`.
pub fn crc16_mcrf4xx(bytes: &[u8]) -> u16 {
    E2E_CRC.checksum(bytes)
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
mod tests;
