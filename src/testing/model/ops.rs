//! The operations a sequence is made of, and the proptest strategies that draw them.

use std::fmt::Debug;
use std::ops::Bound;

use proptest::prelude::*;

use super::world::{Row, RowKey};

// ---- operations ----

/// What an `update` does with the current value.
#[derive(Clone, Debug)]
pub(super) enum Change<M> {
    Set(M),
    SetIfAbsent(M),
    /// `Spec::modify` if present, stays absent otherwise.
    Modify,
    Remove,
}

impl<M: Clone> Change<M> {
    pub(super) fn apply(&self, current: Option<M>, modify: fn(&M) -> M) -> Option<M> {
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
pub(super) enum Expect<M> {
    /// The model's current value (or absence): always swaps.
    Current,
    Given(Option<M>),
}

/// One operation on one table, auto-commit (`put`) or in a write transaction (`put_in`).
#[derive(Clone, Debug)]
pub(super) enum TableOp<K, M> {
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
pub(super) enum TxOp {
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
pub(super) enum Nested {
    /// An auto-commit `Table::put`.
    AutoCommitPut,
    /// `Storage::write`.
    StorageWrite,
    /// `Storage::begin_write`.
    BeginWrite,
}

/// How a `Storage::write` closure ends.
#[derive(Clone, Copy, Debug)]
pub(super) enum WriteEnd {
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
pub(super) enum HandleEnd {
    Commit,
    Rollback,
    Drop,
}

/// One step of a sequence.
#[derive(Clone, Debug)]
pub(super) enum Op {
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
pub(super) fn sequence() -> impl Strategy<Value = Vec<Op>> {
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
