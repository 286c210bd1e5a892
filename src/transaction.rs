//! Typed transactions: [`WriteTx`] (atomic, read-your-writes) and [`Snapshot`] (a consistent
//! read view), and the [`Reader`] trait that lets table reads run in either.

use crate::database::{Database, KeyRange, ReadTransaction, ScanVisitor, WriteTransaction};
use crate::error::{Error, Result};

/// A write transaction across any number of tables.
///
/// Get one from [`Storage::write`](crate::Storage::write) (commits when the closure returns
/// `Ok`) or [`Storage::begin_write`](crate::Storage::begin_write) (commit explicitly). Table
/// methods ending in `_in` read and write through it; reads see its own writes, nobody else sees
/// them before [`commit`](Self::commit). Dropping it uncommitted — including by an error return
/// or a panic — rolls everything back.
pub struct WriteTx<'a> {
    txn: Txn<'a>,
}

/// Who ends the transaction: the `WriteTx` itself, or the `Storage::write` call lending it.
enum Txn<'a> {
    Owned(Box<dyn WriteTransaction>),
    Lent(&'a mut dyn WriteTransaction),
}

impl<'a> WriteTx<'a> {
    pub(crate) fn owned(txn: Box<dyn WriteTransaction>) -> Self {
        WriteTx {
            txn: Txn::Owned(txn),
        }
    }

    pub(crate) fn lent(txn: &'a mut dyn WriteTransaction) -> Self {
        WriteTx {
            txn: Txn::Lent(txn),
        }
    }

    /// Commits every write atomically.
    pub fn commit(self) -> Result<()> {
        match self.txn {
            Txn::Owned(txn) => txn.commit(),
            // A lent transaction is handed out as `&mut WriteTx` inside `Storage::write`, which
            // commits it when the closure returns; only `mem::replace` tricks reach this.
            Txn::Lent(_) => Err(Error::engine(
                "*",
                "commit",
                "this transaction commits when its Storage::write closure returns",
            )),
        }
    }

    /// Discards every write (the same as dropping the transaction).
    pub fn rollback(self) {}

    pub(crate) fn engine(&mut self) -> &mut dyn WriteTransaction {
        match &mut self.txn {
            Txn::Owned(txn) => &mut **txn,
            Txn::Lent(txn) => &mut **txn,
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
/// methods.
pub struct Snapshot {
    txn: Box<dyn ReadTransaction>,
}

impl Snapshot {
    pub(crate) fn new(txn: Box<dyn ReadTransaction>) -> Self {
        Snapshot { txn }
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
    use super::Source;

    pub trait Sealed {
        fn source(&mut self) -> Source<'_>;
    }

    impl Sealed for super::Snapshot {
        fn source(&mut self) -> Source<'_> {
            Source::Snapshot(&*self.txn)
        }
    }

    impl Sealed for super::WriteTx<'_> {
        fn source(&mut self) -> Source<'_> {
            Source::Write(self.engine())
        }
    }
}

pub(crate) use sealed::Sealed as ReaderSource;

/// The engine-level reader behind one typed read: auto-commit, snapshot or write transaction.
/// An implementation detail of [`Reader`], public only because the sealed trait names it.
#[doc(hidden)]
pub enum Source<'a> {
    /// Each read is its own transaction.
    Database(&'a dyn Database),
    /// Reads within a snapshot.
    Snapshot(&'a dyn ReadTransaction),
    /// Reads within a write transaction, seeing its writes.
    Write(&'a mut dyn WriteTransaction),
}

impl Source<'_> {
    pub(crate) fn get(
        &mut self,
        table: &str,
        key: &[u8],
        found: &mut dyn FnMut(&[u8]),
    ) -> Result<bool> {
        match self {
            Source::Database(db) => db.get(table, key, found),
            Source::Snapshot(txn) => txn.get(table, key, found),
            Source::Write(txn) => txn.get(table, key, found),
        }
    }

    pub(crate) fn range(
        &mut self,
        table: &str,
        range: &KeyRange<'_>,
        visit: &mut ScanVisitor<'_>,
    ) -> Result<()> {
        match self {
            Source::Database(db) => db.range(table, range, visit),
            Source::Snapshot(txn) => txn.range(table, range, visit),
            Source::Write(txn) => txn.range(table, range, visit),
        }
    }

    pub(crate) fn len(&mut self, table: &str) -> Result<u64> {
        match self {
            Source::Database(db) => db.len(table),
            Source::Snapshot(txn) => txn.len(table),
            Source::Write(txn) => txn.len(table),
        }
    }
}
