//! [`Storage`]: the entry point that opens an engine and hands out typed tables, transactions,
//! snapshots and table administration.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;

use crate::catalog::{self, TableOptions, TableRecord, validate_table_name};
use crate::codec::key::{FromKeyBytes, IntoKeyBytes};
use crate::codec::value::{
    FlatBufferRoot, FlatBuffersSerializer, RawSerializer, RkyvBytesSerializer, RkyvSerializer,
    RkyvValue, ValueSerializer,
};
use crate::engine::{Capabilities, Engine, Integrity, KeyRange, TableStats, WriteOptions};
use crate::engines::{MemoryEngine, RedbEngine};
use crate::error::{Error, Handles, Result};
use crate::table::Table;
use crate::table::hooks::Registry;
use crate::txn::{Snapshot, WriteTx, engine_id, run_read, run_write};

/// A table of rkyv-serialized `V` values.
pub type RkyvTable<K, V> = Table<K, V, RkyvSerializer<V>>;
/// A table of pre-serialized rkyv bytes of `V`, validated on put.
pub type RkyvBytesTable<K, V> = Table<K, [u8], RkyvBytesSerializer<V>>;
/// A table of finished FlatBuffers with root `T`, verified on put.
pub type FlatBuffersTable<K, T> = Table<K, [u8], FlatBuffersSerializer<T>>;
/// A table of raw byte values.
pub type RawTable<K> = Table<K, [u8], RawSerializer>;

/// One engine shared by typed tables. Cheap to clone, `Send + Sync`.
///
/// Three ways in: [`Storage::open`] (a redb file, the embedded default),
/// [`Storage::in_memory`], and [`Storage::new`] for any [`Engine`] with its own options.
///
/// ```
/// use zerotable::{Durability, RedbEngine, RedbOptions, Storage};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let storage = Storage::open(dir.path().join("app.redb"))?;
/// # drop(storage);
/// let options = RedbOptions::default().durability(Durability::None);
/// let fast = Storage::new(RedbEngine::open_with(dir.path().join("fast.redb"), options)?);
/// let scratch = Storage::in_memory();
/// # Ok::<(), zerotable::Error>(())
/// ```
///
/// # Tables keep the database open
///
/// Every [`Table`] holds the engine, as every clone of a `Storage` does: the database closes
/// when the last of them is dropped, not when the `Storage` is. A table that outlives its
/// `Storage` keeps a redb file open and locked, and opening the file again fails with
/// [`AlreadyOpen`](crate::EngineErrorKind::AlreadyOpen) — the error then says that this process
/// holds it and through how many handles ([`Error::holder`]). [`handles`](Self::handles) counts
/// them at any time, and [`close`](Self::close) closes the database or says what still holds
/// it.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("app.redb");
/// let storage = zerotable::Storage::open(&path)?;
/// let users = storage.raw_table::<u64>("users")?;
/// drop(storage);
/// assert!(zerotable::Storage::open(&path).is_err()); // `users` still holds the file
/// drop(users);
/// zerotable::Storage::open(&path)?.close()?; // opens now; closed explicitly
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone)]
pub struct Storage {
    engine: Arc<dyn Engine>,
    /// Shared by this `Storage` and its clones only (tables hold `engine`), so that the handles
    /// can be told apart: see [`Storage::handles`].
    storages: Arc<()>,
    /// The indexes and subscribers of the engine's tables, kept while a storage is.
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("engine", &self.engine.name())
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens the redb file at `path`, creating it if missing, with default options (every
    /// commit fsynced). For other options use [`RedbEngine::open_with`] with [`Storage::new`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let storage = zerotable::Storage::open(dir.path().join("app.redb"))?;
    /// let users = storage.raw_table::<u64>("users")?;
    /// users.put(&1, b"ada")?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(RedbEngine::open(path)?))
    }

    /// Opens the engine an address names: `redb://path`, `memory://`, and with their cargo
    /// features `fjall://path`, `lmdb://path`, `sqlite://path`, `rocksdb://path`; options go in
    /// the query (`lmdb://data/app?map_size=8GiB&durability=none`). A plain path, with no
    /// scheme, is a redb file. Unknown schemes and options and bad values are
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig), naming the option. See
    /// [`engines::connect`](crate::engines::connect) and each engine's options for the
    /// option names.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("app.redb");
    /// # let path = path.to_str().unwrap();
    /// let storage = zerotable::Storage::connect(&format!("redb://{path}?durability=none"))?;
    /// assert_eq!(storage.engine().name(), "redb");
    /// let err = zerotable::Storage::connect("memory://?durabilty=none").unwrap_err();
    /// assert!(err.to_string().contains("unknown option `durabilty`"), "{err}");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn connect(address: &str) -> Result<Self> {
        crate::engines::connect(address)
    }

    /// A fresh in-memory storage with the same semantics as redb, persisting nothing.
    ///
    /// ```
    /// let storage = zerotable::Storage::in_memory();
    /// let cache = storage.raw_table::<String>("cache")?;
    /// cache.put("k", b"v")?;
    /// assert_eq!(cache.len()?, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn in_memory() -> Self {
        Self::new(MemoryEngine::new())
    }

    /// Storage over any [`Engine`].
    ///
    /// ```
    /// use zerotable::{MemoryEngine, Storage};
    /// let storage = Storage::new(MemoryEngine::new());
    /// assert_eq!(storage.engine().name(), "memory");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn new(engine: impl Engine) -> Self {
        // A redb file learns how to count its handles, for the error of a second open.
        let open_file = (&engine as &dyn Any)
            .downcast_ref::<RedbEngine>()
            .and_then(RedbEngine::open_file)
            .cloned();
        let storage = Self::from_arc(Arc::new(engine));
        if let Some(open_file) = open_file {
            let engine = Arc::downgrade(&storage.engine);
            let storages = Arc::downgrade(&storage.storages);
            open_file.count_handles_with(Box::new(move || {
                count_handles(engine.strong_count(), storages.strong_count())
            }));
        }
        storage
    }

    /// Storage over an engine that is shared already.
    ///
    /// [`handles`](Self::handles) counts this `Storage` and its clones as storages, and every
    /// other holder of `engine` (tables, other storages made from it) as tables.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zerotable::{Engine, MemoryEngine, Storage};
    /// let engine: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
    /// let a = Storage::from_arc(engine.clone());
    /// let b = Storage::from_arc(engine);
    /// a.raw_table::<u8>("t")?.put(&1, b"x")?;
    /// assert_eq!(b.raw_table::<u8>("t")?.len()?, 1); // the same database
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn from_arc(engine: Arc<dyn Engine>) -> Self {
        Storage {
            registry: Registry::of(&engine),
            engine,
            storages: Arc::new(()),
        }
    }

    /// The indexes and subscribers of the engine's tables.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// How many handles keep this database open in this process, this one included: this
    /// `Storage` and its clones, and the [`Table`]s opened from them (and any other clone of
    /// [`engine`](Self::engine)). The database closes when the last is dropped.
    ///
    /// ```
    /// use zerotable::error::Handles;
    /// let storage = zerotable::Storage::in_memory();
    /// let users = storage.raw_table::<u64>("users")?;
    /// let copy = storage.clone();
    /// assert_eq!(storage.handles(), Handles { storages: 2, tables: 1 });
    /// drop((users, copy));
    /// assert_eq!(storage.handles(), Handles { storages: 1, tables: 0 });
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn handles(&self) -> Handles {
        count_handles(
            Arc::strong_count(&self.engine),
            Arc::strong_count(&self.storages),
        )
    }

    /// Closes the database, if this is its last handle: a redb file is unlocked (and can be
    /// opened again) when this returns `Ok`. Dropping the last handle does the same, silently;
    /// `close` says when it cannot.
    ///
    /// Fails with [`Error::StillOpen`] when other handles are still alive — clones of this
    /// `Storage`, or [`Table`]s, which keep the database open — counting them. This handle is
    /// gone either way; the database then closes when those are dropped. Transactions and
    /// snapshots do not count as handles: end them first.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("app.redb");
    /// let storage = zerotable::Storage::open(&path)?;
    /// let users = storage.raw_table::<u64>("users")?;
    /// let err = storage.clone().close().unwrap_err();
    /// assert!(matches!(err, zerotable::Error::StillOpen { .. }));
    /// assert!(err.to_string().contains("1 Storage and 1 Table"));
    /// drop(users);
    /// storage.close()?;
    /// let reopened = zerotable::Storage::open(&path)?; // the file is free again
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn close(self) -> Result<()> {
        let mut others = self.handles();
        others.storages -= 1;
        if others.total() > 0 {
            return Err(Error::StillOpen { handles: others });
        }
        // The only holder of the engine, with no way left for anyone to get another: dropping
        // it runs the engine's close now, on this thread.
        drop(self);
        Ok(())
    }

    /// The engine behind this storage.
    ///
    /// ```
    /// let storage = zerotable::Storage::in_memory();
    /// assert_eq!(storage.engine().name(), "memory");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// The layer of type `L` in this storage's stack of layers ([`crate::layers`]), outermost
    /// first, or `None` if there is none: how a storage opened from an address or a
    /// configuration file reaches its cache's or its metrics' figures.
    ///
    /// ```
    /// use zerotable::layers::MeteredEngine;
    ///
    /// let storage = zerotable::Storage::connect("memory://?metrics=true")?;
    /// storage.raw_table::<u64>("t")?.put(&1, b"x")?;
    /// let metrics = storage.layer::<MeteredEngine>().expect("a metrics layer").snapshot();
    /// assert!(metrics.table("t").is_some());
    /// assert!(zerotable::Storage::in_memory().layer::<MeteredEngine>().is_none());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn layer<L: Engine>(&self) -> Option<&L> {
        let mut engine: &dyn Engine = &*self.engine;
        loop {
            if let Some(layer) = engine.as_any().and_then(|any| any.downcast_ref::<L>()) {
                return Some(layer);
            }
            engine = engine.inner()?;
        }
    }

    /// The optional capabilities of the engine: what [`size_on_disk`](Self::size_on_disk),
    /// [`compact`](Self::compact), [`flush`](Self::flush) and
    /// [`check_integrity`](Self::check_integrity) can do here.
    ///
    /// ```
    /// let storage = zerotable::Storage::in_memory();
    /// assert!(!storage.capabilities().size_on_disk); // nothing on disk to measure
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn capabilities(&self) -> Capabilities {
        self.engine.capabilities()
    }

    // ---- tables ----

    /// Opens table `name` with any serializer, as version 0 of its type.
    ///
    /// ```
    /// use zerotable::RawSerializer;
    /// # let storage = zerotable::Storage::in_memory();
    /// let blobs = storage.table::<u64, [u8], _>("blobs", RawSerializer)?;
    /// blobs.put(&1, b"bytes")?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn table<K, V, S>(&self, name: &str, serializer: S) -> Result<Table<K, V, S>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V>,
    {
        self.table_with(name, serializer, TableOptions::default())
    }

    /// Opens table `name` with any serializer and the catalog [`TableOptions`] of your choosing.
    ///
    /// The first open creates the table and records its key type, value format, value type and
    /// version in the catalog; every later open must match them, or fails with
    /// [`Error::TableTypeMismatch`](crate::Error::TableTypeMismatch). The first open writes
    /// the catalog in a transaction of its own, so open tables before starting a write
    /// transaction on the same thread (inside one it fails with
    /// [`NestedWrite`](crate::EngineErrorKind::NestedWrite)).
    ///
    /// ```
    /// use zerotable::{RawSerializer, TableOptions};
    /// # let storage = zerotable::Storage::in_memory();
    /// let v2 = TableOptions::default().version(2);
    /// let blobs = storage.table_with::<u64, [u8], _>("blobs", RawSerializer, v2.clone())?;
    /// blobs.put(&1, b"bytes")?;
    /// assert_eq!(storage.table_record("blobs")?.unwrap().version, 2);
    /// // Another version of the same table is refused.
    /// assert!(storage.table_with::<u64, [u8], _>("blobs", RawSerializer, TableOptions::default()).is_err());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn table_with<K, V, S>(
        &self,
        name: &str,
        serializer: S,
        options: TableOptions,
    ) -> Result<Table<K, V, S>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V>,
    {
        validate_table_name(name)?;
        let record = TableRecord::of::<K, V, S>(&serializer, &options);
        if let Some(type_name) = &record.value_type {
            catalog::validate_type_name(name, type_name)?;
        }
        let legacy = catalog::legacy_form::<K, S>(options.version_number());
        let stored = catalog::register(&*self.engine, name, &record, &legacy)
            .map_err(|e| e.on_table(name))?;
        let stored = stored.as_deref().unwrap_or(name);
        Table::new(Arc::clone(&self.engine), name, stored, serializer)
    }

    /// A table of owned `V` values serialized with rkyv; reads see `&Archived<V>`, validated.
    ///
    /// ```
    /// #[derive(rkyv::Archive, rkyv::Serialize)]
    /// struct User { name: String }
    ///
    /// let storage = zerotable::Storage::in_memory();
    /// let users = storage.rkyv_table::<u64, User>("users")?;
    /// users.put(&1, &User { name: "ada".into() })?;
    /// assert_eq!(users.get(&1, |u| u.name.len())?, Some(3));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn rkyv_table<K, V>(&self, name: &str) -> Result<RkyvTable<K, V>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: RkyvValue + 'static,
    {
        self.table(name, RkyvSerializer::new())
    }

    /// A table whose puts take already-archived `V` bytes (validated before storing); reads see
    /// `&Archived<V>`, validated. It stores the same bytes as [`rkyv_table`](Self::rkyv_table),
    /// so both can open the same table.
    ///
    /// ```
    /// #[derive(rkyv::Archive, rkyv::Serialize)]
    /// struct Session { user: u64 }
    ///
    /// let storage = zerotable::Storage::in_memory();
    /// let sessions = storage.rkyv_borrowed_table::<u64, Session>("sessions")?;
    /// let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&Session { user: 7 }).unwrap();
    /// sessions.put(&1, &bytes)?; // already archived: stored as is, after validation
    /// assert_eq!(sessions.get(&1, |s| s.user.to_native())?, Some(7));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn rkyv_borrowed_table<K, V>(&self, name: &str) -> Result<RkyvBytesTable<K, V>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: RkyvValue + 'static,
    {
        self.table(name, RkyvBytesSerializer::new())
    }

    /// A table of finished FlatBuffers whose root is `T` (verified before storing); reads see
    /// the verified root table borrowed from the stored bytes.
    ///
    /// ```
    /// # #[cfg(feature = "example-schemas")] {
    /// use zerotable::schemas::{Monster, MonsterArgs, finish_monster_buffer};
    /// let storage = zerotable::Storage::in_memory();
    /// let monsters = storage.flatbuffers_table::<u64, Monster>("monsters")?;
    /// let mut fbb = flatbuffers::FlatBufferBuilder::new();
    /// let name = fbb.create_string("orc");
    /// let orc = Monster::create(&mut fbb, &MonsterArgs { name: Some(name), hp: 80, ..Default::default() });
    /// finish_monster_buffer(&mut fbb, orc);
    /// monsters.put(&1, fbb.finished_data())?;
    /// assert_eq!(monsters.get(&1, |m| m.hp())?, Some(80));
    /// # }
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn flatbuffers_table<K, T>(&self, name: &str) -> Result<FlatBuffersTable<K, T>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        T: FlatBufferRoot,
    {
        self.table(name, FlatBuffersSerializer::new())
    }

    /// A table of raw byte values.
    ///
    /// ```
    /// let storage = zerotable::Storage::in_memory();
    /// let blobs = storage.raw_table::<[u8; 16]>("blobs")?;
    /// blobs.put(&[7; 16], b"bytes")?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn raw_table<K>(&self, name: &str) -> Result<RawTable<K>>
    where
        K: IntoKeyBytes + FromKeyBytes,
    {
        self.table(name, RawSerializer)
    }

    // ---- transactions ----

    /// Runs `body` in one write transaction across any tables and commits it if `body` returns
    /// `Ok`. On `Err` nothing is written and the error is returned; on panic nothing is written
    /// and the panic continues.
    ///
    /// The transaction belongs to this thread. Do all its writes here, through the `_in`
    /// methods: another thread writing to the same storage meanwhile waits for this
    /// transaction to end, so waiting for such a thread inside `body` (a scoped thread or a
    /// parallel iterator that writes) never ends — the engine cannot see that cycle.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let balances = storage.raw_table::<String>("balances")?;
    /// let log = storage.raw_table::<u64>("log")?;
    /// storage.write(|tx| {
    ///     balances.put_in(tx, "alice", b"90")?;
    ///     balances.put_in(tx, "bob", b"110")?;
    ///     log.put_in(tx, &1, b"alice -> bob: 10")?;
    ///     assert!(balances.contains_in(tx, "bob")?); // reads see the transaction's writes
    ///     Ok(())
    /// })?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn write<R>(&self, body: impl FnOnce(&WriteTx<'_>) -> Result<R>) -> Result<R> {
        self.write_with(WriteOptions::DEFAULT, body)
    }

    /// [`write`](Self::write) with this transaction's [`WriteOptions`] (its durability).
    ///
    /// ```
    /// use zerotable::{Durability, WriteOptions};
    /// # let storage = zerotable::Storage::in_memory();
    /// let log = storage.raw_table::<u64>("log")?;
    /// storage.write_with(WriteOptions::durability(Durability::None), |tx| log.put_in(tx, &1, b"x"))?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn write_with<R>(
        &self,
        options: WriteOptions,
        body: impl FnOnce(&WriteTx<'_>) -> Result<R>,
    ) -> Result<R> {
        let origin = engine_id(&self.engine);
        let mut outbox = None;
        let out = run_write(&*self.engine, options, |txn| {
            let tx = WriteTx::lent(txn, origin);
            let out = body(&tx)?;
            outbox = Some(tx.seal());
            Ok(out)
        })?;
        if let Some(outbox) = outbox {
            outbox.deliver();
        }
        Ok(out)
    }

    /// [`write`](Self::write), run again when it loses to a concurrent transaction: for
    /// engines with optimistic transactions, whose losing commit fails with
    /// [`Conflict`](crate::EngineErrorKind::Conflict) having applied nothing. `body` runs at
    /// most `attempts` times (at least once), each time in a new transaction that sees what
    /// the winner committed; other errors, and the last conflict, are returned as they are.
    /// Engines that serialize writers (every engine shipped today) never conflict, so `body`
    /// runs once there — code written with this helper keeps working on an optimistic engine.
    ///
    /// `body` must be safe to run again: it should only read and write through `tx` (what it
    /// did elsewhere is not undone when its transaction is).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let counters = storage.raw_table::<String>("counters")?;
    /// storage.write_retrying(5, |tx| {
    ///     let hits = counters.get_in(tx, "hits", |v| u64::from_le_bytes(v.try_into().unwrap()))?;
    ///     counters.put_in(tx, "hits", &(hits.unwrap_or(0) + 1).to_le_bytes())
    /// })?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn write_retrying<R>(
        &self,
        attempts: u32,
        mut body: impl FnMut(&WriteTx<'_>) -> Result<R>,
    ) -> Result<R> {
        let mut attempt = 1;
        loop {
            match self.write(&mut body) {
                Err(error)
                    if attempt < attempts
                        && error.engine_kind() == Some(crate::EngineErrorKind::Conflict) =>
                {
                    // A short, growing pause lets the winner finish before the next attempt.
                    std::thread::sleep(std::time::Duration::from_micros(50 << attempt.min(10)));
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Starts a write transaction for code that cannot use a closure: call
    /// [`WriteTx::commit`], or drop it to roll back. Waits while another thread writes; fails
    /// with [`NestedWrite`](crate::EngineErrorKind::NestedWrite) if this thread already does.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let log = storage.raw_table::<u64>("log")?;
    /// let tx = storage.begin_write()?;
    /// log.put_in(&tx, &1, b"first")?;
    /// tx.commit()?;
    /// assert_eq!(log.len()?, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn begin_write(&self) -> Result<WriteTx<'static>> {
        self.begin_write_with(WriteOptions::DEFAULT)
    }

    /// [`begin_write`](Self::begin_write) with this transaction's [`WriteOptions`].
    ///
    /// ```
    /// use zerotable::{Durability, WriteOptions};
    /// # let storage = zerotable::Storage::in_memory();
    /// let log = storage.raw_table::<u64>("log")?;
    /// let tx = storage.begin_write_with(WriteOptions::durability(Durability::None))?;
    /// log.put_in(&tx, &1, b"not fsynced")?;
    /// tx.commit()?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn begin_write_with(&self, options: WriteOptions) -> Result<WriteTx<'static>> {
        let origin = engine_id(&self.engine);
        Ok(WriteTx::owned(self.engine.begin_write(options)?, origin))
    }

    /// Runs `body` with one consistent snapshot of every table; writers go on meanwhile.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let a = storage.raw_table::<u8>("a")?;
    /// let b = storage.raw_table::<u8>("b")?;
    /// let total = storage.read(|snap| Ok(a.len_in(snap)? + b.len_in(snap)?))?;
    /// assert_eq!(total, 0);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn read<R>(&self, body: impl FnOnce(&Snapshot) -> Result<R>) -> Result<R> {
        body(&self.snapshot()?)
    }

    /// A consistent snapshot of every table, for code that cannot use a closure.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// t.put(&1, b"old")?;
    /// let snapshot = storage.snapshot()?;
    /// t.put(&1, b"new")?;
    /// assert_eq!(t.get_in(&snapshot, &1, |v| v.to_vec())?, Some(b"old".to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot::new(
            self.engine.begin_read()?,
            engine_id(&self.engine),
        ))
    }

    // ---- the catalog and administration ----

    /// Names of the typed tables (those with a catalog record), ascending.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// storage.raw_table::<u8>("b")?;
    /// storage.raw_table::<u8>("a")?;
    /// assert_eq!(storage.list_tables()?, ["a", "b"]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.tables()?.into_iter().map(|(name, _)| name).collect())
    }

    /// Every typed table with its catalog record, ascending by name: key type, value format,
    /// value type and version, readable without the Rust types.
    ///
    /// ```
    /// let storage = zerotable::Storage::in_memory();
    /// storage.raw_table::<(String, i64)>("events")?;
    /// let tables = storage.tables()?;
    /// assert_eq!(tables[0].0, "events");
    /// assert_eq!(tables[0].1.to_string(), "key=(String, i64) format=raw version=0");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn tables(&self) -> Result<Vec<(String, TableRecord)>> {
        catalog::all_records(&*self.engine)
    }

    /// The catalog record of table `name`, if it is a typed table.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// storage.raw_table::<(String, u64)>("events")?;
    /// let record = storage.table_record("events")?.unwrap();
    /// assert_eq!(record.format, "raw");
    /// assert_eq!(storage.table_record("missing")?, None);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn table_record(&self, name: &str) -> Result<Option<TableRecord>> {
        validate_table_name(name)?;
        catalog::record_of(&*self.engine, name)
    }

    /// Whether table `name` exists (has a catalog record).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// assert!(!storage.table_exists("t")?);
    /// storage.raw_table::<u8>("t")?;
    /// assert!(storage.table_exists("t")?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn table_exists(&self, name: &str) -> Result<bool> {
        Ok(self.table_record(name)?.is_some())
    }

    /// Deletes table `name`, its entries and its catalog record, atomically; returns whether
    /// it existed. Engines without table administration have the entries deleted by a range
    /// deletion instead.
    ///
    /// Handles opened before still name the table: reads through them see it empty, and a
    /// write through one stores entries without a catalog record, which no typed open accepts
    /// afterwards (their type is unknown) until the table is dropped again. Open the table
    /// anew after dropping it.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// t.put(&1, b"x")?;
    /// drop(t);
    /// assert!(storage.drop_table("t")?);
    /// assert!(!storage.table_exists("t")?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn drop_table(&self, name: &str) -> Result<bool> {
        validate_table_name(name)?;
        let native = self.capabilities().table_admin;
        let hooks = self.registry.existing(name);
        let dropped = run_write(&*self.engine, WriteOptions::DEFAULT, |txn| {
            let stored = catalog::stored_table_in(txn, name)?;
            let recorded = catalog::forget(txn, name)?;
            crate::index::drop_all_in(txn, name, native)?;
            if let Some(hooks) = &hooks {
                hooks.change(|state| {
                    state.indexes.clear();
                    state.undefined.clear();
                });
            }
            let existed = if native {
                txn.drop_table(&stored)?
            } else {
                txn.delete_range(&stored, &KeyRange::ALL)? > 0
            };
            Ok(recorded || existed)
        })
        .map_err(|e| e.on_table(name))?;
        if let Some(hooks) = &hooks {
            crate::watch::table_dropped(hooks);
        }
        Ok(dropped)
    }

    /// Entry count and stored bytes of table `name` (capability
    /// [`table_admin`](Capabilities::table_admin)).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// storage.raw_table::<u8>("t")?.put(&1, b"abc")?;
    /// assert_eq!(storage.table_stats("t")?.entries, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn table_stats(&self, name: &str) -> Result<TableStats> {
        validate_table_name(name)?;
        run_read(&*self.engine, |reader| {
            reader.table_stats(&catalog::stored_table_in(reader, name)?)
        })
        .map_err(|e| e.on_table(name))
    }

    /// Bytes the database occupies on disk (capability
    /// [`size_on_disk`](Capabilities::size_on_disk)).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let storage = zerotable::Storage::open(dir.path().join("app.redb"))?;
    /// assert!(storage.size_on_disk()? > 0);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn size_on_disk(&self) -> Result<u64> {
        self.engine.size_on_disk()
    }

    /// Reclaims free space (redb compaction); fails while snapshots or transactions are open.
    /// Returns whether anything was done (capability [`compact`](Capabilities::compact)).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let storage = zerotable::Storage::open(dir.path().join("app.redb"))?;
    /// let t = storage.raw_table::<u32>("t")?;
    /// t.put_batch((0..1000u32).map(|i| (i, [0u8; 64])))?;
    /// for i in 0..1000u32 {
    ///     t.delete(&i)?;
    /// }
    /// storage.compact()?; // true if it shrank the file
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn compact(&self) -> Result<bool> {
        self.engine.compact()
    }

    /// Makes every commit so far durable, including those made with
    /// [`Durability::None`](crate::Durability::None) (capability [`flush`](Capabilities::flush)).
    ///
    /// ```
    /// use zerotable::{Durability, RedbEngine, RedbOptions, Storage};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let options = RedbOptions::default().durability(Durability::None);
    /// let storage = Storage::new(RedbEngine::open_with(dir.path().join("app.redb"), options)?);
    /// storage.raw_table::<u8>("t")?.put(&1, b"x")?; // committed, not yet fsynced
    /// storage.flush()?; // now durable
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.engine.flush()
    }

    /// Checks the stored structures and repairs what the engine can (capability
    /// [`check_integrity`](Capabilities::check_integrity)).
    ///
    /// When an operation fails with [`Corrupted`](crate::EngineErrorKind::Corrupted): drop
    /// this `Storage` and every `Table` from it, open it again (redb repairs what it can on
    /// open; after a failed commit it asks for exactly that), then run this.
    /// [`Integrity::Repaired`] means the engine fixed what it found (redb rebuilds its allocator
    /// state); an error of kind `Corrupted` means it could not — restore a backup, or read what
    /// still reads (other tables, other key ranges) into a new storage.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let storage = zerotable::Storage::open(dir.path().join("app.redb"))?;
    /// assert_eq!(storage.check_integrity()?, zerotable::Integrity::Intact);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn check_integrity(&self) -> Result<Integrity> {
        self.engine.check_integrity()
    }
}

/// The handles of a database from the strong counts of its engine and of its storages' marker.
fn count_handles(engine: usize, storages: usize) -> Handles {
    Handles {
        storages,
        tables: engine.saturating_sub(storages),
    }
}
