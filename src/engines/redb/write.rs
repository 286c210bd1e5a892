//! Write transactions: redb write transactions with the tables they have opened.
//!
//! [`RedbWriteOps`] holds the table handles of one transaction, borrowing it. A transaction
//! scoped to one [`Engine::write`](crate::Engine::write) call keeps both on the stack; one
//! handed out by `begin_write` keeps both in one heap cell ([`self_cell`]), since the handles
//! borrow the transaction they live beside.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use redb::TableHandle;

use super::read::{Bytes, RedbReader, definition};
use super::redb_error;
use super::reuse::SnapshotReuse;
use super::slots::TableSlots;
use crate::engine::WriterTicket;
use crate::engine::{
    CallerCode, KeyRange, WriteBody, WriteTxn, catch_engine_panic, guard_engine_call,
};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

type Handle<'t> = redb::Table<'t, Bytes, Bytes>;

/// The operations of one redb write transaction.
pub(super) struct RedbWriteOps<'t> {
    // Declared first: table handles close before anything else goes.
    tables: TableSlots<Handle<'t>>,
    txn: &'t redb::WriteTransaction,
    /// The tables that exist, loaded on first need: opening a table in a redb write
    /// transaction creates it, and reads and deletes must not create tables.
    known: RefCell<Option<HashSet<String>>>,
    /// Set when redb panicked inside an operation (damaged data): the transaction is then
    /// rolled back, and its handles are not closed (redb may have left its locks poisoned).
    failed: Cell<bool>,
}

fn damaged_earlier(table: Option<&str>, operation: Operation) -> Error {
    Error::engine(
        table,
        operation,
        EngineError::new(
            EngineErrorKind::Corrupted,
            "an earlier operation of this transaction met damaged data; it will be rolled back",
        ),
    )
}

impl<'t> RedbWriteOps<'t> {
    fn new(txn: &'t redb::WriteTransaction) -> Self {
        RedbWriteOps {
            tables: TableSlots::new(),
            txn,
            known: RefCell::new(None),
            failed: Cell::new(false),
        }
    }

    /// Guards a call into redb; remembers a panic inside redb so the transaction is not
    /// committed. (An error the call returns — redb's own, or one a callback passed back — does
    /// not: redb keeps its state consistent when it returns an error.)
    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R> {
        if self.failed.get() {
            return Err(damaged_earlier(table, operation));
        }
        guard_engine_call(table, operation, call).unwrap_or_else(|panic| {
            self.failed.set(true);
            Err(panic)
        })
    }

    fn exists(&self, table: &str, operation: Operation) -> Result<bool> {
        if self.tables.contains(table) {
            return Ok(true);
        }
        let mut known = self.known.borrow_mut();
        if known.is_none() {
            let tables = self
                .txn
                .list_tables()
                .map_err(redb_error(Some(table), operation))?;
            *known = Some(tables.map(|t| t.name().to_owned()).collect());
        }
        Ok(known.as_ref().is_some_and(|set| set.contains(table)))
    }

    fn mark(&self, table: &str, exists: bool) {
        if let Some(set) = self.known.borrow_mut().as_mut() {
            if exists {
                if !set.contains(table) {
                    set.insert(table.to_owned());
                }
            } else {
                set.remove(table);
            }
        }
    }

    fn open(&self, table: &str, operation: Operation) -> Result<Handle<'t>> {
        let handle = self
            .txn
            .open_table(definition(table))
            .map_err(redb_error(Some(table), operation))?;
        self.mark(table, true);
        Ok(handle)
    }

    /// Runs `body` on `table` if it exists (never creating it).
    fn read_table<R>(
        &self,
        table: &str,
        operation: Operation,
        body: impl FnOnce(&Handle<'t>) -> Result<R>,
    ) -> Result<Option<R>> {
        if !self.exists(table, operation)? {
            return Ok(None);
        }
        self.tables
            .read(table, || self.open(table, operation).map(Some), body)
    }

    /// Runs `body` on `table`, creating it if needed.
    fn write_table<R>(
        &self,
        table: &str,
        operation: Operation,
        body: impl FnOnce(&mut Handle<'t>) -> Result<R>,
    ) -> Result<R> {
        self.tables
            .write(table, operation, || self.open(table, operation), body)
    }
}

impl RedbWriteOps<'_> {
    /// Closes the table handles one at a time, each guarded, and returns whether the
    /// transaction met a panic inside redb. After such a panic redb may have poisoned the lock
    /// that closing a table takes: each close is guarded on its own, and while the thread is
    /// unwinding already (where a second panic would abort the process) the handles are left
    /// unclosed — leaking them, in that rare case, until the process ends.
    fn close_tables(&self) -> bool {
        let leave_open = self.failed.get() && std::thread::panicking();
        self.tables.drain(|handle| {
            if leave_open {
                std::mem::forget(handle);
            } else if catch_engine_panic(None, Operation::Commit, |_| {
                drop(handle);
                Ok(())
            })
            .is_err()
            {
                self.failed.set(true);
            }
        });
        self.failed.get()
    }
}

impl Drop for RedbWriteOps<'_> {
    fn drop(&mut self) {
        self.close_tables();
    }
}

impl<'t> RedbReader for RedbWriteOps<'t> {
    type Handle = Handle<'t>;

    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R> {
        RedbWriteOps::guard(self, table, operation, call)
    }

    fn read_table<R>(
        &self,
        table: &str,
        operation: Operation,
        body: impl FnOnce(&Self::Handle) -> Result<R>,
    ) -> Result<Option<R>> {
        RedbWriteOps::read_table(self, table, operation, body)
    }

    fn table_names(&self) -> Result<Vec<String>> {
        let tables = self
            .txn
            .list_tables()
            .map_err(redb_error(None, Operation::ListTables))?;
        Ok(tables.map(|t| t.name().to_owned()).collect())
    }
}

impl WriteTxn for RedbWriteOps<'_> {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.guard(Some(table), Operation::Put, |_| {
            self.write_table(table, Operation::Put, |handle| {
                handle
                    .insert(key, value)
                    .map_err(redb_error(Some(table), Operation::Put))?;
                Ok(())
            })
        })
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.guard(Some(table), Operation::Delete, |_| {
            if !self.exists(table, Operation::Delete)? {
                return Ok(false);
            }
            self.write_table(table, Operation::Delete, |handle| {
                let removed = handle
                    .remove(key)
                    .map_err(redb_error(Some(table), Operation::Delete))?;
                Ok(removed.is_some())
            })
        })
    }

    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        if range.is_empty() {
            return Ok(0);
        }
        self.guard(Some(table), Operation::DeleteRange, |_| {
            if !self.exists(table, Operation::DeleteRange)? {
                return Ok(0);
            }
            self.write_table(table, Operation::DeleteRange, |handle| {
                let mut removed = 0;
                handle
                    .retain_in::<&[u8], _>(range.bounds(), |_, _| {
                        removed += 1;
                        false
                    })
                    .map_err(redb_error(Some(table), Operation::DeleteRange))?;
                Ok(removed)
            })
        })
    }

    fn create_table(&self, table: &str) -> Result<()> {
        self.guard(Some(table), Operation::CreateTable, |_| {
            self.write_table(table, Operation::CreateTable, |_| Ok(()))
        })
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        self.guard(Some(table), Operation::DropTable, |_| {
            // redb refuses to delete an open table.
            self.tables.close(table, Operation::DropTable)?;
            let existed = self
                .txn
                .delete_table(definition(table))
                .map_err(redb_error(Some(table), Operation::DropTable))?;
            self.mark(table, false);
            Ok(existed)
        })
    }

    fn commit(self: Box<Self>) -> Result<()> {
        // Only reachable through `&dyn WriteTxn`'s owner, which is `run_scoped`: it commits.
        Err(Error::engine_failure(
            None,
            Operation::Commit,
            EngineErrorKind::Other,
            "a scoped write transaction commits when its Engine::write call returns",
        ))
    }
}

/// Ends `txn` after its body ran: commits on success, rolls back otherwise. The commit is marked
/// in flight in `reuse` while redb applies it, and outdates the kept snapshots before this
/// returns (see `reuse.rs`).
fn finish(
    txn: redb::WriteTransaction,
    outcome: Result<()>,
    failed: bool,
    reuse: &SnapshotReuse,
) -> Result<()> {
    let outcome = outcome.and_then(|()| match failed {
        true => Err(damaged_earlier(None, Operation::Commit)),
        false => Ok(()),
    });
    if let Err(error) = outcome {
        rollback(txn);
        return Err(error);
    }
    // The commit writes and fsyncs: a failure there, or a panic inside redb, may or may not
    // have reached the disk. A transaction redb had poisoned earlier was rolled back.
    let unknown = |error: EngineError| match error.kind() {
        EngineErrorKind::Io | EngineErrorKind::Corrupted | EngineErrorKind::Other => {
            error.with_kind(EngineErrorKind::CommitOutcomeUnknown)
        }
        _ => error,
    };
    let committed = {
        // From before redb applies the commit (a transaction begun from here on may see it)
        // until after: meanwhile no auto-commit read uses a kept, possibly older, snapshot.
        let _committing = reuse.committing();
        guard_engine_call(None, Operation::Commit, |_| {
            txn.commit()
                .map_err(super::redb_error(None, Operation::Commit))
        })
    };
    match committed.unwrap_or_else(Err) {
        Ok(()) => Ok(()),
        Err(Error::Engine { source, .. }) => {
            Err(Error::engine(None, Operation::Commit, unknown(source)))
        }
        Err(other) => Err(other),
    }
}

/// Rolls `txn` back (guarded: dropping an uncommitted redb transaction writes too).
fn rollback(txn: redb::WriteTransaction) {
    let _ = catch_engine_panic(None, Operation::Commit, |_| {
        drop(txn);
        Ok(())
    });
}

/// Closes the handles of `ops` and returns whether the transaction met damaged data.
fn close(ops: RedbWriteOps<'_>) -> bool {
    ops.close_tables()
}

/// Runs `body` in `txn`, both on the stack, and commits if it succeeds. A panic of the caller's
/// code in `body` rolls the transaction back before it continues (so redb need not repair
/// anything after an unwinding transaction).
pub(super) fn run_scoped(
    txn: redb::WriteTransaction,
    body: &mut WriteBody<'_>,
    reuse: &SnapshotReuse,
) -> Result<()> {
    let ops = RedbWriteOps::new(&txn);
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&ops)));
    let failed = close(ops);
    match outcome {
        Ok(outcome) => finish(txn, outcome, failed, reuse),
        Err(panic) => {
            rollback(txn);
            resume_unwind(panic)
        }
    }
}

self_cell::self_cell!(
    /// A redb write transaction and its open tables, in one heap cell.
    struct OwnedWrite {
        owner: redb::WriteTransaction,
        #[not_covariant]
        dependent: RedbWriteOps,
    }
);

/// A redb write transaction handed out by `begin_write`.
pub(super) struct RedbWrite {
    // Declared first so it ends (rolling back) before the ticket lets the next writer in.
    cell: Option<OwnedWrite>,
    /// Told of the commit, so that auto-commit reads stop reusing older snapshots.
    reuse: Arc<SnapshotReuse>,
    _ticket: WriterTicket,
}

impl RedbWrite {
    pub(super) fn new(
        txn: redb::WriteTransaction,
        ticket: WriterTicket,
        reuse: Arc<SnapshotReuse>,
    ) -> Self {
        RedbWrite {
            cell: Some(OwnedWrite::new(txn, |txn| RedbWriteOps::new(txn))),
            reuse,
            _ticket: ticket,
        }
    }

    fn ops<R>(&self, call: impl FnOnce(&RedbWriteOps<'_>) -> Result<R>) -> Result<R> {
        match &self.cell {
            Some(cell) => cell.with_dependent(|_, ops| call(ops)),
            None => Err(Error::engine(
                None,
                Operation::Commit,
                EngineError::of_kind(EngineErrorKind::Closed),
            )),
        }
    }
}

impl Drop for RedbWrite {
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            // Rolls back; guarded like every call into redb.
            let _ = catch_engine_panic(None, Operation::Commit, |_| {
                drop(cell);
                Ok(())
            });
        }
    }
}

crate::engine::forward_write_txn!(
    RedbWrite,
    ops,
    fn commit(mut self: Box<Self>) -> Result<()> {
        let Some(cell) = self.cell.take() else {
            return Err(Error::engine(
                None,
                Operation::Commit,
                EngineError::of_kind(EngineErrorKind::Closed),
            ));
        };
        let failed = cell.with_dependent(|_, ops| ops.close_tables());
        finish(cell.into_owner(), Ok(()), failed, &self.reuse)
    }
);
