//! What every handle of one table shares: the secondary indexes defined on it and its change
//! subscribers. The typed write path ([`Table::write_row`](super::Table::write_row)) consults
//! them on every write.
//!
//! # One registry per engine
//!
//! Each engine in the process has one [`Registry`], found through the engine's address (a
//! process-wide list of weak references), so every [`Storage`](crate::Storage) made over the
//! same `Arc<dyn Engine>` and every [`Table`](super::Table) opened from any of them sees the
//! same [`TableHooks`] for a table name: an index defined through one handle is maintained by
//! writes through all of them, including handles opened earlier and on other threads. The
//! registry lives as long as a storage or table of its engine does.
//!
//! # Cost when unused
//!
//! A table with no index and no subscriber pays one atomic load per write
//! ([`TableHooks::active`]); the state itself is an `Arc` swapped under a lock, cloned by a
//! write that needs it, so no lock is held while user code (an index's key function) runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use crate::engine::Engine;
use crate::error::Result;
use crate::index::{IndexRecord, Maintain};
use crate::watch::Subscriber;

/// The shared state of every table of one engine.
pub(crate) struct Registry {
    tables: Mutex<HashMap<String, Arc<TableHooks>>>,
    /// Commits carrying change events publish them in commit order through this.
    order: Arc<CommitOrder>,
}

/// Every engine's registry, by the engine's address (weak both ways: the list keeps nothing
/// alive, and a dead entry's address cannot be reused while its `Weak` is kept here).
static REGISTRIES: Mutex<Vec<KnownRegistry>> = Mutex::new(Vec::new());

/// An engine and its registry, both weakly.
type KnownRegistry = (Weak<dyn Engine>, Weak<Registry>);

impl Registry {
    /// The registry of `engine`, made on first use.
    pub(crate) fn of(engine: &Arc<dyn Engine>) -> Arc<Registry> {
        let mut all = lock(&REGISTRIES);
        let me = Arc::downgrade(engine);
        all.retain(|(engine, registry)| engine.strong_count() > 0 && registry.strong_count() > 0);
        if let Some(registry) = all
            .iter()
            .find(|(engine, _)| Weak::ptr_eq(engine, &me))
            .and_then(|(_, registry)| registry.upgrade())
        {
            return registry;
        }
        let registry = Arc::new(Registry {
            tables: Mutex::new(HashMap::new()),
            order: Arc::new(CommitOrder::default()),
        });
        all.push((me, Arc::downgrade(&registry)));
        registry
    }

    /// The hooks of table `name`; on first use, `recorded` lists the indexes the catalog
    /// records for it (writes are refused until each is defined in this process).
    pub(crate) fn table(
        &self,
        name: &str,
        recorded: impl FnOnce() -> Result<Vec<IndexRecord>>,
    ) -> Result<Arc<TableHooks>> {
        let mut tables = lock(&self.tables);
        if let Some(hooks) = tables.get(name) {
            return Ok(Arc::clone(hooks));
        }
        let hooks = Arc::new(TableHooks::new(recorded()?, Arc::clone(&self.order)));
        tables.insert(name.to_owned(), Arc::clone(&hooks));
        Ok(hooks)
    }

    /// The hooks of table `name` if a handle of it was opened in this process.
    pub(crate) fn existing(&self, name: &str) -> Option<Arc<TableHooks>> {
        lock(&self.tables).get(name).cloned()
    }
}

/// The indexes and subscribers of one table, shared by all its handles.
pub(crate) struct TableHooks {
    /// Whether `state` has anything in it: the one load a write of a plain table pays.
    active: AtomicBool,
    state: RwLock<Arc<HookState>>,
    order: Arc<CommitOrder>,
}

/// A consistent set of hooks, replaced whole on every change.
#[derive(Default, Clone)]
pub(crate) struct HookState {
    /// The indexes defined in this process, maintained by every write.
    pub(crate) indexes: Vec<Arc<dyn Maintain>>,
    /// Indexes the catalog records but this process has not defined: writes are refused.
    pub(crate) undefined: Vec<IndexRecord>,
    /// The change subscribers.
    pub(crate) subscribers: Vec<Arc<Subscriber>>,
}

impl HookState {
    fn is_empty(&self) -> bool {
        self.indexes.is_empty() && self.undefined.is_empty() && self.subscribers.is_empty()
    }
}

impl TableHooks {
    fn new(recorded: Vec<IndexRecord>, order: Arc<CommitOrder>) -> Self {
        let state = HookState {
            undefined: recorded,
            ..HookState::default()
        };
        TableHooks {
            active: AtomicBool::new(!state.is_empty()),
            state: RwLock::new(Arc::new(state)),
            order,
        }
    }

    /// The current hooks, or `None` when there are none (the common, cheap case).
    #[inline]
    pub(crate) fn active(&self) -> Option<Arc<HookState>> {
        if self.active.load(Ordering::Acquire) {
            Some(Arc::clone(
                &self.state.read().unwrap_or_else(PoisonError::into_inner),
            ))
        } else {
            None
        }
    }

    /// The current hooks, empty or not.
    pub(crate) fn current(&self) -> Arc<HookState> {
        Arc::clone(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the hooks with `change(current)`; returns what `change` returns.
    pub(crate) fn change<R>(&self, change: impl FnOnce(&mut HookState) -> R) -> R {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = HookState::clone(&state);
        let out = change(&mut next);
        self.active.store(!next.is_empty(), Ordering::Release);
        *state = Arc::new(next);
        out
    }

    /// The commit order shared by every table of the engine.
    pub(crate) fn order(&self) -> &Arc<CommitOrder> {
        &self.order
    }
}

impl Drop for TableHooks {
    /// The last handle of the table is gone: its subscriptions end.
    fn drop(&mut self) {
        for subscriber in &self.current().subscribers {
            subscriber.close();
        }
    }
}

/// Serializes the end of commits that publish change events, so that events reach
/// subscribers in commit order. A transaction with events enters it before its commit (while
/// it still holds the engine's write), and leaves it once its events are delivered; writers
/// being serialized by the engine, the order of entry is the order of commits.
#[derive(Default)]
pub(crate) struct CommitOrder {
    busy: Mutex<bool>,
    free: Condvar,
}

impl CommitOrder {
    /// Waits for the commit ahead to publish, then holds the order until the ticket drops.
    pub(crate) fn enter(self: &Arc<Self>) -> OrderTicket {
        let mut busy = lock(&self.busy);
        while *busy {
            busy = self.free.wait(busy).unwrap_or_else(PoisonError::into_inner);
        }
        *busy = true;
        OrderTicket(Arc::clone(self))
    }
}

/// A place in the commit order, released when dropped (also by a panic).
pub(crate) struct OrderTicket(Arc<CommitOrder>);

impl Drop for OrderTicket {
    fn drop(&mut self) {
        *lock(&self.0.busy) = false;
        self.0.free.notify_one();
    }
}

/// Locks `mutex`, taking over a lock poisoned by a panicking holder: every value guarded here
/// is replaced whole or left as it was, never half-updated.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
