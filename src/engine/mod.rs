//! The engine contract: what a key-value store must offer to carry zerotable's typed tables.
//!
//! The traits speak only bytes and table names, so they are object safe and one
//! `Arc<dyn Engine>` backs every table of a [`Storage`](crate::Storage).
//!
//! - [`Engine`]: the required core is two methods, [`begin_read`](Engine::begin_read) and
//!   [`begin_write`](Engine::begin_write). Everything else is provided or optional.
//! - [`ReadOps`]: reads, written once for snapshots ([`ReadTxn`]) and write transactions
//!   ([`WriteTxn`]), all through `&self`.
//! - [`WriteTxn`]: writes, also through `&self`, so one table can be scanned while another is
//!   written in the same transaction.
//! - Optional capabilities — table administration, size on disk, compaction, flush, integrity
//!   check — are discovered through [`Engine::capabilities`]; an engine that lacks one answers
//!   its methods with [`EngineErrorKind::Unsupported`](crate::EngineErrorKind::Unsupported),
//!   never with a pretend success.
//!
//! Reads hand the stored bytes to a callback instead of returning them: the callback sees the
//! engine's own buffer (redb: the page behind the access guard), which is what makes typed reads
//! zero-copy. Callbacks return [`Result`], so a typed decode error or a caller's error stops the
//! read and comes back unchanged.
//!
//! Implement [`Engine`], [`ReadTxn`] and [`WriteTxn`] to put zerotable on another store, and
//! prove it with the conformance suite (`zerotable::testing`, feature `testing`), which checks
//! every promise written on these traits.

mod forward;
mod panic_guard;
mod running_reads;
mod types;
mod writer_gate;

use std::ops::ControlFlow;

pub(crate) use self::forward::forward_write_txn;
pub(crate) use self::panic_guard::guard_engine_call;
#[cfg(feature = "testing")]
pub(crate) use self::panic_guard::panic_message as panic_message_of;
pub use self::panic_guard::{CallerCode, catch_engine_panic};
pub use self::running_reads::{ReadMark, RunningReads};
pub use self::types::{Capabilities, Durability, Integrity, KeyRange, TableStats, WriteOptions};
pub use self::writer_gate::{WriterGate, WriterTicket};
use crate::error::{Error, Operation, Result};

/// The callback of a point read: receives the stored value's bytes.
pub type Found<'a> = dyn FnMut(&[u8]) -> Result<()> + 'a;

/// The callback of a range read: receives each key and value; returns whether to go on.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>> + 'a;

/// The body of [`Engine::read`].
pub type ReadBody<'a> = dyn FnMut(&dyn ReadOps) -> Result<()> + 'a;

/// The body of [`Engine::write`].
pub type WriteBody<'a> = dyn FnMut(&dyn WriteTxn) -> Result<()> + 'a;

/// A blocking, thread-safe key-value engine holding named tables of byte keys and byte values.
///
/// # Contract
/// Every implementation must keep these promises; the conformance suite checks each one.
/// - **Tables**: tables are independent namespaces addressed by name. A table that was never
///   written reads as empty (`get` finds nothing, `range` visits nothing, `len` is 0), never as
///   an error. A write creates its table.
/// - **Order**: `range` visits keys in lexicographic (memcmp) order, ascending or descending as
///   asked, and stops as soon as the visitor returns [`ControlFlow::Break`] or an error.
/// - **Borrowed reads**: callbacks receive bytes borrowed from the engine for the duration of
///   the call; an engine must not copy a value when it can hand out its own buffer.
/// - **Callbacks**: a callback's `Err` ends the read and is returned unchanged; a callback's
///   panic propagates unchanged and leaves the engine usable. Callbacks run with no engine lock
///   held that another reader or writer needs: they may read the same database again, and
///   write it too (a write from inside a write transaction's own callback is
///   [`NestedWrite`](crate::EngineErrorKind::NestedWrite), not a deadlock).
/// - **Atomicity**: a write transaction's writes become visible together at commit, or never;
///   a transaction dropped uncommitted — also by a panic — leaves no trace.
/// - **Isolation**: a [`ReadTxn`] sees one consistent state of every table, as of when it
///   began, unaffected by later commits. Writers are serialized (one write transaction at a
///   time; a second `begin_write` on another thread waits) or optimistic (a losing commit fails
///   with [`Conflict`](crate::EngineErrorKind::Conflict) and applies nothing). A write
///   transaction sees its own writes; nobody else sees them before the commit.
/// - **Threads**: [`ReadTxn`]s are `Send`. A [`WriteTxn`] need not be: it stays on the thread
///   that began it (LMDB and fjall require that), and the engine uses that thread to tell a
///   nested write (an error) from a concurrent one (which waits).
/// - **No panics**: no operation panics on damaged data or engine failures; they are errors
///   with a kind ([`catch_engine_panic`] turns an engine library's panic into
///   [`Corrupted`](crate::EngineErrorKind::Corrupted)).
/// - **Durability**: when [`Capabilities::persistent`] is claimed, a commit made with
///   [`Durability::Immediate`] (the default) survives a crash of the process and of the machine
///   once `commit` returns; one made with [`Durability::None`] survives a process crash only
///   after a later immediate commit, a [`flush`](Engine::flush), or a clean close (the engine
///   dropped: every commit made before is there when it is opened again).
pub trait Engine: Send + Sync + 'static {
    /// Starts a read-only snapshot of every table.
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>>;

    /// Starts a write transaction, waiting for any other writer to finish (or, for optimistic
    /// engines, without waiting). A thread that already holds the write gets
    /// [`NestedWrite`](crate::EngineErrorKind::NestedWrite).
    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>>;

    /// Runs `body` against one snapshot. The default goes through
    /// [`begin_read`](Self::begin_read); engines override it when a snapshot scoped to one call
    /// is cheaper (no boxing). The conformance suite runs every read check both ways.
    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        let txn = self.begin_read()?;
        body(&*txn)
    }

    /// Runs `body` in one write transaction and commits if it returns `Ok`; on `Err` or panic
    /// nothing is applied. The default goes through [`begin_write`](Self::begin_write); engines
    /// override it when a transaction scoped to one call is cheaper. The conformance suite runs
    /// every write check both ways.
    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        let txn = self.begin_write(options)?;
        body(&*txn)?;
        txn.commit()
    }

    /// Looks `key` up in `table` as of the latest commit, outside any snapshot: what an
    /// auto-commit `get` of a typed table runs. Same promise as [`ReadOps::get`] (`found` is
    /// called once with the stored bytes, or not at all). The default runs one
    /// [`ReadOps::get`] in [`read`](Self::read); engines override it when a single lookup needs
    /// less than a snapshot (SQLite: one statement is its own read transaction). The
    /// conformance suite checks it against snapshot reads.
    ///
    /// ```
    /// use zerotable::engine::{Engine, WriteOptions};
    /// use zerotable::engines::MemoryEngine;
    ///
    /// let engine = MemoryEngine::new();
    /// engine.write(WriteOptions::default(), &mut |txn| txn.put("t", b"k", b"v"))?;
    /// let mut seen = Vec::new();
    /// assert!(engine.get("t", b"k", &mut |bytes| Ok(seen.extend_from_slice(bytes)))?);
    /// assert!(!engine.get("t", b"other", &mut |_| Ok(()))?);
    /// assert_eq!(seen, b"v");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        let mut hit = false;
        self.read(&mut |reader| {
            hit = reader.get(table, key, found)?;
            Ok(())
        })?;
        Ok(hit)
    }

    /// The engine this one wraps, for a layer ([`crate::layers`]); `None` (the default) for an
    /// engine that stores the data itself. [`Storage::layer`](crate::Storage::layer) walks the
    /// stack through it.
    fn inner(&self) -> Option<&dyn Engine> {
        None
    }

    /// This engine as [`Any`](std::any::Any), for an engine that wants to be found by its type
    /// in a stack of layers ([`Storage::layer`](crate::Storage::layer)); `None` by default.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// A short name of the engine (`"redb"`, `"memory"`), for messages and tools.
    fn name(&self) -> &'static str;

    /// Which optional capabilities this engine offers. The default offers none; an engine that
    /// claims one must implement its methods, and one that does not must answer them with
    /// `Unsupported` (the defaults do). The suite checks both.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Bytes the database occupies on disk. Capability [`Capabilities::size_on_disk`].
    fn size_on_disk(&self) -> Result<u64> {
        Err(Error::unsupported(Operation::SizeOnDisk))
    }

    /// Reclaims free space; returns whether anything was done. Fails while transactions are
    /// open. Capability [`Capabilities::compact`].
    fn compact(&self) -> Result<bool> {
        Err(Error::unsupported(Operation::Compact))
    }

    /// Makes every commit so far durable, whatever durability it was made with. Capability
    /// [`Capabilities::flush`].
    fn flush(&self) -> Result<()> {
        Err(Error::unsupported(Operation::Flush))
    }

    /// Checks the stored structures, repairing what the engine can. Capability
    /// [`Capabilities::check_integrity`].
    fn check_integrity(&self) -> Result<Integrity> {
        Err(Error::unsupported(Operation::CheckIntegrity))
    }
}

/// Reads, shared by snapshots and write transactions (which see their own writes).
///
/// Every method takes `&self`: reads may nest (a read callback may read the same transaction
/// again, any table) and, in a write transaction, a callback may write *other* tables. Writing
/// or dropping the table a running read (a range, or a get whose callback is running) is over
/// fails with [`InUse`](crate::EngineErrorKind::InUse) — at least every write that would
/// change it; one that changes nothing (deleting an absent key, an empty range deletion,
/// creating an existing table) may succeed instead.
pub trait ReadOps {
    /// Looks `key` up in `table`. If found, calls `found` exactly once with the stored bytes
    /// and returns `true` (or `found`'s error); otherwise returns `false` without calling it.
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool>;

    /// Visits the entries of `table` within `range`, in its direction, until `visit` breaks or
    /// fails (its error is returned unchanged). An empty range (start above end) visits nothing.
    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()>;

    /// Number of entries in `table`.
    fn len(&self, table: &str) -> Result<u64>;

    /// Names of the tables that exist (created by a write or by
    /// [`WriteTxn::create_table`], not dropped), ascending. Capability
    /// [`Capabilities::table_admin`].
    fn list_tables(&self) -> Result<Vec<String>> {
        Err(Error::unsupported(Operation::ListTables))
    }

    /// Entry count and stored bytes of `table` (zero for a missing table). Capability
    /// [`Capabilities::table_admin`].
    fn table_stats(&self, table: &str) -> Result<TableStats> {
        let _ = table;
        Err(Error::unsupported(Operation::TableStats))
    }
}

/// A consistent, read-only view of every table as of when it began. Dropping it ends it.
pub trait ReadTxn: ReadOps + Send {}

/// A write transaction: its reads see its own writes; dropping it without
/// [`commit`](Self::commit) rolls it back.
pub trait WriteTxn: ReadOps {
    /// Inserts or replaces `key` in `table`, creating the table if needed.
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()>;

    /// Removes `key`; returns whether it existed (seeing this transaction's earlier writes).
    /// Deleting from a missing table does not create it.
    fn delete(&self, table: &str, key: &[u8]) -> Result<bool>;

    /// Removes every key of `table` within `range` (its direction is ignored); returns how many.
    /// The default reads keys in chunks and deletes them one by one; engines override it with
    /// a native range deletion.
    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        delete_range_by_keys(self, table, range)
    }

    /// Makes `table` exist (empty if new), so that it is listed. Capability
    /// [`Capabilities::table_admin`].
    fn create_table(&self, table: &str) -> Result<()> {
        let _ = table;
        Err(Error::unsupported(Operation::CreateTable))
    }

    /// Deletes `table` and all its entries; returns whether it existed. Capability
    /// [`Capabilities::table_admin`].
    fn drop_table(&self, table: &str) -> Result<bool> {
        let _ = table;
        Err(Error::unsupported(Operation::DropTable))
    }

    /// Commits every write atomically. On an error the outcome is as its kind says: before the
    /// commit point nothing was applied; [`CommitOutcomeUnknown`](crate::EngineErrorKind::CommitOutcomeUnknown)
    /// means it may have been.
    fn commit(self: Box<Self>) -> Result<()>;
}

/// The portable [`WriteTxn::delete_range`]: collect up to a chunk of keys, delete them, go on
/// after the last one.
pub fn delete_range_by_keys<W: WriteTxn + ?Sized>(
    txn: &W,
    table: &str,
    range: &KeyRange<'_>,
) -> Result<u64> {
    const CHUNK: usize = 1024;
    let mut removed = 0;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let start = match &after {
            Some(key) => std::ops::Bound::Excluded(key.as_slice()),
            None => range.start,
        };
        let chunk = KeyRange {
            start,
            end: range.end,
            reverse: false,
        };
        txn.range(table, &chunk, &mut |key, _| {
            keys.push(key.to_vec());
            Ok(if keys.len() == CHUNK {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        for key in &keys {
            removed += u64::from(txn.delete(table, key)?);
        }
        if keys.len() < CHUNK {
            return Ok(removed);
        }
        after = keys.pop();
    }
}
