//! Conformance checks: durability — flush, compaction, size on disk, integrity check (each
//! working when claimed, `Unsupported` when not), and, for persistent engines, what survives
//! reopening the database: every committed write and typed table, nothing uncommitted.

use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::support::{
    Entry, Model, Record, Rng, all, assert_kind, assert_unsupported, model_all, names, rows,
};
use super::{Fixture, Mode};
use crate::catalog::{TableOptions, TableRecord};
use crate::codec::key::KeyType;
use crate::codec::value::RkyvSerializer;
use crate::engine::{Durability, Integrity, KeyRange, WriteOptions};
use crate::error::{EngineErrorKind, Error};
use crate::storage::RkyvTable;

/// One mebibyte: what the size check writes.
const MIB: u64 = 1 << 20;

/// Reopens the database if the engine claims persistence (checking that it can), or checks
/// that it cannot be reopened; either way, what follows must still read the committed state.
/// The caller must hold no handle on the engine.
fn reopen(f: &Fixture) {
    if f.claims().persistent {
        assert!(
            f.reopen(),
            "the engine claims persistence but its harness cannot reopen it"
        );
    } else {
        assert!(
            !f.reopen(),
            "an engine that does not claim persistence was reopened"
        );
    }
}

/// The whole content of `tables`, and the table list when the engine has one.
fn state(f: &Fixture, tables: &[&str]) -> (Vec<Vec<Entry>>, Option<Vec<String>>) {
    let contents = tables.iter().map(|table| f.scan_all(table)).collect();
    let listed = f
        .claims()
        .table_admin
        .then(|| f.read(|reader| reader.list_tables().expect("list_tables")));
    (contents, listed)
}

/// A value of `len` pseudo-random bytes (nothing an engine could compress away).
fn noise(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// `size_on_disk`, which must be claimed.
fn size(f: &Fixture) -> u64 {
    f.engine().size_on_disk().expect("size_on_disk")
}

/// Every row of a typed records table, decoded.
fn record_rows(table: &RkyvTable<u64, Record>) -> Vec<(u64, String, u32)> {
    table
        .filter_map(|key, record| Some((*key, record.name.to_string(), record.score.to_native())))
        .expect("scan records")
}

/// Asserts that opening a table failed with `TableTypeMismatch` naming `table`, the stored
/// record `stored` and a requested record that differs from it.
fn assert_mismatch<T>(result: Result<T, Error>, table: &str, stored: &TableRecord, what: &str) {
    match result {
        Err(Error::TableTypeMismatch {
            table: name,
            stored: found,
            requested,
        }) => {
            assert_eq!(name, table, "{what}: the table");
            assert_eq!(found.as_deref(), Some(stored), "{what}: the stored record");
            assert_ne!(*requested, *stored, "{what}: the requested record");
        }
        Err(other) => panic!("{what}: expected TableTypeMismatch, got {other:?}"),
        Ok(_) => panic!("{what}: a table opened with another type than it was created with"),
    }
}

super::checks! {
    /// With no transaction open, `flush` succeeds, `compact` returns `Ok` (whether or not it
    /// had anything to do), and neither changes the data or stops later writes; `size_on_disk`
    /// is positive; each of them answers `Unsupported` instead when not claimed.
    fn flush_and_compact_succeed_when_idle(f: &Fixture) {
        let claims = f.claims();
        f.write(|txn| {
            for i in 0u32..200 {
                txn.put("t", &i.to_be_bytes(), &[i as u8; 100])?;
            }
            Ok(())
        });
        f.write(|txn| {
            for i in 50u32..200 {
                txn.delete("t", &i.to_be_bytes())?;
            }
            Ok(())
        });
        let expected = f.scan_all("t");
        assert_eq!(expected.len(), 50);

        let engine = f.engine();
        if claims.flush {
            engine.flush().expect("flush");
        } else {
            assert_unsupported(engine.flush(), "flush");
        }
        if claims.compact {
            let _compacted: bool = engine.compact().expect("compact");
        } else {
            assert_unsupported(engine.compact(), "compact");
        }
        assert_eq!(f.scan_all("t"), expected);
        f.put("t", b"after", b"1");
        if claims.flush {
            engine.flush().expect("flush");
        } else {
            assert_unsupported(engine.flush(), "flush");
        }
        assert_eq!(f.len("t"), 51);
        if claims.size_on_disk {
            assert!(engine.size_on_disk().expect("size_on_disk") > 0);
        } else {
            assert_unsupported(engine.size_on_disk(), "size_on_disk");
        }
    }

    /// Every capability the engine does not claim answers `Unsupported` — through the engine
    /// and through `Storage` — and the refusal changes nothing; an engine that does not claim
    /// persistence cannot be reopened.
    fn unclaimed_capabilities_answer_unsupported(f: &Fixture) {
        let claims = f.claims();
        f.put("t", b"k", b"v");
        let engine = f.engine();
        let storage = f.storage();
        if !claims.size_on_disk {
            assert_unsupported(engine.size_on_disk(), "size_on_disk");
            assert_unsupported(storage.size_on_disk(), "Storage::size_on_disk");
        }
        if !claims.compact {
            assert_unsupported(engine.compact(), "compact");
            assert_unsupported(storage.compact(), "Storage::compact");
        }
        if !claims.flush {
            assert_unsupported(engine.flush(), "flush");
            assert_unsupported(storage.flush(), "Storage::flush");
        }
        if !claims.check_integrity {
            assert_unsupported(engine.check_integrity(), "check_integrity");
            assert_unsupported(storage.check_integrity(), "Storage::check_integrity");
        }
        drop((engine, storage));
        if !claims.persistent {
            assert!(!f.reopen(), "an engine that does not claim persistence was reopened");
        }
        assert_eq!(f.scan_all("t"), rows(&[("k", "v")]), "a refused call changed the data");
        f.put("t", b"k2", b"v2");
        assert_eq!(f.len("t"), 2, "the engine stopped working after a refused call");
    }

    /// Committed writes survive reopening exactly: puts (also replacing), deletes, a range
    /// deletion, several tables, an empty key and value, and — with table administration — a
    /// created and a dropped table; writes made after a reopen survive the next one.
    fn committed_writes_survive_reopen(f: &Fixture) {
        let mut a = Model::new();
        let mut b = Model::new();
        let mut c = Model::new();
        f.write(|txn| {
            for i in 0u32..300 {
                let (key, value) = (i.to_be_bytes(), vec![i as u8; (i % 50) as usize]);
                txn.put("a", &key, &value)?;
                a.insert(key.to_vec(), value);
            }
            for i in 0u8..20 {
                txn.put("b", &[i], &[i, i])?;
                b.insert(vec![i], vec![i, i]);
                txn.put("c", &[i], b"c")?;
                c.insert(vec![i], b"c".to_vec());
            }
            Ok(())
        });
        f.put("b", b"", b"");
        b.insert(Vec::new(), Vec::new());
        assert!(f.delete("a", &5u32.to_be_bytes()));
        a.remove(&5u32.to_be_bytes()[..]);
        f.write(|txn| {
            let (start, end) = (100u32.to_be_bytes(), 200u32.to_be_bytes());
            let range = KeyRange { start: Bound::Included(&start), end: Bound::Excluded(&end), reverse: false };
            assert_eq!(txn.delete_range("a", &range)?, 100);
            txn.put("a", &7u32.to_be_bytes(), b"replaced")?;
            assert!(txn.delete("b", &[3])?);
            Ok(())
        });
        a.retain(|key, _| !(&100u32.to_be_bytes()[..]..&200u32.to_be_bytes()[..]).contains(&key.as_slice()));
        a.insert(7u32.to_be_bytes().to_vec(), b"replaced".to_vec());
        b.remove(&[3][..]);
        if f.claims().table_admin {
            f.write(|txn| {
                txn.create_table("empty")?;
                assert!(txn.drop_table("c")?);
                Ok(())
            });
            c.clear();
        }
        let tables = ["a", "b", "c", "empty"];
        let expected = (
            vec![model_all(&a), model_all(&b), model_all(&c), Vec::new()],
            f.claims().table_admin.then(|| names(&["a", "b", "empty"])),
        );
        assert_eq!(state(f, &tables), expected, "before reopening");

        reopen(f);
        assert_eq!(state(f, &tables), expected, "after reopening");
        assert_eq!(f.len("a"), a.len() as u64);

        f.put("a", b"after", b"reopen");
        a.insert(b"after".to_vec(), b"reopen".to_vec());
        assert!(f.delete("b", &[4]));
        b.remove(&[4][..]);
        let expected = (vec![model_all(&a), model_all(&b), model_all(&c), Vec::new()], expected.1);
        reopen(f);
        assert_eq!(state(f, &tables), expected, "after the second reopening");
    }

    /// A write transaction dropped uncommitted, one whose body failed and one whose body
    /// panicked leave nothing behind after a reopen: no entry, no deletion, no table.
    fn uncommitted_writes_leave_nothing_after_reopen(f: &Fixture) {
        let admin = f.claims().table_admin;
        f.put("t", b"keep", b"1");

        let txn = f.begin_write();
        txn.put("t", b"dropped", b"2").unwrap();
        assert!(txn.delete("t", b"keep").unwrap());
        txn.put("new_dropped", b"k", b"v").unwrap();
        if admin {
            txn.create_table("created_dropped").unwrap();
        }
        drop(txn);

        let failed = f.try_write(|txn| {
            txn.put("t", b"failed", b"3")?;
            txn.put("new_failed", b"k", b"v")?;
            assert!(txn.delete("t", b"keep")?);
            if admin {
                assert!(txn.drop_table("t")?);
                txn.create_table("created_failed")?;
            }
            Err(Error::callback(std::io::Error::other("stop")))
        });
        assert!(matches!(failed, Err(Error::Callback { .. })), "{failed:?}");

        let panicked = catch_unwind(AssertUnwindSafe(|| {
            f.try_write(|txn| {
                txn.put("t", b"panicked", b"4")?;
                txn.put("new_panicked", b"k", b"v")?;
                panic!("boom inside a transaction");
            })
        }));
        assert!(panicked.is_err(), "the panic must propagate");

        let tables = ["t", "new_dropped", "new_failed", "new_panicked", "created_dropped", "created_failed"];
        let expected = (
            vec![rows(&[("keep", "1")]), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()],
            admin.then(|| names(&["t"])),
        );
        assert_eq!(state(f, &tables), expected, "before reopening");
        reopen(f);
        assert_eq!(state(f, &tables), expected, "after reopening");
        f.put("t", b"after", b"5");
        assert_eq!(f.len("t"), 2);
    }

    /// Commits made with `Durability::None` are visible at once, and after `flush` they are all
    /// there after a reopen. (An engine that does not claim `flush` does not honour
    /// `Durability::None`: its commits are durable anyway, and its `flush` is `Unsupported`.)
    fn flush_makes_unsynced_commits_durable(f: &Fixture) {
        let fast = WriteOptions::durability(Durability::None);
        let mut model = Model::new();
        for batch in 0u32..10 {
            f.try_write_with(fast, |txn| {
                for i in 0u32..20 {
                    let key = (batch * 100 + i).to_be_bytes();
                    txn.put("t", &key, &batch.to_le_bytes())?;
                    model.insert(key.to_vec(), batch.to_le_bytes().to_vec());
                }
                Ok(())
            })
            .expect("a commit with Durability::None");
        }
        f.try_write_with(fast, |txn| {
            assert!(txn.delete("t", &0u32.to_be_bytes())?);
            txn.put("u", b"k", b"v")
        })
        .expect("a commit with Durability::None");
        model.remove(&0u32.to_be_bytes()[..]);
        assert_eq!(f.scan_all("t"), model_all(&model), "commits with Durability::None are visible");

        let engine = f.engine();
        if f.claims().flush {
            engine.flush().expect("flush");
        } else {
            assert_unsupported(engine.flush(), "flush");
        }
        drop(engine);
        reopen(f);
        assert_eq!(f.scan_all("t"), model_all(&model), "flushed commits after reopening");
        assert_eq!(f.scan_all("u"), rows(&[("k", "v")]));
    }

    /// A clean close (the engine dropped) keeps every commit, `Durability::None` ones included,
    /// without a `flush`: they are all there after a reopen.
    fn a_clean_close_keeps_unsynced_commits(f: &Fixture) {
        let fast = WriteOptions::durability(Durability::None);
        let mut model = Model::new();
        for i in 0u32..50 {
            f.try_write_with(fast, |txn| {
                txn.put("t", &i.to_be_bytes(), &i.to_le_bytes())?;
                if i % 7 == 0 && i > 0 {
                    assert!(txn.delete("t", &(i - 7).to_be_bytes())?);
                }
                Ok(())
            })
            .expect("a commit with Durability::None");
            model.insert(i.to_be_bytes().to_vec(), i.to_le_bytes().to_vec());
            if i % 7 == 0 && i > 0 {
                model.remove(&(i - 7).to_be_bytes()[..]);
            }
        }
        reopen(f);
        assert_eq!(f.scan_all("t"), model_all(&model), "unsynced commits after a clean close");
    }

    /// Typed tables survive a reopen: their catalog records (key type, format, value type,
    /// version) and their rows are the same, opening one with another key type or format still
    /// fails with `TableTypeMismatch` (changing nothing), and they can be written again.
    fn typed_tables_survive_reopen(f: &Fixture) {
        let storage = f.storage();
        let records = storage.rkyv_table::<u64, Record>("records").unwrap();
        let versioned = storage
            .table_with::<u64, Record, _>("versioned", RkyvSerializer::new(), TableOptions::default().version(3))
            .unwrap();
        let blobs = storage.raw_table::<String>("blobs").unwrap();
        storage
            .write(|tx| {
                for i in 0u64..50 {
                    let record = Record { name: format!("name {i}"), score: i as u32 * 3 };
                    records.put_in(tx, &i, &record)?;
                }
                versioned.put_in(tx, &1, &Record { name: "v".into(), score: 3 })?;
                blobs.put_in(tx, "blob", b"\x00\xff")
            })
            .unwrap();
        assert!(records.delete(&7).unwrap());
        let rows_before = record_rows(&records);
        assert_eq!(rows_before.len(), 49);
        assert_eq!(rows_before[0], (0, "name 0".to_string(), 0));
        let record = storage.table_record("records").unwrap().expect("a catalog record");
        assert_eq!(record.key, KeyType::U64);
        assert_eq!(record.format, "rkyv");
        assert_eq!(record.version, 0);
        let catalog = storage.tables().unwrap();
        assert_eq!(
            catalog.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(),
            ["blobs", "records", "versioned"]
        );
        assert_mismatch(storage.rkyv_table::<String, Record>("records"), "records", &record, "another key type");
        drop((records, versioned, blobs, storage));

        reopen(f);
        let storage = f.storage();
        assert_eq!(storage.table_record("records").unwrap(), Some(record.clone()), "the catalog record");
        assert_eq!(storage.tables().unwrap(), catalog, "every catalog record");
        assert_mismatch(storage.rkyv_table::<String, Record>("records"), "records", &record, "another key type after reopening");
        assert_mismatch(storage.raw_table::<u64>("records"), "records", &record, "a raw table after reopening");
        let versioned_record = catalog[2].1.clone();
        assert_eq!(versioned_record.version, 3);
        assert_mismatch(
            storage.table_with::<u64, Record, _>("versioned", RkyvSerializer::new(), TableOptions::default().version(4)),
            "versioned",
            &versioned_record,
            "another version after reopening",
        );
        assert_eq!(storage.tables().unwrap(), catalog, "a refused open changed the catalog");

        let records = storage.rkyv_table::<u64, Record>("records").unwrap();
        assert_eq!(record_rows(&records), rows_before, "the rows after reopening");
        let versioned = storage
            .table_with::<u64, Record, _>("versioned", RkyvSerializer::new(), TableOptions::default().version(3))
            .unwrap();
        assert_eq!(versioned.get(&1, |r| r.score.to_native()).unwrap(), Some(3));
        let blobs = storage.raw_table::<String>("blobs").unwrap();
        assert_eq!(blobs.get("blob", |b| b.to_vec()).unwrap(), Some(vec![0x00, 0xff]));
        records.put(&100, &Record { name: "after".into(), score: 1 }).unwrap();
        assert_eq!(records.len().unwrap(), 50);
    }

    /// `check_integrity` finds a healthy database `Intact` — fresh, after writes and deletes,
    /// and after a reopen — without changing its data; `Unsupported` when not claimed.
    fn check_integrity_reports_intact_when_healthy(f: &Fixture) {
        if !f.claims().check_integrity {
            assert_unsupported(f.engine().check_integrity(), "check_integrity");
            return;
        }
        assert_eq!(f.engine().check_integrity().expect("check_integrity"), Integrity::Intact, "a fresh database");
        f.write(|txn| {
            for i in 0u32..500 {
                txn.put("t", &i.to_be_bytes(), &[i as u8; 200])?;
            }
            txn.put("u", b"k", b"v")
        });
        f.write(|txn| {
            for i in (0u32..500).step_by(3) {
                assert!(txn.delete("t", &i.to_be_bytes())?);
            }
            Ok(())
        });
        let expected = (f.scan_all("t"), f.scan_all("u"));
        assert_eq!(f.engine().check_integrity().expect("check_integrity"), Integrity::Intact, "after writes");
        assert_eq!((f.scan_all("t"), f.scan_all("u")), expected, "check_integrity changed the data");
        reopen(f);
        assert_eq!(f.engine().check_integrity().expect("check_integrity"), Integrity::Intact, "after reopening");
        assert_eq!((f.scan_all("t"), f.scan_all("u")), expected, "the data after reopening");
        f.put("u", b"k2", b"v2");
        assert_eq!(f.len("u"), 2, "writes after check_integrity");
    }

    /// `size_on_disk` is positive, and once 1 MiB of incompressible values is written it is at
    /// least 1 MiB — also after a flush, a compaction and a reopen, since the data is still
    /// there; `Unsupported` when not claimed.
    fn size_on_disk_is_positive_and_holds_written_data(f: &Fixture) {
        let claims = f.claims();
        if !claims.size_on_disk {
            assert_unsupported(f.engine().size_on_disk(), "size_on_disk");
            return;
        }
        assert!(size(f) > 0, "a fresh database occupies some bytes");
        let mut rng = Rng(0x5EED_D15C);
        let mut model = Model::new();
        for chunk in 0u32..4 {
            f.write(|txn| {
                for i in 0u32..16 {
                    let key = (chunk * 16 + i).to_be_bytes();
                    let value = noise(&mut rng, 16 << 10);
                    txn.put("t", &key, &value)?;
                    model.insert(key.to_vec(), value);
                }
                Ok(())
            });
        }
        let written = size(f);
        assert!(written >= MIB, "1 MiB written, but size_on_disk says {written} bytes");
        if claims.flush {
            f.engine().flush().expect("flush");
            assert!(size(f) >= MIB, "after flush: {} bytes", size(f));
        }
        if claims.compact {
            f.engine().compact().expect("compact");
            assert!(size(f) >= MIB, "after compact: {} bytes", size(f));
        }
        reopen(f);
        assert!(size(f) >= MIB, "after reopening: {} bytes", size(f));
        assert_eq!(f.scan_all("t"), model_all(&model));
    }

    /// `compact` while a snapshot is open fails with an `InUse` error — not a panic, not a
    /// wait — and leaves the snapshot and the data as they were; once the snapshot is gone it
    /// succeeds. `Unsupported` (snapshot or not) when not claimed.
    fn compact_fails_in_use_while_snapshot_held(f: &Fixture) {
        let claims = f.claims();
        f.write(|txn| {
            for i in 0u32..500 {
                txn.put("t", &i.to_be_bytes(), &[i as u8; 500])?;
            }
            Ok(())
        });
        f.write(|txn| {
            let (start, end) = (100u32.to_be_bytes(), 450u32.to_be_bytes());
            let range = KeyRange { start: Bound::Included(&start), end: Bound::Excluded(&end), reverse: false };
            assert_eq!(txn.delete_range("t", &range)?, 350);
            Ok(())
        });
        let expected = f.scan_all("t");
        assert_eq!(expected.len(), 150);

        let engine = f.engine();
        let compact_with_snapshot = |reader: &dyn crate::engine::ReadOps| {
            let outcome = catch_unwind(AssertUnwindSafe(|| engine.compact()));
            let result = outcome.unwrap_or_else(|_| panic!("compact panicked while a snapshot was open"));
            if claims.compact {
                assert_kind(result, EngineErrorKind::InUse, "compact while a snapshot is open");
            } else {
                assert_unsupported(result, "compact while a snapshot is open");
            }
            assert_eq!(all(reader, "t"), expected, "the snapshot after a refused compact");
        };
        match f.mode() {
            Mode::Boxed => {
                let snapshot = f.begin_read();
                compact_with_snapshot(&*snapshot);
                drop(snapshot);
            }
            Mode::Scoped => f.read(|reader| compact_with_snapshot(reader)),
        }
        assert_eq!(f.scan_all("t"), expected);

        if claims.compact {
            let _compacted: bool = engine.compact().expect("compact once the snapshot is gone");
        } else {
            assert_unsupported(engine.compact(), "compact");
        }
        assert_eq!(f.scan_all("t"), expected, "compact changed the data");
        f.put("t", b"after", b"compact");
        assert_eq!(f.len("t"), 151);
        drop(engine);
    }
}
