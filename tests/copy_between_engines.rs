//! `Storage::copy_to`: every engine into every engine (typed tables, raw tables, an empty
//! table, edge keys, a large value, the catalog), in many small batches with progress; the
//! refusals (non-empty destination, same storage, an unfinished copy on either side); an
//! interrupted copy finished by running it again with `replace`; and a destination changed
//! during the copy caught by the final check.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{User, user};
use zerotable::testing::{Instance, builtin_harnesses};
use zerotable::{CopyErrorKind, CopyOptions, CopyProgress, Error, Storage, WriteOptions};

/// Fills `storage` with the tables every copy test carries; the rows written, catalog records
/// included.
fn fill(storage: &Storage) -> u64 {
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    users.put_batch((0..300).map(|i| (i, user(i)))).unwrap();
    let events = storage.raw_table::<(String, i64)>("events").unwrap();
    for i in 0..50i64 {
        events
            .put(
                &(format!("user{}", i % 7), -i),
                format!("event {i}").as_bytes(),
            )
            .unwrap();
    }
    let blobs = storage.raw_table::<Vec<u8>>("blobs").unwrap();
    blobs.put(&Vec::new(), b"").unwrap();
    blobs.put(&vec![0xff; 40], &vec![0xa5; 1 << 20]).unwrap();
    blobs.put(&vec![0x00], b"zero").unwrap();
    storage.raw_table::<u32>("empty").unwrap();
    300 + 50 + 3 + 4
}

/// Checks that `destination` holds what [`fill`] wrote.
fn check_filled(destination: &Storage, what: &str) {
    assert_eq!(
        destination.list_tables().unwrap(),
        ["blobs", "empty", "events", "users"],
        "{what}"
    );
    let users = destination.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 300, "{what}");
    for i in [0, 1, 150, 299] {
        let name = users.get(&i, |u| u.name.to_string()).unwrap();
        assert_eq!(name, Some(user(i).name), "{what}");
    }
    let events = destination.raw_table::<(String, i64)>("events").unwrap();
    assert_eq!(events.len().unwrap(), 50, "{what}");
    let blobs = destination.raw_table::<Vec<u8>>("blobs").unwrap();
    assert_eq!(
        blobs.get(&Vec::new(), |v| v.len()).unwrap(),
        Some(0),
        "{what}"
    );
    assert_eq!(
        blobs.get(&vec![0xff; 40], |v| v.to_vec()).unwrap(),
        Some(vec![0xa5; 1 << 20]),
        "{what}"
    );
    let empty = destination.raw_table::<u32>("empty").unwrap();
    assert_eq!(empty.len().unwrap(), 0, "{what}");
    // The catalog came along: opening a table as another type is still refused.
    assert!(
        matches!(
            destination.raw_table::<u64>("events"),
            Err(Error::TableTypeMismatch { .. })
        ),
        "{what}"
    );
}

fn storage_of(instance: &Instance) -> Storage {
    Storage::from_arc(instance.engine().clone())
}

fn kind<T: std::fmt::Debug>(result: zerotable::Result<T>) -> (CopyErrorKind, String) {
    match result {
        Err(err @ Error::Copy { .. }) => {
            let Error::Copy { kind, .. } = &err else {
                unreachable!()
            };
            (*kind, err.to_string())
        }
        other => panic!("expected a copy error, got {other:?}"),
    }
}

#[test]
fn every_engine_copies_into_every_engine() {
    let harnesses = builtin_harnesses();
    for from in &harnesses {
        let source_instance = from.fresh_fast();
        let source = storage_of(&source_instance);
        let written = fill(&source);
        for to in &harnesses {
            let what = format!("{} -> {}", from.name(), to.name());
            let destination_instance = to.fresh_fast();
            let destination = storage_of(&destination_instance);
            let mut calls = 0;
            let mut last = (0, 0);
            let mut progress = |p: &CopyProgress<'_>| {
                calls += 1;
                assert!(p.rows <= p.table_rows && p.rows_done <= p.rows_total);
                assert!(p.rows_done >= last.0, "progress goes forward");
                last = (p.rows_done, p.rows_total);
            };
            let report = source
                .copy_to(
                    &destination,
                    CopyOptions::default()
                        .batch_bytes(1 << 10)
                        .progress(&mut progress),
                )
                .unwrap_or_else(|err| panic!("{what}: {err}"));
            assert_eq!(report.rows, written, "{what}");
            assert_eq!(last, (written, written), "{what}: the last progress call");
            assert!(calls > 10, "{what}: many small batches ({calls} calls)");
            let names: Vec<&str> = report.tables.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(
                names,
                ["blobs", "empty", "events", "users", "zerotable.meta"],
                "{what}"
            );
            check_filled(&destination, &what);
        }
    }
}

#[test]
fn a_non_empty_destination_is_refused_unless_replaced() {
    let source = Storage::in_memory();
    fill(&source);
    let destination = Storage::in_memory();
    destination
        .raw_table::<u32>("empty")
        .unwrap()
        .put(&1, b"x")
        .unwrap();
    destination
        .raw_table::<u32>("mine")
        .unwrap()
        .put(&7, b"kept")
        .unwrap();

    let (refusal, message) = kind(source.copy_to(&destination, CopyOptions::default()));
    assert_eq!(refusal, CopyErrorKind::DestinationNotEmpty);
    assert!(
        message.contains("\"empty\"") && message.contains("replace"),
        "{message}"
    );
    assert!(destination.table_exists("mine").unwrap(), "nothing changed");

    source
        .copy_to(&destination, CopyOptions::default().replace(true))
        .unwrap();
    check_filled_with_mine(&destination);
}

/// After a replacing copy: the copied tables as in the source, and the destination's own
/// table untouched.
fn check_filled_with_mine(destination: &Storage) {
    let mine = destination.raw_table::<u32>("mine").unwrap();
    assert_eq!(
        mine.get(&7, |v| v.to_vec()).unwrap().as_deref(),
        Some(&b"kept"[..])
    );
    assert_eq!(
        destination
            .raw_table::<u32>("empty")
            .unwrap()
            .len()
            .unwrap(),
        0
    );
    assert_eq!(
        destination
            .rkyv_table::<u64, User>("users")
            .unwrap()
            .len()
            .unwrap(),
        300
    );
}

#[test]
fn copying_a_storage_into_itself_is_refused() {
    let storage = Storage::in_memory();
    fill(&storage);
    let same = storage.clone();
    let (refusal, _) = kind(storage.copy_to(&same, CopyOptions::default()));
    assert_eq!(refusal, CopyErrorKind::SameStorage);
}

#[test]
fn an_interrupted_copy_is_refused_until_run_again_with_replace() {
    let dir = tempfile::tempdir().unwrap();
    let source = Storage::in_memory();
    let written = fill(&source);
    let path = dir.path().join("copy.redb");
    let destination = Storage::open(&path).unwrap();

    // Interrupted in the middle (the progress callback panics after a few batches).
    let mut batches = 0;
    let mut stop = |_: &CopyProgress<'_>| {
        batches += 1;
        if batches == 5 {
            panic!("interrupted");
        }
    };
    let interrupted = catch_unwind(AssertUnwindSafe(|| {
        source.copy_to(
            &destination,
            CopyOptions::default()
                .batch_bytes(4 << 10)
                .progress(&mut stop),
        )
    }));
    assert!(interrupted.is_err());
    drop(destination);

    // Reopened, as after a crash: the copy says it did not finish and what to do.
    let destination = Storage::open(&path).unwrap();
    let (refusal, message) = kind(source.copy_to(&destination, CopyOptions::default()));
    assert_eq!(refusal, CopyErrorKind::Unfinished);
    assert!(
        message.contains("did not finish") && message.contains("replace"),
        "{message}"
    );
    // Nor is it a source.
    let (refusal, _) = kind(destination.copy_to(&Storage::in_memory(), CopyOptions::default()));
    assert_eq!(refusal, CopyErrorKind::SourceUnfinished);

    let report = source
        .copy_to(&destination, CopyOptions::default().replace(true))
        .unwrap();
    assert_eq!(report.rows, written);
    check_filled(&destination, "after the interrupted copy");
    // Finished: copying from it works.
    let again = Storage::in_memory();
    destination.copy_to(&again, CopyOptions::default()).unwrap();
    check_filled(&again, "copied on");
}

#[test]
fn a_destination_written_during_the_copy_fails_the_check() {
    let source = Storage::in_memory();
    fill(&source);
    let destination = Storage::in_memory();
    let engine = destination.engine().clone();
    let mut once = false;
    let mut write_behind = |p: &CopyProgress<'_>| {
        if p.table == "events" && !once {
            once = true;
            // Another writer, straight to the engine, behind the copy's back.
            engine
                .write(WriteOptions::DEFAULT, &mut |txn| {
                    txn.put("events", b"\xffnot a key of the source", b"intruder")
                })
                .unwrap();
        }
    };
    let (refusal, message) = kind(
        source.copy_to(
            &destination,
            CopyOptions::default()
                .batch_bytes(256)
                .progress(&mut write_behind),
        ),
    );
    assert_eq!(refusal, CopyErrorKind::Mismatch);
    assert!(
        message.contains("\"events\"") && message.contains("51 rows"),
        "{message}"
    );
    // The marker stays: the next copy says the last one did not finish.
    let (refusal, _) = kind(source.copy_to(&destination, CopyOptions::default()));
    assert_eq!(refusal, CopyErrorKind::Unfinished);
}

#[test]
fn the_source_snapshot_is_what_is_copied() {
    let source = Storage::in_memory();
    let written = fill(&source);
    let users = source.rkyv_table::<u64, User>("users").unwrap();
    let destination = Storage::in_memory();
    let mut changed = false;
    let mut write_source = |_: &CopyProgress<'_>| {
        if !changed {
            changed = true;
            users.put(&10_000, &user(10_000)).unwrap();
            users.delete(&0).unwrap();
        }
    };
    let report = source
        .copy_to(
            &destination,
            CopyOptions::default()
                .batch_bytes(1024)
                .progress(&mut write_source),
        )
        .unwrap();
    assert_eq!(
        report.rows, written,
        "the rows of the snapshot, not the later ones"
    );
    check_filled(&destination, "from the snapshot");
    assert_eq!(users.len().unwrap(), 300);
}
