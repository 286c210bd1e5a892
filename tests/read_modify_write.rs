//! Atomic read-modify-write: `update` (insert, modify, delete; its return value),
//! `compare_and_swap`, `get_or_insert`, lost-update freedom under four racing threads,
//! panicking closures, and `update_in` rolling back with its enclosing transaction.

mod common;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use common::{User, on_every_engine, on_every_fast_engine, user};
use zerotable::{Error, RkyvTable};

/// The current value of a `u64` counter, if any.
fn read(counters: &RkyvTable<String, u64>, key: &str) -> Option<u64> {
    counters.get(key, |v| v.to_native()).unwrap()
}

/// `update` on an absent key calls its closure once with `None` and inserts what it returns.
#[test]
fn update_inserts_when_absent() {
    on_every_engine(|engine, storage| {
        let counters = storage.rkyv_table::<String, u64>("counters").unwrap();
        let calls = Cell::new(0);
        let stored = counters
            .update("hits", |old| {
                calls.set(calls.get() + 1);
                assert!(old.is_none(), "{engine}: no value yet");
                Some(5u64)
            })
            .unwrap();
        assert!(stored, "{engine}: a value is stored afterwards");
        assert_eq!(calls.get(), 1, "{engine}: the closure runs once");
        assert_eq!(read(&counters, "hits"), Some(5), "{engine}");
        assert_eq!(counters.len().unwrap(), 1);
    });
}

/// `update` hands the closure the current stored view and stores the replacement it builds (rkyv
/// and raw tables).
#[test]
fn update_modifies_from_the_current_view() {
    on_every_engine(|engine, storage| {
        let counters = storage.rkyv_table::<String, u64>("counters").unwrap();
        counters.put("hits", &41).unwrap();
        let calls = Cell::new(0);
        let stored = counters
            .update("hits", |old| {
                calls.set(calls.get() + 1);
                old.map(|v| v.to_native() + 1)
            })
            .unwrap();
        assert!(stored, "{engine}");
        assert_eq!(calls.get(), 1, "{engine}");
        assert_eq!(read(&counters, "hits"), Some(42), "{engine}");

        // A structured value: the closure reads the archived view and builds the new value.
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put(&7, &user(7)).unwrap();
        let stored = users
            .update(&7, |old| {
                let old = old.expect("present");
                Some(User {
                    name: format!("{}!", old.name),
                    revenue: old.revenue.to_native() + 1.0,
                    ..user(7)
                })
            })
            .unwrap();
        assert!(stored);
        let (name, revenue) = users
            .get(&7, |u| (u.name.to_string(), u.revenue.to_native()))
            .unwrap()
            .unwrap();
        assert_eq!(name, "user7!", "{engine}");
        assert_eq!(revenue, user(7).revenue + 1.0);

        // Raw tables: the replacement may be any `Borrow<[u8]>`.
        let raw = storage.raw_table::<u64>("raw").unwrap();
        raw.put(&1, b"abc").unwrap();
        assert!(
            raw.update(&1, |old| old.map(|b| [b, b"def"].concat()))
                .unwrap()
        );
        assert_eq!(
            raw.get(&1, <[u8]>::to_vec).unwrap(),
            Some(b"abcdef".to_vec())
        );
        assert!(raw.update(&2, |_| Some(*b"new")).unwrap());
        assert_eq!(raw.get(&2, <[u8]>::to_vec).unwrap(), Some(b"new".to_vec()));
    });
}

/// `update` whose closure returns `None` deletes the key (or leaves it absent) and reports `false`.
#[test]
fn update_returning_none_deletes() {
    on_every_engine(|engine, storage| {
        let counters = storage.rkyv_table::<String, u64>("counters").unwrap();
        counters.put("a", &1).unwrap();
        counters.put("b", &2).unwrap();
        let mut seen = None;
        let stored = counters
            .update("a", |old| {
                seen = old.map(|v| v.to_native());
                None::<u64>
            })
            .unwrap();
        assert!(!stored, "{engine}: nothing is stored afterwards");
        assert_eq!(seen, Some(1), "{engine}: the closure saw the old value");
        assert!(!counters.contains("a").unwrap(), "{engine}");
        assert_eq!(
            read(&counters, "b"),
            Some(2),
            "{engine}: other keys untouched"
        );
        assert_eq!(counters.len().unwrap(), 1);

        // `None` for an absent key: still absent, and `false`.
        let stored = counters
            .update("missing", |old| {
                assert!(old.is_none());
                None::<u64>
            })
            .unwrap();
        assert!(!stored, "{engine}");
        assert!(!counters.contains("missing").unwrap());
        assert_eq!(counters.len().unwrap(), 1);

        // A conditional update: keep the value unless it is too large.
        for (key, value, kept) in [("small", 3u64, true), ("large", 300, false)] {
            counters.put(key, &value).unwrap();
            let stored = counters
                .update(key, |old| old.map(|v| v.to_native()).filter(|v| *v < 100))
                .unwrap();
            assert_eq!(stored, kept, "{engine}: {key}");
            assert_eq!(read(&counters, key), kept.then_some(value));
        }
    });
}

/// `compare_and_swap` swaps (or deletes) only when the current value encodes to the expected bytes,
/// absent matching `None`.
#[test]
fn compare_and_swap_succeeds_only_on_a_match() {
    on_every_engine(|engine, storage| {
        let t = storage.rkyv_table::<String, u64>("cas").unwrap();

        // Expected absent: the key is absent, so it swaps in.
        assert!(t.compare_and_swap("k", None, Some(&1)).unwrap(), "{engine}");
        assert_eq!(read(&t, "k"), Some(1));
        // Expected absent, but present: no swap.
        assert!(
            !t.compare_and_swap("k", None, Some(&2)).unwrap(),
            "{engine}"
        );
        assert_eq!(read(&t, "k"), Some(1));
        // Wrong expected value: no swap.
        assert!(
            !t.compare_and_swap("k", Some(&7), Some(&2)).unwrap(),
            "{engine}"
        );
        assert_eq!(read(&t, "k"), Some(1));
        // Matching expected value: swaps.
        assert!(
            t.compare_and_swap("k", Some(&1), Some(&2)).unwrap(),
            "{engine}"
        );
        assert_eq!(read(&t, "k"), Some(2));
        // A stale expected value after the swap: no swap.
        assert!(!t.compare_and_swap("k", Some(&1), Some(&3)).unwrap());
        assert_eq!(read(&t, "k"), Some(2));
        // Same value in and out: a successful no-op.
        assert!(t.compare_and_swap("k", Some(&2), Some(&2)).unwrap());
        assert_eq!(read(&t, "k"), Some(2));
        // Wrong expected value with a delete: nothing deleted.
        assert!(
            !t.compare_and_swap("k", Some(&9), None).unwrap(),
            "{engine}"
        );
        assert_eq!(read(&t, "k"), Some(2));
        // Matching expected value, new `None`: deletes.
        assert!(t.compare_and_swap("k", Some(&2), None).unwrap(), "{engine}");
        assert_eq!(read(&t, "k"), None);
        assert!(t.is_empty().unwrap());
        // Expected a value, but the key is absent: no swap, still absent.
        assert!(
            !t.compare_and_swap("k", Some(&2), Some(&5)).unwrap(),
            "{engine}"
        );
        assert_eq!(read(&t, "k"), None);
        // Expected absent and new absent on an absent key: matches, nothing stored.
        assert!(t.compare_and_swap("k", None, None).unwrap(), "{engine}");
        assert_eq!(read(&t, "k"), None);
        assert!(t.is_empty().unwrap());

        // Structured values compare by their encoding.
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put(&1, &user(1)).unwrap();
        assert!(
            !users
                .compare_and_swap(&1, Some(&user(2)), Some(&user(3)))
                .unwrap()
        );
        assert!(
            users
                .compare_and_swap(&1, Some(&user(1)), Some(&user(3)))
                .unwrap()
        );
        assert_eq!(
            users.get(&1, |u| u.id.to_native()).unwrap(),
            Some(3),
            "{engine}"
        );

        // Raw values compare byte for byte.
        let raw = storage.raw_table::<u64>("raw").unwrap();
        assert!(raw.compare_and_swap(&1, None, Some(b"a")).unwrap());
        assert!(!raw.compare_and_swap(&1, Some(b"a\0"), Some(b"b")).unwrap());
        assert!(!raw.compare_and_swap(&1, Some(b""), Some(b"b")).unwrap());
        assert!(raw.compare_and_swap(&1, Some(b"a"), Some(b"")).unwrap());
        // An empty stored value is present, not absent.
        assert!(
            !raw.compare_and_swap(&1, None, Some(b"c")).unwrap(),
            "{engine}"
        );
        assert!(raw.compare_and_swap(&1, Some(b""), None).unwrap());
        assert!(!raw.contains(&1).unwrap());
    });
}

/// `get_or_insert` calls `make` only for an absent key and reads back the stored value either way.
#[test]
fn get_or_insert_makes_the_value_only_when_absent() {
    on_every_engine(|engine, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        let makes = Cell::new(0);
        let name = users
            .get_or_insert(
                &1,
                || {
                    makes.set(makes.get() + 1);
                    user(1)
                },
                |u| u.name.to_string(),
            )
            .unwrap();
        assert_eq!(name, "user1", "{engine}: read sees the value just made");
        assert_eq!(makes.get(), 1, "{engine}");
        assert_eq!(users.get(&1, |u| u.id.to_native()).unwrap(), Some(1));

        // Present: `make` is not called and `read` sees the stored value.
        let name = users
            .get_or_insert(
                &1,
                || -> User { panic!("{engine}: make called for a present key") },
                |u| u.name.to_string(),
            )
            .unwrap();
        assert_eq!(name, "user1");
        users.put(&2, &user(22)).unwrap();
        let id = users
            .get_or_insert(&2, || -> User { unreachable!() }, |u| u.id.to_native())
            .unwrap();
        assert_eq!(id, 22, "{engine}: the existing value wins");
        assert_eq!(users.len().unwrap(), 2);

        // String keys by `&str`, and values of any `Borrow<V>`.
        let counters = storage.rkyv_table::<String, u64>("counters").unwrap();
        let first = counters
            .get_or_insert("c", || 10u64, |v| v.to_native())
            .unwrap();
        let second = counters
            .get_or_insert("c", || 99u64, |v| v.to_native())
            .unwrap();
        assert_eq!((first, second), (10, 10), "{engine}");
    });
}

const THREADS: u64 = 4;
const ROUNDS: u64 = 1_000;

/// Concurrent `update`s from several threads lose no increment.
#[test]
fn racing_updates_lose_no_increment() {
    on_every_fast_engine(|engine, storage| {
        let counters = storage.rkyv_table::<String, u64>("counters").unwrap();
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                let counters = counters.clone();
                scope.spawn(move || {
                    for _ in 0..ROUNDS {
                        let stored = counters
                            .update("n", |old| Some(old.map_or(0, |v| v.to_native()) + 1))
                            .unwrap();
                        assert!(stored);
                    }
                });
            }
        });
        assert_eq!(read(&counters, "n"), Some(THREADS * ROUNDS), "{engine}");
    });
}

/// Concurrent `compare_and_swap` retry loops lose no increment.
#[test]
fn racing_compare_and_swap_retry_loops_lose_no_increment() {
    on_every_fast_engine(|engine, storage| {
        let counters = storage.rkyv_table::<String, u64>("counters").unwrap();
        let retries = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                let counters = counters.clone();
                let retries = &retries;
                scope.spawn(move || {
                    for _ in 0..ROUNDS {
                        loop {
                            // Starts from absent: the first successful swap inserts.
                            let current = read(&counters, "n");
                            let next = current.unwrap_or(0) + 1;
                            if counters
                                .compare_and_swap("n", current.as_ref(), Some(&next))
                                .unwrap()
                            {
                                break;
                            }
                            retries.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(read(&counters, "n"), Some(THREADS * ROUNDS), "{engine}");
        // Not asserted (scheduling decides), but shows the swaps did contend.
        eprintln!("{engine}: {} failed swaps retried", retries.into_inner());
    });
}

/// A panic inside `update` or `get_or_insert` propagates, changes nothing (also in an enclosing
/// transaction) and releases the writer.
#[test]
fn a_panic_in_update_leaves_the_value_and_storage_usable() {
    on_every_engine(|engine, storage| {
        let counters = storage.rkyv_table::<String, u64>("counters").unwrap();
        counters.put("n", &7).unwrap();

        let outcome = catch_unwind(AssertUnwindSafe(|| {
            counters.update("n", |_| -> Option<u64> { panic!("update gave up") })
        }));
        assert_eq!(
            outcome.unwrap_err().downcast_ref::<&str>(),
            Some(&"update gave up"),
            "{engine}: the closure's panic propagates"
        );
        assert_eq!(read(&counters, "n"), Some(7), "{engine}: value unchanged");

        // Absent key: still absent after the panic.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            counters.update("fresh", |_| -> Option<u64> { panic!("no") })
        }));
        assert!(outcome.is_err());
        assert!(!counters.contains("fresh").unwrap(), "{engine}");

        // Writes made earlier in the same transaction are rolled back with it.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            storage.write(|tx| {
                counters.put_in(tx, "other", &1)?;
                counters.update_in(tx, "n", |_| -> Option<u64> { panic!("mid-transaction") })
            })
        }));
        assert!(outcome.is_err());
        assert!(!counters.contains("other").unwrap(), "{engine}");
        assert_eq!(read(&counters, "n"), Some(7));

        // A panic in get_or_insert's `make` or `read` leaves nothing either.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            counters.get_or_insert("g", || -> u64 { panic!("make") }, |v| v.to_native())
        }));
        assert!(outcome.is_err());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            counters.get_or_insert("g", || 1u64, |_| -> u64 { panic!("read") })
        }));
        assert!(outcome.is_err());
        assert!(!counters.contains("g").unwrap(), "{engine}");

        // The writer slot was released: further writes proceed.
        assert!(
            counters
                .update("n", |v| v.map(|v| v.to_native() * 2))
                .unwrap()
        );
        assert_eq!(read(&counters, "n"), Some(14), "{engine}");
        counters.put("after", &1).unwrap();
        assert_eq!(counters.len().unwrap(), 2);
    });
}

/// `update_in` sees the transaction's earlier writes and rolls back or commits with it.
#[test]
fn update_in_rolls_back_with_its_transaction() {
    on_every_engine(|engine, storage| {
        let counters = storage.rkyv_table::<String, u64>("counters").unwrap();
        let log = storage.raw_table::<u64>("log").unwrap();
        counters.put("n", &1).unwrap();

        let outcome: zerotable::Result<()> = storage.write(|tx| {
            assert!(counters.update_in(tx, "n", |v| v.map(|v| v.to_native() + 10))?);
            assert!(counters.update_in(tx, "new", |_| Some(5u64))?);
            assert!(!counters.update_in(tx, "new", |_| None::<u64>)?);
            assert!(counters.update_in(tx, "new", |old| {
                assert!(
                    old.is_none(),
                    "the delete above is visible in the transaction"
                );
                Some(6u64)
            })?);
            log.put_in(tx, &1, b"incremented")?;
            // The transaction sees its own updates, and a second update builds on the first.
            assert_eq!(counters.get_in(tx, "n", |v| v.to_native())?, Some(11));
            assert!(counters.update_in(tx, "n", |v| v.map(|v| v.to_native() * 2))?);
            assert_eq!(counters.get_in(tx, "n", |v| v.to_native())?, Some(22));
            // Nobody else does.
            assert_eq!(read(&counters, "n"), Some(1));
            Err(Error::callback("abort"))
        });
        assert!(matches!(outcome, Err(Error::Callback { .. })), "{engine}");
        assert_eq!(read(&counters, "n"), Some(1), "{engine}: rolled back");
        assert!(!counters.contains("new").unwrap(), "{engine}");
        assert!(log.is_empty().unwrap(), "{engine}");

        // Dropping an explicit transaction rolls back too.
        let tx = storage.begin_write().unwrap();
        assert!(counters.update_in(&tx, "n", |_| Some(100u64)).unwrap());
        drop(tx);
        assert_eq!(read(&counters, "n"), Some(1), "{engine}");

        // Committed, the same updates stick.
        storage
            .write(|tx| {
                counters.update_in(tx, "n", |v| v.map(|v| v.to_native() + 10))?;
                counters.update_in(tx, "n", |v| v.map(|v| v.to_native() * 2))?;
                log.put_in(tx, &1, b"incremented")
            })
            .unwrap();
        assert_eq!(read(&counters, "n"), Some(22), "{engine}");
        assert_eq!(log.len().unwrap(), 1);
    });
}
