//! Conformance checks: point reads and writes, independent tables, key order, early stop, range
//! deletion, and callbacks (their errors, their panics, re-entrant reads and writes).

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::support::{all, get_copy, get_latest_copy};
use crate::engine::KeyRange;
use crate::error::Error;

super::checks! {
    /// A table never written reads as empty, and deleting from it finds nothing.
    fn missing_table_reads_as_empty(f: &Fixture) {
        assert_eq!(f.get("never_written", b"k"), None);
        assert!(f.scan_all("never_written").is_empty());
        assert_eq!(f.len("never_written"), 0);
        assert!(!f.delete("never_written", b"k"));
    }

    /// A put is read back byte for byte; a second put replaces it; empty keys and values and a
    /// 1 MiB value are fine.
    fn put_then_get_returns_latest_value(f: &Fixture) {
        f.put("t", b"key", b"first");
        assert_eq!(f.get("t", b"key").as_deref(), Some(&b"first"[..]));
        f.put("t", b"key", b"second");
        assert_eq!(f.get("t", b"key").as_deref(), Some(&b"second"[..]));
        f.put("t", b"", b"");
        assert_eq!(f.get("t", b"").as_deref(), Some(&b""[..]));
        let big = vec![0xA5; 1 << 20];
        f.put("t", b"big", &big);
        assert_eq!(f.get("t", b"big"), Some(big));
        assert_eq!(f.len("t"), 3);
    }

    /// `delete` reports whether the key existed and removes it.
    fn delete_reports_whether_key_existed(f: &Fixture) {
        f.put("t", b"a", b"1");
        assert!(f.delete("t", b"a"));
        assert!(!f.delete("t", b"a"));
        assert_eq!(f.get("t", b"a"), None);
        assert_eq!(f.len("t"), 0);
    }

    /// Tables with different names never see each other's entries.
    fn tables_are_independent(f: &Fixture) {
        f.put("left", b"k", b"L");
        f.put("right", b"k", b"R");
        assert_eq!(f.get("left", b"k").as_deref(), Some(&b"L"[..]));
        assert_eq!(f.get("right", b"k").as_deref(), Some(&b"R"[..]));
        assert!(f.delete("left", b"k"));
        assert_eq!(f.get("right", b"k").as_deref(), Some(&b"R"[..]));
    }

    /// A range over the whole table visits keys in memcmp order, including 0x00/0xFF bytes
    /// and keys that are prefixes of others.
    fn scan_visits_keys_in_byte_order(f: &Fixture) {
        let keys: [&[u8]; 9] = [b"b", b"a", b"", b"a\x00", b"a\xff", b"ab", b"\xff", b"\x00", b"aa"];
        let mut model = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            let value = vec![i as u8; i];
            f.put("t", key, &value);
            model.insert(key.to_vec(), value);
        }
        let expected: Vec<_> = model.into_iter().collect();
        assert_eq!(f.scan_all("t"), expected);
    }

    /// A range stops at the first `Break`.
    fn scan_stops_when_visitor_breaks(f: &Fixture) {
        f.write(|txn| {
            for i in 0u8..10 {
                txn.put("t", &[i], &[i])?;
            }
            Ok(())
        });
        let mut seen = Vec::new();
        f.read(|reader| {
            reader.range("t", &KeyRange::ALL, &mut |k, _| {
                seen.push(k[0]);
                Ok(if k[0] == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
            })
        })
        .unwrap();
        assert_eq!(seen, [0, 1, 2, 3]);
    }

    /// A callback's error ends the read and comes back unchanged: from a get, and from a range
    /// after which the callback is not called again.
    fn callback_errors_come_back_unchanged(f: &Fixture) {
        f.put("t", b"a", b"1");
        f.put("t", b"b", b"2");
        let from_get = f.read(|reader| {
            reader.get("t", b"a", &mut |_| Err(Error::callback(std::io::Error::other("mine"))))
        });
        match from_get {
            Err(Error::Callback { source }) => assert_eq!(source.to_string(), "mine"),
            other => panic!("expected the callback's error, got {other:?}"),
        }
        let mut calls = 0;
        let from_range = f.read(|reader| {
            reader.range("t", &KeyRange::ALL, &mut |_, _| {
                calls += 1;
                Err(Error::callback(std::io::Error::other("stop")))
            })
        });
        assert!(matches!(from_range, Err(Error::Callback { .. })), "{from_range:?}");
        assert_eq!(calls, 1, "a range must stop at its callback's first error");
    }

    /// Several writes in one transaction apply together, and its deletes see its own puts.
    fn transaction_applies_all_writes(f: &Fixture) {
        f.put("t", b"old", b"x");
        f.write(|txn| {
            for i in 0u32..100 {
                txn.put("t", &i.to_be_bytes(), &i.to_le_bytes())?;
            }
            assert!(txn.delete("t", b"old")?);
            assert!(!txn.delete("t", b"old")?);
            txn.put("t", b"tmp", b"y")?;
            assert!(txn.delete("t", b"tmp")?, "a delete sees the transaction's own put");
            Ok(())
        });
        assert_eq!(f.len("t"), 100);
        assert_eq!(f.get("t", b"old"), None);
        assert_eq!(f.get("t", b"tmp"), None);
        assert_eq!(f.get("t", &7u32.to_be_bytes()), Some(7u32.to_le_bytes().to_vec()));
    }

    /// A transaction whose body fails applies nothing, and the error comes back unchanged.
    fn failed_transaction_applies_nothing(f: &Fixture) {
        f.put("t", b"keep", b"1");
        let result = f.try_write(|txn| {
            txn.put("t", b"new", b"2")?;
            txn.delete("t", b"keep")?;
            Err(Error::callback(std::io::Error::other("stop")))
        });
        assert!(matches!(result, Err(Error::Callback { .. })), "{result:?}");
        assert_eq!(f.get("t", b"keep").as_deref(), Some(&b"1"[..]));
        assert_eq!(f.get("t", b"new"), None);
        assert_eq!(f.len("t"), 1);
    }

    /// A transaction whose body panics applies nothing; the panic reaches the caller and the
    /// engine keeps working.
    fn panicking_transaction_body_applies_nothing(f: &Fixture) {
        f.put("t", b"keep", b"1");
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            f.try_write(|txn| {
                txn.put("t", b"new", b"2")?;
                panic!("boom inside a transaction");
            })
        }));
        assert!(outcome.is_err(), "the panic must propagate");
        assert_eq!(f.get("t", b"new"), None);
        f.put("t", b"after", b"3");
        assert_eq!(f.len("t"), 2);
    }

    /// A read callback that panics propagates the panic unchanged (it is not turned into an
    /// engine error) and leaves the engine usable.
    fn panicking_read_callbacks_leave_engine_usable(f: &Fixture) {
        f.put("t", b"k", b"v");
        let in_get = catch_unwind(AssertUnwindSafe(|| {
            f.read(|reader| reader.get("t", b"k", &mut |_| panic!("boom in get")))
        }));
        let message = in_get.expect_err("the panic must propagate");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"boom in get"), "the panic changed");
        let in_scan = catch_unwind(AssertUnwindSafe(|| {
            f.read(|reader| reader.range("t", &KeyRange::ALL, &mut |_, _| panic!("boom in scan")))
        }));
        assert!(in_scan.is_err());
        f.put("t", b"k2", b"v2");
        assert_eq!(f.get("t", b"k").as_deref(), Some(&b"v"[..]));
        assert_eq!(f.len("t"), 2);
    }

    /// The auto-commit [`Engine::get`](crate::engine::Engine::get) keeps the promises of a
    /// snapshot's get: the latest commit, a callback's error unchanged, a callback's panic
    /// propagated with the engine usable after, and a callback that reads and writes the same
    /// table again.
    fn auto_commit_get_keeps_the_get_promises(f: &Fixture) {
        let engine = f.engine();
        assert_eq!(get_latest_copy(&*engine, "t", b"k"), None, "a table never written");
        f.put("t", b"k", b"1");
        f.put("t", b"k", b"2");
        assert_eq!(get_latest_copy(&*engine, "t", b"k").as_deref(), Some(&b"2"[..]));
        assert_eq!(get_latest_copy(&*engine, "t", b"other"), None);
        let failed = engine.get("t", b"k", &mut |_| Err(Error::callback(std::io::Error::other("mine"))));
        match failed {
            Err(Error::Callback { source }) => assert_eq!(source.to_string(), "mine"),
            other => panic!("expected the callback's error, got {other:?}"),
        }
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            engine.get("t", b"k", &mut |_| panic!("boom in an auto-commit get"))
        }));
        let message = panicked.expect_err("the panic must propagate");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"boom in an auto-commit get"));
        let found = engine
            .get("t", b"k", &mut |outer| {
                assert_eq!(outer, b"2");
                assert_eq!(get_latest_copy(&*engine, "t", b"k").as_deref(), Some(&b"2"[..]));
                f.put("t", b"k", b"3");
                Ok(())
            })
            .unwrap();
        assert!(found);
        assert_eq!(f.get("t", b"k").as_deref(), Some(&b"3"[..]));
    }

    /// Read callbacks may read the same engine again and write it in a new transaction; a
    /// range keeps its consistent view while a write lands during it.
    fn callbacks_may_reenter_and_scan_sees_snapshot(f: &Fixture) {
        f.write(|txn| {
            for i in 0u8..5 {
                txn.put("t", &[i], &[i])?;
            }
            Ok(())
        });
        f.read(|reader| {
            reader.get("t", &[0], &mut |outer| {
                assert_eq!(get_copy(reader, "t", &[1]).as_deref(), Some(&[1u8][..]));
                assert_eq!(f.get("t", &[2]).as_deref(), Some(&[2u8][..]));
                assert_eq!(outer, [0]);
                Ok(())
            })
        })
        .unwrap();
        let mut seen = 0;
        f.read(|reader| {
            reader.range("t", &KeyRange::ALL, &mut |k, _| {
                if k == [0] {
                    f.put("t", &[9], &[9]);
                    assert!(f.delete("t", &[4]));
                }
                seen += 1;
                Ok(ControlFlow::Continue(()))
            })
        })
        .unwrap();
        assert_eq!(seen, 5, "the scan must not see writes committed after it began");
        assert_eq!(f.get("t", &[9]).as_deref(), Some(&[9u8][..]));
        assert_eq!(f.get("t", &[4]), None);
    }

    /// `delete_range` removes exactly the keys within the range (whatever its direction says),
    /// reports how many, leaves other tables alone, and removes nothing on an empty range or a
    /// missing table (which it does not create).
    fn delete_range_removes_exactly_the_range(f: &Fixture) {
        f.write(|txn| {
            for key in [&b"a"[..], b"b", b"b\x00", b"c", b"d", b"\xff"] {
                txn.put("t", key, b"v")?;
            }
            txn.put("other", b"b", b"v")
        });
        let mut removed = 0;
        f.write(|txn| {
            let range = KeyRange {
                start: Bound::Included(b"b"),
                end: Bound::Excluded(b"d"),
                reverse: true,
            };
            removed = txn.delete_range("t", &range)?;
            let left = vec![
                (b"a".to_vec(), b"v".to_vec()),
                (b"d".to_vec(), b"v".to_vec()),
                (vec![0xff], b"v".to_vec()),
            ];
            assert_eq!(all(txn, "t"), left, "the transaction sees its own range deletion");
            let empty = KeyRange { start: Bound::Included(b"z"), end: Bound::Excluded(b"a"), reverse: false };
            assert_eq!(txn.delete_range("t", &empty)?, 0);
            assert_eq!(txn.delete_range("missing", &KeyRange::ALL)?, 0);
            Ok(())
        });
        assert_eq!(removed, 3);
        assert_eq!(f.len("t"), 3);
        assert_eq!(f.get("other", b"b").as_deref(), Some(&b"v"[..]));
        let mut all = 0;
        f.write(|txn| {
            all = txn.delete_range("t", &KeyRange::ALL)?;
            Ok(())
        });
        assert_eq!(all, 3);
        assert!(f.scan_all("t").is_empty());
        if f.claims().table_admin {
            let tables = f.read(|reader| reader.list_tables().unwrap());
            assert!(!tables.iter().any(|t| t == "missing"), "delete_range created a table");
        }
    }

    /// Many keys in one table (more than one page or node of any engine) read back in order,
    /// and a range deletion over part of them leaves the rest.
    fn many_keys_read_back_in_order(f: &Fixture) {
        f.write(|txn| {
            for i in 0u32..5_000 {
                txn.put("t", &i.to_be_bytes(), &i.to_le_bytes())?;
            }
            Ok(())
        });
        let all = f.scan_all("t");
        assert_eq!(all.len(), 5_000);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        f.write(|txn| {
            let start = 1_000u32.to_be_bytes();
            let end = 4_000u32.to_be_bytes();
            let range = KeyRange { start: Bound::Included(&start), end: Bound::Excluded(&end), reverse: false };
            assert_eq!(txn.delete_range("t", &range)?, 3_000);
            Ok(())
        });
        assert_eq!(f.len("t"), 2_000);
        assert_eq!(f.get("t", &3_999u32.to_be_bytes()), None);
        assert_eq!(f.get("t", &4_000u32.to_be_bytes()), Some(4_000u32.to_le_bytes().to_vec()));
    }
}
