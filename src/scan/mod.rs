//! Ordered scans: [`Scanner`], and the [`Table`] methods that start one (whole table, key
//! ranges, composite-key prefixes; auto-commit or inside a transaction or snapshot).

use std::borrow::Borrow;
use std::ops::{Bound, ControlFlow, RangeBounds};

use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyPrefix, prefix_successor};
use crate::codec::value::{DecodeUnchecked, ValueSerializer};
use crate::engine::KeyRange;
use crate::error::{EngineErrorKind, Error, Operation, Result};
use crate::table::Table;
use crate::txn::{Reader, Via};

/// One ordered pass over (part of) a table.
///
/// Start one with [`Table::scan`], [`Table::range`], [`Table::prefix`] (or their `_in`
/// forms), flip it with [`rev`](Self::rev), and consume it with [`fold`](Self::fold),
/// [`for_each`](Self::for_each), [`try_for_each`](Self::try_for_each) or
/// [`filter_map`](Self::filter_map) — or, when the keys are not needed, with
/// [`fold_values`](Self::fold_values) or [`try_for_each_value`](Self::try_for_each_value),
/// which skip decoding them. Entries are decoded one at a time in place and never
/// collected. A closure's `Err` stops the pass and is returned as is; so does an entry that
/// fails to decode (naming its key). Auto-commit scans read one consistent snapshot.
///
/// ```
/// # let storage = zerotable::Storage::in_memory();
/// let events = storage.raw_table::<(String, u64)>("events")?;
/// for i in 0..10u64 {
///     events.put(&(if i % 2 == 0 { "ada" } else { "bob" }.to_string(), i), b"")?;
/// }
/// let newest: Vec<u64> = events
///     .prefix(&("ada",))
///     .rev()
///     .filter_map(|(_, seq), _| Some(*seq))?;
/// assert_eq!(newest, [8, 6, 4, 2, 0]);
/// let bytes = events.scan().fold(0, |n, _, v| Ok(n + v.len()))?;
/// assert_eq!(bytes, 0);
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct Scanner<'s, K, V: ?Sized, S: ValueSerializer<V>> {
    table: &'s Table<K, V, S>,
    via: Via<'s>,
    bounds: Bounds,
    reverse: bool,
    /// Set by [`unchecked`](Self::unchecked): values are viewed without validation.
    unchecked: Option<ViewUnchecked<V, S>>,
}

/// How an [`unchecked`](Scanner::unchecked) scan views a value.
type ViewUnchecked<V, S> = for<'a> unsafe fn(&S, &'a [u8]) -> <S as ValueSerializer<V>>::Output<'a>;

/// How a scan views each stored value: each way gets its own monomorphized walk, so a
/// validated scan pays nothing per row for the unchecked one.
trait ViewValue<V: ?Sized, S: ValueSerializer<V>> {
    fn view<'a, K>(
        &self,
        table: &Table<K, V, S>,
        key: &[u8],
        bytes: &'a [u8],
    ) -> Result<S::Output<'a>>
    where
        K: IntoKeyBytes + FromKeyBytes;
}

/// Validated views (the default).
struct Checked;

impl<V: ?Sized, S: ValueSerializer<V>> ViewValue<V, S> for Checked {
    #[inline]
    fn view<'a, K>(
        &self,
        table: &Table<K, V, S>,
        key: &[u8],
        bytes: &'a [u8],
    ) -> Result<S::Output<'a>>
    where
        K: IntoKeyBytes + FromKeyBytes,
    {
        table.decode(key, bytes)
    }
}

/// Unchecked views, set by [`Scanner::unchecked`].
struct Unchecked<V: ?Sized, S: ValueSerializer<V>>(ViewUnchecked<V, S>);

impl<V: ?Sized, S: ValueSerializer<V>> ViewValue<V, S> for Unchecked<V, S> {
    #[inline]
    fn view<'a, K>(
        &self,
        table: &Table<K, V, S>,
        _: &[u8],
        bytes: &'a [u8],
    ) -> Result<S::Output<'a>>
    where
        K: IntoKeyBytes + FromKeyBytes,
    {
        // SAFETY: this way is only made by `Scanner::unchecked`, whose caller guarantees that
        // every value the scan visits is valid for this serializer.
        Ok(unsafe { (self.0)(&table.serializer, bytes) })
    }
}

/// # Safety
/// As for [`DecodeUnchecked::decode_unchecked`].
unsafe fn view_unchecked<'a, V: ?Sized, S: DecodeUnchecked<V>>(
    serializer: &S,
    bytes: &'a [u8],
) -> S::Output<'a> {
    // SAFETY: forwarded: the caller upholds `decode_unchecked`'s contract.
    unsafe { serializer.decode_unchecked(bytes) }
}

/// Whether a bound includes its key, excludes it, or is absent.
#[derive(Clone, Copy)]
enum Edge {
    Included,
    Excluded,
    Unbounded,
}

/// A scan's two bounds, encoded into one arena (start bytes, then end bytes): a scanner stays
/// small to move, and both keys stay on the stack up to the arena's inline size together.
struct Bounds {
    bytes: KeyArena,
    /// Where the end key starts in `bytes`.
    split: usize,
    start: Edge,
    end: Edge,
}

impl Bounds {
    const ALL: Bounds = Bounds {
        bytes: KeyArena::new(),
        split: 0,
        start: Edge::Unbounded,
        end: Edge::Unbounded,
    };

    fn encode<Q: IntoKeyBytes + ?Sized>(start: Bound<&Q>, end: Bound<&Q>) -> Self {
        let mut bounds = Bounds::ALL;
        // `key_bytes` may borrow from the key instead of filling its arena: copy either way.
        let mut scratch = KeyArena::new();
        bounds.start = bounds.push(start, &mut scratch);
        bounds.split = bounds.bytes.len();
        scratch.clear();
        bounds.end = bounds.push(end, &mut scratch);
        bounds
    }

    fn push<Q: IntoKeyBytes + ?Sized>(&mut self, bound: Bound<&Q>, scratch: &mut KeyArena) -> Edge {
        let (edge, key) = match bound {
            Bound::Included(key) => (Edge::Included, key),
            Bound::Excluded(key) => (Edge::Excluded, key),
            Bound::Unbounded => return Edge::Unbounded,
        };
        self.bytes.extend_from_slice(key.key_bytes(scratch));
        edge
    }

    /// From `prefix` (included) up to its successor (excluded; unbounded if it has none).
    fn prefix<K, P: KeyPrefix<K>>(prefix: &P) -> Self {
        let mut bounds = Bounds::ALL;
        prefix.write_prefix(&mut bounds.bytes);
        bounds.start = Edge::Included;
        bounds.split = bounds.bytes.len();
        let mut successor = KeyArena::new();
        if prefix_successor(bounds.bytes.as_slice(), &mut successor) {
            bounds.bytes.extend_from_slice(successor.as_slice());
            bounds.end = Edge::Excluded;
        }
        bounds
    }

    fn range(&self, reverse: bool) -> KeyRange<'_> {
        let (start, end) = self.bytes.as_slice().split_at(self.split);
        let bound = |edge, key| match edge {
            Edge::Included => Bound::Included(key),
            Edge::Excluded => Bound::Excluded(key),
            Edge::Unbounded => Bound::Unbounded,
        };
        KeyRange {
            start: bound(self.start, start),
            end: bound(self.end, end),
            reverse,
        }
    }
}

impl<K, V, S> Table<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    /// A scan of the whole table in key order.
    pub fn scan(&self) -> Scanner<'_, K, V, S> {
        Scanner::new(self, Via::AutoCommit(&*self.engine), Bounds::ALL)
    }

    /// Streams the whole table in key order through `scan`, which gets a [`Scanner`].
    pub fn scan_with<F, R>(&self, scan: F) -> Result<R>
    where
        F: FnOnce(Scanner<'_, K, V, S>) -> Result<R>,
    {
        scan(self.scan())
    }

    /// A scan of the keys within `range` (`a..b`, `a..=b`, `a..`, `..b`; start from a key to
    /// seek), in key order.
    pub fn range<Q, R>(&self, range: R) -> Scanner<'_, K, V, S>
    where
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        R: RangeBounds<Q>,
    {
        Scanner::bounded(self, Via::AutoCommit(&*self.engine), range)
    }

    /// A scan of the tuple keys whose leading elements equal `prefix`, in key order: for a
    /// `(String, u64)` table, `prefix(&("alice",))` visits every `("alice", _)`.
    pub fn prefix<P: KeyPrefix<K>>(&self, prefix: &P) -> Scanner<'_, K, V, S> {
        Scanner::prefixed(self, Via::AutoCommit(&*self.engine), prefix)
    }

    /// Collects `map(key, view)` for every entry where it returns `Some`, in key order.
    pub fn filter_map<F, R>(&self, map: F) -> Result<Vec<R>>
    where
        F: FnMut(&K, S::Output<'_>) -> Option<R>,
    {
        self.scan().filter_map(map)
    }

    /// [`scan`](Self::scan) within a snapshot or write transaction.
    pub fn scan_in<'s, T: Reader>(&'s self, reader: &'s T) -> Scanner<'s, K, V, S> {
        Scanner::new(self, Via::reader(reader), Bounds::ALL)
    }

    /// [`range`](Self::range) within a snapshot or write transaction.
    pub fn range_in<'s, T, Q, R>(&'s self, reader: &'s T, range: R) -> Scanner<'s, K, V, S>
    where
        T: Reader,
        K: Borrow<Q>,
        Q: IntoKeyBytes + ?Sized,
        R: RangeBounds<Q>,
    {
        Scanner::bounded(self, Via::reader(reader), range)
    }

    /// [`prefix`](Self::prefix) within a snapshot or write transaction.
    pub fn prefix_in<'s, T: Reader, P: KeyPrefix<K>>(
        &'s self,
        reader: &'s T,
        prefix: &P,
    ) -> Scanner<'s, K, V, S> {
        Scanner::prefixed(self, Via::reader(reader), prefix)
    }
}

impl<'s, K, V, S> Scanner<'s, K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    fn new(table: &'s Table<K, V, S>, via: Via<'s>, bounds: Bounds) -> Self {
        Scanner {
            table,
            via,
            bounds,
            reverse: false,
            unchecked: None,
        }
    }

    fn bounded<Q, R>(table: &'s Table<K, V, S>, via: Via<'s>, range: R) -> Self
    where
        Q: IntoKeyBytes + ?Sized,
        R: RangeBounds<Q>,
    {
        let bounds = Bounds::encode(range.start_bound(), range.end_bound());
        Self::new(table, via, bounds)
    }

    fn prefixed<P: KeyPrefix<K>>(table: &'s Table<K, V, S>, via: Via<'s>, prefix: &P) -> Self {
        Self::new(table, via, Bounds::prefix(prefix))
    }

    /// Walks the same keys in descending order.
    pub fn rev(mut self) -> Self {
        self.reverse = !self.reverse;
        self
    }

    /// Folds every entry, in order, into an accumulator.
    pub fn fold<A, F>(self, init: A, mut step: F) -> Result<A>
    where
        F: FnMut(A, &K, S::Output<'_>) -> Result<A>,
    {
        // The accumulator moves through the engine's callback; it is put back after every
        // successful step, and a failed step ends the scan with its error.
        let mut acc = Some(init);
        self.visit(|key, value| {
            let current = acc.take().ok_or_else(lost_accumulator)?;
            acc = Some(step(current, key, value)?);
            Ok(ControlFlow::Continue(()))
        })?;
        acc.ok_or_else(lost_accumulator)
    }

    /// Calls `body` for every entry, in order.
    pub fn for_each<F>(self, mut body: F) -> Result<()>
    where
        F: FnMut(&K, S::Output<'_>) -> Result<()>,
    {
        self.visit(|key, value| {
            body(key, value)?;
            Ok(ControlFlow::Continue(()))
        })
    }

    /// Calls `body` for entries in order until it returns [`ControlFlow::Break`]: an early
    /// stop that is not an error.
    pub fn try_for_each<F>(self, body: F) -> Result<()>
    where
        F: FnMut(&K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        self.visit(body)
    }

    /// Collects `map(key, view)` for every entry where it returns `Some`, in order.
    pub fn filter_map<F, R>(self, mut map: F) -> Result<Vec<R>>
    where
        F: FnMut(&K, S::Output<'_>) -> Option<R>,
    {
        let mut found = Vec::new();
        self.visit(|key, value| {
            found.extend(map(key, value));
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(found)
    }

    /// Folds every value, in order, without decoding keys: the cheapest full pass when the
    /// keys are not needed (no key decode per row; a `String` key would allocate).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let sizes = storage.raw_table::<String>("sizes")?;
    /// sizes.put("a", b"12")?;
    /// sizes.put("b", b"345")?;
    /// let total = sizes.scan().fold_values(0, |sum, value| Ok(sum + value.len()))?;
    /// assert_eq!(total, 5);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn fold_values<A, F>(self, init: A, mut step: F) -> Result<A>
    where
        F: FnMut(A, S::Output<'_>) -> Result<A>,
    {
        let mut acc = Some(init);
        self.visit_values(|value| {
            let current = acc.take().ok_or_else(lost_accumulator)?;
            acc = Some(step(current, value)?);
            Ok(ControlFlow::Continue(()))
        })?;
        acc.ok_or_else(lost_accumulator)
    }

    /// Calls `body` for values in order, without decoding keys, until it returns
    /// [`ControlFlow::Break`].
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// # let storage = zerotable::Storage::in_memory();
    /// let log = storage.raw_table::<u64>("log")?;
    /// for i in 0..10u64 {
    ///     log.put(&i, &[i as u8])?;
    /// }
    /// let mut firsts = Vec::new();
    /// log.range(4u64..).try_for_each_value(|value| {
    ///     firsts.push(value[0]);
    ///     Ok(if firsts.len() == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
    /// })?;
    /// assert_eq!(firsts, [4, 5, 6]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn try_for_each_value<F>(self, body: F) -> Result<()>
    where
        F: FnMut(S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        self.visit_values(body)
    }

    /// Visits decoded values (keys undecoded) until `visit` breaks or fails.
    #[inline]
    fn visit_values<F>(self, visit: F) -> Result<()>
    where
        F: FnMut(S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        match self.unchecked {
            Some(view) => self.walk_values(Unchecked(view), visit),
            None => self.walk_values(Checked, visit),
        }
    }

    #[inline]
    fn walk_values<W, F>(&self, way: W, mut visit: F) -> Result<()>
    where
        W: ViewValue<V, S>,
        F: FnMut(S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        let table = self.table;
        let range = self.bounds.range(self.reverse);
        table.run(self.via, |reader| {
            reader.range(&table.name, &range, &mut |key_bytes, value_bytes| {
                visit(way.view(table, key_bytes, value_bytes)?)
            })
        })
    }

    /// Visits decoded entries until `visit` breaks or fails. A key or value that does not
    /// decode stops the scan with an error naming it: nothing is skipped.
    #[inline]
    fn visit<F>(self, visit: F) -> Result<()>
    where
        F: FnMut(&K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        match self.unchecked {
            Some(view) => self.walk(Unchecked(view), visit),
            None => self.walk(Checked, visit),
        }
    }

    #[inline]
    fn walk<W, F>(&self, way: W, mut visit: F) -> Result<()>
    where
        W: ViewValue<V, S>,
        F: FnMut(&K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        let table = self.table;
        let range = self.bounds.range(self.reverse);
        table.run(self.via, |reader| {
            reader.range(&table.name, &range, &mut |key_bytes, value_bytes| {
                let key = table.decode_key(key_bytes)?;
                let value = way.view(table, key_bytes, value_bytes)?;
                visit(&key, value)
            })
        })
    }
}

impl<K, V, S> Scanner<'_, K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: DecodeUnchecked<V>,
{
    /// The same scan, viewing values without validating them (rkyv's validation, FlatBuffers'
    /// verifier): the scanning form of [`Table::get_unchecked`].
    ///
    /// # Safety
    /// Every value the scan visits must have been written through a table of this same `V`
    /// (same type definition) and left unmodified since: bytes written by another type, another
    /// program, or damaged on disk are undefined behaviour here. Keys are still checked.
    ///
    /// ```
    /// # #[derive(rkyv::Archive, rkyv::Serialize)] struct Sale { amount: u32 }
    /// let storage = zerotable::Storage::in_memory();
    /// let sales = storage.rkyv_table::<u64, Sale>("sales")?;
    /// sales.put_batch((0..10u64).map(|i| (i, Sale { amount: 5 })))?;
    /// // SAFETY: only this table, of this `Sale`, ever wrote "sales".
    /// let total = unsafe { sales.scan().unchecked() }
    ///     .fold_values(0, |sum, s| Ok(sum + s.amount.to_native()))?;
    /// assert_eq!(total, 50);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub unsafe fn unchecked(mut self) -> Self {
        self.unchecked = Some(view_unchecked::<V, S>);
        self
    }
}

/// The accumulator moves through the engine's callback and is put back after every successful
/// step; losing it means the engine called back after a failed step, against its contract.
fn lost_accumulator() -> Error {
    Error::engine_failure(
        None,
        Operation::Range,
        EngineErrorKind::Other,
        "the engine went on calling after a scan step failed (a broken Engine implementation)",
    )
}
