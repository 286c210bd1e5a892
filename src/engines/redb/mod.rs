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
//!   [`AlreadyOpen`](crate::EngineErrorKind::AlreadyOpen). The files this process has open are
//!   listed (by canonical path) so that the error can say who holds the file: this process,
//!   with how many `Storage` and `Table` handles ([`Error::holder`]), or another process.
//! - **Open errors say why**: besides the lock, a file that is not a redb database, a missing
//!   directory and a missing permission (which one, on the file or its directory) are named in
//!   the error's [`explanation`](crate::EngineError::explanation).

mod read;
mod reuse;
mod slots;
mod write;

use std::io::ErrorKind as IoKind;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard};

use redb::ReadableDatabase;

use crate::engine::WriterGate;
use crate::engine::{
    Capabilities, Durability, Engine, Integrity, ReadBody, ReadTxn, WriteBody, WriteOptions,
    WriteTxn, catch_engine_panic,
};
use crate::error::{EngineError, EngineErrorKind, Error, Handles, Holder, Operation, Result};

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
    /// Reads `cache_size` (a [`ByteSize`](crate::engines::ByteSize)) and `durability`
    /// (`immediate` or `none`) from address options.
    pub fn from_options(options: &mut crate::engines::EngineOptions) -> Result<Self> {
        let mut this = RedbOptions::default();
        if let Some(size) = options.take::<crate::engines::ByteSize>("cache_size")? {
            let bytes = usize::try_from(size.0)
                .map_err(|_| options.invalid(Some("cache_size"), format!("{size} is too large")))?;
            this = this.cache_size(bytes);
        }
        if let Some(durability) = options.take("durability")? {
            this = this.durability(durability);
        }
        Ok(this)
    }

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
    /// This engine's entry in the list of files the process has open (opened from a path).
    open_file: Option<Arc<OpenFile>>,
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

/// `redb://path?cache_size=…&durability=…`, or a plain path.
pub(super) fn connect(mut address: super::EngineAddress) -> Result<crate::Storage> {
    let options = RedbOptions::from_options(&mut address.options)?;
    let path = address.path()?.to_owned();
    address.options.finish()?;
    Ok(crate::Storage::new(RedbEngine::open_with(path, options)?))
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
        create_atomically(path, &builder).map_err(|e| open_error(explain_open(path, None, e)))?;
        // Listed before redb takes the lock: another thread of this process that finds the file
        // locked meanwhile then knows it is this process that holds it.
        let open_file = std::fs::canonicalize(path).ok().map(OpenFile::enter);
        // redb can panic instead of returning an error when a file's header is intact but its
        // pages are not: that is the corruption error it stands for.
        let opened = catch_engine_panic(None, Operation::Open, |_| {
            builder
                .create(path)
                .map_err(redb_error(None, Operation::Open))
        })
        .map_err(|error| match error {
            Error::Engine { source, .. } => {
                open_error(explain_open(path, open_file.as_ref(), source))
            }
            other => other,
        });
        let db = match opened {
            Ok(db) => db,
            Err(error) => {
                if let Some(file) = &open_file {
                    file.leave();
                }
                return Err(error);
            }
        };
        let mut this = Self::from_redb(db, options.durability);
        this.path = Some(path.to_owned());
        this.open_file = open_file;
        Ok(this)
    }

    /// This engine's entry in the list of open files, for [`Storage`](crate::Storage) to tell
    /// it how to count the handles that keep it open.
    pub(crate) fn open_file(&self) -> Option<&Arc<OpenFile>> {
        self.open_file.as_ref()
    }

    /// Wraps an already opened redb database (for example one on a custom storage backend).
    /// Its size on disk is unknown ([`Capabilities::size_on_disk`] is off).
    pub fn from_redb(db: redb::Database, durability: Durability) -> Self {
        RedbEngine {
            db: RwLock::new(Some(db)),
            reuse: Arc::new(reuse::SnapshotReuse::new()),
            writers: Arc::default(),
            path: None,
            open_file: None,
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
        // Only now that redb has released the file's lock.
        if let Some(file) = self.open_file.take() {
            file.leave();
        }
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
    /// Reuses a kept snapshot when no commit came since and none is in flight (see `reuse.rs`),
    /// or begins one.
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
        // The commit outdates the kept snapshots before it returns (and keeps reads off them
        // while redb applies it): a read that begins after this call sees it.
        write::run_scoped(txn, body, &self.reuse)
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
        // An empty commit with immediate durability makes every earlier commit durable. It
        // changes no data, so kept snapshots stay as current as they were.
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

/// Counts the live handles of a database (set by [`Storage`](crate::Storage)).
pub(crate) type CountHandles = Box<dyn Fn() -> Handles + Send + Sync>;

/// A redb file this process has open (or is opening), in the process-wide list.
pub(crate) struct OpenFile {
    /// The canonical path.
    path: PathBuf,
    /// How to count the handles keeping it open, once a `Storage` owns the engine.
    handles: OnceLock<CountHandles>,
}

/// The redb files this process has open: an open refused because the file is locked looks here
/// to tell whether this process holds it.
static OPEN_FILES: Mutex<Vec<Arc<OpenFile>>> = Mutex::new(Vec::new());

fn open_files() -> MutexGuard<'static, Vec<Arc<OpenFile>>> {
    // No caller code runs under this lock: a poisoned list is still a consistent list.
    OPEN_FILES.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OpenFile {
    /// Lists `path` (canonical) as open.
    fn enter(path: PathBuf) -> Arc<Self> {
        let file = Arc::new(OpenFile {
            path,
            handles: OnceLock::new(),
        });
        open_files().push(Arc::clone(&file));
        file
    }

    /// Takes it off the list.
    fn leave(&self) {
        open_files().retain(|file| !std::ptr::eq(&**file, self));
    }

    /// Sets how the handles keeping this database open are counted (once: the first `Storage`
    /// owning the engine).
    pub(crate) fn count_handles_with(&self, count: CountHandles) {
        let _ = self.handles.set(count);
    }

    /// Who holds `path` (canonical), other than the open `own` that asks.
    fn holder(path: &Path, own: Option<&Arc<OpenFile>>) -> Holder {
        let files = open_files();
        let other = files
            .iter()
            .find(|file| file.path == path && !own.is_some_and(|own| Arc::ptr_eq(own, file)));
        match other {
            Some(file) => Holder::ThisProcess {
                handles: file.handles.get().map(|count| count()),
            },
            None => Holder::AnotherProcess,
        }
    }
}

/// The kind of the I/O error behind an open error, if it is one.
fn io_kind(error: &EngineError) -> Option<IoKind> {
    let cause = error.cause()?;
    if let Some(redb::Error::Io(io)) = cause.downcast_ref::<redb::Error>() {
        return Some(io.kind());
    }
    cause
        .downcast_ref::<std::io::Error>()
        .map(std::io::Error::kind)
}

/// Adds to an open error what was found out about it: who holds the lock, whether the file is a
/// redb database at all, which permission is missing, and what to do.
fn explain_open(path: &Path, own: Option<&Arc<OpenFile>>, error: EngineError) -> EngineError {
    let shown = path.display();
    if error.kind() == EngineErrorKind::AlreadyOpen {
        let lock_protocol = matches!(
            error.cause().and_then(|c| c.downcast_ref::<redb::Error>()),
            Some(redb::Error::LockProtocolMismatch)
        );
        let holder = match std::fs::canonicalize(path) {
            Ok(canonical) if !lock_protocol => OpenFile::holder(&canonical, own),
            _ => Holder::AnotherProcess,
        };
        let explanation = match holder {
            Holder::ThisProcess {
                handles: Some(handles),
            } => held_here(handles),
            Holder::ThisProcess { handles: None } => "this process has it open already: a \
                RedbEngine, or a Storage or Table over it, is still alive"
                .to_owned(),
            Holder::AnotherProcess if lock_protocol => "another process has it open, with a \
                version of redb that locks files differently"
                .to_owned(),
            Holder::AnotherProcess => "another process holds the file's lock (no Storage or \
                Table of this process has it open)"
                .to_owned(),
        };
        return error.with_holder(holder).explained(explanation);
    }
    let is_redb_header_error = matches!(
        error.cause().and_then(|c| c.downcast_ref::<redb::Error>()),
        Some(redb::Error::Io(_))
    );
    let explanation = match io_kind(&error) {
        Some(IoKind::InvalidData | IoKind::UnexpectedEof) if is_redb_header_error => format!(
            "{shown} is not a redb database (the wrong file, or one whose header is damaged); \
             check the path, and if it is the right file restore it from a backup"
        ),
        Some(IoKind::PermissionDenied) => permission_denied(path),
        Some(IoKind::ReadOnlyFilesystem) => format!(
            "{shown} is on a read-only file system, and a database is opened for writing; \
             copy it to a writable place, or remount the file system read-write"
        ),
        Some(IoKind::NotFound) => match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => format!(
                "the directory {} does not exist; create it first (std::fs::create_dir_all) or \
                 fix the path",
                dir.display()
            ),
            _ => return error,
        },
        _ if path.is_dir() => format!(
            "{shown} is a directory; give the path of a database file (e.g. {})",
            path.join("app.redb").display()
        ),
        _ if error.kind() == EngineErrorKind::Corrupted => format!(
            "{shown} starts like a redb database but is damaged (cut short, or its header or \
             pages overwritten)"
        ),
        _ => return error,
    };
    error.explained(explanation)
}

/// What to say when this process itself holds the file, through `handles`.
fn held_here(handles: Handles) -> String {
    match handles {
        Handles {
            storages: 0,
            tables: 0,
        } => "this process is closing it right now (its last handle was just dropped)".to_owned(),
        Handles {
            storages: 0,
            tables,
        } => format!(
            "this process has it open already: {handles} still alive keep{} it open although \
             {} Storage was dropped (tables keep their database open)",
            if tables == 1 { "s" } else { "" },
            if tables == 1 { "its" } else { "their" },
        ),
        _ => format!("this process has it open already, through {handles} still alive"),
    }
}

/// Which permission is missing, found by looking at `path` and its directory.
fn permission_denied(path: &Path) -> String {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(_) if std::fs::File::open(path).is_ok() => format!(
            "no permission to write {shown}: a database is opened for reading and writing; give \
             this user write permission on the file (chmod u+w), or open a copy"
        ),
        Ok(_) => format!(
            "no permission to read and write {shown}: give this user read and write permission \
             on the file (chmod u+rw), or run as its owner"
        ),
        Err(e) if e.kind() == IoKind::NotFound => {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            format!(
                "no permission to create {shown}: creating a database writes new files in {}, \
                 which needs write permission on that directory; give it (chmod u+w), or choose a \
                 directory this user can write to",
                dir.display()
            )
        }
        Err(_) => format!(
            "cannot reach {shown}: a directory on the path does not let this user in (search \
             permission, chmod u+x, is missing)"
        ),
    }
}
