//! When a measurement was taken, and how far that time can be trusted.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// Where the UTC offset of a device-local time came from. Bluetooth date-time fields carry no zone, so
/// the offset is always supplied from outside the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSource {
    /// The hub stated the device's offset in the envelope (`utcOffset`).
    Envelope,
    /// Nobody stated it; the bridge's configured default was used.
    ConfiguredDefault,
    /// The device stated its own offset (the CGM Session Start Time carries time zone and DST).
    Device,
}

/// Why the time of a measurement is the gateway's receipt time rather than the device's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDeviceTimeReason {
    /// The characteristic carried no timestamp (its flags said none follows).
    NotSent,
    /// The device sent a timestamp with an unknown part (year, month or day 0). The bridge does not
    /// invent the missing part.
    Incomplete,
    /// The device said its own clock is not set (PLX spot-check flags bit 4).
    ClockNotSet,
    /// The device's clock counts from an epoch the bridge cannot place (a Polar sensor's nanosecond
    /// counter).
    NoEpoch,
}

/// How a measurement's time was obtained: the clock quality a reviewer needs to judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockQuality {
    /// The device's own clock, in device-local time, with the offset from `offset`.
    DeviceClock { offset: OffsetSource },
    /// The device's clock plus a relative offset it reported (glucose time offset, CGM minutes since
    /// session start).
    DeviceClockWithRelativeOffset { offset: OffsetSource },
    /// The time the gateway received the data; the device gave no usable time.
    GatewayReceipt { reason: NoDeviceTimeReason },
}

/// A point in time as the device expressed it: the local wall-clock digits are kept exactly (the PHD
/// dedup identifier is built from them), together with the offset that places them on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub local: NaiveDateTime,
    pub offset: FixedOffset,
    pub quality: ClockQuality,
}

impl Timestamp {
    /// `local` with `offset` as an absolute instant. `None` only if the local time cannot be placed
    /// with that offset, which a fixed offset never causes.
    pub fn instant(&self) -> Option<DateTime<FixedOffset>> {
        self.local.and_local_timezone(self.offset).single()
    }

    /// A timestamp taken from the gateway's receipt time.
    pub fn gateway_receipt(received_at: DateTime<FixedOffset>, reason: NoDeviceTimeReason) -> Self {
        Timestamp {
            local: received_at.naive_local(),
            offset: *received_at.offset(),
            quality: ClockQuality::GatewayReceipt { reason },
        }
    }
}

/// The effective time of a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectiveTime {
    Instant(Timestamp),
    Period { start: Timestamp, end: Timestamp },
}

impl EffectiveTime {
    /// The time the dedup identifier and ordering use: the instant, or the start of the period.
    pub fn anchor(&self) -> &Timestamp {
        match self {
            EffectiveTime::Instant(t) => t,
            EffectiveTime::Period { start, .. } => start,
        }
    }

    /// The instant `delta` after the anchor, on the same clock (a later piece of a recording).
    pub fn shifted(&self, delta: chrono::TimeDelta) -> EffectiveTime {
        let anchor = self.anchor();
        EffectiveTime::Instant(Timestamp {
            local: anchor.local.checked_add_signed(delta).unwrap_or(anchor.local),
            ..*anchor
        })
    }
}

/// Parses `Z`, `+02:00`, `-05:30` (also without the colon).
pub fn parse_utc_offset(text: &str) -> Result<FixedOffset, String> {
    // Never the text itself: errors reach HTTP answers and logs, and a payload's text may be anything.
    let bad = || {
        format!(
            "{} characters that are not a UTC offset like +02:00, -05:30 or Z",
            text.chars().count()
        )
    };
    if text == "Z" {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    // Exactly `HH:MM` or `HHMM`.
    let digits = match (rest.len(), rest.as_bytes().get(2)) {
        (5, Some(b':')) => format!(
            "{}{}",
            rest.get(..2).unwrap_or_default(),
            rest.get(3..).unwrap_or_default()
        ),
        (4, _) => rest.to_string(),
        _ => return Err(bad()),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| bad())?;
    if hours > 14 || minutes > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("+02:00").unwrap().local_minus_utc(), 7200);
        assert_eq!(parse_utc_offset("-0530").unwrap().local_minus_utc(), -19800);
        assert_eq!(parse_utc_offset("Z").unwrap().local_minus_utc(), 0);
        for bad in [
            "+2", "02:00", "+15:00", "+02:60", "+0a:00", "", "+", "+12:3:4", "+:1234:", "+12::34", "z", "+1:234",
        ] {
            assert!(parse_utc_offset(bad).is_err(), "{bad}");
        }
    }
}
