//! A segment a reader leaves out of its readings, and why: by position and rule, never a value.

/// One segment left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOutRow {
    /// Its position in the message (1-based).
    pub segment: usize,
    pub reason: String,
}
