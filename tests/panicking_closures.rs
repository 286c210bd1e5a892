//! A caller's closure that panics inside a read propagates the panic, and the storage and the
//! table stay usable afterwards.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{User, on_every_engine, user};

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
