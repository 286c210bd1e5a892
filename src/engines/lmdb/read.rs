//! Snapshots: LMDB read transactions, and the range walk the write side shares.

use std::collections::BTreeSet;
use std::ops::{Bound, ControlFlow, Deref};

use heed::types::Bytes;
use heed::{RoIter, RoRange, RoRevIter, RoRevRange, RoTxn, WithoutTls};

use super::heed_error;
use super::names::{DatabaseName, StoredKey, as_slice, classify, stored_bound, user_key};
use super::shared::{Active, Db, Shared};
use crate::engine::{Found, KeyRange, ReadOps, ReadTxn, TableStats, Visit, catch_engine_panic};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// A snapshot: an LMDB read transaction and the number of table handles it may use. `S` is
/// how it holds the engine: borrowed for [`Engine::read`](crate::Engine::read), shared for a
/// boxed snapshot.
pub(super) struct LmdbRead<S: Deref<Target = Shared>> {
    // Declared first: the transaction ends before the snapshot stops counting as open (the map
    // may be resized once none is).
    txn: RoTxn<'static, WithoutTls>,
    /// Handles registered before the transaction began: exactly the tables it can see.
    registered: usize,
    active: Active<S>,
}

/// What reads need of a snapshot, borrowed: a fresh one ([`LmdbRead`]) or one kept between
/// auto-commit reads (`reuse.rs`).
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    pub(super) txn: &'a RoTxn<'static, WithoutTls>,
    pub(super) registered: usize,
    pub(super) shared: &'a Shared,
}

/// Begins a snapshot of the environment `shared`.
pub(super) fn begin<S: Deref<Target = Shared>>(shared: S) -> Result<LmdbRead<S>> {
    let (txn, registered) = catch_engine_panic(None, Operation::BeginRead, |_| begin_txn(&shared))?;
    Ok(LmdbRead {
        txn,
        registered,
        active: Active::entered(shared),
    })
}

/// Begins the read transaction, counted as an open snapshot (the caller takes over the count).
/// When LMDB's main database names databases this process has no handle for, opens them
/// first and begins again; when another process grew the map, adopts its size first.
pub(super) fn begin_txn(shared: &Shared) -> Result<(RoTxn<'static, WithoutTls>, usize)> {
    const ATTEMPTS: usize = 4;
    let error = |e| heed_error(None, Operation::BeginRead)(e);
    for attempt in 1..=ATTEMPTS {
        let entered = shared.enter();
        let registered = shared.registered();
        let accounted = shared.accounted(registered);
        match shared.env.clone().static_read_txn() {
            Ok(txn) => {
                let named = shared.main.len(&txn).map_err(error)?;
                if named <= accounted as u64 || attempt == ATTEMPTS {
                    entered.keep();
                    return Ok((txn, registered));
                }
                drop((txn, entered));
                let ticket = shared.writers.enter().map_err(|_| unknown_tables())?;
                shared.register_new(&ticket)?;
            }
            Err(heed::Error::Mdb(heed::MdbError::MapResized)) if attempt < ATTEMPTS => {
                drop(entered);
                let ticket = shared.writers.enter().map_err(|_| {
                    Error::engine(
                        None,
                        Operation::BeginRead,
                        EngineError::new(
                            EngineErrorKind::LimitExceeded,
                            "another process grew the LMDB map beyond this process's mapping",
                        )
                        .explained(
                            "this thread holds a write transaction, and the new size can only \
                             be adopted with none open: begin the snapshot after it ends",
                        ),
                    )
                })?;
                shared.adopt_map_size(Operation::BeginRead, &ticket)?;
            }
            Err(e) => return Err(error(e)),
        }
    }
    unreachable!("the last attempt returns")
}

/// A snapshot met databases it has no handle for while this thread holds the write.
fn unknown_tables() -> Error {
    Error::engine(
        None,
        Operation::BeginRead,
        EngineError::new(
            EngineErrorKind::InUse,
            "another process created tables this process has no handle for yet",
        )
        .explained(
            "handles are opened only while no write transaction of this process is open, and \
             this thread holds one: begin the snapshot before the write transaction or after it \
             ends",
        ),
    )
}

impl<S: Deref<Target = Shared>> LmdbRead<S> {
    #[inline]
    pub(super) fn view(&self) -> View<'_> {
        View {
            txn: &self.txn,
            registered: self.registered,
            shared: self.active.shared(),
        }
    }
}

impl<S: Deref<Target = Shared> + Send> ReadTxn for LmdbRead<S> {}

impl<S: Deref<Target = Shared>> ReadOps for LmdbRead<S> {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.view().get(table, key, found)
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        self.view().range(table, range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.view().len(table)
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        self.view().list_tables()
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.view().table_stats(table)
    }
}

impl View<'_> {
    /// `table`'s database, if this snapshot can see the table.
    #[inline]
    fn table(&self, table: &str) -> Option<Db> {
        self.shared.handle(table, self.registered)
    }

    /// Walks the registry and every table's database: see the module docs.
    pub(super) fn check_integrity(&self) -> Result<()> {
        let shared = self.shared;
        let txn: &RoTxn<'_> = self.txn;
        let corrupted = |table: Option<&str>, problem: String| {
            Error::engine(
                table,
                Operation::CheckIntegrity,
                EngineError::new(EngineErrorKind::Corrupted, problem),
            )
        };
        catch_engine_panic(None, Operation::CheckIntegrity, |_| {
            fn lmdb(table: Option<&str>) -> impl FnOnce(heed::Error) -> Error + '_ {
                heed_error(table, Operation::CheckIntegrity)
            }
            let listed: BTreeSet<String> = shared
                .table_names(txn)
                .map_err(lmdb(None))?
                .into_iter()
                .collect();
            let mut found = BTreeSet::new();
            for entry in shared.main.iter(txn).map_err(lmdb(None))? {
                let (name, ()) = entry.map_err(lmdb(None))?;
                let DatabaseName::Table(table) = classify(name) else {
                    continue;
                };
                let t = Some(table.as_str());
                let db = self.table(&table).ok_or_else(|| {
                    corrupted(t, "its database has no handle in this snapshot".to_owned())
                })?;
                let mut entries = 0u64;
                let mut previous: Option<&[u8]> = None;
                for entry in db.iter(txn).map_err(lmdb(t))? {
                    let (key, _) = entry.map_err(lmdb(t))?;
                    if user_key(key).is_none() {
                        return Err(corrupted(
                            t,
                            format!("key {key:02x?} lacks zerotable's prefix"),
                        ));
                    }
                    if previous.is_some_and(|previous| previous >= key) {
                        return Err(corrupted(t, format!("key {key:02x?} is out of order")));
                    }
                    previous = Some(key);
                    entries += 1;
                }
                let counted = db.len(txn).map_err(lmdb(t))?;
                if counted != entries {
                    return Err(corrupted(
                        t,
                        format!("LMDB counts {counted} entries, the walk found {entries}"),
                    ));
                }
                if entries > 0 && !listed.contains(&table) {
                    return Err(corrupted(t, "it holds data but is not listed".to_owned()));
                }
                found.insert(table);
            }
            if let Some(missing) = listed.difference(&found).next() {
                return Err(corrupted(
                    Some(missing),
                    "it is listed but has no database".to_owned(),
                ));
            }
            Ok(())
        })
    }
}

impl ReadOps for View<'_> {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        let Some(db) = self.table(table) else {
            return Ok(false);
        };
        let Some(key) = StoredKey::new(key) else {
            return Ok(false); // longer than any stored key
        };
        catch_engine_panic(Some(table), Operation::Get, |caller| {
            let value = db
                .get(self.txn, key.as_bytes())
                .map_err(heed_error(Some(table), Operation::Get))?;
            match value {
                // The bytes of the memory map itself.
                Some(value) => caller.run(|| found(value)).map(|()| true),
                None => Ok(false),
            }
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        let Some(db) = self.table(table) else {
            return Ok(());
        };
        catch_engine_panic(Some(table), Operation::Range, |caller| {
            let entries = Entries::open(db, self.txn, range, table)?;
            entries.walk(table, |key, value| caller.run(|| visit(key, value)))
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        let Some(db) = self.table(table) else {
            return Ok(0);
        };
        catch_engine_panic(Some(table), Operation::Len, |_| {
            db.len(self.txn)
                .map_err(heed_error(Some(table), Operation::Len))
        })
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        catch_engine_panic(None, Operation::ListTables, |_| {
            self.shared
                .table_names(self.txn)
                .map_err(heed_error(None, Operation::ListTables))
        })
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        let Some(db) = self.table(table) else {
            return Ok(TableStats::default());
        };
        catch_engine_panic(Some(table), Operation::TableStats, |_| {
            stats_of(db, self.txn, table)
        })
    }
}

/// Entry count and stored bytes (keys without their prefix, values) of a table: a walk.
pub(super) fn stats_of(db: Db, txn: &RoTxn<'_>, table: &str) -> Result<TableStats> {
    let error = || heed_error(Some(table), Operation::TableStats);
    let mut stats = TableStats::default();
    for entry in db.iter(txn).map_err(error())? {
        let (key, value) = entry.map_err(error())?;
        stats.entries += 1;
        stats.stored_bytes += (key.len().saturating_sub(1) + value.len()) as u64;
    }
    Ok(stats)
}

/// A range of a table's entries being walked, in either direction. It holds LMDB's cursor, not
/// a reference to the transaction (heed's cursors keep only the raw cursor pointer), which is
/// what lets a write transaction write other tables while one of its ranges is open.
///
/// A range without bounds (a full scan) walks heed's plain iterators, which skip the end-bound
/// test a bounded range makes on every entry; each variant gets a loop of its own, so the
/// per-entry path has no dispatch on the variant and can inline the iterator's step.
pub(super) enum Entries<'t> {
    All(RoIter<'t, Bytes, Bytes>),
    AllReverse(RoRevIter<'t, Bytes, Bytes>),
    Forward(RoRange<'t, Bytes, Bytes>),
    Reverse(RoRevRange<'t, Bytes, Bytes>),
}

impl<'t> Entries<'t> {
    /// Positions a cursor for `range` (not empty) in `db`.
    pub(super) fn open(
        db: Db,
        txn: &'t RoTxn<'_>,
        range: &KeyRange<'_>,
        table: &str,
    ) -> Result<Self> {
        let error = || heed_error(Some(table), Operation::Range);
        if let (Bound::Unbounded, Bound::Unbounded) = (range.start, range.end) {
            return Ok(if range.reverse {
                Entries::AllReverse(db.rev_iter(txn).map_err(error())?)
            } else {
                Entries::All(db.iter(txn).map_err(error())?)
            });
        }
        let start = stored_bound(range.start, true);
        let end = stored_bound(range.end, false);
        let bounds = (as_slice(&start), as_slice(&end));
        Ok(if range.reverse {
            Entries::Reverse(db.rev_range(txn, &bounds).map_err(error())?)
        } else {
            Entries::Forward(db.range(txn, &bounds).map_err(error())?)
        })
    }

    /// Hands each entry, prefix stripped, to `each` until it breaks or fails.
    pub(super) fn walk(
        self,
        table: &str,
        each: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        match self {
            Entries::All(entries) => walk_entries(entries, table, each),
            Entries::AllReverse(entries) => walk_entries(entries, table, each),
            Entries::Forward(entries) => walk_entries(entries, table, each),
            Entries::Reverse(entries) => walk_entries(entries, table, each),
        }
    }
}

/// The loop of [`Entries::walk`], one per kind of heed iterator.
#[inline]
fn walk_entries<'t>(
    entries: impl Iterator<Item = heed::Result<(&'t [u8], &'t [u8])>>,
    table: &str,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>>,
) -> Result<()> {
    for entry in entries {
        let (key, value) = entry.map_err(heed_error(Some(table), Operation::Range))?;
        let key = user_key(key).ok_or_else(|| foreign_key(table, Operation::Range))?;
        if each(key, value)?.is_break() {
            return Ok(());
        }
    }
    Ok(())
}

/// A stored key without zerotable's prefix: not written by zerotable.
pub(super) fn foreign_key(table: &str, operation: Operation) -> Error {
    Error::engine(
        Some(table),
        operation,
        EngineError::new(
            EngineErrorKind::Corrupted,
            "a key of this table's LMDB database lacks zerotable's prefix byte (written by \
             another program?)",
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::ops::{Bound, ControlFlow};

    use super::super::{LmdbEngine, LmdbOptions};
    use crate::engine::{Engine, KeyRange, ReadOps, WriteOptions};
    use crate::error::{EngineErrorKind, Result};

    const STORED: [&[u8]; 6] = [b"", b"\x00", b"\x01", b"\x01\x00", b"\x07", b"\xff"];

    fn range<'a>(start: Bound<&'a [u8]>, end: Bound<&'a [u8]>, reverse: bool) -> KeyRange<'a> {
        KeyRange {
            start,
            end,
            reverse,
        }
    }

    /// The keys `reader` visits in `range` of table `t`, stopping after `limit` of them; each
    /// value must be its key followed by `v`.
    fn keys(reader: &dyn ReadOps, range: &KeyRange<'_>, limit: usize) -> Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        reader.range("t", range, &mut |key, value| {
            assert_eq!(value, [key, b"v"].concat(), "the value stored with the key");
            keys.push(key.to_vec());
            Ok(if keys.len() == limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        Ok(keys)
    }

    fn expected(keys: &[&[u8]]) -> Vec<Vec<u8>> {
        keys.iter().map(|key| key.to_vec()).collect()
    }

    /// Runs `check` in a fresh snapshot, in an auto-commit read and in a write transaction.
    fn everywhere(engine: &LmdbEngine, check: impl Fn(&dyn ReadOps)) {
        check(&*engine.begin_read().unwrap());
        engine
            .read(&mut |reader| {
                check(reader);
                Ok(())
            })
            .unwrap();
        // The write transaction is dropped, not committed: a failed read fails its commit.
        let txn = engine.begin_write(WriteOptions::default()).unwrap();
        check(&*txn);
    }

    /// Full scans (heed's plain iterators) and bounded ranges (heed's ranges) visit the same
    /// entries in the same order and stop when asked; a key without zerotable's prefix is a
    /// `Corrupted` error to both once they reach it.
    #[test]
    fn full_scans_and_bounded_ranges_agree() {
        let dir = tempfile::tempdir().unwrap();
        let engine = LmdbEngine::open_with(dir.path().join("env"), LmdbOptions::default()).unwrap();
        engine
            .write(WriteOptions::default(), &mut |txn| {
                for key in STORED {
                    txn.put("t", key, &[key, b"v"].concat())?;
                }
                Ok(())
            })
            .unwrap();
        let reversed: Vec<&[u8]> = STORED.iter().rev().copied().collect();
        let all = range(Bound::Unbounded, Bound::Unbounded, false);
        let all_reverse = range(Bound::Unbounded, Bound::Unbounded, true);
        let from_empty = range(Bound::Included(b""), Bound::Unbounded, false);
        let to_last = range(Bound::Unbounded, Bound::Included(b"\xff"), true);
        let middle = range(Bound::Excluded(b"\x00"), Bound::Excluded(b"\xff"), true);
        everywhere(&engine, |reader| {
            assert_eq!(keys(reader, &all, usize::MAX).unwrap(), expected(&STORED));
            assert_eq!(
                keys(reader, &from_empty, usize::MAX).unwrap(),
                expected(&STORED)
            );
            assert_eq!(keys(reader, &all, 2).unwrap(), expected(&STORED[..2]));
            assert_eq!(
                keys(reader, &all_reverse, usize::MAX).unwrap(),
                expected(&reversed)
            );
            assert_eq!(
                keys(reader, &to_last, usize::MAX).unwrap(),
                expected(&reversed)
            );
            assert_eq!(
                keys(reader, &all_reverse, 3).unwrap(),
                expected(&reversed[..3])
            );
            assert_eq!(
                keys(reader, &middle, usize::MAX).unwrap(),
                expected(&[b"\x07", b"\x01\x00", b"\x01"])
            );
        });

        // A key another program wrote without the prefix byte; it sorts after every key of
        // zerotable's (prefix 0).
        let shared = &engine.shared;
        let db = shared.handle("t", usize::MAX).unwrap();
        let mut wtxn = shared.env.write_txn().unwrap();
        db.put(&mut wtxn, b"\x01foreign", b"x").unwrap();
        wtxn.commit().unwrap();
        let corrupted = |result: Result<Vec<Vec<u8>>>| {
            let error = result.unwrap_err();
            assert_eq!(
                error.engine_kind(),
                Some(EngineErrorKind::Corrupted),
                "{error}"
            );
        };
        let below_foreign = range(Bound::Unbounded, Bound::Excluded(b"\xff\xff"), false);
        // Walks that stop or end before reaching it never see it; the others fail (and fail
        // a write transaction, so each of those gets one of its own).
        everywhere(&engine, |reader| {
            assert_eq!(keys(reader, &all, 2).unwrap(), expected(&STORED[..2]));
            assert_eq!(
                keys(reader, &below_foreign, usize::MAX).unwrap(),
                expected(&STORED)
            );
        });
        for walk in [&all, &all_reverse, &from_empty] {
            everywhere(&engine, |reader| corrupted(keys(reader, walk, usize::MAX)));
        }
    }
}
