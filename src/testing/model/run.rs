//! Running one operation against the tables and the model, checking every result on the way.
//!
//! The table operations that exist both auto-commit and in a write transaction (`put` and
//! `put_in`, `update` and `update_in`, …, ranges and prefixes) are run and checked once, in
//! `run_table_op` and `check_prefix`, on an `On` (`at.rs`): a table and where its operations
//! run. What exists in one place only is in `run_op` (the ends of transactions, panics) and
//! `run_tx` (scans that write the other table, auto-commit reads from inside a transaction);
//! range reads in a snapshot are `On::range`'s auto-commit case.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};
use std::panic::{self, AssertUnwindSafe};

use super::ModelPanic;
use super::at::{At, On};
use super::ops::{Expect, HandleEnd, Nested, Op, TableOp, TxOp, WriteEnd};
use super::world::{Bytes, MapOf, Model, Rows, Spec, World, bytes_of_row, row_of_bytes};
use crate::engine::{Durability, WriteOptions};
use crate::error::{EngineErrorKind, Error};
use crate::txn::WriteTx;

// ---- reading the model ----

fn in_bounds<K: Ord>(key: &K, start: &Bound<K>, end: &Bound<K>) -> bool {
    let above = match start {
        Bound::Included(s) => key >= s,
        Bound::Excluded(s) => key > s,
        Bound::Unbounded => true,
    };
    let below = match end {
        Bound::Included(e) => key <= e,
        Bound::Excluded(e) => key < e,
        Bound::Unbounded => true,
    };
    above && below
}

/// The model's entries matching `keep`, in scan order, at most `limit`.
fn expected<K: Clone, M: Clone>(
    map: &BTreeMap<K, M>,
    keep: impl Fn(&K) -> bool,
    rev: bool,
    limit: Option<usize>,
) -> Vec<(K, M)> {
    let matching = map.iter().filter(|(k, _)| keep(k));
    let entries: Vec<(K, M)> = if rev {
        matching
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    } else {
        matching.map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    entries
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

// ---- operations ----

/// Runs one table operation where `on` says and checks it against `model`: the committed
/// state for an auto-commit operation, the transaction's pending state inside a transaction.
fn run_table_op<P: Spec>(on: &On<'_, P>, model: &mut MapOf<P>, op: &TableOp<P::K, P::M>) {
    match op {
        TableOp::Put(key, value) => {
            on.put(key, value);
            model.insert(key.clone(), value.clone());
        }
        TableOp::Delete(key) => {
            let existed = on.delete(key);
            assert_eq!(
                existed,
                model.remove(key).is_some(),
                "{}({key:?})",
                on.form("delete")
            );
        }
        TableOp::PutBatch(items) => {
            on.put_batch(items);
            for (key, value) in items {
                model.insert(key.clone(), value.clone());
            }
        }
        TableOp::Update(key, change) => {
            let current = model.get(key).cloned();
            let replacement = change.apply(current.clone(), P::modify);
            let mut seen = Vec::new();
            let stored = on.update(key, |old| {
                seen.push(old);
                replacement.clone()
            });
            assert_eq!(seen, [current], "{}({key:?}) saw", on.form("update"));
            assert_eq!(
                stored,
                replacement.is_some(),
                "{}({key:?}) result",
                on.form("update")
            );
            match replacement {
                Some(value) => model.insert(key.clone(), value),
                None => model.remove(key),
            };
        }
        TableOp::CompareAndSwap(key, expect, new) => {
            let current = model.get(key).cloned();
            let expected = match expect {
                Expect::Current => current.clone(),
                Expect::Given(value) => value.clone(),
            };
            let swapped = on.compare_and_swap(key, expected.as_ref(), new.as_ref());
            assert_eq!(
                swapped,
                expected == current,
                "{}({key:?})",
                on.form("compare_and_swap")
            );
            if swapped {
                match new {
                    Some(value) => model.insert(key.clone(), value.clone()),
                    None => model.remove(key),
                };
            }
        }
        TableOp::GetOrInsert(key, value) => {
            let mut made = 0;
            let got = on.get_or_insert(key, || {
                made += 1;
                value.clone()
            });
            let absent = !model.contains_key(key);
            let want = model.entry(key.clone()).or_insert_with(|| value.clone());
            assert_eq!(&got, want, "{}({key:?})", on.form("get_or_insert"));
            assert_eq!(
                made,
                usize::from(absent),
                "{}({key:?}) calls of make",
                on.form("get_or_insert")
            );
        }
        TableOp::Get(key) => {
            let got = on.get(key);
            assert_eq!(got.as_ref(), model.get(key), "{}({key:?})", on.form("get"));
            assert_eq!(
                on.contains(key),
                model.contains_key(key),
                "{}({key:?})",
                on.form("contains")
            );
        }
        TableOp::GetMany(keys) => {
            let got = on.get_many(keys);
            let want: Vec<Option<P::M>> = keys.iter().map(|k| model.get(k).cloned()).collect();
            assert_eq!(got, want, "{}({keys:?})", on.form("get_many"));
        }
        TableOp::Range {
            start,
            end,
            rev,
            limit,
            in_snapshot,
        } => {
            let got = on.range(start, end, *rev, *limit, *in_snapshot);
            let want = expected(model, |k| in_bounds(k, start, end), *rev, *limit);
            assert_eq!(
                got,
                want,
                "{}({start:?}, {end:?}) rev {rev} limit {limit:?}",
                on.form("range")
            );
        }
        TableOp::Len => {
            assert_eq!(on.len(), model.len() as u64, "{}", on.form("len"));
        }
    }
}

/// A prefix scan of `rows` where `on` says, against `model` (committed or pending).
fn check_prefix(
    on: &On<'_, Rows>,
    model: &MapOf<Rows>,
    first: u8,
    rev: bool,
    limit: Option<usize>,
) {
    let got = on.prefix(first, rev, limit);
    let want = expected(model, |(a, _)| *a == first, rev, limit);
    assert_eq!(
        got,
        want,
        "{}(({first},)) rev {rev} limit {limit:?}",
        on.form("prefix")
    );
}

/// Runs the steps of one transaction; `committed` is the model as of its start.
fn run_tx(world: &World, tx: &WriteTx<'_>, pending: &mut Model, committed: &Model, ops: &[TxOp]) {
    let at = At::Tx(tx);
    let bytes = On::<Bytes> {
        table: &world.bytes,
        at,
    };
    let rows = On::<Rows> {
        table: &world.rows,
        at,
    };
    for op in ops {
        match op {
            TxOp::Bytes(op) => run_table_op(&bytes, &mut pending.bytes, op),
            TxOp::Rows(op) => run_table_op(&rows, &mut pending.rows, op),
            TxOp::Prefix { first, rev } => check_prefix(&rows, &pending.rows, *first, *rev, None),
            TxOp::BytesIntoRows {
                start,
                end,
                rev,
                limit,
                first,
                delete,
            } => {
                let bounds = (*start, *end);
                let scanner = world.bytes.range_in(tx, bounds);
                let scanner = if *rev { scanner.rev() } else { scanner };
                let mut visited = Vec::new();
                let mut deleted = Vec::new();
                scanner
                    .try_for_each(|key, value| {
                        visited.push((*key, value.to_vec()));
                        if *delete {
                            deleted.push(world.rows.delete_in(tx, &(*first, *key))?);
                        } else {
                            world
                                .rows
                                .put_in(tx, &(*first, *key), &row_of_bytes(value))?;
                        }
                        Ok(if limit.is_some_and(|n| visited.len() >= n) {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        })
                    })
                    .unwrap_or_else(|e| panic!("{op:?}: {e}"));
                let want = expected(&pending.bytes, |k| in_bounds(k, start, end), *rev, *limit);
                assert_eq!(visited, want, "{op:?}: the scan of bytes");
                let mut want_deleted = Vec::new();
                for (key, value) in want {
                    if *delete {
                        want_deleted.push(pending.rows.remove(&(*first, key)).is_some());
                    } else {
                        pending.rows.insert((*first, key), row_of_bytes(&value));
                    }
                }
                assert_eq!(deleted, want_deleted, "{op:?}: what delete_in found");
            }
            TxOp::RowsIntoBytes { first, rev, delete } => {
                let scanner = world.rows.prefix_in(tx, &(*first,));
                let scanner = if *rev { scanner.rev() } else { scanner };
                let mut visited = Vec::new();
                let mut deleted = Vec::new();
                scanner
                    .for_each(|key, value| {
                        let row = Rows::to_model(value);
                        if *delete {
                            deleted.push(world.bytes.delete_in(tx, &key.1)?);
                        } else {
                            world.bytes.put_in(tx, &key.1, &bytes_of_row(&row))?;
                        }
                        visited.push((*key, row));
                        Ok(())
                    })
                    .unwrap_or_else(|e| panic!("{op:?}: {e}"));
                let want = expected(&pending.rows, |(a, _)| a == first, *rev, None);
                assert_eq!(visited, want, "{op:?}: the scan of rows");
                let mut want_deleted = Vec::new();
                for ((_, b), row) in want {
                    if *delete {
                        want_deleted.push(pending.bytes.remove(&b).is_some());
                    } else {
                        pending.bytes.insert(b, bytes_of_row(&row));
                    }
                }
                assert_eq!(deleted, want_deleted, "{op:?}: what delete_in found");
            }
            TxOp::ReadCommitted(key) => {
                let got = world.bytes.get(key, |v| v.to_vec()).unwrap();
                assert_eq!(
                    got.as_ref(),
                    committed.bytes.get(key),
                    "an auto-commit get({key}) inside a write transaction must see the \
                     committed state only"
                );
                assert_eq!(
                    world.rows.len().unwrap(),
                    committed.rows.len() as u64,
                    "an auto-commit len inside a write transaction must see the committed state only"
                );
            }
        }
    }
}

/// Attempts a nested write on this thread, which must fail with `NestedWrite`, and returns
/// its error.
fn nested_write(world: &World, how: Nested) -> Error {
    let error = match how {
        Nested::AutoCommitPut => world.bytes.put(&0, b"nested").unwrap_err(),
        Nested::StorageWrite => world
            .storage
            .write(|tx| world.bytes.put_in(tx, &0, b"nested"))
            .unwrap_err(),
        Nested::BeginWrite => world.storage.begin_write().unwrap_err(),
    };
    assert_eq!(
        error.engine_kind(),
        Some(EngineErrorKind::NestedWrite),
        "a nested {how:?} in a write transaction: {error:?}"
    );
    error
}

/// Runs one operation other than `Reopen` (the loop owns the world) and checks it against the
/// model, which it updates.
pub(super) fn run_op(world: &World, model: &mut Model, op: &Op) {
    let at = At::AutoCommit(&world.storage);
    let bytes = On::<Bytes> {
        table: &world.bytes,
        at,
    };
    let rows = On::<Rows> {
        table: &world.rows,
        at,
    };
    match op {
        Op::Bytes(op) => run_table_op(&bytes, &mut model.bytes, op),
        Op::Rows(op) => run_table_op(&rows, &mut model.rows, op),
        Op::Prefix { first, rev, limit } => check_prefix(&rows, &model.rows, *first, *rev, *limit),
        Op::Write { ops, end, fast } => {
            let mut pending = model.clone();
            let options = if *fast {
                WriteOptions::durability(Durability::None)
            } else {
                WriteOptions::DEFAULT
            };
            let result = world.storage.write_with(options, |tx| {
                run_tx(world, tx, &mut pending, model, ops);
                match end {
                    WriteEnd::Commit => Ok(()),
                    WriteEnd::Fail => Err(Error::callback("the model aborts")),
                    WriteEnd::NestedWrite(how) => Err(nested_write(world, *how)),
                    WriteEnd::NestedWriteThenCommit(how) => {
                        nested_write(world, *how);
                        Ok(())
                    }
                }
            });
            match end {
                WriteEnd::Commit | WriteEnd::NestedWriteThenCommit(_) => {
                    result.unwrap();
                    *model = pending;
                }
                WriteEnd::Fail => {
                    assert!(matches!(result, Err(Error::Callback { .. })), "{result:?}");
                }
                WriteEnd::NestedWrite(_) => {
                    let error = result.unwrap_err();
                    assert_eq!(
                        error.engine_kind(),
                        Some(EngineErrorKind::NestedWrite),
                        "{error:?}"
                    );
                }
            }
        }
        Op::BeginWrite { ops, end } => {
            let mut pending = model.clone();
            let tx = world.storage.begin_write().unwrap();
            run_tx(world, &tx, &mut pending, model, ops);
            match end {
                HandleEnd::Commit => {
                    tx.commit().unwrap();
                    *model = pending;
                }
                HandleEnd::Rollback => tx.rollback(),
                HandleEnd::Drop => drop(tx),
            }
        }
        Op::Panic { ops, handle } => {
            let mut pending = model.clone();
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                if *handle {
                    let tx = world.storage.begin_write().unwrap();
                    run_tx(world, &tx, &mut pending, model, ops);
                    panic::panic_any(ModelPanic);
                }
                let _ = world.storage.write::<()>(|tx| {
                    run_tx(world, tx, &mut pending, model, ops);
                    panic::panic_any(ModelPanic)
                });
            }));
            match outcome {
                Err(payload) if payload.is::<ModelPanic>() => {}
                Err(payload) => panic::resume_unwind(payload),
                Ok(()) => panic!("the transaction did not panic"),
            }
        }
        Op::Reopen { .. } => unreachable!("run_sequence owns the world"),
    }
}
