//! [`Table<K, V, S>`]: typed keys, typed values, zero-copy reads.
//!
//! This file holds the table itself and its auto-commit operations; `transactional.rs` adds
//! the operations that run inside a [`WriteTx`](crate::WriteTx) or [`Snapshot`](crate::Snapshot)
//! and the atomic read-modify-write helpers; [`scan`](crate::scan) adds ordered scans.

mod transactional;

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::database::Database;
use crate::error::{BoxError, Error, KeyBytes, Result};
use crate::key::{FromKeyBytes, IntoKeyBytes, KeyArena};
use crate::serializer::{EncodeError, RkyvSerializer, RkyvValue, ValueSerializer};
use crate::transaction::Source;

/// The longest table name allowed.
pub const MAX_TABLE_NAME_LEN: usize = 64;

/// Checks a table name: 1 to [`MAX_TABLE_NAME_LEN`] ASCII letters, digits or `_`.
///
/// The rule is strict on purpose: names end up in engine namespaces, file names and logs, and
/// a name that is valid everywhere is simpler than one escaped differently in each.
pub fn validate_table_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_TABLE_NAME_LEN {
        "it is longer than 64 bytes"
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        "only ASCII letters, digits and '_' are allowed"
    } else {
        return Ok(());
    };
    Err(Error::InvalidTableName {
        name: name.to_owned(),
        reason,
    })
}

/// A named table of `K` keys and `V` values stored with serializer `S`.
///
/// Cheap to clone, `Send + Sync`, and owns everything it needs: keep it in application state and
/// share it between threads. Every method is one engine operation (one transaction); reads pass
/// a borrowed view of the stored value to a closure and return what the closure returns.
pub struct Table<K, V: ?Sized, S> {
    pub(crate) db: Arc<dyn Database>,
    pub(crate) name: Arc<str>,
    pub(crate) serializer: S,
    // `fn(&K, &V)` keeps the table `Send + Sync` whatever `K` and `V` are: it stores none.
    types: PhantomData<fn(&K, &V)>,
}

impl<K, V: ?Sized, S: Clone> Clone for Table<K, V, S> {
    fn clone(&self) -> Self {
        Table {
            db: Arc::clone(&self.db),
            name: Arc::clone(&self.name),
            serializer: self.serializer.clone(),
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
    /// A handle on table `name` of `db` (checked and registered by
    /// [`Storage::table_versioned`](crate::Storage::table_versioned)).
    pub(crate) fn open(db: Arc<dyn Database>, name: &str, serializer: S) -> Result<Self> {
        validate_table_name(name)?;
        Ok(Table {
            db,
            name: name.into(),
            serializer,
            types: PhantomData,
        })
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stores `value` under `key`, replacing any previous value, in its own transaction.
    pub fn put<Q>(&self, key: &Q, value: &V) -> Result<()>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
    {
        self.with_encoded(key, value, |key, value| self.db.put(&self.name, key, value))
    }

    /// Looks `key` up and, if present, returns `read(view)` for a borrowed view of the stored
    /// value. The view lives only inside the closure: that is what lets it point into the
    /// engine's page instead of a copy.
    pub fn get<Q, F, R>(&self, key: &Q, read: F) -> Result<Option<R>>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        self.get_from(Source::Database(&*self.db), key, read)
    }

    /// Whether `key` is present (its value is not decoded).
    pub fn contains<Q>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
    {
        let mut arena = KeyArena::new();
        self.db
            .get(&self.name, key.key_bytes(&mut arena), &mut |_| {})
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete<Q>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
    {
        let mut arena = KeyArena::new();
        self.db.delete(&self.name, key.key_bytes(&mut arena))
    }

    /// Stores every `(key, value)` pair in one atomic transaction: all of them or, if any value
    /// fails to serialize or the engine fails, none. Items stream from the iterator straight
    /// into the transaction; one key arena and one encode buffer serve the whole batch.
    pub fn put_batch<I, B>(&self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, B)>,
        B: Borrow<V>,
    {
        let mut items = items.into_iter();
        let mut arena = KeyArena::new();
        let mut scratch = S::Scratch::default();
        self.db.write_batch(&self.name, &mut |batch| {
            for (key, value) in items.by_ref() {
                let bytes = self.encode(value.borrow(), &mut scratch)?;
                batch.put(key.key_bytes(&mut arena), bytes)?;
            }
            Ok(())
        })
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64> {
        self.db.len(&self.name)
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Entry count and stored bytes.
    pub fn stats(&self) -> Result<crate::TableStats> {
        self.db.table_stats(&self.name)
    }

    /// Runs `read` on the decoded value of `key` from `source`.
    pub(crate) fn get_from<Q, F, R>(
        &self,
        mut source: Source<'_>,
        key: &Q,
        read: F,
    ) -> Result<Option<R>>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        F: FnOnce(S::Output<'_>) -> R,
    {
        let mut arena = KeyArena::new();
        let key = key.key_bytes(&mut arena);
        read_stored(&mut source, &self.name, key, |bytes| {
            self.decode(key, bytes).map(read)
        })?
        .transpose()
    }

    /// Encodes `key` and `value` (on the stack and in a fresh scratch buffer) and hands both
    /// byte strings to `write`.
    pub(crate) fn with_encoded<Q, R>(
        &self,
        key: &Q,
        value: &V,
        write: impl FnOnce(&[u8], &[u8]) -> Result<R>,
    ) -> Result<R>
    where
        Q: IntoKeyBytes + ?Sized,
    {
        let mut arena = KeyArena::new();
        let mut scratch = S::Scratch::default();
        let value = self.encode(value, &mut scratch)?;
        write(key.key_bytes(&mut arena), value)
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

    pub(crate) fn decode<'a>(&self, key: &[u8], bytes: &'a [u8]) -> Result<S::Output<'a>> {
        self.serializer
            .decode(bytes)
            .map_err(|source| self.corrupt(key, source))
    }

    pub(crate) fn decode_key(&self, key: &[u8]) -> Result<K> {
        K::from_key_bytes(key).map_err(|source| Error::KeyDecode {
            table: self.name.to_string(),
            key: KeyBytes(key.to_vec()),
            source,
        })
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

impl<K, V> Table<K, V, RkyvSerializer<V>>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: RkyvValue + 'static,
{
    /// Like [`get`](Self::get), but reads the archive without validating it.
    ///
    /// # Safety
    /// Every value stored under `key` must have been written through a table of this same `V`
    /// (same type definition) and left unmodified since: bytes written by another type, another
    /// program, or damaged on disk are undefined behaviour here. Prefer [`get`](Self::get),
    /// whose validation costs little; use this only where a benchmark shows it matters.
    pub unsafe fn get_unchecked<Q, F, R>(&self, key: &Q, read: F) -> Result<Option<R>>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        F: FnOnce(&V::Archived) -> R,
    {
        let mut arena = KeyArena::new();
        let mut source = Source::Database(&*self.db);
        read_stored(
            &mut source,
            &self.name,
            key.key_bytes(&mut arena),
            |bytes| {
                // SAFETY: the caller guarantees the stored bytes are a valid archived `V` written
                // by this table's serializer (this function's contract).
                read(unsafe { self.serializer.decode_unchecked(bytes) })
            },
        )
    }
}

/// Runs `read` on the stored bytes of `key` in `table`, if present.
pub(crate) fn read_stored<R>(
    source: &mut Source<'_>,
    table: &str,
    key: &[u8],
    read: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>> {
    // The engine takes an `FnMut`; it calls it at most once per the `Database` contract, and a
    // misbehaving engine calling it again is ignored rather than allowed to panic here.
    let mut read = Some(read);
    let mut result = None;
    source.get(table, key, &mut |bytes| {
        if let Some(read) = read.take() {
            result = Some(read(bytes));
        }
    })?;
    Ok(result)
}
