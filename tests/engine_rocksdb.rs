//! The RocksDB engine's own tests (the conformance suite runs from `conformance.rs`): zero-copy
//! gets counted against raw RocksDB gets, its address options, reopening, limits, damaged and
//! foreign folders, the folder lock (this process and another), odd table names, dropped
//! tables' column families, and `Durability::None` across a process crash.
//!
//! Some tests start a second process: this binary again, with only `child_process_helper`
//! selected and its role in the environment (see `common::child`).
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::child::{announce_ready_and_hold, child_command, child_role, spawn_until_ready};
use common::counting::{LOOKUPS, compare_lookups, typed_get, typed_get_in, users_table};
use common::engine::{entries, invalid_config, list_tables, put};
use common::{User, user};
use zerotable::engines::{RocksDbEngine, RocksDbOptions};
use zerotable::{
    Durability, Engine, EngineErrorKind, Error, Holder, KeyRange, Operation, Storage, WriteOptions,
};

/// Counts allocations made by the current thread (tests run on parallel threads).
#[global_allocator]
static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;

/// A database folder path in a fresh temporary directory (kept alive by the guard).
fn temp_folder() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db");
    (dir, path)
}

fn fast() -> RocksDbOptions {
    RocksDbOptions::default()
        .durability(Durability::None)
        .cache_size(4 << 20)
}

fn open(path: &Path) -> Arc<RocksDbEngine> {
    Arc::new(RocksDbEngine::open_with(path, fast()).expect("open rocksdb"))
}

/// An open error of `kind`, or a failure naming what came instead.
fn open_error(result: zerotable::Result<RocksDbEngine>, kind: EngineErrorKind) -> Error {
    match result {
        Err(error @ Error::Open { .. }) => {
            assert_eq!(error.engine_kind(), Some(kind), "{error}");
            error
        }
        Err(other) => panic!("expected an open error of kind {kind:?}, got {other:?}"),
        Ok(_) => panic!("expected an open error of kind {kind:?}, but it opened"),
    }
}

/// Users `0..LOOKUPS` in a typed table `users`, compacted into table files (so that gets read
/// the block cache, RocksDB's zero-copy path), and the engine.
fn users_in_table_files() -> (
    tempfile::TempDir,
    Arc<RocksDbEngine>,
    zerotable::RkyvTable<u64, User>,
) {
    let (dir, path) = temp_folder();
    let engine = open(&path);
    let storage = Storage::from_arc(engine.clone());
    let users = users_table(&storage);
    assert!(storage.compact().unwrap());
    (dir, engine, users)
}

/// The column family of table `users`, as raw RocksDB code reads it.
fn users_cf(engine: &RocksDbEngine) -> Arc<rocksdb::BoundColumnFamily<'_>> {
    let name = engine.column_family("users").expect("users exists");
    engine
        .rocksdb()
        .cf_handle(&name)
        .expect("its column family")
}

/// An auto-commit typed get allocates no more than a raw RocksDB get of the same key with its
/// own snapshot (both count Rust allocations; RocksDB's C++ ones — snapshot, read options,
/// pinned slice — are the same calls on both paths).
#[test]
fn a_typed_get_allocates_no_more_than_a_raw_rocksdb_get() {
    let (_dir, engine, users) = users_in_table_files();
    let db = engine.rocksdb();
    let cf = users_cf(&engine);

    let mut raw_get = |i: u64| {
        let snapshot = db.snapshot();
        let mut options = rocksdb::ReadOptions::default();
        options.set_snapshot(&snapshot);
        let value = db
            .get_pinned_cf_opt(&cf, i.to_be_bytes(), &options)
            .unwrap()
            .unwrap();
        std::hint::black_box(value.len());
    };
    let mut typed_get = typed_get(&users);
    let [raw, typed] = compare_lookups(
        "allocations per get",
        [
            ("raw rocksdb (own snapshot)", &mut raw_get),
            ("typed auto-commit", &mut typed_get),
        ],
    );
    assert!(
        typed <= raw,
        "typed get allocated {typed} times, raw rocksdb {raw} (over {LOOKUPS} gets)"
    );
}

/// Inside one snapshot, a typed get allocates no more per get than a raw RocksDB get through
/// one held snapshot.
#[test]
fn typed_gets_in_one_snapshot_allocate_no_more_than_raw_gets_in_one_snapshot() {
    let (_dir, engine, users) = users_in_table_files();
    let db = engine.rocksdb();
    let cf = users_cf(&engine);
    let raw_snapshot = db.snapshot();
    let mut options = rocksdb::ReadOptions::default();
    options.set_snapshot(&raw_snapshot);
    let mut raw_get = |i: u64| {
        let value = db
            .get_pinned_cf_opt(&cf, i.to_be_bytes(), &options)
            .unwrap()
            .unwrap();
        std::hint::black_box(value.len());
    };
    let snapshot = Storage::from_arc(engine.clone()).snapshot().unwrap();
    let mut typed_get = typed_get_in(&users, &snapshot);
    let [raw, typed] = compare_lookups(
        "allocations per get in one snapshot",
        [("raw rocksdb", &mut raw_get), ("typed", &mut typed_get)],
    );
    assert!(
        typed <= raw,
        "typed gets in one snapshot allocated {typed} times, raw rocksdb {raw} (over {LOOKUPS} gets)"
    );
}

/// `rocksdb://path?…` opens the engine with every option it takes; an unknown option, a bad
/// value and a missing path are `InvalidConfig` naming the option, and open nothing.
#[test]
fn connect_takes_its_options_and_refuses_unknown_ones() {
    let (_dir, path) = temp_folder();
    let address = format!(
        "rocksdb://{}?durability=none&cache_size=8MiB&compression=none&write_buffer_size=1MiB",
        path.display()
    );
    let storage = Storage::connect(&address).unwrap();
    assert_eq!(storage.engine().name(), "rocksdb");
    let rows = storage.raw_table::<u64>("rows").unwrap();
    rows.put(&1, b"one").unwrap();
    assert_eq!(rows.get(&1, |v| v.to_vec()).unwrap(), Some(b"one".to_vec()));
    drop((rows, storage));
    let storage =
        Storage::connect(&format!("rocksdb://{}?compression=lz4", path.display())).unwrap();
    let rows = storage.raw_table::<u64>("rows").unwrap();
    assert_eq!(rows.get(&1, |v| v.to_vec()).unwrap(), Some(b"one".to_vec()));
    drop((rows, storage));

    let (_other, missing) = temp_folder();
    let refused = [
        ("cache_sise=8MiB", None, "unknown option `cache_sise`"),
        ("compression=zstd", Some("compression"), "lz4"),
        ("durability=sometimes", Some("durability"), "immediate"),
        ("cache_size=lots", Some("cache_size"), "size"),
        ("write_buffer_size=1KiB", Some("write_buffer_size"), "64KiB"),
        (
            "durability=none&durability=none",
            Some("durability"),
            "twice",
        ),
    ];
    for (query, option, says) in refused {
        invalid_config(
            &format!("rocksdb://{}?{query}", missing.display()),
            option,
            &[says],
        );
        assert!(
            !missing.exists(),
            "{query}: a refused address created the folder"
        );
    }
    match Storage::connect("rocksdb://") {
        Err(Error::InvalidConfig { problem, .. }) => {
            assert!(problem.contains("no path"), "{problem}")
        }
        other => panic!(
            "expected InvalidConfig for a missing path, got {:?}",
            other.map(|_| ())
        ),
    }
}

/// Everything committed — several tables, typed and raw, a drop — is there after a reopen,
/// with durability `Immediate` (the default).
#[test]
fn reopening_keeps_committed_data_and_tables() {
    let (_dir, path) = temp_folder();
    {
        let storage = Storage::new(RocksDbEngine::open(&path).unwrap());
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..50).map(|i| (i, user(i)))).unwrap();
        let notes = storage.raw_table::<String>("notes").unwrap();
        notes.put("a", b"1").unwrap();
        notes.put("b", b"2").unwrap();
        storage
            .raw_table::<u64>("gone")
            .unwrap()
            .put(&1, b"x")
            .unwrap();
        assert!(storage.drop_table("gone").unwrap());
        assert!(users.delete(&7).unwrap());
    }
    let storage = Storage::new(RocksDbEngine::open(&path).unwrap());
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 49);
    assert_eq!(
        users.get(&8, |u| u.name.to_string()).unwrap(),
        Some("user8".into())
    );
    assert_eq!(users.get(&7, |_| ()).unwrap(), None);
    let notes = storage.raw_table::<String>("notes").unwrap();
    assert_eq!(notes.get("b", |v| v.to_vec()).unwrap(), Some(b"2".to_vec()));
    let listed = list_tables(&**storage.engine());
    assert!(listed.contains(&"users".to_owned()) && listed.contains(&"notes".to_owned()));
    assert!(!listed.contains(&"gone".to_owned()), "{listed:?}");
}

/// `len` zero bytes straight from the system allocator's `calloc`, which maps untouched zero
/// pages: a buffer of 4 GiB costs no memory until written (the counting allocator of this
/// binary would zero it byte by byte).
struct ZeroPages {
    ptr: *mut u8,
    layout: Layout,
}

impl ZeroPages {
    fn new(len: usize) -> Self {
        let layout = Layout::array::<u8>(len).unwrap();
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "could not map {len} bytes");
        ZeroPages { ptr, layout }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points to `layout.size()` zeroed (initialised) bytes, alive and not
        // written while `self` is borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl Drop for ZeroPages {
    fn drop(&mut self) {
        // SAFETY: allocated by `System` with this layout, freed once.
        unsafe { System.dealloc(self.ptr, self.layout) }
    }
}

/// A key or value longer than RocksDB stores is `LimitExceeded` naming the table, and the
/// transaction it failed in applies nothing; the limits themselves are accepted in principle
/// (checked on lengths, nothing is copied before).
#[test]
fn oversized_keys_and_values_are_limit_exceeded() {
    let (_dir, path) = temp_folder();
    let engine = open(&path);
    put(&*engine, "t", b"keep", b"1");
    let big = ZeroPages::new(RocksDbEngine::MAX_VALUE_LEN + 1);
    let key = &big.bytes()[..RocksDbEngine::MAX_KEY_LEN + 1];
    let value = big.bytes();
    for (what, key, value) in [("key", key, &b"v"[..]), ("value", &b"k"[..], value)] {
        let result = engine.write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("t", b"before", b"x")?;
            txn.put("t", key, value)
        });
        let error = result.expect_err(what);
        assert_eq!(
            error.engine_kind(),
            Some(EngineErrorKind::LimitExceeded),
            "{what}: {error}"
        );
        assert_eq!(error.table(), Some("t"), "{what}");
        assert_eq!(error.operation(), Some(Operation::Put), "{what}");
        println!("{what}: {error}");
    }
    assert_eq!(
        entries(&*engine, "t"),
        vec![(b"keep".to_vec(), b"1".to_vec())]
    );
    put(&*engine, "t", b"after", b"2");
    assert_eq!(entries(&*engine, "t").len(), 2);
}

/// Damaged folders fail to open with `Corrupted` (a garbage `CURRENT`, a garbage `MANIFEST`, a
/// folder holding only garbage), a file where the folder should be is an I/O error that says
/// so — none of them panics.
#[test]
fn damaged_folders_fail_to_open_with_corrupted() {
    let (_dir, path) = temp_folder();
    let fresh = || {
        let _ = std::fs::remove_dir_all(&path);
        let engine = open(&path);
        put(&*engine, "t", b"k", b"v");
    };
    let attempt = || {
        std::panic::catch_unwind(|| RocksDbEngine::open_with(&path, fast()))
            .unwrap_or_else(|_| panic!("opening a damaged folder panicked"))
    };

    fresh();
    std::fs::write(path.join("CURRENT"), b"\x00\x13garbage without a newline").unwrap();
    let error = open_error(attempt(), EngineErrorKind::Corrupted);
    println!("garbage CURRENT: {error}");

    fresh();
    let manifest = std::fs::read_dir(&path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|file| {
            file.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("MANIFEST-")
        })
        .expect("a MANIFEST file");
    std::fs::write(&manifest, vec![0xA5; 4096]).unwrap();
    let error = open_error(attempt(), EngineErrorKind::Corrupted);
    println!("garbage MANIFEST: {error}");

    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("CURRENT"), b"MANIFEST-000042\n").unwrap();
    std::fs::write(path.join("MANIFEST-000042"), b"not a manifest at all").unwrap();
    let error = open_error(attempt(), EngineErrorKind::Corrupted);
    assert!(
        error.to_string().contains("damaged RocksDB folder"),
        "{error}"
    );

    let _ = std::fs::remove_dir_all(&path);
    std::fs::write(&path, b"a file, not a folder").unwrap();
    let error = open_error(attempt(), EngineErrorKind::Io);
    assert!(error.to_string().contains("is a file"), "{error}");
}

/// A table file damaged after it was written fails the reads that meet it, and
/// `check_integrity`, with `Corrupted` — no panic, no wrong data.
#[test]
fn a_damaged_table_file_fails_reads_and_the_integrity_check() {
    let (_dir, path) = temp_folder();
    {
        let engine =
            Arc::new(RocksDbEngine::open_with(&path, fast().lz4(false)).expect("open rocksdb"));
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                for i in 0u32..2_000 {
                    txn.put("t", &i.to_be_bytes(), &[i as u8; 100])?;
                }
                Ok(())
            })
            .unwrap();
        assert!(engine.compact().unwrap());
        assert_eq!(
            engine.check_integrity().unwrap(),
            zerotable::Integrity::Intact
        );
    }
    let table_file = std::fs::read_dir(&path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|file| file.extension().is_some_and(|ext| ext == "sst"))
        .max_by_key(|file| std::fs::metadata(file).unwrap().len())
        .expect("a table file");
    let mut bytes = std::fs::read(&table_file).unwrap();
    for byte in &mut bytes[1_000..1_100] {
        *byte ^= 0xFF;
    }
    std::fs::write(&table_file, &bytes).unwrap();

    let reopened = std::panic::catch_unwind(|| RocksDbEngine::open_with(&path, fast()))
        .unwrap_or_else(|_| panic!("opening a folder with a damaged table file panicked"));
    let engine = match reopened {
        Ok(engine) => engine,
        Err(error) => {
            // RocksDB may notice at open already; that is fine too.
            assert_eq!(
                error.engine_kind(),
                Some(EngineErrorKind::Corrupted),
                "{error}"
            );
            return;
        }
    };
    let error = engine
        .check_integrity()
        .expect_err("the integrity check finds the damage");
    assert_eq!(
        error.engine_kind(),
        Some(EngineErrorKind::Corrupted),
        "{error}"
    );
    println!("check_integrity: {error}");
    let scan = engine.read(&mut |reader| {
        reader.range("t", &KeyRange::ALL, &mut |_, _| {
            Ok(ControlFlow::Continue(()))
        })
    });
    let error = scan.expect_err("a scan over the damaged block fails");
    assert_eq!(
        error.engine_kind(),
        Some(EngineErrorKind::Corrupted),
        "{error}"
    );
    assert_eq!(error.table(), Some("t"));
}

/// A second open of a folder this process has open is `AlreadyOpen` naming this process —
/// while the engine lives, and while a snapshot from it does — and works once both are gone.
#[test]
fn a_second_open_in_this_process_is_already_open() {
    let (_dir, path) = temp_folder();
    let engine = open(&path);
    put(&*engine, "t", b"k", b"v");
    let error = open_error(RocksDbEngine::open(&path), EngineErrorKind::AlreadyOpen);
    assert_eq!(
        error.holder(),
        Some(Holder::ThisProcess { handles: None }),
        "{error}"
    );
    assert!(error.to_string().contains("this process"), "{error}");
    // Spelled another way, it is still the same folder.
    let respelled = path.parent().unwrap().join(".").join("db");
    open_error(
        RocksDbEngine::open(&respelled),
        EngineErrorKind::AlreadyOpen,
    );
    let address = format!("rocksdb://{}", path.display());
    let refused = Storage::connect(&address).map(|_| ()).unwrap_err();
    assert_eq!(refused.engine_kind(), Some(EngineErrorKind::AlreadyOpen));

    // A snapshot keeps the folder open after the engine is dropped.
    let snapshot = engine.begin_read().unwrap();
    drop(engine);
    open_error(RocksDbEngine::open(&path), EngineErrorKind::AlreadyOpen);
    let mut seen = None;
    snapshot
        .get("t", b"k", &mut |value| {
            seen = Some(value.to_vec());
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, Some(b"v".to_vec()));
    drop(snapshot);
    let engine = open(&path);
    assert_eq!(entries(&*engine, "t"), vec![(b"k".to_vec(), b"v".to_vec())]);
}

/// While another process holds the folder, opening it is `AlreadyOpen` naming another process;
/// once that process has ended, it opens with the other process's commit in it.
#[test]
fn another_process_holding_the_folder_is_already_open() {
    let (_dir, path) = temp_folder();
    let child = spawn_until_ready("hold", &path);
    let error = open_error(RocksDbEngine::open(&path), EngineErrorKind::AlreadyOpen);
    assert_eq!(error.holder(), Some(Holder::AnotherProcess), "{error}");
    assert!(error.to_string().contains("another process"), "{error}");
    drop(child);
    let engine = open(&path);
    assert_eq!(
        entries(&*engine, "rows"),
        vec![(b"k".to_vec(), b"written by the child".to_vec())]
    );
}

/// Commits made with `Durability::None` are in the write-ahead log when `commit` returns: a
/// process that aborts right after them (no flush, no clean close) loses none of them.
#[test]
fn unsynced_commits_survive_a_process_crash() {
    let (_dir, path) = temp_folder();
    let output = child_command("write-unsynced-then-abort", &path)
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("COMMITTED"),
        "the child did not commit: {stdout}"
    );
    assert!(!output.status.success(), "the child was meant to abort");
    let engine = open(&path);
    let rows = entries(&*engine, "rows");
    assert_eq!(rows.len(), 100, "commits lost in a process crash");
    assert_eq!(
        rows[42],
        (42u32.to_be_bytes().to_vec(), b"unsynced".to_vec())
    );
}

/// Any `&str` is a table name — empty, `default`, names like the engine's own column families,
/// slashes, NUL, non-ASCII, very long — each its own table, listed in byte order, kept across a
/// reopen and dropped on its own.
#[test]
fn odd_table_names_are_separate_tables() {
    let (_dir, path) = temp_folder();
    let long = "x".repeat(5_000);
    let names: Vec<&str> = vec![
        "",
        "default",
        "zt.0",
        "zt.1",
        "a/b",
        "../up",
        "nul\0byte",
        " ",
        "ünïcödé",
        "日本",
        &long,
    ];
    let engine = open(&path);
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for (i, name) in names.iter().enumerate() {
                txn.put(name, b"k", name.as_bytes())?;
                txn.put(name, &[i as u8], b"")?;
            }
            Ok(())
        })
        .unwrap();
    let mut expected: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(list_tables(&*engine), expected);
    drop(engine);

    let engine = open(&path);
    assert_eq!(list_tables(&*engine), expected);
    for (i, name) in names.iter().enumerate() {
        let rows = entries(&*engine, name);
        assert_eq!(rows.len(), 2, "{name:?}");
        assert!(
            rows.contains(&(b"k".to_vec(), name.as_bytes().to_vec())),
            "{name:?}"
        );
        assert!(rows.contains(&(vec![i as u8], Vec::new())), "{name:?}");
    }
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert!(txn.drop_table("default")?);
            assert!(txn.drop_table("zt.0")?);
            Ok(())
        })
        .unwrap();
    expected.retain(|name| name != "default" && name != "zt.0");
    assert_eq!(list_tables(&*engine), expected);
    assert_eq!(entries(&*engine, "zt.1").len(), 2);
    assert!(entries(&*engine, "default").is_empty());
}

/// A dropped table's column family is dropped at once when no snapshot is open; while one is,
/// it stays (the snapshot still reads the table) until `compact`, or the next open.
#[test]
fn dropped_tables_give_back_their_column_families() {
    let (_dir, path) = temp_folder();
    let engine = open(&path);
    let exists = |engine: &RocksDbEngine, cf: &str| engine.rocksdb().cf_handle(cf).is_some();
    let drop_table = |engine: &RocksDbEngine, table: &str| {
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                txn.drop_table(table).map(|_| ())
            })
            .unwrap()
    };

    put(&*engine, "a", b"k", b"v");
    let cf = engine.column_family("a").unwrap();
    drop_table(&engine, "a");
    assert!(!exists(&engine, &cf), "dropped with no snapshot open");

    put(&*engine, "b", b"k", b"v");
    let cf = engine.column_family("b").unwrap();
    let snapshot = engine.begin_read().unwrap();
    drop_table(&engine, "b");
    assert!(exists(&engine, &cf), "a snapshot may still read it");
    assert_eq!(snapshot.len("b").unwrap(), 1);
    assert_eq!(snapshot.list_tables().unwrap(), ["b"]);
    let refused = engine.compact().unwrap_err();
    assert_eq!(refused.engine_kind(), Some(EngineErrorKind::InUse));
    drop(snapshot);
    assert!(engine.compact().unwrap());
    assert!(!exists(&engine, &cf), "compact dropped it");

    // Created again: a new column family, empty.
    put(&*engine, "b", b"new", b"1");
    assert_ne!(engine.column_family("b").unwrap(), cf);
    assert_eq!(
        entries(&*engine, "b"),
        vec![(b"new".to_vec(), b"1".to_vec())]
    );

    put(&*engine, "c", b"k", b"v");
    let cf = engine.column_family("c").unwrap();
    let snapshot = engine.begin_read().unwrap();
    drop_table(&engine, "c");
    drop(snapshot);
    drop(engine);
    let listed = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
    assert!(
        listed.contains(&cf),
        "still there after a close: {listed:?}"
    );
    let engine = open(&path);
    assert!(!exists(&engine, &cf), "the next open dropped it");
    assert_eq!(list_tables(&*engine), ["b"]);
}

/// A RocksDB folder made by other software is refused, not reinterpreted; an empty one is
/// adopted.
#[test]
fn a_foreign_rocksdb_folder_is_refused() {
    let (_dir, path) = temp_folder();
    {
        let db = rocksdb::DB::open_default(&path).unwrap();
        db.put(b"someone", b"else's data").unwrap();
    }
    let error = open_error(RocksDbEngine::open(&path), EngineErrorKind::Other);
    assert!(
        error.to_string().contains("not made by zerotable"),
        "{error}"
    );
    let db = rocksdb::DB::open_default(&path).unwrap();
    assert_eq!(db.get(b"someone").unwrap(), Some(b"else's data".to_vec()));
    drop(db);

    let (_dir, empty) = temp_folder();
    drop(rocksdb::DB::open_default(&empty).unwrap());
    let engine = open(&empty);
    put(&*engine, "t", b"k", b"v");
}

/// Small memtables flush to table files while writing: reads merge memtables and table files
/// correctly, in a write transaction too, and the folder grows.
#[test]
fn small_memtables_flush_to_table_files_and_reads_merge_them() {
    let (_dir, path) = temp_folder();
    let options = fast().write_buffer_size(64 << 10).lz4(false);
    let engine = Arc::new(RocksDbEngine::open_with(&path, options).unwrap());
    for batch in 0u32..8 {
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                for i in 0u32..200 {
                    let key = (i * 8 + batch).to_be_bytes();
                    txn.put("t", &key, &[batch as u8; 100])?;
                }
                Ok(())
            })
            .unwrap();
    }
    let files = engine.rocksdb().live_files().unwrap();
    assert!(!files.is_empty(), "no table file was written");
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert_eq!(txn.len("t")?, 1_600);
            assert!(txn.delete("t", &0u32.to_be_bytes())?);
            txn.put("t", &u32::MAX.to_be_bytes(), b"last")?;
            let mut keys = Vec::new();
            let reverse = KeyRange {
                reverse: true,
                ..KeyRange::ALL
            };
            txn.range("t", &reverse, &mut |key, _| {
                keys.push(u32::from_be_bytes(key.try_into().unwrap()));
                Ok(ControlFlow::Continue(()))
            })?;
            assert_eq!(keys.len(), 1_600);
            assert_eq!(keys[0], u32::MAX);
            assert!(keys.windows(2).all(|w| w[0] > w[1]));
            assert_eq!(*keys.last().unwrap(), 1);
            Ok(())
        })
        .unwrap();
    assert_eq!(entries(&*engine, "t").len(), 1_600);
    assert!(engine.size_on_disk().unwrap() > 1_600 * 100);
}

/// Not a test of its own: the second process of the tests above, when this binary runs as one.
#[test]
fn child_process_helper() {
    let Some((role, path)) = child_role() else {
        return;
    };
    match role.as_str() {
        "hold" => {
            let engine = open(&path);
            put(&*engine, "rows", b"k", b"written by the child");
            announce_ready_and_hold();
        }
        "write-unsynced-then-abort" => {
            let engine = open(&path);
            for i in 0u32..100 {
                engine
                    .write(WriteOptions::durability(Durability::None), &mut |txn| {
                        txn.put("rows", &i.to_be_bytes(), b"unsynced")
                    })
                    .unwrap();
            }
            println!("COMMITTED");
            std::process::abort();
        }
        other => panic!("unknown child role {other:?}"),
    }
}
