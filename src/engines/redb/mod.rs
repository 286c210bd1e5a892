//! [`RedbEngine`]: a redb file, the embedded default.
//!
//! Every zerotable table is a redb table of `&[u8] → &[u8]` with the same name. Reads hand the
//! access guard's bytes to the caller's callback, so a typed read touches the value where it
//! sits in redb's page cache. redb's MVCC gives snapshots and serialized writers directly.
//!
//! - **Snapshots** are redb read transactions; **writers** are serialized by redb, and a nested
//!   write on the thread holding the write is refused (`NestedWrite`) instead of deadlocking.
//! - **Table handles** are opened once per transaction and kept (see `slots.rs`).
//! - **Durability**: [`Durability::Immediate`] (the default) fsyncs every commit;
//!   [`Durability::None`] does not, until a later immediate commit or
//!   [`flush`](Engine::flush). redb 4 has no third level.
//! - **Damaged files**: redb can panic (`unreachable!`) on a file whose header is intact but
//!   whose pages are damaged. Every call into redb is guarded: such a panic becomes a
//!   [`Corrupted`](crate::EngineErrorKind::Corrupted) error naming the table and operation,
//!   and a write transaction that met one is rolled back instead of committed. Tables whose
//!   pages are intact stay readable. [`check_integrity`](Engine::check_integrity) runs redb's
//!   check and repair. (Built with `panic = "abort"`, nothing can be caught.)
//! - **Capabilities**: all of them; `size_on_disk` only for databases opened from a path.
//! - **One process**: redb locks the file; a second open fails with
//!   [`AlreadyOpen`](crate::EngineErrorKind::AlreadyOpen).

mod read;
mod reuse;
mod slots;
mod write;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use redb::ReadableDatabase;

use crate::engine::WriterGate;
use crate::engine::{
    Capabilities, Durability, Engine, Integrity, ReadBody, ReadTxn, WriteBody, WriteOptions,
    WriteTxn, catch_engine_panic,
};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

impl From<Durability> for redb::Durability {
    fn from(durability: Durability) -> Self {
        match durability {
            Durability::Immediate => redb::Durability::Immediate,
            Durability::None => redb::Durability::None,
        }
    }
}

/// Settings for opening a [`RedbEngine`].
///
/// ```
/// use zerotable::{Durability, RedbEngine, RedbOptions, Storage};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let options = RedbOptions::default().cache_size(64 << 20).durability(Durability::None);
/// let storage = Storage::new(RedbEngine::open_with(dir.path().join("app.redb"), options)?);
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct RedbOptions {
    /// Page cache size in bytes; `None` keeps redb's default.
    pub cache_size: Option<usize>,
    /// Durability of every commit, unless a transaction overrides it.
    pub durability: Durability,
}

impl RedbOptions {
    /// Sets the page cache size in bytes.
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = Some(bytes);
        self
    }

    /// Sets the default durability of commits.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

/// A redb database file behind the [`Engine`] contract.
///
/// ```
/// use zerotable::{RedbEngine, Storage};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let engine = RedbEngine::open(dir.path().join("app.redb"))?;
/// let storage = Storage::new(engine); // Storage::open(path) does the same
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct RedbEngine {
    // Only `compact` and `check_integrity` need `&mut redb::Database`; everything else takes
    // the read side just long enough to begin a transaction (transactions do not borrow the
    // database). `None` only while dropping.
    db: RwLock<Option<redb::Database>>,
    /// Snapshots kept for auto-commit reads (`reuse.rs`); every commit outdates them.
    reuse: Arc<reuse::SnapshotReuse>,
    /// Makes a same-thread nested write an error instead of a deadlock inside redb.
    writers: Arc<WriterGate>,
    path: Option<PathBuf>,
    durability: Durability,
}

impl std::fmt::Debug for RedbEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbEngine")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

/// The kind of a redb error.
fn kind_of(error: &redb::Error) -> EngineErrorKind {
    match error {
        redb::Error::Corrupted(_) => EngineErrorKind::Corrupted,
        // redb reports a damaged header (bad magic number, bad checksum) as invalid data, and
        // a file cut off inside its header as an unexpected end of file.
        redb::Error::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            EngineErrorKind::Corrupted
        }
        redb::Error::Io(_) | redb::Error::PreviousIo => EngineErrorKind::Io,
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => {
            EngineErrorKind::AlreadyOpen
        }
        redb::Error::DatabaseClosed => EngineErrorKind::Closed,
        redb::Error::ValueTooLarge(_) => EngineErrorKind::LimitExceeded,
        redb::Error::TableAlreadyOpen(..)
        | redb::Error::TransactionInProgress
        | redb::Error::ReadTransactionStillInUse(_) => EngineErrorKind::InUse,
        redb::Error::Unsupported => EngineErrorKind::Unsupported,
        _ => EngineErrorKind::Other,
    }
}

/// Converts a redb error into an [`Error::Engine`] with its kind, keeping it as the source.
pub(crate) fn redb_error<E: Into<redb::Error>>(
    table: Option<&str>,
    operation: Operation,
) -> impl FnOnce(E) -> Error {
    move |error| {
        let error = error.into();
        Error::engine(table, operation, EngineError::new(kind_of(&error), error))
    }
}

impl RedbEngine {
    /// Opens the redb file at `path`, creating it if it does not exist, with default options
    /// (redb's default cache, [`Durability::Immediate`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, RedbOptions::default())
    }

    /// Opens or creates the redb file at `path` with `options`.
    pub fn open_with(path: impl AsRef<Path>, options: RedbOptions) -> Result<Self> {
        let path = path.as_ref();
        let mut builder = redb::Database::builder();
        if let Some(bytes) = options.cache_size {
            builder.set_cache_size(bytes);
        }
        let open_error = |source: EngineError| Error::Open {
            location: path.display().to_string(),
            source,
        };
        create_atomically(path, &builder).map_err(open_error)?;
        // redb can panic instead of returning an error when a file's header is intact but its
        // pages are not: that is the corruption error it stands for.
        let db = catch_engine_panic(None, Operation::Open, |_| {
            builder
                .create(path)
                .map_err(redb_error(None, Operation::Open))
        })
        .map_err(|error| match error {
            Error::Engine { source, .. } => open_error(source),
            other => other,
        })?;
        let mut this = Self::from_redb(db, options.durability);
        this.path = Some(path.to_owned());
        Ok(this)
    }

    /// Wraps an already opened redb database (for example one on a custom storage backend).
    /// Its size on disk is unknown ([`Capabilities::size_on_disk`] is off).
    pub fn from_redb(db: redb::Database, durability: Durability) -> Self {
        RedbEngine {
            db: RwLock::new(Some(db)),
            reuse: Arc::new(reuse::SnapshotReuse::new()),
            writers: Arc::default(),
            path: None,
            durability,
        }
    }

    /// The underlying redb database, for what zerotable does not cover. Holding the guard
    /// makes [`compact`](Engine::compact) wait.
    ///
    /// Auto-commit reads normally reuse a snapshot until the next commit made through this
    /// engine; commits made directly on the database would go unnoticed, so the first call of
    /// this method turns that reuse off for the engine's life (every auto-commit read then
    /// begins its own redb transaction).
    pub fn redb(&self) -> impl Deref<Target = redb::Database> + '_ {
        discard(self.reuse.disable());
        self.database()
    }

    fn database(&self) -> impl Deref<Target = redb::Database> + '_ {
        // No caller code runs under this lock, so poisoning cannot mean a broken invariant.
        OpenDatabase(self.db.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Begins a redb read transaction.
    fn begin_redb_read(&self) -> Result<redb::ReadTransaction> {
        catch_engine_panic(None, Operation::BeginRead, |_| {
            self.database()
                .begin_read()
                .map_err(redb_error(None, Operation::BeginRead))
        })
    }

    /// Begins a redb write transaction with the durability asked for. The caller holds the
    /// writer ticket.
    fn begin_redb_write(&self, options: WriteOptions) -> Result<redb::WriteTransaction> {
        catch_engine_panic(None, Operation::BeginWrite, |_| {
            let mut txn = self
                .database()
                .begin_write()
                .map_err(redb_error(None, Operation::BeginWrite))?;
            txn.set_durability(options.durability.unwrap_or(self.durability).into())
                .map_err(|e| {
                    Error::engine_failure(None, Operation::BeginWrite, EngineErrorKind::Other, e)
                })?;
            Ok(txn)
        })
    }

    fn with_exclusive<R>(
        &self,
        operation: Operation,
        call: impl FnOnce(&mut redb::Database) -> Result<R>,
    ) -> Result<R> {
        // Compaction and the integrity check need every snapshot closed.
        discard(self.reuse.outdate());
        let mut guard = self.db.write().unwrap_or_else(PoisonError::into_inner);
        let db = guard
            .as_mut()
            .unwrap_or_else(|| unreachable!("the database is taken only by Drop"));
        catch_engine_panic(None, operation, |_| call(db))
    }
}

/// The database behind the read lock.
struct OpenDatabase<'a>(RwLockReadGuard<'a, Option<redb::Database>>);

impl Deref for OpenDatabase<'_> {
    type Target = redb::Database;

    fn deref(&self) -> &redb::Database {
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("the database is taken only by Drop"))
    }
}

/// Drops kept snapshots (ending a redb transaction is a call into redb: guarded).
fn discard(kept: impl IntoIterator<Item = reuse::Kept>) {
    let mut kept = kept.into_iter().peekable();
    if kept.peek().is_none() {
        return;
    }
    let _ = catch_engine_panic(None, Operation::BeginRead, |_| {
        kept.for_each(drop);
        Ok(())
    });
}

impl Drop for RedbEngine {
    fn drop(&mut self) {
        discard(self.reuse.take_idle());
        let db = self
            .db
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Closing writes to the file; on a damaged file redb may panic there too.
        let _ = catch_engine_panic(None, Operation::Open, |_| {
            drop(db);
            Ok(())
        });
    }
}

impl Engine for RedbEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(read::BoxedRead::new(self.begin_redb_read()?)))
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        let ticket = self.writers.enter()?;
        // Idle kept snapshots would keep this commit from reusing the pages it frees.
        discard(self.reuse.outdate());
        let txn = self.begin_redb_write(options)?;
        let reuse = Arc::clone(&self.reuse);
        Ok(Box::new(write::RedbWrite::new(txn, ticket, reuse)))
    }

    /// The read transaction lives on the stack: an auto-commit read allocates what a raw redb
    /// read does.
    /// Reuses a kept snapshot when no commit came since (see `reuse.rs`), or begins one.
    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        // One guard covers beginning and ending the snapshot; `body` is the caller's code.
        catch_engine_panic(None, Operation::BeginRead, |caller| {
            let begin = || {
                let txn = self
                    .database()
                    .begin_read()
                    .map_err(redb_error(None, Operation::BeginRead))?;
                Ok(read::RedbRead::new(txn))
            };
            let Some((mut lease, outdated)) = self.reuse.lease() else {
                let snapshot = begin()?;
                return caller.run(|| body(&snapshot));
            };
            drop(outdated);
            if lease.snapshot().is_none() {
                lease.keep(begin()?);
            }
            let snapshot = lease
                .snapshot()
                .unwrap_or_else(|| unreachable!("a snapshot was just kept"));
            let result = caller.run(|| body(snapshot));
            drop(lease.release());
            result
        })
    }

    /// The write transaction lives on the stack: an auto-commit write allocates what a raw
    /// redb write does.
    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        let _ticket = self.writers.enter()?;
        // Idle kept snapshots would keep this commit from reusing the pages it frees.
        discard(self.reuse.outdate());
        let txn = self.begin_redb_write(options)?;
        let result = write::run_scoped(txn, body);
        // Before returning: a read that begins after this call must not reuse an older snapshot.
        discard(self.reuse.outdate());
        result
    }

    fn name(&self) -> &'static str {
        "redb"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            size_on_disk: self.path.is_some(),
            ..Capabilities::ALL
        }
    }

    fn size_on_disk(&self) -> Result<u64> {
        let Some(path) = &self.path else {
            return Err(Error::unsupported(Operation::SizeOnDisk));
        };
        let metadata = std::fs::metadata(path).map_err(|e| {
            Error::engine_failure(None, Operation::SizeOnDisk, EngineErrorKind::Io, e)
        })?;
        Ok(metadata.len())
    }

    fn compact(&self) -> Result<bool> {
        self.with_exclusive(Operation::Compact, |db| {
            db.compact().map_err(redb_error(None, Operation::Compact))
        })
    }

    fn flush(&self) -> Result<()> {
        // An empty commit with immediate durability makes every earlier commit durable.
        let _ticket = self.writers.enter()?;
        let txn = self.begin_redb_write(WriteOptions::durability(Durability::Immediate))?;
        catch_engine_panic(None, Operation::Flush, |_| {
            txn.commit().map_err(redb_error(None, Operation::Flush))
        })
    }

    fn check_integrity(&self) -> Result<Integrity> {
        let _ticket = self.writers.enter()?;
        self.with_exclusive(Operation::CheckIntegrity, |db| match db.check_integrity() {
            Ok(true) => Ok(Integrity::Intact),
            Ok(false) => Ok(Integrity::Repaired),
            Err(e) => Err(redb_error(None, Operation::CheckIntegrity)(e)),
        })
    }
}

/// Creates a new database file at `path` so that it appears complete or not at all.
///
/// redb initialises a new file in place and writes the bytes that mark it as a redb file last:
/// a process killed in between leaves a file that every later open refuses. So a new database
/// is initialised under a temporary name beside `path`, synced, and then hard-linked into place
/// (a link, unlike a rename, never replaces a file another process created meanwhile).
fn create_atomically(path: &Path, builder: &redb::Builder) -> std::result::Result<(), EngineError> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(()); // exists: redb opens it (an empty file is initialised by redb itself)
    }
    let Some(name) = path.file_name() else {
        return Ok(()); // not a file path: let redb report it
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.creating", std::process::id()));
    let temp = dir.join(temp_name);
    let io = |e: std::io::Error| EngineError::new(EngineErrorKind::Io, e);
    let created = (|| -> std::result::Result<(), EngineError> {
        let new = builder.create(&temp).map_err(|e| {
            let e = redb::Error::from(e);
            EngineError::new(kind_of(&e), e)
        })?;
        drop(new);
        std::fs::File::open(&temp)
            .and_then(|file| file.sync_all())
            .map_err(io)?;
        match std::fs::hard_link(&temp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A file system without hard links: a rename is atomic too, it just could replace a
            // file created by another process in the last instant.
            Err(_) if std::fs::symlink_metadata(path).is_err() => {
                std::fs::rename(&temp, path).map_err(io)?
            }
            Err(e) => return Err(io(e)),
        }
        // Make the new directory entry durable too (not possible on every platform).
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&temp);
    created
}
