//! Quickstart: one million typed records in a redb file, read back without copies.
//!
//! This example walks through the everyday life of a zerotable table:
//!
//! 1. opens (after deleting any previous copy, so runs are reproducible) a redb file with
//!    [`Storage::open`] and a typed table with [`Storage::rkyv_table`];
//! 2. loads 1,000,000 `User` records with [`Table::put_batch`](zerotable::Table::put_batch), in
//!    chunks of 100,000 streamed from an iterator (each chunk is one atomic, fsynced commit and
//!    no chunk is ever collected into a `Vec`);
//! 3. does 100,000 random point reads with [`Table::get`](zerotable::Table::get): the closure sees
//!    the validated `&ArchivedUser` in redb's page and reads one field, nothing is deserialized;
//! 4. sums a column over the whole table with
//!    [`Table::scan_with`](zerotable::Table::scan_with) and a fold;
//! 5. collects the names of the active users above a revenue threshold with
//!    [`Table::filter_map`](zerotable::Table::filter_map) (only those names are copied out);
//! 6. counts the rows with [`Table::len`](zerotable::Table::len).
//!
//! Each step prints its wall time and throughput; the file size on disk comes last.
//! The data is generated deterministically (a SplitMix64 / xorshift generator, no `rand`).
//!
//! ```text
//! cargo run --release --example quickstart [-- [--rows N] [--path P | --engine URL] [--keep]]
//! ```
//!
//! - `--rows N`: rows to load instead of 1,000,000 (`1000000`, `1_000_000` and `1,000,000`
//!   are all accepted); the point reads stay 100,000 random keys among them.
//! - `--path P`: the database file, instead of `zerotable-quickstart.redb` in the system
//!   temporary directory. A file already there is replaced. (A lone `P` works too.)
//! - `--engine URL`: run on any engine compiled in, by its address (`fjall:///tmp/qs`,
//!   `lmdb:///tmp/qs?map_size=4GiB`, `sqlite:///tmp/qs.sqlite`, `rocksdb:///tmp/qs`,
//!   `memory://`; see `Storage::connect`), instead of the redb file. The location must not
//!   exist yet (nothing of yours is ever deleted); it is removed at the end unless `--keep`.
//!   Engines other than redb and memory need their cargo feature:
//!   `cargo run --release --features fjall --example quickstart -- --engine fjall:///tmp/qs`.
//! - `--keep`: keep the database file at the end. Without it the file is removed when the run
//!   ends, whether it succeeds or fails; either way the first line of output names it.
//! - `--help`: this usage. A bad flag or value prints what is wrong and exits with code 2.

use std::error::Error;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use zerotable::Storage;

mod support;
use support::{User, XorShift64, make_user};

/// Rows loaded unless `--rows` says otherwise.
const DEFAULT_ROWS: u64 = 1_000_000;
/// The database file unless `--path` says otherwise, in the system temporary directory.
const DEFAULT_FILE_NAME: &str = "zerotable-quickstart.redb";
/// Rows per `put_batch` call (one transaction each).
const CHUNK: u64 = 100_000;
/// Random point reads.
const LOOKUPS: u64 = 100_000;
/// Revenue above which an active user is reported by the `filter_map` step.
const REVENUE_THRESHOLD: f64 = 990.0;

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints one aligned result line: step, rows, wall time, rows per second.
fn report(step: &str, rows: u64, elapsed: Duration) {
    let per_second = rows as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "{step:<30} {:>11} rows {:>9.3} s {:>13} rows/s",
        thousands(rows),
        elapsed.as_secs_f64(),
        thousands(per_second as u64),
    );
}

const SHORT_USAGE: &str = "usage: cargo run --release --example quickstart [-- [--rows N] [--path P | --engine URL] [--keep]]";

const USAGE: &str = "\
Loads N typed User records into a redb file (or any engine) and reads them back, timing each step.

Usage: cargo run --release --example quickstart [-- [OPTIONS]]

Options:
  --rows N     rows to load (default 1,000,000; 1_000_000 and 1,000,000 are accepted too)
  --path P     the database file (default: zerotable-quickstart.redb in the system temporary
               directory); a file already there is replaced. A lone P works too.
  --engine URL any engine by its address instead (fjall:///tmp/qs, lmdb:///tmp/qs,
               sqlite:///tmp/qs.sqlite, rocksdb:///tmp/qs, memory://); the location must
               not exist yet. Engines but redb and memory need their cargo feature
               (--features fjall, lmdb, sqlite or rocksdb).
  --keep       keep the database at the end (otherwise it is removed, also on errors)
  -h, --help   print this help";

/// What the command line asks for.
struct Options {
    rows: u64,
    path: PathBuf,
    /// An engine address, instead of the redb file at `path`.
    engine: Option<String>,
    keep: bool,
}

/// What `parse_args` found: a run, or a request for the usage text.
enum Command {
    Run(Options),
    Help,
}

/// Parses the command line (without the program name). `Err` is a message for the user.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut rows = None;
    let mut path = None;
    let mut keep = false;
    let mut engine = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_str().unwrap_or("");
        // `--flag=value` or `--flag value`.
        let (flag, inline) = match text.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(OsString::from(value))),
            _ => (text, None),
        };
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--keep" if inline.is_none() => keep = true,
            "--keep" => return Err("--keep takes no value".into()),
            "--rows" => {
                let value = value(flag)?;
                rows = Some(parse_rows(&value.to_string_lossy())?);
            }
            "--path" => {
                let value = value(flag)?;
                if value.is_empty() {
                    return Err("--path needs a non-empty value".into());
                }
                set_path(&mut path, value)?;
            }
            "--engine" => {
                let value = value(flag)?.to_string_lossy().into_owned();
                if engine.replace(value).is_some() {
                    return Err("give --engine once".into());
                }
            }
            _ if text.starts_with('-') && text != "-" => {
                return Err(format!("unknown option {}", arg.to_string_lossy()));
            }
            // The positional path of earlier versions of this example.
            _ => set_path(&mut path, arg)?,
        }
    }
    if engine.is_some() && path.is_some() {
        return Err("give --path or --engine, not both (the address holds the path)".into());
    }
    Ok(Command::Run(Options {
        engine,
        rows: rows.unwrap_or(DEFAULT_ROWS),
        path: path.unwrap_or_else(|| std::env::temp_dir().join(DEFAULT_FILE_NAME)),
        keep,
    }))
}

fn set_path(path: &mut Option<PathBuf>, value: OsString) -> Result<(), String> {
    if path.is_some() {
        return Err("give the database path once (--path P or P)".into());
    }
    *path = Some(PathBuf::from(value));
    Ok(())
}

/// A positive row count; `_` and `,` may separate digit groups.
fn parse_rows(text: &str) -> Result<u64, String> {
    let digits: String = text.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    match digits.parse::<u64>() {
        Ok(0) => Err("--rows must be at least 1".into()),
        Ok(rows) => Ok(rows),
        Err(_) => Err(format!(
            "--rows needs a positive whole number, not {text:?}"
        )),
    }
}

/// The database of this run (a file, or a folder for fjall, LMDB and RocksDB; none in memory):
/// removed when dropped unless it is to be kept, so that it goes away at the end of a run and on
/// every error path (an early `?`, a panic) alike. It is always one this run created.
struct Database {
    path: Option<PathBuf>,
    keep: bool,
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some(path) = &self.path else { return };
        if self.keep {
            println!("kept        {}", path.display());
            return;
        }
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            // SQLite keeps its write-ahead log and shared memory beside the file.
            for suffix in ["-wal", "-shm"] {
                let mut side = path.clone().into_os_string();
                side.push(suffix);
                let _ = std::fs::remove_file(side);
            }
            std::fs::remove_file(path)
        };
        match removed {
            Ok(()) => println!("removed     {} (--keep keeps it)", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("warning: could not remove {}: {e}", path.display()),
        }
    }
}

fn main() -> ExitCode {
    match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run(options)) => match run(options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("error: {message}\n{SHORT_USAGE} (--help explains)");
            ExitCode::from(2)
        }
    }
}

fn run(options: Options) -> Result<(), Box<dyn Error>> {
    let Options {
        rows,
        path,
        engine,
        keep,
    } = options;
    let location = match &engine {
        None => {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(format!("cannot replace {}: {e}", path.display()).into());
                }
                _ => {}
            }
            Some(path)
        }
        Some(address) => {
            let location = zerotable::engines::EngineAddress::parse(address)?.location;
            let location = (!location.is_empty()).then(|| PathBuf::from(location));
            if let Some(location) = location.as_ref().filter(|l| l.exists()) {
                return Err(format!(
                    "{} exists already: remove it or give another path (the quickstart only \
                     deletes what it created)",
                    location.display()
                )
                .into());
            }
            location
        }
    };
    // Declared before the storage, so dropped after it: the database is closed when it is
    // removed.
    let database = Database {
        path: location,
        keep,
    };

    let sample = 1_000;
    let archived_bytes: usize = (0..sample)
        .map(|id| rkyv::to_bytes::<rkyv::rancor::Error>(&make_user(id)).map(|b| b.len()))
        .sum::<Result<_, _>>()?;
    match (&engine, &database.path) {
        (Some(address), _) => println!("database    {address}"),
        (None, Some(path)) => println!("database    {}", path.display()),
        (None, None) => unreachable!("the default is a redb file"),
    }
    println!(
        "record      User {{ id, name, email, active, revenue, tags }}, ~{} bytes archived",
        archived_bytes as u64 / sample
    );
    println!();

    let storage = match (&engine, &database.path) {
        (Some(address), _) => Storage::connect(address)?,
        (None, Some(path)) => Storage::open(path)?,
        (None, None) => unreachable!("the default is a redb file"),
    };
    println!("engine      {}", storage.engine().name());
    let users = storage.rkyv_table::<u64, User>("users")?;

    // 1. Load, one transaction per chunk, values streamed from an iterator.
    let load_start = Instant::now();
    for (chunk, start) in (0..rows).step_by(CHUNK as usize).enumerate() {
        let end = (start + CHUNK).min(rows);
        let started = Instant::now();
        users.put_batch((start..end).map(|id| (id, make_user(id))))?;
        report(
            &format!(
                "  put_batch chunk {:>2}/{}",
                chunk + 1,
                rows.div_ceil(CHUNK)
            ),
            end - start,
            started.elapsed(),
        );
    }
    report("load (put_batch)", rows, load_start.elapsed());

    // 2. Random point reads: the closure reads fields in place and copies nothing.
    let mut rng = XorShift64::new(42);
    let started = Instant::now();
    let mut found = 0u64;
    let mut name_bytes = 0u64;
    for _ in 0..LOOKUPS {
        let id = rng.below(rows);
        let hit = users.get(&id, |u| {
            assert_eq!(u.id.to_native(), id, "the stored record belongs to its key");
            u.name.len() as u64
        })?;
        if let Some(len) = hit {
            found += 1;
            name_bytes += len;
        }
    }
    report("random get (zero-copy)", LOOKUPS, started.elapsed());
    if found != LOOKUPS {
        return Err(format!("only {found} of {LOOKUPS} random keys were found").into());
    }

    // 3. Full scan: a fold over every row, in key order.
    let started = Instant::now();
    let (scanned, revenue) = users.scan_with(|scan| {
        scan.fold((0u64, 0.0f64), |(scanned, sum), _id, u| {
            Ok((scanned + 1, sum + u.revenue.to_native()))
        })
    })?;
    report("scan_with fold (revenue)", scanned, started.elapsed());

    // 4. Filtered scan: only the matching names are copied out.
    let started = Instant::now();
    let big_spenders: Vec<String> = users.filter_map(|_id, u| {
        (u.active && u.revenue.to_native() > REVENUE_THRESHOLD).then(|| u.name.to_string())
    })?;
    report("filter_map (active, revenue)", rows, started.elapsed());

    // 5. Row count.
    let started = Instant::now();
    let len = users.len()?;
    let len_time = started.elapsed();
    println!(
        "{:<30} {:>11} rows {:>9.6} s",
        "len",
        thousands(len),
        len_time.as_secs_f64()
    );

    drop(users);
    let file_size = match &database.path {
        // Measured by the engine where it can (a folder of files for the LSM engines)…
        _ if storage.capabilities().size_on_disk => {
            storage.flush().ok();
            Some(storage.size_on_disk()?)
        }
        // …else the file itself, once closed.
        Some(path) if path.is_file() => {
            drop(storage);
            Some(std::fs::metadata(path)?.len())
        }
        _ => None,
    };

    println!();
    println!(
        "found       {} / {} random keys (mean name length {:.1} bytes)",
        thousands(found),
        thousands(LOOKUPS),
        name_bytes as f64 / found as f64
    );
    println!(
        "revenue     {:.2} in total, {:.2} per user",
        revenue,
        revenue / scanned as f64
    );
    println!(
        "filter_map  {} active users with revenue > {REVENUE_THRESHOLD} (first: {})",
        thousands(big_spenders.len() as u64),
        big_spenders.first().map_or("-", String::as_str)
    );
    println!("len         {}", thousands(len));
    if let Some(file_size) = file_size {
        println!(
            "size        {:.1} MiB on disk ({} bytes, {:.0} bytes per row)",
            file_size as f64 / (1024.0 * 1024.0),
            thousands(file_size),
            file_size as f64 / len.max(1) as f64
        );
    }
    Ok(())
}
