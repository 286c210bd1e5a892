//! The figures a [`MeteredEngine`] hands out: [`MetricsSnapshot`] and its parts, and their text
//! table.

use super::*;

/// Every figure of a [`MeteredEngine`] at one moment: [`MeteredEngine::snapshot`].
///
/// Its `Display` is a text table, one row per table and operation:
///
/// ```
/// use zerotable::layers::{MeteredEngine, MetricsOptions};
///
/// let storage = zerotable::Storage::new(MeteredEngine::new(
///     zerotable::MemoryEngine::new(),
///     MetricsOptions::default(),
/// ));
/// storage.raw_table::<u64>("t")?.put(&1, b"x")?;
/// let text = storage.layer::<MeteredEngine>().unwrap().snapshot().to_string();
/// assert!(text.starts_with("table"));
/// assert!(text.lines().any(|line| line.starts_with("t ") && line.contains(" put ")));
/// assert!(text.lines().any(|line| line.starts_with("(engine)") && line.contains(" commit ")));
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// The tables operated on, by name, with their operations (`get`, `range`, `len`, `put`,
    /// `delete`, `delete_range`, `create_table`, `drop_table`, `table_stats`).
    pub tables: BTreeMap<String, TableMetrics>,
    /// The operations without a table: `begin_read`, `begin_write`, `commit`, `list_tables`,
    /// `flush`, `compact`, `size_on_disk`, `check_integrity`. `Display` names it `(engine)`.
    pub engine: TableMetrics,
}

impl MetricsSnapshot {
    /// The figures of table `name`, if anything was done to it.
    ///
    /// ```
    /// use zerotable::layers::{MeteredEngine, MetricsOptions};
    ///
    /// let storage = zerotable::Storage::new(MeteredEngine::new(
    ///     zerotable::MemoryEngine::new(),
    ///     MetricsOptions::default(),
    /// ));
    /// storage.raw_table::<u64>("t")?.put(&1, b"x")?;
    /// let snapshot = storage.layer::<MeteredEngine>().unwrap().snapshot();
    /// assert!(snapshot.table("t").is_some());
    /// assert!(snapshot.table("never_used").is_none());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn table(&self, name: &str) -> Option<&TableMetrics> {
        self.tables.get(name)
    }
}

impl fmt::Display for MetricsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEADER: [&str; 11] = [
            "table",
            "operation",
            "count",
            "errors",
            "bytes read",
            "bytes written",
            "mean",
            "p50",
            "p95",
            "p99",
            "max",
        ];
        let mut rows: Vec<[String; 11]> = vec![HEADER.map(str::to_owned)];
        let sections = std::iter::once(("(engine)", &self.engine)).chain(
            self.tables
                .iter()
                .map(|(name, table)| (name.as_str(), table)),
        );
        for (name, table) in sections {
            for (op, m) in &table.operations {
                let l = &m.latency;
                rows.push([
                    name.to_owned(),
                    (*op).to_owned(),
                    m.count.to_string(),
                    m.error_count().to_string(),
                    m.bytes_read.to_string(),
                    m.bytes_written.to_string(),
                    short(l.mean),
                    short(l.p50),
                    short(l.p95),
                    short(l.p99),
                    short(l.max),
                ]);
            }
        }
        let mut widths = [0; 11];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in &rows {
            let mut line = String::new();
            for (column, (cell, &width)) in row.iter().zip(&widths).enumerate() {
                if column > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(width - cell.chars().count());
                if column < 2 {
                    line.push_str(cell);
                    line.push_str(&pad);
                } else {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// A duration in a few characters: `850ns`, `12.3µs`, `4.1ms`, `2.50s`.
pub(super) fn short(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos < 1_000 {
        format!("{nanos}ns")
    } else if nanos < 1_000_000 {
        format!("{:.1}µs", nanos as f64 / 1e3)
    } else if nanos < 1_000_000_000 {
        format!("{:.1}ms", nanos as f64 / 1e6)
    } else {
        format!("{:.2}s", duration.as_secs_f64())
    }
}

/// The figures of one table (or of the engine's own operations), by operation.
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
/// t.put(&1, b"x")?;
/// t.put(&2, b"y")?;
/// let snapshot = storage.layer::<MeteredEngine>().unwrap().snapshot();
/// let table = snapshot.table("t").unwrap();
/// assert_eq!(table.op(Operation::Put).unwrap().count, 2);
/// assert!(table.op(Operation::Delete).is_none()); // never ran
/// assert_eq!(table.operations["put"].count, 2);
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableMetrics {
    /// The operations that ran, by name ([`Operation::name`]).
    pub operations: BTreeMap<&'static str, OpMetrics>,
}

impl TableMetrics {
    /// The figures of `operation`, if it ran.
    ///
    /// ```
    /// use zerotable::Operation;
    /// use zerotable::layers::TableMetrics;
    ///
    /// assert!(TableMetrics::default().op(Operation::Get).is_none());
    /// ```
    pub fn op(&self, operation: Operation) -> Option<&OpMetrics> {
        self.operations.get(operation.name())
    }
}

/// The figures of one operation on one table.
///
/// ```
/// use zerotable::{Error, Operation};
/// use zerotable::layers::{MeteredEngine, MetricsOptions};
///
/// let storage = zerotable::Storage::new(MeteredEngine::new(
///     zerotable::MemoryEngine::new(),
///     MetricsOptions::default(),
/// ));
/// let t = storage.raw_table::<u64>("t")?;
/// t.put(&1, b"abc")?;
/// t.scan().for_each(|_, _| Ok(()))?;
/// let failed = t.scan().for_each(|_, _| Err(Error::callback("stop")));
/// assert!(failed.is_err());
///
/// let snapshot = storage.layer::<MeteredEngine>().unwrap().snapshot();
/// let ranges = snapshot.table("t").unwrap().op(Operation::Range).unwrap();
/// assert_eq!(ranges.count, 2);
/// assert_eq!(ranges.bytes_read, 2 * (8 + 3)); // each scan handed over one key and value
/// assert_eq!(ranges.errors.get("callback"), Some(&1));
/// assert_eq!(ranges.error_count(), 1);
/// assert!(ranges.latency.p50 <= ranges.latency.max);
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpMetrics {
    /// Calls, failed or not.
    pub count: u64,
    /// Failed calls by error class (only the classes seen): an [`EngineErrorKind`] in snake
    /// case (`io`, `unsupported`, …), `callback`, `layer` or `non_engine` (see
    /// [`MeteredEngine`]).
    pub errors: BTreeMap<&'static str, u64>,
    /// Bytes handed to the callbacks: values of `get`, keys and values of `range`.
    pub bytes_read: u64,
    /// Bytes handed to the engine to store: keys and values of `put`.
    pub bytes_written: u64,
    /// How long the calls took, callbacks included.
    pub latency: LatencySummary,
}

impl OpMetrics {
    /// Failed calls, of every class.
    ///
    /// ```
    /// use zerotable::layers::OpMetrics;
    ///
    /// let mut op = OpMetrics::default();
    /// op.errors.insert("io", 2);
    /// op.errors.insert("callback", 1);
    /// assert_eq!(op.error_count(), 3);
    /// ```
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Latency percentiles of one operation on one table, all zero when it never ran. Percentiles
/// are within 1/32 (3.125 %) of the recorded durations at their rank (up to about 73 minutes);
/// `max` and `mean` are exact.
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
/// for i in 0..100 {
///     t.put(&i, b"x")?;
/// }
/// let snapshot = storage.layer::<MeteredEngine>().unwrap().snapshot();
/// let l = snapshot.table("t").unwrap().op(Operation::Put).unwrap().latency;
/// assert!(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max);
/// assert!(l.mean <= l.max);
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// The median.
    pub p50: Duration,
    /// The 95th percentile.
    pub p95: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The longest.
    pub max: Duration,
    /// The mean.
    pub mean: Duration,
}
