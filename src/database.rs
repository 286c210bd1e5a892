//! The engine interface: what a key-value store must offer to carry zerotable's typed tables.
//!
//! The trait speaks only bytes and table names, so it is object safe and one
//! `Arc<dyn Database>` can back every table of a [`Storage`](crate::Storage). Reads hand the
//! stored bytes to a callback instead of returning them: the callback sees the engine's own
//! buffer (for redb, the page behind the access guard), which is what makes typed reads
//! zero-copy. Implement it to put zerotable on another engine, and prove the implementation with
//! the conformance suite in `zerotable::testing` (feature `testing`).

use std::ops::ControlFlow;

use crate::error::Result;

/// The callback of [`Database::scan`]: gets each key and value, returns whether to go on.
pub type ScanVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'a;

/// The closure of [`Database::write_batch`]: performs the batch's writes through the writer.
pub type BatchFill<'a> = dyn FnMut(&mut dyn BatchWriter) -> Result<()> + 'a;

/// A blocking, thread-safe key-value engine holding named tables of byte keys and byte values.
///
/// # Contract
/// Every implementation must guarantee, and the conformance suite checks:
/// - **Names**: tables are independent namespaces addressed by name; a table that was never
///   written reads as empty: `get` finds nothing, `scan` visits nothing, `len` is 0. Never an error.
/// - **Order**: `scan` visits entries in ascending lexicographic (memcmp) order of their keys,
///   and stops as soon as the visitor returns [`ControlFlow::Break`].
/// - **Borrowed reads**: `get` and `scan` pass bytes borrowed from the engine for the duration
///   of the callback; they must not copy values into fresh allocations when the engine can avoid
///   it. A callback may panic: the panic must propagate and leave the database usable.
/// - **Atomic writes**: each `put` and `delete` is durable on return (subject to the engine's
///   configured durability) and atomic; `write_batch` applies all of the writer's operations or,
///   if the filling closure returns an error or panics, none of them.
/// - **Re-entrancy**: a read callback may read the same database again (nested `get`s), and
///   reads proceed while a write is in progress on another thread.
pub trait Database: Send + Sync {
    /// Looks `key` up in `table`. If found, calls `found` exactly once with the stored bytes and
    /// returns `true`; otherwise returns `false` without calling it.
    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool>;

    /// Inserts or replaces the value under `key`, committing it.
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()>;

    /// Removes `key`, committing; returns whether it existed.
    fn delete(&self, table: &str, key: &[u8]) -> Result<bool>;

    /// Runs `fill` against one write transaction on `table` and commits what it wrote, atomically.
    /// If `fill` returns an error (or panics), nothing it wrote is applied and the error is returned.
    fn write_batch(&self, table: &str, fill: &mut BatchFill<'_>) -> Result<()>;

    /// Visits every entry of `table` in ascending key order until `visit` breaks, all from one
    /// consistent view of the table.
    fn scan(&self, table: &str, visit: &mut ScanVisitor<'_>) -> Result<()>;

    /// Number of entries in `table`.
    fn len(&self, table: &str) -> Result<u64>;
}

/// The write side of one [`Database::write_batch`] transaction.
pub trait BatchWriter {
    /// Inserts or replaces `key` within the batch.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Removes `key` within the batch; returns whether it existed (seeing the batch's own
    /// earlier writes).
    fn delete(&mut self, key: &[u8]) -> Result<bool>;
}
