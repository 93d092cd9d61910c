//! The index of the resources delivered into the embedded destination, kept in the store beside the
//! outbox: a conditional create's key (`Observation?identifier=system|value`) → the resource it
//! made (`Observation/{id}`), each resource → where its latest line is, and how much of each file
//! is indexed. A replay finds its resources here and writes nothing; the files are the data, the
//! index only says what is in them, so it can be brought up to date from the files after a crash
//! between a file write and the index commit.

use std::sync::Arc;

use redb::TableDefinition;

use super::database::Store;
use super::outbox::{Outbox, OutboxError};

/// Conditional-create key → `Type/id`.
const KEYS: TableDefinition<&str, &str> = TableDefinition::new("resource_keys");
/// `Type/id` → (file name, offset of its latest line).
const PLACES: TableDefinition<&str, (&str, u64)> = TableDefinition::new("resource_places");
/// File name → bytes of it indexed.
const LENGTHS: TableDefinition<&str, u64> = TableDefinition::new("resource_file_lengths");

/// Where a resource's latest version sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    pub offset: u64,
}

/// What one write adds to the index, committed together.
#[derive(Debug, Default)]
pub struct IndexUpdate {
    pub keys: Vec<(String, String)>,
    pub places: Vec<(String, Place)>,
    pub lengths: Vec<(String, u64)>,
}

/// The index. Cheap to clone; shares the outbox's database.
#[derive(Clone)]
pub struct ResourceIndex {
    store: Arc<Store>,
}

impl ResourceIndex {
    /// The index in `outbox`'s database.
    pub fn of(outbox: &Outbox) -> ResourceIndex {
        ResourceIndex {
            store: outbox.database(),
        }
    }

    fn error(&self, message: impl ToString) -> OutboxError {
        OutboxError {
            path: self.store.path().display().to_string(),
            message: message.to_string(),
        }
    }

    /// Runs `read` on `table` in a read transaction; a table not yet made reads as `missing`.
    fn read<K: redb::Key + 'static, V: redb::Value + 'static, T>(
        &self,
        table: TableDefinition<K, V>,
        missing: T,
        read: impl FnOnce(&redb::ReadOnlyTable<K, V>) -> Result<T, redb::StorageError>,
    ) -> Result<T, OutboxError> {
        self.store
            .with(|db| {
                let txn = db.begin_read().map_err(|e| self.store.failure(e))?;
                match txn.open_table(table) {
                    Ok(table) => read(&table).map_err(|e| self.store.failure(e)),
                    Err(redb::TableError::TableDoesNotExist(_)) => Ok(missing),
                    Err(e) => Err(self.store.failure(e)),
                }
            })
            .map_err(|f| self.error(f.0))
    }

    /// The resource a conditional-create key made, if any.
    pub fn resource_for(&self, key: &str) -> Result<Option<String>, OutboxError> {
        self.read(KEYS, None, |table| Ok(table.get(key)?.map(|v| v.value().to_string())))
    }

    /// Where a resource's latest line is, if it was delivered.
    pub fn place_of(&self, reference: &str) -> Result<Option<Place>, OutboxError> {
        self.read(PLACES, None, |table| {
            Ok(table.get(reference)?.map(|v| {
                let (file, offset) = v.value();
                Place {
                    file: file.to_string(),
                    offset,
                }
            }))
        })
    }

    /// For each conditional-create key the resource it made, and for each reference where its line
    /// is, read in one transaction (a Bundle's lookups, all at once).
    #[allow(clippy::type_complexity)]
    pub fn lookup(
        &self,
        keys: &[&str],
        references: &[&str],
    ) -> Result<(Vec<Option<String>>, Vec<Option<Place>>), OutboxError> {
        self.store
            .with(|db| {
                let fail = |e: redb::Error| self.store.failure(e);
                let txn = db.begin_read().map_err(|e| fail(e.into()))?;
                let found = match txn.open_table(KEYS) {
                    Ok(table) => keys
                        .iter()
                        .map(|key| Ok(table.get(*key)?.map(|v| v.value().to_string())))
                        .collect::<Result<Vec<_>, redb::StorageError>>()
                        .map_err(|e| fail(e.into()))?,
                    Err(redb::TableError::TableDoesNotExist(_)) => vec![None; keys.len()],
                    Err(e) => return Err(fail(e.into())),
                };
                let places = match txn.open_table(PLACES) {
                    Ok(table) => references
                        .iter()
                        .map(|reference| {
                            Ok(table.get(*reference)?.map(|v| {
                                let (file, offset) = v.value();
                                Place {
                                    file: file.to_string(),
                                    offset,
                                }
                            }))
                        })
                        .collect::<Result<Vec<_>, redb::StorageError>>()
                        .map_err(|e| fail(e.into()))?,
                    Err(redb::TableError::TableDoesNotExist(_)) => vec![None; references.len()],
                    Err(e) => return Err(fail(e.into())),
                };
                Ok((found, places))
            })
            .map_err(|f| self.error(f.0))
    }

    /// How many bytes of `file` the index covers (0 for a file it has never seen).
    pub fn indexed_length(&self, file: &str) -> Result<u64, OutboxError> {
        self.read(LENGTHS, 0, |table| Ok(table.get(file)?.map_or(0, |v| v.value())))
    }

    /// How many resources the index knows.
    pub fn len(&self) -> Result<u64, OutboxError> {
        self.read(PLACES, 0, redb::ReadableTableMetadata::len)
    }

    pub fn is_empty(&self) -> Result<bool, OutboxError> {
        Ok(self.len()? == 0)
    }

    /// Commits one write's keys, places and file lengths together, durably.
    pub fn commit(&self, update: &IndexUpdate) -> Result<(), OutboxError> {
        self.store
            .write(|db| {
                let fail = |e: redb::Error| self.store.failure(e);
                let txn = db.begin_write().map_err(|e| fail(e.into()))?;
                {
                    let mut keys = txn.open_table(KEYS).map_err(|e| fail(e.into()))?;
                    for (key, reference) in &update.keys {
                        keys.insert(key.as_str(), reference.as_str())
                            .map_err(|e| fail(e.into()))?;
                    }
                    let mut places = txn.open_table(PLACES).map_err(|e| fail(e.into()))?;
                    for (reference, place) in &update.places {
                        places
                            .insert(reference.as_str(), (place.file.as_str(), place.offset))
                            .map_err(|e| fail(e.into()))?;
                    }
                    let mut lengths = txn.open_table(LENGTHS).map_err(|e| fail(e.into()))?;
                    for (file, length) in &update.lengths {
                        lengths.insert(file.as_str(), *length).map_err(|e| fail(e.into()))?;
                    }
                }
                txn.commit().map_err(|e| fail(e.into()))
            })
            .map_err(|f| self.error(f.0))
    }
}
