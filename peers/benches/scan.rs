//! Scans, on every contender, over stores of `ZEROTABLE_BENCH_ROWS` rows (1,000,000 by default):
//!
//! - `scan_full`: a fold summing `revenue` over the whole store, in key order; one iteration is
//!   one full scan.
//! - `range_read`: seek to a random key, then sum `revenue` over the next 10 rows; one
//!   iteration is one seek and 10 rows.
//! - `range_read_snapshot`: the same, [`SNAPSHOT_SEEKS`] of them in one read transaction; one
//!   iteration is all of them.
//!
//! Every store is built once, before the groups, in a temporary directory, loaded in a random
//! key order.
//!
//! ```text
//! cargo bench --bench scan
//! ```

mod common;

use std::hint::black_box;

use common::{KEYS, cycle, loaded_stores, rows};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use zerotable_peers::data::random_keys;
use zerotable_peers::people;

/// Rows each range read sums.
const RANGE: usize = 10;
/// Range reads per iteration of `range_read_snapshot`, all in one read transaction.
const SNAPSHOT_SEEKS: usize = 100;

fn scan(c: &mut Criterion) {
    let count = rows();
    let mut stores = loaded_stores(count);
    let expected: f64 = people(count).map(|p| p.revenue).sum();

    let mut group = c.benchmark_group("scan_full");
    group.throughput(Throughput::Elements(count));
    // A full scan of a large store takes long: the same few iterations per sample, not the
    // growing counts of linear sampling.
    group.sampling_mode(SamplingMode::Flat);
    for store in &mut stores {
        let got = store.contender.sum_revenue();
        let name = store.name();
        assert!(
            (got - expected).abs() <= expected * 1e-9,
            "{name}: sum_revenue = {got}, expected {expected}"
        );
        group.bench_function(name, |b| {
            b.iter(|| black_box(store.contender.sum_revenue()))
        });
    }
    group.finish();

    // Starts up to the last row: near the end a read sums fewer than `RANGE` rows, as it would.
    let starts = random_keys(KEYS, count, 0x5EEC);
    let mut group = c.benchmark_group("range_read");
    group.throughput(Throughput::Elements(1));
    for store in &mut stores {
        let mut next = cycle(&starts);
        group.bench_function(store.name(), |b| {
            b.iter(|| black_box(store.contender.sum_revenue_from(next(), RANGE)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("range_read_snapshot");
    group.throughput(Throughput::Elements(SNAPSHOT_SEEKS as u64));
    for store in &mut stores {
        let mut batches = starts.chunks(SNAPSHOT_SEEKS).cycle();
        group.bench_function(store.name(), |b| {
            b.iter(|| {
                let batch = batches.next().expect("cycles forever");
                black_box(store.contender.sums_from(batch, RANGE))
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = scan
}
criterion_main!(benches);
