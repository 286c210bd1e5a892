//! Snapshots, and the reads they share with write transactions ([`Source`]).

use std::ops::{Bound, ControlFlow};
use std::sync::{Arc, PoisonError};

use fjall::Readable;

use super::{
    Catalog, OpenMark, Shared, Space, fjall_error, storable, user_key, with_stored_bounds,
    with_stored_key,
};
use crate::engine::{
    CallerCode, Found, KeyRange, ReadMark, ReadTxn, TableStats, Visit, catch_engine_panic,
};
use crate::error::{Operation, Result};

/// What a snapshot and a write transaction share, so that [`ReadOps`] is written once.
pub(super) trait Source {
    /// Runs `body` with `table`'s keyspace, or `None` if the table does not exist here.
    fn with_space<R>(&self, table: &str, body: impl FnOnce(Option<&Space>) -> R) -> R;

    /// Looks a stored key up.
    fn fetch(&self, keyspace: &fjall::Keyspace, key: &[u8]) -> fjall::Result<Option<fjall::Slice>>;

    /// An iterator over stored keys within bounds (owning what it needs: it borrows nothing).
    fn walk(&self, keyspace: &fjall::Keyspace, bounds: (Bound<&[u8]>, Bound<&[u8]>))
    -> fjall::Iter;

    /// The names of the tables that exist here, ascending.
    fn names(&self) -> Vec<String>;

    /// Runs a call into fjall under the engine panic guard.
    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R>;

    /// Marks a read of `table` as running (write transactions: writing it is then `InUse`).
    fn reading(&self, table: &str) -> Option<ReadMark<'_>>;
}

/// A fjall snapshot with the catalog of the same moment.
pub(super) struct FjallRead {
    snapshot: fjall::Snapshot,
    catalog: Arc<Catalog>,
    _open: OpenMark,
}

impl FjallRead {
    pub(super) fn begin(shared: Arc<Shared>) -> Self {
        let (snapshot, catalog) = {
            // Under the read lock: no commit changing the catalog lands in between.
            let current = shared
                .catalog
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            (shared.db.read_tx(), Arc::clone(&current))
        };
        FjallRead {
            snapshot,
            catalog,
            _open: OpenMark::new(shared),
        }
    }
}

impl ReadTxn for FjallRead {}

impl Source for FjallRead {
    #[inline]
    fn with_space<R>(&self, table: &str, body: impl FnOnce(Option<&Space>) -> R) -> R {
        body(self.catalog.tables.get(table).map(|space| &**space))
    }

    #[inline]
    fn fetch(&self, keyspace: &fjall::Keyspace, key: &[u8]) -> fjall::Result<Option<fjall::Slice>> {
        self.snapshot.get(keyspace, key)
    }

    fn walk(
        &self,
        keyspace: &fjall::Keyspace,
        bounds: (Bound<&[u8]>, Bound<&[u8]>),
    ) -> fjall::Iter {
        self.snapshot.range::<&[u8], _>(keyspace, bounds)
    }

    fn names(&self) -> Vec<String> {
        self.catalog.tables.keys().cloned().collect()
    }

    #[inline]
    fn guard<R>(
        &self,
        table: Option<&str>,
        operation: Operation,
        call: impl FnOnce(&CallerCode) -> Result<R>,
    ) -> Result<R> {
        catch_engine_panic(table, operation, call)
    }

    #[inline]
    fn reading(&self, _table: &str) -> Option<ReadMark<'_>> {
        None
    }
}

/// Implements [`ReadOps`] for a [`Source`] (a blanket impl would overlap redb's).
macro_rules! read_ops {
    ($source:ty) => {
        impl $crate::engine::ReadOps for $source {
            #[inline]
            fn get(
                &self,
                table: &str,
                key: &[u8],
                found: &mut $crate::engine::Found<'_>,
            ) -> $crate::Result<bool> {
                super::read::get(self, table, key, found)
            }

            fn range(
                &self,
                table: &str,
                range: &$crate::engine::KeyRange<'_>,
                visit: &mut $crate::engine::Visit<'_>,
            ) -> $crate::Result<()> {
                super::read::range(self, table, range, visit)
            }

            fn len(&self, table: &str) -> $crate::Result<u64> {
                super::read::len(self, table)
            }

            fn list_tables(&self) -> $crate::Result<Vec<String>> {
                Ok(super::read::Source::names(self))
            }

            fn table_stats(&self, table: &str) -> $crate::Result<$crate::engine::TableStats> {
                super::read::table_stats(self, table)
            }
        }
    };
}
pub(super) use read_ops;

read_ops!(FjallRead);

/// [`ReadOps::get`] of a [`Source`].
#[inline]
pub(super) fn get<S: Source>(
    this: &S,
    table: &str,
    key: &[u8],
    found: &mut Found<'_>,
) -> Result<bool> {
    if !storable(key) {
        return Ok(false); // longer than any stored key
    }
    this.guard(Some(table), Operation::Get, |caller| {
        this.with_space(table, |space| {
            let Some(space) = space else {
                return Ok(false);
            };
            let value = with_stored_key(key, |stored| this.fetch(&space.keyspace, stored))
                .map_err(fjall_error(Some(table), Operation::Get))?;
            let Some(value) = value else {
                return Ok(false);
            };
            let _reading = this.reading(table);
            caller.run(|| found(&value))?;
            Ok(true)
        })
    })
}

/// [`ReadOps::range`] of a [`Source`].
pub(super) fn range<S: Source>(
    this: &S,
    table: &str,
    range: &KeyRange<'_>,
    visit: &mut Visit<'_>,
) -> Result<()> {
    if range.is_empty() {
        return Ok(());
    }
    this.guard(Some(table), Operation::Range, |caller| {
        this.with_space(table, |space| {
            let Some(space) = space else {
                return Ok(());
            };
            let entries = with_stored_bounds(range.start, range.end, |bounds| {
                bounds.map(|bounds| this.walk(&space.keyspace, bounds))
            });
            let Some(mut entries) = entries else {
                return Ok(());
            };
            let _reading = this.reading(table);
            loop {
                let entry = if range.reverse {
                    entries.next_back()
                } else {
                    entries.next()
                };
                let Some(entry) = entry else {
                    return Ok(());
                };
                let (key, value) = entry
                    .into_inner()
                    .map_err(fjall_error(Some(table), Operation::Range))?;
                if caller.run(|| visit(user_key(&key), &value))?.is_break() {
                    return Ok(());
                }
            }
        })
    })
}

/// [`ReadOps::len`] of a [`Source`].
pub(super) fn len<S: Source>(this: &S, table: &str) -> Result<u64> {
    let mut count = 0;
    walk_all(this, table, Operation::Len, |_, _| {
        count += 1;
        ControlFlow::Continue(())
    })?;
    Ok(count)
}

/// [`ReadOps::table_stats`] of a [`Source`].
pub(super) fn table_stats<S: Source>(this: &S, table: &str) -> Result<TableStats> {
    let mut stats = TableStats::default();
    walk_all(this, table, Operation::TableStats, |key, value| {
        stats.entries += 1;
        stats.stored_bytes += (key.len() + value.len()) as u64;
        ControlFlow::Continue(())
    })?;
    Ok(stats)
}

/// Walks every entry of `table` (user keys) without marking a running read: `visit` is the
/// engine's own code.
fn walk_all<S: Source + ?Sized>(
    source: &S,
    table: &str,
    operation: Operation,
    mut visit: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<()> {
    source.guard(Some(table), operation, |_| {
        source.with_space(table, |space| {
            let Some(space) = space else {
                return Ok(());
            };
            for entry in source.walk(&space.keyspace, (Bound::Unbounded, Bound::Unbounded)) {
                let (key, value) = entry
                    .into_inner()
                    .map_err(fjall_error(Some(table), operation))?;
                if visit(user_key(&key), &value).is_break() {
                    break;
                }
            }
            Ok(())
        })
    })
}
