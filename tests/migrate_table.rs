//! `Storage::migrate_table`: a table's value type upgraded from version n to n + 1 on every
//! engine; what a failed or refused migration leaves (the old table, untouched); a write made
//! during the migration (caught at the switch); tables migrated twice, dropped and copied after
//! a migration; and SIGKILL at random moments of a migration: the table is then entirely old or
//! entirely new, never a mix.
//!
//! The killed migrations run in a child process: this test binary again, with only
//! `migrate_child` selected and the database path in `ZEROTABLE_MIGRATE_CHILD`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rkyv::{Archive, Serialize};
use zerotable::testing::builtin_harnesses;
use zerotable::{CopyOptions, Error, RkyvSerializer, Storage, TableOptions};

/// Version 1 of the stored type.
#[derive(Archive, Serialize, Debug, Clone, PartialEq)]
struct PersonV1 {
    name: String,
    age: u32,
}

/// Version 2: a field added, one changed.
#[derive(Archive, Serialize, Debug, Clone, PartialEq)]
struct Person {
    name: String,
    age: u64,
    email: String,
}

/// Version 3.
#[derive(Archive, Serialize, Debug, Clone, PartialEq)]
struct PersonV3 {
    display: String,
}

fn v(version: u32) -> TableOptions {
    TableOptions::default().type_name("Person").version(version)
}

fn old_person(i: u64) -> PersonV1 {
    PersonV1 {
        name: format!("person {i}"),
        age: (i % 90) as u32,
    }
}

fn upgrade(old: &ArchivedPersonV1) -> Person {
    Person {
        name: old.name.to_string(),
        age: u64::from(old.age.to_native()),
        email: format!("{}@example.com", old.name.replace(' ', ".")),
    }
}

fn fill_v1(storage: &Storage, rows: u64) {
    let people = storage
        .table_with::<u64, PersonV1, _>("people", RkyvSerializer::new(), v(1))
        .unwrap();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(10_000) {
        people
            .put_batch(chunk.iter().map(|&i| (i, old_person(i))))
            .unwrap();
    }
}

fn migrate(storage: &Storage) -> zerotable::Result<zerotable::MigrationReport> {
    storage.migrate_rkyv_table::<u64, PersonV1, Person>("people", v(1), v(2), upgrade)
}

/// Opens the table as version `version` of `V` and checks it has `rows` rows, each passing
/// `check` (given the row's key).
fn check_rows<V>(
    storage: &Storage,
    version: u32,
    rows: u64,
    what: &str,
    check: impl Fn(u64, &V::Archived),
) where
    V: zerotable::RkyvValue + 'static,
{
    let people = storage
        .table_with::<u64, V, _>("people", RkyvSerializer::new(), v(version))
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    assert_eq!(people.len().unwrap(), rows, "{what}");
    let mut seen = 0;
    people
        .scan_with(|scan| {
            scan.for_each(|key, value| {
                check(*key, value);
                seen += 1;
                Ok(())
            })
        })
        .unwrap();
    assert_eq!(seen, rows, "{what}");
}

/// Checks every row is version 2, converted from its version 1.
fn check_v2(storage: &Storage, rows: u64, what: &str) {
    check_rows::<Person>(storage, 2, rows, what, |key, person| {
        let old = old_person(key);
        assert_eq!(person.name.as_str(), old.name, "{what}");
        assert_eq!(person.age.to_native(), u64::from(old.age), "{what}");
        assert!(person.email.ends_with("@example.com"), "{what}");
    });
}

/// Checks every row is still version 1.
fn check_v1(storage: &Storage, rows: u64, what: &str) {
    check_rows::<PersonV1>(storage, 1, rows, what, |key, person| {
        assert_eq!(person.name.as_str(), old_person(key).name, "{what}");
    });
}

fn is_mismatch<T: std::fmt::Debug>(result: zerotable::Result<T>) -> bool {
    matches!(result, Err(Error::TableTypeMismatch { .. }))
}

#[test]
fn every_engine_migrates_a_table_to_its_next_version() {
    for harness in builtin_harnesses() {
        let instance = harness.fresh_fast();
        let storage = Storage::from_arc(instance.engine().clone());
        let what = harness.name();
        fill_v1(&storage, 3_000);
        let report = migrate(&storage).unwrap_or_else(|err| panic!("{what}: {err}"));
        assert_eq!(report.rows, 3_000, "{what}");
        assert!(report.new_bytes > report.old_bytes, "{what}: {report:?}");
        assert_eq!(report.stored, "people.v2", "{what}");
        check_v2(&storage, 3_000, what);
        assert!(
            is_mismatch(storage.table_with::<u64, PersonV1, _>(
                "people",
                RkyvSerializer::new(),
                v(1)
            )),
            "{what}: the old type is refused now"
        );
        let record = storage.table_record("people").unwrap().unwrap();
        assert_eq!(
            (record.version, record.stored.as_deref()),
            (2, Some("people.v2")),
            "{what}"
        );
        assert_eq!(storage.list_tables().unwrap(), ["people"], "{what}");
        if storage.capabilities().table_admin {
            assert_eq!(
                storage.table_stats("people").unwrap().entries,
                3_000,
                "{what}"
            );
        }
    }
}

#[test]
fn a_migrated_table_migrates_again_drops_and_copies() {
    let storage = Storage::in_memory();
    fill_v1(&storage, 500);
    migrate(&storage).unwrap();

    let copy = Storage::in_memory();
    storage.copy_to(&copy, CopyOptions::default()).unwrap();
    check_v2(&copy, 500, "copied after the migration");

    let report = storage
        .migrate_rkyv_table::<u64, Person, PersonV3>("people", v(2), v(3), |p| PersonV3 {
            display: format!("{} ({})", p.name, p.age),
        })
        .unwrap();
    assert_eq!(report.stored, "people.v3");
    let people = storage
        .table_with::<u64, PersonV3, _>("people", RkyvSerializer::new(), v(3))
        .unwrap();
    assert_eq!(
        people
            .get(&7, |p| p.display.to_string())
            .unwrap()
            .as_deref(),
        Some("person 7 (7)")
    );
    drop(people);
    let engine_tables = |storage: &Storage| {
        let snapshot = storage.engine().begin_read().unwrap();
        snapshot.list_tables().unwrap()
    };
    assert!(
        !engine_tables(&storage)
            .iter()
            .any(|t| t == "people.v2" || t == "people"),
        "the old rows are gone: {:?}",
        engine_tables(&storage)
    );
    assert!(storage.drop_table("people").unwrap());
    assert!(
        !engine_tables(&storage)
            .iter()
            .any(|t| t.starts_with("people")),
        "dropping the table drops its rows: {:?}",
        engine_tables(&storage)
    );
}

#[test]
fn a_failing_conversion_leaves_the_old_table_and_the_next_run_starts_clean() {
    let storage = Storage::in_memory();
    fill_v1(&storage, 20_000);
    let mut converted = 0;
    let failed = storage.migrate_table::<u64, PersonV1, Person, _, _, _>(
        "people",
        (RkyvSerializer::new(), v(1)),
        (RkyvSerializer::new(), v(2)),
        |old| {
            converted += 1;
            if converted == 15_000 {
                return Err(Error::callback(std::io::Error::other("cannot convert")));
            }
            Ok(upgrade(old))
        },
    );
    assert!(matches!(failed, Err(Error::Callback { .. })), "{failed:?}");
    check_v1(&storage, 20_000, "after a failed migration");
    // The rows the failed run wrote are thrown away by the next one.
    migrate(&storage).unwrap();
    check_v2(&storage, 20_000, "after the second run");
}

#[test]
fn refused_migrations_say_why_and_change_nothing() {
    let storage = Storage::in_memory();
    let missing = migrate(&storage).unwrap_err();
    assert!(matches!(missing, Error::Migration { .. }), "{missing:?}");
    assert!(missing.to_string().contains("no such table"), "{missing}");

    fill_v1(&storage, 10);
    let wrong_old =
        storage.migrate_rkyv_table::<u64, PersonV1, Person>("people", v(7), v(8), upgrade);
    assert!(is_mismatch(wrong_old), "the old type must be the table's");

    let same = storage
        .migrate_rkyv_table::<u64, PersonV1, PersonV1>("people", v(1), v(1), |p| {
            old_person(u64::from(p.age.to_native()))
        })
        .unwrap_err();
    assert!(
        same.to_string().contains("give it another version"),
        "{same}"
    );
    check_v1(&storage, 10, "after the refusals");
}

#[test]
fn a_write_during_the_migration_stops_the_switch() {
    let storage = Storage::in_memory();
    fill_v1(&storage, 1_000);
    let people = storage
        .table_with::<u64, PersonV1, _>("people", RkyvSerializer::new(), v(1))
        .unwrap();
    let mut wrote = false;
    let result = storage.migrate_table::<u64, PersonV1, Person, _, _, _>(
        "people",
        (RkyvSerializer::new(), v(1)),
        (RkyvSerializer::new(), v(2)),
        |old| {
            if !wrote {
                wrote = true;
                people.put(&5_000, &old_person(5_000)).unwrap();
            }
            Ok(upgrade(old))
        },
    );
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Migration { .. }), "{err:?}");
    assert!(
        err.to_string().contains("written while the migration ran"),
        "{err}"
    );
    check_v1(&storage, 1_001, "the write is kept, the table still old");
}

// --- SIGKILL during a migration -------------------------------------------------------------

const CHILD_ENV: &str = "ZEROTABLE_MIGRATE_CHILD";
const ROWS: u64 = 10_000;
/// When the migrations are killed, as fractions of the time one takes (a migration spends
/// most of it writing the new rows; the switch is its last part).
const KILL_POINTS: [f64; 6] = [0.05, 0.3, 0.6, 0.9, 1.0, 1.3];

/// In a child: migrates the table at the path in `ZEROTABLE_MIGRATE_CHILD`, printing `started`
/// at its first row and `done` when it returns.
#[test]
fn migrate_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let storage = Storage::open(&path).unwrap();
    let mut first = true;
    let report = storage.migrate_rkyv_table::<u64, PersonV1, Person>("people", v(1), v(2), |old| {
        if first {
            first = false;
            println!("@migrate started");
        }
        upgrade(old)
    });
    report.unwrap();
    println!("@migrate done");
}

/// Starts a child migrating the table at `path`; returns it once the migration has begun.
fn start_child(path: &std::path::Path) -> (std::process::Child, impl Iterator<Item = String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "migrate_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let started = Instant::now();
    let mut begun = false;
    for line in lines.by_ref() {
        if line.contains("@migrate started") {
            begun = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    if !begun {
        child.kill().ok();
        child.wait().ok();
        panic!("the child's migration did not begin");
    }
    (child, lines)
}

#[test]
fn a_migration_killed_at_any_moment_leaves_the_old_table_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.redb");
    let fresh = || {
        std::fs::remove_file(&path).ok();
        fill_v1(&Storage::open(&path).unwrap(), ROWS);
    };

    // One migration to its end first, to learn how long one takes here.
    fresh();
    let (mut child, mut lines) = start_child(&path);
    let began = Instant::now();
    assert!(
        lines.any(|line| line.contains("@migrate done")),
        "the child failed"
    );
    let whole = began.elapsed();
    child.wait().unwrap();
    check_v2(
        &Storage::open(&path).unwrap(),
        ROWS,
        "a migration left alone",
    );

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    println!("a migration takes {whole:?}; kill delays seeded with {seed}");
    let mut rng = seed | 1;
    let mut outcomes = (0, 0);
    for (round, point) in KILL_POINTS.iter().enumerate() {
        fresh();
        let (mut child, _lines) = start_child(&path);
        // Spread from its start to a little after its usual end, with some jitter.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let jitter = (rng % 100) as f64 / 1_000.0 - 0.05;
        let at = point + jitter;
        let delay = whole.mul_f64(at.max(0.0));
        std::thread::sleep(delay);
        child.kill().ok();
        child.wait().unwrap();

        let storage = Storage::open(&path).unwrap();
        let what = format!("round {round}, killed {delay:?} after the start");
        let old = storage.table_with::<u64, PersonV1, _>("people", RkyvSerializer::new(), v(1));
        if old.is_ok() {
            drop(old);
            check_v1(&storage, ROWS, &format!("{what}: old"));
            outcomes.0 += 1;
            // Running it again finishes the job.
            migrate(&storage).unwrap();
        } else {
            outcomes.1 += 1;
        }
        check_v2(&storage, ROWS, &format!("{what}: new"));
    }
    println!(
        "killed before the switch {} times, after it {} times",
        outcomes.0, outcomes.1
    );
}
