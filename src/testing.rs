//! The conformance suite every [`Database`] implementation must pass (feature `testing`).
//!
//! Each check is a public function named after the promise it verifies, taking a fresh
//! [`Fixture`]. [`conformance_suite!`](crate::conformance_suite) turns the whole list into
//! `#[test]`s for one engine, so a new engine proves itself with one line:
//!
//! ```ignore
//! zerotable::conformance_suite!(my_engine, || {
//!     zerotable::testing::Fixture::new(std::sync::Arc::new(MyEngine::new()))
//! });
//! ```

use std::any::Any;
use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use crate::database::{
    Database, Durability, KeyRange, ReadTransaction, ScanVisitor, TableStats, WriteTransaction,
};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// A fresh, empty database for one check, plus whatever must outlive it (a temp directory).
pub struct Fixture {
    /// The engine under test.
    pub db: Arc<dyn Database>,
    _keep_alive: Box<dyn Any>,
}

impl Fixture {
    /// A fixture for an engine that needs nothing kept alive.
    pub fn new(db: Arc<dyn Database>) -> Self {
        Self::with_guard(db, ())
    }

    /// A fixture that keeps `guard` (e.g. a `tempfile::TempDir`) alive as long as the engine.
    pub fn with_guard(db: Arc<dyn Database>, guard: impl Any) -> Self {
        Fixture {
            db,
            _keep_alive: Box::new(guard),
        }
    }

    fn storage(&self) -> Storage {
        Storage::with_database(Arc::clone(&self.db))
    }
}

/// A record stored by the typed checks.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, Clone, PartialEq)]
pub struct Record {
    /// A string field.
    pub name: String,
    /// A numeric field.
    pub score: u32,
}

fn get_copy(db: &dyn Database, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    let mut out = None;
    let found = db
        .get(table, key, &mut |bytes| out = Some(bytes.to_vec()))
        .expect("get");
    assert_eq!(
        found,
        out.is_some(),
        "get's return value must match the callback"
    );
    out
}

fn scan_all(db: &dyn Database, table: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rows = Vec::new();
    db.range(table, &KeyRange::ALL, &mut |k, v| {
        rows.push((k.to_vec(), v.to_vec()));
        ControlFlow::Continue(())
    })
    .expect("scan");
    rows
}

/// One entry as read back: key and value, copied out of the engine.
type Entry = (Vec<u8>, Vec<u8>);

/// The reference model the engine is compared with: an ordered map of byte strings.
type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Start and end bounds of a range, owning their keys.
type OwnedBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Start and end bounds of a range, borrowing their keys.
type Bounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

/// How long a check waits for another thread before declaring the engine stuck.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs a point read through `get` and copies what its callback received, checking that the
/// callback ran at most once and that the returned flag agrees with it.
fn found_copy(get: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<bool>) -> Option<Vec<u8>> {
    let mut out = None;
    let mut calls = 0;
    let found = get(&mut |bytes: &[u8]| {
        calls += 1;
        out = Some(bytes.to_vec());
    })
    .expect("get");
    assert!(calls <= 1, "a get must call its callback at most once");
    assert_eq!(
        found,
        out.is_some(),
        "get's return value must match the callback"
    );
    out
}

fn snap_get(snapshot: &dyn ReadTransaction, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    found_copy(|found| snapshot.get(table, key, found))
}

fn txn_get(txn: &mut dyn WriteTransaction, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    found_copy(|found| txn.get(table, key, found))
}

/// Runs a range read through `scan`, copying every visited entry and breaking once `limit`
/// entries were visited (never, if `None`).
fn collect(
    limit: Option<usize>,
    scan: impl FnOnce(&mut ScanVisitor<'_>) -> Result<()>,
) -> Vec<Entry> {
    let mut rows = Vec::new();
    let mut visit = |key: &[u8], value: &[u8]| {
        assert!(
            limit.is_none_or(|n| rows.len() < n),
            "the visitor was called again after it returned Break"
        );
        rows.push((key.to_vec(), value.to_vec()));
        if limit.is_some_and(|n| rows.len() >= n) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    scan(&mut visit).expect("range");
    rows
}

fn db_range(db: &dyn Database, table: &str, range: &KeyRange<'_>) -> Vec<Entry> {
    collect(None, |visit| db.range(table, range, visit))
}

fn snap_range(snapshot: &dyn ReadTransaction, table: &str, range: &KeyRange<'_>) -> Vec<Entry> {
    collect(None, |visit| snapshot.range(table, range, visit))
}

fn txn_range(txn: &mut dyn WriteTransaction, table: &str, range: &KeyRange<'_>) -> Vec<Entry> {
    collect(None, |visit| txn.range(table, range, visit))
}

/// A whole table, ascending, as a snapshot sees it.
fn snap_all(snapshot: &dyn ReadTransaction, table: &str) -> Vec<Entry> {
    snap_range(snapshot, table, &KeyRange::ALL)
}

/// What `range` must visit according to the model: written independently of
/// [`KeyRange::contains`], so that the suite does not trust the code it checks.
fn model_range(model: &Model, range: &KeyRange<'_>, limit: Option<usize>) -> Vec<Entry> {
    let above_start = |key: &[u8]| match range.start {
        Bound::Included(start) => key >= start,
        Bound::Excluded(start) => key > start,
        Bound::Unbounded => true,
    };
    let below_end = |key: &[u8]| match range.end {
        Bound::Included(end) => key <= end,
        Bound::Excluded(end) => key < end,
        Bound::Unbounded => true,
    };
    let mut rows: Vec<Entry> = model
        .iter()
        .filter(|(key, _)| above_start(key) && below_end(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if range.reverse {
        rows.reverse();
    }
    rows.truncate(limit.unwrap_or(usize::MAX));
    rows
}

/// Every entry of the model, ascending.
fn model_all(model: &Model) -> Vec<Entry> {
    model_range(model, &KeyRange::ALL, None)
}

/// Writes the whole model into `table` as one batch.
fn fill_table(db: &dyn Database, table: &str, model: &Model) {
    db.write_batch(table, &mut |w| {
        for (key, value) in model {
            w.put(key, value)?;
        }
        Ok(())
    })
    .expect("fill table");
}

/// A small deterministic pseudo-random generator (SplitMix64): the same seed gives the same
/// sequence on every platform, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every byte string of length 0 to 3 over an alphabet with the extreme bytes 0x00 and 0xFF:
/// many keys are prefixes of others (`a`, `a\0`, `a\0\0`), which is where byte order is subtle.
fn edge_keys() -> Vec<Vec<u8>> {
    const ALPHABET: [u8; 4] = [0x00, 0x01, b'a', 0xFF];
    let mut keys = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..3 {
        last = last
            .iter()
            .flat_map(|prefix: &Vec<u8>| {
                ALPHABET.iter().map(move |&byte| {
                    let mut key = prefix.clone();
                    key.push(byte);
                    key
                })
            })
            .collect();
        keys.extend(last.iter().cloned());
    }
    keys
}

/// A value that differs for every key and `version`, and has a varying length.
fn value_for(key: &[u8], version: u8) -> Vec<u8> {
    let mut value = vec![version; usize::from(version % 4)];
    value.extend(key.iter().rev());
    value.push(key.len() as u8);
    value
}

/// A random bound over `keys` (mostly keys of the candidate set, sometimes a longer one that
/// lands between stored keys).
fn random_bound(rng: &mut Rng, keys: &[Vec<u8>]) -> Bound<Vec<u8>> {
    let mut key = rng.pick(keys).clone();
    if rng.chance(15) {
        key.push(*rng.pick(&[0x00, 0x7F, 0xFF]));
    }
    match rng.below(5) {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Included(key),
        _ => Bound::Excluded(key),
    }
}

fn borrow_bound(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// Runs `job` on another thread and returns its result, failing the check if it panics or has
/// not finished within [`PATIENCE`] (a stuck thread is left behind, but the check fails instead
/// of hanging).
fn on_thread_within<T: Send + 'static>(what: &str, job: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(job());
    });
    match result.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {PATIENCE:?}: is the engine stuck?")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Entries from text pairs, for readable expectations.
fn rows(pairs: &[(&str, &str)]) -> Vec<Entry> {
    pairs
        .iter()
        .map(|(key, value)| (key.as_bytes().to_vec(), value.as_bytes().to_vec()))
        .collect()
}

fn names(tables: &[&str]) -> Vec<String> {
    tables.iter().map(|name| name.to_string()).collect()
}

/// Compares what a write transaction reads (point gets of every key, `len`, whole-table ranges
/// both ways and random bounded ranges with and without early stop) with the model.
fn assert_txn_matches(
    txn: &mut dyn WriteTransaction,
    table: &str,
    model: &Model,
    keys: &[Vec<u8>],
    rng: &mut Rng,
) {
    for key in keys {
        assert_eq!(
            txn_get(txn, table, key),
            model.get(key).cloned(),
            "get of {key:?} inside the transaction"
        );
    }
    assert_eq!(txn.len(table).unwrap(), model.len() as u64, "len inside");
    for reverse in [false, true] {
        let all = KeyRange {
            reverse,
            ..KeyRange::ALL
        };
        assert_eq!(
            txn_range(txn, table, &all),
            model_range(model, &all, None),
            "whole table inside the transaction, reverse: {reverse}"
        );
    }
    for _ in 0..20 {
        let (start, end) = (random_bound(rng, keys), random_bound(rng, keys));
        let range = KeyRange {
            start: borrow_bound(&start),
            end: borrow_bound(&end),
            reverse: rng.chance(50),
        };
        let limit = rng.chance(30).then(|| 1 + rng.below(5));
        assert_eq!(
            collect(limit, |visit| txn.range(table, &range, visit)),
            model_range(model, &range, limit),
            "{range:?} inside the transaction, stopping after {limit:?}"
        );
    }
}

/// A table never written reads as empty, and deleting from it finds nothing.
pub fn missing_table_reads_as_empty(f: &Fixture) {
    let db = &*f.db;
    assert_eq!(get_copy(db, "never_written", b"k"), None);
    assert!(scan_all(db, "never_written").is_empty());
    assert_eq!(db.len("never_written").unwrap(), 0);
    assert!(!db.delete("never_written", b"k").unwrap());
}

/// A put is read back byte for byte; a second put replaces it; empty keys and values are fine.
pub fn put_then_get_returns_latest_value(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"key", b"first").unwrap();
    assert_eq!(get_copy(db, "t", b"key").as_deref(), Some(&b"first"[..]));
    db.put("t", b"key", b"second").unwrap();
    assert_eq!(get_copy(db, "t", b"key").as_deref(), Some(&b"second"[..]));
    db.put("t", b"", b"").unwrap();
    assert_eq!(get_copy(db, "t", b"").as_deref(), Some(&b""[..]));
    let big = vec![0xA5; 1 << 20];
    db.put("t", b"big", &big).unwrap();
    assert_eq!(get_copy(db, "t", b"big"), Some(big));
    assert_eq!(db.len("t").unwrap(), 3);
}

/// `delete` reports whether the key existed and removes it.
pub fn delete_reports_whether_key_existed(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"a", b"1").unwrap();
    assert!(db.delete("t", b"a").unwrap());
    assert!(!db.delete("t", b"a").unwrap());
    assert_eq!(get_copy(db, "t", b"a"), None);
    assert_eq!(db.len("t").unwrap(), 0);
}

/// Tables with different names never see each other's entries.
pub fn tables_are_independent(f: &Fixture) {
    let db = &*f.db;
    db.put("left", b"k", b"L").unwrap();
    db.put("right", b"k", b"R").unwrap();
    assert_eq!(get_copy(db, "left", b"k").as_deref(), Some(&b"L"[..]));
    assert_eq!(get_copy(db, "right", b"k").as_deref(), Some(&b"R"[..]));
    assert!(db.delete("left", b"k").unwrap());
    assert_eq!(get_copy(db, "right", b"k").as_deref(), Some(&b"R"[..]));
}

/// `scan` visits keys in memcmp order, including 0x00/0xFF bytes and prefixes.
pub fn scan_visits_keys_in_byte_order(f: &Fixture) {
    let db = &*f.db;
    let keys: [&[u8]; 9] = [
        b"b", b"a", b"", b"a\x00", b"a\xff", b"ab", b"\xff", b"\x00", b"aa",
    ];
    let mut model = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        let value = vec![i as u8; i];
        db.put("t", key, &value).unwrap();
        model.insert(key.to_vec(), value);
    }
    let expected: Vec<_> = model.into_iter().collect();
    assert_eq!(scan_all(db, "t"), expected);
}

/// `scan` stops at the first `Break`.
pub fn scan_stops_when_visitor_breaks(f: &Fixture) {
    let db = &*f.db;
    for i in 0u8..10 {
        db.put("t", &[i], &[i]).unwrap();
    }
    let mut seen = Vec::new();
    db.range("t", &KeyRange::ALL, &mut |k, _| {
        seen.push(k[0]);
        if k[0] == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(seen, [0, 1, 2, 3]);
}

/// A batch applies all its writes together, and its deletes see its own puts.
pub fn batch_applies_all_writes(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"old", b"x").unwrap();
    db.write_batch("t", &mut |w| {
        for i in 0u32..100 {
            w.put(&i.to_be_bytes(), &i.to_le_bytes())?;
        }
        assert!(w.delete(b"old")?);
        assert!(!w.delete(b"old")?);
        w.put(b"tmp", b"y")?;
        assert!(
            w.delete(b"tmp")?,
            "a batch's delete sees the batch's own put"
        );
        Ok(())
    })
    .unwrap();
    assert_eq!(db.len("t").unwrap(), 100);
    assert_eq!(get_copy(db, "t", b"old"), None);
    assert_eq!(get_copy(db, "t", b"tmp"), None);
    assert_eq!(
        get_copy(db, "t", &7u32.to_be_bytes()),
        Some(7u32.to_le_bytes().to_vec())
    );
}

/// A batch whose closure fails applies nothing, and the error comes back unchanged.
pub fn failed_batch_applies_nothing(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"keep", b"1").unwrap();
    let result = db.write_batch("t", &mut |w| {
        w.put(b"new", b"2")?;
        w.delete(b"keep")?;
        Err(Error::callback(std::io::Error::other("stop")))
    });
    assert!(matches!(result, Err(Error::Callback { .. })));
    assert_eq!(get_copy(db, "t", b"keep").as_deref(), Some(&b"1"[..]));
    assert_eq!(get_copy(db, "t", b"new"), None);
    assert_eq!(db.len("t").unwrap(), 1);
}

/// A batch whose closure panics applies nothing; the panic reaches the caller and the database
/// keeps working.
pub fn panicking_batch_applies_nothing(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"keep", b"1").unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        db.write_batch("t", &mut |w| {
            w.put(b"new", b"2")?;
            panic!("boom inside a batch");
        })
    }));
    assert!(outcome.is_err(), "the panic must propagate");
    assert_eq!(get_copy(db, "t", b"new"), None);
    db.put("t", b"after", b"3").unwrap();
    assert_eq!(db.len("t").unwrap(), 2);
}

/// A read callback that panics propagates the panic and leaves the database usable.
pub fn panicking_read_callbacks_leave_database_usable(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"k", b"v").unwrap();
    let in_get = catch_unwind(AssertUnwindSafe(|| {
        db.get("t", b"k", &mut |_| panic!("boom in get"))
    }));
    assert!(in_get.is_err());
    let in_scan = catch_unwind(AssertUnwindSafe(|| {
        db.range("t", &KeyRange::ALL, &mut |_, _| panic!("boom in scan"))
    }));
    assert!(in_scan.is_err());
    db.put("t", b"k2", b"v2").unwrap();
    assert_eq!(get_copy(db, "t", b"k").as_deref(), Some(&b"v"[..]));
    assert_eq!(db.len("t").unwrap(), 2);
}

/// Read callbacks may read and write the same database; a scan keeps its consistent view while
/// a write lands during it.
pub fn callbacks_may_reenter_and_scan_sees_snapshot(f: &Fixture) {
    let db = &*f.db;
    for i in 0u8..5 {
        db.put("t", &[i], &[i]).unwrap();
    }
    db.get("t", &[0], &mut |outer| {
        assert_eq!(get_copy(db, "t", &[1]).as_deref(), Some(&[1u8][..]));
        assert_eq!(outer, [0]);
    })
    .unwrap();
    let mut seen = 0;
    db.range("t", &KeyRange::ALL, &mut |k, _| {
        if k == [0] {
            db.put("t", &[9], &[9]).unwrap();
            db.delete("t", &[4]).unwrap();
        }
        seen += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        seen, 5,
        "the scan must not see writes committed after it began"
    );
    assert_eq!(get_copy(db, "t", &[9]).as_deref(), Some(&[9u8][..]));
    assert_eq!(get_copy(db, "t", &[4]), None);
}

/// Typed tables over this engine: rkyv, pre-archived rkyv and raw values round-trip, and a
/// value of the wrong type is reported with the table and key.
pub fn typed_tables_round_trip_and_report_corruption(f: &Fixture) {
    let storage = f.storage();
    let records = storage.rkyv_table::<u64, Record>("records").unwrap();
    let record = Record {
        name: "ada".into(),
        score: 7,
    };
    records.put(&1, &record).unwrap();
    let read = records.get(&1, |r| (r.name.to_string(), r.score.to_native()));
    assert_eq!(read.unwrap(), Some(("ada".to_string(), 7)));

    let archived = storage
        .rkyv_borrowed_table::<u64, Record>("archived")
        .unwrap();
    let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&record).unwrap();
    archived.put(&2, &bytes).unwrap();
    assert_eq!(archived.get(&2, |r| r.score.to_native()).unwrap(), Some(7));

    let raw = storage.raw_table::<String>("raw").unwrap();
    raw.put("k", b"\x01\x02").unwrap();
    assert_eq!(raw.get("k", |b| b.to_vec()).unwrap(), Some(vec![1, 2]));

    // Garbage under a key of the rkyv table: the typed read must fail cleanly.
    f.db.put("records", &9u64.to_be_bytes(), b"\x01").unwrap();
    match records.get(&9, |r| r.score) {
        Err(Error::CorruptValue { table, key, .. }) => {
            assert_eq!(table, "records");
            assert_eq!(key.0, 9u64.to_be_bytes());
        }
        other => panic!("expected CorruptValue, got {other:?}"),
    }
    let folded = records.scan_with(|s| s.fold(0, |n, _, _| Ok(n + 1)));
    assert!(matches!(folded, Err(Error::CorruptValue { .. })));
}

/// A snapshot keeps the state it began with: puts, deletes, batches and table drops committed
/// after it began (auto-commit or through one write transaction over several tables) stay
/// invisible to it, in every table, while a newer snapshot and auto-commit reads see them all.
pub fn snapshot_ignores_later_commits(f: &Fixture) {
    let db = &*f.db;
    db.put("left", b"a", b"1").unwrap();
    db.put("left", b"b", b"2").unwrap();
    db.put("right", b"x", b"1").unwrap();
    db.put("doomed", b"k", b"v").unwrap();
    let old = db.begin_read().unwrap();

    db.put("left", b"a", b"changed").unwrap();
    db.put("left", b"c", b"new").unwrap();
    assert!(db.delete("left", b"b").unwrap());
    db.write_batch("right", &mut |w| w.put(b"y", b"batched"))
        .unwrap();
    let mut txn = db.begin_write(None).unwrap();
    txn.put("right", b"x", b"changed").unwrap();
    txn.put("fresh", b"f", b"new table").unwrap();
    assert!(txn.drop_table("doomed").unwrap());
    txn.commit().unwrap();

    let assert_old = |snapshot: &dyn ReadTransaction| {
        assert_eq!(snap_all(snapshot, "left"), rows(&[("a", "1"), ("b", "2")]));
        assert_eq!(snap_get(snapshot, "left", b"a"), Some(b"1".to_vec()));
        assert_eq!(snap_get(snapshot, "left", b"b"), Some(b"2".to_vec()));
        assert_eq!(snap_get(snapshot, "left", b"c"), None);
        assert_eq!(snapshot.len("left").unwrap(), 2);
        assert_eq!(snap_all(snapshot, "right"), rows(&[("x", "1")]));
        assert_eq!(snap_get(snapshot, "right", b"y"), None);
        assert_eq!(snapshot.len("right").unwrap(), 1);
        assert_eq!(snap_all(snapshot, "doomed"), rows(&[("k", "v")]));
        assert_eq!(snap_get(snapshot, "doomed", b"k"), Some(b"v".to_vec()));
        assert_eq!(snapshot.len("doomed").unwrap(), 1);
        assert_eq!(snap_get(snapshot, "fresh", b"f"), None);
        assert_eq!(snapshot.len("fresh").unwrap(), 0);
    };
    assert_old(&*old);

    let new = db.begin_read().unwrap();
    assert_eq!(
        snap_all(&*new, "left"),
        rows(&[("a", "changed"), ("c", "new")])
    );
    assert_eq!(snap_get(&*new, "left", b"b"), None);
    assert_eq!(
        snap_all(&*new, "right"),
        rows(&[("x", "changed"), ("y", "batched")])
    );
    assert!(snap_all(&*new, "doomed").is_empty());
    assert_eq!(new.len("doomed").unwrap(), 0);
    assert_eq!(snap_all(&*new, "fresh"), rows(&[("f", "new table")]));
    assert_eq!(get_copy(db, "left", b"a"), Some(b"changed".to_vec()));
    assert_eq!(get_copy(db, "doomed", b"k"), None);
    assert_eq!(
        db.list_tables().unwrap(),
        names(&["fresh", "left", "right"])
    );

    // More commits change neither snapshot.
    db.put("left", b"d", b"later").unwrap();
    assert_old(&*old);
    assert_eq!(snap_get(&*new, "left", b"d"), None);
    assert_eq!(new.len("left").unwrap(), 2);
}

/// Snapshots taken while another thread commits transactions that each move an entry from one
/// table to another (and bump a version stored in both) always see both tables at the same
/// version, every entry in exactly one table, and versions that never go back.
pub fn snapshot_sees_one_state_of_every_table(f: &Fixture) {
    const ACCOUNTS: u8 = 8;
    const MOVES: u32 = 60;
    let db = &*f.db;
    let mut txn = db.begin_write(None).unwrap();
    for account in 0..ACCOUNTS {
        txn.put("left", &[account], b"").unwrap();
    }
    txn.put("left", b"version", &0u32.to_be_bytes()).unwrap();
    txn.put("right", b"version", &0u32.to_be_bytes()).unwrap();
    txn.commit().unwrap();

    let writer_db = Arc::clone(&f.db);
    let (finished, writer_finished) = mpsc::channel();
    thread::spawn(move || {
        for version in 1..=MOVES {
            let account = [(version % u32::from(ACCOUNTS)) as u8];
            let mut txn = writer_db.begin_write(Some(Durability::None)).unwrap();
            let (from, to) = if txn_get(&mut *txn, "left", &account).is_some() {
                ("left", "right")
            } else {
                ("right", "left")
            };
            assert!(txn.delete(from, &account).unwrap());
            txn.put(to, &account, b"").unwrap();
            txn.put("left", b"version", &version.to_be_bytes()).unwrap();
            txn.put("right", b"version", &version.to_be_bytes())
                .unwrap();
            txn.commit().unwrap();
        }
        let _ = finished.send(());
    });

    // Returns the version the snapshot sees, after checking its consistency.
    let check = |snapshot: &dyn ReadTransaction| -> u32 {
        let left = snap_all(snapshot, "left");
        let left_version = snap_get(snapshot, "left", b"version").expect("left version");
        // Leave the writer a chance to commit between the reads of the two tables.
        thread::yield_now();
        let right = snap_all(snapshot, "right");
        let right_version = snap_get(snapshot, "right", b"version").expect("right version");
        assert_eq!(
            left_version, right_version,
            "one snapshot saw two states of the database"
        );
        assert_eq!(snapshot.len("left").unwrap(), left.len() as u64);
        assert_eq!(snapshot.len("right").unwrap(), right.len() as u64);
        let mut accounts: Vec<u8> = left
            .iter()
            .chain(&right)
            .filter(|(key, _)| key.len() == 1)
            .map(|(key, _)| key[0])
            .collect();
        accounts.sort_unstable();
        assert_eq!(
            accounts,
            (0..ACCOUNTS).collect::<Vec<_>>(),
            "every entry must be in exactly one table"
        );
        u32::from_be_bytes(left_version.try_into().expect("4-byte version"))
    };

    let deadline = std::time::Instant::now() + PATIENCE;
    let mut last = 0;
    loop {
        let version = check(&*db.begin_read().unwrap());
        assert!(version >= last, "a newer snapshot saw an older state");
        last = version;
        match writer_finished.try_recv() {
            Ok(()) => break,
            Err(mpsc::TryRecvError::Disconnected) => panic!("the writer thread panicked"),
            Err(mpsc::TryRecvError::Empty) => {
                assert!(std::time::Instant::now() < deadline, "the writer is stuck")
            }
        }
    }
    assert_eq!(check(&*db.begin_read().unwrap()), MOVES);
}

/// A write transaction's puts, deletes and new tables are invisible to auto-commit reads, to
/// snapshots begun before or during it and to `list_tables` until it commits; afterwards they
/// are visible to everything but the older snapshots.
pub fn write_transaction_is_invisible_until_commit(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"a", b"1").unwrap();
    db.put("t", b"b", b"2").unwrap();
    let committed = rows(&[("a", "1"), ("b", "2")]);
    let before = db.begin_read().unwrap();

    let mut txn = db.begin_write(None).unwrap();
    txn.put("t", b"a", b"changed").unwrap();
    txn.put("t", b"c", b"3").unwrap();
    assert!(txn.delete("t", b"b").unwrap());
    txn.put("other", b"o", b"new table").unwrap();
    txn.create_table("created").unwrap();

    let during = db.begin_read().unwrap();
    for snapshot in [&*before, &*during] {
        assert_eq!(snap_all(snapshot, "t"), committed);
        assert_eq!(snap_get(snapshot, "t", b"c"), None);
        assert_eq!(snapshot.len("t").unwrap(), 2);
        assert_eq!(snap_get(snapshot, "other", b"o"), None);
    }
    assert_eq!(scan_all(db, "t"), committed);
    let reverse = KeyRange {
        reverse: true,
        ..KeyRange::ALL
    };
    assert_eq!(db_range(db, "t", &reverse), rows(&[("b", "2"), ("a", "1")]));
    assert_eq!(get_copy(db, "t", b"a"), Some(b"1".to_vec()));
    assert_eq!(get_copy(db, "t", b"c"), None);
    assert_eq!(db.len("t").unwrap(), 2);
    assert_eq!(get_copy(db, "other", b"o"), None);
    assert_eq!(db.len("other").unwrap(), 0);
    assert_eq!(db.list_tables().unwrap(), names(&["t"]));

    txn.commit().unwrap();
    let after = rows(&[("a", "changed"), ("c", "3")]);
    assert_eq!(scan_all(db, "t"), after);
    assert_eq!(get_copy(db, "t", b"b"), None);
    assert_eq!(db.len("t").unwrap(), 2);
    assert_eq!(get_copy(db, "other", b"o"), Some(b"new table".to_vec()));
    assert_eq!(snap_all(&*db.begin_read().unwrap(), "t"), after);
    assert_eq!(db.list_tables().unwrap(), names(&["created", "other", "t"]));
    for snapshot in [&*before, &*during] {
        assert_eq!(snap_all(snapshot, "t"), committed);
        assert_eq!(snap_get(snapshot, "other", b"o"), None);
    }
}

/// A write transaction dropped without commit leaves no trace (puts, deletes, created and
/// dropped tables), and releases the writer slot: the next writer, on another thread, begins
/// and commits.
pub fn dropped_write_transaction_leaves_nothing(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"a", b"1").unwrap();
    db.put("victim", b"v", b"1").unwrap();
    let tables = db.list_tables().unwrap();

    let mut txn = db.begin_write(None).unwrap();
    txn.put("t", b"a", b"changed").unwrap();
    txn.put("t", b"b", b"2").unwrap();
    txn.put("new", b"n", b"1").unwrap();
    txn.create_table("created").unwrap();
    assert!(txn.drop_table("victim").unwrap());
    assert_eq!(txn_get(&mut *txn, "t", b"b"), Some(b"2".to_vec()));
    drop(txn);

    assert_eq!(scan_all(db, "t"), rows(&[("a", "1")]));
    assert_eq!(scan_all(db, "victim"), rows(&[("v", "1")]));
    assert_eq!(db.len("new").unwrap(), 0);
    assert_eq!(db.list_tables().unwrap(), tables);

    let mut txn = db.begin_write(None).unwrap();
    assert!(txn.delete("t", b"a").unwrap());
    drop(txn);
    assert_eq!(get_copy(db, "t", b"a"), Some(b"1".to_vec()));

    let next = Arc::clone(&f.db);
    on_thread_within("a write transaction after a rolled-back one", move || {
        let mut txn = next.begin_write(None).unwrap();
        txn.put("t", b"after", b"3").unwrap();
        txn.commit().unwrap();
    });
    assert_eq!(scan_all(db, "t"), rows(&[("a", "1"), ("after", "3")]));
}

/// Inside a write transaction, `get`, `len` and `range` (both directions, any bounds, stopping
/// early) see the transaction's puts, overwrites and deletes laid over the committed entries,
/// exactly as an ordered map would; other tables keep their committed entries; each `delete`
/// reports whether the key existed at that point. Nobody else sees any of it until commit.
pub fn write_transaction_reads_its_own_writes(f: &Fixture) {
    let db = &*f.db;
    let mut rng = Rng(0x5EED_0001);
    let keys = edge_keys();
    let mut model: Model = keys
        .iter()
        .filter(|_| rng.chance(50))
        .map(|key| (key.clone(), value_for(key, 0)))
        .collect();
    fill_table(db, "t", &model);
    db.put("other", b"a", b"untouched").unwrap();
    let committed = model.clone();

    let mut txn = db.begin_write(None).unwrap();
    assert_txn_matches(&mut *txn, "t", &model, &keys, &mut rng);
    for round in 1..=4u8 {
        for _ in 0..25 {
            let key = rng.pick(&keys).clone();
            if rng.chance(40) {
                let existed = model.remove(&key).is_some();
                assert_eq!(
                    txn.delete("t", &key).unwrap(),
                    existed,
                    "delete of {key:?} must report whether it existed"
                );
            } else {
                let value = value_for(&key, round);
                txn.put("t", &key, &value).unwrap();
                model.insert(key, value);
            }
        }
        assert_txn_matches(&mut *txn, "t", &model, &keys, &mut rng);
        assert_eq!(
            txn_get(&mut *txn, "other", b"a"),
            Some(b"untouched".to_vec())
        );
        assert_eq!(
            scan_all(db, "t"),
            model_all(&committed),
            "leaked before commit"
        );
    }
    txn.commit().unwrap();
    assert_eq!(scan_all(db, "t"), model_all(&model));
    assert_eq!(db.len("t").unwrap(), model.len() as u64);
    assert_eq!(scan_all(db, "other"), rows(&[("a", "untouched")]));
}

/// A panic inside a write transaction's body (the transaction created inside the unwinding
/// code) applies nothing, and the writer slot is released: another writer begins and commits.
pub fn panicking_write_transaction_applies_nothing(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"keep", b"1").unwrap();
    let tables = db.list_tables().unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = db.begin_write(None).unwrap();
        txn.put("t", b"new", b"2").unwrap();
        assert!(txn.delete("t", b"keep").unwrap());
        txn.put("other", b"o", b"3").unwrap();
        txn.create_table("created").unwrap();
        panic!("boom inside a write transaction");
    }));
    assert!(outcome.is_err(), "the panic must propagate");
    assert_eq!(scan_all(db, "t"), rows(&[("keep", "1")]));
    assert_eq!(db.len("other").unwrap(), 0);
    assert_eq!(db.list_tables().unwrap(), tables);

    let next = Arc::clone(&f.db);
    on_thread_within("a write transaction after a panicking one", move || {
        let mut txn = next.begin_write(None).unwrap();
        txn.put("t", b"after", b"4").unwrap();
        txn.commit().unwrap();
    });
    // And on this thread too.
    db.put("t", b"last", b"5").unwrap();
    assert_eq!(
        scan_all(db, "t"),
        rows(&[("after", "4"), ("keep", "1"), ("last", "5")])
    );
}

/// Writers are serialized: while one write transaction is open, another thread's `begin_write`
/// waits (readers do not), gets its transaction only after the first one commits, and then sees
/// what it committed.
pub fn writers_are_serialized(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"k", b"0").unwrap();
    let mut first = db.begin_write(None).unwrap();
    first.put("t", b"k", b"first").unwrap();

    let committing = Arc::new(AtomicBool::new(false));
    let acquired = Arc::new(AtomicBool::new(false));
    let (started_tx, started) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    let second_db = Arc::clone(&f.db);
    let (second_committing, second_acquired) = (Arc::clone(&committing), Arc::clone(&acquired));
    thread::spawn(move || {
        started_tx.send(()).unwrap();
        let mut second = second_db.begin_write(None).unwrap();
        let first_was_committing = second_committing.load(Ordering::SeqCst);
        second_acquired.store(true, Ordering::SeqCst);
        let seen = txn_get(&mut *second, "t", b"k");
        second.put("t", b"k", b"second").unwrap();
        second.commit().unwrap();
        let _ = done_tx.send((first_was_committing, seen));
    });

    started
        .recv_timeout(PATIENCE)
        .expect("the second writer's thread started");
    thread::sleep(Duration::from_millis(50));
    assert!(
        !acquired.load(Ordering::SeqCst),
        "a second write transaction began while the first was open"
    );
    // Readers are not held up by the waiting writer, and the first writer keeps working.
    assert_eq!(get_copy(db, "t", b"k"), Some(b"0".to_vec()));
    first.put("t", b"k2", b"first").unwrap();
    committing.store(true, Ordering::SeqCst);
    first.commit().unwrap();

    let (first_was_committing, seen) = match done.recv_timeout(PATIENCE) {
        Ok(outcome) => outcome,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the second writer never began after the first committed")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the second writer panicked"),
    };
    assert!(
        first_was_committing,
        "the second writer began before the first committed"
    );
    assert_eq!(
        seen,
        Some(b"first".to_vec()),
        "the second writer must see the first one's commit"
    );
    assert_eq!(get_copy(db, "t", b"k"), Some(b"second".to_vec()));
    assert_eq!(get_copy(db, "t", b"k2"), Some(b"first".to_vec()));
}

/// `range` visits exactly the entries an ordered map would, for every combination of included,
/// excluded and unbounded ends, both directions, and stopping early: explicit bounds at the
/// extremes, then 200 pseudo-random ranges over keys with 0x00/0xFF bytes and prefixes of one
/// another. Auto-commit reads and a snapshot agree; a neighbouring table never leaks in.
pub fn range_bounds_match_ordered_model(f: &Fixture) {
    let db = &*f.db;
    let mut rng = Rng(0x5EED_0002);
    let candidates = edge_keys();
    let model: Model = candidates
        .iter()
        .filter(|_| rng.chance(60))
        .map(|key| (key.clone(), value_for(key, 1)))
        .collect();
    fill_table(db, "t", &model);
    db.write_batch("s", &mut |w| {
        w.put(b"", b"neighbour")?;
        w.put(b"a\x00", b"neighbour")?;
        w.put(b"\xff\xff\xff\xff", b"neighbour")
    })
    .unwrap();
    let snapshot = db.begin_read().unwrap();

    let probes: [&[u8]; 6] = [
        b"",
        b"\x00",
        b"a",
        b"a\x00\xff",
        b"a\x01",
        b"\xff\xff\xff\xff",
    ];
    let mut bounds = vec![Bound::Unbounded];
    for probe in probes {
        bounds.push(Bound::Included(probe.to_vec()));
        bounds.push(Bound::Excluded(probe.to_vec()));
    }
    let mut cases: Vec<OwnedBounds> = Vec::new();
    for start in &bounds {
        for end in &bounds {
            cases.push((start.clone(), end.clone()));
        }
    }
    for _ in 0..200 {
        let start = random_bound(&mut rng, &candidates);
        let end = random_bound(&mut rng, &candidates);
        cases.push((start, end));
    }

    for (start, end) in &cases {
        for reverse in [false, true] {
            let range = KeyRange {
                start: borrow_bound(start),
                end: borrow_bound(end),
                reverse,
            };
            let expected = model_range(&model, &range, None);
            assert_eq!(db_range(db, "t", &range), expected, "{range:?}");
            assert_eq!(
                snap_range(&*snapshot, "t", &range),
                expected,
                "{range:?} in a snapshot"
            );
            let limit = 1 + rng.below(expected.len() + 2);
            assert_eq!(
                collect(Some(limit), |visit| db.range("t", &range, visit)),
                model_range(&model, &range, Some(limit)),
                "{range:?} stopping after {limit}"
            );
        }
    }
}

/// Ranges that hold no key (start above end, or equal ends with one excluded) visit nothing
/// and do not panic, in both directions, in auto-commit reads, snapshots and write
/// transactions (with staged entries) alike, and on a missing table; a range with one included
/// key at both ends visits exactly that key.
pub fn empty_ranges_visit_nothing(f: &Fixture) {
    let db = &*f.db;
    let stored: [&[u8]; 6] = [b"", b"\x00", b"a", b"a\x00", b"b", b"\xff"];
    db.write_batch("t", &mut |w| {
        for key in stored {
            w.put(key, b"v")?;
        }
        Ok(())
    })
    .unwrap();
    let snapshot = db.begin_read().unwrap();
    let mut txn = db.begin_write(None).unwrap();
    let staged: [&[u8]; 2] = [b"a\x01", b"\xff\xff"];
    for key in staged {
        txn.put("t", key, b"staged").unwrap();
    }

    let probes: [&[u8]; 9] = [
        b"",
        b"\x00",
        b"a",
        b"a\x00",
        b"a\x01",
        b"a\x02",
        b"b",
        b"\xff",
        b"\xff\xff",
    ];
    let mut empty: Vec<Bounds<'_>> = Vec::new();
    for key in probes {
        empty.push((Bound::Included(key), Bound::Excluded(key)));
        empty.push((Bound::Excluded(key), Bound::Included(key)));
        empty.push((Bound::Excluded(key), Bound::Excluded(key)));
    }
    for (i, &low) in probes.iter().enumerate() {
        for &high in &probes[i + 1..] {
            empty.push((Bound::Included(high), Bound::Included(low)));
            empty.push((Bound::Included(high), Bound::Excluded(low)));
            empty.push((Bound::Excluded(high), Bound::Included(low)));
            empty.push((Bound::Excluded(high), Bound::Excluded(low)));
        }
    }
    for (start, end) in empty {
        for reverse in [false, true] {
            let range = KeyRange {
                start,
                end,
                reverse,
            };
            assert!(db_range(db, "t", &range).is_empty(), "{range:?}");
            assert!(db_range(db, "missing", &range).is_empty(), "{range:?}");
            assert!(snap_range(&*snapshot, "t", &range).is_empty(), "{range:?}");
            assert!(txn_range(&mut *txn, "t", &range).is_empty(), "{range:?}");
        }
    }
    for key in probes {
        let range = KeyRange {
            start: Bound::Included(key),
            end: Bound::Included(key),
            reverse: false,
        };
        let in_db = stored.contains(&key).then(|| (key.to_vec(), b"v".to_vec()));
        assert_eq!(db_range(db, "t", &range), Vec::from_iter(in_db.clone()));
        assert_eq!(
            snap_range(&*snapshot, "t", &range),
            Vec::from_iter(in_db.clone())
        );
        let in_txn = if staged.contains(&key) {
            Some((key.to_vec(), b"staged".to_vec()))
        } else {
            in_db
        };
        assert_eq!(txn_range(&mut *txn, "t", &range), Vec::from_iter(in_txn));
    }
}

/// `list_tables` names, in ascending byte order, every table created by a put, a batch, a
/// write transaction or `create_table` (which makes an empty, readable table and keeps an
/// existing one's entries); a dropped table disappears from it.
pub fn list_tables_is_sorted_and_tracks_creates_and_drops(f: &Fixture) {
    let db = &*f.db;
    assert!(
        db.list_tables().unwrap().is_empty(),
        "a fresh database has no tables"
    );
    db.put("zeta", b"k", b"v").unwrap();
    db.write_batch("mid", &mut |w| w.put(b"k", b"v")).unwrap();
    let mut txn = db.begin_write(None).unwrap();
    txn.create_table("empty").unwrap();
    txn.put("Beta", b"k", b"v").unwrap();
    txn.commit().unwrap();
    db.put("alpha", b"k", b"v").unwrap();
    assert_eq!(
        db.list_tables().unwrap(),
        names(&["Beta", "alpha", "empty", "mid", "zeta"])
    );

    assert_eq!(db.len("empty").unwrap(), 0);
    assert_eq!(get_copy(db, "empty", b"k"), None);
    assert!(scan_all(db, "empty").is_empty());
    assert_eq!(db.table_stats("empty").unwrap().entries, 0);

    let mut txn = db.begin_write(None).unwrap();
    txn.create_table("mid").unwrap();
    txn.commit().unwrap();
    assert_eq!(scan_all(db, "mid"), rows(&[("k", "v")]));

    let mut txn = db.begin_write(None).unwrap();
    assert!(txn.drop_table("mid").unwrap());
    assert!(txn.drop_table("empty").unwrap());
    txn.commit().unwrap();
    assert_eq!(db.list_tables().unwrap(), names(&["Beta", "alpha", "zeta"]));
}

/// `drop_table` reports whether the table existed (once per transaction), hides the table from
/// the transaction at once but from everyone else only on commit; rolled back, it changes
/// nothing; committed, the table and its entries are gone, and a later write starts it afresh.
pub fn drop_table_takes_effect_on_commit_only(f: &Fixture) {
    let db = &*f.db;
    db.write_batch("t", &mut |w| {
        w.put(b"a", b"1")?;
        w.put(b"b", b"2")?;
        w.put(b"c", b"3")
    })
    .unwrap();
    db.put("kept", b"k", b"v").unwrap();
    let full = rows(&[("a", "1"), ("b", "2"), ("c", "3")]);

    let mut txn = db.begin_write(None).unwrap();
    assert!(txn.drop_table("t").unwrap(), "t existed");
    assert!(!txn.drop_table("t").unwrap(), "t was already dropped");
    assert!(!txn.drop_table("never").unwrap(), "never existed");
    assert_eq!(txn_get(&mut *txn, "t", b"a"), None);
    assert_eq!(txn.len("t").unwrap(), 0);
    assert!(txn_range(&mut *txn, "t", &KeyRange::ALL).is_empty());
    assert_eq!(txn_get(&mut *txn, "kept", b"k"), Some(b"v".to_vec()));
    assert_eq!(scan_all(db, "t"), full, "the drop is not committed yet");
    drop(txn);
    assert_eq!(scan_all(db, "t"), full, "the drop was rolled back");
    assert_eq!(db.list_tables().unwrap(), names(&["kept", "t"]));

    let mut txn = db.begin_write(None).unwrap();
    assert!(txn.drop_table("t").unwrap());
    txn.commit().unwrap();
    assert_eq!(db.list_tables().unwrap(), names(&["kept"]));
    assert_eq!(get_copy(db, "t", b"a"), None);
    assert_eq!(db.len("t").unwrap(), 0);
    assert!(scan_all(db, "t").is_empty());
    assert_eq!(db.table_stats("t").unwrap(), TableStats::default());
    assert_eq!(scan_all(db, "kept"), rows(&[("k", "v")]));

    let mut txn = db.begin_write(None).unwrap();
    assert!(
        !txn.drop_table("t").unwrap(),
        "t was dropped by an earlier commit"
    );
    drop(txn);
    db.put("t", b"z", b"new").unwrap();
    assert_eq!(scan_all(db, "t"), rows(&[("z", "new")]));

    // Dropped and written again in one transaction: only the new entries remain.
    let mut txn = db.begin_write(None).unwrap();
    assert!(txn.drop_table("t").unwrap());
    txn.put("t", b"y", b"newer").unwrap();
    assert_eq!(txn.len("t").unwrap(), 1);
    assert_eq!(
        txn_range(&mut *txn, "t", &KeyRange::ALL),
        rows(&[("y", "newer")])
    );
    txn.commit().unwrap();
    assert_eq!(scan_all(db, "t"), rows(&[("y", "newer")]));
    assert_eq!(db.list_tables().unwrap(), names(&["kept", "t"]));
}

/// A table dropped and then created again within one transaction is empty, inside the
/// transaction and once committed: the old entries do not come back.
pub fn drop_then_create_table_in_one_transaction_starts_empty(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"a", b"1").unwrap();
    db.put("t", b"b", b"2").unwrap();
    let mut txn = db.begin_write(None).unwrap();
    assert!(txn.drop_table("t").unwrap());
    txn.create_table("t").unwrap();
    assert_eq!(txn.len("t").unwrap(), 0, "the re-created table is empty");
    assert_eq!(txn_get(&mut *txn, "t", b"a"), None);
    assert!(txn_range(&mut *txn, "t", &KeyRange::ALL).is_empty());
    txn.put("t", b"c", b"3").unwrap();
    txn.commit().unwrap();
    assert_eq!(db.list_tables().unwrap(), names(&["t"]));
    assert_eq!(scan_all(db, "t"), rows(&[("c", "3")]));
    assert_eq!(db.len("t").unwrap(), 1);
}

/// Reading a table inside a write transaction (`get`, `len`, `range`) does not create it: only
/// writes and `create_table` do, so after the commit `list_tables` does not name it. The same
/// holds for a table the transaction dropped and then only read.
pub fn write_transaction_reads_create_no_table(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"a", b"1").unwrap();
    let mut txn = db.begin_write(None).unwrap();
    assert_eq!(txn_get(&mut *txn, "ghost", b"k"), None);
    assert_eq!(txn.len("ghost").unwrap(), 0);
    assert!(txn_range(&mut *txn, "ghost", &KeyRange::ALL).is_empty());
    txn.put("t", b"b", b"2").unwrap();
    txn.commit().unwrap();
    assert_eq!(
        db.list_tables().unwrap(),
        names(&["t"]),
        "reads inside a write transaction created a table"
    );

    let mut txn = db.begin_write(None).unwrap();
    assert!(txn.drop_table("t").unwrap());
    assert_eq!(txn_get(&mut *txn, "t", b"a"), None);
    txn.commit().unwrap();
    assert!(
        db.list_tables().unwrap().is_empty(),
        "a read after drop_table re-created the table"
    );
}

/// `table_stats` counts the committed entries of one table and a positive number of stored
/// bytes that grows with more data and shrinks with deletes; uncommitted writes and other
/// tables do not change it; a missing, empty or dropped table has zero entries.
pub fn table_stats_count_committed_entries_and_bytes(f: &Fixture) {
    let db = &*f.db;
    assert_eq!(db.table_stats("missing").unwrap(), TableStats::default());
    db.write_batch("t", &mut |w| {
        for i in 0u32..10 {
            w.put(&i.to_be_bytes(), &[i as u8; 16])?;
        }
        Ok(())
    })
    .unwrap();
    let first = db.table_stats("t").unwrap();
    assert_eq!(first.entries, 10);
    assert!(first.stored_bytes > 0);

    db.put("other", b"k", &[0; 512]).unwrap();
    assert_eq!(db.table_stats("t").unwrap(), first, "another table's write");

    db.write_batch("t", &mut |w| {
        for i in 10u32..20 {
            w.put(&i.to_be_bytes(), &[i as u8; 64])?;
        }
        Ok(())
    })
    .unwrap();
    let second = db.table_stats("t").unwrap();
    assert_eq!(second.entries, 20);
    assert!(second.stored_bytes > first.stored_bytes);

    let mut txn = db.begin_write(None).unwrap();
    for i in 20u32..25 {
        txn.put("t", &i.to_be_bytes(), &[0; 64]).unwrap();
    }
    assert!(txn.delete("t", &0u32.to_be_bytes()).unwrap());
    assert_eq!(db.table_stats("t").unwrap(), second, "uncommitted writes");
    drop(txn);
    assert_eq!(db.table_stats("t").unwrap(), second, "rolled-back writes");

    db.write_batch("t", &mut |w| {
        for i in 0u32..15 {
            assert!(w.delete(&i.to_be_bytes())?);
        }
        Ok(())
    })
    .unwrap();
    let third = db.table_stats("t").unwrap();
    assert_eq!(third.entries, 5);
    assert!(third.stored_bytes > 0);
    assert!(third.stored_bytes < second.stored_bytes);

    let mut txn = db.begin_write(None).unwrap();
    txn.create_table("empty").unwrap();
    assert!(txn.drop_table("t").unwrap());
    txn.commit().unwrap();
    assert_eq!(db.table_stats("empty").unwrap().entries, 0);
    assert_eq!(db.table_stats("t").unwrap(), TableStats::default());
}

/// With no transaction open, `flush` succeeds, `compact` returns `Ok` (whether or not it had
/// anything to do), and neither changes the data or stops later writes; `size_on_disk`, when
/// known, is positive.
pub fn flush_and_compact_succeed_when_idle(f: &Fixture) {
    let db = &*f.db;
    db.write_batch("t", &mut |w| {
        for i in 0u32..200 {
            w.put(&i.to_be_bytes(), &[i as u8; 100])?;
        }
        Ok(())
    })
    .unwrap();
    db.write_batch("t", &mut |w| {
        for i in 50u32..200 {
            w.delete(&i.to_be_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    let expected = scan_all(db, "t");
    assert_eq!(expected.len(), 50);

    db.flush().unwrap();
    let _compacted: bool = db.compact().unwrap();
    assert_eq!(scan_all(db, "t"), expected);
    db.put("t", b"after", b"1").unwrap();
    db.flush().unwrap();
    assert_eq!(db.len("t").unwrap(), 51);
    if let Some(size) = db.size_on_disk().unwrap() {
        assert!(size > 0);
    }
}

/// A write transaction's `delete` reports whether the key existed at that point, seeing the
/// transaction's own earlier puts and deletes over the committed entries.
pub fn transaction_delete_reports_whether_key_existed(f: &Fixture) {
    let db = &*f.db;
    db.put("t", b"a", b"1").unwrap();
    let mut txn = db.begin_write(None).unwrap();
    assert!(txn.delete("t", b"a").unwrap(), "committed key");
    assert!(
        !txn.delete("t", b"a").unwrap(),
        "already deleted in this transaction"
    );
    txn.put("t", b"a", b"again").unwrap();
    assert!(
        txn.delete("t", b"a").unwrap(),
        "put back in this transaction"
    );
    txn.put("t", b"b", b"2").unwrap();
    txn.put("t", b"b", b"3").unwrap();
    assert!(txn.delete("t", b"b").unwrap(), "put in this transaction");
    assert!(!txn.delete("t", b"b").unwrap());
    assert!(!txn.delete("t", b"never").unwrap());
    assert!(!txn.delete("missing", b"a").unwrap(), "missing table");
    txn.put("t", b"c", b"4").unwrap();
    txn.commit().unwrap();
    assert_eq!(scan_all(db, "t"), rows(&[("c", "4")]));
}

/// Generates one `#[test]` per conformance check for an engine, in a module named `$name`.
/// `$make` is an expression returning a fresh [`Fixture`] on every call.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $make:expr) => {
        $crate::conformance_suite!(@checks $name, $make;
            missing_table_reads_as_empty,
            put_then_get_returns_latest_value,
            delete_reports_whether_key_existed,
            tables_are_independent,
            scan_visits_keys_in_byte_order,
            scan_stops_when_visitor_breaks,
            batch_applies_all_writes,
            failed_batch_applies_nothing,
            panicking_batch_applies_nothing,
            panicking_read_callbacks_leave_database_usable,
            callbacks_may_reenter_and_scan_sees_snapshot,
            typed_tables_round_trip_and_report_corruption,
            snapshot_ignores_later_commits,
            snapshot_sees_one_state_of_every_table,
            write_transaction_is_invisible_until_commit,
            dropped_write_transaction_leaves_nothing,
            write_transaction_reads_its_own_writes,
            panicking_write_transaction_applies_nothing,
            writers_are_serialized,
            range_bounds_match_ordered_model,
            empty_ranges_visit_nothing,
            list_tables_is_sorted_and_tracks_creates_and_drops,
            drop_table_takes_effect_on_commit_only,
            drop_then_create_table_in_one_transaction_starts_empty,
            write_transaction_reads_create_no_table,
            table_stats_count_committed_entries_and_bytes,
            flush_and_compact_succeed_when_idle,
            transaction_delete_reports_whether_key_existed,
        );
    };
    (@checks $name:ident, $make:expr; $($check:ident),+ $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $check() {
                    let make = $make;
                    $crate::testing::$check(&make());
                }
            )+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::MemoryDatabase;

    /// The memory engine's figures are exact: `stored_bytes` is the sum of key and value
    /// lengths (the engine-agnostic check only asks for positive, growing figures).
    #[test]
    fn memory_stats_count_key_and_value_bytes() {
        let db = MemoryDatabase::new();
        db.write_batch("t", &mut |w| {
            w.put(b"", b"")?;
            w.put(b"k", b"value")?;
            w.put(b"key", &[0; 100])
        })
        .unwrap();
        let expected = TableStats {
            entries: 3,
            stored_bytes: 1 + 5 + 3 + 100,
        };
        assert_eq!(db.table_stats("t").unwrap(), expected);
        db.put("t", b"k", b"v").unwrap();
        assert_eq!(db.table_stats("t").unwrap().stored_bytes, 1 + 1 + 3 + 100);
        assert!(db.delete("t", b"key").unwrap());
        assert_eq!(
            db.table_stats("t").unwrap(),
            TableStats {
                entries: 2,
                stored_bytes: 2
            }
        );
    }
}
