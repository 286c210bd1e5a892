//! Each of the four value formats gives back exactly what was stored, on every engine.

mod common;

use common::{Session, User, monster_bytes, on_every_engine, user};
use zerotable::schemas::{Color, Monster};

/// rkyv values deserialize back, field for field, to what was stored.
#[test]
fn rkyv_values_round_trip_every_field() {
    on_every_engine(|engine, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        for i in 0..50 {
            users.put(&i, &user(i)).unwrap();
        }
        for i in 0..50 {
            let back = users
                .get(&i, |u| {
                    rkyv::deserialize::<User, rkyv::rancor::Error>(u).unwrap()
                })
                .unwrap();
            assert_eq!(back, Some(user(i)), "{engine}");
        }
    });
}

/// `get_unchecked` reads the same values as the validating `get`, and `None` for an absent key.
#[test]
fn unchecked_rkyv_get_reads_the_same_values() {
    on_every_engine(|_, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..20).map(|i| (i, user(i)))).unwrap();
        for i in 0..20 {
            // SAFETY: every value in `users` was written just above by this same table type.
            let name = unsafe { users.get_unchecked(&i, |u| u.name.to_string()) }.unwrap();
            assert_eq!(name, Some(format!("user{i}")));
        }
        // SAFETY: as above; the key is absent.
        assert_eq!(unsafe { users.get_unchecked(&99, |u| u.id) }.unwrap(), None);
    });
}

/// Unchecked scans (rkyv) visit the same entries, in the same order and bounds, as validated
/// ones: forward, reversed, ranged, values only.
#[test]
fn unchecked_rkyv_scans_visit_the_same_entries() {
    on_every_engine(|engine, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..30).map(|i| (i, user(i)))).unwrap();
        let names = |scan: zerotable::Scanner<'_, u64, User, zerotable::RkyvSerializer<User>>| {
            scan.filter_map(|id, u| Some((*id, u.name.to_string())))
                .unwrap()
        };
        // SAFETY (every block below): every value in `users` was written just above by this
        // same table type.
        assert_eq!(
            names(unsafe { users.scan().unchecked() }),
            names(users.scan()),
            "{engine}"
        );
        assert_eq!(
            names(unsafe { users.range(5u64..12).rev().unchecked() }),
            names(users.range(5u64..12).rev()),
            "{engine}"
        );
        let ids = unsafe { users.range(..=3u64).unchecked() }
            .values()
            .fold(Vec::new(), |mut ids, u| {
                ids.push(u.id.to_native());
                Ok(ids)
            })
            .unwrap();
        assert_eq!(ids, [0, 1, 2, 3], "{engine}");
    });
}

/// FlatBuffers `get_unchecked` and unchecked scans read the same fields as the verified reads.
#[test]
fn unchecked_flatbuffers_reads_give_the_same_fields() {
    on_every_engine(|engine, storage| {
        let monsters = storage
            .flatbuffers_table::<u64, Monster>("monsters")
            .unwrap();
        for i in 0..10u64 {
            monsters
                .put(&i, &monster_bytes(&format!("orc{i}"), i as i16))
                .unwrap();
        }
        let read = |m: Monster<'_>| (m.name().map(str::to_owned), m.hp());
        for i in 0..10u64 {
            // SAFETY: every value in `monsters` was verified and written just above by this
            // same table type.
            let unchecked = unsafe { monsters.get_unchecked(&i, read) }.unwrap();
            assert_eq!(unchecked, monsters.get(&i, read).unwrap(), "{engine}");
        }
        // SAFETY: as above; the key is absent.
        assert_eq!(unsafe { monsters.get_unchecked(&99, read) }.unwrap(), None);
        let all = |scan: zerotable::Scanner<
            '_,
            u64,
            [u8],
            zerotable::FlatBuffersSerializer<Monster<'static>>,
        >| { scan.filter_map(|id, m| Some((*id, read(m)))).unwrap() };
        // SAFETY: as above.
        let unchecked = all(unsafe { monsters.scan().unchecked() });
        assert_eq!(unchecked, all(monsters.scan()), "{engine}");
        assert_eq!(unchecked.len(), 10);
    });
}

/// Pre-archived rkyv bytes put through a borrowed table deserialize back to the original value.
#[test]
fn pre_archived_rkyv_bytes_round_trip() {
    on_every_engine(|_, storage| {
        let sessions = storage
            .rkyv_borrowed_table::<u64, Session>("sessions")
            .unwrap();
        let session = Session {
            user_id: 9,
            token: *b"0123456789abcdef",
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&session).unwrap();
        sessions.put(&9, &bytes).unwrap();
        let back = sessions
            .get(&9, |s| {
                rkyv::deserialize::<Session, rkyv::rancor::Error>(s).unwrap()
            })
            .unwrap();
        assert_eq!(back, Some(session));
    });
}

/// FlatBuffers values read back with every field (strings, scalars, structs, enums, vectors)
/// intact.
#[test]
fn flatbuffers_values_round_trip_every_field() {
    on_every_engine(|_, storage| {
        let monsters = storage
            .flatbuffers_table::<u64, Monster>("monsters")
            .unwrap();
        monsters.put(&1, &monster_bytes("orc", 80)).unwrap();
        let fields = monsters
            .get(&1, |m| {
                let pos = m.pos().unwrap();
                (
                    m.name().map(str::to_owned),
                    m.hp(),
                    m.mana(),
                    (pos.x(), pos.y(), pos.z()),
                    m.color(),
                    m.inventory().map(|v| v.bytes().to_vec()),
                )
            })
            .unwrap()
            .unwrap();
        assert_eq!(fields.0.as_deref(), Some("orc"));
        assert_eq!((fields.1, fields.2), (80, 20));
        assert_eq!(fields.3, (1.0, 2.0, 3.0));
        assert_eq!(fields.4, Color::Green);
        assert_eq!(fields.5, Some(vec![1, 2, 3]));
    });
}

/// Raw byte values, empty and long, round-trip under string, tuple and byte-string keys.
#[test]
fn raw_values_round_trip_with_every_key_kind() {
    on_every_engine(|_, storage| {
        let by_name = storage.raw_table::<String>("by_name").unwrap();
        by_name.put("a\0b", b"").unwrap();
        assert_eq!(by_name.get("a\0b", |b| b.len()).unwrap(), Some(0));

        let by_pair = storage.raw_table::<(String, i64)>("by_pair").unwrap();
        by_pair.put(&("x".to_string(), -5), &[0xff; 300]).unwrap();
        assert_eq!(
            by_pair.get(&("x".to_string(), -5), |b| b.to_vec()).unwrap(),
            Some(vec![0xff; 300])
        );
        let keys = by_pair.filter_map(|k, _| Some(k.clone())).unwrap();
        assert_eq!(keys, [("x".to_string(), -5)]);

        let by_bytes = storage.raw_table::<Vec<u8>>("by_bytes").unwrap();
        by_bytes.put(&b"\x00\x01"[..], b"v").unwrap();
        assert!(by_bytes.contains(&b"\x00\x01"[..]).unwrap());
    });
}
