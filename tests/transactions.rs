//! Write transactions across tables: `Storage::write` commits everything or nothing (on `Ok`,
//! `Err` or panic), reads inside see the transaction's own writes, nobody outside sees them
//! before commit, and on redb what was committed (and only that) survives a reopen.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread;

use common::{User, on_every_engine, temp_redb, user};
use rkyv::{Archive, Serialize};
use zerotable::{Durability, EngineErrorKind, Error, RkyvTable, Storage, WriteOptions};

/// A second record type, so transactions span tables of different shapes.
#[derive(Archive, Serialize, Debug, Clone, PartialEq)]
struct Order {
    user_id: u64,
    cents: u64,
}

fn order(user_id: u64, cents: u64) -> Order {
    Order { user_id, cents }
}

fn tables(storage: &Storage) -> (RkyvTable<u64, User>, RkyvTable<(u64, u64), Order>) {
    (
        storage.rkyv_table("users").unwrap(),
        storage.rkyv_table("orders").unwrap(),
    )
}

/// Committed `(id, name)` rows of `users` and `(key, cents)` rows of `orders`.
type Contents = (Vec<(u64, String)>, Vec<((u64, u64), u64)>);

/// Whether `result` is the error of a write started on the thread that already holds the write.
fn is_nested_write<T>(result: &zerotable::Result<T>) -> bool {
    matches!(result, Err(e) if e.engine_kind() == Some(EngineErrorKind::NestedWrite))
}

/// Every row of both tables, committed state.
fn contents(users: &RkyvTable<u64, User>, orders: &RkyvTable<(u64, u64), Order>) -> Contents {
    (
        users
            .filter_map(|id, u| Some((*id, u.name.to_string())))
            .unwrap(),
        orders
            .filter_map(|id, o| Some((*id, o.cents.to_native())))
            .unwrap(),
    )
}

/// `Storage::write` commits the writes of every table together and returns the closure's value.
#[test]
fn write_commits_across_tables_and_returns_the_closure_value() {
    on_every_engine(|engine, storage| {
        let (users, orders) = tables(&storage);
        let value = storage
            .write(|tx| {
                users.put_in(tx, &1, &user(1))?;
                users.put_in(tx, &2, &user(2))?;
                orders.put_in(tx, &(1, 10), &order(1, 999))?;
                Ok("committed")
            })
            .unwrap();
        assert_eq!(value, "committed", "{engine}");
        assert_eq!(users.len().unwrap(), 2, "{engine}");
        assert_eq!(
            users.get(&2, |u| u.name.to_string()).unwrap().unwrap(),
            "user2"
        );
        assert_eq!(
            orders.get(&(1, 10), |o| o.cents.to_native()).unwrap(),
            Some(999),
            "{engine}"
        );
    });
}

/// A closure's `Err` rolls back every table's writes, comes back unchanged and releases the writer.
#[test]
fn an_error_returned_mid_closure_leaves_nothing_in_any_table_and_comes_back() {
    on_every_engine(|engine, storage| {
        let (users, orders) = tables(&storage);
        users.put(&1, &user(1)).unwrap();
        orders.put(&(1, 1), &order(1, 5)).unwrap();
        let before = contents(&users, &orders);

        let result: zerotable::Result<()> = storage.write(|tx| {
            users.put_in(tx, &2, &user(2))?;
            users.put_in(tx, &1, &user(100))?; // overwrite
            assert!(orders.delete_in(tx, &(1, 1))?);
            orders.put_in(tx, &(2, 1), &order(2, 7))?;
            Err(Error::callback(std::io::Error::other("card declined")))
        });

        match result {
            Err(Error::Callback { source }) => assert_eq!(source.to_string(), "card declined"),
            other => panic!("{engine}: expected the closure's error, got {other:?}"),
        }
        assert_eq!(contents(&users, &orders), before, "{engine}");
        // The writer slot was released: a new write goes through.
        storage.write(|tx| users.put_in(tx, &3, &user(3))).unwrap();
        assert_eq!(users.len().unwrap(), 2, "{engine}");
    });
}

/// A closure's panic rolls back every write, propagates with its own payload and leaves the storage
/// usable.
#[test]
fn a_panic_mid_closure_leaves_nothing_propagates_and_storage_stays_usable() {
    on_every_engine(|engine, storage| {
        let (users, orders) = tables(&storage);
        users.put(&1, &user(1)).unwrap();
        let before = contents(&users, &orders);

        let outcome = catch_unwind(AssertUnwindSafe(|| {
            storage.write(|tx| -> zerotable::Result<()> {
                users.put_in(tx, &2, &user(2))?;
                users.delete_in(tx, &1)?;
                orders.put_in(tx, &(2, 1), &order(2, 7))?;
                panic!("writer gave up")
            })
        }));

        assert_eq!(
            outcome.unwrap_err().downcast_ref::<&str>(),
            Some(&"writer gave up"),
            "{engine}: the closure's own panic payload comes back"
        );
        assert_eq!(contents(&users, &orders), before, "{engine}");
        storage
            .write(|tx| {
                users.put_in(tx, &2, &user(2))?;
                orders.put_in(tx, &(2, 1), &order(2, 7))
            })
            .unwrap();
        assert_eq!(users.len().unwrap(), 2, "{engine}");
        assert_eq!(orders.len().unwrap(), 1, "{engine}");
    });
}

/// Point reads, counts, scans and updates inside a transaction see its own puts and deletes.
#[test]
fn reads_inside_a_transaction_see_its_own_puts_and_deletes() {
    on_every_engine(|engine, storage| {
        let (users, orders) = tables(&storage);
        users.put_batch((0..5).map(|i| (i, user(i)))).unwrap();
        orders.put(&(1, 1), &order(1, 100)).unwrap();

        storage
            .write(|tx| {
                users.put_in(tx, &10, &user(10))?;
                users.put_in(tx, &2, &user(200))?; // replaces user 2's value under key 2
                assert!(users.delete_in(tx, &3)?);
                assert!(!users.delete_in(tx, &3)?, "already deleted in this txn");
                orders.put_in(tx, &(1, 2), &order(1, 50))?;
                orders.put_in(tx, &(2, 1), &order(2, 1))?;

                // Typed point reads: the zero-copy closure sees the new bytes.
                let name = users.get_in(tx, &2, |u| u.name.to_string())?;
                assert_eq!(name.as_deref(), Some("user200"), "{engine}");
                assert_eq!(users.get_in(tx, &10, |u| u.id.to_native())?, Some(10));
                assert_eq!(users.get_in(tx, &3, |u| u.id.to_native())?, None);
                assert!(users.contains_in(tx, &10)?);
                assert!(!users.contains_in(tx, &3)?);
                assert_eq!(users.len_in(tx)?, 5, "{engine}: 5 + 1 new - 1 deleted");
                assert_eq!(orders.len_in(tx)?, 3, "{engine}");

                // Scans merge the transaction's writes in key order, both directions.
                let ids = users.scan_in(tx).fold(Vec::new(), |mut ids, id, u| {
                    assert_eq!(u.name.as_str(), user(u.id.to_native()).name);
                    ids.push(*id);
                    Ok(ids)
                })?;
                assert_eq!(ids, [0, 1, 2, 4, 10], "{engine}");
                let reversed = users.scan_in(tx).rev().filter_map(|id, _| Some(*id))?;
                assert_eq!(reversed, [10, 4, 2, 1, 0], "{engine}");
                let in_range = users.range_in(tx, 2..=10).filter_map(|id, _| Some(*id))?;
                assert_eq!(in_range, [2, 4, 10], "{engine}");
                let cents = orders
                    .prefix_in(tx, &(1u64,))
                    .fold(0, |sum, _, o| Ok(sum + o.cents.to_native()))?;
                assert_eq!(cents, 150, "{engine}");

                // Read-modify-write inside the same transaction sees the earlier put too.
                users.update_in(tx, &10, |current| {
                    let current = current.expect("put earlier in this txn");
                    Some(user(current.id.to_native() + 1))
                })?;
                assert_eq!(users.get_in(tx, &10, |u| u.id.to_native())?, Some(11));
                Ok(())
            })
            .unwrap();
        assert_eq!(users.get(&10, |u| u.id.to_native()).unwrap(), Some(11));
        assert!(!users.contains(&3).unwrap(), "{engine}");
    });
}

/// Nobody outside a transaction (same thread, other threads, snapshots) sees its writes before
/// commit; snapshots keep the old state after.
#[test]
fn uncommitted_writes_are_invisible_outside_the_transaction_until_commit() {
    on_every_engine(|engine, storage| {
        let (users, orders) = tables(&storage);
        users.put(&1, &user(1)).unwrap();
        let name_of = |id: u64| users.get(&id, |u| u.name.to_string()).unwrap();

        let tx = storage.begin_write().unwrap();
        users.put_in(&tx, &1, &user(100)).unwrap();
        users.put_in(&tx, &2, &user(2)).unwrap();
        orders.put_in(&tx, &(2, 1), &order(2, 5)).unwrap();
        assert_eq!(
            users.get_in(&tx, &2, |u| u.id.to_native()).unwrap(),
            Some(2)
        );

        // Same thread, auto-commit reads: the old state.
        assert_eq!(name_of(1).as_deref(), Some("user1"), "{engine}");
        assert_eq!(name_of(2), None, "{engine}");
        assert_eq!(users.len().unwrap(), 1, "{engine}");
        assert!(orders.is_empty().unwrap(), "{engine}");
        // A snapshot taken while the transaction is open: the old state, before and after commit.
        let during = storage.snapshot().unwrap();
        assert!(!users.contains_in(&during, &2).unwrap(), "{engine}");
        // Another thread: the old state.
        thread::scope(|scope| {
            scope.spawn(|| {
                assert_eq!(
                    users.get(&1, |u| u.name.to_string()).unwrap().unwrap(),
                    "user1"
                );
                assert!(!users.contains(&2).unwrap(), "{engine}");
                assert_eq!(orders.len().unwrap(), 0, "{engine}");
            });
        });

        tx.commit().unwrap();
        assert_eq!(name_of(1).as_deref(), Some("user100"), "{engine}");
        assert_eq!(name_of(2).as_deref(), Some("user2"), "{engine}");
        assert_eq!(orders.len().unwrap(), 1, "{engine}");
        thread::scope(|scope| {
            scope.spawn(|| assert!(users.contains(&2).unwrap()));
        });
        let old = users.get_in(&during, &1, |u| u.name.to_string());
        assert_eq!(old.unwrap().as_deref(), Some("user1"), "{engine}");
        assert_eq!(users.len_in(&during).unwrap(), 1, "{engine}");
    });
}

/// A `begin_write` transaction commits on `commit`, rolls back on `rollback` or drop, and releases
/// the writer either way.
#[test]
fn begin_write_commits_or_rolls_back_explicitly_or_on_drop() {
    on_every_engine(|engine, storage| {
        let (users, orders) = tables(&storage);

        let tx = storage.begin_write().unwrap();
        users.put_in(&tx, &1, &user(1)).unwrap();
        orders.put_in(&tx, &(1, 1), &order(1, 1)).unwrap();
        tx.commit().unwrap();
        assert_eq!((users.len().unwrap(), orders.len().unwrap()), (1, 1));

        let tx = storage.begin_write().unwrap();
        users.put_in(&tx, &2, &user(2)).unwrap();
        users.delete_in(&tx, &1).unwrap();
        orders.put_in(&tx, &(2, 1), &order(2, 1)).unwrap();
        tx.rollback();
        assert!(users.contains(&1).unwrap(), "{engine}: explicit rollback");
        assert!(!users.contains(&2).unwrap(), "{engine}: explicit rollback");
        assert_eq!(orders.len().unwrap(), 1, "{engine}: explicit rollback");

        {
            let tx = storage.begin_write().unwrap();
            users.put_in(&tx, &3, &user(3)).unwrap();
            users.delete_in(&tx, &1).unwrap();
            orders.delete_in(&tx, &(1, 1)).unwrap();
            // dropped uncommitted
        }
        assert!(users.contains(&1).unwrap(), "{engine}: drop rolls back");
        assert!(!users.contains(&3).unwrap(), "{engine}: drop rolls back");
        assert_eq!(orders.len().unwrap(), 1, "{engine}: drop rolls back");

        // Each of those released the writer: auto-commit writes still go through.
        users.put(&4, &user(4)).unwrap();
        assert_eq!(users.len().unwrap(), 2, "{engine}");
    });
}

/// Transactions with a chosen durability commit (or roll back) like any other.
#[test]
fn transactions_with_a_chosen_durability_commit() {
    on_every_engine(|engine, storage| {
        let (users, orders) = tables(&storage);
        let n = storage
            .write_with(WriteOptions::durability(Durability::None), |tx| {
                users.put_in(tx, &1, &user(1))?;
                orders.put_in(tx, &(1, 1), &order(1, 3))?;
                users.len_in(tx)
            })
            .unwrap();
        assert_eq!(n, 1, "{engine}");
        let tx = storage
            .begin_write_with(WriteOptions::durability(Durability::Immediate))
            .unwrap();
        users.put_in(&tx, &2, &user(2)).unwrap();
        tx.commit().unwrap();
        let tx = storage
            .begin_write_with(WriteOptions::durability(Durability::None))
            .unwrap();
        users.put_in(&tx, &3, &user(3)).unwrap();
        drop(tx);
        assert_eq!(
            users.filter_map(|id, _| Some(*id)).unwrap(),
            [1, 2],
            "{engine}"
        );
        assert_eq!(orders.len().unwrap(), 1, "{engine}");
    });
}

/// On redb every committed transaction survives a reopen and no abandoned one leaves a trace.
#[test]
fn on_redb_committed_transactions_survive_reopen_and_abandoned_ones_leave_no_trace() {
    let (_dir, path) = temp_redb();
    {
        let storage = Storage::open(&path).unwrap();
        let (users, orders) = tables(&storage);
        storage
            .write(|tx| {
                users.put_in(tx, &1, &user(1))?;
                orders.put_in(tx, &(1, 1), &order(1, 10))
            })
            .unwrap();
        let tx = storage.begin_write().unwrap();
        users.put_in(&tx, &2, &user(2)).unwrap();
        orders.put_in(&tx, &(2, 1), &order(2, 20)).unwrap();
        tx.commit().unwrap();
        storage
            .write_with(WriteOptions::durability(Durability::None), |tx| {
                users.put_in(tx, &3, &user(3))
            })
            .unwrap();

        // Abandoned: an error, a panic, an explicit rollback, a dropped handle.
        let failed: zerotable::Result<()> = storage.write(|tx| {
            users.put_in(tx, &10, &user(10))?;
            users.delete_in(tx, &1)?;
            Err(Error::callback("no"))
        });
        assert!(failed.is_err());
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            storage.write(|tx| -> zerotable::Result<()> {
                orders.put_in(tx, &(11, 1), &order(11, 1))?;
                orders.delete_in(tx, &(1, 1))?;
                panic!("gone")
            })
        }));
        assert!(panicked.is_err());
        let tx = storage.begin_write().unwrap();
        users.put_in(&tx, &12, &user(12)).unwrap();
        tx.rollback();
        let tx = storage.begin_write().unwrap();
        orders.put_in(&tx, &(13, 1), &order(13, 1)).unwrap();
        drop(tx);
    }

    let storage = Storage::open(&path).unwrap();
    let (users, orders) = tables(&storage);
    let (user_rows, order_rows) = contents(&users, &orders);
    assert_eq!(
        user_rows,
        [
            (1, "user1".to_owned()),
            (2, "user2".to_owned()),
            (3, "user3".to_owned())
        ]
    );
    assert_eq!(order_rows, [((1, 1), 10), ((2, 1), 20)]);
}

/// A second write on the thread holding the write fails with `NestedWrite` instead of deadlocking;
/// reads still work.
#[test]
fn a_second_write_on_the_thread_holding_the_write_is_an_error_not_a_deadlock() {
    on_every_engine(|engine, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        let result = storage.write(|tx| {
            users.put_in(tx, &1, &user(1))?;
            // Each of these would wait for the transaction this very closure holds.
            let nested_put = users.put(&2, &user(2));
            assert!(is_nested_write(&nested_put), "{engine}: {nested_put:?}");
            let nested_open = storage.rkyv_table::<u64, User>("brand_new");
            assert!(is_nested_write(&nested_open), "{engine}");
            let nested_txn = storage.begin_write();
            assert!(is_nested_write(&nested_txn), "{engine}");
            // Reads are fine, and the outer transaction goes on.
            assert_eq!(users.get(&1, |u| u.id.to_native()).unwrap(), None);
            Ok(())
        });
        result.unwrap();
        assert_eq!(users.len().unwrap(), 1, "{engine}");
        users.put(&2, &user(2)).unwrap();
        assert_eq!(users.len().unwrap(), 2, "{engine}");
    });
}

/// A table refuses a transaction or snapshot of another storage (reads and writes alike, also
/// a scan, whose error comes when it runs): nothing is read from or written to the other
/// engine, and the transaction itself is untouched.
#[test]
fn a_transaction_of_another_storage_is_refused() {
    let mine = Storage::in_memory();
    let other = Storage::in_memory();
    let table = mine.raw_table::<u64>("t").unwrap();
    let theirs = other.raw_table::<u64>("t").unwrap();
    table.put(&1, b"mine").unwrap();
    let foreign = |result: zerotable::Result<()>| {
        assert!(
            matches!(&result, Err(Error::ForeignTransaction { table }) if table == "t"),
            "{result:?}"
        );
    };
    other
        .write(|tx| {
            foreign(table.put_in(tx, &2, b"x"));
            foreign(table.delete_in(tx, &1).map(drop));
            foreign(table.update_in(tx, &1, |_| Some(b"y".to_vec())).map(drop));
            foreign(table.get_in(tx, &1, |v| v.len()).map(drop));
            foreign(table.len_in(tx).map(drop));
            foreign(table.scan_in(tx).for_each(|_, _| Ok(())));
            theirs.put_in(tx, &3, b"theirs")
        })
        .unwrap();
    let snapshot = other.snapshot().unwrap();
    foreign(table.get_in(&snapshot, &1, |v| v.len()).map(drop));
    assert_eq!(
        table.get(&1, |v| v.to_vec()).unwrap(),
        Some(b"mine".to_vec())
    );
    assert_eq!(table.len().unwrap(), 1);
    assert_eq!(
        theirs.len().unwrap(),
        1,
        "the other storage has only its own write"
    );
    let message = table
        .put_in(&other.begin_write().unwrap(), &2, b"x")
        .unwrap_err();
    assert!(message.to_string().contains("another Storage"), "{message}");
}
