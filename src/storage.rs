//! [`Storage`]: the entry point that opens an engine and hands out typed tables.

use std::path::Path;
use std::sync::Arc;

use crate::backends::{MemoryDatabase, RedbDatabase, RedbOptions};
use crate::database::Database;
use crate::error::Result;
use crate::key::{FromKeyBytes, IntoKeyBytes};
use crate::serializer::{
    FlatBufferRoot, FlatBuffersSerializer, RawSerializer, RkyvBytesSerializer, RkyvSerializer,
    RkyvValue, ValueSerializer,
};
use crate::table::Table;

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

    /// Opens table `name` with any serializer.
    pub fn table<K, V, S>(&self, name: &str, serializer: S) -> Result<Table<K, V, S>>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V>,
    {
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
}
