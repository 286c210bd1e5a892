//! Snapshots: one consistent view of every table as of when they began, unaffected by later
//! commits, and never in a writer's way.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{User, on_every_engine, user};
use zerotable::{Durability, RkyvTable, Snapshot, WriteOptions};

const ACCOUNTS: u64 = 8;
const OPENING_BALANCE: u64 = 1_000;
const TOTAL: u64 = 2 * ACCOUNTS * OPENING_BALANCE;
const TRANSFERS: u64 = 200;

type Balances = RkyvTable<u64, u64>;

/// The sum of every balance in both tables, and the number of transfers made, as `snap` sees
/// them. Read twice over to check the view does not move under the reader.
fn audit(snap: &Snapshot, checking: &Balances, savings: &Balances, log: &Balances) -> (u64, u64) {
    let sum = |snap: &Snapshot| {
        let a = checking
            .scan_in(snap)
            .fold(0, |sum, _, v| Ok(sum + v.to_native()))
            .unwrap();
        thread::yield_now();
        let b = savings
            .scan_in(snap)
            .fold(0, |sum, _, v| Ok(sum + v.to_native()))
            .unwrap();
        let transfers = log
            .get_in(snap, &0, |n| n.to_native())
            .unwrap()
            .unwrap_or(0);
        assert_eq!(checking.len_in(snap).unwrap(), ACCOUNTS);
        assert_eq!(savings.len_in(snap).unwrap(), ACCOUNTS);
        (a + b, transfers)
    };
    let first = sum(snap);
    thread::yield_now();
    assert_eq!(
        sum(snap),
        first,
        "a snapshot read twice gives the same answer"
    );
    first
}

/// Every snapshot sees one consistent state of several tables (the total is kept) while transfers
/// between them commit.
#[test]
fn every_snapshot_sees_the_same_total_while_transfers_between_two_tables_commit() {
    on_every_engine(|engine, storage| {
        let checking: Balances = storage.rkyv_table("checking").unwrap();
        let savings: Balances = storage.rkyv_table("savings").unwrap();
        let log: Balances = storage.rkyv_table("transfers").unwrap();
        storage
            .write(|tx| {
                for account in 0..ACCOUNTS {
                    checking.put_in(tx, &account, &OPENING_BALANCE)?;
                    savings.put_in(tx, &account, &OPENING_BALANCE)?;
                }
                Ok(())
            })
            .unwrap();

        let done = AtomicBool::new(false);
        let audits = AtomicU64::new(0);
        thread::scope(|scope| {
            // Reader 1: closure snapshots. Reader 2: snapshot handles.
            for handle_form in [false, true] {
                let (storage, checking, savings, log) = (&storage, &checking, &savings, &log);
                let (done, audits) = (&done, &audits);
                scope.spawn(move || {
                    let mut last_transfers = 0;
                    let mut rounds = 0;
                    while !done.load(Ordering::Acquire) || rounds < 5 {
                        let (total, transfers) = if handle_form {
                            let snap = storage.snapshot().unwrap();
                            audit(&snap, checking, savings, log)
                        } else {
                            storage
                                .read(|snap| Ok(audit(snap, checking, savings, log)))
                                .unwrap()
                        };
                        assert_eq!(total, TOTAL, "{engine}: after {transfers} transfers");
                        assert!(transfers >= last_transfers, "{engine}: time went backwards");
                        last_transfers = transfers;
                        rounds += 1;
                    }
                    audits.fetch_add(rounds, Ordering::Relaxed);
                });
            }
            scope.spawn(|| {
                for i in 0..TRANSFERS {
                    let (from, to) = if i % 2 == 0 {
                        (&checking, &savings)
                    } else {
                        (&savings, &checking)
                    };
                    let (a, b) = (i % ACCOUNTS, (i * 3 + 1) % ACCOUNTS);
                    storage
                        .write_with(WriteOptions::durability(Durability::None), |tx| {
                            let have = from.get_in(tx, &a, |v| v.to_native())?.unwrap();
                            let amount = have.min(i % 97 + 1);
                            from.put_in(tx, &a, &(have - amount))?;
                            let there = to.get_in(tx, &b, |v| v.to_native())?.unwrap();
                            to.put_in(tx, &b, &(there + amount))?;
                            let n = log.get_in(tx, &0, |n| n.to_native())?.unwrap_or(0);
                            log.put_in(tx, &0, &(n + 1))
                        })
                        .unwrap();
                }
                done.store(true, Ordering::Release);
            });
        });

        let snap = storage.snapshot().unwrap();
        assert_eq!(
            audit(&snap, &checking, &savings, &log),
            (TOTAL, TRANSFERS),
            "{engine}"
        );
        assert!(audits.load(Ordering::Relaxed) >= 10, "{engine}");
    });
}

/// A snapshot sees every commit made before it began and none made after, including tables created
/// later.
#[test]
fn a_snapshot_sees_writes_committed_before_it_and_none_after() {
    on_every_engine(|engine, storage| {
        let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
        let notes = storage.raw_table::<String>("notes").unwrap();
        users.put(&1, &user(1)).unwrap();
        notes.put("a", b"first").unwrap();

        let before = storage.snapshot().unwrap();
        users.put(&1, &user(100)).unwrap(); // replace: same key, new value
        users.put(&2, &user(2)).unwrap();
        assert!(notes.delete("a").unwrap());
        let late = storage.raw_table::<u64>("created_later").unwrap();
        late.put(&7, b"x").unwrap();
        let after = storage.snapshot().unwrap();
        storage.write(|tx| users.put_in(tx, &3, &user(3))).unwrap();

        let name = |snap: &Snapshot, id| users.get_in(snap, &id, |u| u.name.to_string()).unwrap();
        assert_eq!(name(&before, 1).as_deref(), Some("user1"), "{engine}");
        assert_eq!(name(&before, 2), None, "{engine}");
        assert!(notes.contains_in(&before, "a").unwrap(), "{engine}");
        assert_eq!(users.len_in(&before).unwrap(), 1, "{engine}");
        // A table created after the snapshot reads as empty in it, not as an error.
        assert_eq!(late.len_in(&before).unwrap(), 0, "{engine}");
        assert!(!late.contains_in(&before, &7).unwrap(), "{engine}");

        assert_eq!(name(&after, 1).as_deref(), Some("user100"), "{engine}");
        assert_eq!(name(&after, 2).as_deref(), Some("user2"), "{engine}");
        assert_eq!(name(&after, 3), None, "{engine}: committed after it");
        assert!(!notes.contains_in(&after, "a").unwrap(), "{engine}");
        assert!(late.contains_in(&after, &7).unwrap(), "{engine}");
        let ids = users.range_in(&after, 0..).filter_map(|id, _| Some(*id));
        assert_eq!(ids.unwrap(), [1, 2], "{engine}");

        let now = storage.read(|snap| users.scan_in(snap).filter_map(|id, _| Some(*id)));
        assert_eq!(now.unwrap(), [1, 2, 3], "{engine}");
    });
}

/// Runs `write` on another thread and fails (instead of hanging) if it does not finish soon.
fn finishes_promptly(what: &str, write: impl FnOnce() + Send + 'static) {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        write();
        let _ = sender.send(());
    });
    receiver
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what}: writer blocked (or failed) while a snapshot was open"));
}

/// An open snapshot, even mid-scan, never blocks writers on other threads or on its own thread.
#[test]
fn an_open_snapshot_does_not_block_writers() {
    on_every_engine(|engine, storage| {
        let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
        users.put_batch((0..10).map(|i| (i, user(i)))).unwrap();

        let snap = storage.snapshot().unwrap();
        assert_eq!(users.len_in(&snap).unwrap(), 10);
        // In the middle of a scan of the snapshot, writers on another thread commit.
        let seen = users
            .scan_in(&snap)
            .fold(0u64, |n, id, _| {
                if *id == 5 {
                    let (storage, users) = (storage.clone(), users.clone());
                    finishes_promptly(engine, move || {
                        users.put(&100, &user(100)).unwrap();
                        storage
                            .write(|tx| {
                                users.delete_in(tx, &0)?;
                                users.put_in(tx, &101, &user(101))
                            })
                            .unwrap();
                        for i in 200..250 {
                            users.put(&i, &user(i)).unwrap();
                        }
                    });
                }
                Ok(n + 1)
            })
            .unwrap();
        assert_eq!(seen, 10, "{engine}: the scan kept to its snapshot");
        assert_eq!(users.len_in(&snap).unwrap(), 10, "{engine}");
        assert!(users.contains_in(&snap, &0).unwrap(), "{engine}");
        assert_eq!(users.len().unwrap(), 10 - 1 + 2 + 50, "{engine}");

        // The closure form too, with the writer on the reading thread itself.
        let (inside, outside) = storage
            .read(|snap| {
                users.put(&300, &user(300))?;
                storage.write(|tx| users.put_in(tx, &301, &user(301)))?;
                Ok((users.len_in(snap)?, users.len()?))
            })
            .unwrap();
        assert_eq!((inside, outside), (61, 63), "{engine}");
        drop(snap);
    });
}

/// A snapshot taken from a storage clone is `Send` and keeps its frozen view on another thread.
#[test]
fn snapshots_work_across_storage_clones_and_threads() {
    on_every_engine(|engine, storage| {
        let users: RkyvTable<u64, User> = storage.rkyv_table("users").unwrap();
        users.put(&1, &user(1)).unwrap();
        let snap = storage.clone().snapshot().unwrap();
        users.put(&2, &user(2)).unwrap();
        // A snapshot is `Send`: another thread reads the same frozen view.
        let len = thread::spawn(move || users.len_in(&snap).unwrap())
            .join()
            .unwrap();
        assert_eq!(len, 1, "{engine}");
    });
}
