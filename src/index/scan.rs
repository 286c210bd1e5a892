//! [`IndexScanner`]: one ordered pass over (part of) an index, each entry joined to its row.

use std::ops::ControlFlow;

use super::Index;
use crate::codec::key::{FromKeyBytes, IntoKeyBytes};
use crate::codec::value::ValueSerializer;
use crate::engine::ReadOps;
use crate::error::Result;
use crate::scan::Bounds;
use crate::txn::Via;

/// One ordered pass over an index: entries in index-key order (then primary-key order), each
/// handed over as `(index key, primary key, view of the row)` from one snapshot.
///
/// Start one with [`Index::scan`], [`Index::range`], [`Index::prefix`] or
/// [`Index::starts_with`]; shape it with [`rev`](Self::rev), [`skip`](Self::skip) and
/// [`take`](Self::take); consume it with [`for_each`](Self::for_each), [`fold`](Self::fold),
/// [`filter_map`](Self::filter_map), [`first`](Self::first), [`count`](Self::count) or
/// [`primary_keys`](Self::primary_keys). Keys are decoded into values reused from entry to
/// entry; rows are viewed in place, validated.
pub struct IndexScanner<'s, K, IK, V: ?Sized, S> {
    index: &'s Index<K, IK, V, S>,
    via: Via<'s>,
    bounds: Bounds,
    reverse: bool,
    skip: u64,
    take: Option<u64>,
}

impl<'s, K, IK, V, S> IndexScanner<'s, K, IK, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    IK: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    pub(super) fn new(index: &'s Index<K, IK, V, S>, via: Via<'s>, bounds: Bounds) -> Self {
        IndexScanner {
            index,
            via,
            bounds,
            reverse: false,
            skip: 0,
            take: None,
        }
    }

    /// Walks the entries in descending order.
    pub fn rev(mut self) -> Self {
        self.reverse = !self.reverse;
        self
    }

    /// Passes over the first `n` entries.
    pub fn skip(mut self, n: u64) -> Self {
        self.skip = self.skip.saturating_add(n);
        self
    }

    /// Visits at most `n` entries.
    pub fn take(mut self, n: u64) -> Self {
        self.take = Some(self.take.map_or(n, |t| t.min(n)));
        self
    }

    /// Calls `body(index key, primary key, row)` for each entry; its `Err` stops the pass.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_len = t.index("by_len", |v: &[u8]| Some(v.len() as u32))?;
    /// t.put_batch([(1u64, &b"aa"[..]), (2, b"b")])?;
    /// let mut seen = Vec::new();
    /// by_len.scan().for_each(|len, id, v| {
    ///     seen.push((*len, *id, v.to_vec()));
    ///     Ok(())
    /// })?;
    /// assert_eq!(seen, [(1, 2, b"b".to_vec()), (2, 1, b"aa".to_vec())]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn for_each<F>(self, mut body: F) -> Result<()>
    where
        F: FnMut(&IK, &K, S::Output<'_>) -> Result<()>,
    {
        self.visit(|key, id, row| body(key, id, row).map(|()| ControlFlow::Continue(())))
    }

    /// Folds every entry into an accumulator.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_len = t.index("by_len", |v: &[u8]| Some(v.len() as u32))?;
    /// t.put_batch([(1u64, &b"aa"[..]), (2, b"b"), (3, b"cc")])?;
    /// assert_eq!(by_len.range(2u32..).fold(0, |sum, _, id, _| Ok(sum + id))?, 4);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn fold<A, F>(self, init: A, mut step: F) -> Result<A>
    where
        F: FnMut(A, &IK, &K, S::Output<'_>) -> Result<A>,
    {
        let mut acc = Some(init);
        self.visit(|key, id, row| {
            let current = acc.take().expect("put back after every step");
            acc = Some(step(current, key, id, row)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(acc.expect("put back after every step"))
    }

    /// Collects `map(index key, primary key, row)` of every entry for which it is `Some`.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_len = t.index("by_len", |v: &[u8]| Some(v.len() as u32))?;
    /// t.put_batch([(1u64, &b"aa"[..]), (2, b"b")])?;
    /// assert_eq!(by_len.scan().rev().filter_map(|_, id, _| Some(*id))?, [1, 2]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn filter_map<F, R>(self, mut map: F) -> Result<Vec<R>>
    where
        F: FnMut(&IK, &K, S::Output<'_>) -> Option<R>,
    {
        let mut out = Vec::new();
        self.visit(|key, id, row| {
            out.extend(map(key, id, row));
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// `read(index key, primary key, row)` of the first entry, if any.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_len = t.index("by_len", |v: &[u8]| Some(v.len() as u32))?;
    /// t.put_batch([(1u64, &b"aa"[..]), (2, b"b")])?;
    /// assert_eq!(by_len.scan().rev().first(|len, id, _| (*len, *id))?, Some((2, 1)));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn first<F, R>(self, read: F) -> Result<Option<R>>
    where
        F: FnOnce(&IK, &K, S::Output<'_>) -> R,
    {
        let mut read = Some(read);
        let mut out = None;
        self.take(1).visit(|key, id, row| {
            if let Some(read) = read.take() {
                out = Some(read(key, id, row));
            }
            Ok(ControlFlow::Break(()))
        })?;
        Ok(out)
    }

    /// Number of entries (rows are not read).
    pub fn count(self) -> Result<u64> {
        let mut n = 0;
        self.walk_entries(|_, _, _| {
            n += 1;
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(n)
    }

    /// The primary keys of the entries, in order (rows are not read).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_len = t.index("by_len", |v: &[u8]| Some(v.len() as u32))?;
    /// t.put_batch([(1u64, &b"aa"[..]), (2, b"b"), (3, b"cc")])?;
    /// assert_eq!(by_len.range(2u32..=2).primary_keys()?, [1, 3]);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn primary_keys(self) -> Result<Vec<K>> {
        let index = self.index;
        let mut key: Option<IK> = None;
        let mut out = Vec::new();
        self.walk_entries(|entry_key, value, _| {
            let (_, pk) = index.split_entry(&mut key, entry_key, value)?;
            out.push(index.table.decode_key(pk)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// Visits each entry joined to its row until `visit` breaks or fails.
    fn visit<F>(self, mut visit: F) -> Result<()>
    where
        F: FnMut(&IK, &K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        let index = self.index;
        let table = &index.table;
        let mut key: Option<IK> = None;
        let mut id: Option<K> = None;
        self.walk_entries(|entry_key, value, reader| {
            let (key, pk) = index.split_entry(&mut key, entry_key, value)?;
            let id = match &mut id {
                Some(id) => {
                    table.decode_key_into(id, pk)?;
                    id
                }
                None => id.insert(table.decode_key(pk)?),
            };
            let flow =
                table.read_row(reader, pk, |bytes| visit(key, id, table.decode(pk, bytes)?))?;
            flow.ok_or_else(|| index.dangling(pk))
        })
    }

    /// Walks the entries in range with skip and take: `row(entry key, entry value, reader)`.
    fn walk_entries<F>(self, mut row: F) -> Result<()>
    where
        F: FnMut(&[u8], &[u8], &dyn ReadOps) -> Result<ControlFlow<()>>,
    {
        let index = self.index;
        let (mut skip, mut left) = (self.skip, self.take.unwrap_or(u64::MAX));
        if left == 0 {
            return Ok(());
        }
        let range = self.bounds.range(self.reverse);
        index.table.run(self.via, |reader| {
            reader.range(index.entries(), &range, &mut |entry_key, value| {
                if skip > 0 {
                    skip -= 1;
                    return Ok(ControlFlow::Continue(()));
                }
                left -= 1;
                let flow = row(entry_key, value, reader)?;
                Ok(if left == 0 {
                    ControlFlow::Break(())
                } else {
                    flow
                })
            })
        })
    }
}

impl<K, IK, V, S> Index<K, IK, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    IK: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    /// Decodes an entry's index key into `key` (reusing it) and finds the row's primary key:
    /// the entry's value (unique index) or what follows the index key.
    pub(super) fn split_entry<'e, 'k>(
        &self,
        key: &'k mut Option<IK>,
        entry_key: &'e [u8],
        value: &'e [u8],
    ) -> Result<(&'k IK, &'e [u8])> {
        let mut rest = entry_key;
        let undecodable = |source| crate::error::Error::KeyDecode {
            table: self.entries().to_owned(),
            key: crate::error::KeyBytes(entry_key.to_vec()),
            source,
        };
        let key = match key {
            Some(key) => {
                key.read_key_part_into(&mut rest).map_err(undecodable)?;
                key
            }
            None => key.insert(IK::read_key_part(&mut rest).map_err(undecodable)?),
        };
        Ok((key, if self.record().unique { value } else { rest }))
    }
}
