//! The metrics layer (`zerotable::layers::MeteredEngine`): the whole conformance suite through
//! it over memory and redb; exact counts, bytes and error classes for known sequences of
//! operations; ordered percentiles; `reset`; no lost counts under concurrency; no allocation on
//! the hot path; and, with the cargo feature `metrics`, what reaches the `metrics` recorder.

mod common;

use std::ops::ControlFlow;
use std::sync::Arc;

use common::counting::allocations_during;
use zerotable::engine::{Engine, KeyRange, WriteOptions};
use zerotable::layers::{MeteredEngine, MetricsOptions, MetricsSnapshot, OpMetrics};
use zerotable::{EngineErrorKind, Error, MemoryEngine, Operation, Storage};

/// Counts allocations made by the current thread (tests run on parallel threads).
#[global_allocator]
static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;

zerotable::conformance_suite!(
    metrics_over_memory,
    zerotable::testing::LayeredHarness {
        name: "metrics over memory",
        inner: zerotable::testing::MemoryHarness,
        wrap: |e| std::sync::Arc::new(zerotable::layers::MeteredEngine::over(
            e,
            zerotable::layers::MetricsOptions::default()
        )),
    }
);

zerotable::conformance_suite!(
    metrics_over_redb,
    zerotable::testing::LayeredHarness {
        name: "metrics over redb",
        inner: zerotable::testing::RedbHarness::FAST,
        wrap: |e| std::sync::Arc::new(zerotable::layers::MeteredEngine::over(
            e,
            zerotable::layers::MetricsOptions::default()
        )),
    }
);

/// A storage over a metered memory engine.
fn metered() -> Storage {
    Storage::new(MeteredEngine::new(
        MemoryEngine::new(),
        MetricsOptions::default(),
    ))
}

fn layer(storage: &Storage) -> &MeteredEngine {
    storage.layer::<MeteredEngine>().expect("a metrics layer")
}

fn snapshot(storage: &Storage) -> MetricsSnapshot {
    layer(storage).snapshot()
}

/// The figures of `op` on `table`, or empty ones if it never ran.
fn op(snapshot: &MetricsSnapshot, table: &str, op: Operation) -> OpMetrics {
    snapshot
        .table(table)
        .and_then(|t| t.op(op))
        .cloned()
        .unwrap_or_default()
}

/// The figures of the engine's own `op`, or empty ones if it never ran.
fn engine_op(snapshot: &MetricsSnapshot, op: Operation) -> OpMetrics {
    snapshot.engine.op(op).cloned().unwrap_or_default()
}

/// Count, errors, bytes read and bytes written.
fn figures(m: &OpMetrics) -> (u64, u64, u64, u64) {
    (m.count, m.error_count(), m.bytes_read, m.bytes_written)
}

#[test]
fn typed_operations_are_counted_exactly_with_their_bytes() {
    let storage = metered();
    let t = storage.raw_table::<u64>("t").unwrap();
    layer(&storage).reset(); // opening the table wrote the catalog

    t.put(&1, b"a").unwrap();
    t.put(&2, b"bb").unwrap();
    t.put(&3, b"ccc").unwrap();
    assert_eq!(t.get(&1, |v| v.len()).unwrap(), Some(1));
    assert_eq!(t.get(&3, |v| v.len()).unwrap(), Some(3));
    assert_eq!(t.get(&9, |v| v.len()).unwrap(), None);
    let mut seen = 0;
    t.scan()
        .for_each(|_, v| {
            seen += v.len();
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, 6);
    assert_eq!(t.len().unwrap(), 3);
    assert!(t.delete(&1).unwrap());

    let s = snapshot(&storage);
    // Keys are 8 bytes (u64, big-endian).
    assert_eq!(figures(&op(&s, "t", Operation::Put)), (3, 0, 0, 3 * 8 + 6));
    assert_eq!(figures(&op(&s, "t", Operation::Get)), (3, 0, 1 + 3, 0));
    assert_eq!(
        figures(&op(&s, "t", Operation::Range)),
        (1, 0, 3 * 8 + 6, 0)
    );
    assert_eq!(figures(&op(&s, "t", Operation::Len)), (1, 0, 0, 0));
    assert_eq!(figures(&op(&s, "t", Operation::Delete)), (1, 0, 0, 0));
    let table = s.table("t").unwrap();
    assert_eq!(
        table.operations.keys().copied().collect::<Vec<_>>(),
        ["delete", "get", "len", "put", "range"],
        "nothing else ran on t: {s}"
    );
    // Four auto-commit writes (three puts, a delete), each a begin_write and a commit; the
    // scan and len each read a snapshot.
    assert_eq!(figures(&engine_op(&s, Operation::BeginWrite)), (4, 0, 0, 0));
    assert_eq!(figures(&engine_op(&s, Operation::Commit)), (4, 0, 0, 0));
    assert_eq!(engine_op(&s, Operation::BeginRead).count, 2, "{s}");
    // Only t was touched after the reset (the catalog was read when the table opened).
    assert_eq!(s.tables.keys().collect::<Vec<_>>(), ["t"], "{s}");

    let text = s.to_string();
    assert!(text.starts_with("table"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("t ") && l.contains(" range ") && l.contains(" 30 ")),
        "{text}"
    );
}

#[test]
fn a_transaction_counts_each_operation_and_one_commit() {
    let storage = metered();
    let a = storage.raw_table::<u64>("a").unwrap();
    let b = storage.raw_table::<u64>("b").unwrap();
    layer(&storage).reset();

    storage
        .write(|tx| {
            a.put_in(tx, &1, b"xy")?;
            b.put_in(tx, &1, b"z")?;
            assert_eq!(a.get_in(tx, &1, |v| v.len())?, Some(2));
            Ok(())
        })
        .unwrap();
    storage
        .read(|snap| {
            assert_eq!(b.get_in(snap, &1, |v| v.to_vec())?, Some(b"z".to_vec()));
            assert_eq!(a.len_in(snap)?, 1);
            Ok(())
        })
        .unwrap();

    let s = snapshot(&storage);
    assert_eq!(figures(&op(&s, "a", Operation::Put)), (1, 0, 0, 10));
    assert_eq!(figures(&op(&s, "b", Operation::Put)), (1, 0, 0, 9));
    assert_eq!(figures(&op(&s, "a", Operation::Get)), (1, 0, 2, 0));
    assert_eq!(figures(&op(&s, "b", Operation::Get)), (1, 0, 1, 0));
    assert_eq!(figures(&op(&s, "a", Operation::Len)), (1, 0, 0, 0));
    assert_eq!(engine_op(&s, Operation::BeginWrite).count, 1);
    assert_eq!(engine_op(&s, Operation::Commit).count, 1);
    assert_eq!(engine_op(&s, Operation::BeginRead).count, 1);
}

/// The engine's own methods, boxed and scoped, straight through the `Engine` trait.
#[test]
fn boxed_and_scoped_transactions_of_the_engine_are_counted() {
    let engine = MeteredEngine::new(MemoryEngine::new(), MetricsOptions::default());

    let txn = engine.begin_write(WriteOptions::default()).unwrap();
    txn.put("a", b"k1", b"v1").unwrap();
    txn.put("a", b"k2", b"v22").unwrap();
    assert_eq!(txn.delete_range("a", &KeyRange::ALL).unwrap(), 2);
    txn.put("a", b"k", b"v").unwrap();
    txn.commit().unwrap();

    let snap = engine.begin_read().unwrap();
    let found = snap.get("a", b"k", &mut |v| {
        assert_eq!(v, b"v");
        Ok(())
    });
    assert!(found.unwrap());
    let mut visited = 0;
    snap.range("a", &KeyRange::ALL, &mut |_, _| {
        visited += 1;
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    assert_eq!(visited, 1);
    drop(snap);

    engine
        .write(WriteOptions::default(), &mut |txn| {
            txn.put("b", b"key", b"value")
        })
        .unwrap();
    // A body that fails: a begin_write, no commit.
    let err = engine
        .write(WriteOptions::default(), &mut |txn| {
            txn.put("b", b"other", b"x")?;
            Err(Error::callback("changed my mind"))
        })
        .unwrap_err();
    assert!(matches!(err, Error::Callback { .. }));
    engine
        .read(&mut |reads| {
            assert_eq!(reads.len("b")?, 1);
            Ok(())
        })
        .unwrap();
    assert!(engine.get("b", b"key", &mut |_| Ok(())).unwrap());

    let s = engine.snapshot();
    assert_eq!(figures(&op(&s, "a", Operation::Put)), (3, 0, 0, 4 + 5 + 2));
    assert_eq!(figures(&op(&s, "a", Operation::DeleteRange)), (1, 0, 0, 0));
    assert_eq!(figures(&op(&s, "a", Operation::Get)), (1, 0, 1, 0));
    assert_eq!(figures(&op(&s, "a", Operation::Range)), (1, 0, 2, 0));
    assert_eq!(figures(&op(&s, "b", Operation::Put)), (2, 0, 0, 8 + 6));
    assert_eq!(figures(&op(&s, "b", Operation::Len)), (1, 0, 0, 0));
    assert_eq!(figures(&op(&s, "b", Operation::Get)), (1, 0, 5, 0));
    assert_eq!(figures(&engine_op(&s, Operation::BeginWrite)), (3, 0, 0, 0));
    assert_eq!(figures(&engine_op(&s, Operation::Commit)), (2, 0, 0, 0));
    assert_eq!(figures(&engine_op(&s, Operation::BeginRead)), (2, 0, 0, 0));
    assert_eq!(s.engine.operations.len(), 3, "{s}");
    assert_eq!(s.tables.len(), 2, "{s}");
}

#[test]
fn errors_are_counted_by_class() {
    let storage = metered();
    let t = storage.raw_table::<u64>("t").unwrap();
    t.put(&1, b"one").unwrap();
    t.put(&2, b"two").unwrap();
    layer(&storage).reset();

    // The caller's callback stops a scan with an error (after the first entry).
    let err = t
        .scan()
        .for_each(|_, _| Err(Error::callback("no more")))
        .unwrap_err();
    assert!(matches!(err, Error::Callback { .. }));
    // The memory engine cannot compact.
    let err = storage.compact().unwrap_err();
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::Unsupported));
    // A second write from the thread that holds the write transaction.
    storage
        .write(|_tx| {
            let err = t.put(&3, b"three").unwrap_err();
            assert_eq!(err.engine_kind(), Some(EngineErrorKind::NestedWrite));
            Ok(())
        })
        .unwrap();
    // Writing the table a scan is over, inside one transaction.
    storage
        .write(|tx| {
            let err = t
                .scan_in(tx)
                .for_each(|_, _| t.put_in(tx, &4, b"four"))
                .unwrap_err();
            assert_eq!(err.engine_kind(), Some(EngineErrorKind::InUse), "{err}");
            Ok(())
        })
        .unwrap();

    let s = snapshot(&storage);
    let ranges = op(&s, "t", Operation::Range);
    assert_eq!(ranges.count, 2);
    // The InUse error came out of the scan's callback: `callback` for the scan, `in_use` for
    // the put that failed.
    assert_eq!(
        ranges
            .errors
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect::<Vec<_>>(),
        [("callback", 2)]
    );
    assert_eq!(
        ranges.bytes_read,
        2 * (8 + 3),
        "one entry handed over by each scan"
    );
    let puts = op(&s, "t", Operation::Put);
    assert_eq!(
        puts.errors
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect::<Vec<_>>(),
        [("in_use", 1)]
    );
    assert_eq!((puts.count, puts.bytes_written), (1, 8 + 4));
    let compact = engine_op(&s, Operation::Compact);
    assert_eq!(compact.count, 1);
    assert_eq!(compact.errors.get("unsupported"), Some(&1));
    let begin_write = engine_op(&s, Operation::BeginWrite);
    assert_eq!(begin_write.count, 3);
    assert_eq!(begin_write.errors.get("nested_write"), Some(&1));
    assert_eq!(begin_write.error_count(), 1);
    assert_eq!(engine_op(&s, Operation::Commit).count, 2);
    assert_eq!(engine_op(&s, Operation::Commit).error_count(), 0);
}

#[test]
fn percentiles_are_ordered_and_reset_forgets_everything() {
    let storage = metered();
    let t = storage.raw_table::<u64>("t").unwrap();
    for i in 0..200u64 {
        t.put(&i, &[i as u8; 16]).unwrap();
        t.get(&i, |v| v.len()).unwrap();
    }
    t.get(&0, |_| {
        std::thread::sleep(std::time::Duration::from_millis(5))
    })
    .unwrap();

    let s = snapshot(&storage);
    for (table, metrics) in std::iter::once(("(engine)", &s.engine)).chain(
        s.tables
            .iter()
            .map(|(name, metrics)| (name.as_str(), metrics)),
    ) {
        for (name, m) in &metrics.operations {
            let l = m.latency;
            assert!(
                l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max && l.mean <= l.max,
                "{table} {name}: {l:?}"
            );
            assert!(l.max > std::time::Duration::ZERO, "{table} {name}: {l:?}");
        }
    }
    let gets = op(&s, "t", Operation::Get);
    assert_eq!(gets.count, 201);
    // The slow get's callback is part of its latency, and it is the longest.
    assert!(gets.latency.max >= std::time::Duration::from_millis(5));
    assert!(gets.latency.p50 < std::time::Duration::from_millis(5));

    layer(&storage).reset();
    assert_eq!(snapshot(&storage), MetricsSnapshot::default());
    assert_eq!(
        snapshot(&storage).to_string().lines().count(),
        1,
        "only the header"
    );
    // Counting starts again from zero.
    t.get(&1, |_| ()).unwrap();
    let s = snapshot(&storage);
    assert_eq!(figures(&op(&s, "t", Operation::Get)), (1, 0, 16, 0));
    assert!(s.engine.operations.is_empty(), "an auto-commit get: {s}");
}

#[test]
fn concurrent_recording_loses_no_counts() {
    const THREADS: u64 = 4;
    const GETS: u64 = 2_000;
    const PUTS: u64 = 100;
    let storage = metered();
    let t = storage.raw_table::<u64>("t").unwrap();
    t.put(&0, b"abcd").unwrap();
    layer(&storage).reset();

    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let t = &t;
            let storage = &storage;
            scope.spawn(move || {
                // Each thread also writes a table of its own, first seen by this thread.
                let own = storage.raw_table::<u64>(&format!("own{thread}")).unwrap();
                for i in 0..GETS {
                    assert_eq!(t.get(&0, |v| v.len()).unwrap(), Some(4));
                    if i % (GETS / PUTS) == 0 {
                        t.put(&(thread * GETS + i + 1), b"x").unwrap();
                        own.put(&i, b"yy").unwrap();
                    }
                }
            });
        }
    });

    let s = snapshot(&storage);
    assert_eq!(
        figures(&op(&s, "t", Operation::Get)),
        (THREADS * GETS, 0, THREADS * GETS * 4, 0)
    );
    assert_eq!(
        figures(&op(&s, "t", Operation::Put)),
        (THREADS * PUTS, 0, 0, THREADS * PUTS * 9)
    );
    for thread in 0..THREADS {
        assert_eq!(
            figures(&op(&s, &format!("own{thread}"), Operation::Put)),
            (PUTS, 0, 0, PUTS * 10)
        );
    }
    // Two auto-commit puts each time, and the catalog writes of the tables opened.
    assert!(
        engine_op(&s, Operation::Commit).count >= THREADS * PUTS * 2,
        "{s}"
    );
}

/// After a table's first get, a metered get allocates nothing (nor does the layer's
/// bookkeeping), exporting or not.
#[test]
fn a_metered_get_allocates_nothing() {
    let exports: &[bool] = if cfg!(feature = "metrics") {
        &[false, true]
    } else {
        &[false]
    };
    for &export in exports {
        let storage = Storage::new(MeteredEngine::new(
            MemoryEngine::new(),
            MetricsOptions { export },
        ));
        let t = storage.raw_table::<u64>("t").unwrap();
        t.put(&1, b"abc").unwrap();
        assert_eq!(t.get(&1, |v| v.len()).unwrap(), Some(3)); // the first get of `t`
        assert_eq!(t.get(&2, |v| v.len()).unwrap(), None);

        let mut total = 0;
        let count = allocations_during(|| {
            for _ in 0..1_000 {
                total += t.get(&1, |v| v.len()).unwrap().unwrap();
                assert!(t.get(&2, |v| v.len()).unwrap().is_none());
            }
        });
        assert_eq!(total, 3_000);
        assert_eq!(count, 0, "metered gets allocated (export {export})");
        assert_eq!(op(&snapshot(&storage), "t", Operation::Get).count, 2_002);
    }
}

#[test]
fn an_address_puts_the_layer_on() {
    let storage = Storage::connect("memory://?metrics=true").unwrap();
    storage
        .raw_table::<u64>("t")
        .unwrap()
        .put(&1, b"x")
        .unwrap();
    let s = snapshot(&storage);
    assert_eq!(op(&s, "t", Operation::Put).count, 1);
    assert!(Storage::in_memory().layer::<MeteredEngine>().is_none());

    let export = Storage::connect("memory://?metrics_export=true");
    if cfg!(feature = "metrics") {
        assert!(export.unwrap().layer::<MeteredEngine>().is_some());
    } else {
        let Err(err) = export else {
            panic!("metrics_export is refused without the feature")
        };
        assert!(err.to_string().contains("metrics"), "{err}");
    }
}

#[test]
fn the_layer_is_found_in_a_stack_and_forwards_capabilities() {
    let inner: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
    let capabilities = inner.capabilities();
    let engine = MeteredEngine::over(inner, MetricsOptions::default());
    assert_eq!(engine.capabilities(), capabilities);
    assert_eq!(engine.name(), "memory");
    assert_eq!(engine.inner().map(|e| e.name()), Some("memory"));
    assert!(
        engine.snapshot().engine.operations.is_empty(),
        "not counted"
    );
}

#[cfg(feature = "metrics")]
mod export {
    //! What reaches a `metrics` recorder: a small recorder of our own keeps every counter and
    //! histogram by name and sorted labels.

    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString,
        Unit,
    };
    use zerotable::layers::{MeteredEngine, MetricsOptions};
    use zerotable::{MemoryEngine, Storage};

    #[derive(Default)]
    struct Samples(Mutex<Vec<f64>>);

    impl HistogramFn for Samples {
        fn record(&self, value: f64) {
            self.0.lock().unwrap().push(value);
        }
    }

    #[derive(Default)]
    struct TestRecorder {
        counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
        histograms: Mutex<BTreeMap<String, Arc<Samples>>>,
        described: Mutex<Vec<(String, Option<Unit>)>>,
    }

    /// `name{label=value,…}`, labels sorted.
    fn key_string(key: &Key) -> String {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        format!("{}{{{}}}", key.name(), labels.join(","))
    }

    impl TestRecorder {
        fn counter(&self, key: &str) -> u64 {
            self.counters
                .lock()
                .unwrap()
                .get(key)
                .map_or(0, |c| c.load(Ordering::Relaxed))
        }

        fn samples(&self, key: &str) -> Vec<f64> {
            self.histograms
                .lock()
                .unwrap()
                .get(key)
                .map_or_else(Vec::new, |h| h.0.lock().unwrap().clone())
        }

        fn counter_names(&self) -> Vec<String> {
            self.counters.lock().unwrap().keys().cloned().collect()
        }
    }

    impl Recorder for TestRecorder {
        fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
            self.described
                .lock()
                .unwrap()
                .push((key.as_str().to_owned(), unit));
        }

        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
            self.described
                .lock()
                .unwrap()
                .push((key.as_str().to_owned(), unit));
        }

        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let counter = Arc::clone(
                self.counters
                    .lock()
                    .unwrap()
                    .entry(key_string(key))
                    .or_default(),
            );
            Counter::from_arc(counter)
        }

        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }

        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            let samples = Arc::clone(
                self.histograms
                    .lock()
                    .unwrap()
                    .entry(key_string(key))
                    .or_default(),
            );
            Histogram::from_arc(samples)
        }
    }

    fn exporting() -> Storage {
        Storage::new(MeteredEngine::new(
            MemoryEngine::new(),
            MetricsOptions { export: true },
        ))
    }

    #[test]
    fn counters_arrive_with_table_and_operation_labels() {
        let recorder = TestRecorder::default();
        metrics::with_local_recorder(&recorder, || {
            let storage = exporting();
            let t = storage.raw_table::<u64>("t").unwrap();
            t.put(&1, b"abc").unwrap();
            t.put(&2, b"de").unwrap();
            t.put(&3, b"f").unwrap();
            assert_eq!(t.get(&1, |v| v.len()).unwrap(), Some(3));
            assert_eq!(t.get(&7, |v| v.len()).unwrap(), None);
            assert!(storage.compact().is_err());
        });

        let ops = "zerotable_operations_total";
        assert_eq!(
            recorder.counter(&format!("{ops}{{operation=put,table=t}}")),
            3
        );
        assert_eq!(
            recorder.counter(&format!("{ops}{{operation=get,table=t}}")),
            2
        );
        assert_eq!(
            recorder.counter("zerotable_bytes_written_total{operation=put,table=t}"),
            3 * 8 + 6
        );
        assert_eq!(
            recorder.counter("zerotable_bytes_read_total{operation=get,table=t}"),
            3
        );
        // Engine operations have no table label.
        assert!(recorder.counter(&format!("{ops}{{operation=commit}}")) >= 3);
        assert_eq!(recorder.counter(&format!("{ops}{{operation=compact}}")), 1);
        assert_eq!(
            recorder.counter("zerotable_errors_total{kind=unsupported,operation=compact}"),
            1
        );
        let seconds = recorder.samples("zerotable_operation_seconds{operation=put,table=t}");
        assert_eq!(seconds.len(), 3);
        assert!(seconds.iter().all(|&s| s > 0.0 && s < 10.0), "{seconds:?}");
        // The catalog is a table too.
        assert!(
            recorder
                .counter_names()
                .iter()
                .any(|k| k.contains("table=zerotable.meta")),
            "{:?}",
            recorder.counter_names()
        );
        let described = recorder.described.lock().unwrap();
        assert!(described.contains(&(
            "zerotable_operation_seconds".to_owned(),
            Some(Unit::Seconds)
        )));
        assert!(described.contains(&("zerotable_bytes_read_total".to_owned(), Some(Unit::Bytes))));
    }

    /// Handles kept for one recorder are registered again with the next one in effect.
    #[test]
    fn each_recorder_in_turn_gets_the_operations_run_under_it() {
        let storage = exporting();
        let t = storage.raw_table::<u64>("t").unwrap();
        let key = "zerotable_operations_total{operation=put,table=t}";
        let first = TestRecorder::default();
        metrics::with_local_recorder(&first, || {
            t.put(&1, b"a").unwrap();
            t.put(&2, b"a").unwrap();
        });
        t.put(&3, b"a").unwrap(); // no recorder: nowhere
        let second = TestRecorder::default();
        metrics::with_local_recorder(&second, || t.put(&4, b"a").unwrap());
        metrics::with_local_recorder(&first, || t.put(&5, b"a").unwrap());
        assert_eq!(first.counter(key), 3);
        assert_eq!(second.counter(key), 1);
        // The layer's own figures count them all.
        let s = storage.layer::<MeteredEngine>().unwrap().snapshot();
        assert_eq!(s.table("t").unwrap().operations["put"].count, 5);
    }

    #[test]
    fn without_export_nothing_is_reported() {
        let recorder = TestRecorder::default();
        metrics::with_local_recorder(&recorder, || {
            let storage = Storage::new(MeteredEngine::new(
                MemoryEngine::new(),
                MetricsOptions::default(),
            ));
            storage
                .raw_table::<u64>("t")
                .unwrap()
                .put(&1, b"x")
                .unwrap();
        });
        assert!(recorder.counter_names().is_empty());
        assert!(recorder.histograms.lock().unwrap().is_empty());
    }

    #[test]
    fn an_address_turns_export_on() {
        let recorder = TestRecorder::default();
        metrics::with_local_recorder(&recorder, || {
            let storage = Storage::connect("memory://?metrics=true&metrics_export=true").unwrap();
            storage
                .raw_table::<u64>("t")
                .unwrap()
                .put(&1, b"x")
                .unwrap();
        });
        assert_eq!(
            recorder.counter("zerotable_operations_total{operation=put,table=t}"),
            1
        );
    }
}
