//! Engines written outside the crate plug in through `Storage::new` and prove themselves with the
//! same conformance suite as the built-in ones:
//!
//! - `MinimalEngine`: only the required core (`begin_read`, `begin_write`, `name`) over ordered
//!   maps, claiming no optional capability. The suite checks that the trait's provided parts
//!   (scoped `read`/`write`, `delete_range`) keep the contract on top of it, and that every
//!   capability it does not claim answers `Unsupported` rather than pretending.
//! - `CountingEngine`: a wrapper around the memory engine that counts transactions and can be
//!   told to fail, forwarding what it wraps (capabilities included), to show engine errors reach
//!   the caller with their kind, operation and source.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use zerotable::engine::{Found, ReadBody, Visit, WriteBody, WriterGate, WriterTicket};
use zerotable::testing::{Harness, Instance};
use zerotable::{
    Capabilities, Engine, EngineError, EngineErrorKind, Error, KeyRange, MemoryEngine, Operation,
    ReadOps, ReadTxn, Result, Storage, WriteOptions, WriteTxn,
};

// ---- a minimal engine: the required core only ----

type TableMap = BTreeMap<Vec<u8>, Vec<u8>>;
type Tables = BTreeMap<String, Arc<TableMap>>;

/// Ordered maps behind a lock; a snapshot shares the committed maps, a write transaction copies
/// the tables it writes.
#[derive(Default)]
struct MinimalEngine {
    committed: Arc<RwLock<Arc<Tables>>>,
    writers: Arc<WriterGate>,
}

impl MinimalEngine {
    fn snapshot(&self) -> Arc<Tables> {
        Arc::clone(
            &self
                .committed
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

struct MinimalRead(Arc<Tables>);

/// Reads of one table map: the same code serves snapshots and write transactions.
fn get_in(map: Option<&TableMap>, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
    match map.and_then(|m| m.get(key)) {
        Some(value) => found(value).map(|()| true),
        None => Ok(false),
    }
}

fn range_in(map: Option<&TableMap>, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
    let Some(map) = map else { return Ok(()) };
    if range.is_empty() {
        return Ok(());
    }
    let entries = map.range::<[u8], _>(range.bounds());
    let mut step = |(key, value): (&Vec<u8>, &Vec<u8>)| visit(key, value);
    if range.reverse {
        for entry in entries.rev() {
            if step(entry)?.is_break() {
                break;
            }
        }
    } else {
        for entry in entries {
            if step(entry)?.is_break() {
                break;
            }
        }
    }
    Ok(())
}

impl ReadOps for MinimalRead {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        get_in(self.0.get(table).map(|m| &**m), key, found)
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        range_in(self.0.get(table).map(|m| &**m), range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        Ok(self.0.get(table).map_or(0, |m| m.len() as u64))
    }
}

impl ReadTxn for MinimalRead {}

/// A write transaction: each table it touches is copied into its own cell, so a scan of one
/// table (holding that cell borrowed) does not stop writes to another.
struct MinimalWrite {
    base: Arc<Tables>,
    tables: RefCell<BTreeMap<String, Rc<RefCell<TableMap>>>>,
    committed: Arc<RwLock<Arc<Tables>>>,
    _ticket: WriterTicket,
}

impl MinimalWrite {
    /// The transaction's copy of `table`, if it has one or the table exists.
    fn table(&self, table: &str, create: bool) -> Option<Rc<RefCell<TableMap>>> {
        let mut tables = self.tables.borrow_mut();
        if let Some(cell) = tables.get(table) {
            return Some(Rc::clone(cell));
        }
        let base = self.base.get(table).map(|m| (**m).clone());
        if base.is_none() && !create {
            return None;
        }
        let cell = Rc::new(RefCell::new(base.unwrap_or_default()));
        tables.insert(table.to_owned(), Rc::clone(&cell));
        Some(cell)
    }
}

fn in_use(table: &str, operation: Operation) -> Error {
    Error::engine(
        Some(table),
        operation,
        EngineError::of_kind(EngineErrorKind::InUse),
    )
}

impl ReadOps for MinimalWrite {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        let Some(cell) = self.table(table, false) else {
            return Ok(false);
        };
        let map = cell
            .try_borrow()
            .map_err(|_| in_use(table, Operation::Get))?;
        get_in(Some(&map), key, found)
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        let Some(cell) = self.table(table, false) else {
            return Ok(());
        };
        let map = cell
            .try_borrow()
            .map_err(|_| in_use(table, Operation::Range))?;
        range_in(Some(&map), range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        let Some(cell) = self.table(table, false) else {
            return Ok(0);
        };
        let map = cell
            .try_borrow()
            .map_err(|_| in_use(table, Operation::Len))?;
        Ok(map.len() as u64)
    }
}

impl WriteTxn for MinimalWrite {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let cell = self.table(table, true).expect("created");
        let mut map = cell
            .try_borrow_mut()
            .map_err(|_| in_use(table, Operation::Put))?;
        map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        let Some(cell) = self.table(table, false) else {
            return Ok(false);
        };
        let mut map = cell
            .try_borrow_mut()
            .map_err(|_| in_use(table, Operation::Delete))?;
        Ok(map.remove(key).is_some())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let MinimalWrite {
            base,
            tables,
            committed,
            _ticket,
        } = *self;
        let mut next = (*base).clone();
        for (name, cell) in tables.into_inner() {
            next.insert(name, Arc::new(cell.take()));
        }
        *committed.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }
}

impl Engine for MinimalEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(MinimalRead(self.snapshot())))
    }

    fn begin_write(&self, _options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        let ticket = self.writers.enter()?;
        Ok(Box::new(MinimalWrite {
            base: self.snapshot(),
            tables: RefCell::default(),
            committed: Arc::clone(&self.committed),
            _ticket: ticket,
        }))
    }

    fn name(&self) -> &'static str {
        "minimal"
    }
}

struct MinimalHarness;

impl Harness for MinimalHarness {
    fn name(&self) -> &'static str {
        "minimal"
    }

    fn claims(&self) -> Capabilities {
        Capabilities::NONE
    }

    fn fresh(&self) -> Instance {
        Instance::new(Arc::new(MinimalEngine::default()))
    }
}

zerotable::conformance_suite!(minimal_engine, MinimalHarness);

// ---- a wrapper that counts and fails on demand ----

/// Delegates to an inner engine, counting transactions; fails every operation while `broken`.
#[derive(Default)]
struct CountingEngine {
    inner: MemoryEngine,
    transactions: AtomicU64,
    broken: AtomicBool,
}

impl CountingEngine {
    fn check(&self, operation: Operation) -> Result<()> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        if self.broken.load(Ordering::Relaxed) {
            return Err(Error::engine(
                None,
                operation,
                EngineError::new(EngineErrorKind::Io, std::io::Error::other("disk on fire")),
            ));
        }
        Ok(())
    }
}

// A wrapper forwards every method it does not change — the scoped forms and the capabilities
// too: a wrapper that left them to their defaults would answer `Unsupported` where the inner
// engine can (the suite would notice the claims not matching).
impl Engine for CountingEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        self.check(Operation::BeginRead)?;
        self.inner.begin_read()
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        self.check(Operation::BeginWrite)?;
        self.inner.begin_write(options)
    }

    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        self.check(Operation::BeginRead)?;
        self.inner.read(body)
    }

    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        self.check(Operation::BeginWrite)?;
        self.inner.write(options, body)
    }

    fn name(&self) -> &'static str {
        "counting"
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

struct CountingHarness;

impl Harness for CountingHarness {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn claims(&self) -> Capabilities {
        zerotable::testing::MemoryHarness.claims()
    }

    fn fresh(&self) -> Instance {
        Instance::new(Arc::new(CountingEngine::default()))
    }
}

zerotable::conformance_suite!(counting_engine, CountingHarness);

#[test]
fn typed_tables_run_on_a_user_engine() {
    let engine = Arc::new(CountingEngine::default());
    let storage = Storage::from_arc(engine.clone());
    let cache = storage.raw_table::<u64>("cache").unwrap();
    cache.put(&1, b"one").unwrap();
    assert_eq!(
        cache.get(&1, |b| b.to_vec()).unwrap(),
        Some(b"one".to_vec())
    );
    let mut keys = Vec::new();
    storage
        .engine()
        .read(&mut |reader| {
            reader.range("cache", &KeyRange::ALL, &mut |k, _| {
                keys.push(k.to_vec());
                Ok(ControlFlow::Continue(()))
            })
        })
        .unwrap();
    assert_eq!(keys, [1u64.to_be_bytes().to_vec()]);
    // One engine transaction each: registering the table (a read of the catalog, then a
    // write recording it), reading the indexes recorded for it (once per table and storage),
    // the put, the get and the scan.
    assert_eq!(engine.transactions.load(Ordering::Relaxed), 6);
    // Opening it again is one read: the catalog's record matches, the indexes are known.
    let _again = storage.raw_table::<u64>("cache").unwrap();
    assert_eq!(engine.transactions.load(Ordering::Relaxed), 7);
}

#[test]
fn engine_errors_reach_the_caller_with_kind_table_operation_and_source() {
    let engine = Arc::new(CountingEngine::default());
    let storage = Storage::from_arc(engine.clone());
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
            assert_eq!(*operation, Operation::BeginRead);
            assert_eq!(
                table.as_deref(),
                Some("cache"),
                "the typed layer names the table"
            );
            assert_eq!(source.kind(), EngineErrorKind::Io);
            let io = source
                .cause()
                .and_then(|c| c.downcast_ref::<std::io::Error>())
                .expect("the engine's own error");
            assert_eq!(io.to_string(), "disk on fire");
        }
        other => panic!("expected Engine, got {other:?}"),
    }
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::Io));
    let message = err.to_string();
    assert!(
        message.contains("disk on fire"),
        "the first cause is shown: {message}"
    );
    assert!(message.contains("cache"), "{message}");
    assert_eq!(
        cache
            .put_batch(vec![(2, b"x".to_vec())])
            .unwrap_err()
            .engine_kind(),
        Some(EngineErrorKind::Io)
    );
    engine.broken.store(false, Ordering::Relaxed);
    assert_eq!(cache.len().unwrap(), 1, "the failed batch stored nothing");
}

#[test]
fn a_minimal_engine_answers_unsupported_for_what_it_does_not_offer() {
    let storage = Storage::new(MinimalEngine::default());
    assert_eq!(storage.capabilities(), Capabilities::NONE);
    for (what, kind) in [
        (
            "compact",
            storage.compact().map(|_| ()).unwrap_err().engine_kind(),
        ),
        ("flush", storage.flush().unwrap_err().engine_kind()),
        (
            "size_on_disk",
            storage.size_on_disk().unwrap_err().engine_kind(),
        ),
        (
            "check_integrity",
            storage.check_integrity().unwrap_err().engine_kind(),
        ),
        (
            "table_stats",
            storage.table_stats("t").unwrap_err().engine_kind(),
        ),
    ] {
        assert_eq!(kind, Some(EngineErrorKind::Unsupported), "{what}");
    }
    // Typed tables work all the same; dropping a table falls back to a range deletion.
    let users = storage.raw_table::<u64>("users").unwrap();
    users
        .put_batch((0..10u64).map(|i| (i, i.to_be_bytes())))
        .unwrap();
    assert_eq!(storage.list_tables().unwrap(), ["users"]);
    assert!(storage.drop_table("users").unwrap());
    assert!(storage.list_tables().unwrap().is_empty());
    assert_eq!(users.len().unwrap(), 0);
}
