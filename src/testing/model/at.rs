//! Where table operations run: `At` says auto-commit or in which write transaction, and `On`
//! (a table and an `At`) has one method per table operation, calling the table's plain method
//! (`update`) or its `_in` form (`update_in`). With it, `run.rs` runs and checks each
//! operation once for both places.

use std::ops::{Bound, ControlFlow};

use super::world::{Row, RowKey, Rows, Spec, TableOf, view};
use crate::error::Result;
use crate::scan::Scanner;
use crate::storage::Storage;
use crate::txn::WriteTx;

/// Where the operations on a table run.
#[derive(Clone, Copy)]
pub(super) enum At<'a> {
    /// Each in a transaction of its own, through the plain methods (`put`); a range may read in
    /// a snapshot of the storage instead.
    AutoCommit(&'a Storage),
    /// In a write transaction, through the `_in` methods (`put_in`).
    Tx(&'a WriteTx<'a>),
}

/// A table and where its operations run. Each method calls the table's plain method or its
/// `_in` form, takes and returns values as the model keeps them, and panics with the name of
/// the form if the table returns an error.
pub(super) struct On<'a, P: Spec> {
    pub(super) table: &'a TableOf<P>,
    pub(super) at: At<'a>,
}

impl<P: Spec> On<'_, P> {
    /// The name of method `op` in the form used, for messages: `update` or `update_in`.
    pub(super) fn form(&self, op: &str) -> String {
        match self.at {
            At::AutoCommit(_) => op.to_owned(),
            At::Tx(_) => format!("{op}_in"),
        }
    }

    /// The value of `result`, returned by method `op`; an error panics, naming the method in
    /// the form used.
    #[track_caller]
    fn ok<R>(&self, op: &str, result: Result<R>) -> R {
        match result {
            Ok(value) => value,
            Err(error) => panic!("{}: {error}", self.form(op)),
        }
    }

    pub(super) fn put(&self, key: &P::K, value: &P::M) {
        let value = view::<P>(value);
        let result = match self.at {
            At::AutoCommit(_) => self.table.put(key, value),
            At::Tx(tx) => self.table.put_in(tx, key, value),
        };
        self.ok("put", result)
    }

    pub(super) fn delete(&self, key: &P::K) -> bool {
        let result = match self.at {
            At::AutoCommit(_) => self.table.delete(key),
            At::Tx(tx) => self.table.delete_in(tx, key),
        };
        self.ok("delete", result)
    }

    pub(super) fn put_batch(&self, items: &[(P::K, P::M)]) {
        let items = items.iter().cloned();
        let result = match self.at {
            At::AutoCommit(_) => self.table.put_batch(items),
            At::Tx(tx) => self.table.put_batch_in(tx, items),
        };
        self.ok("put_batch", result)
    }

    /// `update`, handing `change` the current value as the model keeps it.
    pub(super) fn update(
        &self,
        key: &P::K,
        change: impl FnOnce(Option<P::M>) -> Option<P::M>,
    ) -> bool {
        let result = match self.at {
            At::AutoCommit(_) => self
                .table
                .update(key, |old| change(old.map(|old| P::to_model(old)))),
            At::Tx(tx) => self
                .table
                .update_in(tx, key, |old| change(old.map(|old| P::to_model(old)))),
        };
        self.ok("update", result)
    }

    pub(super) fn compare_and_swap(
        &self,
        key: &P::K,
        expected: Option<&P::M>,
        new: Option<&P::M>,
    ) -> bool {
        let expected = expected.map(view::<P>);
        let new = new.map(view::<P>);
        let result = match self.at {
            At::AutoCommit(_) => self.table.compare_and_swap(key, expected, new),
            At::Tx(tx) => self.table.compare_and_swap_in(tx, key, expected, new),
        };
        self.ok("compare_and_swap", result)
    }

    pub(super) fn get_or_insert(&self, key: &P::K, make: impl FnOnce() -> P::M) -> P::M {
        let result = match self.at {
            At::AutoCommit(_) => self
                .table
                .get_or_insert(key, make, |stored| P::to_model(stored)),
            At::Tx(tx) => self
                .table
                .get_or_insert_in(tx, key, make, |stored| P::to_model(stored)),
        };
        self.ok("get_or_insert", result)
    }

    pub(super) fn get(&self, key: &P::K) -> Option<P::M> {
        let result = match self.at {
            At::AutoCommit(_) => self.table.get(key, |stored| P::to_model(stored)),
            At::Tx(tx) => self.table.get_in(tx, key, |stored| P::to_model(stored)),
        };
        self.ok("get", result)
    }

    pub(super) fn contains(&self, key: &P::K) -> bool {
        let result = match self.at {
            At::AutoCommit(_) => self.table.contains(key),
            At::Tx(tx) => self.table.contains_in(tx, key),
        };
        self.ok("contains", result)
    }

    pub(super) fn get_many(&self, keys: &[P::K]) -> Vec<Option<P::M>> {
        let result = match self.at {
            At::AutoCommit(_) => self
                .table
                .get_many(keys, |stored| stored.map(|stored| P::to_model(stored))),
            At::Tx(tx) => self
                .table
                .get_many_in(tx, keys, |stored| stored.map(|stored| P::to_model(stored))),
        };
        self.ok("get_many", result)
    }

    pub(super) fn len(&self) -> u64 {
        let result = match self.at {
            At::AutoCommit(_) => self.table.len(),
            At::Tx(tx) => self.table.len_in(tx),
        };
        self.ok("len", result)
    }

    /// The entries from `start` to `end`, reversed if `rev`, at most `limit`. Auto-commit, in
    /// a snapshot if `in_snapshot`; a transaction reads its own state (and is never given
    /// `in_snapshot`).
    pub(super) fn range(
        &self,
        start: &Bound<P::K>,
        end: &Bound<P::K>,
        rev: bool,
        limit: Option<usize>,
        in_snapshot: bool,
    ) -> Vec<(P::K, P::M)> {
        let bounds = (start.clone(), end.clone());
        let result = match self.at {
            At::AutoCommit(storage) if in_snapshot => storage
                .read(|snap| scan_collect::<P>(self.table.range_in(snap, bounds), rev, limit)),
            At::AutoCommit(_) => scan_collect::<P>(self.table.range(bounds), rev, limit),
            At::Tx(tx) => scan_collect::<P>(self.table.range_in(tx, bounds), rev, limit),
        };
        self.ok("range", result)
    }
}

impl On<'_, Rows> {
    /// The rows under `(first,)`, reversed if `rev`, at most `limit`.
    pub(super) fn prefix(&self, first: u8, rev: bool, limit: Option<usize>) -> Vec<(RowKey, Row)> {
        let prefix = (first,);
        let result = match self.at {
            At::AutoCommit(_) => scan_collect::<Rows>(self.table.prefix(&prefix), rev, limit),
            At::Tx(tx) => scan_collect::<Rows>(self.table.prefix_in(tx, &prefix), rev, limit),
        };
        self.ok("prefix", result)
    }
}

/// Runs a scanner with `try_for_each`, stopping after `limit` entries. An engine that goes on
/// visiting after the stop shows up as extra entries.
fn scan_collect<P: Spec>(
    scanner: Scanner<'_, P::K, P::V, P::S>,
    rev: bool,
    limit: Option<usize>,
) -> Result<Vec<(P::K, P::M)>> {
    let scanner = if rev { scanner.rev() } else { scanner };
    let mut found = Vec::new();
    scanner.try_for_each(|key, value| {
        found.push((key.clone(), P::to_model(value)));
        Ok(if limit.is_some_and(|n| found.len() >= n) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(found)
}
