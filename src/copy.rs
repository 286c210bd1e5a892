//! Copying every table of one storage into another — any engine to any engine
//! ([`Storage::copy_to`]).
//!
//! # What is copied
//!
//! Every table of the source as one consistent snapshot sees it, with its catalog record (the
//! catalog's rows for the copied tables; the destination's records of other tables stay). The
//! tables are the engine's own list where it has one ([`Capabilities::table_admin`]), else the
//! tables the catalog records (where their rows are: a migrated table's rows are in the table
//! its migration wrote).
//!
//! # Memory
//!
//! Rows move in batches of about [`CopyOptions::batch_bytes`] (8 MiB by default): each batch is
//! read from the snapshot into one buffer, then written in one destination transaction. Memory
//! stays near one batch whatever the size of the source (a row larger than a batch travels
//! alone). Batches are committed without an fsync each; the last commit of the copy is durable,
//! and with it every batch before (the engine contract's [`Durability::None`] promise).
//!
//! # Checked at the end
//!
//! While reading, each table's rows are counted and folded into a 64-bit checksum (FNV-1a over
//! every key and value with their lengths, in key order). Once everything is written, the
//! destination is read back in a new snapshot and the same figures computed; any difference is
//! an [`Error::Copy`] of kind [`Mismatch`](CopyErrorKind::Mismatch).
//!
//! # Refusals, and an interrupted copy
//!
//! A copy writes into empty tables only: a destination table with rows is refused
//! ([`DestinationNotEmpty`](CopyErrorKind::DestinationNotEmpty)) unless
//! [`CopyOptions::replace`] is set, which empties the copied tables in the destination first.
//!
//! While it runs, the copy keeps a marker in the destination (the internal table
//! `zerotable.copy`), removed by its last, durable commit once the check has passed. If the
//! copy is interrupted — a crash, a kill, an error — the marker stays, and **running it again
//! does not resume**: it refuses with [`Unfinished`](CopyErrorKind::Unfinished), saying to run
//! it again with `replace`, which empties the tables the unfinished copy wrote and copies
//! everything again. A storage carrying the marker is refused as a source
//! ([`SourceUnfinished`](CopyErrorKind::SourceUnfinished)): it is not a whole copy of anything.
//!
//! ```
//! use zerotable::{CopyOptions, Storage};
//!
//! let source = Storage::in_memory();
//! source.raw_table::<u64>("events")?.put(&1, b"started")?;
//! let destination = Storage::in_memory();
//! let report = source.copy_to(&destination, CopyOptions::default())?;
//! assert_eq!(report.rows, 1 + 1); // the row, and its table's catalog record
//! assert_eq!(destination.raw_table::<u64>("events")?.get(&1, |v| v.to_vec())?, Some(b"started".to_vec()));
//! # Ok::<(), zerotable::Error>(())
//! ```
//!
//! [`Capabilities::table_admin`]: crate::engine::Capabilities::table_admin

use std::ops::{Bound, ControlFlow};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::catalog::{CATALOG_TABLE, TableRecord};
use crate::engine::{Durability, Engine, KeyRange, ReadOps, ReadTxn, WriteOptions};
use crate::error::{CopyErrorKind, Error, Result};
use crate::storage::Storage;
use crate::txn::engine_id;

/// The destination's marker of a copy under way.
const MARKER_TABLE: &str = "zerotable.copy";
/// The marker's key.
const MARKER_KEY: &[u8] = b"copy";

/// How to copy: batch size, whether to replace non-empty destination tables, and a progress
/// callback.
///
/// ```
/// use zerotable::CopyOptions;
///
/// let mut seen = 0;
/// let mut progress = |p: &zerotable::CopyProgress<'_>| seen = p.rows_done;
/// let options = CopyOptions::default()
///     .batch_bytes(1 << 20)
///     .replace(true)
///     .progress(&mut progress);
/// # let _ = options;
/// ```
pub struct CopyOptions<'p> {
    batch_bytes: usize,
    replace: bool,
    progress: Option<&'p mut dyn FnMut(&CopyProgress<'_>)>,
}

impl Default for CopyOptions<'_> {
    fn default() -> Self {
        CopyOptions {
            batch_bytes: 8 << 20,
            replace: false,
            progress: None,
        }
    }
}

impl<'p> CopyOptions<'p> {
    /// About how many bytes of keys and values one batch carries (at least one row; default
    /// 8 MiB). Memory use is about this much.
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes.max(1);
        self
    }

    /// Empties the copied tables in the destination first (and those an unfinished copy had
    /// written), instead of refusing tables that have rows. Other tables of the destination
    /// are left alone.
    pub fn replace(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }

    /// Called after each batch (and once per empty table) with the figures so far.
    pub fn progress(mut self, progress: &'p mut dyn FnMut(&CopyProgress<'_>)) -> Self {
        self.progress = Some(progress);
        self
    }
}

/// Where a copy is, given to the progress callback.
#[derive(Clone, Copy, Debug)]
pub struct CopyProgress<'a> {
    /// The table being copied.
    pub table: &'a str,
    /// Its rows copied so far.
    pub rows: u64,
    /// Its bytes (keys and values) copied so far.
    pub bytes: u64,
    /// Its rows in the source snapshot.
    pub table_rows: u64,
    /// Rows copied so far, every table.
    pub rows_done: u64,
    /// Rows to copy, every table.
    pub rows_total: u64,
}

/// What a finished copy copied, table by table (every figure checked against the destination).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    /// Each table copied, in the order copied.
    pub tables: Vec<TableCopy>,
    /// Rows copied, every table (catalog records included).
    pub rows: u64,
    /// Bytes of keys and values copied, every table.
    pub bytes: u64,
    /// Time from the snapshot to the last commit, the check included.
    pub elapsed: Duration,
}

/// One table of a [`CopyReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCopy {
    /// The table's name.
    pub name: String,
    /// Rows copied.
    pub rows: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
    /// The checksum both sides agreed on.
    pub checksum: u64,
}

impl Storage {
    /// Copies every table of this storage, as one snapshot sees it, into `destination` —
    /// another storage on any engine — in bounded memory, and checks the result: see
    /// [`copy`](crate::copy) for what is copied, what is refused, and what an interrupted copy
    /// leaves.
    ///
    /// ```
    /// use zerotable::{CopyErrorKind, CopyOptions, Error, Storage};
    ///
    /// let source = Storage::in_memory();
    /// source.raw_table::<u32>("t")?.put(&1, b"one")?;
    /// let destination = Storage::in_memory();
    /// source.copy_to(&destination, CopyOptions::default())?;
    /// // A second copy into the same, now full, tables is refused unless told to replace them.
    /// let again = source.copy_to(&destination, CopyOptions::default()).unwrap_err();
    /// assert!(matches!(again, Error::Copy { kind: CopyErrorKind::DestinationNotEmpty, .. }));
    /// source.copy_to(&destination, CopyOptions::default().replace(true))?;
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn copy_to(
        &self,
        destination: &Storage,
        mut options: CopyOptions<'_>,
    ) -> Result<CopyReport> {
        let started = Instant::now();
        if engine_id(self.engine()) == engine_id(destination.engine()) {
            return Err(refused(
                None,
                CopyErrorKind::SameStorage,
                "source and destination are the same storage: copy into another one",
            ));
        }
        let source = &**self.engine();
        let target = &**destination.engine();
        let snapshot = source.begin_read()?;
        if has_marker(&*snapshot)? {
            return Err(refused(
                None,
                CopyErrorKind::SourceUnfinished,
                "the source is the destination of a copy that did not finish: copy into it \
                 again (with replace) before copying from it",
            ));
        }
        let plan = Plan::of(source, &*snapshot)?;
        prepare_destination(target, &plan, options.replace)?;

        let mut report = CopyReport {
            tables: Vec::with_capacity(plan.tables.len()),
            rows: 0,
            bytes: 0,
            elapsed: Duration::ZERO,
        };
        let mut batch = Batch::default();
        for (table, table_rows) in &plan.tables {
            let copied = copy_table(
                &*snapshot,
                target,
                table,
                *table_rows,
                &plan,
                &mut report,
                &mut batch,
                &mut options,
            )?;
            report.tables.push(copied);
        }
        drop(batch);
        drop(snapshot);
        verify(target, &plan, &report)?;
        // The last commit is durable, and makes every batch before it durable too.
        target.write(WriteOptions::DEFAULT, &mut |txn| {
            txn.delete(MARKER_TABLE, MARKER_KEY).map(drop)
        })?;
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

/// The tables to copy with their row counts, in order: user tables by name, the catalog last.
struct Plan {
    tables: Vec<(String, u64)>,
    /// The catalog's keys (table names) the copy carries: only those rows are compared.
    catalog_keys: Vec<Vec<u8>>,
}

impl Plan {
    fn of(source: &dyn Engine, snapshot: &dyn ReadTxn) -> Result<Plan> {
        let mut catalog_keys = Vec::new();
        let mut recorded = Vec::new();
        snapshot.range(CATALOG_TABLE, &KeyRange::ALL, &mut |key, value| {
            catalog_keys.push(key.to_vec());
            let name = String::from_utf8_lossy(key).into_owned();
            // Where the rows are: the table a migration wrote, or the table's own name.
            recorded.push(match TableRecord::decode(value) {
                Ok((record, _)) => record.stored_table(&name).to_owned(),
                Err(_) => name,
            });
            Ok(ControlFlow::Continue(()))
        })?;
        let mut names: Vec<String> = if source.capabilities().table_admin {
            snapshot.list_tables()?
        } else {
            recorded
        };
        names.retain(|name| name != MARKER_TABLE && name != CATALOG_TABLE);
        names.sort();
        names.dedup();
        if !catalog_keys.is_empty() {
            names.push(CATALOG_TABLE.to_owned());
        }
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            let rows = snapshot.len(&name)?;
            tables.push((name, rows));
        }
        Ok(Plan {
            tables,
            catalog_keys,
        })
    }

    fn rows_total(&self) -> u64 {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}

/// Whether `reader` sees the marker of an unfinished copy; its text if so.
fn marker(reader: &dyn ReadOps) -> Result<Option<String>> {
    let mut text = None;
    reader.get(MARKER_TABLE, MARKER_KEY, &mut |bytes| {
        text = Some(String::from_utf8_lossy(bytes).into_owned());
        Ok(())
    })?;
    Ok(text)
}

fn has_marker(reader: &dyn ReadOps) -> Result<bool> {
    Ok(marker(reader)?.is_some())
}

fn refused(table: Option<&str>, kind: CopyErrorKind, problem: impl Into<String>) -> Error {
    Error::Copy {
        table: table.map(str::to_owned),
        kind,
        problem: problem.into(),
    }
}

/// Checks that the destination may take the copy (or, with `replace`, empties what it must),
/// then leaves the marker, durably, naming the tables about to be written.
fn prepare_destination(target: &dyn Engine, plan: &Plan, replace: bool) -> Result<()> {
    let snapshot = target.begin_read()?;
    let unfinished = marker(&*snapshot)?;
    let mut to_empty: Vec<String> = plan.tables.iter().map(|(name, _)| name.clone()).collect();
    if let Some(text) = &unfinished {
        if !replace {
            return Err(refused(
                None,
                CopyErrorKind::Unfinished,
                format!(
                    "an earlier copy into this destination did not finish ({text}); run the \
                     copy again with replace (CopyOptions::replace, `zerotable copy --replace`) \
                     to empty the tables it wrote and copy everything again"
                ),
            ));
        }
        to_empty.extend(marker_tables(text));
    }
    let mut nonempty = Vec::new();
    for name in &to_empty {
        let rows = if name == CATALOG_TABLE {
            catalog_overlap(&*snapshot, plan)?
        } else {
            snapshot.len(name)?
        };
        if rows > 0 {
            nonempty.push((name.clone(), rows));
        }
    }
    drop(snapshot);
    if let Some((name, rows)) = nonempty.first().filter(|_| !replace) {
        let what = if name == CATALOG_TABLE {
            format!("{rows} of the copied tables already have a catalog record there")
        } else {
            format!("it already has {rows} rows")
        };
        return Err(refused(
            Some(name),
            CopyErrorKind::DestinationNotEmpty,
            format!(
                "the destination table is not empty ({what}); copy into an empty storage, or \
                 set replace (CopyOptions::replace, `zerotable copy --replace`) to empty the \
                 copied tables first"
            ),
        ));
    }
    let listed: Vec<&str> = plan.tables.iter().map(|(name, _)| name.as_str()).collect();
    let text = format!(
        "started={} tables={}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        listed.join(",")
    );
    let admin = target.capabilities().table_admin;
    target.write(WriteOptions::DEFAULT, &mut |txn| {
        for (name, _) in &nonempty {
            if name == CATALOG_TABLE {
                for key in &plan.catalog_keys {
                    txn.delete(CATALOG_TABLE, key)?;
                }
            } else if admin {
                txn.drop_table(name)?;
            } else {
                txn.delete_range(name, &KeyRange::ALL)?;
            }
        }
        txn.put(MARKER_TABLE, MARKER_KEY, text.as_bytes())
    })
}

/// The tables a marker's text lists.
fn marker_tables(text: &str) -> Vec<String> {
    text.split_whitespace()
        .find_map(|field| field.strip_prefix("tables="))
        .map(|list| {
            list.split(',')
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// How many of the catalog keys the copy carries the destination's catalog already has.
fn catalog_overlap(reader: &dyn ReadOps, plan: &Plan) -> Result<u64> {
    let mut rows = 0;
    for key in &plan.catalog_keys {
        if reader.get(CATALOG_TABLE, key, &mut |_| Ok(()))? {
            rows += 1;
        }
    }
    Ok(rows)
}

/// One batch of rows: their bytes in one buffer, and where each key and value ends.
#[derive(Default)]
pub(crate) struct Batch {
    bytes: Vec<u8>,
    /// (key end, value end) offsets into `bytes`; each row starts where the previous ended.
    rows: Vec<(usize, usize)>,
}

impl Batch {
    /// Replaces the batch with the rows of `table` that follow key `after` (all, if `None`),
    /// in key order, up to about `limit` bytes (at least one row, if any is left).
    pub(crate) fn read_after(
        &mut self,
        reader: &dyn ReadOps,
        table: &str,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<()> {
        self.clear();
        let range = KeyRange {
            start: after.map_or(Bound::Unbounded, Bound::Excluded),
            end: Bound::Unbounded,
            reverse: false,
        };
        reader.range(table, &range, &mut |key, value| {
            self.push(key, value);
            Ok(if self.bytes.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.rows.clear();
    }

    pub(crate) fn push(&mut self, key: &[u8], value: &[u8]) {
        self.bytes.extend_from_slice(key);
        let key_end = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.rows.push((key_end, self.bytes.len()));
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut start = 0;
        self.rows.iter().map(move |&(key_end, value_end)| {
            let row = (&self.bytes[start..key_end], &self.bytes[key_end..value_end]);
            start = value_end;
            row
        })
    }

    pub(crate) fn last_key(&self) -> Option<&[u8]> {
        self.iter().last().map(|(key, _)| key)
    }
}

/// Row count, byte counts and checksum of a sequence of rows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Tally {
    pub(crate) rows: u64,
    /// Bytes of keys and values.
    pub(crate) bytes: u64,
    /// Bytes of values.
    pub(crate) value_bytes: u64,
    pub(crate) checksum: u64,
}

impl Tally {
    pub(crate) const EMPTY: Tally = Tally {
        rows: 0,
        bytes: 0,
        value_bytes: 0,
        checksum: 0xcbf2_9ce4_8422_2325,
    };

    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        self.rows += 1;
        self.bytes += (key.len() + value.len()) as u64;
        self.value_bytes += value.len() as u64;
        for part in [
            &(key.len() as u64).to_le_bytes()[..],
            key,
            &(value.len() as u64).to_le_bytes()[..],
            value,
        ] {
            for &byte in part {
                self.checksum ^= u64::from(byte);
                self.checksum = self.checksum.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
}

/// Copies one table batch by batch; its figures as read from the source.
#[allow(clippy::too_many_arguments)]
fn copy_table(
    snapshot: &dyn ReadTxn,
    target: &dyn Engine,
    table: &str,
    table_rows: u64,
    plan: &Plan,
    report: &mut CopyReport,
    batch: &mut Batch,
    options: &mut CopyOptions<'_>,
) -> Result<TableCopy> {
    let mut tally = Tally::EMPTY;
    let mut after: Option<Vec<u8>> = None;
    let batch_options = WriteOptions::durability(Durability::None);
    let rows_total = plan.rows_total();
    loop {
        batch.read_after(snapshot, table, after.as_deref(), options.batch_bytes)?;
        if batch.rows.is_empty() && tally.rows > 0 {
            break;
        }
        target.write(batch_options, &mut |txn| {
            if batch.rows.is_empty() && target.capabilities().table_admin {
                // An empty table is copied as an empty table.
                return txn.create_table(table);
            }
            for (key, value) in batch.iter() {
                txn.put(table, key, value)?;
            }
            Ok(())
        })?;
        for (key, value) in batch.iter() {
            tally.add(key, value);
        }
        report.rows += batch.rows.len() as u64;
        report.bytes += batch.bytes.len() as u64;
        if let Some(progress) = options.progress.as_mut() {
            progress(&CopyProgress {
                table,
                rows: tally.rows,
                bytes: tally.bytes,
                table_rows,
                rows_done: report.rows,
                rows_total,
            });
        }
        match batch.last_key() {
            Some(key) => after = Some(key.to_vec()),
            None => break,
        }
    }
    Ok(TableCopy {
        name: table.to_owned(),
        rows: tally.rows,
        bytes: tally.bytes,
        checksum: tally.checksum,
    })
}

/// Reads the destination back in a new snapshot and compares every table's figures.
fn verify(target: &dyn Engine, plan: &Plan, report: &CopyReport) -> Result<()> {
    let snapshot = target.begin_read()?;
    for copied in &report.tables {
        let mut found = Tally::EMPTY;
        if copied.name == CATALOG_TABLE {
            for key in &plan.catalog_keys {
                snapshot.get(CATALOG_TABLE, key, &mut |value| {
                    found.add(key, value);
                    Ok(())
                })?;
            }
        } else {
            snapshot.range(&copied.name, &KeyRange::ALL, &mut |key, value| {
                found.add(key, value);
                Ok(ControlFlow::Continue(()))
            })?;
        }
        let expected = Tally {
            rows: copied.rows,
            bytes: copied.bytes,
            value_bytes: found.value_bytes,
            checksum: copied.checksum,
        };
        if found != expected {
            return Err(refused(
                Some(&copied.name),
                CopyErrorKind::Mismatch,
                format!(
                    "the destination differs from the source after copying: {} rows, {} bytes, \
                     checksum {:016x} there; {} rows, {} bytes, checksum {:016x} in the source \
                     (something else wrote to the destination during the copy, or it lost \
                     writes); run the copy again with replace",
                    found.rows,
                    found.bytes,
                    found.checksum,
                    expected.rows,
                    expected.bytes,
                    expected.checksum
                ),
            ));
        }
    }
    Ok(())
}
