//! Conformance checks: change subscriptions ([`crate::watch`]) over the engine — events after
//! the commit only and in commit order, never for rolled-back work; keys, ranges and prefixes;
//! a bounded queue with its lag marker; unsubscribing by dropping either end.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::codec::value::RawSerializer;
use crate::error::{Error, Result};
use crate::storage::RawTable;
use crate::watch::{ChangeKind, Event, Events, SubscribeOptions};

type RawEvents<K> = Events<K, [u8], RawSerializer>;

/// The queued changes as `(key, kind, value)`, without waiting; markers as panics.
fn drain(events: &RawEvents<u64>) -> Vec<(u64, ChangeKind, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    while let Some(event) = events.try_recv() {
        match event {
            Event::Change(change) => out.push((
                change.key().unwrap(),
                change.kind(),
                change.value(|v| v.to_vec()).unwrap(),
            )),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

use ChangeKind::{Delete, Insert, Update};

super::checks! {
    /// Every kind of typed write delivers its change after the commit, with the right kind and
    /// the new value; a delete of an absent key delivers nothing.
    fn changes_arrive_after_commit_with_kind_and_value(f: &Fixture) {
        let storage = f.storage();
        let t: RawTable<u64> = storage.raw_table("t").unwrap();
        let (events, _guard) = storage.subscribe(&t, ..).unwrap();
        t.put(&1, b"a").unwrap();
        t.put(&1, b"b").unwrap();
        assert!(!t.delete(&9).unwrap());
        t.delete(&1).unwrap();
        t.put_batch([(2u64, b"c"), (3, b"d")]).unwrap();
        t.update(&2, |v| v.map(|v| [v[0] + 1])).unwrap();
        t.compare_and_swap(&3, Some(&b"d"[..]), None).unwrap();
        t.get_or_insert(&4, || [b'e'], |_| ()).unwrap();
        t.get_or_insert(&4, || [b'x'], |_| ()).unwrap(); // present: no write
        assert_eq!(
            drain(&events),
            [
                (1, Insert, Some(b"a".to_vec())),
                (1, Update, Some(b"b".to_vec())),
                (1, Delete, None),
                (2, Insert, Some(b"c".to_vec())),
                (3, Insert, Some(b"d".to_vec())),
                (2, Update, Some(b"d".to_vec())),
                (3, Delete, None),
                (4, Insert, Some(b"e".to_vec())),
            ]
        );
        let tx = storage.begin_write().unwrap();
        t.put_in(&tx, &5, b"f").unwrap();
        assert!(events.try_recv().is_none(), "nothing before the commit");
        tx.commit().unwrap();
        assert_eq!(drain(&events), [(5, Insert, Some(b"f".to_vec()))]);
        let Some(Event::Change(change)) = ({ t.put(&6, b"g").unwrap(); events.try_recv() }) else {
            panic!("no event")
        };
        assert_eq!((change.table(), change.key_bytes()), ("t", &6u64.to_be_bytes()[..]));
    }

    /// Work that rolls back — an error, a panic, a dropped or nested-failed transaction, a
    /// unique violation — delivers nothing.
    fn rolled_back_work_delivers_nothing(f: &Fixture) {
        let storage = f.storage();
        let t: RawTable<u64> = storage.raw_table("t").unwrap();
        let (events, _guard) = storage.subscribe(&t, ..).unwrap();
        let failed: Result<()> = storage.write(|tx| {
            t.put_in(tx, &1, b"x")?;
            Err(Error::callback(std::io::Error::other("no")))
        });
        assert!(failed.is_err());
        let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
            storage.write::<()>(|tx| {
                t.put_in(tx, &2, b"x")?;
                panic::resume_unwind(Box::new("deliberate"))
            })
        }));
        assert!(panicked.is_err());
        let tx = storage.begin_write().unwrap();
        t.put_in(&tx, &3, b"x").unwrap();
        drop(tx);
        let unique = t.unique_index("by_value", |v: &[u8]| v.to_vec()).unwrap();
        t.put(&4, b"taken").unwrap();
        assert!(t.put(&5, b"taken").is_err());
        assert_eq!(drain(&events), [(4, Insert, Some(b"taken".to_vec()))]);
        drop(unique);
    }

    /// Events come in commit order across writer threads and tables, and in write order
    /// within a transaction.
    fn events_follow_commit_order(f: &Fixture) {
        let storage = f.storage();
        let t: RawTable<u64> = storage.raw_table("t").unwrap();
        let (events, _guard) = storage.subscribe(&t, ..).unwrap();
        let log: RawTable<u64> = storage.raw_table("log").unwrap();
        let threads = 3;
        let per_thread = 40u64;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads as u64)
            .map(|thread| {
                let (storage, t, log, barrier) =
                    (storage.clone(), t.clone(), log.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in 0..per_thread {
                        // Each commit takes the next number from `log` and writes it into the
                        // value: the numbers are the commit order.
                        storage
                            .write(|tx| {
                                let n = log.get_in(tx, &0, |v| u64::from_be_bytes(v.try_into().unwrap()))?.unwrap_or(0);
                                log.put_in(tx, &0, &(n + 1).to_be_bytes())?;
                                t.put_in(tx, &(thread * 1000 + i), &n.to_be_bytes())?;
                                t.put_in(tx, &(thread * 1000 + i + 500), &n.to_be_bytes())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let seen = drain(&events);
        assert_eq!(seen.len() as u64, threads as u64 * per_thread * 2);
        for (pair, n) in seen.chunks(2).zip(0u64..) {
            let numbers: Vec<u64> = pair
                .iter()
                .map(|(_, _, v)| u64::from_be_bytes(v.as_deref().unwrap().try_into().unwrap()))
                .collect();
            assert_eq!(numbers, [n, n], "commit {n} out of order: {pair:?}");
            assert_eq!(pair[0].0 + 500, pair[1].0, "a transaction's events in write order");
        }
    }

    /// Subscriptions to one key, a range and a tuple prefix see only their keys.
    fn subscriptions_see_only_their_keys(f: &Fixture) {
        let storage = f.storage();
        let t: RawTable<u64> = storage.raw_table("t").unwrap();
        let (one, _g1) = storage.subscribe_key(&t, &7).unwrap();
        let (range, _g2) = storage.subscribe(&t, 100..200).unwrap();
        for key in [7u64, 8, 99, 100, 150, 199, 200] {
            t.put(&key, b"v").unwrap();
        }
        let keys = |events: &RawEvents<u64>| drain(events).into_iter().map(|(k, _, _)| k).collect::<Vec<_>>();
        assert_eq!(keys(&one), [7]);
        assert_eq!(keys(&range), [100, 150, 199]);
        let pairs: RawTable<(String, u64)> = storage.raw_table("pairs").unwrap();
        let (ada, _g3) = storage.subscribe_prefix(&pairs, &("ada",)).unwrap();
        for who in ["ad", "ada", "adam", "bob"] {
            pairs.put(&(who, 1), b"").unwrap();
        }
        let mut seen = Vec::new();
        while let Some(Event::Change(change)) = ada.try_recv() {
            seen.push(change.key().unwrap());
        }
        assert_eq!(seen, [("ada".to_owned(), 1)]);
    }

    /// A full queue drops changes without blocking the writer and reports how many with one
    /// marker, ahead of the next change there is room for.
    fn a_slow_subscriber_gets_a_lag_marker(f: &Fixture) {
        let storage = f.storage();
        let t: RawTable<u64> = storage.raw_table("t").unwrap();
        let (events, _guard) = storage
            .subscribe_with(&t, .., SubscribeOptions::default().capacity(4))
            .unwrap();
        t.put_batch((0..10u64).map(|i| (i, [i as u8]))).unwrap(); // never blocks
        assert_eq!(events.count_queued(), 4);
        let first: Vec<u64> = (0..4)
            .map(|_| match events.try_recv() {
                Some(Event::Change(c)) => c.key().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(first, [0, 1, 2, 3]);
        t.put(&20, b"x").unwrap();
        assert!(matches!(events.try_recv(), Some(Event::Lagged { missed: 6 })));
        assert!(matches!(events.try_recv(), Some(Event::Change(c)) if c.key().unwrap() == 20));
        assert!(events.try_recv().is_none());
    }

    /// Dropping the guard or the receiver unsubscribes; the receiver ends once drained; the
    /// table's drop is announced.
    fn dropping_either_end_unsubscribes(f: &Fixture) {
        let storage = f.storage();
        let t: RawTable<u64> = storage.raw_table("t").unwrap();
        let (events, guard) = storage.subscribe(&t, ..).unwrap();
        t.put(&1, b"x").unwrap();
        drop(guard);
        t.put(&2, b"y").unwrap();
        assert!(matches!(events.recv(), Some(Event::Change(c)) if c.key().unwrap() == 1));
        assert!(events.recv().is_none() && events.is_closed());
        let (events, _guard) = storage.subscribe(&t, ..).unwrap();
        drop(events);
        t.put(&3, b"z").unwrap(); // nobody to deliver to
        let (events, _guard) = storage.subscribe(&t, ..).unwrap();
        let waiter = std::thread::spawn(move || {
            let first = events.recv_timeout(Duration::from_secs(10));
            (matches!(first, Some(Event::TableDropped)), events.recv_timeout(Duration::from_millis(10)).is_none())
        });
        std::thread::sleep(Duration::from_millis(20));
        storage.drop_table("t").unwrap();
        assert_eq!(waiter.join().unwrap(), (true, true));
    }

    /// A receiver ends once every storage and table handle of the database is gone, and
    /// keeps what was queued until then.
    fn receivers_end_with_the_last_handle(f: &Fixture) {
        let storage = f.storage();
        let t: RawTable<u64> = storage.raw_table("t").unwrap();
        let (events, guard) = storage.subscribe(&t, ..).unwrap();
        t.put(&1, b"x").unwrap();
        drop((t, storage));
        assert!(matches!(events.recv(), Some(Event::Change(_))));
        assert!(events.recv().is_none(), "the stream ends");
        drop(guard);
    }
}
