//! The SQLite engine's own tests (the conformance suite runs from `conformance.rs`): typed gets
//! counted against rusqlite's own gets, `sqlite://` options, reopening, row size limits,
//! damaged files, a second open in this process and in another one, another connection's write
//! lock, `Durability::None` across a killed process, the table name mapping, tables dropped from
//! inside a scan, nested reads of one table, compaction.
//!
//! Some tests start a second process: this binary again, with only `child_process_helper`
//! selected and its role in the environment (see `common::child`).

mod common;

use std::ops::{Bound, ControlFlow};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::child::{announce_ready_and_hold, child_role, spawn_until_ready};
use common::counting::{LOOKUPS, compare_lookups, typed_get, typed_get_in, users_table};
use common::engine::{collect, get, invalid_config, list_tables, put, scan};
use common::{User, user};
use zerotable::engines::{SqliteEngine, SqliteOptions};
use zerotable::{
    Durability, Engine, EngineErrorKind, Error, Integrity, KeyRange, Operation, ReadOps, Storage,
    WriteOptions,
};

/// Counts allocations made by the current thread (tests run on parallel threads).
#[global_allocator]
static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;

/// SQLite's limit on one row (`SQLITE_MAX_LENGTH` of the bundled build).
const MAX_LENGTH: usize = 1_000_000_000;

fn open(path: &Path) -> Arc<SqliteEngine> {
    Arc::new(SqliteEngine::open(path).expect("open the SQLite database"))
}

/// The names of the tables in the SQLite file, as SQLite lists them.
fn sqlite_tables(path: &Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap();
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn users_in(dir: &Path) -> (PathBuf, Arc<SqliteEngine>, zerotable::RkyvTable<u64, User>) {
    let path = dir.join("app.sqlite");
    let engine = open(&path);
    let users = users_table(&Storage::from_arc(engine.clone()));
    (path, engine, users)
}

/// rusqlite's point read of zerotable's `users` table (`zt_users`; u64 keys are stored big
/// endian).
const RAW_GET: &str = "SELECT v FROM \"zt_users\" WHERE k = ?1";

/// An auto-commit typed get allocates no more than rusqlite's own auto-commit get of the same
/// key (`prepare_cached` + `query`, the blob borrowed from the row) on a connection of its own.
#[test]
fn typed_get_allocates_no_more_than_a_raw_rusqlite_get() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _engine, users) = users_in(dir.path());
    let raw = rusqlite::Connection::open(&path).unwrap();

    let mut raw_get = |i: u64| {
        let mut statement = raw.prepare_cached(RAW_GET).unwrap();
        let mut rows = statement.query([&i.to_be_bytes()[..]]).unwrap();
        let row = rows.next().unwrap().unwrap();
        std::hint::black_box(row.get_ref(0).unwrap().as_blob().unwrap().len());
    };
    let mut typed_get = typed_get(&users);
    let [raw, typed] = compare_lookups(
        "allocations per auto-commit get on SQLite",
        [
            ("raw rusqlite (prepare_cached + query)", &mut raw_get),
            ("typed", &mut typed_get),
        ],
    );
    assert!(
        typed <= raw,
        "typed get allocated {typed} times, raw rusqlite {raw} (over {LOOKUPS} gets)"
    );
}

/// Inside one snapshot a typed get allocates no more than rusqlite's get with a statement
/// prepared once, inside one read transaction: nothing per get.
#[test]
fn typed_gets_inside_one_snapshot_allocate_no_more_than_raw_gets_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let (path, engine, users) = users_in(dir.path());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("BEGIN").unwrap();
    let mut statement = raw.prepare(RAW_GET).unwrap();
    let mut raw_get = |i: u64| {
        let mut rows = statement.query([&i.to_be_bytes()[..]]).unwrap();
        let row = rows.next().unwrap().unwrap();
        std::hint::black_box(row.get_ref(0).unwrap().as_blob().unwrap().len());
    };
    let snapshot = Storage::from_arc(engine.clone()).snapshot().unwrap();
    let mut typed_get = typed_get_in(&users, &snapshot);
    let [raw_count, typed] = compare_lookups(
        "allocations per get in one read transaction on SQLite",
        [
            ("raw rusqlite (statement prepared once)", &mut raw_get),
            ("typed in one snapshot", &mut typed_get),
        ],
    );
    assert!(
        typed <= raw_count,
        "typed gets in one snapshot allocated {typed} times, raw rusqlite {raw_count} (over \
         {LOOKUPS} gets)"
    );
}

/// `sqlite://path?…` opens a SQLite engine with those options, and the same address reopens it.
#[test]
fn connect_opens_sqlite_with_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let address = format!(
        "sqlite://{}?durability=none&cache_size=8MiB&busy_timeout_ms=250&readers=2",
        path.display()
    );
    let storage = Storage::connect(&address).unwrap();
    assert_eq!(storage.engine().name(), "sqlite");
    assert!(storage.capabilities().persistent);
    let rows = storage.raw_table::<u64>("rows").unwrap();
    rows.put(&1, b"one").unwrap();
    drop((rows, storage));
    assert!(path.is_file(), "the path is the database file");

    let storage = Storage::connect(&address).unwrap();
    let rows = storage.raw_table::<u64>("rows").unwrap();
    assert_eq!(
        rows.get(&1, |bytes| bytes.to_vec()).unwrap(),
        Some(b"one".to_vec())
    );
    drop((rows, storage));
    let plain = Storage::connect(&format!("sqlite://{}", path.display())).unwrap();
    assert_eq!(plain.raw_table::<u64>("rows").unwrap().len().unwrap(), 1);
}

/// Unknown options and bad values are `InvalidConfig` errors naming the option, and nothing is
/// created.
#[test]
fn bad_sqlite_options_are_invalid_config_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let at = |query: &str| format!("sqlite://{}?{query}", path.display());

    // An unknown option names none, and its problem lists the known ones.
    invalid_config(
        &at("cache_sise=8MiB"),
        None,
        &[
            "unknown option `cache_sise`",
            "durability",
            "cache_size",
            "busy_timeout_ms",
            "readers",
        ],
    );
    for (query, option) in [
        ("durability=sometimes", "durability"),
        ("cache_size=8XB", "cache_size"),
        ("busy_timeout_ms=-1", "busy_timeout_ms"),
        ("busy_timeout_ms=99999999999", "busy_timeout_ms"),
        ("readers=many", "readers"),
    ] {
        invalid_config(&at(query), Some(option), &[]);
    }
    let err = Storage::connect("sqlite://").unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert!(!path.exists(), "a refused address created the database");
}

/// Data, tables and typed catalog records survive closing and reopening, twice.
#[test]
fn reopening_keeps_data_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    {
        let storage = Storage::new(SqliteEngine::open(&path).unwrap());
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..100).map(|i| (i, user(i)))).unwrap();
        let raw = storage.raw_table::<String>("raw").unwrap();
        raw.put("", b"").unwrap();
        raw.put("k", b"v").unwrap();
    }
    for round in 0..2 {
        let storage = Storage::new(SqliteEngine::open(&path).unwrap());
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        assert_eq!(users.len().unwrap(), 100 + round, "round {round}");
        assert_eq!(
            users.get(&42, |u| u.name.to_string()).unwrap().as_deref(),
            Some("user42")
        );
        let raw = storage.raw_table::<String>("raw").unwrap();
        assert_eq!(raw.get("", |b| b.to_vec()).unwrap(), Some(Vec::new()));
        assert_eq!(raw.get("k", |b| b.to_vec()).unwrap(), Some(b"v".to_vec()));
        let names: Vec<String> = storage
            .tables()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["raw", "users"]);
        users.put(&(1000 + round), &user(1000 + round)).unwrap();
    }
}

/// A row longer than SQLite's limit (1,000,000,000 bytes of key and value) is `LimitExceeded`,
/// never a panic — a put's value or key, and a key SQLite refuses to bind in a get or a range
/// — and the engine keeps working. (The huge buffers are zeroed pages never touched.)
#[test]
fn oversize_rows_are_limit_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("app.sqlite"));
    let huge = vec![0u8; MAX_LENGTH + 1];
    let limit = |result: zerotable::Result<()>, what: &str| {
        let err = result.expect_err(what);
        assert_eq!(
            err.engine_kind(),
            Some(EngineErrorKind::LimitExceeded),
            "{what}: {err}"
        );
        err
    };
    let err = limit(
        engine.write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"k", &huge)),
        "an oversize value",
    );
    assert!(err.to_string().contains("SQLITE_MAX_LENGTH"), "{err}");
    assert_eq!(err.table(), Some("t"));
    limit(
        engine.write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", &huge, b"v")),
        "an oversize key",
    );
    limit(
        engine.write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("t", &huge[..MAX_LENGTH / 2], &huge[..MAX_LENGTH / 2 + 1])
        }),
        "a key and a value that together are too long",
    );
    put(&*engine, "t", b"k", b"v");
    let snapshot = engine.begin_read().unwrap();
    limit(
        snapshot.get("t", &huge, &mut |_| Ok(())).map(|_| ()),
        "a get of an oversize key",
    );
    let range = KeyRange {
        start: Bound::Included(&huge),
        end: Bound::Unbounded,
        reverse: false,
    };
    limit(
        snapshot.range("t", &range, &mut |_, _| Ok(ControlFlow::Continue(()))),
        "a range from an oversize key",
    );
    drop(snapshot);
    // Refused writes left no trace, and everything works after them.
    assert_eq!(
        scan(&*engine, "t", KeyRange::ALL),
        [(b"k".to_vec(), b"v".to_vec())]
    );
    let big = vec![0xA5; 8 << 20];
    put(&*engine, "t", b"big", &big);
    assert_eq!(get(&*engine, "t", b"big"), Some(big));
}

/// What opening `path` gives: `Ok` or the error's kind and text — never a panic.
fn try_open(path: &Path) -> Result<Arc<SqliteEngine>, (Option<EngineErrorKind>, String)> {
    SqliteEngine::open(path)
        .map(Arc::new)
        .map_err(|err| (err.engine_kind(), err.to_string()))
}

/// Everything reads from a possibly damaged database: `Ok` or the error's kind — never a panic.
fn read_everything(engine: &dyn Engine) -> Result<usize, Option<EngineErrorKind>> {
    let snapshot = engine.begin_read().map_err(|e| e.engine_kind())?;
    let mut rows = 0;
    for table in snapshot.list_tables().map_err(|e| e.engine_kind())? {
        rows += collect(&*snapshot, &table, KeyRange::ALL)
            .map_err(|e| e.engine_kind())?
            .len();
        snapshot.len(&table).map_err(|e| e.engine_kind())?;
    }
    Ok(rows)
}

/// A database of 3,000 rows in two tables, closed (checkpointed into the file).
fn filled_database(path: &Path) {
    let engine = open(path);
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for i in 0u32..3_000 {
                let table = if i % 2 == 0 { "even" } else { "odd" };
                txn.put(table, &i.to_be_bytes(), &[i as u8; 100])?;
            }
            Ok(())
        })
        .unwrap();
    drop(engine);
    assert!(
        !PathBuf::from(format!("{}-wal", path.display())).exists(),
        "a clean close checkpoints and removes the WAL"
    );
}

/// Garbage, a file cut short, overwritten pages and a damaged schema page open with a clear
/// error or fail on use with `Corrupted` — never a panic; `check_integrity` says `Corrupted`.
/// An empty file is an empty database.
#[test]
fn damaged_files_fail_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();

    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![0x5a; 64 << 10]).unwrap();
    let (kind, text) = try_open(&garbage).expect_err("garbage opened");
    assert_eq!(kind, Some(EngineErrorKind::Corrupted), "{text}");
    assert!(text.contains("is not a SQLite database"), "{text}");

    let empty = dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let engine = try_open(&empty).expect("an empty file is an empty database");
    put(&*engine, "t", b"k", b"v");
    drop(engine);

    let whole = dir.path().join("whole.sqlite");
    filled_database(&whole);
    let bytes = std::fs::read(&whole).unwrap();
    assert!(bytes.len() > 100 << 10, "{} bytes", bytes.len());

    let damaged = |name: &str, damage: &dyn Fn(&mut Vec<u8>)| {
        let path = dir.path().join(name);
        let mut copy = bytes.clone();
        damage(&mut copy);
        std::fs::write(&path, copy).unwrap();
        let outcome = match try_open(&path) {
            Err((kind, text)) => {
                assert_eq!(kind, Some(EngineErrorKind::Corrupted), "{name}: {text}");
                "open error"
            }
            Ok(engine) => {
                let read = read_everything(&*engine);
                assert_eq!(
                    read,
                    Err(Some(EngineErrorKind::Corrupted)),
                    "{name}: reading"
                );
                let checked = engine.check_integrity();
                let err = checked.expect_err("check_integrity of a damaged database");
                assert_eq!(
                    err.engine_kind(),
                    Some(EngineErrorKind::Corrupted),
                    "{name}: {err}"
                );
                "error on use"
            }
        };
        println!("{name}: {outcome}");
    };
    damaged("truncated.sqlite", &|bytes| bytes.truncate(bytes.len() / 3));
    damaged("overwritten.sqlite", &|bytes| {
        let middle = bytes.len() / 2 / 4096 * 4096;
        bytes[middle..middle + 3 * 4096].fill(0xC3);
    });
    damaged("schema.sqlite", &|bytes| bytes[100..4096].fill(0x7f));

    let healthy = try_open(&whole).expect("the undamaged copy opens");
    assert_eq!(read_everything(&*healthy), Ok(3_000));
    assert_eq!(healthy.check_integrity().unwrap(), Integrity::Intact);
}

/// A missing directory and a directory at the path are open errors saying so.
#[test]
fn open_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/app.sqlite");
    let (kind, text) = try_open(&missing).expect_err("opened in a missing directory");
    assert_eq!(kind, Some(EngineErrorKind::Io), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    let (_, text) = try_open(dir.path()).expect_err("opened a directory");
    assert!(text.contains("is a directory"), "{text}");
}

/// The same file opened twice in this process: both engines see each other's commits, and they
/// share one writer gate — a write on one while this thread writes on the other is
/// `NestedWrite` (not a wait for SQLite's lock), and another thread's write waits its turn.
#[test]
fn a_second_open_in_this_process_works_and_shares_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let first = open(&path);
    let second = open(&path);
    put(&*first, "t", b"a", b"1");
    assert_eq!(get(&*second, "t", b"a"), Some(b"1".to_vec()));
    put(&*second, "t", b"b", b"2");
    assert_eq!(get(&*first, "t", b"b"), Some(b"2".to_vec()));

    let txn = first.begin_write(WriteOptions::DEFAULT).unwrap();
    txn.put("t", b"c", b"3").unwrap();
    let started = Instant::now();
    let nested = second.begin_write(WriteOptions::DEFAULT).map(|_| ());
    assert_eq!(
        nested.unwrap_err().engine_kind(),
        Some(EngineErrorKind::NestedWrite)
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "it waited for SQLite's lock"
    );

    let (done_tx, done) = mpsc::channel();
    let other = Arc::clone(&second);
    let writer = thread::spawn(move || {
        let seen = get(&*other, "t", b"c");
        other
            .write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"d", b"4"))
            .unwrap();
        done_tx.send(seen).unwrap();
    });
    assert!(
        done.recv_timeout(Duration::from_millis(300)).is_err(),
        "the other thread wrote while this one holds the write"
    );
    txn.commit().unwrap();
    assert_eq!(done.recv_timeout(Duration::from_secs(30)).unwrap(), None);
    writer.join().unwrap();
    assert_eq!(scan(&*first, "t", KeyRange::ALL).len(), 4);
}

/// Another connection holding SQLite's write lock (as another process would) makes a write
/// wait for the busy timeout and then fail with `InUse`, while snapshots read on; once it is
/// released, writes work.
#[test]
fn another_connection_holding_the_write_lock_is_in_use_after_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let options = SqliteOptions::default().busy_timeout(Duration::from_millis(200));
    let engine = SqliteEngine::open_with(&path, options).unwrap();
    put(&engine, "t", b"k", b"v");

    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let err = engine
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"k2", b"v2"))
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::InUse), "{err}");
    assert_eq!(err.operation(), Some(Operation::BeginWrite));
    assert!(err.to_string().contains("busy timeout"), "{err}");
    assert!(
        waited >= Duration::from_millis(150),
        "it did not wait: {waited:?}"
    );
    assert_eq!(get(&engine, "t", b"k"), Some(b"v".to_vec()), "reads go on");

    other.execute_batch("COMMIT").unwrap();
    put(&engine, "t", b"k2", b"v2");
    assert_eq!(scan(&engine, "t", KeyRange::ALL).len(), 2);
}

/// Another process may have the file open at the same time: each sees the other's commits.
#[test]
fn another_process_shares_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let child = spawn_until_ready("hold", &path);
    let engine = open(&path);
    assert_eq!(get(&*engine, "rows", b"child"), Some(b"was here".to_vec()));
    put(&*engine, "rows", b"parent", b"too");
    assert_eq!(scan(&*engine, "rows", KeyRange::ALL).len(), 2);
    drop(child);
    drop(engine);
    let engine = open(&path);
    assert_eq!(scan(&*engine, "rows", KeyRange::ALL).len(), 2);
}

/// Commits made with `Durability::None` are in the operating system's buffers when `commit`
/// returns: a process killed right after (SIGKILL, no clean close) loses none of them.
#[test]
fn durability_none_commits_survive_a_killed_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let child = spawn_until_ready("unsynced", &path);
    drop(child); // SIGKILL, then reaped
    let engine = open(&path);
    let rows = scan(&*engine, "rows", KeyRange::ALL);
    assert_eq!(rows.len(), 100);
    assert_eq!(
        rows[99],
        (99u32.to_be_bytes().to_vec(), b"unsynced".to_vec())
    );
    assert_eq!(engine.check_integrity().unwrap(), Integrity::Intact);
}

/// Not a test of its own: the body of the child processes above.
#[test]
fn child_process_helper() {
    let Some((role, path)) = child_role() else {
        return;
    };
    let engine = open(&path);
    match role.as_str() {
        "hold" => put(&*engine, "rows", b"child", b"was here"),
        "unsynced" => {
            for i in 0u32..100 {
                engine
                    .write(WriteOptions::durability(Durability::None), &mut |txn| {
                        txn.put("rows", &i.to_be_bytes(), b"unsynced")
                    })
                    .unwrap();
            }
        }
        other => panic!("unknown child role {other}"),
    }
    announce_ready_and_hold();
}

/// Any `&str` is a table name: lower-case names keep their spelling behind `zt_`, the others
/// (upper case, quotes, spaces, unicode, empty, names like SQLite's own) are hex behind `zx_`;
/// `Users` and `users` are two tables although SQLite ignores case in names; all are listed in
/// byte order and survive a reopen.
#[test]
fn odd_table_names_map_to_their_own_sqlite_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let names = [
        "users",
        "Users",
        "",
        "a\"b",
        "with space",
        "semi;colon -- DROP TABLE x",
        "日本",
        "sqlite_master",
        "zt_users",
        "zerotable.meta",
        "0",
    ];
    let engine = open(&path);
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for (i, name) in names.iter().enumerate() {
                txn.put(name, b"k", &[i as u8])?;
            }
            Ok(())
        })
        .unwrap();
    let mut sorted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    sorted.sort();
    assert_eq!(list_tables(&*engine), sorted);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            get(&*engine, name, b"k"),
            Some(vec![i as u8]),
            "table {name:?}"
        );
    }
    drop(engine);

    let stored = sqlite_tables(&path);
    for expected in [
        "zt_users",
        "zx_5573657273",
        "zx_",
        "zx_612262",
        "zt_sqlite_master",
        "zt_zt_users",
        "zt_zerotable.meta",
        "zt_0",
        "zx_e697a5e69cac",
    ] {
        assert!(
            stored.iter().any(|s| s == expected),
            "{expected} not in {stored:?}"
        );
    }
    assert_eq!(stored.len(), names.len(), "{stored:?}");

    let engine = open(&path);
    assert_eq!(list_tables(&*engine), sorted);
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            assert!(txn.drop_table("Users")?);
            Ok(())
        })
        .unwrap();
    assert_eq!(
        get(&*engine, "users", b"k"),
        Some(vec![0]),
        "dropping Users kept users"
    );
    assert_eq!(list_tables(&*engine).len(), names.len() - 1);
}

/// Tables of the file that are not zerotable's are ignored (not listed, left alone), also those
/// named like zerotable's but not as it names them.
#[test]
fn other_tables_in_the_file_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');
                 CREATE TABLE zt_Upper (x); CREATE TABLE zx_5A (x); CREATE TABLE zx_abc (x);",
            )
            .unwrap();
    }
    let engine = open(&path);
    assert!(list_tables(&*engine).is_empty());
    put(&*engine, "people", b"k", b"v");
    assert_eq!(list_tables(&*engine), ["people"]);
    drop(engine);
    let connection = rusqlite::Connection::open(&path).unwrap();
    let name: String = connection
        .query_row("SELECT name FROM people", [], |row| row.get(0))
        .unwrap();
    assert_eq!(name, "ada");
}

/// SQLite refuses `DROP TABLE` while a statement of the connection runs; a table dropped from
/// inside a scan of another one is emptied and hidden at once and dropped at commit — or, rolled
/// back, kept whole; written again in the same transaction, it holds only the new entries.
#[test]
fn a_table_dropped_from_inside_a_scan_goes_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let engine = open(&path);
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for i in 0u8..3 {
                txn.put("scanned", &[i], &[i])?;
                txn.put("doomed", &[i], &[i])?;
                txn.put("reborn", &[i], &[i])?;
            }
            Ok(())
        })
        .unwrap();

    // Rolled back: nothing changes.
    let err = engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.range("scanned", &KeyRange::ALL, &mut |_, _| {
                assert!(txn.drop_table("doomed")?);
                Ok(ControlFlow::Break(()))
            })?;
            Err(Error::callback(std::io::Error::other("roll back")))
        })
        .unwrap_err();
    assert!(matches!(err, Error::Callback { .. }), "{err:?}");
    assert_eq!(scan(&*engine, "doomed", KeyRange::ALL).len(), 3);

    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.range("scanned", &KeyRange::ALL, &mut |key, _| {
                if key == [0] {
                    assert!(txn.drop_table("doomed")?);
                    assert!(!txn.drop_table("doomed")?, "dropped once");
                    assert!(txn.drop_table("reborn")?);
                    txn.put("reborn", b"new", b"entry")?;
                }
                Ok(ControlFlow::Continue(()))
            })?;
            assert_eq!(txn.len("doomed")?, 0);
            assert!(collect(txn, "doomed", KeyRange::ALL)?.is_empty());
            assert_eq!(txn.list_tables()?, ["reborn", "scanned"]);
            Ok(())
        })
        .unwrap();
    assert_eq!(list_tables(&*engine), ["reborn", "scanned"]);
    assert_eq!(
        scan(&*engine, "reborn", KeyRange::ALL),
        [(b"new".to_vec(), b"entry".to_vec())]
    );
    assert!(
        !sqlite_tables(&path).contains(&"zt_doomed".to_owned()),
        "dropped at commit"
    );
    assert_eq!(scan(&*engine, "scanned", KeyRange::ALL).len(), 3);
}

/// A read nested in a read of the same table on one snapshot — a get in a get's callback, a
/// range in a range's callback, both directions — runs on a statement of its own and does not
/// disturb the outer one.
#[test]
fn nested_reads_of_one_table_on_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("app.sqlite"));
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for i in 0u8..10 {
                txn.put("t", &[i], &[i; 3])?;
            }
            Ok(())
        })
        .unwrap();
    let snapshot = engine.begin_read().unwrap();
    let reader: &dyn ReadOps = &*snapshot;
    for reverse in [false, true] {
        let range = KeyRange {
            reverse,
            ..KeyRange::ALL
        };
        let mut outer = Vec::new();
        reader
            .range("t", &range, &mut |key, value| {
                let inner = collect(reader, "t", range)?;
                assert_eq!(inner.len(), 10);
                let mut found = false;
                reader.get("t", key, &mut |again| {
                    reader.get("t", key, &mut |innermost| {
                        assert_eq!(innermost, again);
                        Ok(())
                    })?;
                    found = again == value;
                    Ok(())
                })?;
                assert!(found);
                outer.push(key[0]);
                Ok(ControlFlow::Continue(()))
            })
            .unwrap();
        let mut expected: Vec<u8> = (0..10).collect();
        if reverse {
            expected.reverse();
        }
        assert_eq!(outer, expected);
    }
}

/// A snapshot is the state at `begin_read`, although SQLite fixes a WAL snapshot at a
/// transaction's first read: commits between `begin_read` and the first read stay invisible,
/// tables created and dropped then too.
#[test]
fn a_snapshot_is_pinned_when_it_begins() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("app.sqlite"));
    put(&*engine, "t", b"k", b"old");
    put(&*engine, "gone", b"k", b"v");
    let snapshot = engine.begin_read().unwrap();
    put(&*engine, "t", b"k", b"new");
    put(&*engine, "fresh", b"k", b"v");
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.drop_table("gone").map(|_| ())
        })
        .unwrap();
    let on_thread = thread::spawn(move || {
        let mut value = Vec::new();
        snapshot
            .get("t", b"k", &mut |bytes| {
                value = bytes.to_vec();
                Ok(())
            })
            .unwrap();
        (value, snapshot.list_tables().unwrap())
    });
    let (value, tables) = on_thread.join().unwrap();
    assert_eq!(value, b"old");
    assert_eq!(tables, ["gone", "t"]);
    assert_eq!(get(&*engine, "t", b"k"), Some(b"new".to_vec()));
}

/// `compact` (`VACUUM`, then a truncating checkpoint) gives the space of deleted rows back: the
/// file shrinks, the data stays.
#[test]
fn compact_shrinks_the_file_after_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("app.sqlite"));
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for i in 0u32..2_000 {
                txn.put("t", &i.to_be_bytes(), &[i as u8; 2_000])?;
            }
            Ok(())
        })
        .unwrap();
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            let end = 1_990u32.to_be_bytes();
            let range = KeyRange {
                start: Bound::Unbounded,
                end: Bound::Excluded(&end),
                reverse: false,
            };
            assert_eq!(txn.delete_range("t", &range)?, 1_990);
            Ok(())
        })
        .unwrap();
    engine.flush().unwrap();
    let before = engine.size_on_disk().unwrap();
    assert!(engine.compact().unwrap());
    let after = engine.size_on_disk().unwrap();
    println!("size on disk: {before} bytes before compact, {after} after");
    assert!(after * 4 < before, "{before} -> {after}");
    assert_eq!(scan(&*engine, "t", KeyRange::ALL).len(), 10);
}

/// Writers on several threads move amounts between two tables while readers on several
/// threads check, each in one snapshot, that the total never changes: pooled reader
/// connections, the shared writer and the writer gate under contention.
#[test]
fn concurrent_transfers_keep_the_total_in_every_snapshot() {
    const ACCOUNTS: u8 = 16;
    const TRANSFERS: u32 = 150;
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir.path().join("app.sqlite"));
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            for account in 0..ACCOUNTS {
                txn.put("left", &[account], &100u64.to_be_bytes())?;
                txn.put("right", &[account], &100u64.to_be_bytes())?;
            }
            Ok(())
        })
        .unwrap();
    let amount = |reader: &dyn ReadOps, table: &str, account: u8| -> zerotable::Result<u64> {
        let mut value = 0;
        reader.get(table, &[account], &mut |bytes| {
            value = u64::from_be_bytes(bytes.try_into().unwrap());
            Ok(())
        })?;
        Ok(value)
    };
    let total = |reader: &dyn ReadOps| -> u64 {
        let mut sum = 0;
        for table in ["left", "right"] {
            reader
                .range(table, &KeyRange::ALL, &mut |_, bytes| {
                    sum += u64::from_be_bytes(bytes.try_into().unwrap());
                    Ok(ControlFlow::Continue(()))
                })
                .unwrap();
        }
        sum
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (engine, stop) = (Arc::clone(&engine), Arc::clone(&stop));
            thread::spawn(move || {
                let mut checked = 0u32;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) || checked == 0 {
                    engine
                        .read(&mut |reader| {
                            assert_eq!(total(reader), 200 * u64::from(ACCOUNTS));
                            Ok(())
                        })
                        .unwrap();
                    let snapshot = engine.begin_read().unwrap();
                    assert_eq!(total(&*snapshot), 200 * u64::from(ACCOUNTS));
                    checked += 1;
                }
                checked
            })
        })
        .collect();
    let writers: Vec<_> = (0..3u32)
        .map(|writer| {
            let engine = Arc::clone(&engine);
            thread::spawn(move || {
                for i in 0..TRANSFERS {
                    let account = ((i * 7 + writer) % u32::from(ACCOUNTS)) as u8;
                    let (from, to) = if (i + writer) % 2 == 0 {
                        ("left", "right")
                    } else {
                        ("right", "left")
                    };
                    let options = WriteOptions::durability(Durability::None);
                    let body = &mut |txn: &dyn zerotable::WriteTxn| {
                        let have = amount(txn, from, account)?;
                        let moved = have.min(3);
                        txn.put(from, &[account], &(have - moved).to_be_bytes())?;
                        let other = amount(txn, to, account)?;
                        txn.put(to, &[account], &(other + moved).to_be_bytes())
                    };
                    if i % 2 == 0 {
                        engine.write(options, body).unwrap();
                    } else {
                        let txn = engine.begin_write(options).unwrap();
                        body(&*txn).unwrap();
                        txn.commit().unwrap();
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    let snapshot = engine.begin_read().unwrap();
    assert_eq!(total(&*snapshot), 200 * u64::from(ACCOUNTS));
}

/// The auto-commit get runs one statement with no snapshot of its own; a table dropped and made
/// again behind its kept statement — by this engine, or by another connection — reads as it is
/// now: absent, then the new rows.
#[test]
fn auto_commit_gets_follow_tables_dropped_and_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let engine = open(&path);
    let latest = |key: &[u8]| {
        let mut value = None;
        engine
            .get("t", key, &mut |bytes| {
                value = Some(bytes.to_vec());
                Ok(())
            })
            .unwrap();
        value
    };
    assert_eq!(latest(b"k"), None, "never written");
    put(&*engine, "t", b"k", b"1");
    assert_eq!(latest(b"k").as_deref(), Some(&b"1"[..]));

    engine
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.drop_table("t").map(drop)
        })
        .unwrap();
    assert_eq!(latest(b"k"), None, "dropped by this engine");
    put(&*engine, "t", b"k", b"2");
    assert_eq!(latest(b"k").as_deref(), Some(&b"2"[..]), "made again");

    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("DROP TABLE \"zt_t\"").unwrap();
    assert_eq!(latest(b"k"), None, "dropped by another connection");
    other
        .execute_batch(
            "CREATE TABLE \"zt_t\" (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID; \
             INSERT INTO \"zt_t\" VALUES (x'6b', x'33')",
        )
        .unwrap();
    assert_eq!(
        latest(b"k").as_deref(),
        Some(&b"3"[..]),
        "made by another connection"
    );
    assert_eq!(get(&*engine, "t", b"k").as_deref(), Some(&b"3"[..]));
}
