//! A table's catalog record remembers the key type, value format, value type and version it was
//! created with: reopening it as anything else fails with `TableTypeMismatch` (carrying both
//! records) and leaves it untouched, reopening it as itself — or through another serializer of
//! the same stored format and type — always works, and dropping it forgets the type.

mod common;

use std::sync::Barrier;
use std::thread;

use common::{Session, User, on_every_engine, temp_redb, user};
use zerotable::{
    Error, KeyType, RawSerializer, RkyvBytesSerializer, RkyvSerializer, RkyvTable, Storage,
    TableOptions, TableRecord,
};

/// The `(table, stored, requested)` of a `TableTypeMismatch` against a table that has a catalog
/// record, or a panic naming what came back.
fn mismatch<T>(result: zerotable::Result<T>) -> (String, TableRecord, TableRecord) {
    match result {
        Err(Error::TableTypeMismatch {
            table,
            stored: Some(stored),
            requested,
        }) => (table, *stored, *requested),
        Err(other) => panic!("expected TableTypeMismatch with a stored record, got {other:?}"),
        Ok(_) => panic!("expected TableTypeMismatch, the table opened"),
    }
}

/// A record's fields, to compare in one assertion: key type, format, value type, version.
fn fields(record: &TableRecord) -> (KeyType, &str, Option<&str>, u32) {
    (
        record.key.clone(),
        record.format.as_str(),
        record.value_type.as_deref(),
        record.version,
    )
}

/// Fills `users` with ten users.
fn users_table(storage: &Storage) -> RkyvTable<u64, User> {
    let users = storage.rkyv_table("users").unwrap();
    users.put_batch((0..10).map(|i| (i, user(i)))).unwrap();
    users
}

/// The table still holds its ten users, readable through its original types.
fn assert_untouched(engine: &str, storage: &Storage) {
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 10, "{engine}");
    let names = users.filter_map(|id, u| (u.id == *id).then(|| u.name.to_string()));
    assert_eq!(names.unwrap().len(), 10, "{engine}");
    assert_eq!(storage.list_tables().unwrap(), ["users"], "{engine}");
}

/// Reopening a table with another key type fails with both records and leaves the table untouched.
#[test]
fn reopening_with_another_key_type_fails_and_leaves_the_table_alone() {
    on_every_engine(|engine, storage| {
        users_table(&storage);
        let (table, stored, requested) = mismatch(storage.rkyv_table::<String, User>("users"));
        assert_eq!(table, "users");
        assert_eq!(
            fields(&stored),
            (KeyType::U64, "rkyv", Some("User"), 0),
            "{engine}: {stored}"
        );
        assert_eq!(
            fields(&requested),
            (KeyType::String, "rkyv", Some("User"), 0),
            "{engine}: {requested}"
        );
        mismatch(storage.rkyv_table::<u32, User>("users"));
        mismatch(storage.rkyv_table::<(u64, u64), User>("users"));
        assert_untouched(engine, &storage);
    });
}

/// Reopening a table with another value type fails with both records (differing only in the type)
/// and leaves it untouched.
#[test]
fn reopening_with_another_value_type_fails_and_leaves_the_table_alone() {
    on_every_engine(|engine, storage| {
        users_table(&storage);
        let (table, stored, requested) = mismatch(storage.rkyv_table::<u64, Session>("users"));
        assert_eq!(table, "users");
        assert_eq!(
            stored.value_type.as_deref(),
            Some("User"),
            "{engine}: {stored}"
        );
        assert_eq!(
            requested.value_type.as_deref(),
            Some("Session"),
            "{engine}: {requested}"
        );
        assert_eq!(
            (&requested.key, requested.format.as_str(), requested.version),
            (&stored.key, stored.format.as_str(), stored.version),
            "{engine}: only the value type differs"
        );
        assert_untouched(engine, &storage);
    });
}

/// Reopening an rkyv table as raw bytes fails with both records and leaves it untouched.
#[test]
fn reopening_with_another_value_format_fails_and_leaves_the_table_alone() {
    on_every_engine(|engine, storage| {
        users_table(&storage);
        let (_, stored, requested) = mismatch(storage.raw_table::<u64>("users"));
        assert_eq!(
            (stored.format.as_str(), stored.value_type.as_deref()),
            ("rkyv", Some("User")),
            "{engine}: {stored}"
        );
        assert_eq!(
            (requested.format.as_str(), requested.value_type.as_deref()),
            ("raw", None),
            "{engine}: {requested}"
        );
        mismatch(storage.table::<u64, [u8], _>("users", RawSerializer));
        assert_untouched(engine, &storage);
    });
}

/// The pre-serialized-bytes rkyv serializer stores the same format and type as `rkyv_table`, so
/// it opens an rkyv table of the same `V` and reads its rows (a deliberate change: it used to be
/// a mismatch); for another `V` it is still refused, and the record is not rewritten.
#[test]
fn an_rkyv_table_opens_through_the_borrowed_serializer_of_the_same_value_type() {
    on_every_engine(|engine, storage| {
        let users = users_table(&storage);
        let before = storage.table_record("users").unwrap();

        let borrowed = storage.rkyv_borrowed_table::<u64, User>("users").unwrap();
        assert_eq!(borrowed.len().unwrap(), 10, "{engine}");
        let read = |id: u64| {
            borrowed
                .get(&id, |u| (u.id.to_native(), u.email.to_string()))
                .unwrap()
        };
        assert_eq!(
            read(9),
            Some((9, "user9@example.com".to_owned())),
            "{engine}"
        );
        assert_eq!(
            borrowed
                .filter_map(|id, u| Some((*id, u.name.to_string())))
                .unwrap(),
            users
                .filter_map(|id, u| Some((*id, u.name.to_string())))
                .unwrap(),
            "{engine}: the same rows through either serializer"
        );
        let explicit = storage
            .table::<u64, [u8], _>("users", RkyvBytesSerializer::<User>::new())
            .unwrap();
        assert_eq!(explicit.len().unwrap(), 10, "{engine}");

        // Same format, another value type: refused.
        let (_, stored, requested) = mismatch(storage.rkyv_borrowed_table::<u64, Session>("users"));
        assert_eq!(stored.value_type.as_deref(), Some("User"), "{engine}");
        assert_eq!(
            fields(&requested),
            (KeyType::U64, "rkyv", Some("Session"), 0),
            "{engine}: {requested}"
        );
        assert_eq!(storage.table_record("users").unwrap(), before, "{engine}");
        assert_untouched(engine, &storage);
    });
}

/// A mismatch error's message names the table and both records in their display form.
#[test]
fn a_mismatch_error_names_the_table_and_both_types() {
    let storage = Storage::in_memory();
    users_table(&storage);
    let err = storage.raw_table::<String>("users").err().unwrap();
    assert_eq!(err.table(), Some("users"));
    let message = err.to_string();
    for part in [
        "users",
        "key=u64 format=rkyv type=User version=0",
        "key=String format=raw version=0",
    ] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
}

/// A table opened with one version refuses every other version, version 0 included, and reopens
/// with its own.
#[test]
fn versions_must_match() {
    on_every_engine(|engine, storage| {
        let version = |v| TableOptions::default().version(v);
        let v2 = storage
            .table_with::<u64, User, _>("users", RkyvSerializer::new(), version(2))
            .unwrap();
        v2.put_batch((0..10).map(|i| (i, user(i)))).unwrap();

        let (_, stored, requested) = mismatch(storage.table_with::<u64, User, _>(
            "users",
            RkyvSerializer::new(),
            version(1),
        ));
        assert_eq!(stored.version, 2, "{engine}: {stored}");
        assert_eq!(requested.version, 1, "{engine}: {requested}");
        assert!(
            stored.to_string().ends_with("version=2"),
            "{engine}: {stored}"
        );
        // `rkyv_table` / `table` open version 0.
        let (_, _, requested) = mismatch(storage.rkyv_table::<u64, User>("users"));
        assert_eq!(requested.version, 0, "{engine}: {requested}");

        let again = storage
            .table_with::<u64, User, _>("users", RkyvSerializer::new(), version(2))
            .unwrap();
        assert_eq!(again.len().unwrap(), 10, "{engine}");
    });
}

/// The same types reopen a table any number of times, also after reopening a redb file, whose
/// records persist.
#[test]
fn the_same_types_reopen_fine_also_after_reopening_a_redb_file() {
    on_every_engine(|engine, storage| {
        let first = users_table(&storage);
        let second = storage.rkyv_table::<u64, User>("users").unwrap();
        assert_eq!(second.len().unwrap(), 10, "{engine}");
        second.put(&10, &user(10)).unwrap();
        assert!(
            first.contains(&10).unwrap(),
            "{engine}: both handles see one table"
        );
    });

    let (_dir, path) = temp_redb();
    {
        let storage = Storage::open(&path).unwrap();
        users_table(&storage);
        storage
            .table_with::<String, [u8], _>(
                "notes",
                RawSerializer,
                TableOptions::default().version(3),
            )
            .unwrap()
            .put("k", b"v")
            .unwrap();
    }
    let storage = Storage::open(&path).unwrap();
    assert_untouched_after_reopen(&storage);
    let notes = storage
        .table_with::<String, [u8], _>("notes", RawSerializer, TableOptions::default().version(3))
        .unwrap();
    assert_eq!(notes.get("k", |v| v.to_vec()).unwrap(), Some(b"v".to_vec()));
    // The records were persisted too: other types are still refused after the reopen.
    mismatch(storage.rkyv_table::<u64, Session>("users"));
    mismatch(storage.raw_table::<String>("notes"));
}

fn assert_untouched_after_reopen(storage: &Storage) {
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 10);
    assert_eq!(
        users.get(&9, |u| u.email.to_string()).unwrap().unwrap(),
        "user9@example.com"
    );
}

/// Dropping a table forgets its record: it can be recreated as another type, which is then the one
/// remembered.
#[test]
fn dropping_a_table_forgets_its_type() {
    on_every_engine(|engine, storage| {
        users_table(&storage);
        assert!(storage.drop_table("users").unwrap());
        let notes = storage.raw_table::<String>("users").unwrap();
        assert!(notes.is_empty().unwrap(), "{engine}");
        notes.put("k", b"v").unwrap();
        // ...and the new type is the one remembered now.
        let (_, stored, _) = mismatch(storage.rkyv_table::<u64, User>("users"));
        assert_eq!(
            fields(&stored),
            (KeyType::String, "raw", None, 0),
            "{engine}: {stored}"
        );
    });
}

/// Threads registering the same table with the same types at once all succeed and share one table.
#[test]
fn four_threads_registering_the_same_table_at_once_all_succeed() {
    on_every_engine(|engine, storage| {
        for round in 0..10 {
            let name = format!("shared_{round}");
            let barrier = Barrier::new(4);
            let tables: Vec<RkyvTable<u64, User>> = thread::scope(|scope| {
                let workers: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            storage.rkyv_table::<u64, User>(&name)
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().unwrap().unwrap())
                    .collect()
            });
            for (i, table) in (0u64..).zip(&tables) {
                table.put(&i, &user(i)).unwrap();
            }
            assert_eq!(tables[0].len().unwrap(), 4, "{engine}: {name}");
        }
        assert_eq!(storage.list_tables().unwrap().len(), 10, "{engine}");
    });
}

/// Of threads racing to create a table as different types exactly one wins; the others get a
/// mismatch.
#[test]
fn of_threads_racing_to_create_a_table_as_different_types_exactly_one_wins() {
    on_every_engine(|engine, storage| {
        for round in 0..10 {
            let name = format!("contested_{round}");
            let barrier = Barrier::new(4);
            let outcomes: Vec<zerotable::Result<()>> = thread::scope(|scope| {
                let workers = [
                    scope.spawn(|| {
                        barrier.wait();
                        storage.rkyv_table::<u64, User>(&name).map(drop)
                    }),
                    scope.spawn(|| {
                        barrier.wait();
                        storage.rkyv_table::<u64, Session>(&name).map(drop)
                    }),
                    scope.spawn(|| {
                        barrier.wait();
                        storage.raw_table::<u64>(&name).map(drop)
                    }),
                    scope.spawn(|| {
                        barrier.wait();
                        storage.raw_table::<String>(&name).map(drop)
                    }),
                ];
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            let winners = outcomes.iter().filter(|o| o.is_ok()).count();
            assert_eq!(winners, 1, "{engine}: {name}: {outcomes:?}");
            for outcome in outcomes {
                if let Err(err) = outcome {
                    mismatch::<()>(Err(err));
                }
            }
        }
    });
}

/// After `drop_table` forgets the type, a handle opened before the drop may write again, but the
/// entries it writes have no catalog record: opening the table as any type is then refused
/// (`stored: None`), so a `User` archive is never misread as a `Session`.
#[test]
fn a_dropped_table_refilled_through_an_old_handle_still_refuses_other_types() {
    on_every_engine(|engine, storage| {
        let users = users_table(&storage);
        assert!(storage.drop_table("users").unwrap());
        if users.put(&1, &user(1)).is_err() {
            return; // refusing the stale handle's write would keep the promise too
        }
        let misread = storage
            .rkyv_table::<u64, Session>("users")
            .map(|sessions| sessions.get(&1, |s| s.user_id.to_native()));
        assert!(
            matches!(
                &misread,
                Err(Error::TableTypeMismatch { table, stored: None, .. }) if table == "users"
            ),
            "{engine}: a User table reopened as Session: {misread:?}"
        );
    });
}
