//! A user-written engine plugs in through `Storage::with_database` and proves itself with the
//! same conformance suite as the built-in ones. Here: a wrapper that counts operations and can
//! be told to fail, to show engine errors reach the caller with their source.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use zerotable::testing::Fixture;
use zerotable::{BatchFill, Database, Error, MemoryDatabase, Result, ScanVisitor, Storage};

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

impl Database for CountingEngine {
    fn get(&self, table: &str, key: &[u8], found: &mut dyn FnMut(&[u8])) -> Result<bool> {
        self.check(table, "get")?;
        self.inner.get(table, key, found)
    }
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.check(table, "put")?;
        self.inner.put(table, key, value)
    }
    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.check(table, "delete")?;
        self.inner.delete(table, key)
    }
    fn write_batch(&self, table: &str, fill: &mut BatchFill<'_>) -> Result<()> {
        self.check(table, "batch")?;
        self.inner.write_batch(table, fill)
    }
    fn scan(&self, table: &str, visit: &mut ScanVisitor<'_>) -> Result<()> {
        self.check(table, "scan")?;
        self.inner.scan(table, visit)
    }
    fn len(&self, table: &str) -> Result<u64> {
        self.check(table, "len")?;
        self.inner.len(table)
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
        .scan("cache", &mut |k, _| {
            keys.push(k.to_vec());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(keys, [1u64.to_be_bytes().to_vec()]);
    assert_eq!(engine.calls.load(Ordering::Relaxed), 3);
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
            assert_eq!((table.as_str(), *operation), ("cache", "get"));
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
