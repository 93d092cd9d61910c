//! SampledData as MedTech writes it (iomt-fhir `SampledDataProcessor`): one slot per `period` from the
//! window's start to its end inclusive, each holding the last value that falls in it, `E` where none
//! does, joined by single spaces. Values are copied as sent, never re-formatted.

use chrono::{DateTime, TimeDelta, Utc};

/// A period in milliseconds (a decimal, as written) in nanoseconds; `None` when not positive.
pub fn period_nanos(period_ms: f64) -> Option<i64> {
    let nanos = (period_ms * 1_000_000.0).round();
    (nanos >= 1.0 && nanos < i64::MAX as f64).then_some(nanos as i64)
}

/// The data string over [start, end] for `values` sorted by time.
pub fn build(values: &[(DateTime<Utc>, String)], start: DateTime<Utc>, end: DateTime<Utc>, period: i64) -> String {
    let span = (end - start).num_nanoseconds().unwrap_or(i64::MAX).max(0);
    let slots = usize::try_from(span / period + 1).unwrap_or(usize::MAX);
    let mut data: Vec<&str> = vec!["E"; slots.min(10_000_000)];
    for (time, value) in values {
        let Some(offset) = (*time - start).num_nanoseconds() else {
            continue;
        };
        if offset < 0 {
            continue;
        }
        if let Some(slot) = usize::try_from(offset / period).ok().and_then(|k| data.get_mut(k)) {
            *slot = value;
        }
    }
    data.join(" ")
}

/// The values a data string holds: slot k at `start + k·period`, `E` slots left out.
pub fn decode(data: &str, start: DateTime<Utc>, period: i64) -> Vec<(DateTime<Utc>, String)> {
    data.split_whitespace()
        .enumerate()
        .filter(|(_, token)| *token != "E")
        .filter_map(|(k, token)| {
            let offset = i64::try_from(k).ok()?.checked_mul(period)?;
            Some((start + TimeDelta::nanoseconds(offset), token.to_string()))
        })
        .collect()
}

/// Existing values and new ones, sorted by time; at the same time the existing value stays (MedTech
/// `MergeData`: "Collision, take one").
pub fn merge(existing: Vec<(DateTime<Utc>, String)>, new: &[(DateTime<Utc>, String)]) -> Vec<(DateTime<Utc>, String)> {
    let mut merged = existing;
    for (time, value) in new {
        if !merged.iter().any(|(t, _)| t == time) {
            merged.push((*time, value.clone()));
        }
    }
    merged.sort_by_key(|(t, _)| *t);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn an_hour_at_one_second_has_3600_slots_and_the_value_in_its_second() {
        let start = at("2023-10-09T19:00:00Z");
        let end = start + TimeDelta::hours(1) - TimeDelta::nanoseconds(100);
        let data = build(
            &[(at("2023-10-09T19:18:23.999Z"), "120".into())],
            start,
            end,
            1_000_000_000,
        );
        let tokens: Vec<&str> = data.split(' ').collect();
        assert_eq!(tokens.len(), 3600);
        assert_eq!(tokens[1103], "120");
        assert_eq!(tokens.iter().filter(|t| **t == "E").count(), 3599);
        assert!(!data.ends_with(' '));
    }

    #[test]
    fn the_last_value_in_a_slot_wins_but_existing_wins_an_exact_tie() {
        let start = at("2023-10-09T19:00:00Z");
        let end = start + TimeDelta::seconds(4) - TimeDelta::nanoseconds(100);
        let values = vec![
            (at("2023-10-09T19:00:01Z"), "1".into()),
            (at("2023-10-09T19:00:01.5Z"), "2".into()),
        ];
        assert_eq!(build(&values, start, end, 1_000_000_000), "E 2 E E");

        let existing = decode("E 7 E 9", start, 1_000_000_000);
        assert_eq!(
            existing,
            vec![
                (at("2023-10-09T19:00:01Z"), "7".into()),
                (at("2023-10-09T19:00:03Z"), "9".into())
            ]
        );
        let new = vec![
            (at("2023-10-09T19:00:01Z"), "8".into()),
            (at("2023-10-09T19:00:02Z"), "5".into()),
        ];
        let merged = merge(existing, &new);
        assert_eq!(build(&merged, start, end, 1_000_000_000), "E 7 5 9");
        // A later time inside an occupied slot is a new value, and it is the slot's last.
        let later = merge(merged, &[(at("2023-10-09T19:00:03.2Z"), "4".into())]);
        assert_eq!(build(&later, start, end, 1_000_000_000), "E 7 5 4");
    }

    #[test]
    fn periods_in_milliseconds() {
        assert_eq!(period_nanos(1000.0), Some(1_000_000_000));
        assert_eq!(period_nanos(0.5), Some(500_000));
        assert_eq!(period_nanos(0.0), None);
        assert_eq!(period_nanos(-5.0), None);
    }
}
