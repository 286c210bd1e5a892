//! The read cache ([`CachedEngine`]): the whole conformance suite over memory and redb (and
//! over memory with a cache small enough to evict all the time), a bounded-time stress test of
//! snapshot isolation and atomic visibility with readers and writers racing through the cache,
//! and unit tests of its counters, bounds, invalidation and misbehaving callbacks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use zerotable::engine::{
    Capabilities, Engine, Found, KeyRange, ReadOps, ReadTxn, TableStats, Visit, WriteBody,
    WriteOptions, WriteTxn,
};
use zerotable::layers::{CacheOptions, CacheStats, CachedEngine};
use zerotable::testing::{LayeredHarness, MemoryHarness, RedbHarness};
use zerotable::{
    Durability, EngineErrorKind, Error, MemoryEngine, Operation, RedbEngine, RedbOptions, Result,
};

/// The default cache (64 MiB) over `engine`.
fn cache(engine: Arc<dyn Engine>) -> Arc<dyn Engine> {
    Arc::new(CachedEngine::over(engine, CacheOptions::default()))
}

/// 4 KiB: one shard, about thirty small entries — eviction runs all through the suite.
fn tiny_cache(engine: Arc<dyn Engine>) -> Arc<dyn Engine> {
    Arc::new(CachedEngine::over(
        engine,
        CacheOptions { capacity: 4 << 10 },
    ))
}

zerotable::conformance_suite!(
    cache_over_memory,
    LayeredHarness {
        name: "cache over memory",
        inner: MemoryHarness,
        wrap: cache
    }
);
zerotable::conformance_suite!(
    cache_over_redb,
    LayeredHarness {
        name: "cache over redb",
        inner: RedbHarness::DEFAULT,
        wrap: cache
    }
);
zerotable::conformance_suite!(
    tiny_cache_over_memory,
    LayeredHarness {
        name: "4 KiB cache over memory",
        inner: MemoryHarness,
        wrap: tiny_cache
    }
);

// ---------------------------------------------------------------------------------------------
// Helpers

fn cached(capacity: u64) -> CachedEngine {
    CachedEngine::new(MemoryEngine::new(), CacheOptions { capacity })
}

fn put(engine: &dyn Engine, table: &str, key: &[u8], value: &[u8]) {
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put(table, key, value))
        .expect("put");
}

fn latest(engine: &dyn Engine, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    let mut out = None;
    let found = engine
        .get(table, key, &mut |bytes| {
            out = Some(bytes.to_vec());
            Ok(())
        })
        .expect("get");
    assert_eq!(found, out.is_some(), "get's answer matches its callback");
    out
}

fn read_in(reads: &dyn ReadOps, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    let mut out = None;
    let found = reads
        .get(table, key, &mut |bytes| {
            out = Some(bytes.to_vec());
            Ok(())
        })
        .expect("snapshot get");
    assert_eq!(found, out.is_some(), "get's answer matches its callback");
    out
}

fn counter(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("an 8-byte counter"))
}

/// A small xorshift generator: the stress test needs variety, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Stress: snapshot isolation and atomic visibility through the cache

const KEYS: u64 = 8;
const FILL: u64 = 400;
const RUN_FOR: Duration = Duration::from_millis(1_000);

fn key(i: u64) -> Vec<u8> {
    format!("k{i}").into_bytes()
}

/// Every commit writes the same counter to `k0..k8` of table `c` and keeps `flag` present
/// (holding the counter) exactly when the counter is even; some commits clear the table first
/// (by `delete_range` or `drop_table`). Readers check that each snapshot sees one commit whole,
/// no older than the last commit finished before it began and none started after, and that it
/// keeps seeing it; that auto-commit gets never miss a commit that returned before them and —
/// with `latest_in_order`, when the inner engine's own auto-commit reads keep that promise —
/// never go back in time nor see part of a commit.
fn stress(name: &str, engine: Arc<CachedEngine>, options: WriteOptions, latest_in_order: bool) {
    engine
        .write(options, &mut |txn| {
            for i in 0..KEYS {
                txn.put("c", &key(i), &0u64.to_be_bytes())?;
            }
            txn.put("c", b"flag", &0u64.to_be_bytes())?;
            for i in 0..FILL {
                txn.put("fill", &i.to_be_bytes(), &[7; 40])?;
            }
            Ok(())
        })
        .unwrap();
    let attempted = AtomicU64::new(0); // the highest counter a body has written
    let committed = AtomicU64::new(0); // the highest counter whose commit returned
    let stop = AtomicBool::new(false);
    let commits = AtomicU64::new(0);
    let snapshots = AtomicU64::new(0);

    let check_snapshot = |reads: &dyn ReadOps, floor: u64, ceiling: u64, rng: &mut Rng| {
        let values: Vec<u64> = (0..KEYS)
            .map(|i| counter(&read_in(reads, "c", &key(i)).expect("every key exists")))
            .collect();
        let v = values[0];
        assert!(
            values.iter().all(|&x| x == v),
            "{name}: a snapshot sees one commit whole: {values:?}"
        );
        assert!(
            v >= floor,
            "{name}: a snapshot sees commits finished before it ({v} < {floor})"
        );
        assert!(
            v <= ceiling,
            "{name}: a snapshot sees no commit started after it ({v} > {ceiling})"
        );
        let flag = read_in(reads, "c", b"flag").map(|f| counter(&f));
        assert_eq!(
            flag,
            v.is_multiple_of(2).then_some(v),
            "{name}: flag of counter {v}"
        );
        for _ in 0..8 {
            let i = rng.next() % FILL;
            assert!(read_in(reads, "fill", &i.to_be_bytes()).is_some());
        }
        thread::yield_now();
        // Later commits, and other readers caching their values, change nothing here.
        for i in (0..KEYS).rev() {
            let again = counter(&read_in(reads, "c", &key(i)).unwrap());
            assert_eq!(again, v, "{name}: a snapshot keeps seeing its state");
        }
        let flag_again = read_in(reads, "c", b"flag").map(|f| counter(&f));
        assert_eq!(flag_again, flag, "{name}: a snapshot keeps seeing its flag");
    };

    thread::scope(|s| {
        for w in 0..2u64 {
            let engine = &engine;
            let (attempted, committed, stop, commits) = (&attempted, &committed, &stop, &commits);
            s.spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1));
                while !stop.load(Ordering::Relaxed) {
                    let variant = rng.next() % 8;
                    let mut n = 0;
                    let mut body = |txn: &dyn WriteTxn| -> Result<()> {
                        let mut current = None;
                        txn.get("c", &key(0), &mut |bytes| {
                            current = Some(counter(bytes));
                            Ok(())
                        })?;
                        n = current.expect("k0 exists") + 1;
                        attempted.fetch_max(n, Ordering::SeqCst);
                        match variant {
                            0 => {
                                txn.delete_range("c", &KeyRange::ALL)?;
                            }
                            1 => {
                                txn.drop_table("c")?;
                            }
                            _ => {}
                        }
                        for i in 0..KEYS {
                            txn.put("c", &key(i), &n.to_be_bytes())?;
                        }
                        if n.is_multiple_of(2) {
                            txn.put("c", b"flag", &n.to_be_bytes())?;
                        } else {
                            txn.delete("c", b"flag")?;
                        }
                        if variant == 2 {
                            txn.put("fill", &(n % FILL).to_be_bytes(), &[n as u8; 40])?;
                        }
                        Ok(())
                    };
                    if rng.next().is_multiple_of(2) {
                        engine.write(options, &mut body).unwrap();
                    } else {
                        let txn = engine.begin_write(options).unwrap();
                        body(&*txn).unwrap();
                        txn.commit().unwrap();
                    }
                    committed.fetch_max(n, Ordering::SeqCst);
                    commits.fetch_add(1, Ordering::Relaxed);
                    if rng.next().is_multiple_of(2) {
                        // Quiet moments, in which readers fill the cache and hit it.
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            });
        }
        for r in 0..3u64 {
            let engine = &engine;
            let (attempted, committed, stop, snapshots) =
                (&attempted, &committed, &stop, &snapshots);
            let check_snapshot = &check_snapshot;
            s.spawn(move || {
                let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ (r + 7));
                while !stop.load(Ordering::Relaxed) {
                    let floor = committed.load(Ordering::SeqCst);
                    if rng.next().is_multiple_of(2) {
                        let snapshot = engine.begin_read().unwrap();
                        let ceiling = attempted.load(Ordering::SeqCst);
                        check_snapshot(&*snapshot, floor, ceiling, &mut rng);
                    } else {
                        engine
                            .read(&mut |reads| {
                                let ceiling = attempted.load(Ordering::SeqCst);
                                check_snapshot(reads, floor, ceiling, &mut rng);
                                Ok(())
                            })
                            .unwrap();
                    }
                    snapshots.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for r in 0..2u64 {
            let engine = &engine;
            let (committed, stop) = (&committed, &stop);
            s.spawn(move || {
                let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (r + 3));
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    let floor = committed.load(Ordering::SeqCst);
                    let flag = latest(&**engine, "c", b"flag").map(|f| counter(&f));
                    if let Some(f) = flag {
                        assert_eq!(f % 2, 0, "{name}: the flag is only ever even");
                        assert!(f >= floor, "{name}: flag = {f} misses commit {floor}");
                        if latest_in_order {
                            assert!(f >= last, "{name}: the flag went back from {last} to {f}");
                        }
                        last = f;
                    }
                    for i in 0..KEYS {
                        let v = counter(&latest(&**engine, "c", &key(i)).unwrap());
                        if latest_in_order {
                            assert!(
                                v >= last,
                                "{name}: auto-commit k{i} went back from {last} to {v}: \
                                 a commit seen partly, or time going backwards"
                            );
                        }
                        assert!(v >= floor, "{name}: k{i} = {v} misses commit {floor}");
                        last = v;
                    }
                    for _ in 0..8 {
                        let i = rng.next() % FILL;
                        assert!(latest(&**engine, "fill", &i.to_be_bytes()).is_some());
                    }
                }
            });
        }
        thread::sleep(RUN_FOR);
        stop.store(true, Ordering::Relaxed);
    });

    let stats = engine.stats();
    let commits = commits.load(Ordering::Relaxed);
    let snapshots = snapshots.load(Ordering::Relaxed);
    println!("{name}: {commits} commits, {snapshots} snapshots checked, {stats:?}");
    assert!(commits > 10, "{name}: writers made progress");
    assert!(snapshots > 10, "{name}: readers made progress");
    assert!(stats.hits > 0, "{name}: the cache served reads: {stats:?}");
    assert!(
        stats.invalidations > 0,
        "{name}: commits invalidated: {stats:?}"
    );
}

#[test]
fn stress_over_memory_with_a_small_cache() {
    let engine = Arc::new(cached(16 << 10));
    stress(
        "memory, 16 KiB",
        Arc::clone(&engine),
        WriteOptions::DEFAULT,
        true,
    );
    let stats = engine.stats();
    assert!(stats.evictions > 0, "eviction ran: {stats:?}");
    assert!(stats.bytes <= 16 << 10, "{stats:?}");
}

#[test]
fn stress_over_memory_with_shards() {
    // 256 KiB: four shards of 64 KiB.
    let engine = Arc::new(cached(256 << 10));
    stress(
        "memory, 256 KiB",
        Arc::clone(&engine),
        WriteOptions::DEFAULT,
        true,
    );
    assert!(engine.stats().bytes <= 256 << 10);
}

fn stress_redb() -> (tempfile::TempDir, RedbEngine) {
    let dir = tempfile::tempdir().unwrap();
    let redb = RedbEngine::open_with(
        dir.path().join("stress.redb"),
        RedbOptions::default().durability(Durability::None),
    )
    .unwrap();
    (dir, redb)
}

/// Over `RedbEngine` as it is. Its auto-commit reads (and scoped reads) reuse kept snapshots,
/// and while a commit is in flight — applied by redb, but before the engine outdates its kept
/// snapshots — a read on a kept snapshot can show the state before a commit that a fresh read
/// just showed. The cache sends auto-commit gets to the inner engine while a commit is in
/// flight, so it cannot order what the engine does not: the order of auto-commit reads is
/// checked in `stress_over_redb_fresh_reads_with_a_small_cache` instead.
#[test]
fn stress_over_redb_with_a_small_cache() {
    let (_dir, redb) = stress_redb();
    let engine = Arc::new(CachedEngine::new(redb, CacheOptions { capacity: 16 << 10 }));
    stress(
        "redb, 16 KiB",
        Arc::clone(&engine),
        WriteOptions::durability(Durability::None),
        false,
    );
    assert!(engine.stats().evictions > 0);
}

/// Redb whose every read is a fresh redb transaction (no kept snapshot), so that its own
/// auto-commit reads are in commit order: the cache over it is held to the full check.
struct FreshRedb(RedbEngine);

impl Engine for FreshRedb {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        self.0.begin_read()
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        self.0.begin_write(options)
    }

    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        self.0.write(options, body)
    }

    fn name(&self) -> &'static str {
        "redb, fresh reads"
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
}

#[test]
fn stress_over_redb_fresh_reads_with_a_small_cache() {
    let (_dir, redb) = stress_redb();
    let engine = Arc::new(CachedEngine::new(
        FreshRedb(redb),
        CacheOptions { capacity: 16 << 10 },
    ));
    stress(
        "redb fresh reads, 16 KiB",
        Arc::clone(&engine),
        WriteOptions::durability(Durability::None),
        true,
    );
    assert!(engine.stats().evictions > 0);
}

// ---------------------------------------------------------------------------------------------
// Unit tests

#[test]
fn hits_and_misses_are_counted() {
    let engine = cached(1 << 20);
    assert_eq!(latest(&engine, "t", b"k"), None);
    let stats = engine.stats();
    assert_eq!((stats.hits, stats.misses, stats.inserts), (0, 1, 1));
    assert_eq!(
        latest(&engine, "t", b"k"),
        None,
        "absence is served from the cache"
    );
    assert_eq!((engine.stats().hits, engine.stats().misses), (1, 1));

    put(&engine, "t", b"k", b"one");
    let stats = engine.stats();
    assert_eq!(stats.invalidations, 1, "the put removed the cached absence");
    assert_eq!(stats.entries, 0);
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"one"[..]));
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"one"[..]));
    let stats = engine.stats();
    assert_eq!((stats.hits, stats.misses, stats.inserts), (2, 2, 2));

    // Snapshot reads count too; reads in a write transaction do not.
    let snapshot = engine.begin_read().unwrap();
    assert_eq!(read_in(&*snapshot, "t", b"k").as_deref(), Some(&b"one"[..]));
    drop(snapshot);
    engine
        .read(&mut |reads| {
            assert_eq!(read_in(reads, "t", b"k").as_deref(), Some(&b"one"[..]));
            Ok(())
        })
        .unwrap();
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert_eq!(read_in(txn, "t", b"k").as_deref(), Some(&b"one"[..]));
            Ok(())
        })
        .unwrap();
    let stats = engine.stats();
    assert_eq!((stats.hits, stats.misses), (4, 2));
    assert_eq!(stats.entries, 1);
    assert!(stats.bytes > 0);
}

#[test]
fn a_hit_after_a_put_sees_the_new_value() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"k", b"one");
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"one"[..]));
    put(&engine, "t", b"k", b"two");
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"two"[..]));
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"two"[..]));
    // Through a boxed transaction too, and a delete.
    let txn = engine.begin_write(WriteOptions::DEFAULT).unwrap();
    assert!(txn.delete("t", b"k").unwrap());
    txn.commit().unwrap();
    assert_eq!(latest(&engine, "t", b"k"), None);
    let snapshot = engine.begin_read().unwrap();
    assert_eq!(read_in(&*snapshot, "t", b"k"), None);
    assert!(engine.stats().hits >= 1);
}

#[test]
fn a_dropped_write_transaction_invalidates_nothing_and_changes_nothing() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"k", b"one");
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"one"[..]));
    let txn = engine.begin_write(WriteOptions::DEFAULT).unwrap();
    txn.put("t", b"k", b"two").unwrap();
    drop(txn);
    let failed = engine.write(WriteOptions::DEFAULT, &mut |txn| {
        txn.put("t", b"k", b"three")?;
        Err(Error::callback(std::io::Error::other("changed my mind")))
    });
    assert!(matches!(failed, Err(Error::Callback { .. })));
    let hits = engine.stats().hits;
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"one"[..]));
    assert_eq!(engine.stats().hits, hits + 1, "still cached");
}

#[test]
fn eviction_keeps_bytes_under_capacity() {
    for capacity in [4u64 << 10, 200 << 10, 1 << 20] {
        let engine = cached(capacity);
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                for i in 0..5_000u32 {
                    txn.put("t", &i.to_be_bytes(), &[1; 100])?;
                }
                Ok(())
            })
            .unwrap();
        for round in 0..2 {
            for i in 0..5_000u32 {
                assert_eq!(latest(&engine, "t", &i.to_be_bytes()), Some(vec![1; 100]));
                let stats = engine.stats();
                assert!(
                    stats.bytes <= capacity,
                    "capacity {capacity}, round {round}: {stats:?}"
                );
            }
        }
        let stats = engine.stats();
        assert!(stats.evictions > 0, "capacity {capacity}: {stats:?}");
        assert!(stats.entries > 0 && stats.entries < 5_000, "{stats:?}");
        assert_eq!(stats.inserts - stats.evictions, stats.entries, "{stats:?}");
    }
}

#[test]
fn recently_read_entries_survive_eviction() {
    // CLOCK gives a second chance to what was read since the hand last passed.
    let engine = cached(16 << 10);
    for i in 0..200u32 {
        put(&engine, "t", &i.to_be_bytes(), b"v");
    }
    latest(&engine, "t", b"hot");
    for i in 0..200u32 {
        latest(&engine, "t", &i.to_be_bytes());
        latest(&engine, "t", b"hot");
    }
    let hits = engine.stats().hits;
    latest(&engine, "t", b"hot");
    assert_eq!(engine.stats().hits, hits + 1, "the hot key stayed");
}

#[test]
fn large_values_pass_through_uncached() {
    let engine = cached(4 << 10);
    put(&engine, "t", b"big", &[9; 2_000]);
    assert_eq!(latest(&engine, "t", b"big"), Some(vec![9; 2_000]));
    assert_eq!(latest(&engine, "t", b"big"), Some(vec![9; 2_000]));
    let stats = engine.stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (0, 2, 0));
}

#[test]
fn capacity_zero_caches_nothing() {
    let engine = cached(0);
    put(&engine, "t", b"k", b"v");
    for _ in 0..3 {
        assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"v"[..]));
        let snapshot = engine.begin_read().unwrap();
        assert_eq!(read_in(&*snapshot, "t", b"k").as_deref(), Some(&b"v"[..]));
    }
    let stats = engine.stats();
    assert_eq!(
        (stats.hits, stats.inserts, stats.entries, stats.bytes),
        (0, 0, 0, 0)
    );
}

#[test]
fn an_old_snapshot_does_not_see_a_newer_cached_value() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"k", b"one");
    let boxed = engine.begin_read().unwrap();
    put(&engine, "t", b"k", b"two");
    // The latest value is cached now, from epoch after the snapshot's.
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"two"[..]));
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"two"[..]));
    assert_eq!(read_in(&*boxed, "t", b"k").as_deref(), Some(&b"one"[..]));
    assert_eq!(read_in(&*boxed, "t", b"k").as_deref(), Some(&b"one"[..]));
    // A key absent when it began and written since: still absent for it.
    put(&engine, "t", b"new", b"x");
    assert_eq!(latest(&engine, "t", b"new").as_deref(), Some(&b"x"[..]));
    assert_eq!(read_in(&*boxed, "t", b"new"), None);
    // And one deleted since: still there for it.
    let engine_ref: &dyn Engine = &engine;
    engine_ref
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.delete("t", b"k").map(drop)
        })
        .unwrap();
    assert_eq!(latest(&engine, "t", b"k"), None);
    assert_eq!(latest(&engine, "t", b"k"), None);
    assert_eq!(read_in(&*boxed, "t", b"k").as_deref(), Some(&b"one"[..]));
}

#[test]
fn an_old_snapshot_uses_entries_that_still_hold_for_it() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"k", b"one");
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"one"[..])); // cached
    let snapshot = engine.begin_read().unwrap();
    put(&engine, "t", b"other", b"x"); // a later commit that does not touch k
    let hits = engine.stats().hits;
    assert_eq!(read_in(&*snapshot, "t", b"k").as_deref(), Some(&b"one"[..]));
    assert_eq!(
        engine.stats().hits,
        hits + 1,
        "the entry predates the snapshot: a hit"
    );
    // Once k changes, the old snapshot reads its own state from the engine.
    put(&engine, "t", b"k", b"two");
    assert_eq!(read_in(&*snapshot, "t", b"k").as_deref(), Some(&b"one"[..]));
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"two"[..]));
    // A snapshot that is not the latest never fills the cache.
    let inserts = engine.stats().inserts;
    assert_eq!(read_in(&*snapshot, "t", b"unread"), None);
    assert_eq!(engine.stats().inserts, inserts);
}

#[test]
fn scoped_reads_see_their_own_state() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"k", b"one");
    engine
        .read(&mut |reads| {
            assert_eq!(read_in(reads, "t", b"k").as_deref(), Some(&b"one"[..]));
            // A commit from inside the read (another key's callback may write, too).
            put(&engine, "t", b"k", b"two");
            assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"two"[..]));
            assert_eq!(read_in(reads, "t", b"k").as_deref(), Some(&b"one"[..]));
            Ok(())
        })
        .unwrap();
}

#[test]
fn whole_table_invalidation() {
    let engine = cached(1 << 20);
    for key in [&b"a"[..], b"b", b"c"] {
        put(&engine, "t", key, b"v");
        put(&engine, "u", key, b"v");
    }
    let read_all = |expect: Option<&[u8]>| {
        for key in [&b"a"[..], b"b", b"c"] {
            assert_eq!(latest(&engine, "t", key).as_deref(), expect);
            assert_eq!(latest(&engine, "t", key).as_deref(), expect);
        }
    };
    read_all(Some(b"v"));
    assert_eq!(latest(&engine, "u", b"a").as_deref(), Some(&b"v"[..]));
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.delete_range("t", &KeyRange::ALL).map(drop)
        })
        .unwrap();
    read_all(None);
    let hits = engine.stats().hits;
    assert_eq!(latest(&engine, "u", b"a").as_deref(), Some(&b"v"[..]));
    assert_eq!(
        engine.stats().hits,
        hits + 1,
        "another table's entries stay"
    );

    for key in [&b"a"[..], b"b", b"c"] {
        put(&engine, "t", key, b"w");
    }
    read_all(Some(b"w"));
    let snapshot = engine.begin_read().unwrap();
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.drop_table("t").map(drop)
        })
        .unwrap();
    read_all(None);
    for key in [&b"a"[..], b"b", b"c"] {
        assert_eq!(read_in(&*snapshot, "t", key).as_deref(), Some(&b"w"[..]));
    }
}

#[test]
fn a_bulk_write_invalidates_its_table_whole() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"kept", b"old");
    put(&engine, "t", &5u32.to_be_bytes(), b"old");
    assert_eq!(latest(&engine, "t", b"kept").as_deref(), Some(&b"old"[..]));
    assert_eq!(
        latest(&engine, "t", &5u32.to_be_bytes()).as_deref(),
        Some(&b"old"[..])
    );
    let invalidations = engine.stats().invalidations;
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for i in 0..20_000u32 {
                txn.put("t", &i.to_be_bytes(), b"new")?;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(
        latest(&engine, "t", &5u32.to_be_bytes()).as_deref(),
        Some(&b"new"[..])
    );
    assert_eq!(
        latest(&engine, "t", &19_999u32.to_be_bytes()).as_deref(),
        Some(&b"new"[..])
    );
    assert_eq!(latest(&engine, "t", b"kept").as_deref(), Some(&b"old"[..]));
    // The first keys were removed one by one, then the table went whole (one more).
    let stats = engine.stats();
    assert!(stats.invalidations > invalidations, "{stats:?}");
}

#[test]
fn creating_a_table_keeps_its_cached_absences() {
    let engine = cached(1 << 20);
    assert_eq!(latest(&engine, "t", b"k"), None);
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| txn.create_table("t"))
        .unwrap();
    let hits = engine.stats().hits;
    assert_eq!(latest(&engine, "t", b"k"), None);
    assert_eq!(engine.stats().hits, hits + 1);
}

#[test]
fn clear_empties_the_cache() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"k", b"v");
    latest(&engine, "t", b"k");
    latest(&engine, "t", b"x");
    assert_eq!(engine.stats().entries, 2);
    engine.clear();
    let stats = engine.stats();
    assert_eq!((stats.entries, stats.bytes), (0, 0));
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"v"[..]));
    assert_eq!(engine.stats().entries, 1);
}

#[test]
fn a_callback_error_propagates_on_a_hit_and_on_a_miss() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"k", b"v");
    for round in ["miss", "hit"] {
        let err = engine
            .get("t", b"k", &mut |_| {
                Err(Error::callback(std::io::Error::other("no thanks")))
            })
            .unwrap_err();
        match err {
            Error::Callback { source } => assert_eq!(source.to_string(), "no thanks", "{round}"),
            other => panic!("{round}: {other:?}"),
        }
        // The miss cached nothing (its callback failed); read it once to cache it.
        assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"v"[..]));
    }
    let snapshot = engine.begin_read().unwrap();
    for _ in 0..2 {
        let err = snapshot
            .get("t", b"k", &mut |_| {
                Err(Error::callback(std::io::Error::other("snap")))
            })
            .unwrap_err();
        assert!(matches!(err, Error::Callback { .. }));
    }
    assert!(engine.stats().hits >= 3);
}

#[test]
fn a_panicking_callback_leaves_the_cache_usable() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"k", b"v");
    for round in ["miss", "hit", "hit again"] {
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            engine.get("t", b"k", &mut |_| panic!("reader gave up"))
        }));
        assert_eq!(
            panicked.unwrap_err().downcast_ref::<&str>(),
            Some(&"reader gave up"),
            "{round}: the caller's own panic payload"
        );
        assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"v"[..]));
    }
    let snapshot = engine.begin_read().unwrap();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        snapshot.get("t", b"k", &mut |_| panic!("snapshot reader"))
    }));
    assert!(panicked.is_err());
    assert_eq!(read_in(&*snapshot, "t", b"k").as_deref(), Some(&b"v"[..]));
    drop(snapshot);
    // A panic in a write body: nothing applied, and commits (and hits) go on.
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        engine.write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("t", b"k", b"half")?;
            panic!("writer gave up")
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"v"[..]));
    put(&engine, "t", b"k", b"w");
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"w"[..]));
    let hits = engine.stats().hits;
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"w"[..]));
    assert_eq!(engine.stats().hits, hits + 1, "the cache still serves hits");
}

#[test]
fn callbacks_may_read_and_write_again() {
    let engine = cached(1 << 20);
    put(&engine, "t", b"a", b"1");
    put(&engine, "t", b"b", b"2");
    for _ in 0..2 {
        let mut inner = None;
        assert!(
            engine
                .get("t", b"a", &mut |_| {
                    inner = latest(&engine, "t", b"b");
                    Ok(())
                })
                .unwrap()
        );
        assert_eq!(inner.as_deref(), Some(&b"2"[..]));
    }
    // A hit whose callback commits a change to the very key it is reading.
    assert!(
        engine
            .get("t", b"a", &mut |v| {
                let next = [v[0] + 1];
                put(&engine, "t", b"a", &next);
                Ok(())
            })
            .unwrap()
    );
    assert_eq!(latest(&engine, "t", b"a").as_deref(), Some(&b"2"[..]));
}

#[test]
fn the_layer_is_found_in_a_storage() {
    let storage = zerotable::Storage::new(cached(1 << 20));
    let users = storage.raw_table::<u64>("users").unwrap();
    users.put(&1, b"ada").unwrap();
    for _ in 0..3 {
        assert_eq!(
            users.get(&1, |v| v.to_vec()).unwrap(),
            Some(b"ada".to_vec())
        );
    }
    let cache = storage.layer::<CachedEngine>().expect("the cache is on");
    assert!(cache.stats().hits >= 2, "{:?}", cache.stats());
    assert_eq!(cache.name(), "memory");
}

#[test]
fn stats_start_at_zero() {
    assert_eq!(cached(1 << 20).stats(), CacheStats::default());
}

// ---------------------------------------------------------------------------------------------
// An engine with hooks: commits that fail or panic after applying (the cache invalidates
// anyway), and gates that hold a snapshot's beginning or a commit's return, to place a
// snapshot exactly across a commit.

/// What [`Faulty`]'s commits do after the memory engine applied them.
const COMMIT_OK: u8 = 0;
const COMMIT_ERR_AFTER_APPLYING: u8 = 1;
const COMMIT_PANIC_AFTER_APPLYING: u8 = 2;

/// A memory engine whose commits can apply and then fail or panic, and whose snapshots and
/// commits can be held at a gate.
struct Faulty {
    inner: MemoryEngine,
    hooks: Arc<Hooks>,
}

#[derive(Default)]
struct Hooks {
    /// `COMMIT_*`.
    mode: AtomicU8,
    /// If set, the next `begin_read` says it arrived, then waits for the go.
    begin_gate: Mutex<Option<Gate>>,
    /// If set, the next commit applies, says so, then waits for the go before returning.
    commit_gate: Mutex<Option<Gate>>,
}

struct Gate {
    arrived: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
}

impl Gate {
    /// A gate, and the ends that watch and open it.
    fn new() -> (Gate, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (arrived, watch) = mpsc::channel();
        let (open, go) = mpsc::channel();
        (Gate { arrived, go }, watch, open)
    }

    fn pass(slot: &Mutex<Option<Gate>>) {
        let gate = slot.lock().unwrap().take();
        if let Some(gate) = gate {
            gate.arrived.send(()).unwrap();
            gate.go.recv().unwrap();
        }
    }
}

struct FaultyWrite {
    inner: Box<dyn WriteTxn>,
    hooks: Arc<Hooks>,
}

impl Engine for Faulty {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Gate::pass(&self.hooks.begin_gate);
        self.inner.begin_read()
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        Ok(Box::new(FaultyWrite {
            inner: self.inner.begin_write(options)?,
            hooks: Arc::clone(&self.hooks),
        }))
    }

    fn name(&self) -> &'static str {
        "faulty"
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

impl ReadOps for FaultyWrite {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.inner.get(table, key, found)
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        self.inner.range(table, range, visit)
    }

    fn len(&self, table: &str) -> Result<u64> {
        self.inner.len(table)
    }

    fn table_stats(&self, table: &str) -> Result<TableStats> {
        self.inner.table_stats(table)
    }
}

impl WriteTxn for FaultyWrite {
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.put(table, key, value)
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.inner.delete(table, key)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let FaultyWrite { inner, hooks } = *self;
        inner.commit()?;
        Gate::pass(&hooks.commit_gate);
        match hooks.mode.load(Ordering::SeqCst) {
            COMMIT_ERR_AFTER_APPLYING => Err(Error::engine_failure(
                None,
                Operation::Commit,
                EngineErrorKind::CommitOutcomeUnknown,
                "the disk went quiet",
            )),
            COMMIT_PANIC_AFTER_APPLYING => panic!("commit blew up after applying"),
            _ => Ok(()),
        }
    }
}

#[test]
fn a_commit_that_fails_or_panics_after_applying_is_invalidated() {
    let hooks = Arc::new(Hooks::default());
    let mode = &hooks.mode;
    let engine = CachedEngine::new(
        Faulty {
            inner: MemoryEngine::new(),
            hooks: Arc::clone(&hooks),
        },
        CacheOptions::default(),
    );
    put(&engine, "t", b"k", b"1");
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"1"[..]));

    mode.store(COMMIT_ERR_AFTER_APPLYING, Ordering::SeqCst);
    for scoped in [false, true] {
        let value: &[u8] = if scoped { b"3" } else { b"2" };
        let outcome = if scoped {
            engine.write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"k", value))
        } else {
            let txn = engine.begin_write(WriteOptions::DEFAULT).unwrap();
            txn.put("t", b"k", value).unwrap();
            txn.commit()
        };
        assert_eq!(
            outcome.unwrap_err().engine_kind(),
            Some(EngineErrorKind::CommitOutcomeUnknown)
        );
        assert_eq!(
            latest(&engine, "t", b"k").as_deref(),
            Some(value),
            "scoped: {scoped}"
        );
        assert_eq!(
            latest(&engine, "t", b"k").as_deref(),
            Some(value),
            "scoped: {scoped}"
        );
    }

    mode.store(COMMIT_PANIC_AFTER_APPLYING, Ordering::SeqCst);
    for (scoped, value) in [(false, &b"4"[..]), (true, &b"5"[..])] {
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            if scoped {
                engine.write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"k", value))
            } else {
                let txn = engine.begin_write(WriteOptions::DEFAULT).unwrap();
                txn.put("t", b"k", value).unwrap();
                txn.commit()
            }
        }));
        assert!(panicked.is_err());
        assert_eq!(
            latest(&engine, "t", b"k").as_deref(),
            Some(value),
            "scoped: {scoped}"
        );
        // The epoch is even again: hits resume.
        let hits = engine.stats().hits;
        assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(value));
        assert_eq!(engine.stats().hits, hits + 1, "scoped: {scoped}");
    }

    mode.store(COMMIT_OK, Ordering::SeqCst);
    put(&engine, "t", b"k", b"6");
    assert_eq!(latest(&engine, "t", b"k").as_deref(), Some(&b"6"[..]));
}

#[test]
fn writers_on_many_threads_with_a_held_snapshot() {
    // Commits from several threads, each followed by reads, while one old snapshot stays.
    let engine = Arc::new(cached(64 << 10));
    put(&*engine, "t", b"k", &0u64.to_be_bytes());
    let old = engine.begin_read().unwrap();
    let deadline = Instant::now() + Duration::from_millis(300);
    thread::scope(|s| {
        for t in 0..3u64 {
            let engine = &engine;
            s.spawn(move || {
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let key = format!("t{t}-{}", i % 50).into_bytes();
                    put(&**engine, "t", &key, &i.to_be_bytes());
                    assert_eq!(latest(&**engine, "t", &key), Some(i.to_be_bytes().to_vec()));
                    i += 1;
                }
            });
        }
    });
    assert_eq!(read_in(&*old, "t", b"k"), Some(0u64.to_be_bytes().to_vec()));
    assert_eq!(read_in(&*old, "t", b"t0-0"), None);
}

#[test]
fn a_snapshot_begun_across_a_commit_bypasses_the_cache() {
    let hooks = Arc::new(Hooks::default());
    let engine = CachedEngine::new(
        Faulty {
            inner: MemoryEngine::new(),
            hooks: Arc::clone(&hooks),
        },
        CacheOptions::default(),
    );
    put(&engine, "t", b"a", b"1");
    put(&engine, "t", b"b", b"1");
    assert_eq!(latest(&engine, "t", b"a").as_deref(), Some(&b"1"[..])); // cached

    // A snapshot reads the epoch, then its inner snapshot begins only once a commit of a and
    // b has been applied — and that commit has not invalidated yet.
    let (gate, begin_arrived, begin_go) = Gate::new();
    *hooks.begin_gate.lock().unwrap() = Some(gate);
    let (gate, commit_applied, commit_go) = Gate::new();
    *hooks.commit_gate.lock().unwrap() = Some(gate);
    thread::scope(|s| {
        let reader = s.spawn(|| {
            let snapshot = engine.begin_read().unwrap();
            (
                read_in(&*snapshot, "t", b"a"),
                read_in(&*snapshot, "t", b"b"),
            )
        });
        begin_arrived.recv().unwrap();
        let writer = s.spawn(|| {
            engine
                .write(WriteOptions::DEFAULT, &mut |txn| {
                    txn.put("t", b"a", b"2")?;
                    txn.put("t", b"b", b"2")
                })
                .unwrap();
        });
        commit_applied.recv().unwrap();
        // Meanwhile, an auto-commit get does not use the entry the commit is about to remove.
        let during = latest(&engine, "t", b"a");
        begin_go.send(()).unwrap();
        let read = reader.join();
        // Open the commit's gate before any assertion, so that a failure cannot hang.
        commit_go.send(()).unwrap();
        writer.join().unwrap();
        assert_eq!(during.as_deref(), Some(&b"2"[..]));
        let (a, b) = read.unwrap();
        assert_eq!(
            a.as_deref(),
            Some(&b"2"[..]),
            "the snapshot sees the commit whole"
        );
        assert_eq!(b.as_deref(), Some(&b"2"[..]));
    });
    assert_eq!(latest(&engine, "t", b"a").as_deref(), Some(&b"2"[..]));
    assert_eq!(latest(&engine, "t", b"b").as_deref(), Some(&b"2"[..]));
}

#[test]
fn a_snapshot_begun_before_a_commit_keeps_its_state_while_it_applies() {
    let hooks = Arc::new(Hooks::default());
    let engine = CachedEngine::new(
        Faulty {
            inner: MemoryEngine::new(),
            hooks: Arc::clone(&hooks),
        },
        CacheOptions::default(),
    );
    put(&engine, "t", b"a", b"1");
    let snapshot = engine.begin_read().unwrap();
    let (gate, commit_applied, commit_go) = Gate::new();
    *hooks.commit_gate.lock().unwrap() = Some(gate);
    thread::scope(|s| {
        let writer = s.spawn(|| put(&engine, "t", b"a", b"2"));
        commit_applied.recv().unwrap();
        // Applied, not yet invalidated: reads of the new state go to the engine, and fill
        // nothing the old snapshot could pick up.
        let seen = catch_unwind(AssertUnwindSafe(|| {
            assert_eq!(latest(&engine, "t", b"a").as_deref(), Some(&b"2"[..]));
            assert_eq!(read_in(&*snapshot, "t", b"a").as_deref(), Some(&b"1"[..]));
            let during = engine.begin_read().unwrap();
            assert_eq!(read_in(&*during, "t", b"a").as_deref(), Some(&b"2"[..]));
            during
        }));
        // Open the commit's gate before any failure propagates, so that none can hang.
        commit_go.send(()).unwrap();
        writer.join().unwrap();
        let during = seen.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        assert_eq!(read_in(&*during, "t", b"a").as_deref(), Some(&b"2"[..]));
    });
    assert_eq!(read_in(&*snapshot, "t", b"a").as_deref(), Some(&b"1"[..]));
    assert_eq!(latest(&engine, "t", b"a").as_deref(), Some(&b"2"[..]));
    assert_eq!(latest(&engine, "t", b"a").as_deref(), Some(&b"2"[..]));
}
