//! IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit), as used by every Bluetooth health profile.
//!
//! Both are `mantissa × 10^exponent` with two's-complement fields (SFLOAT: 4-bit exponent, 12-bit
//! mantissa; FLOAT: 8-bit exponent, 24-bit mantissa). Exponent 0 with particular mantissas encodes
//! special values. The exponent is kept so the precision survives (PHD IG, FLOATS.md).

use crate::model::{AbsentReason, Decimal};

/// A decoded 11073 float: a number, or one of the special values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MderFloat {
    Number(Decimal),
    NaN,
    NotAtThisResolution,
    PositiveInfinity,
    NegativeInfinity,
    Reserved,
}

impl MderFloat {
    /// Decodes an SFLOAT from its 16-bit value (already assembled from the little-endian bytes).
    pub fn from_sfloat(raw: u16) -> Self {
        match raw {
            0x07FF => MderFloat::NaN,
            0x0800 => MderFloat::NotAtThisResolution,
            0x07FE => MderFloat::PositiveInfinity,
            0x0802 => MderFloat::NegativeInfinity,
            0x0801 => MderFloat::Reserved,
            _ => {
                let exponent = sign_extend(u32::from(raw >> 12), 4);
                let mantissa = sign_extend(u32::from(raw & 0x0FFF), 12);
                MderFloat::Number(Decimal::new(i64::from(mantissa), exponent))
            }
        }
    }

    /// Decodes a FLOAT from its 32-bit value (already assembled from the little-endian bytes).
    pub fn from_float(raw: u32) -> Self {
        match raw {
            0x007F_FFFF => MderFloat::NaN,
            0x0080_0000 => MderFloat::NotAtThisResolution,
            0x007F_FFFE => MderFloat::PositiveInfinity,
            0x0080_0002 => MderFloat::NegativeInfinity,
            0x0080_0001 => MderFloat::Reserved,
            _ => {
                let exponent = sign_extend(raw >> 24, 8);
                let mantissa = sign_extend(raw & 0x00FF_FFFF, 24);
                MderFloat::Number(Decimal::new(i64::from(mantissa), exponent))
            }
        }
    }

    /// The number, or why there is none.
    pub fn number(self) -> Result<Decimal, AbsentReason> {
        match self {
            MderFloat::Number(value) => Ok(value),
            MderFloat::NaN => Err(AbsentReason::NotANumber),
            MderFloat::NotAtThisResolution => Err(AbsentReason::NotAtThisResolution),
            MderFloat::PositiveInfinity => Err(AbsentReason::PositiveInfinity),
            MderFloat::NegativeInfinity => Err(AbsentReason::NegativeInfinity),
            MderFloat::Reserved => Err(AbsentReason::ReservedValue),
        }
    }
}

/// Interprets the low `bits` bits of `value` as a two's-complement number.
fn sign_extend(value: u32, bits: u32) -> i32 {
    let shift = 32 - bits;
    ((value << shift) as i32) >> shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sfloat_exponent_is_twos_complement_not_biased() {
        // 0x8078: exponent -8, mantissa 120 → 1.20e-6 (a biased-exponent decoder would say 120).
        assert_eq!(MderFloat::from_sfloat(0x8078), MderFloat::Number(Decimal::new(120, -8)));
    }

    #[test]
    fn negative_mantissas() {
        assert_eq!(
            MderFloat::from_sfloat(0x0B2E),
            MderFloat::Number(Decimal::new(-1234, 0))
        );
        assert_eq!(
            MderFloat::from_float(0x00FF_FB2E),
            MderFloat::Number(Decimal::new(-1234, 0))
        );
    }
}
