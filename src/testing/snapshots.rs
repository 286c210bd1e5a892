//! Conformance checks: snapshots — isolation from later commits, one state of every table,
//! snapshots moved to other threads, many snapshots held at once.

use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use super::support::{
    Model, PATIENCE, all, assert_unsupported, get_copy, model_all, names, on_thread_within, rows,
};
use crate::engine::{Durability, KeyRange, ReadOps, ReadTxn, WriteOptions};

/// Waits for the next message on `receiver`, failing the check if the other thread panicked or
/// is stuck.
fn recv_within<T>(receiver: &mpsc::Receiver<T>, what: &str) -> T {
    match receiver.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not arrive within {PATIENCE:?}: is the engine stuck?")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the other thread panicked"),
    }
}

/// The state a snapshot of [`many_snapshots_each_keep_their_own_state`] must see: the
/// `version` entry, the keys `0..=version` in `t` minus those deleted by later versions, and
/// `u` holding the version.
fn state_at(version: u8) -> (Model, Model) {
    let mut t = Model::new();
    for i in 0..=version {
        t.insert(vec![i], vec![i; usize::from(i)]);
        // Every version deletes the key written three versions before.
        if i >= 3 {
            t.remove(&vec![i - 3]);
        }
    }
    let mut u = Model::new();
    u.insert(b"version".to_vec(), vec![version]);
    (t, u)
}

fn assert_state(snapshot: &dyn ReadOps, version: u8) {
    let (t, u) = state_at(version);
    assert_eq!(
        all(snapshot, "t"),
        model_all(&t),
        "snapshot of version {version}: table t"
    );
    assert_eq!(
        snapshot.len("t").unwrap(),
        t.len() as u64,
        "version {version}"
    );
    assert_eq!(
        get_copy(snapshot, "u", b"version"),
        Some(vec![version]),
        "snapshot of version {version}: table u"
    );
    assert_eq!(all(snapshot, "u"), model_all(&u), "version {version}");
    assert_eq!(
        get_copy(snapshot, "t", &[version + 1]),
        None,
        "snapshot of version {version} sees a later put"
    );
}

super::checks! {
    /// A snapshot keeps the state it began with: puts, deletes, one-table transactions and table
    /// drops committed after it began (one write per transaction, or one transaction over
    /// several tables) stay invisible to it, in every table, while a newer snapshot and fresh
    /// reads see them all. (Without table administration the doomed table is emptied by a
    /// range deletion instead of dropped, and `drop_table`/`list_tables` must answer
    /// `Unsupported`.)
    fn snapshot_ignores_later_commits(f: &Fixture) {
        f.put("left", b"a", b"1");
        f.put("left", b"b", b"2");
        f.put("right", b"x", b"1");
        f.put("doomed", b"k", b"v");
        let old = f.begin_read();

        f.put("left", b"a", b"changed");
        f.put("left", b"c", b"new");
        assert!(f.delete("left", b"b"));
        f.write(|txn| txn.put("right", b"y", b"batched"));
        let admin = f.claims().table_admin;
        f.write(|txn| {
            txn.put("right", b"x", b"changed")?;
            txn.put("fresh", b"f", b"new table")?;
            if admin {
                assert!(txn.drop_table("doomed")?);
            } else {
                assert_unsupported(txn.drop_table("doomed"), "drop_table");
                assert_eq!(txn.delete_range("doomed", &KeyRange::ALL)?, 1);
            }
            Ok(())
        });

        let assert_old = |snapshot: &dyn ReadOps| {
            assert_eq!(all(snapshot, "left"), rows(&[("a", "1"), ("b", "2")]));
            assert_eq!(get_copy(snapshot, "left", b"a"), Some(b"1".to_vec()));
            assert_eq!(get_copy(snapshot, "left", b"b"), Some(b"2".to_vec()));
            assert_eq!(get_copy(snapshot, "left", b"c"), None);
            assert_eq!(snapshot.len("left").unwrap(), 2);
            assert_eq!(all(snapshot, "right"), rows(&[("x", "1")]));
            assert_eq!(get_copy(snapshot, "right", b"y"), None);
            assert_eq!(snapshot.len("right").unwrap(), 1);
            assert_eq!(all(snapshot, "doomed"), rows(&[("k", "v")]));
            assert_eq!(get_copy(snapshot, "doomed", b"k"), Some(b"v".to_vec()));
            assert_eq!(snapshot.len("doomed").unwrap(), 1);
            assert_eq!(get_copy(snapshot, "fresh", b"f"), None);
            assert_eq!(snapshot.len("fresh").unwrap(), 0);
        };
        assert_old(&*old);

        let new = f.begin_read();
        assert_eq!(all(&*new, "left"), rows(&[("a", "changed"), ("c", "new")]));
        assert_eq!(get_copy(&*new, "left", b"b"), None);
        assert_eq!(all(&*new, "right"), rows(&[("x", "changed"), ("y", "batched")]));
        assert!(all(&*new, "doomed").is_empty());
        assert_eq!(new.len("doomed").unwrap(), 0);
        assert_eq!(all(&*new, "fresh"), rows(&[("f", "new table")]));
        assert_eq!(f.get("left", b"a"), Some(b"changed".to_vec()));
        assert_eq!(f.get("doomed", b"k"), None);
        if admin {
            assert_eq!(
                f.read(|reader| reader.list_tables().unwrap()),
                names(&["fresh", "left", "right"])
            );
            // The old snapshot still lists the dropped table and not the new one.
            assert_eq!(
                old.list_tables().unwrap(),
                names(&["doomed", "left", "right"])
            );
        } else {
            f.read(|reader| assert_unsupported(reader.list_tables(), "list_tables"));
        }

        // More commits change neither snapshot.
        f.put("left", b"d", b"later");
        assert_old(&*old);
        assert_eq!(get_copy(&*new, "left", b"d"), None);
        assert_eq!(new.len("left").unwrap(), 2);
    }

    /// Snapshots taken while another thread commits transactions that each move an entry from
    /// one table to another (and bump a version stored in both) always see both tables at the
    /// same version, every entry in exactly one table, and versions that never go back.
    fn snapshot_sees_one_state_of_every_table(f: &Fixture) {
        const ACCOUNTS: u8 = 8;
        const MOVES: u32 = 60;
        f.write(|txn| {
            for account in 0..ACCOUNTS {
                txn.put("left", &[account], b"")?;
            }
            txn.put("left", b"version", &0u32.to_be_bytes())?;
            txn.put("right", b"version", &0u32.to_be_bytes())
        });

        let writer_engine = f.engine();
        let mode = f.mode();
        let (finished, writer_finished) = mpsc::channel();
        thread::spawn(move || {
            for version in 1..=MOVES {
                let account = [(version % u32::from(ACCOUNTS)) as u8];
                let options = WriteOptions::durability(Durability::None);
                mode.write(&*writer_engine, options, |txn| {
                    let (from, to) = if get_copy(txn, "left", &account).is_some() {
                        ("left", "right")
                    } else {
                        ("right", "left")
                    };
                    assert!(txn.delete(from, &account)?);
                    txn.put(to, &account, b"")?;
                    txn.put("left", b"version", &version.to_be_bytes())?;
                    txn.put("right", b"version", &version.to_be_bytes())
                })
                .unwrap();
            }
            let _ = finished.send(());
        });

        // Returns the version the snapshot sees, after checking its consistency.
        let check = |snapshot: &dyn ReadOps| -> u32 {
            let left = all(snapshot, "left");
            let left_version = get_copy(snapshot, "left", b"version").expect("left version");
            // Leave the writer a chance to commit between the reads of the two tables.
            thread::yield_now();
            let right = all(snapshot, "right");
            let right_version = get_copy(snapshot, "right", b"version").expect("right version");
            assert_eq!(left_version, right_version, "one snapshot saw two states of the database");
            assert_eq!(snapshot.len("left").unwrap(), left.len() as u64);
            assert_eq!(snapshot.len("right").unwrap(), right.len() as u64);
            let mut accounts: Vec<u8> = left
                .iter()
                .chain(&right)
                .filter(|(key, _)| key.len() == 1)
                .map(|(key, _)| key[0])
                .collect();
            accounts.sort_unstable();
            assert_eq!(
                accounts,
                (0..ACCOUNTS).collect::<Vec<_>>(),
                "every entry must be in exactly one table"
            );
            u32::from_be_bytes(left_version.try_into().expect("4-byte version"))
        };

        let deadline = Instant::now() + PATIENCE;
        let mut last = 0;
        loop {
            let version = f.read(check);
            assert!(version >= last, "a newer snapshot saw an older state");
            last = version;
            match writer_finished.try_recv() {
                Ok(()) => break,
                Err(mpsc::TryRecvError::Disconnected) => panic!("the writer thread panicked"),
                Err(mpsc::TryRecvError::Empty) => {
                    assert!(Instant::now() < deadline, "the writer is stuck")
                }
            }
        }
        assert_eq!(f.read(check), MOVES);
    }

    /// A snapshot (`Box<dyn ReadTxn>`) can be moved to another thread and read there: it still
    /// sees the state it began with, also while commits land between its reads, after moving
    /// back, and when it was begun on another thread; it can be dropped on any thread, after
    /// which writers still proceed.
    fn snapshot_moves_between_threads(f: &Fixture) {
        f.write(|txn| {
            txn.put("t", b"a", b"1")?;
            txn.put("t", b"b", b"2")?;
            txn.put("u", b"x", b"1")
        });
        let committed = rows(&[("a", "1"), ("b", "2")]);
        let snapshot = f.begin_read();
        f.put("t", b"c", b"3");
        assert!(f.delete("t", b"a"));

        // Read on another thread, while the owning thread commits between two reads there.
        let (go_tx, go) = mpsc::channel::<()>();
        let (seen_tx, seen) = mpsc::channel();
        let reader = thread::spawn(move || {
            let read = |snapshot: &dyn ReadOps| {
                (all(snapshot, "t"), get_copy(snapshot, "u", b"x"), snapshot.len("t").unwrap())
            };
            seen_tx.send(read(&*snapshot)).unwrap();
            go.recv_timeout(PATIENCE).expect("the go signal");
            seen_tx.send(read(&*snapshot)).unwrap();
            snapshot
        });
        let expected = (committed.clone(), Some(b"1".to_vec()), 2);
        let first = recv_within(&seen, "the first read on the other thread");
        assert_eq!(first, expected, "a moved snapshot must keep its state");
        f.write(|txn| {
            txn.put("t", b"b", b"changed")?;
            txn.put("u", b"x", b"changed")
        });
        go_tx.send(()).unwrap();
        let second = recv_within(&seen, "the second read on the other thread");
        assert_eq!(second, expected, "a commit during its life on another thread leaked in");
        let snapshot: Box<dyn ReadTxn> = reader.join().expect("the reader thread");

        // Back on this thread, and on a third one: still the same state.
        assert_eq!(all(&*snapshot, "t"), committed);
        let snapshot = on_thread_within("reading a snapshot moved to a third thread", move || {
            assert_eq!(all(&*snapshot, "t"), committed);
            assert_eq!(get_copy(&*snapshot, "u", b"x"), Some(b"1".to_vec()));
            snapshot
        });

        // A snapshot begun on another thread, read here.
        let engine = f.engine();
        let begun_there = on_thread_within("beginning a snapshot on another thread", move || {
            engine.begin_read().expect("begin_read")
        });
        f.put("t", b"d", b"4");
        let latest = rows(&[("b", "changed"), ("c", "3")]);
        assert_eq!(all(&*begun_there, "t"), latest);
        assert_eq!(get_copy(&*begun_there, "u", b"x"), Some(b"changed".to_vec()));

        // Dropped on other threads, they hold nothing up.
        on_thread_within("dropping snapshots on another thread", move || {
            drop(snapshot);
            drop(begun_there);
        });
        f.put("t", b"e", b"5");
        assert_eq!(f.len("t"), 4);
    }

    /// Many snapshots held at once, each begun after a different commit, each keep their own
    /// state in every table — read in any order, after more commits, and after other snapshots
    /// were dropped — and a fresh read sees the latest.
    fn many_snapshots_each_keep_their_own_state(f: &Fixture) {
        const VERSIONS: u8 = 16;
        let commit = |version: u8| {
            f.write(|txn| {
                txn.put("t", &[version], &vec![version; usize::from(version)])?;
                if version >= 3 {
                    assert!(txn.delete("t", &[version - 3])?);
                }
                txn.put("u", b"version", &[version])
            });
        };
        let mut snapshots: Vec<(u8, Box<dyn ReadTxn>)> = Vec::new();
        for version in 0..VERSIONS {
            commit(version);
            snapshots.push((version, f.begin_read()));
        }
        commit(VERSIONS);
        for (version, snapshot) in snapshots.iter().rev() {
            assert_state(&**snapshot, *version);
        }
        // Drop every third snapshot; the others are unaffected, also by more commits.
        snapshots.retain(|(version, _)| version % 3 != 1);
        commit(VERSIONS + 1);
        for (version, snapshot) in &snapshots {
            assert_state(&**snapshot, *version);
        }
        // All at once, each moved to its own thread.
        let done: Vec<mpsc::Receiver<()>> = snapshots
            .into_iter()
            .map(|(version, snapshot)| {
                let (done_tx, done) = mpsc::channel();
                thread::spawn(move || {
                    assert_state(&*snapshot, version);
                    let _ = done_tx.send(());
                });
                done
            })
            .collect();
        for done in &done {
            recv_within(done, "a snapshot read on its own thread");
        }
        f.read(|reader| assert_state(reader, VERSIONS + 1));
        assert_eq!(f.get("u", b"version"), Some(vec![VERSIONS + 1]));
    }
}
