//! The LMDB engine (feature `lmdb`) beyond the conformance suite: what a typed get costs on it,
//! its address and options, reopening, its limits (510-byte keys, table names, `max_tables`),
//! the map (growth, a transaction that fills it), damaged files, a second open in this process,
//! other processes sharing the environment, odd table names, and durability `None`.

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::child::{announce_ready_and_hold, child_role, spawn_until_ready};
use common::counting::{LOOKUPS, compare_lookups, typed_get, typed_get_in, users_table};
use common::engine::{entries, invalid_config, list_tables};
use common::{User, user};
use zerotable::engines::{ByteSize, LmdbEngine, LmdbOptions};
use zerotable::error::Holder;
use zerotable::{Durability, Engine, EngineErrorKind, Error, KeyRange, Storage, WriteOptions};

/// Counts allocations made by the current thread (tests run on parallel threads).
#[global_allocator]
static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;

const MIB: usize = 1 << 20;

/// A fresh directory and the environment path inside it.
fn temp_env() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("env");
    (dir, path)
}

fn open(path: &Path, options: LmdbOptions) -> Arc<LmdbEngine> {
    Arc::new(LmdbEngine::open_with(path, options).expect("open the environment"))
}

/// The engine error kind of `result`, which must be an error.
fn kind<T: std::fmt::Debug>(result: zerotable::Result<T>) -> (EngineErrorKind, String) {
    let error = result.expect_err("an error");
    let kind = error
        .engine_kind()
        .unwrap_or_else(|| panic!("not an engine error: {error:?}"));
    (kind, error.to_string())
}

/// A heed environment in `dir` holding `rows` in database `users`, as raw heed code would:
/// the baseline of what LMDB itself costs.
fn heed_copy(
    dir: &Path,
    rows: &[(Vec<u8>, Vec<u8>)],
) -> (
    heed::Env,
    heed::Database<'static, heed::types::Bytes, heed::types::Bytes>,
) {
    let mut options = heed::EnvOpenOptions::new();
    options.map_size(64 << 20).max_dbs(1);
    // SAFETY: a fresh directory private to this test, opened once, on a local file system.
    let env = unsafe { options.open(dir) }.unwrap();
    let wtxn = env.write_txn().unwrap();
    let db = env
        .create_databases_and_commit(wtxn, |opener, wtxn| {
            opener
                .create_database(wtxn, Some("users"))
                .map(heed::CommitOrAbort::<_, ()>::Commit)
        })
        .unwrap()
        .commit()
        .unwrap();
    let mut wtxn = env.write_txn().unwrap();
    for (key, value) in rows {
        db.put(&mut wtxn, key.as_slice(), value.as_slice()).unwrap();
    }
    wtxn.commit().unwrap();
    (env, db)
}

/// An auto-commit typed get (validated rkyv) allocates no more than the engine's own raw get
/// of the same key, nor than a raw heed get in a read transaction of its own.
#[test]
fn typed_get_allocates_no_more_than_a_raw_get() {
    let (dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default());
    let users = users_table(&Storage::from_arc(engine.clone()));
    let heed_dir = dir.path().join("heed");
    std::fs::create_dir_all(&heed_dir).unwrap();
    let (env, db) = heed_copy(&heed_dir, &entries(&*engine, "users"));

    let mut raw_get = |i: u64| {
        engine
            .read(&mut |reader| {
                let found = reader.get("users", &i.to_be_bytes(), &mut |value| {
                    std::hint::black_box(value.len());
                    Ok(())
                })?;
                assert!(found);
                Ok(())
            })
            .unwrap();
    };
    let mut heed_get = |i: u64| {
        let rtxn = env.read_txn().unwrap();
        let value = db.get(&rtxn, &i.to_be_bytes()).unwrap().unwrap();
        std::hint::black_box(value.len());
    };
    let mut typed_get = typed_get(&users);
    let [raw, heed, typed] = compare_lookups(
        "lmdb, allocations per auto-commit get",
        [
            ("raw engine get", &mut raw_get),
            ("raw heed get", &mut heed_get),
            ("typed get", &mut typed_get),
        ],
    );
    assert!(
        typed <= raw && typed <= heed,
        "typed get allocated {typed} times, raw engine get {raw}, raw heed {heed} (over \
         {LOOKUPS} gets)"
    );
}

/// Inside one snapshot a typed get allocates no more than a raw get on a snapshot of the
/// engine — neither allocates at all: the value is read in LMDB's memory map.
#[test]
fn typed_gets_inside_one_snapshot_allocate_no_more_than_raw_gets() {
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default());
    let storage = Storage::from_arc(engine.clone());
    let users = users_table(&storage);

    let raw_snapshot = engine.begin_read().unwrap();
    let mut raw_get = |i: u64| {
        let found = raw_snapshot
            .get("users", &i.to_be_bytes(), &mut |value| {
                std::hint::black_box(value.len());
                Ok(())
            })
            .unwrap();
        assert!(found);
    };
    let snapshot = storage.snapshot().unwrap();
    let mut typed_get = typed_get_in(&users, &snapshot);
    let [raw, typed] = compare_lookups(
        "lmdb, allocations per get inside one snapshot",
        [
            ("raw engine get", &mut raw_get),
            ("typed get", &mut typed_get),
        ],
    );
    assert!(typed <= raw, "typed {typed}, raw {raw}");
    assert_eq!(typed, 0, "a typed get inside a snapshot copies nothing");
}

/// `Storage::connect("lmdb://…")` opens the environment directory (created if missing) with the
/// options of the address.
#[test]
fn connect_opens_an_environment_with_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("env");
    let address = format!(
        "lmdb://{}?map_size=2MiB&max_tables=8&max_readers=64&durability=none",
        path.display()
    );
    let storage = Storage::connect(&address).unwrap();
    assert_eq!(storage.engine().name(), "lmdb");
    let table = storage.raw_table::<u64>("t").unwrap();
    table.put(&7, b"seven").unwrap();
    assert!(path.join("data.mdb").is_file() && path.join("lock.mdb").is_file());
    drop((table, storage));

    let engine = open(&path, LmdbOptions::default().map_size(ByteSize(2 << 20)));
    assert_eq!(engine.map_size(), 2 << 20);
    assert_eq!(
        entries(&*engine, "t"),
        [(7u64.to_be_bytes().to_vec(), b"seven".to_vec())]
    );
}

/// Unknown options and bad values are `InvalidConfig` errors naming the option, before
/// anything is created.
#[test]
fn connect_refuses_unknown_options_and_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env");
    let cases = [
        ("map_sise=1GiB", None, "unknown option `map_sise`"),
        ("map_size=lots", Some("map_size"), "expected a size"),
        ("map_size=1KiB", Some("map_size"), "too small"),
        ("max_tables=0", Some("max_tables"), "out of range"),
        ("max_tables=100000", Some("max_tables"), "out of range"),
        ("max_tables=many", Some("max_tables"), "a whole number"),
        ("max_readers=0", Some("max_readers"), "out of range"),
        ("durability=sometimes", Some("durability"), "immediate"),
    ];
    for (query, option, message) in cases {
        invalid_config(
            &format!("lmdb://{}?{query}", path.display()),
            option,
            &[message],
        );
    }
    assert!(!path.exists(), "a refused address created the environment");
    let options = LmdbOptions::default().max_tables(0);
    assert!(matches!(
        LmdbEngine::open_with(&path, options),
        Err(Error::InvalidConfig { option: Some(o), .. }) if o == "max_tables"
    ));
    // The known options are listed for an unknown one.
    invalid_config(
        &format!("lmdb://{}?sync=no", path.display()),
        None,
        &["map_size", "max_tables", "durability"],
    );
}

/// Committed data, tables and typed catalogs are there after reopening, twice.
#[test]
fn reopening_keeps_the_data() {
    let (_dir, path) = temp_env();
    let storage = Storage::new(LmdbEngine::open(&path).unwrap());
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    users.put_batch((0..100).map(|i| (i, user(i)))).unwrap();
    storage
        .raw_table::<String>("empty_after")
        .unwrap()
        .put("k", b"v")
        .unwrap();
    drop(users);
    storage.close().unwrap();

    let storage = Storage::new(LmdbEngine::open(&path).unwrap());
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 100);
    assert_eq!(
        users.get(&42, |u| u.name.to_string()).unwrap().as_deref(),
        Some("user42")
    );
    users.put(&100, &user(100)).unwrap();
    drop(users);
    storage.close().unwrap();

    let storage = Storage::new(LmdbEngine::open(&path).unwrap());
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 101);
    let mut tables = list_tables(&**storage.engine());
    tables.sort();
    assert!(tables.contains(&"users".to_owned()) && tables.contains(&"empty_after".to_owned()));
}

/// Keys of up to 510 bytes are stored; 511 and 512 are `LimitExceeded` errors naming the
/// limit, never a panic, and leave the transaction usable; a get or delete of such a key finds
/// nothing.
#[test]
fn keys_up_to_510_bytes_fit_and_longer_ones_are_limit_errors() {
    assert_eq!(LmdbEngine::MAX_KEY_LEN, 510);
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default());
    let fits = vec![0xAB; 510];
    let (too_long, longer) = (vec![0xAB; 511], vec![0xAB; 512]);
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("t", &fits, b"510")?;
            for key in [&too_long, &longer] {
                let (refused, message) = kind(txn.put("t", key, b"x"));
                assert_eq!(refused, EngineErrorKind::LimitExceeded, "{message}");
                assert!(message.contains("at most 510 bytes"), "{message}");
                assert!(
                    message.contains(&format!("{} bytes", key.len())),
                    "{message}"
                );
            }
            txn.put("t", b"after", b"the transaction goes on")
        })
        .unwrap();
    assert_eq!(
        entries(&*engine, "t"),
        [
            (b"after".to_vec(), b"the transaction goes on".to_vec()),
            (fits.clone(), b"510".to_vec())
        ]
    );
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert!(!txn.get("t", &too_long, &mut |_| unreachable!())?);
            assert!(!txn.delete("t", &longer)?);
            // A range bound longer than any key selects what it would.
            let range = KeyRange {
                start: std::ops::Bound::Included(&too_long[..]),
                end: std::ops::Bound::Unbounded,
                reverse: false,
            };
            let mut above = 0;
            txn.range("t", &range, &mut |_, _| {
                above += 1;
                Ok(ControlFlow::Continue(()))
            })?;
            assert_eq!(
                above, 0,
                "no key of at most 510 bytes is above a 511-byte one"
            );
            let range = KeyRange {
                start: std::ops::Bound::Unbounded,
                end: std::ops::Bound::Excluded(&too_long[..]),
                reverse: true,
            };
            let mut below = Vec::new();
            txn.range("t", &range, &mut |key, _| {
                below.push(key.len());
                Ok(ControlFlow::Continue(()))
            })?;
            assert_eq!(below, [510, 5], "keys below a 511-byte bound, descending");
            Ok(())
        })
        .unwrap();

    // The typed layer reports the same limit.
    let storage = Storage::from_arc(engine.clone());
    let table = storage.raw_table::<Vec<u8>>("typed").unwrap();
    table.put(&vec![1; 510], b"ok").unwrap();
    let (refused, message) = kind(table.put(&vec![1; 511], b"no"));
    assert_eq!(refused, EngineErrorKind::LimitExceeded, "{message}");
    assert_eq!(table.len().unwrap(), 1);
}

/// The empty key and empty values are stored, and the empty key sorts first.
#[test]
fn empty_keys_and_values_work_and_sort_first() {
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default());
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("t", b"a", b"1")?;
            txn.put("t", b"", b"")?;
            txn.put("t", b"\x00", b"zero")?;
            assert!(txn.get("t", b"", &mut |value| {
                assert_eq!(value, b"");
                Ok(())
            })?);
            Ok(())
        })
        .unwrap();
    assert_eq!(
        entries(&*engine, "t"),
        [
            (b"".to_vec(), b"".to_vec()),
            (b"\x00".to_vec(), b"zero".to_vec()),
            (b"a".to_vec(), b"1".to_vec())
        ]
    );
    let storage = Storage::from_arc(engine.clone());
    let table = storage.raw_table::<String>("strings").unwrap();
    table.put("", b"empty").unwrap();
    assert_eq!(
        table.get("", |v| v.to_vec()).unwrap(),
        Some(b"empty".to_vec())
    );
    let mut found = false;
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            found = txn.delete("t", b"")?;
            Ok(())
        })
        .unwrap();
    assert!(found);
    assert_eq!(entries(&*engine, "t").len(), 2);
}

/// A garbage `data.mdb`, one cut short, and a file where the directory should be are open
/// errors that say so — never a crash.
#[test]
fn damaged_files_are_open_errors() {
    // Garbage: not an LMDB file.
    let (_dir, path) = temp_env();
    std::fs::create_dir_all(&path).unwrap();
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(path.join("data.mdb"), &garbage).unwrap();
    let err = LmdbEngine::open(&path).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::Corrupted), "{err}");
    assert!(err.to_string().contains("not an LMDB data file"), "{err}");

    // Cut short: a real environment truncated to half its length.
    let (_dir, path) = temp_env();
    {
        let engine = LmdbEngine::open(&path).unwrap();
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                for i in 0u32..2_000 {
                    txn.put("t", &i.to_be_bytes(), &[i as u8; 200])?;
                }
                Ok(())
            })
            .unwrap();
    }
    let file = path.join("data.mdb");
    let length = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(length / 2)
        .unwrap();
    let err = LmdbEngine::open(&path).unwrap_err();
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::Corrupted), "{err}");
    assert!(err.to_string().contains("cut short"), "{err}");

    // Cut inside the meta pages.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(100)
        .unwrap();
    let err = LmdbEngine::open(&path).unwrap_err();
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::Corrupted), "{err}");

    // A file where the environment's directory should be.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"hello").unwrap();
    let err = LmdbEngine::open(&file).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("is a file"), "{err}");

    // A garbage lock file is rebuilt by LMDB when no process has the environment open.
    let (_dir, path) = temp_env();
    drop(LmdbEngine::open(&path).unwrap());
    std::fs::write(path.join("lock.mdb"), &garbage[..8192]).unwrap();
    let engine = LmdbEngine::open(&path).unwrap();
    assert!(entries(&engine, "t").is_empty());
    drop(engine);

    // An empty data.mdb is a new environment (LMDB initialises it).
    let (_dir, path) = temp_env();
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("data.mdb"), b"").unwrap();
    let engine = LmdbEngine::open(&path).unwrap();
    assert!(entries(&engine, "t").is_empty());
}

/// A second open of the same directory in this process is `AlreadyOpen`, naming this process
/// as the holder — also through a symlink and while only a `Table` keeps it open; once every
/// handle is gone it opens again.
#[test]
fn a_second_open_in_this_process_is_already_open() {
    let (dir, path) = temp_env();
    let storage = Storage::new(LmdbEngine::open(&path).unwrap());
    let table = storage.raw_table::<u64>("t").unwrap();
    table.put(&1, b"one").unwrap();
    let err = LmdbEngine::open(&path).unwrap_err();
    assert_eq!(
        err.engine_kind(),
        Some(EngineErrorKind::AlreadyOpen),
        "{err}"
    );
    assert_eq!(err.holder(), Some(Holder::ThisProcess { handles: None }));
    assert!(err.to_string().contains("clone the Storage"), "{err}");

    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let err = Storage::connect(&format!("lmdb://{}", link.display())).unwrap_err();
    assert_eq!(
        err.engine_kind(),
        Some(EngineErrorKind::AlreadyOpen),
        "{err}"
    );

    drop(storage); // the table still holds the environment
    assert_eq!(
        LmdbEngine::open(&path).unwrap_err().engine_kind(),
        Some(EngineErrorKind::AlreadyOpen)
    );
    drop(table);
    let engine = LmdbEngine::open(&path).unwrap();
    assert_eq!(entries(&engine, "t").len(), 1);
}

/// Many small commits past the initial map size grow the map before they fill it.
#[test]
fn the_map_grows_before_it_is_full() {
    let (_dir, path) = temp_env();
    let engine = open(
        &path,
        LmdbOptions::default()
            .map_size(ByteSize(MIB as u64))
            .durability(Durability::None),
    );
    let value = vec![0x5A; 16 << 10];
    for i in 0u32..256 {
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                txn.put("t", &i.to_be_bytes(), &value)
            })
            .unwrap_or_else(|e| panic!("commit {i}: {e}"));
    }
    assert!(
        engine.map_size() >= 4 * MIB,
        "map size {}",
        engine.map_size()
    );
    assert_eq!(entries(&*engine, "t").len(), 256);
}

/// A transaction that fills the map is a `LimitExceeded` error saying nothing was written; the
/// table is unchanged, and the next transactions grow the map until the same work fits.
#[test]
fn a_transaction_that_fills_the_map_writes_nothing_and_the_next_grows_it() {
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default().map_size(ByteSize(MIB as u64)));
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("t", b"kept", b"before")
        })
        .unwrap();
    let big = vec![7u8; 256 << 10];
    let fill = |txn: &dyn zerotable::WriteTxn| {
        txn.put("t", b"kept", b"changed")?;
        txn.put("new", b"k", b"v")?;
        for i in 0u32..16 {
            txn.put("t", &i.to_be_bytes(), &big)?;
        }
        Ok(())
    };
    let err = engine
        .write(WriteOptions::DEFAULT, &mut |txn| fill(txn))
        .unwrap_err();
    assert_eq!(
        err.engine_kind(),
        Some(EngineErrorKind::LimitExceeded),
        "{err}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains("map is full") && shown.contains("nothing of it is written"),
        "{shown}"
    );
    assert!(shown.contains("grows the map"), "{shown}");
    assert_eq!(
        entries(&*engine, "t"),
        [(b"kept".to_vec(), b"before".to_vec())]
    );
    assert!(entries(&*engine, "new").is_empty());
    assert!(
        !engine
            .begin_read()
            .unwrap()
            .list_tables()
            .unwrap()
            .contains(&"new".to_owned())
    );

    // Boxed, the error comes from the put (or the commit), and the map grows the same way.
    let mut attempts = 1;
    loop {
        attempts += 1;
        let txn = engine.begin_write(WriteOptions::DEFAULT).unwrap();
        match fill(&*txn).and_then(|()| txn.commit()) {
            Ok(()) => break,
            Err(e) => {
                assert_eq!(e.engine_kind(), Some(EngineErrorKind::LimitExceeded), "{e}");
                assert!(attempts < 6, "still full after {attempts} attempts: {e}");
            }
        }
    }
    assert!(engine.map_size() >= 4 * MIB);
    assert_eq!(entries(&*engine, "t").len(), 17);
    println!("the 4 MiB transaction fitted after {attempts} attempts");
}

/// With a snapshot of this process open the map cannot grow: a full map's error says what to
/// do; once the snapshot is gone the next transaction grows it.
#[test]
fn a_full_map_with_a_snapshot_open_says_what_to_set() {
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default().map_size(ByteSize(MIB as u64)));
    let big = vec![7u8; 2 * MIB];
    let snapshot = engine.begin_read().unwrap();
    let first = engine
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"big", &big))
        .unwrap_err();
    assert_eq!(first.engine_kind(), Some(EngineErrorKind::LimitExceeded));
    let second = engine
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"big", &big))
        .unwrap_err();
    let shown = second.to_string();
    assert!(
        shown.contains("snapshots of this process were open") && shown.contains("map_size="),
        "{shown}"
    );
    assert_eq!(snapshot.len("t").unwrap(), 0);
    drop(snapshot);
    let mut attempts = 0;
    while let Err(e) = engine.write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"big", &big)) {
        attempts += 1;
        assert!(attempts < 4, "{e}");
    }
    assert_eq!(entries(&*engine, "t"), [(b"big".to_vec(), big)]);
}

/// Creating more tables than `max_tables` is a `LimitExceeded` error that names the option and
/// leaves the transaction usable; a dropped table keeps its database, which the same name
/// reuses; an environment with more tables than `max_tables` does not open.
#[test]
fn max_tables_is_a_limit_error_naming_the_option() {
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default().max_tables(3));
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("a", b"k", b"v")?;
            txn.create_table("b")?;
            txn.put("c", b"k", b"v")?;
            let (refused, message) = kind(txn.put("d", b"k", b"v"));
            assert_eq!(refused, EngineErrorKind::LimitExceeded, "{message}");
            assert!(message.contains("max_tables"), "{message}");
            txn.put("a", b"k2", b"still usable")
        })
        .unwrap();
    assert_eq!(entries(&*engine, "a").len(), 2);
    // Dropping and creating the same name again reuses its database.
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.drop_table("c").map(|_| ())
        })
        .unwrap();
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("c", b"again", b"1")
        })
        .unwrap();
    let (kind_of_new, _) =
        kind(engine.write(WriteOptions::DEFAULT, &mut |txn| txn.create_table("e")));
    assert_eq!(kind_of_new, EngineErrorKind::LimitExceeded);
    drop(engine);

    let err = LmdbEngine::open_with(&path, LmdbOptions::default().max_tables(2)).unwrap_err();
    assert_eq!(
        err.engine_kind(),
        Some(EngineErrorKind::LimitExceeded),
        "{err}"
    );
    assert!(err.to_string().contains("max_tables"), "{err}");
    let engine = open(&path, LmdbOptions::default().max_tables(3));
    assert_eq!(entries(&*engine, "c"), [(b"again".to_vec(), b"1".to_vec())]);
}

/// Table names LMDB cannot hold as they are — empty, with a NUL byte, looking like zerotable's
/// own database names — work, are listed in order and survive a reopen; a name of 509 bytes
/// is fine and a longer one is a `LimitExceeded` error.
#[test]
fn odd_table_names_work() {
    let (_dir, path) = temp_env();
    let long = "n".repeat(509);
    let names = [
        "",
        "with\0nul",
        "t:users",
        "x:00",
        "zerotable:tables",
        "zerotable.meta2",
        "é",
        long.as_str(),
    ];
    let engine = open(&path, LmdbOptions::default());
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for (i, name) in names.iter().enumerate() {
                txn.put(name, b"k", &[i as u8])?;
            }
            let (too_long, message) = kind(txn.put(&"n".repeat(510), b"k", b"v"));
            assert_eq!(too_long, EngineErrorKind::LimitExceeded, "{message}");
            let (too_long, _) = kind(txn.put(&"\0".repeat(255), b"k", b"v"));
            assert_eq!(too_long, EngineErrorKind::LimitExceeded);
            assert!(!txn.drop_table(&"n".repeat(600))?);
            Ok(())
        })
        .unwrap();
    let mut sorted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    sorted.sort();
    assert_eq!(list_tables(&*engine), sorted);
    drop(engine);
    let engine = open(&path, LmdbOptions::default());
    assert_eq!(list_tables(&*engine), sorted);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            entries(&*engine, name),
            [(b"k".to_vec(), vec![i as u8])],
            "{name:?}"
        );
    }
    assert!(entries(&*engine, &"n".repeat(600)).is_empty());
}

/// Commits with `Durability::None` (the engine's default or per transaction), mixed with
/// immediate ones, are visible at once and all there after a clean close and a reopen.
#[test]
fn durability_none_commits_are_kept_by_a_clean_close() {
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default().durability(Durability::None));
    for i in 0u32..30 {
        let options = match i % 3 {
            0 => WriteOptions::durability(Durability::Immediate),
            1 => WriteOptions::DEFAULT,
            _ => WriteOptions::durability(Durability::None),
        };
        engine
            .write(options, &mut |txn| txn.put("t", &i.to_be_bytes(), b"v"))
            .unwrap();
    }
    let txn = engine
        .begin_write(WriteOptions::durability(Durability::None))
        .unwrap();
    txn.put("t", b"boxed", b"v").unwrap();
    txn.commit().unwrap();
    assert_eq!(entries(&*engine, "t").len(), 31);
    drop(engine);
    let engine = open(&path, LmdbOptions::default());
    assert_eq!(entries(&*engine, "t").len(), 31);
    engine.flush().unwrap();
}

/// Inside a write transaction, a scan over a table it has just written (its pages live in
/// LMDB's heap, not the map) can write another table from its callback, and create new ones:
/// every entry arrives intact (copied before the callback sees it) even as the other tables'
/// writes go on.
#[test]
fn scanning_pages_the_transaction_changed_while_writing_elsewhere() {
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default().durability(Durability::None));
    let value = |i: u32| vec![(i % 251) as u8; 100 + (i % 300) as usize];
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for i in 0u32..3_000 {
                txn.put("source", &i.to_be_bytes(), &value(i))?;
            }
            let mut seen = 0u32;
            txn.range("source", &KeyRange::ALL, &mut |key, got| {
                let i = u32::from_be_bytes(key.try_into().unwrap());
                assert_eq!(got, value(i), "entry {i}");
                txn.put("copy", key, got)?;
                txn.put("copy", &[key, b"+"].concat(), &vec![0xEE; 2_000])?;
                if i % 1_000 == 0 {
                    // A new table (its database created in a nested LMDB transaction) while
                    // the scan's cursor is open.
                    txn.put(&format!("new{i}"), key, got)?;
                }
                // The bytes are still intact after the writes.
                assert_eq!(got, value(i), "entry {i} after writing");
                seen += 1;
                Ok(ControlFlow::Continue(()))
            })?;
            assert_eq!(seen, 3_000);
            Ok(())
        })
        .unwrap();
    assert_eq!(entries(&*engine, "copy").len(), 6_000);
    for i in [0u32, 1_000, 2_000] {
        assert_eq!(
            entries(&*engine, &format!("new{i}")),
            [(i.to_be_bytes().to_vec(), value(i))]
        );
    }
    assert_eq!(
        engine.check_integrity().unwrap(),
        zerotable::Integrity::Intact
    );
}

/// A compacted copy holds the same data in fewer bytes once much was deleted.
#[test]
fn copy_compacted_writes_a_smaller_copy() {
    let (dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default().durability(Durability::None));
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for i in 0u32..5_000 {
                txn.put("t", &i.to_be_bytes(), &[1; 300])?;
            }
            Ok(())
        })
        .unwrap();
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.delete_range("t", &KeyRange::ALL).map(|_| ())?;
            txn.put("t", b"left", b"1")
        })
        .unwrap();
    let copy = dir.path().join("copy");
    engine.copy_compacted(&copy).unwrap();
    assert!(
        engine.copy_compacted(&copy).is_err(),
        "a second copy overwrote the first"
    );
    let size = |p: &Path| std::fs::metadata(p.join("data.mdb")).unwrap().len();
    assert!(
        size(&copy) < size(&path) / 4,
        "copy {} vs {}",
        size(&copy),
        size(&path)
    );
    let copied = open(&copy, LmdbOptions::default());
    assert_eq!(entries(&*copied, "t"), [(b"left".to_vec(), b"1".to_vec())]);
    assert_eq!(
        copied.check_integrity().unwrap(),
        zerotable::Integrity::Intact
    );
}

/// Another process opens the same environment while this one has it open: each sees the
/// other's commits, including tables the other created (found when a snapshot or a write
/// transaction begins) and its growth of the map; a snapshot taken before stays as it was, and
/// a snapshot kept for auto-commit reads is replaced once another process committed.
#[test]
fn another_process_shares_the_environment() {
    let (_dir, path) = temp_env();
    let engine = open(&path, LmdbOptions::default().map_size(ByteSize(MIB as u64)));
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("parent", b"k", b"from the parent")
        })
        .unwrap();
    assert_eq!(entries(&*engine, "parent").len(), 1); // keeps a snapshot for the next read
    let before = engine.begin_read().unwrap();

    // The child creates tables and grows the map beyond this process's 1 MiB.
    let _child = spawn_until_ready("share", &path);

    assert_eq!(
        before.len("from_child").unwrap(),
        0,
        "an older snapshot sees the child's table"
    );
    drop(before);
    // A write transaction finds the child's table before any snapshot did.
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert_eq!(txn.len("from_child")?, 3);
            txn.put("from_child", b"parent", b"was here")
        })
        .unwrap();
    assert_eq!(entries(&*engine, "from_child").len(), 4);
    assert!(engine.map_size() > MIB, "the child's map size was adopted");

    // Another child commits while this process keeps a snapshot for its auto-commit reads.
    let _second = spawn_until_ready("append", &path);
    assert_eq!(
        entries(&*engine, "from_child").len(),
        5,
        "an auto-commit read missed a commit"
    );
    assert_eq!(
        entries(&*engine, "late").len(),
        1,
        "a table the second child created"
    );

    let snapshot = engine.begin_read().unwrap();
    let tables = snapshot.list_tables().unwrap();
    assert_eq!(tables, ["big_from_child", "from_child", "late", "parent"]);
    assert_eq!(snapshot.len("big_from_child").unwrap(), 8);
    drop(snapshot);
    assert_eq!(
        engine.check_integrity().unwrap(),
        zerotable::Integrity::Intact
    );
}

/// Parts of this test binary that run in a second process (see `common::child`).
#[test]
fn child_process_helper() {
    let Some((role, path)) = child_role() else {
        return;
    };
    match role.as_str() {
        "share" => {
            let options = LmdbOptions::default().map_size(ByteSize(64 << 20));
            let engine = LmdbEngine::open_with(&path, options).expect("the child opens");
            assert_eq!(
                entries(&engine, "parent"),
                [(b"k".to_vec(), b"from the parent".to_vec())]
            );
            engine
                .write(WriteOptions::DEFAULT, &mut |txn| {
                    for i in 0u8..3 {
                        txn.put("from_child", &[i], b"child")?;
                    }
                    Ok(())
                })
                .unwrap();
            engine
                .write(WriteOptions::DEFAULT, &mut |txn| {
                    for i in 0u8..8 {
                        txn.put("big_from_child", &[i], &vec![i; 1 << 20])?;
                    }
                    Ok(())
                })
                .unwrap();
            announce_ready_and_hold();
        }
        "append" => {
            let options = LmdbOptions::default().map_size(ByteSize(64 << 20));
            let engine = LmdbEngine::open_with(&path, options).expect("the child opens");
            engine
                .write(WriteOptions::DEFAULT, &mut |txn| {
                    txn.put("from_child", b"second", b"child")?;
                    txn.put("late", b"k", b"v")
                })
                .unwrap();
            announce_ready_and_hold();
        }
        other => panic!("unknown child role {other:?}"),
    }
}
