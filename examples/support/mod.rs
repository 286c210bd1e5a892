//! The realistic record and deterministic data set shared by the examples and the benches
//! (benches include this file with `#[path]`), so every figure is measured on the same rows.
#![allow(dead_code)] // each user of this module needs a different subset

use rkyv::{Archive, Serialize};

/// A typical application record: scalars, strings and a list of strings.
#[derive(Archive, Serialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub revenue: f64,
    pub tags: Vec<String>,
}

const FIRST_NAMES: [&str; 16] = [
    "ada", "alan", "barbara", "brian", "claude", "donald", "edsger", "frances", "grace", "john",
    "ken", "leslie", "margaret", "niklaus", "radia", "tony",
];
const LAST_NAMES: [&str; 16] = [
    "lovelace",
    "turing",
    "liskov",
    "kernighan",
    "shannon",
    "knuth",
    "dijkstra",
    "allen",
    "hopper",
    "backus",
    "thompson",
    "lamport",
    "hamilton",
    "wirth",
    "perlman",
    "hoare",
];
const TAGS: [&str; 8] = [
    "beta",
    "enterprise",
    "newsletter",
    "mobile",
    "trial",
    "vip",
    "europe",
    "americas",
];

/// SplitMix64: turns any `u64` (here a user id) into a well-mixed one.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A tiny deterministic xorshift64 generator.
pub struct XorShift64(u64);

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        // xorshift must not start at zero.
        XorShift64(splitmix64(seed) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..bound` (the modulo bias is irrelevant here).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// The user with id `id`: always the same for the same id.
pub fn make_user(id: u64) -> User {
    let mut rng = XorShift64::new(id);
    let first = FIRST_NAMES[rng.below(16) as usize];
    let last = LAST_NAMES[rng.below(16) as usize];
    let tags = (0..1 + rng.below(4))
        .map(|_| TAGS[rng.below(8) as usize].to_owned())
        .collect();
    User {
        id,
        name: format!("{first} {last}"),
        email: format!("{first}.{last}.{id}@mail.example.org"),
        active: rng.below(10) < 7,
        revenue: rng.below(100_000) as f64 / 100.0,
        tags,
    }
}
