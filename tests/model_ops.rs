//! Model test: proptest generates random sequences of table operations, runs them against two
//! typed tables and against a `BTreeMap` model of each, on every engine, and shrinks any
//! sequence where the tables and the model disagree to a minimal one.
//!
//! The tables: `bytes`, raw values under `u16` keys, and `rows`, rkyv values (validated on every
//! read) under `(u8, u16)` keys (for prefix scans). Keys come from a small domain so overwrites,
//! deletes of present keys and CAS hits are common; bounds include the largest key, whose
//! encoding is all `0xFF`.
//!
//! Operations: `put`, `delete`, `put_batch`, `update` (set, set-if-absent, modify, remove),
//! `compare_and_swap`, `get_or_insert`, `get`/`contains`, `get_many`, ranges (random bounds,
//! forwards or reversed, early stop, auto-commit or in a snapshot), prefixes; `Storage::write`
//! transactions over both tables (`put_in`, `delete_in`, `update_in`, `get_in`, `len_in`,
//! `range_in`) that commit, fail with the caller's error, or fail with `NestedWrite` after an
//! auto-commit write inside; `begin_write` handles that commit, roll back or are dropped;
//! panicking transactions of both kinds; and, on redb, closing everything and reopening the
//! file (with or without a `flush` first; commits are not fsynced). After every operation both
//! lengths are checked; every few operations and at the end, full scans both ways.
//!
//! Default: 64 cases of up to 40 operations per engine. A long run:
//!
//! ```sh
//! ZEROTABLE_MODEL_CASES=2000 cargo test --release --all-features --test model_ops
//! ```
//!
//! Failures are not persisted to a regressions file: proptest prints the shrunk sequence.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, ControlFlow};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use proptest::prelude::*;
use rkyv::{Archive, Serialize};
use zerotable::{
    Durability, Error, FromKeyBytes, IntoKeyBytes, RawSerializer, RedbOptions, RkyvSerializer,
    Scanner, Storage, Table, ValueSerializer, WriteTx,
};

/// The rkyv-stored value.
#[derive(Archive, Serialize, Clone, Debug, PartialEq)]
struct Row {
    v: u32,
    s: String,
}

type RowKey = (u8, u16);

// ---- the two tables, seen generically ----

/// What the model needs to know about a table: key type, model value, how to read a view.
trait Spec: 'static {
    type K: Ord + Clone + Debug + IntoKeyBytes + FromKeyBytes;
    type V: ?Sized;
    /// The value as the model keeps it, and as it is handed to the table.
    type M: Clone + Debug + PartialEq + Borrow<Self::V>;
    type S: ValueSerializer<Self::V>;

    fn to_model(view: <Self::S as ValueSerializer<Self::V>>::Output<'_>) -> Self::M;
    /// The "modify" change of `update`.
    fn modify(value: &Self::M) -> Self::M;
}

/// The `bytes` table: raw values.
struct Bytes;

impl Spec for Bytes {
    type K = u16;
    type V = [u8];
    type M = Vec<u8>;
    type S = RawSerializer;

    fn to_model(view: &[u8]) -> Vec<u8> {
        view.to_vec()
    }

    fn modify(value: &Vec<u8>) -> Vec<u8> {
        let mut value = value.clone();
        value.push(0xAB);
        value
    }
}

/// The `rows` table: rkyv values, composite keys.
struct Rows;

impl Spec for Rows {
    type K = RowKey;
    type V = Row;
    type M = Row;
    type S = RkyvSerializer<Row>;

    fn to_model(view: &ArchivedRow) -> Row {
        Row {
            v: view.v.to_native(),
            s: view.s.as_str().to_owned(),
        }
    }

    fn modify(value: &Row) -> Row {
        Row {
            v: value.v + 1,
            s: format!("{}m", value.s),
        }
    }
}

type TableOf<P> = Table<<P as Spec>::K, <P as Spec>::V, <P as Spec>::S>;
type MapOf<P> = BTreeMap<<P as Spec>::K, <P as Spec>::M>;

fn view<P: Spec>(value: &P::M) -> &P::V {
    value.borrow()
}

// ---- operations ----

/// What an `update` does with the current value.
#[derive(Clone, Debug)]
enum Change<M> {
    Set(M),
    SetIfAbsent(M),
    /// `Spec::modify` if present, stays absent otherwise.
    Modify,
    Remove,
}

impl<M: Clone> Change<M> {
    fn apply(&self, current: Option<M>, modify: fn(&M) -> M) -> Option<M> {
        match self {
            Change::Set(value) => Some(value.clone()),
            Change::SetIfAbsent(value) => current.or_else(|| Some(value.clone())),
            Change::Modify => current.as_ref().map(modify),
            Change::Remove => None,
        }
    }
}

/// The `expected` of a `compare_and_swap`.
#[derive(Clone, Debug)]
enum Expect<M> {
    /// The model's current value (or absence): always swaps.
    Current,
    Given(Option<M>),
}

#[derive(Clone, Debug)]
enum TableOp<K, M> {
    Put(K, M),
    Delete(K),
    PutBatch(Vec<(K, M)>),
    Update(K, Change<M>),
    CompareAndSwap(K, Expect<M>, Option<M>),
    GetOrInsert(K, M),
    Get(K),
    GetMany(Vec<K>),
    Range {
        start: Bound<K>,
        end: Bound<K>,
        rev: bool,
        limit: Option<usize>,
        in_snapshot: bool,
    },
}

/// One step inside a write transaction.
#[derive(Clone, Debug)]
enum TxTableOp<K, M> {
    Put(K, M),
    Delete(K),
    Update(K, Change<M>),
    Get(K),
    Len,
    Range {
        start: Bound<K>,
        end: Bound<K>,
        rev: bool,
    },
}

#[derive(Clone, Debug)]
enum TxOp {
    Bytes(TxTableOp<u16, Vec<u8>>),
    Rows(TxTableOp<RowKey, Row>),
}

/// How a `Storage::write` closure ends.
#[derive(Clone, Copy, Debug)]
enum WriteEnd {
    Commit,
    /// Returns `Error::callback`.
    Fail,
    /// Tries an auto-commit `put` (refused with `NestedWrite`) and returns that error.
    NestedWrite,
}

/// How a `begin_write` handle ends.
#[derive(Clone, Copy, Debug)]
enum HandleEnd {
    Commit,
    Rollback,
    Drop,
}

#[derive(Clone, Debug)]
enum Op {
    Bytes(TableOp<u16, Vec<u8>>),
    Rows(TableOp<RowKey, Row>),
    Prefix {
        first: u8,
        rev: bool,
        limit: Option<usize>,
    },
    Write {
        ops: Vec<TxOp>,
        end: WriteEnd,
    },
    BeginWrite {
        ops: Vec<TxOp>,
        end: HandleEnd,
    },
    /// A transaction (`Storage::write`, or a `begin_write` handle if `handle`) that panics
    /// after its steps.
    Panic {
        ops: Vec<TxOp>,
        handle: bool,
    },
    /// redb: drop the storage and every table handle, open the file again. Memory: a full check.
    Reopen {
        flush: bool,
    },
}

// ---- strategies ----

fn bytes_key() -> BoxedStrategy<u16> {
    prop_oneof![12 => 0u16..16, 1 => Just(u16::MAX)].boxed()
}

fn bytes_value() -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(0u8..4, 0..4).boxed()
}

fn row_key() -> BoxedStrategy<RowKey> {
    (
        prop_oneof![4 => 0u8..3, 1 => Just(u8::MAX)],
        prop_oneof![6 => 0u16..5, 1 => Just(u16::MAX)],
    )
        .boxed()
}

fn prefix_first() -> BoxedStrategy<u8> {
    prop_oneof![4 => 0u8..4, 1 => Just(u8::MAX)].boxed()
}

fn row_value() -> BoxedStrategy<Row> {
    (0u32..3, "[ab]{0,2}")
        .prop_map(|(v, s)| Row { v, s })
        .boxed()
}

fn bound<K: Clone + Debug + 'static>(key: BoxedStrategy<K>) -> BoxedStrategy<Bound<K>> {
    prop_oneof![
        Just(Bound::Unbounded),
        key.clone().prop_map(Bound::Included),
        key.prop_map(Bound::Excluded),
    ]
    .boxed()
}

fn change<M: Clone + Debug + 'static>(value: BoxedStrategy<M>) -> BoxedStrategy<Change<M>> {
    prop_oneof![
        value.clone().prop_map(Change::Set),
        value.prop_map(Change::SetIfAbsent),
        Just(Change::Modify),
        Just(Change::Remove),
    ]
    .boxed()
}

fn table_op<K, M>(key: BoxedStrategy<K>, value: BoxedStrategy<M>) -> BoxedStrategy<TableOp<K, M>>
where
    K: Clone + Debug + 'static,
    M: Clone + Debug + 'static,
{
    let expect = prop_oneof![
        Just(Expect::Current),
        prop::option::of(value.clone()).prop_map(Expect::Given),
    ];
    let range = (
        bound(key.clone()),
        bound(key.clone()),
        any::<bool>(),
        prop::option::of(1usize..6),
        any::<bool>(),
    )
        .prop_map(|(start, end, rev, limit, in_snapshot)| TableOp::Range {
            start,
            end,
            rev,
            limit,
            in_snapshot,
        });
    prop_oneof![
        4 => (key.clone(), value.clone()).prop_map(|(k, v)| TableOp::Put(k, v)),
        3 => key.clone().prop_map(TableOp::Delete),
        2 => prop::collection::vec((key.clone(), value.clone()), 0..8).prop_map(TableOp::PutBatch),
        3 => (key.clone(), change(value.clone())).prop_map(|(k, c)| TableOp::Update(k, c)),
        2 => (key.clone(), expect, prop::option::of(value.clone()))
            .prop_map(|(k, e, n)| TableOp::CompareAndSwap(k, e, n)),
        1 => (key.clone(), value.clone()).prop_map(|(k, v)| TableOp::GetOrInsert(k, v)),
        1 => key.clone().prop_map(TableOp::Get),
        1 => prop::collection::vec(key.clone(), 0..5).prop_map(TableOp::GetMany),
        3 => range,
    ]
    .boxed()
}

fn tx_table_op<K, M>(
    key: BoxedStrategy<K>,
    value: BoxedStrategy<M>,
) -> BoxedStrategy<TxTableOp<K, M>>
where
    K: Clone + Debug + 'static,
    M: Clone + Debug + 'static,
{
    prop_oneof![
        4 => (key.clone(), value.clone()).prop_map(|(k, v)| TxTableOp::Put(k, v)),
        3 => key.clone().prop_map(TxTableOp::Delete),
        2 => (key.clone(), change(value)).prop_map(|(k, c)| TxTableOp::Update(k, c)),
        1 => key.clone().prop_map(TxTableOp::Get),
        1 => Just(TxTableOp::Len),
        1 => (bound(key.clone()), bound(key), any::<bool>())
            .prop_map(|(start, end, rev)| TxTableOp::Range { start, end, rev }),
    ]
    .boxed()
}

fn tx_ops() -> BoxedStrategy<Vec<TxOp>> {
    let op = prop_oneof![
        tx_table_op(bytes_key(), bytes_value()).prop_map(TxOp::Bytes),
        tx_table_op(row_key(), row_value()).prop_map(TxOp::Rows),
    ];
    prop::collection::vec(op, 0..7).boxed()
}

fn op() -> impl Strategy<Value = Op> {
    let write_end = prop_oneof![
        3 => Just(WriteEnd::Commit),
        1 => Just(WriteEnd::Fail),
        1 => Just(WriteEnd::NestedWrite),
    ];
    let handle_end = prop_oneof![
        2 => Just(HandleEnd::Commit),
        1 => Just(HandleEnd::Rollback),
        1 => Just(HandleEnd::Drop),
    ];
    prop_oneof![
        10 => table_op(bytes_key(), bytes_value()).prop_map(Op::Bytes),
        7 => table_op(row_key(), row_value()).prop_map(Op::Rows),
        2 => (prefix_first(), any::<bool>(), prop::option::of(1usize..4))
            .prop_map(|(first, rev, limit)| Op::Prefix { first, rev, limit }),
        3 => (tx_ops(), write_end).prop_map(|(ops, end)| Op::Write { ops, end }),
        2 => (tx_ops(), handle_end).prop_map(|(ops, end)| Op::BeginWrite { ops, end }),
        1 => (tx_ops(), any::<bool>()).prop_map(|(ops, handle)| Op::Panic { ops, handle }),
        1 => any::<bool>().prop_map(|flush| Op::Reopen { flush }),
    ]
}

/// A sequence: a `put_batch` into each table (so later ops find keys present), then up to 40
/// random operations.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec((bytes_key(), bytes_value()), 0..12),
        prop::collection::vec((row_key(), row_value()), 0..12),
        prop::collection::vec(op(), 1..=40),
    )
        .prop_map(|(bytes, rows, ops)| {
            let seed = [
                Op::Bytes(TableOp::PutBatch(bytes)),
                Op::Rows(TableOp::PutBatch(rows)),
            ];
            seed.into_iter().chain(ops).collect()
        })
}

// ---- the system under test and its model ----

#[derive(Clone, Copy, Debug)]
enum Engine {
    Memory,
    Redb,
}

/// A storage and its two tables. Dropping it closes a redb file: nothing else holds it.
struct World {
    storage: Storage,
    bytes: TableOf<Bytes>,
    rows: TableOf<Rows>,
    /// The redb file, if any.
    path: Option<PathBuf>,
}

impl World {
    fn new(storage: Storage, path: Option<PathBuf>) -> Self {
        World {
            bytes: storage.raw_table::<u16>("bytes").unwrap(),
            rows: storage.rkyv_table::<RowKey, Row>("rows").unwrap(),
            storage,
            path,
        }
    }

    fn open_redb(path: &Path) -> Self {
        // No fsync per commit: a clean close (or `flush`) makes them durable.
        let options = RedbOptions::default().durability(Durability::None);
        let storage = Storage::open_with(path, options).unwrap();
        World::new(storage, Some(path.to_owned()))
    }
}

#[derive(Clone, Debug, Default)]
struct Model {
    bytes: MapOf<Bytes>,
    rows: MapOf<Rows>,
}

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

/// Runs a scanner with `try_for_each`, stopping after `limit` entries. An engine that goes on
/// visiting after the stop shows up as extra entries.
fn collect<P: Spec>(
    scanner: Scanner<'_, P::K, P::V, P::S>,
    rev: bool,
    limit: Option<usize>,
) -> zerotable::Result<Vec<(P::K, P::M)>> {
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

fn run_table_op<P: Spec>(
    storage: &Storage,
    table: &TableOf<P>,
    model: &mut MapOf<P>,
    op: &TableOp<P::K, P::M>,
) {
    match op {
        TableOp::Put(key, value) => {
            table.put(key, view::<P>(value)).unwrap();
            model.insert(key.clone(), value.clone());
        }
        TableOp::Delete(key) => {
            let existed = table.delete(key).unwrap();
            assert_eq!(existed, model.remove(key).is_some(), "delete({key:?})");
        }
        TableOp::PutBatch(items) => {
            table.put_batch(items.iter().cloned()).unwrap();
            for (key, value) in items {
                model.insert(key.clone(), value.clone());
            }
        }
        TableOp::Update(key, change) => {
            let current = model.get(key).cloned();
            let replacement = change.apply(current.clone(), P::modify);
            let mut seen = Vec::new();
            let stored = table
                .update(key, |old| {
                    seen.push(old.map(|old| P::to_model(old)));
                    replacement.clone()
                })
                .unwrap();
            assert_eq!(seen, [current], "update({key:?}) saw");
            assert_eq!(stored, replacement.is_some(), "update({key:?}) result");
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
            let swapped = table
                .compare_and_swap(
                    key,
                    expected.as_ref().map(view::<P>),
                    new.as_ref().map(view::<P>),
                )
                .unwrap();
            assert_eq!(swapped, expected == current, "compare_and_swap({key:?})");
            if swapped {
                match new {
                    Some(value) => model.insert(key.clone(), value.clone()),
                    None => model.remove(key),
                };
            }
        }
        TableOp::GetOrInsert(key, value) => {
            let mut made = 0;
            let got = table
                .get_or_insert(
                    key,
                    || {
                        made += 1;
                        value.clone()
                    },
                    |stored| P::to_model(stored),
                )
                .unwrap();
            let absent = !model.contains_key(key);
            let want = model.entry(key.clone()).or_insert_with(|| value.clone());
            assert_eq!(&got, want, "get_or_insert({key:?})");
            assert_eq!(
                made,
                usize::from(absent),
                "get_or_insert({key:?}) calls of make"
            );
        }
        TableOp::Get(key) => {
            let got = table.get(key, |stored| P::to_model(stored)).unwrap();
            assert_eq!(got.as_ref(), model.get(key), "get({key:?})");
            assert_eq!(table.contains(key).unwrap(), model.contains_key(key));
        }
        TableOp::GetMany(keys) => {
            let got = table
                .get_many(keys, |stored| stored.map(|stored| P::to_model(stored)))
                .unwrap();
            let want: Vec<Option<P::M>> = keys.iter().map(|k| model.get(k).cloned()).collect();
            assert_eq!(got, want, "get_many({keys:?})");
        }
        TableOp::Range {
            start,
            end,
            rev,
            limit,
            in_snapshot,
        } => {
            let bounds = (start.clone(), end.clone());
            let got = if *in_snapshot {
                storage
                    .read(|snap| {
                        collect::<P>(table.range_in::<_, P::K, _>(snap, bounds), *rev, *limit)
                    })
                    .unwrap()
            } else {
                collect::<P>(table.range::<P::K, _>(bounds), *rev, *limit).unwrap()
            };
            let want = expected(model, |k| in_bounds(k, start, end), *rev, *limit);
            assert_eq!(
                got, want,
                "range({start:?}, {end:?}) rev {rev} limit {limit:?}"
            );
        }
    }
}

fn run_tx_table_op<P: Spec>(
    tx: &mut WriteTx<'_>,
    table: &TableOf<P>,
    pending: &mut MapOf<P>,
    op: &TxTableOp<P::K, P::M>,
) {
    match op {
        TxTableOp::Put(key, value) => {
            table.put_in(tx, key, view::<P>(value)).unwrap();
            pending.insert(key.clone(), value.clone());
        }
        TxTableOp::Delete(key) => {
            let existed = table.delete_in(tx, key).unwrap();
            assert_eq!(existed, pending.remove(key).is_some(), "delete_in({key:?})");
        }
        TxTableOp::Update(key, change) => {
            let current = pending.get(key).cloned();
            let replacement = change.apply(current.clone(), P::modify);
            let mut seen = Vec::new();
            let stored = table
                .update_in(tx, key, |old| {
                    seen.push(old.map(|old| P::to_model(old)));
                    replacement.clone()
                })
                .unwrap();
            assert_eq!(seen, [current], "update_in({key:?}) saw");
            assert_eq!(stored, replacement.is_some(), "update_in({key:?}) result");
            match replacement {
                Some(value) => pending.insert(key.clone(), value),
                None => pending.remove(key),
            };
        }
        TxTableOp::Get(key) => {
            let got = table.get_in(tx, key, |stored| P::to_model(stored)).unwrap();
            assert_eq!(got.as_ref(), pending.get(key), "get_in({key:?})");
            assert_eq!(
                table.contains_in(tx, key).unwrap(),
                pending.contains_key(key)
            );
        }
        TxTableOp::Len => {
            assert_eq!(table.len_in(tx).unwrap(), pending.len() as u64, "len_in");
        }
        TxTableOp::Range { start, end, rev } => {
            let bounds = (start.clone(), end.clone());
            let got = collect::<P>(table.range_in::<_, P::K, _>(tx, bounds), *rev, None).unwrap();
            let want = expected(pending, |k| in_bounds(k, start, end), *rev, None);
            assert_eq!(got, want, "range_in({start:?}, {end:?}) rev {rev}");
        }
    }
}

fn run_tx(world: &World, tx: &mut WriteTx<'_>, pending: &mut Model, ops: &[TxOp]) {
    for op in ops {
        match op {
            TxOp::Bytes(op) => run_tx_table_op::<Bytes>(tx, &world.bytes, &mut pending.bytes, op),
            TxOp::Rows(op) => run_tx_table_op::<Rows>(tx, &world.rows, &mut pending.rows, op),
        }
    }
}

/// The payload of the panics this test makes on purpose (kept out of the output).
struct ModelPanic;

fn quiet_model_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<ModelPanic>() {
                previous(info);
            }
        }));
    });
}

fn run_op(world: &World, model: &mut Model, op: &Op) {
    match op {
        Op::Bytes(op) => run_table_op::<Bytes>(&world.storage, &world.bytes, &mut model.bytes, op),
        Op::Rows(op) => run_table_op::<Rows>(&world.storage, &world.rows, &mut model.rows, op),
        Op::Prefix { first, rev, limit } => {
            let got = collect::<Rows>(world.rows.prefix(&(*first,)), *rev, *limit).unwrap();
            let want = expected(&model.rows, |(a, _)| a == first, *rev, *limit);
            assert_eq!(got, want, "prefix(({first},)) rev {rev} limit {limit:?}");
        }
        Op::Write { ops, end } => {
            let mut pending = model.clone();
            let result = world.storage.write(|tx| {
                run_tx(world, tx, &mut pending, ops);
                match end {
                    WriteEnd::Commit => Ok(()),
                    WriteEnd::Fail => Err(Error::callback("the model aborts")),
                    WriteEnd::NestedWrite => {
                        let error = world.bytes.put(&0, b"nested").unwrap_err();
                        assert!(matches!(error, Error::NestedWrite { .. }), "{error:?}");
                        Err(error)
                    }
                }
            });
            match end {
                WriteEnd::Commit => {
                    result.unwrap();
                    *model = pending;
                }
                WriteEnd::Fail => {
                    assert!(matches!(result, Err(Error::Callback { .. })), "{result:?}");
                }
                WriteEnd::NestedWrite => {
                    assert!(
                        matches!(result, Err(Error::NestedWrite { .. })),
                        "{result:?}"
                    );
                }
            }
        }
        Op::BeginWrite { ops, end } => {
            let mut pending = model.clone();
            let mut tx = world.storage.begin_write().unwrap();
            run_tx(world, &mut tx, &mut pending, ops);
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
                    let mut tx = world.storage.begin_write().unwrap();
                    run_tx(world, &mut tx, &mut pending, ops);
                    panic::panic_any(ModelPanic);
                }
                let _ = world.storage.write::<()>(|tx| {
                    run_tx(world, tx, &mut pending, ops);
                    panic::panic_any(ModelPanic)
                });
            }));
            match outcome {
                Err(payload) if payload.is::<ModelPanic>() => {}
                Err(payload) => panic::resume_unwind(payload),
                Ok(()) => panic!("the transaction did not panic"),
            }
        }
        Op::Reopen { .. } => {} // run() owns the world
    }
}

/// Both tables' full contents, both ways, equal the model.
fn check_table<P: Spec>(table: &TableOf<P>, model: &MapOf<P>, step: &str) {
    let forward = table
        .filter_map(|key, value| Some((key.clone(), P::to_model(value))))
        .unwrap();
    let want: Vec<(P::K, P::M)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(forward, want, "{}: full scan {step}", table.name());
    let backward = table
        .scan()
        .rev()
        .fold(Vec::new(), |mut acc, key, value| {
            acc.push((key.clone(), P::to_model(value)));
            Ok(acc)
        })
        .unwrap();
    assert!(
        backward.iter().eq(want.iter().rev()),
        "{}: reversed scan {step}: {backward:?}",
        table.name()
    );
    assert_eq!(table.is_empty().unwrap(), model.is_empty());
}

fn check_lens(world: &World, model: &Model, step: &str) {
    assert_eq!(
        world.bytes.len().unwrap(),
        model.bytes.len() as u64,
        "bytes len {step}"
    );
    assert_eq!(
        world.rows.len().unwrap(),
        model.rows.len() as u64,
        "rows len {step}"
    );
}

fn check_all(world: &World, model: &Model, step: &str) {
    check_lens(world, model, step);
    check_table::<Bytes>(&world.bytes, &model.bytes, step);
    check_table::<Rows>(&world.rows, &model.rows, step);
}

fn run(engine: Engine, ops: &[Op]) {
    quiet_model_panics();
    let dir = tempfile::tempdir().unwrap();
    let mut world = match engine {
        Engine::Memory => World::new(Storage::in_memory(), None),
        Engine::Redb => World::open_redb(&dir.path().join("model.redb")),
    };
    let mut model = Model::default();
    for (i, op) in ops.iter().enumerate() {
        let step = format!("after op {i} ({op:?}) on {engine:?}");
        if let Op::Reopen { flush } = op {
            if let Some(path) = world.path.clone() {
                if *flush {
                    world.storage.flush().unwrap();
                }
                drop(world);
                world = World::open_redb(&path);
            }
            check_all(&world, &model, &step);
            continue;
        }
        run_op(&world, &mut model, op);
        check_lens(&world, &model, &step);
        if i % 5 == 4 {
            check_all(&world, &model, &step);
        }
    }
    check_all(&world, &model, "at the end");
}

fn config() -> ProptestConfig {
    let cases = std::env::var("ZEROTABLE_MODEL_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        // Tests may only add their own file: print shrunk failures, write no regression file.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn memory_engine_matches_model(ops in ops()) {
        run(Engine::Memory, &ops);
    }

    #[test]
    fn redb_engine_matches_model(ops in ops()) {
        run(Engine::Redb, &ops);
    }
}
