//! What every transaction of one environment shares: the heed environment, the database
//! handles (dbis) of the tables, the count of open snapshots (the map can only be resized with
//! none), the map's growth, and the sync mode of commits.
//!
//! # Database handles
//!
//! LMDB opens a named database once per process, and a handle is only usable by transactions
//! that began after it was registered (LMDB copies the handle table when a transaction begins).
//! heed 0.23 lets a handle outlive its transaction only once that transaction committed. So:
//!
//! - every database present when the environment opens is opened then;
//! - a write transaction opens (or creates) the databases it needs in a nested transaction,
//!   committed into it; they are registered here once the write transaction commits, and LMDB
//!   closes them if it aborts;
//! - databases another process created are opened by a short read transaction of their own,
//!   holding the writer ticket (LMDB forbids opening handles while another transaction of the
//!   process has opened some and not finished).
//!
//! Handles are never closed and databases never deleted (a dropped table is emptied and taken
//! off the registry), so the set of databases only grows. Each handle gets an ordinal in
//! registration order; a snapshot that began when `registered` handles were known uses only
//! those, and checks when it begins that its main database names no more databases than that
//! (else it registers the new ones and begins again). Within that bound, the tables it can see
//! are exactly the ones with a handle.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use heed::types::{Bytes, DecodeIgnore};
use heed::{CommitOrAbort, CommitToken, Database, Env, OnCommit, RoTxn, WithoutTls};

use super::names::{DatabaseName, classify};
use super::reuse::SnapshotReuse;
use super::{MAX_MAP_SIZE, OpenPath, heed_error};
use crate::engine::{Durability, WriterGate, WriterTicket};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// A table's database, as heed hands it out.
pub(super) type Db = Database<'static, Bytes, Bytes>;

/// LMDB's unnamed database, which lists the named ones.
pub(super) type MainDb = Database<'static, Bytes, DecodeIgnore>;

/// A table's handle and when it was registered.
#[derive(Clone, Copy)]
pub(super) struct Handle {
    pub(super) db: Db,
    ordinal: usize,
}

/// The shared state of one open environment.
pub(super) struct Shared {
    // Declared first: the environment closes before the path leaves the list of open ones.
    pub(super) env: Env<WithoutTls>,
    pub(super) main: MainDb,
    pub(super) registry: Db,
    handles: RwLock<HashMap<Box<str>, Handle>>,
    /// Handles registered so far (the registry's included), in registration order.
    registered: AtomicUsize,
    /// Entries of the main database that are not zerotable's (counted at the last registration).
    foreign: AtomicUsize,
    pub(super) writers: Arc<WriterGate>,
    activity: Activity,
    pub(super) map: MapGrowth,
    /// Whether `MDB_NOSYNC` is set on the environment right now (changed only by the writer).
    no_sync: AtomicBool,
    /// Whether a commit since the last sync was made without one.
    unsynced: AtomicBool,
    pub(super) durability: Durability,
    pub(super) path: PathBuf,
    pub(super) page_size: usize,
    /// Snapshots kept for auto-commit reads. Declared before `_open`: their transactions hold
    /// the environment open.
    pub(super) reuse: SnapshotReuse,
    _open: OpenPath,
}

/// Handles opened by one transaction, to be registered once it committed.
pub(super) struct Opened<'e> {
    pub(super) tables: Vec<(Box<str>, Database<'e, Bytes, Bytes>)>,
    pub(super) foreign: usize,
}

/// [`Opened`], after its transaction committed.
pub(super) struct Committed {
    tables: Vec<(Box<str>, Db)>,
    foreign: usize,
}

impl OnCommit for Opened<'_> {
    type Committed = Committed;

    fn on_commit(self, token: &CommitToken) -> Committed {
        Committed {
            tables: self
                .tables
                .into_iter()
                .map(|(name, db)| (name, db.on_commit(token)))
                .collect(),
            foreign: self.foreign,
        }
    }
}

impl Shared {
    pub(super) fn new(
        env: Env<WithoutTls>,
        main: MainDb,
        registry: Db,
        durability: Durability,
        path: PathBuf,
        open: OpenPath,
    ) -> Self {
        let page_size = env.unnamed_database_stat().page_size as usize;
        Shared {
            env,
            main,
            registry,
            handles: RwLock::new(HashMap::new()),
            registered: AtomicUsize::new(1),
            foreign: AtomicUsize::new(0),
            writers: Arc::default(),
            activity: Activity::default(),
            map: MapGrowth::default(),
            no_sync: AtomicBool::new(false),
            unsynced: AtomicBool::new(false),
            durability,
            path,
            page_size,
            reuse: SnapshotReuse::default(),
            _open: open,
        }
    }

    /// `table`'s handle, if it is registered within the first `bound` handles.
    #[inline]
    pub(super) fn handle(&self, table: &str, bound: usize) -> Option<Db> {
        // No caller code runs under this lock: a poisoned map is still a consistent map.
        let handles = self.handles.read().unwrap_or_else(PoisonError::into_inner);
        handles
            .get(table)
            .filter(|handle| handle.ordinal < bound)
            .map(|handle| handle.db)
    }

    /// How many handles are registered.
    #[inline]
    pub(super) fn registered(&self) -> usize {
        self.registered.load(Ordering::Acquire)
    }

    /// How many entries of the main database are accounted for (handles and foreign entries).
    #[inline]
    pub(super) fn accounted(&self, registered: usize) -> usize {
        registered + self.foreign.load(Ordering::Acquire)
    }

    /// Registers handles opened by a transaction that committed. The caller holds the writer
    /// ticket (the only way handles are opened).
    pub(super) fn register(&self, committed: Committed, _ticket: &WriterTicket) {
        if !committed.tables.is_empty() {
            let mut handles = self.handles.write().unwrap_or_else(PoisonError::into_inner);
            let mut next = self.registered.load(Ordering::Relaxed);
            for (name, db) in committed.tables {
                handles.entry(name).or_insert_with(|| {
                    next += 1;
                    Handle {
                        db,
                        ordinal: next - 1,
                    }
                });
            }
            self.registered.store(next, Ordering::Release);
        }
        self.foreign.store(committed.foreign, Ordering::Release);
    }

    /// Registers the handles a write transaction opened, once it committed. The caller holds
    /// the writer ticket.
    pub(super) fn register_opened(&self, tables: Vec<(Box<str>, Db)>, ticket: &WriterTicket) {
        let foreign = self.foreign.load(Ordering::Relaxed);
        self.register(Committed { tables, foreign }, ticket);
    }

    /// Opens every database of the main database that has no handle yet (created by another
    /// process, or by a commit of this one that is registering right now), in a read
    /// transaction of its own. Holding the writer ticket keeps every other transaction of this
    /// process from opening handles meanwhile, as LMDB requires.
    pub(super) fn register_new(&self, ticket: &WriterTicket) -> Result<()> {
        let error = |e| heed_error(None, Operation::BeginRead)(e);
        let rtxn = self.env.read_txn().map_err(error)?;
        let opened = self
            .env
            .open_databases_and_commit(rtxn, |opener, rtxn| -> heed::Result<_> {
                let mut opened = Opened {
                    tables: Vec::new(),
                    foreign: 0,
                };
                let handles = self.handles.read().unwrap_or_else(PoisonError::into_inner);
                for entry in self.main.iter(rtxn)? {
                    let (name, ()) = entry?;
                    let table = match classify(name) {
                        DatabaseName::Table(table) => table,
                        DatabaseName::Registry => continue,
                        DatabaseName::Foreign => {
                            opened.foreign += 1;
                            continue;
                        }
                    };
                    if handles.contains_key(table.as_str()) {
                        continue;
                    }
                    let name = std::str::from_utf8(name).unwrap_or_else(|_| unreachable!());
                    match opener.open_database::<Bytes, Bytes>(rtxn, Some(name)) {
                        Ok(Some(db)) => opened.tables.push((table.into(), db)),
                        Ok(None) => {}
                        // An entry of the main database that is not a database.
                        Err(heed::Error::Mdb(heed::MdbError::Incompatible)) => opened.foreign += 1,
                        Err(e) => return Err(e),
                    }
                }
                Ok(CommitOrAbort::<_, ()>::Commit(opened))
            })
            .map_err(|e| {
                let error = error(e);
                match error.engine_kind() {
                    Some(EngineErrorKind::LimitExceeded) => too_many_tables(error),
                    _ => error,
                }
            })?;
        if let CommitOrAbort::Commit(committed) = opened {
            self.register(committed, ticket);
        }
        Ok(())
    }

    /// Counts a snapshot as open until the returned guard is dropped (or kept).
    pub(super) fn enter(&self) -> Entered<'_> {
        self.activity.enter();
        Entered(self)
    }

    /// Stops counting a snapshot kept open by [`Entered::keep`].
    pub(super) fn leave(&self) {
        self.activity.leave();
    }

    /// Grows the map before a write transaction begins, if the last one found it full or it is
    /// nearly full, and nothing else of this process uses it. The caller holds the writer
    /// ticket, so no write transaction is open.
    pub(super) fn prepare_write(&self, _ticket: &WriterTicket) -> Result<()> {
        // Idle kept snapshots would keep this transaction from reusing the pages the last
        // commits freed (and the map from growing).
        self.reuse.end_idle(self);
        let info = self.env.info();
        let used = (info.last_page_number + 1).saturating_mul(self.page_size);
        let full = self.map.full.load(Ordering::Relaxed);
        if !full && used <= info.map_size / 4 * 3 {
            return Ok(());
        }
        let target = grown_size(info.map_size, used);
        if target <= info.map_size {
            return Ok(()); // as large as it gets
        }
        if !self.activity.try_exclusive() {
            // Snapshots are open: the transaction may still fit; if not, its error says why.
            self.map.blocked.store(true, Ordering::Relaxed);
            return Ok(());
        }
        // SAFETY: LMDB may change the map size only while no transaction of this process is
        // active. The writer ticket held by the caller excludes write transactions (every write
        // transaction holds it, and none has begun yet), and `try_exclusive` succeeded, so no
        // snapshot is open and none can begin until `end_exclusive`.
        let resized = unsafe { self.env.resize(target) };
        self.activity.end_exclusive();
        resized.map_err(heed_error(None, Operation::BeginWrite))?;
        self.map.full.store(false, Ordering::Relaxed);
        self.map.blocked.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Adopts the map size another process gave the environment (LMDB's `MDB_MAP_RESIZED`),
    /// if nothing else of this process uses the map; the caller holds the writer ticket.
    pub(super) fn adopt_map_size(
        &self,
        operation: Operation,
        _ticket: &WriterTicket,
    ) -> Result<()> {
        if !self.activity.try_exclusive() {
            return Err(Error::engine(
                None,
                operation,
                EngineError::new(
                    EngineErrorKind::LimitExceeded,
                    "another process grew the LMDB map beyond this process's mapping",
                )
                .explained(
                    "this process adopts the new size once none of its snapshots is open: end \
                     them and try again, or open the environment with a map_size at least as \
                     large as the other process's",
                ),
            ));
        }
        // SAFETY: as in `prepare_write`: the writer ticket excludes write transactions and
        // `try_exclusive` excludes snapshots. Size 0 makes LMDB adopt the size in the file.
        let resized = unsafe { self.env.resize(0) };
        self.activity.end_exclusive();
        resized.map_err(heed_error(None, operation))
    }

    /// Sets or clears `MDB_NOSYNC` so that the next commit syncs as asked. The caller holds
    /// the writer ticket.
    pub(super) fn sync_mode(&self, durability: Durability, _ticket: &WriterTicket) -> Result<()> {
        let no_sync = durability == Durability::None;
        if self.no_sync.load(Ordering::Relaxed) == no_sync {
            return Ok(());
        }
        let mode = if no_sync {
            heed::FlagSetMode::Enable
        } else {
            heed::FlagSetMode::Disable
        };
        // SAFETY: heed asks that one thread at a time set flags: only the holder of the writer
        // ticket does. `NO_SYNC` is "unsafe" in LMDB's sense of durability, not of memory: a
        // commit made with it is not fsynced, and a crash of the machine (not of the process)
        // before a later sync can lose it or damage the file; the module docs say so.
        unsafe { self.env.set_flags(heed::EnvFlags::NO_SYNC, mode) }
            .map_err(heed_error(None, Operation::Commit))?;
        self.no_sync.store(no_sync, Ordering::Relaxed);
        Ok(())
    }

    /// Records how the last commit was synced.
    pub(super) fn committed(&self, durability: Durability) {
        match durability {
            Durability::None => self.unsynced.store(true, Ordering::Relaxed),
            _ => self.unsynced.store(false, Ordering::Relaxed),
        }
    }

    /// Syncs every commit so far to disk.
    pub(super) fn sync(&self, operation: Operation) -> Result<()> {
        self.env.force_sync().map_err(heed_error(None, operation))?;
        self.unsynced.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Whether a commit was made without a sync since the last one.
    pub(super) fn has_unsynced(&self) -> bool {
        self.unsynced.load(Ordering::Relaxed)
    }

    /// The map size and the bytes in use, for messages.
    pub(super) fn map_figures(&self) -> (usize, usize) {
        let info = self.env.info();
        let used = (info.last_page_number + 1).saturating_mul(self.page_size);
        (info.map_size, used)
    }

    /// The names of the tables a transaction lists: the registry's keys.
    pub(super) fn table_names(&self, txn: &RoTxn<'_>) -> heed::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in self.registry.iter(txn)? {
            let (key, _) = entry?;
            let name = super::names::user_key(key)
                .and_then(|name| std::str::from_utf8(name).ok())
                .ok_or(heed::Error::Mdb(heed::MdbError::Corrupted))?;
            names.push(name.to_owned());
        }
        Ok(names)
    }
}

impl Drop for Shared {
    /// A clean close keeps the commits made without a sync: they are synced here, while the
    /// environment is still open.
    fn drop(&mut self) {
        if self.has_unsynced() {
            let _ = crate::engine::catch_engine_panic(None, Operation::Flush, |_| {
                self.sync(Operation::Flush)
            });
        }
    }
}

/// The map size to grow to from `current`, with `used` bytes in use: twice the larger, in
/// whole 64 KiB (a multiple of every page size LMDB runs on), at most [`MAX_MAP_SIZE`].
pub(super) fn grown_size(current: usize, used: usize) -> usize {
    const UNIT: usize = 64 << 10;
    current
        .max(used)
        .saturating_mul(2)
        .min(MAX_MAP_SIZE)
        .div_ceil(UNIT)
        .saturating_mul(UNIT)
}

/// The error of a table that cannot be opened: LMDB's `max_dbs` is reached.
pub(super) fn too_many_tables(error: Error) -> Error {
    match error {
        Error::Engine {
            table,
            operation,
            source,
        } => Error::Engine {
            table,
            operation,
            source: source.explained(
                "this environment holds as many tables as max_tables allows (LMDB's named \
                 databases; a dropped table keeps its empty database): open it with a larger \
                 max_tables",
            ),
        },
        other => other,
    }
}

/// The map's growth.
#[derive(Default)]
pub(super) struct MapGrowth {
    /// A write transaction found the map full: the next one grows it first.
    pub(super) full: AtomicBool,
    /// The last growth could not happen because snapshots were open.
    pub(super) blocked: AtomicBool,
}

/// Open snapshots, and a flag that keeps new ones from beginning while the map is resized.
#[derive(Default)]
struct Activity {
    state: AtomicUsize,
}

const RESIZING: usize = 1 << (usize::BITS - 1);

impl Activity {
    fn enter(&self) {
        loop {
            if self.state.fetch_add(1, Ordering::Acquire) & RESIZING == 0 {
                return;
            }
            self.state.fetch_sub(1, Ordering::Release);
            while self.state.load(Ordering::Acquire) & RESIZING != 0 {
                std::thread::yield_now();
            }
        }
    }

    fn leave(&self) {
        self.state.fetch_sub(1, Ordering::Release);
    }

    /// Whether no snapshot is open; if so, none can begin until [`end_exclusive`](Self::end_exclusive).
    fn try_exclusive(&self) -> bool {
        self.state
            .compare_exchange(0, RESIZING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    fn end_exclusive(&self) {
        self.state.fetch_and(!RESIZING, Ordering::Release);
    }
}

/// A snapshot counted as open, until dropped or [kept](Entered::keep).
pub(super) struct Entered<'a>(&'a Shared);

impl Entered<'_> {
    /// Leaves the count to an [`Active`] made with [`Active::entered`].
    pub(super) fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.activity.leave();
    }
}

/// A snapshot counted as open, until dropped.
pub(super) struct Active<S: std::ops::Deref<Target = Shared>>(S);

impl<S: std::ops::Deref<Target = Shared>> Active<S> {
    /// Takes over the count of a snapshot [kept](Entered::keep) open.
    pub(super) fn entered(shared: S) -> Self {
        Active(shared)
    }

    #[inline]
    pub(super) fn shared(&self) -> &Shared {
        &self.0
    }
}

impl<S: std::ops::Deref<Target = Shared>> Drop for Active<S> {
    fn drop(&mut self) {
        self.0.activity.leave();
    }
}
