//! [`Storage`]: the entry point that opens an engine and hands out typed tables, transactions,
//! snapshots and table administration.

use std::path::Path;
use std::sync::Arc;

use crate::backends::{MemoryDatabase, RedbDatabase, RedbOptions};
use crate::database::{Database, Durability, TableStats};
use crate::error::{Error, Result};
use crate::key::{FromKeyBytes, IntoKeyBytes};
use crate::registry::{self, META_TABLE, TableType};
use crate::serializer::{
    FlatBufferRoot, FlatBuffersSerializer, RawSerializer, RkyvBytesSerializer, RkyvSerializer,
    RkyvValue, ValueSerializer,
};
use crate::table::{Table, validate_table_name};
use crate::transaction::{Snapshot, WriteTx};

/// A table of rkyv-serialized `V` values.
pub type RkyvTable<K, V> = Table<K, V, RkyvSerializer<V>>;
/// A table of pre-serialized rkyv bytes of `V`, validated on put.
pub type RkyvBytesTable<K, V> = Table<K, [u8], RkyvBytesSerializer<V>>;
/// A table of finished FlatBuffers with root `T`, verified on put.
pub type FlatBuffersTable<K, T> = Table<K, [u8], FlatBuffersSerializer<T>>;
/// A table of raw byte values.
pub type RawTable<K> = Table<K, [u8], RawSerializer>;

/// A database engine shared by typed tables. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Storage {
    db: Arc<dyn Database>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens the redb file at `path`, creating it if missing, with default [`RedbOptions`]
    /// (every commit fsynced).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, RedbOptions::default())
    }

    /// Opens or creates the redb file at `path` with `options`.
    pub fn open_with(path: impl AsRef<Path>, options: RedbOptions) -> Result<Self> {
        Ok(Self::with_database(Arc::new(RedbDatabase::open_with(
            path, options,
        )?)))
    }

    /// A fresh in-memory storage with the same semantics as redb, persisting nothing.
    pub fn in_memory() -> Self {
        Self::with_database(Arc::new(MemoryDatabase::new()))
    }

    /// Storage over any [`Database`] implementation.
    pub fn with_database(db: Arc<dyn Database>) -> Self {
        Storage { db }
    }

    /// The engine behind this storage.
    pub fn database(&self) -> &Arc<dyn Database> {
        &self.db
    }

    // ---- tables ----

    /// Opens table `name` with any serializer, as version 0 of its type.
    pub fn table<K, V, S>(&self, name: &str, serializer: S) -> Result<Table<K, V, S>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V>,
    {
        self.table_versioned(name, serializer, 0)
    }

    /// Opens table `name` with any serializer and a type `version` of your choosing.
    ///
    /// The first open creates the table and records its key type, serializer (with its value
    /// type) and version; every later open must match them, or fails with
    /// [`Error::TableTypeMismatch`](crate::Error::TableTypeMismatch). Bump the version when the
    /// stored layout changes without the type's name changing.
    pub fn table_versioned<K, V, S>(
        &self,
        name: &str,
        serializer: S,
        version: u32,
    ) -> Result<Table<K, V, S>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V>,
    {
        validate_table_name(name)?;
        registry::register(&*self.db, name, &TableType::of::<K, S>(version))?;
        Table::open(Arc::clone(&self.db), name, serializer)
    }

    /// A table of owned `V` values serialized with rkyv; reads see `&Archived<V>`, validated.
    pub fn rkyv_table<K, V>(&self, name: &str) -> Result<RkyvTable<K, V>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: RkyvValue + 'static,
    {
        self.table(name, RkyvSerializer::new())
    }

    /// A table whose puts take already-archived `V` bytes (validated before storing); reads see
    /// `&Archived<V>`, validated.
    pub fn rkyv_borrowed_table<K, V>(&self, name: &str) -> Result<RkyvBytesTable<K, V>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: RkyvValue + 'static,
    {
        self.table(name, RkyvBytesSerializer::new())
    }

    /// A table of finished FlatBuffers whose root is `T` (verified before storing); reads see
    /// the verified root table borrowed from the stored bytes.
    pub fn flatbuffers_table<K, T>(&self, name: &str) -> Result<FlatBuffersTable<K, T>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        T: FlatBufferRoot,
    {
        self.table(name, FlatBuffersSerializer::new())
    }

    /// A table of raw byte values.
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
    pub fn write<R>(&self, body: impl FnOnce(&mut WriteTx) -> Result<R>) -> Result<R> {
        self.write_with(None, body)
    }

    /// [`write`](Self::write) with the durability of this one commit chosen (where the engine
    /// supports it; `None` keeps the storage's default).
    pub fn write_with<R>(
        &self,
        durability: Option<Durability>,
        body: impl FnOnce(&mut WriteTx) -> Result<R>,
    ) -> Result<R> {
        // The engine runs the transaction around a closure (letting redb keep its table handles
        // open for the whole call); `body` is `FnOnce` and has a result, the engine's closure is
        // `FnMut` returning `()`: bridge with two `Option`s.
        let mut body = Some(body);
        let mut value = None;
        self.db.write(durability, &mut |txn| {
            let body = body.take().ok_or_else(|| {
                Error::engine("*", "write", "the engine ran a write closure twice")
            })?;
            value = Some(body(&mut WriteTx::lent(txn))?);
            Ok(())
        })?;
        value.ok_or_else(|| Error::engine("*", "write", "the engine did not run the write closure"))
    }

    /// Starts a write transaction for code that cannot use a closure: call
    /// [`WriteTx::commit`], or drop it to roll back. Waits while another writer is active.
    pub fn begin_write(&self) -> Result<WriteTx<'static>> {
        self.begin_write_with(None)
    }

    /// [`begin_write`](Self::begin_write) with this transaction's durability chosen.
    pub fn begin_write_with(&self, durability: Option<Durability>) -> Result<WriteTx<'static>> {
        Ok(WriteTx::owned(self.db.begin_write(durability)?))
    }

    /// Runs `body` with one consistent snapshot of every table; writers go on meanwhile.
    pub fn read<R>(&self, body: impl FnOnce(&mut Snapshot) -> Result<R>) -> Result<R> {
        body(&mut self.snapshot()?)
    }

    /// A consistent snapshot of every table, for code that cannot use a closure.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot::new(self.db.begin_read()?))
    }

    // ---- administration ----

    /// Names of the tables, in ascending order.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let mut tables = self.db.list_tables()?;
        tables.retain(|name| name != META_TABLE);
        Ok(tables)
    }

    /// Whether table `name` exists.
    pub fn table_exists(&self, name: &str) -> Result<bool> {
        validate_table_name(name)?;
        Ok(self.db.list_tables()?.iter().any(|t| t == name))
    }

    /// Deletes table `name`, its entries and its type record, atomically; returns whether it
    /// existed. Table handles opened before keep working on a new, empty table.
    pub fn drop_table(&self, name: &str) -> Result<bool> {
        validate_table_name(name)?;
        self.write(|tx| {
            registry::forget(tx.engine(), name)?;
            tx.engine().drop_table(name)
        })
    }

    /// Entry count and stored bytes of table `name`.
    pub fn table_stats(&self, name: &str) -> Result<TableStats> {
        validate_table_name(name)?;
        self.db.table_stats(name)
    }

    /// Bytes the database occupies on disk (`None` in memory).
    pub fn size_on_disk(&self) -> Result<Option<u64>> {
        self.db.size_on_disk()
    }

    /// Reclaims free space in the file (redb compaction); fails while snapshots or
    /// transactions are open. Returns whether anything was done.
    pub fn compact(&self) -> Result<bool> {
        self.db.compact()
    }

    /// Makes every commit so far durable, including those made with [`Durability::None`].
    pub fn flush(&self) -> Result<()> {
        self.db.flush()
    }
}
