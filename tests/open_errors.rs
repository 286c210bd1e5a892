//! `Storage::open` on files it cannot use: each case must come back as a typed
//! [`Error::Open`] naming the path and keeping the engine's error as its source — not a panic,
//! not a hang, and not a damaged file.
//!
//! Two cases need a second process, made by re-running this test binary with
//! [`child_process_helper`] selected and its role in the environment: holding a database open
//! (another process has the file), and opening as an unprivileged user (read-only files, when
//! the tests run as root, for whom permission bits do not stop writes).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;
use std::{fs, io};

use common::child::{
    NOBODY, check_as_nobody, child_command, child_role, hold_database, spawn_until_ready,
    unprivileged_checks, within, writes_ignore_permission_bits,
};
use tempfile::TempDir;
use zerotable::{EngineError, EngineErrorKind, Error, Operation, Storage};

/// A read-only directory for the unprivileged child (its path, in
/// [`common::child::CHILD_PATH`], is the read-only database file).
const CHILD_DIR: &str = "ZEROTABLE_OPEN_ERRORS_DIR";

/// `Storage::open`, with a panic turned into a test failure that says so.
fn open(path: &Path) -> zerotable::Result<Storage> {
    catch_unwind(AssertUnwindSafe(|| Storage::open(path)))
        .unwrap_or_else(|_| panic!("Storage::open panicked on {}", path.display()))
}

/// Asserts `result` is `Error::Open` for `path` whose message shows the path, the first cause
/// and, for kinds that have one, the hint; returns the engine's error behind it.
fn open_error(result: zerotable::Result<Storage>, path: &Path) -> EngineError {
    let err = match result {
        Ok(_) => panic!("{} opened", path.display()),
        Err(err) => err,
    };
    let message = err.to_string();
    assert_eq!(err.operation(), Some(Operation::Open), "{err:?}");
    match err {
        Error::Open {
            location: reported,
            source,
        } => {
            assert_eq!(
                reported,
                path.display().to_string(),
                "the error names the path opened"
            );
            assert!(
                message.contains(&reported),
                "the message names the path: {message}"
            );
            assert!(
                message.contains(&source.to_string()),
                "the message shows the cause {source}: {message}"
            );
            assert!(
                message.contains(source.kind().describe()),
                "the message names the kind: {message}"
            );
            if let Some(hint) = source.kind().hint() {
                assert!(
                    message.contains(hint),
                    "the message has the hint: {message}"
                );
            }
            source
        }
        other => panic!("expected Error::Open, got {other:?}"),
    }
}

/// The redb error behind an engine error.
fn redb_cause(err: &EngineError) -> &redb::Error {
    err.cause()
        .and_then(|cause| cause.downcast_ref::<redb::Error>())
        .unwrap_or_else(|| panic!("the cause of the open error is a redb::Error: {err:?}"))
}

/// The kind of the io error behind an engine error whose cause is `redb::Error::Io`.
fn io_kind(err: &EngineError) -> Option<io::ErrorKind> {
    match redb_cause(err) {
        redb::Error::Io(io) => Some(io.kind()),
        _ => None,
    }
}

/// A real database file holding a few hundred rows, and its bytes.
fn real_database(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join("real.redb");
    let storage = Storage::open(&path).unwrap();
    let table = storage.raw_table::<u64>("rows").unwrap();
    table
        .put_batch((0..200u64).map(|i| (i, vec![i as u8; 500])))
        .unwrap();
    drop(table);
    drop(storage);
    let bytes = fs::read(&path).unwrap();
    (path, bytes)
}

/// Deterministic bytes that are no database (xorshift).
fn garbage(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Writes `content` to a file in `dir`, opens it, and checks the refusal left it untouched.
fn refused(dir: &Path, name: &str, content: &[u8]) -> EngineError {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    let err = open_error(open(&path), &path);
    assert!(
        fs::read(&path).unwrap() == content,
        "{name}: the refused open changed the file"
    );
    err
}

/// A file that is not a redb file (garbage, text, one byte) is refused with `Error::Open`, and
/// the refusal leaves it untouched.
#[test]
fn a_file_of_garbage_bytes_is_refused_with_error_open_and_left_untouched() {
    let dir = TempDir::new().unwrap();
    for (name, content) in [
        ("garbage.redb", garbage(64 * 1024)),
        ("text.redb", b"this is not a database\n".repeat(100)),
        ("one-byte.redb", vec![0xFF]),
    ] {
        let err = refused(dir.path(), name, &content);
        // redb checks its magic number first: not a redb file at all. redb reports that as
        // invalid data (an `io::Error`), which zerotable classifies as a damaged file.
        assert_eq!(err.kind(), EngineErrorKind::Corrupted, "{name}: {err:?}");
        assert_eq!(
            io_kind(&err),
            Some(io::ErrorKind::InvalidData),
            "{name}: {err:?}"
        );
    }
}

/// A database file cut short (inside the header, or shorter than its layout) is refused with
/// `Error::Open` and left untouched.
#[test]
fn a_truncated_database_file_is_refused_with_error_open_and_left_untouched() {
    let dir = TempDir::new().unwrap();
    let (_, bytes) = real_database(dir.path());
    // The first 100 bytes: the magic number, then the header cut short.
    let err = refused(dir.path(), "header-100.redb", &bytes[..100]);
    // redb reads the header with a short read: an I/O error (`UnexpectedEof`) that means the
    // file is damaged, so kind Corrupted (its hint points at the integrity check, not the disk).
    assert_eq!(err.kind(), EngineErrorKind::Corrupted, "{err:?}");
    assert_eq!(io_kind(&err), Some(io::ErrorKind::UnexpectedEof), "{err:?}");
    // A whole header, but the file shorter than the layout it describes.
    for (name, len) in [("page.redb", 4096), ("half.redb", bytes.len() / 2)] {
        let err = refused(dir.path(), name, &bytes[..len]);
        assert_eq!(err.kind(), EngineErrorKind::Corrupted, "{name}: {err:?}");
        assert!(
            matches!(redb_cause(&err), redb::Error::Corrupted(_)),
            "{name}: {err:?}"
        );
    }
    // The magic number and then nonsense.
    let mut magic_then_garbage = bytes[..9].to_vec();
    magic_then_garbage.extend(garbage(64 * 1024));
    let err = refused(dir.path(), "magic.redb", &magic_then_garbage);
    assert_eq!(err.kind(), EngineErrorKind::Corrupted, "{err:?}");
    assert!(
        matches!(redb_cause(&err), redb::Error::Corrupted(_)),
        "{err:?}"
    );
}

/// redb 4.5 panics (`unreachable!()` in `Btree::get_helper`, reached from `Database::new` →
/// `get_allocator_state_table`) on a file whose header is intact and says it was closed cleanly,
/// but whose pages are zeroed; `Storage::open` turns that into `Error::Open` of kind
/// `Corrupted`.
#[test]
fn a_file_with_an_intact_header_and_zeroed_pages_is_refused_not_a_panic() {
    let dir = TempDir::new().unwrap();
    let (_, bytes) = real_database(dir.path());
    let mut zeroed = bytes[..512].to_vec();
    zeroed.resize(bytes.len(), 0);
    let err = refused(dir.path(), "zeroed.redb", &zeroed);
    assert_eq!(err.kind(), EngineErrorKind::Corrupted, "{err:?}");
}

/// An empty file is not an error: it becomes a new database.
#[test]
fn an_empty_file_is_not_an_error_but_becomes_a_new_database() {
    // redb's documented rule: a missing or empty file is initialized.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("empty.redb");
    fs::write(&path, b"").unwrap();
    let storage = open(&path).expect("an empty file becomes a database");
    let table = storage.raw_table::<u64>("rows").unwrap();
    table.put(&1, b"one").unwrap();
    assert_eq!(table.len().unwrap(), 1);
}

/// A path in a directory that does not exist is refused with an I/O error (`NotFound`), and
/// nothing is created.
#[test]
fn a_path_in_a_missing_directory_is_refused_with_error_open_not_found() {
    let dir = TempDir::new().unwrap();
    let path = dir
        .path()
        .join("no")
        .join("such")
        .join("dir")
        .join("db.redb");
    let err = open_error(open(&path), &path);
    assert_eq!(err.kind(), EngineErrorKind::Io, "{err:?}");
    assert_eq!(io_kind(&err), Some(io::ErrorKind::NotFound), "{err:?}");
    assert!(!dir.path().join("no").exists(), "nothing was created");
}

/// A directory given as the database file is refused with an I/O error.
#[test]
fn a_directory_given_as_the_file_is_refused_with_error_open() {
    let dir = TempDir::new().unwrap();
    let err = open_error(open(dir.path()), dir.path());
    assert_eq!(err.kind(), EngineErrorKind::Io, "{err:?}");
    assert!(matches!(redb_cause(&err), redb::Error::Io(_)), "{err:?}");
}

/// A second open of a file this process holds is refused with `AlreadyOpen`, without
/// disturbing the first handle; once that is dropped the file opens.
#[test]
fn the_same_file_opened_twice_in_one_process_is_refused_with_database_already_open() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("twice.redb");
    let first = open(&path).unwrap();
    let table = first.raw_table::<u64>("rows").unwrap();
    table.put(&1, b"first").unwrap();

    let err = open_error(open(&path), &path);
    assert_eq!(err.kind(), EngineErrorKind::AlreadyOpen, "{err:?}");
    assert!(
        matches!(redb_cause(&err), redb::Error::DatabaseAlreadyOpen),
        "{err:?}"
    );
    // The refusal did not disturb the first handle.
    table.put(&2, b"still works").unwrap();
    assert_eq!(table.len().unwrap(), 2);

    drop(table);
    drop(first);
    let again = open(&path).expect("open once the first handle is gone");
    assert_eq!(again.raw_table::<u64>("rows").unwrap().len().unwrap(), 2);
}

/// A `Table` keeps its database open after the `Storage` it came from is dropped: opening the
/// file again is refused with `AlreadyOpen`, and the message says that tables keep the database
/// open. Once the table is dropped too, the file opens.
#[test]
fn a_table_outliving_its_storage_keeps_the_file_open_and_the_refusal_says_so() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("kept.redb");
    let storage = open(&path).unwrap();
    let table = storage.raw_table::<u64>("rows").unwrap();
    table.put(&1, b"kept").unwrap();
    drop(storage);

    let refused = open(&path);
    let message = match &refused {
        Ok(_) => panic!("opened while a table holds the file"),
        Err(err) => err.to_string(),
    };
    let err = open_error(refused, &path);
    assert_eq!(err.kind(), EngineErrorKind::AlreadyOpen, "{err:?}");
    assert!(
        matches!(redb_cause(&err), redb::Error::DatabaseAlreadyOpen),
        "{err:?}"
    );
    assert!(
        message.contains("database already open"),
        "the message names the cause: {message}"
    );
    assert!(
        message.contains("tables keep their database open"),
        "the message says tables keep the database open: {message}"
    );
    // The table still works: it holds the database, not a dead handle.
    table.put(&2, b"still works").unwrap();
    assert_eq!(table.len().unwrap(), 2);

    drop(table);
    let again = open(&path).expect("open once the table is gone");
    assert_eq!(again.raw_table::<u64>("rows").unwrap().len().unwrap(), 2);
}

/// A file another process holds is refused at once (no hang) with `AlreadyOpen`; once that
/// process is killed the file opens with its acknowledged commit.
#[test]
fn a_file_held_open_by_another_process_is_refused_at_once_and_opens_after_it_dies() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("shared.redb");
    // Wait for the child to have the database open (and a commit acknowledged).
    let mut child = spawn_until_ready("hold", &path);

    let opened = {
        let path = path.clone();
        within(Duration::from_secs(20), move || open(&path).map(drop))
    };
    let result = opened.expect("Storage::open hung on a file held by another process");
    let err = open_error(result.map(|()| Storage::in_memory()), &path);
    assert_eq!(err.kind(), EngineErrorKind::AlreadyOpen, "{err:?}");
    assert!(
        matches!(redb_cause(&err), redb::Error::DatabaseAlreadyOpen),
        "{err:?}"
    );

    // Killed, not closed: the lock goes with the process, the acknowledged commit stays.
    child.0.kill().expect("kill the child");
    let status = child.0.wait().expect("reap the child");
    assert!(!status.success(), "the child was killed");
    let storage = open(&path).expect("open after the holder died");
    let table = storage.raw_table::<u64>("rows").unwrap();
    assert_eq!(
        table.get(&1, <[u8]>::to_vec).unwrap(),
        Some(b"written by the child".to_vec())
    );
}

/// The unprivileged checks, run directly or by the child as `nobody`: the read-only file and
/// a new file in the read-only directory are both refused with `Error::Open`.
fn check_read_only(file: &Path, dir: &Path) {
    let before = fs::read(file).unwrap();
    let err = open_error(open(file), file);
    assert_eq!(err.kind(), EngineErrorKind::Io, "{err:?}");
    assert_eq!(
        io_kind(&err),
        Some(io::ErrorKind::PermissionDenied),
        "{err:?}"
    );
    assert!(
        fs::read(file).unwrap() == before,
        "the refused open changed the file"
    );

    let new = dir.join("new.redb");
    let err = open_error(open(&new), &new);
    assert_eq!(err.kind(), EngineErrorKind::Io, "{err:?}");
    assert_eq!(
        io_kind(&err),
        Some(io::ErrorKind::PermissionDenied),
        "{err:?}"
    );
    assert!(!new.exists(), "nothing was created");
}

/// A read-only file, and a new file in a read-only directory, are refused with an I/O error
/// (`PermissionDenied`), changing and creating nothing.
#[test]
fn a_read_only_file_or_directory_is_refused_with_error_open_permission_denied() {
    let dir = TempDir::new().unwrap();
    let (file, _) = real_database(dir.path());
    let read_only_dir = dir.path().join("read-only");
    fs::create_dir(&read_only_dir).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o444)).unwrap();
    fs::set_permissions(&read_only_dir, fs::Permissions::from_mode(0o555)).unwrap();

    if !writes_ignore_permission_bits(&file) {
        check_read_only(&file, &read_only_dir);
        return;
    }

    // Root: permission bits do not stop this process, and Storage::open succeeds on the 0o444
    // file (it writes to it). Check what an ordinary user gets, as `nobody` in a child.
    let opened = open(&file).map(drop);
    println!(
        "note: this process ignores permission bits (root?): Storage::open on a 0o444 file \
         returned {opened:?}; checking as uid {NOBODY} in a child process"
    );
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = child_command("read-only", &file);
    command.env(CHILD_DIR, &read_only_dir);
    if let Err(err) = check_as_nobody(&mut command) {
        println!("skipped: cannot run a child as uid {NOBODY} ({err}), so root's view only");
    }
}

/// Not a test of its own: the body of the child processes above, selected by the role
/// [`common::child::child_command`] puts in the environment. Without it (a normal test run) it
/// does nothing.
#[test]
fn child_process_helper() {
    let Some((role, path)) = child_role() else {
        return;
    };
    match role.as_str() {
        // Hold the database until the parent closes stdin (or kills this process).
        "hold" => hold_database(&path, b"written by the child"),
        "read-only" => {
            let dir = PathBuf::from(std::env::var_os(CHILD_DIR).expect("the read-only dir"));
            unprivileged_checks(&path, || check_read_only(&path, &dir));
        }
        other => panic!("unknown child role {other:?}"),
    }
}
