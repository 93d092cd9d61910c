//! The live device↔patient association table of a running bridge: the associations of the file
//! (`mapping.associations`) plus those added through the admin API, which are kept in the store so a
//! restart keeps them. The pipeline reads the current table for every payload it plans.
//!
//! A stored reading that named no patient and had no association was dead-lettered with that reason.
//! Adding an association puts every such dead letter back into the outbox, so readings waiting for
//! their patient are delivered as soon as an operator associates the device; any the new association
//! does not cover come back to the dead-letter store with the same reason.

use thiserror::Error;
use tokio::sync::watch;

use super::association::AssociationTable;
use crate::store::{Outbox, OutboxError};

#[derive(Debug, Error)]
pub enum AssociationUpdateError {
    /// The entry is not a valid association (the message names the field and rule).
    #[error("{0}")]
    Invalid(String),
    /// The entry covers a device during a time another association already covers it.
    #[error("{0}")]
    Overlap(String),
    #[error(transparent)]
    Store(#[from] OutboxError),
}

/// The file's associations, the stored ones, and the channel the deliverer reads them from.
pub struct Associations {
    file: AssociationTable,
    outbox: Outbox,
    current: watch::Sender<AssociationTable>,
}

impl Associations {
    /// The file's table plus what the store holds.
    pub fn load(file: AssociationTable, outbox: Outbox) -> Result<Associations, AssociationUpdateError> {
        let (current, _) = watch::channel(AssociationTable::default());
        let associations = Associations { file, outbox, current };
        associations.refresh()?;
        Ok(associations)
    }

    /// A receiver of the current table.
    pub fn subscribe(&self) -> watch::Receiver<AssociationTable> {
        self.current.subscribe()
    }

    fn refresh(&self) -> Result<(), AssociationUpdateError> {
        self.current.send_replace(self.table()?);
        Ok(())
    }

    /// The file's associations and the stored ones. A stored entry this version cannot read is left
    /// out (and said so), rather than stopping the bridge.
    fn table(&self) -> Result<AssociationTable, AssociationUpdateError> {
        let mut table = self.file.clone();
        for (id, entry) in self.outbox.associations()? {
            match parse_entry(&entry) {
                Ok(stored) => table.extend(stored),
                Err(rule) => tracing::warn!(association_id = id, %rule, "a stored association cannot be read; ignored"),
            }
        }
        Ok(table)
    }

    /// The stored (API-added) entries with their numbers, as JSON.
    pub fn stored(&self) -> Result<Vec<(u64, serde_json::Value)>, AssociationUpdateError> {
        Ok(self
            .outbox
            .associations()?
            .into_iter()
            .filter_map(|(id, entry)| Some((id, serde_json::from_slice(&entry).ok()?)))
            .collect())
    }

    /// Validates and stores one entry (the file's format), makes it current, and replays the dead
    /// letters that were waiting for a patient. Returns the entry's number and how many were replayed.
    ///
    /// Sending the same entry again returns the number it already has (a client may retry). An entry
    /// that overlaps another association of the same device is refused: readings of that time would
    /// have two patients. End or remove the old one first.
    pub fn add(&self, entry: &[u8]) -> Result<(u64, usize), AssociationUpdateError> {
        let new = parse_entry(entry).map_err(AssociationUpdateError::Invalid)?;
        for (id, stored) in self.outbox.associations()? {
            if parse_entry(&stored).is_ok_and(|stored| stored == new) {
                return Ok((id, 0));
            }
        }
        if let Some(existing) = self.table()?.overlap(&new) {
            return Err(AssociationUpdateError::Overlap(format!(
                "the device already has an association from {}{}; remove it or give this one times that do not overlap",
                existing.from.to_rfc3339(),
                existing
                    .to
                    .map(|to| format!(" to {}", to.to_rfc3339()))
                    .unwrap_or_default()
            )));
        }
        let id = self.outbox.add_association(entry)?;
        self.refresh()?;
        let mut replayed = 0;
        for (dead_id, letter) in self.outbox.dead_letters()? {
            if letter.reason.starts_with(super::error::NO_PATIENT) && self.outbox.replay(dead_id)?.is_some() {
                replayed += 1;
            }
        }
        Ok((id, replayed))
    }

    /// Ends a stored entry at `to` (RFC 3339): readings after it no longer go to its patient, readings
    /// before it still do (what was delivered stays delivered). `to` must come after the entry's
    /// `from`, and may only shorten an entry that already ends. `None` when there is no entry with
    /// that number.
    pub fn end(&self, id: u64, to: &str) -> Result<Option<serde_json::Value>, AssociationUpdateError> {
        let Some((_, stored)) = self.outbox.associations()?.into_iter().find(|(n, _)| *n == id) else {
            return Ok(None);
        };
        let mut entry: serde_json::Value = serde_json::from_slice(&stored)
            .map_err(|_| AssociationUpdateError::Invalid("the stored association is not readable".into()))?;
        let end = chrono::DateTime::parse_from_rfc3339(to)
            .map_err(|_| AssociationUpdateError::Invalid("`to` is not an RFC 3339 date-time".into()))?;
        let ends_later = entry["to"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|current| end > current);
        if ends_later {
            return Err(AssociationUpdateError::Invalid(
                "the association already ends before that time; ending it later would give readings a patient                  they were not filed under (add a new association instead)"
                    .into(),
            ));
        }
        entry["to"] = serde_json::Value::String(end.to_rfc3339());
        let bytes = serde_json::to_vec(&entry).map_err(|e| AssociationUpdateError::Invalid(e.to_string()))?;
        parse_entry(&bytes).map_err(AssociationUpdateError::Invalid)?;
        self.outbox.replace_association(id, &bytes)?;
        self.refresh()?;
        Ok(Some(entry))
    }

    /// Removes a stored entry; false when there is none with that number.
    pub fn remove(&self, id: u64) -> Result<bool, AssociationUpdateError> {
        let removed = self.outbox.remove_association(id)?;
        if removed {
            self.refresh()?;
        }
        Ok(removed)
    }
}

/// One entry in the file's format, checked by the same rules.
fn parse_entry(entry: &[u8]) -> Result<AssociationTable, String> {
    let value: serde_json::Value =
        serde_json::from_slice(entry).map_err(|e| format!("not JSON: {}", crate::privacy::json_error(&e)))?;
    if !value.is_object() {
        return Err("an association is one JSON object (device, patient, from, to)".into());
    }
    let array = serde_json::to_vec(&[value]).map_err(|e| e.to_string())?;
    AssociationTable::from_json(&array).map_err(|e| e.to_string())
}
