//! Storage faults under the redb engine: a [`FaultyBackend`] wraps redb's own file (or memory)
//! backend and fails writes, fsyncs or file growth on command, so the tests can check what
//! zerotable promises when the disk misbehaves: a typed error naming the step that failed (and
//! the table, for a table's own writes), nothing of the failed transaction visible, every
//! acknowledged commit intact — in the same `Storage` while it still reads, and after reopening
//! the file with a healthy backend.
//!
//! What redb 4.5 does after an I/O error, as these tests find (and pin down):
//!
//! - It latches the failure: once a backend `write`, `sync_data` or `set_len` has failed, every
//!   later write through that database fails with `redb::Error::PreviousIo` — the cause of an
//!   `Error::Engine` of kind `Io`, failing `begin_write` — even after the fault is gone. Reads keep being served from its cache and
//!   show exactly the acknowledged commits. The way back is to drop every handle (the `Storage`
//!   and its tables) and open the file again; that open repairs it, and it then holds every
//!   acknowledged commit and none of the failed one, and passes `check_integrity`.
//! - A failed fsync is not a rollback: the commit's header was already written when the fsync
//!   failed, and after reopening the "failed" commit is there (atomically, all of it). A caller
//!   that got an error from a commit must treat its outcome as unknown, not as "nothing written":
//!   zerotable reports every commit that failed with an I/O error as `CommitOutcomeUnknown`.
//! - A full disk surfaces where redb grows the file: in the middle of a transaction (an insert)
//!   or at its commit, as `io::ErrorKind::StorageFull`, and latches like any other I/O error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use redb::backends::{FileBackend, InMemoryBackend};
use redb::{BackendError, StorageBackend};
use tempfile::TempDir;
use zerotable::{
    Durability, EngineError, EngineErrorKind, Error, Operation, RawTable, RedbEngine, Storage,
};

// ---- the faulty backend ----

/// Whether a fault fires once or keeps firing until cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    OneShot,
    Persistent,
}

/// The payload of every injected `io::Error`, so a test can tell its own fault from a real one.
#[derive(Debug)]
struct Injected(&'static str);

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "injected fault: {}", self.0)
    }
}

impl std::error::Error for Injected {}

fn injected(kind: io::ErrorKind, what: &'static str) -> io::Error {
    io::Error::new(kind, Injected(what))
}

/// Fails the Nth call of one backend method (counted from arming), once or from then on.
#[derive(Debug, Default)]
struct Trigger {
    /// Calls left before the failing one, counting it; 0 = disarmed.
    countdown: AtomicU64,
    persistent: AtomicBool,
    /// A persistent trigger has fired: every later call fails until `clear`.
    firing: AtomicBool,
    calls: AtomicU64,
    injected: AtomicU64,
}

impl Trigger {
    fn arm(&self, nth: u64, mode: Mode) {
        assert!(nth > 0, "calls are counted from 1");
        self.firing.store(false, SeqCst);
        self.persistent.store(mode == Mode::Persistent, SeqCst);
        self.countdown.store(nth, SeqCst);
    }

    fn clear(&self) {
        self.countdown.store(0, SeqCst);
        self.firing.store(false, SeqCst);
    }

    /// Counts a call; whether it must fail.
    fn fires(&self) -> bool {
        self.calls.fetch_add(1, SeqCst);
        let due = self.firing.load(SeqCst)
            || self
                .countdown
                .fetch_update(SeqCst, SeqCst, |left| left.checked_sub(1))
                .is_ok_and(|left| left == 1);
        if due {
            if self.persistent.load(SeqCst) {
                self.firing.store(true, SeqCst);
            }
            self.injected.fetch_add(1, SeqCst);
        }
        due
    }
}

/// The faults of one backend, shared with the test that steers them.
#[derive(Debug)]
struct Faults {
    write: Trigger,
    sync: Trigger,
    /// "Disk full": the storage may not grow past this many bytes (`u64::MAX`: no limit).
    space_limit: AtomicU64,
    space_persistent: AtomicBool,
    space_injected: AtomicU64,
}

impl Faults {
    fn new() -> Arc<Self> {
        Arc::new(Faults {
            write: Trigger::default(),
            sync: Trigger::default(),
            space_limit: AtomicU64::new(u64::MAX),
            space_persistent: AtomicBool::new(false),
            space_injected: AtomicU64::new(0),
        })
    }

    /// Fails the `nth` `write` call from now.
    fn fail_write(&self, nth: u64, mode: Mode) {
        self.write.arm(nth, mode);
    }

    /// Fails the `nth` `sync_data` (fsync) call from now.
    fn fail_sync(&self, nth: u64, mode: Mode) {
        self.sync.arm(nth, mode);
    }

    /// Refuses to grow the storage past `bytes`; a one-shot limit is lifted once it has refused.
    fn limit_space(&self, bytes: u64, mode: Mode) {
        self.space_persistent
            .store(mode == Mode::Persistent, SeqCst);
        self.space_limit.store(bytes, SeqCst);
    }

    fn clear(&self) {
        self.write.clear();
        self.sync.clear();
        self.space_limit.store(u64::MAX, SeqCst);
    }

    fn injected(&self) -> u64 {
        self.write.injected.load(SeqCst)
            + self.sync.injected.load(SeqCst)
            + self.space_injected.load(SeqCst)
    }

    fn check_space(&self, end: u64) -> io::Result<()> {
        if end <= self.space_limit.load(SeqCst) {
            return Ok(());
        }
        if !self.space_persistent.load(SeqCst) {
            self.space_limit.store(u64::MAX, SeqCst);
        }
        self.space_injected.fetch_add(1, SeqCst);
        Err(injected(
            io::ErrorKind::StorageFull,
            "no space left on device",
        ))
    }
}

/// A redb storage backend that passes everything to `inner` unless `faults` says otherwise.
#[derive(Debug)]
struct FaultyBackend<B> {
    inner: B,
    faults: Arc<Faults>,
}

impl<B: StorageBackend> StorageBackend for FaultyBackend<B> {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.faults.check_space(len)?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        if self.faults.sync.fires() {
            return Err(injected(io::ErrorKind::Other, "fsync failed (EIO)"));
        }
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.faults.write.fires() {
            return Err(injected(io::ErrorKind::Other, "write failed (EIO)"));
        }
        self.faults.check_space(offset + data.len() as u64)?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// A temporary directory for database files. The faults here are simulated, so nothing needs the
/// operating system's durability: on Linux the files go to `/dev/shm` (tmpfs), where an fsync is
/// free, which keeps the sweeps (hundreds of commits and reopenings each) fast.
fn scratch_dir() -> TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = TempDir::new_in(shm)
    {
        return dir;
    }
    TempDir::new().expect("temp dir")
}

fn storage_over(backend: impl StorageBackend) -> Storage {
    let db = redb::Database::builder()
        .create_with_backend(backend)
        .expect("a healthy backend opens");
    Storage::new(RedbEngine::from_redb(db, Durability::Immediate))
}

/// A storage on the redb file at `path`, through a faulty backend.
fn faulty_file_storage(path: &Path, faults: &Arc<Faults>) -> Storage {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .expect("open the database file");
    storage_over(FaultyBackend {
        inner: FileBackend::new(file).expect("file backend"),
        faults: Arc::clone(faults),
    })
}

/// A storage in memory, through a faulty backend.
fn faulty_memory_storage(faults: &Arc<Faults>) -> Storage {
    storage_over(FaultyBackend {
        inner: InMemoryBackend::new(),
        faults: Arc::clone(faults),
    })
}

// ---- what an error must look like ----

/// The engine error inside a zerotable error, if it is one.
fn engine_error(err: &Error) -> Option<&EngineError> {
    match err {
        Error::Engine { source, .. } | Error::Open { source, .. } => Some(source),
        _ => None,
    }
}

/// The redb error behind a zerotable error (the engine error's cause), if any.
fn redb_error(err: &Error) -> Option<&redb::Error> {
    engine_error(err)?.cause()?.downcast_ref::<redb::Error>()
}

/// The io error behind a zerotable error, reaching through `redb::Error::Io` (redb's errors do
/// not report their io error as `source()`).
fn io_error(err: &Error) -> Option<&io::Error> {
    let cause = engine_error(err)?.cause()?;
    match cause.downcast_ref::<redb::Error>() {
        Some(redb::Error::Io(io)) => Some(io),
        Some(_) => None,
        None => cause.downcast_ref::<io::Error>(),
    }
}

/// The engine kind an I/O failure must have: a commit that failed with an I/O error may or
/// may not have reached the disk (`CommitOutcomeUnknown`); any other step failed before
/// anything was committed (`Io`).
fn io_failure_kind(operation: Operation) -> EngineErrorKind {
    match operation {
        Operation::Commit => EngineErrorKind::CommitOutcomeUnknown,
        _ => EngineErrorKind::Io,
    }
}

/// Asserts `err` is `Error::Engine` carrying one of our injected io errors of `kind`, with the
/// engine kind its operation calls for.
fn assert_injected_io(err: &Error, kind: io::ErrorKind) {
    let Error::Engine { operation, .. } = err else {
        panic!("expected Error::Engine, got {err:?}")
    };
    assert!(
        matches!(redb_error(err), Some(redb::Error::Io(_))),
        "expected a redb::Error::Io cause, got {err:?}"
    );
    let io = io_error(err).expect("an io::Error behind the redb error");
    assert_eq!(io.kind(), kind, "{err:?}");
    assert!(
        io.get_ref().is_some_and(|e| e.is::<Injected>()),
        "not our injected fault: {io:?}"
    );
    assert_eq!(
        err.engine_kind(),
        Some(io_failure_kind(*operation)),
        "{err:?}"
    );
}

/// Whether `err` is redb refusing to work after an earlier I/O error (`PreviousIo`), reported
/// as an `Error::Engine` of kind `Io`.
fn is_previous_io(err: &Error) -> bool {
    matches!(err, Error::Engine { .. })
        && matches!(redb_error(err), Some(redb::Error::PreviousIo))
        && err.engine_kind() == Some(EngineErrorKind::Io)
}

// ---- a workload and its model ----

/// What the tables should hold: table name → key → value.
type Model = BTreeMap<&'static str, BTreeMap<u64, Vec<u8>>>;

struct Tables {
    accounts: RawTable<u64>,
    log: RawTable<u64>,
}

impl Tables {
    fn open(storage: &Storage) -> zerotable::Result<Self> {
        Ok(Tables {
            accounts: storage.raw_table("accounts")?,
            log: storage.raw_table("log")?,
        })
    }

    fn contents(&self) -> zerotable::Result<Model> {
        let mut model = Model::new();
        for (name, table) in [("accounts", &self.accounts), ("log", &self.log)] {
            let rows = table.filter_map(|key, value| Some((*key, value.to_vec())))?;
            model.insert(name, rows.into_iter().collect());
        }
        Ok(model)
    }
}

fn empty_model() -> Model {
    Model::from([("accounts", BTreeMap::new()), ("log", BTreeMap::new())])
}

fn table<'m>(model: &'m mut Model, name: &str) -> &'m mut BTreeMap<u64, Vec<u8>> {
    model.get_mut(name).expect("a table of the model")
}

/// A deterministic value of `len` bytes.
fn value(tag: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (tag as usize * 31 + i) as u8).collect()
}

/// What `update` makes of a value: one byte appended (a fresh value if absent).
fn updated(old: Option<&[u8]>) -> Vec<u8> {
    let mut new = old.map(<[u8]>::to_vec).unwrap_or_default();
    new.push(0xAB);
    new
}

/// One operation of a workload: each is one transaction, acknowledged when it returns `Ok`.
#[derive(Clone, Debug)]
enum Op {
    /// `accounts.put`
    Put(u64, Vec<u8>),
    /// `log.put_batch`
    Batch(Vec<(u64, Vec<u8>)>),
    /// `storage.write` across both tables: put an account, put a log entry, delete a log entry.
    Transaction {
        account: (u64, Vec<u8>),
        entry: (u64, Vec<u8>),
        forget: u64,
    },
    /// `accounts.update`, appending a byte.
    Update(u64),
    /// `accounts.delete`
    Delete(u64),
    /// `storage.compact` (changes no contents).
    Compact,
}

impl Op {
    /// Asserts that `err`, this operation's failure, names a step this operation takes and the
    /// table that step concerns: auto-commit table writes name their table, whether the insert
    /// or the commit failed; a `storage.write` names the table of a failed put or delete but
    /// none for its commit, which spans both; compaction concerns no table.
    fn assert_reported(&self, err: &Error) {
        let operation = err.operation().expect("an engine error has an operation");
        let table = err.table();
        let expected: &[(Operation, Option<&str>)] = match self {
            Op::Put(..) | Op::Update(_) => &[
                (Operation::Put, Some("accounts")),
                (Operation::Commit, Some("accounts")),
            ],
            Op::Delete(_) => &[
                (Operation::Delete, Some("accounts")),
                (Operation::Commit, Some("accounts")),
            ],
            Op::Batch(_) => &[
                (Operation::Put, Some("log")),
                (Operation::Commit, Some("log")),
            ],
            Op::Transaction { .. } => &[
                (Operation::Put, Some("accounts")),
                (Operation::Put, Some("log")),
                (Operation::Delete, Some("log")),
                (Operation::Commit, None),
            ],
            Op::Compact => &[(Operation::Compact, None)],
        };
        assert!(
            expected.contains(&(operation, table)),
            "a failed {} reported {operation} on {table:?}, expected one of {expected:?}: {err}",
            self.kind()
        );
    }

    fn kind(&self) -> &'static str {
        match self {
            Op::Put(..) => "put",
            Op::Batch(_) => "put_batch",
            Op::Transaction { .. } => "write",
            Op::Update(_) => "update",
            Op::Delete(_) => "delete",
            Op::Compact => "compact",
        }
    }

    fn run(&self, storage: &Storage, tables: &Tables) -> zerotable::Result<()> {
        match self {
            Op::Put(key, value) => tables.accounts.put(key, value),
            Op::Batch(rows) => tables
                .log
                .put_batch(rows.iter().map(|(key, value)| (*key, &value[..]))),
            Op::Transaction {
                account,
                entry,
                forget,
            } => storage.write(|tx| {
                tables.accounts.put_in(tx, &account.0, &account.1)?;
                tables.log.put_in(tx, &entry.0, &entry.1)?;
                tables.log.delete_in(tx, forget)?;
                Ok(())
            }),
            Op::Update(key) => tables
                .accounts
                .update(key, |old| Some(updated(old)))
                .map(drop),
            Op::Delete(key) => tables.accounts.delete(key).map(drop),
            Op::Compact => storage.compact().map(drop),
        }
    }

    fn apply(&self, model: &mut Model) {
        match self {
            Op::Put(key, value) => {
                table(model, "accounts").insert(*key, value.clone());
            }
            Op::Batch(rows) => table(model, "log").extend(rows.iter().cloned()),
            Op::Transaction {
                account,
                entry,
                forget,
            } => {
                table(model, "accounts").insert(account.0, account.1.clone());
                let log = table(model, "log");
                log.insert(entry.0, entry.1.clone());
                log.remove(forget);
            }
            Op::Update(key) => {
                let accounts = table(model, "accounts");
                let new = updated(accounts.get(key).map(Vec::as_slice));
                accounts.insert(*key, new);
            }
            Op::Delete(key) => {
                table(model, "accounts").remove(key);
            }
            Op::Compact => {}
        }
    }
}

/// Small transactions cycling through every kind of write: about six backend writes and one
/// fsync per commit.
fn workload(ops: u64) -> Vec<Op> {
    (0..ops)
        .map(|i| match i % 5 {
            0 => Op::Put(i, value(i, 300)),
            1 => Op::Batch((0..4).map(|j| (i * 10 + j, value(i + j, 200))).collect()),
            2 => Op::Transaction {
                account: (i, value(i, 250)),
                entry: (i * 10, value(i, 120)),
                forget: (i - 1) * 10 + 1,
            },
            3 => Op::Update(i - 3),
            _ => Op::Delete(i - 4),
        })
        .collect()
}

/// Transactions of kilobytes each, which make redb grow the file every few commits.
fn growing_workload(ops: u64) -> Vec<Op> {
    let base = |i: u64| 100_000 + i * 100;
    (0..ops)
        .map(|i| match i % 4 {
            0 => Op::Batch((0..20).map(|j| (base(i) + j, value(i + j, 1000))).collect()),
            1 => Op::Put(base(i), value(i, 5000)),
            2 => Op::Transaction {
                account: (base(i), value(i, 3000)),
                entry: (base(i), value(i, 3000)),
                forget: base(i - 2) + 1,
            },
            _ => Op::Update(base(i - 2)),
        })
        .collect()
}

// ---- one scenario: run until a fault, then check everything ----

/// What a failed commit may have left in the file, as seen after reopening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailedCommit {
    /// Nothing: the fault hit before the commit's header reached the file.
    Absent,
    /// All of it or none of it. A failed fsync comes after the commit's header was written; the
    /// operating system may still hold that write, so the caller cannot know the outcome.
    AllOrNothing,
}

/// Counts over the scenarios of one test, for its summary line.
#[derive(Debug, Default)]
struct Tally {
    runs: u64,
    faults_injected: u64,
    commits_acknowledged: u64,
    failed_operations: u64,
    /// Where faults hit: the failing operation's index in its workload, its kind, zerotable's
    /// name for what failed, and how many backend writes and fsyncs that operation had issued.
    failure_points: BTreeSet<(usize, &'static str, &'static str, u64, u64)>,
    failed_kinds: BTreeSet<&'static str>,
    /// What the errors reported: the failing operation's kind, zerotable's name for the step
    /// that failed, the table named, and the engine error kind.
    failed_steps: BTreeSet<(&'static str, &'static str, Option<String>, &'static str)>,
    same_storage_reads_ok: u64,
    same_storage_reads_previous_io: u64,
    writes_refused_with_previous_io: u64,
    writes_working_after_clear: u64,
    repaired_on_reopen: u64,
    failed_commit_present_after_reopen: u64,
}

impl Tally {
    fn summary(&self, name: &str) -> String {
        format!(
            "{name}: {} runs, {} faults injected, {} operations failed at {} distinct points \
             ({}), {} commits acknowledged; same storage afterwards: reads ok {} / PreviousIo {}, \
             writes refused with PreviousIo {} / working {}; reopen repaired {}, failed commit \
             present after reopen {}; failing steps (operation, step, table, kind) {:?}; all \
             verified",
            self.runs,
            self.faults_injected,
            self.failed_operations,
            self.failure_points.len(),
            self.failed_kinds
                .iter()
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            self.commits_acknowledged,
            self.same_storage_reads_ok,
            self.same_storage_reads_previous_io,
            self.writes_refused_with_previous_io,
            self.writes_working_after_clear,
            self.repaired_on_reopen,
            self.failed_commit_present_after_reopen,
            self.failed_steps,
        )
    }
}

const PROBE_KEY: u64 = u64::MAX;

/// A run of `ops` against a fresh file through a faulty backend, then the checks:
///
/// 1. `warmup` runs unfaulted, then `arm` sets the faults and `ops` run until one fails;
/// 2. the failure is an `Error::Engine` carrying the injected io error of `kind`;
/// 3. the same storage still reads exactly the acknowledged data (or refuses with
///    `PreviousIo`), and after the fault is cleared a write either works or is refused with
///    `PreviousIo` (redb latches the failure);
/// 4. the file, reopened with a healthy backend, passes `check_integrity`;
/// 5. reopened with `Storage::open`, it holds every acknowledged commit and, per
///    `failed_commit`, nothing of the failed one, and takes new writes.
fn scenario(
    tally: &mut Tally,
    warmup: &[Op],
    arm: impl FnOnce(&Faults, &Path),
    ops: &[Op],
    kind: io::ErrorKind,
    failed_commit: FailedCommit,
) {
    tally.runs += 1;
    let dir = scratch_dir();
    let path = dir.path().join("faulty.redb");
    let faults = Faults::new();
    let storage = faulty_file_storage(&path, &faults);
    let tables = Tables::open(&storage).expect("open tables");
    let mut model = empty_model();
    for op in warmup {
        op.run(&storage, &tables).expect("unfaulted warm-up");
        op.apply(&mut model);
        tally.commits_acknowledged += 1;
    }

    arm(&faults, &path);
    let mut failure = None;
    let mut calls_into_op = (0, 0);
    for (index, op) in ops.iter().enumerate() {
        let (writes, syncs) = (
            faults.write.calls.load(SeqCst),
            faults.sync.calls.load(SeqCst),
        );
        let result = op.run(&storage, &tables);
        calls_into_op = (
            faults.write.calls.load(SeqCst) - writes,
            faults.sync.calls.load(SeqCst) - syncs,
        );
        match result {
            Ok(()) => {
                op.apply(&mut model);
                tally.commits_acknowledged += 1;
            }
            Err(err) => {
                failure = Some((index, op, err));
                break;
            }
        }
    }

    let mut with_failed = None;
    if let Some((index, op, err)) = &failure {
        tally.failed_operations += 1;
        assert_injected_io(err, kind);
        op.assert_reported(err);
        let Error::Engine { operation, .. } = err else {
            unreachable!("checked above")
        };
        let (writes, syncs) = calls_into_op;
        tally
            .failure_points
            .insert((*index, op.kind(), operation.name(), writes, syncs));
        tally.failed_kinds.insert(op.kind());
        tally.failed_steps.insert((
            op.kind(),
            operation.name(),
            err.table().map(str::to_owned),
            err.engine_kind().expect("an engine error").describe(),
        ));
        let mut after = model.clone();
        op.apply(&mut after);
        with_failed = Some(after);

        // The same storage: the failed transaction is invisible, acknowledged data intact.
        match tables.contents() {
            Ok(contents) => {
                assert!(
                    contents == model,
                    "same storage after a failed {}: reads differ from the acknowledged data",
                    op.kind()
                );
                tally.same_storage_reads_ok += 1;
            }
            Err(err) => {
                assert!(is_previous_io(&err), "read after the fault: {err:?}");
                tally.same_storage_reads_previous_io += 1;
            }
        }
        faults.clear();
        match tables.accounts.put(&PROBE_KEY, b"probe") {
            Ok(()) => {
                table(&mut model, "accounts").insert(PROBE_KEY, b"probe".to_vec());
                tally.writes_working_after_clear += 1;
            }
            Err(err) => {
                assert!(is_previous_io(&err), "write after the fault: {err:?}");
                tally.writes_refused_with_previous_io += 1;
            }
        }
    }
    // Closing writes too (the clean-shutdown header): a fault still armed may hit it, and the
    // reopening below must cope with that as well.
    drop(tables);
    drop(storage);
    tally.faults_injected += faults.injected();

    // The file as the failure left it, with a healthy backend: redb repairs it on open if needed.
    let repaired = Arc::new(AtomicBool::new(false));
    let mut db = {
        let repaired = Arc::clone(&repaired);
        redb::Database::builder()
            .set_repair_callback(move |_| repaired.store(true, SeqCst))
            .open(&path)
            .expect("reopen after the fault")
    };
    assert!(
        db.check_integrity().expect("integrity check"),
        "integrity check had to repair the file"
    );
    drop(db);
    if repaired.load(SeqCst) {
        tally.repaired_on_reopen += 1;
    }

    let storage = Storage::open(&path).expect("Storage::open after the fault");
    let tables = Tables::open(&storage).expect("tables after reopening");
    let contents = tables.contents().expect("read after reopening");
    let failed_present = with_failed.as_ref().is_some_and(|after| contents == *after);
    if contents != model && failed_present && failed_commit == FailedCommit::AllOrNothing {
        tally.failed_commit_present_after_reopen += 1;
    } else {
        assert!(
            contents == model,
            "after reopening: not exactly the acknowledged commits (failed op {:?}, its commit \
             present: {failed_present})",
            failure.as_ref().map(|(index, op, _)| (index, op.kind())),
        );
    }
    tables
        .log
        .put(&PROBE_KEY, b"after")
        .expect("write after reopening");
    assert_eq!(
        tables.log.get(&PROBE_KEY, <[u8]>::to_vec).expect("read"),
        Some(b"after".to_vec())
    );
}

// ---- the tests ----

/// A failed backend write, wherever it hits a workload of every kind of write, fails that one
/// operation with a typed error, leaves the failed transaction invisible (in the same storage
/// and after reopening) and loses no acknowledged commit.
#[test]
fn failing_the_nth_write_loses_no_acknowledged_commit_and_shows_no_failed_one() {
    let ops = workload(10); // about 62 backend writes
    let mut tally = Tally::default();
    for nth in 1..=40 {
        let arm = |faults: &Faults, _: &Path| faults.fail_write(nth, Mode::OneShot);
        scenario(
            &mut tally,
            &[],
            arm,
            &ops,
            io::ErrorKind::Other,
            FailedCommit::Absent,
        );
    }
    for nth in (2..=62).step_by(6) {
        let arm = |faults: &Faults, _: &Path| faults.fail_write(nth, Mode::Persistent);
        scenario(
            &mut tally,
            &[],
            arm,
            &ops,
            io::ErrorKind::Other,
            FailedCommit::Absent,
        );
    }
    println!("{}", tally.summary("nth-write sweep"));
    assert_eq!(
        tally.failed_operations, tally.runs,
        "every armed fault hit the workload"
    );
    assert!(tally.faults_injected >= tally.runs);
    for kind in ["put", "put_batch", "write", "update", "delete"] {
        assert!(tally.failed_kinds.contains(kind), "no fault hit a {kind}");
    }
    assert!(
        tally.failure_points.len() >= 40,
        "{:?}",
        tally.failure_points
    );
    // redb writes a transaction's pages at its commit: a failed write there leaves the
    // outcome unknown to the caller, and the error says so.
    assert!(
        tally
            .failed_steps
            .iter()
            .any(|(_, step, _, kind)| *step == "commit"
                && *kind == EngineErrorKind::CommitOutcomeUnknown.describe()),
        "{:?}",
        tally.failed_steps
    );
}

/// A failed fsync fails its commit with `CommitOutcomeUnknown`; after reopening, that commit is
/// there whole or not at all, and every acknowledged commit is there.
#[test]
fn failing_an_fsync_leaves_each_failed_commit_all_or_nothing_and_every_acknowledged_one() {
    let ops = workload(10); // one fsync per commit
    let mut tally = Tally::default();
    for nth in 1..=10 {
        let arm = |faults: &Faults, _: &Path| faults.fail_sync(nth, Mode::OneShot);
        let kind = io::ErrorKind::Other;
        scenario(&mut tally, &[], arm, &ops, kind, FailedCommit::AllOrNothing);
    }
    for nth in [1, 4, 7] {
        let arm = |faults: &Faults, _: &Path| faults.fail_sync(nth, Mode::Persistent);
        let kind = io::ErrorKind::Other;
        scenario(&mut tally, &[], arm, &ops, kind, FailedCommit::AllOrNothing);
    }
    println!("{}", tally.summary("nth-fsync sweep"));
    assert_eq!(tally.failed_operations, tally.runs);
    for kind in ["put", "put_batch", "write", "update", "delete"] {
        assert!(tally.failed_kinds.contains(kind), "no fault hit a {kind}");
    }
    // An fsync is part of a commit, and a failed one leaves the commit's outcome unknown: every
    // such failure is reported as exactly that.
    for (op, step, _, kind) in &tally.failed_steps {
        assert_eq!(*step, "commit", "a failed fsync during a {op}");
        assert_eq!(
            *kind,
            EngineErrorKind::CommitOutcomeUnknown.describe(),
            "a failed fsync during a {op}"
        );
    }
}

/// A full disk fails the write that needs the space with `StorageFull`, and keeps every
/// acknowledged commit, in the same storage and after reopening.
#[test]
fn a_full_disk_fails_with_storage_full_and_keeps_every_acknowledged_commit() {
    let ops = growing_workload(40);
    let mut tally = Tally::default();
    for warmup in [5, 8, 12, 20] {
        for headroom in [0, 256 * 1024] {
            for mode in [Mode::OneShot, Mode::Persistent] {
                let arm = |faults: &Faults, path: &Path| {
                    let len = std::fs::metadata(path).expect("file length").len();
                    faults.limit_space(len + headroom, mode);
                };
                let warmup = workload(warmup);
                let kind = io::ErrorKind::StorageFull;
                scenario(&mut tally, &warmup, arm, &ops, kind, FailedCommit::Absent);
            }
        }
    }
    println!("{}", tally.summary("disk-full sweep"));
    assert_eq!(
        tally.failed_operations, tally.runs,
        "every limit was reached"
    );
    assert!(
        tally.failure_points.len() >= 2,
        "{:?}",
        tally.failure_points
    );
    // The disk fills up where redb grows the file: in the middle of a transaction (a put: an
    // I/O error, nothing committed) and at a commit (its outcome unknown).
    let io = EngineErrorKind::Io.describe();
    let unknown = EngineErrorKind::CommitOutcomeUnknown.describe();
    let steps = &tally.failed_steps;
    assert!(
        steps
            .iter()
            .any(|(_, step, _, kind)| *step == "put" && *kind == io),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|(_, step, _, kind)| *step == "commit" && *kind == unknown),
        "{steps:?}"
    );
}

/// A compaction interrupted by a failed write or fsync fails with a typed error and loses no
/// data.
#[test]
fn a_compaction_interrupted_by_a_write_or_fsync_fault_loses_nothing() {
    // Deletes leave free pages for compaction to move.
    let mut warmup = growing_workload(12);
    warmup.extend((0..12).map(|i| Op::Delete(100_000 + i * 100)));
    let ops = [Op::Compact];
    let mut tally = Tally::default();
    let mut nth = 1;
    loop {
        let before = tally.failed_operations;
        let arm = |faults: &Faults, _: &Path| faults.fail_write(nth, Mode::OneShot);
        scenario(
            &mut tally,
            &warmup,
            arm,
            &ops,
            io::ErrorKind::Other,
            FailedCommit::Absent,
        );
        if tally.failed_operations == before || nth == 40 {
            break; // compaction finished without reaching the nth write
        }
        nth += 1;
    }
    for nth in 1..=3 {
        let arm = |faults: &Faults, _: &Path| faults.fail_sync(nth, Mode::OneShot);
        let kind = io::ErrorKind::Other;
        scenario(
            &mut tally,
            &warmup,
            arm,
            &ops,
            kind,
            FailedCommit::AllOrNothing,
        );
    }
    println!("{}", tally.summary("compaction sweep"));
    assert!(tally.failed_operations >= 3, "{tally:?}");
    // Compaction changes no contents: a failure there is a plain I/O error of `compact`.
    for (_, step, table, kind) in &tally.failed_steps {
        assert_eq!(
            (*step, table.as_deref(), *kind),
            ("compact", None, EngineErrorKind::Io.describe())
        );
    }
}

/// After an I/O error every later write is refused with `PreviousIo` (kind `Io`) until every
/// handle is dropped and the file reopened; reads go on showing the acknowledged data, and the
/// file stays locked (`AlreadyOpen`) while a handle lives.
#[test]
fn after_an_io_error_redb_refuses_writes_with_previous_io_until_the_file_is_reopened() {
    let dir = scratch_dir();
    let path = dir.path().join("latched.redb");
    let faults = Faults::new();
    let storage = faulty_file_storage(&path, &faults);
    let tables = Tables::open(&storage).unwrap();
    tables.accounts.put(&1, b"acknowledged").unwrap();

    faults.fail_write(1, Mode::OneShot);
    let err = tables.accounts.put(&2, b"lost").unwrap_err();
    assert_injected_io(&err, io::ErrorKind::Other);
    // redb writes the put's pages at its commit: the failed step is the commit of the
    // auto-commit put, on its table, with an unknown outcome.
    assert_eq!(err.operation(), Some(Operation::Commit), "{err:?}");
    assert_eq!(err.table(), Some("accounts"), "{err:?}");
    assert_eq!(
        err.engine_kind(),
        Some(EngineErrorKind::CommitOutcomeUnknown),
        "{err:?}"
    );
    faults.clear();

    // The fault is gone, but redb remembers it: every write is refused, with a typed error,
    // when it begins its transaction, naming the table of an auto-commit table write.
    let refusals: [(&str, Option<&str>, zerotable::Result<()>); 7] = [
        ("put", Some("accounts"), tables.accounts.put(&3, b"x")),
        (
            "put_batch",
            Some("log"),
            tables.log.put_batch([(3, &b"x"[..])]),
        ),
        (
            "write",
            None,
            storage.write(|tx| tables.log.put_in(tx, &3, b"x")),
        ),
        (
            "update",
            Some("accounts"),
            tables
                .accounts
                .update(&1, |_| Some(b"x".to_vec()))
                .map(drop),
        ),
        (
            "delete",
            Some("accounts"),
            tables.accounts.delete(&1).map(drop),
        ),
        ("flush", None, storage.flush()),
        (
            "new table",
            Some("fresh"),
            storage.raw_table::<u64>("fresh").map(drop),
        ),
    ];
    for (what, table, result) in refusals {
        let err = result.expect_err(what);
        assert!(is_previous_io(&err), "{what}: {err:?}");
        assert_eq!(
            err.operation(),
            Some(Operation::BeginWrite),
            "{what}: {err:?}"
        );
        assert_eq!(err.table(), table, "{what}: {err:?}");
    }
    // Reads keep being served (from redb's cache) and show only acknowledged data.
    assert_eq!(
        tables.accounts.get(&1, <[u8]>::to_vec).unwrap(),
        Some(b"acknowledged".to_vec())
    );
    assert_eq!(tables.accounts.get(&2, <[u8]>::to_vec).unwrap(), None);

    // The file stays locked while any handle lives; reopening needs every one dropped.
    let locked = Storage::open(&path).unwrap_err();
    assert!(matches!(locked, Error::Open { .. }), "{locked:?}");
    assert_eq!(
        locked.engine_kind(),
        Some(EngineErrorKind::AlreadyOpen),
        "{locked:?}"
    );
    drop(tables);
    drop(storage);
    let storage = Storage::open(&path).unwrap();
    let tables = Tables::open(&storage).unwrap();
    assert_eq!(
        tables.accounts.get(&1, <[u8]>::to_vec).unwrap(),
        Some(b"acknowledged".to_vec())
    );
    assert_eq!(tables.accounts.get(&2, <[u8]>::to_vec).unwrap(), None);
    tables.accounts.put(&3, b"works again").unwrap();
    println!("after an io error: 7/7 writes refused with PreviousIo, reads served, reopen works");
}

/// A fault that persists keeps the unclean file from being reopened (repairing it writes)
/// through the faulty backend, as an error and not a panic; once cleared, it reopens with every
/// acknowledged commit.
#[test]
fn a_persistent_fault_keeps_the_file_from_reopening_through_that_backend_until_cleared() {
    let dir = scratch_dir();
    let path = dir.path().join("persistent.redb");
    let faults = Faults::new();
    let storage = faulty_file_storage(&path, &faults);
    let tables = Tables::open(&storage).unwrap();
    tables.accounts.put(&1, b"acknowledged").unwrap();
    faults.fail_write(1, Mode::Persistent);
    let err = tables.accounts.put(&2, b"lost").unwrap_err();
    assert_injected_io(&err, io::ErrorKind::Other);
    Op::Put(2, b"lost".to_vec()).assert_reported(&err);
    drop(tables);
    drop(storage);

    // Opening must repair the unclean file, which writes: refused, as an error, not a panic.
    let file = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap()
    };
    let backend = || FaultyBackend {
        inner: FileBackend::new(file()).unwrap(),
        faults: Arc::clone(&faults),
    };
    let refused = redb::Database::builder().create_with_backend(backend());
    let Err(err) = refused else {
        panic!("opened through a backend whose every write fails")
    };
    assert!(
        matches!(err, redb::DatabaseError::Storage(redb::StorageError::Io(_))),
        "{err:?}"
    );
    let injected = faults.injected();
    assert!(injected >= 2, "{injected}");

    faults.clear();
    let storage = faulty_file_storage(&path, &faults);
    let tables = Tables::open(&storage).unwrap();
    assert_eq!(
        tables.accounts.get(&1, <[u8]>::to_vec).unwrap(),
        Some(b"acknowledged".to_vec())
    );
    assert_eq!(tables.accounts.get(&2, <[u8]>::to_vec).unwrap(), None);
    tables.accounts.put(&2, b"now").unwrap();
    println!("persistent fault: {injected} faults injected, reopen refused until cleared");
}

/// Every public write path, as a closure over a seeded in-memory storage, with the step and
/// table its failure must name.
struct WriteApi {
    name: &'static str,
    operation: Operation,
    table: Option<&'static str>,
    run: fn(&Storage, &Tables) -> zerotable::Result<()>,
}

const fn api(
    name: &'static str,
    operation: Operation,
    table: Option<&'static str>,
    run: fn(&Storage, &Tables) -> zerotable::Result<()>,
) -> WriteApi {
    WriteApi {
        name,
        operation,
        table,
        run,
    }
}

/// Every write API turns an I/O fault into a typed engine error naming the failed step (the
/// commit, with an unknown outcome, for everything that commits data) and the table where the
/// write concerns one, and the failed write leaves nothing visible.
#[test]
fn every_write_api_reports_an_io_fault_as_a_typed_engine_error_and_commits_nothing() {
    use Operation::{Commit, Compact, Flush};
    let accounts = Some("accounts");
    let apis: [WriteApi; 12] = [
        api("put", Commit, accounts, |_, t| t.accounts.put(&10, b"new")),
        api("put_batch", Commit, Some("log"), |_, t| {
            t.log.put_batch([(10, &b"a"[..]), (11, b"b")])
        }),
        // A transaction's commit spans its tables: it names none.
        api("write", Commit, None, |s, t| {
            s.write(|tx| {
                t.accounts.put_in(tx, &10, b"new")?;
                t.log.delete_in(tx, &1).map(drop)
            })
        }),
        api("begin_write+commit", Commit, None, |s, t| {
            let tx = s.begin_write()?;
            t.accounts.put_in(&tx, &10, b"new")?;
            tx.commit()
        }),
        api("update", Commit, accounts, |_, t| {
            t.accounts.update(&1, |old| Some(updated(old))).map(drop)
        }),
        api("delete", Commit, accounts, |_, t| {
            t.accounts.delete(&1).map(drop)
        }),
        api("compare_and_swap", Commit, accounts, |_, t| {
            t.accounts
                .compare_and_swap(&1, Some(&b"one"[..]), Some(&b"uno"[..]))
                .map(drop)
        }),
        api("get_or_insert", Commit, accounts, |_, t| {
            t.accounts.get_or_insert(&10, || b"new".to_vec(), |_| ())
        }),
        api("new table", Commit, Some("fresh"), |s, _| {
            s.raw_table::<u64>("fresh").map(drop)
        }),
        api("drop_table", Commit, Some("log"), |s, _| {
            s.drop_table("log").map(drop)
        }),
        // Flushing and compacting commit no data of their own: a plain I/O error.
        api("flush", Flush, None, |s, _| s.flush()),
        api("compact", Compact, None, |s, _| s.compact().map(drop)),
    ];
    let mut faults_injected = 0;
    let mut untouched = Vec::new();
    for api in &apis {
        let name = api.name;
        let faults = Faults::new();
        let storage = faulty_memory_storage(&faults);
        let tables = Tables::open(&storage).unwrap();
        tables.accounts.put(&1, b"one").unwrap();
        tables
            .log
            .put_batch([(1, &b"first"[..]), (2, b"second")])
            .unwrap();
        let seeded = tables.contents().unwrap();
        let tables_before = storage.list_tables().unwrap();

        faults.fail_write(1, Mode::Persistent);
        let result = (api.run)(&storage, &tables);
        let injected = faults.injected();
        faults_injected += injected;
        if injected == 0 {
            // Nothing reached the backend (e.g. compaction with nothing to move): no fault.
            result.unwrap_or_else(|e| panic!("{name} failed without a fault: {e:?}"));
            untouched.push(name);
            continue;
        }
        let err = result.expect_err(name);
        assert_injected_io(&err, io::ErrorKind::Other);
        assert_eq!(err.operation(), Some(api.operation), "{name}: {err:?}");
        assert_eq!(err.table(), api.table, "{name}: {err:?}");
        match tables.contents() {
            Ok(contents) => assert_eq!(contents, seeded, "{name}: the failed write is visible"),
            Err(err) => assert!(is_previous_io(&err), "{name}: {err:?}"),
        }
        match storage.list_tables() {
            Ok(names) => assert_eq!(names, tables_before, "{name}"),
            Err(err) => assert!(is_previous_io(&err), "{name}: {err:?}"),
        }
    }
    println!(
        "write APIs over memory: {} APIs, {faults_injected} faults injected, untouched by the \
         backend: {untouched:?}",
        apis.len()
    );
    assert!(untouched.is_empty(), "{untouched:?}");
}
