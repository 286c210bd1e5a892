//! `get_many` reads keys in the order given, `None` for absent ones, all from one snapshot: a
//! commit made meanwhile — by its own closure or by another thread — never shows half-way.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{User, on_every_engine, on_every_fast_engine, user};

/// `get_many` returns one result per key in the given order, `None` views for absent keys, from any
/// key iterator.
#[test]
fn results_follow_the_keys_with_none_for_absent_ones() {
    on_every_engine(|engine, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch([1, 3, 5].map(|i| (i, user(i)))).unwrap();

        let ids = users
            .get_many([1u64, 2, 3, 4, 5, 1, 0, u64::MAX], |u| {
                u.map(|u| u.id.to_native())
            })
            .unwrap();
        assert_eq!(
            ids,
            [Some(1), None, Some(3), None, Some(5), Some(1), None, None],
            "{engine}"
        );

        // Views carry the whole value.
        let names = users
            .get_many(vec![5u64, 4], |u| u.map(|u| u.name.to_string()))
            .unwrap();
        assert_eq!(names, [Some("user5".to_string()), None], "{engine}");

        // Keys by reference, from a slice or an iterator.
        let keys = [3u64, 2];
        assert_eq!(
            users.get_many(keys.as_slice(), |u| u.is_some()).unwrap(),
            [true, false]
        );
        assert_eq!(
            users.get_many(keys.iter().rev(), |u| u.is_some()).unwrap(),
            [false, true]
        );

        // No keys, no reads.
        let none = users
            .get_many(Vec::<u64>::new(), |_| -> () { panic!("no key to read") })
            .unwrap();
        assert!(none.is_empty());

        // Only absent keys, including on a table that was never written.
        let empty = storage.rkyv_table::<u64, User>("empty").unwrap();
        assert_eq!(
            empty.get_many([1u64, 2], |u| u.is_some()).unwrap(),
            [false, false],
            "{engine}"
        );
    });
}

/// `get_many` calls its closure exactly once per key, in the keys' order, repeats included.
#[test]
fn the_closure_runs_once_per_key_in_order() {
    on_every_engine(|engine, storage| {
        let names = storage.raw_table::<String>("names").unwrap();
        names.put("b", b"B").unwrap();
        names.put("a\0", b"A0").unwrap();
        names.put("", b"empty").unwrap();

        // String tables take owned keys (`I::Item: Borrow<String>`).
        let keys: Vec<String> = ["b", "missing", "a\0", "", "a", "b"]
            .map(String::from)
            .to_vec();
        let mut calls = Vec::new();
        let lengths = names
            .get_many(&keys, |v| {
                calls.push(v.map(<[u8]>::to_vec));
                v.map_or(0, <[u8]>::len)
            })
            .unwrap();
        assert_eq!(lengths, [1, 0, 2, 5, 0, 1], "{engine}");
        assert_eq!(
            calls,
            [
                Some(b"B".to_vec()),
                None,
                Some(b"A0".to_vec()),
                Some(b"empty".to_vec()),
                None,
                Some(b"B".to_vec()),
            ],
            "{engine}"
        );
    });
}

/// Every key of one `get_many` call is read from one snapshot: a commit made from its own closure
/// is not seen by later keys.
#[test]
fn a_commit_from_inside_the_closure_is_not_seen_by_later_keys() {
    on_every_engine(|engine, storage| {
        let t = storage.rkyv_table::<u64, u64>("pairs").unwrap();
        t.put(&1, &10).unwrap();
        t.put(&2, &20).unwrap();
        let mut first = true;
        let seen = t
            .get_many([1u64, 2, 3, 1], |v| {
                if first {
                    first = false;
                    // Committed before keys 2, 3 and 1 (again) are read.
                    storage
                        .write(|tx| {
                            t.put_in(tx, &1, &11)?;
                            t.put_in(tx, &2, &21)?;
                            t.put_in(tx, &3, &31)
                        })
                        .unwrap();
                }
                v.map(|v| v.to_native())
            })
            .unwrap();
        assert_eq!(
            seen,
            [Some(10), Some(20), None, Some(10)],
            "{engine}: every key comes from the snapshot taken before the commit"
        );
        assert_eq!(
            t.get_many([1u64, 2, 3], |v| v.map(|v| v.to_native()))
                .unwrap(),
            [Some(11), Some(21), Some(31)],
            "{engine}: a new call sees the commit"
        );
    });
}

/// Total the writer keeps across the two accounts.
const TOTAL: u64 = 1_000;
/// Writer transactions per engine.
const COMMITS: u64 = 2_000;
/// Upper bound on reader iterations, in case the writer is slow.
const MAX_READS: u64 = 200_000;

/// Account `a`'s balance at `version`; `b` holds the rest.
fn balance_a(version: u64) -> u64 {
    (version * 37) % (TOTAL + 1)
}

/// A `get_many` never sees a concurrent writer's transaction half-way.
#[test]
fn a_concurrent_writer_is_never_seen_half_way() {
    on_every_fast_engine(|engine, storage| {
        let t = storage.rkyv_table::<String, u64>("accounts").unwrap();
        storage
            .write(|tx| {
                t.put_in(tx, "a", &balance_a(0))?;
                t.put_in(tx, "b", &(TOTAL - balance_a(0)))?;
                t.put_in(tx, "version", &0)
            })
            .unwrap();
        let done = AtomicBool::new(false);
        // Each key twice, so two reads of one key must agree too.
        let keys: Vec<String> = ["a", "version", "b", "a", "version", "absent"]
            .map(String::from)
            .to_vec();

        let (reads, versions_seen) = std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                for version in 1..=COMMITS {
                    let a = balance_a(version);
                    // Written in varying order within the transaction.
                    storage
                        .write(|tx| {
                            if version % 2 == 0 {
                                t.put_in(tx, "a", &a)?;
                                t.put_in(tx, "version", &version)?;
                                t.put_in(tx, "b", &(TOTAL - a))
                            } else {
                                t.put_in(tx, "b", &(TOTAL - a))?;
                                t.put_in(tx, "version", &version)?;
                                t.put_in(tx, "a", &a)
                            }
                        })
                        .unwrap();
                }
                done.store(true, Ordering::Release);
            });

            let mut reads = 0;
            let mut last_version = 0;
            let mut versions_seen = 0;
            while !done.load(Ordering::Acquire) && reads < MAX_READS {
                reads += 1;
                let got = t.get_many(&keys, |v| v.map(|v| v.to_native())).unwrap();
                let [
                    Some(a),
                    Some(version),
                    Some(b),
                    Some(a2),
                    Some(version2),
                    None,
                ] = got[..]
                else {
                    panic!("{engine}: unexpected presence pattern {got:?}");
                };
                assert_eq!((a, version), (a2, version2), "{engine}: one snapshot");
                assert_eq!(a + b, TOTAL, "{engine}: balances from one commit: {got:?}");
                assert_eq!(a, balance_a(version), "{engine}: a from version {version}");
                assert!(version >= last_version, "{engine}: snapshots go forward");
                if version != last_version {
                    versions_seen += 1;
                }
                last_version = version;
            }
            writer.join().unwrap();
            (reads, versions_seen)
        });
        assert!(reads > 0);
        let final_state = t.get_many(&keys, |v| v.map(|v| v.to_native())).unwrap();
        let a = balance_a(COMMITS);
        assert_eq!(
            final_state,
            [
                Some(a),
                Some(COMMITS),
                Some(TOTAL - a),
                Some(a),
                Some(COMMITS),
                None
            ],
            "{engine}"
        );
        eprintln!("{engine}: {reads} get_many calls saw {versions_seen} distinct versions");
    });
}
