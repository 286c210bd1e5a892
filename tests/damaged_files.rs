//! Damaged redb files never make zerotable panic, hang or abort: every operation returns a
//! typed error (kind `Corrupted`, naming the table and operation) or works.
//!
//! redb 4 opens a file whose header is intact but whose pages are damaged, and then panics
//! (`entered unreachable code` in its B-tree code) on reads, writes, table listing and stats.
//! Here a healthy file with three tables is damaged in many ways — a page zeroed, a page of
//! random bytes, bits flipped, a few bytes scribbled — at offsets across the whole file; each damaged copy is opened
//! in a child process (this test binary run again, with `ZEROTABLE_DAMAGED_FILE` naming the
//! file) that drives every operation of the API and reports each outcome. The parent fails on
//! a panic that reached the caller, a child that did not finish within a deadline (a hang), or
//! a child killed by a signal (an abort). It also checks that the damage was met as typed
//! `Corrupted` errors and that tables whose pages are intact stayed readable.
//!
//! More damage points: `ZEROTABLE_DAMAGE_POINTS=200 cargo test --all-features --test damaged_files -- --nocapture`;
//! each variant's errors and caught engine panics: add `ZEROTABLE_DAMAGE_VERBOSE=1`.

mod common;

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{User, user};
use zerotable::{Error, RawTable, RkyvTable, Storage};

const CHILD_ENV: &str = "ZEROTABLE_DAMAGED_FILE";
const CHILD_TEST: &str = "damaged_file_child";
const POINTS_ENV: &str = "ZEROTABLE_DAMAGE_POINTS";
const PAGE: usize = 4096;
const ROWS: u64 = 2_000;
const DEADLINE: Duration = Duration::from_secs(120);

/// Writes the healthy file: users (rkyv), events (tuple keys, raw), blobs (2 KiB values).
fn write_healthy(path: &Path) {
    let storage = Storage::open(path).unwrap();
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    users.put_batch((0..ROWS).map(|i| (i, user(i)))).unwrap();
    let events = storage.raw_table::<(String, u64)>("events").unwrap();
    events
        .put_batch((0..ROWS).map(|i| {
            (
                (format!("account{}", i % 7), i),
                format!("event {i}").into_bytes(),
            )
        }))
        .unwrap();
    let blobs = storage.raw_table::<u32>("blobs").unwrap();
    blobs
        .put_batch((0..300u32).map(|i| (i, vec![i as u8; 2048])))
        .unwrap();
}

/// One kind of damage at one page.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// The whole page zeroed.
    Zeroed(usize),
    /// The whole page overwritten with random bytes.
    Random(usize),
    /// Eight random bits of the page flipped.
    BitFlips(usize),
    /// 64 random bytes written into the middle of the page.
    Scribble(usize),
}

impl Damage {
    fn apply(self, bytes: &mut [u8], seed: u64) {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let len = bytes.len();
        let page = |p: usize| p * PAGE..((p + 1) * PAGE).min(len);
        match self {
            Damage::Zeroed(p) => bytes[page(p)].fill(0),
            Damage::Random(p) => bytes[page(p)].iter_mut().for_each(|b| *b = next() as u8),
            Damage::Scribble(p) => {
                let start = (p * PAGE + PAGE / 2).min(len.saturating_sub(64));
                bytes[start..start + 64]
                    .iter_mut()
                    .for_each(|b| *b = next() as u8);
            }
            Damage::BitFlips(p) => {
                let range = page(p);
                for _ in 0..8 {
                    let at = range.start + (next() as usize) % range.len();
                    bytes[at] ^= 1 << (next() % 8);
                }
            }
        }
    }
}

#[test]
fn damaged_files_never_panic_hang_or_abort() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = dir.path().join("healthy.redb");
    write_healthy(&healthy);
    let original = std::fs::read(&healthy).unwrap();
    let pages = original.len().div_ceil(PAGE);
    let points: usize = std::env::var(POINTS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(14);

    // Pages spread over the whole file, the header page included.
    let mut damages = Vec::new();
    for k in 0..points {
        let page = k * pages / points;
        damages.extend([
            Damage::Zeroed(page),
            Damage::Random(page),
            Damage::BitFlips(page),
            Damage::Scribble(page),
        ]);
    }

    let mut summary = Summary::default();
    for (i, damage) in damages.iter().enumerate() {
        let mut bytes = original.clone();
        damage.apply(&mut bytes, i as u64 + 1);
        let path = dir.path().join(format!("damaged-{i}.redb"));
        std::fs::write(&path, &bytes).unwrap();
        let outcome = run_child(&path);
        assert!(
            !outcome.stdout.contains("ESCAPED PANIC"),
            "{damage:?}: a panic reached the caller\n{}\n{}",
            outcome.stdout,
            outcome.stderr
        );
        assert!(
            outcome.finished,
            "{damage:?}: the child hung (killed after {DEADLINE:?})\n{}",
            outcome.stdout
        );
        assert!(
            outcome.success,
            "{damage:?}: the child died ({}):\n{}\n{}",
            outcome.status, outcome.stdout, outcome.stderr
        );
        assert!(
            outcome.stdout.contains("DONE"),
            "{damage:?}: the child stopped early\n{}",
            outcome.stdout
        );
        if std::env::var_os("ZEROTABLE_DAMAGE_VERBOSE").is_some() {
            let errors: Vec<&str> = outcome
                .stdout
                .lines()
                .filter(|l| l.contains(" ERR "))
                .collect();
            let panics: Vec<&str> = outcome
                .stderr
                .lines()
                .filter(|l| l.contains("panicked at"))
                .collect();
            println!("{damage:?} of {pages} pages: {errors:#?}\n  engine panics: {panics:#?}");
        }
        summary.add(*damage, &outcome);
        let _ = std::fs::remove_file(&path);
    }
    println!("{summary}");
    assert!(
        summary.corrupted_variants > 0,
        "no damage was reported as Corrupted:\n{summary}"
    );
    assert!(
        summary.engine_panics_caught > 0,
        "no variant reproduced redb's panic on damaged pages (the case this test is for):\n{summary}"
    );
    assert!(
        summary.partly_readable > 0,
        "no variant kept an intact table readable beside a damaged one:\n{summary}"
    );
    assert!(
        summary.unnamed_corruption == 0,
        "Corrupted errors without table and operation:\n{summary}"
    );
}

struct Outcome {
    finished: bool,
    success: bool,
    status: String,
    stdout: String,
    stderr: String,
}

fn run_child(path: &Path) -> Outcome {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while the child runs: a child writing more than a pipe holds (caught
    // engine panics print through the panic hook) must not block and pass for a hang.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Outcome {
        finished: status.is_some(),
        success: status.is_some_and(|s| s.success()),
        status: status.map_or_else(|| "killed".to_owned(), |s| s.to_string()),
        stdout,
        stderr,
    }
}

#[derive(Default)]
struct Summary {
    variants: usize,
    open_refused: usize,
    corrupted_variants: usize,
    engine_panics_caught: usize,
    partly_readable: usize,
    unnamed_corruption: usize,
    errors: usize,
    oks: usize,
}

impl Summary {
    fn add(&mut self, _damage: Damage, outcome: &Outcome) {
        self.variants += 1;
        let lines: Vec<&str> = outcome
            .stdout
            .lines()
            .filter(|l| l.starts_with("OP "))
            .collect();
        if lines.iter().any(|l| l.starts_with("OP open ERR")) {
            self.open_refused += 1;
        }
        let corrupted: Vec<&&str> = lines
            .iter()
            .filter(|l| l.contains("ERR Corrupted"))
            .collect();
        if !corrupted.is_empty() {
            self.corrupted_variants += 1;
        }
        self.unnamed_corruption += corrupted.iter().filter(|l| l.contains("unnamed")).count();
        if outcome.stderr.contains("panicked at") && outcome.stderr.contains("redb") {
            self.engine_panics_caught += 1;
        }
        // A full scan of one table failed while another table's full scan read every row.
        let scan = |table: &str, ok: bool| {
            lines
                .iter()
                .any(|l| l.starts_with(&format!("OP scan {table} ")) && (l.ends_with(" ok") == ok))
        };
        let tables = ["users", "events", "blobs"];
        if tables.iter().any(|t| scan(t, false)) && tables.iter().any(|t| scan(t, true)) {
            self.partly_readable += 1;
        }
        self.errors += lines.iter().filter(|l| l.contains(" ERR ")).count();
        self.oks += lines.iter().filter(|l| l.ends_with(" ok")).count();
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "damaged files: {} variants; open refused {}; variants with Corrupted errors {}; \
             variants where redb panicked (caught) {}; variants with an intact table readable \
             beside a damaged one {}; operations ok {}, typed errors {}",
            self.variants,
            self.open_refused,
            self.corrupted_variants,
            self.engine_panics_caught,
            self.partly_readable,
            self.oks,
            self.errors
        )
    }
}

// ---- the child: drive every operation, report each outcome ----

/// Runs one operation, printing `OP <name> ok` or `OP <name> ERR <kind> <table>/<operation>`;
/// a panic that escapes the library is printed as `ESCAPED PANIC` and ends the child.
fn op<T>(name: &str, call: impl FnOnce() -> zerotable::Result<T>) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => {
            println!("OP {name} ok");
            Some(value)
        }
        Ok(Err(error)) => {
            let kind = match error.engine_kind() {
                Some(kind) => format!("{kind:?}"),
                None => match &error {
                    Error::CorruptValue { .. } => "CorruptValue".to_owned(),
                    Error::KeyDecode { .. } => "KeyDecode".to_owned(),
                    Error::Catalog { .. } => "Catalog".to_owned(),
                    other => format!("{other:?}").chars().take(40).collect(),
                },
            };
            let named = match (&error, error.engine_kind()) {
                (
                    Error::Engine { table: None, .. },
                    Some(zerotable::EngineErrorKind::Corrupted),
                ) if !name.starts_with("open")
                    && !name.starts_with("commit")
                    && !name.starts_with("storage") =>
                {
                    "unnamed".to_owned()
                }
                _ => format!("{:?}/{:?}", error.table(), error.operation()),
            };
            println!("OP {name} ERR {kind} {named}");
            None
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            println!("ESCAPED PANIC in {name}: {message}");
            std::process::exit(3);
        }
    }
}

fn drive_rkyv(storage: &Storage, table: &RkyvTable<u64, User>) {
    let name = table.name().to_owned();
    for key in [0, ROWS / 2, ROWS - 1] {
        op(&format!("get {name} {key}"), || {
            table.get(&key, |u| u.name.len())
        });
        op(&format!("contains {name} {key}"), || table.contains(&key));
    }
    op(&format!("len {name}"), || table.len());
    op(&format!("stats {name}"), || table.stats());
    op(&format!("scan {name}"), || {
        table
            .scan()
            .fold(0u64, |n, _, u| Ok(n + u.id.to_native() % 2))
    });
    op(&format!("range {name}"), || {
        table.range(ROWS / 3..).rev().filter_map(|k, _| Some(*k))
    });
    op(&format!("get_many {name}"), || {
        table.get_many([1, 2, ROWS + 5], |u| u.is_some())
    });
    op(&format!("put {name}"), || {
        table.put(&(ROWS + 1), &user(ROWS + 1))
    });
    op(&format!("delete {name}"), || table.delete(&3));
    op(&format!("update {name}"), || {
        table.update(&4, |old| old.map(|_| user(40)))
    });
    op(&format!("cas {name}"), || {
        table.compare_and_swap(&5, Some(&user(5)), Some(&user(50)))
    });
    op(&format!("get_or_insert {name}"), || {
        table.get_or_insert(&(ROWS + 2), || user(7), |u| u.id.to_native())
    });
    op(&format!("put_batch {name}"), || {
        table.put_batch((ROWS + 10..ROWS + 20).map(|i| (i, user(i))))
    });
    op(&format!("snapshot {name}"), || {
        let snapshot = storage.snapshot()?;
        table.get_in(&snapshot, &6, |u| u.id.to_native())?;
        table.scan_in(&snapshot).fold(0, |n, _, _| Ok(n + 1))
    });
}

fn drive_raw<K>(storage: &Storage, table: &RawTable<K>, keys: &[K], new: K)
where
    K: zerotable::IntoKeyBytes + zerotable::FromKeyBytes + zerotable::KeyLike<K> + Clone,
{
    let name = table.name().to_owned();
    for (i, key) in keys.iter().enumerate() {
        op(&format!("get {name} {i}"), || table.get(key, |v| v.len()));
    }
    op(&format!("len {name}"), || table.len());
    op(&format!("stats {name}"), || table.stats());
    op(&format!("scan {name}"), || {
        table.scan().fold(0usize, |n, _, v| Ok(n + v.len()))
    });
    op(&format!("range {name}"), || {
        table
            .range(keys[0].clone()..)
            .filter_map(|_, v| Some(v.len()))
    });
    op(&format!("put {name}"), || table.put(&new, b"new"));
    op(&format!("delete {name}"), || table.delete(&keys[0]));
    op(&format!("write {name}"), || {
        storage.write(|tx| {
            table.put_in(tx, &new, b"in a transaction")?;
            table.scan_in(tx).fold(0, |n, _, _| Ok(n + 1))
        })
    });
    op(&format!("rollback {name}"), || {
        let tx = storage.begin_write()?;
        table.delete_in(&tx, &keys[1])?;
        tx.rollback();
        Ok(())
    });
}

/// Transactions over all three tables at once (several table handles open in one redb
/// transaction), and a caller that unwraps an error inside a transaction: its own panic must
/// pass through (reported as such here) without the process aborting.
fn drive_all_tables(storage: &Storage) {
    let (Ok(users), Ok(events), Ok(blobs)) = (
        storage.rkyv_table::<u64, User>("users"),
        storage.raw_table::<(String, u64)>("events"),
        storage.raw_table::<u32>("blobs"),
    ) else {
        return;
    };
    op("write all tables", || {
        storage.write(|tx| {
            let n = users.len_in(tx)? + events.len_in(tx)? + blobs.len_in(tx)?;
            users.scan_in(tx).for_each(|id, _| {
                blobs.put_in(tx, &(*id as u32), b"copied")?;
                events
                    .delete_in(tx, &("account0".to_owned(), *id))
                    .map(drop)
            })?;
            Ok(n)
        })
    });
    op("snapshot all tables", || {
        let snapshot = storage.snapshot()?;
        let rows = users.scan_in(&snapshot).fold(0u64, |n, _, _| Ok(n + 1))?;
        let more = events.scan_in(&snapshot).fold(rows, |n, _, _| Ok(n + 1))?;
        blobs.scan_in(&snapshot).fold(more, |n, _, _| Ok(n + 1))
    });
    let unwrapped = catch_unwind(AssertUnwindSafe(|| {
        let _ = storage.write(|tx| {
            events.get_in(tx, &("account1".to_owned(), 1), |v| v.len())?;
            users
                .scan_in(tx)
                .for_each(|_, _| Ok(()))
                .expect("the caller unwraps a damaged-data error");
            blobs.scan_in(tx).for_each(|_, _| Ok(())).expect("and here");
            Ok(())
        });
    }));
    println!(
        "OP unwrap inside a transaction {}",
        if unwrapped.is_err() {
            "caller-panic"
        } else {
            "ok"
        }
    );
}

#[test]
fn damaged_file_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return; // run as a child of `damaged_files_never_panic_hang_or_abort` only
    };
    println!(); // the test harness starts this line with the test's name
    let Some(storage) = op("open", || Storage::open(&path)) else {
        println!("DONE");
        return;
    };
    op("storage list_tables", || storage.list_tables());
    op("storage tables", || storage.tables());
    op("storage size_on_disk", || storage.size_on_disk());
    if let Some(users) = op("open_table users", || {
        storage.rkyv_table::<u64, User>("users")
    }) {
        drive_rkyv(&storage, &users);
    }
    if let Some(events) = op("open_table events", || {
        storage.raw_table::<(String, u64)>("events")
    }) {
        let keys = [
            ("account0".to_owned(), 0),
            ("account1".to_owned(), 1),
            ("account6".to_owned(), 1994),
        ];
        drive_raw(&storage, &events, &keys, ("new".to_owned(), 1));
        op("prefix events", || {
            events.prefix(&("account3",)).fold(0, |n, _, _| Ok(n + 1))
        });
    }
    if let Some(blobs) = op("open_table blobs", || storage.raw_table::<u32>("blobs")) {
        drive_raw(&storage, &blobs, &[0, 150, 299], 1_000);
    }
    drive_all_tables(&storage);
    op("storage flush", || storage.flush());
    op("storage check_integrity", || storage.check_integrity());
    op("storage compact", || storage.compact());
    op("storage drop_table", || storage.drop_table("blobs"));
    op("storage list_tables again", || storage.list_tables());
    op("storage close", || {
        drop(storage);
        Ok(())
    });
    println!("DONE");
}
