//! Body Composition Measurement (0x2A9C), Bluetooth BCS 1.0.
//!
//! Layout: flags **u16**; body fat percentage u16 × 0.1 % (0xFFFF = unsuccessful); then, as flagged:
//! timestamp (b1), user id u8 (b2), basal metabolism u16 kJ (b3), muscle percentage u16 × 0.1 % (b4),
//! muscle mass (b5), fat-free mass (b6), soft lean mass (b7), body water mass (b8) — masses in the
//! weight-scale units —, impedance u16 × 0.1 Ω (b9), weight (b10), height (b11). Bit 12 marks a
//! measurement split over several indications; bit 0 selects imperial units.

use super::characteristic::Characteristic;
use super::date_time::DeviceDateTime;
use super::error::FrameError;
use super::reader::FrameReader;
use super::time_context::TimeContext;
use super::value::fixed_point_or_unsuccessful;
use super::weight::MeasurementSystem;
use crate::codes::mdc;
use crate::model::{MdcCode, Measurement};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyCompositionMeasurement {
    pub flags: u16,
    pub system: MeasurementSystem,
    /// Raw fields as sent (0xFFFF = unsuccessful); `None` when the flags leave a field out.
    pub body_fat_raw: u16,
    pub timestamp: Option<DeviceDateTime>,
    pub user_id: Option<u8>,
    pub basal_metabolism_kj: Option<u16>,
    pub muscle_percentage_raw: Option<u16>,
    pub muscle_mass_raw: Option<u16>,
    pub fat_free_mass_raw: Option<u16>,
    pub soft_lean_mass_raw: Option<u16>,
    pub body_water_mass_raw: Option<u16>,
    pub impedance_raw: Option<u16>,
    pub weight_raw: Option<u16>,
    pub height_raw: Option<u16>,
    /// Bit 12: this indication is one part of a measurement split across several.
    pub multiple_packet: bool,
}

pub fn decode(bytes: &[u8]) -> Result<BodyCompositionMeasurement, FrameError> {
    let mut frame = FrameReader::new(Characteristic::BodyCompositionMeasurement, bytes);
    let flags = frame.u16("flags", "every measurement starts with 16-bit flags")?;
    let body_fat_raw = frame.u16("body fat percentage", "the body fat percentage is mandatory")?;
    let bit = |n: u16| flags & (1 << n) != 0;
    let timestamp = bit(1)
        .then(|| frame.date_time("timestamp", "flags bit 1 says a timestamp follows"))
        .transpose()?;
    let user_id = bit(2)
        .then(|| frame.u8("user id", "flags bit 2 says a user id follows"))
        .transpose()?;
    let mut field = |n: u16, name: &'static str, rule: &'static str| bit(n).then(|| frame.u16(name, rule)).transpose();
    let basal_metabolism_kj = field(3, "basal metabolism", "flags bit 3 says basal metabolism follows")?;
    let muscle_percentage_raw = field(4, "muscle percentage", "flags bit 4 says muscle percentage follows")?;
    let muscle_mass_raw = field(5, "muscle mass", "flags bit 5 says muscle mass follows")?;
    let fat_free_mass_raw = field(6, "fat free mass", "flags bit 6 says fat free mass follows")?;
    let soft_lean_mass_raw = field(7, "soft lean mass", "flags bit 7 says soft lean mass follows")?;
    let body_water_mass_raw = field(8, "body water mass", "flags bit 8 says body water mass follows")?;
    let impedance_raw = field(9, "impedance", "flags bit 9 says impedance follows")?;
    let weight_raw = field(10, "weight", "flags bit 10 says weight follows")?;
    let height_raw = field(11, "height", "flags bit 11 says height follows")?;
    frame.finish(flags)?;
    let decoded = BodyCompositionMeasurement {
        flags,
        system: MeasurementSystem::from_flag(bit(0)),
        body_fat_raw,
        timestamp,
        user_id,
        basal_metabolism_kj,
        muscle_percentage_raw,
        muscle_mass_raw,
        fat_free_mass_raw,
        soft_lean_mass_raw,
        body_water_mass_raw,
        impedance_raw,
        weight_raw,
        height_raw,
        multiple_packet: bit(12),
    };
    if decoded.is_placeholder() {
        return Err(FrameError::NoMeasurement {
            characteristic: Characteristic::BodyCompositionMeasurement,
            rule: "every value is zero: a placeholder frame (some scales send these for history slots), \
                   not a 0 % body fat reading",
        });
    }
    Ok(decoded)
}

impl BodyCompositionMeasurement {
    /// A frame whose values are all zero. No person has 0 % body fat, so such a frame is a
    /// placeholder, never a reading.
    fn is_placeholder(&self) -> bool {
        let optional = [
            self.basal_metabolism_kj,
            self.muscle_percentage_raw,
            self.muscle_mass_raw,
            self.fat_free_mass_raw,
            self.soft_lean_mass_raw,
            self.body_water_mass_raw,
            self.impedance_raw,
            self.weight_raw,
            self.height_raw,
        ];
        self.body_fat_raw == 0 && optional.iter().all(|v| v.unwrap_or(0) == 0)
    }

    /// Body fat, fat-free, soft lean and water mass, weight and height as coded measurements. Basal
    /// metabolism, muscle percentage, muscle mass and impedance are decoded but not emitted: their
    /// MDC codes are attested by a single non-normative source, and a wrong code in an EHR is worse
    /// than a missing one (see the README's known gaps).
    pub fn measurements(&self, time: &TimeContext) -> Vec<Measurement> {
        let when = time.measurement_time(self.timestamp);
        let (mass_factor, mass_exponent, mass_unit) = self.system.mass();
        let (height_factor, height_exponent, height_unit) = self.system.height();
        let mut out = vec![Measurement::simple(
            mdc::BODY_FAT,
            fixed_point_or_unsuccessful(self.body_fat_raw, 1, -1, "%"),
            when,
        )];
        let mut optional = |code: MdcCode, raw: Option<u16>, factor, exponent, unit| {
            if let Some(raw) = raw {
                out.push(Measurement::simple(
                    code,
                    fixed_point_or_unsuccessful(raw, factor, exponent, unit),
                    when,
                ));
            }
        };
        optional(
            mdc::MASS_BODY_FAT_FREE,
            self.fat_free_mass_raw,
            mass_factor,
            mass_exponent,
            mass_unit,
        );
        optional(
            mdc::MASS_BODY_SOFT_LEAN,
            self.soft_lean_mass_raw,
            mass_factor,
            mass_exponent,
            mass_unit,
        );
        optional(
            mdc::BODY_WATER,
            self.body_water_mass_raw,
            mass_factor,
            mass_exponent,
            mass_unit,
        );
        optional(
            mdc::MASS_BODY_ACTUAL,
            self.weight_raw,
            mass_factor,
            mass_exponent,
            mass_unit,
        );
        optional(
            mdc::LEN_BODY_ACTUAL,
            self.height_raw,
            height_factor,
            height_exponent,
            height_unit,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fat_only_frame() {
        let b = decode(&hex::decode("0000c200").unwrap()).unwrap();
        assert_eq!(b.body_fat_raw, 194);
        assert_eq!(b.system, MeasurementSystem::Si);
    }

    #[test]
    fn all_zero_placeholder_is_not_a_reading() {
        let err = decode(&hex::decode("00000000").unwrap()).unwrap_err();
        assert!(matches!(err, FrameError::NoMeasurement { .. }), "{err}");
        // Zero fat but a real weight is not a placeholder (the fat analysis may just have failed).
        assert!(decode(&hex::decode("00040000dc05").unwrap()).is_ok());
    }

    #[test]
    fn flags_are_sixteen_bits() {
        // Flags 0x0400 (bit 10, weight) only make sense as 16 bits: an 8-bit reader would see 0x00.
        let b = decode(&hex::decode("0004c200dc05").unwrap()).unwrap();
        assert_eq!(b.weight_raw, Some(1500));
    }
}
