//! One workload of one contender, for counting instructions under callgrind
//! (`peers/callgrind.sh` runs it): `instructions <contender> <phase> [rows]`.
//!
//! Every phase first builds the same store — `rows` people (100,000 by default) loaded in one
//! non-durable transaction in random key order — and draws the same keys; phase `setup` stops
//! there. The others then do their operations, so the instructions of a phase minus those of
//! `setup`, divided by the phase's operation count (printed on stdout), are the instructions of
//! one operation. Instruction counts repeat exactly from run to run, unlike wall time.

use std::hint::black_box;

use zerotable_peers::data::random_keys;
use zerotable_peers::{Durability, Kind, open, people_shuffled};

/// Operations of each phase, and what one is.
const PHASES: [(&str, u64, &str); 7] = [
    ("setup", 0, "nothing (the store only)"),
    ("get", 20_000, "a point read in a transaction of its own"),
    (
        "get_txn",
        20_000,
        "a point read, all in one read transaction",
    ),
    ("fold", 1, "a full scan (divided by rows: per row)"),
    ("seek", 5_000, "seek + 10 rows in a transaction of its own"),
    (
        "seek_txn",
        5_000,
        "seek + 10 rows, all in one read transaction",
    ),
    (
        "commit",
        1_000,
        "a one-row write committed on its own, no fsync",
    ),
];

fn usage() -> ! {
    let kinds: Vec<String> = Kind::ALL.iter().map(|k| k.slug()).collect();
    let phases: Vec<&str> = PHASES.iter().map(|p| p.0).collect();
    eprintln!(
        "usage: instructions <contender> <phase> [rows]\n  contenders: {}\n  phases: {}",
        kinds.join(" "),
        phases.join(" ")
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(contender), Some(phase)) = (args.first(), args.get(1)) else {
        usage()
    };
    let Some(kind) = Kind::from_slug(contender) else {
        usage()
    };
    let Some(&(phase, ops, _)) = PHASES.iter().find(|p| p.0 == phase) else {
        usage()
    };
    let rows: u64 = args
        .get(2)
        .map_or(100_000, |r| r.parse().unwrap_or_else(|_| usage()));

    let dir = tempfile::tempdir().expect("temporary directory");
    let mut store = open(kind, dir.path(), Durability::None);
    store.load(&mut people_shuffled(rows));
    let keys = random_keys(20_000, rows, 0x5EED);
    let new = random_keys(1_000, 1 << 40, 0xBA7C);
    let new: Vec<_> = new
        .into_iter()
        .map(|id| zerotable_peers::data::person(rows + id))
        .collect();

    let count = |n: u64| n as usize;
    let sum = match phase {
        "setup" => 0.0,
        "get" => keys.iter().filter_map(|&k| store.revenue(k)).sum(),
        "get_txn" => store.revenues(&keys[..count(ops)]),
        "fold" => store.sum_revenue(),
        "seek" => keys[..count(ops)]
            .iter()
            .map(|&k| store.sum_revenue_from(k, 10))
            .sum(),
        "seek_txn" => store.sums_from(&keys[..count(ops)], 10),
        "commit" => {
            for person in &new {
                store.write_one(person);
            }
            0.0
        }
        _ => unreachable!("phases are checked above"),
    };
    black_box(sum);
    let per = if phase == "fold" { rows } else { ops };
    println!("{per}");
}
