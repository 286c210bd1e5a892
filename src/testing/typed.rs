//! Conformance checks: typed tables over the engine (through a [`Storage`]) — values round-trip
//! and damaged ones are reported, the catalog records what each table was created as and
//! refuses to reopen it as anything else, and the typed transaction API: one table scanned
//! while another is written, every write's in-transaction form, nested writes, panicking
//! closures, dropping tables.
//!
//! Typed transactions of these checks go through [`Storage::begin_write`] and an explicit
//! commit in [`Mode::Boxed`] and through [`Storage::write`] in [`Mode::Scoped`].

use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};

use super::support::{Record, names};
use super::{Fixture, Mode};
use crate::catalog::{TableOptions, TableRecord};
use crate::codec::key::KeyType;
use crate::codec::value::{RawSerializer, RkyvSerializer};
use crate::error::{EngineErrorKind, Error, Result};
use crate::storage::{RawTable, Storage};
use crate::txn::WriteTx;

/// A second rkyv type, for opening a table as the wrong value type.
#[derive(rkyv::Archive, rkyv::Serialize)]
struct Other {
    id: u64,
}

/// The payload of the panics these checks make on purpose. They are raised with
/// [`panic::resume_unwind`], which prints nothing.
struct Deliberate;

fn deliberate_panic() -> ! {
    panic::resume_unwind(Box::new(Deliberate))
}

/// Asserts that `outcome` is the deliberate panic, unchanged.
fn assert_deliberate<T>(outcome: std::thread::Result<T>, what: &str) {
    match outcome {
        Err(payload) if payload.is::<Deliberate>() => {}
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) => panic!("{what}: the panic did not propagate"),
    }
}

/// Runs `body` in a typed write transaction of this run's mode, committed if it returns `Ok`.
fn typed_write<R>(
    f: &Fixture,
    storage: &Storage,
    body: impl FnOnce(&WriteTx<'_>) -> Result<R>,
) -> Result<R> {
    match f.mode() {
        Mode::Boxed => {
            let tx = storage.begin_write()?;
            let out = body(&tx)?;
            tx.commit()?;
            Ok(out)
        }
        Mode::Scoped => storage.write(body),
    }
}

/// Asserts that `result` is a [`Error::TableTypeMismatch`] on `table` that reports `stored`
/// and `requested`.
fn assert_mismatch<T>(
    result: Result<T>,
    table: &str,
    stored: Option<&TableRecord>,
    requested: &TableRecord,
    what: &str,
) {
    match result {
        Err(Error::TableTypeMismatch {
            table: t,
            stored: s,
            requested: r,
        }) => {
            assert_eq!(t, table, "{what}: the table named");
            assert_eq!(s.as_deref(), stored, "{what}: the stored record reported");
            assert_eq!(*r, *requested, "{what}: the requested record reported");
        }
        Err(other) => panic!("{what}: expected TableTypeMismatch, got {other:?}"),
        Ok(_) => panic!("{what}: a table was opened as another type"),
    }
}

fn record(key: KeyType, format: &str, value_type: Option<&str>, version: u32) -> TableRecord {
    TableRecord {
        key,
        format: format.to_owned(),
        value_type: value_type.map(str::to_owned),
        version,
        stored: None,
    }
}

/// Every entry of a raw table, copied, in key order.
fn raw_entries<K: crate::IntoKeyBytes + crate::FromKeyBytes + Clone>(
    table: &RawTable<K>,
) -> Vec<(K, Vec<u8>)> {
    table
        .filter_map(|key, value| Some((key.clone(), value.to_vec())))
        .expect("scan")
}

type Events = RawTable<(String, u32)>;

fn event(name: &str, n: u32) -> (String, u32) {
    (name.to_owned(), n)
}

fn events(pairs: &[(&str, u32, &str)]) -> Vec<((String, u32), Vec<u8>)> {
    pairs
        .iter()
        .map(|(name, n, value)| (event(name, *n), value.as_bytes().to_vec()))
        .collect()
}

/// The state the in-transaction checks start from.
fn initial_events() -> Vec<((String, u32), Vec<u8>)> {
    events(&[("a", 1, "a1"), ("a", 2, "a2"), ("b", 1, "b1")])
}

/// The state after [`every_in_transaction_write`].
fn final_events() -> Vec<((String, u32), Vec<u8>)> {
    events(&[
        ("a", 2, "A2"),
        ("a", 3, "a3"),
        ("b", 1, "B1"),
        ("c", 1, "c1"),
        ("d", 1, "d1"),
        ("e", 1, "e1"),
    ])
}

fn bytes(text: &str) -> Option<Vec<u8>> {
    Some(text.as_bytes().to_vec())
}

/// Every typed write in its in-transaction form, each followed by in-transaction reads that
/// must see it, while auto-commit reads and `before` (a snapshot taken earlier) must not.
fn every_in_transaction_write(
    t: &Events,
    tx: &WriteTx<'_>,
    before: &crate::Snapshot,
) -> Result<()> {
    let get = |key: (String, u32)| t.get_in(tx, &key, |v| v.to_vec());
    let committed_unchanged = || {
        assert_eq!(
            raw_entries(t),
            initial_events(),
            "auto-commit reads see only commits"
        );
        let seen: Vec<_> = t
            .scan_in(before)
            .fold(Vec::new(), |mut acc, k, v| {
                acc.push((k.clone(), v.to_vec()));
                Ok(acc)
            })
            .expect("snapshot scan");
        assert_eq!(
            seen,
            initial_events(),
            "an earlier snapshot sees only its state"
        );
    };

    t.put_in(tx, &event("a", 3), b"a3")?;
    assert_eq!(get(event("a", 3))?, bytes("a3"), "get_in after put_in");
    assert!(
        t.contains_in(tx, &event("a", 3))?,
        "contains_in after put_in"
    );
    assert_eq!(t.len_in(tx)?, 4, "len_in after put_in");

    assert!(
        t.delete_in(tx, &event("a", 1))?,
        "delete_in of a present key"
    );
    assert!(
        !t.delete_in(tx, &event("a", 1))?,
        "delete_in sees its own delete"
    );
    assert_eq!(get(event("a", 1))?, None, "get_in after delete_in");
    assert!(
        !t.contains_in(tx, &event("a", 1))?,
        "contains_in after delete_in"
    );
    assert_eq!(t.len_in(tx)?, 3, "len_in after delete_in");

    t.put_batch_in(
        tx,
        [(event("c", 1), &b"c1"[..]), (event("c", 2), &b"c2"[..])],
    )?;
    assert_eq!(t.len_in(tx)?, 5, "len_in after put_batch_in");
    let many = t.get_many_in(
        tx,
        [event("c", 1), event("a", 1), event("c", 2), event("z", 0)],
        |v| v.map(<[u8]>::to_vec),
    )?;
    assert_eq!(
        many,
        [bytes("c1"), None, bytes("c2"), None],
        "get_many_in sees put_batch_in and delete_in"
    );
    committed_unchanged();

    let mut seen = Vec::new();
    let stored = t.update_in(tx, &event("b", 1), |old| {
        seen.push(old.map(<[u8]>::to_vec));
        Some(b"B1".to_vec())
    })?;
    assert!(stored, "update_in that stores");
    assert_eq!(seen, [bytes("b1")], "update_in saw the stored value");
    assert_eq!(get(event("b", 1))?, bytes("B1"), "get_in after update_in");
    let stored = t.update_in(tx, &event("c", 2), |old| {
        assert_eq!(old, Some(&b"c2"[..]), "update_in sees put_batch_in");
        None::<Vec<u8>>
    })?;
    assert!(!stored, "update_in that removes");
    assert!(
        !t.contains_in(tx, &event("c", 2))?,
        "contains_in after update_in removed"
    );

    let swapped = t.compare_and_swap_in(tx, &event("a", 2), Some(&b"a2"[..]), Some(&b"A2"[..]))?;
    assert!(swapped, "compare_and_swap_in with the current value");
    let swapped = t.compare_and_swap_in(tx, &event("a", 2), Some(&b"a2"[..]), Some(&b"xx"[..]))?;
    assert!(!swapped, "compare_and_swap_in sees its own swap");
    let swapped = t.compare_and_swap_in(tx, &event("d", 1), None, Some(&b"d1"[..]))?;
    assert!(swapped, "compare_and_swap_in of an absent key");
    assert_eq!(
        get(event("a", 2))?,
        bytes("A2"),
        "get_in after compare_and_swap_in"
    );
    assert_eq!(
        get(event("d", 1))?,
        bytes("d1"),
        "get_in after compare_and_swap_in"
    );

    let mut made = 0;
    let got = t.get_or_insert_in(
        tx,
        &event("d", 1),
        || {
            made += 1;
            b"zz".to_vec()
        },
        <[u8]>::to_vec,
    )?;
    assert_eq!(
        (got, made),
        (b"d1".to_vec(), 0),
        "get_or_insert_in of a present key"
    );
    let got = t.get_or_insert_in(
        tx,
        &event("e", 1),
        || {
            made += 1;
            b"e1".to_vec()
        },
        <[u8]>::to_vec,
    )?;
    assert_eq!(
        (got, made),
        (b"e1".to_vec(), 1),
        "get_or_insert_in of an absent key"
    );
    assert_eq!(
        get(event("e", 1))?,
        bytes("e1"),
        "get_in after get_or_insert_in"
    );

    let collect = |scanner: crate::Scanner<'_, (String, u32), [u8], RawSerializer>| {
        scanner.filter_map(|k, v| Some((k.clone(), v.to_vec())))
    };
    assert_eq!(
        collect(t.scan_in(tx))?,
        final_events(),
        "scan_in sees every write of the transaction"
    );
    assert_eq!(
        collect(t.range_in(tx, event("a", 3)..event("d", 1)))?,
        events(&[("a", 3, "a3"), ("b", 1, "B1"), ("c", 1, "c1")]),
        "range_in"
    );
    assert_eq!(
        collect(t.prefix_in(tx, &("a",)).rev())?,
        events(&[("a", 3, "a3"), ("a", 2, "A2")]),
        "prefix_in, reversed"
    );
    assert_eq!(t.len_in(tx)?, 6, "len_in at the end");
    committed_unchanged();
    Ok(())
}

super::checks! {
    /// Typed tables over this engine: rkyv, pre-archived rkyv and raw values round-trip, and a
    /// value of the wrong type is reported with the table and key, by a point read and by a
    /// scan.
    fn typed_tables_round_trip_and_report_corruption(f: &Fixture) {
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

        // Garbage under a key of the rkyv table, written through the raw engine: the typed
        // read must fail cleanly.
        f.put("records", &9u64.to_be_bytes(), b"\x01");
        match records.get(&9, |r| r.score) {
            Err(Error::CorruptValue { table, key, .. }) => {
                assert_eq!(table, "records");
                assert_eq!(key.0, 9u64.to_be_bytes());
            }
            other => panic!("expected CorruptValue, got {other:?}"),
        }
        let folded = records.scan_with(|s| s.fold(0, |n, _, _| Ok(n + 1)));
        assert!(matches!(folded, Err(Error::CorruptValue { .. })), "{folded:?}");
        // The valid entry still reads.
        assert_eq!(records.get(&1, |r| r.score.to_native()).unwrap(), Some(7));
    }

    /// The catalog records each typed table's key type, value format, value type and version
    /// (`table_record`, `tables` in name order, `list_tables`, `table_exists`), hides its own
    /// table, knows nothing of tables written only through the raw engine, and — on a
    /// persistent engine — keeps the records across a reopen.
    fn catalog_records_key_type_format_value_type_and_version(f: &Fixture) {
        let expected = vec![
            (
                "events".to_owned(),
                record(KeyType::Tuple(vec![KeyType::String, KeyType::U32]), "raw", None, 0),
            ),
            ("named".to_owned(), record(KeyType::String, "rkyv", Some("app.Named"), 0)),
            ("records".to_owned(), record(KeyType::U64, "rkyv", Some("Record"), 0)),
            ("versioned".to_owned(), record(KeyType::I64, "rkyv", Some("Record"), 3)),
        ];
        {
            let storage = f.storage();
            assert!(storage.tables().unwrap().is_empty(), "a fresh engine has no typed tables");
            assert_eq!(storage.table_record("records").unwrap(), None);
            assert!(!storage.table_exists("records").unwrap());

            storage.rkyv_table::<u64, Record>("records").unwrap();
            storage.raw_table::<(String, u32)>("events").unwrap();
            let options = TableOptions::default().version(3);
            storage
                .table_with::<i64, Record, _>("versioned", RkyvSerializer::new(), options)
                .unwrap();
            let options = TableOptions::default().type_name("app.Named");
            storage
                .table_with::<String, Other, _>("named", RkyvSerializer::new(), options)
                .unwrap();
            // Entries written through the raw engine only: no record.
            f.put("untyped", b"k", b"v");

            assert_eq!(storage.tables().unwrap(), expected);
            assert_eq!(
                storage.list_tables().unwrap(),
                names(&["events", "named", "records", "versioned"])
            );
            assert_eq!(
                storage.table_record("records").unwrap().map(|r| r.to_string()),
                Some("key=u64 format=rkyv type=Record version=0".to_owned())
            );
            assert_eq!(
                storage.table_record("events").unwrap().map(|r| r.to_string()),
                Some("key=(String, u32) format=raw version=0".to_owned())
            );
            assert!(storage.table_exists("versioned").unwrap());
            assert!(!storage.table_exists("untyped").unwrap(), "a raw-only table has no record");
            assert_eq!(storage.table_record("untyped").unwrap(), None);
            assert!(
                !storage.tables().unwrap().iter().any(|(name, _)| name == crate::CATALOG_TABLE),
                "the catalog lists itself"
            );
            // Opening again with the same types changes nothing.
            storage.rkyv_table::<u64, Record>("records").unwrap();
            assert_eq!(storage.tables().unwrap(), expected);
        }
        if f.claims().persistent {
            assert!(f.reopen(), "the harness claims a persistent engine but cannot reopen it");
            let storage = f.storage();
            assert_eq!(storage.tables().unwrap(), expected, "records after a reopen");
            storage.rkyv_table::<u64, Record>("records").unwrap();
            let options = TableOptions::default().version(3);
            storage
                .table_with::<i64, Record, _>("versioned", RkyvSerializer::new(), options)
                .unwrap();
        }
    }

    /// Reopening a table with another key type, value format, value type, type name or
    /// version fails with [`Error::TableTypeMismatch`] reporting both records, and leaves the
    /// table, its record and its handles working; a table holding entries without a record
    /// cannot be claimed by a typed open. An rkyv table and a pre-archived rkyv table of the
    /// same type store the same format, so they may open the same table.
    fn reopening_a_table_as_another_type_fails_and_leaves_it_readable(f: &Fixture) {
        let stored = record(KeyType::U64, "rkyv", Some("Record"), 0);
        let check_all_mismatches = |storage: &Storage| {
            assert_mismatch(
                storage.rkyv_table::<u32, Record>("records"),
                "records",
                Some(&stored),
                &record(KeyType::U32, "rkyv", Some("Record"), 0),
                "another key type",
            );
            assert_mismatch(
                storage.rkyv_table::<u64, Other>("records"),
                "records",
                Some(&stored),
                &record(KeyType::U64, "rkyv", Some("Other"), 0),
                "another value type",
            );
            assert_mismatch(
                storage.raw_table::<u64>("records"),
                "records",
                Some(&stored),
                &record(KeyType::U64, "raw", None, 0),
                "another format",
            );
            assert_mismatch(
                storage.table_with::<u64, Record, _>(
                    "records",
                    RkyvSerializer::new(),
                    TableOptions::default().version(1),
                ),
                "records",
                Some(&stored),
                &record(KeyType::U64, "rkyv", Some("Record"), 1),
                "another version",
            );
            assert_mismatch(
                storage.table_with::<u64, Record, _>(
                    "records",
                    RkyvSerializer::new(),
                    TableOptions::default().type_name("app.Record"),
                ),
                "records",
                Some(&stored),
                &record(KeyType::U64, "rkyv", Some("app.Record"), 0),
                "another type name",
            );
            assert_eq!(
                storage.table_record("records").unwrap(),
                Some(stored.clone()),
                "a refused open changed the record"
            );
        };
        let score = |storage: &Storage| {
            let records = storage.rkyv_table::<u64, Record>("records").unwrap();
            assert_eq!(records.len().unwrap(), 1);
            records.get(&1, |r| r.score.to_native()).unwrap()
        };
        {
            let storage = f.storage();
            let records = storage.rkyv_table::<u64, Record>("records").unwrap();
            records
                .put(&1, &Record { name: "ada".into(), score: 7 })
                .unwrap();
            check_all_mismatches(&storage);
            assert_eq!(records.get(&1, |r| r.score.to_native()).unwrap(), Some(7));
            assert_eq!(score(&storage), Some(7));

            // The same format and value type, pre-archived: the same table (by design).
            let archived = storage.rkyv_borrowed_table::<u64, Record>("records").unwrap();
            assert_eq!(archived.get(&1, |r| r.name.to_string()).unwrap(), Some("ada".into()));

            // Entries without a record: their type is unknown.
            f.put("untyped", &1u64.to_be_bytes(), b"v");
            assert_mismatch(
                storage.raw_table::<u64>("untyped"),
                "untyped",
                None,
                &record(KeyType::U64, "raw", None, 0),
                "a table written without a record",
            );
            assert_eq!(storage.table_record("untyped").unwrap(), None);
            assert_eq!(f.get("untyped", &1u64.to_be_bytes()).as_deref(), Some(&b"v"[..]));
        }
        if f.claims().persistent {
            assert!(f.reopen(), "the harness claims a persistent engine but cannot reopen it");
            let storage = f.storage();
            check_all_mismatches(&storage);
            assert_eq!(score(&storage), Some(7), "after a reopen");
        }
    }

    /// `scan_in` of one table and `put_in` into another run in the same transaction: the
    /// copy is complete, invisible to others until the commit, and atomic — a body that fails
    /// or panics half way leaves both tables unchanged.
    fn scanning_one_table_while_writing_another_copies_atomically(f: &Fixture) {
        let storage = f.storage();
        let a = storage.raw_table::<u64>("a").unwrap();
        let b = storage.raw_table::<u64>("b").unwrap();
        a.put_batch((0..50u64).map(|i| (i, i.to_le_bytes()))).unwrap();
        b.put(&1000, b"old").unwrap();
        let a_rows = raw_entries(&a);
        let b_rows = raw_entries(&b);

        // A body that fails half way.
        let failed = typed_write(f, &storage, |tx| {
            a.scan_in(tx).for_each(|k, v| {
                b.put_in(tx, k, v)?;
                if *k == 25 {
                    return Err(Error::callback("half way"));
                }
                Ok(())
            })
        });
        assert!(matches!(failed, Err(Error::Callback { .. })), "{failed:?}");
        assert_eq!(raw_entries(&a), a_rows, "a failed copy changed the source");
        assert_eq!(raw_entries(&b), b_rows, "a failed copy left part of its writes");

        // A body that panics half way.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            typed_write(f, &storage, |tx| {
                a.scan_in(tx).for_each(|k, v| {
                    b.put_in(tx, k, v)?;
                    if *k == 25 {
                        deliberate_panic();
                    }
                    Ok(())
                })
            })
        }));
        assert_deliberate(outcome, "a panicking copy");
        assert_eq!(raw_entries(&b), b_rows, "a panicking copy left part of its writes");

        // The copy, with an early stop in a second scan and a delete while scanning.
        let snapshot = storage.snapshot().unwrap();
        typed_write(f, &storage, |tx| {
            a.scan_in(tx).for_each(|k, v| b.put_in(tx, k, v))?;
            assert_eq!(b.len_in(tx)?, 51, "the copy reads its own writes");
            assert_eq!(b.len()?, 1, "an auto-commit read sees the copy before its commit: it must not");
            let mut visited = 0;
            a.range_in(tx, 40u64..).rev().try_for_each(|k, _| {
                visited += 1;
                b.delete_in(tx, k)?;
                Ok(if *k == 45 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
            })?;
            assert_eq!(visited, 5, "the scan stopped at its Break");
            Ok(())
        })
        .unwrap();
        assert_eq!(b.len_in(&snapshot).unwrap(), 1, "an earlier snapshot sees the copy");
        let mut want: Vec<(u64, Vec<u8>)> =
            a_rows.iter().filter(|(k, _)| !(45..50).contains(k)).cloned().collect();
        want.push((1000, b"old".to_vec()));
        assert_eq!(raw_entries(&b), want);
        assert_eq!(raw_entries(&a), a_rows, "the copy changed its source");
        // The call of the API notes, verbatim.
        storage
            .write(|tx| a.scan_in(tx).for_each(|k, v| b.put_in(tx, k, v)))
            .unwrap();
        assert_eq!(b.len().unwrap(), 51);
    }

    /// Writing or deleting in the table a running scan of the same transaction walks fails
    /// with [`InUse`](EngineErrorKind::InUse) — never a panic — and the transaction that
    /// returns that error applies nothing.
    fn writing_the_table_a_scan_walks_fails_with_in_use(f: &Fixture) {
        let storage = f.storage();
        let a = storage.raw_table::<u64>("a").unwrap();
        let b = storage.raw_table::<u64>("b").unwrap();
        a.put_batch((0..5u64).map(|i| (i, [i as u8]))).unwrap();
        let a_rows = raw_entries(&a);
        type Write = fn(&RawTable<u64>, &WriteTx<'_>, u64) -> Result<()>;
        let writes: [(&str, Write); 3] = [
            ("put_in", |t, tx, k| t.put_in(tx, &(k + 100), b"x")),
            ("delete_in", |t, tx, k| t.delete_in(tx, &k).map(drop)),
            ("update_in", |t, tx, k| t.update_in(tx, &k, |_| Some(*b"y")).map(drop)),
        ];
        for (what, write) in writes {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                typed_write(f, &storage, |tx| {
                    b.put_in(tx, &1, b"other table")?;
                    a.scan_in(tx).for_each(|k, _| write(&a, tx, *k))
                })
            }));
            let result = outcome
                .unwrap_or_else(|_| panic!("{what} on the scanned table panicked"));
            match result {
                Err(error) => assert_eq!(
                    error.engine_kind(),
                    Some(EngineErrorKind::InUse),
                    "{what} on the table being scanned: {error:?}"
                ),
                Ok(()) => panic!("{what} on the table being scanned succeeded"),
            }
            assert_eq!(raw_entries(&a), a_rows, "{what}: the failed transaction wrote");
            assert_eq!(b.len().unwrap(), 0, "{what}: the failed transaction wrote");
        }
    }

    /// Every typed write has an in-transaction form (`put_in`, `delete_in`, `put_batch_in`,
    /// `update_in`, `compare_and_swap_in`, `get_or_insert_in`) whose effect the transaction's
    /// reads (`get_in`, `contains_in`, `len_in`, `get_many_in`, `scan_in`, `range_in`,
    /// `prefix_in`) see at once, auto-commit reads and earlier snapshots do not, and which is
    /// rolled back with its transaction (an error, `rollback`, a drop, a panic) or committed
    /// with it.
    fn in_transaction_writes_are_read_back_and_roll_back_with_it(f: &Fixture) {
        let storage = f.storage();
        let t: Events = storage.raw_table("events").unwrap();
        t.put_batch(initial_events()).unwrap();
        let before = storage.snapshot().unwrap();

        let failed = typed_write(f, &storage, |tx| {
            every_in_transaction_write(&t, tx, &before)?;
            Err::<(), _>(Error::callback("roll back"))
        });
        assert!(matches!(failed, Err(Error::Callback { .. })), "{failed:?}");
        assert_eq!(raw_entries(&t), initial_events(), "after a failed transaction");

        let tx = storage.begin_write().unwrap();
        every_in_transaction_write(&t, &tx, &before).unwrap();
        tx.rollback();
        assert_eq!(raw_entries(&t), initial_events(), "after rollback");

        let tx = storage.begin_write().unwrap();
        every_in_transaction_write(&t, &tx, &before).unwrap();
        drop(tx);
        assert_eq!(raw_entries(&t), initial_events(), "after dropping the transaction");

        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            typed_write(f, &storage, |tx| -> Result<()> {
                every_in_transaction_write(&t, tx, &before)?;
                deliberate_panic()
            })
        }));
        assert_deliberate(outcome, "a panicking transaction");
        assert_eq!(raw_entries(&t), initial_events(), "after a panicking transaction");

        typed_write(f, &storage, |tx| every_in_transaction_write(&t, tx, &before)).unwrap();
        assert_eq!(raw_entries(&t), final_events(), "after the commit");
        let seen = t.scan_in(&before).filter_map(|k, v| Some((k.clone(), v.to_vec()))).unwrap();
        assert_eq!(seen, initial_events(), "an earlier snapshot after the commit");
    }

    /// An auto-commit write (any of them), `Storage::write`, `begin_write`, `drop_table` or
    /// opening a new table inside a write transaction on the same thread fails with
    /// [`NestedWrite`](EngineErrorKind::NestedWrite) and writes nothing; the outer transaction
    /// goes on and commits its own writes. Auto-commit reads inside it see the committed state.
    fn nested_auto_commit_write_fails_and_the_transaction_still_commits(f: &Fixture) {
        let storage = f.storage();
        let t = storage.raw_table::<u64>("t").unwrap();
        let other = storage.raw_table::<u64>("other").unwrap();
        t.put(&7, b"seven").unwrap();
        typed_write(f, &storage, |tx| {
            t.put_in(tx, &1, b"in")?;
            let nested = |what: &str, result: Result<()>| match result {
                Err(error) => assert_eq!(
                    error.engine_kind(),
                    Some(EngineErrorKind::NestedWrite),
                    "{what} inside a write transaction: {error:?}"
                ),
                Ok(()) => panic!("{what} inside a write transaction succeeded"),
            };
            nested("put", t.put(&2, b"auto"));
            nested("put on another table", other.put(&2, b"auto"));
            nested("delete", t.delete(&7).map(drop));
            nested("put_batch", t.put_batch([(3u64, *b"batch")]));
            nested("update", t.update(&7, |_| Some(*b"upd")).map(drop));
            nested("compare_and_swap", t.compare_and_swap(&7, Some(&b"seven"[..]), None).map(drop));
            nested("get_or_insert", t.get_or_insert(&4, || *b"goi", |_| ()));
            nested("Storage::write", storage.write(|inner| t.put_in(inner, &5, b"w")));
            nested("Storage::begin_write", storage.begin_write().map(drop));
            nested("Storage::drop_table", storage.drop_table("other").map(drop));
            nested("opening a new table", storage.raw_table::<u64>("fresh").map(drop));
            // Reads go on, seeing the committed state only.
            assert_eq!(t.get(&7, <[u8]>::to_vec)?, Some(b"seven".to_vec()));
            assert_eq!(t.get(&1, <[u8]>::to_vec)?, None);
            assert_eq!(t.get_in(tx, &1, <[u8]>::to_vec)?, Some(b"in".to_vec()));
            t.put_in(tx, &6, b"after")?;
            Ok(())
        })
        .expect("the outer transaction commits after refused nested writes");
        assert_eq!(
            raw_entries(&t),
            vec![(1, b"in".to_vec()), (6, b"after".to_vec()), (7, b"seven".to_vec())]
        );
        assert_eq!(other.len().unwrap(), 0);
        assert!(!storage.table_exists("fresh").unwrap());
        // And everything works afterwards.
        t.put(&2, b"auto").unwrap();
        assert_eq!(t.len().unwrap(), 4);
    }

    /// A closure that panics inside `update` (present or absent key) or `update_in` leaves
    /// the table unchanged, and the panic reaches the caller unchanged; the table keeps
    /// working.
    fn panicking_update_closure_leaves_the_value_unchanged(f: &Fixture) {
        let storage = f.storage();
        let t = storage.rkyv_table::<u64, Record>("t").unwrap();
        let ada = Record { name: "ada".into(), score: 7 };
        t.put(&1, &ada).unwrap();
        let read = |key: u64| {
            t.get(&key, |r| Record { name: r.name.to_string(), score: r.score.to_native() })
                .unwrap()
        };

        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            t.update(&1, |_| -> Option<Record> { deliberate_panic() })
        }));
        assert_deliberate(outcome, "update of a present key");
        assert_eq!(read(1), Some(ada.clone()));

        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            t.update(&2, |_| -> Option<Record> { deliberate_panic() })
        }));
        assert_deliberate(outcome, "update of an absent key");
        assert_eq!(read(2), None);

        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            typed_write(f, &storage, |tx| {
                t.put_in(tx, &3, &ada)?;
                t.update_in(tx, &1, |_| -> Option<Record> { deliberate_panic() })
            })
        }));
        assert_deliberate(outcome, "update_in");
        assert_eq!(read(1), Some(ada.clone()));
        assert_eq!(read(3), None, "the panicking transaction's other write");
        assert_eq!(t.len().unwrap(), 1);

        let renamed = Record { name: "grace".into(), score: 8 };
        assert!(t.update(&1, |_| Some(renamed.clone())).unwrap());
        assert_eq!(read(1), Some(renamed));
    }

    /// `Storage::drop_table` removes the table's entries and its catalog record atomically and
    /// reports whether it existed; handles opened before see an empty table; the name can then
    /// be opened as another type. A handle written after the drop leaves entries without a
    /// record, which a typed open refuses. On a persistent engine the drop survives a reopen.
    fn drop_table_removes_rows_and_record(f: &Fixture) {
        {
            let storage = f.storage();
            let t = storage.rkyv_table::<u64, Record>("t").unwrap();
            let keep = storage.raw_table::<u64>("keep").unwrap();
            for i in 0..10u64 {
                t.put(&i, &Record { name: format!("r{i}"), score: i as u32 }).unwrap();
            }
            keep.put(&1, b"kept").unwrap();

            assert!(storage.drop_table("t").unwrap(), "dropping an existing table");
            assert!(!storage.table_exists("t").unwrap());
            assert_eq!(storage.table_record("t").unwrap(), None);
            assert_eq!(storage.list_tables().unwrap(), names(&["keep"]));
            assert_eq!(t.len().unwrap(), 0, "a handle opened before sees an empty table");
            assert_eq!(t.get(&1, |r| r.score.to_native()).unwrap(), None);
            assert_eq!(f.len("t"), 0, "the engine still holds entries of a dropped table");
            if f.claims().table_admin {
                let listed = f.read(|reader| reader.list_tables().expect("list_tables"));
                assert!(!listed.iter().any(|name| name == "t"), "{listed:?}");
            }
            assert_eq!(keep.len().unwrap(), 1, "dropping a table touched another");
            assert!(!storage.drop_table("t").unwrap(), "dropping a missing table");

            // The name is free: another type may take it, and dropping it again works.
            let raw = storage.raw_table::<String>("t").unwrap();
            raw.put("k", b"v").unwrap();
            assert_eq!(
                storage.table_record("t").unwrap(),
                Some(record(KeyType::String, "raw", None, 0))
            );
            assert!(storage.drop_table("t").unwrap());

            // A handle used after the drop writes entries without a record.
            t.put(&1, &Record { name: "stray".into(), score: 1 }).unwrap();
            assert_eq!(storage.table_record("t").unwrap(), None);
            assert_mismatch(
                storage.raw_table::<String>("t"),
                "t",
                None,
                &record(KeyType::String, "raw", None, 0),
                "a table written through a handle after its drop",
            );
            assert!(storage.drop_table("t").unwrap(), "dropping a table without a record");
            assert_eq!(f.len("t"), 0);
            storage.rkyv_table::<u64, Record>("t").unwrap().put(&5, &Record {
                name: "again".into(),
                score: 5,
            })
            .unwrap();
            assert!(storage.drop_table("t").unwrap());
        }
        if f.claims().persistent {
            assert!(f.reopen(), "the harness claims a persistent engine but cannot reopen it");
            let storage = f.storage();
            assert_eq!(storage.list_tables().unwrap(), names(&["keep"]), "after a reopen");
            assert_eq!(f.len("t"), 0, "a dropped table's entries came back after a reopen");
            assert_eq!(storage.raw_table::<u64>("keep").unwrap().len().unwrap(), 1);
        }
    }
}
