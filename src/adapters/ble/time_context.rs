//! Turns device-local Bluetooth times into model timestamps with their clock quality.

use chrono::{DateTime, Duration, FixedOffset};

use super::date_time::DeviceDateTime;
use crate::model::{ClockQuality, EffectiveTime, NoDeviceTimeReason, OffsetSource, Timestamp};

/// What the envelope tells about time: when the hub received the data, and the device's UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeContext {
    pub received_at: DateTime<FixedOffset>,
    pub device_offset: FixedOffset,
    pub offset_source: OffsetSource,
}

impl TimeContext {
    /// The time of a measurement whose timestamp field is `sent` (`None` when the flags say none
    /// follows). An incomplete date (year, month or day 0) is not completed by guessing: the receipt
    /// time is used and the clock quality says why.
    pub fn measurement_time(&self, sent: Option<DeviceDateTime>) -> EffectiveTime {
        let timestamp = match sent {
            None => Timestamp::gateway_receipt(self.received_at, NoDeviceTimeReason::NotSent),
            Some(device) => match device.to_naive() {
                Some(local) => Timestamp {
                    local,
                    offset: self.device_offset,
                    quality: ClockQuality::DeviceClock {
                        offset: self.offset_source,
                    },
                },
                None => Timestamp::gateway_receipt(self.received_at, NoDeviceTimeReason::Incomplete),
            },
        };
        EffectiveTime::Instant(timestamp)
    }

    /// A device base time plus a relative offset it reported. With an incomplete base, the receipt
    /// time is used (the offset is then meaningless).
    pub fn offset_time(&self, base: DeviceDateTime, offset: Duration) -> EffectiveTime {
        match base.to_naive().and_then(|local| local.checked_add_signed(offset)) {
            Some(local) => EffectiveTime::Instant(Timestamp {
                local,
                offset: self.device_offset,
                quality: ClockQuality::DeviceClockWithRelativeOffset {
                    offset: self.offset_source,
                },
            }),
            None => EffectiveTime::Instant(Timestamp::gateway_receipt(
                self.received_at,
                NoDeviceTimeReason::Incomplete,
            )),
        }
    }
}
