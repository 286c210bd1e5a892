//! [`Database`] over a redb file: the embedded default.
//!
//! Every zerotable table is a redb table of `&[u8] → &[u8]` with the same name. Reads open a
//! read transaction and hand the access guard's bytes to the caller's callback, so a typed read
//! touches the value where it sits in redb's page cache. redb's MVCC gives snapshots and
//! serialized writers directly.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use super::writer_gate::{WriterGate, WriterTicket};

use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableError,
    TableHandle,
};

use crate::database::{
    BatchFill, BatchWriter, Database, Durability, KeyRange, ReadTransaction, ScanVisitor,
    TableStats, WriteBody, WriteTransaction,
};
use crate::error::{BoxError, Error, Result};

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
    /// Durability of every commit this database makes, unless a transaction overrides it.
    pub durability: Durability,
}

impl RedbOptions {
    /// Sets the page cache size in bytes.
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = Some(bytes);
        self
    }

    /// Sets the default durability of commits.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

/// A redb database file behind the [`Database`] trait.
pub struct RedbDatabase {
    // Only `compact` needs `&mut redb::Database`; everything else takes the read side just long
    // enough to begin a transaction (transactions do not borrow the database).
    db: RwLock<redb::Database>,
    /// Makes a same-thread nested write an error instead of a deadlock inside redb.
    writers: Arc<WriterGate>,
    path: Option<PathBuf>,
    durability: Durability,
}

impl std::fmt::Debug for RedbDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbDatabase")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

type Bytes = &'static [u8];

fn definition(table: &str) -> TableDefinition<'_, Bytes, Bytes> {
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
        let open_error = |source: BoxError| Error::Open {
            path: path.to_owned(),
            source,
        };
        create_atomically(path, &builder).map_err(open_error)?;
        // redb 4.5 can panic (an `unreachable!`) instead of returning an error when a file's
        // header is intact but its pages are not: report that as the open error it is.
        let opened =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.create(path)))
                .map_err(|panic| open_error(damaged(panic).into()))?;
        let db = opened.map_err(|e| open_error(redb::Error::from(e).into()))?;
        let mut this = Self::from_redb(db, options.durability);
        this.path = Some(path.to_owned());
        Ok(this)
    }

    /// Wraps an already opened redb database (for example one on a custom storage backend).
    /// [`size_on_disk`](Database::size_on_disk) is unknown for it.
    pub fn from_redb(db: redb::Database, durability: Durability) -> Self {
        RedbDatabase {
            db: RwLock::new(db),
            writers: Arc::default(),
            path: None,
            durability,
        }
    }

    /// The underlying redb database, for what zerotable does not cover. Holding the guard
    /// makes [`compact`](Database::compact) wait.
    pub fn redb(&self) -> RwLockReadGuard<'_, redb::Database> {
        // No caller code runs under this lock, so poisoning cannot mean a broken invariant.
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_txn(&self, table: &str, operation: &'static str) -> Result<redb::ReadTransaction> {
        self.redb().begin_read().map_err(engine(table, operation))
    }

    /// Begins a redb write transaction, after entering the writer gate (returned: keep it for
    /// as long as the transaction lives).
    fn write_txn(
        &self,
        table: &str,
        operation: &'static str,
        durability: Option<Durability>,
    ) -> Result<(redb::WriteTransaction, WriterTicket)> {
        let ticket = self.writers.enter(table)?;
        let mut txn = self
            .redb()
            .begin_write()
            .map_err(engine(table, operation))?;
        txn.set_durability(durability.unwrap_or(self.durability).into())
            .map_err(|e| Error::engine(table, operation, e))?;
        Ok((txn, ticket))
    }

    /// Runs `body` on `table` in a write transaction and commits if it succeeds.
    fn write_table<R>(
        &self,
        table: &str,
        operation: &'static str,
        body: impl FnOnce(&mut redb::Table<'_, Bytes, Bytes>) -> Result<R>,
    ) -> Result<R> {
        let (txn, _ticket) = self.write_txn(table, operation, None)?;
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
    fn begin_read(&self) -> Result<Box<dyn ReadTransaction>> {
        Ok(Box::new(RedbRead(self.read_txn("*", "begin_read")?)))
    }

    fn begin_write(&self, durability: Option<Durability>) -> Result<Box<dyn WriteTransaction>> {
        let (txn, ticket) = self.write_txn("*", "begin_write", durability)?;
        Ok(Box::new(RedbWrite {
            txn,
            known: KnownTables::default(),
            _ticket: ticket,
        }))
    }

    fn write(&self, durability: Option<Durability>, body: &mut WriteBody<'_>) -> Result<()> {
        let (txn, _ticket) = self.write_txn("*", "write", durability)?;
        {
            let mut scoped = ScopedWrite {
                txn: &txn,
                open: HashMap::new(),
                known: KnownTables::default(),
            };
            body(&mut scoped)?;
            // `scoped` (its open table handles) ends here, before the commit needs `txn` back.
        }
        txn.commit().map_err(engine("*", "commit"))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        let txn = self.read_txn("*", "list_tables")?;
        let tables = txn.list_tables().map_err(engine("*", "list_tables"))?;
        let mut names: Vec<String> = tables.map(|t| t.name().to_owned()).collect();
        names.sort();
        Ok(names)
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        let txn = self.read_txn(table, "stats")?;
        read_table(&txn, table, "stats", TableStats::default(), |handle| {
            let stats = handle.stats().map_err(engine(table, "stats"))?;
            Ok(TableStats {
                entries: handle.len().map_err(engine(table, "stats"))?,
                stored_bytes: stats.stored_bytes(),
            })
        })
    }

    fn size_on_disk(&self) -> Result<Option<u64>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let metadata = std::fs::metadata(path).map_err(|e| Error::engine("*", "size", e))?;
        Ok(Some(metadata.len()))
    }

    fn compact(&self) -> Result<bool> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        db.compact().map_err(engine("*", "compact"))
    }

    fn flush(&self) -> Result<()> {
        // An empty commit with immediate durability makes every earlier commit durable.
        let (txn, _ticket) = self.write_txn("*", "flush", Some(Durability::Immediate))?;
        txn.commit().map_err(engine("*", "flush"))
    }

    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        get(&self.read_txn(table, "get")?, table, key, found)
    }

    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.write_table(table, "put", |handle| {
            handle.insert(key, value).map_err(engine(table, "put"))?;
            Ok(())
        })
    }

    // `delete` keeps the trait's default (through a transaction that knows which tables exist):
    // deleting from a missing table must not create it.

    fn write_batch(&self, table: &str, fill: &mut BatchFill<'_>) -> Result<()> {
        // One open table handle for the whole batch, instead of one lookup per write.
        self.write_table(table, "batch", |handle| {
            fill(&mut RedbBatch { table, handle })
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut ScanVisitor<'_>) -> Result<()> {
        range_over(&self.read_txn(table, "range")?, table, range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        len(&self.read_txn(table, "len")?, table)
    }
}

/// The error for a file whose opening made redb panic: it is damaged.
fn damaged(panic: Box<dyn std::any::Any + Send>) -> redb::Error {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    redb::Error::Corrupted(format!("redb failed while opening the file: {message}"))
}

/// Creates a new database file at `path` so that it appears complete or not at all.
///
/// redb initialises a new file in place and writes the bytes that mark it as a redb file last:
/// a process killed in between leaves a file that every later open refuses. So a new database
/// is initialised under a temporary name beside `path`, synced, and then hard-linked into place
/// (a link, unlike a rename, never replaces a file another process created meanwhile).
fn create_atomically(path: &Path, builder: &redb::Builder) -> std::result::Result<(), BoxError> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(()); // exists: redb opens it (an empty file is initialised by redb itself)
    }
    let Some(name) = path.file_name() else {
        return Ok(()); // not a file path: let redb report it
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.creating", std::process::id()));
    let temp = dir.join(temp_name);
    let created = (|| -> std::result::Result<(), BoxError> {
        drop(builder.create(&temp).map_err(redb::Error::from)?);
        std::fs::File::open(&temp)?.sync_all()?;
        match std::fs::hard_link(&temp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A file system without hard links: a rename is atomic too, it just could replace a
            // file created by another process in the last instant.
            Err(_) if std::fs::symlink_metadata(path).is_err() => std::fs::rename(&temp, path)?,
            Err(e) => return Err(e.into()),
        }
        // Make the new directory entry durable too (not possible on every platform).
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&temp);
    created
}

/// Runs `body` on `table` of a read transaction; a table never created reads as `absent`.
fn read_table<R>(
    txn: &redb::ReadTransaction,
    table: &str,
    operation: &'static str,
    absent: R,
    body: impl FnOnce(&redb::ReadOnlyTable<Bytes, Bytes>) -> Result<R>,
) -> Result<R> {
    match txn.open_table(definition(table)) {
        Ok(handle) => body(&handle),
        Err(TableError::TableDoesNotExist(_)) => Ok(absent),
        Err(e) => Err(engine(table, operation)(e)),
    }
}

fn get(
    txn: &redb::ReadTransaction,
    table: &str,
    key: &[u8],
    found: &mut dyn FnMut(&[u8]),
) -> Result<bool> {
    read_table(txn, table, "get", false, |handle| {
        get_in(handle, table, key, found)
    })
}

fn range_over(
    txn: &redb::ReadTransaction,
    table: &str,
    range: &KeyRange<'_>,
    visit: &mut ScanVisitor<'_>,
) -> Result<()> {
    read_table(txn, table, "range", (), |handle| {
        range_in(handle, table, range, visit)
    })
}

fn len(txn: &redb::ReadTransaction, table: &str) -> Result<u64> {
    read_table(txn, table, "len", 0, |handle| {
        handle.len().map_err(engine(table, "len"))
    })
}

/// A get on any readable redb table (read-only or inside a write transaction).
fn get_in(
    handle: &impl ReadableTable<Bytes, Bytes>,
    table: &str,
    key: &[u8],
    found: &mut dyn FnMut(&[u8]),
) -> Result<bool> {
    match handle.get(key).map_err(engine(table, "get"))? {
        Some(guard) => {
            found(guard.value());
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A range walk on any readable redb table.
fn range_in(
    handle: &impl ReadableTable<Bytes, Bytes>,
    table: &str,
    range: &KeyRange<'_>,
    visit: &mut ScanVisitor<'_>,
) -> Result<()> {
    if range.is_empty() {
        return Ok(());
    }
    let entries = handle
        .range::<&[u8]>(range.bounds())
        .map_err(engine(table, "range"))?;
    let mut step = |entry: std::result::Result<_, redb::StorageError>| -> Result<bool> {
        let (key, value): (redb::AccessGuard<Bytes>, redb::AccessGuard<Bytes>) =
            entry.map_err(engine(table, "range"))?;
        Ok(visit(key.value(), value.value()).is_continue())
    };
    if range.reverse {
        for entry in entries.rev() {
            if !step(entry)? {
                break;
            }
        }
    } else {
        for entry in entries {
            if !step(entry)? {
                break;
            }
        }
    }
    Ok(())
}

/// A redb read transaction as a zerotable snapshot.
struct RedbRead(redb::ReadTransaction);

impl ReadTransaction for RedbRead {
    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        get(&self.0, table, key, found)
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut ScanVisitor<'_>) -> Result<()> {
        range_over(&self.0, table, range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        len(&self.0, table)
    }
}

/// The tables that exist in a write transaction, loaded on first need: opening a table in a
/// redb write transaction creates it, and reads and deletes must not create tables.
#[derive(Default)]
struct KnownTables(Option<HashSet<String>>);

impl KnownTables {
    fn contains(&mut self, txn: &redb::WriteTransaction, table: &str) -> Result<bool> {
        if self.0.is_none() {
            let tables = txn.list_tables().map_err(engine(table, "list_tables"))?;
            self.0 = Some(tables.map(|t| t.name().to_owned()).collect());
        }
        Ok(self.0.as_ref().is_some_and(|set| set.contains(table)))
    }

    fn created(&mut self, table: &str) {
        if let Some(set) = &mut self.0
            && !set.contains(table)
        {
            set.insert(table.to_owned());
        }
    }

    fn dropped(&mut self, table: &str) {
        if let Some(set) = &mut self.0 {
            set.remove(table);
        }
    }
}

/// Implements [`WriteTransaction`] for a type with `with_table` (open, creating if needed),
/// `exists` and `release` (close any cached handle) methods.
macro_rules! redb_write_transaction {
    ($type:ty) => {
        impl WriteTransaction for $type {
            fn get(
                &mut self,
                table: &str,
                key: &[u8],
                found: &mut dyn FnMut(&[u8]),
            ) -> Result<bool> {
                if !self.exists(table)? {
                    return Ok(false);
                }
                self.with_table(table, "get", |handle| get_in(handle, table, key, found))
            }

            fn range(
                &mut self,
                table: &str,
                range: &KeyRange<'_>,
                visit: &mut ScanVisitor<'_>,
            ) -> Result<()> {
                if !self.exists(table)? {
                    return Ok(());
                }
                self.with_table(table, "range", |handle| {
                    range_in(handle, table, range, visit)
                })
            }

            fn len(&mut self, table: &str) -> Result<u64> {
                if !self.exists(table)? {
                    return Ok(0);
                }
                self.with_table(table, "len", |handle| {
                    handle.len().map_err(engine(table, "len"))
                })
            }

            fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
                self.with_table(table, "put", |handle| {
                    handle.insert(key, value).map_err(engine(table, "put"))?;
                    Ok(())
                })
            }

            fn delete(&mut self, table: &str, key: &[u8]) -> Result<bool> {
                if !self.exists(table)? {
                    return Ok(false);
                }
                self.with_table(table, "delete", |handle| {
                    let removed = handle.remove(key).map_err(engine(table, "delete"))?;
                    Ok(removed.is_some())
                })
            }

            fn create_table(&mut self, table: &str) -> Result<()> {
                self.with_table(table, "create_table", |_| Ok(()))
            }

            fn drop_table(&mut self, table: &str) -> Result<bool> {
                self.release(table);
                self.known.dropped(table);
                self.txn()
                    .delete_table(definition(table))
                    .map_err(engine(table, "drop_table"))
            }

            fn commit(self: Box<Self>) -> Result<()> {
                self.finish()
            }
        }
    };
}

/// A redb write transaction handed out by `begin_write`. Tables are opened per operation: a
/// redb table handle borrows its transaction, so handles cannot be kept beside it (without
/// self-reference). [`Database::write`] avoids that cost.
struct RedbWrite {
    // Declared first so it drops (rolling back) before the ticket lets the next writer in.
    txn: redb::WriteTransaction,
    known: KnownTables,
    _ticket: WriterTicket,
}

impl RedbWrite {
    fn txn(&self) -> &redb::WriteTransaction {
        &self.txn
    }

    fn exists(&mut self, table: &str) -> Result<bool> {
        self.known.contains(&self.txn, table)
    }

    fn with_table<R>(
        &mut self,
        table: &str,
        operation: &'static str,
        body: impl FnOnce(&mut redb::Table<'_, Bytes, Bytes>) -> Result<R>,
    ) -> Result<R> {
        self.known.created(table);
        let mut handle = self
            .txn
            .open_table(definition(table))
            .map_err(engine(table, operation))?;
        body(&mut handle)
    }

    fn release(&mut self, _table: &str) {}

    fn finish(self) -> Result<()> {
        self.txn.commit().map_err(engine("*", "commit"))
    }
}

redb_write_transaction!(RedbWrite);

/// A redb write transaction scoped to one [`Database::write`] call. The transaction lives in
/// the caller's stack frame, so table handles borrowing it can stay open for the whole call:
/// each table is opened once, not once per operation.
struct ScopedWrite<'t> {
    txn: &'t redb::WriteTransaction,
    open: HashMap<String, redb::Table<'t, Bytes, Bytes>>,
    known: KnownTables,
}

impl<'t> ScopedWrite<'t> {
    fn txn(&self) -> &'t redb::WriteTransaction {
        self.txn
    }

    fn exists(&mut self, table: &str) -> Result<bool> {
        if self.open.contains_key(table) {
            return Ok(true);
        }
        self.known.contains(self.txn, table)
    }

    fn with_table<R>(
        &mut self,
        table: &str,
        operation: &'static str,
        body: impl FnOnce(&mut redb::Table<'t, Bytes, Bytes>) -> Result<R>,
    ) -> Result<R> {
        if !self.open.contains_key(table) {
            let handle = self
                .txn
                .open_table(definition(table))
                .map_err(engine(table, operation))?;
            self.known.created(table);
            self.open.insert(table.to_owned(), handle);
        }
        let handle = self.open.get_mut(table).expect("opened above");
        body(handle)
    }

    /// Closes `table`'s handle: redb refuses to delete an open table.
    fn release(&mut self, table: &str) {
        self.open.remove(table);
    }

    fn finish(self) -> Result<()> {
        // Only `Database::write` commits a scoped transaction, after the closure returns.
        Err(Error::engine(
            "*",
            "commit",
            "a scoped write transaction commits when its Database::write call returns",
        ))
    }
}

redb_write_transaction!(ScopedWrite<'_>);

/// The open table of a `write_batch` transaction.
struct RedbBatch<'h, 't> {
    table: &'h str,
    handle: &'h mut redb::Table<'t, Bytes, Bytes>,
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
