//! [`MeteredEngine`]: counts, errors, bytes and latency of every operation of the engine under
//! it, per table and operation, optionally exported to the `metrics` crate. Everything is
//! documented on [`MeteredEngine`] (this module is private; [`crate::layers`] re-exports it).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::transform::{InnerReads, InnerWrites};
use crate::engine::{
    Engine, Found, Integrity, KeyRange, ReadBody, ReadOps, ReadTxn, TableStats, Visit, WriteBody,
    WriteOptions, WriteTxn,
};
use crate::error::{EngineErrorKind, Error, Operation, Result};

#[cfg(feature = "metrics")]
mod export;
mod figures;
mod histogram;

pub use self::figures::{LatencySummary, MetricsSnapshot, OpMetrics, TableMetrics};
use self::histogram::*;

/// Options of [`MeteredEngine`].
///
/// ```
/// use zerotable::layers::MetricsOptions;
///
/// assert!(!MetricsOptions::default().export);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Also report every operation to the `metrics` crate's recorder (see "Export" in
    /// [`MeteredEngine`]). Needs the cargo feature `metrics`: without it, this is ignored
    /// here, and an address or a configuration file asking for it is refused. Default `false`.
    pub export: bool,
}

/// A layer that measures every operation of the engine under it — how many ran, how many failed
/// and why, the bytes they read and wrote, and how long they took — per table and per
/// operation, and, with the cargo feature `metrics`, reports them to the
/// [`metrics`](https://docs.rs/metrics) crate's recorder too.
///
/// ```
/// use zerotable::Operation;
/// use zerotable::layers::{MeteredEngine, MetricsOptions};
///
/// let storage = zerotable::Storage::new(MeteredEngine::new(
///     zerotable::MemoryEngine::new(),
///     MetricsOptions::default(),
/// ));
/// let users = storage.raw_table::<u64>("users")?;
/// users.put(&1, b"ada")?;
/// assert_eq!(users.get(&1, |v| v.len())?, Some(3));
///
/// let metrics = storage.layer::<MeteredEngine>().unwrap().snapshot();
/// let gets = metrics.table("users").unwrap().op(Operation::Get).unwrap();
/// assert_eq!((gets.count, gets.bytes_read), (1, 3));
/// println!("{metrics}"); // a small text table: one row per table and operation
/// # Ok::<(), zerotable::Error>(())
/// ```
///
/// # What is measured
///
/// | operation | kept under | bytes read | bytes written |
/// |---|---|---|---|
/// | `get` | its table | the value handed to the callback | — |
/// | `range` | its table | every key and value handed to the callback | — |
/// | `len`, `table_stats` | its table | — | — |
/// | `put` | its table | — | key and value |
/// | `delete`, `delete_range`, `create_table`, `drop_table` | its table | — | — |
/// | `begin_read`, `begin_write`, `commit` | the engine | — | — |
/// | `list_tables`, `flush`, `compact`, `size_on_disk`, `check_integrity` | the engine | — | — |
///
/// Table operations are kept per table, under the table's name ([`MetricsSnapshot::tables`]; the
/// catalog of the typed tables is a table too, `zerotable.meta`), the others in one section for
/// the engine ([`MetricsSnapshot::engine`]). Operations are named as [`Operation::name`] names
/// them. What counts as what:
/// - The auto-commit [`Engine::get`] is a `get` of its table.
/// - A scoped [`Engine::read`] is a `begin_read`, from the call until its body starts; a scoped
///   [`Engine::write`] is a `begin_write` until its body starts, then, if the body returns `Ok`,
///   a `commit` from there to the end of the call. The reads and writes of a body count one by
///   one, as those of a boxed transaction ([`Engine::begin_read`], [`Engine::begin_write`],
///   [`WriteTxn::commit`]) do.
/// - [`Engine::capabilities`] and [`Engine::name`] are not operations and are not counted.
///
/// For each table and operation, [`OpMetrics`] holds:
/// - `count`: every call, failed or not;
/// - `errors`: the failed calls, by class (below);
/// - `bytes_read` and `bytes_written`, as in the table above;
/// - `latency`: p50, p95, p99, max and mean ([`LatencySummary`]).
///
/// Error classes, as [`OpMetrics::errors`] keys them:
/// - an engine error ([`Error::Engine`], [`Error::Open`]) by its [`EngineErrorKind`]: `io`,
///   `corrupted`, `already_open`, `closed`, `nested_write`, `conflict`,
///   `commit_outcome_unknown`, `unsupported`, `in_use`, `limit_exceeded`, `other`;
/// - `callback`: the caller's callback returned the error, whatever it is (a typed table's
///   decode error counts here: decoding runs in the callback; so does the error of a nested
///   read that the callback passed on, which that read counted too);
/// - `layer`: a layer below could not read a stored value ([`Error::Layer`]);
/// - `non_engine`: any other error.
///
/// An operation that panics (its callback's panic, most often) is not counted.
///
/// # Latency
/// The latency of an operation is the wall-clock time of the call, from one
/// [`Instant::now`] to another. A read's callback runs inside the call, so **its time is
/// included**: a `get` counts the callback's decoding and copying of the value, a `range` the
/// whole walk with the caller's work on every entry. That is the time the caller waits for the
/// operation; taking the callbacks out would cost two more clock reads per entry.
///
/// Durations go into a log-linear histogram of [`AtomicU64`] buckets: exact below 16 ns, then 16
/// buckets per power of two up to 2⁴² ns (about 73 minutes) — 624 buckets. A percentile is the
/// midpoint of the bucket holding the duration of that rank, which is within 1/32 (3.125 %) of
/// it; `max` and `mean` are exact. Durations beyond 73 minutes share the top bucket: their
/// percentiles come out too low (`max` stays exact).
///
/// # Cost
/// Per operation: two clock reads; a read lock on the map of tables and a lookup by the table's
/// name (borrowed, not copied); a few relaxed atomic additions (one histogram bucket, which
/// also counts the call; the sum of durations; the bytes, when there are any; an error's class;
/// the max only when it grows). Nothing is allocated, except the first time a table is seen
/// (its record, about 300 bytes) and the first time each of its operations runs (a histogram,
/// about 5 KiB). The clock reads cost the most (20–40 ns each on common x86 machines), then
/// the locked instructions of the lock and the additions; a `range` adds a few instructions per
/// entry, no clock read. Threads recording the same table and operation share the cache lines
/// of its counters. Boxed transactions ([`Engine::begin_read`], [`Engine::begin_write`]) also
/// clone an [`Arc`]; scoped ones do not. [`snapshot`] reads every counter (a few microseconds
/// per table and operation); [`reset`] drops the records.
///
/// [`snapshot`]: MeteredEngine::snapshot
/// [`reset`]: MeteredEngine::reset
///
/// # Export
/// With the cargo feature `metrics` and [`MetricsOptions::export`] (address option
/// `metrics_export=true`), every operation is also reported to the recorder of the
/// [`metrics`](https://docs.rs/metrics) facade in effect on the calling thread (the local
/// recorder, or else the global one):
///
/// | metric | kind | labels |
/// |---|---|---|
/// | `zerotable_operations_total` | counter | `table`, `operation` |
/// | `zerotable_errors_total` | counter | `table`, `operation`, `kind` (the error class) |
/// | `zerotable_bytes_read_total` | counter, bytes | `table`, `operation` |
/// | `zerotable_bytes_written_total` | counter, bytes | `table`, `operation` |
/// | `zerotable_operation_seconds` | histogram, seconds | `table`, `operation` |
///
/// Engine operations (`begin_read`, `commit`, …) have no `table` label. The handles of a table
/// and operation are registered with the recorder the first time it runs and kept, so the
/// labels are built once; they are registered again when the recorder in effect changes
/// (recorders are told apart by address). An error's counter is registered on every error.
pub struct MeteredEngine {
    inner: Arc<dyn Engine>,
    registry: Arc<Registry>,
}

impl MeteredEngine {
    /// Measures `inner`.
    ///
    /// ```
    /// use zerotable::layers::{MeteredEngine, MetricsOptions};
    ///
    /// let engine = MeteredEngine::new(zerotable::MemoryEngine::new(), MetricsOptions::default());
    /// assert!(engine.snapshot().tables.is_empty());
    /// ```
    pub fn new(inner: impl Engine, options: MetricsOptions) -> Self {
        Self::over(Arc::new(inner), options)
    }

    /// Measures the shared engine `inner`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zerotable::engine::Engine;
    /// use zerotable::layers::{MeteredEngine, MetricsOptions};
    ///
    /// let inner: Arc<dyn Engine> = Arc::new(zerotable::MemoryEngine::new());
    /// let engine = MeteredEngine::over(inner, MetricsOptions::default());
    /// assert_eq!(engine.name(), "memory");
    /// ```
    pub fn over(inner: Arc<dyn Engine>, options: MetricsOptions) -> Self {
        MeteredEngine {
            inner,
            registry: Arc::new(Registry::new(&options)),
        }
    }

    /// The figures so far (since the layer was made, or since the last [`reset`](Self::reset)).
    /// An operation is recorded when it returns: one still running is not in it yet, and one
    /// being recorded meanwhile may be in it in part (counted, its bytes not yet).
    ///
    /// ```
    /// use zerotable::Operation;
    /// use zerotable::layers::{MeteredEngine, MetricsOptions};
    ///
    /// let storage = zerotable::Storage::new(MeteredEngine::new(
    ///     zerotable::MemoryEngine::new(),
    ///     MetricsOptions::default(),
    /// ));
    /// let t = storage.raw_table::<u64>("t")?;
    /// t.put(&1, b"abc")?;
    /// let snapshot = storage.layer::<MeteredEngine>().unwrap().snapshot();
    /// let puts = snapshot.table("t").unwrap().op(Operation::Put).unwrap();
    /// assert_eq!(puts.count, 1);
    /// assert_eq!(puts.bytes_written, 8 + 3); // the u64 key and the value
    /// assert!(snapshot.engine.op(Operation::Commit).unwrap().count >= 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.registry.snapshot()
    }

    /// Forgets every figure: the next [`snapshot`](Self::snapshot) shows only the operations
    /// that ran after this.
    ///
    /// ```
    /// use zerotable::layers::{MeteredEngine, MetricsOptions, MetricsSnapshot};
    ///
    /// let storage = zerotable::Storage::new(MeteredEngine::new(
    ///     zerotable::MemoryEngine::new(),
    ///     MetricsOptions::default(),
    /// ));
    /// storage.raw_table::<u64>("t")?.put(&1, b"x")?;
    /// let metered = storage.layer::<MeteredEngine>().unwrap();
    /// metered.reset();
    /// assert_eq!(metered.snapshot(), MetricsSnapshot::default());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn reset(&self) {
        self.registry.reset();
    }
}

impl Engine for MeteredEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        let txn = self
            .registry
            .engine_op(Op::BeginRead, || self.inner.begin_read())?;
        Ok(Box::new(Metered {
            inner: txn,
            registry: Arc::clone(&self.registry),
        }))
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        let txn = self
            .registry
            .engine_op(Op::BeginWrite, || self.inner.begin_write(options))?;
        Ok(Box::new(Metered {
            inner: txn,
            registry: Arc::clone(&self.registry),
        }))
    }

    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        let registry = &*self.registry;
        let start = Instant::now();
        let mut begun = false;
        let result = self.inner.read(&mut |reads| {
            if !begun {
                begun = true;
                registry.record_engine(Op::BeginRead, start.elapsed(), None);
            }
            body(&Metered {
                inner: reads,
                registry,
            })
        });
        if !begun {
            registry.record_engine(Op::BeginRead, start.elapsed(), result.as_ref().err());
        }
        result
    }

    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        let registry = &*self.registry;
        let start = Instant::now();
        let mut phase = Phase::Begin;
        let result = self.inner.write(options, &mut |txn| {
            if let Phase::Begin = phase {
                registry.record_engine(Op::BeginWrite, start.elapsed(), None);
            }
            phase = Phase::Body;
            let result = body(&Metered {
                inner: txn,
                registry,
            });
            if result.is_ok() {
                phase = Phase::Commit(Instant::now());
            }
            result
        });
        match phase {
            Phase::Begin => {
                registry.record_engine(Op::BeginWrite, start.elapsed(), result.as_ref().err());
            }
            Phase::Commit(from) => {
                registry.record_engine(Op::Commit, from.elapsed(), result.as_ref().err());
            }
            // The body failed: its error is its own, and its operations counted themselves.
            Phase::Body => {}
        }
        result
    }

    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.registry.table_op(table, Op::Get, |tally| {
            counted_get(tally, found, |found| self.inner.get(table, key, found))
        })
    }

    super::layer_identity!();

    fn size_on_disk(&self) -> Result<u64> {
        self.registry
            .engine_op(Op::SizeOnDisk, || self.inner.size_on_disk())
    }

    fn compact(&self) -> Result<bool> {
        self.registry
            .engine_op(Op::Compact, || self.inner.compact())
    }

    fn flush(&self) -> Result<()> {
        self.registry.engine_op(Op::Flush, || self.inner.flush())
    }

    fn check_integrity(&self) -> Result<Integrity> {
        self.registry
            .engine_op(Op::CheckIntegrity, || self.inner.check_integrity())
    }
}

/// Where a scoped [`Engine::write`] is.
enum Phase {
    /// Its body has not started.
    Begin,
    /// Its body is running, or returned an error.
    Body,
    /// Its body returned `Ok` at this instant: the inner engine is committing.
    Commit(Instant),
}

/// A transaction of the inner engine, boxed ([`Arc<Registry>`]) or lent to a scoped call
/// (`&Registry`), with the registry its operations are counted in.
struct Metered<I, R> {
    inner: I,
    registry: R,
}

impl<I: InnerReads, R: Deref<Target = Registry>> ReadOps for Metered<I, R> {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.registry.table_op(table, Op::Get, |tally| {
            counted_get(tally, found, |found| {
                self.inner.reads().get(table, key, found)
            })
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        self.registry.table_op(table, Op::Range, |tally| {
            self.inner.reads().range(table, range, &mut |key, value| {
                tally.read += (key.len() + value.len()) as u64;
                let result = visit(key, value);
                tally.callback_failed |= result.is_err();
                result
            })
        })
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.registry
            .table_op(table, Op::Len, |_| self.inner.reads().len(table))
    }

    fn list_tables(&self) -> Result<Vec<String>> {
        self.registry
            .engine_op(Op::ListTables, || self.inner.reads().list_tables())
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.registry.table_op(table, Op::TableStats, |_| {
            self.inner.reads().table_stats(table)
        })
    }
}

impl<I: InnerReads + Send, R: Deref<Target = Registry> + Send> ReadTxn for Metered<I, R> {}

impl<I: InnerWrites, R: Deref<Target = Registry>> WriteTxn for Metered<I, R> {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.registry.table_op(table, Op::Put, |tally| {
            tally.written = (key.len() + value.len()) as u64;
            self.inner.writes().put(table, key, value)
        })
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.registry.table_op(table, Op::Delete, |_| {
            self.inner.writes().delete(table, key)
        })
    }

    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        self.registry.table_op(table, Op::DeleteRange, |_| {
            self.inner.writes().delete_range(table, range)
        })
    }

    fn create_table(&self, table: &str) -> Result<()> {
        self.registry.table_op(table, Op::CreateTable, |_| {
            self.inner.writes().create_table(table)
        })
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        self.registry.table_op(table, Op::DropTable, |_| {
            self.inner.writes().drop_table(table)
        })
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let Metered { inner, registry } = *self;
        registry.engine_op(Op::Commit, || InnerWrites::commit(inner))
    }
}

/// Runs a point read (`get`, given the callback to pass on) with `found` wrapped to count the
/// value's bytes and whether `found` failed.
#[inline]
fn counted_get(
    tally: &mut Tally,
    found: &mut Found<'_>,
    get: impl FnOnce(&mut Found<'_>) -> Result<bool>,
) -> Result<bool> {
    get(&mut |value| {
        tally.read += value.len() as u64;
        let result = found(value);
        tally.callback_failed |= result.is_err();
        result
    })
}

// ---- what is recorded ----

/// The operations measured: the per-table ones first, then the engine's. The discriminant is
/// the operation's slot in a [`TableRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Get,
    Range,
    Len,
    Put,
    Delete,
    DeleteRange,
    CreateTable,
    DropTable,
    TableStats,
    BeginRead,
    BeginWrite,
    Commit,
    ListTables,
    Flush,
    Compact,
    SizeOnDisk,
    CheckIntegrity,
}

/// How many [`Op`]s there are.
const OPS: usize = 17;

impl Op {
    /// Every operation, in slot order.
    const ALL: [Op; OPS] = [
        Op::Get,
        Op::Range,
        Op::Len,
        Op::Put,
        Op::Delete,
        Op::DeleteRange,
        Op::CreateTable,
        Op::DropTable,
        Op::TableStats,
        Op::BeginRead,
        Op::BeginWrite,
        Op::Commit,
        Op::ListTables,
        Op::Flush,
        Op::Compact,
        Op::SizeOnDisk,
        Op::CheckIntegrity,
    ];

    /// The public name of the operation.
    fn operation(self) -> Operation {
        match self {
            Op::Get => Operation::Get,
            Op::Range => Operation::Range,
            Op::Len => Operation::Len,
            Op::Put => Operation::Put,
            Op::Delete => Operation::Delete,
            Op::DeleteRange => Operation::DeleteRange,
            Op::CreateTable => Operation::CreateTable,
            Op::DropTable => Operation::DropTable,
            Op::TableStats => Operation::TableStats,
            Op::BeginRead => Operation::BeginRead,
            Op::BeginWrite => Operation::BeginWrite,
            Op::Commit => Operation::Commit,
            Op::ListTables => Operation::ListTables,
            Op::Flush => Operation::Flush,
            Op::Compact => Operation::Compact,
            Op::SizeOnDisk => Operation::SizeOnDisk,
            Op::CheckIntegrity => Operation::CheckIntegrity,
        }
    }

    /// The operation's name, as [`Operation::name`] gives it.
    fn name(self) -> &'static str {
        self.operation().name()
    }
}

/// The error classes, as [`OpMetrics::errors`] names them; an error's slot is its index here.
const ERROR_CLASSES: [&str; 14] = [
    "io",
    "corrupted",
    "already_open",
    "closed",
    "nested_write",
    "conflict",
    "commit_outcome_unknown",
    "unsupported",
    "in_use",
    "limit_exceeded",
    "other",
    "callback",
    "layer",
    "non_engine",
];

/// The slot in [`ERROR_CLASSES`] of `error`, which came out of the operation's callback when
/// `from_callback`.
fn error_class(error: &Error, from_callback: bool) -> usize {
    if from_callback {
        return 11;
    }
    match error.engine_kind() {
        Some(kind) => match kind {
            EngineErrorKind::Io => 0,
            EngineErrorKind::Corrupted => 1,
            EngineErrorKind::AlreadyOpen => 2,
            EngineErrorKind::Closed => 3,
            EngineErrorKind::NestedWrite => 4,
            EngineErrorKind::Conflict => 5,
            EngineErrorKind::CommitOutcomeUnknown => 6,
            EngineErrorKind::Unsupported => 7,
            EngineErrorKind::InUse => 8,
            EngineErrorKind::LimitExceeded => 9,
            EngineErrorKind::Other => 10,
        },
        None if matches!(error, Error::Layer { .. }) => 12,
        None => 13,
    }
}

/// What one operation handed over, counted while it ran.
#[derive(Default)]
struct Tally {
    /// Bytes handed to the callback.
    read: u64,
    /// Bytes handed to the engine to store.
    written: u64,
    /// The callback returned an error.
    callback_failed: bool,
}

/// Every record of one [`MeteredEngine`], shared with its boxed transactions.
struct Registry {
    /// Replaced as a whole by [`reset`](Registry::reset). Records are written under the read
    /// lock (they are atomics); the write lock adds a table, or resets.
    state: RwLock<State>,
    /// Report to the `metrics` crate too.
    #[cfg(feature = "metrics")]
    export: bool,
}

/// The records: the engine's, and one per table seen.
#[derive(Default)]
struct State {
    engine: TableRecord,
    tables: BTreeMap<Box<str>, TableRecord>,
}

impl Registry {
    fn new(options: &MetricsOptions) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = options;
        Registry {
            state: RwLock::new(State::default()),
            #[cfg(feature = "metrics")]
            export: options.export,
        }
    }

    /// Whether operations are reported to the `metrics` crate.
    fn export(&self) -> bool {
        #[cfg(feature = "metrics")]
        return self.export;
        #[cfg(not(feature = "metrics"))]
        return false;
    }

    /// Runs `call`, an operation on `table` that tallies what it hands over, and records it.
    #[inline]
    fn table_op<T>(
        &self,
        table: &str,
        op: Op,
        call: impl FnOnce(&mut Tally) -> Result<T>,
    ) -> Result<T> {
        let mut tally = Tally::default();
        let start = Instant::now();
        let result = call(&mut tally);
        let elapsed = start.elapsed();
        self.record(Some(table), op, elapsed, &tally, result.as_ref().err());
        result
    }

    /// Runs `call`, an operation of the engine, and records it.
    #[inline]
    fn engine_op<T>(&self, op: Op, call: impl FnOnce() -> Result<T>) -> Result<T> {
        let start = Instant::now();
        let result = call();
        self.record_engine(op, start.elapsed(), result.as_ref().err());
        result
    }

    /// Records an operation of the engine that took `elapsed` and failed with `error`, if any.
    fn record_engine(&self, op: Op, elapsed: Duration, error: Option<&Error>) {
        self.record(None, op, elapsed, &Tally::default(), error);
    }

    /// Records one operation on `table` (`None`: the engine's).
    fn record(
        &self,
        table: Option<&str>,
        op: Op,
        elapsed: Duration,
        tally: &Tally,
        error: Option<&Error>,
    ) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let error = error.map(|error| error_class(error, tally.callback_failed));
        let export = self.export();
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let record = match table {
            None => Some(&state.engine),
            Some(name) => state.tables.get(name),
        };
        if let Some(record) = record {
            record.op(op, table, export).record(nanos, tally, error);
            return;
        }
        drop(state);
        if let Some(name) = table {
            // First sight of this table: the only allocation of the path.
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            let record = state.tables.entry(Box::from(name)).or_default();
            record.op(op, table, export).record(nanos, tally, error);
        }
    }

    fn snapshot(&self) -> MetricsSnapshot {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        MetricsSnapshot {
            tables: state
                .tables
                .iter()
                .map(|(name, record)| (name.to_string(), record.snapshot()))
                .collect(),
            engine: state.engine.snapshot(),
        }
    }

    fn reset(&self) {
        let fresh = State::default();
        let old = std::mem::replace(
            &mut *self.state.write().unwrap_or_else(PoisonError::into_inner),
            fresh,
        );
        // Freed outside the lock.
        drop(old);
    }
}

/// The records of one table (or of the engine), one per operation, made when it first runs.
struct TableRecord {
    ops: [OnceLock<Box<OpRecord>>; OPS],
}

impl Default for TableRecord {
    fn default() -> Self {
        TableRecord {
            ops: [const { OnceLock::new() }; OPS],
        }
    }
}

impl TableRecord {
    /// The record of `op`, made on first use (for `table`, exporting when `export`).
    #[inline]
    fn op(&self, op: Op, table: Option<&str>, export: bool) -> &OpRecord {
        self.ops[op as usize].get_or_init(|| Box::new(OpRecord::new(table, op, export)))
    }

    fn snapshot(&self) -> TableMetrics {
        TableMetrics {
            operations: Op::ALL
                .iter()
                .filter_map(|&op| Some((op.name(), self.ops[op as usize].get()?.snapshot())))
                .collect(),
        }
    }
}

/// The counters of one operation on one table.
struct OpRecord {
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    errors: [AtomicU64; ERROR_CLASSES.len()],
    latency: Histogram,
    /// The `metrics` crate's handles, when exporting.
    #[cfg(feature = "metrics")]
    export: Option<export::OpExport>,
}

impl OpRecord {
    fn new(table: Option<&str>, op: Op, export: bool) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = (table, op, export);
        OpRecord {
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            errors: [const { AtomicU64::new(0) }; ERROR_CLASSES.len()],
            latency: Histogram::new(),
            #[cfg(feature = "metrics")]
            export: export.then(|| export::OpExport::new(table, op.name())),
        }
    }

    /// Records one call that took `nanos`, handed over what `tally` says, and failed with the
    /// error class `error`, if any.
    #[inline]
    fn record(&self, nanos: u64, tally: &Tally, error: Option<usize>) {
        // The histogram counts the calls too; it goes first, so that a snapshot (which reads
        // the errors first) does not see more errors than calls.
        self.latency.record(nanos);
        if tally.read != 0 {
            self.bytes_read.fetch_add(tally.read, Relaxed);
        }
        if tally.written != 0 {
            self.bytes_written.fetch_add(tally.written, Relaxed);
        }
        if let Some(class) = error {
            self.errors[class].fetch_add(1, Relaxed);
        }
        #[cfg(feature = "metrics")]
        if let Some(export) = &self.export {
            export.record(nanos, tally, error.map(|class| ERROR_CLASSES[class]));
        }
    }

    fn snapshot(&self) -> OpMetrics {
        let errors = ERROR_CLASSES
            .iter()
            .zip(&self.errors)
            .map(|(&class, count)| (class, count.load(Relaxed)))
            .filter(|&(_, count)| count > 0)
            .collect();
        let bytes_read = self.bytes_read.load(Relaxed);
        let bytes_written = self.bytes_written.load(Relaxed);
        let (count, latency) = self.latency.read();
        OpMetrics {
            count,
            errors,
            bytes_read,
            bytes_written,
            latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::figures::short;
    use super::*;

    /// Every duration lands in a bucket whose bounds hold it, buckets follow each other without
    /// gaps, and the reported midpoint is within 1/32 of any duration in the bucket.
    #[test]
    fn buckets_tile_the_range_and_midpoints_are_within_a_32nd() {
        let mut next = 0u64;
        for bucket in 0..BUCKETS {
            let (low, width) = bucket_bounds(bucket);
            assert_eq!(low, next, "bucket {bucket} starts where the last ended");
            next = low + width;
            for nanos in [low, low + width / 2, low + width - 1] {
                assert_eq!(bucket_of(nanos), bucket, "{nanos} ns");
                let mid = bucket_midpoint(bucket);
                assert!(mid.abs_diff(nanos) * 32 <= nanos, "{mid} vs {nanos}");
            }
        }
        assert_eq!(next, 1 << TOP);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_of(0), 0);
    }

    /// Percentiles of known durations: exact ranks, values within 1/32.
    #[test]
    fn percentiles_of_known_durations_are_within_a_32nd() {
        let histogram = Histogram::new();
        // 1 µs, 2 µs, …, 1000 µs: the p-th percentile is p * 10 µs.
        for i in 1..=1000u64 {
            histogram.record(i * 1_000);
        }
        let (count, summary) = histogram.read();
        assert_eq!(count, 1000);
        let near = |got: Duration, want: u64| {
            let got = got.as_nanos() as u64;
            assert!(
                got.abs_diff(want) * 32 <= want,
                "{got} ns, expected {want} ns"
            );
        };
        near(summary.p50, 500_000);
        near(summary.p95, 950_000);
        near(summary.p99, 990_000);
        assert_eq!(summary.max, Duration::from_micros(1000));
        assert_eq!(summary.mean, Duration::from_nanos(500_500));
    }

    #[test]
    fn small_and_huge_durations() {
        let histogram = Histogram::new();
        histogram.record(7);
        let (_, summary) = histogram.read();
        assert_eq!(summary.p50, Duration::from_nanos(7));
        assert_eq!(summary.p99, Duration::from_nanos(7));
        assert_eq!(summary.max, Duration::from_nanos(7));

        let histogram = Histogram::new();
        let two_hours = 2 * 3600 * 1_000_000_000u64;
        histogram.record(two_hours);
        let (_, summary) = histogram.read();
        assert_eq!(summary.max, Duration::from_nanos(two_hours));
        assert!(summary.p99 <= summary.max);
        assert_eq!(Histogram::new().read(), (0, LatencySummary::default()));
    }

    /// A rank that falls in a bucket whose midpoint lies above the longest duration reports
    /// the longest duration.
    #[test]
    fn percentiles_never_exceed_the_max() {
        let histogram = Histogram::new();
        for _ in 0..10 {
            histogram.record(1 << 20); // the low edge of its bucket
        }
        let (_, summary) = histogram.read();
        assert_eq!(summary.p50, Duration::from_nanos(1 << 20));
        assert_eq!(summary.p99, summary.max);
    }

    #[test]
    fn error_classes_have_names() {
        let unsupported = Error::unsupported(Operation::Compact);
        assert_eq!(
            ERROR_CLASSES[error_class(&unsupported, false)],
            "unsupported"
        );
        assert_eq!(ERROR_CLASSES[error_class(&unsupported, true)], "callback");
        let callback = Error::callback("no");
        assert_eq!(ERROR_CLASSES[error_class(&callback, false)], "non_engine");
        let conflict =
            Error::engine_failure(None, Operation::Commit, EngineErrorKind::Conflict, "x");
        assert_eq!(ERROR_CLASSES[error_class(&conflict, false)], "conflict");
    }

    #[test]
    fn short_durations() {
        assert_eq!(short(Duration::from_nanos(850)), "850ns");
        assert_eq!(short(Duration::from_nanos(12_340)), "12.3µs");
        assert_eq!(short(Duration::from_micros(4_100)), "4.1ms");
        assert_eq!(short(Duration::from_millis(2_500)), "2.50s");
    }
}
