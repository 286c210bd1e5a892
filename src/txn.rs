//! Transactions of the typed layer: [`WriteTx`] (atomic, read-your-writes), [`Snapshot`] (a
//! consistent read view), the [`Reader`] trait that lets table reads run in either, and
//! [`Via`]: the one read abstraction over auto-commit, snapshot and write transaction, so that
//! every table operation is written once.
//!
//! # Threads
//!
//! A [`WriteTx`] is not `Send`: it stays on the thread that began it. Engines need that (LMDB
//! and fjall write transactions are bound to their thread), and it is what lets the engine tell
//! a nested write (this thread already holds the write: an error) from a concurrent one
//! (another thread: it waits). A [`Snapshot`] is `Send`.
//!
//! One cycle stays invisible to the engine: a thread holding the write transaction that waits
//! for another thread (a scoped thread, a parallel iterator) which writes to the same storage.
//! That thread waits for the transaction, the transaction's thread waits for it: do every
//! write of a transaction on its own thread.
//!
//! ```compile_fail
//! // A write transaction cannot move to another thread.
//! let storage = zerotable::Storage::in_memory();
//! let tx = storage.begin_write().unwrap();
//! std::thread::spawn(move || tx.commit());
//! ```

use std::sync::Arc;

use crate::engine::{Engine, ReadOps, ReadTxn, WriteOptions, WriteTxn};
use crate::error::{EngineErrorKind, Error, Operation, Result};
use crate::watch::{Outbox, Pending};

/// A write transaction across any number of tables.
///
/// Get one from [`Storage::write`](crate::Storage::write) (commits when the closure returns
/// `Ok`) or [`Storage::begin_write`](crate::Storage::begin_write) (commit explicitly). Table
/// methods ending in `_in` read and write through a shared reference to it, so one table can be
/// scanned while another is written; reads see its own writes, nobody else sees them before
/// [`commit`](Self::commit). Dropping it uncommitted — including by an error return or a
/// panic — rolls everything back.
///
/// ```
/// let storage = zerotable::Storage::in_memory();
/// let orders = storage.raw_table::<u64>("orders")?;
/// let index = storage.raw_table::<(u8, u64)>("orders_by_size")?;
/// orders.put_batch((1..=3u64).map(|id| (id, vec![0u8; id as usize])))?;
///
/// let tx = storage.begin_write()?;
/// orders.scan_in(&tx).for_each(|id, bytes| index.put_in(&tx, &(bytes.len() as u8, *id), b""))?;
/// tx.commit()?;
/// assert_eq!(index.len()?, 3);
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct WriteTx<'a> {
    txn: Txn<'a>,
    /// Which engine it belongs to ([`engine_id`]).
    origin: usize,
    /// Change events of its writes, delivered once it commits.
    events: Pending,
}

/// Who ends the transaction: the `WriteTx` itself, or the `Storage::write` call lending it.
enum Txn<'a> {
    Owned(Box<dyn WriteTxn>),
    Lent(&'a dyn WriteTxn),
}

impl<'a> WriteTx<'a> {
    pub(crate) fn owned(txn: Box<dyn WriteTxn>, origin: usize) -> Self {
        WriteTx {
            txn: Txn::Owned(txn),
            origin,
            events: Pending::default(),
        }
    }

    pub(crate) fn lent(txn: &'a dyn WriteTxn, origin: usize) -> Self {
        WriteTx {
            txn: Txn::Lent(txn),
            origin,
            events: Pending::default(),
        }
    }

    /// The engine transaction and the event queue, as the typed write path takes them.
    pub(crate) fn tx(&self) -> Tx<'_> {
        Tx {
            txn: self.engine_txn(),
            events: &self.events,
        }
    }

    /// Called by the lender of a lent transaction just before committing it.
    pub(crate) fn seal(&self) -> Outbox {
        self.events.seal()
    }

    /// Commits every write atomically.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// let tx = storage.begin_write()?;
    /// t.put_in(&tx, &1, b"x")?;
    /// tx.commit()?;
    /// assert!(t.contains(&1)?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn commit(self) -> Result<()> {
        match self.txn {
            Txn::Owned(txn) => {
                let outbox = self.events.seal();
                txn.commit()?;
                outbox.deliver();
                Ok(())
            }
            // A lent transaction is handed out as `&WriteTx` inside `Storage::write`, which
            // commits it when the closure returns; nothing can move it out to reach this.
            Txn::Lent(_) => Err(Error::engine_failure(
                None,
                Operation::Commit,
                EngineErrorKind::Other,
                "this transaction commits when its Storage::write closure returns",
            )),
        }
    }

    /// Discards every write (the same as dropping the transaction).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u8>("t")?;
    /// let tx = storage.begin_write()?;
    /// t.put_in(&tx, &1, b"x")?;
    /// tx.rollback();
    /// assert!(!t.contains(&1)?);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn rollback(self) {}

    /// The engine transaction, for what the typed API does not cover.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// storage.write(|tx| {
    ///     tx.engine_txn().put("raw_table_of_my_own", b"key", b"value")?;
    ///     Ok(())
    /// })?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn engine_txn(&self) -> &dyn WriteTxn {
        match &self.txn {
            Txn::Owned(txn) => &**txn,
            Txn::Lent(txn) => *txn,
        }
    }
}

impl std::fmt::Debug for WriteTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTx").finish_non_exhaustive()
    }
}

/// A consistent read-only view of every table as of when it began; writers go on meanwhile.
///
/// Get one from [`Storage::read`](crate::Storage::read) or
/// [`Storage::snapshot`](crate::Storage::snapshot), and read through it with the tables' `_in`
/// methods. It is `Send`: a snapshot can be handed to another thread.
///
/// ```
/// let storage = zerotable::Storage::in_memory();
/// let counters = storage.raw_table::<String>("counters")?;
/// counters.put("a", b"1")?;
/// let snapshot = storage.snapshot()?;
/// counters.put("a", b"2")?;
/// assert_eq!(counters.get_in(&snapshot, "a", |v| v.to_vec())?, Some(b"1".to_vec()));
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct Snapshot {
    txn: Box<dyn ReadTxn>,
    /// Which engine it belongs to ([`engine_id`]).
    origin: usize,
}

impl Snapshot {
    pub(crate) fn new(txn: Box<dyn ReadTxn>, origin: usize) -> Self {
        Snapshot { txn, origin }
    }

    /// The engine snapshot, for what the typed API does not cover.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// storage.raw_table::<u8>("t")?.put(&1, b"x")?;
    /// let snapshot = storage.snapshot()?;
    /// assert_eq!(snapshot.engine_txn().len("t")?, 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn engine_txn(&self) -> &dyn ReadTxn {
        &*self.txn
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").finish_non_exhaustive()
    }
}

/// Where a typed read runs: a [`Snapshot`] or a [`WriteTx`] (sealed).
pub trait Reader: sealed::Sealed {}

impl Reader for Snapshot {}
impl Reader for WriteTx<'_> {}

mod sealed {
    use crate::engine::ReadOps;

    pub trait Sealed {
        fn read_ops(&self) -> &dyn ReadOps;
        fn origin(&self) -> usize;
    }

    impl Sealed for super::Snapshot {
        fn read_ops(&self) -> &dyn ReadOps {
            &*self.txn
        }
        fn origin(&self) -> usize {
            self.origin
        }
    }

    impl Sealed for super::WriteTx<'_> {
        fn read_ops(&self) -> &dyn ReadOps {
            self.engine_txn()
        }
        fn origin(&self) -> usize {
            self.origin
        }
    }
}

/// Identifies an engine (the address it is shared at), so that a table can refuse a
/// transaction or snapshot of another storage.
#[inline]
pub(crate) fn engine_id(engine: &Arc<dyn Engine>) -> usize {
    Arc::as_ptr(engine) as *const () as usize
}

/// Where one typed read runs: its own snapshot (auto-commit) or one the caller holds (with the
/// id of the engine it belongs to).
#[derive(Clone, Copy)]
pub(crate) enum Via<'a> {
    AutoCommit(&'a dyn Engine),
    In(&'a dyn ReadOps, usize),
}

impl<'a> Via<'a> {
    #[inline]
    pub(crate) fn reader<T: Reader + ?Sized>(reader: &'a T) -> Self {
        Via::In(
            sealed::Sealed::read_ops(reader),
            sealed::Sealed::origin(reader),
        )
    }

    /// The engine a held reader belongs to.
    #[inline]
    pub(crate) fn origin(self) -> Option<usize> {
        match self {
            Via::AutoCommit(_) => None,
            Via::In(_, origin) => Some(origin),
        }
    }

    /// Runs `op` on this reader (beginning and ending a snapshot for an auto-commit read).
    #[inline]
    pub(crate) fn run<R>(self, op: impl FnOnce(&dyn ReadOps) -> Result<R>) -> Result<R> {
        match self {
            Via::AutoCommit(engine) => run_read(engine, op),
            Via::In(reader, _) => op(reader),
        }
    }
}

impl WriteTx<'_> {
    /// The engine this transaction belongs to.
    pub(crate) fn origin(&self) -> usize {
        self.origin
    }
}

/// Runs `op` in one engine snapshot and returns its result.
pub(crate) fn run_read<R>(
    engine: &dyn Engine,
    op: impl FnOnce(&dyn ReadOps) -> Result<R>,
) -> Result<R> {
    // The engine's body is an object-safe `FnMut` returning `()`; `op` is `FnOnce` with a
    // result: the two `Option`s bridge them, here and in `run_write` only.
    let mut op = Some(op);
    let mut out = None;
    engine.read(&mut |reader| {
        let op = op.take().ok_or_else(|| body_twice(Operation::BeginRead))?;
        out = Some(op(reader)?);
        Ok(())
    })?;
    out.ok_or_else(|| body_not_run(Operation::BeginRead))
}

/// A write transaction as the typed write path sees it: the engine's, and the queue of the
/// change events its writes cause.
#[derive(Clone, Copy)]
pub(crate) struct Tx<'t> {
    pub(crate) txn: &'t dyn WriteTxn,
    pub(crate) events: &'t Pending,
}

/// Runs `op` in one engine write transaction, committed if it returns `Ok`; the change events
/// of its writes are delivered after the commit.
pub(crate) fn run_write_tx<R>(
    engine: &dyn Engine,
    options: WriteOptions,
    op: impl FnOnce(Tx<'_>) -> Result<R>,
) -> Result<R> {
    let events = Pending::default();
    let mut outbox = None;
    let out = run_write(engine, options, |txn| {
        let out = op(Tx {
            txn,
            events: &events,
        })?;
        outbox = Some(events.seal());
        Ok(out)
    })?;
    if let Some(outbox) = outbox {
        outbox.deliver();
    }
    Ok(out)
}

/// Runs `op` in one engine write transaction, committed if it returns `Ok`.
pub(crate) fn run_write<R>(
    engine: &dyn Engine,
    options: WriteOptions,
    op: impl FnOnce(&dyn WriteTxn) -> Result<R>,
) -> Result<R> {
    let mut op = Some(op);
    let mut out = None;
    engine.write(options, &mut |txn| {
        let op = op.take().ok_or_else(|| body_twice(Operation::Commit))?;
        out = Some(op(txn)?);
        Ok(())
    })?;
    out.ok_or_else(|| body_not_run(Operation::Commit))
}

fn body_twice(operation: Operation) -> Error {
    Error::engine_failure(
        None,
        operation,
        EngineErrorKind::Other,
        "the engine ran a transaction body twice (a broken Engine implementation)",
    )
}

fn body_not_run(operation: Operation) -> Error {
    Error::engine_failure(
        None,
        operation,
        EngineErrorKind::Other,
        "the engine did not run the transaction body (a broken Engine implementation)",
    )
}
