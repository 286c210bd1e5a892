//! [`MemoryEngine`]: ordered maps with redb's semantics (snapshots, one writer at a time).
//!
//! The committed state is an immutable, reference-counted map of tables. A snapshot is one
//! reference-count increment; a commit swaps in a new state, copying only what it changes
//! (copy-on-write: a table that a live snapshot still shares is copied once by the first write
//! to it). Values are reference counted too, so a point read clones a pointer and runs the
//! caller's callback with no lock held: callbacks may panic, or read and write the same
//! database, without poisoning or deadlocking anything.
//!
//! A write transaction stages its changes per table beside the state it began from. A scan in
//! the transaction holds its table's staged changes borrowed while it runs, so a write to that
//! same table from inside the scan is refused with
//! [`InUse`](crate::EngineErrorKind::InUse), and writes to other tables go ahead.
//!
//! Capabilities: table administration. Nothing persists, so there is nothing to flush,
//! compact, measure on disk or check.

use std::cell::{Ref, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, ControlFlow};
use std::rc::Rc;
use std::sync::{Arc, PoisonError, RwLock};

use crate::engine::{
    Capabilities, Engine, Found, KeyRange, ReadBody, ReadOps, ReadTxn, TableStats, Visit,
    WriteOptions, WriteTxn,
};
use crate::engine::{WriterGate, WriterTicket};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

type TableMap = BTreeMap<Box<[u8]>, Arc<[u8]>>;
type Tables = BTreeMap<String, Arc<TableMap>>;
/// A write transaction's pending changes to one table: `None` marks a deletion.
type Staged = BTreeMap<Box<[u8]>, Option<Arc<[u8]>>>;

/// An in-memory [`Engine`]: nothing persists past the last clone of its handle.
///
/// ```
/// use zerotable::{MemoryEngine, Storage};
///
/// let storage = Storage::new(MemoryEngine::new()); // the same as Storage::in_memory()
/// let cache = storage.raw_table::<u64>("cache")?;
/// cache.put(&1, b"one")?;
/// assert_eq!(cache.get(&1, |v| v.to_vec())?, Some(b"one".to_vec()));
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryEngine {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    committed: RwLock<Arc<Tables>>,
    /// Writers are serialized, as in redb.
    writers: Arc<WriterGate>,
}

// Lock poisoning is ignored on purpose: no caller code ever runs while these locks are held and
// every critical section leaves the state consistent, so a poisoned lock guards nothing broken.
impl Shared {
    fn snapshot(&self) -> Arc<Tables> {
        Arc::clone(
            &self
                .committed
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Applies `change` to the committed state, copying what live snapshots still share.
    fn commit(&self, change: impl FnOnce(&mut Tables)) {
        let mut committed = self
            .committed
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        change(Arc::make_mut(&mut committed));
    }
}

impl MemoryEngine {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Engine for MemoryEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(MemoryRead(self.shared.snapshot())))
    }

    fn begin_write(&self, _options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        let ticket = self.shared.writers.enter()?;
        Ok(Box::new(MemoryWrite {
            base: self.shared.snapshot(),
            state: RefCell::default(),
            shared: Arc::clone(&self.shared),
            _ticket: ticket,
        }))
    }

    /// A snapshot on the stack: an auto-commit read allocates nothing.
    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        body(&MemoryRead(self.shared.snapshot()))
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            table_admin: true,
            ..Capabilities::NONE
        }
    }
}

/// A snapshot: the committed state when it began.
struct MemoryRead(Arc<Tables>);

impl ReadTxn for MemoryRead {}

impl ReadOps for MemoryRead {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        match self.0.get(table).and_then(|map| map.get(key)) {
            Some(value) => found(value).map(|()| true),
            None => Ok(false),
        }
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        merge_range(self.0.get(table).map(|m| &**m), None, range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        Ok(self.0.get(table).map_or(0, |map| map.len() as u64))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.0.keys().cloned().collect())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        let mut stats = TableStats::default();
        for (key, value) in self.0.get(table).into_iter().flat_map(|m| m.iter()) {
            stats.entries += 1;
            stats.stored_bytes += (key.len() + value.len()) as u64;
        }
        Ok(stats)
    }
}

/// What a write transaction has changed so far.
#[derive(Default)]
struct WriteState {
    /// Per table: its staged changes, shared with any scan of it that is running.
    staged: BTreeMap<String, Rc<RefCell<Staged>>>,
    created: BTreeSet<String>,
    /// Tables dropped by this transaction: reads ignore their base content.
    dropped: BTreeSet<String>,
}

/// A write transaction: changes are staged beside the state it began from (which no one else
/// can change meanwhile: it holds the writer ticket) and applied on commit. Not `Send`: it
/// stays on the thread that holds the writer ticket.
struct MemoryWrite {
    base: Arc<Tables>,
    state: RefCell<WriteState>,
    shared: Arc<Shared>,
    /// Held until the transaction ends: no other writer can change `base` meanwhile.
    _ticket: WriterTicket,
}

fn in_use(table: &str, operation: Operation) -> Error {
    Error::engine(
        Some(table),
        operation,
        EngineError::of_kind(EngineErrorKind::InUse),
    )
}

impl MemoryWrite {
    /// The committed content of `table` this transaction still sees.
    fn base_table(&self, table: &str, state: &WriteState) -> Option<Arc<TableMap>> {
        if state.dropped.contains(table) {
            return None;
        }
        self.base.get(table).cloned()
    }

    /// `table`'s staged changes, created (empty) if missing.
    fn staged(&self, table: &str) -> Rc<RefCell<Staged>> {
        let mut state = self.state.borrow_mut();
        Rc::clone(state.staged.entry(table.to_owned()).or_default())
    }

    /// The value `key` has in this transaction (a pointer copy; no borrow outlives the call).
    fn lookup(&self, table: &str, key: &[u8], operation: Operation) -> Result<Option<Arc<[u8]>>> {
        let state = self.state.borrow();
        if let Some(staged) = state.staged.get(table) {
            let staged = staged.try_borrow().map_err(|_| in_use(table, operation))?;
            if let Some(value) = staged.get(key) {
                return Ok(value.clone());
            }
        }
        Ok(self
            .base_table(table, &state)
            .and_then(|m| m.get(key).cloned()))
    }

    /// Stages `value` (`None`: a deletion) for `key`, unless a read of the table is running.
    fn stage(
        &self,
        table: &str,
        key: &[u8],
        value: Option<Arc<[u8]>>,
        op: Operation,
    ) -> Result<()> {
        let staged = self.staged(table);
        let mut staged = staged.try_borrow_mut().map_err(|_| in_use(table, op))?;
        staged.insert(Box::from(key), value);
        Ok(())
    }

    fn table_exists(&self, table: &str) -> bool {
        let state = self.state.borrow();
        state.created.contains(table)
            || state
                .staged
                .get(table)
                .is_some_and(|s| s.try_borrow().is_ok_and(|s| !s.is_empty()))
            || (!state.dropped.contains(table) && self.base.contains_key(table))
    }
}

impl ReadOps for MemoryWrite {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        let base = self.base_table(table, &self.state.borrow());
        // As in a range: the staged changes stay borrowed while the callback runs, so a write
        // to this table from inside it is refused (`InUse`).
        let staged = self.staged(table);
        let staged: Ref<'_, Staged> = staged
            .try_borrow()
            .map_err(|_| in_use(table, Operation::Get))?;
        let value = match staged.get(key) {
            Some(staged) => staged.as_deref(),
            None => base.as_ref().and_then(|m| m.get(key)).map(|v| &**v),
        };
        match value {
            Some(value) => found(value).map(|()| true),
            None => Ok(false),
        }
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        let base = self.base_table(table, &self.state.borrow());
        // Holding the staged changes borrowed for the whole scan is what refuses writes to this
        // table from inside it (they would change what the scan is walking).
        let staged = self.staged(table);
        let staged: Ref<'_, Staged> = staged
            .try_borrow()
            .map_err(|_| in_use(table, Operation::Range))?;
        merge_range(base.as_deref(), Some(&staged), range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        let state = self.state.borrow();
        let base = self.base_table(table, &state);
        let mut len = base.as_ref().map_or(0, |m| m.len() as i64);
        if let Some(staged) = state.staged.get(table) {
            let staged = staged
                .try_borrow()
                .map_err(|_| in_use(table, Operation::Len))?;
            for (key, value) in staged.iter() {
                let before = base.as_ref().is_some_and(|m| m.contains_key(key));
                len += i64::from(value.is_some()) - i64::from(before);
            }
        }
        Ok(len as u64)
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        let names: BTreeSet<String> = {
            let state = self.state.borrow();
            self.base
                .keys()
                .chain(state.created.iter())
                .chain(state.staged.keys())
                .cloned()
                .collect()
        };
        Ok(names.into_iter().filter(|t| self.table_exists(t)).collect())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        let mut stats = TableStats::default();
        self.range(table, &KeyRange::ALL, &mut |key, value| {
            stats.entries += 1;
            stats.stored_bytes += (key.len() + value.len()) as u64;
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(stats)
    }
}

impl WriteTxn for MemoryWrite {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.stage(table, key, Some(Arc::from(value)), Operation::Put)
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        let existed = self.lookup(table, key, Operation::Delete)?.is_some();
        // Nothing to stage for an absent key, and staging would create a missing table.
        if existed {
            self.stage(table, key, None, Operation::Delete)?;
        }
        Ok(existed)
    }

    fn create_table(&self, table: &str) -> Result<()> {
        // If the table was dropped earlier in this transaction it stays in `dropped`, so its
        // old entries stay hidden and the commit removes them before re-creating it.
        self.state.borrow_mut().created.insert(table.to_owned());
        Ok(())
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        let existed = self.table_exists(table);
        let mut state = self.state.borrow_mut();
        if let Some(staged) = state.staged.get(table)
            && staged.try_borrow_mut().is_err()
        {
            return Err(in_use(table, Operation::DropTable));
        }
        state.created.remove(table);
        state.staged.remove(table);
        state.dropped.insert(table.to_owned());
        Ok(existed)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let MemoryWrite {
            base,
            state,
            shared,
            _ticket,
        } = *self;
        // Release this transaction's own reference to the state it began from *before*
        // applying: while it is held, every table the commit touches looks shared and would be
        // copied whole (copy-on-write), making each commit O(table size).
        drop(base);
        let WriteState {
            staged,
            created,
            dropped,
        } = state.into_inner();
        // Tables only scanned have an empty staging map: they change nothing.
        let staged: Vec<(String, Staged)> = staged
            .into_iter()
            .map(|(table, changes)| (table, changes.take()))
            .filter(|(_, changes)| !changes.is_empty())
            .collect();
        if staged.is_empty() && dropped.is_empty() && created.is_empty() {
            return Ok(());
        }
        shared.commit(|tables| {
            for table in dropped {
                tables.remove(&table);
            }
            for table in created {
                tables.entry(table).or_default();
            }
            for (table, changes) in staged {
                let map = Arc::make_mut(tables.entry(table).or_default());
                for (key, value) in changes {
                    match value {
                        Some(value) => map.insert(key, value),
                        None => map.remove(&key),
                    };
                }
            }
        });
        Ok(())
    }
}

/// Walks `range` over `base` with `staged` changes laid over it, in the range's direction.
fn merge_range(
    base: Option<&TableMap>,
    staged: Option<&Staged>,
    range: &KeyRange<'_>,
    visit: &mut Visit<'_>,
) -> Result<()> {
    if range.is_empty() {
        return Ok(());
    }
    let bounds: (Bound<&[u8]>, Bound<&[u8]>) = range.bounds();
    let empty_base = TableMap::new();
    let empty_staged = Staged::new();
    let base = base.unwrap_or(&empty_base).range::<[u8], _>(bounds);
    let staged = staged.unwrap_or(&empty_staged).range::<[u8], _>(bounds);
    let base = base.map(|(k, v)| (&**k, Some(v)));
    let staged = staged.map(|(k, v)| (&**k, v.as_ref()));
    if range.reverse {
        merge(base.rev(), staged.rev(), |a, b| a > b, visit)
    } else {
        merge(base, staged, |a, b| a < b, visit)
    }
}

/// Merges two key-ordered streams; on equal keys the overlay wins, and `None` values (deletions)
/// are skipped. `first(a, b)` says whether key `a` comes before key `b` in walking order.
fn merge<'m>(
    base: impl Iterator<Item = (&'m [u8], Option<&'m Arc<[u8]>>)>,
    overlay: impl Iterator<Item = (&'m [u8], Option<&'m Arc<[u8]>>)>,
    first: impl Fn(&[u8], &[u8]) -> bool,
    visit: &mut Visit<'_>,
) -> Result<()> {
    let mut base = base.peekable();
    let mut overlay = overlay.peekable();
    loop {
        let (key, value) = match (base.peek(), overlay.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => base.next().expect("peeked"),
            (None, Some(_)) => overlay.next().expect("peeked"),
            (Some((b, _)), Some((o, _))) => {
                if first(b, o) {
                    base.next().expect("peeked")
                } else {
                    if b == o {
                        base.next();
                    }
                    overlay.next().expect("peeked")
                }
            }
        };
        if let Some(value) = value
            && visit(key, value)?.is_break()
        {
            return Ok(());
        }
    }
}
