//! redb's auto-commit reads reuse kept snapshots (`src/engines/redb/reuse.rs`); they must still
//! never go back in time while commits run: a read sees at least what any read that ended
//! before it began saw, and at least every commit that returned before it began — what a raw
//! redb user beginning a fresh read transaction per read gets.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zerotable::engine::{Engine, WriteOptions};
use zerotable::{Durability, RedbEngine, RedbOptions};

const TABLE: &str = "counter";
const KEY: &[u8] = b"k0";

/// How long the writer commits and the readers read.
const RUN: Duration = Duration::from_secs(2);
/// Reader threads: more than the engine keeps snapshots (4), and their reads nest deeper than
/// that too (see [`Reader::read`]), so reads both reuse kept snapshots and begin fresh ones.
const READERS: usize = 6;

fn decode(bytes: &[u8]) -> zerotable::Result<u64> {
    Ok(u64::from_be_bytes(
        bytes.try_into().expect("the counter is 8 bytes"),
    ))
}

/// The counter as of the latest commit, by an auto-commit get; `inside` runs in its callback.
fn auto_get(engine: &RedbEngine, inside: impl FnOnce()) -> u64 {
    let mut value = None;
    let mut inside = Some(inside);
    let found = engine
        .get(TABLE, KEY, &mut |bytes| {
            value = Some(decode(bytes)?);
            if let Some(inside) = inside.take() {
                inside();
            }
            Ok(())
        })
        .unwrap();
    assert!(found);
    value.unwrap()
}

/// The counter in a scoped read (`Engine::read`), read twice in the same snapshot; `inside`
/// runs between the two.
fn scoped_get(engine: &RedbEngine, inside: impl FnOnce()) -> u64 {
    let mut values = [None; 2];
    let mut inside = Some(inside);
    engine
        .read(&mut |reader| {
            for value in &mut values {
                reader.get(TABLE, KEY, &mut |bytes| {
                    *value = Some(decode(bytes)?);
                    Ok(())
                })?;
                if let Some(inside) = inside.take() {
                    inside();
                }
            }
            Ok(())
        })
        .unwrap();
    let [first, second] = values.map(Option::unwrap);
    assert_eq!(first, second, "one snapshot, two answers");
    first
}

/// What a read must see at least: what was known when it began.
struct Shared {
    /// The value of the last commit that returned.
    committed: AtomicU64,
    /// The highest value a finished read (of any thread) saw.
    seen: AtomicU64,
    done: AtomicBool,
}

/// One reader thread: the highest value its finished reads saw.
struct Reader<'a> {
    id: usize,
    engine: &'a RedbEngine,
    shared: &'a Shared,
    last: u64,
    reads: u64,
}

impl Reader<'_> {
    /// One read, with `depth - 1` more nested in its callback (auto-commit gets, or a scoped
    /// read every third one). Nested deeper than the engine keeps snapshots (4), the innermost
    /// reads find every kept snapshot busy and begin their own transaction, while the outer
    /// ones (and the next reads) use kept snapshots: both kinds meet every commit.
    fn read(&mut self, depth: u32) {
        // What was known before this read began.
        let floor_last = self.last;
        let floor_commit = self.shared.committed.load(Ordering::Acquire);
        let floor_seen = self.shared.seen.load(Ordering::Acquire);
        let engine = self.engine;
        let scoped = (self.reads + self.id as u64).is_multiple_of(3);
        self.reads += 1;
        let inner = |this: &mut Self| {
            if depth > 1 {
                this.read(depth - 1);
            }
        };
        let (how, value) = if scoped {
            ("scoped read", scoped_get(engine, || inner(self)))
        } else {
            ("auto-commit get", auto_get(engine, || inner(self)))
        };
        let id = self.id;
        assert!(
            value >= floor_last,
            "reader {id}: {how} went back from {floor_last} to {value}"
        );
        assert!(
            value >= floor_commit,
            "reader {id}: {how} saw {value}, but {floor_commit} was committed before it began"
        );
        assert!(
            value >= floor_seen,
            "reader {id}: {how} saw {value}, but a read (of any thread) that ended before it \
             began saw {floor_seen}"
        );
        self.shared.seen.fetch_max(value, Ordering::AcqRel);
        self.last = self.last.max(value);
    }
}

/// Adds one to the counter in `txn`; returns the new value.
fn increment(txn: &dyn zerotable::engine::WriteTxn) -> zerotable::Result<u64> {
    let mut current = 0;
    txn.get(TABLE, KEY, &mut |bytes| {
        current = decode(bytes)?;
        Ok(())
    })?;
    txn.put(TABLE, KEY, &(current + 1).to_be_bytes())?;
    Ok(current + 1)
}

/// One writer commits increments (boxed and scoped transactions, in turn) while readers read the
/// counter (auto-commit gets and scoped reads, nested up to 6 deep). Each read must see at least:
/// - what this thread's reads that ended before it began saw (monotonic reads);
/// - what any thread's read that ended before it began saw;
/// - the value of every commit that returned before it began.
#[test]
fn auto_commit_reads_never_go_back_while_commits_run() {
    let dir = tempfile::tempdir().unwrap();
    let engine = RedbEngine::open_with(
        dir.path().join("monotonic.redb"),
        RedbOptions::default().durability(Durability::None),
    )
    .unwrap();
    engine
        .write(WriteOptions::default(), &mut |txn| {
            txn.put(TABLE, KEY, &0u64.to_be_bytes())
        })
        .unwrap();
    let shared = Shared {
        committed: AtomicU64::new(0),
        seen: AtomicU64::new(0),
        done: AtomicBool::new(false),
    };
    let start = Instant::now();

    let (commits, reads) = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..READERS)
            .map(|id| {
                let (engine, shared) = (&engine, &shared);
                scope.spawn(move || {
                    let mut reader = Reader {
                        id,
                        engine,
                        shared,
                        last: 0,
                        reads: 0,
                    };
                    let mut round = id as u32;
                    while !shared.done.load(Ordering::Acquire) {
                        reader.read(1 + round % 6);
                        round += 1;
                        // Lets the writer in: more commits, more chances to meet one.
                        std::thread::yield_now();
                    }
                    reader.reads
                })
            })
            .collect();

        let (engine, shared) = (&engine, &shared);
        let writer = scope.spawn(move || {
            // Stops the readers however the writer ends (a failed commit too).
            struct Done<'a>(&'a AtomicBool);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Release);
                }
            }
            let _done = Done(&shared.done);
            let mut commits = 0u64;
            while start.elapsed() < RUN {
                let value = if commits.is_multiple_of(2) {
                    let txn = engine.begin_write(WriteOptions::default()).unwrap();
                    let value = increment(&*txn).unwrap();
                    txn.commit().unwrap();
                    value
                } else {
                    let mut value = 0;
                    engine
                        .write(WriteOptions::default(), &mut |txn| {
                            value = increment(txn)?;
                            Ok(())
                        })
                        .unwrap();
                    value
                };
                shared.committed.store(value, Ordering::Release);
                commits += 1;
            }
            commits
        });

        let commits = writer.join().unwrap();
        let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        (commits, reads)
    });

    assert_eq!(auto_get(&engine, || ()), commits);
    eprintln!("{commits} commits, {reads} reads");
    assert!(
        commits > 10 && reads > 100,
        "{commits} commits, {reads} reads"
    );
}
