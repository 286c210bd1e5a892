//! Snapshots — a RocksDB snapshot with the catalog of the same moment — and the range walk
//! both snapshots and write transactions use (the latter merging their staged writes in).

use std::cmp::Ordering as KeyOrder;
use std::collections::BTreeMap;
use std::collections::btree_map;
use std::ops::{Bound, ControlFlow};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rocksdb::{
    BoundColumnFamily, DBRawIteratorWithThreadMode, ReadOptions, SnapshotWithThreadMode,
};

use super::catalog::Catalog;
use super::{Db, Shared, rocks_error};
use crate::engine::{
    CallerCode, Found, KeyRange, ReadOps, ReadTxn, TableStats, Visit, catch_engine_panic,
};
use crate::error::{Operation, Result};

/// A write transaction's staged writes to one table: a value, or `None` for a deletion.
pub(super) type Staged = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A RocksDB iterator over one column family.
pub(super) type Cursor<'d> = DBRawIteratorWithThreadMode<'d, Db>;

/// One consistent view of every table: a RocksDB snapshot and the catalog committed with it.
/// Counted in [`Shared::snapshots`] while it lives (column families of dropped tables are
/// reclaimed only when no snapshot could still read them).
pub(super) struct SnapshotParts<'a> {
    shared: &'a Shared,
    /// Read options pointing at `snapshot`, for point reads.
    options: ReadOptions,
    snapshot: SnapshotWithThreadMode<'a, Db>,
    catalog: Arc<Catalog>,
}

impl Shared {
    /// Begins a snapshot. The RocksDB snapshot and the catalog are taken under the catalog's
    /// read lock, which a commit that changes tables holds while it writes: they belong to the
    /// same moment.
    pub(super) fn begin_snapshot(&self) -> SnapshotParts<'_> {
        let catalog = self
            .catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Counted before the snapshot exists, so that a reclaim that sees no snapshot can only
        // race with snapshots of the current catalog.
        self.snapshots.fetch_add(1, Ordering::SeqCst);
        let snapshot = self.db.snapshot();
        let catalog = Arc::clone(&catalog);
        let mut options = ReadOptions::default();
        options.set_snapshot(&snapshot);
        SnapshotParts {
            shared: self,
            options,
            snapshot,
            catalog,
        }
    }
}

/// The committed catalog, with the column families it names kept from reclaim (counted as a
/// snapshot) while it lives: what a lone point read needs, without a RocksDB snapshot.
pub(super) struct PinnedCatalog<'a> {
    shared: &'a Shared,
    pub(super) catalog: Arc<Catalog>,
}

impl Shared {
    pub(super) fn pin_catalog(&self) -> PinnedCatalog<'_> {
        let catalog = self
            .catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.snapshots.fetch_add(1, Ordering::SeqCst);
        PinnedCatalog {
            shared: self,
            catalog: Arc::clone(&catalog),
        }
    }
}

impl Drop for PinnedCatalog<'_> {
    fn drop(&mut self) {
        self.shared.snapshots.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for SnapshotParts<'_> {
    fn drop(&mut self) {
        self.shared.snapshots.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<'a> SnapshotParts<'a> {
    /// The column family of `table` in this snapshot, `None` if the table does not exist.
    fn handle(
        &self,
        table: &str,
        operation: Operation,
    ) -> Result<Option<Arc<BoundColumnFamily<'a>>>> {
        match self.catalog.tables.get(table) {
            Some(entry) => self
                .shared
                .handle(Some(table), &entry.cf, operation)
                .map(Some),
            None => Ok(None),
        }
    }

    /// Read options for a walk over `range` in this snapshot.
    fn range_options(&self, range: &KeyRange<'_>) -> ReadOptions {
        let mut options = range_options(range);
        options.set_snapshot(&self.snapshot);
        options
    }

    /// Walks `range` of `table` in this snapshot.
    fn walk_table(
        &self,
        table: &str,
        range: &KeyRange<'_>,
        operation: Operation,
        caller: &CallerCode,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        let Some(handle) = self.handle(table, operation)? else {
            return Ok(());
        };
        let cursor = self
            .shared
            .db
            .raw_iterator_cf_opt(&handle, self.range_options(range));
        let at = Place { table, operation };
        walk(Some(cursor), None, range, at, caller, visit)
    }

    /// Every table in this snapshot, with its column family, for the integrity check.
    pub(super) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Reads every entry of `table` (or of the catalog, for `None`) with checksums verified,
    /// without filling the block cache.
    pub(super) fn verify(&self, table: Option<&str>) -> Result<()> {
        let mut options = ReadOptions::default();
        options.set_snapshot(&self.snapshot);
        options.set_verify_checksums(true);
        options.fill_cache(false);
        let mut cursor = match table {
            Some(table) => {
                let Some(handle) = self.handle(table, Operation::CheckIntegrity)? else {
                    return Ok(());
                };
                self.shared.db.raw_iterator_cf_opt(&handle, options)
            }
            None => self.shared.db.raw_iterator_opt(options),
        };
        cursor.seek_to_first();
        while cursor.valid() {
            cursor.next();
        }
        cursor
            .status()
            .map_err(rocks_error(table, Operation::CheckIntegrity))
    }
}

impl ReadOps for SnapshotParts<'_> {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        catch_engine_panic(Some(table), Operation::Get, |caller| {
            let Some(handle) = self.handle(table, Operation::Get)? else {
                return Ok(false);
            };
            get_pinned(
                self.shared,
                &handle,
                &self.options,
                table,
                key,
                caller,
                found,
            )
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        catch_engine_panic(Some(table), Operation::Range, |caller| {
            self.walk_table(table, range, Operation::Range, caller, visit)
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        catch_engine_panic(Some(table), Operation::Len, |caller| {
            let mut entries = 0;
            self.walk_table(
                table,
                &KeyRange::ALL,
                Operation::Len,
                caller,
                &mut |_, _| {
                    entries += 1;
                    Ok(ControlFlow::Continue(()))
                },
            )?;
            Ok(entries)
        })
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.catalog.names())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        catch_engine_panic(Some(table), Operation::TableStats, |caller| {
            let mut stats = TableStats::default();
            let all = &KeyRange::ALL;
            self.walk_table(
                table,
                all,
                Operation::TableStats,
                caller,
                &mut |key, value| {
                    stats.entries += 1;
                    stats.stored_bytes += (key.len() + value.len()) as u64;
                    Ok(ControlFlow::Continue(()))
                },
            )?;
            Ok(stats)
        })
    }
}

self_cell::self_cell!(
    /// A snapshot and the database it borrows, in one heap cell.
    struct SnapshotCell {
        owner: Arc<Shared>,
        #[covariant]
        dependent: SnapshotParts,
    }
);

/// A snapshot handed out by `begin_read`: owns a reference to the database, so it may outlive
/// the engine handle and move between threads.
pub(super) struct BoxedRead(SnapshotCell);

impl BoxedRead {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        BoxedRead(SnapshotCell::new(shared, |shared| shared.begin_snapshot()))
    }

    fn parts(&self) -> &SnapshotParts<'_> {
        self.0.borrow_dependent()
    }
}

impl ReadTxn for BoxedRead {}

impl ReadOps for BoxedRead {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.parts().get(table, key, found)
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        self.parts().range(table, range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.parts().len(table)
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        self.parts().list_tables()
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.parts().table_stats(table)
    }
}

/// Read options whose iterator bounds are `range`'s (RocksDB then stops at the bounds instead
/// of stepping over deleted entries beyond them). The walk checks the bounds itself too.
/// Looks `key` up in column family `handle` (table `table`) and hands `found` the pinned value
/// — RocksDB's own buffer, no copy; the one point read of snapshots and write transactions.
pub(super) fn get_pinned(
    shared: &Shared,
    handle: &Arc<BoundColumnFamily<'_>>,
    options: &ReadOptions,
    table: &str,
    key: &[u8],
    caller: &CallerCode,
    found: &mut Found<'_>,
) -> Result<bool> {
    let value = shared
        .db
        .get_pinned_cf_opt(handle, key, options)
        .map_err(rocks_error(Some(table), Operation::Get))?;
    match value {
        Some(value) => {
            caller.run(|| found(&value))?;
            Ok(true)
        }
        None => Ok(false),
    }
}

pub(super) fn range_options(range: &KeyRange<'_>) -> ReadOptions {
    let mut options = ReadOptions::default();
    // Lower bounds are inclusive, upper bounds exclusive: the key right after `k` is `k ++ 0`.
    match range.start {
        Bound::Included(start) => options.set_iterate_lower_bound(start),
        Bound::Excluded(start) => options.set_iterate_lower_bound([start, &[0]].concat()),
        Bound::Unbounded => {}
    }
    match range.end {
        Bound::Included(end) => options.set_iterate_upper_bound([end, &[0]].concat()),
        Bound::Excluded(end) => options.set_iterate_upper_bound(end),
        Bound::Unbounded => {}
    }
    options
}

/// Puts `cursor` on the first entry of `range` in its direction.
fn position(cursor: &mut Cursor<'_>, range: &KeyRange<'_>) {
    if range.reverse {
        match range.end {
            Bound::Included(end) | Bound::Excluded(end) => cursor.seek_for_prev(end),
            Bound::Unbounded => cursor.seek_to_last(),
        }
    } else {
        match range.start {
            Bound::Included(start) | Bound::Excluded(start) => cursor.seek(start),
            Bound::Unbounded => cursor.seek_to_first(),
        }
    }
}

/// The key under `cursor` if it is valid and within `range` (checked on both sides: the start
/// side matters after a `seek` onto an excluded start, the end side after a `seek_for_prev` onto
/// an excluded end); `None` at the end; the iterator's error if it stopped on one.
fn current<'c>(
    cursor: &'c Cursor<'_>,
    range: &KeyRange<'_>,
    at: Place<'_>,
) -> Result<Option<&'c [u8]>> {
    match cursor.key() {
        Some(key) => Ok(Some(key).filter(|key| range.contains(key))),
        None => {
            cursor
                .status()
                .map_err(rocks_error(Some(at.table), at.operation))?;
            Ok(None)
        }
    }
}

/// The table a walk reads and the operation it serves, for its errors.
#[derive(Clone, Copy)]
pub(super) struct Place<'a> {
    pub(super) table: &'a str,
    pub(super) operation: Operation,
}

/// Steps `cursor` past an entry `range` excludes at the start of the walk (an excluded bound
/// the seek landed on).
fn skip_excluded(cursor: &mut Cursor<'_>, range: &KeyRange<'_>) {
    let bound = if range.reverse {
        range.end
    } else {
        range.start
    };
    if let Bound::Excluded(bound) = bound
        && cursor.key() == Some(bound)
    {
        step(cursor, range.reverse);
    }
}

fn step(cursor: &mut Cursor<'_>, reverse: bool) {
    if reverse {
        cursor.prev();
    } else {
        cursor.next();
    }
}

/// Which side the next entry of a merged walk comes from.
enum Next {
    Stored,
    Staged,
    /// Both have the key: the staged write replaces the stored entry.
    Both,
}

/// Walks `range` over the entries of `cursor` (the stored table) with `staged` writes laid
/// over them — in the range's direction, handing each entry to `visit` until it breaks or
/// fails. Stored entries come straight from RocksDB's buffers, staged ones from the
/// transaction's own.
pub(super) fn walk(
    mut cursor: Option<Cursor<'_>>,
    mut staged: Option<btree_map::Range<'_, Vec<u8>, Option<Vec<u8>>>>,
    range: &KeyRange<'_>,
    at: Place<'_>,
    caller: &CallerCode,
    visit: &mut Visit<'_>,
) -> Result<()> {
    let reverse = range.reverse;
    if let Some(cursor) = cursor.as_mut() {
        position(cursor, range);
        skip_excluded(cursor, range);
    }
    let mut next_staged = || {
        let staged = staged.as_mut()?;
        if reverse {
            staged.next_back()
        } else {
            staged.next()
        }
    };
    let mut pending = next_staged();
    loop {
        let stored = match cursor.as_ref() {
            Some(cursor) => current(cursor, range, at)?,
            None => None,
        };
        let next = match (stored, pending) {
            (None, None) => return Ok(()),
            (Some(_), None) => Next::Stored,
            (None, Some(_)) => Next::Staged,
            (Some(stored), Some((staged, _))) => match (stored.cmp(staged.as_slice()), reverse) {
                (KeyOrder::Equal, _) => Next::Both,
                (KeyOrder::Less, false) | (KeyOrder::Greater, true) => Next::Stored,
                _ => Next::Staged,
            },
        };
        match (next, cursor.as_mut()) {
            (Next::Stored, Some(cursor)) => {
                if let Some((key, value)) = cursor.item()
                    && caller.run(|| visit(key, value))?.is_break()
                {
                    return Ok(());
                }
                step(cursor, reverse);
            }
            (next, cursor) => {
                if let (Next::Both, Some(cursor)) = (next, cursor) {
                    step(cursor, reverse);
                }
                let Some((key, value)) = pending else {
                    return Ok(());
                };
                pending = next_staged();
                if let Some(value) = value
                    && caller
                        .run(|| visit(key.as_slice(), value.as_slice()))?
                        .is_break()
                {
                    return Ok(());
                }
            }
        }
    }
}
