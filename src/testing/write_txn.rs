//! Conformance checks: write transactions — atomicity, read-your-writes, rollback (dropped,
//! panicking, failed), serialized writers, nested writes, and scans that write in the same
//! transaction (other tables: allowed; the scanned table: `InUse`).

use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use super::support::{
    Entry, Model, PATIENCE, Rng, all, assert_kind, assert_unsupported, borrow_bound, collect,
    edge_keys, get_copy, model_all, model_range, names, on_thread_within, random_bound, rows,
    value_for,
};
use super::{Fixture, Mode};
use crate::engine::{KeyRange, WriteOptions, WriteTxn};
use crate::error::{EngineErrorKind, Error, Operation, Result};

/// Runs `body` in a write transaction through the fixture's mode and ends it without
/// committing: a boxed transaction is dropped, a scoped one's body fails afterwards (and that
/// error must come back unchanged).
fn abandon(f: &Fixture, body: impl FnOnce(&dyn WriteTxn) -> Result<()>) {
    match f.mode() {
        Mode::Boxed => {
            let txn = f.begin_write();
            body(&*txn).expect("the abandoned transaction's body");
            drop(txn);
        }
        Mode::Scoped => {
            let result = f.try_write(|txn| {
                body(txn)?;
                Err(Error::callback(std::io::Error::other("abandon")))
            });
            let unchanged = matches!(
                &result,
                Err(Error::Callback { source }) if source.to_string() == "abandon"
            );
            assert!(
                unchanged,
                "the body's error must come back unchanged: {result:?}"
            );
        }
    }
}

/// `list_tables` through a fresh read when table administration is claimed; otherwise checks
/// that it answers `Unsupported` and returns `None`.
fn listed_tables(f: &Fixture) -> Option<Vec<String>> {
    if f.claims().table_admin {
        Some(f.read(|reader| reader.list_tables().expect("list_tables")))
    } else {
        f.read(|reader| assert_unsupported(reader.list_tables(), "list_tables"));
        None
    }
}

/// Compares what a write transaction reads (point gets of every key, `len`, whole-table ranges
/// both ways and random bounded ranges with and without early stop) with the model.
fn assert_txn_matches(
    txn: &dyn WriteTxn,
    table: &str,
    model: &Model,
    keys: &[Vec<u8>],
    rng: &mut Rng,
) {
    for key in keys {
        assert_eq!(
            get_copy(txn, table, key),
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
            collect(None, |visit| txn.range(table, &all, visit)),
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

/// What a second writer saw: whether the first one had let go when it began, and the value of
/// the key it read.
type SecondWriter = (bool, Option<Vec<u8>>);

/// Starts a writer on another thread (through `mode`) that records, as soon as it has its
/// transaction, whether `released` was set and sets `acquired`; it then reads `t/k`, writes
/// `value` there and commits. Returns when its thread has started, with the receiver of what it
/// saw.
fn spawn_second_writer(
    f: &Fixture,
    released: &Arc<AtomicBool>,
    acquired: &Arc<AtomicBool>,
    value: &'static [u8],
) -> mpsc::Receiver<SecondWriter> {
    let (started_tx, started) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    let (engine, mode) = (f.engine(), f.mode());
    let (released, acquired) = (Arc::clone(released), Arc::clone(acquired));
    thread::spawn(move || {
        started_tx.send(()).unwrap();
        let mut outcome = None;
        mode.write(&*engine, WriteOptions::DEFAULT, |second| {
            let first_had_let_go = released.load(Ordering::SeqCst);
            acquired.store(true, Ordering::SeqCst);
            let seen = get_copy(second, "t", b"k");
            second.put("t", b"k", value)?;
            outcome = Some((first_had_let_go, seen));
            Ok(())
        })
        .unwrap();
        let _ = done_tx.send(outcome.expect("the second writer's body ran"));
    });
    started
        .recv_timeout(PATIENCE)
        .expect("the second writer's thread started");
    done
}

fn second_writer_outcome(done: &mpsc::Receiver<SecondWriter>, after: &str) -> SecondWriter {
    match done.recv_timeout(PATIENCE) {
        Ok(outcome) => outcome,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the second writer never began after the first {after}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the second writer panicked"),
    }
}

/// Puts `filler0..fillers` in `txn`, so that the checks run both with few tables open in the
/// transaction and with more than an engine may keep open at once.
fn touch_fillers(txn: &dyn WriteTxn, fillers: usize) -> Result<()> {
    for i in 0..fillers {
        txn.put(&format!("filler{i}"), b"k", b"v")?;
    }
    Ok(())
}

/// How many other tables the scan checks touch first: none, and more than the handles an
/// engine is likely to keep open per transaction.
const FILLERS: [usize; 2] = [0, 20];

/// `n` entries `[i] → [i, i]`.
fn numbered(n: u8) -> Vec<Entry> {
    (0..n).map(|i| (vec![i], vec![i, i])).collect()
}

super::checks! {
    /// A write transaction's puts, deletes and new tables are invisible to fresh reads, to
    /// snapshots begun before or during it and to `list_tables` until it commits; afterwards
    /// they are visible to everything but the older snapshots. (Without table administration,
    /// `create_table` and `list_tables` must answer `Unsupported`.)
    fn write_transaction_is_invisible_until_commit(f: &Fixture) {
        f.put("t", b"a", b"1");
        f.put("t", b"b", b"2");
        let committed = rows(&[("a", "1"), ("b", "2")]);
        let admin = f.claims().table_admin;
        let before = f.begin_read();
        let mut during = None;
        f.write(|txn| {
            txn.put("t", b"a", b"changed")?;
            txn.put("t", b"c", b"3")?;
            assert!(txn.delete("t", b"b")?);
            txn.put("other", b"o", b"new table")?;
            if admin {
                txn.create_table("created")?;
            } else {
                assert_unsupported(txn.create_table("created"), "create_table");
            }

            let snapshot = f.begin_read();
            for snapshot in [&*before, &*snapshot] {
                assert_eq!(all(snapshot, "t"), committed);
                assert_eq!(get_copy(snapshot, "t", b"c"), None);
                assert_eq!(snapshot.len("t").unwrap(), 2);
                assert_eq!(get_copy(snapshot, "other", b"o"), None);
            }
            during = Some(snapshot);
            assert_eq!(f.scan_all("t"), committed);
            let reverse = KeyRange {
                reverse: true,
                ..KeyRange::ALL
            };
            assert_eq!(f.range("t", &reverse), rows(&[("b", "2"), ("a", "1")]));
            assert_eq!(f.get("t", b"a"), Some(b"1".to_vec()));
            assert_eq!(f.get("t", b"c"), None);
            assert_eq!(f.len("t"), 2);
            assert_eq!(f.get("other", b"o"), None);
            assert_eq!(f.len("other"), 0);
            if let Some(tables) = listed_tables(f) {
                assert_eq!(tables, names(&["t"]));
            }
            Ok(())
        });
        let during = during.expect("the body ran");

        let after = rows(&[("a", "changed"), ("c", "3")]);
        assert_eq!(f.scan_all("t"), after);
        assert_eq!(f.get("t", b"b"), None);
        assert_eq!(f.len("t"), 2);
        assert_eq!(f.get("other", b"o"), Some(b"new table".to_vec()));
        assert_eq!(all(&*f.begin_read(), "t"), after);
        if let Some(tables) = listed_tables(f) {
            assert_eq!(tables, names(&["created", "other", "t"]));
        }
        for snapshot in [&*before, &*during] {
            assert_eq!(all(snapshot, "t"), committed);
            assert_eq!(get_copy(snapshot, "other", b"o"), None);
        }
    }

    /// A write transaction ended without commit (a boxed one dropped, a scoped one whose body
    /// fails) leaves no trace (puts, deletes, created and dropped tables), and releases the
    /// writer slot: the next writer, on another thread, begins and commits.
    fn dropped_write_transaction_leaves_nothing(f: &Fixture) {
        f.put("t", b"a", b"1");
        f.put("victim", b"v", b"1");
        let tables = listed_tables(f);
        let admin = f.claims().table_admin;

        abandon(f, |txn| {
            txn.put("t", b"a", b"changed")?;
            txn.put("t", b"b", b"2")?;
            txn.put("new", b"n", b"1")?;
            if admin {
                txn.create_table("created")?;
                assert!(txn.drop_table("victim")?);
            } else {
                assert_unsupported(txn.create_table("created"), "create_table");
                assert_unsupported(txn.drop_table("victim"), "drop_table");
            }
            assert_eq!(get_copy(txn, "t", b"b"), Some(b"2".to_vec()));
            Ok(())
        });

        assert_eq!(f.scan_all("t"), rows(&[("a", "1")]));
        assert_eq!(f.scan_all("victim"), rows(&[("v", "1")]));
        assert_eq!(f.len("new"), 0);
        assert_eq!(listed_tables(f), tables);

        abandon(f, |txn| {
            assert!(txn.delete("t", b"a")?);
            Ok(())
        });
        assert_eq!(f.get("t", b"a"), Some(b"1".to_vec()));

        let (next, mode) = (f.engine(), f.mode());
        on_thread_within("a write transaction after a rolled-back one", move || {
            mode.write(&*next, WriteOptions::DEFAULT, |txn| txn.put("t", b"after", b"3")).unwrap();
        });
        assert_eq!(f.scan_all("t"), rows(&[("a", "1"), ("after", "3")]));
    }

    /// Inside a write transaction, `get`, `len` and `range` (both directions, any bounds,
    /// stopping early) see the transaction's puts, overwrites and deletes laid over the
    /// committed entries, exactly as an ordered map would; other tables keep their committed
    /// entries; each `delete` reports whether the key existed at that point. Nobody else sees
    /// any of it until commit.
    fn write_transaction_reads_its_own_writes(f: &Fixture) {
        let mut rng = Rng(0x5EED_0001);
        let keys = edge_keys();
        let mut model: Model = keys
            .iter()
            .filter(|_| rng.chance(50))
            .map(|key| (key.clone(), value_for(key, 0)))
            .collect();
        f.write(|txn| {
            for (key, value) in &model {
                txn.put("t", key, value)?;
            }
            Ok(())
        });
        f.put("other", b"a", b"untouched");
        let committed = model.clone();

        f.write(|txn| {
            assert_txn_matches(txn, "t", &model, &keys, &mut rng);
            for round in 1..=4u8 {
                for _ in 0..25 {
                    let key = rng.pick(&keys).clone();
                    if rng.chance(40) {
                        let existed = model.remove(&key).is_some();
                        assert_eq!(
                            txn.delete("t", &key)?,
                            existed,
                            "delete of {key:?} must report whether it existed"
                        );
                    } else {
                        let value = value_for(&key, round);
                        txn.put("t", &key, &value)?;
                        model.insert(key, value);
                    }
                }
                assert_txn_matches(txn, "t", &model, &keys, &mut rng);
                assert_eq!(get_copy(txn, "other", b"a"), Some(b"untouched".to_vec()));
                assert_eq!(f.scan_all("t"), model_all(&committed), "leaked before commit");
            }
            Ok(())
        });
        assert_eq!(f.scan_all("t"), model_all(&model));
        assert_eq!(f.len("t"), model.len() as u64);
        assert_eq!(f.scan_all("other"), rows(&[("a", "untouched")]));
    }

    /// A panic inside a write transaction's body (the transaction created inside the unwinding
    /// code) applies nothing, and the writer slot is released: another writer begins and
    /// commits, on another thread and on this one.
    fn panicking_write_transaction_applies_nothing(f: &Fixture) {
        f.put("t", b"keep", b"1");
        let tables = listed_tables(f);
        let admin = f.claims().table_admin;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // Boxed: `begin_write` runs here, inside the unwinding code; scoped: `Engine::write`.
            f.try_write(|txn| {
                txn.put("t", b"new", b"2")?;
                assert!(txn.delete("t", b"keep")?);
                txn.put("other", b"o", b"3")?;
                if admin {
                    txn.create_table("created")?;
                } else {
                    assert_unsupported(txn.create_table("created"), "create_table");
                }
                panic!("boom inside a write transaction");
            })
        }));
        assert!(outcome.is_err(), "the panic must propagate");
        assert_eq!(f.scan_all("t"), rows(&[("keep", "1")]));
        assert_eq!(f.len("other"), 0);
        assert_eq!(listed_tables(f), tables);

        let (next, mode) = (f.engine(), f.mode());
        on_thread_within("a write transaction after a panicking one", move || {
            mode.write(&*next, WriteOptions::DEFAULT, |txn| txn.put("t", b"after", b"4")).unwrap();
        });
        // And on this thread too.
        f.put("t", b"last", b"5");
        assert_eq!(f.scan_all("t"), rows(&[("after", "4"), ("keep", "1"), ("last", "5")]));
    }

    /// Writers are serialized: while one write transaction is open, another thread's
    /// `begin_write` waits (readers do not), gets its transaction only after the first one
    /// commits, and then sees what it committed. A writer waiting on a transaction that is
    /// rolled back instead proceeds too, and sees none of its writes.
    fn writers_are_serialized(f: &Fixture) {
        f.put("t", b"k", b"0");
        let committing = Arc::new(AtomicBool::new(false));
        let acquired = Arc::new(AtomicBool::new(false));
        let mut done = None;
        f.write(|first| {
            first.put("t", b"k", b"first")?;
            done = Some(spawn_second_writer(f, &committing, &acquired, b"second"));
            thread::sleep(Duration::from_millis(50));
            assert!(
                !acquired.load(Ordering::SeqCst),
                "a second write transaction began while the first was open"
            );
            // Readers are not held up by the waiting writer, and the first writer keeps working.
            assert_eq!(f.get("t", b"k"), Some(b"0".to_vec()));
            first.put("t", b"k2", b"first")?;
            committing.store(true, Ordering::SeqCst);
            Ok(())
        });
        let (first_was_committing, seen) =
            second_writer_outcome(&done.expect("the first body ran"), "committed");
        assert!(first_was_committing, "the second writer began before the first committed");
        assert_eq!(
            seen,
            Some(b"first".to_vec()),
            "the second writer must see the first one's commit"
        );
        assert_eq!(f.get("t", b"k"), Some(b"second".to_vec()));
        assert_eq!(f.get("t", b"k2"), Some(b"first".to_vec()));

        // A waiting writer also proceeds when the open one is rolled back.
        let rolling_back = Arc::new(AtomicBool::new(false));
        let acquired = Arc::new(AtomicBool::new(false));
        let mut done = None;
        abandon(f, |first| {
            first.put("t", b"k", b"rolled back")?;
            done = Some(spawn_second_writer(f, &rolling_back, &acquired, b"third"));
            thread::sleep(Duration::from_millis(50));
            assert!(
                !acquired.load(Ordering::SeqCst),
                "a second write transaction began while the first was open"
            );
            rolling_back.store(true, Ordering::SeqCst);
            Ok(())
        });
        let (first_had_ended, seen) =
            second_writer_outcome(&done.expect("the first body ran"), "was rolled back");
        assert!(first_had_ended, "the second writer began before the first was rolled back");
        assert_eq!(
            seen,
            Some(b"second".to_vec()),
            "the second writer must not see the rolled-back writes"
        );
        assert_eq!(f.get("t", b"k"), Some(b"third".to_vec()));
    }

    /// A write transaction's `delete` reports whether the key existed at that point, seeing the
    /// transaction's own earlier puts and deletes over the committed entries.
    fn transaction_delete_reports_whether_key_existed(f: &Fixture) {
        f.put("t", b"a", b"1");
        f.write(|txn| {
            assert!(txn.delete("t", b"a")?, "committed key");
            assert!(!txn.delete("t", b"a")?, "already deleted in this transaction");
            txn.put("t", b"a", b"again")?;
            assert!(txn.delete("t", b"a")?, "put back in this transaction");
            txn.put("t", b"b", b"2")?;
            txn.put("t", b"b", b"3")?;
            assert!(txn.delete("t", b"b")?, "put in this transaction");
            assert!(!txn.delete("t", b"b")?);
            assert!(!txn.delete("t", b"never")?);
            assert!(!txn.delete("missing", b"a")?, "missing table");
            txn.put("t", b"c", b"4")
        });
        assert_eq!(f.scan_all("t"), rows(&[("c", "4")]));
    }

    /// Within one write transaction, a range over one table may write another table from its
    /// callback (put and delete, in either direction, however many tables the transaction has
    /// touched): every entry is visited once, the writes are visible in the transaction at once
    /// and after the scan, the scanned table is unchanged, and after commit everyone sees them.
    fn scan_may_write_another_table(f: &Fixture) {
        for (fillers, reverse) in [(FILLERS[0], false), (FILLERS[1], true)] {
            let (source, target) = (format!("source{fillers}"), format!("target{fillers}"));
            let entries = numbered(20);
            f.write(|txn| {
                for (key, value) in &entries {
                    txn.put(&source, key, value)?;
                }
                txn.put(&target, b"stale", b"old")?;
                txn.put(&target, &[5], b"old")
            });
            let before = f.scan_all(&target);
            let copied = |value: &[u8]| [value, b"!"].concat();
            let expected: Vec<Entry> =
                entries.iter().map(|(k, v)| (k.clone(), copied(v))).collect();

            f.write(|txn| {
                touch_fillers(txn, fillers)?;
                let mut visited = Vec::new();
                let range = KeyRange { reverse, ..KeyRange::ALL };
                txn.range(&source, &range, &mut |key, value| {
                    visited.push(key.to_vec());
                    txn.put(&target, key, &copied(value))?;
                    assert_eq!(
                        get_copy(txn, &target, key),
                        Some(copied(value)),
                        "a write from a scan's callback is visible in its transaction at once"
                    );
                    if visited.len() == 1 {
                        assert!(txn.delete(&target, b"stale")?, "a delete from a scan's callback");
                    }
                    Ok(ControlFlow::Continue(()))
                })?;
                let mut order: Vec<Vec<u8>> = entries.iter().map(|(k, _)| k.clone()).collect();
                if reverse {
                    order.reverse();
                }
                assert_eq!(visited, order, "writing another table disturbed the scan");
                assert_eq!(all(txn, &target), expected);
                assert_eq!(txn.len(&target)?, 20);
                assert_eq!(all(txn, &source), entries, "the scanned table changed");
                assert_eq!(f.scan_all(&target), before, "leaked before commit");
                Ok(())
            });
            assert_eq!(f.scan_all(&target), expected, "after commit ({fillers} other tables)");
            assert_eq!(f.scan_all(&source), entries);
        }
    }

    /// Writing the table a running range of the same transaction walks — put (of a visited or a
    /// new key), delete of an existing key, delete_range, drop_table (with table
    /// administration) — fails with `InUse`, never a panic; the scan goes on undisturbed, the
    /// transaction stays usable (other tables can be written, this one read), nothing refused
    /// lands, and once the scan ends the table can be written and dropped again.
    fn writing_the_scanned_table_is_in_use(f: &Fixture) {
        let admin = f.claims().table_admin;
        for fillers in FILLERS {
            let table = format!("scanned{fillers}");
            let entries = numbered(5);
            f.write(|txn| {
                for (key, value) in &entries {
                    txn.put(&table, key, value)?;
                }
                Ok(())
            });
            f.write(|txn| {
                touch_fillers(txn, fillers)?;
                let mut visited = 0;
                txn.range(&table, &KeyRange::ALL, &mut |key, value| {
                    visited += 1;
                    let in_use = |result: Result<()>, op: &str| {
                        let what = format!("{op} of the scanned table ({fillers} other tables)");
                        assert_kind(result, EngineErrorKind::InUse, &what);
                    };
                    in_use(txn.put(&table, key, b"changed"), "put");
                    in_use(txn.put(&table, b"new", b"x"), "put of a new key");
                    in_use(txn.delete(&table, key).map(|_| ()), "delete");
                    in_use(txn.delete_range(&table, &KeyRange::ALL).map(|_| ()), "delete_range");
                    if admin {
                        in_use(txn.drop_table(&table).map(|_| ()), "drop_table");
                    }
                    // The transaction stays usable.
                    txn.put("elsewhere", key, value)?;
                    assert_eq!(get_copy(txn, &table, key).as_deref(), Some(value));
                    Ok(ControlFlow::Continue(()))
                })?;
                assert_eq!(visited, 5, "the refused writes disturbed the scan");
                assert_eq!(all(txn, &table), entries, "a refused write landed");
                // The scan is over: the table can be written again.
                txn.put(&table, b"new", b"x")?;
                assert!(txn.delete(&table, &[0])?);
                let one_to_two = KeyRange {
                    start: std::ops::Bound::Included(&[1]),
                    end: std::ops::Bound::Included(&[2]),
                    reverse: false,
                };
                assert_eq!(txn.delete_range(&table, &one_to_two)?, 2);
                Ok(())
            });
            let mut expected = entries[3..].to_vec();
            expected.push((b"new".to_vec(), b"x".to_vec()));
            assert_eq!(f.scan_all(&table), expected);
            assert_eq!(f.scan_all("elsewhere"), entries);

            if admin {
                f.write(|txn| {
                    touch_fillers(txn, fillers)?;
                    txn.range(&table, &KeyRange::ALL, &mut |_, _| {
                        assert_kind(txn.drop_table(&table), EngineErrorKind::InUse, "drop_table");
                        Ok(ControlFlow::Break(()))
                    })?;
                    assert!(txn.drop_table(&table)?, "dropping after the scan ended");
                    Ok(())
                });
                assert!(f.scan_all(&table).is_empty());
                let tables = listed_tables(f).expect("table_admin is claimed");
                assert!(!tables.contains(&table), "{table} was dropped");
            }
        }
    }

    /// A read callback over a table is a running read of it too: writing that table from
    /// inside a `get` callback of the same transaction fails with `InUse`, while other tables
    /// can be written there; after the callback the table can be written again.
    fn writing_a_table_from_its_get_callback_is_in_use(f: &Fixture) {
        f.put("t", b"k", b"v");
        f.write(|txn| {
            let found = txn.get("t", b"k", &mut |value| {
                assert_eq!(value, b"v");
                let put = txn.put("t", b"k", b"changed");
                assert_kind(put, EngineErrorKind::InUse, "put from a get callback");
                let delete = txn.delete("t", b"k");
                assert_kind(delete, EngineErrorKind::InUse, "delete from a get callback");
                txn.put("other", b"k", value)
            })?;
            assert!(found);
            assert_eq!(get_copy(txn, "t", b"k"), Some(b"v".to_vec()));
            txn.put("t", b"k", b"after")
        });
        assert_eq!(f.get("t", b"k"), Some(b"after".to_vec()));
        assert_eq!(f.get("other", b"k"), Some(b"v".to_vec()));
    }

    /// Reads of the table a running range of the same transaction walks — `get`, `len`, and
    /// a nested range — work from inside the scan's callback (however many tables the
    /// transaction has touched) and see the transaction's own earlier writes.
    fn reading_the_scanned_table_inside_its_scan_works(f: &Fixture) {
        for fillers in FILLERS {
            let table = format!("scanned{fillers}");
            let entries = numbered(6);
            f.write(|txn| {
                for (key, value) in &entries[..5] {
                    txn.put(&table, key, value)?;
                }
                Ok(())
            });
            f.write(|txn| {
                touch_fillers(txn, fillers)?;
                let (key, value) = &entries[5];
                txn.put(&table, key, value)?; // staged, not committed
                let mut visited = Vec::new();
                txn.range(&table, &KeyRange::ALL, &mut |key, value| {
                    visited.push((key.to_vec(), value.to_vec()));
                    let what = format!("inside a scan of the same table ({fillers} other tables)");
                    assert_eq!(get_copy(txn, &table, key).as_deref(), Some(value), "get {what}");
                    assert_eq!(get_copy(txn, &table, &[5]), Some(vec![5, 5]), "get {what}");
                    assert_eq!(get_copy(txn, &table, b"missing"), None, "get {what}");
                    assert_eq!(txn.len(&table)?, 6, "len {what}");
                    assert_eq!(all(txn, &table), entries, "nested range {what}");
                    Ok(ControlFlow::Continue(()))
                })?;
                assert_eq!(visited, entries);
                Ok(())
            });
            assert_eq!(f.scan_all(&table), entries);
        }
    }

    /// A nested write on the thread that holds the write — `begin_write`, or `Engine::write`,
    /// also from inside a read callback of the open transaction — fails with `NestedWrite`
    /// instead of deadlocking; its body never runs; the open transaction stays usable and
    /// commits (or rolls back) normally; after it ended, writing works again on that thread.
    fn nested_write_on_the_same_thread_is_refused(f: &Fixture) {
        f.put("t", b"k", b"0");
        let (engine, mode) = (f.engine(), f.mode());
        on_thread_within("nested writes on the thread holding the write", move || {
            let engine = &*engine;
            let attempt_nested = |what: &str| {
                let begun = engine.begin_write(WriteOptions::DEFAULT).map(|_txn| ());
                assert_kind(begun, EngineErrorKind::NestedWrite, &format!("begin_write {what}"));
                let mut ran = false;
                let scoped = engine.write(WriteOptions::DEFAULT, &mut |txn| {
                    ran = true;
                    txn.put("t", b"nested", b"1")
                });
                assert_kind(scoped, EngineErrorKind::NestedWrite, &format!("Engine::write {what}"));
                assert!(!ran, "the body of a refused nested write ran ({what})");
            };
            let outer_body = |value: &'static [u8]| {
                move |outer: &dyn WriteTxn| -> Result<()> {
                    outer.put("t", b"k", value)?;
                    attempt_nested("while a write transaction is open on this thread");
                    outer.range("t", &KeyRange::ALL, &mut |_, _| {
                        attempt_nested("from a read callback of the open transaction");
                        Ok(ControlFlow::Break(()))
                    })?;
                    // The open transaction is unharmed.
                    outer.put("t", b"k2", value)?;
                    assert_eq!(get_copy(outer, "t", b"k").as_deref(), Some(value));
                    Ok(())
                }
            };

            // Ended by a commit.
            mode.write(engine, WriteOptions::DEFAULT, outer_body(b"committed")).expect("the outer transaction");
            mode.write(engine, WriteOptions::DEFAULT, |txn| txn.put("t", b"after commit", b"1"))
                .expect("a write after the outer transaction committed");

            // Ended by a rollback.
            match mode {
                Mode::Boxed => {
                    let outer = engine.begin_write(WriteOptions::DEFAULT).expect("begin_write");
                    outer_body(b"rolled back")(&*outer).expect("the outer transaction");
                    drop(outer);
                }
                Mode::Scoped => {
                    let result = engine.write(WriteOptions::DEFAULT, &mut |outer| {
                        outer_body(b"rolled back")(outer)?;
                        Err(Error::callback(std::io::Error::other("roll back")))
                    });
                    assert!(matches!(result, Err(Error::Callback { .. })), "{result:?}");
                }
            }
            // Both ways of writing work again on this thread.
            engine
                .write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"after rollback", b"2"))
                .expect("Engine::write after the outer transaction rolled back");
            let txn = engine
                .begin_write(WriteOptions::DEFAULT)
                .expect("begin_write after rollback");
            txn.put("t", b"boxed", b"3").expect("put");
            txn.commit().expect("commit");
        });
        assert_eq!(
            f.scan_all("t"),
            rows(&[
                ("after commit", "1"),
                ("after rollback", "2"),
                ("boxed", "3"),
                ("k", "committed"),
                ("k2", "committed"),
            ])
        );
    }

    /// A write transaction whose body fails with an engine error — here the `InUse` of a write
    /// to the table its own scan walks, propagated out of the scan unchanged (kind, table,
    /// operation) — is rolled back entirely: its earlier puts, deletes and created tables in
    /// every table are gone, and the engine keeps working.
    fn engine_error_in_body_rolls_back_everything(f: &Fixture) {
        let admin = f.claims().table_admin;
        f.write(|txn| {
            for (key, value) in numbered(3) {
                txn.put("a", &key, &value)?;
            }
            txn.put("b", b"keep", b"1")
        });
        let tables = listed_tables(f);
        let result = f.try_write(|txn| {
            txn.put("b", b"new", b"1")?;
            assert!(txn.delete("b", b"keep")?);
            txn.put("a", b"new", b"1")?;
            assert!(txn.delete("a", &[0])?);
            if admin {
                txn.create_table("created")?;
            }
            txn.range("a", &KeyRange::ALL, &mut |key, _| {
                txn.put("a", key, b"changed")?;
                Ok(ControlFlow::Continue(()))
            })?;
            panic!("the write to the scanned table must fail");
        });
        let error = result.expect_err("the body failed");
        assert_eq!(error.engine_kind(), Some(EngineErrorKind::InUse), "{error:?}");
        assert_eq!(error.table(), Some("a"), "{error:?}");
        assert_eq!(error.operation(), Some(Operation::Put), "{error:?}");
        assert_eq!(f.scan_all("a"), numbered(3));
        assert_eq!(f.scan_all("b"), rows(&[("keep", "1")]));
        assert_eq!(listed_tables(f), tables);
        f.put("a", b"after", b"1");
        assert_eq!(f.len("a"), 4);
    }
}
