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
//! cargo run --release --example quickstart [PATH]
//! ```
//!
//! `PATH` defaults to `zerotable-quickstart.redb` in the system temporary directory.

use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zerotable::Storage;

mod support;
use support::{User, XorShift64, make_user};

/// Rows loaded.
const USERS: u64 = 1_000_000;
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

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("zerotable-quickstart.redb"));
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }

    let sample = 1_000;
    let archived_bytes: usize = (0..sample)
        .map(|id| rkyv::to_bytes::<rkyv::rancor::Error>(&make_user(id)).map(|b| b.len()))
        .sum::<Result<_, _>>()?;
    println!("database    {}", path.display());
    println!(
        "record      User {{ id, name, email, active, revenue, tags }}, ~{} bytes archived",
        archived_bytes as u64 / sample
    );
    println!();

    let storage = Storage::open(&path)?;
    let users = storage.rkyv_table::<u64, User>("users")?;

    // 1. Load, one transaction per chunk, values streamed from an iterator.
    let load_start = Instant::now();
    for (chunk, start) in (0..USERS).step_by(CHUNK as usize).enumerate() {
        let end = (start + CHUNK).min(USERS);
        let started = Instant::now();
        users.put_batch((start..end).map(|id| (id, make_user(id))))?;
        report(
            &format!(
                "  put_batch chunk {:>2}/{}",
                chunk + 1,
                USERS.div_ceil(CHUNK)
            ),
            end - start,
            started.elapsed(),
        );
    }
    report("load (put_batch)", USERS, load_start.elapsed());

    // 2. Random point reads: the closure reads fields in place and copies nothing.
    let mut rng = XorShift64::new(42);
    let started = Instant::now();
    let mut found = 0u64;
    let mut name_bytes = 0u64;
    for _ in 0..LOOKUPS {
        let id = rng.below(USERS);
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
    let (rows, revenue) = users.scan_with(|scan| {
        scan.fold((0u64, 0.0f64), |(rows, sum), _id, u| {
            Ok((rows + 1, sum + u.revenue.to_native()))
        })
    })?;
    report("scan_with fold (revenue)", rows, started.elapsed());

    // 4. Filtered scan: only the matching names are copied out.
    let started = Instant::now();
    let big_spenders: Vec<String> = users.filter_map(|_id, u| {
        (u.active && u.revenue.to_native() > REVENUE_THRESHOLD).then(|| u.name.to_string())
    })?;
    report("filter_map (active, revenue)", USERS, started.elapsed());

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
    drop(storage);
    let file_size = std::fs::metadata(&path)?.len();

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
        revenue / rows as f64
    );
    println!(
        "filter_map  {} active users with revenue > {REVENUE_THRESHOLD} (first: {})",
        thousands(big_spenders.len() as u64),
        big_spenders.first().map_or("-", String::as_str)
    );
    println!("len         {}", thousands(len));
    println!(
        "file size   {:.1} MiB ({} bytes, {:.0} bytes per row)",
        file_size as f64 / (1024.0 * 1024.0),
        thousands(file_size),
        file_size as f64 / len.max(1) as f64
    );
    Ok(())
}
