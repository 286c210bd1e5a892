//! The [`Table`] methods that start a scan: whole table, key range, tuple prefix, byte-string
//! prefix, values only, first and last — each auto-commit (one consistent snapshot of its own)
//! or `_in` a snapshot or write transaction.

use super::bounds::Bounds;
use super::{Scanner, Values};
use crate::codec::key::{ByteStringKey, FromKeyBytes, IntoKeyBytes, KeyBounds, KeyPrefix};
use crate::codec::value::ValueSerializer;
use crate::error::Result;
use crate::table::Table;
use crate::txn::{Reader, Via};

impl<K, V, S> Table<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    fn auto_commit_via(&self) -> Via<'_> {
        Via::AutoCommit(&*self.engine)
    }

    /// A scan of the whole table in key order.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..5u64).map(|i| (i, [i as u8])))?;
    /// assert_eq!(t.scan().fold(0, |sum, k, _| Ok(sum + k))?, 10);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn scan(&self) -> Scanner<'_, K, V, S> {
        Scanner::new(self, self.auto_commit_via(), Bounds::ALL)
    }

    /// Streams the whole table in key order through `scan`, which gets a [`Scanner`].
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put(&1, b"abc")?;
    /// let bytes = t.scan_with(|s| s.fold(0, |n, _, v| Ok(n + v.len())))?;
    /// assert_eq!(bytes, 3);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn scan_with<F, R>(&self, scan: F) -> Result<R>
    where
        F: FnOnce(Scanner<'_, K, V, S>) -> Result<R>,
    {
        scan(self.scan())
    }

    /// A scan of the keys within `range`, in key order: `a..b`, `a..=b`, `a..` (a seek),
    /// `..b`, `..=b`, `..`, or a `(Bound, Bound)` pair, with bounds written as any
    /// [`KeyLike`](crate::KeyLike) of the key — `"a".."b"` for `String` keys,
    /// `("ada", t0)..("ada", t1)` for `(String, i64)` keys.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let cache = storage.raw_table::<String>("cache")?;
    /// for k in ["user:1", "user:2", "video:1"] {
    ///     cache.put(k, b"")?;
    /// }
    /// let users = cache.range("user:".."user;").filter_map(|k, _| Some(k.clone()))?;
    /// assert_eq!(users, ["user:1", "user:2"]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn range<R: KeyBounds<K>>(&self, range: R) -> Scanner<'_, K, V, S> {
        Scanner::bounded(self, self.auto_commit_via(), range)
    }

    /// A scan of the tuple keys whose leading elements equal `prefix`, in key order: for a
    /// `(String, u64)` table, `prefix(&("alice",))` visits every `("alice", _)`.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let events = storage.raw_table::<(String, u64)>("events")?;
    /// for (who, seq) in [("ada", 1), ("bob", 1), ("ada", 2)] {
    ///     events.put(&(who, seq), b"")?;
    /// }
    /// assert_eq!(events.prefix(&("ada",)).count()?, 2);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn prefix<P: KeyPrefix<K>>(&self, prefix: &P) -> Scanner<'_, K, V, S> {
        Scanner::new(self, self.auto_commit_via(), Bounds::prefix(prefix))
    }

    /// A scan of the `String` (or `Vec<u8>`) keys that start with `prefix`, in key order.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let cache = storage.raw_table::<String>("cache")?;
    /// for k in ["user:1", "user:2", "users", "video:1"] {
    ///     cache.put(k, b"")?;
    /// }
    /// let first = cache.starts_with("user:").take(1).filter_map(|k, _| Some(k.clone()))?;
    /// assert_eq!(first, ["user:1"]);
    /// assert_eq!(cache.starts_with("user").count()?, 3);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn starts_with(&self, prefix: &K::Prefix) -> Scanner<'_, K, V, S>
    where
        K: ByteStringKey,
    {
        let bounds = Bounds::starting_with(prefix.as_ref());
        Scanner::new(self, self.auto_commit_via(), bounds)
    }

    /// The values of the whole table in key order, keys not decoded: the cheapest full pass.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..4u64).map(|i| (i, vec![0; i as usize])))?;
    /// assert_eq!(t.values().fold(0, |n, v| Ok(n + v.len()))?, 6);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn values(&self) -> Values<'_, K, V, S> {
        self.scan().values()
    }

    /// `read(key, view)` of the table's first entry in key order; `None` if it is empty.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// assert_eq!(t.first(|k, _| *k)?, None);
    /// t.put_batch([(3u64, "c"), (1, "a"), (2, "b")].map(|(k, v)| (k, v.as_bytes())))?;
    /// assert_eq!(t.first(|k, v| (*k, v.to_vec()))?, Some((1, b"a".to_vec())));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn first<F, R>(&self, read: F) -> Result<Option<R>>
    where
        F: FnOnce(&K, S::Output<'_>) -> R,
    {
        self.scan().first(read)
    }

    /// `read(key, view)` of the table's last entry in key order; `None` if it is empty.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch([(3u64, "c"), (1, "a"), (2, "b")].map(|(k, v)| (k, v.as_bytes())))?;
    /// assert_eq!(t.last(|k, _| *k)?, Some(3));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn last<F, R>(&self, read: F) -> Result<Option<R>>
    where
        F: FnOnce(&K, S::Output<'_>) -> R,
    {
        self.scan().last(read)
    }

    /// Collects `map(key, view)` for every entry where it returns `Some`, in key order.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..6u64).map(|i| (i, [i as u8])))?;
    /// let even = t.filter_map(|k, _| (k % 2 == 0).then_some(*k))?;
    /// assert_eq!(even, [0, 2, 4]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn filter_map<F, R>(&self, map: F) -> Result<Vec<R>>
    where
        F: FnMut(&K, S::Output<'_>) -> Option<R>,
    {
        self.scan().filter_map(map)
    }

    /// [`scan`](Self::scan) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// storage.write(|tx| {
    ///     t.put_in(tx, &1, b"new")?;
    ///     assert_eq!(t.scan_in(tx).count()?, 1); // sees its own write
    ///     Ok(())
    /// })?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn scan_in<'s, T: Reader>(&'s self, reader: &'s T) -> Scanner<'s, K, V, S> {
        Scanner::new(self, Via::reader(reader), Bounds::ALL)
    }

    /// [`range`](Self::range) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// let snapshot = storage.snapshot()?;
    /// t.delete(&5)?; // not seen by the snapshot
    /// assert_eq!(t.range_in(&snapshot, 4u64..7).count()?, 3);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn range_in<'s, T, R>(&'s self, reader: &'s T, range: R) -> Scanner<'s, K, V, S>
    where
        T: Reader,
        R: KeyBounds<K>,
    {
        Scanner::bounded(self, Via::reader(reader), range)
    }

    /// [`prefix`](Self::prefix) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<(u32, u32)>("t")?;
    /// t.put(&(1, 1), b"")?;
    /// let snapshot = storage.snapshot()?;
    /// t.put(&(1, 2), b"")?;
    /// assert_eq!(t.prefix_in(&snapshot, &(1u32,)).count()?, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn prefix_in<'s, T: Reader, P: KeyPrefix<K>>(
        &'s self,
        reader: &'s T,
        prefix: &P,
    ) -> Scanner<'s, K, V, S> {
        Scanner::new(self, Via::reader(reader), Bounds::prefix(prefix))
    }

    /// [`starts_with`](Self::starts_with) within a snapshot or write transaction.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<Vec<u8>>("t")?;
    /// t.put(b"ab".as_slice(), b"")?;
    /// let n = storage.read(|snapshot| t.starts_with_in(snapshot, b"a").count())?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn starts_with_in<'s, T: Reader>(
        &'s self,
        reader: &'s T,
        prefix: &K::Prefix,
    ) -> Scanner<'s, K, V, S>
    where
        K: ByteStringKey,
    {
        let bounds = Bounds::starting_with(prefix.as_ref());
        Scanner::new(self, Via::reader(reader), bounds)
    }
}
