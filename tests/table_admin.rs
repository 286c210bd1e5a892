//! Table administration: listing and existence (from the table catalog), dropping, statistics,
//! file size, compaction and flushing — or, on an engine that does not offer one of those, its
//! typed `Unsupported` answer.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{User, on_every_engine, temp_redb, user};
use zerotable::{
    Durability, EngineErrorKind, Error, Operation, RedbEngine, RedbOptions, RkyvTable, Storage,
    TableStats, WriteOptions,
};

/// Asserts `result` is an `InvalidTableName` error for `name`.
fn assert_invalid_name<T: std::fmt::Debug>(result: zerotable::Result<T>, name: &str) {
    match result {
        Err(Error::InvalidTableName { name: refused, .. }) => assert_eq!(refused, name),
        other => panic!("{name:?}: expected InvalidTableName, got {other:?}"),
    }
}

/// Asserts `result` is the typed answer of an engine without the capability `operation` needs.
fn assert_unsupported<T: std::fmt::Debug>(result: zerotable::Result<T>, operation: Operation) {
    match result {
        Err(err) => {
            assert_eq!(
                err.engine_kind(),
                Some(EngineErrorKind::Unsupported),
                "{operation}: {err}"
            );
            assert_eq!(err.operation(), Some(operation), "{err}");
        }
        Ok(value) => panic!("{operation}: expected Unsupported, got Ok({value:?})"),
    }
}

const INVALID_NAMES: [&str; 5] = ["", "has-dash", "has space", "zerotable.meta", "ünïcode"];

/// `list_tables` lists every typed table once, from its first open, in byte order, without the
/// catalog table.
#[test]
fn list_tables_is_sorted_excludes_the_metadata_table_and_includes_merely_opened_tables() {
    on_every_engine(|engine, storage| {
        assert!(storage.list_tables().unwrap().is_empty(), "{engine}");
        let users: RkyvTable<u64, User> = storage.rkyv_table("zeta").unwrap();
        users.put(&1, &user(1)).unwrap();
        // Opened, never written: they exist from the first open.
        storage.raw_table::<u64>("alpha").unwrap();
        storage.raw_table::<String>("Beta").unwrap();
        storage.raw_table::<u64>("mid_1").unwrap();
        storage.raw_table::<u64>("mid_1").unwrap(); // reopening does not duplicate it
        assert_eq!(
            storage.list_tables().unwrap(),
            ["Beta", "alpha", "mid_1", "zeta"],
            "{engine}: byte order, no `zerotable.meta`"
        );
        // The list comes from the catalog: a table written outside the typed API, which the
        // engine itself lists, is not a typed table.
        storage
            .engine()
            .write(WriteOptions::DEFAULT, &mut |txn| {
                txn.put("untyped", b"k", b"v")
            })
            .unwrap();
        let mut engine_tables = Vec::new();
        storage
            .engine()
            .read(&mut |reader| {
                engine_tables = reader.list_tables()?;
                Ok(())
            })
            .unwrap();
        assert!(
            engine_tables.iter().any(|t| t == "untyped"),
            "{engine}: {engine_tables:?}"
        );
        assert_eq!(
            storage.list_tables().unwrap(),
            ["Beta", "alpha", "mid_1", "zeta"],
            "{engine}"
        );
        assert!(!storage.table_exists("untyped").unwrap(), "{engine}");
    });
}

/// A table opened but never written reads as empty through every read, in auto-commit, snapshot and
/// write transaction.
#[test]
fn a_freshly_opened_table_reads_as_empty_everywhere() {
    on_every_engine(|engine, storage| {
        let fresh: RkyvTable<u64, User> = storage.rkyv_table("fresh").unwrap();
        assert_eq!(
            fresh.get(&1, |u| u.id.to_native()).unwrap(),
            None,
            "{engine}"
        );
        assert!(!fresh.contains(&1).unwrap());
        assert!(fresh.is_empty().unwrap());
        assert!(
            fresh
                .scan()
                .filter_map(|id, _| Some(*id))
                .unwrap()
                .is_empty()
        );
        assert_eq!(fresh.stats().unwrap(), TableStats::default(), "{engine}");
        storage
            .read(|snap| {
                assert_eq!(fresh.len_in(snap)?, 0);
                assert!(!fresh.contains_in(snap, &1)?);
                Ok(())
            })
            .unwrap();
        storage
            .write(|tx| {
                assert_eq!(fresh.len_in(tx)?, 0);
                assert!(
                    fresh
                        .range_in(tx, 0..)
                        .filter_map(|id, _| Some(*id))?
                        .is_empty()
                );
                Ok(())
            })
            .unwrap();
    });
}

/// `table_exists` is true from a table's first open (names are case-sensitive) and refuses invalid
/// names.
#[test]
fn table_exists_is_true_from_the_first_open_and_refuses_invalid_names() {
    on_every_engine(|engine, storage| {
        assert!(!storage.table_exists("users").unwrap(), "{engine}");
        storage.rkyv_table::<u64, User>("users").unwrap();
        assert!(storage.table_exists("users").unwrap(), "{engine}");
        assert!(
            !storage.table_exists("Users").unwrap(),
            "{engine}: case matters"
        );
        for name in INVALID_NAMES {
            assert_invalid_name(storage.table_exists(name), name);
        }
        assert_invalid_name(storage.table_exists(&"x".repeat(65)), &"x".repeat(65));
        assert!(!storage.table_exists(&"x".repeat(64)).unwrap());
    });
}

/// `drop_table` removes a table's entries and record, says whether it existed, leaves other tables
/// alone, and the name can be reused.
#[test]
fn drop_table_removes_the_data_and_reports_whether_the_table_existed() {
    on_every_engine(|engine, storage| {
        let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
        users.put_batch((0..100).map(|i| (i, user(i)))).unwrap();
        let keep = storage.raw_table::<u64>("keep").unwrap();
        keep.put(&1, b"kept").unwrap();

        assert!(storage.drop_table("users").unwrap(), "{engine}");
        assert!(
            !storage.drop_table("users").unwrap(),
            "{engine}: already gone"
        );
        assert!(!storage.drop_table("never_opened").unwrap(), "{engine}");
        assert!(!storage.table_exists("users").unwrap(), "{engine}");
        assert_eq!(storage.list_tables().unwrap(), ["keep"], "{engine}");
        assert_eq!(storage.table_stats("users").unwrap(), TableStats::default());

        // The handle opened before reads a new, empty table; so does a fresh one.
        assert!(users.is_empty().unwrap(), "{engine}");
        assert_eq!(
            users.get(&1, |u| u.id.to_native()).unwrap(),
            None,
            "{engine}"
        );
        let reopened: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
        assert_eq!(reopened.len().unwrap(), 0, "{engine}");
        assert!(
            reopened
                .scan()
                .filter_map(|id, _| Some(*id))
                .unwrap()
                .is_empty()
        );
        // Other tables are untouched.
        assert_eq!(
            keep.get(&1, |v| v.to_vec()).unwrap(),
            Some(b"kept".to_vec())
        );

        for name in INVALID_NAMES {
            assert_invalid_name(storage.drop_table(name), name);
        }
        assert_eq!(
            storage.list_tables().unwrap(),
            ["keep", "users"],
            "{engine}"
        );
    });
}

/// Table statistics count entries and the bytes of keys and values stored, through `Storage` and
/// the table alike.
#[test]
fn table_stats_count_entries_and_stored_bytes() {
    on_every_engine(|engine, storage| {
        let blobs = storage.raw_table::<u64>("blobs").unwrap();
        blobs
            .put_batch((0..50u64).map(|i| (i, vec![i as u8; 100])))
            .unwrap();
        let stats = storage.table_stats("blobs").unwrap();
        assert_eq!(stats, blobs.stats().unwrap(), "{engine}");
        assert_eq!(stats.entries, 50, "{engine}");
        assert_eq!(blobs.len().unwrap(), 50, "{engine}");
        // 50 values of 100 bytes under 8-byte keys, without the engine's overhead.
        assert_eq!(stats.stored_bytes, 50 * (8 + 100), "{engine}");

        for i in 0..25 {
            assert!(blobs.delete(&i).unwrap());
        }
        let half = blobs.stats().unwrap();
        assert_eq!(half.entries, 25, "{engine}");
        assert_eq!(half.stored_bytes, 25 * (8 + 100), "{engine}");
        assert_invalid_name(storage.table_stats("no.dots"), "no.dots");
    });
}

/// `len` counts distinct keys: replacing does not count twice, deleting an absent key changes
/// nothing.
#[test]
fn len_counts_entries() {
    on_every_engine(|engine, storage| {
        let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
        assert_eq!(users.len().unwrap(), 0);
        users.put_batch((0..30).map(|i| (i, user(i)))).unwrap();
        users.put(&5, &user(5)).unwrap(); // replacing does not count twice
        assert_eq!(users.len().unwrap(), 30, "{engine}");
        users.delete(&5).unwrap();
        users.delete(&500).unwrap();
        assert_eq!(users.len().unwrap(), 29, "{engine}");
        assert!(!users.is_empty().unwrap());
    });
}

/// `size_on_disk` is the redb file's size, and `Unsupported` on the memory engine.
#[test]
fn size_on_disk_is_known_on_redb_and_unsupported_in_memory() {
    let memory = Storage::in_memory();
    assert!(!memory.capabilities().size_on_disk);
    assert_unsupported(memory.size_on_disk(), Operation::SizeOnDisk);
    let (_dir, path) = temp_redb();
    let storage = Storage::open(&path).unwrap();
    assert!(storage.capabilities().size_on_disk);
    let size = storage.size_on_disk().unwrap();
    assert!(size > 0);
    assert_eq!(size, std::fs::metadata(&path).unwrap().len());
}

const ROWS: u64 = 20_000;

/// Compacting redb after deleting half the rows succeeds, does not grow the file and keeps every
/// row; memory answers `Unsupported`.
#[test]
fn compact_after_deleting_half_the_rows_succeeds_and_does_not_grow_the_file() {
    let (_dir, path) = temp_redb();
    let storage = Storage::open(&path).unwrap();
    let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
    users.put_batch((0..ROWS).map(|i| (i, user(i)))).unwrap();
    storage
        .write(|tx| {
            for i in (0..ROWS).step_by(2) {
                users.delete_in(tx, &i)?;
            }
            Ok(())
        })
        .unwrap();
    let before = storage.size_on_disk().unwrap();
    let compacted = storage.compact().unwrap();
    let after = storage.size_on_disk().unwrap();
    println!("redb file: {before} bytes before compact, {after} after (compacted: {compacted})");
    assert!(after <= before, "{before} -> {after}");
    assert_eq!(users.len().unwrap(), ROWS / 2);
    assert_eq!(users.get(&1, |u| u.id.to_native()).unwrap(), Some(1));
    assert_eq!(users.get(&2, |u| u.id.to_native()).unwrap(), None);
    users.put(&2, &user(2)).unwrap();

    // In memory there is nothing to compact: the engine does not offer it, and says so.
    let memory = Storage::in_memory();
    assert!(!memory.capabilities().compact);
    assert_unsupported(memory.compact(), Operation::Compact);
}

/// Runs `job` on another thread; fails instead of hanging if it does not return soon.
fn within_seconds<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(job());
    });
    receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("the call neither returned nor panicked within 10 s")
}

/// Compacting redb while a snapshot is open fails promptly with `InUse` instead of hanging, and
/// everything works afterwards.
#[test]
fn compact_fails_with_an_error_while_a_snapshot_is_open_on_redb() {
    let (_dir, path) = temp_redb();
    let storage = Storage::open(&path).unwrap();
    let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
    users.put_batch((0..100).map(|i| (i, user(i)))).unwrap();

    let snap = storage.snapshot().unwrap();
    let compacting = storage.clone();
    match within_seconds(move || compacting.compact()) {
        Err(err @ Error::Engine { .. }) => {
            assert_eq!(err.engine_kind(), Some(EngineErrorKind::InUse), "{err}");
            assert_eq!(err.operation(), Some(Operation::Compact), "{err}");
            assert_eq!(err.table(), None, "compaction concerns no one table: {err}");
            println!(
                "compact with a snapshot open: {err} ({:?})",
                std::error::Error::source(&err)
            );
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
    // The snapshot and the storage are fine afterwards.
    assert_eq!(users.len_in(&snap).unwrap(), 100);
    drop(snap);
    users.put(&100, &user(100)).unwrap();
    storage.compact().unwrap();
    assert_eq!(users.len().unwrap(), 101);
}

/// Compacting redb while a write transaction is open fails promptly with `InUse` instead of
/// hanging.
#[test]
fn compact_fails_with_an_error_while_a_write_transaction_is_open_on_redb() {
    let (_dir, path) = temp_redb();
    let storage = Storage::open(&path).unwrap();
    let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
    let tx = storage.begin_write().unwrap();
    users.put_in(&tx, &1, &user(1)).unwrap();
    let compacting = storage.clone();
    let outcome = within_seconds(move || compacting.compact());
    assert!(matches!(outcome, Err(Error::Engine { .. })), "{outcome:?}");
    assert_eq!(
        outcome.as_ref().err().and_then(Error::engine_kind),
        Some(EngineErrorKind::InUse),
        "{outcome:?}"
    );
    tx.commit().unwrap();
    assert_eq!(users.len().unwrap(), 1);
    storage.compact().unwrap();
}

/// `flush` makes commits made without fsync durable (across a redb reopen); memory answers
/// `Unsupported`.
#[test]
fn flush_makes_non_durable_commits_durable() {
    on_every_engine(|engine, storage| {
        let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
        storage
            .write_with(WriteOptions::durability(Durability::None), |tx| {
                users.put_in(tx, &1, &user(1))
            })
            .unwrap();
        if storage.capabilities().flush {
            storage.flush().unwrap();
            storage.flush().unwrap(); // nothing new: still fine
        } else {
            // Nothing to flush to (memory): the engine says so instead of pretending.
            assert_unsupported(storage.flush(), Operation::Flush);
        }
        assert_eq!(users.len().unwrap(), 1, "{engine}");
    });

    let (_dir, path) = temp_redb();
    let options = RedbOptions::default().durability(Durability::None);
    {
        let storage = Storage::new(RedbEngine::open_with(&path, options.clone()).unwrap());
        let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
        users.put_batch((0..10).map(|i| (i, user(i)))).unwrap();
        storage.flush().unwrap();
    }
    let storage = Storage::new(RedbEngine::open_with(&path, options).unwrap());
    let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
    assert_eq!(users.len().unwrap(), 10);
}
