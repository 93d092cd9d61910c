//! Vendor time formats: ISO 8601 with or without an offset, unix seconds, milliseconds and nanoseconds,
//! and iHealth's "local wall clock as unix seconds". The local digits a device showed are kept with the
//! offset that places them, as everywhere in the model.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde_json::Value as Json;
use thiserror::Error;

use super::spec::{TimeFormat, ZoneUnit};
use crate::model::{ClockQuality, OffsetSource, Timestamp};

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct TimeError(pub String);

/// Where the offset of a time written without one comes from, in order.
#[derive(Debug, Clone, Copy)]
pub struct ZoneRule {
    /// The payload's own statement (`zone_path`).
    pub stated: Option<FixedOffset>,
    /// The mapping's `zone`.
    pub fixed: Option<FixedOffset>,
    /// The bridge's configured default.
    pub default: FixedOffset,
}

impl ZoneRule {
    fn local_offset(&self) -> (FixedOffset, OffsetSource) {
        match (self.stated, self.fixed) {
            (Some(offset), _) => (offset, OffsetSource::Device),
            (None, Some(offset)) => (offset, OffsetSource::Envelope),
            (None, None) => (self.default, OffsetSource::ConfiguredDefault),
        }
    }

    /// For an absolute instant, only how to show it: the stated or fixed offset, else UTC.
    fn display_offset(&self) -> FixedOffset {
        self.stated
            .or(self.fixed)
            .unwrap_or_else(|| FixedOffset::east_opt(0).unwrap_or(Utc.fix()))
    }
}

use chrono::Offset;

/// A bare number of `unit` as a UTC offset (`-18000` seconds is `-05:00`); `hours` also takes the
/// written forms of [`parse_offset`].
pub fn parse_offset_in(text: &str, unit: ZoneUnit) -> Result<FixedOffset, String> {
    let per = match unit {
        ZoneUnit::Hours => return parse_offset(text),
        ZoneUnit::Minutes => 60,
        ZoneUnit::Seconds => 1,
    };
    let amount: i64 = text
        .trim()
        .parse()
        .map_err(|_| "is not a whole number of the zone unit".to_string())?;
    amount
        .checked_mul(per)
        .and_then(|seconds| i32::try_from(seconds).ok())
        .and_then(FixedOffset::east_opt)
        .ok_or_else(|| "is not a UTC offset (at most 24 hours either way)".to_string())
}

/// True when a strftime-like pattern has no error and states a date and a time of day.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "{pattern:?} is not a valid pattern (chrono's strftime syntax, e.g. %m/%d/%Y %I:%M:%S %p)"
        ));
    }
    Ok(())
}

/// `Z`, `+01:00`, `-0800`, or whole hours (`-8`, `1`, `+5`).
pub fn parse_offset(text: &str) -> Result<FixedOffset, String> {
    let text = text.trim();
    let digits = text.trim_start_matches(['+', '-']);
    if digits.len() <= 2 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let hours: i32 = text.parse().map_err(|_| "is not a UTC offset".to_string())?;
        return FixedOffset::east_opt(hours.saturating_mul(3600))
            .ok_or_else(|| format!("{hours} hours is not a UTC offset"));
    }
    crate::model::parse_utc_offset(text)
}

fn number_text(value: &Json) -> Option<String> {
    match value {
        Json::Number(n) => Some(n.to_string()),
        Json::String(s) => Some(s.trim().to_string()),
        _ => None,
    }
}

/// A whole number of units since 1970 (numbers may be written with a fraction of zero, `1.4e9`).
fn epoch_units(value: &Json) -> Result<i128, TimeError> {
    let text = number_text(value).ok_or_else(|| TimeError("is not a number".into()))?;
    if text.len() > 30 {
        return Err(TimeError("is out of range".into()));
    }
    if let Ok(whole) = text.parse::<i128>() {
        return Ok(whole);
    }
    let float: f64 = text.parse().map_err(|_| TimeError("is not a number".into()))?;
    if float.fract() != 0.0 || !float.is_finite() {
        return Err(TimeError("is not a whole number".into()));
    }
    Ok(float as i128)
}

fn scaled(units: i128, nanos_per_unit: i128) -> Result<i128, TimeError> {
    units
        .checked_mul(nanos_per_unit)
        .ok_or_else(|| TimeError("is out of range".into()))
}

fn instant_from_nanos(nanos: i128) -> Result<DateTime<Utc>, TimeError> {
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).map_err(|_| TimeError("is out of range".into()))?;
    let rest = u32::try_from(nanos.rem_euclid(1_000_000_000)).map_err(|_| TimeError("is out of range".into()))?;
    DateTime::from_timestamp(seconds, rest).ok_or_else(|| TimeError("is out of range".into()))
}

/// Parses one time value (`pattern`: the mapping's, for [`TimeFormat::Pattern`]).
pub fn parse(value: &Json, format: TimeFormat, pattern: Option<&str>, zone: &ZoneRule) -> Result<Timestamp, TimeError> {
    let absolute = |instant: DateTime<Utc>| {
        let offset = zone.display_offset();
        Timestamp {
            local: instant.with_timezone(&offset).naive_local(),
            offset,
            quality: ClockQuality::DeviceClock {
                offset: OffsetSource::Device,
            },
        }
    };
    match format {
        TimeFormat::UnixSeconds => Ok(absolute(instant_from_nanos(scaled(
            epoch_units(value)?,
            1_000_000_000,
        )?)?)),
        TimeFormat::UnixMillis => Ok(absolute(instant_from_nanos(scaled(epoch_units(value)?, 1_000_000)?)?)),
        TimeFormat::UnixNanos => Ok(absolute(instant_from_nanos(epoch_units(value)?)?)),
        TimeFormat::LocalUnixSeconds => {
            let local = instant_from_nanos(scaled(epoch_units(value)?, 1_000_000_000)?)?.naive_utc();
            let (offset, source) = zone.local_offset();
            Ok(Timestamp {
                local,
                offset,
                quality: ClockQuality::DeviceClock { offset: source },
            })
        }
        TimeFormat::Pattern => {
            let pattern = pattern.ok_or_else(|| TimeError("the mapping gives no time.pattern".into()))?;
            let text = value
                .as_str()
                .ok_or_else(|| TimeError(format!("is not text in the pattern {pattern:?}")))?
                .trim();
            if let Ok(stated) = DateTime::parse_from_str(text, pattern) {
                return Ok(Timestamp {
                    local: stated.naive_local(),
                    offset: *stated.offset(),
                    quality: ClockQuality::DeviceClock {
                        offset: OffsetSource::Device,
                    },
                });
            }
            let local = NaiveDateTime::parse_from_str(text, pattern)
                .map_err(|_| TimeError(format!("does not follow the pattern {pattern:?}")))?;
            let (offset, source) = zone.local_offset();
            Ok(Timestamp {
                local,
                offset,
                quality: ClockQuality::DeviceClock { offset: source },
            })
        }
        TimeFormat::Iso8601 => {
            let text = value
                .as_str()
                .ok_or_else(|| TimeError("is not an ISO 8601 date-time string".into()))?
                .trim();
            // RFC 3339, or with a `+0100` offset (not RFC 3339, but common), or without seconds.
            let stated = DateTime::parse_from_rfc3339(text).ok().or_else(|| {
                ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%.f%z"]
                    .iter()
                    .find_map(|pattern| DateTime::parse_from_str(text, pattern).ok())
            });
            if let Some(stated) = stated {
                return Ok(Timestamp {
                    local: stated.naive_local(),
                    offset: *stated.offset(),
                    quality: ClockQuality::DeviceClock {
                        offset: OffsetSource::Device,
                    },
                });
            }
            let local = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|pattern| NaiveDateTime::parse_from_str(text, pattern).ok())
                .ok_or_else(|| TimeError("is not an ISO 8601 date-time (e.g. 2026-11-21T10:00:00+01:00)".into()))?;
            let (offset, source) = zone.local_offset();
            Ok(Timestamp {
                local,
                offset,
                quality: ClockQuality::DeviceClock { offset: source },
            })
        }
    }
}

/// A duration: seconds as a number, or `{value, unit}` with an Open mHealth duration unit.
pub fn duration(value: &Json) -> Result<chrono::Duration, String> {
    let (amount, unit) = match value {
        Json::Object(object) => (
            object
                .get("value")
                .and_then(number_text)
                .ok_or("has no numeric `value`")?,
            object
                .get("unit")
                .and_then(|u| u.as_str())
                .ok_or("has no `unit`")?
                .to_string(),
        ),
        other => (
            number_text(other).ok_or("is not a number of seconds")?,
            "sec".to_string(),
        ),
    };
    let amount: f64 = amount.parse().map_err(|_| "has a value that is not a number")?;
    let seconds_per = match unit.as_str() {
        "ps" => 1e-12,
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "sec" | "s" => 1.0,
        "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "wk" => 604_800.0,
        _ => return Err("its unit is not a fixed length of time (ps … wk)".into()),
    };
    let nanos = amount * seconds_per * 1e9;
    if !nanos.is_finite() || nanos.abs() > 1e18 {
        return Err("is out of range".into());
    }
    Ok(chrono::Duration::nanoseconds(nanos.round() as i64))
}

/// `t` moved by `by`, keeping its offset and clock quality.
pub fn shifted(t: &Timestamp, by: chrono::Duration) -> Option<Timestamp> {
    Some(Timestamp {
        local: t.local.checked_add_signed(by)?,
        ..*t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(stated: Option<i32>) -> ZoneRule {
        ZoneRule {
            stated: stated.and_then(|h| FixedOffset::east_opt(h * 3600)),
            fixed: None,
            default: FixedOffset::east_opt(0).unwrap(),
        }
    }

    #[test]
    fn formats_give_the_local_digits_and_offset() {
        let t = parse(
            &Json::from(1442491463),
            TimeFormat::LocalUnixSeconds,
            None,
            &rule(Some(-8)),
        )
        .unwrap();
        assert_eq!(
            t.instant().unwrap().to_rfc3339(),
            "2015-09-17T12:04:23-08:00",
            "iHealth MDate"
        );
        let t = parse(&Json::from(1433052383), TimeFormat::UnixSeconds, None, &rule(None)).unwrap();
        assert_eq!(t.instant().unwrap().to_rfc3339(), "2015-05-31T06:06:23+00:00");
        let t = parse(
            &Json::from("1423785600000000000"),
            TimeFormat::UnixNanos,
            None,
            &rule(None),
        )
        .unwrap();
        assert_eq!(t.instant().unwrap().to_rfc3339(), "2015-02-13T00:00:00+00:00");
        let t = parse(&Json::from(1431541739000i64), TimeFormat::UnixMillis, None, &rule(None)).unwrap();
        assert_eq!(t.local.to_string(), "2015-05-13 18:28:59");
        let t = parse(
            &Json::from("2025-01-30T15:49:55-08:00"),
            TimeFormat::Iso8601,
            None,
            &rule(None),
        )
        .unwrap();
        assert_eq!(
            (t.local.to_string(), t.offset.to_string()),
            ("2025-01-30 15:49:55".into(), "-08:00".into())
        );
        let t = parse(
            &Json::from("2015-05-13T18:28:59"),
            TimeFormat::Iso8601,
            None,
            &rule(None),
        )
        .unwrap();
        assert_eq!(
            t.quality,
            ClockQuality::DeviceClock {
                offset: OffsetSource::ConfiguredDefault
            }
        );
        assert!(parse(&Json::from("yesterday"), TimeFormat::Iso8601, None, &rule(None)).is_err());
        assert!(parse(&Json::from("12x"), TimeFormat::UnixSeconds, None, &rule(None)).is_err());
    }

    #[test]
    fn offsets_and_durations() {
        assert_eq!(parse_offset("-0800").unwrap().local_minus_utc(), -8 * 3600);
        assert_eq!(parse_offset("-8").unwrap().local_minus_utc(), -8 * 3600);
        assert_eq!(parse_offset("Z").unwrap().local_minus_utc(), 0);
        assert!(parse_offset("America/Los_Angeles").is_err());
        assert_eq!(
            duration(&serde_json::json!({"value": 1, "unit": "min"})).unwrap(),
            chrono::Duration::minutes(1)
        );
        assert_eq!(duration(&Json::from(90)).unwrap(), chrono::Duration::seconds(90));
        assert!(duration(&serde_json::json!({"value": 1, "unit": "Mo"})).is_err());
        // Garmin's `startTimeOffsetInSeconds: -18000`.
        assert_eq!(
            parse_offset_in("-18000", ZoneUnit::Seconds).unwrap().local_minus_utc(),
            -5 * 3600
        );
        assert_eq!(
            parse_offset_in("330", ZoneUnit::Minutes).unwrap().local_minus_utc(),
            19_800
        );
        assert!(parse_offset_in("90000", ZoneUnit::Seconds).is_err());
        assert!(parse_offset_in("-5.5", ZoneUnit::Minutes).is_err());
    }

    #[test]
    fn patterns_read_what_vendors_write() {
        // LibreLinkUp's `12/30/2022 4:50:40 AM`: no offset, the zone rule's.
        let pattern = Some("%m/%d/%Y %I:%M:%S %p");
        let t = parse(
            &Json::from("12/30/2022 4:50:40 AM"),
            TimeFormat::Pattern,
            pattern,
            &rule(Some(1)),
        )
        .unwrap();
        assert_eq!(t.instant().unwrap().to_rfc3339(), "2022-12-30T04:50:40+01:00");
        let t = parse(
            &Json::from("1/7/2023 12:05:00 PM"),
            TimeFormat::Pattern,
            pattern,
            &rule(None),
        )
        .unwrap();
        assert_eq!(t.local.to_string(), "2023-01-07 12:05:00");
        assert_eq!(
            t.quality,
            ClockQuality::DeviceClock {
                offset: OffsetSource::ConfiguredDefault
            }
        );
        // An offset in the pattern is the text's.
        let t = parse(
            &Json::from("30.12.2022 16:50 +0100"),
            TimeFormat::Pattern,
            Some("%d.%m.%Y %H:%M %z"),
            &rule(None),
        )
        .unwrap();
        assert_eq!(t.instant().unwrap().to_rfc3339(), "2022-12-30T16:50:00+01:00");
        assert!(parse(&Json::from("2022-12-30"), TimeFormat::Pattern, pattern, &rule(None)).is_err());
        assert!(parse(&Json::from("12/30/2022"), TimeFormat::Pattern, pattern, &rule(None)).is_err());
        assert!(check_pattern("%m/%d/%Y %I:%M:%S %p").is_ok());
        assert!(check_pattern("%Q").is_err());
    }
}
