//! A time's local digits as FHIR and the PHD dedup identifier write them, without chrono's formatter
//! (which interprets a format for every time of every Bundle; the mapper writes several per
//! Observation). Years outside 0–9999 are left to chrono, which writes them with a sign.

use std::fmt::Write;

use chrono::{Datelike, NaiveDateTime, Timelike};

/// Appends `2026-08-22T08:42:36`, then `.fff`, `.ffffff` or `.fffffffff` when the time has a fraction
/// of a second (chrono's `%Y-%m-%dT%H:%M:%S%.f`).
pub fn push_iso(out: &mut String, time: &NaiveDateTime) {
    if !(0..=9999).contains(&time.year()) {
        let _ = write!(out, "{}", time.format("%Y-%m-%dT%H:%M:%S%.f"));
        return;
    }
    push_digits(out, time.year() as u32, 4);
    out.push('-');
    push_digits(out, time.month(), 2);
    out.push('-');
    push_digits(out, time.day(), 2);
    out.push('T');
    push_digits(out, time.hour(), 2);
    out.push(':');
    push_digits(out, time.minute(), 2);
    out.push(':');
    push_digits(out, second(time), 2);
    // A leap second is carried as nanoseconds past 1e9.
    let nanos = time.nanosecond() % 1_000_000_000;
    if nanos == 0 {
    } else if nanos % 1_000_000 == 0 {
        out.push('.');
        push_digits(out, nanos / 1_000_000, 3);
    } else if nanos % 1_000 == 0 {
        out.push('.');
        push_digits(out, nanos / 1_000, 6);
    } else {
        out.push('.');
        push_digits(out, nanos, 9);
    }
}

/// Appends `20260822084236` (chrono's `%Y%m%d%H%M%S`).
pub fn push_compact(out: &mut String, time: &NaiveDateTime) {
    if !(0..=9999).contains(&time.year()) {
        let _ = write!(out, "{}", time.format("%Y%m%d%H%M%S"));
        return;
    }
    push_digits(out, time.year() as u32, 4);
    push_digits(out, time.month(), 2);
    push_digits(out, time.day(), 2);
    push_digits(out, time.hour(), 2);
    push_digits(out, time.minute(), 2);
    push_digits(out, second(time), 2);
}

/// The second of the minute; 60 in a leap second (chrono carries it as nanoseconds past 1e9).
fn second(time: &NaiveDateTime) -> u32 {
    time.second() + u32::from(time.nanosecond() >= 1_000_000_000)
}

/// Appends a UTC offset given in seconds as `+hh:mm` or `-hh:mm` (chrono's offsets are under a day).
pub fn push_offset(out: &mut String, seconds: i32) {
    out.push(if seconds < 0 { '-' } else { '+' });
    let minutes = seconds.unsigned_abs() / 60;
    push_digits(out, minutes / 60, 2);
    out.push(':');
    push_digits(out, minutes % 60, 2);
}

/// `value` as exactly `width` decimal digits, zero-padded (the callers' values fit).
fn push_digits(out: &mut String, value: u32, width: u32) {
    let mut divisor = 10u32.pow(width.saturating_sub(1));
    while divisor > 0 {
        out.push(char::from(b'0' + ((value / divisor) % 10) as u8));
        divisor /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeDelta};

    fn iso(time: &NaiveDateTime) -> String {
        let mut out = String::new();
        push_iso(&mut out, time);
        out
    }

    fn compact(time: &NaiveDateTime) -> String {
        let mut out = String::new();
        push_compact(&mut out, time);
        out
    }

    #[test]
    fn the_digits_are_chronos_for_every_kind_of_time() {
        let base = NaiveDate::from_ymd_opt(2026, 8, 22)
            .unwrap()
            .and_hms_opt(8, 42, 36)
            .unwrap();
        let mut times = vec![
            base,
            base + TimeDelta::milliseconds(250),
            base + TimeDelta::microseconds(1),
            base + TimeDelta::nanoseconds(7),
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 999_999_999)
                .unwrap(),
            NaiveDate::from_ymd_opt(10000, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            NaiveDate::from_ymd_opt(-1, 3, 4).unwrap().and_hms_opt(5, 6, 7).unwrap(),
            // A leap second.
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_milli_opt(23, 59, 59, 1_500)
                .unwrap(),
        ];
        // A spread of days, hours and fractions over a century.
        let mut t = NaiveDate::from_ymd_opt(1970, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        for step in 0..2000i64 {
            t += TimeDelta::seconds(1_577_923 + step) + TimeDelta::nanoseconds(step * 1_234_567);
            times.push(t);
        }
        for time in &times {
            assert_eq!(iso(time), time.format("%Y-%m-%dT%H:%M:%S%.f").to_string(), "{time:?}");
            assert_eq!(compact(time), time.format("%Y%m%d%H%M%S").to_string(), "{time:?}");
        }
        assert_eq!(iso(&base), "2026-08-22T08:42:36");
        assert_eq!(iso(&(base + TimeDelta::milliseconds(250))), "2026-08-22T08:42:36.250");
        assert_eq!(compact(&base), "20260822084236");
    }

    #[test]
    fn effective_times_carry_their_offset_as_rfc_3339_does() {
        for (text, expected) in [
            ("2024-05-13T09:57:00Z", "2024-05-13T09:57:00+00:00"),
            ("2024-05-13T09:57:00.250-05:30", "2024-05-13T09:57:00.250-05:30"),
            ("2024-05-13T09:57:00+14:00", "2024-05-13T09:57:00+14:00"),
            ("2024-05-13T09:57:00.000001-00:45", "2024-05-13T09:57:00.000001-00:45"),
        ] {
            let at = chrono::DateTime::parse_from_rfc3339(text).unwrap();
            let timestamp = crate::model::Timestamp::gateway_receipt(at, crate::model::NoDeviceTimeReason::NotSent);
            assert_eq!(super::super::date_time(&timestamp), expected);
        }
    }
}
