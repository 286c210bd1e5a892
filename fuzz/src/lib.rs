//! Shared pieces of zerotable's fuzz targets: a realistic rkyv record, readers that touch every
//! field of a decoded view, valid seed encodings, and the properties the targets assert.
//!
//! Every property failure is a panic, which libFuzzer reports as a crash with the input saved
//! under `artifacts/<target>/`.
//!
//! `tests/decode_robustness.rs` includes this file as a module (`#[path]`), so the proptest
//! suite runs exactly these checks: a panic in a proptest body is a failing case, shrunk like
//! any other. Keep it depending only on `zerotable` (with `example-schemas`), `rkyv`,
//! `flatbuffers` and `std`, and take the `Storage` as a parameter: the fuzz targets pass the
//! process-wide [`STORAGE`], the proptests a fresh one per case.

use std::fmt::Debug;
use std::sync::LazyLock;

use rkyv::{Archive, Serialize};
use zerotable::schemas::{
    Color, Monster, MonsterArgs, User, UserArgs, Vec3, finish_monster_buffer, finish_user_buffer,
};
use zerotable::{
    Error, FromKeyBytes, IntoKeyBytes, KeyArena, KeyLike, RkyvSerializer, Storage, Table,
    ValueSerializer, WriteOptions,
};

// ---- the rkyv record ----

/// A subscription plan: a data-carrying enum.
#[derive(Archive, Serialize, Debug, Clone)]
pub enum Plan {
    /// No payment.
    Free,
    /// Trial period.
    Trial {
        /// Days left.
        days_left: u16,
    },
    /// Paying customer.
    Paid {
        /// Seats bought.
        seats: u32,
        /// Company name.
        company: String,
    },
}

/// An application record with strings, a string vector, options and an enum.
#[derive(Archive, Serialize, Debug, Clone)]
pub struct Account {
    /// Id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Optional e-mail.
    pub email: Option<String>,
    /// Whether the account is active.
    pub active: bool,
    /// Balance.
    pub balance: f64,
    /// Tags.
    pub tags: Vec<String>,
    /// Plan.
    pub plan: Plan,
    /// Who referred this account.
    pub referrer: Option<u64>,
}

/// A deterministic account number `i`.
pub fn account(i: u64) -> Account {
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

/// The rkyv archive of `a`.
pub fn rkyv_bytes(a: &Account) -> Vec<u8> {
    rkyv::to_bytes::<rkyv::rancor::Error>(a)
        .expect("serialize")
        .to_vec()
}

/// Valid `Account` archives, to start the rkyv corpora from.
pub fn account_seeds() -> Vec<Vec<u8>> {
    (0..6).map(|i| rkyv_bytes(&account(i))).collect()
}

/// Reads every field of an archived account, the way an application would: a validated
/// archive must survive all of it.
pub fn touch_account(a: &ArchivedAccount) -> u64 {
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

/// `RkyvSerializer<Account>::decode` of `bytes` at a 16-aligned address and at one byte past
/// one, reading every field of what is accepted: both must give the same verdict and the same
/// fields. Returns the aligned result.
pub fn decode_account_at_two_alignments(bytes: &[u8]) -> Option<u64> {
    let serializer = RkyvSerializer::<Account>::new();
    let mut shifted = rkyv::util::AlignedVec::<16>::new();
    shifted.push(0);
    shifted.extend_from_slice(bytes);
    let misaligned = serializer.decode(&shifted[1..]).ok().map(touch_account);
    let mut copy = rkyv::util::AlignedVec::<16>::new();
    copy.extend_from_slice(bytes);
    let aligned = serializer.decode(&copy).ok().map(touch_account);
    assert_eq!(
        aligned, misaligned,
        "validation of {bytes:02x?} depends on the address"
    );
    aligned
}

// ---- FlatBuffers ----

/// A finished `Monster` buffer.
pub fn monster_bytes(name: &str, hp: i16) -> Vec<u8> {
    let mut builder = flatbuffers::FlatBufferBuilder::new();
    let name = builder.create_string(name);
    let inventory = builder.create_vector(&[1u8, 2, 3]);
    let pos = Vec3::new(1.0, 2.0, 3.0);
    let monster = Monster::create(
        &mut builder,
        &MonsterArgs {
            name: Some(name),
            hp,
            mana: 20,
            pos: Some(&pos),
            color: Color::Green,
            inventory: Some(inventory),
        },
    );
    finish_monster_buffer(&mut builder, monster);
    builder.finished_data().to_vec()
}

/// A finished FlatBuffers `User` buffer.
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

/// Reads every field of a verified `Monster`.
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

/// Reads every field of a verified FlatBuffers `User`.
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

/// Valid FlatBuffers encodings, to start the FlatBuffers corpus from: four `User`s, then two
/// `Monster`s.
pub fn flatbuffers_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = (0..4).map(user_bytes).collect();
    seeds.push(monster_bytes("orc", 80));
    seeds.push(monster_bytes("", -1));
    seeds
}

// ---- keys ----

/// The standalone encoding of `value`.
pub fn standalone<T: IntoKeyBytes + ?Sized>(value: &T) -> Vec<u8> {
    let mut arena = KeyArena::new();
    value.key_bytes(&mut arena).to_vec()
}

/// Decoding never panics, and whatever is accepted is exactly the encoding of the result,
/// standalone and as a tuple part.
pub fn check_key<T: IntoKeyBytes + FromKeyBytes + Debug>(bytes: &[u8]) {
    if let Ok(value) = T::from_key_bytes(bytes) {
        assert_eq!(
            standalone(&value),
            bytes,
            "{} accepted {bytes:02x?} as {value:?}, which encodes differently",
            std::any::type_name::<T>()
        );
    }
    let mut input = bytes;
    if let Ok(value) = T::read_key_part(&mut input) {
        let consumed = bytes.len() - input.len();
        let mut arena = KeyArena::new();
        value.write_key_part(&mut arena);
        assert_eq!(
            arena.as_slice(),
            &bytes[..consumed],
            "{} read the part {:02x?} as {value:?}, which encodes differently",
            std::any::type_name::<T>(),
            &bytes[..consumed]
        );
    }
}

/// [`check_key`] for every supported key type.
pub fn check_every_key_type(bytes: &[u8]) {
    check_key::<u8>(bytes);
    check_key::<u16>(bytes);
    check_key::<u32>(bytes);
    check_key::<u64>(bytes);
    check_key::<u128>(bytes);
    check_key::<i8>(bytes);
    check_key::<i16>(bytes);
    check_key::<i32>(bytes);
    check_key::<i64>(bytes);
    check_key::<i128>(bytes);
    check_key::<bool>(bytes);
    check_key::<String>(bytes);
    check_key::<Vec<u8>>(bytes);
    check_key::<[u8; 4]>(bytes);
    check_key::<[u8; 16]>(bytes);
    check_key::<(String, u64)>(bytes);
    check_key::<(u32, String, i16)>(bytes);
    check_key::<(Vec<u8>, bool)>(bytes);
    check_key::<(i64, Vec<u8>)>(bytes);
    check_key::<(String, String)>(bytes);
    check_key::<(bool, Vec<u8>, String)>(bytes);
}

/// Valid key encodings, to start the key corpus from.
pub fn key_seeds() -> Vec<Vec<u8>> {
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

// ---- tables ----

/// The key of the valid entry every value table holds.
pub const GOOD: u64 = 0;
/// The key fuzzed bytes are planted under.
pub const BAD: u64 = 1;

/// One in-memory storage per fuzzing process, reused by every run.
pub static STORAGE: LazyLock<Storage> = LazyLock::new(Storage::in_memory);

/// Writes `value` under the encoded `key` of `table` behind the typed layer's back: an
/// engine-level write in a transaction of its own.
pub fn plant(storage: &Storage, table: &str, key: &[u8], value: &[u8]) {
    storage
        .engine()
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put(table, key, value))
        .expect("plant");
}

/// Removes the encoded `key` of `table` behind the typed layer's back.
pub fn unplant(storage: &Storage, table: &str, key: &[u8]) {
    storage
        .engine()
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.delete(table, key).map(drop)
        })
        .expect("unplant");
}

/// The bytes stored under the encoded `key` of `table`, read behind the typed layer's back.
pub fn raw_get(storage: &Storage, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    let mut stored = None;
    storage
        .engine()
        .read(&mut |reader| {
            reader.get(table, key, &mut |bytes| {
                stored = Some(bytes.to_vec());
                Ok(())
            })?;
            Ok(())
        })
        .expect("raw get");
    stored
}

fn assert_corrupt<T: Debug>(result: zerotable::Result<T>, table: &str, format: &str) {
    match result {
        Err(Error::CorruptValue {
            table: t,
            key,
            format: f,
            ..
        }) => {
            assert_eq!(t, table);
            assert_eq!(key.0, BAD.to_be_bytes());
            assert_eq!(f, format);
        }
        other => panic!("{table}: expected a value or CorruptValue, got {other:?}"),
    }
}

/// Plants `bytes` under [`BAD`] of `table` (opened on `storage`, and holding a valid value under
/// [`GOOD`]) and reads them through `get`, `scan_with(fold)` and `filter_map`: each must give the
/// value or `CorruptValue` naming [`BAD`], and all of them must agree. Returns whether they
/// decoded.
pub fn check_planted<V, S, F>(
    storage: &Storage,
    table: &Table<u64, V, S>,
    bytes: &[u8],
    touch: F,
) -> bool
where
    V: ?Sized,
    S: ValueSerializer<V>,
    F: Fn(S::Output<'_>) -> u64,
{
    let name = table.name();
    plant(storage, name, &BAD.to_be_bytes(), bytes);

    let accepted = match table.get(&BAD, &touch) {
        Ok(found) => {
            assert!(found.is_some(), "{name}: planted value not found");
            true
        }
        other => {
            assert_corrupt(other, name, S::FORMAT);
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
        assert_eq!(folded.expect("fold"), [GOOD, BAD]);
        let ids: Vec<u64> = mapped.expect("filter_map").iter().map(|r| r.0).collect();
        assert_eq!(ids, [GOOD, BAD]);
    } else {
        assert_corrupt(folded, name, S::FORMAT);
        assert_corrupt(mapped, name, S::FORMAT);
    }
    accepted
}

/// `put` of pre-serialized `bytes` into `table` (opened on `storage`) either refuses them with
/// `InvalidValue` and stores nothing, or stores exactly them, and they read back. Returns
/// whether they were accepted.
pub fn check_put<S, F>(
    storage: &Storage,
    table: &Table<u64, [u8], S>,
    bytes: &[u8],
    touch: F,
) -> bool
where
    S: ValueSerializer<[u8]>,
    F: Fn(S::Output<'_>) -> u64,
{
    const KEY: u64 = 7;
    let name = table.name();
    table.delete(&KEY).expect("delete");
    let len = table.len().expect("len");
    let accepted = match table.put(&KEY, bytes) {
        Ok(()) => {
            let read = table.get(&KEY, &touch);
            assert!(
                matches!(read, Ok(Some(_))),
                "{name}: accepted bytes {bytes:02x?} do not read back: {read:?}"
            );
            let stored = raw_get(storage, name, &KEY.to_be_bytes());
            assert_eq!(
                stored.as_deref(),
                Some(bytes),
                "{name}: stored bytes differ"
            );
            true
        }
        Err(Error::InvalidValue {
            table: t, format, ..
        }) => {
            assert_eq!(t, name);
            assert_eq!(format, S::FORMAT);
            assert!(
                !table.contains(&KEY).expect("contains"),
                "{name}: refused value stored"
            );
            assert_eq!(table.len().expect("len"), len);
            false
        }
        Err(other) => panic!("{name}: expected Ok or InvalidValue, got {other:?}"),
    };
    // Leave the table as it was: other checks may scan it.
    table.delete(&KEY).expect("delete");
    accepted
}

/// Plants `key` (with a raw value) in the raw table `name` of `storage` keyed by `K`, which holds
/// `valid`: a scan must decode every key back to its stored bytes, or fail with `KeyDecode`
/// naming the planted key. The planted entry is removed again.
pub fn check_planted_key<K>(storage: &Storage, name: &str, valid: K, key: &[u8])
where
    K: IntoKeyBytes + FromKeyBytes + KeyLike<K> + Debug,
{
    let table = storage.raw_table::<K>(name).expect("open");
    table.put(&valid, b"valid").expect("put");
    plant(storage, name, key, b"planted");
    let result = table.scan_with(|s| {
        s.fold(Vec::new(), |mut keys, k, v| {
            keys.push((standalone(k), v.to_vec()));
            Ok(keys)
        })
    });
    match result {
        Ok(keys) => {
            // Every stored key was decoded, and decoded to the key that was stored.
            assert!(
                keys.iter().any(|(k, v)| k == key && v == b"planted"),
                "{name}: planted key {key:02x?} not read back as itself"
            );
            assert_eq!(keys.len() as u64, table.len().expect("len"));
        }
        Err(Error::KeyDecode {
            table: t, key: k, ..
        }) => {
            assert_eq!(t, name);
            assert_eq!(k.0, key);
        }
        Err(other) => panic!("{name}: expected Ok or KeyDecode, got {other:?}"),
    }
    unplant(storage, name, key);
}
