//! A caller's closure that panics or fails — in a read, a scan, a write transaction, an update
//! or a batch's iterator — propagates its panic or error, leaves nothing half-written, and the
//! storage stays usable afterwards, including after reopening the file.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{User, on_every_engine, temp_redb, user};
use zerotable::{Error, Storage};

/// A panic in a get's reader, a fold step, a filter or a batch's producer propagates with the
/// caller's own payload, the panicking batch stores nothing, and the storage keeps working, on
/// every engine.
#[test]
fn a_panic_in_get_or_scan_propagates_and_storage_stays_usable() {
    on_every_engine(|engine, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..10).map(|i| (i, user(i)))).unwrap();

        let in_get = catch_unwind(AssertUnwindSafe(|| {
            users.get(&1, |_| -> usize { panic!("reader gave up") })
        }));
        assert_eq!(
            in_get.unwrap_err().downcast_ref::<&str>(),
            Some(&"reader gave up"),
            "{engine}: the caller's own panic payload comes back"
        );
        let in_fold = catch_unwind(AssertUnwindSafe(|| {
            users.scan_with(|s| {
                s.fold(
                    0,
                    |n, id, _| if *id == 5 { panic!("fold") } else { Ok(n + 1) },
                )
            })
        }));
        assert!(in_fold.is_err());
        let in_filter = catch_unwind(AssertUnwindSafe(|| {
            users.filter_map(|_, _| -> Option<()> { panic!("filter") })
        }));
        assert!(in_filter.is_err());
        let in_batch = catch_unwind(AssertUnwindSafe(|| {
            users.put_batch((100..110).map(|i| {
                if i == 105 {
                    panic!("producer")
                } else {
                    (i, user(i))
                }
            }))
        }));
        assert!(in_batch.is_err());

        // Everything still works, and the panicking batch left nothing behind.
        assert_eq!(users.len().unwrap(), 10, "{engine}");
        assert!(!users.contains(&100).unwrap());
        users.put(&10, &user(10)).unwrap();
        assert_eq!(users.get(&10, |u| u.id.to_native()).unwrap(), Some(10));
        let count = users.scan_with(|s| s.fold(0, |n, _, _| Ok(n + 1))).unwrap();
        assert_eq!(count, 11);
    });
}

/// Runs every kind of misbehaving closure against `storage`; returns the ids that must remain.
fn misbehave(storage: &Storage) -> Vec<u64> {
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    let audit = storage.raw_table::<u64>("audit").unwrap();
    users.put_batch((0..5).map(|i| (i, user(i)))).unwrap();

    // A transaction whose closure fails, and one whose closure panics, after writing.
    let failed = storage.write(|tx| {
        users.put_in(tx, &100, &user(100))?;
        audit.put_in(tx, &100, b"half")?;
        Err::<(), _>(Error::callback("changed my mind"))
    });
    assert!(matches!(failed, Err(Error::Callback { .. })));
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        storage.write(|tx| -> zerotable::Result<()> {
            users.delete_in(tx, &0)?;
            audit.put_in(tx, &101, b"half")?;
            panic!("writer crashed")
        })
    }));
    assert!(panicked.is_err());

    // An explicit transaction dropped during a panic.
    let unwound = catch_unwind(AssertUnwindSafe(|| {
        let tx = storage.begin_write().unwrap();
        users.put_in(&tx, &102, &user(102)).unwrap();
        panic!("holder crashed");
    }));
    assert!(unwound.is_err());

    // An update whose closure panics, and a scan whose closure fails.
    let in_update = catch_unwind(AssertUnwindSafe(|| {
        users.update(&1, |_| -> Option<User> { panic!("updater crashed") })
    }));
    assert!(in_update.is_err());
    let scan = users.scan_with(|s| s.for_each(|_, _| Err(Error::callback("stop"))));
    assert!(matches!(scan, Err(Error::Callback { .. })));

    // The storage still works: this write is acknowledged and must survive.
    users.put(&5, &user(5)).unwrap();
    assert_eq!(audit.len().unwrap(), 0);
    vec![0, 1, 2, 3, 4, 5]
}

fn ids(storage: &Storage) -> Vec<u64> {
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    users
        .filter_map(|id, u| {
            assert_eq!(u.id.to_native(), *id);
            Some(*id)
        })
        .unwrap()
}

/// After transactions, updates and scans whose closures failed or panicked, exactly the
/// acknowledged writes are stored, on every engine.
#[test]
fn misbehaving_closures_leave_exactly_the_acknowledged_writes() {
    on_every_engine(|engine, storage| {
        let expected = misbehave(&storage);
        assert_eq!(ids(&storage), expected, "{engine}");
    });
}

/// The same on a redb file after reopening it: nothing half-written reached the disk, and the
/// reopened file takes writes.
#[test]
fn after_misbehaving_closures_a_reopened_file_holds_exactly_the_acknowledged_writes() {
    let (_dir, path) = temp_redb();
    let expected = misbehave(&Storage::open(&path).unwrap());
    let reopened = Storage::open(&path).unwrap();
    assert_eq!(ids(&reopened), expected);
    assert_eq!(
        reopened.raw_table::<u64>("audit").unwrap().len().unwrap(),
        0
    );
    reopened
        .rkyv_table::<u64, User>("users")
        .unwrap()
        .put(&6, &user(6))
        .unwrap();
}
