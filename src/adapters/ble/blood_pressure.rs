//! Blood Pressure Measurement (0x2A35) and Intermediate Cuff Pressure (0x2A36), Bluetooth BLS 1.1.
//!
//! Layout: flags u8; three SFLOATs (systolic, diastolic, MAP — for 2A36 the first is the current cuff
//! pressure and the other two are unused); then, as flagged, a timestamp (bit 1), pulse rate SFLOAT
//! (bit 2), user id u8 (bit 3) and a 16-bit measurement status (bit 4). Bit 0 selects kPa over mmHg.

use super::characteristic::Characteristic;
use super::date_time::DeviceDateTime;
use super::error::FrameError;
use super::float::MderFloat;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use super::value::{flag, quantity_or_absent};
use crate::codes::mdc;
use crate::model::{Component, Measurement, QualityFlag, Value};

/// The pressure unit flags bit 0 selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PressureUnit {
    MillimetreOfMercury,
    Kilopascal,
}

impl PressureUnit {
    pub fn ucum(self) -> &'static str {
        match self {
            PressureUnit::MillimetreOfMercury => "mm[Hg]",
            PressureUnit::Kilopascal => "kPa",
        }
    }
}

/// Bits 3–4 of the measurement status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PulseRateRange {
    WithinRange,
    ExceedsUpperLimit,
    BelowLowerLimit,
    Reserved,
}

/// The 16-bit Blood Pressure Measurement Status field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasurementStatus(pub u16);

impl MeasurementStatus {
    pub fn body_movement(self) -> bool {
        self.0 & 0x0001 != 0
    }
    pub fn cuff_too_loose(self) -> bool {
        self.0 & 0x0002 != 0
    }
    pub fn irregular_pulse(self) -> bool {
        self.0 & 0x0004 != 0
    }
    pub fn pulse_rate_range(self) -> PulseRateRange {
        match (self.0 >> 3) & 0b11 {
            0 => PulseRateRange::WithinRange,
            1 => PulseRateRange::ExceedsUpperLimit,
            2 => PulseRateRange::BelowLowerLimit,
            _ => PulseRateRange::Reserved,
        }
    }
    pub fn improper_position(self) -> bool {
        self.0 & 0x0020 != 0
    }
}

/// A decoded 2A35 or 2A36 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BloodPressureMeasurement {
    pub characteristic: Characteristic,
    pub unit: PressureUnit,
    /// Systolic pressure (2A35) or the current cuff pressure (2A36).
    pub systolic: MderFloat,
    pub diastolic: MderFloat,
    pub mean_arterial_pressure: MderFloat,
    pub timestamp: Option<DeviceDateTime>,
    pub pulse_rate: Option<MderFloat>,
    /// 0xFF means "unknown user".
    pub user_id: Option<u8>,
    pub status: Option<MeasurementStatus>,
}

/// Decodes 2A35 or 2A36 (`characteristic` says which; the layout is the same).
pub fn decode(characteristic: Characteristic, bytes: &[u8]) -> Result<BloodPressureMeasurement, FrameError> {
    let mut frame = FrameReader::new(characteristic, bytes);
    let flags = frame.u8("flags", "every measurement starts with flags")?;
    let unit = if flags & 0x01 != 0 {
        PressureUnit::Kilopascal
    } else {
        PressureUnit::MillimetreOfMercury
    };
    let first_rule = "the three pressure SFLOATs are mandatory";
    let systolic = frame.sfloat(first_field(characteristic), first_rule)?;
    let diastolic = frame.sfloat("diastolic pressure", first_rule)?;
    let mean_arterial_pressure = frame.sfloat("mean arterial pressure", first_rule)?;
    let timestamp = (flags & 0x02 != 0)
        .then(|| frame.date_time("timestamp", "flags bit 1 says a timestamp follows"))
        .transpose()?;
    let pulse_rate = (flags & 0x04 != 0)
        .then(|| frame.sfloat("pulse rate", "flags bit 2 says a pulse rate follows"))
        .transpose()?;
    let user_id = (flags & 0x08 != 0)
        .then(|| frame.u8("user id", "flags bit 3 says a user id follows"))
        .transpose()?;
    let status = (flags & 0x10 != 0)
        .then(|| frame.u16("measurement status", "flags bit 4 says a measurement status follows"))
        .transpose()?
        .map(MeasurementStatus);
    frame.finish(u16::from(flags))?;
    Ok(BloodPressureMeasurement {
        characteristic,
        unit,
        systolic,
        diastolic,
        mean_arterial_pressure,
        timestamp,
        pulse_rate,
        user_id,
        status,
    })
}

fn first_field(characteristic: Characteristic) -> &'static str {
    match characteristic {
        Characteristic::IntermediateCuffPressure => "current cuff pressure",
        _ => "systolic pressure",
    }
}

impl BloodPressureMeasurement {
    /// The model measurements: the blood pressure (compound, or the cuff pressure for 2A36), the pulse
    /// rate, and the status word as flags qualifying the pressure.
    pub fn measurements(&self, time: &TimeContext) -> Vec<Measurement> {
        let when = time.measurement_time(self.timestamp);
        let unit = self.unit.ucum();
        let mut out = Vec::new();
        if self.characteristic == Characteristic::IntermediateCuffPressure {
            // Diastolic and MAP are unused in 2A36 (the spec says NaN; devices often send 0): ignored.
            out.push(
                Measurement::simple(mdc::PRESS_CUFF, quantity_or_absent(self.systolic, unit), when)
                    .with_quality(vec![QualityFlag::Intermediate]),
            );
        } else {
            let component = |code, value| Component {
                label: None,
                code,
                value: quantity_or_absent(value, unit),
            };
            out.push(Measurement::compound(
                mdc::PRESS_BLD_NONINV,
                vec![
                    component(mdc::PRESS_BLD_NONINV_SYS, self.systolic),
                    component(mdc::PRESS_BLD_NONINV_DIA, self.diastolic),
                    component(mdc::PRESS_BLD_NONINV_MEAN, self.mean_arterial_pressure),
                ],
                when,
            ));
        }
        if let Some(pulse) = self.pulse_rate {
            out.push(Measurement::simple(
                mdc::PULS_RATE_NON_INV,
                quantity_or_absent(pulse, "/min"),
                when,
            ));
        }
        if let Some(status) = self.status {
            let range = status.pulse_rate_range();
            // 11073 bit n of `8410608.<n>` (PHD IG ASN1ToHL7) is Bluetooth bit n here; the Bluetooth
            // 2-bit pulse-rate-range field becomes bits 3 (over range) and 4 (under range).
            let flags = vec![
                flag(0, "body-movement", status.body_movement()),
                flag(1, "cuff-too-loose", status.cuff_too_loose()),
                flag(2, "irregular-pulse", status.irregular_pulse()),
                flag(3, "pulse-over-range-limit", range == PulseRateRange::ExceedsUpperLimit),
                flag(4, "pulse-under-range-limit", range == PulseRateRange::BelowLowerLimit),
                flag(5, "improper-body-position", status.improper_position()),
            ];
            out.push(
                Measurement::simple(mdc::BLOOD_PRESSURE_MEASUREMENT_STATUS, Value::Flags(flags), when).qualifying(0),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Decimal;

    fn number(mantissa: i64, exponent: i32) -> MderFloat {
        MderFloat::Number(Decimal::new(mantissa, exponent))
    }

    #[test]
    fn full_frame_with_unknown_year() {
        let bytes = hex::decode("1e8a00580078000000041114293b3c00012700").unwrap();
        let bp = decode(Characteristic::BloodPressureMeasurement, &bytes).unwrap();
        assert_eq!(
            (bp.systolic, bp.diastolic, bp.mean_arterial_pressure),
            (number(138, 0), number(88, 0), number(120, 0))
        );
        assert_eq!(bp.unit, PressureUnit::MillimetreOfMercury);
        let ts = bp.timestamp.unwrap();
        assert_eq!(
            (ts.year, ts.month, ts.day, ts.hours, ts.minutes, ts.seconds),
            (0, 4, 17, 20, 41, 59)
        );
        assert_eq!(bp.pulse_rate, Some(number(60, 0)));
        assert_eq!(bp.user_id, Some(1));
        let status = bp.status.unwrap();
        assert!(status.body_movement() && status.cuff_too_loose() && status.irregular_pulse());
        assert!(status.improper_position());
        assert_eq!(status.pulse_rate_range(), PulseRateRange::WithinRange);
    }

    #[test]
    fn kpa_frame_with_pulse_rate_below_range() {
        let bytes = hex::decode("15bdf00b009ff03c001200").unwrap();
        let bp = decode(Characteristic::BloodPressureMeasurement, &bytes).unwrap();
        assert_eq!(bp.unit, PressureUnit::Kilopascal);
        assert_eq!(bp.systolic, number(189, -1));
        let status = bp.status.unwrap();
        assert!(status.cuff_too_loose() && !status.body_movement());
        assert_eq!(status.pulse_rate_range(), PulseRateRange::BelowLowerLimit);
    }

    #[test]
    fn missing_timestamp_bytes_are_named() {
        let err = decode(
            Characteristic::BloodPressureMeasurement,
            &hex::decode("03020304050607").unwrap(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    field: "timestamp",
                    offset: 7,
                    needed: 7,
                    available: 0,
                    ..
                }
            ),
            "{err}"
        );
    }
}
