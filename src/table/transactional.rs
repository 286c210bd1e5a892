//! Table operations inside transactions and snapshots, and atomic read-modify-write helpers.

use std::borrow::Borrow;

use super::{Table, read_stored};
use crate::Storage;
use crate::error::{Error, Result};
use crate::key::{FromKeyBytes, IntoKeyBytes, KeyArena};
use crate::serializer::ValueSerializer;
use crate::transaction::{Reader, ReaderSource, Source, WriteTx};

impl<K, V, S> Table<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    /// [`get`](Self::get) within a snapshot or write transaction (seeing its writes).
    pub fn get_in<T, Q, F, R>(&self, reader: &mut T, key: &Q, read: F) -> Result<Option<R>>
    where
        T: Reader,
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        self.get_from(reader.source(), key, read)
    }

    /// [`contains`](Self::contains) within a snapshot or write transaction.
    pub fn contains_in<T, Q>(&self, reader: &mut T, key: &Q) -> Result<bool>
    where
        T: Reader,
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
    {
        let mut arena = KeyArena::new();
        reader
            .source()
            .get(&self.name, key.key_bytes(&mut arena), &mut |_| {})
    }

    /// [`len`](Self::len) within a snapshot or write transaction.
    pub fn len_in<T: Reader>(&self, reader: &mut T) -> Result<u64> {
        reader.source().len(&self.name)
    }

    /// [`put`](Self::put) within a write transaction.
    pub fn put_in<Q>(&self, tx: &mut WriteTx, key: &Q, value: &V) -> Result<()>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
    {
        self.with_encoded(key, value, |key, value| {
            tx.engine().put(&self.name, key, value)
        })
    }

    /// [`delete`](Self::delete) within a write transaction.
    pub fn delete_in<Q>(&self, tx: &mut WriteTx, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
    {
        let mut arena = KeyArena::new();
        tx.engine().delete(&self.name, key.key_bytes(&mut arena))
    }

    /// Reads several keys from one snapshot: `read(view)` for each key in order, `None` views
    /// for absent keys. Returns the results in the keys' order.
    pub fn get_many<I, F, R>(&self, keys: I, mut read: F) -> Result<Vec<R>>
    where
        I: IntoIterator,
        I::Item: Borrow<K>,
        F: FnMut(Option<S::Output<'_>>) -> R,
    {
        let mut snapshot = self.storage().snapshot()?;
        let mut arena = KeyArena::new();
        let mut results = Vec::new();
        for key in keys {
            let key = key.borrow().key_bytes(&mut arena);
            let mut source = snapshot.source();
            let found = read_stored(&mut source, &self.name, key, |bytes| {
                self.decode(key, bytes).map(|value| read(Some(value)))
            })?;
            results.push(match found {
                Some(result) => result?,
                None => read(None),
            });
        }
        Ok(results)
    }

    /// Atomically replaces the value of `key` with `change(current)`: `Some(new)` stores `new`,
    /// `None` removes the key. Read, decision and write happen in one write transaction, so
    /// concurrent updates never lose each other's changes. Returns whether a value is stored
    /// afterwards.
    pub fn update<Q, F, B>(&self, key: &Q, change: F) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        F: FnOnce(Option<S::Output<'_>>) -> Option<B>,
        B: Borrow<V>,
    {
        self.storage().write(|tx| self.update_in(tx, key, change))
    }

    /// [`update`](Self::update) within a write transaction.
    pub fn update_in<Q, F, B>(&self, tx: &mut WriteTx, key: &Q, change: F) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        F: FnOnce(Option<S::Output<'_>>) -> Option<B>,
        B: Borrow<V>,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        let mut change = Some(change);
        let mut source = Source::Write(tx.engine());
        let replacement = read_stored(&mut source, &self.name, key, |bytes| {
            let current = self.decode(key, bytes)?;
            Ok(change.take().and_then(|change| change(Some(current))))
        })?;
        let replacement = match (replacement, change) {
            (Some(result), _) => result?,
            (None, Some(change)) => change(None),
            (None, None) => None,
        };
        match replacement {
            Some(value) => {
                let mut scratch = S::Scratch::default();
                let bytes = self.encode(value.borrow(), &mut scratch)?;
                tx.engine().put(&self.name, key, bytes)?;
                Ok(true)
            }
            None => {
                tx.engine().delete(&self.name, key)?;
                Ok(false)
            }
        }
    }

    /// Atomically sets `key` to `new` (`None` removes it) if its current value encodes to the
    /// same bytes as `expected` (`None`: the key is absent). Returns whether it swapped.
    pub fn compare_and_swap<Q>(
        &self,
        key: &Q,
        expected: Option<&V>,
        new: Option<&V>,
    ) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
    {
        let mut expected_scratch = S::Scratch::default();
        let expected = expected
            .map(|value| self.encode(value, &mut expected_scratch))
            .transpose()?;
        let mut new_scratch = S::Scratch::default();
        let new = new
            .map(|value| self.encode(value, &mut new_scratch))
            .transpose()?;
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.storage().write(|tx| {
            let mut source = Source::Write(tx.engine());
            let current_matches = read_stored(&mut source, &self.name, key, |current| {
                Some(current) == expected
            })?
            .unwrap_or(expected.is_none());
            if !current_matches {
                return Ok(false);
            }
            match new {
                Some(bytes) => tx.engine().put(&self.name, key, bytes)?,
                None => {
                    tx.engine().delete(&self.name, key)?;
                }
            }
            Ok(true)
        })
    }

    /// Returns `read(view)` of the value of `key`, first storing `make()` there if the key is
    /// absent — atomically, in one write transaction.
    pub fn get_or_insert<Q, M, B, F, R>(&self, key: &Q, make: M, read: F) -> Result<R>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        M: FnOnce() -> B,
        B: Borrow<V>,
        F: FnOnce(S::Output<'_>) -> R,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        self.storage().write(|tx| {
            let present = read_stored(&mut Source::Write(tx.engine()), &self.name, key, |_| ())?;
            if present.is_none() {
                let value = make();
                let mut scratch = S::Scratch::default();
                let bytes = self.encode(value.borrow(), &mut scratch)?;
                tx.engine().put(&self.name, key, bytes)?;
            }
            let mut source = Source::Write(tx.engine());
            let result = read_stored(&mut source, &self.name, key, |bytes| {
                self.decode(key, bytes).map(read)
            })?;
            // The key was just found or written in this transaction; an engine that lost it is
            // reported, not trusted.
            result.unwrap_or_else(|| {
                Err(Error::engine(
                    &self.name,
                    "get_or_insert",
                    "value vanished within its transaction",
                ))
            })
        })
    }

    fn storage(&self) -> Storage {
        Storage::with_database(self.db.clone())
    }
}
