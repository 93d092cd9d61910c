//! PLX Spot-Check Measurement (0x2A5E) and PLX Continuous Measurement (0x2A5F), Bluetooth PLXS 1.0.
//!
//! Spot-check: flags u8; SpO2 SFLOAT %; pulse rate SFLOAT /min; [timestamp] (b0); [measurement
//! status u16] (b1); [device and sensor status u24] (b2); [pulse amplitude index SFLOAT %] (b3);
//! b4 says the device clock is not set.
//! Continuous: flags u8; SpO2 and pulse rate (normal); [SpO2/PR fast] (b0); [SpO2/PR slow] (b1);
//! [measurement status u16] (b2); [device and sensor status u24] (b3); [pulse amplitude index] (b4).

use super::characteristic::Characteristic;
use super::date_time::DeviceDateTime;
use super::error::FrameError;
use super::float::MderFloat;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use super::value::{flag, quantity_or_absent};
use crate::codes::mdc;
use crate::model::{EffectiveTime, Flag, MdcCode, Measurement, NoDeviceTimeReason, QualityFlag, Timestamp, Value};

/// One SpO2 / pulse-rate pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpO2AndPulseRate {
    pub spo2: MderFloat,
    pub pulse_rate: MderFloat,
}

/// The 16-bit PLX Measurement Status field (bits 5–15 defined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasurementStatus(pub u16);

impl MeasurementStatus {
    /// The quality statements the status makes about the values (PHD IG measurement-status mapping).
    pub fn quality(self) -> Vec<QualityFlag> {
        const MAP: [(u16, QualityFlag); 7] = [
            (6, QualityFlag::EarlyEstimate),
            (10, QualityFlag::DemoData),
            (11, QualityFlag::TestData),
            (12, QualityFlag::CalibrationOngoing),
            (13, QualityFlag::NotAvailable),
            (14, QualityFlag::Questionable),
            (15, QualityFlag::Invalid),
        ];
        MAP.iter()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|&(_, flag)| flag)
            .collect()
    }
}

/// The 16 defined bits of the 24-bit Device and Sensor Status field, by Bluetooth bit, with their
/// `150604.<n>` bit number and name in the PHD IG's ASN1ToHL7 code system. The 11073 attribute numbers
/// its bits from the most significant end, so n = 15 − Bluetooth bit; the table pairs them by name.
const DEVICE_AND_SENSOR_STATUS_BITS: [(u8, &str); 16] = [
    (15, "device-extended-update"),
    (14, "device-equipment-malfunction"),
    (13, "signal-processing-irregularity"),
    (12, "signal-inadequate"),
    (11, "signal-poor"),
    (10, "signal-low-perfusion"),
    (9, "signal-erratic"),
    (8, "signal-non-pulsatile"),
    (7, "signal-pulse-questionable"),
    (6, "signal-searching"),
    (5, "sensor-interference"),
    (4, "sensor-off"),
    (3, "sensor-unsupported"),
    (2, "sensor-displaced"),
    (1, "sensor-malfunction"),
    (0, "sensor-disconnected"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulseOximetryMeasurement {
    pub characteristic: Characteristic,
    pub normal: SpO2AndPulseRate,
    pub fast: Option<SpO2AndPulseRate>,
    pub slow: Option<SpO2AndPulseRate>,
    pub timestamp: Option<DeviceDateTime>,
    /// Spot-check flags bit 4: the device's clock is not set, so its timestamp is meaningless.
    pub device_clock_not_set: bool,
    pub measurement_status: Option<MeasurementStatus>,
    pub device_and_sensor_status: Option<u32>,
    pub pulse_amplitude_index: Option<MderFloat>,
}

fn pair(frame: &mut FrameReader<'_>, rule: &'static str) -> Result<SpO2AndPulseRate, FrameError> {
    Ok(SpO2AndPulseRate {
        spo2: frame.sfloat("SpO2", rule)?,
        pulse_rate: frame.sfloat("pulse rate", rule)?,
    })
}

/// Decodes 2A5E or 2A5F.
pub fn decode(characteristic: Characteristic, bytes: &[u8]) -> Result<PulseOximetryMeasurement, FrameError> {
    let mut frame = FrameReader::new(characteristic, bytes);
    let flags = frame.u8("flags", "every measurement starts with flags")?;
    let bit = |n: u8| flags & (1 << n) != 0;
    let normal = pair(&mut frame, "SpO2 and pulse rate are mandatory")?;
    let spot = characteristic == Characteristic::PlxSpotCheckMeasurement;
    // Bit positions differ between the two characteristics.
    let (status_bit, device_bit, pai_bit) = if spot { (1, 2, 3) } else { (2, 3, 4) };
    let mut fast = None;
    let mut slow = None;
    let mut timestamp = None;
    if spot {
        timestamp = bit(0)
            .then(|| frame.date_time("timestamp", "flags bit 0 says a timestamp follows"))
            .transpose()?;
    } else {
        fast = bit(0)
            .then(|| pair(&mut frame, "flags bit 0 says SpO2PR-Fast follows"))
            .transpose()?;
        slow = bit(1)
            .then(|| pair(&mut frame, "flags bit 1 says SpO2PR-Slow follows"))
            .transpose()?;
    }
    let measurement_status = bit(status_bit)
        .then(|| frame.u16("measurement status", "flags say a measurement status follows"))
        .transpose()?
        .map(MeasurementStatus);
    let device_and_sensor_status = bit(device_bit)
        .then(|| {
            frame.u24(
                "device and sensor status",
                "flags say a device and sensor status follows",
            )
        })
        .transpose()?;
    let pulse_amplitude_index = bit(pai_bit)
        .then(|| frame.sfloat("pulse amplitude index", "flags say a pulse amplitude index follows"))
        .transpose()?;
    frame.finish(u16::from(flags))?;
    Ok(PulseOximetryMeasurement {
        characteristic,
        normal,
        fast,
        slow,
        timestamp,
        device_clock_not_set: spot && bit(4),
        measurement_status,
        device_and_sensor_status,
        pulse_amplitude_index,
    })
}

impl PulseOximetryMeasurement {
    /// SpO2 and pulse rate (spot-check ones typed `MDC_MODALITY_SPOT`, fast/slow averages typed
    /// `MDC_MODALITY_FAST`/`_SLOW` so they never collide with the normal values), the pulse amplitude
    /// index, and the device and sensor status as flags.
    pub fn measurements(&self, time: &TimeContext) -> Vec<Measurement> {
        let when = if self.device_clock_not_set {
            EffectiveTime::Instant(Timestamp::gateway_receipt(
                time.received_at,
                NoDeviceTimeReason::ClockNotSet,
            ))
        } else {
            time.measurement_time(self.timestamp)
        };
        let quality = self
            .measurement_status
            .map(MeasurementStatus::quality)
            .unwrap_or_default();
        let spot = self.characteristic == Characteristic::PlxSpotCheckMeasurement;
        let mut out = Vec::new();
        let mut push_pair = |values: SpO2AndPulseRate, modality: Option<MdcCode>| {
            for (code, value, unit) in [
                (mdc::PULS_OXIM_SAT_O2, values.spo2, "%"),
                (mdc::PULS_OXIM_PULS_RATE, values.pulse_rate, "/min"),
            ] {
                let mut m =
                    Measurement::simple(code, quantity_or_absent(value, unit), when).with_quality(quality.clone());
                if let Some(modality) = modality {
                    m = m.with_supplemental_type(modality);
                }
                out.push(m);
            }
        };
        push_pair(self.normal, spot.then_some(mdc::MODALITY_SPOT));
        if let Some(fast) = self.fast {
            push_pair(fast, Some(mdc::MODALITY_FAST));
        }
        if let Some(slow) = self.slow {
            push_pair(slow, Some(mdc::MODALITY_SLOW));
        }
        if let Some(pai) = self.pulse_amplitude_index {
            out.push(
                Measurement::simple(mdc::PULS_OXIM_PERF_REL, quantity_or_absent(pai, "%"), when)
                    .with_quality(quality.clone()),
            );
        }
        if let Some(status) = self.device_and_sensor_status {
            let flags: Vec<Flag> = DEVICE_AND_SENSOR_STATUS_BITS
                .iter()
                .enumerate()
                .map(|(ble_bit, &(bit, name))| flag(bit, name, status & (1 << ble_bit) != 0))
                .collect();
            out.push(Measurement::simple(mdc::PULS_OXIM_DEV_STATUS, Value::Flags(flags), when).qualifying(0));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Decimal;

    fn n(mantissa: i64, exponent: i32) -> MderFloat {
        MderFloat::Number(Decimal::new(mantissa, exponent))
    }

    fn decoded(characteristic: Characteristic, hex_text: &str) -> PulseOximetryMeasurement {
        decode(characteristic, &hex::decode(hex_text).unwrap()).unwrap()
    }

    #[test]
    fn spot_check_full() {
        let m = decoded(
            Characteristic::PlxSpotCheckMeasurement,
            "0facf3bef5e8070b1d170839204022000066e3",
        );
        assert_eq!(
            m.normal,
            SpO2AndPulseRate {
                spo2: n(940, -1),
                pulse_rate: n(1470, -1)
            }
        );
        assert_eq!(
            m.timestamp.unwrap().to_naive().unwrap().to_string(),
            "2024-11-29 23:08:57"
        );
        assert_eq!(m.measurement_status, Some(MeasurementStatus(0x4020)));
        assert_eq!(m.measurement_status.unwrap().quality(), vec![QualityFlag::Questionable]);
        assert_eq!(m.device_and_sensor_status, Some(0x22));
        // Bluetooth bits 1 and 5 are 11073 bits 14 and 10 of 150604.
        let time = crate::adapters::ble::envelope::tests::time_context();
        let measurements = m.measurements(&time);
        let Some(Value::Flags(flags)) = &measurements.last().unwrap().value else {
            panic!("no status flags")
        };
        let set: Vec<(u8, &str)> = flags.iter().filter(|f| f.set).map(|f| (f.bit, f.name)).collect();
        assert_eq!(
            set,
            vec![(14, "device-equipment-malfunction"), (10, "signal-low-perfusion")]
        );
        // 0xE366: 870e-2, i.e. the vector's 8.7 with the two decimals the exponent implies.
        assert_eq!(m.pulse_amplitude_index, Some(n(870, -2)));
        assert!(!m.device_clock_not_set);
    }

    #[test]
    fn continuous_full_has_fast_and_slow() {
        let m = decoded(
            Characteristic::PlxContinuousMeasurement,
            "1fdef3caf3caf35af5d4f3b2f220010000007ae3",
        );
        assert_eq!(
            m.normal,
            SpO2AndPulseRate {
                spo2: n(990, -1),
                pulse_rate: n(970, -1)
            }
        );
        assert_eq!(
            m.fast,
            Some(SpO2AndPulseRate {
                spo2: n(970, -1),
                pulse_rate: n(1370, -1)
            })
        );
        assert_eq!(
            m.slow,
            Some(SpO2AndPulseRate {
                spo2: n(980, -1),
                pulse_rate: n(690, -1)
            })
        );
        assert_eq!(m.measurement_status, Some(MeasurementStatus(0x0120)));
        assert_eq!(m.device_and_sensor_status, Some(0));
        assert_eq!(m.pulse_amplitude_index, Some(n(890, -2)));
    }

    #[test]
    fn continuous_simple_and_minimal() {
        let m = decoded(Characteristic::PlxContinuousMeasurement, "1c5f005a00200000000057f0");
        assert_eq!(
            m.normal,
            SpO2AndPulseRate {
                spo2: n(95, 0),
                pulse_rate: n(90, 0)
            }
        );
        assert_eq!(
            (m.measurement_status, m.device_and_sensor_status),
            (Some(MeasurementStatus(0x20)), Some(0))
        );
        assert_eq!(m.pulse_amplitude_index, Some(n(87, -1)));
        // Same numbers, different precision: 1000e-1 vs 100.
        let a = decoded(Characteristic::PlxContinuousMeasurement, "00e8f384f3");
        let b = decoded(Characteristic::PlxContinuousMeasurement, "0064005a00");
        assert_eq!(a.normal.spo2, n(1000, -1));
        assert_eq!(b.normal.spo2, n(100, 0));
        let (MderFloat::Number(x), MderFloat::Number(y)) = (a.normal.spo2, b.normal.spo2) else {
            panic!()
        };
        assert!(x.numerically_equals(y));
    }

    #[test]
    fn truncated_device_status() {
        let err = decode(
            Characteristic::PlxSpotCheckMeasurement,
            &hex::decode("04acf3bef52200").unwrap(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    field: "device and sensor status",
                    offset: 5,
                    needed: 3,
                    available: 2,
                    ..
                }
            ),
            "{err}"
        );
    }
}
