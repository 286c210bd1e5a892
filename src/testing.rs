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
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::database::{Database, KeyRange};
use crate::error::Error;
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
