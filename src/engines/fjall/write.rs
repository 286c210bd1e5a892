//! Write transactions: a fjall optimistic write transaction, the catalog changes it makes, and
//! the reads running inside it.

use std::cell::{Cell, RefCell, RefMut};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, PoisonError};

use fjall::Readable;

use super::read::Source;
use super::{
    Catalog, NEXT_ID_KEY, OpenMark, Shared, Space, catalog_key, check_entry, durability_mode,
    fjall_error, keyspace_name, open_keyspace, storable, stored_slice, with_stored_bounds,
    with_stored_key,
};
use crate::engine::Durability;
use crate::engine::{
    CallerCode, KeyRange, ReadMark, RunningReads, WriteTxn, WriterTicket, guard_engine_call,
};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// A write transaction (handed out boxed by `begin_write`, or on the stack by `Engine::write`).
pub(super) struct FjallWrite {
    // Declared first: the fjall transaction ends (rolling back, unless committed) before the
    // ticket lets the next writer in.
    tx: RefCell<fjall::OptimisticWriteTx>,
    /// The committed catalog when the transaction began (writers are serialized: nobody else
    /// changes it meanwhile).
    base: Arc<Catalog>,
    /// Tables this transaction created (`Some`) or dropped (`None`).
    changes: RefCell<BTreeMap<String, Option<Arc<Space>>>>,
    next_id: Cell<u64>,
    reads: RunningReads,
    /// Set when fjall panicked inside an operation: the transaction is then rolled back.
    failed: Cell<bool>,
    open: OpenMark,
    _ticket: WriterTicket,
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

impl FjallWrite {
    pub(super) fn begin(
        shared: Arc<Shared>,
        durability: Durability,
        ticket: WriterTicket,
    ) -> Result<Self> {
        let tx = guard_engine_call(None, Operation::BeginWrite, |_| {
            shared
                .db
                .write_tx()
                .map_err(fjall_error(None, Operation::BeginWrite))
        })
        .unwrap_or_else(Err)?
        .durability(Some(durability_mode(durability)));
        let base = shared.current_catalog();
        Ok(FjallWrite {
            tx: RefCell::new(tx),
            next_id: Cell::new(base.next_id),
            base,
            changes: RefCell::default(),
            reads: RunningReads::default(),
            failed: Cell::new(false),
            open: OpenMark::new(shared),
            _ticket: ticket,
        })
    }

    fn shared(&self) -> &Shared {
        self.open.shared()
    }

    /// The fjall transaction, for a write (no borrow of it is ever held across caller code).
    fn tx_mut(
        &self,
        table: Option<&str>,
        operation: Operation,
    ) -> Result<RefMut<'_, fjall::OptimisticWriteTx>> {
        self.tx.try_borrow_mut().map_err(|_| {
            Error::engine_failure(
                table,
                operation,
                EngineErrorKind::InUse,
                "the fjall transaction is busy",
            )
        })
    }

    /// `table`'s keyspace as this transaction sees it.
    fn lookup(&self, table: &str) -> Option<Arc<Space>> {
        match self.changes.borrow().get(table) {
            Some(change) => change.clone(),
            None => self.base.tables.get(table).cloned(),
        }
    }

    /// `table`'s keyspace, creating the table (in this transaction) if it does not exist.
    fn space_for_write(&self, table: &str, operation: Operation) -> Result<Arc<Space>> {
        if let Some(space) = self.lookup(table) {
            return Ok(space);
        }
        let key = catalog_key(table);
        if key.len() > super::MAX_STORED_KEY {
            return Err(Error::engine_failure(
                Some(table),
                operation,
                EngineErrorKind::LimitExceeded,
                format!("a table name of {} bytes: at most 65,534", table.len()),
            ));
        }
        let id = self.next_id.get();
        // Outside the transaction: an unlisted keyspace is invisible, and a rolled-back
        // creation leaves it empty for the next new table to reuse.
        let keyspace = open_keyspace(&self.shared().db, &keyspace_name(id))
            .map_err(fjall_error(Some(table), operation))?;
        let catalog = &self.shared().catalog_keyspace;
        {
            let mut tx = self.tx_mut(Some(table), operation)?;
            tx.insert(catalog, key, id.to_be_bytes());
            tx.insert(catalog, NEXT_ID_KEY, (id + 1).to_be_bytes());
        }
        self.next_id.set(id + 1);
        let space = Arc::new(Space { id, keyspace });
        self.changes
            .borrow_mut()
            .insert(table.to_owned(), Some(Arc::clone(&space)));
        Ok(space)
    }

    /// Commits (or, after a panic inside fjall, rolls back).
    pub(super) fn finish(self) -> Result<()> {
        if self.failed.get() {
            return Err(damaged_earlier(None, Operation::Commit));
        }
        let changes = self.changes.into_inner();
        let tx = self.tx.into_inner();
        let shared = self.open.shared();
        if changes.is_empty() {
            return commit(tx);
        }
        let mut catalog = (*self.base).clone();
        for (table, change) in changes {
            match change {
                Some(space) => catalog.tables.insert(table, space),
                None => catalog.tables.remove(&table),
            };
        }
        catalog.next_id = self.next_id.get();
        // Held from before the commit until the new catalog is in place (see `Shared`).
        let mut current = shared
            .catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        commit(tx)?;
        *current = Arc::new(catalog);
        Ok(())
    }
}

/// Commits a fjall transaction, classifying its failure.
fn commit(tx: fjall::OptimisticWriteTx) -> Result<()> {
    let committed = guard_engine_call(None, Operation::Commit, |_| {
        tx.commit().map_err(fjall_error(None, Operation::Commit))
    });
    match committed {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(conflict))) => Err(Error::engine_failure(
            None,
            Operation::Commit,
            EngineErrorKind::Conflict,
            conflict,
        )),
        // fjall refuses a poisoned database before writing anything; any other failure (a
        // journal write or fsync) may have left the batch in the journal.
        Ok(Err(Error::Engine { source, .. })) => {
            let source = match source.kind() {
                _ if super::is_poisoned(&source) => source,
                EngineErrorKind::Io | EngineErrorKind::Corrupted | EngineErrorKind::Other => {
                    source.with_kind(EngineErrorKind::CommitOutcomeUnknown)
                }
                _ => source,
            };
            Err(Error::engine(None, Operation::Commit, source))
        }
        Ok(Err(other)) => Err(other),
        Err(Error::Engine { source, .. }) => Err(Error::engine(
            None,
            Operation::Commit,
            source.with_kind(EngineErrorKind::CommitOutcomeUnknown),
        )),
        Err(other) => Err(other),
    }
}

super::read::read_ops!(FjallWrite);

impl Source for FjallWrite {
    fn with_space<R>(&self, table: &str, body: impl FnOnce(Option<&Space>) -> R) -> R {
        let space = self.lookup(table);
        body(space.as_deref())
    }

    fn fetch(&self, keyspace: &fjall::Keyspace, key: &[u8]) -> fjall::Result<Option<fjall::Slice>> {
        self.tx.borrow().get(keyspace, key)
    }

    fn walk(
        &self,
        keyspace: &fjall::Keyspace,
        bounds: (Bound<&[u8]>, Bound<&[u8]>),
    ) -> fjall::Iter {
        self.tx.borrow().range::<&[u8], _>(keyspace, bounds)
    }

    fn names(&self) -> Vec<String> {
        let changes = self.changes.borrow();
        let mut names: Vec<String> = self
            .base
            .tables
            .keys()
            .filter(|name| !changes.contains_key(*name))
            .cloned()
            .collect();
        names.extend(
            changes
                .iter()
                .filter(|(_, change)| change.is_some())
                .map(|(name, _)| name.clone()),
        );
        names.sort();
        names
    }

    /// Remembers a panic inside fjall so the transaction is not committed. (An error fjall
    /// returns, or one a callback passes back, leaves the transaction usable.)
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

    fn reading(&self, table: &str) -> Option<ReadMark<'_>> {
        Some(self.reads.enter(table))
    }
}

impl WriteTxn for FjallWrite {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.reads.check_writable(table, Operation::Put)?;
        check_entry(table, key, Some(value))?;
        self.guard(Some(table), Operation::Put, |_| {
            let space = self.space_for_write(table, Operation::Put)?;
            let key = stored_slice(key);
            self.tx_mut(Some(table), Operation::Put)?
                .insert(&space.keyspace, key, value);
            Ok(())
        })
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.reads.check_writable(table, Operation::Delete)?;
        if !storable(key) {
            return Ok(false);
        }
        self.guard(Some(table), Operation::Delete, |_| {
            let Some(space) = self.lookup(table) else {
                return Ok(false);
            };
            let existed = with_stored_key(key, |stored| {
                self.tx.borrow().contains_key(&space.keyspace, stored)
            })
            .map_err(fjall_error(Some(table), Operation::Delete))?;
            if existed {
                self.tx_mut(Some(table), Operation::Delete)?
                    .remove(&space.keyspace, stored_slice(key));
            }
            Ok(existed)
        })
    }

    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        self.reads.check_writable(table, Operation::DeleteRange)?;
        if range.is_empty() {
            return Ok(0);
        }
        self.guard(Some(table), Operation::DeleteRange, |_| {
            let Some(space) = self.lookup(table) else {
                return Ok(0);
            };
            let entries = with_stored_bounds(range.start, range.end, |bounds| {
                bounds.map(|bounds| self.walk(&space.keyspace, bounds))
            });
            let Some(entries) = entries else {
                return Ok(0);
            };
            // Stored keys, as fjall's own slices (no copy of blocks' keys).
            let keys = entries
                .map(|entry| entry.key())
                .collect::<fjall::Result<Vec<_>>>()
                .map_err(fjall_error(Some(table), Operation::DeleteRange))?;
            let mut tx = self.tx_mut(Some(table), Operation::DeleteRange)?;
            for key in &keys {
                tx.remove(&space.keyspace, key.clone());
            }
            Ok(keys.len() as u64)
        })
    }

    fn create_table(&self, table: &str) -> Result<()> {
        self.guard(Some(table), Operation::CreateTable, |_| {
            self.space_for_write(table, Operation::CreateTable)
                .map(drop)
        })
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        self.reads.check_writable(table, Operation::DropTable)?;
        self.guard(Some(table), Operation::DropTable, |_| {
            if self.lookup(table).is_none() {
                return Ok(false);
            }
            self.tx_mut(Some(table), Operation::DropTable)?
                .remove(&self.shared().catalog_keyspace, catalog_key(table));
            self.changes.borrow_mut().insert(table.to_owned(), None);
            Ok(true)
        })
    }

    fn commit(self: Box<Self>) -> Result<()> {
        (*self).finish()
    }
}
