//! [`SqliteEngine`]: one SQLite database file in WAL mode, through rusqlite with SQLite bundled
//! (cargo feature `sqlite`).
//!
//! Every zerotable table is a SQLite table `(k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL)
//! WITHOUT ROWID`: the rows live in the primary key's B-tree, ordered by SQLite's BLOB
//! comparison, which is `memcmp` and then length — exactly zerotable's key order (an empty key
//! first, `0x00` and `0xff` bytes where they belong). Empty keys and values are stored as they
//! are (zero-length BLOBs, not NULL).
//!
//! - **Table names**: a name of only `a-z`, `0-9`, `_`, `.` and `-` becomes `zt_<name>`
//!   (`users` → `zt_users`, zerotable's catalog `zerotable.meta` → `zt_zerotable.meta`); any other
//!   name — with upper case (SQLite identifiers ignore ASCII case, so `Users` and `users` must
//!   not meet), spaces, quotes or any other character, or empty — becomes `zx_` and its UTF-8
//!   bytes in lower-case hex (`Users` → `zx_5573657273`). Both are used as quoted identifiers,
//!   never collide with each other or with SQLite's `sqlite_` tables, and other tables in the
//!   file are ignored. `list_tables` reads them back from `sqlite_schema`.
//! - **Snapshots** are read transactions on reader connections (a small pool, reused: up to
//!   [`SqliteOptions::readers`] idle ones are kept, more are opened while more snapshots are
//!   held). In WAL mode a read transaction's snapshot is fixed by its first read, so beginning
//!   one reads the schema cookie (`PRAGMA schema_version`) at once: the snapshot is the state at
//!   `begin_read`, and the cookie tells whether the connection's cached list of tables is still
//!   current. Table creation and drops are ordinary transactional changes in SQLite, so a
//!   snapshot lists, and reads, the tables of its moment.
//! - **Auto-commit gets** ([`Engine::get`], what a typed table's `get` outside a transaction
//!   runs) take no snapshot: one `SELECT` on a pooled reader connection is its own read
//!   transaction, which saves the `BEGIN`, the cookie read and the `COMMIT` a snapshot costs.
//! - **Writers**: one writer connection, `BEGIN IMMEDIATE` (the write lock up front), one
//!   writer at a time through a [`WriterGate`] shared by every engine of this process on the
//!   same file; a nested write on the thread holding it is
//!   [`NestedWrite`](crate::EngineErrorKind::NestedWrite). A write transaction dropped
//!   uncommitted, failed or panicking is rolled back, its created and dropped tables included.
//! - **Reads inside a write transaction**: writing (or dropping) the table a running read of the
//!   same transaction walks is [`InUse`](crate::EngineErrorKind::InUse) (a SQLite statement
//!   would walk a changing B-tree). Other tables may be written, created and dropped from a
//!   read's callback; since SQLite refuses `DROP TABLE` while any statement of the connection
//!   runs, a table dropped there is emptied at once and dropped at commit.
//! - **Durability**: [`Durability::Immediate`] (the default) commits with `synchronous=FULL`:
//!   SQLite fsyncs the WAL on every commit. [`Durability::None`] commits with
//!   `synchronous=NORMAL`: no fsync per commit (the WAL is synced at checkpoints), so a process
//!   crash loses nothing and a power loss may lose the latest commits, never consistency. The
//!   setting is applied before `BEGIN`, per transaction ([`WriteOptions::durability`] or the
//!   engine's default). [`flush`](Engine::flush) runs a passive checkpoint and fsyncs the WAL
//!   file and its directory.
//! - **Zero-copy**: a read hands the callback the BLOB the statement holds
//!   (`sqlite3_column_blob` through rusqlite's `ValueRef::Blob`), borrowed for the call: no copy
//!   by zerotable and no allocation per read. The one copy is SQLite's own: its `OP_Column`
//!   copies a value from the page in its cache into the statement's result register (a value
//!   spanning overflow pages is assembled there), as SQLite does for every reader; the key of
//!   a range is handed over the same way. Keys and values given to writes are copied by SQLite
//!   when bound (`SQLITE_TRANSIENT`, as rusqlite binds them).
//! - **Statements** are prepared once per connection and table and kept (see `conn.rs`,
//!   rather than rusqlite's `prepare_cached`, which allocates its key on every call); a nested
//!   read of the same kind (a get inside a get's callback) finds its statement in use and
//!   prepares a second one rather than disturbing the running one.
//! - **Counts**: SQLite keeps no row count, so `len` and `table_stats` count the rows (and sum
//!   their lengths) with one query that walks the table.
//! - **Limits**: a row holds at most `SQLITE_MAX_LENGTH` bytes (1,000,000,000 in the bundled
//!   build): a longer key and value together, or SQLite's `SQLITE_TOOBIG`, is
//!   [`LimitExceeded`](crate::EngineErrorKind::LimitExceeded).
//! - **Several processes** may open the same file: SQLite's locks let any number of readers
//!   and one writer work at once. A writer of another process makes `begin_write` wait up to
//!   [`SqliteOptions::busy_timeout`] (5 s by default), then fail with `InUse`. Opening the same
//!   path again in this process works too: the engines share their writer gate, so their
//!   writers queue in the process (and a write on one from the thread writing on the other is
//!   `NestedWrite`, not a wait for SQLite's lock). A snapshot held for long keeps checkpoints
//!   from passing its moment, so the WAL file grows until it ends.
//! - **Damaged files**: a file that is not a SQLite database fails to open (`Corrupted`, said
//!   so in the error); damage SQLite finds later (`SQLITE_CORRUPT`) is a `Corrupted` error of the
//!   operation. Calls into rusqlite are guarded, so a panic in the library is `Corrupted` too.
//! - **Capabilities**: all of them. [`size_on_disk`](Engine::size_on_disk) is the database file
//!   plus its WAL; [`compact`](Engine::compact) runs `VACUUM` and truncates the WAL (refused with
//!   `InUse` while a snapshot of this engine is open); [`check_integrity`](Engine::check_integrity)
//!   runs `PRAGMA integrity_check` (SQLite repairs nothing: damage is a `Corrupted` error
//!   listing what it found).

mod conn;
#[cfg(feature = "testing")]
mod harness;
mod read;
mod write;

use std::panic::resume_unwind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use self::conn::Conn;
#[cfg(feature = "testing")]
pub use self::harness::SqliteHarness;
use self::read::Snapshot;
use crate::engine::{
    Capabilities, Durability, Engine, Found, Integrity, ReadBody, ReadTxn, WriteBody, WriteOptions,
    WriteTxn, WriterGate, catch_engine_panic,
};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// The most bytes one row (key and value) may hold: `SQLITE_MAX_LENGTH` of the bundled build.
pub(crate) const MAX_LENGTH: usize = 1_000_000_000;

/// Settings for opening a [`SqliteEngine`].
///
/// ```
/// use std::time::Duration;
/// use zerotable::engines::{SqliteEngine, SqliteOptions};
/// use zerotable::{Durability, Storage};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let options = SqliteOptions::default()
///     .durability(Durability::None)
///     .cache_size(64 << 20)
///     .busy_timeout(Duration::from_secs(1))
///     .readers(8);
/// let storage = Storage::new(SqliteEngine::open_with(dir.path().join("app.sqlite"), options)?);
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Durability of every commit, unless a transaction overrides it.
    pub durability: Durability,
    /// Page cache of each connection in bytes (`PRAGMA cache_size`); `None` keeps SQLite's
    /// default (2 MiB).
    pub cache_size: Option<u64>,
    /// How long a write (or a read, in the rare moments SQLite needs it) waits for another
    /// process's lock before failing with `InUse`.
    pub busy_timeout: Duration,
    /// How many idle reader connections are kept for the next snapshots (more are opened while
    /// more snapshots are held at once).
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::Immediate,
            cache_size: None,
            busy_timeout: Duration::from_secs(5),
            readers: 4,
        }
    }
}

impl SqliteOptions {
    /// Reads `durability` (`immediate` or `none`), `cache_size` (a
    /// [`ByteSize`](crate::engines::ByteSize)), `busy_timeout_ms` and `readers` from address
    /// options.
    ///
    /// ```
    /// use zerotable::engines::EngineOptions;
    /// use zerotable::Durability;
    /// use zerotable::engines::SqliteOptions;
    ///
    /// let mut given = EngineOptions::from_query("sqlite://app.sqlite", "durability=none&cache_size=16MiB")?;
    /// let options = SqliteOptions::from_options(&mut given)?;
    /// given.finish()?;
    /// assert_eq!(options.durability, Durability::None);
    /// assert_eq!(options.cache_size, Some(16 << 20));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn from_options(options: &mut crate::engines::EngineOptions) -> Result<Self> {
        let mut this = SqliteOptions::default();
        if let Some(durability) = options.take("durability")? {
            this = this.durability(durability);
        }
        if let Some(size) = options.take::<crate::engines::ByteSize>("cache_size")? {
            this = this.cache_size(size.0);
        }
        if let Some(ms) = options.take::<u64>("busy_timeout_ms")? {
            if ms > MAX_BUSY_TIMEOUT_MS {
                return Err(options.invalid(
                    Some("busy_timeout_ms"),
                    format!("{ms} is too large (at most {MAX_BUSY_TIMEOUT_MS})"),
                ));
            }
            this = this.busy_timeout(Duration::from_millis(ms));
        }
        if let Some(readers) = options.take::<usize>("readers")? {
            this = this.readers(readers);
        }
        Ok(this)
    }

    /// Sets the default durability of commits.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the page cache of each connection, in bytes.
    pub fn cache_size(mut self, bytes: u64) -> Self {
        self.cache_size = Some(bytes);
        self
    }

    /// Sets how long to wait for another process's lock (at most about 24 days).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout.min(Duration::from_millis(MAX_BUSY_TIMEOUT_MS));
        self
    }

    /// Sets how many idle reader connections are kept.
    pub fn readers(mut self, readers: usize) -> Self {
        self.readers = readers;
        self
    }
}

/// SQLite takes the busy timeout in milliseconds as a C `int`.
const MAX_BUSY_TIMEOUT_MS: u64 = i32::MAX as u64;

/// What the engine, its snapshots and its write transactions share.
pub(crate) struct Shared {
    path: PathBuf,
    options: SqliteOptions,
    /// Idle reader connections. Declared before the writer: closed first, so that the writer,
    /// closing last, checkpoints the WAL into the database file and removes it.
    readers: Mutex<Vec<Conn>>,
    /// The writer connection while no write transaction holds it (`None` also after a failure
    /// left it unusable: the next writer opens a new one).
    writer: Mutex<Option<Conn>>,
    /// Snapshots open now (compaction waits for none).
    snapshots: AtomicUsize,
    gate: Arc<WriterGate>,
}

impl Shared {
    fn open_conn(&self, operation: Operation) -> Result<Conn> {
        catch_engine_panic(None, operation, |_| {
            Conn::open(&self.path, &self.options, false).map_err(sql_error(None, operation))
        })
    }

    /// An idle reader connection, or a new one.
    fn take_reader(&self) -> Result<Conn> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.open_conn(Operation::BeginRead),
        }
    }

    /// Keeps a reader connection for the next snapshot, or closes it if enough are kept.
    fn give_back_reader(&self, conn: Conn) {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.len() < self.options.readers {
            readers.push(conn);
            return;
        }
        drop(readers);
        drop(conn);
    }

    /// The writer connection (the caller holds the writer gate), or a new one.
    fn take_writer(&self) -> Result<Conn> {
        let idle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match idle {
            Some(conn) => Ok(conn),
            None => self.open_conn(Operation::BeginWrite),
        }
    }

    fn give_back_writer(&self, conn: Conn) {
        *self.writer.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
    }

    /// Runs `body` on the writer connection outside any transaction (the caller holds the
    /// writer gate).
    fn with_writer<R>(
        &self,
        operation: Operation,
        body: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<R>,
    ) -> Result<R> {
        let conn = self.take_writer()?;
        let result = catch_engine_panic(None, operation, |_| {
            conn.with(|session| body(session.connection()))
                .map_err(sql_error(None, operation))
        });
        if conn.with(|session| session.connection().is_autocommit()) {
            self.give_back_writer(conn);
        }
        result
    }

    fn wal_path(&self) -> PathBuf {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        PathBuf::from(wal)
    }
}

/// A SQLite database file behind the [`Engine`] contract.
///
/// ```
/// use zerotable::Storage;
/// use zerotable::engines::SqliteEngine;
///
/// # let dir = tempfile::tempdir().unwrap();
/// let storage = Storage::new(SqliteEngine::open(dir.path().join("app.sqlite"))?);
/// let names = storage.raw_table::<String>("names")?;
/// names.put("ada", b"Lovelace")?;
/// assert_eq!(names.get("ada", |bytes| bytes.to_vec())?, Some(b"Lovelace".to_vec()));
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct SqliteEngine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SqliteEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEngine")
            .field("path", &self.shared.path)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// The kind of a rusqlite error.
fn kind_of(error: &rusqlite::Error) -> EngineErrorKind {
    use rusqlite::ErrorCode as Code;
    match error.sqlite_error_code() {
        Some(Code::DatabaseCorrupt | Code::NotADatabase) => EngineErrorKind::Corrupted,
        Some(Code::TooBig) => EngineErrorKind::LimitExceeded,
        Some(Code::DatabaseBusy | Code::DatabaseLocked) => EngineErrorKind::InUse,
        Some(
            Code::SystemIoFailure
            | Code::DiskFull
            | Code::CannotOpen
            | Code::FileLockingProtocolFailed
            | Code::PermissionDenied
            | Code::ReadOnly
            | Code::NoLargeFileSupport,
        ) => EngineErrorKind::Io,
        Some(_) => EngineErrorKind::Other,
        // A value of another type than zerotable writes: the table was changed behind its back.
        None if matches!(
            error,
            rusqlite::Error::InvalidColumnType(..) | rusqlite::Error::FromSqlConversionFailure(..)
        ) =>
        {
            EngineErrorKind::Corrupted
        }
        None => EngineErrorKind::Other,
    }
}

/// Converts a rusqlite error into an [`Error::Engine`] with its kind, keeping it as the source.
pub(crate) fn sql_error(
    table: Option<&str>,
    operation: Operation,
) -> impl Fn(rusqlite::Error) -> Error + Copy + '_ {
    move |error| {
        let kind = kind_of(&error);
        let source = EngineError::new(kind, error);
        let source = match kind {
            EngineErrorKind::InUse => source.explained(
                "the database is locked: another process (or another engine of this process) \
                 holds SQLite's write lock longer than the busy timeout, or SQLite refused to \
                 change a table while one of its statements runs",
            ),
            _ => source,
        };
        Error::engine(table, operation, source)
    }
}

/// `sqlite://path/app.sqlite?durability=…&cache_size=…&busy_timeout_ms=…&readers=…`.
pub(super) fn connect(mut address: super::EngineAddress) -> Result<crate::Storage> {
    let options = SqliteOptions::from_options(&mut address.options)?;
    let path = address.path()?.to_owned();
    address.options.finish()?;
    Ok(crate::Storage::new(SqliteEngine::open_with(path, options)?))
}

/// The writer gates of the files this process has open, by canonical path: every engine on one
/// file shares one, so that their writers queue here (and a nested write across two of them is
/// `NestedWrite`) instead of polling SQLite's lock.
static GATES: Mutex<Vec<(PathBuf, Weak<WriterGate>)>> = Mutex::new(Vec::new());

fn gate_for(path: &Path) -> Arc<WriterGate> {
    let Ok(canonical) = std::fs::canonicalize(path) else {
        return Arc::default();
    };
    let mut gates = GATES.lock().unwrap_or_else(PoisonError::into_inner);
    gates.retain(|(_, gate)| gate.strong_count() > 0);
    if let Some(gate) = gates
        .iter()
        .find(|(path, _)| *path == canonical)
        .and_then(|(_, gate)| gate.upgrade())
    {
        return gate;
    }
    let gate = Arc::<WriterGate>::default();
    gates.push((canonical, Arc::downgrade(&gate)));
    gate
}

impl SqliteEngine {
    /// Opens the SQLite database at `path`, creating it if it does not exist, with default
    /// options (every commit fsynced). A file that is not a SQLite database is an
    /// [`Error::Open`] of kind [`Corrupted`](EngineErrorKind::Corrupted).
    ///
    /// ```
    /// use zerotable::EngineErrorKind;
    /// use zerotable::engines::SqliteEngine;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let engine = SqliteEngine::open(dir.path().join("app.sqlite"))?;
    /// # drop(engine);
    /// let not_sqlite = dir.path().join("notes.txt");
    /// std::fs::write(&not_sqlite, "a text file, long enough to fill a header: ".repeat(20)).unwrap();
    /// let err = SqliteEngine::open(&not_sqlite).unwrap_err();
    /// assert_eq!(err.engine_kind(), Some(EngineErrorKind::Corrupted));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens or creates the SQLite database at `path` with `options`, and puts it in WAL mode.
    ///
    /// ```
    /// use zerotable::engines::{SqliteEngine, SqliteOptions};
    /// use zerotable::{Durability, Engine, Storage};
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// // Commits without fsync; `flush` makes them all durable at once.
    /// let options = SqliteOptions::default().durability(Durability::None);
    /// let storage = Storage::new(SqliteEngine::open_with(dir.path().join("app.sqlite"), options)?);
    /// let log = storage.raw_table::<u64>("log")?;
    /// for i in 0..100 {
    ///     log.put(&i, b"entry")?;
    /// }
    /// storage.flush()?;
    /// assert_eq!(log.len()?, 100);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref();
        let open_error = |error: rusqlite::Error| Error::Open {
            location: path.display().to_string(),
            source: explain_open(path, EngineError::new(kind_of(&error), error)),
        };
        let opened = catch_engine_panic(None, Operation::Open, |_| {
            Ok(open_writer(path, &options).map_err(open_error))
        })
        .unwrap_or_else(|panic| {
            Err(Error::Open {
                location: path.display().to_string(),
                source: match panic {
                    Error::Engine { source, .. } => source,
                    other => EngineError::new(EngineErrorKind::Other, other.to_string()),
                },
            })
        });
        let writer = opened?;
        Ok(SqliteEngine {
            shared: Arc::new(Shared {
                path: path.to_owned(),
                gate: gate_for(path),
                options,
                readers: Mutex::new(Vec::new()),
                writer: Mutex::new(Some(writer)),
                snapshots: AtomicUsize::new(0),
            }),
        })
    }

    /// The path of the database file.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app.sqlite");
    /// let engine = zerotable::engines::SqliteEngine::open(&path)?;
    /// assert_eq!(engine.path(), path);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.shared.path
    }
}

/// Opens the writer connection: WAL mode, the default `synchronous`, and a first read of the
/// schema (which is where a file that is not a database, or a damaged schema, shows).
fn open_writer(path: &Path, options: &SqliteOptions) -> rusqlite::Result<Conn> {
    let conn = Conn::open(path, options, true)?;
    conn.with(|session| {
        let connection = session.connection();
        let mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!(
                    "the database stays in journal mode `{mode}` and cannot use WAL"
                )),
            ));
        }
        session.set_synchronous_full(options.durability == Durability::Immediate)?;
        session.refresh_known()
    })?;
    Ok(conn)
}

/// Says what an open error means, when the cause is known.
fn explain_open(path: &Path, error: EngineError) -> EngineError {
    let shown = path.display();
    let code = error
        .cause()
        .and_then(|cause| cause.downcast_ref::<rusqlite::Error>())
        .and_then(rusqlite::Error::sqlite_error_code);
    let explanation = match code {
        Some(rusqlite::ErrorCode::NotADatabase) => format!(
            "{shown} is not a SQLite database (the wrong file, or one whose header is damaged); \
             check the path, and if it is the right file restore it from a backup"
        ),
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => format!(
            "{shown} is a SQLite database but damaged; restore it from a backup (the sqlite3 \
             tool's `.recover` may save part of it)"
        ),
        Some(rusqlite::ErrorCode::CannotOpen) => match path.parent() {
            _ if path.is_dir() => format!(
                "{shown} is a directory; give the path of a database file (e.g. {})",
                path.join("app.sqlite").display()
            ),
            Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => format!(
                "the directory {} does not exist; create it first (std::fs::create_dir_all) or \
                 fix the path",
                dir.display()
            ),
            _ => format!(
                "{shown} cannot be opened for reading and writing: check the permissions of the \
                 file and of its directory (SQLite writes {shown}-wal and {shown}-shm beside it)"
            ),
        },
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied) => format!(
            "no permission to write {shown} or its directory (SQLite writes {shown}-wal and \
             {shown}-shm beside it); give this user write permission, or open a copy"
        ),
        _ => return error,
    };
    error.explained(explanation)
}

impl SqliteEngine {
    /// Takes the writer connection and begins a write transaction on it (the caller holds the
    /// writer gate).
    fn begin_writer(&self, options: WriteOptions) -> Result<Conn> {
        let conn = self.shared.take_writer()?;
        let durability = options.durability.unwrap_or(self.shared.options.durability);
        if let Err(error) = write::begin(&conn, durability) {
            if conn.with(|session| session.connection().is_autocommit()) {
                self.shared.give_back_writer(conn);
            }
            return Err(error);
        }
        Ok(conn)
    }
}

impl Engine for SqliteEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(Snapshot::begin(&self.shared)?))
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        let ticket = self.shared.gate.enter()?;
        let conn = self.begin_writer(options)?;
        Ok(Box::new(write::SqliteWrite::new(
            conn,
            Arc::clone(&self.shared),
            ticket,
        )))
    }

    /// The snapshot lives on the stack: an auto-commit read allocates nothing once a reader
    /// connection is pooled.
    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        let snapshot = Snapshot::begin(&self.shared)?;
        snapshot.reads(|reads| body(&reads))
    }

    /// One `SELECT` in auto-commit mode, no snapshot (see `read::get_latest`).
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        read::get_latest(&self.shared, table, key, found)
    }

    /// The write transaction lives on the stack.
    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        let _ticket = self.shared.gate.enter()?;
        let conn = self.begin_writer(options)?;
        let ended = write::run_scoped(&conn, body);
        if ended.reusable {
            self.shared.give_back_writer(conn);
        }
        // A panic of the body goes on once the transaction is rolled back and the connection
        // is back.
        ended.outcome.unwrap_or_else(|panic| resume_unwind(panic))
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn size_on_disk(&self) -> Result<u64> {
        let size = |path: &Path| match std::fs::metadata(path) {
            Ok(metadata) => Ok(metadata.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::engine_failure(
                None,
                Operation::SizeOnDisk,
                EngineErrorKind::Io,
                e,
            )),
        };
        Ok(size(&self.shared.path)? + size(&self.shared.wal_path())?)
    }

    /// `VACUUM`, then a checkpoint that truncates the WAL. Refused with `InUse` while a
    /// snapshot of this engine is open.
    fn compact(&self) -> Result<bool> {
        let _ticket = self.shared.gate.enter()?;
        let open = self.shared.snapshots.load(Ordering::SeqCst);
        if open > 0 {
            return Err(Error::engine(
                None,
                Operation::Compact,
                EngineError::of_kind(EngineErrorKind::InUse).explained(format!(
                    "{open} snapshot{} of this database {} open; compaction needs every \
                     transaction ended",
                    if open == 1 { "" } else { "s" },
                    if open == 1 { "is" } else { "are" },
                )),
            ));
        }
        self.shared.with_writer(Operation::Compact, |connection| {
            connection.execute_batch("VACUUM")?;
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        })?;
        Ok(true)
    }

    /// A passive checkpoint, then an fsync of the WAL file (every commit so far is in it or,
    /// checkpointed, in the database file, which the checkpoint synced) and of its directory.
    fn flush(&self) -> Result<()> {
        let _ticket = self.shared.gate.enter()?;
        self.shared.with_writer(Operation::Flush, |connection| {
            connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        })?;
        let io = |e: std::io::Error| {
            Error::engine_failure(None, Operation::Flush, EngineErrorKind::Io, e)
        };
        // The WAL file carries no lock of SQLite's (those are on the database and -shm files),
        // so opening and closing it here does not disturb SQLite's POSIX locks.
        match std::fs::File::open(self.shared.wal_path()) {
            Ok(wal) => wal.sync_all().map_err(io)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let dir = match self.shared.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// `PRAGMA integrity_check` on a reader connection: `Intact`, or a `Corrupted` error with
    /// the first problems SQLite reports.
    fn check_integrity(&self) -> Result<Integrity> {
        let conn = self.shared.take_reader()?;
        let error = sql_error(None, Operation::CheckIntegrity);
        let report = catch_engine_panic(None, Operation::CheckIntegrity, |_| {
            conn.with(|session| {
                let mut statement = session
                    .connection()
                    .prepare("PRAGMA integrity_check(20)")
                    .map_err(error)?;
                let mut rows = statement.raw_query();
                let mut report = Vec::new();
                while let Some(row) = rows.next().map_err(error)? {
                    report.push(row.get::<_, String>(0).map_err(error)?);
                }
                Ok(report)
            })
        });
        if conn.with(|session| session.connection().is_autocommit()) {
            self.shared.give_back_reader(conn);
        }
        let report = report?;
        if report.len() == 1 && report[0] == "ok" {
            return Ok(Integrity::Intact);
        }
        Err(Error::engine(
            None,
            Operation::CheckIntegrity,
            EngineError::new(
                EngineErrorKind::Corrupted,
                format!("PRAGMA integrity_check: {}", report.join("; ")),
            ),
        ))
    }
}

/// Closes the idle reader connections; the writer closes when the last snapshot or write
/// transaction still holding the engine's shared state ends — last, so that it checkpoints the
/// WAL into the database file and removes it.
impl Drop for SqliteEngine {
    fn drop(&mut self) {
        let _ = catch_engine_panic(None, Operation::Close, |_| {
            if let Ok(mut readers) = self.shared.readers.lock() {
                readers.clear();
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer connection's `synchronous` setting, as SQLite reports it (2 = FULL, 1 =
    /// NORMAL).
    fn synchronous(engine: &SqliteEngine) -> i64 {
        let writer = engine.shared.writer.lock().unwrap();
        let conn = writer.as_ref().expect("the writer connection is idle");
        conn.with(|session| {
            session
                .connection()
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .unwrap()
        })
    }

    /// Each commit runs with the `synchronous` level of its own durability, whatever the one
    /// before used, and the engine's default applies when a transaction names none.
    #[test]
    fn each_commit_gets_the_synchronous_level_of_its_durability() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions::default().durability(Durability::None);
        let engine = SqliteEngine::open_with(dir.path().join("app.sqlite"), options).unwrap();
        assert_eq!(synchronous(&engine), 1, "the default, at open");
        let commit = |durability: Option<Durability>| {
            let options = WriteOptions { durability };
            engine
                .write(options, &mut |txn| txn.put("t", b"k", b"v"))
                .unwrap();
            let txn = engine.begin_write(options).unwrap();
            txn.put("t", b"k", b"w").unwrap();
            txn.commit().unwrap();
            synchronous(&engine)
        };
        for _ in 0..2 {
            assert_eq!(commit(Some(Durability::Immediate)), 2);
            assert_eq!(commit(Some(Durability::None)), 1);
            assert_eq!(commit(Some(Durability::Immediate)), 2);
            assert_eq!(commit(None), 1, "the engine's default");
        }
    }
}
