//! Exact decimal numbers as devices send them: `mantissa × 10^exponent`.
//!
//! IEEE 11073 floats, Bluetooth fixed-point fields and HL7 v2 `NM` values all carry a precision that a
//! clinician reads (`2.0` is not `2.00`). The PHD IG (FLOATS.md) requires that precision to survive into
//! `valueQuantity.value`, so values stay decimal end to end and are never routed through `f64`.

use std::fmt;

/// A decimal number held exactly, with the number of decimals the source implied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: i64,
    exponent: i32,
}

impl Decimal {
    /// `mantissa × 10^exponent`, keeping the exponent (and so the precision) as given.
    pub const fn new(mantissa: i64, exponent: i32) -> Self {
        Decimal { mantissa, exponent }
    }

    /// A whole number.
    pub const fn integer(value: i64) -> Self {
        Decimal::new(value, 0)
    }

    pub const fn mantissa(self) -> i64 {
        self.mantissa
    }

    pub const fn exponent(self) -> i32 {
        self.exponent
    }

    /// Multiplies by `10^shift` by moving the exponent: exact, and the number of significant digits is
    /// kept (SFLOAT 120e-5 kg/L becomes 120 mg/dL, not 120.00000).
    pub const fn scaled_by_power_of_ten(self, shift: i32) -> Self {
        Decimal::new(self.mantissa, self.exponent + shift)
    }

    /// Multiplies by a whole factor and a power of ten, for fixed-point fields such as the weight
    /// scale's `raw × 0.005 kg` (factor 5, exponent −3). Returns `None` on overflow.
    pub fn from_fixed_point(raw: i64, factor: i64, exponent: i32) -> Option<Self> {
        raw.checked_mul(factor).map(|m| Decimal::new(m, exponent))
    }

    /// The value as `f64`, for plausibility checks and comparisons only — never for output.
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// Numeric equality regardless of precision: `100` equals `100.0`.
    pub fn numerically_equals(self, other: Decimal) -> bool {
        let common = self.exponent.min(other.exponent);
        match (self.rescaled_mantissa(common), other.rescaled_mantissa(common)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    /// Numeric order regardless of precision (`0.5` < `1`); exact where both fit a common scale, else
    /// by their nearest binary value.
    pub fn compare(self, other: Decimal) -> std::cmp::Ordering {
        let common = self.exponent.min(other.exponent);
        match (self.rescaled_mantissa(common), other.rescaled_mantissa(common)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self
                .to_f64()
                .partial_cmp(&other.to_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
        }
    }

    fn rescaled_mantissa(self, exponent: i32) -> Option<i128> {
        let shift = u32::try_from(self.exponent - exponent).ok()?;
        10i128
            .checked_pow(shift)
            .and_then(|p| (self.mantissa as i128).checked_mul(p))
    }
}

/// Text that is not a plain decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// The text is kept for the program, never shown: it may be a patient's value.
#[error("not a decimal number (digits with an optional sign and decimal point, e.g. -12.50)")]
pub struct DecimalParseError(pub String);

/// Parses plain decimal notation (`12`, `-0.50`, `+3.`, `.5`), keeping the written precision: `1.10`
/// stays 1.10. Exponents, separators and whitespace inside the number are refused, as in HL7 v2 `NM`.
impl std::str::FromStr for Decimal {
    type Err = DecimalParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || DecimalParseError(text.to_string());
        let (negative, unsigned) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits_only(whole) || !digits_only(fraction) {
            return Err(error());
        }
        let exponent = -i32::try_from(fraction.len()).map_err(|_| error())?;
        let mantissa: i64 = format!("{whole}{fraction}").parse().map_err(|_| error())?;
        Ok(Decimal::new(if negative { -mantissa } else { mantissa }, exponent))
    }
}

/// Renders plain decimal notation with exactly `-exponent` decimals (never scientific notation, which
/// FHIR's decimal grammar does allow but receivers rarely expect): `1234e-2` → `12.34`,
/// `120e-8` → `0.00000120`, `513e7` → `5130000000`.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if self.exponent >= 0 {
            let zeros = if self.mantissa == 0 { 0 } else { self.exponent as usize };
            return write!(f, "{sign}{digits}{}", "0".repeat(zeros));
        }
        let decimals = self.exponent.unsigned_abs() as usize;
        let padded = if digits.len() <= decimals {
            format!("{}{digits}", "0".repeat(decimals + 1 - digits.len()))
        } else {
            digits
        };
        let (whole, fraction) = padded.split_at(padded.len() - decimals);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_precision_the_exponent_implies() {
        assert_eq!(Decimal::new(2, 0).to_string(), "2");
        assert_eq!(Decimal::new(20, -1).to_string(), "2.0");
        assert_eq!(Decimal::new(200, -2).to_string(), "2.00");
        assert_eq!(Decimal::new(3760, -2).to_string(), "37.60");
        assert_eq!(Decimal::new(-364, -1).to_string(), "-36.4");
        assert_eq!(Decimal::new(120, -8).to_string(), "0.00000120");
        assert_eq!(Decimal::new(-5, -3).to_string(), "-0.005");
        assert_eq!(Decimal::new(513, 7).to_string(), "5130000000");
        assert_eq!(Decimal::new(0, 3).to_string(), "0");
        assert_eq!(Decimal::new(0, -2).to_string(), "0.00");
    }

    #[test]
    fn scaling_moves_only_the_exponent() {
        // 120 × 10^-5 kg/L is 120 mg/dL (×10^5), with no invented decimals.
        let kg_per_l = Decimal::new(120, -5);
        assert_eq!(kg_per_l.scaled_by_power_of_ten(5).to_string(), "120");
    }

    #[test]
    fn fixed_point_multiplies_exactly() {
        let kg = Decimal::from_fixed_point(13140, 5, -3).unwrap();
        assert_eq!(kg.to_string(), "65.700");
        assert!(Decimal::from_fixed_point(i64::MAX, 5, 0).is_none());
    }

    #[test]
    fn parses_with_the_written_precision() {
        for (text, mantissa, exponent) in [
            ("1.1", 11, -1),
            ("0", 0, 0),
            ("250.0", 2500, -1),
            ("-3.50", -350, -2),
            ("+7", 7, 0),
            (".5", 5, -1),
            ("5.", 5, 0),
        ] {
            let value: Decimal = text.parse().unwrap();
            assert_eq!(value, Decimal::new(mantissa, exponent), "{text}");
        }
        assert_eq!("1.10".parse::<Decimal>().unwrap().to_string(), "1.10");
        for bad in [
            "",
            "-",
            ".",
            "1e3",
            "1,5",
            " 1",
            "1.2.3",
            "0x10",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
    }

    #[test]
    fn numeric_equality_ignores_precision() {
        assert!(Decimal::new(1000, -1).numerically_equals(Decimal::new(100, 0)));
        assert!(!Decimal::new(1001, -1).numerically_equals(Decimal::new(100, 0)));
    }
}
