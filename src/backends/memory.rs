//! [`Database`] in memory: ordered maps with redb's semantics (snapshots, one writer at a time).
//!
//! The committed state is an immutable, reference-counted map of tables. A snapshot is one
//! reference-count increment; a commit swaps in a new state, copying only what it changes
//! (copy-on-write: a table that a live snapshot still shares is copied once by the first write
//! to it). Values are reference counted too, so a point read clones a pointer under a brief
//! lock and runs the caller's callback with no lock held: callbacks may panic, or read and
//! write the same database, without poisoning or deadlocking anything.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock};

use super::writer_gate::{WriterGate, WriterTicket};

use crate::database::{
    Database, Durability, KeyRange, ReadTransaction, ScanVisitor, TableStats, WriteTransaction,
};
use crate::error::Result;

type TableMap = BTreeMap<Box<[u8]>, Arc<[u8]>>;
type Tables = BTreeMap<String, Arc<TableMap>>;
/// A write transaction's pending changes to one table: `None` marks a deletion.
type Staged = BTreeMap<Box<[u8]>, Option<Arc<[u8]>>>;

/// An in-memory [`Database`]: nothing persists past the last clone of its `Arc`.
#[derive(Debug, Default)]
pub struct MemoryDatabase {
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
    fn commit<R>(&self, change: impl FnOnce(&mut Tables) -> R) -> R {
        let mut committed = self
            .committed
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        change(Arc::make_mut(&mut committed))
    }
}

impl MemoryDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Database for MemoryDatabase {
    fn begin_read(&self) -> Result<Box<dyn ReadTransaction>> {
        Ok(Box::new(MemoryRead(self.shared.snapshot())))
    }

    fn begin_write(&self, _durability: Option<Durability>) -> Result<Box<dyn WriteTransaction>> {
        let ticket = self.shared.writers.enter("*")?;
        Ok(Box::new(MemoryWrite {
            shared: Arc::clone(&self.shared),
            _ticket: ticket,
            base: self.shared.snapshot(),
            staged: BTreeMap::new(),
            created: BTreeSet::new(),
            dropped: BTreeSet::new(),
        }))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        Ok(self.shared.snapshot().keys().cloned().collect())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        let snapshot = self.shared.snapshot();
        let Some(map) = snapshot.get(table) else {
            return Ok(TableStats::default());
        };
        Ok(TableStats {
            entries: map.len() as u64,
            stored_bytes: map.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum(),
        })
    }

    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        // Clone the value's pointer under the lock; run the callback after releasing it.
        let value = {
            let committed = self
                .shared
                .committed
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            committed.get(table).and_then(|map| map.get(key).cloned())
        };
        Ok(value.map(|value| found(&value)).is_some())
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut ScanVisitor<'_>) -> Result<()> {
        MemoryRead(self.shared.snapshot()).range(table, range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        MemoryRead(self.shared.snapshot()).len(table)
    }
}

/// A snapshot: the committed state when it began.
struct MemoryRead(Arc<Tables>);

impl ReadTransaction for MemoryRead {
    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        let value = self.0.get(table).and_then(|map| map.get(key));
        Ok(value.map(|value| found(value)).is_some())
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut ScanVisitor<'_>) -> Result<()> {
        merge_range(self.0.get(table).map(|m| &**m), None, range, visit);
        Ok(())
    }

    fn len(&self, table: &str) -> Result<u64> {
        Ok(self.0.get(table).map_or(0, |map| map.len() as u64))
    }
}

/// A write transaction: changes are staged beside the state it began from (which no one else
/// can change meanwhile: it holds the writer ticket) and applied on commit.
struct MemoryWrite {
    base: Arc<Tables>,
    staged: BTreeMap<String, Staged>,
    created: BTreeSet<String>,
    /// Tables dropped by this transaction: reads ignore their base content.
    dropped: BTreeSet<String>,
    shared: Arc<Shared>,
    /// Held until the transaction ends: no other writer can change `base` meanwhile.
    _ticket: WriterTicket,
}

impl MemoryWrite {
    fn base_table(&self, table: &str) -> Option<&TableMap> {
        if self.dropped.contains(table) {
            return None;
        }
        self.base.get(table).map(|m| &**m)
    }

    fn staged_table(&mut self, table: &str) -> &mut Staged {
        if !self.staged.contains_key(table) {
            self.staged.insert(table.to_owned(), Staged::new());
        }
        self.staged.get_mut(table).expect("inserted above")
    }

    fn exists(&self, table: &str, key: &[u8]) -> bool {
        match self.staged.get(table).and_then(|s| s.get(key)) {
            Some(staged) => staged.is_some(),
            None => self.base_table(table).is_some_and(|m| m.contains_key(key)),
        }
    }
}

impl WriteTransaction for MemoryWrite {
    fn get(&mut self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        let value = match self.staged.get(table).and_then(|s| s.get(key)) {
            Some(staged) => staged.as_ref(),
            None => self.base_table(table).and_then(|m| m.get(key)),
        };
        Ok(value.map(|value| found(value)).is_some())
    }

    fn range(
        &mut self,
        table: &str,
        range: &KeyRange<'_>,
        visit: &mut ScanVisitor<'_>,
    ) -> Result<()> {
        merge_range(self.base_table(table), self.staged.get(table), range, visit);
        Ok(())
    }

    fn len(&mut self, table: &str) -> Result<u64> {
        let base = self.base_table(table);
        let mut len = base.map_or(0, |m| m.len() as i64);
        for (key, value) in self.staged.get(table).into_iter().flatten() {
            let before = base.is_some_and(|m| m.contains_key(key));
            len += i64::from(value.is_some()) - i64::from(before);
        }
        Ok(len as u64)
    }

    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.staged_table(table)
            .insert(Box::from(key), Some(Arc::from(value)));
        Ok(())
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> Result<bool> {
        let existed = self.exists(table, key);
        // Nothing to stage for an absent key, and staging would create a missing table.
        if existed {
            self.staged_table(table).insert(Box::from(key), None);
        }
        Ok(existed)
    }

    fn create_table(&mut self, table: &str) -> Result<()> {
        // If the table was dropped earlier in this transaction it stays in `dropped`, so its
        // old entries stay hidden and the commit removes them before re-creating it.
        self.created.insert(table.to_owned());
        Ok(())
    }

    fn drop_table(&mut self, table: &str) -> Result<bool> {
        let existed = self.created.contains(table)
            || self.staged.contains_key(table)
            || (!self.dropped.contains(table) && self.base.contains_key(table));
        self.created.remove(table);
        self.staged.remove(table);
        self.dropped.insert(table.to_owned());
        Ok(existed)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let MemoryWrite {
            base,
            staged,
            created,
            dropped,
            shared,
            _ticket,
        } = *self;
        // Release this transaction's own reference to the state it began from *before*
        // applying: while it is held, every table the commit touches looks shared and would be
        // copied whole (copy-on-write), making each commit O(table size).
        drop(base);
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
    visit: &mut ScanVisitor<'_>,
) {
    if range.is_empty() {
        return;
    }
    let bounds: (Bound<&[u8]>, Bound<&[u8]>) = range.bounds();
    let empty_base = TableMap::new();
    let empty_staged = Staged::new();
    let base = base.unwrap_or(&empty_base).range::<[u8], _>(bounds);
    let staged = staged.unwrap_or(&empty_staged).range::<[u8], _>(bounds);
    let base = base.map(|(k, v)| (&**k, Some(v)));
    let staged = staged.map(|(k, v)| (&**k, v.as_ref()));
    if range.reverse {
        merge(base.rev(), staged.rev(), |a, b| a > b, visit);
    } else {
        merge(base, staged, |a, b| a < b, visit);
    }
}

/// Merges two key-ordered streams; on equal keys the overlay wins, and `None` values (deletions)
/// are skipped. `first(a, b)` says whether key `a` comes before key `b` in walking order.
fn merge<'m>(
    base: impl Iterator<Item = (&'m [u8], Option<&'m Arc<[u8]>>)>,
    overlay: impl Iterator<Item = (&'m [u8], Option<&'m Arc<[u8]>>)>,
    first: impl Fn(&[u8], &[u8]) -> bool,
    visit: &mut ScanVisitor<'_>,
) {
    let mut base = base.peekable();
    let mut overlay = overlay.peekable();
    loop {
        let (key, value) = match (base.peek(), overlay.peek()) {
            (None, None) => return,
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
            && visit(key, value).is_break()
        {
            return;
        }
    }
}
