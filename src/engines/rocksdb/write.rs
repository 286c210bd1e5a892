//! Write transactions: writes staged in memory, read back merged over the stored entries, and
//! committed as one RocksDB `WriteBatch` together with the catalog changes.
//!
//! Nothing reaches RocksDB before the commit, so dropping the transaction (uncommitted, after a
//! failed body or during a panic) is the whole rollback. Stored entries are read at their latest
//! state: writers are serialized, so nothing else changes them while the transaction is open.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::rc::Rc;
use std::sync::Arc;

use rocksdb::{ReadOptions, WriteBatch};

use super::catalog::{Catalog, TableEntry, cf_name};
use super::read::{Place, Staged, get_pinned, range_options, walk};
use super::{RocksDbEngine, Shared, rocks_error};
use crate::engine::{
    CallerCode, Durability, Found, KeyRange, ReadOps, TableStats, Visit, WriteOptions, WriteTxn,
    WriterTicket, guard_engine_call,
};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// One write transaction (scoped to an `Engine::write` call, or boxed by `begin_write`).
pub(super) struct RocksWrite {
    shared: Arc<Shared>,
    /// The committed catalog when the transaction began (it stays the committed one: writers
    /// are serialized).
    base: Arc<Catalog>,
    /// The catalog as this transaction changed it; `None` until it creates or drops a table.
    draft: RefCell<Option<Catalog>>,
    /// Tables created by this transaction: their column families have no stored entries yet
    /// (they are created at commit).
    fresh: RefCell<BTreeSet<u64>>,
    /// Staged writes per table id. Each table's map has its own cell, so a read of one table
    /// can hold it while its callback writes another.
    staged: RefCell<HashMap<u64, Rc<RefCell<Staged>>>>,
    /// Tables with a read running, which must not be written meanwhile.
    reads: crate::engine::RunningReads,
    /// Options of the reads of stored entries (their latest state).
    options: ReadOptions,
    durability: Durability,
    /// Set when RocksDB panicked inside an operation: the transaction is then not committed.
    failed: Cell<bool>,
    // Last: the next writer may begin only once everything above is gone.
    _ticket: WriterTicket,
}

fn damaged_earlier(table: Option<&str>, operation: Operation) -> Error {
    Error::engine(
        table,
        operation,
        EngineError::new(
            EngineErrorKind::Corrupted,
            "an earlier operation of this transaction failed inside RocksDB; it will be rolled \
             back",
        ),
    )
}

/// `LimitExceeded` for a key or value RocksDB cannot store.
fn check_sizes(table: &str, key: &[u8], value: &[u8]) -> Result<()> {
    let too_long = |what: &str, len: usize, max: usize| {
        Err(Error::engine(
            Some(table),
            Operation::Put,
            EngineError::new(
                EngineErrorKind::LimitExceeded,
                format!("a {what} of {len} bytes is longer than RocksDB stores ({max} bytes)"),
            ),
        ))
    };
    if key.len() > RocksDbEngine::MAX_KEY_LEN {
        return too_long("key", key.len(), RocksDbEngine::MAX_KEY_LEN);
    }
    if value.len() > RocksDbEngine::MAX_VALUE_LEN {
        return too_long("value", value.len(), RocksDbEngine::MAX_VALUE_LEN);
    }
    Ok(())
}

impl RocksWrite {
    /// Begins a transaction; the caller holds `ticket`.
    pub(super) fn new(shared: Arc<Shared>, options: WriteOptions, ticket: WriterTicket) -> Self {
        let base = shared.committed();
        let durability = options.durability.unwrap_or(shared.durability);
        RocksWrite {
            shared,
            base,
            draft: RefCell::new(None),
            fresh: RefCell::new(BTreeSet::new()),
            staged: RefCell::new(HashMap::new()),
            reads: crate::engine::RunningReads::default(),
            options: ReadOptions::default(),
            durability,
            failed: Cell::new(false),
            _ticket: ticket,
        }
    }

    /// Guards a call into RocksDB; remembers a panic inside it so that the transaction is not
    /// committed. Callbacks run through the given [`CallerCode`] and their panics pass.
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

    /// Where `table` lives as this transaction sees it; `None` if it does not exist.
    fn entry(&self, table: &str) -> Option<TableEntry> {
        let draft = self.draft.borrow();
        draft
            .as_ref()
            .unwrap_or(&*self.base)
            .tables
            .get(table)
            .cloned()
    }

    /// Runs `change` on the draft catalog (made from the committed one on first need).
    fn change_catalog<R>(&self, change: impl FnOnce(&mut Catalog) -> R) -> R {
        let mut draft = self.draft.borrow_mut();
        let draft = draft.get_or_insert_with(|| {
            let mut catalog = (*self.base).clone();
            catalog.next_id = self.shared.unused_id(&self.base);
            catalog
        });
        change(draft)
    }

    /// The table's id, creating the table (in this transaction) if it does not exist.
    fn ensure(&self, table: &str) -> u64 {
        if let Some(entry) = self.entry(table) {
            return entry.id;
        }
        let id = self.change_catalog(|catalog| {
            let id = catalog.next_id;
            catalog.next_id += 1;
            catalog.tables.insert(table.to_owned(), TableEntry::new(id));
            id
        });
        self.fresh.borrow_mut().insert(id);
        id
    }

    fn is_fresh(&self, id: u64) -> bool {
        self.fresh.borrow().contains(&id)
    }

    /// The staged writes of table `id`, if any.
    fn staged_of(&self, id: u64) -> Option<Rc<RefCell<Staged>>> {
        self.staged.borrow().get(&id).cloned()
    }

    /// The staged writes of table `id`, made if needed.
    fn staged_for(&self, id: u64) -> Rc<RefCell<Staged>> {
        Rc::clone(self.staged.borrow_mut().entry(id).or_default())
    }

    /// Whether `key` exists in the table, as this transaction sees it.
    fn contains(
        &self,
        table: &str,
        entry: &TableEntry,
        key: &[u8],
        operation: Operation,
    ) -> Result<bool> {
        if let Some(staged) = self.staged_of(entry.id)
            && let Some(value) = staged.borrow().get(key)
        {
            return Ok(value.is_some());
        }
        if self.is_fresh(entry.id) {
            return Ok(false);
        }
        let handle = self.shared.handle(Some(table), &entry.cf, operation)?;
        let value = self
            .shared
            .db
            .get_pinned_cf_opt(&handle, key, &self.options)
            .map_err(rocks_error(Some(table), operation))?;
        Ok(value.is_some())
    }

    /// Walks `range` of a table: its stored entries with this transaction's writes over them.
    fn walk_table(
        &self,
        entry: &TableEntry,
        range: &KeyRange<'_>,
        at: Place<'_>,
        caller: &CallerCode,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        let staged = self.staged_of(entry.id);
        let staged = staged.as_ref().map(|staged| staged.borrow());
        let overlay = staged
            .as_ref()
            .map(|staged| staged.range::<[u8], _>(range.bounds()));
        if self.is_fresh(entry.id) {
            return walk(None, overlay, range, at, caller, visit);
        }
        let handle = self
            .shared
            .handle(Some(at.table), &entry.cf, at.operation)?;
        let cursor = self
            .shared
            .db
            .raw_iterator_cf_opt(&handle, range_options(range));
        walk(Some(cursor), overlay, range, at, caller, visit)
    }

    /// Commits: creates the column families of new tables, then writes every staged write and
    /// the catalog changes in one batch.
    pub(super) fn commit_now(self) -> Result<()> {
        if self.failed.get() {
            return Err(damaged_earlier(None, Operation::Commit));
        }
        let draft = self.draft.take();
        // Every table with staged writes exists: dropping a table discards its staged writes.
        let staged = self.staged.take();
        if draft.is_none() && staged.values().all(|staged| staged.borrow().is_empty()) {
            return Ok(());
        }
        guard_engine_call(None, Operation::Commit, |_| {
            for id in self.fresh.borrow().iter() {
                self.shared.create_cf(*id)?;
            }
            let mut batch = WriteBatch::default();
            for (id, staged) in &staged {
                let cf = cf_name(*id);
                let handle = self.shared.handle(None, &cf, Operation::Commit)?;
                for (key, value) in staged.borrow().iter() {
                    match value {
                        Some(value) => batch.put_cf(&handle, key, value),
                        None => batch.delete_cf(&handle, key),
                    }
                }
            }
            drop(staged);
            if let Some(draft) = &draft {
                draft.write_changes(&self.base, &mut batch);
            }
            let mut options = rocksdb::WriteOptions::default();
            options.set_sync(self.durability == Durability::Immediate);
            let written = match draft {
                Some(draft) => {
                    // Snapshots begin either before this write (with the old catalog) or after
                    // the new catalog is in place.
                    let mut committed = self
                        .shared
                        .catalog
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let written = self.shared.db.write_opt(batch, &options);
                    if written.is_ok() {
                        *committed = Arc::new(draft);
                    }
                    written
                }
                None => self.shared.db.write_opt(batch, &options),
            };
            written.map_err(|error| {
                let source = EngineError::new(super::kind_of(&error), error);
                Error::engine(None, Operation::Commit, outcome_unknown(source))
            })?;
            // Dropped tables' column families go now, unless a snapshot may still read them.
            self.shared.reclaim_if_idle();
            Ok(())
        })
        .unwrap_or_else(Err)
    }
}

/// A failed batch write whose effect is unknown: RocksDB may have logged it before failing.
fn outcome_unknown(error: EngineError) -> EngineError {
    match error.kind() {
        EngineErrorKind::Io | EngineErrorKind::Corrupted | EngineErrorKind::Other => {
            error.with_kind(EngineErrorKind::CommitOutcomeUnknown)
        }
        _ => error,
    }
}

impl ReadOps for RocksWrite {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.guard(Some(table), Operation::Get, |caller| {
            let Some(entry) = self.entry(table) else {
                return Ok(false);
            };
            let _reading = self.reads.enter(table);
            if let Some(staged) = self.staged_of(entry.id) {
                let staged = staged.borrow();
                match staged.get(key) {
                    Some(Some(value)) => {
                        caller.run(|| found(value.as_slice()))?;
                        return Ok(true);
                    }
                    Some(None) => return Ok(false),
                    None => {}
                }
            }
            if self.is_fresh(entry.id) {
                return Ok(false);
            }
            let handle = self.shared.handle(Some(table), &entry.cf, Operation::Get)?;
            get_pinned(
                &self.shared,
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
        self.guard(Some(table), Operation::Range, |caller| {
            let Some(entry) = self.entry(table) else {
                return Ok(());
            };
            let _reading = self.reads.enter(table);
            let at = Place {
                table,
                operation: Operation::Range,
            };
            self.walk_table(&entry, range, at, caller, visit)
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.guard(Some(table), Operation::Len, |caller| {
            let Some(entry) = self.entry(table) else {
                return Ok(0);
            };
            let mut entries = 0;
            let at = Place {
                table,
                operation: Operation::Len,
            };
            self.walk_table(&entry, &KeyRange::ALL, at, caller, &mut |_, _| {
                entries += 1;
                Ok(ControlFlow::Continue(()))
            })?;
            Ok(entries)
        })
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        let draft = self.draft.borrow();
        Ok(draft.as_ref().unwrap_or(&*self.base).names())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.guard(Some(table), Operation::TableStats, |caller| {
            let Some(entry) = self.entry(table) else {
                return Ok(TableStats::default());
            };
            let mut stats = TableStats::default();
            let at = Place {
                table,
                operation: Operation::TableStats,
            };
            self.walk_table(&entry, &KeyRange::ALL, at, caller, &mut |key, value| {
                stats.entries += 1;
                stats.stored_bytes += (key.len() + value.len()) as u64;
                Ok(ControlFlow::Continue(()))
            })?;
            Ok(stats)
        })
    }
}

impl WriteTxn for RocksWrite {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        check_sizes(table, key, value)?;
        self.guard(Some(table), Operation::Put, |_| {
            self.reads.check_writable(table, Operation::Put)?;
            let id = self.ensure(table);
            let staged = self.staged_for(id);
            let mut staged = staged.borrow_mut();
            match staged.get_mut(key) {
                Some(slot) => *slot = Some(value.to_vec()),
                None => {
                    staged.insert(key.to_vec(), Some(value.to_vec()));
                }
            }
            Ok(())
        })
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.guard(Some(table), Operation::Delete, |_| {
            let Some(entry) = self.entry(table) else {
                return Ok(false);
            };
            self.reads.check_writable(table, Operation::Delete)?;
            let existed = self.contains(table, &entry, key, Operation::Delete)?;
            if existed {
                let staged = self.staged_for(entry.id);
                let mut staged = staged.borrow_mut();
                if self.is_fresh(entry.id) {
                    staged.remove(key);
                } else {
                    staged.insert(key.to_vec(), None);
                }
            }
            Ok(existed)
        })
    }

    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        if range.is_empty() {
            return Ok(0);
        }
        self.guard(Some(table), Operation::DeleteRange, |caller| {
            let Some(entry) = self.entry(table) else {
                return Ok(0);
            };
            self.reads.check_writable(table, Operation::DeleteRange)?;
            let mut keys = Vec::new();
            let forward = KeyRange {
                reverse: false,
                ..*range
            };
            let at = Place {
                table,
                operation: Operation::DeleteRange,
            };
            self.walk_table(&entry, &forward, at, caller, &mut |key, _| {
                keys.push(key.to_vec());
                Ok(ControlFlow::Continue(()))
            })?;
            let removed = keys.len() as u64;
            let fresh = self.is_fresh(entry.id);
            let staged = self.staged_for(entry.id);
            let mut staged = staged.borrow_mut();
            for key in keys {
                if fresh {
                    staged.remove(&key);
                } else {
                    staged.insert(key, None);
                }
            }
            Ok(removed)
        })
    }

    fn create_table(&self, table: &str) -> Result<()> {
        self.guard(Some(table), Operation::CreateTable, |_| {
            self.ensure(table);
            Ok(())
        })
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        self.guard(Some(table), Operation::DropTable, |_| {
            self.reads.check_writable(table, Operation::DropTable)?;
            let Some(entry) = self.entry(table) else {
                return Ok(false);
            };
            self.change_catalog(|catalog| catalog.tables.remove(table));
            self.staged.borrow_mut().remove(&entry.id);
            self.fresh.borrow_mut().remove(&entry.id);
            Ok(true)
        })
    }

    fn commit(self: Box<Self>) -> Result<()> {
        (*self).commit_now()
    }
}
