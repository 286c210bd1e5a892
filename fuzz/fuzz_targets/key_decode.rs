//! Arbitrary bytes through every key decoder (standalone and as a tuple part): no panic, and
//! whatever is accepted re-encodes to exactly the input. Then the bytes are planted as a stored
//! key under raw tables of several key types: scans decode them or fail with `KeyDecode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zerotable_fuzz::{STORAGE, check_every_key_type, check_planted_key};

fuzz_target!(|data: &[u8]| {
    check_every_key_type(data);
    check_planted_key(&STORAGE, "k_u64", 5u64, data);
    check_planted_key(&STORAGE, "k_string", "x".to_owned(), data);
    check_planted_key(&STORAGE, "k_str_u64", ("a".to_owned(), 1u64), data);
    check_planted_key(
        &STORAGE,
        "k_u32_str_i16",
        (1u32, "b".to_owned(), 2i16),
        data,
    );
    check_planted_key(&STORAGE, "k_bytes_bool", (vec![0u8, 1], true), data);
});
