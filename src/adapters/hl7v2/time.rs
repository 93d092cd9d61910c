//! HL7 v2 `DTM` date-times: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]` (HL7 v2.6 §2A.22).
//!
//! A measurement time needs at least minutes. The offset is optional in the data type; when a field
//! has none, the sender's local time applies, and the caller decides which offset that is (MSH-7's, as
//! IHE PCD recommends, else a configured default).

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};

/// A parsed `DTM`: the local digits, and the offset only if the text carried one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hl7DateTime {
    pub local: NaiveDateTime,
    pub offset: Option<FixedOffset>,
}

/// Parses a `DTM` precise to at least the minute. The error says what is wrong with the text.
pub fn parse_dtm(text: &str) -> Result<Hl7DateTime, String> {
    let bad = |why: &str| format!("is not an HL7 date-time YYYYMMDDHHMM[SS[.SSSS]][+/-ZZZZ]: {why}");
    let (digits, offset) = match text.find(['+', '-']) {
        Some(at) => (
            &text[..at],
            Some(parse_offset(&text[at..]).ok_or_else(|| bad("bad offset"))?),
        ),
        None => (text, None),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("only digits are allowed before the offset"));
    }
    if whole.len() < 12 {
        return Err(bad(
            "a measurement time needs at least year, month, day, hour and minute",
        ));
    }
    if !matches!(whole.len(), 12 | 14) || fraction.len() > 4 || (!fraction.is_empty() && whole.len() != 14) {
        return Err(bad("wrong number of digits"));
    }
    let number = |range: std::ops::Range<usize>| whole.get(range).and_then(|s| s.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute)) =
        (number(0..4), number(4..6), number(6..8), number(8..10), number(10..12))
    else {
        return Err(bad("unreadable digits"));
    };
    let second = if whole.len() == 14 {
        number(12..14).ok_or_else(|| bad("unreadable seconds"))?
    } else {
        0
    };
    let nanos = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}")
            .parse::<u32>()
            .map_err(|_| bad("unreadable fraction"))?
    };
    let local = i32::try_from(year)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
        .and_then(|d| d.and_hms_nano_opt(hour, minute, second, nanos))
        .ok_or_else(|| bad("not a calendar date and time"))?;
    Ok(Hl7DateTime { local, offset })
}

/// `+HHMM` / `-HHMM`.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = text.get(1..)?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits.get(..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..)?.parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcd_example_times() {
        let t = parse_dtm("20120109175417-0600").unwrap();
        assert_eq!(t.local.to_string(), "2012-01-09 17:54:17");
        assert_eq!(t.offset, FixedOffset::west_opt(6 * 3600));
        let t = parse_dtm("20150122115000").unwrap();
        assert_eq!((t.local.to_string().as_str(), t.offset), ("2015-01-22 11:50:00", None));
        let t = parse_dtm("20110602045842+0000").unwrap();
        assert_eq!(t.offset, FixedOffset::east_opt(0));
        assert_eq!(
            parse_dtm("201506021205").unwrap().local.to_string(),
            "2015-06-02 12:05:00"
        );
        assert_eq!(
            parse_dtm("20150602120501.25+0100").unwrap().local.to_string(),
            "2015-06-02 12:05:01.250"
        );
    }

    #[test]
    fn rejects_what_is_not_a_measurement_time() {
        for bad in [
            "",
            "2015",
            "20150122",
            "2015012211",
            "20150122115000-06",
            "2015012211500x",
            "20151322115000",
            "20150122115000.12345",
            "201501221150.5",
            "20150122115000+2500",
        ] {
            assert!(parse_dtm(bad).is_err(), "{bad}");
        }
        assert!(parse_dtm("2015").unwrap_err().contains("at least"));
    }
}
