//! Write transactions: an LMDB write transaction, the handles it opened, and what it read.
//!
//! [`WriteOps`] borrows the environment. A transaction scoped to one
//! [`Engine::write`](crate::Engine::write) call keeps it on the stack; one handed out by
//! `begin_write` keeps it in one heap cell with an `Arc` of the engine's shared state
//! ([`self_cell`]).
//!
//! heed reads through `&RoTxn` and writes through `&mut RwTxn`, while zerotable's
//! [`WriteTxn`] does both through `&self`, also from inside a read callback of the same
//! transaction (a range over one table writing another). The transaction therefore sits in an
//! [`UnsafeCell`]: see [`WriteOps::ro`] and [`WriteOps::with_rw`] for why the references made from it
//! never overlap in a way Rust forbids, and the module docs of the engine for why LMDB allows
//! what is done with them.

use std::cell::{RefCell, UnsafeCell};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use heed::types::Bytes;
use heed::{CommitOrAbort, RwTxn};

use super::heed_error;
use super::names::{MAX_KEY, StoredKey, as_slice, database_name, stored_bound};
use super::read::{Entries, stats_of};
use super::shared::{Db, Shared, grown_size, too_many_tables};
use crate::engine::{
    CallerCode, Durability, Found, KeyRange, ReadOps, RunningReads, TableStats, Visit, WriteBody,
    WriteOptions, WriteTxn, WriterTicket, guard_engine_call,
};
use crate::engines::ByteSize;
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// The largest value LMDB stores (`MAXDATASIZE`).
const MAX_VALUE: usize = u32::MAX as usize;

/// Why a transaction can no longer commit.
struct Failure {
    kind: EngineErrorKind,
    what: String,
}

/// The operations of one LMDB write transaction.
pub(super) struct WriteOps<'e> {
    /// `None` once committed.
    txn: UnsafeCell<Option<RwTxn<'e>>>,
    shared: &'e Shared,
    /// Tables with a read running inside this transaction (writing them is `InUse`).
    reads: RunningReads,
    /// Handles this transaction opened: registered if it commits, closed by LMDB if not.
    opened: RefCell<Vec<(Box<str>, Db)>>,
    /// Set by an error that leaves the LMDB transaction unusable: it is then rolled back.
    failure: RefCell<Option<Failure>>,
    /// The memory map's address range: bytes inside it stay valid for the whole transaction.
    map: (usize, usize),
    /// Buffers for bytes copied out of pages this transaction changed (see `deliver`).
    scratch: RefCell<Vec<Vec<u8>>>,
    durability: Durability,
}

impl<'e> WriteOps<'e> {
    /// Begins a write transaction. The caller holds the writer ticket.
    fn begin(shared: &'e Shared, options: WriteOptions, ticket: &WriterTicket) -> Result<Self> {
        guard_engine_call(None, Operation::BeginWrite, |_| {
            shared.prepare_write(ticket)?;
            let txn = match shared.env.write_txn() {
                Err(heed::Error::Mdb(heed::MdbError::MapResized)) => {
                    shared.adopt_map_size(Operation::BeginWrite, ticket)?;
                    shared.env.write_txn()
                }
                begun => begun,
            }
            .map_err(heed_error(None, Operation::BeginWrite))?;
            let info = shared.env.info();
            let start = info.map_addr as usize;
            Ok(WriteOps {
                txn: UnsafeCell::new(Some(txn)),
                shared,
                reads: RunningReads::default(),
                opened: RefCell::new(Vec::new()),
                failure: RefCell::new(None),
                map: (start, start.saturating_add(info.map_size)),
                scratch: RefCell::new(Vec::new()),
                durability: options.durability.unwrap_or(shared.durability),
            })
        })
        .unwrap_or_else(Err)
    }

    /// The transaction, for reading.
    ///
    /// The returned reference is only ever passed to one heed call (which returns before any
    /// caller code runs) and not used after it: what outlives the call are byte slices into
    /// LMDB's memory and heed's cursors, which hold LMDB's raw cursor pointer, not a reference
    /// to the `RwTxn` (heed 0.23's `RoCursor`). So a `&mut` made later by
    /// [`with_rw`](Self::with_rw), from inside a read callback, never meets a live shared
    /// reference.
    #[inline]
    fn ro(&self) -> Result<&RwTxn<'e>> {
        // SAFETY: the only mutable reference to the transaction is made by `with_rw`, for one
        // heed call that runs no caller code; this `&` is therefore never made while that
        // `&mut` is in use, and (see above) not used once a later `&mut` is made.
        // Single-threaded: `WriteOps` is not `Sync` (`RefCell`, `UnsafeCell` fields).
        let txn = unsafe { &*self.txn.get() };
        txn.as_ref().ok_or_else(|| closed(Operation::Get))
    }

    /// Runs `call` — one heed call, or a nested transaction's creation and commit, which run
    /// no caller code — with the transaction for writing.
    #[inline]
    fn with_rw<R>(&self, call: impl FnOnce(&mut RwTxn<'e>) -> R) -> Result<R> {
        // SAFETY: this `&mut` lives for `call` only, and `call` runs no caller code, so no
        // other reference made by `ro` or `with_rw` is used while it lives (shared ones from
        // `ro` were passed to heed calls that returned; see `ro`). No function frame with a
        // reference to the transaction as an argument is active: reads hand `ro`'s reference
        // to a heed call and keep only what it returned. Single-threaded: `WriteOps` is not
        // `Sync`.
        let txn = unsafe { &mut *self.txn.get() };
        match txn.as_mut() {
            Some(txn) => Ok(call(txn)),
            None => Err(closed(Operation::Put)),
        }
    }

    /// Runs an operation: refused once the transaction failed; a panic inside heed or LMDB
    /// becomes a `Corrupted` error that also fails the transaction.
    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R> {
        if let Some(failure) = &*self.failure.borrow() {
            return Err(failure_error(failure, table, operation));
        }
        guard_engine_call(table, operation, call).unwrap_or_else(|panic| {
            self.fail(&panic);
            Err(panic)
        })
    }

    /// Remembers that `error` left the transaction unusable.
    fn fail(&self, error: &Error) {
        let mut failure = self.failure.borrow_mut();
        if failure.is_none() {
            *failure = Some(Failure {
                kind: error.engine_kind().unwrap_or(EngineErrorKind::Other),
                what: error.to_string(),
            });
        }
    }

    /// Converts an LMDB error of this transaction, which LMDB may have marked failed: so does
    /// zerotable, and the transaction will roll back.
    fn lmdb(
        &self,
        table: Option<&str>,
        operation: Operation,
    ) -> impl FnOnce(heed::Error) -> Error + '_ {
        let table = table.map(str::to_owned);
        move |error| {
            let table = table.as_deref();
            let error = match error {
                heed::Error::Mdb(heed::MdbError::MapFull) => self.map_full(table, operation),
                other => heed_error(table, operation)(other),
            };
            self.fail(&error);
            error
        }
    }

    /// The error of a transaction that found the map full (LMDB aborts it).
    fn map_full(&self, table: Option<&str>, operation: Operation) -> Error {
        let shared = self.shared;
        shared.map.full.store(true, Ordering::Relaxed);
        let (map, used) = shared.map_figures();
        let grown = grown_size(map, used);
        let next = ByteSize(grown as u64);
        let advice = if grown <= map {
            format!(
                "the map is as large as zerotable makes it ({next}): this transaction cannot fit"
            )
        } else if shared.map.blocked.load(Ordering::Relaxed) {
            format!(
                "the map could not grow before this transaction because snapshots of this \
                 process were open: end them before writing, or open the environment with \
                 map_size={next} or more"
            )
        } else {
            format!(
                "the next write transaction first grows the map to {next} (if no snapshot of \
                 this process is open then); or open the environment with a larger map_size"
            )
        };
        Error::engine(
            table,
            operation,
            EngineError::new(
                EngineErrorKind::LimitExceeded,
                format!(
                    "the LMDB map is full ({} mapped): this transaction is rolled back, nothing of \
                     it is written",
                    ByteSize(map as u64)
                ),
            )
            .explained(advice),
        )
    }

    /// Whether `bytes` lie in the memory map (or are empty), where they stay valid for the
    /// whole transaction; bytes elsewhere are on a page this transaction changed, in LMDB's
    /// heap, which a later write of the transaction may free.
    #[inline]
    fn on_map(&self, bytes: &[u8]) -> bool {
        let at = bytes.as_ptr() as usize;
        bytes.is_empty() || (at >= self.map.0 && at.saturating_add(bytes.len()) <= self.map.1)
    }

    /// Hands `key` and `value` to `f`: as they are when both lie in the memory map, else
    /// copied into a buffer of the transaction first.
    fn deliver<R>(&self, key: &[u8], value: &[u8], f: impl FnOnce(&[u8], &[u8]) -> R) -> R {
        if self.on_map(key) && self.on_map(value) {
            return f(key, value);
        }
        let mut buffer = self.scratch.borrow_mut().pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(key);
        buffer.extend_from_slice(value);
        let (copied_key, copied_value) = buffer.split_at(key.len());
        let result = f(copied_key, copied_value);
        self.scratch.borrow_mut().push(buffer);
        result
    }

    /// `table`'s database in this transaction: a handle registered before it began, one it
    /// opened, or — if the database exists — one opened now; with `create`, created if missing.
    fn table(&self, table: &str, operation: Operation, create: bool) -> Result<Option<Db>> {
        // Every registered handle is usable: handles are registered only with the writer ticket,
        // which this transaction has held since before it began.
        if let Some(db) = self.shared.handle(table, usize::MAX) {
            return Ok(Some(db));
        }
        if let Some((_, db)) = self
            .opened
            .borrow()
            .iter()
            .find(|(name, _)| **name == *table)
        {
            return Ok(Some(*db));
        }
        let Some(name) = database_name(table) else {
            return if create {
                Err(Error::engine(
                    Some(table),
                    operation,
                    EngineError::new(
                        EngineErrorKind::LimitExceeded,
                        format!(
                            "a table name of {} bytes is longer than LMDB allows: at most 509 \
                             bytes (254 if it holds a NUL byte)",
                            table.len()
                        ),
                    ),
                ))
            } else {
                Ok(None)
            };
        };
        let exists = self
            .shared
            .main
            .get(self.ro()?, name.as_bytes())
            .map_err(self.lmdb(Some(table), operation))?
            .is_some();
        if !exists && !create {
            return Ok(None);
        }
        let db = self.open_database(table, &name, operation)?;
        self.opened.borrow_mut().push((table.into(), db));
        Ok(Some(db))
    }

    /// Opens (creating if missing) the named database `name` in a nested transaction committed
    /// into this one, as heed 0.23 requires of a handle that outlives its transaction.
    fn open_database(&self, table: &str, name: &str, operation: Operation) -> Result<Db> {
        let env = &self.shared.env;
        let created = self.with_rw(|parent| {
            let child = env.nested_write_txn(parent)?;
            env.create_databases_and_commit(child, |opener, child| -> heed::Result<_> {
                let db = opener.create_database::<Bytes, Bytes>(child, Some(name))?;
                Ok(CommitOrAbort::<_, ()>::Commit(db))
            })
        })?;
        match created {
            Ok(CommitOrAbort::Commit(db)) => Ok(db),
            Ok(CommitOrAbort::Abort(())) => unreachable!("the creation is never aborted"),
            // Too many tables: LMDB leaves the transaction usable.
            Err(error @ heed::Error::Mdb(heed::MdbError::DbsFull)) => {
                Err(too_many_tables(heed_error(Some(table), operation)(error)))
            }
            Err(error) => Err(self.lmdb(Some(table), operation)(error)),
        }
    }

    /// Makes sure `table` is listed in the registry. A table holding data is listed already.
    fn list(&self, table: &str, db: Db, operation: Operation, force: bool) -> Result<()> {
        let lmdb = || self.lmdb(Some(table), operation);
        if !force && db.len(self.ro()?).map_err(lmdb())? > 0 {
            return Ok(());
        }
        let key = registry_key(table, operation)?;
        let registry = self.shared.registry;
        if registry
            .get(self.ro()?, key.as_bytes())
            .map_err(lmdb())?
            .is_none()
        {
            self.with_rw(|txn| registry.put(txn, key.as_bytes(), &[]))?
                .map_err(lmdb())?;
        }
        Ok(())
    }

    /// Commits: syncs as asked, then registers the handles the transaction opened. The caller
    /// holds the writer ticket. On an error nothing was applied, unless its kind is
    /// [`CommitOutcomeUnknown`](EngineErrorKind::CommitOutcomeUnknown).
    fn finish(&mut self, ticket: &WriterTicket) -> Result<()> {
        let txn = self
            .txn
            .get_mut()
            .take()
            .ok_or_else(|| closed(Operation::Commit))?;
        if let Some(failure) = self.failure.get_mut().take() {
            drop(txn); // rolls back
            return Err(failure_error(&failure, None, Operation::Commit));
        }
        let durability = self.durability;
        let committed = guard_engine_call(None, Operation::Commit, |_| {
            self.shared.sync_mode(durability, ticket)?;
            match txn.commit() {
                Ok(()) => Ok(()),
                Err(heed::Error::Mdb(heed::MdbError::MapFull)) => {
                    Err(self.map_full(None, Operation::Commit))
                }
                // The commit writes and fsyncs: a failure there may or may not have reached the
                // disk.
                Err(error) => {
                    let error = heed_error(None, Operation::Commit)(error);
                    Err(match error {
                        Error::Engine { source, .. } => Error::engine(
                            None,
                            Operation::Commit,
                            source.with_kind(EngineErrorKind::CommitOutcomeUnknown),
                        ),
                        other => other,
                    })
                }
            }
        })
        .unwrap_or_else(Err);
        committed?;
        self.shared.committed(durability);
        // Kept snapshots are outdated now: end the idle ones rather than pin what was freed.
        self.shared.reuse.end_idle(self.shared);
        self.shared
            .register_opened(std::mem::take(self.opened.get_mut()), ticket);
        Ok(())
    }
}

/// The registry's key for `table`.
fn registry_key(table: &str, operation: Operation) -> Result<StoredKey> {
    StoredKey::new(table.as_bytes()).ok_or_else(|| {
        Error::engine(
            Some(table),
            operation,
            EngineError::new(
                EngineErrorKind::LimitExceeded,
                format!(
                    "a table name of {} bytes is longer than LMDB allows: at most 509 bytes",
                    table.len()
                ),
            ),
        )
    })
}

fn closed(operation: Operation) -> Error {
    Error::engine(
        None,
        operation,
        EngineError::of_kind(EngineErrorKind::Closed),
    )
}

fn failure_error(failure: &Failure, table: Option<&str>, operation: Operation) -> Error {
    Error::engine(
        table,
        operation,
        EngineError::new(
            failure.kind,
            format!(
                "an earlier operation of this transaction failed, so it will be rolled back: {}",
                failure.what
            ),
        ),
    )
}

fn key_too_long(table: &str, len: usize) -> Error {
    Error::engine(
        Some(table),
        Operation::Put,
        EngineError::new(
            EngineErrorKind::LimitExceeded,
            format!(
                "a key of {len} bytes is longer than LMDB allows: at most {MAX_KEY} bytes \
                 (LMDB's 511 minus zerotable's prefix byte)"
            ),
        ),
    )
}

impl ReadOps for WriteOps<'_> {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        let Some(key) = StoredKey::new(key) else {
            return Ok(false);
        };
        self.guard(Some(table), Operation::Get, |caller| {
            let Some(db) = self.table(table, Operation::Get, false)? else {
                return Ok(false);
            };
            let value = db
                .get(self.ro()?, key.as_bytes())
                .map_err(self.lmdb(Some(table), Operation::Get))?;
            let Some(value) = value else {
                return Ok(false);
            };
            let _reading = self.reads.enter(table);
            self.deliver(&[], value, |_, value| caller.run(|| found(value)))?;
            Ok(true)
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        self.guard(Some(table), Operation::Range, |caller| {
            let Some(db) = self.table(table, Operation::Range, false)? else {
                return Ok(());
            };
            let entries = Entries::open(db, self.ro()?, range, table)
                .inspect_err(|error| self.fail(error))?;
            let _reading = self.reads.enter(table);
            entries
                .walk(table, |key, value| {
                    self.deliver(key, value, |key, value| caller.run(|| visit(key, value)))
                })
                .inspect_err(|error| {
                    // An LMDB error of the walk fails the transaction; the callback's own
                    // errors (its writes' `InUse`, say) do not.
                    if matches!(error, Error::Engine { operation: Operation::Range, table: Some(t), .. } if t == table)
                    {
                        self.fail(error);
                    }
                })
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.guard(Some(table), Operation::Len, |_| {
            match self.table(table, Operation::Len, false)? {
                Some(db) => db
                    .len(self.ro()?)
                    .map_err(self.lmdb(Some(table), Operation::Len)),
                None => Ok(0),
            }
        })
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        self.guard(None, Operation::ListTables, |_| {
            self.shared
                .table_names(self.ro()?)
                .map_err(self.lmdb(None, Operation::ListTables))
        })
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.guard(Some(table), Operation::TableStats, |_| {
            match self.table(table, Operation::TableStats, false)? {
                Some(db) => stats_of(db, self.ro()?, table).inspect_err(|error| self.fail(error)),
                None => Ok(TableStats::default()),
            }
        })
    }
}

impl WriteTxn for WriteOps<'_> {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.reads.check_writable(table, Operation::Put)?;
        let Some(key) = StoredKey::new(key) else {
            return Err(key_too_long(table, key.len()));
        };
        if value.len() > MAX_VALUE {
            return Err(Error::engine(
                Some(table),
                Operation::Put,
                EngineError::new(
                    EngineErrorKind::LimitExceeded,
                    format!(
                        "a value of {} bytes is longer than LMDB allows: at most {MAX_VALUE} bytes",
                        value.len()
                    ),
                ),
            ));
        }
        self.guard(Some(table), Operation::Put, |_| {
            let db = self
                .table(table, Operation::Put, true)?
                .unwrap_or_else(|| unreachable!("created if missing"));
            self.list(table, db, Operation::Put, false)?;
            self.with_rw(|txn| db.put(txn, key.as_bytes(), value))?
                .map_err(self.lmdb(Some(table), Operation::Put))
        })
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.reads.check_writable(table, Operation::Delete)?;
        let Some(key) = StoredKey::new(key) else {
            return Ok(false);
        };
        self.guard(Some(table), Operation::Delete, |_| {
            let Some(db) = self.table(table, Operation::Delete, false)? else {
                return Ok(false);
            };
            self.with_rw(|txn| db.delete(txn, key.as_bytes()))?
                .map_err(self.lmdb(Some(table), Operation::Delete))
        })
    }

    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        if range.is_empty() {
            return Ok(0);
        }
        self.reads.check_writable(table, Operation::DeleteRange)?;
        self.guard(Some(table), Operation::DeleteRange, |_| {
            let Some(db) = self.table(table, Operation::DeleteRange, false)? else {
                return Ok(0);
            };
            let start = stored_bound(range.start, true);
            let end = stored_bound(range.end, false);
            let bounds = (as_slice(&start), as_slice(&end));
            let removed = self
                .with_rw(|txn| db.delete_range(txn, &bounds))?
                .map_err(self.lmdb(Some(table), Operation::DeleteRange))?;
            Ok(removed as u64)
        })
    }

    fn create_table(&self, table: &str) -> Result<()> {
        self.guard(Some(table), Operation::CreateTable, |_| {
            let db = self
                .table(table, Operation::CreateTable, true)?
                .unwrap_or_else(|| unreachable!("created if missing"));
            self.list(table, db, Operation::CreateTable, true)
        })
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        self.reads.check_writable(table, Operation::DropTable)?;
        let Some(key) = StoredKey::new(table.as_bytes()) else {
            return Ok(false); // a name no table can have
        };
        self.guard(Some(table), Operation::DropTable, |_| {
            let lmdb = || self.lmdb(Some(table), Operation::DropTable);
            let registry = self.shared.registry;
            let existed = self
                .with_rw(|txn| registry.delete(txn, key.as_bytes()))?
                .map_err(lmdb())?;
            if existed && let Some(db) = self.table(table, Operation::DropTable, false)? {
                // Emptied, not deleted: see the module docs.
                self.with_rw(|txn| db.clear(txn))?.map_err(lmdb())?;
            }
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

/// Runs `body` in a write transaction on the stack and commits if it succeeds; on an error or
/// a panic the transaction is dropped, which rolls it back.
pub(super) fn run_scoped(
    shared: &Shared,
    options: WriteOptions,
    body: &mut WriteBody<'_>,
) -> Result<()> {
    let ticket = shared.writers.enter()?;
    let mut ops = WriteOps::begin(shared, options, &ticket)?;
    body(&ops)?;
    ops.finish(&ticket)
}

self_cell::self_cell!(
    /// An LMDB write transaction and the engine state it borrows, in one heap cell.
    struct OwnedWrite {
        owner: Arc<Shared>,
        #[not_covariant]
        dependent: WriteOps,
    }
);

/// A write transaction handed out by `begin_write`.
pub(super) struct LmdbWrite {
    // Declared first so it ends (rolling back) before the ticket lets the next writer in.
    cell: OwnedWrite,
    ticket: WriterTicket,
}

/// Begins a write transaction to hand out.
pub(super) fn begin_boxed(
    shared: &Arc<Shared>,
    options: WriteOptions,
) -> Result<Box<dyn WriteTxn>> {
    let ticket = shared.writers.enter()?;
    let cell = OwnedWrite::try_new(Arc::clone(shared), |shared| {
        WriteOps::begin(shared, options, &ticket)
    })?;
    Ok(Box::new(LmdbWrite { cell, ticket }))
}

impl LmdbWrite {
    fn ops<R>(&self, call: impl FnOnce(&WriteOps<'_>) -> Result<R>) -> Result<R> {
        self.cell.with_dependent(|_, ops| call(ops))
    }
}

crate::engine::forward_write_txn!(
    LmdbWrite,
    ops,
    fn commit(mut self: Box<Self>) -> Result<()> {
        let LmdbWrite { cell, ticket } = &mut *self;
        cell.with_dependent_mut(|_, ops| ops.finish(ticket))
    }
);
