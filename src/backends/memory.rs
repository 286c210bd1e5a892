//! [`Database`] in memory: ordered maps behind a lock, with the same semantics as redb.
//!
//! Values are reference counted so a read clones a pointer under a brief lock and then runs
//! the caller's callback with no lock held: callbacks may panic, or read and write the same
//! database, without poisoning or deadlocking anything. A scan holds its own reference to the
//! table's map, which gives it a consistent view; a write that lands while a scan holds that
//! view copies the table first (copy-on-write), so writers never wait for readers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::database::{BatchFill, BatchWriter, Database, ScanVisitor};
use crate::error::Result;

type TableMap = BTreeMap<Box<[u8]>, Arc<[u8]>>;

/// An in-memory [`Database`]: nothing persists past the last clone of its `Arc`.
#[derive(Debug, Default)]
pub struct MemoryDatabase {
    tables: RwLock<HashMap<String, Arc<TableMap>>>,
    /// Serializes writers, as redb does, so a batch sees a table no other writer changes under it.
    writer: Mutex<()>,
}

impl MemoryDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    // Lock poisoning is ignored on purpose: no caller code ever runs while these locks are held,
    // and every mutation below is a single map operation, so a poisoned lock cannot guard a
    // half-applied change.
    fn read_tables(&self) -> RwLockReadGuard<'_, HashMap<String, Arc<TableMap>>> {
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_tables(&self) -> RwLockWriteGuard<'_, HashMap<String, Arc<TableMap>>> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn value(&self, table: &str, key: &[u8]) -> Option<Arc<[u8]>> {
        self.read_tables().get(table)?.get(key).cloned()
    }

    fn snapshot(&self, table: &str) -> Option<Arc<TableMap>> {
        self.read_tables().get(table).cloned()
    }

    /// Applies `change` to `table`'s map under the table lock.
    fn mutate<R>(&self, table: &str, change: impl FnOnce(&mut TableMap) -> R) -> R {
        let mut tables = self.write_tables();
        let map = match tables.get_mut(table) {
            Some(map) => map,
            None => tables.entry(table.to_owned()).or_default(),
        };
        change(Arc::make_mut(map))
    }
}

impl Database for MemoryDatabase {
    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.value(table, key) {
            Some(value) => {
                found(&value);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let _writer = self.lock_writer();
        let value: Arc<[u8]> = Arc::from(value);
        self.mutate(table, |map| map.insert(Box::from(key), value));
        Ok(())
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        let _writer = self.lock_writer();
        if self.value(table, key).is_none() {
            return Ok(false);
        }
        Ok(self.mutate(table, |map| map.remove(key).is_some()))
    }

    fn write_batch(&self, table: &str, fill: &mut BatchFill<'_>) -> Result<()> {
        let _writer = self.lock_writer();
        let mut batch = MemoryBatch {
            db: self,
            table,
            staged: BTreeMap::new(),
        };
        // Writes are staged and applied only after `fill` succeeds: an error or a panic in it
        // leaves the table untouched.
        fill(&mut batch)?;
        let staged = batch.staged;
        if staged.is_empty() {
            return Ok(());
        }
        self.mutate(table, |map| {
            for (key, value) in staged {
                match value {
                    Some(value) => map.insert(key, value),
                    None => map.remove(&key),
                };
            }
        });
        Ok(())
    }

    fn scan(&self, table: &str, visit: &mut ScanVisitor<'_>) -> Result<()> {
        let Some(snapshot) = self.snapshot(table) else {
            return Ok(());
        };
        for (key, value) in snapshot.iter() {
            if visit(key, value).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn len(&self, table: &str) -> Result<u64> {
        Ok(self
            .read_tables()
            .get(table)
            .map_or(0, |map| map.len() as u64))
    }
}

/// Staged writes of one batch: `None` marks a deletion.
struct MemoryBatch<'d> {
    db: &'d MemoryDatabase,
    table: &'d str,
    staged: BTreeMap<Box<[u8]>, Option<Arc<[u8]>>>,
}

impl BatchWriter for MemoryBatch<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.staged.insert(Box::from(key), Some(Arc::from(value)));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let existed = match self.staged.get(key) {
            Some(staged) => staged.is_some(),
            None => self.db.value(self.table, key).is_some(),
        };
        self.staged.insert(Box::from(key), None);
        Ok(existed)
    }
}
