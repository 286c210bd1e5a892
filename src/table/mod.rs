//! [`Table<K, V, S>`]: typed keys, typed values, zero-copy reads.
//!
//! - this file: the table and its reads, each written once for auto-commit, snapshot and write
//!   transaction (through [`Via`]);
//! - `write.rs`: every typed write, all through one function, [`Table::write_row`];
//! - [`scan`](crate::scan): ordered scans.

pub(crate) mod hooks;
mod write;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyDecodeError, KeyLike};
use crate::codec::value::{DecodeUnchecked, EncodeError, ValueSerializer};
use crate::engine::{Engine, Found, ReadOps, TableStats};
use crate::error::{BoxError, Error, KeyBytes, Result};
use crate::txn::{Reader, Via, engine_id};
use hooks::{Registry, TableHooks};

/// A named table of `K` keys and `V` values stored with serializer `S`.
///
/// Cheap to clone, `Send + Sync`, and owns everything it needs: keep it in application state and
/// share it between threads. Methods without a suffix run in their own transaction; methods
/// ending in `_in` run in a [`Snapshot`](crate::Snapshot) or [`WriteTx`](crate::WriteTx). Reads
/// pass a borrowed view of the stored value to a closure and return what the closure returns.
///
/// A table keeps its database open: dropping the `Storage` does not close the file while a
/// `Table` from it is alive.
pub struct Table<K, V: ?Sized, S> {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) name: Arc<str>,
    /// The engine table holding the rows: `name`, or the table a migration wrote.
    pub(crate) stored: Arc<str>,
    pub(crate) serializer: S,
    /// The indexes and subscribers shared by every handle of the table in this process.
    pub(crate) hooks: Arc<TableHooks>,
    /// Keeps the engine's registry (and with it the table's hooks) alive while the handle is.
    registry: Arc<Registry>,
    // `fn(&K, &V)` keeps the table `Send + Sync` whatever `K` and `V` are: it stores none.
    types: PhantomData<fn(&K, &V)>,
}

impl<K, V: ?Sized, S: Clone> Clone for Table<K, V, S> {
    fn clone(&self) -> Self {
        Table {
            engine: Arc::clone(&self.engine),
            name: Arc::clone(&self.name),
            stored: Arc::clone(&self.stored),
            serializer: self.serializer.clone(),
            hooks: Arc::clone(&self.hooks),
            registry: Arc::clone(&self.registry),
            types: PhantomData,
        }
    }
}

impl<K, V: ?Sized, S: fmt::Debug> fmt::Debug for Table<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("name", &self.name)
            .field("key", &std::any::type_name::<K>())
            .field("serializer", &self.serializer)
            .finish_non_exhaustive()
    }
}

impl<K, V, S> Table<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    /// A handle on table `name` whose rows are in engine table `stored` (checked and
    /// registered by [`Storage::table_with`](crate::Storage::table_with)), sharing the hooks
    /// of every other handle of it.
    pub(crate) fn new(
        engine: Arc<dyn Engine>,
        name: &str,
        stored: &str,
        serializer: S,
    ) -> Result<Self> {
        let registry = Registry::of(&engine);
        let hooks = registry.table(name, || {
            crate::txn::run_read(&*engine, |reader| crate::index::records_of(reader, name))
        })?;
        Ok(Table {
            engine,
            name: name.into(),
            stored: stored.into(),
            serializer,
            hooks,
            registry,
            types: PhantomData,
        })
    }

    /// The table's name.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("events")?;
    /// assert_eq!(t.name(), "events");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Looks `key` up and, if present, returns `read(view)` for a borrowed view of the stored
    /// value. The view lives only inside the closure: that is what lets it point into the
    /// engine's page instead of a copy.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let names = storage.raw_table::<u64>("names")?;
    /// names.put(&1, b"ada")?;
    /// assert_eq!(names.get(&1, |v| v.len())?, Some(3));
    /// assert_eq!(names.get(&2, |v| v.len())?, None);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    #[inline]
    pub fn get<Q, F, R>(&self, key: &Q, read: F) -> Result<Option<R>>
    where
        Q: KeyLike<K> + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        self.get_via(Via::AutoCommit(&*self.engine), key, read)
    }

    /// [`get`](Self::get) within a snapshot or write transaction (seeing its writes).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<String>("t")?;
    /// t.put("a", b"1")?;
    /// let both = storage.read(|snap| {
    ///     Ok((t.get_in(snap, "a", |v| v.to_vec())?, t.get_in(snap, "b", |v| v.to_vec())?))
    /// })?;
    /// assert_eq!(both, (Some(b"1".to_vec()), None));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    #[inline]
    pub fn get_in<T, Q, F, R>(&self, reader: &T, key: &Q, read: F) -> Result<Option<R>>
    where
        T: Reader,
        Q: KeyLike<K> + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        self.get_via(Via::reader(reader), key, read)
    }

    /// Whether `key` is present (its value is not decoded).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let seen = storage.raw_table::<String>("seen")?;
    /// seen.put("a", b"")?;
    /// assert!(seen.contains("a")? && !seen.contains("b")?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn contains<Q>(&self, key: &Q) -> Result<bool>
    where
        Q: KeyLike<K> + ?Sized,
    {
        self.contains_via(Via::AutoCommit(&*self.engine), key)
    }

    /// [`contains`](Self::contains) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// storage.write(|tx| {
    ///     t.put_in(tx, &1, b"x")?;
    ///     assert!(t.contains_in(tx, &1)?);
    ///     Ok(())
    /// })?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn contains_in<T, Q>(&self, reader: &T, key: &Q) -> Result<bool>
    where
        T: Reader,
        Q: KeyLike<K> + ?Sized,
    {
        self.contains_via(Via::reader(reader), key)
    }

    /// Number of entries.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// t.put_batch([(1u8, [1u8]), (2, [2])])?;
    /// assert_eq!(t.len()?, 2);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn len(&self) -> Result<u64> {
        self.len_via(Via::AutoCommit(&*self.engine))
    }

    /// [`len`](Self::len) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// let snapshot = storage.snapshot()?;
    /// t.put(&1, b"x")?;
    /// assert_eq!(t.len_in(&snapshot)?, 0);
    /// assert_eq!(t.len()?, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn len_in<T: Reader>(&self, reader: &T) -> Result<u64> {
        self.len_via(Via::reader(reader))
    }

    /// Whether the table has no entries.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// assert!(t.is_empty()?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// [`is_empty`](Self::is_empty) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// storage.write(|tx| {
    ///     t.put_in(tx, &1, b"x")?;
    ///     assert!(!t.is_empty_in(tx)?);
    ///     Ok(())
    /// })?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn is_empty_in<T: Reader>(&self, reader: &T) -> Result<bool> {
        Ok(self.len_in(reader)? == 0)
    }

    /// Entry count and stored bytes (capability
    /// [`table_admin`](crate::Capabilities::table_admin)).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// t.put(&1, b"abc")?;
    /// assert_eq!(t.stats()?.entries, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn stats(&self) -> Result<TableStats> {
        self.stats_via(Via::AutoCommit(&*self.engine))
    }

    /// [`stats`](Self::stats) within a snapshot or write transaction (counting its writes).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// t.put(&1, b"abc")?;
    /// let stats = storage.read(|snap| t.stats_in(snap))?;
    /// assert_eq!(stats.entries, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn stats_in<T: Reader>(&self, reader: &T) -> Result<TableStats> {
        self.stats_via(Via::reader(reader))
    }

    fn stats_via(&self, via: Via<'_>) -> Result<TableStats> {
        self.run(via, |reader| reader.table_stats(&self.stored))
    }

    /// Reads several keys from one snapshot: `read(view)` for each key in order, `None` views
    /// for absent keys. Returns the results in the keys' order.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let names = storage.raw_table::<u64>("names")?;
    /// names.put(&1, b"ada")?;
    /// names.put(&3, b"edsger")?;
    /// let lens = names.get_many([1, 2, 3], |v| v.map(|v| v.len()))?;
    /// assert_eq!(lens, [Some(3), None, Some(6)]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn get_many<I, F, R>(&self, keys: I, read: F) -> Result<Vec<R>>
    where
        I: IntoIterator,
        I::Item: KeyLike<K>,
        F: FnMut(Option<S::Output<'_>>) -> R,
    {
        self.get_many_via(Via::AutoCommit(&*self.engine), keys, read)
    }

    /// [`get_many`](Self::get_many) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put(&2, b"two")?;
    /// let lens = storage.read(|snap| t.get_many_in(snap, [1u64, 2], |v| v.map(|v| v.len())))?;
    /// assert_eq!(lens, [None, Some(3)]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn get_many_in<T, I, F, R>(&self, reader: &T, keys: I, read: F) -> Result<Vec<R>>
    where
        T: Reader,
        I: IntoIterator,
        I::Item: KeyLike<K>,
        F: FnMut(Option<S::Output<'_>>) -> R,
    {
        self.get_many_via(Via::reader(reader), keys, read)
    }

    #[inline]
    fn get_via<Q, F, R>(&self, via: Via<'_>, key: &Q, read: F) -> Result<Option<R>>
    where
        Q: KeyLike<K> + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.point_read(via, key, |bytes| self.decode(key, bytes).map(read))
    }

    fn contains_via<Q>(&self, via: Via<'_>, key: &Q) -> Result<bool>
    where
        Q: KeyLike<K> + ?Sized,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        Ok(self.point_read(via, key, |_| Ok(()))?.is_some())
    }

    fn len_via(&self, via: Via<'_>) -> Result<u64> {
        self.run(via, |reader| reader.len(&self.stored))
    }

    fn get_many_via<I, F, R>(&self, via: Via<'_>, keys: I, mut read: F) -> Result<Vec<R>>
    where
        I: IntoIterator,
        I::Item: KeyLike<K>,
        F: FnMut(Option<S::Output<'_>>) -> R,
    {
        self.run(via, |reader| {
            let mut arena = KeyArena::new();
            let mut results = Vec::new();
            for key in keys {
                let key = key.key_bytes(&mut arena);
                let found = self.read_row(reader, key, |bytes| {
                    self.decode(key, bytes).map(|value| read(Some(value)))
                })?;
                results.push(match found {
                    Some(result) => result,
                    None => read(None),
                });
            }
            Ok(results)
        })
    }

    /// Runs `op` through `via`; engine errors name this table. A reader of another storage is
    /// refused.
    #[inline]
    pub(crate) fn run<R>(
        &self,
        via: Via<'_>,
        op: impl FnOnce(&dyn ReadOps) -> Result<R>,
    ) -> Result<R> {
        if let Some(origin) = via.origin() {
            self.check_origin(origin)?;
        }
        via.run(op).map_err(|e| e.on_table(&self.name))
    }

    /// Refuses a transaction or snapshot that belongs to another engine than this table's.
    #[inline]
    pub(crate) fn check_origin(&self, origin: usize) -> Result<()> {
        if origin == engine_id(&self.engine) {
            Ok(())
        } else {
            Err(Error::ForeignTransaction {
                table: self.name.to_string(),
            })
        }
    }

    /// Runs `read` on the stored bytes of `key`, if present, in `reader`. `read`'s error comes
    /// back unchanged.
    #[inline]
    pub(crate) fn read_row<R>(
        &self,
        reader: &dyn ReadOps,
        key: &[u8],
        read: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<Option<R>> {
        self.lookup(|found| reader.get(&self.stored, key, found), read)
    }

    /// [`read_row`](Self::read_row) through `via`: an auto-commit read is one
    /// [`Engine::get`] (no snapshot of its own where the engine can do without).
    #[inline]
    pub(crate) fn point_read<R>(
        &self,
        via: Via<'_>,
        key: &[u8],
        read: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<Option<R>> {
        match via {
            Via::AutoCommit(engine) => {
                self.lookup(|found| engine.get(&self.stored, key, found), read)
            }
            Via::In(..) => self.run(via, |reader| self.read_row(reader, key, read)),
        }
    }

    /// The one point read of the table layer: `get` is an engine lookup handing the stored
    /// bytes to its callback.
    #[inline]
    fn lookup<R>(
        &self,
        get: impl FnOnce(&mut Found<'_>) -> Result<bool>,
        read: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<Option<R>> {
        // The engine takes an `FnMut`; it calls it at most once per the contract.
        let mut read = Some(read);
        let mut result = None;
        get(&mut |bytes| {
            if let Some(read) = read.take() {
                result = Some(read(bytes)?);
            }
            Ok(())
        })
        .map_err(|e| e.on_table(&self.name))?;
        Ok(result)
    }

    pub(crate) fn encode<'s>(&self, value: &'s V, scratch: &'s mut S::Scratch) -> Result<&'s [u8]> {
        self.serializer
            .encode(value, scratch)
            .map_err(|error| match error {
                EncodeError::Serialize(source) => Error::Serialize {
                    table: self.name.to_string(),
                    format: S::FORMAT,
                    source,
                },
                EncodeError::Invalid(source) => Error::InvalidValue {
                    table: self.name.to_string(),
                    format: S::FORMAT,
                    source,
                },
            })
    }

    #[inline]
    pub(crate) fn decode<'a>(&self, key: &[u8], bytes: &'a [u8]) -> Result<S::Output<'a>> {
        self.serializer
            .decode(bytes)
            .map_err(|source| self.corrupt(key, source))
    }

    #[inline]
    pub(crate) fn decode_key(&self, key: &[u8]) -> Result<K> {
        K::from_key_bytes(key).map_err(|source| self.undecodable(key, source))
    }

    /// [`decode_key`](Self::decode_key) into `into`, reusing its buffers.
    #[inline]
    pub(crate) fn decode_key_into(&self, into: &mut K, key: &[u8]) -> Result<()> {
        into.set_from_key_bytes(key)
            .map_err(|source| self.undecodable(key, source))
    }

    #[cold]
    fn undecodable(&self, key: &[u8], source: KeyDecodeError) -> Error {
        Error::KeyDecode {
            table: self.name.to_string(),
            key: KeyBytes(key.to_vec()),
            source,
        }
    }

    fn corrupt(&self, key: &[u8], source: BoxError) -> Error {
        Error::CorruptValue {
            table: self.name.to_string(),
            key: KeyBytes(key.to_vec()),
            format: S::FORMAT,
            source,
        }
    }
}

impl<K, V, S> Table<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: DecodeUnchecked<V>,
{
    /// Like [`get`](Self::get), but reads the stored value without validating it (rkyv's
    /// validation, FlatBuffers' verifier): for rkyv and FlatBuffers tables.
    ///
    /// # Safety
    /// Every value stored under `key` must have been written through a table of this same `V`
    /// (same type definition) and left unmodified since: bytes written by another type, another
    /// program, or damaged on disk are undefined behaviour here. Prefer [`get`](Self::get),
    /// whose validation costs little; use this only where a benchmark shows it matters
    /// (BENCHMARKS.md: rkyv's validation is ≈15% of a get in a snapshot, the FlatBuffers
    /// verifier ≈45%).
    ///
    /// ```
    /// # #[derive(rkyv::Archive, rkyv::Serialize)] struct User { name: String }
    /// let storage = zerotable::Storage::in_memory();
    /// let users = storage.rkyv_table::<u64, User>("users")?;
    /// users.put(&1, &User { name: "ada".into() })?;
    /// // SAFETY: only this table, of this `User`, ever wrote "users".
    /// let len = unsafe { users.get_unchecked(&1, |u| u.name.len())? };
    /// assert_eq!(len, Some(3));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub unsafe fn get_unchecked<Q, F, R>(&self, key: &Q, read: F) -> Result<Option<R>>
    where
        Q: KeyLike<K> + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        // SAFETY: this function's contract is `get_unchecked_via`'s.
        unsafe { self.get_unchecked_via(Via::AutoCommit(&*self.engine), key, read) }
    }

    /// Like [`get_in`](Self::get_in), but reads the archive without validating it.
    ///
    /// # Safety
    /// As for [`get_unchecked`](Self::get_unchecked).
    ///
    /// ```
    /// # #[derive(rkyv::Archive, rkyv::Serialize)] struct User { name: String }
    /// let storage = zerotable::Storage::in_memory();
    /// let users = storage.rkyv_table::<u64, User>("users")?;
    /// users.put(&1, &User { name: "ada".into() })?;
    /// let snapshot = storage.snapshot()?;
    /// // SAFETY: only this table, of this `User`, ever wrote "users".
    /// let len = unsafe { users.get_unchecked_in(&snapshot, &1, |u| u.name.len())? };
    /// assert_eq!(len, Some(3));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub unsafe fn get_unchecked_in<T, Q, F, R>(
        &self,
        reader: &T,
        key: &Q,
        read: F,
    ) -> Result<Option<R>>
    where
        T: Reader,
        Q: KeyLike<K> + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        // SAFETY: this function's contract is `get_unchecked_via`'s.
        unsafe { self.get_unchecked_via(Via::reader(reader), key, read) }
    }

    /// # Safety
    /// As for [`get_unchecked`](Self::get_unchecked).
    unsafe fn get_unchecked_via<Q, F, R>(&self, via: Via<'_>, key: &Q, read: F) -> Result<Option<R>>
    where
        Q: KeyLike<K> + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.point_read(via, key, |bytes| {
            // SAFETY: the caller guarantees the stored bytes are a valid archived `V` written
            // by this table's serializer (this function's contract).
            Ok(read(unsafe { self.serializer.decode_unchecked(bytes) }))
        })
    }
}
