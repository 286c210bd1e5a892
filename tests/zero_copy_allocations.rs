//! Zero-copy proof by counting heap allocations: a typed get allocates nothing on the memory
//! engine, and no more than a raw redb lookup of the same key on redb — as an auto-commit get
//! and as one of many gets inside one snapshot.

mod common;

use std::sync::Arc;

use common::counting::{
    LOOKUPS, allocations_during, compare_lookups, typed_get, typed_get_in, users_table,
};
use common::{User, temp_redb, user};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use zerotable::{Durability, RedbEngine, RedbOptions, Storage};

/// Counts allocations made by the current thread (tests run on parallel threads).
#[global_allocator]
static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;

/// A redb file holding `LOOKUPS` users in table `users`, its engine, and the typed table.
fn redb_users() -> (
    tempfile::TempDir,
    Arc<RedbEngine>,
    zerotable::RkyvTable<u64, User>,
) {
    let (dir, path) = temp_redb();
    let db = Arc::new(RedbEngine::open(&path).unwrap());
    let users = users_table(&Storage::from_arc(db.clone()));
    (dir, db, users)
}

/// An auto-commit typed get (and `contains`) on the memory engine allocates nothing: the value
/// is validated and read where the engine keeps it.
#[test]
fn typed_get_on_the_memory_engine_allocates_nothing() {
    let storage = Storage::in_memory();
    let users = users_table(&storage);
    let names = storage.raw_table::<(u64, i32)>("pairs").unwrap();
    names.put(&(1, -1), b"x").unwrap();

    let mut total = 0u64;
    let count = allocations_during(|| {
        for i in 0..LOOKUPS {
            total += users
                .get(&i, |u| u.revenue.to_native() as u64)
                .unwrap()
                .unwrap();
            assert!(users.contains(&i).unwrap());
            total += names.get(&(1, -1), |b| b.len() as u64).unwrap().unwrap();
        }
    });
    assert!(total > 0);
    assert_eq!(
        count, 0,
        "typed gets on the memory engine must not allocate"
    );
}

/// An auto-commit typed get on redb allocates no more than a raw redb get of the same key (its
/// own read transaction and table open included).
#[test]
fn typed_get_on_redb_allocates_no_more_than_a_raw_redb_get() {
    let (_dir, db, users) = redb_users();
    let raw_definition: TableDefinition<&[u8], &[u8]> = TableDefinition::new("users");

    let mut raw_get = |i: u64| {
        let txn = db.redb().begin_read().unwrap();
        let table = txn.open_table(raw_definition).unwrap();
        let guard = table.get(&i.to_be_bytes()[..]).unwrap().unwrap();
        std::hint::black_box(guard.value().len());
    };
    let mut typed_get = typed_get(&users);
    let [raw, typed] = compare_lookups(
        "allocations per get",
        [("raw redb", &mut raw_get), ("typed", &mut typed_get)],
    );
    assert!(
        typed <= raw,
        "typed get allocated {typed} times, raw redb {raw} (over {LOOKUPS} gets)"
    );
}

/// Inside one snapshot a typed get allocates nothing per get on the memory engine: the snapshot
/// is taken once, and every get, `contains` and raw-table get reads through it.
#[test]
fn typed_gets_inside_one_snapshot_on_the_memory_engine_allocate_nothing() {
    let storage = Storage::in_memory();
    let users = users_table(&storage);
    let names = storage.raw_table::<(u64, i32)>("pairs").unwrap();
    names.put(&(1, -1), b"x").unwrap();
    let snapshot = storage.snapshot().unwrap();

    let mut total = 0u64;
    let count = allocations_during(|| {
        for i in 0..LOOKUPS {
            total += users
                .get_in(&snapshot, &i, |u| u.revenue.to_native() as u64)
                .unwrap()
                .unwrap();
            assert!(users.contains_in(&snapshot, &i).unwrap());
            total += names
                .get_in(&snapshot, &(1, -1), |b| b.len() as u64)
                .unwrap()
                .unwrap();
        }
    });
    assert!(total > 0);
    assert_eq!(
        count, 0,
        "typed gets inside a snapshot of the memory engine must not allocate"
    );
}

/// Inside one snapshot a typed get on redb allocates no more per get than a raw redb get on a
/// table already open in one read transaction: the snapshot opens its table handle once, on
/// its first get, and keeps it for every later one.
#[test]
fn typed_gets_inside_one_snapshot_on_redb_allocate_no_more_than_raw_gets_on_an_open_table() {
    let (_dir, db, users) = redb_users();
    let raw_definition: TableDefinition<&[u8], &[u8]> = TableDefinition::new("users");

    let raw_txn = db.redb().begin_read().unwrap();
    let raw_table = raw_txn.open_table(raw_definition).unwrap();
    let mut raw_get = |i: u64| {
        let guard = raw_table.get(&i.to_be_bytes()[..]).unwrap().unwrap();
        std::hint::black_box(guard.value().len());
    };
    let snapshot = Storage::from_arc(db.clone()).snapshot().unwrap();
    let mut typed_get = typed_get_in(&users, &snapshot);
    // The snapshot's first get opens (and keeps) its table handle: counted apart, not per get.
    let first = allocations_during(|| typed_get(0));
    let [raw, typed] = compare_lookups(
        &format!(
            "allocations per get in one read transaction (the typed snapshot's first get, which \
             opens the table: {first})"
        ),
        [
            ("raw redb on an open table", &mut raw_get),
            ("typed in one snapshot", &mut typed_get),
        ],
    );
    assert!(
        typed <= raw,
        "typed gets in one snapshot allocated {typed} times, raw redb gets on an open table \
         {raw} (over {LOOKUPS} gets)"
    );
}

/// A typed scan on redb allocates nothing per row beyond what a raw redb iteration of the same
/// table allocates.
#[test]
fn a_typed_scan_allocates_nothing_per_row_beyond_a_raw_redb_iteration() {
    let (_dir, db, users) = redb_users();
    let raw_definition: TableDefinition<&[u8], &[u8]> = TableDefinition::new("users");

    let raw_scan = || {
        let txn = db.redb().begin_read().unwrap();
        let table = txn.open_table(raw_definition).unwrap();
        let mut total = 0usize;
        for entry in table.iter().unwrap() {
            let (_key, value) = entry.unwrap();
            total += value.value().len();
        }
        std::hint::black_box(total);
    };
    let typed_scan = || {
        let sum = users
            .scan()
            .fold(0.0, |acc, _id, u| Ok(acc + u.revenue.to_native()));
        std::hint::black_box(sum.unwrap());
    };
    raw_scan();
    typed_scan();
    let raw = allocations_during(raw_scan);
    let typed = allocations_during(typed_scan);
    println!("allocations per scan of {LOOKUPS} rows: raw redb {raw}, typed {typed}");
    // A handful per scan (transaction, iterator), none per row: same as redb's own iteration.
    assert!(
        typed <= raw,
        "typed scan allocated {typed} times, raw redb iteration {raw} ({LOOKUPS} rows)"
    );
}

/// A typed put on redb (key encoding, rkyv serialization, its own transaction) allocates no more
/// than a raw redb insert and commit of the same archived bytes, within the B-tree noise.
#[test]
fn a_typed_put_allocates_no_more_than_a_raw_redb_insert_of_archived_bytes() {
    let (_dir, path) = temp_redb();
    let options = RedbOptions::default().durability(Durability::None);
    let db = Arc::new(RedbEngine::open_with(&path, options).unwrap());
    let storage = Storage::from_arc(db.clone());
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    let raw_definition: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raw_users");
    let rows: Vec<User> = (0..100).map(user).collect();
    let archived: Vec<Vec<u8>> = rows
        .iter()
        .map(|u| rkyv::to_bytes::<rkyv::rancor::Error>(u).unwrap().to_vec())
        .collect();

    let raw_put = |i: u64| {
        let mut txn = db.redb().begin_write().unwrap();
        txn.set_durability(redb::Durability::None).unwrap();
        {
            let mut table = txn.open_table(raw_definition).unwrap();
            let value = &archived[(i % 100) as usize];
            table.insert(&i.to_be_bytes()[..], &value[..]).unwrap();
        }
        txn.commit().unwrap();
    };
    let typed_put = |i: u64| users.put(&i, &rows[(i % 100) as usize]).unwrap();
    (0..100).for_each(raw_put);
    (0..100).for_each(typed_put);

    const PUTS: u64 = 200;
    let raw = allocations_during(|| (100..100 + PUTS).for_each(raw_put));
    let typed = allocations_during(|| (100..100 + PUTS).for_each(typed_put));
    println!(
        "allocations per put: raw redb {:.2}, typed {:.2}",
        raw as f64 / PUTS as f64,
        typed as f64 / PUTS as f64
    );
    // The key is encoded on the stack and the rkyv encode buffers come from a per-thread pool,
    // so serializing adds nothing per put to what redb allocates for an insert and a commit.
    // The two tables' B-trees split at different moments, which moves redb's own count by a
    // few over the run: anything zerotable allocated per put would add at least `PUTS`.
    assert!(
        typed < raw + PUTS / 10,
        "typed puts allocated {typed} times, raw redb inserts {raw} (over {PUTS} puts)"
    );
}

/// A commit on the memory engine copies a table only while a snapshot shares it.
#[test]
fn a_memory_engine_commit_does_not_copy_the_table_when_no_snapshot_shares_it() {
    let storage = Storage::in_memory();
    let users = storage.raw_table::<u64>("users").unwrap();
    users
        .put_batch((0..10_000u64).map(|i| (i, i.to_be_bytes().to_vec())))
        .unwrap();
    users.put(&10_000, b"warm").unwrap();
    // Copy-on-write must only copy a table some snapshot still shares; a commit that copied
    // it anyway would allocate once per entry (10,000 keys and values).
    let count = allocations_during(|| users.put(&10_001, b"new").unwrap());
    assert!(
        count < 100,
        "one put allocated {count} times: the table was copied"
    );
    let snapshot = storage.snapshot().unwrap();
    let shared = allocations_during(|| users.put(&10_002, b"new").unwrap());
    println!("allocations of one put: no snapshot {count}, with a live snapshot {shared}");
    assert!(
        shared < 100,
        "with a live snapshot the first write allocated {shared} times: it must copy one path (O(log n)), not the table"
    );
    drop(snapshot);
}
