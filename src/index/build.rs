//! Defining an index (recording and registering it), building it over existing rows in
//! batches, rebuilding it, and verifying it against its recomputation.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Bound, ControlFlow};
use std::sync::Arc;

use super::maintain;
use super::record::{self, IndexRecord};
use super::{Index, mismatch};
use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyArena};
use crate::codec::value::ValueSerializer;
use crate::engine::{Durability, KeyRange, WriteOptions};
use crate::error::Result;
use crate::txn::{run_read, run_write};

/// How an index is built over the rows already in its table.
pub struct IndexOptions<'p> {
    batch_rows: usize,
    progress: Option<Box<dyn FnMut(IndexProgress) + 'p>>,
}

impl Default for IndexOptions<'_> {
    fn default() -> Self {
        IndexOptions {
            batch_rows: 10_000,
            progress: None,
        }
    }
}

impl fmt::Debug for IndexOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexOptions")
            .field("batch_rows", &self.batch_rows)
            .finish_non_exhaustive()
    }
}

impl<'p> IndexOptions<'p> {
    /// Rows indexed per transaction while building (default 10,000; at least 1). Writers
    /// wait for one batch at most.
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// Called after each committed batch of the build.
    pub fn progress(mut self, progress: impl FnMut(IndexProgress) + 'p) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }
}

/// How far a build has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexProgress {
    /// Rows read so far.
    pub rows_done: u64,
    /// Rows in the table when the build began (writes meanwhile may change it).
    pub rows_total: u64,
}

/// What [`Index::verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexCheck {
    /// Rows of the table.
    pub rows: u64,
    /// Entries of the index.
    pub entries: u64,
    /// Entries the rows call for that the index lacks.
    pub missing: u64,
    /// Entries of the index that no row calls for.
    pub extra: u64,
}

impl IndexCheck {
    /// Whether the index is exactly its recomputation.
    pub fn is_consistent(&self) -> bool {
        self.missing == 0 && self.extra == 0
    }
}

/// Records and registers `index` (as `wanted`), then builds it if it is new or its last build
/// was interrupted.
pub(super) fn define<K, IK, V, S>(
    index: &Index<K, IK, V, S>,
    wanted: &IndexRecord,
    options: IndexOptions<'_>,
) -> Result<()>
where
    K: IntoKeyBytes + FromKeyBytes,
    IK: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    let table = &index.table;
    let native = table.engine.capabilities().table_admin;
    // Registering inside a write transaction: no write to the table is in flight meanwhile, so
    // every write either committed before (the build sees it) or maintains the index.
    let needs_build = run_write(&*table.engine, WriteOptions::DEFAULT, |txn| {
        let needs_build = match record::record_in(txn, &table.name, &wanted.name)? {
            Some(found) if !found.same_definition(wanted) => return Err(mismatch(&found, wanted)),
            Some(found) if found.ready => false,
            _ => {
                let building = IndexRecord {
                    ready: false,
                    ..wanted.clone()
                };
                record::clear_entries(txn, &building, false)?;
                record::put_record(txn, &building)?;
                true
            }
        };
        register(index);
        Ok(needs_build)
    })
    .inspect_err(|_| unregister(index, false))
    .map_err(|e| e.on_table(&table.name))?;
    if needs_build {
        // A unique violation, a failure or a panic of the key function leaves no half-built
        // index behind.
        let undo = Undo {
            index,
            native,
            armed: true,
        };
        build(index, options)?;
        undo.disarm();
    }
    Ok(())
}

/// Takes a failed build's index out of its table's upkeep and the catalog, when dropped armed
/// (an error returned, or a panic unwinding).
struct Undo<'a, K, IK, V: ?Sized, S> {
    index: &'a Index<K, IK, V, S>,
    native: bool,
    armed: bool,
}

impl<K, IK, V: ?Sized, S> Undo<'_, K, IK, V, S> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl<K, IK, V: ?Sized, S> Drop for Undo<'_, K, IK, V, S> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        unregister(self.index, true);
        let table = &self.index.table;
        let record = self.index.maintainer.record();
        // Best effort: if this fails too, the record stays `building` and the next definition
        // builds the index again from the start.
        let _ = run_write(&*table.engine, WriteOptions::DEFAULT, |txn| {
            record::forget(txn, &table.name, &record.name)?;
            record::clear_entries(txn, record, self.native)
        });
    }
}

fn register<K, IK, V: ?Sized, S>(index: &Index<K, IK, V, S>) {
    let name = index.maintainer.record().name.clone();
    index.table.hooks.change(|state| {
        state.undefined.retain(|r| r.name != name);
        state.indexes.retain(|i| i.record().name != name);
        state.indexes.push(Arc::clone(&index.maintainer));
    });
}

/// Takes `index` out of its table's upkeep; `forgotten`: its record is gone too (else it goes
/// back to the records that refuse writes, if it was one).
fn unregister<K, IK, V: ?Sized, S>(index: &Index<K, IK, V, S>, forgotten: bool) {
    let record = index.maintainer.record().clone();
    let table = &index.table;
    let recorded = !forgotten
        && run_read(&*table.engine, |reader| {
            record::record_in(reader, &table.name, &record.name)
        })
        .ok()
        .flatten()
        .is_some();
    table.hooks.change(|state| {
        state.indexes.retain(|i| !Arc::ptr_eq(i, &index.maintainer));
        if recorded && !state.undefined.iter().any(|r| r.name == record.name) {
            state.undefined.push(record);
        }
    });
}

/// Builds the entries of every row, batch by batch, then marks the index ready.
fn build<K, IK, V, S>(index: &Index<K, IK, V, S>, mut options: IndexOptions<'_>) -> Result<()>
where
    K: IntoKeyBytes + FromKeyBytes,
    IK: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    let table = &index.table;
    let maintainer = &*index.maintainer;
    let total = table.len()?;
    let mut done = 0u64;
    let mut after: Option<Vec<u8>> = None;
    let batch = WriteOptions::durability(Durability::None);
    loop {
        let (rows, last) = run_write(&*table.engine, batch, |txn| {
            let range = KeyRange {
                start: after.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
                end: Bound::Unbounded,
                reverse: false,
            };
            let (mut rows, mut last) = (0usize, None);
            let mut key = KeyArena::new();
            let mut entry = KeyArena::new();
            let mut failure = None;
            txn.range(&table.stored, &range, &mut |pk, value| {
                let step = (|| {
                    if maintainer.key_of(pk, value, &mut key)? {
                        maintain::check_unique_key(txn, maintainer, pk, key.as_slice())?;
                        let stored: &[u8] = if maintainer.record().unique { pk } else { &[] };
                        txn.put(
                            maintainer.entries(),
                            maintain::entry_key(maintainer, key.as_slice(), pk, &mut entry),
                            stored,
                        )?;
                    }
                    Ok(())
                })();
                if let Err(error) = step {
                    failure = Some(error);
                    return Ok(ControlFlow::Break(()));
                }
                rows += 1;
                if rows == options.batch_rows {
                    last = Some(pk.to_vec());
                    return Ok(ControlFlow::Break(()));
                }
                Ok(ControlFlow::Continue(()))
            })?;
            match failure {
                Some(error) => Err(error),
                None => Ok((rows, last)),
            }
        })
        .map_err(|e| e.on_table(&table.name))?;
        done += rows as u64;
        if let Some(progress) = options.progress.as_mut().filter(|_| rows > 0) {
            progress(IndexProgress {
                rows_done: done,
                rows_total: total,
            });
        }
        match last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    run_write(&*table.engine, WriteOptions::DEFAULT, |txn| {
        record::put_record(txn, maintainer.record())
    })
    .map_err(|e| e.on_table(&table.name))
}

impl<K, IK, V, S> Index<K, IK, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    IK: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    /// Recomputes the index from every row of its table, in one snapshot, and compares it with
    /// the stored entries. Memory holds the recomputed entries (about one key pair per row).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_value = t.index("by_value", |v: &[u8]| Some(v.to_vec()))?;
    /// t.put_batch([(1u64, b"a"), (2, b"b")])?;
    /// let check = by_value.verify()?;
    /// assert!(check.is_consistent());
    /// assert_eq!((check.rows, check.entries), (2, 2));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn verify(&self) -> Result<IndexCheck> {
        let table = &self.table;
        let maintainer = &*self.maintainer;
        run_read(&*table.engine, |reader| {
            let mut expected = BTreeMap::new();
            let mut check = IndexCheck::default();
            let mut key = KeyArena::new();
            let mut entry = KeyArena::new();
            reader.range(&table.stored, &KeyRange::ALL, &mut |pk, value| {
                check.rows += 1;
                if maintainer.key_of(pk, value, &mut key)? {
                    let entry_key = maintain::entry_key(maintainer, key.as_slice(), pk, &mut entry);
                    let stored = if maintainer.record().unique { pk } else { &[] };
                    if expected
                        .insert(entry_key.to_vec(), stored.to_vec())
                        .is_some()
                    {
                        check.extra += 1; // two rows, one unique key: one of them is too many
                    }
                }
                Ok(ControlFlow::Continue(()))
            })?;
            reader.range(maintainer.entries(), &KeyRange::ALL, &mut |key, value| {
                check.entries += 1;
                match expected.remove(key) {
                    Some(wanted) if wanted == value => {}
                    _ => check.extra += 1,
                }
                Ok(ControlFlow::Continue(()))
            })?;
            check.missing = expected.len() as u64;
            Ok(check)
        })
        .map_err(|e| e.on_table(&table.name))
    }

    /// Empties the index and builds it again from every row of its table (for an index
    /// [`verify`](Self::verify) found inconsistent, after writes made around zerotable).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let by_value = t.index("by_value", |v: &[u8]| Some(v.to_vec()))?;
    /// t.put(&1, b"a")?;
    /// storage.write(|tx| tx.engine_txn().put("t", &2u64.to_be_bytes(), b"b"))?; // unindexed
    /// assert_eq!(by_value.verify()?.missing, 1);
    /// by_value.rebuild(Default::default())?;
    /// assert!(by_value.verify()?.is_consistent());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn rebuild(&self, options: IndexOptions<'_>) -> Result<()> {
        let table = &self.table;
        run_write(&*table.engine, WriteOptions::DEFAULT, |txn| {
            let building = IndexRecord {
                ready: false,
                ..self.maintainer.record().clone()
            };
            record::put_record(txn, &building)?;
            record::clear_entries(txn, &building, false)
        })
        .map_err(|e| e.on_table(&table.name))?;
        build(self, options)
    }
}
