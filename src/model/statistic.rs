//! A value that summarises many readings over a period (a night's average heart rate, a day's lowest
//! SpO2), as vendor clouds report them. It is not a reading, and must never pass for one.

/// Which summary of the readings over the measurement's period the value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Statistic {
    Average,
    Minimum,
    Maximum,
    Median,
}

impl Statistic {
    pub const ALL: [Statistic; 4] = [
        Statistic::Average,
        Statistic::Minimum,
        Statistic::Maximum,
        Statistic::Median,
    ];

    /// The name mappings write, which is also its code in FHIR R4's `observation-statistics`.
    pub fn name(self) -> &'static str {
        match self {
            Statistic::Average => "average",
            Statistic::Minimum => "minimum",
            Statistic::Maximum => "maximum",
            Statistic::Median => "median",
        }
    }

    pub fn from_name(name: &str) -> Option<Statistic> {
        Statistic::ALL.into_iter().find(|s| s.name() == name.trim())
    }
}
