//! What every bench file of the peers suite shares: the list of contenders, the sizes (set by
//! environment variables for the reduced mode), stores in temporary directories, and the
//! criterion configuration.
//!
//! `ZEROTABLE_BENCH_CONTENDERS=raw-fjall,zerotable-fjall` runs only the contenders listed (by
//! slug: the `Kind` in kebab case); every store of the others is then not even built.
//!
//! Each bench file uses only part of this module.
#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;
use tempfile::TempDir;
use zerotable_peers::data::{person, random_keys};
use zerotable_peers::{Contender, Durability, Kind, Person, people, people_shuffled};

/// The contenders to run, in table order: every one compiled in, or those
/// `ZEROTABLE_BENCH_CONTENDERS` lists (see [`Kind::selected`]).
pub fn kinds() -> Vec<Kind> {
    Kind::selected()
}

/// Reads a count from environment variable `name` (underscores allowed: `100_000`), or `default`.
fn env_count(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a count")),
        Err(_) => default,
    }
}

/// Rows of the large stores: `ZEROTABLE_BENCH_ROWS`, 1,000,000 by default.
pub fn rows() -> u64 {
    env_count("ZEROTABLE_BENCH_ROWS", 1_000_000)
}

/// Single-row commits per iteration of the individual-write benchmarks:
/// `ZEROTABLE_BENCH_COMMITS`, 1,000 by default.
pub fn commits() -> usize {
    env_count("ZEROTABLE_BENCH_COMMITS", 1_000) as usize
}

/// Rows of the hot store of the point reads: small enough to stay in the CPU caches' reach.
pub const HOT_ROWS: u64 = 10_000;

/// Rows of the store the write and removal benchmarks start from (capped by [`rows`]).
pub fn write_base_rows() -> u64 {
    rows().min(100_000)
}

/// Keys of a random key sequence a benchmark cycles through (a power of two).
pub const KEYS: usize = 1 << 16;

/// The key space new rows of the write benchmarks are drawn from: far larger than any store,
/// so they are inserts at random places.
pub const NEW_KEY_SPACE: u64 = 1 << 40;

/// The criterion configuration of the suite: few samples and short measurements (a run over
/// every contender must stay affordable on two cores); command-line flags such as `--quick`
/// still apply on top.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .nresamples(20_000)
}

/// A contender with its files in a temporary directory removed on drop.
pub struct Store {
    /// Declared before `_dir`, so the engine closes before its directory goes.
    pub contender: Box<dyn Contender>,
    _dir: TempDir,
}

impl Store {
    /// An empty store of contender `kind`.
    pub fn empty(kind: Kind, durability: Durability) -> Store {
        let dir = tempfile::tempdir().expect("temporary directory");
        let contender = zerotable_peers::open(kind, dir.path(), durability);
        Store {
            contender,
            _dir: dir,
        }
    }

    /// A store of contender `kind` holding people `0..count`, loaded in one transaction in key
    /// order.
    pub fn loaded(kind: Kind, count: u64, durability: Durability) -> Store {
        let mut store = Store::empty(kind, durability);
        store.contender.load(&mut people(count));
        store
    }

    /// The same, loaded in a random key order: pages as a history of inserts at random places
    /// leaves them, what the read benchmarks run on.
    pub fn loaded_shuffled(kind: Kind, count: u64, durability: Durability) -> Store {
        let mut store = Store::empty(kind, durability);
        store.contender.load(&mut people_shuffled(count));
        store
    }

    /// The contender's name.
    pub fn name(&self) -> &'static str {
        self.contender.name()
    }

    /// Checks a few point reads and a short range read against the data set, so a benchmark
    /// never times a contender that reads the wrong thing.
    pub fn check(&mut self, count: u64) {
        let name = self.name();
        for id in random_keys(16, count, 0xC0FFEE) {
            assert_eq!(
                self.contender.revenue(id),
                Some(person(id).revenue),
                "{name}: revenue({id})"
            );
        }
        assert_eq!(
            self.contender.revenue(count),
            None,
            "{name}: revenue past the end"
        );
        let start = count / 2;
        let expected: f64 = (start..(start + 10).min(count))
            .map(|id| person(id).revenue)
            .sum();
        let got = self.contender.sum_revenue_from(start, 10);
        assert!(
            (got - expected).abs() < 1e-6,
            "{name}: sum_revenue_from({start}, 10) = {got}, expected {expected}"
        );
        let got = self.contender.sums_from(&[start, start], 10);
        assert!(
            (got - 2.0 * expected).abs() < 1e-6,
            "{name}: sums_from([{start}, {start}], 10) = {got}, expected {}",
            2.0 * expected
        );
        let ids = random_keys(16, count, 0xC0FFEE);
        let expected: f64 = ids.iter().map(|&id| person(id).revenue).sum();
        let got = self.contender.revenues(&ids);
        assert!(
            (got - expected).abs() < 1e-6,
            "{name}: revenues(..) = {got}, expected {expected}"
        );
    }
}

/// Loads a store of every contender, each holding people `0..count` loaded in a random key
/// order, and checks it.
pub fn loaded_stores(count: u64) -> Vec<Store> {
    kinds()
        .into_iter()
        .map(|kind| {
            let mut store = Store::loaded_shuffled(kind, count, Durability::Immediate);
            store.check(count);
            store
        })
        .collect()
}

/// Returns a closure yielding the keys of `keys` in turn, cycling.
pub fn cycle(keys: &[u64]) -> impl FnMut() -> u64 + '_ {
    let mut next = 0;
    move || {
        let key = keys[next % keys.len()];
        next += 1;
        key
    }
}

/// Returns a closure yielding `count` new people on every call, with ids drawn at random from
/// [`NEW_KEY_SPACE`], a different draw every call.
pub fn new_people(count: usize) -> impl FnMut() -> Vec<Person> {
    let mut draw = 0u64;
    move || {
        draw += 1;
        random_keys(count, NEW_KEY_SPACE, 0xBA7C_0000 + draw)
            .into_iter()
            .map(person)
            .collect()
    }
}

/// The even ids of `0..count` in a random order: half the rows, removed as a user would remove
/// a set of ids (not in key order).
pub fn random_half(count: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = (0..count).step_by(2).collect();
    let random = random_keys(ids.len(), u64::MAX, 0x4A1F);
    for i in (1..ids.len()).rev() {
        ids.swap(i, (random[i] % (i as u64 + 1)) as usize);
    }
    ids
}
