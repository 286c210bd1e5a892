//! A write transaction belongs to the thread that began it (`WriteTx` is not `Send`; a doctest
//! in `txn.rs` shows moving it does not compile). On that thread a second write — an
//! auto-commit write, a second transaction — is refused with `NestedWrite` at once; on any
//! other thread it waits for the transaction to end and then goes ahead. Snapshots are `Send`.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::on_every_engine;
use zerotable::{EngineErrorKind, Storage};

/// Gives `job` a few seconds on another thread; panics if it has not finished by then.
fn within_seconds<T: Send + 'static>(what: &str, job: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(job());
    });
    result
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} hung or panicked"))
}

#[test]
fn the_thread_holding_the_write_gets_nested_write_at_once() {
    on_every_engine(|engine, storage| {
        let storage2 = storage.clone();
        within_seconds("nested writes", move || {
            let t = storage2.raw_table::<u64>("t").unwrap();
            let tx = storage2.begin_write().unwrap();
            t.put_in(&tx, &1, b"in tx").unwrap();
            for (what, kind) in [
                (
                    "auto-commit put",
                    t.put(&2, b"auto").unwrap_err().engine_kind(),
                ),
                (
                    "auto-commit delete",
                    t.delete(&1).unwrap_err().engine_kind(),
                ),
                (
                    "second begin_write",
                    storage2.begin_write().unwrap_err().engine_kind(),
                ),
                (
                    "Storage::write",
                    storage2.write(|_| Ok(())).unwrap_err().engine_kind(),
                ),
            ] {
                assert_eq!(kind, Some(EngineErrorKind::NestedWrite), "{what}");
            }
            let message = t.put(&2, b"auto").unwrap_err().to_string();
            assert!(
                message.contains("_in"),
                "the error says what to do: {message}"
            );
            tx.commit().unwrap();
            t.put(&2, b"after").unwrap();
            assert_eq!(t.len().unwrap(), 2);
        });
        let t = storage.raw_table::<u64>("t").unwrap();
        assert_eq!(
            t.get(&1, |v| v.to_vec()).unwrap(),
            Some(b"in tx".to_vec()),
            "{engine}"
        );
    });
}

#[test]
fn another_thread_waits_for_the_write_and_then_goes_ahead() {
    on_every_engine(|engine, storage| {
        let t = storage.raw_table::<u64>("t").unwrap();
        let tx = storage.begin_write().unwrap();
        t.put_in(&tx, &1, b"first").unwrap();

        let (started, wait_started) = mpsc::channel();
        let other = storage.clone();
        let writer = thread::spawn(move || {
            let t = other.raw_table::<u64>("t").unwrap();
            started.send(()).unwrap();
            // Waits while the main thread holds the write, then sees its commit.
            t.update(&1, |old| old.map(|v| [v, b" then second"].concat()))
                .unwrap();
        });
        wait_started.recv().unwrap();
        thread::sleep(Duration::from_millis(100));
        assert!(
            !writer.is_finished(),
            "{engine}: the other thread did not wait"
        );
        // The holder is not blocked by the waiting thread.
        t.put_in(&tx, &2, b"also first").unwrap();
        tx.commit().unwrap();
        writer.join().unwrap();
        assert_eq!(
            t.get(&1, |v| v.to_vec()).unwrap(),
            Some(b"first then second".to_vec()),
            "{engine}"
        );
    });
}

#[test]
fn a_snapshot_can_move_to_another_thread() {
    on_every_engine(|engine, storage| {
        let t = storage.raw_table::<u64>("t").unwrap();
        t.put(&1, b"old").unwrap();
        let snapshot = storage.snapshot().unwrap();
        t.put(&1, b"new").unwrap();
        let reader = t.clone();
        let seen = thread::spawn(move || reader.get_in(&snapshot, &1, |v| v.to_vec()).unwrap())
            .join()
            .unwrap();
        assert_eq!(seen, Some(b"old".to_vec()), "{engine}");
    });
}

#[test]
fn a_storage_and_its_tables_are_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Storage>();
    assert_send_sync::<zerotable::RawTable<u64>>();
    assert_send::<zerotable::Snapshot>();
}
