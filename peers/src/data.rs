//! The data set: realistic, deterministic `Person` records (~120 bytes archived).

use serde::{Deserialize, Serialize};

/// The logical record every contender stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, rkyv::Archive, rkyv::Serialize)]
pub struct Person {
    /// Key.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Active account.
    pub active: bool,
    /// Revenue, the field reads and scans touch.
    pub revenue: f64,
    /// A few tags.
    pub tags: Vec<String>,
}

const FIRST: [&str; 8] = [
    "ada", "alan", "barbara", "edsger", "grace", "leslie", "margaret", "tony",
];
const LAST: [&str; 8] = [
    "lovelace", "turing", "liskov", "dijkstra", "hopper", "lamport", "hamilton", "hoare",
];
const TAGS: [&str; 6] = ["beta", "enterprise", "newsletter", "mobile", "trial", "vip"];

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Person `id`: always the same for the same id.
pub fn person(id: u64) -> Person {
    let r = mix(id);
    let first = FIRST[(r % 8) as usize];
    let last = LAST[((r >> 8) % 8) as usize];
    Person {
        id,
        name: format!("{first} {last}"),
        email: format!("{first}.{last}.{id}@mail.example.org"),
        active: (r >> 16) % 10 < 7,
        revenue: ((r >> 24) % 100_000) as f64 / 100.0,
        tags: (0..1 + (r >> 40) % 4)
            .map(|t| TAGS[((r >> (44 + 4 * t)) % 6) as usize].to_owned())
            .collect(),
    }
}

/// People `0..count`, in key order.
pub fn people(count: u64) -> impl Iterator<Item = Person> {
    (0..count).map(person)
}

/// The ids `0..count` in a fixed pseudo-random order (a Fisher–Yates shuffle with a fixed seed).
pub fn shuffled_ids(count: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = (0..count).collect();
    let random = random_keys(ids.len(), u64::MAX, 0x5_4FF1E);
    for i in (1..ids.len()).rev() {
        ids.swap(i, (random[i] % (i as u64 + 1)) as usize);
    }
    ids
}

/// People `0..count` in the order of [`shuffled_ids`]: a load that inserts at random places, as
/// data arriving over time does, and leaves the engine's pages as such a history leaves them.
pub fn people_shuffled(count: u64) -> impl Iterator<Item = Person> {
    shuffled_ids(count).into_iter().map(person)
}

/// A deterministic sequence of `n` keys below `below`.
pub fn random_keys(n: usize, below: u64, seed: u64) -> Vec<u64> {
    (0..n as u64)
        .map(|i| mix(seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D)) % below)
        .collect()
}
