//! Decoding never panics: arbitrary byte strings, and valid encodings that were truncated,
//! bit-flipped or had bytes inserted or removed, are fed to every key decoder and planted
//! behind the typed layer's back under tables of every serializer. Every read must come back as
//! a value or as a typed error (`CorruptValue`, `KeyDecode`) naming the bad entry, and a `put`
//! of pre-serialized bytes must either refuse them (`InvalidValue`, nothing stored) or store
//! bytes that read back.
//!
//! The same checks run unbounded in time as cargo-fuzz targets, in `fuzz/`.

// The record, field readers, seeds and checks the cargo-fuzz targets use: one source of truth.
// Its checks panic on failure, which proptest reports and shrinks like a `prop_assert!`.
#[path = "../fuzz/src/lib.rs"]
#[expect(
    dead_code,
    reason = "the fuzz targets' shared `STORAGE` is unused here"
)]
mod fuzz_checks;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError};
use zerotable::schemas::{Monster, User};
use zerotable::{Error, RkyvSerializer, Storage, ValueSerializer, WriteOptions};

use fuzz_checks::{
    Account, BAD, GOOD, account, account_seeds, check_every_key_type, check_planted,
    check_planted_key, check_put, decode_account_at_two_alignments, flatbuffers_seeds, key_seeds,
    monster_bytes, rkyv_bytes, touch_account, touch_monster, touch_user, user_bytes,
};

// ---- inputs: arbitrary bytes and mutated valid encodings ----

/// One edit applied to a valid encoding.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    FlipBit(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Set(Index, u8),
    /// Overwrite four bytes with a little-endian word: rkyv relative pointers and lengths,
    /// FlatBuffers offsets.
    SetWord(Index, u32),
}

fn special_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => any::<u8>(),
        1 => Just(0x00u8),
        1 => Just(0x01u8),
        1 => Just(0xFFu8),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), special_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Remove),
        (any::<Index>(), special_byte()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (
            any::<Index>(),
            prop_oneof![
                any::<u32>(),
                Just(0u32),
                Just(u32::MAX),
                0u32..64,
                (u32::MAX - 64)..=u32::MAX
            ]
        )
            .prop_map(|(i, w)| Mutation::SetWord(i, w)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Truncate(i) => bytes.truncate(i.index(len + 1)),
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), b),
            _ if len == 0 => {}
            Mutation::FlipBit(i, bit) => bytes[i.index(len)] ^= 1 << bit,
            Mutation::Remove(i) => {
                bytes.remove(i.index(len));
            }
            Mutation::Set(i, b) => bytes[i.index(len)] = b,
            Mutation::SetWord(i, w) => {
                let at = i.index(len);
                for (dst, src) in bytes[at..].iter_mut().zip(w.to_le_bytes()) {
                    *dst = src;
                }
            }
        }
    }
    bytes
}

/// Arbitrary bytes, biased towards the bytes decoders treat specially, or one of `seeds`
/// (unchanged or with one to four edits).
fn input(seeds: Vec<Vec<u8>>, max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len();
    prop_oneof![
        2 => vec(special_byte(), 0..max_len),
        1 => (0..count).prop_map({
            let seeds = seeds.clone();
            move |i| seeds[i].clone()
        }),
        5 => (0..count, vec(mutation(), 1..5))
            .prop_map(move |(i, edits)| apply(seeds[i].clone(), &edits)),
    ]
}

/// Every format's seeds: bytes of one format are garbage to another.
fn value_seeds() -> Vec<Vec<u8>> {
    let mut seeds = account_seeds();
    seeds.extend(flatbuffers_seeds());
    seeds
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures print their minimal input; no regression files beside the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(2048))]

    /// Every key decoder, standalone and as a tuple part, never panics, and accepts only bytes
    /// that are exactly the encoding of what it decoded.
    #[test]
    fn key_decoders_never_panic_and_accept_only_encodings(
        bytes in input(key_seeds(), 40),
    ) {
        check_every_key_type(&bytes);
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// rkyv validation never panics and gives the same verdict and fields at an aligned and a
    /// misaligned address.
    #[test]
    fn rkyv_decode_never_panics_at_any_alignment(bytes in input(value_seeds(), 160)) {
        decode_account_at_two_alignments(&bytes);
    }

    /// Bytes planted under an rkyv table and an rkyv-borrowed table read (get, fold, filter_map)
    /// as a value or as `CorruptValue` naming the key, and both table kinds agree.
    #[test]
    fn planted_rkyv_values_read_as_values_or_corrupt_value(bytes in input(value_seeds(), 160)) {
        let storage = Storage::in_memory();
        let owned = storage.rkyv_table::<u64, Account>("accounts").unwrap();
        owned.put(&GOOD, &account(3)).unwrap();
        let owned_ok = check_planted(&storage, &owned, &bytes, touch_account);

        let borrowed = storage.rkyv_borrowed_table::<u64, Account>("borrowed").unwrap();
        borrowed.put(&GOOD, &rkyv_bytes(&account(4))).unwrap();
        let borrowed_ok = check_planted(&storage, &borrowed, &bytes, touch_account);
        // Same validation behind both table kinds.
        prop_assert_eq!(owned_ok, borrowed_ok);
    }

    /// A raw table accepts any planted bytes and reads them back unchanged.
    #[test]
    fn planted_raw_values_read_back_unchanged(bytes in input(value_seeds(), 160)) {
        let storage = Storage::in_memory();
        let raw = storage.raw_table::<u64>("raw").unwrap();
        raw.put(&GOOD, b"good").unwrap();
        let accepted = check_planted(&storage, &raw, &bytes, |v| v.len() as u64);
        prop_assert!(accepted);
        prop_assert_eq!(raw.get(&BAD, <[u8]>::to_vec).unwrap(), Some(bytes));
    }

    /// A `put` of arbitrary pre-serialized rkyv bytes is refused with `InvalidValue` (nothing
    /// stored) or stores exactly those bytes, which read back.
    #[test]
    fn put_of_arbitrary_rkyv_bytes_is_refused_or_readable(bytes in input(value_seeds(), 160)) {
        let storage = Storage::in_memory();
        let borrowed = storage.rkyv_borrowed_table::<u64, Account>("borrowed").unwrap();
        check_put(&storage, &borrowed, &bytes, touch_account);
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// Bytes planted under FlatBuffers tables of two root types read as a value or as
    /// `CorruptValue` naming the key.
    #[test]
    fn planted_flatbuffers_read_as_values_or_corrupt_value(bytes in input(value_seeds(), 160)) {
        let storage = Storage::in_memory();
        let monsters = storage.flatbuffers_table::<u64, Monster>("monsters").unwrap();
        monsters.put(&GOOD, &monster_bytes("troll", 300)).unwrap();
        check_planted(&storage, &monsters, &bytes, touch_monster);

        let users = storage.flatbuffers_table::<u64, User>("users").unwrap();
        users.put(&GOOD, &user_bytes(2)).unwrap();
        check_planted(&storage, &users, &bytes, touch_user);
    }

    /// A `put` of arbitrary FlatBuffers bytes is refused with `InvalidValue` (nothing stored) or
    /// stores exactly those bytes, which read back.
    #[test]
    fn put_of_arbitrary_flatbuffers_is_refused_or_readable(bytes in input(value_seeds(), 160)) {
        let storage = Storage::in_memory();
        let monsters = storage.flatbuffers_table::<u64, Monster>("monsters").unwrap();
        check_put(&storage, &monsters, &bytes, touch_monster);
        let users = storage.flatbuffers_table::<u64, User>("users").unwrap();
        check_put(&storage, &users, &bytes, touch_user);
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// A key planted under tables of every key type decodes back to its stored bytes in a scan,
    /// or stops it with `KeyDecode` naming the planted key.
    #[test]
    fn planted_keys_decode_or_are_key_decode_errors(key in input(key_seeds(), 40)) {
        let storage = Storage::in_memory();
        check_planted_key(&storage, "k_u64", 5u64, &key);
        check_planted_key(&storage, "k_i16", -5i16, &key);
        check_planted_key(&storage, "k_bool", true, &key);
        check_planted_key(&storage, "k_string", "x".to_owned(), &key);
        check_planted_key(&storage, "k_bytes", vec![0u8], &key);
        check_planted_key(&storage, "k_array", [1u8; 4], &key);
        check_planted_key(&storage, "k_str_u64", ("a".to_owned(), 1u64), &key);
        check_planted_key(&storage, "k_u32_str_i16", (1u32, "b".to_owned(), 2i16), &key);
        check_planted_key(&storage, "k_bytes_bool", (vec![0u8, 1], true), &key);
    }

    /// A planted key and value together read back, or fail with `KeyDecode` or `CorruptValue`
    /// naming the planted key: never any other error, never a panic.
    #[test]
    fn planted_keys_and_values_together_give_typed_errors(
        key in input(key_seeds(), 40),
        value in input(account_seeds(), 160),
    ) {
        let storage = Storage::in_memory();
        let table = storage.rkyv_table::<(String, u64), Account>("pairs").unwrap();
        table.put(&("alice".to_owned(), 1), &account(1)).unwrap();
        // Planted behind the typed layer's back: an engine-level write.
        storage
            .engine()
            .write(WriteOptions::DEFAULT, &mut |txn| txn.put("pairs", &key, &value))
            .unwrap();
        let result = table.filter_map(|(name, id), a| Some((name.clone(), *id, touch_account(a))));
        match result {
            Ok(rows) => prop_assert_eq!(rows.len() as u64, table.len().unwrap()),
            Err(Error::KeyDecode { key: k, .. }) | Err(Error::CorruptValue { key: k, .. }) => {
                prop_assert_eq!(k.0, key);
            }
            Err(other) => {
                return Err(TestCaseError::fail(format!("expected a typed error, got {other:?}")));
            }
        }
    }
}

/// The seeds themselves are valid: the mutations start from real encodings.
#[test]
fn seeds_are_valid_encodings() {
    let serializer = RkyvSerializer::<Account>::new();
    for seed in account_seeds() {
        assert!(serializer.decode(&seed).is_ok());
    }
    let seeds = flatbuffers_seeds();
    let (users, monsters) = seeds.split_at(4);
    for seed in users {
        assert!(flatbuffers::root::<User>(seed).is_ok());
    }
    for seed in monsters {
        assert!(flatbuffers::root::<Monster>(seed).is_ok());
    }
    for seed in key_seeds() {
        assert!(!seed.is_empty());
    }
}
