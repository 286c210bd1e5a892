//! What a durable write costs: one auto-commit `put` (one fsynced transaction per row) versus
//! rows written 1,000 to a transaction, on redb, against raw redb doing the same.
//!
//! ```text
//! cargo bench --bench write_cost
//! ```
//! Criterion reports time per iteration; the `txn_1000` benchmarks write 1,000 rows per
//! iteration (throughput is shown per row).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redb::TableDefinition;
use zerotable::{RedbEngine, Storage};

#[path = "../examples/support/mod.rs"]
mod support;
use support::{User, make_user};

const ROWS_PER_TXN: u64 = 1_000;
const RAW_USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raw_users");

fn write_cost(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let redb = Arc::new(RedbEngine::open(dir.path().join("writes.redb")).expect("open redb"));
    let storage = Storage::from_arc(redb.clone());
    let users = storage.rkyv_table::<u64, User>("users").expect("table");
    let values: Vec<Vec<u8>> = (0..ROWS_PER_TXN)
        .map(|i| {
            rkyv::to_bytes::<rkyv::rancor::Error>(&make_user(i))
                .expect("archive")
                .to_vec()
        })
        .collect();
    let rows: Vec<User> = (0..ROWS_PER_TXN).map(make_user).collect();

    let mut group = c.benchmark_group("write_cost");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let mut next = 0u64;
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_redb_autocommit_put", |b| {
        b.iter(|| {
            next += 1;
            let txn = redb.redb().begin_write().expect("begin_write");
            {
                let mut table = txn.open_table(RAW_USERS).expect("open_table");
                let key = next.to_be_bytes();
                let value = &values[(next % ROWS_PER_TXN) as usize];
                table.insert(&key[..], &value[..]).expect("insert");
            }
            txn.commit().expect("commit");
        });
    });
    group.bench_function("autocommit_put", |b| {
        b.iter(|| {
            next += 1;
            users
                .put(&next, &rows[(next % ROWS_PER_TXN) as usize])
                .expect("put");
        });
    });

    group.throughput(Throughput::Elements(ROWS_PER_TXN));
    group.bench_function("raw_redb_txn_1000", |b| {
        b.iter(|| {
            let txn = redb.redb().begin_write().expect("begin_write");
            {
                let mut table = txn.open_table(RAW_USERS).expect("open_table");
                for (i, value) in values.iter().enumerate() {
                    next += 1;
                    let key = (next + i as u64).to_be_bytes();
                    table.insert(&key[..], &value[..]).expect("insert");
                }
            }
            txn.commit().expect("commit");
        });
    });
    group.bench_function("txn_1000_put_in", |b| {
        b.iter(|| {
            storage
                .write(|tx| {
                    for user in &rows {
                        next += 1;
                        users.put_in(tx, &next, user)?;
                    }
                    Ok(())
                })
                .expect("write");
        });
    });
    group.bench_function("put_batch_1000", |b| {
        b.iter(|| {
            let start = next;
            next += ROWS_PER_TXN;
            users
                .put_batch((start..next).zip(&rows))
                .expect("put_batch");
        });
    });
    group.finish();
    black_box(next);
}

criterion_group!(benches, write_cost);
criterion_main!(benches);
