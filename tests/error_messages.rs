//! What the errors say: each case is checked for the kind a caller matches on and for the key
//! phrases of its message — what happened, and what to do.
//!
//! Must pass in debug and release builds alike (`cargo test --release --test error_messages`):
//! rkyv's validation errors keep their reason in both.
//!
//! One case needs a second process, made by re-running this test binary with
//! [`child_process_helper`] selected: another process holding the database.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::child::{
    NOBODY, check_as_nobody, child_command, child_role, hold_database, spawn_until_ready,
    unprivileged_checks, writes_ignore_permission_bits,
};
use rkyv::{Archive, Serialize};
use tempfile::TempDir;
use zerotable::error::{Handles, Holder};
use zerotable::{EngineErrorKind, Error, Operation, Storage, TableOptions};

/// The error of an open that must fail.
fn open_err(path: &Path) -> Error {
    match Storage::open(path) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(err) => err,
    }
}

/// Asserts `message` contains every phrase.
#[track_caller]
fn assert_says(message: &str, phrases: &[&str]) {
    for phrase in phrases {
        assert!(
            message.contains(phrase),
            "the message lacks {phrase:?}: {message}"
        );
    }
}

/// An open error: `Error::Open` naming the path, of `kind`, whose engine error explains it.
#[track_caller]
fn assert_open_error(err: &Error, path: &Path, kind: EngineErrorKind) -> String {
    let message = err.to_string();
    assert_eq!(err.engine_kind(), Some(kind), "{err:?}");
    assert_eq!(err.operation(), Some(Operation::Open), "{err:?}");
    match err {
        Error::Open { location, source } => {
            assert_eq!(location, &path.display().to_string());
            let explanation = source
                .explanation()
                .unwrap_or_else(|| panic!("the open error explains itself: {err:?}"));
            assert_says(&message, &[location, explanation]);
        }
        other => panic!("expected Error::Open, got {other:?}"),
    }
    message
}

#[test]
fn a_table_outliving_its_storage_is_named_as_the_holder() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("kept.redb");
    let storage = Storage::open(&path).unwrap();
    let users = storage.raw_table::<u64>("users").unwrap();
    drop(storage);

    let err = open_err(&path);
    let message = assert_open_error(&err, &path, EngineErrorKind::AlreadyOpen);
    assert_eq!(
        err.holder(),
        Some(Holder::ThisProcess {
            handles: Some(Handles {
                storages: 0,
                tables: 1
            })
        })
    );
    assert_says(
        &message,
        &[
            "this process has it open already",
            "1 Table still alive keeps it open",
            "its Storage was dropped",
            "tables keep their database open",
            "drop every Storage and Table",
        ],
    );

    drop(users);
    Storage::open(&path).expect("opens once the table is dropped");
}

#[test]
fn a_live_storage_and_its_tables_are_counted_and_close_is_offered() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("live.redb");
    let storage = Storage::open(&path).unwrap();
    let users = storage.raw_table::<u64>("users").unwrap();
    let events = storage.raw_table::<u64>("events").unwrap();

    let err = open_err(&path);
    let message = assert_open_error(&err, &path, EngineErrorKind::AlreadyOpen);
    let handles = Handles {
        storages: 1,
        tables: 2,
    };
    assert_eq!(
        err.holder(),
        Some(Holder::ThisProcess {
            handles: Some(handles)
        })
    );
    assert_says(
        &message,
        &[
            "this process has it open already",
            "1 Storage and 2 Tables",
            "Storage::close",
            "clone its Storage instead of opening the file again",
        ],
    );
    assert_eq!(storage.handles(), handles);
    drop((users, events, storage));
}

#[test]
fn an_engine_shared_without_storage_new_is_still_named_as_this_process() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("shared.redb");
    let engine = zerotable::RedbEngine::open(&path).unwrap();
    let storage = Storage::from_arc(std::sync::Arc::new(engine));
    let err = open_err(&path);
    let message = assert_open_error(&err, &path, EngineErrorKind::AlreadyOpen);
    assert_eq!(err.holder(), Some(Holder::ThisProcess { handles: None }));
    assert_says(
        &message,
        &[
            "this process has it open already",
            "a RedbEngine, or a Storage or Table",
        ],
    );
    drop(storage);
    Storage::open(&path).expect("opens once the engine is dropped");
}

#[test]
fn close_names_the_handles_still_alive_and_frees_the_file_when_it_succeeds() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("close.redb");
    let storage = Storage::open(&path).unwrap();
    let users = storage.raw_table::<u64>("users").unwrap();
    users.put(&1, b"ada").unwrap();

    // Only the table is left besides the handle closed.
    let err = storage.clone().close().unwrap_err();
    assert_eq!(err.operation(), Some(Operation::Close));
    match &err {
        Error::StillOpen { handles } => assert_eq!(
            *handles,
            Handles {
                storages: 1,
                tables: 1
            }
        ),
        other => panic!("expected StillOpen, got {other:?}"),
    }
    assert_says(
        &err.to_string(),
        &[
            "cannot close",
            "1 Storage and 1 Table",
            "tables keep their database open",
            "drop them",
        ],
    );
    assert!(
        Storage::open(&path).is_err(),
        "still open after the failed close"
    );

    drop(users);
    assert_eq!(
        storage.handles(),
        Handles {
            storages: 1,
            tables: 0
        }
    );
    storage.close().expect("the last handle closes");
    let reopened = Storage::open(&path).expect("the file is free after close");
    let users = reopened.raw_table::<u64>("users").unwrap();
    assert_eq!(
        users.get(&1, <[u8]>::to_vec).unwrap(),
        Some(b"ada".to_vec())
    );
}

#[test]
fn close_works_on_every_engine() {
    let storage = Storage::in_memory();
    let table = storage.raw_table::<u64>("t").unwrap();
    let err = storage.clone().close().unwrap_err();
    assert!(
        matches!(err, Error::StillOpen { handles } if handles == Handles { storages: 1, tables: 1 }),
        "{err:?}"
    );
    drop(table);
    storage.close().unwrap();
}

#[test]
fn a_file_locked_by_another_process_says_so() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("other.redb");
    let _child = spawn_until_ready("hold", &path);

    let err = open_err(&path);
    let message = assert_open_error(&err, &path, EngineErrorKind::AlreadyOpen);
    assert_eq!(err.holder(), Some(Holder::AnotherProcess));
    assert_says(
        &message,
        &[
            "another process holds the file's lock",
            "no Storage or Table of this process has it open",
            "stop the process that holds it",
        ],
    );
}

#[test]
fn a_file_that_is_not_a_database_says_so() {
    let dir = TempDir::new().unwrap();
    for (name, content) in [
        (
            "notes.txt",
            b"these are my notes, not a database\n".repeat(50),
        ),
        ("one-byte.redb", vec![0xAB]),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, &content).unwrap();
        let err = open_err(&path);
        let message = assert_open_error(&err, &path, EngineErrorKind::Corrupted);
        assert_says(
            &message,
            &["is not a redb database", "wrong file", "check the path"],
        );
        assert_eq!(fs::read(&path).unwrap(), content, "{name} left untouched");
    }
}

#[test]
fn a_damaged_database_is_told_apart_from_a_foreign_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("real.redb");
    let storage = Storage::open(&path).unwrap();
    storage
        .raw_table::<u64>("rows")
        .unwrap()
        .put_batch((0..100u64).map(|i| (i, vec![1u8; 300])))
        .unwrap();
    drop(storage);
    let bytes = fs::read(&path).unwrap();
    let cut = dir.path().join("cut.redb");
    fs::write(&cut, &bytes[..4096]).unwrap();
    let err = open_err(&cut);
    let message = assert_open_error(&err, &cut, EngineErrorKind::Corrupted);
    assert_says(&message, &["starts like a redb database but is damaged"]);
    assert_says(&message, &["check_integrity", "backup"]); // the kind's advice
}

#[test]
fn a_missing_directory_or_a_directory_given_as_the_file_says_so() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("nope").join("app.redb");
    let err = open_err(&path);
    let message = assert_open_error(&err, &path, EngineErrorKind::Io);
    assert_says(&message, &["does not exist", "create_dir_all"]);

    let err = open_err(dir.path());
    let message = assert_open_error(&err, dir.path(), EngineErrorKind::Io);
    assert_says(&message, &["is a directory", "app.redb"]);
}

/// Files and directories in `dir` that a user other than their owner (root's files seen by
/// `nobody`, or this user's files made inaccessible) cannot use, made by [`permission_cases`].
const READ_ONLY_FILE: &str = "read-only.redb";
const NO_ACCESS_FILE: &str = "no-access.redb";
const READ_ONLY_DIR: &str = "read-only-dir";
const NO_ACCESS_DIR: &str = "no-access-dir";

/// Makes the permission cases in `dir`.
fn permission_cases(dir: &Path) {
    for (name, mode) in [(READ_ONLY_FILE, 0o444), (NO_ACCESS_FILE, 0o000)] {
        let file = dir.join(name);
        drop(Storage::open(&file).unwrap());
        fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
    }
    for (name, mode) in [(READ_ONLY_DIR, 0o555), (NO_ACCESS_DIR, 0o000)] {
        let sub = dir.join(name);
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Opens each permission case in `dir` and checks what the error names (run directly, or by a
/// child as `nobody`).
fn check_permission_messages(dir: &Path) {
    let file = dir.join(READ_ONLY_FILE);
    let err = open_err(&file);
    let message = assert_open_error(&err, &file, EngineErrorKind::Io);
    assert_says(
        &message,
        &["no permission to write", "write permission on the file"],
    );

    let file = dir.join(NO_ACCESS_FILE);
    let err = open_err(&file);
    let message = assert_open_error(&err, &file, EngineErrorKind::Io);
    assert_says(&message, &["no permission to read and write", "chmod u+rw"]);

    let new = dir.join(READ_ONLY_DIR).join("new.redb");
    let err = open_err(&new);
    let message = assert_open_error(&err, &new, EngineErrorKind::Io);
    assert_says(
        &message,
        &[
            "no permission to create",
            "write permission on that directory",
        ],
    );
    assert!(!new.exists(), "nothing was created");

    let unreachable = dir.join(NO_ACCESS_DIR).join("app.redb");
    let err = open_err(&unreachable);
    let message = assert_open_error(&err, &unreachable, EngineErrorKind::Io);
    assert_says(&message, &["cannot reach", "search permission"]);
}

#[test]
fn missing_permissions_are_named() {
    let dir = TempDir::new().unwrap();
    permission_cases(dir.path());
    if !writes_ignore_permission_bits(&dir.path().join(READ_ONLY_FILE)) {
        check_permission_messages(dir.path());
        return;
    }
    // Root: permission bits do not stop this process. Check as `nobody`, in a child.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    if let Err(err) = check_as_nobody(&mut child_command("permissions", dir.path())) {
        println!("skipped: root ignores permission bits, and no child as uid {NOBODY} ({err})");
    }
}

#[derive(Archive, Serialize)]
struct Flags {
    active: bool,
    level: u32,
}

#[test]
fn a_corrupt_rkyv_value_carries_the_validators_reason_in_every_build() {
    let storage = Storage::in_memory();
    let flags = storage.rkyv_table::<u64, Flags>("flags").unwrap();
    flags
        .put(
            &1,
            &Flags {
                active: true,
                level: 3,
            },
        )
        .unwrap();
    let good = flags.get(&1, |f| f.level.to_native()).unwrap();
    assert_eq!(good, Some(3));

    // A bool that is neither 0 nor 1, written beneath the typed API.
    let mut bad = rkyv::to_bytes::<rkyv::rancor::BoxedError>(&Flags {
        active: true,
        level: 3,
    })
    .unwrap()
    .to_vec();
    let bool_at = bad.iter().position(|&b| b == 1).unwrap();
    bad[bool_at] = 7;
    storage
        .write(|tx| tx.engine_txn().put("flags", &2u64.to_be_bytes(), &bad))
        .unwrap();

    let err = flags.get(&2, |_| ()).unwrap_err();
    assert!(
        matches!(&err, Error::CorruptValue { table, format: "rkyv", .. } if table == "flags"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        !message.contains("without error information"),
        "the reason was lost: {message}"
    );
    assert_says(&message, &["bool", "rewrite the entry", "delete"]);
    if let Error::CorruptValue { source, .. } = &err {
        assert!(source.to_string().contains("bool"), "{source}");
    }

    // The same reason when already-archived bytes are refused on put.
    let borrowed = storage.rkyv_borrowed_table::<u64, Flags>("flags").unwrap();
    let err = borrowed.put(&3, &bad).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }), "{err:?}");
    let message = err.to_string();
    assert!(!message.contains("without error information"), "{message}");
    assert_says(&message, &["bool"]);
}

#[test]
fn a_nested_write_names_the_fix() {
    let storage = Storage::in_memory();
    let users = storage.raw_table::<u64>("users").unwrap();
    let err = storage
        .write(|_tx| users.put(&1, b"auto-commit inside a transaction"))
        .unwrap_err();
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::NestedWrite));
    assert_says(
        &err.to_string(),
        &[
            "already holds a write transaction",
            "`_in` methods",
            "table.put_in(tx, ..)",
            "open tables before starting the transaction",
        ],
    );

    let tx = storage.begin_write().unwrap();
    let err = storage.raw_table::<u64>("opened_late").unwrap_err();
    assert_eq!(err.engine_kind(), Some(EngineErrorKind::NestedWrite));
    assert_says(&err.to_string(), &["open tables before starting"]);
    drop(tx);
}

#[test]
fn index_errors_name_the_index_the_key_and_the_fix() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("indexed.redb");
    let storage = Storage::open(&path).unwrap();
    let accounts = storage.raw_table::<u64>("accounts").unwrap();
    let by_login = accounts
        .unique_index("by_login", |v: &[u8]| {
            String::from_utf8_lossy(v).into_owned()
        })
        .unwrap();
    accounts.put(&1, b"ada").unwrap();
    let err = accounts.put(&2, b"ada").unwrap_err();
    assert!(matches!(&err, Error::UniqueViolation { index, .. } if index == "by_login"));
    assert_eq!(err.table(), Some("accounts"));
    assert_says(
        &err.to_string(),
        &[
            "unique index `by_login` of table `accounts`",
            "key \"ada\"",
            "row 0x0000000000000001",
            "nothing was written",
            "update or delete that row first",
        ],
    );
    drop((by_login, accounts, storage));

    // Reopened: writes wait for the index to be defined again.
    let storage = Storage::open(&path).unwrap();
    let accounts = storage.raw_table::<u64>("accounts").unwrap();
    let err = accounts.put(&3, b"grace").unwrap_err();
    assert!(matches!(
        &err,
        Error::Index {
            kind: zerotable::IndexErrorKind::NotDefined,
            ..
        }
    ));
    assert_says(
        &err.to_string(),
        &[
            "index `by_login` of table `accounts`",
            "not defined in this process",
            "define it (Table::unique_index) before writing",
            "Storage::drop_index",
        ],
    );
    let err = accounts
        .index("by_login", |v: &[u8]| Some(v.len() as u32))
        .unwrap_err();
    assert_says(
        &err.to_string(),
        &[
            "defined as a unique index by String, not an index by u32",
            "drop it",
        ],
    );
}

#[test]
fn a_table_type_mismatch_points_to_versions_and_migration() {
    let storage = Storage::in_memory();
    drop(storage.raw_table::<u64>("events").unwrap());
    let err = storage.raw_table::<String>("events").unwrap_err();
    assert!(
        matches!(&err, Error::TableTypeMismatch { table, .. } if table == "events"),
        "{err:?}"
    );
    assert_says(
        &err.to_string(),
        &[
            "was created as [key=u64",
            "not [key=String",
            "open it with its original types",
            "migrate it",
            "TableOptions::version",
            "drop_table",
        ],
    );

    drop(storage.rkyv_table::<u64, Flags>("flags").unwrap());
    let err = storage
        .table_with::<u64, Flags, _>(
            "flags",
            zerotable::RkyvSerializer::new(),
            TableOptions::default().version(1),
        )
        .unwrap_err();
    assert_says(&err.to_string(), &["version=0", "version=1", "migrate it"]);
}

/// Not a test of its own: the body of the child processes above, selected by the role
/// [`common::child::child_command`] puts in the environment. Without it (a normal run) it does
/// nothing.
#[test]
fn child_process_helper() {
    let Some((role, path)) = child_role() else {
        return;
    };
    match role.as_str() {
        // Hold the database until the parent closes stdin or kills this process.
        "hold" => hold_database(&path, b"child"),
        "permissions" => unprivileged_checks(&path.join(READ_ONLY_FILE), || {
            check_permission_messages(&path);
        }),
        other => panic!("unknown child role {other:?}"),
    }
}
