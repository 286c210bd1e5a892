//! Snapshots: redb read transactions, with the shared read helpers the write side uses too.

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, TableError, TableHandle};

use super::redb_error;
use super::slots::TableSlots;
use crate::engine::{
    CallerCode, Found, KeyRange, ReadOps, ReadTxn, TableStats, Visit, catch_engine_panic,
};
use crate::error::{Operation, Result};

pub(super) type Bytes = &'static [u8];

pub(super) fn definition(table: &str) -> TableDefinition<'_, Bytes, Bytes> {
    TableDefinition::new(table)
}

/// A redb read transaction with the tables it has opened. Scoped to one `Engine::read` call,
/// whose guard covers its end; [`BoxedRead`] is the one `begin_read` hands out.
pub(super) struct RedbRead {
    // Declared first: table handles close before their transaction.
    tables: TableSlots<redb::ReadOnlyTable<Bytes, Bytes>>,
    txn: redb::ReadTransaction,
}

impl RedbRead {
    pub(super) fn new(txn: redb::ReadTransaction) -> Self {
        RedbRead {
            tables: TableSlots::new(),
            txn,
        }
    }

    fn txn(&self) -> &redb::ReadTransaction {
        &self.txn
    }

    /// Runs `body` on `table` (opened at most once per snapshot); `None` if it does not exist.
    fn with_table<R>(
        &self,
        table: &str,
        operation: Operation,
        body: impl FnOnce(&redb::ReadOnlyTable<Bytes, Bytes>) -> Result<R>,
    ) -> Result<Option<R>> {
        let open = || match self.txn().open_table(definition(table)) {
            Ok(handle) => Ok(Some(handle)),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(redb_error(Some(table), operation)(e)),
        };
        self.tables.read(table, open, body)
    }
}

/// What a redb snapshot and a redb write transaction share, so that [`ReadOps`] is written
/// once for both: a guard around calls into redb, and a table's handle (never creating it).
pub(super) trait RedbReader {
    /// An open table.
    type Handle: ReadableTable<Bytes, Bytes>;

    /// Runs a call into redb under the engine panic guard.
    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R>;

    /// Runs `body` on `table`'s handle; `None` if the table does not exist.
    fn read_table<R>(
        &self,
        table: &str,
        operation: Operation,
        body: impl FnOnce(&Self::Handle) -> Result<R>,
    ) -> Result<Option<R>>;

    /// The names of the tables that exist, in any order.
    fn table_names(&self) -> Result<Vec<String>>;
}

impl RedbReader for RedbRead {
    type Handle = redb::ReadOnlyTable<Bytes, Bytes>;

    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R> {
        catch_engine_panic(table, operation, call)
    }

    fn read_table<R>(
        &self,
        table: &str,
        operation: Operation,
        body: impl FnOnce(&Self::Handle) -> Result<R>,
    ) -> Result<Option<R>> {
        self.with_table(table, operation, body)
    }

    fn table_names(&self) -> Result<Vec<String>> {
        let tables = self
            .txn()
            .list_tables()
            .map_err(redb_error(None, Operation::ListTables))?;
        Ok(tables.map(|t| t.name().to_owned()).collect())
    }
}

/// A snapshot handed out by `begin_read`: ending it is a call into redb too, guarded.
pub(super) struct BoxedRead(Option<RedbRead>);

impl BoxedRead {
    pub(super) fn new(txn: redb::ReadTransaction) -> Self {
        BoxedRead(Some(RedbRead::new(txn)))
    }

    fn inner(&self) -> &RedbRead {
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("the snapshot is taken only by Drop"))
    }
}

impl Drop for BoxedRead {
    fn drop(&mut self) {
        let snapshot = self.0.take();
        // While the thread unwinds already, nothing more may panic anyway: drop plainly.
        if std::thread::panicking() {
            return;
        }
        let _ = catch_engine_panic(None, Operation::BeginRead, |_| {
            drop(snapshot);
            Ok(())
        });
    }
}

impl ReadTxn for BoxedRead {}

impl RedbReader for BoxedRead {
    type Handle = redb::ReadOnlyTable<Bytes, Bytes>;

    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R> {
        self.inner().guard(table, operation, call)
    }

    fn read_table<R>(
        &self,
        table: &str,
        operation: Operation,
        body: impl FnOnce(&Self::Handle) -> Result<R>,
    ) -> Result<Option<R>> {
        self.inner().read_table(table, operation, body)
    }

    fn table_names(&self) -> Result<Vec<String>> {
        self.inner().table_names()
    }
}

impl<T: RedbReader> ReadOps for T {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.guard(Some(table), Operation::Get, |caller| {
            self.read_table(table, Operation::Get, |handle| {
                get_in(handle, table, key, caller, found)
            })
            .map(|found| found.unwrap_or(false))
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        self.guard(Some(table), Operation::Range, |caller| {
            self.read_table(table, Operation::Range, |handle| {
                let entries = handle
                    .range::<&[u8]>(range.bounds())
                    .map_err(redb_error(Some(table), Operation::Range))?;
                walk(entries, range.reverse, table, caller, visit)
            })
            .map(|_| ())
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.guard(Some(table), Operation::Len, |_| {
            self.read_table(table, Operation::Len, |handle| {
                handle
                    .len()
                    .map_err(redb_error(Some(table), Operation::Len))
            })
            .map(|len| len.unwrap_or(0))
        })
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        self.guard(None, Operation::ListTables, |_| {
            let mut names = self.table_names()?;
            names.sort();
            Ok(names)
        })
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.guard(Some(table), Operation::TableStats, |_| {
            self.read_table(table, Operation::TableStats, |handle| {
                stats_of(handle, table)
            })
            .map(Option::unwrap_or_default)
        })
    }
}

/// A get on any readable redb table (read-only or inside a write transaction).
#[inline]
fn get_in(
    handle: &impl ReadableTable<Bytes, Bytes>,
    table: &str,
    key: &[u8],
    caller: &CallerCode,
    found: &mut Found<'_>,
) -> Result<bool> {
    match handle
        .get(key)
        .map_err(redb_error(Some(table), Operation::Get))?
    {
        Some(guard) => {
            let value = guard.value();
            caller.run(|| found(value))?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Walks redb range `entries` in the asked direction, handing each entry to `visit`.
fn walk<'a>(
    mut entries: redb::Range<'a, Bytes, Bytes>,
    reverse: bool,
    table: &str,
    caller: &CallerCode,
    visit: &mut Visit<'_>,
) -> Result<()> {
    loop {
        let entry = if reverse {
            entries.next_back()
        } else {
            entries.next()
        };
        let Some(entry) = entry else {
            return Ok(());
        };
        let (key, value) = entry.map_err(redb_error(Some(table), Operation::Range))?;
        let (key, value) = (key.value(), value.value());
        if caller.run(|| visit(key, value))?.is_break() {
            return Ok(());
        }
    }
}

/// Entry count and stored bytes of an open table.
fn stats_of(handle: &impl ReadableTableMetadata, table: &str) -> Result<TableStats> {
    let error = || redb_error(Some(table), Operation::TableStats);
    Ok(TableStats {
        entries: handle.len().map_err(error())?,
        stored_bytes: handle.stats().map_err(error())?.stored_bytes(),
    })
}
