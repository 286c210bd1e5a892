//! [`LmdbEngine`]: an LMDB environment through heed (cargo feature `lmdb`).
//!
//! LMDB keeps one B+tree file, `data.mdb`, memory-mapped read-only, and a lock file,
//! `lock.mdb`, in a directory: the environment. Reads walk the mapped pages; writes copy pages
//! and publish them with a new meta page at commit.
//!
//! # Semantics
//!
//! - **Snapshots** are LMDB read transactions, opened without thread-local storage (heed's
//!   `WithoutTls`, LMDB's `MDB_NOTLS`) so that they are `Send`. Each holds one of LMDB's reader
//!   slots (`max_readers`, 126 by default) while it lives, and keeps the pages it sees from
//!   being reused, as every MVCC snapshot does: keep them short. Beginning one is most of the
//!   cost of a one-key read (LMDB allocates and zeroes a transaction sized by `max_tables`, and
//!   claims a reader slot under a mutex), so an auto-commit read ([`Engine::read`]) borrows a
//!   snapshot kept from an earlier one while it is still the latest state (its transaction id
//!   is the last commit's); at most four are kept, a write transaction of this process ends the
//!   idle ones when it begins and when it commits, and they count as open snapshots.
//! - **Writers**: one at a time. LMDB serializes writers itself (across processes too), but
//!   waits forever on a nested write of the same thread, so zerotable's
//!   [`WriterGate`](crate::engine::WriterGate) admits one writer of this process at a time and
//!   refuses a nested one with [`NestedWrite`](crate::EngineErrorKind::NestedWrite).
//!   A write transaction stays on the thread that began it, as LMDB requires.
//! - **Durability**: [`Durability::Immediate`] (the default) is LMDB's default commit: data
//!   pages are fsynced, then the meta page. [`Durability::None`] commits with `MDB_NOSYNC` set
//!   on the environment: the writer sets it before such a commit and clears it before the next
//!   immediate one (only the holder of the writer gate changes flags, as heed asks: one thread
//!   at a time). Nothing is fsynced; the commit is in the OS's buffers, so it survives a crash
//!   of the process but not of the machine, until a later immediate commit or
//!   [`flush`](Engine::flush) (`mdb_env_sync`) syncs everything. Per-transaction
//!   [`WriteOptions::durability`] is honoured. LMDB's own documentation of `MDB_NOSYNC`: the
//!   file's integrity survives a machine crash only if the file system preserves the order of
//!   writes; otherwise "a system crash can corrupt the database". A clean close (the engine
//!   dropped) syncs if unsynced commits were made.
//! - **Tables** are LMDB named databases (`t:` + the name; names holding a NUL byte, which a C
//!   string cannot, are stored as `x:` + hex). Creating one inside a write transaction is
//!   transactional in LMDB (the database record is a key of the main database); zerotable
//!   does it in a nested transaction committed into the write transaction, as heed 0.23
//!   requires. zerotable's own list of tables is a database named `zerotable:tables`, written
//!   in the same transaction as the table: `list_tables` reads it, so a snapshot lists that
//!   snapshot's tables and a rolled-back transaction leaves no table behind. Dropping a table
//!   empties its database (`mdb_drop` without deleting it) and takes it off the list: LMDB
//!   cannot delete a named database while another thread may use its handle, so the empty
//!   database stays (and counts against `max_tables`, LMDB's `max_dbs`, 128 by default) until
//!   a table of the same name reuses it. Table names may be up to 509 bytes (254 with a NUL
//!   byte); longer ones are [`LimitExceeded`](crate::EngineErrorKind::LimitExceeded) for
//!   writes and missing for reads; more tables than `max_tables` is `LimitExceeded` too, and
//!   the transaction stays usable.
//! - **Table handles**: LMDB opens a named database once per process, and a handle serves only
//!   transactions begun after it was opened; heed 0.23 lets a handle outlive its transaction
//!   only once that transaction committed. So every table present at open is opened then; a
//!   write transaction opens (or creates) the others it needs in a nested transaction, and
//!   they serve everyone once it commits; and a snapshot that finds tables no handle serves yet
//!   (another process created them) opens them first, holding the writer gate, since LMDB
//!   forbids opening handles while a transaction of the process that opened some is unfinished.
//!   Such a snapshot waits for a write transaction of this process on another thread to end,
//!   and fails with `InUse` on the thread that holds one.
//! - **Keys** are stored behind one prefix byte, because LMDB refuses empty keys; the order of
//!   keys is unchanged. LMDB's keys are at most 511 bytes, so zerotable's are at most
//!   [`LmdbEngine::MAX_KEY_LEN`] = 510 bytes: a longer key is a `LimitExceeded` error for a
//!   put, never UB or a panic (a get or delete of such a key finds nothing). Values may be up
//!   to 4 GiB − 1, within the map.
//! - **Map size**: LMDB maps `map_size` bytes of address space (virtual and sparse: the file
//!   only holds the pages in use). The default is 1 GiB. LMDB may change it only while no
//!   transaction of the process is active, so growth happens when a write transaction begins:
//!   if the previous one found the map full (`MDB_MAP_FULL`), or three quarters of it are in
//!   use, and no snapshot of this process is open, the map doubles. A transaction that fills
//!   the map is rolled back by LMDB: its error is `LimitExceeded`, says that nothing of it was
//!   written and what the next transaction will do (or, with snapshots open, what to set).
//!   Another process's growth is adopted when LMDB reports it (`MDB_MAP_RESIZED`) at the
//!   beginning of a transaction, again when no snapshot of this process is open (else that
//!   beginning fails with `LimitExceeded`, saying so).
//! - **Reads are zero-copy**: a snapshot's callbacks get slices of the memory map itself. In a
//!   write transaction, bytes on pages that transaction has already changed live in LMDB's
//!   heap copies of those pages, which a later write in the same transaction may free ("values
//!   are valid only until a subsequent update operation"); those bytes — and only those — are
//!   copied into a buffer of the transaction before the callback sees them. Bytes still on the
//!   map are handed over as they are (LMDB never writes the map in place without
//!   `MDB_WRITEMAP`, which is not used).
//! - **Running reads**: writing or dropping a table from inside a read callback over that same
//!   table in the same write transaction is [`InUse`](crate::EngineErrorKind::InUse) (an LMDB
//!   cursor must not see its database change under it); other tables can be written there, and
//!   reads nest freely.
//! - **Several processes** may open the same environment at once: LMDB coordinates them
//!   through `lock.mdb` (one writer at a time across processes; readers never wait). Tables
//!   another process creates are found when a snapshot or write transaction begins. Snapshots
//!   kept for auto-commit reads are replaced by this process's next read or write: while it
//!   stays idle they keep the pages other processes' commits free from being reused. The
//!   environment must be used only through zerotable (any process): zerotable relies on never
//!   deleting a named database. Within one process, opening the same directory twice is
//!   refused with [`AlreadyOpen`](crate::EngineErrorKind::AlreadyOpen) (LMDB forbids it: its
//!   locks are per process, and closing one handle would release the other's); clone the
//!   `Storage` instead.
//! - **Damaged files**: LMDB checks the meta pages when it opens (a file that is not an LMDB
//!   file, or of another LMDB version, is a [`Corrupted`](crate::EngineErrorKind::Corrupted)
//!   open error), and zerotable checks that `data.mdb` is as long as its meta page says (a
//!   file cut short would otherwise crash the process with `SIGBUS` on the first read past its
//!   end). LMDB has no checksums: a data page damaged beyond the meta pages may go unnoticed,
//!   be reported as `MDB_CORRUPTED` / `MDB_PAGE_NOTFOUND` (a `Corrupted` error), or — with
//!   pointers damaged in the right way — crash the process; nothing can catch that.
//!   [`check_integrity`](Engine::check_integrity) walks the registry and every table's
//!   database, checking that LMDB can read every page, that keys come in strictly ascending
//!   order with zerotable's prefix, that entry counts match, and that every table holding
//!   data is listed; it cannot see damaged value bytes, nor repair anything.
//! - **Capabilities**: persistent, table administration, size on disk (`data.mdb` and
//!   `lock.mdb`), flush, integrity check. Not compaction: LMDB reuses freed pages but never
//!   shrinks its file, and its compacting copy (`mdb_env_copy2` with `MDB_CP_COMPACT`) would
//!   have to replace the file under every process that has it open, which this process cannot
//!   rule out; [`LmdbEngine::copy_compacted`] writes a compacted copy elsewhere instead.

mod harness;
mod names;
mod read;
mod reuse;
mod shared;
mod write;

use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use heed::types::{Bytes, DecodeIgnore};
use heed::{CommitOrAbort, EnvOpenOptions};

#[cfg(feature = "testing")]
pub use self::harness::LmdbHarness;
use self::shared::{Db, MainDb, Shared};
use crate::engine::{
    Capabilities, Durability, Engine, Integrity, ReadBody, ReadTxn, WriteBody, WriteOptions,
    WriteTxn, catch_engine_panic,
};
use crate::engines::{ByteSize, EngineOptions};
use crate::error::{EngineError, EngineErrorKind, Error, Holder, Operation, Result};

/// The default map size: 1 GiB of address space (not of disk).
const DEFAULT_MAP_SIZE: u64 = 1 << 30;
/// The default number of tables (LMDB named databases).
const DEFAULT_MAX_TABLES: u32 = 128;
/// The largest `max_tables`: LMDB allocates a slot per possible table in every transaction.
const MAX_MAX_TABLES: u32 = 32_767;
/// Map sizes are whole multiples of this (a multiple of every page size LMDB runs on).
const MAP_UNIT: u64 = 64 << 10;
/// The largest map: 64 TiB on 64-bit targets (whose processes have 128 TiB or more of address
/// space), 1 GiB on 32-bit ones. Growth stops there.
pub(super) const MAX_MAP_SIZE: usize = if usize::BITS >= 64 { 1 << 46 } else { 1 << 30 };

/// Settings for opening an [`LmdbEngine`].
///
/// ```
/// use zerotable::engines::{ByteSize, LmdbEngine, LmdbOptions};
/// use zerotable::{Durability, Storage};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let options = LmdbOptions::default()
///     .map_size(ByteSize(64 << 20))
///     .max_tables(32)
///     .durability(Durability::None);
/// let storage = Storage::new(LmdbEngine::open_with(dir.path().join("env"), options)?);
/// storage.raw_table::<u64>("t")?.put(&1, b"x")?;
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LmdbOptions {
    /// Address space mapped for the data (virtual, sparse); grows when full. Default 1 GiB.
    /// Rounded up to a multiple of 64 KiB.
    pub map_size: ByteSize,
    /// How many tables (LMDB named databases) the environment can hold; a dropped table still
    /// counts until a table of its name reuses its database. Default 128. LMDB allocates and
    /// zeroes about 57 bytes per possible table in every transaction it begins, so a large
    /// figure slows down every snapshot that is not reused (measured here: with 1024, a one-key
    /// read in a new snapshot took about twice as long as with 16).
    pub max_tables: u32,
    /// LMDB's reader slots: how many snapshots may be open at once, across processes.
    /// `None` keeps LMDB's default (126).
    pub max_readers: Option<u32>,
    /// Durability of every commit, unless a transaction overrides it.
    pub durability: Durability,
}

impl Default for LmdbOptions {
    fn default() -> Self {
        LmdbOptions {
            map_size: ByteSize(DEFAULT_MAP_SIZE),
            max_tables: DEFAULT_MAX_TABLES,
            max_readers: None,
            durability: Durability::Immediate,
        }
    }
}

impl LmdbOptions {
    /// Reads `map_size` (a [`ByteSize`]), `max_tables`, `max_readers` (whole numbers) and
    /// `durability` (`immediate` or `none`) from address options; a value out of range is an
    /// [`Error::InvalidConfig`] naming the option.
    ///
    /// ```
    /// use zerotable::engines::{ByteSize, EngineOptions, LmdbOptions};
    ///
    /// let mut options = EngineOptions::from_query("lmdb://env", "map_size=8GiB&max_tables=64")?;
    /// let lmdb = LmdbOptions::from_options(&mut options)?;
    /// assert_eq!((lmdb.map_size, lmdb.max_tables), (ByteSize(8 << 30), 64));
    ///
    /// let mut options = EngineOptions::from_query("lmdb://env", "max_tables=0")?;
    /// let err = LmdbOptions::from_options(&mut options).unwrap_err();
    /// assert!(err.to_string().contains("max_tables"), "{err}");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn from_options(options: &mut EngineOptions) -> Result<Self> {
        let mut this = LmdbOptions::default();
        if let Some(size) = options.take::<ByteSize>("map_size")? {
            this = this.map_size(size);
        }
        if let Some(tables) = options.take::<u32>("max_tables")? {
            this = this.max_tables(tables);
        }
        if let Some(readers) = options.take::<u32>("max_readers")? {
            this = this.max_readers(readers);
        }
        if let Some(durability) = options.take("durability")? {
            this = this.durability(durability);
        }
        if let Err((option, problem)) = this.check() {
            return Err(options.invalid(Some(option), problem));
        }
        Ok(this)
    }

    /// Sets the initial map size.
    pub fn map_size(mut self, size: ByteSize) -> Self {
        self.map_size = size;
        self
    }

    /// Sets how many tables the environment can hold.
    pub fn max_tables(mut self, tables: u32) -> Self {
        self.max_tables = tables;
        self
    }

    /// Sets how many snapshots may be open at once.
    pub fn max_readers(mut self, readers: u32) -> Self {
        self.max_readers = Some(readers);
        self
    }

    /// Sets the default durability of commits.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The option that is out of range, and why.
    fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.map_size.0 < MAP_UNIT {
            return Err((
                "map_size",
                format!("{} is too small: give at least 64KiB", self.map_size),
            ));
        }
        if self.map_size.0 > MAX_MAP_SIZE as u64 {
            return Err((
                "map_size",
                format!(
                    "{} is more address space than a process can map here: give at most {}",
                    self.map_size,
                    ByteSize(MAX_MAP_SIZE as u64)
                ),
            ));
        }
        if !(1..=MAX_MAX_TABLES).contains(&self.max_tables) {
            return Err((
                "max_tables",
                format!(
                    "{} is out of range: give 1 to {MAX_MAX_TABLES}",
                    self.max_tables
                ),
            ));
        }
        if self.max_readers == Some(0) {
            return Err((
                "max_readers",
                "0 is out of range: give at least 1".to_owned(),
            ));
        }
        Ok(())
    }

    /// The map size in bytes, rounded up to whole 64 KiB (`check` passed).
    fn map_bytes(&self) -> usize {
        let bytes = self.map_size.0.div_ceil(MAP_UNIT) * MAP_UNIT;
        usize::try_from(bytes).map_or(MAX_MAP_SIZE, |bytes| bytes.min(MAX_MAP_SIZE))
    }
}

/// An LMDB environment (a directory holding `data.mdb` and `lock.mdb`) behind the [`Engine`]
/// contract. See the [module documentation](self) for how zerotable's semantics map onto LMDB.
///
/// ```
/// use zerotable::Storage;
/// use zerotable::engines::LmdbEngine;
///
/// # let dir = tempfile::tempdir().unwrap();
/// let storage = Storage::new(LmdbEngine::open(dir.path().join("env"))?);
/// let users = storage.raw_table::<String>("users")?;
/// users.put("ada", b"Lovelace")?;
/// assert_eq!(users.get("ada", |v| v.to_vec())?, Some(b"Lovelace".to_vec()));
/// // The same through an address: Storage::connect("lmdb://path/to/env?map_size=8GiB")
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct LmdbEngine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LmdbEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmdbEngine")
            .field("path", &self.shared.path)
            .field("durability", &self.shared.durability)
            .finish_non_exhaustive()
    }
}

/// The kind of a heed error.
fn kind_of(error: &heed::Error) -> EngineErrorKind {
    use heed::MdbError as Mdb;
    match error {
        heed::Error::Io(_) => EngineErrorKind::Io,
        heed::Error::Mdb(
            Mdb::MapFull
            | Mdb::DbsFull
            | Mdb::ReadersFull
            | Mdb::TxnFull
            | Mdb::BadValSize
            | Mdb::MapResized
            | Mdb::TlsFull,
        ) => EngineErrorKind::LimitExceeded,
        heed::Error::Mdb(
            Mdb::Corrupted
            | Mdb::PageNotFound
            | Mdb::Invalid
            | Mdb::VersionMismatch
            | Mdb::Incompatible,
        ) => EngineErrorKind::Corrupted,
        heed::Error::Mdb(Mdb::Panic) => EngineErrorKind::Io,
        heed::Error::EnvAlreadyOpened => EngineErrorKind::AlreadyOpen,
        _ => EngineErrorKind::Other,
    }
}

/// Converts a heed error into an [`Error::Engine`] with its kind, keeping it as the source.
pub(crate) fn heed_error(
    table: Option<&str>,
    operation: Operation,
) -> impl FnOnce(heed::Error) -> Error {
    move |error| Error::engine(table, operation, EngineError::new(kind_of(&error), error))
}

/// `lmdb://dir?map_size=…&max_tables=…&max_readers=…&durability=…`: the path is the
/// environment's directory, created if missing.
pub(super) fn connect(mut address: super::EngineAddress) -> Result<crate::Storage> {
    let options = LmdbOptions::from_options(&mut address.options)?;
    let path = address.path()?.to_owned();
    address.options.finish()?;
    Ok(crate::Storage::new(LmdbEngine::open_with(path, options)?))
}

impl LmdbEngine {
    /// The longest key a table can hold, in bytes: LMDB's 511 minus zerotable's prefix byte.
    pub const MAX_KEY_LEN: usize = names::MAX_KEY;

    /// Opens the environment in directory `path` (created if missing) with default options:
    /// a 1 GiB map that grows when full, 128 tables, [`Durability::Immediate`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, LmdbOptions::default())
    }

    /// Opens the environment in directory `path` (created if missing) with `options`.
    ///
    /// Fails with [`AlreadyOpen`](crate::EngineErrorKind::AlreadyOpen) when this process has
    /// the directory open already, and with [`Corrupted`](crate::EngineErrorKind::Corrupted)
    /// when `data.mdb` is not an LMDB file or is shorter than it says.
    ///
    /// ```
    /// use zerotable::EngineErrorKind;
    /// use zerotable::engines::LmdbEngine;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("env");
    /// let engine = LmdbEngine::open(&path)?;
    /// let err = LmdbEngine::open(&path).unwrap_err();
    /// assert_eq!(err.engine_kind(), Some(EngineErrorKind::AlreadyOpen));
    /// drop(engine);
    /// let _again = LmdbEngine::open(&path)?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: LmdbOptions) -> Result<Self> {
        let path = path.as_ref();
        let location = path.display().to_string();
        if let Err((option, problem)) = options.check() {
            return Err(Error::InvalidConfig {
                origin: location,
                option: Some(option.to_owned()),
                problem,
            });
        }
        let open_error = |source: EngineError| Error::Open {
            location: location.clone(),
            source,
        };
        let io = |e: std::io::Error| explain_io(path, EngineError::new(EngineErrorKind::Io, e));
        std::fs::create_dir_all(path).map_err(|e| open_error(io(e)))?;
        let canonical = std::fs::canonicalize(path).map_err(|e| open_error(io(e)))?;
        let open = OpenPath::enter(&canonical).ok_or_else(|| {
            open_error(
                EngineError::of_kind(EngineErrorKind::AlreadyOpen)
                    .with_holder(Holder::ThisProcess { handles: None })
                    .explained(
                        "this process has this LMDB environment open already: an LmdbEngine, \
                         or a Storage, Table, snapshot or transaction over it, is still alive \
                         (LMDB must not open one environment twice in a process: clone the \
                         Storage instead)",
                    ),
            )
        })?;
        let engine_error = |error: Error| match error {
            Error::Engine { source, .. } => open_error(explain_open(path, source)),
            other => other,
        };
        let env = open_env(&canonical, &options).map_err(engine_error)?;
        check_length(&env, &canonical).map_err(open_error)?;
        let (main, registry) = open_core(&env).map_err(engine_error)?;
        let shared = Shared::new(env, main, registry, options.durability, canonical, open);
        let ticket = shared.writers.enter()?;
        shared.register_new(&ticket).map_err(engine_error)?;
        drop(ticket);
        Ok(LmdbEngine {
            shared: Arc::new(shared),
        })
    }

    /// The environment's directory (canonical).
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The current map size in bytes (it grows when full).
    ///
    /// ```
    /// use zerotable::engines::{ByteSize, LmdbEngine, LmdbOptions};
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let engine = LmdbEngine::open_with(dir.path(), LmdbOptions::default().map_size(ByteSize(1 << 20)))?;
    /// assert_eq!(engine.map_size(), 1 << 20);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn map_size(&self) -> usize {
        self.shared.env.info().map_size
    }

    /// Writes a compacted copy of the environment — only the pages in use, in order — as
    /// `data.mdb` in directory `dest` (created if missing; it must not hold an environment
    /// already). LMDB copies from one snapshot, so writers go on meanwhile. Opening `dest`
    /// instead of this environment, once every process closed it, is how to shrink the file.
    ///
    /// ```
    /// use zerotable::Storage;
    /// use zerotable::engines::LmdbEngine;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let engine = LmdbEngine::open(dir.path().join("env"))?;
    /// Storage::new(engine).raw_table::<u64>("t")?.put(&1, b"x")?;
    /// # let engine = LmdbEngine::open(dir.path().join("other"))?;
    /// engine.copy_compacted(dir.path().join("compacted"))?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn copy_compacted(&self, dest: impl AsRef<Path>) -> Result<()> {
        let dest = dest.as_ref();
        let error = |e: std::io::Error| {
            Error::engine_failure(None, Operation::Compact, EngineErrorKind::Io, e)
        };
        std::fs::create_dir_all(dest).map_err(error)?;
        let file = dest.join("data.mdb");
        if file.exists() {
            return Err(error(std::io::Error::new(
                IoKind::AlreadyExists,
                format!("{} exists already", file.display()),
            )));
        }
        catch_engine_panic(None, Operation::Compact, |_| {
            let _active = self.shared.enter();
            let copied = self
                .shared
                .env
                .copy_to_path(&file, heed::CompactionOption::Enabled)
                .map_err(heed_error(None, Operation::Compact))?;
            copied.sync_all().map_err(error)
        })
    }
}

/// Opens the heed environment.
fn open_env(path: &Path, options: &LmdbOptions) -> Result<heed::Env<heed::WithoutTls>> {
    let mut builder = EnvOpenOptions::new().read_txn_without_tls();
    builder
        .map_size(options.map_bytes())
        // One more than the tables: zerotable's registry is a named database too.
        .max_dbs(options.max_tables + 1);
    if let Some(readers) = options.max_readers {
        builder.max_readers(readers);
    }
    catch_engine_panic(None, Operation::Open, |_| {
        // SAFETY: heed marks opening unsafe because the map is undefined behaviour if the file
        // is modified other than through LMDB. What this crate upholds: the same path is never
        // opened twice in this process (the caller holds its entry in the process-wide list of
        // open environments, and heed refuses a second open of a path it has open); no
        // `NO_LOCK`, `WRITE_MAP` or `NO_SUB_DIR` flag is used, so LMDB's lock file coordinates
        // every process that opens it; and the file is checked not to be shorter than its meta
        // page says before any data page is read. What the user must uphold, as for any LMDB
        // file: no other program writes `data.mdb` except through LMDB, and it is not on a
        // network file system. The module documentation says so.
        unsafe { builder.open(path) }.map_err(heed_error(None, Operation::Open))
    })
}

/// Refuses a `data.mdb` shorter than its last page: reading a page past the end of a mapped
/// file kills the process (`SIGBUS`).
fn check_length(
    env: &heed::Env<heed::WithoutTls>,
    path: &Path,
) -> std::result::Result<(), EngineError> {
    let page_size = env.unnamed_database_stat().page_size as u64;
    let needed = (env.info().last_page_number as u64 + 1).saturating_mul(page_size);
    let file = path.join("data.mdb");
    let length = std::fs::metadata(&file)
        .map_err(|e| EngineError::new(EngineErrorKind::Io, e))?
        .len();
    if length < needed {
        return Err(EngineError::new(
            EngineErrorKind::Corrupted,
            format!(
                "{} is {length} bytes long, but its meta page says its pages reach {needed} bytes",
                file.display()
            ),
        )
        .explained(
            "the file was cut short (a failed copy, a full disk, or damage): restore it from a \
             backup",
        ));
    }
    Ok(())
}

/// Opens LMDB's main database and zerotable's registry (creating the registry if missing).
fn open_core(env: &heed::Env<heed::WithoutTls>) -> Result<(MainDb, Db)> {
    let error = |operation| heed_error(None, operation);
    catch_engine_panic(None, Operation::Open, |_| {
        let rtxn = env.read_txn().map_err(error(Operation::Open))?;
        let opened = env
            .open_databases_and_commit(rtxn, |opener, rtxn| -> heed::Result<_> {
                let main = opener.open_database::<Bytes, DecodeIgnore>(rtxn, None)?;
                let registry = opener.open_database::<Bytes, Bytes>(rtxn, Some(names::REGISTRY))?;
                Ok(CommitOrAbort::<_, ()>::Commit((main, registry)))
            })
            .map_err(error(Operation::Open))?;
        let (main, registry) = match opened {
            CommitOrAbort::Commit((Some(main), registry)) => (main, registry),
            _ => {
                return Err(Error::engine_failure(
                    None,
                    Operation::Open,
                    EngineErrorKind::Corrupted,
                    "LMDB's main database cannot be opened",
                ));
            }
        };
        let registry = match registry {
            Some(registry) => registry,
            None => {
                let wtxn = env.write_txn().map_err(error(Operation::Open))?;
                env.create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
                    let registry =
                        opener.create_database::<Bytes, Bytes>(wtxn, Some(names::REGISTRY))?;
                    Ok(CommitOrAbort::<_, ()>::Commit(registry))
                })
                .map_err(error(Operation::Open))?
                .commit()
                .unwrap_or_else(|| unreachable!("the registry's creation is never aborted"))
            }
        };
        Ok((main, registry))
    })
}

impl Engine for LmdbEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(read::begin(Arc::clone(&self.shared))?))
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        write::begin_boxed(&self.shared, options)
    }

    /// Reuses a snapshot kept from an earlier read while nothing was committed since (see
    /// `reuse.rs`), or begins one on the stack.
    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        let shared = &*self.shared;
        let Some(mut lease) = shared.reuse.lease() else {
            let snapshot = read::begin(shared)?;
            return body(&snapshot);
        };
        let result = {
            let snapshot = lease.snapshot(shared)?;
            body(&snapshot)
        };
        lease.release(shared);
        result
    }

    /// The write transaction lives on the stack and borrows the engine.
    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        write::run_scoped(&self.shared, options, body)
    }

    fn name(&self) -> &'static str {
        "lmdb"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            compact: false,
            ..Capabilities::ALL
        }
    }

    fn size_on_disk(&self) -> Result<u64> {
        let mut total = 0;
        for file in ["data.mdb", "lock.mdb"] {
            let metadata = std::fs::metadata(self.shared.path.join(file)).map_err(|e| {
                Error::engine_failure(None, Operation::SizeOnDisk, EngineErrorKind::Io, e)
            })?;
            total += metadata.len();
        }
        Ok(total)
    }

    fn flush(&self) -> Result<()> {
        catch_engine_panic(None, Operation::Flush, |_| {
            self.shared.sync(Operation::Flush)
        })
    }

    fn check_integrity(&self) -> Result<Integrity> {
        let snapshot = read::begin(&*self.shared)?;
        snapshot.view().check_integrity()?;
        Ok(Integrity::Intact)
    }
}

/// An environment this process has open, in the process-wide list, until dropped.
pub(super) struct OpenPath(PathBuf);

/// The environments this process has open (canonical paths).
static OPEN_PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn open_paths() -> MutexGuard<'static, Vec<PathBuf>> {
    // No caller code runs under this lock: a poisoned list is still a consistent list.
    OPEN_PATHS.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OpenPath {
    /// Lists `path` as open; `None` if it is already.
    fn enter(path: &Path) -> Option<Self> {
        let mut paths = open_paths();
        if paths.iter().any(|open| open == path) {
            return None;
        }
        paths.push(path.to_owned());
        Some(OpenPath(path.to_owned()))
    }
}

impl Drop for OpenPath {
    fn drop(&mut self) {
        open_paths().retain(|open| *open != self.0);
    }
}

/// Adds what to do to an I/O error about the environment's directory.
fn explain_io(path: &Path, error: EngineError) -> EngineError {
    let shown = path.display();
    let kind = error
        .cause()
        .and_then(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let explanation = match kind {
        Some(IoKind::NotADirectory | IoKind::AlreadyExists) if path.is_file() => format!(
            "{shown} is a file; an LMDB environment is a directory (holding data.mdb and \
             lock.mdb): give the path of a directory"
        ),
        Some(IoKind::NotADirectory | IoKind::AlreadyExists) => {
            format!("a part of {shown} is a file, not a directory: fix the path")
        }
        Some(IoKind::PermissionDenied) => format!(
            "no permission to create or open {shown}: an LMDB environment needs read and write \
             permission on its directory and on data.mdb and lock.mdb in it (chmod u+rwx on \
             the directory, u+rw on the files)"
        ),
        Some(IoKind::ReadOnlyFilesystem) => format!(
            "{shown} is on a read-only file system, and LMDB opens environments for writing \
             (its lock file too): copy it to a writable place"
        ),
        _ => return error,
    };
    error.explained(explanation)
}

/// Adds what was found out to an error of opening the environment.
fn explain_open(path: &Path, error: EngineError) -> EngineError {
    let data = path.join("data.mdb");
    let shown = data.display();
    let mdb = error
        .cause()
        .and_then(|cause| cause.downcast_ref::<heed::Error>());
    let explanation =
        match mdb {
            Some(heed::Error::Mdb(heed::MdbError::Invalid)) => format!(
                "{shown} is not an LMDB data file (the wrong file, or its meta pages are damaged); \
             check the path, and if it is the right environment restore it from a backup"
            ),
            Some(heed::Error::Mdb(heed::MdbError::VersionMismatch)) => {
                format!("{shown} was written by an incompatible version of LMDB")
            }
            Some(heed::Error::EnvAlreadyOpened) => {
                return error.with_holder(Holder::ThisProcess { handles: None }).explained(
                "this process has this LMDB environment open already, through heed directly",
            );
            }
            Some(heed::Error::Mdb(heed::MdbError::DbsFull)) => {
                "this environment holds more tables than max_tables allows (LMDB's named \
             databases; a dropped table keeps its empty database): open it with a larger \
             max_tables"
                    .to_owned()
            }
            Some(heed::Error::Io(_)) => return explain_io(path, error),
            _ if error.kind() == EngineErrorKind::Corrupted => format!(
                "{shown} is an LMDB data file but its pages are damaged: restore it from a backup"
            ),
            _ => return error,
        };
    error.explained(explanation)
}
