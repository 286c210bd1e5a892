//! [`Database`] over a redb file: the embedded default.
//!
//! Every zerotable table is a redb table of `&[u8] → &[u8]` with the same name. Reads open a
//! read transaction and hand the access guard's bytes to the caller's callback, so a typed read
//! touches the value where it sits in redb's page cache.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableError};

use crate::database::{BatchFill, BatchWriter, Database, ScanVisitor};
use crate::error::{Error, Result};

/// How hard a commit works to reach the disk before returning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit is fsynced before it returns: an acknowledged write survives power loss.
    #[default]
    Immediate,
    /// Commits are not fsynced: far faster, but a crash loses every commit since the last
    /// `Immediate` one (the file itself stays consistent).
    None,
}

impl From<Durability> for redb::Durability {
    fn from(durability: Durability) -> Self {
        match durability {
            Durability::Immediate => redb::Durability::Immediate,
            Durability::None => redb::Durability::None,
        }
    }
}

/// Settings for opening a [`RedbDatabase`].
#[derive(Clone, Debug, Default)]
pub struct RedbOptions {
    /// Page cache size in bytes; `None` keeps redb's default.
    pub cache_size: Option<usize>,
    /// Durability of every commit this database makes.
    pub durability: Durability,
}

impl RedbOptions {
    /// Sets the page cache size in bytes.
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = Some(bytes);
        self
    }

    /// Sets the durability of commits.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

/// A redb database file behind the [`Database`] trait.
pub struct RedbDatabase {
    db: redb::Database,
    durability: redb::Durability,
}

impl std::fmt::Debug for RedbDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbDatabase")
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

fn definition(table: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(table)
}

/// Maps any redb error to [`Error::Engine`], keeping redb's error as the source.
fn engine<E: Into<redb::Error>>(table: &str, operation: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::engine(table, operation, e.into())
}

impl RedbDatabase {
    /// Opens the redb file at `path`, creating it if it does not exist, with default options
    /// (redb's default cache, [`Durability::Immediate`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, RedbOptions::default())
    }

    /// Opens or creates the redb file at `path` with `options`.
    pub fn open_with(path: impl AsRef<Path>, options: RedbOptions) -> Result<Self> {
        let path = path.as_ref();
        let mut builder = redb::Database::builder();
        if let Some(bytes) = options.cache_size {
            builder.set_cache_size(bytes);
        }
        let db = builder.create(path).map_err(|e| Error::Open {
            path: path.to_owned(),
            source: redb::Error::from(e).into(),
        })?;
        Ok(Self::from_redb(db, options.durability))
    }

    /// Wraps an already opened redb database (for example one on a custom storage backend).
    pub fn from_redb(db: redb::Database, durability: Durability) -> Self {
        RedbDatabase {
            db,
            durability: durability.into(),
        }
    }

    /// The underlying redb database, for what zerotable does not cover.
    pub fn redb(&self) -> &redb::Database {
        &self.db
    }

    /// Runs `body` on `table` in a read transaction; a table never created reads as `absent`.
    fn read_table<R>(
        &self,
        table: &str,
        operation: &'static str,
        absent: R,
        body: impl FnOnce(&redb::ReadOnlyTable<&'static [u8], &'static [u8]>) -> Result<R>,
    ) -> Result<R> {
        let txn = self.db.begin_read().map_err(engine(table, operation))?;
        match txn.open_table(definition(table)) {
            Ok(handle) => body(&handle),
            Err(TableError::TableDoesNotExist(_)) => Ok(absent),
            Err(e) => Err(engine(table, operation)(e)),
        }
    }

    /// Runs `body` on `table` in a write transaction and commits if it succeeds.
    fn write_table<R>(
        &self,
        table: &str,
        operation: &'static str,
        body: impl FnOnce(&mut redb::Table<'_, &'static [u8], &'static [u8]>) -> Result<R>,
    ) -> Result<R> {
        let mut txn = self.db.begin_write().map_err(engine(table, operation))?;
        txn.set_durability(self.durability)
            .map_err(|e| Error::engine(table, operation, e))?;
        let result = {
            let mut handle = txn
                .open_table(definition(table))
                .map_err(engine(table, operation))?;
            body(&mut handle)?
        };
        // An early return above drops `txn` uncommitted, which makes redb roll it back.
        txn.commit().map_err(engine(table, operation))?;
        Ok(result)
    }
}

impl Database for RedbDatabase {
    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        self.read_table(table, "get", false, |handle| {
            match handle.get(key).map_err(engine(table, "get"))? {
                Some(guard) => {
                    found(guard.value());
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.write_table(table, "put", |handle| {
            handle.insert(key, value).map_err(engine(table, "put"))?;
            Ok(())
        })
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.write_table(table, "delete", |handle| {
            let removed = handle.remove(key).map_err(engine(table, "delete"))?;
            Ok(removed.is_some())
        })
    }

    fn write_batch(&self, table: &str, fill: &mut BatchFill<'_>) -> Result<()> {
        self.write_table(table, "batch", |handle| {
            fill(&mut RedbBatch { table, handle })
        })
    }

    fn scan(&self, table: &str, visit: &mut ScanVisitor<'_>) -> Result<()> {
        self.read_table(table, "scan", (), |handle| {
            for entry in handle.iter().map_err(engine(table, "scan"))? {
                let (key, value) = entry.map_err(engine(table, "scan"))?;
                if visit(key.value(), value.value()).is_break() {
                    break;
                }
            }
            Ok(())
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.read_table(table, "len", 0, |handle| {
            handle.len().map_err(engine(table, "len"))
        })
    }
}

/// The open table of a `write_batch` transaction.
struct RedbBatch<'h, 't> {
    table: &'h str,
    handle: &'h mut redb::Table<'t, &'static [u8], &'static [u8]>,
}

impl BatchWriter for RedbBatch<'_, '_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.handle
            .insert(key, value)
            .map_err(engine(self.table, "batch"))?;
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool> {
        let removed = self
            .handle
            .remove(key)
            .map_err(engine(self.table, "batch"))?;
        Ok(removed.is_some())
    }
}
