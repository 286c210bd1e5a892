//! [`RocksDbEngine`]: a RocksDB database folder (cargo feature `rocksdb`, bundled RocksDB).
//!
//! How zerotable's contract maps onto RocksDB:
//!
//! - **Tables are column families**, one per table, named `zt.<id>` after an id kept in the
//!   engine's own catalog (in RocksDB's `default` column family, see `catalog.rs`). Any `&str`
//!   is a valid table name — empty, with slashes, NULs, `default` or `zt.1` — because names are
//!   only keys of the catalog, never column family names.
//! - **Creating and dropping tables is transactional**, although RocksDB creates and drops
//!   column families outside any transaction: a table exists when the catalog says so, and the
//!   catalog is written in the same `WriteBatch` as the data. A new table's column family is
//!   created at commit, just before the batch is written (a crash in between leaves an empty
//!   column family no catalog entry names, dropped at the next open). Dropping a table removes
//!   its catalog entry; its column family stays readable for the snapshots that still list the
//!   table, and is dropped (its space reclaimed) once no snapshot is open: at the commit, or
//!   later by [`compact`](Engine::compact), or at the next open. A table dropped and created
//!   again in one transaction gets a new, empty column family.
//! - **Snapshots** are RocksDB snapshots taken together with the catalog of the same moment
//!   (under a lock that commits changing the catalog hold), so `list_tables` and every read of
//!   a snapshot see one state. A snapshot owns a reference to the database and is `Send`.
//! - **Writers** are serialized by zerotable's [`WriterGate`]: one write transaction at a time,
//!   others wait; a nested write on the thread that holds it is
//!   [`NestedWrite`](crate::EngineErrorKind::NestedWrite). There are no conflicts.
//! - **Write transactions** stage their writes in memory (an ordered map per table) and commit
//!   them as one RocksDB `WriteBatch`, atomic across column families; a transaction dropped
//!   uncommitted, failed or panicking has written nothing. Reads inside it merge the staged
//!   writes over the stored entries (point reads, and ranges in both directions). Writing a
//!   table from inside a read callback of that same table is
//!   [`InUse`](crate::EngineErrorKind::InUse); other tables can be written there.
//!   `delete_range` reads the keys of the range and stages a deletion for each.
//! - **Durability**: [`Durability::Immediate`] (the default) writes each commit with
//!   `sync = true`, fsyncing RocksDB's write-ahead log before `commit` returns.
//!   [`Durability::None`] writes the log without fsync: the commit is in the operating system's
//!   hands, so it survives a crash of the process but not of the machine, until a later
//!   immediate commit or [`flush`](Engine::flush) (which syncs the log). A clean close keeps
//!   everything. Each transaction may choose its own ([`WriteOptions::durability`]).
//! - **Zero-copy reads**: a point read hands the callback RocksDB's pinned value
//!   (`get_pinned`: for an entry in a table file, the block cache's own buffer); a range hands
//!   out the iterator's key and value slices. Copies: RocksDB copies a value it finds in a
//!   memtable (recently written, not yet flushed) into the pinned slice, and decompresses
//!   compressed blocks into the cache; inside a write transaction, staged values come from the
//!   transaction's own buffer. Writes copy key and value into the transaction, then into the
//!   batch at commit (and RocksDB into its log and memtable).
//! - **Limits**: keys up to [`MAX_KEY_LEN`](RocksDbEngine::MAX_KEY_LEN) bytes and values up to
//!   [`MAX_VALUE_LEN`](RocksDbEngine::MAX_VALUE_LEN) bytes (RocksDB stores lengths in 32 bits);
//!   longer ones are [`LimitExceeded`](crate::EngineErrorKind::LimitExceeded). Empty keys and
//!   values are stored as they are.
//! - **One process**: RocksDB locks the folder (its `LOCK` file). A second open, by another
//!   process or by this one while an engine on the folder is alive, fails with
//!   [`AlreadyOpen`](crate::EngineErrorKind::AlreadyOpen), and [`Error::holder`] says which.
//!   (The path is made canonical first: RocksDB recognises its own process's second open by
//!   the path's text, so `db` and `./db` must read the same.)
//!   (RocksDB's read-only and secondary instances, which other processes may open beside the
//!   owner, are not offered by this engine.) The folder is closed when the engine and every
//!   snapshot begun from it are dropped.
//! - **Damaged folders** fail to open with [`Corrupted`](crate::EngineErrorKind::Corrupted)
//!   (a damaged `CURRENT` or `MANIFEST`), and damaged table files fail the reads that meet them
//!   the same way; nothing panics. A RocksDB folder made by other software (no zerotable marker)
//!   is refused rather than reinterpreted.
//! - **Counts**: RocksDB keeps no exact entry count, so `len` and `table_stats` walk the table
//!   (in a write transaction, with its staged writes merged in).
//! - **Capabilities**: all. [`size_on_disk`](Engine::size_on_disk) is the size of the files in
//!   the folder (table files, logs, manifest); [`flush`](Engine::flush) syncs the write-ahead
//!   log; [`compact`](Engine::compact) drops the column families of dropped tables and compacts
//!   every column family (it fails with `InUse` while a snapshot is open);
//!   [`check_integrity`](Engine::check_integrity) reads every table and the catalog with
//!   checksum verification (blocks already in the block cache were verified when they were
//!   read) and checks that every table's column family exists.
//!
//! [`Error::holder`]: crate::Error::holder
//! [`WriteOptions::durability`]: crate::WriteOptions::durability

mod catalog;
#[cfg(feature = "testing")]
mod harness;
mod read;
mod write;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use rocksdb::{
    BlockBasedOptions, BoundColumnFamily, Cache, ColumnFamilyDescriptor, DBCompressionType,
    ErrorKind as RocksKind, Options,
};

use self::catalog::{Catalog, FORMAT_KEY, FORMAT_VALUE, cf_name, parse_cf_name};
#[cfg(feature = "testing")]
pub use self::harness::RocksDbHarness;
use crate::engine::{
    Capabilities, Durability, Engine, Found, Integrity, ReadBody, ReadTxn, WriteBody, WriteOptions,
    WriteTxn, WriterGate, catch_engine_panic,
};
use crate::engines::{ByteSize, EngineOptions, OptionValue};
use crate::error::{EngineError, EngineErrorKind, Error, Holder, Operation, Result};

/// The RocksDB database type behind the engine.
type Db = rocksdb::DBWithThreadMode<rocksdb::MultiThreaded>;

/// The block cache when none is configured.
const DEFAULT_CACHE: usize = 32 << 20;
/// The smallest memtable size accepted (RocksDB would silently raise a smaller one).
const MIN_WRITE_BUFFER: u64 = 64 << 10;

/// Settings for opening a [`RocksDbEngine`].
///
/// ```
/// use zerotable::engines::{RocksDbEngine, RocksDbOptions};
/// use zerotable::{Durability, Storage};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let options = RocksDbOptions::default()
///     .cache_size(64 << 20)
///     .durability(Durability::None)
///     .lz4(false);
/// let storage = Storage::new(RocksDbEngine::open_with(dir.path().join("app"), options)?);
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RocksDbOptions {
    /// Durability of every commit, unless a transaction overrides it.
    pub durability: Durability,
    /// Block cache size in bytes, shared by every table; `None` is 32 MiB.
    pub cache_size: Option<usize>,
    /// Compress table files with LZ4 (the default; the only compression compiled in), or store
    /// them uncompressed.
    pub lz4: bool,
    /// Memtable size in bytes per table before it is flushed to a table file (at least 64 KiB);
    /// `None` keeps RocksDB's default (64 MiB).
    pub write_buffer_size: Option<usize>,
}

impl Default for RocksDbOptions {
    fn default() -> Self {
        RocksDbOptions {
            durability: Durability::Immediate,
            cache_size: None,
            lz4: true,
            write_buffer_size: None,
        }
    }
}

/// The value of option `compression`.
struct Compression(bool);

impl OptionValue for Compression {
    const EXPECTED: &'static str = "`lz4` or `none` (the compressions compiled in)";

    fn parse_option(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "lz4" => Some(Compression(true)),
            "none" => Some(Compression(false)),
            _ => None,
        }
    }
}

impl RocksDbOptions {
    /// Reads `durability` (`immediate` or `none`), `cache_size` and `write_buffer_size`
    /// ([`ByteSize`]s) and `compression` (`lz4` or `none`) from address options.
    ///
    /// ```
    /// use zerotable::engines::{EngineOptions, RocksDbOptions};
    ///
    /// let mut options = EngineOptions::from_query("rocksdb://app", "cache_size=8MiB&compression=none")?;
    /// let parsed = RocksDbOptions::from_options(&mut options)?;
    /// assert_eq!((parsed.cache_size, parsed.lz4), (Some(8 << 20), false));
    /// options.finish()?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn from_options(options: &mut EngineOptions) -> Result<Self> {
        let mut this = RocksDbOptions::default();
        let bytes = |options: &EngineOptions, name: &str, size: ByteSize| {
            usize::try_from(size.0)
                .map_err(|_| options.invalid(Some(name), format!("{size} is too large")))
        };
        if let Some(durability) = options.take("durability")? {
            this.durability = durability;
        }
        if let Some(size) = options.take::<ByteSize>("cache_size")? {
            this.cache_size = Some(bytes(options, "cache_size", size)?);
        }
        if let Some(Compression(lz4)) = options.take("compression")? {
            this.lz4 = lz4;
        }
        if let Some(size) = options.take::<ByteSize>("write_buffer_size")? {
            if size.0 < MIN_WRITE_BUFFER {
                return Err(options.invalid(
                    Some("write_buffer_size"),
                    format!("{size} is too small: give at least 64KiB"),
                ));
            }
            this.write_buffer_size = Some(bytes(options, "write_buffer_size", size)?);
        }
        Ok(this)
    }

    /// Sets the default durability of commits.
    ///
    /// ```
    /// use zerotable::Durability;
    /// use zerotable::engines::RocksDbOptions;
    ///
    /// let options = RocksDbOptions::default().durability(Durability::None);
    /// assert_eq!(options.durability, Durability::None);
    /// ```
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the block cache size in bytes.
    ///
    /// ```
    /// let options = zerotable::engines::RocksDbOptions::default().cache_size(256 << 20);
    /// assert_eq!(options.cache_size, Some(256 << 20));
    /// ```
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = Some(bytes);
        self
    }

    /// Compresses table files with LZ4 (`true`, the default) or not.
    ///
    /// ```
    /// let options = zerotable::engines::RocksDbOptions::default().lz4(false);
    /// assert!(!options.lz4);
    /// ```
    pub fn lz4(mut self, lz4: bool) -> Self {
        self.lz4 = lz4;
        self
    }

    /// Sets the memtable size in bytes (at least 64 KiB; RocksDB raises smaller sizes).
    ///
    /// ```
    /// let options = zerotable::engines::RocksDbOptions::default().write_buffer_size(16 << 20);
    /// assert_eq!(options.write_buffer_size, Some(16 << 20));
    /// ```
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = Some(bytes);
        self
    }

    /// RocksDB options for the database and each of its column families.
    fn rocksdb(&self) -> Options {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(false);
        // RocksDB's own info log: keep a few small files, not one per open forever.
        options.set_keep_log_file_num(2);
        options.set_max_log_file_size(1 << 20);
        options.set_compression_type(if self.lz4 {
            DBCompressionType::Lz4
        } else {
            DBCompressionType::None
        });
        if let Some(bytes) = self.write_buffer_size {
            options.set_write_buffer_size(bytes);
        }
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&Cache::new_lru_cache(
            self.cache_size.unwrap_or(DEFAULT_CACHE),
        ));
        options.set_block_based_table_factory(&table);
        options
    }
}

/// A RocksDB database folder behind the [`Engine`] contract. See the module documentation for
/// how tables, transactions and durability map onto RocksDB.
///
/// ```
/// use zerotable::engines::RocksDbEngine;
/// use zerotable::Storage;
///
/// # let dir = tempfile::tempdir().unwrap();
/// let storage = Storage::new(RocksDbEngine::open(dir.path().join("app"))?);
/// let users = storage.raw_table::<u64>("users")?;
/// users.put(&1, b"ada")?;
/// assert_eq!(users.get(&1, |bytes| bytes.to_vec())?, Some(b"ada".to_vec()));
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct RocksDbEngine {
    shared: Arc<Shared>,
}

/// What the engine, its snapshots and its write transactions share.
struct Shared {
    db: Db,
    /// The committed catalog. A commit that changes it holds the write side while it writes,
    /// a snapshot takes the read side while it begins.
    catalog: RwLock<Arc<Catalog>>,
    /// The ids of the table column families that exist (referenced or awaiting reclaim).
    physical: Mutex<BTreeSet<u64>>,
    /// Open snapshots; column families are dropped only when there are none.
    snapshots: AtomicUsize,
    /// Options a new column family is created with.
    cf_options: Options,
    writers: Arc<WriterGate>,
    durability: Durability,
    path: PathBuf,
}

impl std::fmt::Debug for RocksDbEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbEngine")
            .field("path", &self.shared.path)
            .field("durability", &self.shared.durability)
            .finish_non_exhaustive()
    }
}

/// Whether a RocksDB error is its refusal to take the folder's lock.
fn is_lock_error(error: &rocksdb::Error) -> bool {
    let message = error.as_ref();
    message.contains("While lock file") || message.contains("lock hold by current process")
}

/// The kind of a RocksDB error.
fn kind_of(error: &rocksdb::Error) -> EngineErrorKind {
    match error.kind() {
        RocksKind::Corruption => EngineErrorKind::Corrupted,
        RocksKind::IOError if is_lock_error(error) => EngineErrorKind::AlreadyOpen,
        RocksKind::IOError => EngineErrorKind::Io,
        // The crate's own message when it cannot make the folder.
        RocksKind::Unknown
            if error
                .as_ref()
                .starts_with("Failed to create RocksDB directory") =>
        {
            EngineErrorKind::Io
        }
        RocksKind::NotSupported => EngineErrorKind::Unsupported,
        RocksKind::ShutdownInProgress => EngineErrorKind::Closed,
        RocksKind::InvalidArgument if error.as_ref().contains("too large") => {
            EngineErrorKind::LimitExceeded
        }
        _ => EngineErrorKind::Other,
    }
}

/// Converts a RocksDB error into an [`Error::Engine`] with its kind, keeping it as the source.
fn rocks_error(table: Option<&str>, operation: Operation) -> impl FnOnce(rocksdb::Error) -> Error {
    move |error| Error::engine(table, operation, EngineError::new(kind_of(&error), error))
}

/// `rocksdb://path?durability=…&cache_size=…&compression=…&write_buffer_size=…`; the path is
/// the database's folder.
pub(super) fn connect(mut address: super::EngineAddress) -> Result<crate::Storage> {
    let options = RocksDbOptions::from_options(&mut address.options)?;
    let path = address.path()?.to_owned();
    address.options.finish()?;
    Ok(crate::Storage::new(RocksDbEngine::open_with(
        path, options,
    )?))
}

impl RocksDbEngine {
    /// The longest key RocksDB stores: lengths are 32-bit, and a stored key carries 8 bytes of
    /// RocksDB's own. A longer one is [`LimitExceeded`](crate::EngineErrorKind::LimitExceeded).
    ///
    /// ```
    /// use zerotable::engines::RocksDbEngine;
    /// assert_eq!(RocksDbEngine::MAX_KEY_LEN, (1 << 32) - 9);
    /// assert_eq!(RocksDbEngine::MAX_VALUE_LEN, (1 << 32) - 1);
    /// ```
    pub const MAX_KEY_LEN: usize = u32::MAX as usize - 8;
    /// The longest value RocksDB stores (lengths are 32-bit). A longer one is
    /// [`LimitExceeded`](crate::EngineErrorKind::LimitExceeded).
    pub const MAX_VALUE_LEN: usize = u32::MAX as usize;

    /// Opens the database folder at `path`, creating it if it does not exist (its parent must),
    /// with default options (a 32 MiB block cache, LZ4, [`Durability::Immediate`]).
    ///
    /// ```
    /// use zerotable::Storage;
    /// use zerotable::engines::RocksDbEngine;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app");
    /// let storage = Storage::new(RocksDbEngine::open(&path)?);
    /// storage.raw_table::<u64>("rows")?.put(&1, b"kept")?;
    /// drop(storage);
    /// let storage = Storage::new(RocksDbEngine::open(&path)?);
    /// let rows = storage.raw_table::<u64>("rows")?;
    /// assert_eq!(rows.get(&1, |v| v.to_vec())?, Some(b"kept".to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, RocksDbOptions::default())
    }

    /// Opens or creates the database folder at `path` with `options`.
    ///
    /// ```
    /// use zerotable::engines::{RocksDbEngine, RocksDbOptions};
    /// use zerotable::EngineErrorKind;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("app");
    /// let engine = RocksDbEngine::open_with(&path, RocksDbOptions::default())?;
    /// // RocksDB locks the folder: a second open fails until the first engine is dropped.
    /// let err = RocksDbEngine::open(&path).unwrap_err();
    /// assert_eq!(err.engine_kind(), Some(EngineErrorKind::AlreadyOpen));
    /// drop(engine);
    /// RocksDbEngine::open(&path)?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: RocksDbOptions) -> Result<Self> {
        let path = path.as_ref();
        let opened = catch_engine_panic(None, Operation::Open, |_| open_shared(path, &options));
        match opened {
            Ok(shared) => Ok(RocksDbEngine {
                shared: Arc::new(shared),
            }),
            Err(Error::Engine { source, .. }) => Err(Error::Open {
                location: path.display().to_string(),
                source: explain_open(path, source),
            }),
            Err(other) => Err(other),
        }
    }

    /// The folder the database lives in (its canonical path).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let engine = zerotable::engines::RocksDbEngine::open(dir.path().join("app"))?;
    /// assert!(engine.path().join("CURRENT").exists());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The underlying RocksDB database, for what zerotable does not cover (properties,
    /// statistics, reads of a table's column family, see
    /// [`column_family`](Self::column_family)). Write only through zerotable: a write made
    /// directly bypasses the catalog, the snapshots' catalog and the serialization of writers.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let engine = zerotable::engines::RocksDbEngine::open(dir.path().join("app"))?;
    /// let files = engine.rocksdb().property_value("rocksdb.num-live-versions").unwrap();
    /// assert!(files.is_some());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn rocksdb(&self) -> &rocksdb::DBWithThreadMode<rocksdb::MultiThreaded> {
        &self.shared.db
    }

    /// The name of the column family holding `table`, as last committed; `None` if the table
    /// does not exist.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zerotable::engines::RocksDbEngine;
    /// use zerotable::Storage;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let engine = Arc::new(RocksDbEngine::open(dir.path().join("app"))?);
    /// assert_eq!(engine.column_family("users"), None);
    /// let storage = Storage::from_arc(engine.clone());
    /// storage.raw_table::<u64>("users")?.put(&1, b"ada")?;
    /// let cf = engine.column_family("users").expect("the table exists");
    /// assert!(engine.rocksdb().cf_handle(&cf).is_some());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn column_family(&self, table: &str) -> Option<String> {
        let catalog = self.shared.committed();
        catalog.tables.get(table).map(|entry| entry.cf.to_string())
    }
}

/// The path RocksDB is given: canonical, because RocksDB tells a second open of a folder by
/// the same process from the first by the path's text (the lock itself, an `fcntl` lock, does
/// not stop its own process), so `db` and `./db` must read the same.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(path) = std::fs::canonicalize(path) {
        return path;
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(parent), Some(name)) => parent.join(name),
        _ => path.to_owned(),
    }
}

/// Opens the folder and loads the catalog.
fn open_shared(path: &Path, options: &RocksDbOptions) -> Result<Shared> {
    let path = &canonical(path);
    let rocks = options.rocksdb();
    let error = |e| rocks_error(None, Operation::Open)(e);
    // RocksDB must be told every column family a folder has; a new folder has only `default`.
    let exists = path.join("CURRENT").exists();
    let names = if exists {
        Db::list_cf(&rocks, path).map_err(error)?
    } else {
        vec![rocksdb::DEFAULT_COLUMN_FAMILY_NAME.to_owned()]
    };
    let descriptors = names
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(name, rocks.clone()));
    let db = Db::open_cf_descriptors(&rocks, path, descriptors).map_err(error)?;
    claim_folder(&db, &names)?;
    let catalog = Catalog::load(&db)?;
    let physical: BTreeSet<u64> = names
        .iter()
        .filter_map(|name| parse_cf_name(name))
        .collect();
    if let Some((table, entry)) = catalog
        .tables
        .iter()
        .find(|(_, entry)| !physical.contains(&entry.id))
    {
        return Err(Error::engine(
            Some(table),
            Operation::Open,
            EngineError::new(
                EngineErrorKind::Corrupted,
                format!(
                    "the catalog places table {table:?} in column family {}, which does not exist",
                    entry.cf
                ),
            ),
        ));
    }
    let shared = Shared {
        db,
        catalog: RwLock::new(Arc::new(catalog)),
        physical: Mutex::new(physical),
        snapshots: AtomicUsize::new(0),
        cf_options: rocks,
        writers: Arc::default(),
        durability: options.durability,
        path: path.to_owned(),
    };
    // Column families of tables dropped while snapshots were open, or of a commit cut short.
    shared.reclaim()?;
    Ok(shared)
}

/// Checks that the folder is this engine's, marking a new one as such.
fn claim_folder(db: &Db, names: &[String]) -> Result<()> {
    let error = |e| rocks_error(None, Operation::Open)(e);
    let marker = db.get_pinned(FORMAT_KEY).map_err(error)?;
    let foreign = |problem: String| {
        Err(Error::engine(
            None,
            Operation::Open,
            EngineError::new(EngineErrorKind::Other, problem),
        ))
    };
    match marker.as_deref() {
        Some(FORMAT_VALUE) => Ok(()),
        Some(other) => foreign(format!(
            "the folder is marked {:?}, not {:?}: written by another version of zerotable, or \
             another program",
            String::from_utf8_lossy(other),
            String::from_utf8_lossy(FORMAT_VALUE)
        )),
        None => {
            let mut cursor = db.raw_iterator();
            cursor.seek_to_first();
            let empty = !cursor.valid();
            cursor.status().map_err(error)?;
            if !empty || names.len() > 1 {
                return foreign(
                    "this RocksDB database was not made by zerotable (it has no zerotable \
                     marker, and holds data or column families of its own)"
                        .to_owned(),
                );
            }
            let mut sync = rocksdb::WriteOptions::default();
            sync.set_sync(true);
            db.put_opt(FORMAT_KEY, FORMAT_VALUE, &sync).map_err(error)
        }
    }
}

/// Adds to an open error what it means and what to do.
fn explain_open(path: &Path, error: EngineError) -> EngineError {
    let shown = path.display();
    let cause = error.cause().map(ToString::to_string).unwrap_or_default();
    match error.kind() {
        EngineErrorKind::AlreadyOpen => {
            let (holder, explanation) = if cause.contains("current process") {
                (
                    Holder::ThisProcess { handles: None },
                    "this process has it open already: a RocksDbEngine on it (or a Storage, a \
                     Table or a snapshot from one) is still alive",
                )
            } else {
                (
                    Holder::AnotherProcess,
                    "another process holds the folder's LOCK file",
                )
            };
            error.with_holder(holder).explained(explanation)
        }
        EngineErrorKind::Corrupted => error.explained(format!(
            "{shown} is a damaged RocksDB folder (its CURRENT, MANIFEST or table files cannot be \
             read); restore it from a backup"
        )),
        EngineErrorKind::Io if path.is_file() => error.explained(format!(
            "{shown} is a file; a RocksDB database is a folder: give the path of a folder (it is \
             created if missing)"
        )),
        EngineErrorKind::Io => match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => error.explained(format!(
                "the directory {} does not exist; create it first (std::fs::create_dir_all) \
                     or fix the path",
                dir.display()
            )),
            _ => error,
        },
        _ => error,
    }
}

impl Shared {
    /// The committed catalog.
    fn committed(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn physical(&self) -> MutexGuard<'_, BTreeSet<u64>> {
        // No caller code runs under this lock: a poisoned set is still a consistent set.
        self.physical.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handle of column family `cf`, which holds `table` (for errors).
    fn handle(
        &self,
        table: Option<&str>,
        cf: &str,
        operation: Operation,
    ) -> Result<Arc<BoundColumnFamily<'_>>> {
        self.db.cf_handle(cf).ok_or_else(|| {
            Error::engine(
                table,
                operation,
                EngineError::new(
                    EngineErrorKind::Corrupted,
                    format!("the table's column family {cf} is missing"),
                ),
            )
        })
    }

    /// An id no table column family has, nor had since the database was opened.
    fn unused_id(&self, catalog: &Catalog) -> u64 {
        let above_physical = self.physical().last().map_or(0, |id| id + 1);
        catalog.next_id.max(above_physical)
    }

    /// Creates the column family of table `id` (the caller holds the write).
    fn create_cf(&self, id: u64) -> Result<()> {
        let mut physical = self.physical();
        if physical.contains(&id) {
            return Ok(());
        }
        self.db
            .create_cf(cf_name(id), &self.cf_options)
            .map_err(rocks_error(None, Operation::Commit))?;
        physical.insert(id);
        Ok(())
    }

    /// Drops the column families no table of the committed catalog uses. Only when no snapshot
    /// is open (one could still read them) and no write transaction is (the caller holds the
    /// write, or nothing else has the database yet).
    fn reclaim(&self) -> Result<()> {
        let used: HashSet<u64> = self.committed().tables.values().map(|t| t.id).collect();
        let mut physical = self.physical();
        let unused: Vec<u64> = physical
            .iter()
            .filter(|id| !used.contains(id))
            .copied()
            .collect();
        for id in unused {
            self.db
                .drop_cf(&cf_name(id))
                .map_err(rocks_error(None, Operation::Compact))?;
            physical.remove(&id);
        }
        Ok(())
    }

    /// [`reclaim`](Self::reclaim) if no snapshot is open; otherwise later (a later commit,
    /// `compact`, the next open). Failures are left for then too.
    fn reclaim_if_idle(&self) {
        if self.snapshots.load(Ordering::SeqCst) == 0 {
            let _ = self.reclaim();
        }
    }
}

impl Engine for RocksDbEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(read::BoxedRead::new(Arc::clone(&self.shared))))
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        let ticket = self.shared.writers.enter()?;
        Ok(Box::new(write::RocksWrite::new(
            Arc::clone(&self.shared),
            options,
            ticket,
        )))
    }

    /// The snapshot lives on the stack: an auto-commit read allocates nothing of its own.
    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        let snapshot = self.shared.begin_snapshot();
        body(&snapshot)
    }

    /// One RocksDB `Get` of the latest commit, without a snapshot (a single `Get` reads one
    /// consistent state: taking and releasing a RocksDB snapshot costs two trips through the
    /// database mutex). The catalog is pinned meanwhile, so the table's column family stays.
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        catch_engine_panic(Some(table), Operation::Get, |caller| {
            let pinned = self.shared.pin_catalog();
            let Some(entry) = pinned.catalog.tables.get(table) else {
                return Ok(false);
            };
            let handle = self.shared.handle(Some(table), &entry.cf, Operation::Get)?;
            let options = rocksdb::ReadOptions::default();
            read::get_pinned(&self.shared, &handle, &options, table, key, caller, found)
        })
    }

    /// The transaction lives on the stack.
    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        let ticket = self.shared.writers.enter()?;
        let txn = write::RocksWrite::new(Arc::clone(&self.shared), options, ticket);
        body(&txn)?;
        txn.commit_now()
    }

    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn size_on_disk(&self) -> Result<u64> {
        let io = |e| Error::engine_failure(None, Operation::SizeOnDisk, EngineErrorKind::Io, e);
        let mut total = 0;
        for entry in std::fs::read_dir(&self.shared.path).map_err(io)? {
            let metadata = entry.map_err(io)?.metadata().map_err(io)?;
            if metadata.is_file() {
                total += metadata.len();
            }
        }
        Ok(total)
    }

    fn compact(&self) -> Result<bool> {
        let in_use = |problem: &str| {
            Error::engine(
                None,
                Operation::Compact,
                EngineError::new(EngineErrorKind::InUse, problem.to_owned()),
            )
        };
        let ticket = self
            .shared
            .writers
            .enter()
            .map_err(|e| match e.engine_kind() {
                Some(EngineErrorKind::NestedWrite) => {
                    in_use("this thread holds a write transaction; compact after it ends")
                }
                _ => e,
            })?;
        if self.shared.snapshots.load(Ordering::SeqCst) > 0 {
            return Err(in_use("snapshots are open; compact after they are dropped"));
        }
        catch_engine_panic(None, Operation::Compact, |_| {
            // Holding the write: no transaction is about to create a column family.
            self.shared.reclaim()?;
            drop(ticket);
            // RocksDB compacts alongside writers; a table dropped meanwhile is skipped.
            let catalog = self.shared.committed();
            let db = &self.shared.db;
            db.compact_range(None::<&[u8]>, None::<&[u8]>);
            for entry in catalog.tables.values() {
                if let Some(handle) = db.cf_handle(&entry.cf) {
                    db.compact_range_cf(&handle, None::<&[u8]>, None::<&[u8]>);
                }
            }
            Ok(true)
        })
    }

    fn flush(&self) -> Result<()> {
        catch_engine_panic(None, Operation::Flush, |_| {
            self.shared
                .db
                .flush_wal(true)
                .map_err(rocks_error(None, Operation::Flush))
        })
    }

    fn check_integrity(&self) -> Result<Integrity> {
        catch_engine_panic(None, Operation::CheckIntegrity, |_| {
            let snapshot = self.shared.begin_snapshot();
            snapshot.verify(None)?;
            for table in snapshot.catalog().tables.keys() {
                snapshot.verify(Some(table))?;
            }
            Ok(Integrity::Intact)
        })
    }
}
