//! [`FjallEngine`]: a fjall database (a pure-Rust LSM tree) in a folder, behind the [`Engine`]
//! contract (cargo feature `fjall`).
//!
//! # How zerotable's contract maps onto fjall
//!
//! - **Transactions**: fjall's optimistic transactional database
//!   ([`fjall::OptimisticTxDatabase`]). Its read transactions are fjall snapshots (owned and
//!   `Send`); its write transactions keep their own writes in a private memtable, which every
//!   read of the transaction sees, and commit them as one atomic, cross-keyspace batch.
//!   (fjall's single-writer database is not used: its write handle holds a mutex guard, and a
//!   write transaction dropped while its thread unwinds from a panic would poison that mutex and
//!   make every later write panic.)
//! - **Writers**: one at a time, admitted by a [`WriterGate`]: a second writer on another thread
//!   waits, a nested write on the thread holding the write is
//!   [`NestedWrite`](crate::EngineErrorKind::NestedWrite). With writers serialized, fjall's
//!   conflict check never finds a conflict; if it ever did, the commit would fail with
//!   [`Conflict`](crate::EngineErrorKind::Conflict) having applied nothing.
//! - **Snapshots** see one state of every table: the fjall snapshot and the table catalog of
//!   the same moment (see *Tables*).
//! - **Durability**: fjall writes each commit to its journal and, unless asked, does not fsync
//!   it. [`Durability::Immediate`] (the default) commits with fjall's `PersistMode::SyncAll`:
//!   the journal is flushed and fsynced inside the commit, before it becomes visible and before
//!   `commit` returns. [`Durability::None`] commits with `PersistMode::Buffer`: the journal's
//!   buffer is handed to the operating system, not fsynced — such a commit survives a crash of
//!   the *process* at once (the kernel holds it), but not a crash of the machine or a power
//!   loss until a later immediate commit or [`flush`](Engine::flush) (`persist(SyncAll)`).
//!   [`WriteOptions::durability`] chooses per transaction; [`FjallOptions::durability`] is the
//!   default.
//! - **Tables** are fjall keyspaces, one per table, named `zt_t<id>` with a number from the
//!   catalog — so any `&str` works as a table name (fjall limits keyspace names to 255 bytes of
//!   a few characters). fjall creates and deletes keyspaces outside transactions, so the
//!   tables that exist are listed in a catalog keyspace of zerotable's own, `zt_catalog`
//!   (`0x00` + table name → keyspace id, and the next id), written in the same transaction as
//!   the data. A table's keyspace is created when a write transaction first writes (or
//!   creates) it, before the commit, and stays invisible until the catalog says the table
//!   exists: a rolled-back transaction leaves at most an empty, unlisted keyspace, whose id the
//!   next new table reuses. Dropping a table removes its catalog entry in the transaction; its
//!   keyspace — which snapshots that began earlier may still read — is deleted from disk by
//!   the next [`compact`](Engine::compact) (which runs with no transaction open) or the next
//!   open, whichever comes first. Snapshots and write transactions keep an in-memory copy of
//!   the catalog of their moment, so looking a table up costs no read of the catalog keyspace.
//! - **Keys**: fjall refuses empty keys, so keys are stored escaped, in an order-preserving
//!   way: a key that is empty or starts with byte `0x00` is stored with one `0x00` in front;
//!   every other key is stored as it is. Reads hand back the stored key without its first byte
//!   in the first case — a sub-slice, no copy. Keys may be up to 65,535 stored bytes (65,534
//!   for keys that are empty or start with `0x00`); values up to 4 GiB − 64 MiB (fjall stores
//!   lengths in 32 bits, and lz4-compresses large values in its journal). Longer ones are
//!   [`LimitExceeded`](crate::EngineErrorKind::LimitExceeded) errors; a get or delete of a key
//!   longer than any stored key simply finds nothing.
//! - **Zero-copy**: fjall returns values as reference-counted slices of its blocks — the block
//!   cache's buffer for data on disk, the memtable's for recent writes, and the transaction's
//!   own memtable for its uncommitted writes — and the callback gets exactly those bytes. A copy
//!   happens only where fjall makes one: a value of up to 20 bytes is copied into the slice
//!   handle itself (fjall's small-slice form; no heap allocation), a block fjall reads from
//!   disk is decompressed into the cache, and a key whose prefix the block shares with the one
//!   before it is rebuilt (keys only). A lookup key that needs escaping is copied to a stack
//!   buffer (a heap one past 256 bytes). Writes copy key and value into fjall's memtable, as any
//!   LSM tree must.
//! - **Reads inside a write transaction** see its writes (fjall merges its private memtable).
//!   A callback may write *other* tables; writing or dropping the table a running range (or
//!   `get` callback) of the same transaction reads is
//!   [`InUse`](crate::EngineErrorKind::InUse) ([`RunningReads`](crate::engine::RunningReads)).
//! - **One process at a time**: fjall locks the folder (`lock` file, an advisory lock). A
//!   second open of an open folder is an [`Error::Open`] of kind
//!   [`AlreadyOpen`](crate::EngineErrorKind::AlreadyOpen): at once, naming this process, when
//!   this process has it open (an engine, or a `Storage`/`Table` over it, is still alive); after
//!   fjall's short retry (about 200 ms) when another process holds it.
//! - **Opening**: a new database is created in a temporary folder beside the path and renamed
//!   into place, so that it appears complete or not at all. A path that is a file, a folder
//!   holding other files, a missing parent folder and a damaged version marker are open errors
//!   with a kind and an explanation. A damaged journal is an open error of kind `Corrupted`
//!   when a commit in it fails its checksum; where the damage breaks the journal's structure
//!   instead, fjall's recovery truncates the journal there and opens with the commits before
//!   the damage only, without an error (whole commits: never part of one);
//!   damaged table files are [`Corrupted`](crate::EngineErrorKind::Corrupted) errors when read
//!   (fjall checks every block's checksum). Never a panic: every call into fjall is guarded
//!   ([`catch_engine_panic`]) — a panic inside fjall becomes a `Corrupted` error, and a write
//!   transaction that met one is rolled back.
//! - **Capabilities**: persistent, table administration, size on disk (every file under the
//!   folder), flush (`persist(SyncAll)`) and compaction (deleting dropped tables' keyspaces,
//!   then flushing every table's memtable and compacting it into one sorted run, which drops
//!   deleted and overwritten entries; `InUse` while any snapshot or write transaction is open).
//!   No integrity check: fjall verifies block checksums as it reads, but has no whole-database
//!   check. Size on disk includes fjall's journals, which keep a copy of recent writes (of
//!   dropped tables too) until fjall rotates them, past
//!   [`max_journal_size`](FjallOptions::max_journal_size).
//! - **Cost of the optimistic database**: each read inside a write transaction is recorded for
//!   fjall's conflict check (a small allocation per `get`), and the write set of a commit is
//!   kept in memory until no snapshot older than it remains. Snapshots record nothing.

mod harness;
mod read;
mod write;

use std::collections::BTreeMap;
use std::io::ErrorKind as IoKind;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use fjall::{KeyspaceCreateOptions, PersistMode, Readable};

#[cfg(feature = "testing")]
pub use self::harness::FjallHarness;
use self::read::FjallRead;
use self::write::FjallWrite;
use crate::engine::{
    Capabilities, Durability, Engine, ReadBody, ReadTxn, WriteBody, WriteOptions, WriteTxn,
    WriterGate, catch_engine_panic,
};
use crate::error::{EngineError, EngineErrorKind, Error, Holder, Operation, Result};

/// The keyspace listing the tables (zerotable's catalog of fjall keyspaces).
const CATALOG_KEYSPACE: &str = "zt_catalog";
/// The prefix of a table's keyspace name; the table's id follows.
const TABLE_KEYSPACE_PREFIX: &str = "zt_t";
/// Catalog key prefix of a table entry (`0x00` + name → id).
const TABLE_ENTRY: u8 = 0x00;
/// Catalog key of the next table id.
const NEXT_ID_KEY: &[u8] = b"\x01next_id";
/// Catalog key of the layout version.
const FORMAT_KEY: &[u8] = b"\x01format";
/// The layout version this code writes and reads.
const FORMAT: u32 = 1;

/// The longest key fjall stores, in stored bytes.
const MAX_STORED_KEY: usize = u16::MAX as usize;
/// The longest value accepted: fjall keeps value lengths in 32 bits, and lz4-compresses large
/// values in its journal, which can grow incompressible ones by up to 1/255.
const MAX_VALUE: usize = (u32::MAX as usize) - (64 << 20);

/// Settings for opening a [`FjallEngine`].
///
/// ```
/// use zerotable::engines::{FjallEngine, FjallOptions};
/// use zerotable::{Durability, Storage};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let options = FjallOptions::default()
///     .durability(Durability::None)
///     .cache_size(64 << 20)
///     .worker_threads(2);
/// let storage = Storage::new(FjallEngine::open(dir.path().join("app"), options)?);
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct FjallOptions {
    /// Durability of every commit, unless a transaction overrides it.
    pub durability: Durability,
    /// Block cache size in bytes; `None` keeps fjall's default (32 MiB).
    pub cache_size: Option<u64>,
    /// Background threads for flushing and compaction (at least 1); `None` keeps fjall's
    /// default (the number of cores, at most 4).
    pub worker_threads: Option<usize>,
    /// Journal size past which fjall flushes memtables so that old journals can go (at least
    /// 64 MiB); `None` keeps fjall's default (512 MiB).
    pub max_journal_size: Option<u64>,
}

impl FjallOptions {
    /// Reads `durability` (`immediate` or `none`), `cache_size` and `max_journal_size`
    /// ([`ByteSize`](crate::engines::ByteSize)s) and `worker_threads` (a number) from address
    /// options; values out of range are [`Error::InvalidConfig`] naming the option.
    ///
    /// ```
    /// use zerotable::engines::{EngineOptions, FjallOptions};
    ///
    /// let mut options = EngineOptions::from_query("fjall://app", "cache_size=64MiB&worker_threads=2")?;
    /// let fjall = FjallOptions::from_options(&mut options)?;
    /// options.finish()?;
    /// assert_eq!((fjall.cache_size, fjall.worker_threads), (Some(64 << 20), Some(2)));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn from_options(options: &mut crate::engines::EngineOptions) -> Result<Self> {
        let mut this = FjallOptions::default();
        if let Some(durability) = options.take("durability")? {
            this = this.durability(durability);
        }
        if let Some(size) = options.take::<crate::engines::ByteSize>("cache_size")? {
            this = this.cache_size(size.0);
        }
        if let Some(threads) = options.take::<usize>("worker_threads")? {
            this = this.worker_threads(threads);
        }
        if let Some(size) = options.take::<crate::engines::ByteSize>("max_journal_size")? {
            this = this.max_journal_size(size.0);
        }
        this.check()
            .map_err(|(option, problem)| options.invalid(Some(option), problem))?;
        Ok(this)
    }

    /// Sets the default durability of commits.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the block cache size in bytes.
    pub fn cache_size(mut self, bytes: u64) -> Self {
        self.cache_size = Some(bytes);
        self
    }

    /// Sets the number of background threads (at least 1).
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = Some(threads);
        self
    }

    /// Sets the journal size past which memtables are flushed (at least 64 MiB).
    pub fn max_journal_size(mut self, bytes: u64) -> Self {
        self.max_journal_size = Some(bytes);
        self
    }

    /// The option at fault and why, if a value is out of fjall's range (fjall would panic).
    fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.worker_threads == Some(0) {
            return Err(("worker_threads", "must be at least 1".to_owned()));
        }
        if let Some(bytes) = self.max_journal_size
            && bytes < 64 << 20
        {
            return Err((
                "max_journal_size",
                format!(
                    "{} is below fjall's minimum of 64MiB",
                    crate::engines::ByteSize(bytes)
                ),
            ));
        }
        Ok(())
    }
}

/// A table's keyspace.
pub(super) struct Space {
    /// The id in the keyspace's name.
    id: u64,
    keyspace: fjall::Keyspace,
}

/// The tables that exist at one moment, and the next table id.
#[derive(Clone, Default)]
pub(super) struct Catalog {
    tables: BTreeMap<String, Arc<Space>>,
    next_id: u64,
}

/// What the engine, its snapshots and its write transactions share.
pub(super) struct Shared {
    db: fjall::OptimisticTxDatabase,
    /// The catalog keyspace.
    catalog_keyspace: fjall::Keyspace,
    /// The committed catalog. A commit that changes it holds the write lock from before its
    /// fjall commit until the new catalog is in place; a snapshot takes its fjall snapshot and
    /// the catalog under the read lock, so the two are of the same moment.
    catalog: RwLock<Arc<Catalog>>,
    /// Snapshots and write transactions alive (compaction needs none).
    open: AtomicUsize,
    durability: Durability,
    /// Declared last: leaves the list of open folders once the database above is closed.
    _listed: Listed,
}

impl Shared {
    fn current_catalog(&self) -> Arc<Catalog> {
        // No caller code runs under this lock: a poisoned lock still holds a whole catalog.
        Arc::clone(&self.catalog.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Counts one open snapshot or write transaction, until dropped.
pub(super) struct OpenMark(Arc<Shared>);

impl OpenMark {
    fn new(shared: Arc<Shared>) -> Self {
        shared.open.fetch_add(1, Ordering::AcqRel);
        OpenMark(shared)
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.0
    }
}

impl Drop for OpenMark {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A fjall database folder behind the [`Engine`] contract (cargo feature `fjall`).
///
/// In short (the module docs of `src/engines/fjall/mod.rs` give the whole mapping):
/// - transactions are fjall's optimistic ones, with one writer at a time; snapshots are fjall
///   snapshots;
/// - [`Durability::Immediate`] (the default) fsyncs fjall's journal in every commit;
///   [`Durability::None`] hands it to the operating system only (it survives a crash of the
///   process, not of the machine, until a later immediate commit or
///   [`flush`](Engine::flush));
/// - each table is a fjall keyspace listed in a catalog keyspace written in the same
///   transactions, so creating and dropping tables is transactional and any name works; a
///   dropped table's keyspace is deleted by [`compact`](Engine::compact) or the next open;
/// - keys may be empty (they are stored escaped, in the same order) and up to 65,535 bytes
///   (65,534 when empty or starting with a zero byte); values up to 4 GiB − 64 MiB;
/// - reads hand the callback fjall's own reference-counted slice of the block cache or
///   memtable;
/// - fjall locks the folder: a second open, from this process or another, is an
///   [`Error::Open`] of kind [`AlreadyOpen`](crate::EngineErrorKind::AlreadyOpen).
///
/// ```
/// use zerotable::engines::{FjallEngine, FjallOptions};
/// use zerotable::Storage;
///
/// # let dir = tempfile::tempdir().unwrap();
/// let storage = Storage::new(FjallEngine::open(dir.path().join("app"), FjallOptions::default())?);
/// let users = storage.raw_table::<u64>("users")?;
/// users.put(&1, b"ada")?;
/// assert_eq!(users.get(&1, |v| v.to_vec())?, Some(b"ada".to_vec()));
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct FjallEngine {
    shared: Arc<Shared>,
    writers: Arc<WriterGate>,
    path: PathBuf,
}

impl std::fmt::Debug for FjallEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallEngine")
            .field("path", &self.path)
            .field("durability", &self.shared.durability)
            .finish_non_exhaustive()
    }
}

/// `fjall://path?durability=…&cache_size=…&worker_threads=…&max_journal_size=…`.
pub(super) fn connect(mut address: super::EngineAddress) -> Result<crate::Storage> {
    let options = FjallOptions::from_options(&mut address.options)?;
    let path = address.path()?.to_owned();
    address.options.finish()?;
    Ok(crate::Storage::new(FjallEngine::open(path, options)?))
}

impl FjallEngine {
    /// Opens the fjall database in the folder `path`, creating it if it does not exist.
    pub fn open(path: impl AsRef<Path>, options: FjallOptions) -> Result<Self> {
        let path = path.as_ref();
        let open_error = |source: EngineError| Error::Open {
            location: path.display().to_string(),
            source,
        };
        options
            .check()
            .map_err(|(option, problem)| Error::InvalidConfig {
                origin: "FjallOptions".to_owned(),
                option: Some(option.to_owned()),
                problem,
            })?;
        check_folder(path).map_err(open_error)?;
        if !path.join("version").exists() {
            create_atomically(path, &options).map_err(|e| open_error(explain_open(path, e)))?;
        }
        let canonical = std::fs::canonicalize(path).map_err(|e| {
            open_error(explain_open(path, EngineError::new(EngineErrorKind::Io, e)))
        })?;
        let listed = Listed::enter(canonical).map_err(open_error)?;
        let shared =
            open_shared(path, &options, listed).map_err(|e| open_error(explain_open(path, e)))?;
        Ok(FjallEngine {
            shared: Arc::new(shared),
            writers: Arc::default(),
            path: path.to_owned(),
        })
    }

    /// The folder of the database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying fjall database, for what zerotable does not cover (reading is safe;
    /// writes made directly are outside zerotable's catalog and writer gate).
    pub fn database(&self) -> &fjall::OptimisticTxDatabase {
        &self.shared.db
    }

    /// The fjall keyspace holding `table` as committed now, if the table exists. Its keys are
    /// stored escaped: a key that is empty or starts with `0x00` has one `0x00` in front.
    ///
    /// ```
    /// use fjall::Readable;
    /// use zerotable::engines::{FjallEngine, FjallOptions};
    /// use zerotable::Storage;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let engine = std::sync::Arc::new(FjallEngine::open(dir.path().join("app"), FjallOptions::default())?);
    /// Storage::from_arc(engine.clone()).raw_table::<String>("notes")?.put("a", b"1")?;
    /// let keyspace = engine.keyspace("notes").expect("the table exists");
    /// let snapshot = engine.database().read_tx();
    /// assert_eq!(snapshot.get(&keyspace, "a").unwrap().as_deref(), Some(&b"1"[..]));
    /// assert!(engine.keyspace("missing").is_none());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn keyspace(&self, table: &str) -> Option<fjall::Keyspace> {
        let catalog = self.shared.current_catalog();
        catalog
            .tables
            .get(table)
            .map(|space| space.keyspace.clone())
    }

    fn snapshot(&self) -> Result<FjallRead> {
        catch_engine_panic(None, Operation::BeginRead, |_| {
            Ok(FjallRead::begin(Arc::clone(&self.shared)))
        })
    }

    fn begin(&self, options: WriteOptions) -> Result<FjallWrite> {
        let ticket = self.writers.enter()?;
        let durability = options.durability.unwrap_or(self.shared.durability);
        FjallWrite::begin(Arc::clone(&self.shared), durability, ticket)
    }

    /// Deletes the keyspaces of dropped tables (and of tables whose creation was rolled
    /// back): every `zt_t<id>` keyspace the committed catalog does not name. The caller
    /// makes sure no snapshot or write transaction is open.
    fn delete_unlisted_keyspaces(&self) -> Result<bool> {
        delete_unlisted(&self.shared.db, &self.shared.current_catalog())
    }
}

impl Engine for FjallEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(self.snapshot()?))
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        Ok(Box::new(self.begin(options)?))
    }

    /// The snapshot lives on the stack: no allocation beyond fjall's own.
    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        let snapshot = self.snapshot()?;
        body(&snapshot)
    }

    /// The transaction lives on the stack.
    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        let txn = self.begin(options)?;
        body(&txn)?;
        txn.finish()
    }

    fn name(&self) -> &'static str {
        "fjall"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            check_integrity: false,
            ..Capabilities::ALL
        }
    }

    fn size_on_disk(&self) -> Result<u64> {
        folder_size(&self.path)
            .map_err(|e| Error::engine_failure(None, Operation::SizeOnDisk, EngineErrorKind::Io, e))
    }

    fn compact(&self) -> Result<bool> {
        let in_use = || {
            Error::engine(
                None,
                Operation::Compact,
                EngineError::new(
                    EngineErrorKind::InUse,
                    "compaction needs every snapshot and write transaction ended",
                ),
            )
        };
        if self.shared.open.load(Ordering::Acquire) > 0 {
            return Err(in_use());
        }
        // No writer may create a keyspace while unlisted ones are deleted.
        let _ticket = self.writers.enter()?;
        if self.shared.open.load(Ordering::Acquire) > 0 {
            return Err(in_use());
        }
        catch_engine_panic(None, Operation::Compact, |_| {
            self.delete_unlisted_keyspaces()?;
            let catalog = self.shared.current_catalog();
            let keyspaces = catalog
                .tables
                .values()
                .map(|space| &space.keyspace)
                .chain([&self.shared.catalog_keyspace]);
            for keyspace in keyspaces {
                keyspace
                    .rotate_memtable_and_wait()
                    .and_then(|()| keyspace.major_compact())
                    .map_err(fjall_error(None, Operation::Compact))?;
            }
            Ok(true)
        })
    }

    fn flush(&self) -> Result<()> {
        catch_engine_panic(None, Operation::Flush, |_| {
            self.shared
                .db
                .persist(PersistMode::SyncAll)
                .map_err(fjall_error(None, Operation::Flush))
        })
    }
}

/// The kind of a fjall error.
fn kind_of(error: &fjall::Error) -> EngineErrorKind {
    let io_kind = |io: &std::io::Error| match io.kind() {
        IoKind::InvalidData | IoKind::UnexpectedEof => EngineErrorKind::Corrupted,
        _ => EngineErrorKind::Io,
    };
    match error {
        fjall::Error::Io(io) => io_kind(io),
        fjall::Error::Storage(inner) => match std::error::Error::source(inner)
            .and_then(|source| source.downcast_ref::<std::io::Error>())
        {
            Some(io) => io_kind(io),
            None => EngineErrorKind::Corrupted,
        },
        fjall::Error::JournalRecovery(_)
        | fjall::Error::InvalidVersion(_)
        | fjall::Error::Decompress(_)
        | fjall::Error::InvalidTrailer
        | fjall::Error::InvalidTag(_)
        | fjall::Error::Unrecoverable => EngineErrorKind::Corrupted,
        // An earlier write or fsync failed; fjall refuses writes until reopened.
        fjall::Error::Poisoned => EngineErrorKind::Io,
        fjall::Error::KeyspaceDeleted => EngineErrorKind::Closed,
        fjall::Error::Locked => EngineErrorKind::AlreadyOpen,
        _ => EngineErrorKind::Other,
    }
}

/// Converts a fjall error into an [`Error::Engine`] with its kind, keeping it as the source.
pub(super) fn fjall_error(
    table: Option<&str>,
    operation: Operation,
) -> impl FnOnce(fjall::Error) -> Error {
    move |error| Error::engine(table, operation, engine_error(error))
}

fn engine_error(error: fjall::Error) -> EngineError {
    let error = EngineError::new(kind_of(&error), error);
    if is_poisoned(&error) {
        return error.explained(
            "an earlier write to the journal failed, and fjall refuses writes until the database \
             is opened again",
        );
    }
    error
}

/// Whether fjall refused because an earlier write or fsync failed (before writing anything).
fn is_poisoned(error: &EngineError) -> bool {
    matches!(
        error.cause().and_then(|c| c.downcast_ref::<fjall::Error>()),
        Some(fjall::Error::Poisoned)
    )
}

/// Whether `key` is stored with a `0x00` in front (empty, or starting with `0x00`).
#[inline]
fn escaped(key: &[u8]) -> bool {
    key.first().is_none_or(|&first| first == 0)
}

/// The length of `key` as stored.
#[inline]
fn stored_len(key: &[u8]) -> usize {
    key.len() + usize::from(escaped(key))
}

/// The user's key of a stored key.
#[inline]
pub(super) fn user_key(stored: &[u8]) -> &[u8] {
    match stored.split_first() {
        Some((0, rest)) => rest,
        _ => stored,
    }
}

/// Short escaped keys are built on the stack.
const STACK_KEY: usize = 256;

/// Runs `body` with `key` as stored.
#[inline]
pub(super) fn with_stored_key<R>(key: &[u8], body: impl FnOnce(&[u8]) -> R) -> R {
    if !escaped(key) {
        return body(key);
    }
    if key.len() < STACK_KEY {
        let mut buffer = [0u8; STACK_KEY];
        buffer[1..=key.len()].copy_from_slice(key);
        return body(&buffer[..=key.len()]);
    }
    let stored = [&[0u8][..], key].concat();
    body(&stored)
}

/// `key` as stored, as a fjall slice (for writes).
pub(super) fn stored_slice(key: &[u8]) -> fjall::Slice {
    with_stored_key(key, |stored| fjall::Slice::from(stored))
}

/// Runs `body` with the bounds of `range` as stored keys — `None` when no stored key can fall
/// in them. A bound longer than any stored key is replaced by its 65,535-byte prefix, which
/// bounds the same stored keys (fjall cannot take longer bounds).
pub(super) fn with_stored_bounds<R>(
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    body: impl FnOnce(Option<(Bound<&[u8]>, Bound<&[u8]>)>) -> R,
) -> R {
    fn map<R>(bound: Bound<&[u8]>, is_start: bool, body: impl FnOnce(Bound<&[u8]>) -> R) -> R {
        match bound {
            Bound::Unbounded => body(Bound::Unbounded),
            Bound::Included(key) | Bound::Excluded(key) => with_stored_key(key, |stored| {
                if stored.len() <= MAX_STORED_KEY {
                    body(match bound {
                        Bound::Included(_) => Bound::Included(stored),
                        _ => Bound::Excluded(stored),
                    })
                } else {
                    // A stored key s (at most MAX_STORED_KEY bytes) is above the long bound
                    // exactly when it is above its prefix p, and below it when s <= p.
                    let prefix = &stored[..MAX_STORED_KEY];
                    body(if is_start {
                        Bound::Excluded(prefix)
                    } else {
                        Bound::Included(prefix)
                    })
                }
            }),
        }
    }
    map(start, true, |start| {
        map(end, false, |end| {
            let range = crate::engine::KeyRange {
                start,
                end,
                reverse: false,
            };
            body((!range.is_empty()).then_some((start, end)))
        })
    })
}

/// `Ok` if `key` and `value` fit fjall's limits, else a `LimitExceeded` error.
pub(super) fn check_entry(table: &str, key: &[u8], value: Option<&[u8]>) -> Result<()> {
    let limit = |problem: String| {
        Err(Error::engine_failure(
            Some(table),
            Operation::Put,
            EngineErrorKind::LimitExceeded,
            problem,
        ))
    };
    if stored_len(key) > MAX_STORED_KEY {
        return limit(format!(
            "a key of {} bytes: fjall keys are at most 65,535 bytes (65,534 for a key that is \
             empty or starts with a zero byte, which is stored with one more)",
            key.len()
        ));
    }
    if let Some(value) = value
        && value.len() > MAX_VALUE
    {
        return limit(format!(
            "a value of {} bytes: fjall values are at most {MAX_VALUE} bytes (4 GiB - 64 MiB)",
            value.len()
        ));
    }
    Ok(())
}

/// Whether a stored key could be this long (a longer lookup key finds nothing).
#[inline]
pub(super) fn storable(key: &[u8]) -> bool {
    stored_len(key) <= MAX_STORED_KEY
}

/// The catalog key of `table`.
pub(super) fn catalog_key(table: &str) -> fjall::Slice {
    [&[TABLE_ENTRY][..], table.as_bytes()].concat().into()
}

/// The name of the keyspace with id `id`.
pub(super) fn keyspace_name(id: u64) -> String {
    format!("{TABLE_KEYSPACE_PREFIX}{id}")
}

/// Opens (creating if needed) keyspace `name`.
pub(super) fn open_keyspace(
    db: &fjall::OptimisticTxDatabase,
    name: &str,
) -> fjall::Result<fjall::Keyspace> {
    let keyspace = db.keyspace(name, KeyspaceCreateOptions::default)?;
    Ok(AsRef::<fjall::Keyspace>::as_ref(&keyspace).clone())
}

fn durability_mode(durability: Durability) -> PersistMode {
    match durability {
        Durability::Immediate => PersistMode::SyncAll,
        Durability::None => PersistMode::Buffer,
    }
}

fn builder(path: &Path, options: &FjallOptions) -> fjall::OptimisticTxDatabaseBuilder {
    let mut builder = fjall::OptimisticTxDatabase::builder(path);
    if let Some(bytes) = options.cache_size {
        builder = builder.cache_size(bytes);
    }
    if let Some(threads) = options.worker_threads {
        builder = builder.worker_threads(threads);
    }
    if let Some(bytes) = options.max_journal_size {
        builder = builder.max_journaling_size(bytes);
    }
    builder
}

fn corrupted(problem: impl Into<String>) -> EngineError {
    EngineError::new(EngineErrorKind::Corrupted, problem.into())
}

/// Opens the database at `path` (which holds one) and loads the catalog.
fn open_shared(
    path: &Path,
    options: &FjallOptions,
    listed: Listed,
) -> std::result::Result<Shared, EngineError> {
    let guarded = catch_engine_panic(None, Operation::Open, |_| {
        let db = builder(path, options)
            .open()
            .map_err(fjall_error(None, Operation::Open))?;
        let catalog_keyspace =
            open_keyspace(&db, CATALOG_KEYSPACE).map_err(fjall_error(None, Operation::Open))?;
        let catalog = load_catalog(&db, &catalog_keyspace)
            .map_err(|e| Error::engine(None, Operation::Open, e))?;
        delete_unlisted(&db, &catalog)?;
        Ok((db, catalog_keyspace, catalog))
    });
    let (db, catalog_keyspace, catalog) = guarded.map_err(|error| match error {
        Error::Engine { source, .. } => source,
        other => EngineError::new(EngineErrorKind::Other, other.to_string()),
    })?;
    Ok(Shared {
        db,
        catalog_keyspace,
        catalog: RwLock::new(Arc::new(catalog)),
        open: AtomicUsize::new(0),
        durability: options.durability,
        _listed: listed,
    })
}

/// Reads the catalog keyspace, writing the layout version into a database that has none (a
/// fresh one).
fn load_catalog(
    db: &fjall::OptimisticTxDatabase,
    catalog_keyspace: &fjall::Keyspace,
) -> std::result::Result<Catalog, EngineError> {
    let snapshot = db.read_tx();
    let mut catalog = Catalog::default();
    let mut format = None;
    for guard in snapshot.iter(catalog_keyspace) {
        let (key, value) = guard.into_inner().map_err(engine_error)?;
        let u64_value = || -> std::result::Result<u64, EngineError> {
            let bytes: [u8; 8] = value[..]
                .try_into()
                .map_err(|_| corrupted("the table catalog holds a malformed id"))?;
            Ok(u64::from_be_bytes(bytes))
        };
        match key.split_first() {
            Some((&TABLE_ENTRY, name)) => {
                let name = std::str::from_utf8(name)
                    .map_err(|_| corrupted("the table catalog holds a name that is not UTF-8"))?;
                let id = u64_value()?;
                let keyspace_name = keyspace_name(id);
                if !db.keyspace_exists(&keyspace_name) {
                    return Err(corrupted(format!(
                        "the table catalog names table `{name}` in keyspace {keyspace_name}, \
                         which is missing"
                    )));
                }
                let keyspace = open_keyspace(db, &keyspace_name).map_err(engine_error)?;
                catalog
                    .tables
                    .insert(name.to_owned(), Arc::new(Space { id, keyspace }));
            }
            _ if &key[..] == NEXT_ID_KEY => catalog.next_id = u64_value()?,
            _ if &key[..] == FORMAT_KEY => {
                let bytes: [u8; 4] = value[..]
                    .try_into()
                    .map_err(|_| corrupted("the table catalog holds a malformed version"))?;
                format = Some(u32::from_be_bytes(bytes));
            }
            _ => {}
        }
    }
    drop(snapshot);
    match format {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(EngineError::new(
                EngineErrorKind::Unsupported,
                format!(
                    "the database's table catalog has layout version {other}, and this zerotable \
                     reads version {FORMAT}: open it with the zerotable that wrote it"
                ),
            ));
        }
        None => {
            let mut tx = db
                .write_tx()
                .map_err(engine_error)?
                .durability(Some(PersistMode::SyncAll));
            tx.insert(catalog_keyspace, FORMAT_KEY, FORMAT.to_be_bytes());
            tx.insert(catalog_keyspace, NEXT_ID_KEY, catalog.next_id.to_be_bytes());
            match tx.commit().map_err(engine_error)? {
                Ok(()) => {}
                Err(conflict) => return Err(EngineError::new(EngineErrorKind::Conflict, conflict)),
            }
        }
    }
    Ok(catalog)
}

/// Deletes every `zt_t<id>` keyspace `catalog` does not name; whether any was deleted.
fn delete_unlisted(db: &fjall::OptimisticTxDatabase, catalog: &Catalog) -> Result<bool> {
    let listed: std::collections::HashSet<u64> =
        catalog.tables.values().map(|space| space.id).collect();
    let mut deleted = false;
    for name in db.list_keyspace_names() {
        let Some(id) = name
            .strip_prefix(TABLE_KEYSPACE_PREFIX)
            .and_then(|id| id.parse::<u64>().ok())
        else {
            continue;
        };
        if listed.contains(&id) || keyspace_name(id) != *name {
            continue;
        }
        let keyspace = open_keyspace(db, &name).map_err(fjall_error(None, Operation::Compact))?;
        // fjall's tx databases offer no delete of their own: the plain database does it.
        db.inner()
            .delete_keyspace(keyspace)
            .map_err(fjall_error(None, Operation::Compact))?;
        deleted = true;
    }
    Ok(deleted)
}

/// Refuses a path that is a file, or a folder holding files that are not a fjall database.
fn check_folder(path: &Path) -> std::result::Result<(), EngineError> {
    let shown = path.display();
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(explain_open(path, EngineError::new(EngineErrorKind::Io, e)));
        }
    };
    if !metadata.is_dir() {
        return Err(corrupted(format!("{shown} is a file")).explained(format!(
            "{shown} is a file, and a fjall database is a folder: give the path of a folder \
             (new or holding a fjall database)"
        )));
    }
    if path.join("version").exists() {
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)
        .map_err(|e| explain_open(path, EngineError::new(EngineErrorKind::Io, e)))?;
    if entries.next().is_some() {
        return Err(
            corrupted(format!("{shown} holds files but no fjall version marker")).explained(
                format!(
                    "{shown} is not a fjall database (a folder holding other files, or a database \
                     whose `version` file was deleted); give a new or empty folder, or the \
                     folder of a fjall database"
                ),
            ),
        );
    }
    Ok(())
}

/// Creates a new database at `path` (missing, or an empty folder) so that it appears complete
/// or not at all: built in a temporary folder beside it, then renamed into place.
fn create_atomically(path: &Path, options: &FjallOptions) -> std::result::Result<(), EngineError> {
    let io = |e: std::io::Error| EngineError::new(EngineErrorKind::Io, e);
    let Some(name) = path.file_name() else {
        return Err(io(std::io::Error::new(
            IoKind::InvalidInput,
            "the path has no folder name",
        )));
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.exists() {
        return Err(io(std::io::Error::new(
            IoKind::NotFound,
            "the parent folder does not exist",
        )));
    }
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.creating", std::process::id()));
    let temp = dir.join(temp_name);
    let _ = std::fs::remove_dir_all(&temp);
    let created = (|| {
        let options = FjallOptions {
            worker_threads: Some(1),
            ..options.clone()
        };
        let listed = Listed::enter(temp.clone())?;
        let shared = open_shared(&temp, &options, listed)?;
        drop(shared);
        match std::fs::rename(&temp, path) {
            Ok(()) => {}
            // Created by someone else meanwhile: open theirs.
            Err(_) if path.join("version").exists() => {}
            // A file system that does not rename onto an empty folder: remove it first.
            Err(_) if std::fs::remove_dir(path).is_ok() => {
                std::fs::rename(&temp, path).map_err(io)?;
            }
            Err(e) => return Err(io(e)),
        }
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&temp);
    created
}

/// Bytes of every file under `path`.
fn folder_size(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            total += folder_size(&entry.path())?;
        } else {
            // A file deleted meanwhile (compaction) no longer counts.
            total += entry.metadata().map_or(0, |m| m.len());
        }
    }
    Ok(total)
}

/// The folders this process has open (canonical paths).
static OPEN_FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn open_folders() -> MutexGuard<'static, Vec<PathBuf>> {
    // No caller code runs under this lock: a poisoned list is still a consistent list.
    OPEN_FOLDERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This process's entry for one open folder, until dropped.
struct Listed(PathBuf);

impl Listed {
    /// Lists `canonical` as open, or fails with `AlreadyOpen` if this process has it open.
    fn enter(canonical: PathBuf) -> std::result::Result<Self, EngineError> {
        let mut folders = open_folders();
        if folders.contains(&canonical) {
            return Err(EngineError::new(
                EngineErrorKind::AlreadyOpen,
                "the folder is open in this process",
            )
            .with_holder(Holder::ThisProcess { handles: None })
            .explained(
                "this process has it open already: a FjallEngine, or a Storage or Table over it, \
                 is still alive",
            ));
        }
        folders.push(canonical.clone());
        Ok(Listed(canonical))
    }
}

impl Drop for Listed {
    fn drop(&mut self) {
        open_folders().retain(|folder| *folder != self.0);
    }
}

/// Adds what was found out to an open error.
fn explain_open(path: &Path, error: EngineError) -> EngineError {
    if error.explanation().is_some() {
        return error;
    }
    let shown = path.display();
    let cause = error.cause();
    let fjall_cause = cause.and_then(|c| c.downcast_ref::<fjall::Error>());
    let io_kind = cause
        .and_then(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .or(match fjall_cause {
            Some(fjall::Error::Io(io)) => Some(io.kind()),
            _ => None,
        });
    let explanation = match (error.kind(), fjall_cause) {
        (EngineErrorKind::AlreadyOpen, _) => {
            return error.with_holder(Holder::AnotherProcess).explained(
                "another process holds the folder's lock (no engine of this process has it open)",
            );
        }
        (_, Some(fjall::Error::InvalidVersion(_))) => format!(
            "{shown} is not a fjall 3 database: its `version` file is damaged, or it was written \
             by another major version of fjall"
        ),
        (_, Some(fjall::Error::JournalRecovery(_))) => {
            format!("the journal of {shown} is damaged; restore the folder from a backup")
        }
        (EngineErrorKind::Corrupted, _) => format!(
            "{shown} is a fjall database whose files are damaged; restore the folder from a backup"
        ),
        _ => match io_kind {
            Some(IoKind::PermissionDenied) => format!(
                "no permission to read and write {shown} or a file in it (a database is opened \
                 for writing, and a new one is created beside it in the parent folder)"
            ),
            Some(IoKind::NotFound) => match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => format!(
                    "the folder {} does not exist; create it first (std::fs::create_dir_all) or \
                     fix the path",
                    dir.display()
                ),
                _ => return error,
            },
            Some(IoKind::ReadOnlyFilesystem) => {
                format!(
                    "{shown} is on a read-only file system, and a database is opened for writing"
                )
            }
            _ => return error,
        },
    };
    error.explained(explanation)
}
