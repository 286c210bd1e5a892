//! [`MemoryEngine`]: persistent B+trees with redb's semantics (snapshots, one writer at a time).
//!
//! Each table is a copy-on-write B+tree (`tree.rs`): its nodes are reference counted, leaves
//! hold their keys and values packed in a few buffers, and a change copies only the nodes on
//! its path that someone else still shares. The committed state is an immutable,
//! reference-counted map from table name to tree root:
//!
//! - A snapshot is one reference-count increment, O(1). It reads the trees as they were when it
//!   began, whatever is committed later, and runs the caller's callbacks with no lock held (the
//!   bytes handed to them live in nodes the snapshot keeps alive): callbacks may panic, or read
//!   and write the same database, without poisoning or deadlocking anything.
//! - A write transaction stages its changes per table in a small ordered map (a deletion is a
//!   `None`), laid over the committed trees it began from; its reads merge the two, so they see
//!   its own writes. It holds no reference to any tree, only to the committed map.
//! - The commit drops that reference first, then applies the staged changes to the committed
//!   trees under the lock, through [`Arc::make_mut`] on the map and on each node: with no
//!   snapshot alive nothing is shared, so every change is made in place (no node copied, no
//!   reference count touched), as cheap as a plain B+tree insertion; nodes a live snapshot
//!   still shares are copied, one root-to-leaf path per change, O(log n). The writer ticket
//!   guarantees nobody committed since it began, so there is nothing to merge. Dropping the
//!   transaction uncommitted just drops its staged changes.
//! - A large transaction does not grow its staged map without bound: past
//!   `STAGED_LIMIT` (4,096) entries a table's staged changes are applied to a *working* tree of its
//!   own — a copy of the committed root, O(1), whose nodes are copied on their first change
//!   only — and the map starts again empty. The commit then installs the working tree as the
//!   committed one (a pointer swap). So a bulk load or a mass deletion costs one ordered map of
//!   a few thousand entries that stays in the cache, plus one copy of each node it touches,
//!   instead of a map as large as the change.
//!
//! A read in a write transaction (a range, or a get whose callback is running) holds its
//! table's staged changes borrowed, so a write to that same table from inside the callback is
//! refused with [`InUse`](crate::EngineErrorKind::InUse) (a deletion only if it would change
//! something), and writes to other tables go ahead.
//!
//! Keys and values are limited to 256 MiB each
//! ([`LimitExceeded`](crate::EngineErrorKind::LimitExceeded) beyond).
//!
//! Capabilities: table administration. Nothing persists, so there is nothing to flush,
//! compact, measure on disk or check.

mod tree;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::rc::Rc;
use std::sync::{Arc, PoisonError, RwLock};

use self::tree::{MAX_ITEM, Tree};
use crate::engine::{
    Capabilities, Engine, Found, KeyRange, ReadBody, ReadOps, ReadTxn, TableStats, Visit,
    WriteOptions, WriteTxn,
};
use crate::engine::{WriterGate, WriterTicket};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// The tables of one state of the database. Cloning the map is O(tables): trees are roots.
type Tables = BTreeMap<String, Tree>;

/// An in-memory [`Engine`]: nothing persists past the last clone of its handle.
///
/// ```
/// use zerotable::{MemoryEngine, Storage};
///
/// let storage = Storage::new(MemoryEngine::new()); // the same as Storage::in_memory()
/// let cache = storage.raw_table::<u64>("cache")?;
/// cache.put(&1, b"one")?;
/// let before = storage.snapshot()?;
/// cache.put(&1, b"uno")?;
/// assert_eq!(cache.get(&1, |v| v.to_vec())?, Some(b"uno".to_vec()));
/// assert_eq!(cache.get_in(&before, &1, |v| v.to_vec())?, Some(b"one".to_vec()));
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
}

impl MemoryEngine {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }
}

/// `memory://`: an empty in-memory database; no location, no options.
pub(super) fn connect(address: super::EngineAddress) -> Result<crate::Storage> {
    if !address.location.is_empty() {
        return Err(address.options.invalid(
            None,
            format!(
                "the memory engine has no location: write memory://, not memory://{}",
                address.location
            ),
        ));
    }
    address.options.finish()?;
    Ok(crate::Storage::new(MemoryEngine::new()))
}

impl Engine for MemoryEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(MemoryRead(self.shared.snapshot())))
    }

    fn begin_write(&self, _options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        let ticket = self.shared.writers.enter()?;
        Ok(Box::new(MemoryWrite {
            base: self.shared.snapshot(),
            touched: RefCell::default(),
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
        match self.0.get(table).and_then(|tree| tree.get(key)) {
            Some(value) => found(value).map(|()| true),
            None => Ok(false),
        }
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        match self.0.get(table) {
            Some(tree) => tree.range(range, visit),
            None => Ok(()),
        }
    }

    fn len(&self, table: &str) -> Result<u64> {
        Ok(self.0.get(table).map_or(0, Tree::len))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.0.keys().cloned().collect())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        Ok(stats(self.0.get(table)))
    }
}

fn stats(tree: Option<&Tree>) -> TableStats {
    tree.map_or_else(TableStats::default, |tree| TableStats {
        entries: tree.len(),
        stored_bytes: tree.stored_bytes(),
    })
}

/// A write transaction's changes to one table's entries, by key: `None` is a deletion.
type Staged = BTreeMap<Box<[u8]>, Option<Box<[u8]>>>;

/// Staged changes of one table beyond which they are applied to the transaction's working tree.
const STAGED_LIMIT: usize = 4096;

/// An entry of [`Staged`], as its iterators yield it.
type StagedEntry<'a> = (&'a Box<[u8]>, &'a Option<Box<[u8]>>);

/// One table as a write transaction sees it: its changes, laid over the committed tree.
#[derive(Debug, Default)]
struct Overlay {
    /// Whether the table exists in this transaction.
    exists: bool,
    /// The committed tree no longer counts (the table was dropped here, maybe re-created):
    /// reads ignore it and the commit removes it before applying `staged`.
    cleared: bool,
    /// Whether anything was written, created or dropped: if not, the commit skips the table.
    changed: bool,
    /// The table as this transaction has changed it so far, once its staged changes outgrew
    /// [`STAGED_LIMIT`]: it replaces the committed tree (and `cleared` no longer matters).
    working: Option<Tree>,
    staged: Staged,
}

impl Overlay {
    /// Applies the staged changes to the working tree (made from `base` first: the committed
    /// tree, `None` if the table was dropped or never existed) once there are too many.
    #[inline]
    fn spill(&mut self, base: Option<&Tree>) {
        if self.staged.len() >= STAGED_LIMIT {
            self.spill_now(base);
        }
    }

    #[cold]
    fn spill_now(&mut self, base: Option<&Tree>) {
        let working = self
            .working
            .get_or_insert_with(|| base.cloned().unwrap_or_default());
        let staged = std::mem::take(&mut self.staged);
        working.apply(staged.iter().map(|(key, value)| (&**key, value.as_deref())));
    }
}

/// Shared with the reads of the table that are running, which hold it borrowed.
type Slot = Rc<RefCell<Overlay>>;

/// A write transaction: its changes are staged per table beside the committed state it began
/// from (which no one else can change meanwhile: it holds the writer ticket) and applied to the
/// committed trees on commit, in place where no snapshot shares them. Not `Send`: it stays on
/// the thread that holds the writer ticket.
struct MemoryWrite {
    /// The committed state it began from. It holds no other reference to the committed trees,
    /// so that dropping this one before the commit leaves them unshared.
    base: Arc<Tables>,
    /// The tables it touched (read or written).
    touched: RefCell<BTreeMap<String, Slot>>,
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

fn too_large(table: &str, operation: Operation) -> Error {
    Error::engine(
        Some(table),
        operation,
        EngineError::of_kind(EngineErrorKind::LimitExceeded),
    )
}

impl MemoryWrite {
    /// `table`'s overlay, empty on first touch.
    fn slot(&self, table: &str) -> Slot {
        if let Some(slot) = self.touched.borrow().get(table) {
            return Rc::clone(slot);
        }
        let slot = Rc::new(RefCell::new(Overlay {
            exists: self.base.contains_key(table),
            ..Overlay::default()
        }));
        self.touched
            .borrow_mut()
            .insert(table.to_owned(), Rc::clone(&slot));
        slot
    }

    /// The committed tree under `overlay`, unless the transaction dropped the table.
    fn committed_tree(&self, table: &str, overlay: &Overlay) -> Option<&Tree> {
        if overlay.cleared {
            None
        } else {
            self.base.get(table)
        }
    }

    /// The tree the staged changes of `overlay` lie over: its working tree, or else the
    /// committed one.
    fn base_tree<'a>(&'a self, table: &str, overlay: &'a Overlay) -> Option<&'a Tree> {
        match &overlay.working {
            Some(working) => Some(working),
            None => self.committed_tree(table, overlay),
        }
    }

    /// Whether `key` is in `table` as this transaction sees it.
    fn contains(&self, table: &str, overlay: &Overlay, key: &[u8]) -> bool {
        match overlay.staged.get(key) {
            Some(value) => value.is_some(),
            None => self
                .base_tree(table, overlay)
                .is_some_and(|tree| tree.get(key).is_some()),
        }
    }
}

impl ReadOps for MemoryWrite {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        let slot = self.slot(table);
        // As in a range: the overlay stays borrowed while the callback runs, so a write to this
        // table from inside it is refused (`InUse`).
        let overlay = slot
            .try_borrow()
            .map_err(|_| in_use(table, Operation::Get))?;
        let value = match overlay.staged.get(key) {
            Some(value) => value.as_deref(),
            None => self
                .base_tree(table, &overlay)
                .and_then(|tree| tree.get(key)),
        };
        match value {
            Some(value) => found(value).map(|()| true),
            None => Ok(false),
        }
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        let slot = self.slot(table);
        // Holding the overlay borrowed for the whole scan is what refuses writes to this table
        // from inside it (they would change what the scan is walking).
        let overlay = slot
            .try_borrow()
            .map_err(|_| in_use(table, Operation::Range))?;
        merge_range(
            self.base_tree(table, &overlay),
            &overlay.staged,
            range,
            visit,
        )
    }

    fn len(&self, table: &str) -> Result<u64> {
        let slot = self.slot(table);
        let overlay = slot
            .try_borrow()
            .map_err(|_| in_use(table, Operation::Len))?;
        let base = self.base_tree(table, &overlay);
        let mut len = base.map_or(0, Tree::len);
        for (key, value) in &overlay.staged {
            let before = base.is_some_and(|tree| tree.get(key).is_some());
            len = len + u64::from(value.is_some()) - u64::from(before);
        }
        Ok(len)
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        let touched = self.touched.borrow();
        let mut names: Vec<String> = self
            .base
            .keys()
            .filter(|name| !touched.contains_key(*name))
            .cloned()
            .collect();
        for (name, slot) in touched.iter() {
            let exists = slot
                .try_borrow()
                .map_err(|_| in_use(name, Operation::ListTables))?
                .exists;
            if exists {
                names.push(name.clone());
            }
        }
        names.sort_unstable();
        Ok(names)
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        let slot = self.slot(table);
        let overlay = slot
            .try_borrow()
            .map_err(|_| in_use(table, Operation::TableStats))?;
        if !overlay.exists {
            return Ok(TableStats::default());
        }
        let base = self.base_tree(table, &overlay);
        let mut stats = stats(base);
        for (key, value) in &overlay.staged {
            if let Some(old) = base.and_then(|tree| tree.get(key)) {
                stats.entries -= 1;
                stats.stored_bytes -= (key.len() + old.len()) as u64;
            }
            if let Some(value) = value {
                stats.entries += 1;
                stats.stored_bytes += (key.len() + value.len()) as u64;
            }
        }
        Ok(stats)
    }
}

impl WriteTxn for MemoryWrite {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        if key.len() > MAX_ITEM || value.len() > MAX_ITEM {
            return Err(too_large(table, Operation::Put));
        }
        let slot = self.slot(table);
        let mut overlay = slot
            .try_borrow_mut()
            .map_err(|_| in_use(table, Operation::Put))?;
        overlay.exists = true;
        overlay.changed = true;
        // One search (a key allocated for nothing when it is staged already, not two searches
        // when it is new).
        *overlay.staged.entry(Box::from(key)).or_default() = Some(Box::from(value));
        let committed = self.committed_tree(table, &overlay);
        overlay.spill(committed);
        Ok(())
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        let slot = self.slot(table);
        let Ok(mut overlay) = slot.try_borrow_mut() else {
            // A read of the table is running: refuse only a deletion that would change it.
            return if self.contains(table, &slot.borrow(), key) {
                Err(in_use(table, Operation::Delete))
            } else {
                Ok(false)
            };
        };
        // Nothing to stage for an absent key (and a missing table stays missing).
        if !self.contains(table, &overlay, key) {
            return Ok(false);
        }
        overlay.changed = true;
        match overlay.staged.get_mut(key) {
            Some(staged) => *staged = None,
            None => {
                overlay.staged.insert(Box::from(key), None);
            }
        }
        let committed = self.committed_tree(table, &overlay);
        overlay.spill(committed);
        Ok(true)
    }

    /// Stages a deletion of each key in the range, found in one walk of the tree and overlay.
    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        let forward = KeyRange {
            start: range.start,
            end: range.end,
            reverse: false,
        };
        let slot = self.slot(table);
        let Ok(mut overlay) = slot.try_borrow_mut() else {
            // A read of the table is running: refuse only a deletion that would change it.
            let overlay = slot.borrow();
            let mut any = false;
            merge_range(
                self.base_tree(table, &overlay),
                &overlay.staged,
                &forward,
                &mut |_, _| {
                    any = true;
                    Ok(ControlFlow::Break(()))
                },
            )?;
            return if any {
                Err(in_use(table, Operation::DeleteRange))
            } else {
                Ok(0)
            };
        };
        if forward.is_empty() {
            return Ok(0);
        }
        let overlay = &mut *overlay;
        let base = match &overlay.working {
            Some(working) => Some(working),
            None => self.committed_tree(table, overlay),
        };
        let staged = &mut overlay.staged;
        let mut removed = 0u64;
        if let Some(tree) = base {
            tree.range(&forward, &mut |key, _| {
                match staged.get_mut(key) {
                    Some(value) => removed += u64::from(value.take().is_some()),
                    None => {
                        staged.insert(Box::from(key), None);
                        removed += 1;
                    }
                }
                Ok(ControlFlow::Continue(()))
            })?;
        }
        // What is left: keys put by this transaction that the committed tree lacks.
        for (_, value) in staged.range_mut::<[u8], _>(forward.bounds()) {
            removed += u64::from(value.take().is_some());
        }
        if removed > 0 {
            overlay.changed = true;
        }
        let committed = self.committed_tree(table, overlay);
        overlay.spill(committed);
        Ok(removed)
    }

    fn create_table(&self, table: &str) -> Result<()> {
        let slot = self.slot(table);
        if slot.try_borrow().is_ok_and(|overlay| overlay.exists) {
            return Ok(());
        }
        let mut overlay = slot
            .try_borrow_mut()
            .map_err(|_| in_use(table, Operation::CreateTable))?;
        // A table dropped earlier in this transaction comes back empty (`cleared` stays set).
        overlay.exists = true;
        overlay.changed = true;
        Ok(())
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        let slot = self.slot(table);
        let mut overlay = slot
            .try_borrow_mut()
            .map_err(|_| in_use(table, Operation::DropTable))?;
        let existed = overlay.exists;
        overlay.exists = false;
        overlay.cleared = true;
        overlay.changed = true;
        overlay.working = None;
        overlay.staged = Staged::new();
        Ok(existed)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let MemoryWrite {
            base,
            touched,
            shared,
            _ticket,
        } = *self;
        // Release this transaction's own reference to the state it began from *before*
        // applying: then the map and the nodes of its trees are changed in place unless a
        // snapshot still shares them (those are copied, one path per change).
        drop(base);
        let mut changes: Vec<(String, Overlay)> = touched
            .into_inner()
            .into_iter()
            .map(|(name, slot)| (name, slot.take()))
            .filter(|(_, overlay)| overlay.changed)
            .map(|(name, mut overlay)| {
                // A working tree is this transaction's own: finish it before taking the lock.
                if let Some(working) = &mut overlay.working {
                    let staged = std::mem::take(&mut overlay.staged);
                    working.apply(staged.iter().map(|(key, value)| (&**key, value.as_deref())));
                }
                (name, overlay)
            })
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        // The trees replaced and the staged changes are freed after the lock is released: a
        // dropped table's tree can be large.
        let mut replaced: Vec<Tree> = Vec::new();
        {
            let mut committed = shared
                .committed
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let tables = Arc::make_mut(&mut committed);
            for (name, overlay) in &mut changes {
                if overlay.cleared || overlay.working.is_some() {
                    replaced.extend(tables.remove(name));
                }
                if !overlay.exists {
                    continue;
                }
                if let Some(working) = overlay.working.take() {
                    tables.insert(name.clone(), working);
                }
                let tree = match tables.get_mut(name) {
                    Some(tree) => tree,
                    None => tables.entry(name.clone()).or_default(),
                };
                tree.apply(
                    overlay
                        .staged
                        .iter()
                        .map(|(key, value)| (&**key, value.as_deref())),
                );
            }
        }
        drop(replaced);
        drop(changes);
        Ok(())
    }
}

/// Walks `range` over `base` with `staged` changes laid over it, in the range's direction: on
/// equal keys the staged change wins, and staged deletions hide their keys.
fn merge_range(
    base: Option<&Tree>,
    staged: &Staged,
    range: &KeyRange<'_>,
    visit: &mut Visit<'_>,
) -> Result<()> {
    if range.is_empty() {
        return Ok(());
    }
    let over = staged.range::<[u8], _>(range.bounds());
    let (mut forward, mut backward);
    let over: &mut dyn Iterator<Item = StagedEntry<'_>> = if range.reverse {
        backward = over.rev();
        &mut backward
    } else {
        forward = over;
        &mut forward
    };
    let mut over = over.peekable();
    if over.peek().is_none() {
        return base.map_or(Ok(()), |tree| tree.range(range, visit));
    }
    let reverse = range.reverse;
    // Whether key `a` comes before key `b` in walking order.
    let first = |a: &[u8], b: &[u8]| if reverse { a > b } else { a < b };
    let mut stopped = false;
    if let Some(tree) = base {
        tree.range(range, &mut |key, value| {
            while let Some((k, v)) = over.next_if(|(k, _)| first(k, key)) {
                if let Some(v) = v
                    && visit(k, v)?.is_break()
                {
                    stopped = true;
                    return Ok(ControlFlow::Break(()));
                }
            }
            let value = match over.next_if(|(k, _)| ***k == *key) {
                Some((_, Some(staged))) => &**staged,
                Some((_, None)) => return Ok(ControlFlow::Continue(())),
                None => value,
            };
            let flow = visit(key, value)?;
            stopped = flow.is_break();
            Ok(flow)
        })?;
    }
    if !stopped {
        for (key, value) in over {
            if let Some(value) = value
                && visit(key, value)?.is_break()
            {
                break;
            }
        }
    }
    Ok(())
}
