//! Conformance check: random sequences of typed table operations, run through a [`Storage`]
//! over the engine under test and against a `BTreeMap` model of each table; proptest shrinks
//! any sequence where the tables and the model disagree to a minimal one, which the failure
//! message prints.
//!
//! The tables: `bytes`, raw values under `u16` keys, and `rows`, rkyv values (validated on every
//! read) under `(u8, u16)` keys (for prefix scans). Keys come from a small domain so overwrites,
//! deletes of present keys and CAS hits are common; bounds include the largest key, whose
//! encoding is all `0xFF`.
//!
//! Operations:
//! - auto-commit: `put`, `delete`, `put_batch`, `update` (set, set-if-absent, modify, remove),
//!   `compare_and_swap`, `get_or_insert`, `get`/`contains`, `get_many`, ranges (random bounds,
//!   forwards or reversed, early stop, auto-commit or in a snapshot), prefixes;
//! - in a write transaction over both tables: `put_in`, `delete_in`, `put_batch_in`,
//!   `update_in`, `compare_and_swap_in`, `get_or_insert_in`, `get_in`/`contains_in`,
//!   `get_many_in`, `len_in`, `range_in` (with early stop), `prefix_in`; scanning one table
//!   while writing (or deleting from) the other; auto-commit reads from inside the transaction,
//!   which see the committed state only;
//! - transactions: `Storage::write` (default or no durability) that commits, fails with the
//!   caller's error, fails with the `NestedWrite` error of a nested write (auto-commit put,
//!   `Storage::write` or `begin_write` on the same thread), or swallows that error and commits;
//!   `begin_write` handles that commit, roll back or are dropped; panicking transactions of
//!   both kinds;
//! - reopening: on a [`persistent`](crate::Capabilities::persistent) engine, dropping every
//!   handle and reopening the database through the harness, with or without a `flush` first
//!   (nothing committed may be lost, even commits made without durability: the engine is closed
//!   cleanly); on other engines a full comparison without reopening.
//!
//! After every operation both lengths are checked; every few operations, after a reopen and at
//! the end, full scans both ways, plus the raw entries read through the engine in the run's
//! [`Mode`].
//!
//! Each proptest case starts by dropping both tables through [`Storage::drop_table`] and opening
//! them again, since a check gets one engine for all its cases. Default: 64 cases of up to 40
//! operations in [`Mode::Boxed`], and an eighth as many (8) in [`Mode::Scoped`], to save time:
//! the typed layer goes through both kinds of engine transactions in either mode, only the raw
//! cross-checks follow the mode. The environment variable `ZEROTABLE_MODEL_CASES` sets the
//! number of cases (of the boxed run). A long run:
//!
//! ```sh
//! ZEROTABLE_MODEL_CASES=10000 cargo test --release --all-features --test conformance model
//! ```
//!
//! Failures are not persisted to a regressions file: the failure message holds the shrunk
//! sequence.

use std::borrow::Borrow;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, ControlFlow};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use rkyv::{Archive, Serialize};

use super::support::assert_unsupported;
use super::{Fixture, Mode};
use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyArena};
use crate::codec::value::{RawSerializer, RkyvSerializer, ValueSerializer};
use crate::engine::{Durability, WriteOptions};
use crate::error::{EngineErrorKind, Error, Result};
use crate::scan::Scanner;
use crate::storage::Storage;
use crate::table::Table;
use crate::txn::WriteTx;

super::checks! {
    /// Random sequences of typed operations — auto-commit, in transactions that commit, fail,
    /// nest or panic, scans of one table that write the other, reopening — leave both tables
    /// exactly as an ordered map model says, and every read on the way agrees with the model.
    fn typed_operations_match_an_ordered_map_model(f: &Fixture) {
        quiet_model_panics();
        let mut runner = TestRunner::new(config(f.mode()));
        let outcome = runner.run(&ops(), |ops| {
            let _case = CaseGuard::enter();
            run(f, &ops);
            Ok(())
        });
        match outcome {
            Ok(()) => {}
            Err(TestError::Fail(reason, ops)) => panic!(
                "the engine disagrees with the model: {reason}\n(panicked at {})\nminimal \
                 failing sequence ({} operations, each case on freshly dropped tables):\n{ops:#?}",
                LAST_FAILURE.with(|last| last.borrow_mut().take()).unwrap_or_default(),
                ops.len()
            ),
            Err(TestError::Abort(reason)) => panic!("the model test aborted: {reason}"),
        }
    }
}

/// `ZEROTABLE_MODEL_CASES` (default 64) cases in boxed mode, an eighth of them in scoped mode.
fn config(mode: Mode) -> Config {
    let cases: u32 = std::env::var("ZEROTABLE_MODEL_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64);
    let cases = match mode {
        Mode::Boxed => cases,
        Mode::Scoped => cases.div_ceil(8),
    };
    let defaults = Config::default();
    // proptest's default shrinks for `4 * cases` iterations only: too few for the scoped runs.
    let max_shrink_iters = match defaults.max_shrink_iters {
        u32::MAX => 1024,
        set_in_environment => set_in_environment,
    };
    Config {
        cases,
        max_shrink_iters,
        // A check may only touch its own engine: print shrunk failures, write no regression file.
        failure_persistence: None,
        ..defaults
    }
}

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

/// The row a `bytes` entry becomes when copied into `rows`.
fn row_of_bytes(value: &[u8]) -> Row {
    Row {
        v: value.len() as u32,
        s: value.iter().map(|b| char::from(b'a' + b % 26)).collect(),
    }
}

/// The bytes a `rows` entry becomes when copied into `bytes`.
fn bytes_of_row(row: &Row) -> Vec<u8> {
    let mut value = vec![row.v as u8];
    value.extend(row.s.bytes());
    value
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

/// One operation on one table, auto-commit (`put`) or in a write transaction (`put_in`).
#[derive(Clone, Debug)]
enum TableOp<K, M> {
    Put(K, M),
    Delete(K),
    PutBatch(Vec<(K, M)>),
    Update(K, Change<M>),
    CompareAndSwap(K, Expect<M>, Option<M>),
    GetOrInsert(K, M),
    /// `get` and `contains`.
    Get(K),
    GetMany(Vec<K>),
    Range {
        start: Bound<K>,
        end: Bound<K>,
        rev: bool,
        limit: Option<usize>,
        /// Auto-commit only: in a snapshot instead of a read of its own.
        in_snapshot: bool,
    },
    /// In a transaction only: `len_in`.
    Len,
}

/// One step inside a write transaction.
#[derive(Clone, Debug)]
enum TxOp {
    Bytes(TableOp<u16, Vec<u8>>),
    Rows(TableOp<RowKey, Row>),
    /// `prefix_in` over `rows`.
    Prefix {
        first: u8,
        rev: bool,
    },
    /// Scans `bytes` with `range_in` (stopping after `limit` entries) and, for every entry
    /// `(k, v)`, writes `(first, k) => row_of_bytes(v)` into `rows` — or deletes `(first, k)`
    /// from it — in the same transaction.
    BytesIntoRows {
        start: Bound<u16>,
        end: Bound<u16>,
        rev: bool,
        limit: Option<usize>,
        first: u8,
        delete: bool,
    },
    /// Scans `rows` with `prefix_in((first,))` and, for every entry `((first, b), row)`, writes
    /// `b => bytes_of_row(row)` into `bytes` — or deletes `b` from it — in the same transaction.
    RowsIntoBytes {
        first: u8,
        rev: bool,
        delete: bool,
    },
    /// Auto-commit reads from inside the transaction: they see the committed state only.
    ReadCommitted(u16),
}

/// A write attempted on the same thread inside a running transaction.
#[derive(Clone, Copy, Debug)]
enum Nested {
    /// An auto-commit `Table::put`.
    AutoCommitPut,
    /// `Storage::write`.
    StorageWrite,
    /// `Storage::begin_write`.
    BeginWrite,
}

/// How a `Storage::write` closure ends.
#[derive(Clone, Copy, Debug)]
enum WriteEnd {
    Commit,
    /// Returns `Error::callback`.
    Fail,
    /// Tries a nested write (refused with `NestedWrite`) and returns that error.
    NestedWrite(Nested),
    /// Tries a nested write (refused with `NestedWrite`), ignores the error and commits.
    NestedWriteThenCommit(Nested),
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
    /// `Storage::write`, with `Durability::None` if `fast`.
    Write {
        ops: Vec<TxOp>,
        end: WriteEnd,
        fast: bool,
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
    /// Persistent engines: drop the storage and every table handle, reopen the database (after
    /// a `flush` if `flush`). Others: a full comparison.
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

/// Table operations; in a transaction (`in_tx`) with `Len` too and never `in_snapshot`.
fn table_op<K, M>(
    key: BoxedStrategy<K>,
    value: BoxedStrategy<M>,
    in_tx: bool,
) -> BoxedStrategy<TableOp<K, M>>
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
        .prop_map(
            move |(start, end, rev, limit, in_snapshot)| TableOp::Range {
                start,
                end,
                rev,
                limit,
                in_snapshot: in_snapshot && !in_tx,
            },
        );
    let op = prop_oneof![
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
    ];
    if in_tx {
        prop_oneof![20 => op, 1 => Just(TableOp::Len)].boxed()
    } else {
        op.boxed()
    }
}

fn tx_ops() -> BoxedStrategy<Vec<TxOp>> {
    let bytes_into_rows = (
        bound(bytes_key()),
        bound(bytes_key()),
        any::<bool>(),
        prop::option::of(1usize..6),
        prefix_first(),
        any::<bool>(),
    )
        .prop_map(
            |(start, end, rev, limit, first, delete)| TxOp::BytesIntoRows {
                start,
                end,
                rev,
                limit,
                first,
                delete,
            },
        );
    let op = prop_oneof![
        8 => table_op(bytes_key(), bytes_value(), true).prop_map(TxOp::Bytes),
        8 => table_op(row_key(), row_value(), true).prop_map(TxOp::Rows),
        1 => (prefix_first(), any::<bool>()).prop_map(|(first, rev)| TxOp::Prefix { first, rev }),
        1 => bytes_into_rows,
        1 => (prefix_first(), any::<bool>(), any::<bool>())
            .prop_map(|(first, rev, delete)| TxOp::RowsIntoBytes { first, rev, delete }),
        1 => bytes_key().prop_map(TxOp::ReadCommitted),
    ];
    prop::collection::vec(op, 0..8).boxed()
}

fn nested() -> BoxedStrategy<Nested> {
    prop_oneof![
        2 => Just(Nested::AutoCommitPut),
        1 => Just(Nested::StorageWrite),
        1 => Just(Nested::BeginWrite),
    ]
    .boxed()
}

fn op() -> impl Strategy<Value = Op> {
    let write_end = prop_oneof![
        4 => Just(WriteEnd::Commit),
        1 => Just(WriteEnd::Fail),
        1 => nested().prop_map(WriteEnd::NestedWrite),
        1 => nested().prop_map(WriteEnd::NestedWriteThenCommit),
    ];
    let handle_end = prop_oneof![
        2 => Just(HandleEnd::Commit),
        1 => Just(HandleEnd::Rollback),
        1 => Just(HandleEnd::Drop),
    ];
    prop_oneof![
        10 => table_op(bytes_key(), bytes_value(), false).prop_map(Op::Bytes),
        7 => table_op(row_key(), row_value(), false).prop_map(Op::Rows),
        2 => (prefix_first(), any::<bool>(), prop::option::of(1usize..4))
            .prop_map(|(first, rev, limit)| Op::Prefix { first, rev, limit }),
        4 => (tx_ops(), write_end, any::<bool>())
            .prop_map(|(ops, end, fast)| Op::Write { ops, end, fast }),
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

/// A storage over the fixture's engine and its two tables. Dropping it leaves the fixture's
/// handle the only one on the engine, so that it can be reopened.
struct World {
    storage: Storage,
    bytes: TableOf<Bytes>,
    rows: TableOf<Rows>,
}

impl World {
    /// The two tables, opened (and recorded in the catalog if new).
    fn open(f: &Fixture) -> Self {
        let storage = f.storage();
        World {
            bytes: storage.raw_table::<u16>("bytes").expect("open table bytes"),
            rows: storage
                .rkyv_table::<RowKey, Row>("rows")
                .expect("open table rows"),
            storage,
        }
    }

    /// The two tables, dropped (whatever an earlier case left in them) and opened empty.
    fn fresh(f: &Fixture) -> Self {
        let storage = f.storage();
        for name in ["bytes", "rows"] {
            storage.drop_table(name).expect("drop_table");
            assert!(
                !storage.table_exists(name).expect("table_exists"),
                "a dropped table keeps its catalog record"
            );
        }
        drop(storage);
        World::open(f)
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
            assert_eq!(
                table.contains(key).unwrap(),
                model.contains_key(key),
                "contains({key:?})"
            );
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
                        scan_collect::<P>(table.range_in::<_, P::K, _>(snap, bounds), *rev, *limit)
                    })
                    .unwrap()
            } else {
                scan_collect::<P>(table.range::<P::K, _>(bounds), *rev, *limit).unwrap()
            };
            let want = expected(model, |k| in_bounds(k, start, end), *rev, *limit);
            assert_eq!(
                got, want,
                "range({start:?}, {end:?}) rev {rev} limit {limit:?}"
            );
        }
        TableOp::Len => {
            assert_eq!(table.len().unwrap(), model.len() as u64, "len");
        }
    }
}

fn run_tx_table_op<P: Spec>(
    tx: &WriteTx<'_>,
    table: &TableOf<P>,
    pending: &mut MapOf<P>,
    op: &TableOp<P::K, P::M>,
) {
    match op {
        TableOp::Put(key, value) => {
            table.put_in(tx, key, view::<P>(value)).unwrap();
            pending.insert(key.clone(), value.clone());
        }
        TableOp::Delete(key) => {
            let existed = table.delete_in(tx, key).unwrap();
            assert_eq!(existed, pending.remove(key).is_some(), "delete_in({key:?})");
        }
        TableOp::PutBatch(items) => {
            table.put_batch_in(tx, items.iter().cloned()).unwrap();
            for (key, value) in items {
                pending.insert(key.clone(), value.clone());
            }
        }
        TableOp::Update(key, change) => {
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
        TableOp::CompareAndSwap(key, expect, new) => {
            let current = pending.get(key).cloned();
            let expected = match expect {
                Expect::Current => current.clone(),
                Expect::Given(value) => value.clone(),
            };
            let swapped = table
                .compare_and_swap_in(
                    tx,
                    key,
                    expected.as_ref().map(view::<P>),
                    new.as_ref().map(view::<P>),
                )
                .unwrap();
            assert_eq!(swapped, expected == current, "compare_and_swap_in({key:?})");
            if swapped {
                match new {
                    Some(value) => pending.insert(key.clone(), value.clone()),
                    None => pending.remove(key),
                };
            }
        }
        TableOp::GetOrInsert(key, value) => {
            let mut made = 0;
            let got = table
                .get_or_insert_in(
                    tx,
                    key,
                    || {
                        made += 1;
                        value.clone()
                    },
                    |stored| P::to_model(stored),
                )
                .unwrap();
            let absent = !pending.contains_key(key);
            let want = pending.entry(key.clone()).or_insert_with(|| value.clone());
            assert_eq!(&got, want, "get_or_insert_in({key:?})");
            assert_eq!(
                made,
                usize::from(absent),
                "get_or_insert_in({key:?}) calls of make"
            );
        }
        TableOp::Get(key) => {
            let got = table.get_in(tx, key, |stored| P::to_model(stored)).unwrap();
            assert_eq!(got.as_ref(), pending.get(key), "get_in({key:?})");
            assert_eq!(
                table.contains_in(tx, key).unwrap(),
                pending.contains_key(key),
                "contains_in({key:?})"
            );
        }
        TableOp::GetMany(keys) => {
            let got = table
                .get_many_in(tx, keys, |stored| stored.map(|stored| P::to_model(stored)))
                .unwrap();
            let want: Vec<Option<P::M>> = keys.iter().map(|k| pending.get(k).cloned()).collect();
            assert_eq!(got, want, "get_many_in({keys:?})");
        }
        TableOp::Len => {
            assert_eq!(table.len_in(tx).unwrap(), pending.len() as u64, "len_in");
        }
        TableOp::Range {
            start,
            end,
            rev,
            limit,
            in_snapshot: _,
        } => {
            let bounds = (start.clone(), end.clone());
            let got =
                scan_collect::<P>(table.range_in::<_, P::K, _>(tx, bounds), *rev, *limit).unwrap();
            let want = expected(pending, |k| in_bounds(k, start, end), *rev, *limit);
            assert_eq!(
                got, want,
                "range_in({start:?}, {end:?}) rev {rev} limit {limit:?}"
            );
        }
    }
}

/// Runs the steps of one transaction; `committed` is the model as of its start.
fn run_tx(world: &World, tx: &WriteTx<'_>, pending: &mut Model, committed: &Model, ops: &[TxOp]) {
    for op in ops {
        match op {
            TxOp::Bytes(op) => run_tx_table_op::<Bytes>(tx, &world.bytes, &mut pending.bytes, op),
            TxOp::Rows(op) => run_tx_table_op::<Rows>(tx, &world.rows, &mut pending.rows, op),
            TxOp::Prefix { first, rev } => {
                let got =
                    scan_collect::<Rows>(world.rows.prefix_in(tx, &(*first,)), *rev, None).unwrap();
                let want = expected(&pending.rows, |(a, _)| a == first, *rev, None);
                assert_eq!(got, want, "prefix_in(({first},)) rev {rev}");
            }
            TxOp::BytesIntoRows {
                start,
                end,
                rev,
                limit,
                first,
                delete,
            } => {
                let bounds = (*start, *end);
                let scanner = world.bytes.range_in::<_, u16, _>(tx, bounds);
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

/// The payload of the panics this test makes on purpose (kept out of the output).
struct ModelPanic;

thread_local! {
    /// Whether this thread is running a proptest case of the model.
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    /// Where the last failing case of this thread panicked.
    static LAST_FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps the output readable: the panics this test makes on purpose print nothing, and a
/// failing case (proptest runs hundreds of them while shrinking) only records where it
/// panicked, for the final report; every other panic goes to the previous hook.
fn quiet_model_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().is::<ModelPanic>() {
                return;
            }
            if IN_CASE.with(Cell::get) {
                let location = info.location().map(ToString::to_string);
                LAST_FAILURE.with(|last| *last.borrow_mut() = location);
                return;
            }
            previous(info);
        }));
    });
}

/// Marks this thread as running a model case until dropped (also by a panic).
struct CaseGuard;

impl CaseGuard {
    fn enter() -> Self {
        IN_CASE.with(|flag| flag.set(true));
        CaseGuard
    }
}

impl Drop for CaseGuard {
    fn drop(&mut self) {
        IN_CASE.with(|flag| flag.set(false));
    }
}

fn run_op(world: &World, model: &mut Model, op: &Op) {
    match op {
        Op::Bytes(op) => run_table_op::<Bytes>(&world.storage, &world.bytes, &mut model.bytes, op),
        Op::Rows(op) => run_table_op::<Rows>(&world.storage, &world.rows, &mut model.rows, op),
        Op::Prefix { first, rev, limit } => {
            let got = scan_collect::<Rows>(world.rows.prefix(&(*first,)), *rev, *limit).unwrap();
            let want = expected(&model.rows, |(a, _)| a == first, *rev, *limit);
            assert_eq!(got, want, "prefix(({first},)) rev {rev} limit {limit:?}");
        }
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
        Op::Reopen { .. } => unreachable!("run() owns the world"),
    }
}

/// A table's full contents, both ways, equal the model.
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
    assert_eq!(
        table.is_empty().unwrap(),
        model.is_empty(),
        "is_empty {step}"
    );
}

/// The engine's raw entries of a table, read through the fixture in the run's mode, have the
/// model's keys (encoded) and, if `values` is given, its values.
fn check_raw<K: IntoKeyBytes>(
    f: &Fixture,
    table: &str,
    keys: impl Iterator<Item = K>,
    values: Option<Vec<Vec<u8>>>,
    step: &str,
) {
    let raw = f.scan_all(table);
    let mut arena = KeyArena::new();
    let want_keys: Vec<Vec<u8>> = keys.map(|key| key.key_bytes(&mut arena).to_vec()).collect();
    let raw_keys: Vec<Vec<u8>> = raw.iter().map(|(key, _)| key.clone()).collect();
    assert_eq!(raw_keys, want_keys, "{table}: raw keys {step}");
    if let Some(values) = values {
        let raw_values: Vec<Vec<u8>> = raw.into_iter().map(|(_, value)| value).collect();
        assert_eq!(raw_values, values, "{table}: raw values {step}");
    }
    assert_eq!(
        f.len(table),
        want_keys.len() as u64,
        "{table}: raw len {step}"
    );
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

fn check_all(f: &Fixture, world: &World, model: &Model, step: &str) {
    check_lens(world, model, step);
    check_table::<Bytes>(&world.bytes, &model.bytes, step);
    check_table::<Rows>(&world.rows, &model.rows, step);
    let bytes_values = model.bytes.values().cloned().collect();
    check_raw(f, "bytes", model.bytes.keys(), Some(bytes_values), step);
    check_raw(f, "rows", model.rows.keys(), None, step);
}

/// Flushes (where claimed) and, on a persistent engine, drops every handle and reopens the
/// database.
fn reopen(f: &Fixture, world: World, flush: bool) -> World {
    if flush {
        if f.claims().flush {
            world.storage.flush().expect("flush");
        } else {
            assert_unsupported(world.storage.flush(), "flush");
        }
    }
    if !f.claims().persistent {
        return world;
    }
    drop(world);
    assert!(
        f.reopen(),
        "the harness claims a persistent engine but cannot reopen it"
    );
    World::open(f)
}

/// Runs one sequence on freshly dropped tables, comparing with the model as it goes.
fn run(f: &Fixture, ops: &[Op]) {
    let mut world = World::fresh(f);
    let mut model = Model::default();
    check_all(f, &world, &model, "after dropping both tables");
    for (i, op) in ops.iter().enumerate() {
        let step = format!("after op {i} ({op:?})");
        if let Op::Reopen { flush } = op {
            world = reopen(f, world, *flush);
            check_all(f, &world, &model, &step);
            continue;
        }
        run_op(&world, &mut model, op);
        check_lens(&world, &model, &step);
        if i % 5 == 4 {
            check_all(f, &world, &model, &step);
        }
    }
    check_all(f, &world, &model, "at the end");
}
