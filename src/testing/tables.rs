//! Conformance checks: table administration (capability `table_admin`) — `list_tables`,
//! `table_stats`, `create_table`, `drop_table` — or, when the engine does not claim it, the
//! typed `Unsupported` answer of every one of them, on a snapshot and in a write transaction.

use super::support::{all, assert_unsupported, get_copy, names, rows};
use super::{Fixture, Mode};
use crate::engine::{TableStats, WriteTxn};
use crate::error::{Error, Result};

/// Whether the engine claims table administration. When it does not, first checks that every
/// method of the capability answers `Unsupported` — `list_tables` and `table_stats` on a
/// snapshot and in a write transaction, `create_table` and `drop_table` in a write
/// transaction — and that those refusals changed nothing; the caller then stops.
fn table_admin(f: &Fixture) -> bool {
    if f.claims().table_admin {
        return true;
    }
    f.put("t", b"k", b"v");
    f.read(|reader| {
        assert_unsupported(reader.list_tables(), "list_tables on a snapshot");
        assert_unsupported(reader.table_stats("t"), "table_stats on a snapshot");
        assert_unsupported(
            reader.table_stats("missing"),
            "table_stats of a missing table",
        );
    });
    f.write(|txn| {
        assert_unsupported(txn.list_tables(), "list_tables in a write transaction");
        assert_unsupported(txn.table_stats("t"), "table_stats in a write transaction");
        assert_unsupported(txn.create_table("new"), "create_table");
        assert_unsupported(txn.drop_table("t"), "drop_table");
        // The refusals leave the transaction usable.
        txn.put("t", b"k2", b"v2")
    });
    assert_eq!(
        f.scan_all("t"),
        rows(&[("k", "v"), ("k2", "v2")]),
        "a refused drop_table changed the table"
    );
    assert!(
        f.scan_all("new").is_empty(),
        "a refused create_table wrote something"
    );
    false
}

/// `list_tables` from a fresh snapshot.
fn list(f: &Fixture) -> Vec<String> {
    f.read(|reader| reader.list_tables().expect("list_tables"))
}

/// `table_stats` from a fresh snapshot.
fn stats(f: &Fixture, table: &str) -> TableStats {
    f.read(|reader| reader.table_stats(table).expect("table_stats"))
}

/// Runs `body` in a write transaction that is then rolled back, through this run's mode:
/// dropped uncommitted (boxed), or ended by an error from the body (scoped), which must come
/// back unchanged.
fn rolled_back(f: &Fixture, body: impl FnOnce(&dyn WriteTxn) -> Result<()>) {
    match f.mode() {
        Mode::Boxed => {
            let txn = f.begin_write();
            body(&*txn).expect("the transaction's body");
            drop(txn);
        }
        Mode::Scoped => {
            let result = f.try_write(|txn| {
                body(txn)?;
                Err(Error::callback(std::io::Error::other("roll back")))
            });
            match result {
                Err(Error::Callback { source }) => assert_eq!(source.to_string(), "roll back"),
                other => panic!("expected the body's error back, got {other:?}"),
            }
        }
    }
}

super::checks! {
    /// `list_tables` names, in ascending byte order, every table created by a put, a write
    /// transaction or `create_table` (which makes an empty, readable table and keeps an
    /// existing one's entries); a dropped table disappears from it.
    fn list_tables_is_sorted_and_tracks_creates_and_drops(f: &Fixture) {
        if !table_admin(f) {
            return;
        }
        assert!(list(f).is_empty(), "a fresh database has no tables");
        f.put("zeta", b"k", b"v");
        f.write(|txn| txn.put("mid", b"k", b"v"));
        f.write(|txn| {
            txn.create_table("empty")?;
            txn.put("Beta", b"k", b"v")
        });
        f.put("alpha", b"k", b"v");
        assert_eq!(list(f), names(&["Beta", "alpha", "empty", "mid", "zeta"]));

        assert_eq!(f.len("empty"), 0);
        assert_eq!(f.get("empty", b"k"), None);
        assert!(f.scan_all("empty").is_empty());
        assert_eq!(stats(f, "empty").entries, 0);

        f.write(|txn| txn.create_table("mid"));
        assert_eq!(f.scan_all("mid"), rows(&[("k", "v")]), "create_table emptied an existing table");

        f.write(|txn| {
            assert!(txn.drop_table("mid")?);
            assert!(txn.drop_table("empty")?);
            Ok(())
        });
        assert_eq!(list(f), names(&["Beta", "alpha", "zeta"]));
    }

    /// `list_tables` inside a write transaction sees the transaction's own creates (by a put or
    /// `create_table`) and drops, while a snapshot still sees the committed list; the commit
    /// publishes exactly that list, and a rollback leaves the committed one. A delete from a
    /// missing table does not create it.
    fn list_tables_in_write_transaction_sees_its_own_changes(f: &Fixture) {
        if !table_admin(f) {
            return;
        }
        f.write(|txn| {
            txn.put("a", b"k", b"v")?;
            txn.put("b", b"k", b"v")
        });
        let committed = names(&["a", "b"]);

        rolled_back(f, |txn| {
            assert_eq!(txn.list_tables()?, committed);
            txn.create_table("c")?;
            txn.put("d", b"k", b"v")?;
            assert!(txn.drop_table("a")?);
            assert!(!txn.delete("ghost", b"k")?);
            assert_eq!(txn.list_tables()?, names(&["b", "c", "d"]), "the transaction's own changes");
            assert_eq!(list(f), committed, "a snapshot saw uncommitted table changes");
            Ok(())
        });
        assert_eq!(list(f), committed, "rolled-back table changes were applied");

        f.write(|txn| {
            txn.create_table("c")?;
            txn.put("d", b"k", b"v")?;
            assert!(txn.drop_table("a")?);
            assert!(!txn.delete("ghost", b"k")?);
            let listed = txn.list_tables()?;
            assert_eq!(listed, names(&["b", "c", "d"]), "the transaction's own changes");
            // Dropped and created again, a table is listed again.
            assert!(txn.drop_table("c")?);
            assert_eq!(txn.list_tables()?, names(&["b", "d"]));
            txn.create_table("c")?;
            assert_eq!(txn.list_tables()?, listed);
            Ok(())
        });
        assert_eq!(list(f), names(&["b", "c", "d"]));
    }

    /// `drop_table` reports whether the table existed (once per transaction), hides the table
    /// from the transaction at once but from everyone else only on commit; rolled back, it
    /// changes nothing; committed, the table and its entries are gone, and a later write starts
    /// it afresh.
    fn drop_table_takes_effect_on_commit_only(f: &Fixture) {
        if !table_admin(f) {
            return;
        }
        f.write(|txn| {
            txn.put("t", b"a", b"1")?;
            txn.put("t", b"b", b"2")?;
            txn.put("t", b"c", b"3")
        });
        f.put("kept", b"k", b"v");
        let full = rows(&[("a", "1"), ("b", "2"), ("c", "3")]);

        rolled_back(f, |txn| {
            assert!(txn.drop_table("t")?, "t existed");
            assert!(!txn.drop_table("t")?, "t was already dropped");
            assert!(!txn.drop_table("never")?, "never existed");
            assert_eq!(get_copy(txn, "t", b"a"), None);
            assert_eq!(txn.len("t")?, 0);
            assert!(all(txn, "t").is_empty());
            assert_eq!(get_copy(txn, "kept", b"k"), Some(b"v".to_vec()));
            assert_eq!(f.scan_all("t"), full, "the drop is not committed yet");
            Ok(())
        });
        assert_eq!(f.scan_all("t"), full, "the drop was rolled back");
        assert_eq!(list(f), names(&["kept", "t"]));

        f.write(|txn| {
            assert!(txn.drop_table("t")?);
            Ok(())
        });
        assert_eq!(list(f), names(&["kept"]));
        assert_eq!(f.get("t", b"a"), None);
        assert_eq!(f.len("t"), 0);
        assert!(f.scan_all("t").is_empty());
        assert_eq!(stats(f, "t"), TableStats::default());
        assert_eq!(f.scan_all("kept"), rows(&[("k", "v")]));

        rolled_back(f, |txn| {
            assert!(!txn.drop_table("t")?, "t was dropped by an earlier commit");
            Ok(())
        });
        f.put("t", b"z", b"new");
        assert_eq!(f.scan_all("t"), rows(&[("z", "new")]));

        // Dropped and written again in one transaction: only the new entries remain.
        f.write(|txn| {
            assert!(txn.drop_table("t")?);
            txn.put("t", b"y", b"newer")?;
            assert_eq!(txn.len("t")?, 1);
            assert_eq!(all(txn, "t"), rows(&[("y", "newer")]));
            Ok(())
        });
        assert_eq!(f.scan_all("t"), rows(&[("y", "newer")]));
        assert_eq!(list(f), names(&["kept", "t"]));
    }

    /// A table dropped and then created again within one transaction is empty, inside the
    /// transaction and once committed: the old entries do not come back.
    fn drop_then_create_table_in_one_transaction_starts_empty(f: &Fixture) {
        if !table_admin(f) {
            return;
        }
        f.put("t", b"a", b"1");
        f.put("t", b"b", b"2");
        f.write(|txn| {
            assert!(txn.drop_table("t")?);
            txn.create_table("t")?;
            assert_eq!(txn.len("t")?, 0, "the re-created table is empty");
            assert_eq!(get_copy(txn, "t", b"a"), None);
            assert!(all(txn, "t").is_empty());
            txn.put("t", b"c", b"3")
        });
        assert_eq!(list(f), names(&["t"]));
        assert_eq!(f.scan_all("t"), rows(&[("c", "3")]));
        assert_eq!(f.len("t"), 1);
    }

    /// Reading a table inside a write transaction (`get`, `len`, `range`) does not create it:
    /// only writes and `create_table` do, so after the commit `list_tables` does not name it.
    /// The same holds for a table the transaction dropped and then only read.
    fn write_transaction_reads_create_no_table(f: &Fixture) {
        if !table_admin(f) {
            return;
        }
        f.put("t", b"a", b"1");
        f.write(|txn| {
            assert_eq!(get_copy(txn, "ghost", b"k"), None);
            assert_eq!(txn.len("ghost")?, 0);
            assert!(all(txn, "ghost").is_empty());
            txn.put("t", b"b", b"2")
        });
        assert_eq!(list(f), names(&["t"]), "reads inside a write transaction created a table");

        f.write(|txn| {
            assert!(txn.drop_table("t")?);
            assert_eq!(get_copy(txn, "t", b"a"), None);
            Ok(())
        });
        assert!(list(f).is_empty(), "a read after drop_table re-created the table");
    }

    /// `table_stats` counts the committed entries of one table and a positive number of stored
    /// bytes that grows with more data and shrinks with deletes; uncommitted writes and other
    /// tables do not change it (the writing transaction itself counts its own writes); a
    /// missing, empty or dropped table has zero entries.
    fn table_stats_count_committed_entries_and_bytes(f: &Fixture) {
        if !table_admin(f) {
            return;
        }
        assert_eq!(stats(f, "missing"), TableStats::default());
        f.write(|txn| {
            for i in 0u32..10 {
                txn.put("t", &i.to_be_bytes(), &[i as u8; 16])?;
            }
            Ok(())
        });
        let first = stats(f, "t");
        assert_eq!(first.entries, 10);
        assert!(first.stored_bytes > 0);

        f.put("other", b"k", &[0; 512]);
        assert_eq!(stats(f, "t"), first, "another table's write");

        f.write(|txn| {
            for i in 10u32..20 {
                txn.put("t", &i.to_be_bytes(), &[i as u8; 64])?;
            }
            Ok(())
        });
        let second = stats(f, "t");
        assert_eq!(second.entries, 20);
        assert!(second.stored_bytes > first.stored_bytes);

        rolled_back(f, |txn| {
            for i in 20u32..25 {
                txn.put("t", &i.to_be_bytes(), &[0; 64])?;
            }
            assert!(txn.delete("t", &0u32.to_be_bytes())?);
            assert_eq!(txn.table_stats("t")?.entries, 24, "the transaction counts its own writes");
            assert_eq!(stats(f, "t"), second, "uncommitted writes");
            Ok(())
        });
        assert_eq!(stats(f, "t"), second, "rolled-back writes");

        f.write(|txn| {
            for i in 0u32..15 {
                assert!(txn.delete("t", &i.to_be_bytes())?);
            }
            Ok(())
        });
        let third = stats(f, "t");
        assert_eq!(third.entries, 5);
        assert!(third.stored_bytes > 0);
        assert!(third.stored_bytes < second.stored_bytes);

        f.write(|txn| {
            txn.create_table("empty")?;
            assert!(txn.drop_table("t")?);
            assert_eq!(txn.table_stats("t")?, TableStats::default(), "dropped in this transaction");
            Ok(())
        });
        assert_eq!(stats(f, "empty").entries, 0);
        assert_eq!(stats(f, "t"), TableStats::default());
    }
}
