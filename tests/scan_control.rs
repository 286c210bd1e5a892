//! Scans run in key order, stop early on request, and stop with the closure's own error.

mod common;

use std::ops::ControlFlow;

use common::{User, on_every_engine, user};
use zerotable::Error;

/// A scan visits signed keys in numeric order, not in the order they were written.
#[test]
fn scans_visit_in_natural_key_order() {
    on_every_engine(|engine, storage| {
        let by_signed = storage.raw_table::<i64>("signed").unwrap();
        let keys = [5i64, -1, i64::MIN, 0, i64::MAX, -300, 256];
        by_signed
            .put_batch(keys.iter().map(|k| (*k, k.to_be_bytes().to_vec())))
            .unwrap();
        let mut sorted = keys.to_vec();
        sorted.sort();
        assert_eq!(
            by_signed.filter_map(|k, _| Some(*k)).unwrap(),
            sorted,
            "{engine}"
        );
    });
}

/// A closure's error stops `for_each` and `fold` right there and comes back unchanged.
#[test]
fn a_closure_error_stops_the_scan_and_is_returned() {
    on_every_engine(|_, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..100).map(|i| (i, user(i)))).unwrap();
        let mut visited = 0;
        let result = users.scan_with(|s| {
            s.for_each(|id, _| {
                visited += 1;
                if *id == 9 {
                    return Err(Error::callback(std::io::Error::other("budget exhausted")));
                }
                Ok(())
            })
        });
        match result {
            Err(Error::Callback { source }) => assert_eq!(source.to_string(), "budget exhausted"),
            other => panic!("expected the closure's error, got {other:?}"),
        }
        assert_eq!(visited, 10);

        let folded = users.scan_with(|s| {
            s.fold(0u64, |acc, id, _| {
                if *id == 3 {
                    Err(Error::callback("fold refused"))
                } else {
                    Ok(acc + id)
                }
            })
        });
        assert!(matches!(folded, Err(Error::Callback { .. })));
    });
}

/// `try_for_each` stops at the first `ControlFlow::Break` and returns `Ok`.
#[test]
fn try_for_each_stops_early_without_error() {
    on_every_engine(|_, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..100).map(|i| (i, user(i)))).unwrap();
        let mut first_inactive = None;
        users
            .scan_with(|s| {
                s.try_for_each(|id, u| {
                    if !u.active {
                        first_inactive = Some(*id);
                        return Ok(ControlFlow::Break(()));
                    }
                    Ok(ControlFlow::Continue(()))
                })
            })
            .unwrap();
        assert_eq!(first_inactive, Some(0));
    });
}

/// An empty, never-written table reads, deletes and scans as empty, never as an error.
#[test]
fn empty_and_never_written_tables_scan_to_nothing() {
    on_every_engine(|_, storage| {
        let users = storage.rkyv_table::<u64, User>("nobody").unwrap();
        assert!(users.is_empty().unwrap());
        assert_eq!(users.get(&1, |u| u.id).unwrap(), None);
        assert!(!users.delete(&1).unwrap());
        assert_eq!(
            users.scan_with(|s| s.fold(7, |n, _, _| Ok(n + 1))).unwrap(),
            7
        );
        assert!(users.filter_map(|id, _| Some(*id)).unwrap().is_empty());
    });
}
