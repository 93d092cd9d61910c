//! Waveforms: a series of samples taken at a fixed rate (an ECG lead, a pleth wave, a respiration
//! curve), kept exactly as the device sent them, and the rule that splits a long recording into
//! pieces an EHR can store.
//!
//! Rules (documented in the README, "Waveforms"):
//! * A sample is a number as sent (`-0.53714565`, `2041`), or a marker the device sent instead of one
//!   (an error, below or above the measuring range). The real value is `origin + factor × sample`.
//! * The sampling period is `1000 / rate` ms. When that decimal terminates (150 Hz → 6.666… does not;
//!   512 Hz → 1.953125 does) it is exact; otherwise it is rounded half away from zero to
//!   [`PERIOD_DECIMALS`] decimals (1 ns). A piece's start time is computed from its first sample's
//!   index and the exact rate, so the rounding never accumulates from one piece to the next, and no
//!   sample is ever dropped or repeated.
//! * A recording longer than [`MAX_PIECE_SECONDS`] or [`MAX_PIECE_SAMPLES`] is split into pieces of at
//!   most that size; each piece is its own measurement, timed by its first sample
//!   (`super::recording`).

use chrono::TimeDelta;

use super::decimal::Decimal;

/// The longest piece of a recording one measurement holds, in seconds.
pub const MAX_PIECE_SECONDS: i64 = 10;
/// The most samples one measurement holds per channel (10 s at 1 kHz).
pub const MAX_PIECE_SAMPLES: usize = 10_000;
/// Decimals of a sampling period (in ms) that does not terminate: 6, i.e. to the nanosecond.
pub const PERIOD_DECIMALS: i32 = 6;

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    Value(Decimal),
    /// The device marked the sample as an error (FHIR `E`).
    Error,
    /// Below the range the device can measure (FHIR `L`).
    BelowRange,
    /// Above the range the device can measure (FHIR `U`).
    AboveRange,
}

/// A sampling rate in samples per second, exactly as stated (`150`, `512`, `512.6171875`, `300`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRate(Decimal);

/// Why a stated rate cannot time samples.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a sampling rate must be at least 1 sample per second, with at most 12 decimals")]
pub struct SampleRateError;

impl SampleRate {
    /// A rate of at least one sample per second: slower values are readings in a series, not a
    /// waveform, and at such a rate a 10-s piece would hold a sample or none, so a payload of samples
    /// would become as many Observations.
    pub fn new(per_second: Decimal) -> Result<SampleRate, SampleRateError> {
        if per_second.mantissa() <= 0
            || !(-12..=9).contains(&per_second.exponent())
            || per_second.compare(Decimal::integer(1)) == std::cmp::Ordering::Less
        {
            return Err(SampleRateError);
        }
        Ok(SampleRate(per_second))
    }

    pub fn per_second(self) -> Decimal {
        self.0
    }

    /// `10^power / mantissa`: the rate's reciprocal scaled, as numerator and denominator.
    fn reciprocal_parts(self, power_of_ten: i32) -> (i128, i128) {
        // 1/rate = 10^-e / m; scaled by 10^p: 10^(p - e) / m.
        let shift = power_of_ten - self.0.exponent();
        let m = self.0.mantissa() as i128;
        if shift >= 0 {
            (10i128.pow(shift.unsigned_abs()), m)
        } else {
            (1, m * 10i128.pow(shift.unsigned_abs()))
        }
    }

    /// The period in milliseconds, exact when it terminates within 12 decimals, else rounded to
    /// [`PERIOD_DECIMALS`] decimals; and whether it is exact.
    pub fn period_ms(self) -> (Decimal, bool) {
        for decimals in 0..=12 {
            let (numerator, denominator) = self.reciprocal_parts(3 + decimals);
            if numerator % denominator == 0 {
                if let Ok(mantissa) = i64::try_from(numerator / denominator) {
                    return (Decimal::new(mantissa, -decimals), true);
                }
            }
        }
        let (numerator, denominator) = self.reciprocal_parts(3 + PERIOD_DECIMALS);
        let rounded = (numerator + denominator / 2) / denominator;
        (
            Decimal::new(i64::try_from(rounded).unwrap_or(i64::MAX), -PERIOD_DECIMALS),
            false,
        )
    }

    /// The time from the first sample to sample `index`, to the nearest nanosecond, computed from
    /// the exact rate.
    pub fn offset_of(self, index: usize) -> TimeDelta {
        let (numerator, denominator) = self.reciprocal_parts(9);
        let nanos = (index as i128)
            .checked_mul(numerator)
            .map(|n| (n + denominator / 2) / denominator)
            .and_then(|n| i64::try_from(n).ok())
            .unwrap_or(i64::MAX);
        TimeDelta::nanoseconds(nanos)
    }

    /// How many samples one piece of a recording holds: [`MAX_PIECE_SECONDS`] worth, at most
    /// [`MAX_PIECE_SAMPLES`], at least one.
    pub fn piece_len(self) -> usize {
        let (m, e) = (self.0.mantissa() as i128, self.0.exponent());
        // floor(MAX_PIECE_SECONDS × m × 10^e)
        let scaled = MAX_PIECE_SECONDS as i128 * m;
        let samples = if e >= 0 {
            scaled.saturating_mul(10i128.pow(e.unsigned_abs()))
        } else {
            scaled / 10i128.pow(e.unsigned_abs())
        };
        usize::try_from(samples)
            .unwrap_or(usize::MAX)
            .clamp(1, MAX_PIECE_SAMPLES)
    }
}

/// A waveform: samples at a fixed rate, with what turns them into values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampledSeries {
    /// The UCUM unit of the values (`mV`, `uV`, `1`).
    pub unit: String,
    /// The value a sample of zero stands for (FHIR `origin`).
    pub origin: Decimal,
    /// What each sample is multiplied by before the origin is added (FHIR `factor`); none is 1.
    pub factor: Option<Decimal>,
    pub rate: SampleRate,
    /// The range the device can measure, in the unit, when it says (HL7 `MDC_ATTR_DATA_RANGE`).
    pub lower_limit: Option<Decimal>,
    pub upper_limit: Option<Decimal>,
    pub samples: Vec<Sample>,
}

impl SampledSeries {
    /// A series of plain values with origin 0 and no factor.
    pub fn of_values(unit: &str, rate: SampleRate, samples: Vec<Sample>) -> SampledSeries {
        SampledSeries {
            unit: unit.to_string(),
            origin: Decimal::integer(0),
            factor: None,
            rate,
            lower_limit: None,
            upper_limit: None,
            samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> SampleRate {
        SampleRate::new(text.parse().unwrap()).unwrap()
    }

    #[test]
    fn periods_are_exact_when_they_terminate_and_rounded_to_the_nanosecond_otherwise() {
        assert_eq!(rate("512").period_ms(), (Decimal::new(1953125, -6), true));
        assert_eq!(rate("500").period_ms(), (Decimal::new(2, 0), true));
        assert_eq!(rate("130").period_ms(), (Decimal::new(7692308, -6), false));
        assert_eq!(rate("300").period_ms(), (Decimal::new(3333333, -6), false));
        assert_eq!(rate("150.0").period_ms(), (Decimal::new(6666667, -6), false));
        assert_eq!(rate("1").period_ms(), (Decimal::new(1000, 0), true));
        assert_eq!(rate("2.5").period_ms(), (Decimal::new(400, 0), true));
        // Below one sample per second is no waveform: refused, so no payload becomes an Observation
        // per sample.
        assert_eq!(SampleRate::new("0.5".parse().unwrap()), Err(SampleRateError));
        assert_eq!(SampleRate::new("0.999999".parse().unwrap()), Err(SampleRateError));
        // HealthKit's ECG rate.
        assert_eq!(rate("512.6171875").period_ms(), (Decimal::new(1950773, -6), false));
        assert!(SampleRate::new(Decimal::integer(0)).is_err());
        assert!(SampleRate::new(Decimal::integer(-5)).is_err());
    }

    #[test]
    fn offsets_come_from_the_exact_rate_not_the_rounded_period() {
        // 3000 samples at 300 Hz are exactly 10 s; 3000 × 3.333333 ms would be 9.999999 s.
        assert_eq!(rate("300").offset_of(3000), TimeDelta::seconds(10));
        assert_eq!(rate("130").offset_of(1), TimeDelta::nanoseconds(7_692_308));
        assert_eq!(rate("130").offset_of(1300), TimeDelta::seconds(10));
    }

    #[test]
    fn pieces_hold_ten_seconds_and_at_most_ten_thousand_samples() {
        assert_eq!(rate("300").piece_len(), 3000);
        assert_eq!(rate("130").piece_len(), 1300);
        assert_eq!(rate("2000").piece_len(), 10_000);
        // The slowest waveform (1 sample per second) still holds ten samples per piece.
        assert_eq!(rate("1").piece_len(), 10);
    }
}
