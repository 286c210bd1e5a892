//! Ordered scans: [`Scanner`] and its [`Values`] form; the [`Table`] methods that start one
//! are in `start.rs`, bounds in `bounds.rs`, checked and unchecked value views in `view.rs`.

mod bounds;
mod start;
mod values;
mod view;

use std::ops::ControlFlow;

pub(crate) use self::bounds::Bounds;
pub use self::values::Values;
use self::view::{Checked, Unchecked, ViewUnchecked, ViewValue, view_unchecked};
use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyBounds};
use crate::codec::value::{DecodeUnchecked, ValueSerializer};
use crate::engine::{ReadOps, Visit};
use crate::error::{EngineErrorKind, Error, Operation, Result};
use crate::table::Table;
use crate::txn::Via;

/// One ordered pass over (part of) a table.
///
/// Start one with [`Table::scan`], [`Table::range`], [`Table::prefix`],
/// [`Table::starts_with`] (or their `_in` forms); shape it with [`rev`](Self::rev),
/// [`skip`](Self::skip) and [`take`](Self::take); consume it with [`fold`](Self::fold),
/// [`for_each`](Self::for_each), [`try_for_each`](Self::try_for_each),
/// [`filter_map`](Self::filter_map), [`first`](Self::first), [`last`](Self::last) or
/// [`count`](Self::count) — or turn it into [`values`](Self::values) when the keys are not
/// needed (they are then not decoded). Entries are decoded one at a time in place and never
/// collected; keys are decoded into one value reused from row to row, so `String` keys cost no
/// allocation per row. A closure's `Err` stops the pass and is returned as is; so does an entry
/// that fails to decode (naming its key). Auto-commit scans read one consistent snapshot.
///
/// ```
/// # let storage = zerotable::Storage::in_memory();
/// let events = storage.raw_table::<(String, u64)>("events")?;
/// for i in 0..10u64 {
///     events.put(&(if i % 2 == 0 { "ada" } else { "bob" }, i), b"")?;
/// }
/// let newest: Vec<u64> = events
///     .prefix(&("ada",))
///     .rev()
///     .take(3)
///     .filter_map(|(_, seq), _| Some(*seq))?;
/// assert_eq!(newest, [8, 6, 4]);
/// let bytes = events.scan().fold(0, |n, _, v| Ok(n + v.len()))?;
/// assert_eq!(bytes, 0);
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct Scanner<'s, K, V: ?Sized, S: ValueSerializer<V>> {
    table: &'s Table<K, V, S>,
    via: Via<'s>,
    bounds: Bounds,
    reverse: bool,
    /// Entries passed over before the first visited one.
    skip: u64,
    /// Entries visited at most (after `skip`).
    take: Option<u64>,
    /// Set by [`unchecked`](Self::unchecked): values are viewed without validation.
    unchecked: Option<ViewUnchecked<V, S>>,
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
            skip: 0,
            take: None,
            unchecked: None,
        }
    }

    fn bounded<R: KeyBounds<K>>(table: &'s Table<K, V, S>, via: Via<'s>, range: R) -> Self {
        let (start, end) = range.key_bounds();
        Self::new(table, via, Bounds::encode(start, end))
    }

    /// Walks the same keys in descending order. The direction belongs to the whole scan:
    /// [`skip`](Self::skip) and [`take`](Self::take) count from its start in that direction,
    /// wherever `rev` is called.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// let newest = t.range(..8u64).rev().take(2).filter_map(|k, _| Some(*k))?;
    /// assert_eq!(newest, [7, 6]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn rev(mut self) -> Self {
        self.reverse = !self.reverse;
        self
    }

    /// Passes over the first `n` entries (not decoded), as [`Iterator::skip`]: with
    /// [`take`](Self::take), a page.
    ///
    /// To page across snapshots (each page its own auto-commit scan), start the next page
    /// *after* the last key seen — `range((Bound::Excluded(last), Bound::Unbounded))` — rather
    /// than at it with `skip(1)`: if that key was deleted in between, `skip(1)` would pass over
    /// the next one. Inside one snapshot both are exact.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// let last_seen = 4u64;
    /// let page = t.range(last_seen..).skip(1).take(3).filter_map(|k, _| Some(*k))?;
    /// assert_eq!(page, [5, 6, 7]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn skip(mut self, n: u64) -> Self {
        self.skip = self.skip.saturating_add(n);
        // As iterators compose: `take(t).skip(n)` visits `t - n` entries after skipping `n`.
        self.take = self.take.map(|take| take.saturating_sub(n));
        self
    }

    /// Visits at most `n` entries, as [`Iterator::take`]: the scan stops reading after them.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// assert_eq!(t.scan().take(4).count()?, 4);
    /// assert_eq!(t.scan().take(4).take(2).count()?, 2);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn take(mut self, n: u64) -> Self {
        self.take = Some(self.take.map_or(n, |take| take.min(n)));
        self
    }

    /// The same scan over values only: keys are not decoded.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<String>("t")?;
    /// t.put("a", b"12")?;
    /// t.put("b", b"345")?;
    /// assert_eq!(t.scan().values().fold(0, |n, v| Ok(n + v.len()))?, 5);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn values(self) -> Values<'s, K, V, S> {
        Values::new(self)
    }

    /// Folds every entry, in order, into an accumulator.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((1..=4u64).map(|i| (i, [i as u8])))?;
    /// let sum = t.scan().fold(0u64, |sum, k, v| Ok(sum + k * u64::from(v[0])))?;
    /// assert_eq!(sum, 1 + 4 + 9 + 16);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
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
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<String>("t")?;
    /// t.put("b", b"2")?;
    /// t.put("a", b"1")?;
    /// let mut seen = String::new();
    /// t.scan().for_each(|k, _| {
    ///     seen.push_str(k);
    ///     Ok(())
    /// })?;
    /// assert_eq!(seen, "ab");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
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
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// let mut first_big = None;
    /// t.scan().try_for_each(|k, v| {
    ///     if v[0] > 6 {
    ///         first_big = Some(*k);
    ///         return Ok(ControlFlow::Break(()));
    ///     }
    ///     Ok(ControlFlow::Continue(()))
    /// })?;
    /// assert_eq!(first_big, Some(7));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn try_for_each<F>(self, body: F) -> Result<()>
    where
        F: FnMut(&K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        self.visit(body)
    }

    /// Collects `map(key, view)` for every entry where it returns `Some`, in order.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..6u64).map(|i| (i, [i as u8 * 10])))?;
    /// let big = t.range(2u64..).filter_map(|k, v| (v[0] >= 30).then_some(*k))?;
    /// assert_eq!(big, [3, 4, 5]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
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

    /// `read(key, view)` of the scan's first entry, `None` if it visits none.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// assert_eq!(t.range(5u64..).first(|k, _| *k)?, Some(5)); // the first key ≥ 5
    /// assert_eq!(t.range(50u64..).first(|k, _| *k)?, None);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn first<F, R>(self, read: F) -> Result<Option<R>>
    where
        F: FnOnce(&K, S::Output<'_>) -> R,
    {
        let mut read = Some(read);
        let mut found = None;
        self.visit(|key, value| {
            found = read.take().map(|read| read(key, value));
            Ok(ControlFlow::Break(()))
        })?;
        Ok(found)
    }

    /// `read(key, view)` of the scan's last entry, `None` if it visits none. Without
    /// [`skip`](Self::skip) or [`take`](Self::take) it reads one entry from the far end;
    /// with them it counts the entries first, in the same snapshot.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// assert_eq!(t.range(..5u64).last(|k, _| *k)?, Some(4)); // the last key < 5
    /// assert_eq!(t.scan().take(3).last(|k, _| *k)?, Some(2));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn last<F, R>(mut self, read: F) -> Result<Option<R>>
    where
        F: FnOnce(&K, S::Output<'_>) -> R,
    {
        if self.skip == 0 && self.take.is_none() {
            return self.rev().first(read);
        }
        let table = self.table;
        table.run(self.via, |reader| {
            let count = self.count_in(reader)?;
            if count == 0 {
                return Ok(None);
            }
            self.skip += count - 1;
            self.take = Some(1);
            let mut read = Some(read);
            let mut found = None;
            self.visit_in(reader, &mut |key, value| {
                found = read.take().map(|read| read(key, value));
                Ok(ControlFlow::Break(()))
            })?;
            Ok(found)
        })
    }

    /// How many entries the scan visits; nothing is decoded.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// assert_eq!(t.range(3u64..8).count()?, 5);
    /// assert_eq!(t.range(3u64..8).skip(4).take(10).count()?, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn count(self) -> Result<u64> {
        let table = self.table;
        table.run(self.via, |reader| self.count_in(reader))
    }

    fn count_in(&self, reader: &dyn ReadOps) -> Result<u64> {
        let mut count = 0u64;
        self.walk(reader, &mut |_, _| {
            count += 1;
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(count)
    }

    /// Visits decoded values (keys undecoded) until `visit` breaks or fails.
    #[inline]
    fn visit_values<F>(self, visit: F) -> Result<()>
    where
        F: FnMut(S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        match self.unchecked {
            Some(view) => self.visit_values_with(Unchecked(view), visit),
            None => self.visit_values_with(Checked, visit),
        }
    }

    #[inline]
    fn visit_values_with<W, F>(&self, way: W, mut visit: F) -> Result<()>
    where
        W: ViewValue<V, S>,
        F: FnMut(S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        let table = self.table;
        table.run(self.via, |reader| {
            self.walk(reader, &mut |key_bytes, value_bytes| {
                visit(way.view(table, key_bytes, value_bytes)?)
            })
        })
    }

    /// Visits decoded entries until `visit` breaks or fails, in one snapshot of its own.
    #[inline]
    fn visit<F>(self, mut visit: F) -> Result<()>
    where
        F: FnMut(&K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        let table = self.table;
        table.run(self.via, |reader| self.visit_in(reader, &mut visit))
    }

    /// Visits decoded entries in `reader` until `visit` breaks or fails. A key or value that
    /// does not decode stops the scan with an error naming it: nothing is skipped.
    #[inline]
    fn visit_in<F>(&self, reader: &dyn ReadOps, visit: &mut F) -> Result<()>
    where
        F: FnMut(&K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        match self.unchecked {
            Some(view) => self.visit_with(reader, Unchecked(view), visit),
            None => self.visit_with(reader, Checked, visit),
        }
    }

    #[inline]
    fn visit_with<W, F>(&self, reader: &dyn ReadOps, way: W, visit: &mut F) -> Result<()>
    where
        W: ViewValue<V, S>,
        F: FnMut(&K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        let table = self.table;
        // Keys are decoded into this one value from the second row on, reusing its buffers.
        let mut key: Option<K> = None;
        self.walk(reader, &mut |key_bytes, value_bytes| {
            let key = match &mut key {
                Some(key) => {
                    table.decode_key_into(key, key_bytes)?;
                    key
                }
                None => key.insert(table.decode_key(key_bytes)?),
            };
            let value = way.view(table, key_bytes, value_bytes)?;
            visit(key, value)
        })
    }

    /// Walks the encoded entries of the scan in `reader`, applying `skip` and `take`.
    #[inline]
    fn walk(&self, reader: &dyn ReadOps, row: &mut Visit<'_>) -> Result<()> {
        let range = self.bounds.range(self.reverse);
        let name = &self.table.stored;
        match (self.skip, self.take) {
            (_, Some(0)) => Ok(()),
            (0, None) => reader.range(name, &range, row),
            (mut skip, take) => {
                let mut left = take.unwrap_or(u64::MAX);
                reader.range(name, &range, &mut |key, value| {
                    if skip > 0 {
                        skip -= 1;
                        return Ok(ControlFlow::Continue(()));
                    }
                    left -= 1;
                    let flow = row(key, value)?;
                    Ok(if left == 0 {
                        ControlFlow::Break(())
                    } else {
                        flow
                    })
                })
            }
        }
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
    ///     .values()
    ///     .fold(0, |sum, s| Ok(sum + s.amount.to_native()))?;
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
