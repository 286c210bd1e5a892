//! Reads, written once for snapshots and write transactions, and the snapshot itself: a
//! pooled reader connection holding a read transaction.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::Statement;
use rusqlite::types::ValueRef;

use super::conn::{Conn, Op, Session, Which, bound_kind};
use super::{Shared, sql_error};
use crate::engine::{
    CallerCode, Found, KeyRange, ReadOps, ReadTxn, RunningReads, TableStats, Visit,
    catch_engine_panic,
};
use crate::error::{Operation, Result};

/// The reads of one transaction: a snapshot's (no marks) or a write transaction's (each read
/// marked as running, so that writing its table from its callback is refused with `InUse`).
#[derive(Clone, Copy)]
pub(super) struct Reads<'s, 'c> {
    pub(super) session: &'s Session<'c>,
    pub(super) marks: Option<&'s RunningReads>,
}

/// Column `index` of a row as bytes: the blob the statement holds, borrowed.
#[inline]
fn bytes<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> rusqlite::Result<&'r [u8]> {
    match row.get_ref(index)? {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Ok(bytes),
        // Not written by zerotable (NOT NULL and BLOB columns): the table was changed
        // behind its back.
        other => Err(rusqlite::Error::InvalidColumnType(
            index,
            String::new(),
            other.data_type(),
        )),
    }
}

/// Binds the bounds of `range` as `?1` (start) and `?2` (end).
fn bind_bounds(statement: &mut Statement<'_>, range: &KeyRange<'_>) -> rusqlite::Result<()> {
    if let Bound::Included(start) | Bound::Excluded(start) = range.start {
        statement.raw_bind_parameter(1, start)?;
    }
    if let Bound::Included(end) | Bound::Excluded(end) = range.end {
        statement.raw_bind_parameter(2, end)?;
    }
    Ok(())
}

/// A single integer (or two) from a one-row statement.
fn counts(statement: &mut Statement<'_>, columns: usize) -> rusqlite::Result<(i64, i64)> {
    let mut rows = statement.raw_query();
    let Some(row) = rows.next()? else {
        return Err(rusqlite::Error::QueryReturnedNoRows);
    };
    let first = row.get(0)?;
    let second = if columns > 1 { row.get(1)? } else { 0 };
    Ok((first, second))
}

impl Reads<'_, '_> {
    pub(super) fn get_in(
        self,
        table: &str,
        key: &[u8],
        caller: &CallerCode,
        found: &mut Found<'_>,
    ) -> Result<bool> {
        if !self.session.exists(table) {
            return Ok(false);
        }
        let error = sql_error(Some(table), Operation::Get);
        self.session
            .with(Which::Table(table, Op::Get), error, |statement| {
                statement.raw_bind_parameter(1, key).map_err(error)?;
                let mut rows = statement.raw_query();
                let Some(row) = rows.next().map_err(error)? else {
                    return Ok(false);
                };
                let value = bytes(row, 0).map_err(error)?;
                let _mark = self.marks.map(|marks| marks.enter(table));
                caller.run(|| found(value))?;
                Ok(true)
            })
    }

    pub(super) fn range_in(
        self,
        table: &str,
        range: &KeyRange<'_>,
        caller: &CallerCode,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        if range.is_empty() || !self.session.exists(table) {
            return Ok(());
        }
        let op = Op::Range {
            start: bound_kind(range.start),
            end: bound_kind(range.end),
            reverse: range.reverse,
        };
        let error = sql_error(Some(table), Operation::Range);
        let _mark = self.marks.map(|marks| marks.enter(table));
        self.session
            .with(Which::Table(table, op), error, |statement| {
                bind_bounds(statement, range).map_err(error)?;
                let mut rows = statement.raw_query();
                while let Some(row) = rows.next().map_err(error)? {
                    let key = bytes(row, 0).map_err(error)?;
                    let value = bytes(row, 1).map_err(error)?;
                    if caller.run(|| visit(key, value))?.is_break() {
                        break;
                    }
                }
                Ok(())
            })
    }

    pub(super) fn len_in(self, table: &str) -> Result<u64> {
        if !self.session.exists(table) {
            return Ok(0);
        }
        let error = sql_error(Some(table), Operation::Len);
        let (count, _) = self
            .session
            .with(Which::Table(table, Op::Len), error, |statement| {
                counts(statement, 1).map_err(error)
            })?;
        Ok(count.unsigned_abs())
    }

    pub(super) fn stats_in(self, table: &str) -> Result<TableStats> {
        if !self.session.exists(table) {
            return Ok(TableStats::default());
        }
        let error = sql_error(Some(table), Operation::TableStats);
        let (entries, bytes) =
            self.session
                .with(Which::Table(table, Op::Stats), error, |statement| {
                    counts(statement, 2).map_err(error)
                })?;
        Ok(TableStats {
            entries: entries.unsigned_abs(),
            stored_bytes: bytes.unsigned_abs(),
        })
    }

    pub(super) fn list(self) -> Vec<String> {
        let known = self.session.known().borrow();
        let mut names: Vec<String> = known.tables.iter().map(|name| name.to_string()).collect();
        names.sort_unstable();
        names
    }
}

impl ReadOps for Reads<'_, '_> {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        catch_engine_panic(Some(table), Operation::Get, |caller| {
            self.get_in(table, key, caller, found)
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        catch_engine_panic(Some(table), Operation::Range, |caller| {
            self.range_in(table, range, caller, visit)
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        catch_engine_panic(Some(table), Operation::Len, |_| self.len_in(table))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.list())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        catch_engine_panic(Some(table), Operation::TableStats, |_| self.stats_in(table))
    }
}

/// An auto-commit point read ([`Engine::get`](crate::engine::Engine::get)): one `SELECT` on a
/// pooled reader connection, which is its own read transaction — no `BEGIN`, no schema-cookie
/// pin, no `COMMIT` (a snapshot's read costs those three statements more).
///
/// Whether the table exists comes from the connection's cached set of tables. Where that set
/// says the table exists, the `SELECT` runs at once; if it fails, the set is refreshed and a
/// table dropped in between reads as absent. Where the set says it does not, the set is
/// refreshed first (one `PRAGMA schema_version`, and the list of tables only if it changed).
pub(super) fn get_latest(
    shared: &Arc<Shared>,
    table: &str,
    key: &[u8],
    found: &mut Found<'_>,
) -> Result<bool> {
    let conn = shared.take_reader()?;
    shared.snapshots.fetch_add(1, Ordering::SeqCst);
    let result = catch_engine_panic(Some(table), Operation::Get, |caller| {
        conn.with(|session| {
            let error = sql_error(Some(table), Operation::Get);
            if !session.exists(table) {
                session.refresh_known().map_err(error)?;
                if !session.exists(table) {
                    return Ok(false);
                }
            }
            let mut caller_failed = false;
            let reads = Reads {
                session,
                marks: None,
            };
            let outcome = reads.get_in(table, key, caller, &mut |bytes| {
                let called = found(bytes);
                caller_failed = called.is_err();
                called
            });
            match outcome {
                Err(sql) if !caller_failed => {
                    // Perhaps dropped since the set was read: absent now, or a real failure.
                    session.refresh_known().map_err(error)?;
                    if session.exists(table) {
                        Err(sql)
                    } else {
                        Ok(false)
                    }
                }
                other => other,
            }
        })
    });
    shared.snapshots.fetch_sub(1, Ordering::SeqCst);
    // Outside a transaction (every statement reset): the connection goes back to the pool.
    if conn.with(|session| session.connection().is_autocommit() && !session.is_running()) {
        shared.give_back_reader(conn);
    }
    result
}

/// A snapshot: a reader connection inside a read transaction, pinned when it began. Dropping it
/// ends the transaction and gives the connection back to the pool.
pub(super) struct Snapshot {
    conn: Option<Conn>,
    shared: Arc<Shared>,
}

impl Snapshot {
    /// Takes a reader connection and begins a read transaction on it, pinned at once (its
    /// first read, of the schema cookie, fixes the WAL snapshot it sees).
    pub(super) fn begin(shared: &Arc<Shared>) -> Result<Self> {
        let conn = shared.take_reader()?;
        let begun = catch_engine_panic(None, Operation::BeginRead, |_| {
            conn.with(|session| {
                session
                    .execute(super::conn::Fixed::Begin)
                    .and_then(|()| session.refresh_known())
                    .map_err(sql_error(None, Operation::BeginRead))
            })
        });
        if let Err(error) = begun {
            // The connection may be inside a transaction: not reused.
            drop(conn);
            return Err(error);
        }
        shared.snapshots.fetch_add(1, Ordering::SeqCst);
        Ok(Snapshot {
            conn: Some(conn),
            shared: Arc::clone(shared),
        })
    }

    /// Runs `body` with the snapshot's reads.
    #[inline]
    pub(super) fn reads<R>(&self, body: impl for<'s, 'c> FnOnce(Reads<'s, 'c>) -> R) -> R {
        let conn = self
            .conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("the connection is taken only by Drop"));
        conn.with(|session| {
            body(Reads {
                session,
                marks: None,
            })
        })
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.shared.snapshots.fetch_sub(1, Ordering::SeqCst);
        let Some(conn) = self.conn.take() else {
            return;
        };
        // A read transaction ends with COMMIT; if that fails, the connection is not reused.
        let ended = catch_engine_panic(None, Operation::BeginRead, |_| {
            Ok(conn.with(|session| {
                session.execute(super::conn::Fixed::Commit).is_ok()
                    && session.connection().is_autocommit()
            }))
        });
        if matches!(ended, Ok(true)) {
            self.shared.give_back_reader(conn);
        }
    }
}

impl ReadTxn for Snapshot {}

impl ReadOps for Snapshot {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.reads(|reads| reads.get(table, key, found))
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        self.reads(|reads| reads.range(table, range, visit))
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.reads(|reads| reads.len(table))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        self.reads(|reads| reads.list_tables())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.reads(|reads| reads.table_stats(table))
    }
}
