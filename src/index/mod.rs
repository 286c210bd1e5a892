//! Secondary indexes: a table's rows found by a key computed from their values, kept in step
//! by every typed write.
//!
//! ```
//! # #[derive(rkyv::Archive, rkyv::Serialize)]
//! # struct User { name: String, email: String, city: String }
//! # fn user(name: &str, email: &str, city: &str) -> User {
//! #     User { name: name.into(), email: email.into(), city: city.into() }
//! # }
//! let storage = zerotable::Storage::in_memory();
//! let users = storage.rkyv_table::<u64, User>("users")?;
//! let by_email = users.unique_index("by_email", |u: &ArchivedUser| u.email.as_str().to_owned())?;
//! let by_city = users.index("by_city", |u: &ArchivedUser| {
//!     (!u.city.is_empty()).then(|| u.city.as_str().to_owned()) // `None`: not indexed
//! })?;
//!
//! users.put(&7, &user("ada", "ada@example.com", "Paris"))?; // both indexes in the same commit
//! users.put(&8, &user("bob", "bob@example.com", "Parma"))?;
//! users.put(&9, &user("eve", "eve@example.com", ""))?;
//!
//! let found = by_email.get("ada@example.com", |id, u| (*id, u.name.len()))?;
//! assert_eq!(found, Some((7, 3)));
//! let ids = by_city.starts_with("Par").filter_map(|_city, id, _u| Some(*id))?;
//! assert_eq!(ids, [7, 8]);
//!
//! let taken = users.put(&10, &user("mallory", "ada@example.com", "Rome")).unwrap_err();
//! assert!(matches!(taken, zerotable::Error::UniqueViolation { .. }));
//! assert!(!users.contains(&10)?); // the write was refused whole
//! # Ok::<(), zerotable::Error>(())
//! ```
//!
//! # Defining
//!
//! [`Table::unique_index`], [`Table::index`] and, with every option, [`Table::define_index`]
//! take a name and a key function over the table's value view. The first definition records
//! the index in the catalog (its key type and uniqueness) and builds it over the rows already
//! there, in batches, reporting progress; later definitions — after a reopen, in another
//! storage over the same engine — check the record and find the index built. An index
//! interrupted while building is built again from the start.
//!
//! An index is defined per process: the key function is code, not data. **After a reopen, a
//! write to a table whose catalog records indexes is refused** with [`Error::Index`] of kind
//! [`NotDefined`](crate::IndexErrorKind::NotDefined) until each is defined again — so no write
//! ever leaves an index behind. Reads work meanwhile. Define indexes where tables are opened.
//! Within a process, a definition reaches every handle of the table, opened before or after,
//! on any thread; a second definition of the same index returns a handle to the first (its
//! key function is not used).
//!
//! # Keys
//!
//! Index keys are any key type ([`IntoKeyBytes`] + [`FromKeyBytes`]): strings, integers,
//! tuples. A key function returning `None` leaves the row out of the index (an optional
//! index). A unique index refuses a second row with the same key: the write fails with
//! [`Error::UniqueViolation`] naming the index and the key, and writes nothing — in a
//! transaction of the caller's, the other writes stand until it decides (return the error to
//! roll everything back).
//!
//! # Storage
//!
//! Entries live in their own engine table, `zerotable.index.<table>.<index>`, written in the
//! transaction of the row; records in `zerotable.indexes`. See `maintain.rs` for the entry
//! layout. [`Storage::drop_table`] drops the table's indexes with it; migrating a table with
//! indexes is refused (drop them, migrate, define them again).
//!
//! # Cost
//!
//! A write to an indexed table reads the row's old value (in its transaction) and decodes old
//! and new values once per index; an index whose key does not change costs no write.
//! BENCHMARKS.md has the figures.
//!
//! # Checking
//!
//! [`Index::verify`] recomputes the index from the table and compares. The command-line
//! `zerotable check` verifies what can be verified without the key functions: every entry
//! decodes, points to an existing row, and a unique index holds each row once.
//!
//! # Engines with optimistic writers
//!
//! Defining an index registers it inside a write transaction, so on an engine that serializes
//! writers (every engine shipped) no write can be in flight unaware of it. An engine with
//! optimistic concurrent writers would also need the writes that began before the definition
//! to conflict with it; that is for when such an engine arrives.

mod build;
pub(crate) mod maintain;
mod record;
mod scan;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

pub use self::build::{IndexCheck, IndexOptions, IndexProgress};
pub(crate) use self::maintain::Maintain;
pub(crate) use self::record::records_of;
pub use self::record::{INDEX_CATALOG_TABLE, IndexRecord, all_index_records};
pub use self::scan::IndexScanner;
use crate::codec::key::{
    ByteStringKey, FromKeyBytes, IntoKeyBytes, KeyArena, KeyBounds, KeyLike, KeyPrefix,
};
use crate::codec::value::ValueSerializer;
use crate::engine::ReadOps;
use crate::error::{Error, IndexErrorKind, Result};
use crate::scan::Bounds;
use crate::storage::Storage;
use crate::table::Table;
use crate::txn::{Reader, Via, run_write};

/// A secondary index of a [`Table`] of `K` keys and `V` values (stored by `S`), by index keys
/// of type `IK`. Cheap to clone, `Send + Sync`. Reads hand the primary key and a zero-copy
/// view of the row to a closure, from one snapshot.
pub struct Index<K, IK, V: ?Sized, S> {
    table: Table<K, V, S>,
    maintainer: Arc<dyn Maintain>,
    types: PhantomData<fn(&IK)>,
}

impl<K, IK, V: ?Sized, S: Clone> Clone for Index<K, IK, V, S> {
    fn clone(&self) -> Self {
        Index {
            table: self.table.clone(),
            maintainer: Arc::clone(&self.maintainer),
            types: PhantomData,
        }
    }
}

impl<K, IK, V: ?Sized, S> fmt::Debug for Index<K, IK, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("record", self.maintainer.record())
            .finish_non_exhaustive()
    }
}

impl<K, V, S> Table<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized + 'static,
    S: ValueSerializer<V> + Clone,
{
    /// Defines (or finds) the unique index `name`, keyed by `key(value)`: no two rows may have
    /// the same key. See [`crate::index`].
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let accounts = storage.raw_table::<u64>("accounts")?;
    /// let by_login = accounts.unique_index("by_login", |v: &[u8]| v.to_vec())?;
    /// accounts.put(&1, b"ada")?;
    /// assert!(accounts.put(&2, b"ada").is_err());
    /// assert_eq!(by_login.get(&b"ada"[..], |id, _| *id)?, Some(1));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn unique_index<IK, F>(&self, name: &str, key: F) -> Result<Index<K, IK, V, S>>
    where
        IK: IntoKeyBytes + FromKeyBytes + 'static,
        F: Fn(S::Output<'_>) -> IK + Send + Sync + 'static,
    {
        self.define_index(
            name,
            true,
            move |value| Some(key(value)),
            IndexOptions::default(),
        )
    }

    /// Defines (or finds) the index `name`, keyed by `key(value)`; rows for which it returns
    /// `None` are not indexed. Many rows may share a key. See [`crate::index`].
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let words = storage.raw_table::<u64>("words")?;
    /// let by_len = words.index("by_len", |v: &[u8]| (!v.is_empty()).then(|| v.len() as u32))?;
    /// words.put_batch([(1u64, &b"ab"[..]), (2, b"cd"), (3, b"efg"), (4, b"")])?;
    /// assert_eq!(by_len.range(2u32..=2).count()?, 2);
    /// assert_eq!(by_len.scan().count()?, 3); // the empty word is not indexed
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn index<IK, F>(&self, name: &str, key: F) -> Result<Index<K, IK, V, S>>
    where
        IK: IntoKeyBytes + FromKeyBytes + 'static,
        F: Fn(S::Output<'_>) -> Option<IK> + Send + Sync + 'static,
    {
        self.define_index(name, false, key, IndexOptions::default())
    }

    /// Defines (or finds) the index `name`: unique or not, keyed by `key(value)` (`None`: not
    /// indexed), built over the existing rows with `options` (batch size, progress).
    ///
    /// Fails with [`Error::Index`] if the catalog records the index with another key type or
    /// uniqueness ([`Mismatch`](IndexErrorKind::Mismatch): drop it first), and with
    /// [`Error::UniqueViolation`] if a unique index finds two rows with one key while building
    /// (the index is then dropped again).
    ///
    /// ```
    /// use zerotable::IndexOptions;
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..2500u64).map(|i| (i, (i % 7).to_be_bytes())))?;
    /// let mut seen = Vec::new();
    /// let options = IndexOptions::default()
    ///     .batch_rows(1000)
    ///     .progress(|p| seen.push(p.rows_done));
    /// let by_rest = t.define_index("by_rest", false, |v: &[u8]| Some(v.to_vec()), options)?;
    /// assert_eq!(seen, [1000, 2000, 2500]);
    /// assert_eq!(by_rest.len()?, 2500);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn define_index<IK, F>(
        &self,
        name: &str,
        unique: bool,
        key: F,
        options: IndexOptions<'_>,
    ) -> Result<Index<K, IK, V, S>>
    where
        IK: IntoKeyBytes + FromKeyBytes + 'static,
        F: Fn(S::Output<'_>) -> Option<IK> + Send + Sync + 'static,
    {
        record::validate_index_name(&self.name, name)?;
        let wanted = IndexRecord {
            table: self.name.to_string(),
            name: name.to_owned(),
            key: IK::key_type(),
            unique,
            ready: true,
        };
        let defined = self.hooks.current();
        if let Some(existing) = defined.indexes.iter().find(|i| i.record().name == name) {
            if !existing.record().same_definition(&wanted) {
                return Err(mismatch(existing.record(), &wanted));
            }
            return Ok(self.index_handle(Arc::clone(existing)));
        }
        let maintainer: Arc<dyn Maintain> = Arc::new(maintain::KeyFn {
            entries: wanted.entries_table(),
            record: wanted.clone(),
            serializer: self.serializer.clone(),
            key,
            types: PhantomData,
        });
        let index = self.index_handle(maintainer);
        build::define(&index, &wanted, options)?;
        Ok(index)
    }

    fn index_handle<IK>(&self, maintainer: Arc<dyn Maintain>) -> Index<K, IK, V, S> {
        Index {
            table: self.clone(),
            maintainer,
            types: PhantomData,
        }
    }
}

impl<K, IK, V, S> Index<K, IK, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    IK: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    /// The index's name.
    pub fn name(&self) -> &str {
        &self.maintainer.record().name
    }

    /// What the index was defined as.
    pub fn record(&self) -> &IndexRecord {
        self.maintainer.record()
    }

    /// The indexed table.
    pub fn table(&self) -> &Table<K, V, S> {
        &self.table
    }

    pub(crate) fn entries(&self) -> &str {
        self.maintainer.entries()
    }

    /// The row whose index key is `key` (for an index that is not unique: the first such row,
    /// by primary key): `read(primary key, view)`, or `None`.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_value = t.unique_index("by_value", |v: &[u8]| v.to_vec())?;
    /// t.put(&1, b"one")?;
    /// assert_eq!(by_value.get(&b"one"[..], |id, v| (*id, v.len()))?, Some((1, 3)));
    /// assert_eq!(by_value.get(&b"two"[..], |id, _| *id)?, None);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn get<Q, F, R>(&self, key: &Q, read: F) -> Result<Option<R>>
    where
        Q: KeyLike<IK> + ?Sized,
        F: FnOnce(&K, S::Output<'_>) -> R,
    {
        self.get_via(Via::AutoCommit(&*self.table.engine), key, read)
    }

    /// [`get`](Self::get) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_value = t.unique_index("by_value", |v: &[u8]| v.to_vec())?;
    /// let id = storage.write(|tx| {
    ///     t.put_in(tx, &5, b"five")?;
    ///     by_value.get_in(tx, &b"five"[..], |id, _| *id) // sees the transaction's write
    /// })?;
    /// assert_eq!(id, Some(5));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn get_in<T, Q, F, R>(&self, reader: &T, key: &Q, read: F) -> Result<Option<R>>
    where
        T: Reader,
        Q: KeyLike<IK> + ?Sized,
        F: FnOnce(&K, S::Output<'_>) -> R,
    {
        self.get_via(Via::reader(reader), key, read)
    }

    fn get_via<Q, F, R>(&self, via: Via<'_>, key: &Q, read: F) -> Result<Option<R>>
    where
        Q: KeyLike<IK> + ?Sized,
        F: FnOnce(&K, S::Output<'_>) -> R,
    {
        let mut part = KeyArena::new();
        key.write_key_part(&mut part);
        self.table.run(via, |reader| {
            let Some(pk) = self.first_row_of(reader, part.as_slice())? else {
                return Ok(None);
            };
            let id = self.table.decode_key(&pk)?;
            let found = self.table.read_row(reader, &pk, |bytes| {
                Ok(read(&id, self.table.decode(&pk, bytes)?))
            })?;
            found.map(Some).ok_or_else(|| self.dangling(&pk))
        })
    }

    /// The primary key of the first row whose index key's part encoding is `part`.
    fn first_row_of(&self, reader: &dyn ReadOps, part: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut pk = None;
        if self.record().unique {
            reader.get(self.entries(), part, &mut |owner| {
                pk = Some(owner.to_vec());
                Ok(())
            })?;
        } else {
            let bounds = Bounds::starting_with(part);
            reader.range(self.entries(), &bounds.range(false), &mut |entry, _| {
                pk = Some(entry[part.len()..].to_vec());
                Ok(std::ops::ControlFlow::Break(()))
            })?;
        }
        Ok(pk)
    }

    /// An entry points to a row that is not there: the index was written around zerotable.
    pub(crate) fn dangling(&self, pk: &[u8]) -> Error {
        Error::index(
            &self.table.name,
            self.name(),
            IndexErrorKind::Inconsistent,
            format!(
                "an entry points to row {} which does not exist; rebuild the index \
                 (Index::rebuild)",
                crate::error::KeyBytes(pk.to_vec())
            ),
        )
    }

    /// Every entry of the index, in index-key order (then primary-key order).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_value = t.index("by_value", |v: &[u8]| Some(v.to_vec()))?;
    /// t.put_batch([(1u64, b"b"), (2, b"a"), (3, b"b")])?;
    /// assert_eq!(by_value.scan().filter_map(|_, id, _| Some(*id))?, [2, 1, 3]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn scan(&self) -> IndexScanner<'_, K, IK, V, S> {
        IndexScanner::new(self, Via::AutoCommit(&*self.table.engine), Bounds::ALL)
    }

    /// The entries whose index keys are within `range` (as [`Table::range`] takes it).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_len = t.index("by_len", |v: &[u8]| Some(v.len() as u64))?;
    /// t.put_batch([(1u64, &b"a"[..]), (2, b"bb"), (3, b"ccc")])?;
    /// assert_eq!(by_len.range(2u64..).filter_map(|len, id, _| Some((*len, *id)))?, [(2, 2), (3, 3)]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn range<R: KeyBounds<IK>>(&self, range: R) -> IndexScanner<'_, K, IK, V, S> {
        let (start, end) = range.key_bounds();
        IndexScanner::new(
            self,
            Via::AutoCommit(&*self.table.engine),
            Bounds::leading_part(start, end),
        )
    }

    /// [`range`](Self::range) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_len = t.index("by_len", |v: &[u8]| Some(v.len() as u64))?;
    /// let n = storage.write(|tx| {
    ///     t.put_in(tx, &1, b"abc")?;
    ///     by_len.range_in(tx, 3u64..=3).count()
    /// })?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn range_in<'s, T, R>(&'s self, reader: &'s T, range: R) -> IndexScanner<'s, K, IK, V, S>
    where
        T: Reader,
        R: KeyBounds<IK>,
    {
        let (start, end) = range.key_bounds();
        IndexScanner::new(self, Via::reader(reader), Bounds::leading_part(start, end))
    }

    /// The entries whose tuple index keys begin with `prefix` (as [`Table::prefix`]).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_pair = t.index("by_pair", |v: &[u8]| Some((v[0], v[1])))?;
    /// t.put_batch([(1u64, [1u8, 1]), (2, [1, 2]), (3, [2, 1])])?;
    /// assert_eq!(by_pair.prefix(&(1u8,)).count()?, 2);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn prefix<P: KeyPrefix<IK>>(&self, prefix: &P) -> IndexScanner<'_, K, IK, V, S> {
        IndexScanner::new(
            self,
            Via::AutoCommit(&*self.table.engine),
            Bounds::prefix(prefix),
        )
    }

    /// The entries whose `String` (or `Vec<u8>`) index keys start with `prefix`.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_city = t.index("by_city", |v: &[u8]| Some(String::from_utf8_lossy(v).into_owned()))?;
    /// t.put_batch([(1u64, &b"Paris"[..]), (2, b"Rome"), (3, b"Parma")])?;
    /// assert_eq!(by_city.starts_with("Par").take(20).filter_map(|_, id, _| Some(*id))?, [1, 3]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn starts_with(&self, prefix: &IK::Prefix) -> IndexScanner<'_, K, IK, V, S>
    where
        IK: ByteStringKey,
    {
        // A string's part encoding is its escaped bytes and a two-byte terminator: the escaped
        // bytes alone begin the part of every string that starts with `prefix`.
        let mut part = KeyArena::new();
        ByteStringPart(prefix.as_ref()).write_key_part(&mut part);
        let escaped = &part.as_slice()[..part.len() - 2];
        IndexScanner::new(
            self,
            Via::AutoCommit(&*self.table.engine),
            Bounds::starting_with(escaped),
        )
    }

    /// Number of entries (rows with a key in this index).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_value = t.index("by_value", |v: &[u8]| Some(v.to_vec()))?;
    /// t.put(&1, b"x")?;
    /// assert_eq!(by_value.len()?, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn len(&self) -> Result<u64> {
        self.table
            .run(Via::AutoCommit(&*self.table.engine), |reader| {
                reader.len(self.entries())
            })
    }

    /// Whether no row has a key in this index.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_value = t.index("by_value", |v: &[u8]| Some(v.to_vec()))?;
    /// assert!(by_value.is_empty()?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// A byte string written as a key part (strings and byte strings share the escaping).
struct ByteStringPart<'a>(&'a [u8]);

impl IntoKeyBytes for ByteStringPart<'_> {
    fn write_key_part(&self, out: &mut KeyArena) {
        self.0.write_key_part(out);
    }
}

impl Storage {
    /// The records of the indexes of table `name`.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.index("by_value", |v: &[u8]| Some(v.to_vec()))?;
    /// assert_eq!(storage.indexes("t")?[0].name, "by_value");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn indexes(&self, table: &str) -> Result<Vec<IndexRecord>> {
        crate::txn::run_read(&**self.engine(), |reader| records_of(reader, table))
    }

    /// Drops index `name` of `table`: its record and entries, and its upkeep by every handle
    /// in this process. Returns whether it existed. Handles of the index still alive read it
    /// empty afterwards.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.unique_index("by_value", |v: &[u8]| v.to_vec())?;
    /// t.put(&1, b"x")?;
    /// assert!(storage.drop_index("t", "by_value")?);
    /// t.put(&2, b"x")?; // no longer unique
    /// assert!(storage.indexes("t")?.is_empty());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn drop_index(&self, table: &str, name: &str) -> Result<bool> {
        crate::catalog::validate_table_name(table)?;
        record::validate_index_name(table, name)?;
        let hooks = self.registry().existing(table);
        let native = self.capabilities().table_admin;
        run_write(&**self.engine(), Default::default(), |txn| {
            let found = record::record_in(txn, table, name)?;
            if let Some(found) = &found {
                record::forget(txn, table, name)?;
                record::clear_entries(txn, found, native)?;
            }
            if let Some(hooks) = &hooks {
                hooks.change(|state| {
                    state.indexes.retain(|i| i.record().name != name);
                    state.undefined.retain(|r| r.name != name);
                });
            }
            Ok(found.is_some())
        })
        .map_err(|e| e.on_table(table))
    }
}

/// Drops every index of `table` inside `txn` (for [`Storage::drop_table`]).
pub(crate) fn drop_all_in(
    txn: &dyn crate::engine::WriteTxn,
    table: &str,
    native: bool,
) -> Result<()> {
    for found in records_of(txn, table)? {
        record::forget(txn, table, &found.name)?;
        record::clear_entries(txn, &found, native)?;
    }
    Ok(())
}

/// The refusal of a write to a table whose index `record` is not defined in this process.
pub(crate) fn not_defined(record: &IndexRecord) -> Error {
    Error::index(
        &record.table,
        &record.name,
        IndexErrorKind::NotDefined,
        format!(
            "the catalog records this index but it is not defined in this process, so the \
             write would leave it behind; define it (Table::{}) before writing, or drop it \
             (Storage::drop_index)",
            if record.unique {
                "unique_index"
            } else {
                "index"
            }
        ),
    )
}

fn mismatch(recorded: &IndexRecord, wanted: &IndexRecord) -> Error {
    let describe = |r: &IndexRecord| {
        format!(
            "{} index by {}",
            if r.unique { "a unique" } else { "an" },
            r.key
        )
    };
    Error::index(
        &wanted.table,
        &wanted.name,
        IndexErrorKind::Mismatch,
        format!(
            "it is defined as {}, not {}; drop it (Storage::drop_index) to define it anew",
            describe(recorded),
            describe(wanted)
        ),
    )
}
