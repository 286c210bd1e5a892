//! Every typed write of a [`Table`], each written once for its own transaction (auto-commit)
//! and for a [`WriteTx`] (`_in`), and all reaching the engine through one function,
//! [`Table::write_row`]. Secondary indexes, change events and metrics hook in there.

use super::Table;
use super::hooks::HookState;
use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyLike};
use crate::codec::value::{ValueLike, ValueSerializer};
use crate::engine::{WriteOptions, WriteTxn};
use crate::error::{EngineErrorKind, Error, Operation, Result};
use crate::index::maintain as index;
use crate::txn::{Tx, WriteTx, run_write_tx};
use crate::watch::ChangeKind;

impl<K, V, S> Table<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    /// The one path by which typed writes reach the engine: stores `value` under the encoded
    /// `key` of this table in `tx`, or removes the key when `value` is `None`. Returns whether
    /// a value is stored afterwards (a put) or whether one was removed (a delete).
    ///
    /// Everything that must see every write hooks in here, inside the transaction, so that it
    /// commits or rolls back with the write: the table's secondary indexes (kept in step:
    /// [`crate::index`]) and its change subscribers (events queued in `tx`, delivered after
    /// the commit: [`crate::watch`]). A table with neither pays one atomic load.
    #[inline]
    pub(crate) fn write_row(&self, tx: Tx<'_>, key: &[u8], value: Option<&[u8]>) -> Result<bool> {
        match self.hooks.active() {
            None => self.store(tx.txn, key, value),
            Some(hooks) => self.write_hooked(tx, &hooks, key, value),
        }
    }

    /// Writes to the engine, errors naming the table.
    #[inline]
    fn store(&self, txn: &dyn WriteTxn, key: &[u8], value: Option<&[u8]>) -> Result<bool> {
        let written = match value {
            Some(bytes) => txn.put(&self.stored, key, bytes).map(|()| true),
            None => txn.delete(&self.stored, key),
        };
        written.map_err(|e| e.on_table(&self.name))
    }

    /// [`write_row`](Self::write_row) for a table with indexes or subscribers.
    fn write_hooked(
        &self,
        tx: Tx<'_>,
        hooks: &HookState,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<bool> {
        if let Some(undefined) = hooks.undefined.first() {
            return Err(crate::index::not_defined(undefined));
        }
        let indexes = &hooks.indexes;
        let watched = hooks.subscribers.iter().any(|s| s.watches(key));
        // The row as it is: whether it exists, and its index keys (unknown if it is damaged).
        let mut existed = false;
        let mut old = vec![None; indexes.len()];
        let mut damaged = false;
        if !indexes.is_empty() || watched {
            self.read_row(tx.txn, key, |bytes| {
                existed = true;
                match index::keys_of(indexes, key, Some(bytes)) {
                    Ok(keys) => old = keys,
                    Err(Error::CorruptValue { .. }) => damaged = true,
                    Err(other) => return Err(other),
                }
                Ok(())
            })?;
        }
        if value.is_none() && !existed && (!indexes.is_empty() || watched) {
            return Ok(false); // nothing to remove, nothing changes
        }
        let new = index::keys_of(indexes, key, value)?;
        index::check_unique(tx.txn, indexes, key, &old, &new)
            .map_err(|e| e.on_table(&self.name))?;
        let written = self.store(tx.txn, key, value)?;
        if damaged {
            for index in indexes {
                index::remove_entries_of(tx.txn, &**index, key)?;
            }
            old = vec![None; indexes.len()];
        }
        index::update_entries(tx.txn, indexes, key, &old, &new)
            .map_err(|e| e.on_table(&self.name))?;
        if watched {
            let kind = match (existed, value) {
                (_, None) => ChangeKind::Delete,
                (true, Some(_)) => ChangeKind::Update,
                (false, Some(_)) => ChangeKind::Insert,
            };
            let hooks_of_table = &self.hooks;
            tx.events.record(
                hooks_of_table,
                &hooks.subscribers,
                &self.name,
                key,
                kind,
                value,
            );
        }
        Ok(written)
    }

    /// The transaction behind `tx`, if `tx` belongs to this table's storage.
    fn txn_of<'t>(&self, tx: &'t WriteTx<'_>) -> Result<Tx<'t>> {
        self.check_origin(tx.origin())?;
        Ok(tx.tx())
    }

    /// Runs `op` in a transaction of its own, committed if it returns `Ok`.
    fn auto_commit<R>(&self, op: impl FnOnce(Tx<'_>) -> Result<R>) -> Result<R> {
        run_write_tx(&*self.engine, WriteOptions::DEFAULT, op).map_err(|e| e.on_table(&self.name))
    }

    /// Encodes `value` and writes it under the encoded `key` through [`write_row`](Self::write_row).
    fn put_encoded(&self, tx: Tx<'_>, key: &[u8], value: &V) -> Result<()> {
        let mut scratch = S::Scratch::default();
        let bytes = self.encode(value, &mut scratch)?;
        self.write_row(tx, key, Some(bytes)).map(|_| ())
    }

    /// Stores `value` under `key`, replacing any previous value, in its own transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let names = storage.raw_table::<u64>("names")?;
    /// names.put(&1, b"ada")?;
    /// names.put(&1, b"grace")?; // replaces
    /// assert_eq!(names.get(&1, |v| v.to_vec())?, Some(b"grace".to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn put<Q>(&self, key: &Q, value: &V) -> Result<()>
    where
        Q: KeyLike<K> + ?Sized,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.auto_commit(|tx| self.put_encoded(tx, key, value))
    }

    /// [`put`](Self::put) within a write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let accounts = storage.raw_table::<String>("accounts")?;
    /// storage.write(|tx| {
    ///     accounts.put_in(tx, "alice", b"90")?;
    ///     accounts.put_in(tx, "bob", b"110")
    /// })?;
    /// assert_eq!(accounts.len()?, 2);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn put_in<Q>(&self, tx: &WriteTx<'_>, key: &Q, value: &V) -> Result<()>
    where
        Q: KeyLike<K> + ?Sized,
    {
        let mut arena = KeyArena::new();
        self.put_encoded(self.txn_of(tx)?, key.key_bytes(&mut arena), value)
    }

    /// Removes `key`; returns whether it was present.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let names = storage.raw_table::<u64>("names")?;
    /// names.put(&1, b"ada")?;
    /// assert!(names.delete(&1)?);
    /// assert!(!names.delete(&1)?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn delete<Q>(&self, key: &Q) -> Result<bool>
    where
        Q: KeyLike<K> + ?Sized,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.auto_commit(|tx| self.write_row(tx, key, None))
    }

    /// [`delete`](Self::delete) within a write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// t.put(&1, b"x")?;
    /// let removed = storage.write(|tx| t.delete_in(tx, &1))?;
    /// assert!(removed);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn delete_in<Q>(&self, tx: &WriteTx<'_>, key: &Q) -> Result<bool>
    where
        Q: KeyLike<K> + ?Sized,
    {
        let mut arena = KeyArena::new();
        self.write_row(self.txn_of(tx)?, key.key_bytes(&mut arena), None)
    }

    /// Stores every `(key, value)` pair in one atomic transaction: all of them or, if any value
    /// fails to serialize or the engine fails, none. Items stream from the iterator straight
    /// into the transaction; one key arena and one encode buffer serve the whole batch.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let squares = storage.raw_table::<u32>("squares")?;
    /// squares.put_batch((0..100u32).map(|i| (i, (i * i).to_be_bytes())))?;
    /// assert_eq!(squares.len()?, 100);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn put_batch<I, Q, B>(&self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (Q, B)>,
        Q: KeyLike<K>,
        B: ValueLike<V>,
    {
        self.auto_commit(|tx| self.put_batch_to(tx, items))
    }

    /// [`put_batch`](Self::put_batch) within a write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u32>("t")?;
    /// storage.write(|tx| t.put_batch_in(tx, (0..10u32).map(|i| (i, i.to_be_bytes()))))?;
    /// assert_eq!(t.len()?, 10);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn put_batch_in<I, Q, B>(&self, tx: &WriteTx<'_>, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (Q, B)>,
        Q: KeyLike<K>,
        B: ValueLike<V>,
    {
        self.put_batch_to(self.txn_of(tx)?, items)
    }

    fn put_batch_to<I, Q, B>(&self, tx: Tx<'_>, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (Q, B)>,
        Q: KeyLike<K>,
        B: ValueLike<V>,
    {
        let mut arena = KeyArena::new();
        let mut scratch = S::Scratch::default();
        for (key, value) in items {
            let bytes = self.encode(value.as_value(), &mut scratch)?;
            self.write_row(tx, key.key_bytes(&mut arena), Some(bytes))?;
        }
        Ok(())
    }

    /// Atomically replaces the value of `key` with `change(current)`: `Some(new)` stores `new`,
    /// `None` removes the key. Read, decision and write happen in one write transaction, so
    /// concurrent updates never lose each other's changes. Returns whether a value is stored
    /// afterwards.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let counters = storage.raw_table::<String>("counters")?;
    /// for _ in 0..3 {
    ///     counters.update("hits", |old| {
    ///         let n = old.map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap()));
    ///         Some((n + 1).to_be_bytes())
    ///     })?;
    /// }
    /// assert_eq!(counters.get("hits", |b| b.to_vec())?, Some(3u64.to_be_bytes().to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn update<Q, F, B>(&self, key: &Q, change: F) -> Result<bool>
    where
        Q: KeyLike<K> + ?Sized,
        F: FnOnce(Option<S::Output<'_>>) -> Option<B>,
        B: ValueLike<V>,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.auto_commit(|tx| self.update_to(tx, key, change))
    }

    /// [`update`](Self::update) within a write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let stock = storage.raw_table::<String>("stock")?;
    /// stock.put("apples", &[5])?;
    /// storage.write(|tx| {
    ///     stock.update_in(tx, "apples", |n| n.map(|n| [n[0] - 1]))?;
    ///     Ok(())
    /// })?;
    /// assert_eq!(stock.get("apples", |n| n[0])?, Some(4));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn update_in<Q, F, B>(&self, tx: &WriteTx<'_>, key: &Q, change: F) -> Result<bool>
    where
        Q: KeyLike<K> + ?Sized,
        F: FnOnce(Option<S::Output<'_>>) -> Option<B>,
        B: ValueLike<V>,
    {
        let mut arena = KeyArena::new();
        self.update_to(self.txn_of(tx)?, key.key_bytes(&mut arena), change)
    }

    fn update_to<F, B>(&self, tx: Tx<'_>, key: &[u8], change: F) -> Result<bool>
    where
        F: FnOnce(Option<S::Output<'_>>) -> Option<B>,
        B: ValueLike<V>,
    {
        let mut change = Some(change);
        let decided = self.read_row(tx.txn, key, |bytes| {
            let current = self.decode(key, bytes)?;
            Ok(change.take().and_then(|change| change(Some(current))))
        })?;
        let replacement = match (decided, change) {
            (Some(replacement), _) => replacement,
            (None, Some(change)) => change(None),
            (None, None) => None,
        };
        match replacement {
            Some(value) => {
                self.put_encoded(tx, key, value.as_value())?;
                Ok(true)
            }
            None => {
                self.write_row(tx, key, None)?;
                Ok(false)
            }
        }
    }

    /// Atomically sets `key` to `new` (`None` removes it) if its current value encodes to the
    /// same bytes as `expected` (`None`: the key is absent). Returns whether it swapped.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let locks = storage.raw_table::<String>("locks")?;
    /// assert!(locks.compare_and_swap("job", None, Some(b"worker1".as_slice()))?);
    /// assert!(!locks.compare_and_swap("job", None, Some(b"worker2".as_slice()))?);
    /// assert!(locks.compare_and_swap("job", Some(b"worker1".as_slice()), None)?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn compare_and_swap<Q>(
        &self,
        key: &Q,
        expected: Option<&V>,
        new: Option<&V>,
    ) -> Result<bool>
    where
        Q: KeyLike<K> + ?Sized,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.auto_commit(|tx| self.compare_and_swap_to(tx, key, expected, new))
    }

    /// [`compare_and_swap`](Self::compare_and_swap) within a write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let locks = storage.raw_table::<String>("locks")?;
    /// let taken = storage.write(|tx| locks.compare_and_swap_in(tx, "job", None, Some(b"me".as_slice())))?;
    /// assert!(taken);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn compare_and_swap_in<Q>(
        &self,
        tx: &WriteTx<'_>,
        key: &Q,
        expected: Option<&V>,
        new: Option<&V>,
    ) -> Result<bool>
    where
        Q: KeyLike<K> + ?Sized,
    {
        let mut arena = KeyArena::new();
        self.compare_and_swap_to(self.txn_of(tx)?, key.key_bytes(&mut arena), expected, new)
    }

    fn compare_and_swap_to(
        &self,
        tx: Tx<'_>,
        key: &[u8],
        expected: Option<&V>,
        new: Option<&V>,
    ) -> Result<bool> {
        let mut expected_scratch = S::Scratch::default();
        let expected = expected
            .map(|value| self.encode(value, &mut expected_scratch))
            .transpose()?;
        let mut new_scratch = S::Scratch::default();
        let new = new
            .map(|value| self.encode(value, &mut new_scratch))
            .transpose()?;
        let current_matches = self
            .read_row(tx.txn, key, |current| Ok(Some(current) == expected))?
            .unwrap_or(expected.is_none());
        if current_matches {
            self.write_row(tx, key, new)?;
        }
        Ok(current_matches)
    }

    /// Returns `read(view)` of the value of `key`, first storing `make()` there if the key is
    /// absent — atomically, in one write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let ids = storage.raw_table::<String>("ids")?;
    /// assert_eq!(ids.get_or_insert("ada", || [1u8], |v| v[0])?, 1);
    /// assert_eq!(ids.get_or_insert("ada", || [2u8], |v| v[0])?, 1); // already there
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn get_or_insert<Q, M, B, F, R>(&self, key: &Q, make: M, read: F) -> Result<R>
    where
        Q: KeyLike<K> + ?Sized,
        M: FnOnce() -> B,
        B: ValueLike<V>,
        F: FnOnce(S::Output<'_>) -> R,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.auto_commit(|tx| self.get_or_insert_to(tx, key, make, read))
    }

    /// [`get_or_insert`](Self::get_or_insert) within a write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let ids = storage.raw_table::<String>("ids")?;
    /// let id = storage.write(|tx| ids.get_or_insert_in(tx, "ada", || 1u64.to_be_bytes(), |v| v.to_vec()))?;
    /// assert_eq!(id, 1u64.to_be_bytes());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn get_or_insert_in<Q, M, B, F, R>(
        &self,
        tx: &WriteTx<'_>,
        key: &Q,
        make: M,
        read: F,
    ) -> Result<R>
    where
        Q: KeyLike<K> + ?Sized,
        M: FnOnce() -> B,
        B: ValueLike<V>,
        F: FnOnce(S::Output<'_>) -> R,
    {
        let mut arena = KeyArena::new();
        self.get_or_insert_to(self.txn_of(tx)?, key.key_bytes(&mut arena), make, read)
    }

    fn get_or_insert_to<M, B, F, R>(&self, tx: Tx<'_>, key: &[u8], make: M, read: F) -> Result<R>
    where
        M: FnOnce() -> B,
        B: ValueLike<V>,
        F: FnOnce(S::Output<'_>) -> R,
    {
        if self.read_row(tx.txn, key, |_| Ok(()))?.is_none() {
            self.put_encoded(tx, key, make().as_value())?;
        }
        let result = self.read_row(tx.txn, key, |bytes| self.decode(key, bytes).map(read))?;
        // The key was just found or written in this transaction; an engine that lost it is
        // reported, not trusted.
        result.ok_or_else(|| {
            Error::engine_failure(
                Some(&self.name),
                Operation::Get,
                EngineErrorKind::Other,
                "value vanished within its transaction (a broken Engine implementation)",
            )
        })
    }
}
