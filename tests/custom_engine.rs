//! A user-written engine plugs in through `Storage::with_database` and proves itself with the
//! same conformance suite as the built-in ones. Here: a wrapper that counts operations and can
//! be told to fail, to show engine errors reach the caller with their source.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use zerotable::testing::Fixture;
use zerotable::{
    Database, Durability, Error, KeyRange, MemoryDatabase, ReadTransaction, Result, Storage,
    TableStats, WriteTransaction,
};

/// Delegates to an inner engine, counting calls; fails every operation while `broken` is set.
#[derive(Default)]
struct CountingEngine {
    inner: MemoryDatabase,
    calls: AtomicU64,
    broken: AtomicBool,
}

impl CountingEngine {
    fn check(&self, table: &str, operation: &'static str) -> Result<()> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.broken.load(Ordering::Relaxed) {
            return Err(Error::engine(
                table,
                operation,
                std::io::Error::other("disk on fire"),
            ));
        }
        Ok(())
    }
}

// Only the required methods: every auto-commit operation runs through the trait's default
// implementations on top of these transactions, so the suite checks those defaults too.
impl Database for CountingEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTransaction>> {
        self.check("*", "begin_read")?;
        self.inner.begin_read()
    }
    fn begin_write(&self, durability: Option<Durability>) -> Result<Box<dyn WriteTransaction>> {
        self.check("*", "begin_write")?;
        self.inner.begin_write(durability)
    }
    fn list_tables(&self) -> Result<Vec<String>> {
        self.check("*", "list_tables")?;
        self.inner.list_tables()
    }
    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.check(table, "stats")?;
        self.inner.table_stats(table)
    }
}

zerotable::conformance_suite!(counting_engine, || Fixture::new(Arc::new(
    CountingEngine::default()
)));

#[test]
fn typed_tables_run_on_a_user_engine() {
    let engine = Arc::new(CountingEngine::default());
    let storage = Storage::with_database(engine.clone());
    let cache = storage.raw_table::<u64>("cache").unwrap();
    cache.put(&1, b"one").unwrap();
    assert_eq!(
        cache.get(&1, |b| b.to_vec()).unwrap(),
        Some(b"one".to_vec())
    );
    let mut keys = Vec::new();
    storage
        .database()
        .range("cache", &KeyRange::ALL, &mut |k, _| {
            keys.push(k.to_vec());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(keys, [1u64.to_be_bytes().to_vec()]);
    // One engine transaction each: registering the table (a read of the type registry, then a
    // write recording it), the put, the get and the scan.
    assert_eq!(engine.calls.load(Ordering::Relaxed), 5);
}

#[test]
fn engine_errors_reach_the_caller_with_table_operation_and_source() {
    let engine = Arc::new(CountingEngine::default());
    let storage = Storage::with_database(engine.clone());
    let cache = storage.raw_table::<u64>("cache").unwrap();
    cache.put(&1, b"one").unwrap();
    engine.broken.store(true, Ordering::Relaxed);
    let err = cache.get(&1, |b| b.len()).unwrap_err();
    match &err {
        Error::Engine {
            table,
            operation,
            source,
        } => {
            assert_eq!((table.as_str(), *operation), ("*", "begin_read"));
            let io = source
                .downcast_ref::<std::io::Error>()
                .expect("the engine's own error");
            assert_eq!(io.to_string(), "disk on fire");
        }
        other => panic!("expected Engine, got {other:?}"),
    }
    assert!(matches!(
        cache.put_batch(vec![(2, b"x".to_vec())]),
        Err(Error::Engine { .. })
    ));
    engine.broken.store(false, Ordering::Relaxed);
    assert_eq!(cache.len().unwrap(), 1, "the failed batch stored nothing");
}
