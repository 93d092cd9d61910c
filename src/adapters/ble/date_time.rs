//! The Bluetooth Date Time structure (characteristic 0x2A08), embedded in most measurements.
//!
//! Seven bytes, no time zone: year (u16, 0 = unknown, else 1582–9999), month (0 = unknown), day
//! (0 = unknown), hours, minutes, seconds — device-local wall-clock time.

use chrono::{NaiveDate, NaiveDateTime};

/// A device date-time as sent, with its unknown parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceDateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hours: u8,
    pub minutes: u8,
    pub seconds: u8,
}

/// The fields' value ranges, for the error message that names the broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTimeRuleViolation(pub String);

impl DeviceDateTime {
    /// Length on the wire.
    pub const LEN: usize = 7;

    /// Checks each field against the range the specification allows.
    pub fn validate(&self) -> Result<(), DateTimeRuleViolation> {
        let fail = |rule: String| Err(DateTimeRuleViolation(rule));
        if self.year != 0 && !(1582..=9999).contains(&self.year) {
            return fail(format!("year {} is outside 1582–9999 (0 = unknown)", self.year));
        }
        if self.month > 12 {
            return fail(format!("month {} is outside 1–12 (0 = unknown)", self.month));
        }
        if self.day > 31 {
            return fail(format!("day {} is outside 1–31 (0 = unknown)", self.day));
        }
        if self.hours > 23 || self.minutes > 59 || self.seconds > 59 {
            return fail(format!(
                "time {:02}:{:02}:{:02} is not a valid time of day",
                self.hours, self.minutes, self.seconds
            ));
        }
        if self.is_complete() && self.to_naive().is_none() {
            return fail(format!(
                "{}-{:02}-{:02} is not a calendar date",
                self.year, self.month, self.day
            ));
        }
        Ok(())
    }

    /// True when year, month and day are all known.
    pub fn is_complete(&self) -> bool {
        self.year != 0 && self.month != 0 && self.day != 0
    }

    /// The local date-time, when every part is known and valid.
    pub fn to_naive(&self) -> Option<NaiveDateTime> {
        if !self.is_complete() {
            return None;
        }
        NaiveDate::from_ymd_opt(i32::from(self.year), u32::from(self.month), u32::from(self.day))?.and_hms_opt(
            u32::from(self.hours),
            u32::from(self.minutes),
            u32::from(self.seconds),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(year: u16, month: u8, day: u8) -> DeviceDateTime {
        DeviceDateTime {
            year,
            month,
            day,
            hours: 8,
            minutes: 42,
            seconds: 36,
        }
    }

    #[test]
    fn unknown_parts_are_valid_but_incomplete() {
        let nordic = dt(0, 4, 17);
        assert_eq!(nordic.validate(), Ok(()));
        assert!(!nordic.is_complete());
        assert_eq!(nordic.to_naive(), None);
    }

    #[test]
    fn out_of_range_fields_name_the_rule() {
        assert!(dt(1200, 1, 1).validate().unwrap_err().0.contains("year 1200"));
        assert!(dt(2026, 13, 1).validate().unwrap_err().0.contains("month 13"));
        assert!(dt(2026, 2, 30).validate().unwrap_err().0.contains("2026-02-30"));
    }

    #[test]
    fn complete_dates_keep_their_digits() {
        assert_eq!(dt(2026, 8, 22).to_naive().unwrap().to_string(), "2026-08-22 08:42:36");
    }
}
