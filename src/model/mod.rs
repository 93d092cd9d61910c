//! The canonical model: every adapter produces it, the mapper consumes it. It knows nothing of FHIR
//! or of any wire format.

mod circumstances;
mod decimal;
mod device;
mod document;
mod measurement;
mod namespace;
mod normalized;
mod patient;
mod reading;
mod recording;
mod statistic;
mod time;
mod waveform;

pub use circumstances::{Circumstances, Term, TermCode};
pub use decimal::{Decimal, DecimalParseError};
pub use device::{
    BluetoothAddress, DeviceIdentity, DeviceKind, DevicePart, Eui64, GatewayIdentity, HardwareIdError, InstanceId,
    SHARED_DEVICE_NAMESPACE,
};
pub use document::{Document, DocumentKind};
pub use measurement::{AbsentReason, Component, Flag, MdcCode, Measurement, QualityFlag, Quantity, Value};
pub use namespace::namespace_system;
pub use normalized::NormalizedMeasurement;
pub use patient::PatientRef;
pub use reading::{CareLocation, Origin, Reading};
pub use recording::split_long_recordings;
pub use statistic::Statistic;
pub use time::{parse_utc_offset, ClockQuality, EffectiveTime, NoDeviceTimeReason, OffsetSource, Timestamp};
pub use waveform::{
    Sample, SampleRate, SampleRateError, SampledSeries, MAX_PIECE_SAMPLES, MAX_PIECE_SECONDS, PERIOD_DECIMALS,
};
