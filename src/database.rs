//! The engine interface: what a key-value store must offer to carry zerotable's typed tables.
//!
//! The traits speak only bytes and table names, so they are object safe and one
//! `Arc<dyn Database>` can back every table of a [`Storage`](crate::Storage). Reads hand the
//! stored bytes to a callback instead of returning them: the callback sees the engine's own
//! buffer (for redb, the page behind the access guard), which is what makes typed reads
//! zero-copy. Implement [`Database`], [`ReadTransaction`] and [`WriteTransaction`] to put
//! zerotable on another engine, and prove the implementation with the conformance suite in
//! `zerotable::testing` (feature `testing`).

use std::ops::{Bound, ControlFlow};

use crate::error::Result;

/// The callback of a range read: gets each key and value, returns whether to go on.
pub type ScanVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'a;

/// The closure of [`Database::write`]: performs a transaction's work.
pub type WriteBody<'a> = dyn FnMut(&mut dyn WriteTransaction) -> Result<()> + 'a;

/// The closure of [`Database::write_batch`]: performs the batch's writes through the writer.
pub type BatchFill<'a> = dyn FnMut(&mut dyn BatchWriter) -> Result<()> + 'a;

/// A blocking, thread-safe key-value engine holding named tables of byte keys and byte values.
///
/// # Contract
/// Every implementation must guarantee, and the conformance suite checks:
/// - **Names**: tables are independent namespaces addressed by name; a table that was never
///   written reads as empty: `get` finds nothing, `range` visits nothing, `len` is 0. Never an
///   error.
/// - **Order**: `range` visits entries in lexicographic (memcmp) order of their keys, ascending
///   or descending as asked, and stops as soon as the visitor returns [`ControlFlow::Break`].
/// - **Borrowed reads**: reads pass bytes borrowed from the engine for the duration of the
///   callback; they must not copy values into fresh allocations when the engine can avoid it.
///   A callback may panic: the panic must propagate and leave the database usable.
/// - **Atomic writes**: each auto-commit `put`, `delete` and `write_batch` is one transaction;
///   a batch or transaction whose closure fails or panics, or that is dropped uncommitted,
///   leaves no trace.
/// - **Isolation**: a [`ReadTransaction`] sees one consistent state of every table, unaffected
///   by commits made after it began; writers are serialized; a [`WriteTransaction`] sees its own
///   writes and nobody else does until it commits.
/// - **Re-entrancy**: a read callback may read or write the same database again (a write waits
///   for any other writer, so not from inside a write transaction's own callback).
///
/// The auto-commit methods have default implementations through transactions; engines override
/// them when a direct path is cheaper.
pub trait Database: Send + Sync {
    /// Starts a read-only snapshot of the whole database.
    fn begin_read(&self) -> Result<Box<dyn ReadTransaction>>;

    /// Starts a write transaction, waiting for any other writer to finish. `durability`
    /// overrides the database's default for this transaction's commit, where the engine allows.
    fn begin_write(&self, durability: Option<Durability>) -> Result<Box<dyn WriteTransaction>>;

    /// Runs `body` in one write transaction and commits it if `body` returns `Ok`; on `Err` or
    /// panic nothing is applied. The transaction must not be committed by `body` itself.
    /// Engines override this when a transaction scoped to one call is cheaper than a
    /// [`begin_write`](Self::begin_write) handle (redb keeps its table handles open for the call).
    fn write(&self, durability: Option<Durability>, body: &mut WriteBody<'_>) -> Result<()> {
        let mut txn = self.begin_write(durability)?;
        body(&mut *txn)?;
        txn.commit()
    }

    /// Names of the tables that exist (created by a write or by [`WriteTransaction::create_table`]),
    /// in ascending order.
    fn list_tables(&self) -> Result<Vec<String>>;

    /// Entry count and stored bytes of `table`.
    fn table_stats(&self, table: &str) -> Result<TableStats>;

    /// Bytes the database occupies on disk, if it lives on disk.
    fn size_on_disk(&self) -> Result<Option<u64>> {
        Ok(None)
    }

    /// Reclaims free space (redb: compaction); returns whether anything was done. Fails if
    /// transactions are open.
    fn compact(&self) -> Result<bool> {
        Ok(false)
    }

    /// Makes every commit so far durable, whatever durability it was made with.
    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Looks `key` up in `table`. If found, calls `found` exactly once with the stored bytes and
    /// returns `true`; otherwise returns `false` without calling it.
    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        self.begin_read()?.get(table, key, found)
    }

    /// Inserts or replaces the value under `key`, committing it.
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let mut txn = self.begin_write(None)?;
        txn.put(table, key, value)?;
        txn.commit()
    }

    /// Removes `key`, committing; returns whether it existed.
    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        let mut txn = self.begin_write(None)?;
        let existed = txn.delete(table, key)?;
        txn.commit()?;
        Ok(existed)
    }

    /// Runs `fill` against one write transaction on `table` and commits what it wrote, atomically.
    /// If `fill` returns an error (or panics), nothing it wrote is applied and the error is returned.
    fn write_batch(&self, table: &str, fill: &mut BatchFill<'_>) -> Result<()> {
        let mut txn = self.begin_write(None)?;
        fill(&mut TableWriter {
            txn: &mut *txn,
            table,
        })?;
        txn.commit()
    }

    /// Visits the entries of `table` within `range` in its order, from one consistent view,
    /// until `visit` breaks.
    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut ScanVisitor<'_>) -> Result<()> {
        self.begin_read()?.range(table, range, visit)
    }

    /// Number of entries in `table`.
    fn len(&self, table: &str) -> Result<u64> {
        self.begin_read()?.len(table)
    }
}

/// A consistent, read-only view of every table, as of when it began.
pub trait ReadTransaction: Send {
    /// As [`Database::get`], within this snapshot.
    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool>;

    /// As [`Database::range`], within this snapshot.
    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut ScanVisitor<'_>) -> Result<()>;

    /// As [`Database::len`], within this snapshot.
    fn len(&self, table: &str) -> Result<u64>;
}

/// A write transaction: reads see its own writes; dropping it without [`commit`] rolls it back.
///
/// [`commit`]: WriteTransaction::commit
pub trait WriteTransaction: Send {
    /// Looks `key` up, seeing this transaction's writes.
    fn get(&mut self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool>;

    /// Visits `range` of `table`, seeing this transaction's writes.
    fn range(
        &mut self,
        table: &str,
        range: &KeyRange<'_>,
        visit: &mut ScanVisitor<'_>,
    ) -> Result<()>;

    /// Number of entries, counting this transaction's writes.
    fn len(&mut self, table: &str) -> Result<u64>;

    /// Inserts or replaces `key`.
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()>;

    /// Removes `key`; returns whether it existed.
    fn delete(&mut self, table: &str, key: &[u8]) -> Result<bool>;

    /// Makes `table` exist (empty if new), so that it is listed and can be read.
    fn create_table(&mut self, table: &str) -> Result<()>;

    /// Deletes `table` and all its entries; returns whether it existed.
    fn drop_table(&mut self, table: &str) -> Result<bool>;

    /// Commits every write of this transaction atomically.
    fn commit(self: Box<Self>) -> Result<()>;
}

/// The write side of one [`Database::write_batch`] transaction, bound to its table.
pub trait BatchWriter {
    /// Inserts or replaces `key` within the batch.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Removes `key` within the batch; returns whether it existed (seeing the batch's own
    /// earlier writes).
    fn delete(&mut self, key: &[u8]) -> Result<bool>;
}

/// Adapts a [`WriteTransaction`] to a single table's [`BatchWriter`].
pub struct TableWriter<'a> {
    /// The transaction written to.
    pub txn: &'a mut dyn WriteTransaction,
    /// The table all writes go to.
    pub table: &'a str,
}

impl BatchWriter for TableWriter<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.txn.put(self.table, key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.txn.delete(self.table, key)
    }
}

/// A range of encoded keys and the direction to walk it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRange<'a> {
    /// Lower bound.
    pub start: Bound<&'a [u8]>,
    /// Upper bound.
    pub end: Bound<&'a [u8]>,
    /// Walk from the end down to the start.
    pub reverse: bool,
}

impl<'a> KeyRange<'a> {
    /// Every key, ascending.
    pub const ALL: KeyRange<'static> = KeyRange {
        start: Bound::Unbounded,
        end: Bound::Unbounded,
        reverse: false,
    };

    /// Whether no key can fall in the range (start above end, or equal with an excluded side).
    /// Engines check it first: ordered maps panic on such ranges.
    pub fn is_empty(&self) -> bool {
        match (self.start, self.end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
            _ => false,
        }
    }

    /// Whether `key` falls within the bounds.
    pub fn contains(&self, key: &[u8]) -> bool {
        let above_start = match self.start {
            Bound::Included(s) => key >= s,
            Bound::Excluded(s) => key > s,
            Bound::Unbounded => true,
        };
        let below_end = match self.end {
            Bound::Included(e) => key <= e,
            Bound::Excluded(e) => key < e,
            Bound::Unbounded => true,
        };
        above_start && below_end
    }

    /// The bounds as a tuple, which implements `RangeBounds<[u8]>`.
    pub fn bounds(&self) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
        (self.start, self.end)
    }
}

/// How hard a commit works to reach the disk before returning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit is fsynced before it returns: an acknowledged write survives power loss.
    #[default]
    Immediate,
    /// Commits are not fsynced: far faster, but a crash loses every commit since the last
    /// `Immediate` one (the file itself stays consistent).
    None,
}

/// Size figures of one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Number of entries.
    pub entries: u64,
    /// Bytes of keys and values stored (excluding the engine's own overhead).
    pub stored_bytes: u64,
}
