//! Writes and removals, on every contender, durable (fsync per commit) unless said otherwise:
//!
//! - `bulk_load`: `ZEROTABLE_BENCH_ROWS` rows (1,000,000 by default) in key order, in one
//!   transaction, into a fresh, empty store; one iteration is one load (the store is opened
//!   before, and closed and deleted after, the timing).
//! - `bulk_load_random`: the same rows in a random key order (inserts at random places).
//! - `batch_write`: 100 transactions of 1,000 new rows each; one iteration is the 100
//!   transactions.
//! - `write_one_durable`: `ZEROTABLE_BENCH_COMMITS` (1,000 by default) new rows, each in a
//!   transaction of its own, with `Durability::Immediate`; one iteration is every commit.
//! - `write_one_nosync`: the same with `Durability::None`.
//! - `remove_half`: half the rows (the even ids, in a random order) of a fresh store of
//!   100,000 rows, in one transaction; one iteration is the removal (the store is loaded
//!   before the timing).
//!
//! The store the batch and individual writes go to is built once per contender and group and
//! starts with 100,000 rows (fewer if `ZEROTABLE_BENCH_ROWS` is smaller); new rows have ids drawn
//! at random from a key space far larger than the store, so they are inserts at random places,
//! and the store grows over the run. The rows to write are made before the timing.
//!
//! ```text
//! cargo bench --bench write
//! ```

mod common;

use std::time::Duration;

use common::{Store, commits, kinds, new_people, random_half, rows, write_base_rows};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use zerotable_peers::{Durability, Person, people, people_shuffled};

/// Transactions per iteration of `batch_write`.
const BATCHES: usize = 100;
/// Rows per transaction of `batch_write`.
const BATCH_ROWS: usize = 1_000;

/// Benchmarks, on a store of every contender starting with `write_base_rows()` rows, one
/// iteration writing the `count` new rows `write` is given.
fn writes(
    c: &mut Criterion,
    group: &str,
    durability: Durability,
    count: usize,
    write: fn(&mut Store, &[Person]),
) {
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(count as u64));
    group.sampling_mode(SamplingMode::Flat);
    for kind in kinds() {
        let mut store = Store::loaded(kind, write_base_rows(), durability);
        let mut fresh = new_people(count);
        group.bench_function(store.name(), |b| {
            b.iter_batched(
                &mut fresh,
                |rows| {
                    write(&mut store, &rows);
                    // Dropped by criterion after the timing.
                    rows
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Benchmarks loading `count` people, in the order `people` yields them, into a fresh store.
fn bulk_load<I: Iterator<Item = Person>>(c: &mut Criterion, group: &str, people: fn(u64) -> I) {
    let count = rows();
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(count));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    for kind in kinds() {
        let name = Store::empty(kind, Durability::Immediate).name();
        group.bench_function(name, |b| {
            b.iter_batched(
                || Store::empty(kind, Durability::Immediate),
                |mut store| {
                    store.contender.load(&mut people(count));
                    // Closed and deleted by criterion after the timing.
                    store
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn write(c: &mut Criterion) {
    bulk_load(c, "bulk_load", people);
    bulk_load(c, "bulk_load_random", people_shuffled);

    writes(
        c,
        "batch_write",
        Durability::Immediate,
        BATCHES * BATCH_ROWS,
        |store, rows| {
            for batch in rows.chunks(BATCH_ROWS) {
                store.contender.write_batch(batch);
            }
        },
    );
    let each = |store: &mut Store, rows: &[Person]| {
        for person in rows {
            store.contender.write_one(person);
        }
    };
    writes(
        c,
        "write_one_durable",
        Durability::Immediate,
        commits(),
        each,
    );
    writes(c, "write_one_nosync", Durability::None, commits(), each);

    let count = write_base_rows();
    let half = random_half(count);
    check_removal();
    let mut group = c.benchmark_group("remove_half");
    group.throughput(Throughput::Elements(half.len() as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    for kind in kinds() {
        let name = Store::empty(kind, Durability::Immediate).name();
        group.bench_function(name, |b| {
            b.iter_batched(
                || Store::loaded(kind, count, Durability::Immediate),
                |mut store| {
                    store.contender.remove(&mut half.iter().copied());
                    store
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Checks, on every contender and a small store, that removing [`random_half`] removes the even
/// ids and keeps the odd ones.
fn check_removal() {
    let count = 1_000;
    for kind in kinds() {
        let mut store = Store::loaded(kind, count, Durability::None);
        store.contender.remove(&mut random_half(count).into_iter());
        let name = store.name();
        for id in 0..count {
            let kept = store.contender.revenue(id).is_some();
            assert_eq!(kept, id % 2 == 1, "{name}: id {id} kept: {kept}");
        }
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = write
}
criterion_main!(benches);
