//! Conformance checks: secondary indexes ([`crate::index`]) over the engine — kept equal to
//! their recomputation by every kind of typed write, in and out of transactions, through every
//! handle; unique keys refused whole, also under races; built over existing rows, dropped,
//! refused writes after a reopen until defined again; queries by key, range and prefix.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Barrier};

use crate::codec::value::RkyvSerializer;
use crate::error::{Error, IndexErrorKind, Result};
use crate::index::{Index, IndexOptions};
use crate::storage::{RkyvTable, Storage};

/// A row with a unique email, an optional city and an age.
#[derive(rkyv::Archive, rkyv::Serialize, Clone, Debug, PartialEq)]
pub(crate) struct Person {
    pub(crate) email: String,
    pub(crate) city: String,
    pub(crate) age: u32,
}

pub(crate) fn person(email: &str, city: &str, age: u32) -> Person {
    Person {
        email: email.into(),
        city: city.into(),
        age,
    }
}

type People = RkyvTable<u64, Person>;
type ByEmail = Index<u64, String, Person, RkyvSerializer<Person>>;
type ByCity = Index<u64, String, Person, RkyvSerializer<Person>>;
type ByAge = Index<u64, (u32, String), Person, RkyvSerializer<Person>>;

/// The table and its three indexes: unique by email, by city (empty city: not indexed), and
/// by `(age, city)` (a tuple key).
pub(crate) struct Indexed {
    pub(crate) people: People,
    pub(crate) by_email: ByEmail,
    pub(crate) by_city: ByCity,
    pub(crate) by_age: ByAge,
}

impl Indexed {
    pub(crate) fn open(storage: &Storage) -> Self {
        let people = storage
            .rkyv_table::<u64, Person>("people")
            .expect("open people");
        Indexed {
            by_email: people
                .unique_index("by_email", |p: &ArchivedPerson| p.email.as_str().to_owned())
                .expect("define by_email"),
            by_city: people
                .index("by_city", |p: &ArchivedPerson| {
                    (!p.city.is_empty()).then(|| p.city.as_str().to_owned())
                })
                .expect("define by_city"),
            by_age: people
                .index("by_age", |p: &ArchivedPerson| {
                    Some((p.age.to_native(), p.city.as_str().to_owned()))
                })
                .expect("define by_age"),
            people,
        }
    }

    /// Every index equals its recomputation from the table.
    pub(crate) fn assert_consistent(&self, step: &str) {
        let email = self.by_email.verify().expect("verify by_email");
        let city = self.by_city.verify().expect("verify by_city");
        let age = self.by_age.verify().expect("verify by_age");
        for (name, check) in [("by_email", email), ("by_city", city), ("by_age", age)] {
            assert!(check.is_consistent(), "{name} {step}: {check:?}");
        }
    }
}

fn emails(index: &ByCity, city: &str) -> Vec<String> {
    index
        .range(city..=city)
        .filter_map(|_, _, p| Some(p.email.as_str().to_owned()))
        .unwrap()
}

fn assert_violation<T: std::fmt::Debug>(outcome: Result<T>, key: &str) {
    match outcome {
        Err(Error::UniqueViolation {
            index, key: found, ..
        }) => {
            assert_eq!(
                (index.as_str(), found.as_str()),
                ("by_email", format!("{key:?}").as_str())
            );
        }
        other => panic!("expected a unique violation of {key:?}, got {other:?}"),
    }
}

super::checks! {
    /// Every typed write — put, delete, batch, update, compare-and-swap, get-or-insert, each
    /// auto-commit and in a transaction — moves the index entries with the row.
    fn every_typed_write_keeps_the_indexes(f: &Fixture) {
        let storage = f.storage();
        let ix = Indexed::open(&storage);
        let t = &ix.people;
        t.put(&1, &person("a@x", "Paris", 30)).unwrap();
        t.put(&2, &person("b@x", "Rome", 40)).unwrap();
        ix.assert_consistent("after puts");
        t.put(&1, &person("a2@x", "Rome", 31)).unwrap();
        assert_eq!(emails(&ix.by_city, "Rome"), ["a2@x", "b@x"]);
        assert!(ix.by_email.get("a@x", |id, _| *id).unwrap().is_none());
        t.put_batch([(3u64, person("c@x", "", 20)), (4, person("d@x", "Oslo", 20))]).unwrap();
        ix.assert_consistent("after a batch");
        assert_eq!(ix.by_city.scan().count().unwrap(), 3, "an empty city is not indexed");
        t.update(&3, |p| p.map(|p| person(p.email.as_str(), "Paris", 21))).unwrap();
        t.compare_and_swap(&4, Some(&person("d@x", "Oslo", 20)), Some(&person("d@y", "Oslo", 20)))
            .unwrap();
        t.get_or_insert(&5, || person("e@x", "Lima", 50), |_| ()).unwrap();
        assert!(t.delete(&2).unwrap());
        assert!(!t.delete(&2).unwrap());
        ix.assert_consistent("after auto-commit writes");
        storage
            .write(|tx| {
                t.put_in(tx, &6, &person("f@x", "Paris", 60))?;
                t.delete_in(tx, &1)?;
                t.put_batch_in(tx, [(7u64, person("g@x", "Rome", 70))])?;
                t.update_in(tx, &6, |p| p.map(|p| person(p.email.as_str(), "Bern", 61)))?;
                t.compare_and_swap_in(tx, &7, None, Some(&person("never", "", 0)))?;
                t.get_or_insert_in(tx, &8, || person("h@x", "Rome", 80), |_| ())?;
                // Reads in the transaction see its index writes.
                assert_eq!(ix.by_email.get_in(tx, "f@x", |id, _| *id)?, Some(6));
                assert_eq!(ix.by_city.range_in(tx, "Bern"..="Bern").count()?, 1);
                Ok(())
            })
            .unwrap();
        ix.assert_consistent("after a transaction");
        assert_eq!(ix.by_email.get("f@x", |id, p| (*id, p.city.as_str().to_owned())).unwrap(),
            Some((6, "Bern".to_owned())));
        assert_eq!(emails(&ix.by_city, "Rome"), ["g@x", "h@x"]);
        assert_eq!(ix.by_age.prefix(&(20u32,)).primary_keys().unwrap(), [4]);
        assert_eq!(ix.by_age.range((21u32, "")..).primary_keys().unwrap(), [3, 5, 6, 7, 8]);
    }

    /// A unique key held by another row refuses the write whole — row and entries — auto-commit
    /// and in a transaction, whose other writes stand until it decides; the same row may keep
    /// its key.
    fn unique_violations_write_nothing(f: &Fixture) {
        let storage = f.storage();
        let ix = Indexed::open(&storage);
        let t = &ix.people;
        t.put(&1, &person("a@x", "Paris", 30)).unwrap();
        t.put(&1, &person("a@x", "Rome", 31)).unwrap(); // its own key
        assert_violation(t.put(&2, &person("a@x", "Oslo", 1)), "a@x");
        assert!(!t.contains(&2).unwrap());
        assert_violation(t.put_batch([(3u64, person("c@x", "", 1)), (4, person("a@x", "", 1))]), "a@x");
        assert!(!t.contains(&3).unwrap(), "a failed batch is rolled back whole");
        t.put(&5, &person("e@x", "Lima", 5)).unwrap();
        assert_violation(t.update(&5, |_| Some(person("a@x", "", 0))), "a@x");
        assert_eq!(t.get(&5, |p| p.email.as_str().to_owned()).unwrap().as_deref(), Some("e@x"));
        let kept = storage.write(|tx| {
            t.put_in(tx, &6, &person("f@x", "Bern", 6))?;
            assert_violation(t.put_in(tx, &7, &person("f@x", "Bern", 7)), "f@x");
            assert!(!t.contains_in(tx, &7)?);
            Ok(())
        });
        kept.unwrap();
        assert!(t.contains(&6).unwrap() && !t.contains(&7).unwrap());
        let rolled_back = storage.write(|tx| {
            t.put_in(tx, &8, &person("h@x", "", 8))?;
            t.put_in(tx, &9, &person("h@x", "", 9))
        });
        assert_violation(rolled_back, "h@x");
        assert!(!t.contains(&8).unwrap());
        // Freed keys can be taken.
        t.delete(&1).unwrap();
        t.put(&2, &person("a@x", "Oslo", 2)).unwrap();
        ix.assert_consistent("after violations");
    }

    /// Transactions that fail or panic leave the indexes as they were.
    fn rolled_back_writes_leave_the_indexes(f: &Fixture) {
        let storage = f.storage();
        let ix = Indexed::open(&storage);
        let t = &ix.people;
        t.put(&1, &person("a@x", "Paris", 30)).unwrap();
        let failed: Result<()> = storage.write(|tx| {
            t.put_in(tx, &1, &person("z@x", "Rome", 1))?;
            t.put_in(tx, &2, &person("b@x", "Rome", 1))?;
            Err(Error::callback(std::io::Error::other("changed my mind")))
        });
        assert!(failed.is_err());
        let panicked = panic::catch_unwind(AssertUnwindSafe(|| {
            storage.write::<()>(|tx| {
                t.delete_in(tx, &1)?;
                panic::resume_unwind(Box::new("deliberate"))
            })
        }));
        assert!(panicked.is_err());
        let tx = storage.begin_write().unwrap();
        t.put_in(&tx, &3, &person("c@x", "", 3)).unwrap();
        drop(tx);
        ix.assert_consistent("after rolled-back work");
        assert_eq!(ix.by_email.get("a@x", |id, _| *id).unwrap(), Some(1));
        assert_eq!(ix.by_email.len().unwrap(), 1);
    }

    /// An index defined through one handle is kept by writes through every other: opened
    /// before, opened after, from another storage over the engine, on another thread.
    fn every_handle_keeps_a_defined_index(f: &Fixture) {
        let storage = f.storage();
        let earlier = storage.rkyv_table::<u64, Person>("people").unwrap();
        earlier.put(&1, &person("a@x", "Paris", 1)).unwrap();
        let ix = Indexed::open(&storage);
        assert_eq!(ix.by_email.get("a@x", |id, _| *id).unwrap(), Some(1), "built over existing rows");
        earlier.put(&2, &person("b@x", "Rome", 2)).unwrap();
        assert_violation(earlier.put(&3, &person("a@x", "", 3)), "a@x");
        let other = f.storage().rkyv_table::<u64, Person>("people").unwrap();
        other.put(&4, &person("d@x", "Oslo", 4)).unwrap();
        let threaded = earlier.clone();
        std::thread::spawn(move || threaded.put(&5, &person("e@x", "Lima", 5)).unwrap())
            .join()
            .unwrap();
        ix.assert_consistent("after writes through other handles");
        assert_eq!(ix.by_email.len().unwrap(), 4);
    }

    /// Threads racing for one unique key: exactly one wins, the others get the violation.
    fn unique_key_races_have_one_winner(f: &Fixture) {
        let storage = f.storage();
        let ix = Indexed::open(&storage);
        let threads = 4;
        for round in 0..5u64 {
            let barrier = Arc::new(Barrier::new(threads));
            let outcomes: Vec<Result<()>> = (0..threads as u64)
                .map(|i| {
                    let (t, barrier) = (ix.people.clone(), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        barrier.wait();
                        t.put(&(round * 100 + i), &person(&format!("race{round}"), "", 0))
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect();
            assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "round {round}");
            for outcome in outcomes.into_iter().filter(Result::is_err) {
                assert_violation(outcome, &format!("race{round}"));
            }
        }
        assert_eq!(ix.people.len().unwrap(), 5);
        ix.assert_consistent("after the races");
    }

    /// Building over existing rows reports progress per batch; a unique index that finds a
    /// duplicate is not created; an index whose build was interrupted is built again.
    fn indexes_build_over_existing_rows(f: &Fixture) {
        let storage = f.storage();
        let t = storage.rkyv_table::<u64, Person>("people").unwrap();
        t.put_batch((0..250u64).map(|i| (i, person(&format!("p{i}"), &format!("c{}", i % 10), 0))))
            .unwrap();
        let mut seen = Vec::new();
        let options = IndexOptions::default().batch_rows(100).progress(|p| seen.push((p.rows_done, p.rows_total)));
        let by_city = t
            .define_index("by_city", false, |p: &ArchivedPerson| Some(p.city.as_str().to_owned()), options)
            .unwrap();
        assert_eq!(seen, [(100, 250), (200, 250), (250, 250)]);
        assert_eq!(by_city.range("c3"..="c3").count().unwrap(), 25);
        assert!(by_city.verify().unwrap().is_consistent());
        // A duplicate found while building: refused, nothing left behind.
        let dup = t.unique_index("by_city_unique", |p: &ArchivedPerson| p.city.as_str().to_owned());
        assert!(matches!(dup, Err(Error::UniqueViolation { .. })), "{dup:?}");
        assert!(storage.indexes("people").unwrap().iter().all(|r| r.name != "by_city_unique"));
        t.put(&1000, &person("x", "c3", 0)).unwrap(); // not refused: no such index
        // An interrupted build (its record still `building`, entries missing) is built again
        // when the index is next defined in a process that has not defined it.
        let record = by_city.record().clone();
        drop((by_city, t, storage));
        let storage = f.storage();
        storage
            .write(|tx| {
                let txn = tx.engine_txn();
                txn.delete_range(&record.entries_table(), &crate::engine::KeyRange::ALL)?;
                let building = crate::index::IndexRecord { ready: false, ..record.clone() };
                txn.put(crate::index::INDEX_CATALOG_TABLE, b"people/by_city", building.encode().as_bytes())
            })
            .unwrap();
        let t = storage.rkyv_table::<u64, Person>("people").unwrap();
        let mut batches = 0;
        let by_city = t
            .define_index("by_city", false, |p: &ArchivedPerson| Some(p.city.as_str().to_owned()),
                IndexOptions::default().progress(|_| batches += 1))
            .unwrap();
        assert_eq!(batches, 1, "rebuilt");
        assert!(storage.indexes("people").unwrap().iter().any(|r| r.name == "by_city" && r.ready));
        assert!(by_city.verify().unwrap().is_consistent());
        // Asked explicitly, a rebuild starts from nothing and ends consistent.
        by_city.rebuild(IndexOptions::default()).unwrap();
        assert!(by_city.verify().unwrap().is_consistent());
    }

    /// After a reopen, a write to a table whose indexes are recorded is refused until each is
    /// defined again (reads work); defined again, the index is found built, and kept.
    fn writes_wait_for_recorded_indexes_after_a_reopen(f: &Fixture) {
        let storage = f.storage();
        let ix = Indexed::open(&storage);
        ix.people.put(&1, &person("a@x", "Paris", 30)).unwrap();
        drop(ix);
        drop(storage);
        if !f.reopen() {
            return; // nothing persists: the process-wide definitions stand
        }
        let storage = f.storage();
        let people = storage.rkyv_table::<u64, Person>("people").unwrap();
        assert_eq!(people.get(&1, |p| p.age.to_native()).unwrap(), Some(30), "reads work");
        match people.put(&2, &person("b@x", "", 1)) {
            Err(Error::Index { kind: IndexErrorKind::NotDefined, index, .. }) => {
                assert!(["by_email", "by_city", "by_age"].contains(&index.as_str()));
            }
            other => panic!("a write before the indexes are defined: {other:?}"),
        }
        let mut built = false;
        let by_email = people
            .define_index("by_email", true, |p: &ArchivedPerson| Some(p.email.as_str().to_owned()),
                IndexOptions::default().progress(|_| built = true))
            .unwrap();
        assert!(!built, "a ready index is not built again");
        assert!(people.put(&2, &person("b@x", "", 1)).is_err(), "two indexes still undefined");
        let mismatch = people.unique_index("by_city", |p: &ArchivedPerson| p.age.to_native());
        assert!(matches!(mismatch, Err(Error::Index { kind: IndexErrorKind::Mismatch, .. })), "{mismatch:?}");
        let ix = Indexed::open(&storage);
        ix.people.put(&2, &person("b@x", "", 1)).unwrap();
        assert_violation(people.put(&3, &person("a@x", "", 1)), "a@x");
        assert_eq!(by_email.get("b@x", |id, _| *id).unwrap(), Some(2));
        ix.assert_consistent("after a reopen");
    }

    /// Dropping an index removes its record and entries and its upkeep; dropping the table
    /// drops its indexes.
    fn indexes_drop_with_their_table(f: &Fixture) {
        let storage = f.storage();
        let ix = Indexed::open(&storage);
        ix.people.put(&1, &person("a@x", "Paris", 30)).unwrap();
        assert!(storage.drop_index("people", "by_email").unwrap());
        assert!(!storage.drop_index("people", "by_email").unwrap());
        ix.people.put(&2, &person("a@x", "Paris", 30)).unwrap(); // no longer unique
        assert_eq!(storage.indexes("people").unwrap().len(), 2);
        assert!(storage.drop_table("people").unwrap());
        assert!(storage.indexes("people").unwrap().is_empty());
        assert_eq!(ix.by_city.len().unwrap(), 0);
        let again = Indexed::open(&storage);
        again.people.put(&1, &person("a@x", "Paris", 30)).unwrap();
        again.assert_consistent("after dropping the table");
        let bad = again.people.index("no-dashes", |_: &ArchivedPerson| Some(1u8));
        assert!(matches!(bad, Err(Error::Index { kind: IndexErrorKind::InvalidName, .. })), "{bad:?}");
    }

    /// Index queries: get, ranges both ways with skip and take, prefixes, and a write over a
    /// damaged row still keeps the index right.
    fn index_queries_and_damaged_rows(f: &Fixture) {
        let storage = f.storage();
        let ix = Indexed::open(&storage);
        let t = &ix.people;
        for (id, city) in [(1u64, "Paris"), (2, "Parma"), (3, "Rome"), (4, "Paris"), (5, "Pisa")] {
            t.put(&id, &person(&format!("{id}@x"), city, id as u32)).unwrap();
        }
        let ids = |s: crate::index::IndexScanner<'_, u64, String, Person, RkyvSerializer<Person>>| {
            s.primary_keys().unwrap()
        };
        assert_eq!(ids(ix.by_city.starts_with("Par")), [1, 4, 2]);
        assert_eq!(ids(ix.by_city.starts_with("Par").rev()), [2, 4, 1]);
        assert_eq!(ids(ix.by_city.scan().skip(1).take(2)), [4, 2]);
        assert_eq!(ids(ix.by_city.range("Parma".."Rome")), [2, 5]);
        assert_eq!(ids(ix.by_city.range(.."Paris")), Vec::<u64>::new());
        assert_eq!(ix.by_city.get("Paris", |id, _| *id).unwrap(), Some(1));
        let total = ix.by_city.range("P"..).fold(0, |n, _, _, p| Ok(n + p.age.to_native())).unwrap();
        assert_eq!(total, 1 + 2 + 3 + 4 + 5);
        // Damage row 4 under the index's feet; rewriting it still moves its entries.
        storage.write(|tx| tx.engine_txn().put("people", &4u64.to_be_bytes(), b"garbage")).unwrap();
        t.put(&4, &person("4b@x", "Oslo", 4)).unwrap();
        ix.assert_consistent("after rewriting a damaged row");
    }

    /// A key function that panics: the write it was called for is rolled back and the table
    /// stays usable; a build it breaks leaves no index behind.
    fn a_panicking_key_function_rolls_back(f: &Fixture) {
        let storage = f.storage();
        let t = storage.raw_table::<u64>("t").unwrap();
        let strict = t
            .index("strict", |v: &[u8]| {
                if v == b"boom" {
                    panic::resume_unwind(Box::new("deliberate"));
                }
                Some(v.to_vec())
            })
            .unwrap();
        t.put(&1, b"fine").unwrap();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| t.put(&2, b"boom")));
        assert!(outcome.is_err(), "the panic propagates");
        assert!(!t.contains(&2).unwrap(), "the write was rolled back");
        t.put(&3, b"also fine").unwrap();
        assert!(strict.verify().unwrap().is_consistent());
        storage.drop_index("t", "strict").unwrap();
        // A build over a row the key function panics on.
        t.put(&4, b"boom").unwrap();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            t.index("fragile", |v: &[u8]| {
                if v == b"boom" {
                    panic::resume_unwind(Box::new("deliberate"));
                }
                Some(v.to_vec())
            })
        }));
        assert!(outcome.is_err(), "the panic propagates");
        assert!(storage.indexes("t").unwrap().is_empty(), "no index left behind");
        t.put(&5, b"boom").unwrap(); // not refused, not maintained
    }
}
