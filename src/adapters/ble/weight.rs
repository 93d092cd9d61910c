//! Weight Measurement (0x2A9D), Bluetooth WSS 1.0.
//!
//! Layout: flags u8; weight u16 (SI 0.005 kg, imperial 0.01 lb; 0xFFFF = measurement unsuccessful);
//! [timestamp] (bit 1); [user id u8] (bit 2); [BMI u16 × 0.1 kg/m² + height u16 (SI 0.001 m,
//! imperial 0.1 in)] (bit 3). Bit 0 selects imperial units.

use super::characteristic::Characteristic;
use super::date_time::DeviceDateTime;
use super::error::FrameError;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use super::value::fixed_point_or_unsuccessful;
use crate::codes::mdc;
use crate::model::Measurement;

/// Units and resolutions shared by the weight scale and body composition services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasurementSystem {
    /// kg (resolution 0.005) and m (0.001).
    Si,
    /// lb (resolution 0.01) and in (0.1).
    Imperial,
}

impl MeasurementSystem {
    pub fn from_flag(imperial: bool) -> Self {
        if imperial {
            MeasurementSystem::Imperial
        } else {
            MeasurementSystem::Si
        }
    }

    /// (factor, exponent, UCUM unit) of a mass field: raw × factor × 10^exponent.
    pub fn mass(self) -> (i64, i32, &'static str) {
        match self {
            MeasurementSystem::Si => (5, -3, "kg"),
            MeasurementSystem::Imperial => (1, -2, "[lb_av]"),
        }
    }

    /// (factor, exponent, UCUM unit) of a height field.
    pub fn height(self) -> (i64, i32, &'static str) {
        match self {
            MeasurementSystem::Si => (1, -3, "m"),
            MeasurementSystem::Imperial => (1, -1, "[in_i]"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightMeasurement {
    pub system: MeasurementSystem,
    /// Raw weight field (0xFFFF = unsuccessful).
    pub weight_raw: u16,
    pub timestamp: Option<DeviceDateTime>,
    pub user_id: Option<u8>,
    /// Raw BMI (× 0.1 kg/m²) and height fields.
    pub bmi_and_height_raw: Option<(u16, u16)>,
}

pub fn decode(bytes: &[u8]) -> Result<WeightMeasurement, FrameError> {
    let mut frame = FrameReader::new(Characteristic::WeightMeasurement, bytes);
    let flags = frame.u8("flags", "every measurement starts with flags")?;
    let weight_raw = frame.u16("weight", "the weight field is mandatory")?;
    let timestamp = (flags & 0x02 != 0)
        .then(|| frame.date_time("timestamp", "flags bit 1 says a timestamp follows"))
        .transpose()?;
    let user_id = (flags & 0x04 != 0)
        .then(|| frame.u8("user id", "flags bit 2 says a user id follows"))
        .transpose()?;
    let bmi_and_height_raw = if flags & 0x08 != 0 {
        let rule = "flags bit 3 says BMI and height follow";
        Some((frame.u16("BMI", rule)?, frame.u16("height", rule)?))
    } else {
        None
    };
    frame.finish(u16::from(flags))?;
    Ok(WeightMeasurement {
        system: MeasurementSystem::from_flag(flags & 0x01 != 0),
        weight_raw,
        timestamp,
        user_id,
        bmi_and_height_raw,
    })
}

impl WeightMeasurement {
    /// Weight, and BMI and height when present. Values keep the field's resolution as their precision
    /// (0.005 kg → three decimals): the scale's actual resolution (Weight Scale Feature, 0x2A9E) is not
    /// part of the measurement.
    pub fn measurements(&self, time: &TimeContext) -> Vec<Measurement> {
        let when = time.measurement_time(self.timestamp);
        let (factor, exponent, unit) = self.system.mass();
        let mut out = vec![Measurement::simple(
            mdc::MASS_BODY_ACTUAL,
            fixed_point_or_unsuccessful(self.weight_raw, factor, exponent, unit),
            when,
        )];
        if let Some((bmi, height)) = self.bmi_and_height_raw {
            out.push(Measurement::simple(
                mdc::RATIO_MASS_BODY_LEN_SQ,
                fixed_point_or_unsuccessful(bmi, 1, -1, "kg/m2"),
                when,
            ));
            let (factor, exponent, unit) = self.system.height();
            out.push(Measurement::simple(
                mdc::LEN_BODY_ACTUAL,
                fixed_point_or_unsuccessful(height, factor, exponent, unit),
                when,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AbsentReason, Value};

    #[test]
    fn imperial_frame() {
        let w = decode(&hex::decode("019065").unwrap()).unwrap();
        assert_eq!((w.system, w.weight_raw), (MeasurementSystem::Imperial, 26000));
    }

    #[test]
    fn unsuccessful_sentinel_with_bmi_and_height() {
        let w = decode(&hex::decode("0effffea07050c12353601ee002607").unwrap()).unwrap();
        assert_eq!(w.weight_raw, 0xFFFF);
        assert_eq!(
            w.timestamp.unwrap().to_naive().unwrap().to_string(),
            "2026-05-12 18:53:54"
        );
        assert_eq!(w.user_id, Some(1));
        assert_eq!(w.bmi_and_height_raw, Some((238, 1830)));
        let time = crate::adapters::ble::envelope::tests::time_context();
        let m = w.measurements(&time);
        assert_eq!(m[0].value, Some(Value::Absent(AbsentReason::MeasurementUnsuccessful)));
    }

    #[test]
    fn truncated_bmi_block() {
        let err = decode(&hex::decode("08dc05ee00").unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Truncated {
                    field: "height",
                    offset: 5,
                    ..
                }
            ),
            "{err}"
        );
    }
}
