//! Bad bytes and bad names come back as typed errors: never a panic, never undefined
//! behaviour, never a silently stored invalid value.

mod common;

use common::{Session, User, monster_bytes, on_every_engine, user};
use zerotable::schemas::Monster;
use zerotable::{Error, Storage, WriteOptions};

/// Writes `bytes` under the raw encoded `key` of `table`, behind the typed layer's back (an
/// engine-level write in a transaction of its own).
fn plant_raw(storage: &Storage, table: &str, key: &[u8], bytes: &[u8]) {
    storage
        .engine()
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put(table, key, bytes))
        .unwrap();
}

/// Writes `bytes` under the `u64` key `key` of `table` behind the typed layer's back.
fn plant(storage: &Storage, table: &str, key: u64, bytes: &[u8]) {
    plant_raw(storage, table, &key.to_be_bytes(), bytes);
}

fn assert_corrupt<T: std::fmt::Debug>(result: zerotable::Result<T>, table: &str, key: u64) {
    match result {
        Err(Error::CorruptValue {
            table: t, key: k, ..
        }) => {
            assert_eq!(t, table);
            assert_eq!(k.0, key.to_be_bytes());
        }
        other => panic!("expected CorruptValue for {table}/{key}, got {other:?}"),
    }
}

/// A truncated, pointer-damaged or garbage rkyv value reads as `CorruptValue` naming its table
/// and key, on every engine.
#[test]
fn truncated_and_garbage_rkyv_values_are_corrupt_value_errors() {
    on_every_engine(|_, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put(&1, &user(1)).unwrap();
        let good = users.get(&1, |_| ()).unwrap();
        assert!(good.is_some());
        let archived = rkyv::to_bytes::<rkyv::rancor::Error>(&user(1)).unwrap();
        for cut in [0, 1, archived.len() / 2, archived.len() - 1] {
            plant(&storage, "users", 2, &archived[..cut]);
            assert_corrupt(users.get(&2, |u| u.id), "users", 2);
        }
        let mut flipped = archived.to_vec();
        // Point the name's relative pointer far outside the buffer.
        let len = flipped.len();
        for b in &mut flipped[len - 40..len - 30] {
            *b = 0xEE;
        }
        plant(&storage, "users", 3, &flipped);
        assert_corrupt(users.get(&3, |u| u.id), "users", 3);
        plant(&storage, "users", 4, &[0xFF; 256]);
        assert_corrupt(users.get(&4, |u| u.id), "users", 4);
    });
}

/// Bytes of another type planted under an rkyv or FlatBuffers table read as `CorruptValue`.
#[test]
fn a_value_of_another_type_is_a_corrupt_value_error() {
    on_every_engine(|_, storage| {
        // The catalog stops a table being *opened* as another type; bytes of another type can
        // still arrive behind its back (another program, a raw write): caught on read.
        let session = Session {
            user_id: 1,
            token: [0; 16],
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&session).unwrap();
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        plant(&storage, "users", 1, &bytes);
        assert_corrupt(users.get(&1, |u| u.name.len()), "users", 1);
        let monsters = storage
            .flatbuffers_table::<u64, Monster>("monsters")
            .unwrap();
        plant(&storage, "monsters", 1, &bytes);
        assert_corrupt(monsters.get(&1, |m| m.hp()), "monsters", 1);
    });
}

/// A corrupt entry stops every kind of scan with `CorruptValue` naming its key, after the
/// entries before it were visited: nothing is skipped silently.
#[test]
fn corrupt_entries_stop_scans_with_the_key_named() {
    on_every_engine(|_, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..10).map(|i| (i, user(i)))).unwrap();
        plant(&storage, "users", 5, b"not rkyv");
        let mut seen = Vec::new();
        let result = users.scan_with(|s| {
            s.for_each(|id, _| {
                seen.push(*id);
                Ok(())
            })
        });
        assert_corrupt(result, "users", 5);
        assert_eq!(
            seen,
            [0, 1, 2, 3, 4],
            "entries before the corrupt one were visited"
        );
        assert_corrupt(users.filter_map(|id, _| Some(*id)), "users", 5);
        assert_corrupt(
            users.scan_with(|s| s.fold(0, |n, _, _| Ok(n + 1))),
            "users",
            5,
        );
    });
}

/// A stored key that is not an encoding of the table's key type stops a scan with `KeyDecode`
/// naming the table and the raw key.
#[test]
fn undecodable_keys_are_key_decode_errors() {
    on_every_engine(|_, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put(&1, &user(1)).unwrap();
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&user(2)).unwrap();
        plant_raw(&storage, "users", b"abc", &bytes);
        match users.filter_map(|id, _| Some(*id)) {
            Err(Error::KeyDecode { table, key, .. }) => {
                assert_eq!(table, "users");
                assert_eq!(key.0, b"abc");
            }
            other => panic!("expected KeyDecode, got {other:?}"),
        }
    });
}

/// Truncated FlatBuffers and FlatBuffers with an out-of-range root offset read as
/// `CorruptValue`.
#[test]
fn garbage_flatbuffers_values_are_corrupt_value_errors() {
    on_every_engine(|_, storage| {
        let monsters = storage
            .flatbuffers_table::<u64, Monster>("monsters")
            .unwrap();
        let good = monster_bytes("orc", 80);
        for cut in [0, 3, good.len() / 2, good.len() - 1] {
            plant(&storage, "monsters", 1, &good[..cut]);
            assert_corrupt(monsters.get(&1, |m| m.hp()), "monsters", 1);
        }
        let mut bad_offset = good.clone();
        bad_offset[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        plant(&storage, "monsters", 2, &bad_offset);
        assert_corrupt(monsters.get(&2, |m| m.hp()), "monsters", 2);
        // The verifier ends some messages with a line break; ours stays on one line.
        let refused = monsters.put(&3, &[0xFF; 64]).unwrap_err().to_string();
        assert!(!refused.contains('\n'), "{refused:?}");
        let corrupt = monsters.get(&2, |m| m.hp()).unwrap_err().to_string();
        assert!(!corrupt.contains('\n'), "{corrupt:?}");
    });
}

/// Pre-serialized rkyv and FlatBuffers bytes that do not validate are refused with
/// `InvalidValue` and nothing is stored, also when one value of a batch is bad.
#[test]
fn invalid_pre_serialized_values_are_rejected_and_not_stored() {
    on_every_engine(|_, storage| {
        // `User` has invalid bit patterns (a bool, relative pointers), so junk cannot pass as one.
        let sessions = storage
            .rkyv_borrowed_table::<u64, User>("sessions")
            .unwrap();
        let monsters = storage
            .flatbuffers_table::<u64, Monster>("monsters")
            .unwrap();
        let good_session = rkyv::to_bytes::<rkyv::rancor::Error>(&user(1)).unwrap();
        let good_monster = monster_bytes("orc", 1);
        let invalid: [&[u8]; 3] = [b"", b"\x01\x02\x03", &[0xFF; 64]];
        for bytes in invalid {
            assert!(matches!(
                sessions.put(&1, bytes),
                Err(Error::InvalidValue { format: "rkyv", .. })
            ));
            assert!(matches!(
                monsters.put(&1, bytes),
                Err(Error::InvalidValue {
                    format: "flatbuffers",
                    ..
                })
            ));
        }
        assert!(matches!(
            sessions.put(&1, &good_session[..good_session.len() - 1]),
            Err(Error::InvalidValue { .. })
        ));
        assert!(matches!(
            monsters.put(&1, &good_monster[..good_monster.len() / 2]),
            Err(Error::InvalidValue { .. })
        ));
        assert!(sessions.is_empty().unwrap() && monsters.is_empty().unwrap());

        // In a batch, one invalid value rejects the whole batch.
        let batch: Vec<(u64, &[u8])> = vec![(1, &good_session), (2, b"junk")];
        assert!(matches!(
            sessions.put_batch(batch),
            Err(Error::InvalidValue { .. })
        ));
        assert!(
            sessions.is_empty().unwrap(),
            "a failed batch stores nothing"
        );
    });
}

/// Table names outside 1 to 64 ASCII letters, digits or `_` are refused with
/// `InvalidTableName` naming the rule; names inside the rule (up to exactly 64 bytes) open.
#[test]
fn invalid_table_names_are_refused_with_the_rule_broken() {
    let storage = Storage::in_memory();
    let too_long = "t".repeat(65);
    for name in [
        "",
        "has space",
        "dash-ed",
        "dot.ted",
        "ünïcode",
        "slash/",
        too_long.as_str(),
    ] {
        match storage.raw_table::<u64>(name) {
            Err(Error::InvalidTableName { name: n, reason }) => {
                assert_eq!(n, name);
                assert!(!reason.is_empty());
            }
            other => panic!("{name:?} should be refused, got {other:?}"),
        }
    }
    let longest = "T_9".repeat(21) + "x";
    assert_eq!(longest.len(), 64);
    for name in ["users", "A", "_", "snake_case_2", longest.as_str()] {
        assert!(storage.raw_table::<u64>(name).is_ok(), "{name:?} is valid");
    }
}

/// A decode error keeps the decoder's error as its source and names the table and the key
/// (hex) in its message.
#[test]
fn errors_keep_their_source_and_name_the_table() {
    let storage = Storage::in_memory();
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    plant(&storage, "users", 7, b"xx");
    let err = users.get(&7, |u| u.id).unwrap_err();
    assert_eq!(err.table(), Some("users"));
    assert!(std::error::Error::source(&err).is_some());
    let message = err.to_string();
    assert!(
        message.contains("users") && message.contains("0x0000000000000007"),
        "{message}"
    );
}
