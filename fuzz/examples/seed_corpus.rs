//! Writes valid encodings into `corpus/<target>/` as the fuzzers' starting points (mutating a
//! real archive reaches the deep validation paths much sooner than random bytes).
//!
//! Run from `fuzz/`: `cargo run --example seed_corpus`.

use std::fs;
use std::path::Path;

use zerotable_fuzz::{account_seeds, flatbuffers_seeds, key_seeds};

fn write(target: &str, seeds: &[Vec<u8>]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).expect("create corpus dir");
    for (i, seed) in seeds.iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:02}")), seed).expect("write seed");
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
}

fn main() {
    let accounts = account_seeds();
    write("key_decode", &key_seeds());
    write("rkyv_value", &accounts);
    write("rkyv_borrowed_put", &accounts);
    write("flatbuffers_value", &flatbuffers_seeds());
}
