//! The seam between the deliverer and a destination. The deliverer batches, retries, backs off and
//! dead-letters; a [`Sink`] only writes what it is given and says how it went. A new destination
//! kind (a file sink, a message bus) is a new module implementing this trait.

use std::future::Future;
use std::time::Duration;

use fhirbolt::model::r4::resources::Bundle;

use super::plan::MergePlan;

/// How a write went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Committed: `entries` resources written.
    Delivered { entries: usize },
    /// The destination could not take it now; try again (not sooner than `after`, when it says).
    Retry { reason: String, after: Option<Duration> },
    /// The destination refused it for good: the reason (a status and rule, never patient data),
    /// what the destination answered, and what was sent.
    Refused(Refusal),
}

/// A destination's refusal, kept with the dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    /// The destination's status (`None` when the bridge itself could not write the request).
    pub status: Option<u16>,
    /// The destination's answer (an OperationOutcome), when it gave one.
    pub answer: Option<String>,
    /// What was sent (the Bundle as JSON), when anything was.
    pub sent: Option<String>,
}

impl Outcome {
    pub fn retry(reason: impl Into<String>) -> Outcome {
        Outcome::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    pub fn refused(reason: impl Into<String>) -> Outcome {
        Outcome::Refused(Refusal::because(reason))
    }
}

impl Refusal {
    /// A refusal with nothing sent or answered: the bridge's own.
    pub fn because(reason: impl Into<String>) -> Refusal {
        Refusal {
            reason: reason.into(),
            status: None,
            answer: None,
            sent: None,
        }
    }
}

/// A destination of FHIR resources.
pub trait Sink: Send {
    /// Writes one transaction Bundle of conditional creates (the plans of a batch, merged).
    fn transaction(&mut self, bundle: Bundle) -> impl Future<Output = Outcome> + Send;

    /// Reads, merges and writes the windows of one MedTech message.
    fn merge(&mut self, plan: &MergePlan) -> impl Future<Output = Outcome> + Send;

    /// True when the destination answers again, asked cheaply while a retry waits out a long backoff,
    /// so delivery resumes promptly after an outage. A sink that cannot tell says false, and the
    /// backoff runs its course.
    fn probe(&mut self) -> impl Future<Output = bool> + Send {
        async { false }
    }
}
