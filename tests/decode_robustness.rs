//! Decoding never panics: arbitrary byte strings, and valid encodings that were truncated,
//! bit-flipped or had bytes inserted or removed, are fed to every key decoder and planted
//! behind the typed layer's back under tables of every serializer. Every read must come back as
//! a value or as a typed error (`CorruptValue`, `KeyDecode`) naming the bad entry, and a `put`
//! of pre-serialized bytes must either refuse them (`InvalidValue`, nothing stored) or store
//! bytes that read back.
//!
//! The same checks run unbounded in time as cargo-fuzz targets, in `fuzz/`.

mod common;

use std::fmt::Debug;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError};
use rkyv::{Archive, Serialize};
use zerotable::{
    Error, FromKeyBytes, IntoKeyBytes, KeyArena, RkyvSerializer, Storage, Table, ValueSerializer,
};

// ---- a realistic rkyv record: strings, a string vector, options, a data-carrying enum ----

#[derive(Archive, Serialize, Debug, Clone)]
enum Plan {
    Free,
    Trial { days_left: u16 },
    Paid { seats: u32, company: String },
}

#[derive(Archive, Serialize, Debug, Clone)]
struct Account {
    id: u64,
    name: String,
    email: Option<String>,
    active: bool,
    balance: f64,
    tags: Vec<String>,
    plan: Plan,
    referrer: Option<u64>,
}

fn account(i: u64) -> Account {
    Account {
        id: i,
        name: format!("user{i}"),
        email: i.is_multiple_of(2).then(|| format!("user{i}@example.com")),
        active: !i.is_multiple_of(3),
        balance: i as f64 * 0.25,
        tags: (0..i % 4).map(|t| format!("tag{t}")).collect(),
        plan: match i % 3 {
            0 => Plan::Free,
            1 => Plan::Trial { days_left: 14 },
            _ => Plan::Paid {
                seats: 5,
                company: "Initech".into(),
            },
        },
        referrer: (!i.is_multiple_of(5)).then_some(i / 2),
    }
}

/// Reads every field of an archived account, the way an application would: a validated
/// archive must survive all of it.
fn touch_account(a: &ArchivedAccount) -> u64 {
    let mut n = a.id.to_native();
    n = n.wrapping_add(a.name.as_str().chars().count() as u64);
    if let Some(email) = a.email.as_ref() {
        n = n.wrapping_add(email.as_str().len() as u64);
    }
    n = n.wrapping_add(u64::from(a.active));
    n = n.wrapping_add(a.balance.to_native().to_bits());
    for tag in a.tags.iter() {
        n = n.wrapping_add(tag.as_str().len() as u64);
    }
    n = n.wrapping_add(match &a.plan {
        ArchivedPlan::Free => 1,
        ArchivedPlan::Trial { days_left } => u64::from(days_left.to_native()),
        ArchivedPlan::Paid { seats, company } => {
            u64::from(seats.to_native()) + company.as_str().len() as u64
        }
    });
    if let Some(referrer) = a.referrer.as_ref() {
        n = n.wrapping_add(referrer.to_native());
    }
    n
}

fn rkyv_bytes(a: &Account) -> Vec<u8> {
    rkyv::to_bytes::<rkyv::rancor::Error>(a).unwrap().to_vec()
}

// ---- FlatBuffers (feature `example-schemas`) ----

#[cfg(feature = "example-schemas")]
mod fb {
    use zerotable::schemas::{Monster, User, UserArgs, finish_user_buffer};

    pub use super::common::monster_bytes;

    pub fn user_bytes(i: u64) -> Vec<u8> {
        let mut builder = flatbuffers::FlatBufferBuilder::new();
        let name = builder.create_string(&format!("user{i}"));
        let email = builder.create_string(&format!("user{i}@example.com"));
        let tags: Vec<_> = (0..i % 4)
            .map(|t| builder.create_string(&format!("tag{t}")))
            .collect();
        let tags = builder.create_vector(&tags);
        let user = User::create(
            &mut builder,
            &UserArgs {
                id: i,
                name: Some(name),
                email: Some(email),
                active: i.is_multiple_of(2),
                revenue: i as f64 * 1.5,
                tags: Some(tags),
            },
        );
        finish_user_buffer(&mut builder, user);
        builder.finished_data().to_vec()
    }

    pub fn touch_monster(m: Monster<'_>) -> u64 {
        let mut n = m.name().map_or(0, |s| s.chars().count() as u64);
        n = n.wrapping_add(m.hp() as u64).wrapping_add(m.mana() as u64);
        if let Some(pos) = m.pos() {
            n = n.wrapping_add(u64::from((pos.x() + pos.y() + pos.z()).to_bits()));
        }
        n = n.wrapping_add(u64::from(m.color().0));
        if let Some(inventory) = m.inventory() {
            n = n.wrapping_add(inventory.iter().map(u64::from).sum::<u64>());
            n = n.wrapping_add(inventory.bytes().len() as u64);
        }
        n
    }

    pub fn touch_user(u: User<'_>) -> u64 {
        let mut n = u.id();
        n = n.wrapping_add(u.name().map_or(0, |s| s.chars().count() as u64));
        n = n.wrapping_add(u.email().map_or(0, str::len) as u64);
        n = n.wrapping_add(u64::from(u.active()));
        n = n.wrapping_add(u.revenue().to_bits());
        if let Some(tags) = u.tags() {
            for tag in tags.iter() {
                n = n.wrapping_add(tag.len() as u64);
            }
            if !tags.is_empty() {
                n = n.wrapping_add(tags.get(tags.len() - 1).len() as u64);
            }
        }
        n
    }
}

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

fn account_seeds() -> Vec<Vec<u8>> {
    (0..6).map(|i| rkyv_bytes(&account(i))).collect()
}

#[cfg(feature = "example-schemas")]
fn flatbuffers_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = (0..4).map(fb::user_bytes).collect();
    seeds.push(fb::monster_bytes("orc", 80));
    seeds.push(fb::monster_bytes("", -1));
    seeds
}

#[cfg(not(feature = "example-schemas"))]
fn flatbuffers_seeds() -> Vec<Vec<u8>> {
    Vec::new()
}

/// Every format's seeds: bytes of one format are garbage to another.
fn value_seeds() -> Vec<Vec<u8>> {
    let mut seeds = account_seeds();
    seeds.extend(flatbuffers_seeds());
    seeds
}

fn standalone<T: IntoKeyBytes + ?Sized>(value: &T) -> Vec<u8> {
    let mut arena = KeyArena::new();
    value.key_bytes(&mut arena).to_vec()
}

fn key_seeds() -> Vec<Vec<u8>> {
    vec![
        standalone(&0x0102_0304u32),
        standalone(&-5i64),
        standalone(&i128::MIN),
        standalone(&true),
        standalone("héllo"),
        standalone(&[0u8, 0, 0xFF, 0]),
        standalone(&("a\0b".to_owned(), 7u64)),
        standalone(&(9u32, String::new(), -3i16)),
        standalone(&(vec![0u8, 0xFF, 0, 0], false)),
        standalone(&(-1i64, b"\0\0".to_vec())),
        standalone(&("x".to_owned(), "\0".to_owned())),
    ]
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures print their minimal input; no regression files beside the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- keys ----

/// Decoding never panics, and whatever is accepted is exactly the encoding of the result,
/// standalone and as a tuple part.
fn check_key<T: IntoKeyBytes + FromKeyBytes + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = T::from_key_bytes(bytes) {
        prop_assert_eq!(standalone(&value), bytes, "{:?}", value);
    }
    let mut input = bytes;
    if let Ok(value) = T::read_key_part(&mut input) {
        let consumed = bytes.len() - input.len();
        let mut arena = KeyArena::new();
        value.write_key_part(&mut arena);
        prop_assert_eq!(arena.as_slice(), &bytes[..consumed], "{:?}", value);
    }
    Ok(())
}

fn check_every_key_type(bytes: &[u8]) -> Result<(), TestCaseError> {
    check_key::<u8>(bytes)?;
    check_key::<u16>(bytes)?;
    check_key::<u32>(bytes)?;
    check_key::<u64>(bytes)?;
    check_key::<u128>(bytes)?;
    check_key::<i8>(bytes)?;
    check_key::<i16>(bytes)?;
    check_key::<i32>(bytes)?;
    check_key::<i64>(bytes)?;
    check_key::<i128>(bytes)?;
    check_key::<bool>(bytes)?;
    check_key::<String>(bytes)?;
    check_key::<Vec<u8>>(bytes)?;
    check_key::<[u8; 4]>(bytes)?;
    check_key::<(String, u64)>(bytes)?;
    check_key::<(u32, String, i16)>(bytes)?;
    check_key::<(Vec<u8>, bool)>(bytes)?;
    check_key::<(i64, Vec<u8>)>(bytes)?;
    check_key::<(String, String)>(bytes)?;
    check_key::<(bool, Vec<u8>, String)>(bytes)?;
    Ok(())
}

// ---- tables ----

const GOOD: u64 = 0;
const BAD: u64 = 1;

fn expect_corrupt<T: Debug>(
    result: zerotable::Result<T>,
    table: &str,
    format: &str,
) -> Result<(), TestCaseError> {
    match result {
        Err(Error::CorruptValue {
            table: t,
            key,
            format: f,
            ..
        }) => {
            prop_assert_eq!(t, table);
            prop_assert_eq!(key.0, BAD.to_be_bytes());
            prop_assert_eq!(f, format);
            Ok(())
        }
        other => Err(TestCaseError::fail(format!(
            "{table}: expected a value or CorruptValue, got {other:?}"
        ))),
    }
}

/// Plants `bytes` under key `BAD` of `table` (which holds a valid value under `GOOD`) and
/// reads them back through `get`, `scan_with(fold)` and `filter_map`. Returns whether they
/// were accepted as a value.
fn check_planted<V, S, F>(
    storage: &Storage,
    table: &Table<u64, V, S>,
    bytes: &[u8],
    touch: F,
) -> Result<bool, TestCaseError>
where
    V: ?Sized,
    S: ValueSerializer<V>,
    F: Fn(S::Output<'_>) -> u64,
{
    let name = table.name();
    storage
        .database()
        .put(name, &BAD.to_be_bytes(), bytes)
        .unwrap();

    let accepted = match table.get(&BAD, &touch) {
        Ok(found) => {
            prop_assert!(found.is_some(), "{name}: planted value not found");
            true
        }
        other => {
            expect_corrupt(other, name, S::FORMAT)?;
            false
        }
    };

    let folded = table.scan_with(|s| {
        s.fold(Vec::new(), |mut seen, id, view| {
            touch(view);
            seen.push(*id);
            Ok(seen)
        })
    });
    let mapped = table.filter_map(|id, view| Some((*id, touch(view))));
    if accepted {
        prop_assert_eq!(folded.unwrap(), [GOOD, BAD]);
        let ids: Vec<u64> = mapped.unwrap().into_iter().map(|(id, _)| id).collect();
        prop_assert_eq!(ids, [GOOD, BAD]);
    } else {
        expect_corrupt(folded, name, S::FORMAT)?;
        expect_corrupt(mapped, name, S::FORMAT)?;
    }
    Ok(accepted)
}

/// `put` of pre-serialized `bytes` either refuses them with `InvalidValue` and stores nothing,
/// or stores exactly them, and they read back.
fn check_put<S, F>(
    storage: &Storage,
    table: &Table<u64, [u8], S>,
    bytes: &[u8],
    touch: F,
) -> Result<(), TestCaseError>
where
    S: ValueSerializer<[u8]>,
    F: Fn(S::Output<'_>) -> u64,
{
    const KEY: u64 = 7;
    let name = table.name();
    table.delete(&KEY).unwrap();
    let len = table.len().unwrap();
    match table.put(&KEY, bytes) {
        Ok(()) => {
            let read = table.get(&KEY, &touch);
            prop_assert!(
                matches!(read, Ok(Some(_))),
                "{}: accepted bytes {:02x?} do not read back: {:?}",
                name,
                bytes,
                read
            );
            let mut stored = None;
            storage
                .database()
                .get(name, &KEY.to_be_bytes(), &mut |b| stored = Some(b.to_vec()))
                .unwrap();
            prop_assert_eq!(stored.as_deref(), Some(bytes));
        }
        Err(Error::InvalidValue {
            table: t, format, ..
        }) => {
            prop_assert_eq!(t, name);
            prop_assert_eq!(format, S::FORMAT);
            prop_assert!(
                !table.contains(&KEY).unwrap(),
                "{name}: refused value stored"
            );
            prop_assert_eq!(table.len().unwrap(), len);
        }
        Err(other) => {
            return Err(TestCaseError::fail(format!(
                "{name}: expected Ok or InvalidValue, got {other:?}"
            )));
        }
    }
    Ok(())
}

/// Plants `key` (with a valid raw value) in a raw table keyed by `K` that holds one valid key;
/// a scan must decode it or fail with `KeyDecode` naming it.
fn check_planted_key<K>(
    storage: &Storage,
    name: &str,
    valid: K,
    key: &[u8],
) -> Result<(), TestCaseError>
where
    K: IntoKeyBytes + FromKeyBytes + Debug,
{
    let table = storage.raw_table::<K>(name).unwrap();
    table.put(&valid, b"valid").unwrap();
    storage.database().put(name, key, b"planted").unwrap();
    let result = table.scan_with(|s| {
        s.fold(Vec::new(), |mut keys, k, v| {
            keys.push((standalone(k), v.to_vec()));
            Ok(keys)
        })
    });
    match result {
        Ok(keys) => {
            // Every stored key was decoded, and decoded to the key that was stored.
            prop_assert!(keys.iter().any(|(k, v)| k == key && v == b"planted"));
            prop_assert_eq!(keys.len() as u64, table.len().unwrap());
        }
        Err(Error::KeyDecode {
            table: t, key: k, ..
        }) => {
            prop_assert_eq!(t, name);
            prop_assert_eq!(k.0, key);
        }
        Err(other) => {
            return Err(TestCaseError::fail(format!(
                "{name}: expected Ok or KeyDecode, got {other:?}"
            )));
        }
    }
    storage.database().delete(name, key).unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn key_decoders_never_panic_and_accept_only_encodings(
        bytes in input(key_seeds(), 40),
    ) {
        check_every_key_type(&bytes)?;
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn rkyv_decode_never_panics_at_any_alignment(bytes in input(value_seeds(), 160)) {
        let serializer = RkyvSerializer::<Account>::new();
        // The same bytes at an 8-aligned address and one byte past it.
        let mut buf = rkyv::util::AlignedVec::<8>::new();
        buf.push(0);
        buf.extend_from_slice(&bytes);
        let aligned = serializer.decode(&bytes).map(touch_account);
        let misaligned = serializer.decode(&buf[1..]).map(touch_account);
        prop_assert_eq!(aligned.ok(), misaligned.ok());
    }

    #[test]
    fn planted_rkyv_values_read_as_values_or_corrupt_value(bytes in input(value_seeds(), 160)) {
        let storage = Storage::in_memory();
        let owned = storage.rkyv_table::<u64, Account>("accounts").unwrap();
        owned.put(&GOOD, &account(3)).unwrap();
        let owned_ok = check_planted(&storage, &owned, &bytes, touch_account)?;

        let borrowed = storage.rkyv_borrowed_table::<u64, Account>("borrowed").unwrap();
        borrowed.put(&GOOD, &rkyv_bytes(&account(4))).unwrap();
        let borrowed_ok = check_planted(&storage, &borrowed, &bytes, touch_account)?;
        // Same validation behind both table kinds.
        prop_assert_eq!(owned_ok, borrowed_ok);
    }

    #[test]
    fn planted_raw_values_read_back_unchanged(bytes in input(value_seeds(), 160)) {
        let storage = Storage::in_memory();
        let raw = storage.raw_table::<u64>("raw").unwrap();
        raw.put(&GOOD, b"good").unwrap();
        let accepted = check_planted(&storage, &raw, &bytes, |v| v.len() as u64)?;
        prop_assert!(accepted);
        prop_assert_eq!(raw.get(&BAD, <[u8]>::to_vec).unwrap(), Some(bytes));
    }

    #[test]
    fn put_of_arbitrary_rkyv_bytes_is_refused_or_readable(bytes in input(value_seeds(), 160)) {
        let storage = Storage::in_memory();
        let borrowed = storage.rkyv_borrowed_table::<u64, Account>("borrowed").unwrap();
        check_put(&storage, &borrowed, &bytes, touch_account)?;
    }
}

#[cfg(feature = "example-schemas")]
proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn planted_flatbuffers_read_as_values_or_corrupt_value(bytes in input(value_seeds(), 160)) {
        use zerotable::schemas::{Monster, User};
        let storage = Storage::in_memory();
        let monsters = storage.flatbuffers_table::<u64, Monster>("monsters").unwrap();
        monsters.put(&GOOD, &fb::monster_bytes("troll", 300)).unwrap();
        check_planted(&storage, &monsters, &bytes, fb::touch_monster)?;

        let users = storage.flatbuffers_table::<u64, User>("users").unwrap();
        users.put(&GOOD, &fb::user_bytes(2)).unwrap();
        check_planted(&storage, &users, &bytes, fb::touch_user)?;
    }

    #[test]
    fn put_of_arbitrary_flatbuffers_is_refused_or_readable(bytes in input(value_seeds(), 160)) {
        use zerotable::schemas::{Monster, User};
        let storage = Storage::in_memory();
        let monsters = storage.flatbuffers_table::<u64, Monster>("monsters").unwrap();
        check_put(&storage, &monsters, &bytes, fb::touch_monster)?;
        let users = storage.flatbuffers_table::<u64, User>("users").unwrap();
        check_put(&storage, &users, &bytes, fb::touch_user)?;
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn planted_keys_decode_or_are_key_decode_errors(key in input(key_seeds(), 40)) {
        let storage = Storage::in_memory();
        check_planted_key(&storage, "k_u64", 5u64, &key)?;
        check_planted_key(&storage, "k_i16", -5i16, &key)?;
        check_planted_key(&storage, "k_bool", true, &key)?;
        check_planted_key(&storage, "k_string", "x".to_owned(), &key)?;
        check_planted_key(&storage, "k_bytes", vec![0u8], &key)?;
        check_planted_key(&storage, "k_array", [1u8; 4], &key)?;
        check_planted_key(&storage, "k_str_u64", ("a".to_owned(), 1u64), &key)?;
        check_planted_key(&storage, "k_u32_str_i16", (1u32, "b".to_owned(), 2i16), &key)?;
        check_planted_key(&storage, "k_bytes_bool", (vec![0u8, 1], true), &key)?;
    }

    #[test]
    fn planted_keys_and_values_together_give_typed_errors(
        key in input(key_seeds(), 40),
        value in input(account_seeds(), 160),
    ) {
        let storage = Storage::in_memory();
        let table = storage.rkyv_table::<(String, u64), Account>("pairs").unwrap();
        table.put(&("alice".to_owned(), 1), &account(1)).unwrap();
        storage.database().put("pairs", &key, &value).unwrap();
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
    #[cfg(feature = "example-schemas")]
    {
        use zerotable::schemas::{Monster, User};
        let seeds = flatbuffers_seeds();
        let (users, monsters) = seeds.split_at(4);
        for seed in users {
            assert!(flatbuffers::root::<User>(seed).is_ok());
        }
        for seed in monsters {
            assert!(flatbuffers::root::<Monster>(seed).is_ok());
        }
    }
    for seed in key_seeds() {
        assert!(!seed.is_empty());
    }
}
