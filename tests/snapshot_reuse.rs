//! redb keeps a snapshot between auto-commit reads until the next commit
//! (`src/engines/redb/reuse.rs`): each test is one promise of that reuse.

use std::sync::Arc;

use zerotable::{Durability, RedbEngine, RedbOptions, Storage, WriteOptions};

fn redb_storage(dir: &tempfile::TempDir) -> (Storage, Arc<RedbEngine>) {
    let engine = Arc::new(
        RedbEngine::open_with(
            dir.path().join("reuse.redb"),
            RedbOptions::default().durability(Durability::None),
        )
        .unwrap(),
    );
    (Storage::from_arc(engine.clone()), engine)
}

/// Every way of committing outdates the kept snapshot: the next auto-commit read sees it.
#[test]
fn a_read_after_any_commit_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _) = redb_storage(&dir);
    let t = storage.raw_table::<u64>("t").unwrap();
    t.put(&1, b"a").unwrap();
    assert_eq!(t.get(&1, |v| v.to_vec()).unwrap(), Some(b"a".to_vec()));

    // A transaction committed explicitly.
    let tx = storage.begin_write().unwrap();
    t.put_in(&tx, &1, b"b").unwrap();
    tx.commit().unwrap();
    assert_eq!(t.get(&1, |v| v.to_vec()).unwrap(), Some(b"b".to_vec()));

    // A scoped write.
    storage.write(|tx| t.put_in(tx, &1, b"c")).unwrap();
    assert_eq!(t.get(&1, |v| v.to_vec()).unwrap(), Some(b"c".to_vec()));

    // The raw engine, both ways.
    let engine = storage.engine();
    let txn = engine.begin_write(WriteOptions::default()).unwrap();
    txn.delete("t", &1u64.to_be_bytes()).unwrap();
    txn.commit().unwrap();
    assert!(!t.contains(&1).unwrap());

    // A rolled-back transaction changes nothing, and the reads after it still work.
    let tx = storage.begin_write().unwrap();
    t.put_in(&tx, &2, b"x").unwrap();
    tx.rollback();
    assert!(!t.contains(&2).unwrap());
}

/// Another thread's commit, once it returned, is seen by this thread's next read.
#[test]
fn a_commit_on_another_thread_is_seen_after_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _) = redb_storage(&dir);
    let t = storage.raw_table::<u64>("t").unwrap();
    t.put(&0, &0u64.to_be_bytes()).unwrap();
    for round in 1..200u64 {
        assert!(t.contains(&(round - 1)).unwrap());
        let writer = t.clone();
        std::thread::spawn(move || writer.put(&round, &round.to_be_bytes()).unwrap())
            .join()
            .unwrap();
        assert_eq!(
            t.get(&round, |v| v.to_vec()).unwrap(),
            Some(round.to_be_bytes().to_vec()),
            "round {round}"
        );
    }
}

/// Compaction needs every snapshot closed: a kept one is dropped for it.
#[test]
fn compaction_right_after_reads_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _) = redb_storage(&dir);
    let t = storage.raw_table::<u64>("t").unwrap();
    t.put_batch((0..1000u64).map(|i| (i, vec![7u8; 100])))
        .unwrap();
    assert!(t.contains(&5).unwrap());
    assert_eq!(t.scan().fold(0, |n, _, _| Ok(n + 1)).unwrap(), 1000);
    storage
        .write(|tx| {
            for i in 0..900u64 {
                t.delete_in(tx, &i)?;
            }
            Ok(())
        })
        .unwrap();
    assert!(t.contains(&950).unwrap());
    storage.compact().unwrap();
    assert_eq!(t.len().unwrap(), 100);
}

/// A read inside a read's callback (same thread) and reads on many threads at once each get a
/// snapshot: a busy kept snapshot is skipped, never waited for.
#[test]
fn nested_and_concurrent_reads_do_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _) = redb_storage(&dir);
    let t = storage.raw_table::<u64>("t").unwrap();
    t.put_batch((0..100u64).map(|i| (i, i.to_be_bytes().to_vec())))
        .unwrap();
    // Deeper than the number of kept snapshots.
    fn nest(t: &zerotable::RawTable<u64>, depth: u64) -> u64 {
        if depth == 0 {
            return 0;
        }
        t.get(&depth, |_| nest(t, depth - 1) + 1).unwrap().unwrap()
    }
    assert_eq!(nest(&t, 10), 10);
    std::thread::scope(|scope| {
        for thread in 0..8u64 {
            let t = &t;
            scope.spawn(move || {
                for i in 0..500u64 {
                    let key = (i * 7 + thread) % 100;
                    assert_eq!(
                        t.get(&key, |v| v.to_vec()).unwrap(),
                        Some(key.to_be_bytes().to_vec())
                    );
                }
            });
        }
        // A writer meanwhile: readers keep working across its commits.
        scope.spawn(|| {
            for i in 100..150u64 {
                t.put(&i, &i.to_be_bytes()).unwrap();
            }
        });
    });
    assert_eq!(t.len().unwrap(), 150);
}

/// A panic in a read callback leaves the kept snapshot usable, and later commits are seen.
#[test]
fn a_panicking_read_callback_leaves_reads_working() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _) = redb_storage(&dir);
    let t = storage.raw_table::<u64>("t").unwrap();
    t.put(&1, b"a").unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        t.get(&1, |_| panic!("the caller's bug")).unwrap()
    }));
    assert!(caught.is_err());
    assert_eq!(t.get(&1, |v| v.to_vec()).unwrap(), Some(b"a".to_vec()));
    t.put(&1, b"b").unwrap();
    assert_eq!(t.get(&1, |v| v.to_vec()).unwrap(), Some(b"b".to_vec()));
}

/// Writes made directly on the redb database are seen too: handing it out turns reuse off.
#[test]
fn writes_through_the_raw_redb_database_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, engine) = redb_storage(&dir);
    let t = storage.raw_table::<u64>("t").unwrap();
    t.put(&1, b"a").unwrap();
    assert!(t.contains(&1).unwrap());
    {
        let db = engine.redb();
        let txn = db.begin_write().unwrap();
        {
            let def = redb::TableDefinition::<&[u8], &[u8]>::new("t");
            let mut table = txn.open_table(def).unwrap();
            table
                .insert(2u64.to_be_bytes().as_slice(), b"raw".as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    assert_eq!(t.get(&2, |v| v.to_vec()).unwrap(), Some(b"raw".to_vec()));
}

/// A kept snapshot does not hold on to the pages of old versions: a read-then-overwrite loop
/// leaves the file no larger than the same loop without reads (within a margin).
#[test]
fn kept_snapshots_do_not_make_the_file_grow() {
    let size_after = |reads: bool| {
        let dir = tempfile::tempdir().unwrap();
        let (storage, _) = redb_storage(&dir);
        let t = storage.raw_table::<u64>("t").unwrap();
        for round in 0..300u64 {
            t.put_batch((0..50u64).map(|i| (i, vec![round as u8; 1000])))
                .unwrap();
            if reads {
                assert!(t.contains(&(round % 50)).unwrap());
            }
        }
        storage.size_on_disk().unwrap()
    };
    let without = size_after(false);
    let with = size_after(true);
    assert!(
        with <= without + without / 2,
        "with reads {with} B, without {without} B"
    );
}
