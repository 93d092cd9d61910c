//! Heart Rate Measurement (0x2A37), Bluetooth HRS 1.0.
//!
//! Layout: flags u8; heart rate u8 or u16 (flags bit 0); [energy expended u16 kJ] (bit 3);
//! [RR-intervals u16 × n, unit 1/1024 s] (bit 4, at least one). Bits 1–2 report sensor contact.

use super::characteristic::Characteristic;
use super::error::FrameError;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use crate::codes::mdc;
use crate::model::{Decimal, Measurement, QualityFlag, Quantity, Value};

/// Flags bits 1–2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorContact {
    NotSupported,
    SupportedNotDetected,
    Detected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartRateMeasurement {
    /// Beats per minute.
    pub heart_rate: u16,
    pub sensor_contact: SensorContact,
    /// Kilojoules since the last reset.
    pub energy_expended_kj: Option<u16>,
    /// RR-intervals in units of 1/1024 s, oldest first.
    pub rr_intervals: Vec<u16>,
}

pub fn decode(bytes: &[u8]) -> Result<HeartRateMeasurement, FrameError> {
    let mut frame = FrameReader::new(Characteristic::HeartRateMeasurement, bytes);
    let flags = frame.u8("flags", "every measurement starts with flags")?;
    let heart_rate = if flags & 0x01 != 0 {
        frame.u16("heart rate (u16)", "flags bit 0 says the heart rate is 16 bits")?
    } else {
        u16::from(frame.u8("heart rate (u8)", "the heart rate is mandatory")?)
    };
    let sensor_contact = match (flags >> 1) & 0b11 {
        0 | 1 => SensorContact::NotSupported,
        2 => SensorContact::SupportedNotDetected,
        _ => SensorContact::Detected,
    };
    let energy_expended_kj = (flags & 0x08 != 0)
        .then(|| frame.u16("energy expended", "flags bit 3 says energy expended follows"))
        .transpose()?;
    let mut rr_intervals = Vec::new();
    if flags & 0x10 != 0 {
        // Bit 4 promises at least one RR-interval; the rest of the frame is RR-intervals.
        rr_intervals.push(frame.u16("RR-interval", "flags bit 4 says at least one RR-interval follows")?);
        while frame.remaining() > 0 {
            rr_intervals.push(frame.u16("RR-interval", "RR-intervals are 16-bit; an odd byte is left over")?);
        }
    }
    frame.finish(u16::from(flags))?;
    Ok(HeartRateMeasurement {
        heart_rate,
        sensor_contact,
        energy_expended_kj,
        rr_intervals,
    })
}

impl HeartRateMeasurement {
    /// The heart rate, and the RR-intervals in seconds (exact: n/1024 s has at most 10 decimals). A
    /// heart rate measured while the sensor reports no skin contact is marked questionable.
    ///
    /// Energy expended is a running total since a reset the bridge cannot see, so it is not emitted.
    pub fn measurements(&self, time: &TimeContext) -> Vec<Measurement> {
        let when = time.measurement_time(None);
        let quality = match self.sensor_contact {
            SensorContact::SupportedNotDetected => vec![QualityFlag::Questionable],
            _ => Vec::new(),
        };
        let rate = Value::Quantity(Quantity::new(Decimal::integer(i64::from(self.heart_rate)), "/min"));
        let mut out = vec![Measurement::simple(mdc::ECG_HEART_RATE, rate, when).with_quality(quality)];
        if !self.rr_intervals.is_empty() {
            let components = self
                .rr_intervals
                .iter()
                .map(|&raw| crate::model::Component {
                    label: None,
                    code: mdc::ECG_TIME_PD_RR_GL,
                    value: Value::Quantity(Quantity::new(rr_seconds(raw), "s")),
                })
                .collect();
            out.push(Measurement::compound(mdc::ECG_TIME_PD_RR_GL, components, when).qualifying(0));
        }
        out
    }
}

/// `raw / 1024` seconds, exactly: `raw × 5^10 / 10^10` (since 1/1024 = 5^10/10^10), then with the
/// trailing zeros that carry no precision removed.
fn rr_seconds(raw: u16) -> Decimal {
    let mut mantissa = i64::from(raw) * 9_765_625;
    let mut exponent = -10;
    while exponent < 0 && mantissa != 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    Decimal::new(mantissa, exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(hex_text: &str) -> Result<HeartRateMeasurement, FrameError> {
        decode(&hex::decode(hex_text).unwrap())
    }

    #[test]
    fn nordic_vectors() {
        let simple = decoded("0055").unwrap();
        assert_eq!(
            (simple.heart_rate, simple.sensor_contact),
            (85, SensorContact::NotSupported)
        );
        assert_eq!((simple.energy_expended_kj, simple.rr_intervals.len()), (None, 0));

        let no_contact = decoded("04ff").unwrap();
        assert_eq!(
            (no_contact.heart_rate, no_contact.sensor_contact),
            (255, SensorContact::SupportedNotDetected)
        );

        let u8_full = decoded("1e5532002100").unwrap();
        assert_eq!(u8_full.heart_rate, 85);
        assert_eq!(u8_full.sensor_contact, SensorContact::Detected);
        assert_eq!(u8_full.energy_expended_kj, Some(50));
        assert_eq!(u8_full.rr_intervals, vec![33]);

        let u16_full = decoded("1f0101320101000201ffff").unwrap();
        assert_eq!(u16_full.heart_rate, 257);
        assert_eq!(u16_full.energy_expended_kj, Some(306));
        assert_eq!(u16_full.rr_intervals, vec![1, 258, 65535]);
    }

    #[test]
    fn rr_flag_without_rr_bytes_is_rejected() {
        let err = decoded("170101").unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    field: "RR-interval",
                    offset: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn odd_trailing_byte_in_rr_list_is_rejected() {
        let err = decoded("10552100ff").unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    field: "RR-interval",
                    offset: 4,
                    needed: 2,
                    available: 1,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rr_intervals_convert_to_exact_seconds() {
        assert_eq!(rr_seconds(1024).to_string(), "1");
        assert_eq!(rr_seconds(512).to_string(), "0.5");
        assert_eq!(rr_seconds(33).to_string(), "0.0322265625");
        assert_eq!(rr_seconds(65535).to_string(), "63.9990234375");
        assert_eq!(rr_seconds(0).to_string(), "0.0000000000");
    }
}
