//! Random point reads: what zerotable's typed layer costs over raw redb.
//!
//! One redb file with 100,000 `User` records (u64 keys, ~110-byte rkyv values) is built once in
//! a temporary directory, through zerotable. zerotable stores table `users` as a redb
//! `&[u8] -> &[u8]` table keyed by big-endian u64, so the raw-redb reference reads the very same
//! table of the very same `redb::Database`. Every benchmark cycles through the same
//! pre-generated sequence of random keys and reads one field of the value:
//!
//! - `raw_redb`: `begin_read` + `open_table` + `get`, then the value's length: the floor.
//! - `rkyv_get`: `Table::get` on redb, the archive validated before the closure reads `revenue`.
//! - `rkyv_get_unchecked`: `Table::get_unchecked` on redb, no validation.
//! - `raw_table_get`: `Storage::raw_table` on redb (a second table holding the same archived
//!   bytes), the closure reads the byte length.
//! - `rkyv_get_memory`: `Table::get`, validated, on `Storage::in_memory()`.
//!
//! ```text
//! cargo bench --all-features --bench point_get
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use redb::{ReadableDatabase, TableDefinition};
use zerotable::{RedbEngine, Storage};

#[path = "../examples/support/mod.rs"]
mod support;
use support::{User, XorShift64, make_user};

/// Rows in the table.
const ROWS: u64 = 100_000;
/// Length of the random key sequence every benchmark cycles through (a power of two).
const KEYS: usize = 1 << 16;
/// The zerotable table, and the redb table behind it.
const TABLE: &str = "users";
/// How zerotable lays out every table in redb.
const RAW_USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new(TABLE);

fn load(storage: &Storage) {
    storage
        .rkyv_table::<u64, User>(TABLE)
        .expect("open table")
        .put_batch((0..ROWS).map(|id| (id, make_user(id))))
        .expect("load users");
}

/// Returns a closure yielding the next key of `keys`, cycling.
fn cycle(keys: &[u64]) -> impl FnMut() -> u64 + '_ {
    let mut next = 0;
    move || {
        let key = keys[next % keys.len()];
        next += 1;
        key
    }
}

fn point_get(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let redb = Arc::new(RedbEngine::open(dir.path().join("bench.redb")).expect("open redb"));
    let on_redb = Storage::from_arc(redb.clone());
    load(&on_redb);
    let in_memory = Storage::in_memory();
    load(&in_memory);

    let typed = on_redb.rkyv_table::<u64, User>(TABLE).expect("table");
    // The same archived bytes in a raw table of their own (a table's type is fixed once created).
    let raw = on_redb.raw_table::<u64>("users_bytes").expect("table");
    raw.put_batch((0..ROWS).map(|id| {
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&make_user(id)).expect("archive");
        (id, bytes.to_vec())
    }))
    .expect("load raw bytes");
    let typed_memory = in_memory.rkyv_table::<u64, User>(TABLE).expect("table");

    let mut rng = XorShift64::new(0x5EED);
    let keys: Vec<u64> = (0..KEYS).map(|_| rng.below(ROWS)).collect();

    let mut group = c.benchmark_group("point_get");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    group.bench_function("raw_redb", |b| {
        let db = redb.redb();
        let mut next = cycle(&keys);
        b.iter(|| {
            let key = next().to_be_bytes();
            let txn = db.begin_read().expect("begin_read");
            let table = txn.open_table(RAW_USERS).expect("open_table");
            let guard = table.get(&key[..]).expect("get").expect("present");
            black_box(guard.value().len())
        });
    });

    group.bench_function("rkyv_get", |b| {
        let mut next = cycle(&keys);
        b.iter(|| {
            let revenue = typed.get(&next(), |u| u.revenue.to_native());
            black_box(revenue.expect("get").expect("present"))
        });
    });

    group.bench_function("rkyv_get_unchecked", |b| {
        let mut next = cycle(&keys);
        b.iter(|| {
            // SAFETY: every value of `users` was written by `load` through an rkyv table of this
            // same `User` type and has not been modified since.
            let revenue = unsafe { typed.get_unchecked(&next(), |u| u.revenue.to_native()) };
            black_box(revenue.expect("get").expect("present"))
        });
    });

    group.bench_function("raw_table_get", |b| {
        let mut next = cycle(&keys);
        b.iter(|| {
            let len = raw.get(&next(), |bytes| bytes.len());
            black_box(len.expect("get").expect("present"))
        });
    });

    group.bench_function("rkyv_get_memory", |b| {
        let mut next = cycle(&keys);
        b.iter(|| {
            let revenue = typed_memory.get(&next(), |u| u.revenue.to_native());
            black_box(revenue.expect("get").expect("present"))
        });
    });

    group.finish();
}

criterion_group!(benches, point_get);
criterion_main!(benches);
