//! [`Values`]: a scan over values only, its keys never decoded.

use std::ops::ControlFlow;

use super::{Scanner, lost_accumulator};
use crate::codec::key::{FromKeyBytes, IntoKeyBytes};
use crate::codec::value::ValueSerializer;
use crate::error::Result;

/// A [`Scanner`] over values only, from [`Scanner::values`] or [`Table::values`]: the keys are
/// walked but not decoded, the cheapest pass when they are not needed.
///
/// [`Table::values`]: crate::Table::values
///
/// ```
/// # let storage = zerotable::Storage::in_memory();
/// let t = storage.raw_table::<u64>("t")?;
/// t.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
/// let newest = t.values().rev().take(3).filter_map(|v| Some(v[0]))?;
/// assert_eq!(newest, [9, 8, 7]);
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct Values<'s, K, V: ?Sized, S: ValueSerializer<V>> {
    scanner: Scanner<'s, K, V, S>,
}

impl<'s, K, V, S> Values<'s, K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    pub(super) fn new(scanner: Scanner<'s, K, V, S>) -> Self {
        Values { scanner }
    }

    /// As [`Scanner::rev`].
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch([(1u64, "a"), (2, "b")].map(|(k, v)| (k, v.as_bytes())))?;
    /// assert_eq!(t.values().rev().first(|v| v.to_vec())?, Some(b"b".to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn rev(self) -> Self {
        Values::new(self.scanner.rev())
    }

    /// As [`Scanner::skip`].
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch([(1u64, "a"), (2, "b")].map(|(k, v)| (k, v.as_bytes())))?;
    /// assert_eq!(t.values().skip(1).first(|v| v.to_vec())?, Some(b"b".to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn skip(self, n: u64) -> Self {
        Values::new(self.scanner.skip(n))
    }

    /// As [`Scanner::take`].
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch([(1u64, "a"), (2, "b")].map(|(k, v)| (k, v.as_bytes())))?;
    /// assert_eq!(t.values().take(1).filter_map(|v| Some(v.to_vec()))?, [b"a".to_vec()]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn take(self, n: u64) -> Self {
        Values::new(self.scanner.take(n))
    }

    /// Folds every value, in order, into an accumulator.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<String>("t")?;
    /// t.put("a", b"12")?;
    /// t.put("b", b"345")?;
    /// assert_eq!(t.values().fold(0, |n, v| Ok(n + v.len()))?, 5);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn fold<A, F>(self, init: A, mut step: F) -> Result<A>
    where
        F: FnMut(A, S::Output<'_>) -> Result<A>,
    {
        let mut acc = Some(init);
        self.scanner.visit_values(|value| {
            let current = acc.take().ok_or_else(lost_accumulator)?;
            acc = Some(step(current, value)?);
            Ok(ControlFlow::Continue(()))
        })?;
        acc.ok_or_else(lost_accumulator)
    }

    /// Calls `body` for every value, in order.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch([(1u64, "a"), (2, "b")].map(|(k, v)| (k, v.as_bytes())))?;
    /// let mut all = Vec::new();
    /// t.values().for_each(|v| {
    ///     all.extend_from_slice(v);
    ///     Ok(())
    /// })?;
    /// assert_eq!(all, b"ab");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn for_each<F>(self, mut body: F) -> Result<()>
    where
        F: FnMut(S::Output<'_>) -> Result<()>,
    {
        self.scanner.visit_values(|value| {
            body(value)?;
            Ok(ControlFlow::Continue(()))
        })
    }

    /// Calls `body` for values in order until it returns [`ControlFlow::Break`].
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// # let storage = zerotable::Storage::in_memory();
    /// let log = storage.raw_table::<u64>("log")?;
    /// log.put_batch((0..10u64).map(|i| (i, [i as u8])))?;
    /// let mut firsts = Vec::new();
    /// log.range(4u64..).values().try_for_each(|value| {
    ///     firsts.push(value[0]);
    ///     Ok(if firsts.len() == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
    /// })?;
    /// assert_eq!(firsts, [4, 5, 6]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn try_for_each<F>(self, body: F) -> Result<()>
    where
        F: FnMut(S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        self.scanner.visit_values(body)
    }

    /// Collects `map(view)` for every value where it returns `Some`, in order.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch((0..5u64).map(|i| (i, [i as u8])))?;
    /// assert_eq!(t.values().filter_map(|v| (v[0] % 2 == 1).then_some(v[0]))?, [1, 3]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn filter_map<F, R>(self, mut map: F) -> Result<Vec<R>>
    where
        F: FnMut(S::Output<'_>) -> Option<R>,
    {
        let mut found = Vec::new();
        self.scanner.visit_values(|value| {
            found.extend(map(value));
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(found)
    }

    /// `read(view)` of the first value, `None` if the scan visits none.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put_batch([(1u64, "a"), (2, "b")].map(|(k, v)| (k, v.as_bytes())))?;
    /// assert_eq!(t.range(2u64..).values().first(|v| v.to_vec())?, Some(b"b".to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn first<F, R>(self, read: F) -> Result<Option<R>>
    where
        F: FnOnce(S::Output<'_>) -> R,
    {
        let mut read = Some(read);
        let mut found = None;
        self.scanner.visit_values(|value| {
            found = read.take().map(|read| read(value));
            Ok(ControlFlow::Break(()))
        })?;
        Ok(found)
    }
}
