//! Random point reads of one field (`revenue`) by key, on every contender.
//!
//! - `point_get_hot`: a 10,000-row store; one iteration is one read.
//! - `point_get_large`: a `ZEROTABLE_BENCH_ROWS`-row store (1,000,000 by default); one read.
//! - `point_get_snapshot`: the same store; one iteration is [`SNAPSHOT_GETS`] reads in one read
//!   transaction (one snapshot, the table opened once): many reads the way a careful user of
//!   the raw engine does them.
//! - `point_get_4threads`: the same large stores, read by 4 threads at once (scoped threads,
//!   each with its own `Contender::reader()` and its own random keys); one iteration is
//!   [`GETS_PER_THREAD`] reads on each thread. The machine this suite targets has 2 cores, so
//!   this measures contention and oversubscription as much as parallel speed-up.
//!
//! Every store is built once, before its group, in a temporary directory; the keys are a fixed
//! pseudo-random sequence, the same for every contender.
//!
//! ```text
//! cargo bench --bench point_get
//! ```

mod common;

use std::hint::black_box;

use common::{HOT_ROWS, KEYS, Store, cycle, loaded_stores, rows};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zerotable_peers::data::random_keys;

/// Reader threads of `point_get_4threads`.
const THREADS: usize = 4;
/// Reads per iteration of `point_get_snapshot`, all in one read transaction.
const SNAPSHOT_GETS: usize = 1_000;
/// Reads each thread does per iteration of `point_get_4threads`.
const GETS_PER_THREAD: usize = 10_000;

/// Benchmarks one random point read per iteration on every store of `stores`.
fn single_reads(c: &mut Criterion, group: &str, stores: &mut [Store], count: u64) {
    let keys = random_keys(KEYS, count, 0x5EED);
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(1));
    for store in stores {
        let name = store.name();
        let mut next = cycle(&keys);
        group.bench_function(name, |b| {
            b.iter(|| black_box(store.contender.revenue(next())))
        });
    }
    group.finish();
}

fn point_get(c: &mut Criterion) {
    let mut hot = loaded_stores(HOT_ROWS);
    single_reads(c, "point_get_hot", &mut hot, HOT_ROWS);
    drop(hot);

    let count = rows();
    let mut large = loaded_stores(count);
    single_reads(c, "point_get_large", &mut large, count);

    let keys = random_keys(KEYS, count, 0x5EED);
    let mut group = c.benchmark_group("point_get_snapshot");
    group.throughput(Throughput::Elements(SNAPSHOT_GETS as u64));
    for store in &mut large {
        let mut batches = keys.chunks(SNAPSHOT_GETS).cycle();
        group.bench_function(store.name(), |b| {
            b.iter(|| {
                let batch = batches.next().expect("cycles forever");
                black_box(store.contender.revenues(batch))
            })
        });
    }
    group.finish();

    let keys: Vec<Vec<u64>> = (0..THREADS)
        .map(|t| random_keys(GETS_PER_THREAD, count, 0x7EAD + t as u64))
        .collect();
    let mut group = c.benchmark_group("point_get_4threads");
    group.throughput(Throughput::Elements((THREADS * GETS_PER_THREAD) as u64));
    for store in &large {
        let mut readers: Vec<_> = (0..THREADS).map(|_| store.contender.reader()).collect();
        for reader in &mut readers {
            assert!(
                reader(keys[0][0]).is_some(),
                "{}: reader finds a stored key",
                store.name()
            );
        }
        group.bench_function(store.name(), |b| {
            b.iter(|| {
                std::thread::scope(|scope| {
                    for (reader, keys) in readers.iter_mut().zip(&keys) {
                        scope.spawn(move || {
                            for &key in keys {
                                black_box(reader(key));
                            }
                        });
                    }
                });
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = point_get
}
criterion_main!(benches);
