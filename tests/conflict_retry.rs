//! `Storage::write_retrying` against an engine whose commits lose to concurrent transactions:
//! a wrapper around the memory engine that fails the next N commits with `Conflict`, applying
//! nothing, as an optimistic engine does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use zerotable::engine::WriteBody;
use zerotable::{
    Engine, EngineError, EngineErrorKind, Error, MemoryEngine, Operation, ReadTxn, Result, Storage,
    WriteOptions, WriteTxn,
};

/// The memory engine, whose next `conflicts` commits fail with `Conflict` after the body ran.
#[derive(Default)]
struct Optimistic {
    inner: MemoryEngine,
    conflicts: Arc<AtomicU32>,
}

impl Engine for Optimistic {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        self.inner.begin_read()
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        self.inner.begin_write(options)
    }

    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        self.inner.write(options, &mut |txn| {
            body(txn)?;
            let lost = self
                .conflicts
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if lost {
                // Returning an error from the body rolls the inner transaction back.
                return Err(Error::engine(
                    None,
                    Operation::Commit,
                    EngineError::of_kind(EngineErrorKind::Conflict),
                ));
            }
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "optimistic"
    }
}

/// A storage whose next `conflicts` commits lose, once its table `counters` exists (opening a
/// table writes its catalog record).
fn storage(conflicts: u32) -> Storage {
    let armed = Arc::new(AtomicU32::new(0));
    let storage = Storage::new(Optimistic {
        inner: MemoryEngine::new(),
        conflicts: Arc::clone(&armed),
    });
    storage.raw_table::<String>("counters").unwrap();
    armed.store(conflicts, Ordering::SeqCst);
    storage
}

/// Adds one to counter `hits` in `tx`, counting the runs of the body.
fn increment(storage: &Storage, attempts: u32, runs: &mut u32) -> Result<u64> {
    let counters = storage.raw_table::<String>("counters")?;
    storage.write_retrying(attempts, |tx| {
        *runs += 1;
        let hits = counters
            .get_in(tx, "hits", |v| u64::from_le_bytes(v.try_into().unwrap()))?
            .unwrap_or(0);
        counters.put_in(tx, "hits", &(hits + 1).to_le_bytes())?;
        Ok(hits + 1)
    })
}

fn hits(storage: &Storage) -> Option<u64> {
    let counters = storage.raw_table::<String>("counters").unwrap();
    counters
        .get("hits", |v| u64::from_le_bytes(v.try_into().unwrap()))
        .unwrap()
}

#[test]
fn conflicts_are_retried_until_the_commit_wins() {
    let storage = storage(2);
    let mut runs = 0;
    assert_eq!(increment(&storage, 5, &mut runs).unwrap(), 1);
    assert_eq!(runs, 3, "two lost commits, then the winning one");
    assert_eq!(hits(&storage), Some(1), "the lost attempts applied nothing");
}

#[test]
fn the_last_conflict_is_returned_when_attempts_run_out() {
    let storage = storage(10);
    let mut runs = 0;
    let err = increment(&storage, 3, &mut runs).unwrap_err();
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::Conflict), "{err}");
    assert_eq!(runs, 3);
    assert_eq!(hits(&storage), None, "nothing of any attempt was applied");
    assert!(
        err.to_string().contains("run the transaction again"),
        "{err}"
    );
}

#[test]
fn other_errors_are_not_retried() {
    let storage = storage(0);
    let counters = storage.raw_table::<String>("counters").unwrap();
    let mut runs = 0;
    let err = storage
        .write_retrying(5, |tx| {
            runs += 1;
            counters.put_in(tx, "x", b"x")?;
            Err::<(), _>(Error::callback(std::io::Error::other("no")))
        })
        .unwrap_err();
    assert!(matches!(err, Error::Callback { .. }), "{err:?}");
    assert_eq!(runs, 1);
    assert_eq!(counters.len().unwrap(), 0);
}

#[test]
fn zero_attempts_still_runs_once() {
    let storage = storage(0);
    let mut runs = 0;
    assert_eq!(increment(&storage, 0, &mut runs).unwrap(), 1);
    assert_eq!(runs, 1);
}
