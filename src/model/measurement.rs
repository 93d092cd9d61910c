//! What was measured: coded measurements with exact values, components, time and quality.

use std::fmt;

use super::decimal::Decimal;
use super::time::EffectiveTime;

/// An ISO/IEEE 11073-10101 (MDC) code in its 32-bit form: `partition << 16 | term`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MdcCode(pub u32);

impl MdcCode {
    /// Builds the 32-bit code from a nomenclature partition and a term code.
    pub const fn from_partition(partition: u16, term: u16) -> Self {
        MdcCode(((partition as u32) << 16) | term as u32)
    }
}

impl fmt::Display for MdcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A value with its UCUM unit (`mm[Hg]`, `/min`, `Cel`, `kg`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    pub value: Decimal,
    pub unit: String,
}

impl Quantity {
    pub fn new(value: Decimal, unit: &str) -> Self {
        Quantity {
            value,
            unit: unit.to_string(),
        }
    }
}

/// Why a measurement has no value. Each reason is kept distinct here; the mapper decides how a
/// receiver sees it (FHIR `dataAbsentReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsentReason {
    /// IEEE 11073 NaN: the device could not produce a number.
    NotANumber,
    /// IEEE 11073 NRes: the value cannot be expressed at this resolution.
    NotAtThisResolution,
    PositiveInfinity,
    NegativeInfinity,
    /// A float bit pattern reserved for future use.
    ReservedValue,
    /// The device reported that the measurement itself failed (weight/body composition 0xFFFF).
    MeasurementUnsuccessful,
    /// The device sent a number no living person can have (body fat 0 %, SpO2 above 100 %): a
    /// placeholder or a device fault, kept out of the value (the code table's plausible ranges).
    Implausible,
    /// The device has no information to give (IHE PCD-09 OBX-8 `NI`).
    NoInformation,
    /// Not available now, expected later (OBX-8 `NAV`).
    TemporarilyUnavailable,
    /// The function is there but was switched off (OBX-8 `OFF`).
    SwitchedOff,
}

/// One named bit of a device status word (an 11073 BITs attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The bit number in the 11073 attribute (ASN.1 numbering, the `n` of the PHD IG's
    /// `<attribute>.<n>` codes). It is not always the Bluetooth bit number: each decoder maps
    /// Bluetooth bits to 11073 bits by name, from a table.
    pub bit: u8,
    /// The PHD IG's name for the bit (ASN1ToHL7 display), e.g. `body-movement`.
    pub name: &'static str,
    pub set: bool,
}

/// The value of a measurement or of one of its components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Quantity(Quantity),
    /// A coded value from the MDC nomenclature (e.g. meal context "preprandial").
    Coded(MdcCode),
    /// A coded value as a sender gave it: an MDC code, its text, or both (HL7 v2 `CWE` such as
    /// `^pump-status-infusing`, a vendor term with no code).
    Concept {
        code: Option<MdcCode>,
        text: Option<String>,
    },
    Text(String),
    /// A coded value in a system other than MDC, with the sender's word (HL7 PHR's ECG classification
    /// "atrialFibrillation").
    Term(super::circumstances::Term),
    /// Status bits, each named.
    Flags(Vec<Flag>),
    /// A waveform: samples at a fixed rate (an ECG lead, a pleth wave).
    Samples(super::waveform::SampledSeries),
    /// A point in time that is the finding itself (an implant's implant date, a battery check's time).
    DateTime(super::time::Timestamp),
    Absent(AbsentReason),
}

/// A part of a compound measurement (systolic, diastolic and mean of a blood pressure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub code: MdcCode,
    /// The sender's name for the component, when it gave one (the identity of a pending code 0).
    pub label: Option<String>,
    pub value: Value,
}

impl Component {
    pub fn new(code: MdcCode, value: Value) -> Self {
        Component {
            code,
            label: None,
            value,
        }
    }
}

/// Quality statements a device makes about one measurement (11073 MeasurementStatus and the
/// Bluetooth status fields that correspond to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QualityFlag {
    /// The device says the value is invalid.
    Invalid,
    Questionable,
    /// The device says no measurement was available.
    NotAvailable,
    CalibrationOngoing,
    /// Test data, not from a patient.
    TestData,
    /// Demonstration data, not from a patient.
    DemoData,
    /// An early estimate that the device will refine.
    EarlyEstimate,
    /// A reading taken while the measurement is still in progress (intermediate cuff pressure).
    Intermediate,
    /// Below the range the device can measure: the value is the range's floor, not a measurement
    /// (a CGM's "LOW").
    BelowRange,
    /// Above the range the device can measure (a CGM's "HIGH").
    AboveRange,
}

impl QualityFlag {
    /// The flag of a mapping file's name for it (`questionable`, `below-range`, …).
    pub fn from_name(name: &str) -> Option<QualityFlag> {
        Some(match name {
            "invalid" => QualityFlag::Invalid,
            "questionable" => QualityFlag::Questionable,
            "calibration-ongoing" => QualityFlag::CalibrationOngoing,
            "test-data" => QualityFlag::TestData,
            "demo-data" => QualityFlag::DemoData,
            "early-estimate" => QualityFlag::EarlyEstimate,
            "below-range" => QualityFlag::BelowRange,
            "above-range" => QualityFlag::AboveRange,
            _ => return None,
        })
    }
}

/// One coded measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// The MDC code; `MdcCode(0)` when the sender marks the code as pending assignment (IHE PCD), in
    /// which case `label` is the identity.
    pub code: MdcCode,
    /// The sender's name for the measurement (an MDC reference id such as `MDC_FLOW_FLUID_PUMP`).
    pub label: Option<String>,
    /// The value; `None` for a compound measurement whose values are all in `components`.
    pub value: Option<Value>,
    pub components: Vec<Component>,
    pub time: EffectiveTime,
    pub quality: Vec<QualityFlag>,
    /// 11073 supplemental types that qualify the code (e.g. spot-check vs. fast/slow averaging). They
    /// are part of the measurement's identity: two readings differing only here are different.
    pub supplemental_types: Vec<MdcCode>,
    /// Index, within the same [`super::Reading`], of the measurement this one qualifies (a blood
    /// pressure status word qualifies the blood pressure).
    pub qualifies: Option<usize>,
    /// Where on the body, in which position, and the person's note (Open mHealth).
    pub circumstances: super::circumstances::Circumstances,
    /// The containment path of the VMD or channel that measured it (`[1, 2, 1]`), for point-of-care
    /// devices; empty when the device measured it as a whole.
    pub device_part: Vec<u32>,
    /// Where in the payload it was read, for reasons (`record 3 @.value`, `OBX segment 12`,
    /// `notifications[1]`); never its value.
    pub source: Option<String>,
    /// A fact about the device rather than a finding about the patient (its network address, battery,
    /// rack position, drug library): its subject is the Device, never the patient's chart.
    pub about_device: bool,
    /// Which instance of a repeated group it belongs to (IHE PCD-09 OBX-4: lead 2, zone 3, episode 7):
    /// part of its identity, as the same code repeats once per instance.
    pub instance: Option<u32>,
    /// A summary of many readings over the measurement's period (a night's average), not a reading.
    pub statistic: Option<super::statistic::Statistic>,
    /// What the measurement is, in a system other than MDC, where MDC has no code for it (HL7 PHR's
    /// `ecg-codes#classification`); then `code` is 0 and claims nothing.
    pub code_outside_mdc: Option<super::circumstances::TermCode>,
}

impl Measurement {
    fn new(code: MdcCode, value: Option<Value>, time: EffectiveTime) -> Self {
        Measurement {
            code,
            label: None,
            value,
            components: Vec::new(),
            time,
            quality: Vec::new(),
            supplemental_types: Vec::new(),
            qualifies: None,
            circumstances: super::circumstances::Circumstances::default(),
            device_part: Vec::new(),
            source: None,
            about_device: false,
            instance: None,
            statistic: None,
            code_outside_mdc: None,
        }
    }

    /// A measurement with a single value and nothing else.
    pub fn simple(code: MdcCode, value: Value, time: EffectiveTime) -> Self {
        Measurement::new(code, Some(value), time)
    }

    /// A compound measurement whose values are its components.
    pub fn compound(code: MdcCode, components: Vec<Component>, time: EffectiveTime) -> Self {
        Measurement::new(code, None, time).with_components(components)
    }

    /// Adds components (the attributes of an alert, say) to a measurement.
    pub fn with_components(mut self, components: Vec<Component>) -> Self {
        self.components = components;
        self
    }

    pub fn with_label(mut self, label: Option<String>) -> Self {
        self.label = label;
        self
    }

    pub fn with_quality(mut self, quality: Vec<QualityFlag>) -> Self {
        self.quality = quality;
        self
    }

    /// Says which VMD or channel measured it (a containment path, zeros trimmed).
    pub fn with_device_part(mut self, path: Vec<u32>) -> Self {
        self.device_part = path;
        self
    }

    /// Marks it a fact about the device.
    pub fn about_device(mut self, about_device: bool) -> Self {
        self.about_device = about_device;
        self
    }

    /// Says where in the payload it was read.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Says which instance of a repeated group it belongs to.
    pub fn with_code_outside_mdc(mut self, code: Option<super::circumstances::TermCode>) -> Self {
        self.code_outside_mdc = code;
        self
    }

    pub fn with_statistic(mut self, statistic: Option<super::statistic::Statistic>) -> Self {
        self.statistic = statistic;
        self
    }

    pub fn with_instance(mut self, instance: Option<u32>) -> Self {
        self.instance = instance;
        self
    }

    pub fn with_supplemental_type(mut self, code: MdcCode) -> Self {
        self.supplemental_types.push(code);
        self
    }

    pub fn qualifying(mut self, index: usize) -> Self {
        self.qualifies = Some(index);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdc_codes_combine_partition_and_term() {
        // MDC_PRESS_BLD_NONINV: partition 2 (SCADA), term 18948.
        assert_eq!(MdcCode::from_partition(2, 18948), MdcCode(150020));
    }
}
