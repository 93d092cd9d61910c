//! The redb database under the outbox, reopened after an I/O error. redb refuses every operation
//! after one failed write ("Previous I/O error occurred. Please close and re-open the database"), so a
//! disk that filled up once would poison the store until the bridge restarts. Here the failure is
//! noted, the next operation closes the database and opens it again, and the store answers as soon as
//! the disk does; until a write succeeds again, the store says it is failing (`/readyz` not ready).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use redb::Database;

/// Opens the database file: the real one, or, in tests, one whose writes can be made to fail.
pub trait Opener: Send + Sync + 'static {
    fn open(&self, path: &Path) -> Result<Database, redb::DatabaseError>;
}

/// The database in a file, with a bounded page cache (redb's default is 1 GiB).
pub struct Files;

/// The page cache: the outbox is read oldest first and little of it twice.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

impl Opener for Files {
    fn open(&self, path: &Path) -> Result<Database, redb::DatabaseError> {
        redb::Builder::new().set_cache_size(CACHE_BYTES).create(path)
    }
}

/// The database, reopened after an I/O error.
pub struct Store {
    path: PathBuf,
    opener: Box<dyn Opener>,
    /// `None` after a failed reopen, until one succeeds.
    db: RwLock<Option<Database>>,
    /// An operation failed with an I/O error: the next one reopens first.
    reopen: AtomicBool,
    /// The last write failed (and none has succeeded since).
    writes_failing: AtomicBool,
}

/// What a failed operation says.
pub struct Failure(pub String);

impl Store {
    pub fn open(path: &Path, opener: Box<dyn Opener>) -> Result<Store, String> {
        let db = opener.open(path).map_err(|e| e.to_string())?;
        Ok(Store {
            path: path.to_path_buf(),
            opener,
            db: RwLock::new(Some(db)),
            reopen: AtomicBool::new(false),
            writes_failing: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the open database (reopening it first when an I/O error closed it).
    pub fn with<T>(&self, work: impl FnOnce(&Database) -> Result<T, Failure>) -> Result<T, Failure> {
        if self.reopen.load(Ordering::SeqCst) {
            self.reopen_now();
        }
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let Some(db) = guard.as_ref() else {
            return Err(Failure(
                "the store could not be reopened after an I/O error (is the disk full?); it is tried again on \
                 every operation"
                    .into(),
            ));
        };
        work(db)
    }

    /// Runs `work` as a write: a failure marks the store failing, a success clears it.
    pub fn write<T>(&self, work: impl FnOnce(&Database) -> Result<T, Failure>) -> Result<T, Failure> {
        let result = self.with(work);
        self.writes_failing.store(result.is_err(), Ordering::SeqCst);
        result
    }

    /// A redb error as text; an I/O error (or redb's refusal after one) schedules a reopen.
    pub fn failure(&self, error: impl Into<redb::Error>) -> Failure {
        let error = error.into();
        if matches!(error, redb::Error::Io(_) | redb::Error::PreviousIo) {
            self.reopen.store(true, Ordering::SeqCst);
        }
        Failure(error.to_string())
    }

    /// True while the last write failed and none has succeeded since.
    pub fn writes_failing(&self) -> bool {
        self.writes_failing.load(Ordering::SeqCst)
    }

    fn reopen_now(&self) {
        let mut guard = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if !self.reopen.load(Ordering::SeqCst) {
            return; // another caller reopened it meanwhile
        }
        // The old handle must go first: redb holds a lock on the file while it is open.
        drop(guard.take());
        match self.opener.open(&self.path) {
            Ok(db) => {
                *guard = Some(db);
                self.reopen.store(false, Ordering::SeqCst);
                tracing::warn!(path = %self.path.display(), "the store was reopened after an I/O error");
            }
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, "the store cannot be reopened yet");
            }
        }
    }
}
