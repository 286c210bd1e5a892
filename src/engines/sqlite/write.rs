//! Write transactions: the writer connection inside `BEGIN IMMEDIATE`, with what the
//! transaction tracks besides SQLite — its running reads (for `InUse`), the tables it dropped
//! while a read was running, whether it changed the schema, whether SQLite's library panicked.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::conn::{Conn, Fixed, Op, Session, Which, bound_kind, ident};
use super::read::Reads;
use super::{MAX_LENGTH, Shared, sql_error};
use crate::engine::{
    CallerCode, Durability, Found, KeyRange, ReadOps, RunningReads, TableStats, Visit, WriteBody,
    WriteTxn, WriterTicket, guard_engine_call,
};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// What one write transaction tracks besides SQLite's own state.
#[derive(Default)]
pub(super) struct TxnState {
    reads: RunningReads,
    /// Tables dropped while a statement of the connection was running (SQLite refuses `DROP
    /// TABLE` then): emptied at once, dropped at commit unless written again.
    pending_drops: RefCell<Vec<Box<str>>>,
    /// The transaction created or dropped a table.
    schema_changed: Cell<bool>,
    /// SQLite's library panicked inside an operation: the transaction is rolled back.
    failed: Cell<bool>,
}

fn damaged_earlier(table: Option<&str>, operation: Operation) -> Error {
    Error::engine(
        table,
        operation,
        EngineError::new(
            EngineErrorKind::Corrupted,
            "an earlier operation of this transaction failed inside SQLite; it will be rolled back",
        ),
    )
}

/// Begins a write transaction on `conn`: `synchronous` as `durability` asks (set only when it
/// changes, outside the transaction), `BEGIN IMMEDIATE` (the write lock at once: another
/// process's writer makes it wait up to the busy timeout), then the schema cookie.
pub(super) fn begin(conn: &Conn, durability: Durability) -> Result<()> {
    let error = sql_error(None, Operation::BeginWrite);
    guard_engine_call(None, Operation::BeginWrite, |_| {
        conn.with(|session| {
            session
                .set_synchronous_full(durability == Durability::Immediate)
                .map_err(error)?;
            session.execute(Fixed::BeginImmediate).map_err(error)?;
            if let Err(e) = session.refresh_known() {
                let _ = session.execute(Fixed::Rollback);
                return Err(error(e));
            }
            Ok(())
        })
    })
    .unwrap_or_else(Err)
}

/// The operations of one write transaction over its connection's session.
pub(super) struct Writes<'s, 'c> {
    session: &'s Session<'c>,
    state: &'s TxnState,
}

impl<'s, 'c> Writes<'s, 'c> {
    pub(super) fn new(session: &'s Session<'c>, state: &'s TxnState) -> Self {
        Writes { session, state }
    }

    fn reads(&self) -> Reads<'s, 'c> {
        Reads {
            session: self.session,
            marks: Some(&self.state.reads),
        }
    }

    /// Guards a call into rusqlite; a panic there fails the transaction.
    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R> {
        if self.state.failed.get() {
            return Err(damaged_earlier(table, operation));
        }
        guard_engine_call(table, operation, call).unwrap_or_else(|panic| {
            self.state.failed.set(true);
            Err(panic)
        })
    }

    /// Makes `table` exist: created, or kept after a deferred drop (it is empty then).
    fn ensure_table(&self, table: &str, operation: Operation) -> Result<()> {
        if self.session.exists(table) {
            return Ok(());
        }
        let mut pending = self.state.pending_drops.borrow_mut();
        if let Some(at) = pending.iter().position(|name| **name == *table) {
            pending.swap_remove(at);
        } else {
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {} (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) \
                 WITHOUT ROWID",
                ident(table)
            );
            self.session
                .connection()
                .execute_batch(&sql)
                .map_err(sql_error(Some(table), operation))?;
        }
        self.state.schema_changed.set(true);
        self.session
            .known()
            .borrow_mut()
            .tables
            .insert(table.into());
        Ok(())
    }

    /// Executes table statement `op` with `key` (and `value`) bound; the number of rows changed.
    fn execute(
        &self,
        table: &str,
        operation: Operation,
        op: Op,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<usize> {
        let error = sql_error(Some(table), operation);
        self.session
            .with(Which::Table(table, op), error, |statement| {
                statement.raw_bind_parameter(1, key).map_err(error)?;
                if let Some(value) = value {
                    statement.raw_bind_parameter(2, value).map_err(error)?;
                }
                let changed = statement.raw_execute();
                if value.is_some() {
                    // Let go of SQLite's copy of the value.
                    statement.clear_bindings();
                }
                changed.map_err(error)
            })
    }

    /// Ends the transaction: the deferred drops, then `COMMIT`. On an error the transaction is
    /// rolled back (by SQLite, or here).
    pub(super) fn commit(&self) -> Result<()> {
        if self.state.failed.get() {
            return Err(damaged_earlier(None, Operation::Commit));
        }
        let error = sql_error(None, Operation::Commit);
        let pending = std::mem::take(&mut *self.state.pending_drops.borrow_mut());
        for table in pending {
            let sql = format!("DROP TABLE IF EXISTS {}", ident(&table));
            self.session
                .connection()
                .execute_batch(&sql)
                .map_err(error)?;
            self.session.forget(&table);
        }
        let version = match self.state.schema_changed.get() {
            true => Some(self.session.schema_version().map_err(error)?),
            false => None,
        };
        if let Err(e) = self.session.execute(Fixed::Commit) {
            let e = error(e);
            // The commit writes (and may fsync) the WAL: a failure there may or may not have
            // reached the disk.
            return Err(match e {
                Error::Engine {
                    table,
                    operation,
                    source,
                } if matches!(
                    source.kind(),
                    EngineErrorKind::Io | EngineErrorKind::Corrupted | EngineErrorKind::Other
                ) =>
                {
                    Error::Engine {
                        table,
                        operation,
                        source: source.with_kind(EngineErrorKind::CommitOutcomeUnknown),
                    }
                }
                other => other,
            });
        }
        if let Some(version) = version {
            self.session.known().borrow_mut().version = Some(version);
        }
        Ok(())
    }

    /// Ends the transaction: commits it if `commit` (see [`commit`](Self::commit)), else — or
    /// if the commit failed — rolls it back. Returns the outcome and whether the connection is
    /// out of any transaction, fit to be used again.
    pub(super) fn finish(&self, commit: bool) -> (Result<()>, bool) {
        let result = match commit {
            true => {
                guard_engine_call(None, Operation::Commit, |_| self.commit()).unwrap_or_else(Err)
            }
            false => Ok(()),
        };
        let connection = self.session.connection();
        if !(commit && result.is_ok()) {
            if !connection.is_autocommit() {
                let _ = self.session.execute(Fixed::Rollback);
            }
            if self.state.schema_changed.get() || self.state.failed.get() {
                // The set of tables was changed for this transaction: read it again next time.
                self.session.known().borrow_mut().version = None;
            }
        }
        (result, connection.is_autocommit())
    }
}

impl ReadOps for Writes<'_, '_> {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.guard(Some(table), Operation::Get, |caller| {
            self.reads().get_in(table, key, caller, found)
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        self.guard(Some(table), Operation::Range, |caller| {
            self.reads().range_in(table, range, caller, visit)
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.guard(Some(table), Operation::Len, |_| self.reads().len_in(table))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.reads().list())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.guard(Some(table), Operation::TableStats, |_| {
            self.reads().stats_in(table)
        })
    }
}

impl WriteTxn for Writes<'_, '_> {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.guard(Some(table), Operation::Put, |_| {
            self.state.reads.check_writable(table, Operation::Put)?;
            check_size(table, key, value)?;
            self.ensure_table(table, Operation::Put)?;
            self.execute(table, Operation::Put, Op::Put, key, Some(value))?;
            Ok(())
        })
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.guard(Some(table), Operation::Delete, |_| {
            self.state.reads.check_writable(table, Operation::Delete)?;
            if !self.session.exists(table) {
                return Ok(false);
            }
            let removed = self.execute(table, Operation::Delete, Op::Delete, key, None)?;
            Ok(removed > 0)
        })
    }

    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        if range.is_empty() {
            return Ok(0);
        }
        self.guard(Some(table), Operation::DeleteRange, |_| {
            self.state
                .reads
                .check_writable(table, Operation::DeleteRange)?;
            if !self.session.exists(table) {
                return Ok(0);
            }
            let op = Op::DeleteRange {
                start: bound_kind(range.start),
                end: bound_kind(range.end),
            };
            let error = sql_error(Some(table), Operation::DeleteRange);
            let removed = self
                .session
                .with(Which::Table(table, op), error, |statement| {
                    if let std::ops::Bound::Included(start) | std::ops::Bound::Excluded(start) =
                        range.start
                    {
                        statement.raw_bind_parameter(1, start).map_err(error)?;
                    }
                    if let std::ops::Bound::Included(end) | std::ops::Bound::Excluded(end) =
                        range.end
                    {
                        statement.raw_bind_parameter(2, end).map_err(error)?;
                    }
                    statement.raw_execute().map_err(error)
                })?;
            Ok(removed as u64)
        })
    }

    fn create_table(&self, table: &str) -> Result<()> {
        self.guard(Some(table), Operation::CreateTable, |_| {
            self.ensure_table(table, Operation::CreateTable)
        })
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        self.guard(Some(table), Operation::DropTable, |_| {
            self.state
                .reads
                .check_writable(table, Operation::DropTable)?;
            if !self.session.exists(table) {
                return Ok(false);
            }
            let error = sql_error(Some(table), Operation::DropTable);
            let connection = self.session.connection();
            if self.session.is_running() {
                // SQLite refuses DROP TABLE while a statement of the connection runs (a read
                // of another table, whose callback is here): empty it now, drop it at commit.
                let sql = format!("DELETE FROM {}", ident(table));
                connection.execute_batch(&sql).map_err(error)?;
                self.state.pending_drops.borrow_mut().push(table.into());
            } else {
                let sql = format!("DROP TABLE IF EXISTS {}", ident(table));
                connection.execute_batch(&sql).map_err(error)?;
                self.session.forget(table);
            }
            self.state.schema_changed.set(true);
            self.session.known().borrow_mut().tables.remove(table);
            Ok(true)
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

/// A key and value too long for one SQLite row: [`LimitExceeded`](EngineErrorKind::LimitExceeded)
/// before SQLite copies them.
fn check_size(table: &str, key: &[u8], value: &[u8]) -> Result<()> {
    let total = key.len().saturating_add(value.len());
    if total > MAX_LENGTH {
        return Err(Error::engine(
            Some(table),
            Operation::Put,
            EngineError::new(
                EngineErrorKind::LimitExceeded,
                format!(
                    "a key of {} bytes and a value of {} bytes make a row of {total} bytes; \
                     SQLite holds at most {MAX_LENGTH} bytes per row (SQLITE_MAX_LENGTH)",
                    key.len(),
                    value.len()
                ),
            ),
        ));
    }
    Ok(())
}

/// How a scoped write transaction ended: its outcome (or the panic of its body, to resume once
/// the connection is back) and whether its connection can be used again.
pub(super) struct Ended {
    pub(super) outcome: std::thread::Result<Result<()>>,
    pub(super) reusable: bool,
}

/// Runs `body` in the write transaction begun on `conn` and commits it if `body` succeeds; on
/// an error or a panic it is rolled back.
pub(super) fn run_scoped(conn: &Conn, body: &mut WriteBody<'_>) -> Ended {
    conn.with(|session| {
        let state = TxnState::default();
        let writes = Writes::new(session, &state);
        match catch_unwind(AssertUnwindSafe(|| body(&writes))) {
            Ok(Ok(())) => {
                let (result, reusable) = writes.finish(true);
                Ended {
                    outcome: Ok(result),
                    reusable,
                }
            }
            Ok(Err(error)) => Ended {
                outcome: Ok(Err(error)),
                reusable: writes.finish(false).1,
            },
            Err(panic) => {
                let rolled_back =
                    guard_engine_call(None, Operation::Commit, |_| Ok(writes.finish(false).1));
                Ended {
                    outcome: Err(panic),
                    reusable: matches!(rolled_back, Ok(Ok(true))),
                }
            }
        }
    })
}

/// A write transaction handed out by `begin_write`.
pub(super) struct SqliteWrite {
    conn: Option<Conn>,
    state: TxnState,
    shared: Arc<Shared>,
    // Last: the next writer gets in only once the connection is back.
    _ticket: WriterTicket,
}

impl SqliteWrite {
    pub(super) fn new(conn: Conn, shared: Arc<Shared>, ticket: WriterTicket) -> Self {
        SqliteWrite {
            conn: Some(conn),
            state: TxnState::default(),
            shared,
            _ticket: ticket,
        }
    }

    fn writes<R>(&self, body: impl for<'s, 'c> FnOnce(Writes<'s, 'c>) -> Result<R>) -> Result<R> {
        match &self.conn {
            Some(conn) => conn.with(|session| body(Writes::new(session, &self.state))),
            None => Err(Error::engine(
                None,
                Operation::Commit,
                EngineError::of_kind(EngineErrorKind::Closed),
            )),
        }
    }

    /// Rolls back (if still open) and gives the connection back.
    fn end(&mut self, commit: bool) -> Result<()> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        let state = &self.state;
        let ended = guard_engine_call(None, Operation::Commit, |_| {
            Ok(conn.with(|session| Writes::new(session, state).finish(commit)))
        });
        let (result, reusable) = match ended {
            Ok(Ok(ended)) => ended,
            Ok(Err(error)) | Err(error) => (Err(error), false),
        };
        if reusable {
            self.shared.give_back_writer(conn);
        }
        result
    }
}

impl Drop for SqliteWrite {
    fn drop(&mut self) {
        let _ = self.end(false);
    }
}

crate::engine::forward_write_txn!(
    SqliteWrite,
    writes,
    fn commit(mut self: Box<Self>) -> Result<()> {
        if self.conn.is_none() {
            return Err(Error::engine(
                None,
                Operation::Commit,
                EngineError::of_kind(EngineErrorKind::Closed),
            ));
        }
        self.end(true)
    }
);
