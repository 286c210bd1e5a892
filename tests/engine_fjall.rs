//! Tests specific to the fjall engine: allocations of a typed get against fjall's own get,
//! `fjall://` addresses and their options, reopening, key limits and the key escaping (empty
//! keys, keys starting with zero bytes), odd table names, damaged folders, a second open in
//! this process and in another one, `Durability::None` across a killed process, and how
//! dropped tables' keyspaces are reclaimed.

mod common;

use std::ops::{Bound, ControlFlow};
use std::path::Path;
use std::sync::Arc;

use common::child::{announce_ready_and_hold, child_role, spawn_until_ready};
use common::counting::{LOOKUPS, compare_lookups, typed_get, typed_get_in, users_table};
use common::engine::{invalid_config, list_tables, scan};
use common::{User, user};
use fjall::Readable;
use zerotable::engines::{FjallEngine, FjallOptions};
use zerotable::{
    Durability, Engine, EngineErrorKind, Error, Holder, KeyRange, Storage, WriteOptions,
};

/// Counts allocations made by the current thread (tests run on parallel threads).
#[global_allocator]
static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;

fn open(path: &Path) -> Arc<FjallEngine> {
    Arc::new(FjallEngine::open(path, FjallOptions::default()).expect("open fjall"))
}

/// A key as the engine stores it: one `0x00` in front of a key that is empty or starts with
/// `0x00` (see the module docs of the fjall engine).
fn stored(key: &[u8]) -> Vec<u8> {
    if key.first().is_none_or(|&b| b == 0) {
        [&[0][..], key].concat()
    } else {
        key.to_vec()
    }
}

fn users_in(dir: &Path) -> (Arc<FjallEngine>, zerotable::RkyvTable<u64, User>) {
    let engine = open(&dir.join("db"));
    let users = users_table(&Storage::from_arc(engine.clone()));
    (engine, users)
}

/// The keyspace of table `users`, and the keys `0..LOOKUPS` as fjall stores them there.
fn raw_users(engine: &FjallEngine) -> (fjall::Keyspace, Vec<Vec<u8>>) {
    let keyspace = engine.keyspace("users").expect("the users keyspace");
    let keys = (0..LOOKUPS).map(|i| stored(&i.to_be_bytes())).collect();
    (keyspace, keys)
}

/// An auto-commit typed get allocates no more than fjall's own get of the same key in its own
/// snapshot (`read_tx` + `get`): the value reaches the callback as fjall's slice.
#[test]
fn typed_get_allocates_no_more_than_a_raw_fjall_get() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, users) = users_in(dir.path());
    let (keyspace, keys) = raw_users(&engine);

    let mut raw_get = |i: u64| {
        let snapshot = engine.database().read_tx();
        let value = snapshot.get(&keyspace, &keys[i as usize]).unwrap().unwrap();
        std::hint::black_box(value.len());
    };
    let mut typed_get = typed_get(&users);
    let [raw, typed] = compare_lookups(
        "allocations per auto-commit get on fjall",
        [
            ("raw fjall (read_tx + get)", &mut raw_get),
            ("typed", &mut typed_get),
        ],
    );
    assert!(
        typed <= raw,
        "typed get allocated {typed} times, raw fjall {raw} (over {LOOKUPS} gets)"
    );
}

/// Inside one snapshot a typed get allocates no more than fjall's get on one fjall snapshot.
#[test]
fn typed_gets_inside_one_snapshot_allocate_no_more_than_raw_gets_on_one_fjall_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, users) = users_in(dir.path());
    let (keyspace, keys) = raw_users(&engine);

    let raw_snapshot = engine.database().read_tx();
    let mut raw_get = |i: u64| {
        let value = raw_snapshot
            .get(&keyspace, &keys[i as usize])
            .unwrap()
            .unwrap();
        std::hint::black_box(value.len());
    };
    let snapshot = Storage::from_arc(engine.clone()).snapshot().unwrap();
    let mut typed_get = typed_get_in(&users, &snapshot);
    let [raw, typed] = compare_lookups(
        "allocations per get in one snapshot on fjall",
        [("raw fjall", &mut raw_get), ("typed", &mut typed_get)],
    );
    assert!(
        typed <= raw,
        "typed gets in one snapshot allocated {typed} times, raw fjall {raw} (over {LOOKUPS} gets)"
    );
}

/// `fjall://path?…` opens a fjall engine with those options, and the same address reopens it.
#[test]
fn connect_opens_fjall_with_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!(
        "fjall://{}/app?durability=none&cache_size=8MiB&worker_threads=1&max_journal_size=64MiB",
        dir.path().display()
    );
    let storage = Storage::connect(&address).unwrap();
    assert_eq!(storage.engine().name(), "fjall");
    let t = storage.raw_table::<u8>("t").unwrap();
    t.put(&1, b"x").unwrap();
    storage.flush().unwrap();
    drop((t, storage));
    assert!(dir.path().join("app").is_dir(), "the database is a folder");
    let storage = Storage::connect(&address).unwrap();
    assert_eq!(storage.raw_table::<u8>("t").unwrap().len().unwrap(), 1);
}

/// Unknown options and bad values are `InvalidConfig` errors naming the option (and nothing is
/// created).
#[test]
fn bad_fjall_options_are_invalid_config_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("fjall://{}/app", dir.path().display());
    let cases = [
        ("cache_sise=8MiB", None, "unknown option `cache_sise`"),
        ("durability=sometimes", Some("durability"), "immediate"),
        ("cache_size=lots", Some("cache_size"), "a size"),
        ("worker_threads=0", Some("worker_threads"), "at least 1"),
        ("worker_threads=-1", Some("worker_threads"), "whole number"),
        ("max_journal_size=1MiB", Some("max_journal_size"), "64MiB"),
    ];
    for (query, option, needle) in cases {
        let error = invalid_config(&format!("{base}?{query}"), option, &[needle]);
        if option.is_none() {
            let message = error.to_string();
            assert!(
                message.contains("cache_size"),
                "lists the options: {message}"
            );
        }
    }
    assert!(
        !dir.path().join("app").exists(),
        "a refused address created nothing"
    );
    // The same checks guard the typed options.
    let error = FjallEngine::open(
        dir.path().join("app"),
        FjallOptions::default().worker_threads(0),
    )
    .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidConfig { option: Some(o), .. } if o == "worker_threads"),
        "{error:?}"
    );
}

/// Data, tables and typed catalog records survive closing and reopening, twice.
#[test]
fn reopening_keeps_data_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let storage = Storage::new(FjallEngine::open(&path, FjallOptions::default()).unwrap());
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..100).map(|i| (i, user(i)))).unwrap();
        let notes = storage.raw_table::<String>("notes").unwrap();
        notes.put("a", b"1").unwrap();
        notes.put("", b"empty key").unwrap();
    }
    for round in 0..2 {
        let storage = Storage::new(FjallEngine::open(&path, FjallOptions::default()).unwrap());
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        assert_eq!(users.len().unwrap(), 100 + round);
        assert_eq!(
            users.get(&42, |u| u.name.to_string()).unwrap().as_deref(),
            Some("user42")
        );
        let notes = storage.raw_table::<String>("notes").unwrap();
        assert_eq!(
            notes.get("", |v| v.to_vec()).unwrap(),
            Some(b"empty key".to_vec())
        );
        assert_eq!(notes.len().unwrap(), 2);
        users.put(&(1000 + round), &user(7)).unwrap();
    }
}

/// Keys past fjall's limit are `LimitExceeded` errors (never a panic), at the exact boundary:
/// 65,535 stored bytes, one less for a key that starts with a zero byte. A get, a delete or a
/// range bound longer than that finds nothing, or bounds correctly.
#[test]
fn oversize_keys_are_limit_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("db"));
    let put = |key: &[u8]| engine.write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", key, b"v"));

    let longest = vec![b'a'; 65_535];
    put(&longest).expect("a 65,535-byte key fits");
    let mut longest_zero = vec![0u8; 65_534];
    longest_zero[1] = 7;
    put(&longest_zero).expect("a 65,534-byte key starting with 0 fits");

    for key in [vec![b'a'; 65_536], vec![0u8; 65_535], vec![b'z'; 1 << 20]] {
        let error = put(&key).unwrap_err();
        assert_eq!(
            error.engine_kind(),
            Some(EngineErrorKind::LimitExceeded),
            "{error}"
        );
        assert!(error.to_string().contains("65,535"), "{error}");
    }
    // The refused puts rolled back; the transaction-level error left the engine usable.
    assert_eq!(scan(&*engine, "t", KeyRange::ALL).len(), 2);

    let too_long = vec![b'a'; 70_000];
    engine
        .read(&mut |reader| {
            assert!(!reader.get("t", &too_long, &mut |_| Ok(()))?);
            Ok(())
        })
        .unwrap();
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert!(!txn.delete("t", &too_long)?);
            Ok(())
        })
        .unwrap();
    // A bound longer than any key: "a"*65535 < "a"*70000, the zero-led key is below both.
    let below = scan(
        &*engine,
        "t",
        KeyRange {
            start: Bound::Unbounded,
            end: Bound::Excluded(&too_long),
            reverse: false,
        },
    );
    assert_eq!(below.len(), 2, "both keys are below the long bound");
    let above = scan(
        &*engine,
        "t",
        KeyRange {
            start: Bound::Included(&too_long),
            end: Bound::Unbounded,
            reverse: true,
        },
    );
    assert!(above.is_empty(), "no key is above the long bound");
    let between = scan(
        &*engine,
        "t",
        KeyRange {
            start: Bound::Excluded(&longest_zero),
            end: Bound::Included(&too_long),
            reverse: false,
        },
    );
    assert_eq!(between, vec![(longest.clone(), b"v".to_vec())]);
}

/// Empty keys and keys starting with zero bytes (stored escaped) keep memcmp order in both
/// directions and under every kind of bound, and come back unchanged.
#[test]
fn escaped_keys_keep_memcmp_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("db"));
    let keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0],
        vec![0, 0, 1],
        vec![0, 1],
        vec![0, 0xff],
        vec![1],
        vec![1, 0],
        vec![0x7f],
        vec![0xff],
        vec![0xff, 0],
    ];
    let mut sorted = keys.clone();
    sorted.sort();
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for (i, key) in keys.iter().enumerate() {
                txn.put("t", key, &[i as u8])?;
            }
            Ok(())
        })
        .unwrap();
    let value_of = |key: &[u8]| vec![keys.iter().position(|k| k == key).unwrap() as u8];
    let all: Vec<_> = sorted.iter().map(|k| (k.clone(), value_of(k))).collect();
    assert_eq!(scan(&*engine, "t", KeyRange::ALL), all);
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(
        scan(
            &*engine,
            "t",
            KeyRange {
                reverse: true,
                ..KeyRange::ALL
            }
        ),
        reversed
    );
    // Every pair of bounds, compared with the model.
    let bounds = |key: &'static [u8]| [Bound::Included(key), Bound::Excluded(key)];
    let probes: Vec<&'static [u8]> =
        vec![&[], &[0], &[0, 0], &[0, 0, 0], &[0, 1], &[1], &[0xff, 0, 0]];
    for &lo in &probes {
        for &hi in &probes {
            for start in bounds(lo).into_iter().chain([Bound::Unbounded]) {
                for end in bounds(hi).into_iter().chain([Bound::Unbounded]) {
                    let range = KeyRange {
                        start,
                        end,
                        reverse: false,
                    };
                    let expected: Vec<_> = all
                        .iter()
                        .filter(|(k, _)| range.contains(k))
                        .cloned()
                        .collect();
                    assert_eq!(scan(&*engine, "t", range), expected, "{start:?}..{end:?}");
                    let mut expected = expected;
                    expected.reverse();
                    let range = KeyRange {
                        reverse: true,
                        ..range
                    };
                    assert_eq!(
                        scan(&*engine, "t", range),
                        expected,
                        "reverse {start:?}..{end:?}"
                    );
                }
            }
        }
    }
    // Deleting through the escape: the empty key and a zero-led key, and a range of them.
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert!(txn.delete("t", &[])?);
            assert!(!txn.delete("t", &[])?);
            let range = KeyRange {
                start: Bound::Included(&[0, 0]),
                end: Bound::Excluded(&[0, 1]),
                reverse: false,
            };
            assert_eq!(txn.delete_range("t", &range)?, 2);
            Ok(())
        })
        .unwrap();
    let left: Vec<Vec<u8>> = scan(&*engine, "t", KeyRange::ALL)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(&left[..3], &[vec![0], vec![0, 1], vec![0, 0xff]]);
}

/// Any `&str` is a table name: empty, long, with separators, dots, unicode, or named like the
/// engine's own keyspaces; they are listed in byte order and survive a reopen.
#[test]
fn odd_table_names_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let long = "x".repeat(1000);
    let names: Vec<String> = vec![
        String::new(),
        "zt_catalog".into(),
        "zt_t0".into(),
        "../escape".into(),
        "a/b\\c".into(),
        "with space".into(),
        "ünïcødé 表".into(),
        "nul\0inside".into(),
        long.clone(),
    ];
    {
        let engine = open(&path);
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                for (i, name) in names.iter().enumerate() {
                    txn.put(name, b"k", &[i as u8])?;
                }
                Ok(())
            })
            .unwrap();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(list_tables(&*engine), sorted);
    }
    let engine = open(&path);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(list_tables(&*engine), sorted);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            scan(&*engine, name, KeyRange::ALL),
            vec![(b"k".to_vec(), vec![i as u8])],
            "{name:?}"
        );
    }
    // The engine's keyspaces are its own: one catalog, one keyspace per table.
    let keyspaces = engine.database().list_keyspace_names();
    assert_eq!(keyspaces.len(), names.len() + 1, "{keyspaces:?}");
    assert!(
        keyspaces.iter().all(|n| n.starts_with("zt_")),
        "{keyspaces:?}"
    );
}

/// A folder this process has open cannot be opened again: `AlreadyOpen`, naming this process,
/// at once; once the first engine is dropped it opens.
#[test]
fn a_second_open_in_this_process_is_already_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = Storage::new(FjallEngine::open(&path, FjallOptions::default()).unwrap());
    first.raw_table::<u8>("t").unwrap().put(&1, b"x").unwrap();
    let started = std::time::Instant::now();
    let error = FjallEngine::open(&path, FjallOptions::default()).unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_millis(100),
        "refused at once"
    );
    assert_eq!(
        error.engine_kind(),
        Some(EngineErrorKind::AlreadyOpen),
        "{error}"
    );
    assert!(
        matches!(error.holder(), Some(Holder::ThisProcess { .. })),
        "{:?}",
        error.holder()
    );
    assert!(error.to_string().contains("this process"), "{error}");
    // Through another spelling of the same folder too.
    let other_spelling = dir.path().join(".").join("db");
    let error = Storage::connect(&format!("fjall://{}", other_spelling.display())).unwrap_err();
    assert_eq!(
        error.engine_kind(),
        Some(EngineErrorKind::AlreadyOpen),
        "{error}"
    );
    drop(first);
    let again = Storage::new(FjallEngine::open(&path, FjallOptions::default()).unwrap());
    assert_eq!(again.raw_table::<u8>("t").unwrap().len().unwrap(), 1);
}

/// Another process holding the folder: `AlreadyOpen`, naming another process.
#[test]
fn a_folder_held_by_another_process_is_already_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let child = spawn_until_ready("hold", &path);
    let error = FjallEngine::open(&path, FjallOptions::default()).unwrap_err();
    assert_eq!(
        error.engine_kind(),
        Some(EngineErrorKind::AlreadyOpen),
        "{error}"
    );
    assert_eq!(error.holder(), Some(Holder::AnotherProcess), "{error}");
    assert!(error.to_string().contains("another process"), "{error}");
    drop(child);
    let engine = open(&path);
    assert_eq!(
        scan(&*engine, "rows", KeyRange::ALL),
        vec![(b"k".to_vec(), b"written by the child".to_vec())]
    );
}

/// Commits made with `Durability::None` are in the operating system's buffers when `commit`
/// returns: a process killed right after (SIGKILL, no clean close) loses none of them.
#[test]
fn durability_none_commits_survive_a_killed_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let child = spawn_until_ready("commit-fast-and-hold", &path);
    drop(child); // SIGKILL
    let engine = open(&path);
    let rows = scan(&*engine, "rows", KeyRange::ALL);
    assert_eq!(rows.len(), 100, "every acknowledged commit is there");
    assert_eq!(rows[99], (99u32.to_be_bytes().to_vec(), b"fast".to_vec()));
}

/// Not a test of its own: the body of the child processes above.
#[test]
fn child_process_helper() {
    let Some((role, path)) = child_role() else {
        return;
    };
    match role.as_str() {
        "hold" => {
            let engine = open(&path);
            engine
                .write(WriteOptions::DEFAULT, &mut |txn| {
                    txn.put("rows", b"k", b"written by the child")
                })
                .unwrap();
            announce_ready_and_hold();
        }
        "commit-fast-and-hold" => {
            let engine =
                FjallEngine::open(&path, FjallOptions::default().durability(Durability::None))
                    .unwrap();
            for i in 0u32..100 {
                engine
                    .write(WriteOptions::DEFAULT, &mut |txn| {
                        txn.put("rows", &i.to_be_bytes(), b"fast")
                    })
                    .unwrap();
            }
            announce_ready_and_hold();
        }
        other => panic!("unknown child role {other:?}"),
    }
}

/// What opening `path` gives: `Ok` or the error's kind and text — never a panic.
fn try_open(path: &Path) -> Result<Arc<FjallEngine>, (Option<EngineErrorKind>, String)> {
    let opened = std::panic::catch_unwind(|| FjallEngine::open(path, FjallOptions::default()));
    match opened.expect("opening a damaged folder panicked") {
        Ok(engine) => Ok(Arc::new(engine)),
        Err(error) => {
            assert!(matches!(error, Error::Open { .. }), "{error:?}");
            Err((error.engine_kind(), error.to_string()))
        }
    }
}

/// A file at the path, a folder of other files, a missing parent and a damaged version marker
/// are open errors with a clear message; a damaged journal is an open error or opens without
/// the damaged commit and those after it (fjall's recovery), never with part of a commit — and
/// nothing panics.
#[test]
fn damaged_or_foreign_folders_open_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();

    let file = dir.path().join("a_file");
    std::fs::write(&file, b"not a database").unwrap();
    let (kind, message) = try_open(&file).map(|_| ()).unwrap_err();
    assert_eq!(kind, Some(EngineErrorKind::Corrupted), "{message}");
    assert!(message.contains("is a file"), "{message}");

    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), b"mine").unwrap();
    let (_, message) = try_open(&foreign).map(|_| ()).unwrap_err();
    assert!(message.contains("not a fjall database"), "{message}");
    assert_eq!(
        std::fs::read_dir(&foreign).unwrap().count(),
        1,
        "nothing written into it"
    );

    let missing_parent = dir.path().join("no/such/dir/db");
    let (kind, message) = try_open(&missing_parent).map(|_| ()).unwrap_err();
    assert_eq!(kind, Some(EngineErrorKind::Io), "{message}");
    assert!(message.contains("does not exist"), "{message}");

    // A healthy database, then damaged in different ways (each on its own copy).
    let healthy = dir.path().join("healthy");
    {
        let engine = open(&healthy);
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                for i in 0u32..2000 {
                    txn.put("t", &i.to_be_bytes(), &[i as u8; 100])?;
                }
                Ok(())
            })
            .unwrap();
    }

    let bad_version = copy_folder(&healthy, &dir.path().join("bad_version"));
    std::fs::write(bad_version.join("version"), b"garbage!").unwrap();
    let (kind, message) = try_open(&bad_version).map(|_| ()).unwrap_err();
    assert_eq!(kind, Some(EngineErrorKind::Corrupted), "{message}");
    assert!(message.contains("not a fjall 3 database"), "{message}");

    for (name, damage) in [
        ("journal_garbage", Damage::Overwrite(0xA5)),
        ("journal_zeroed", Damage::Overwrite(0)),
        ("journal_cut", Damage::Truncate),
        ("journal_bit_flip", Damage::FlipByte),
    ] {
        let copy = copy_folder(&healthy, &dir.path().join(name));
        let journal = std::fs::read_dir(&copy)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "jnl"))
            .expect("a journal file");
        damage.apply(&journal);
        match try_open(&copy) {
            Err((kind, message)) => {
                println!("{name}: open refused ({kind:?}): {message}");
                assert!(
                    matches!(kind, Some(EngineErrorKind::Corrupted | EngineErrorKind::Io)),
                    "{name}: {kind:?} {message}"
                );
            }
            Ok(engine) => {
                // fjall drops a damaged journal tail: what is left reads without panics.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut count = 0;
                    let _ = engine.read(&mut |reader| {
                        reader.range("t", &KeyRange::ALL, &mut |_, _| {
                            count += 1;
                            Ok(ControlFlow::Continue(()))
                        })
                    });
                    count
                }));
                let count = result.unwrap_or_else(|_| panic!("{name}: reading panicked"));
                println!("{name}: opened, {count} of 2000 entries left");
                assert!(
                    count == 0 || count == 2000,
                    "{name}: part of a commit survived"
                );
            }
        }
    }
}

/// Damaged table files (after a compaction wrote the data into them) are found when read:
/// errors of kind `Corrupted` (or an open error), never a panic.
#[test]
fn damaged_table_files_are_corrupted_errors() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = dir.path().join("healthy");
    {
        let engine = open(&healthy);
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                for i in 0u32..5000 {
                    txn.put("t", &i.to_be_bytes(), format!("value {i}").as_bytes())?;
                }
                Ok(())
            })
            .unwrap();
        engine.compact().unwrap();
    }
    let engine = open(&healthy);
    let keyspace = engine.keyspace("t").unwrap();
    let table_files: Vec<_> = walk_files(keyspace.path())
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("tables")))
        .collect();
    drop((keyspace, engine));
    assert!(!table_files.is_empty(), "compaction wrote table files");
    for (round, fill) in [0xA5u8, 0x00].into_iter().enumerate() {
        let copy = copy_folder(&healthy, &dir.path().join(format!("damaged{round}")));
        for file in &table_files {
            let damaged = copy.join(file.strip_prefix(&healthy).unwrap());
            let mut bytes = std::fs::read(&damaged).unwrap();
            let len = bytes.len();
            bytes[len / 4..len / 2].fill(fill);
            std::fs::write(&damaged, bytes).unwrap();
        }
        let engine = match try_open(&copy) {
            Ok(engine) => engine,
            Err((kind, message)) => {
                // Refused at open: a clear error is fine.
                println!("damage {round}: open refused ({kind:?}): {message}");
                continue;
            }
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut errors = Vec::new();
            let scanned = engine.read(&mut |reader| {
                reader.range("t", &KeyRange::ALL, &mut |_, _| {
                    Ok(ControlFlow::Continue(()))
                })
            });
            errors.extend(scanned.err());
            for i in (0u32..5000).step_by(97) {
                let got = engine.read(&mut |reader| {
                    reader.get("t", &i.to_be_bytes(), &mut |_| Ok(())).map(drop)
                });
                errors.extend(got.err());
            }
            errors
        }));
        let errors = outcome.expect("reading damaged table files panicked");
        println!(
            "damage {round}: {} read errors, the first: {:?}",
            errors.len(),
            errors.first().map(ToString::to_string)
        );
        assert!(!errors.is_empty(), "the damage went unnoticed");
        for error in errors {
            assert_eq!(
                error.engine_kind(),
                Some(EngineErrorKind::Corrupted),
                "{error}"
            );
        }
    }
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            files.extend(walk_files(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files
}

enum Damage {
    Overwrite(u8),
    Truncate,
    /// One byte in the middle (of a value, most likely): the journal's structure holds, the
    /// commit's checksum does not.
    FlipByte,
}

impl Damage {
    fn apply(&self, file: &Path) {
        let mut bytes = std::fs::read(file).unwrap();
        let len = bytes.len();
        assert!(len > 64, "a journal with content");
        match self {
            Damage::Overwrite(byte) => bytes[len / 3..len / 3 + 64].fill(*byte),
            Damage::Truncate => bytes.truncate(len / 2),
            Damage::FlipByte => bytes[len / 2] ^= 0xFF,
        }
        std::fs::write(file, bytes).unwrap();
    }
}

fn copy_folder(from: &Path, to: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
    to.to_owned()
}

/// A dropped table disappears at commit, but a snapshot that began earlier still reads it;
/// its keyspace is deleted by `compact` once no snapshot is open (not before), freeing the
/// disk space of its tables.
#[test]
fn dropped_tables_are_reclaimed_by_compact() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("db"));
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise = |len: usize| -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            // xorshift64: incompressible enough for lz4.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.extend_from_slice(&state.to_le_bytes());
        }
        out
    };
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for i in 0u32..64 {
                txn.put("big", &i.to_be_bytes(), &noise(64 << 10))?;
            }
            txn.put("small", b"k", b"v")
        })
        .unwrap();
    engine.compact().unwrap(); // the data is in the keyspace's files now
    let before = engine.size_on_disk().unwrap();
    assert!(before > 4 << 20, "{before} bytes");

    let snapshot = engine.begin_read().unwrap();
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert!(txn.drop_table("big")?);
            Ok(())
        })
        .unwrap();
    assert_eq!(list_tables(&*engine), vec!["small".to_string()]);
    assert_eq!(
        snapshot.len("big").unwrap(),
        64,
        "an earlier snapshot still reads it"
    );
    let error = engine.compact().unwrap_err();
    assert_eq!(error.engine_kind(), Some(EngineErrorKind::InUse), "{error}");
    assert_eq!(snapshot.len("big").unwrap(), 64);
    drop(snapshot);

    assert_eq!(
        engine.database().list_keyspace_names().len(),
        3,
        "catalog, big, small"
    );
    assert!(engine.compact().unwrap());
    assert_eq!(
        engine.database().list_keyspace_names().len(),
        2,
        "big's keyspace is gone"
    );
    let after = engine.size_on_disk().unwrap();
    // The keyspace's 4 MiB of tables are gone (the journal keeps its copy of the writes until
    // fjall rotates it, at max_journal_size).
    assert!(
        after + (3 << 20) < before,
        "{before} bytes before, {after} after"
    );
    assert_eq!(
        scan(&*engine, "small", KeyRange::ALL),
        vec![(b"k".to_vec(), b"v".to_vec())]
    );
    assert!(scan(&*engine, "big", KeyRange::ALL).is_empty());
}

/// A rolled-back creation leaves an empty, unlisted keyspace that the next new table reuses;
/// a reopen deletes such leftovers.
#[test]
fn rolled_back_creations_leave_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let engine = open(&path);
    let txn = engine.begin_write(WriteOptions::DEFAULT).unwrap();
    txn.put("a", b"k", b"v").unwrap();
    txn.create_table("b").unwrap();
    drop(txn);
    assert!(list_tables(&*engine).is_empty());
    let keyspaces = engine.database().list_keyspace_names().len();
    assert_eq!(keyspaces, 3, "catalog and two unlisted keyspaces");
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put("c", b"k", b"v"))
        .unwrap();
    assert_eq!(
        engine.database().list_keyspace_names().len(),
        3,
        "c reused a keyspace"
    );
    assert_eq!(
        scan(&*engine, "c", KeyRange::ALL),
        vec![(b"k".to_vec(), b"v".to_vec())]
    );
    drop(engine);
    let engine = open(&path);
    assert_eq!(
        engine.database().list_keyspace_names().len(),
        2,
        "the leftover is gone"
    );
    assert_eq!(list_tables(&*engine), vec!["c".to_string()]);
}
