//! The usage the design documents promise, end to end, on every engine.

mod common;

use common::{Session, User, monster_bytes, on_every_engine, user};
use zerotable::schemas::Monster;

/// The usage the design card shows (each table kind, put/get/delete, batches, scans) works end to
/// end on every engine.
#[test]
fn design_card_usage_works_on_every_engine() {
    on_every_engine(|engine, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        let sessions = storage
            .rkyv_borrowed_table::<u64, Session>("sessions")
            .unwrap();
        let monsters = storage
            .flatbuffers_table::<u64, Monster>("monsters")
            .unwrap();
        let cache = storage.raw_table::<String>("cache").unwrap();

        users.put(&123, &user(123)).unwrap();
        let name_len: Option<usize> = users.get(&123, |u| u.name.len()).unwrap();
        assert_eq!(name_len, Some("user123".len()), "{engine}");

        let session = Session {
            user_id: 123,
            token: [7; 16],
        };
        let session_bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&session).unwrap();
        sessions.put(&456, &session_bytes).unwrap();
        assert_eq!(sessions.get(&456, |s| s.token).unwrap(), Some([7; 16]));

        monsters.put(&456, &monster_bytes("orc", 80)).unwrap();
        let hp = monsters.get(&456, |m| m.hp()).unwrap();
        assert_eq!(hp, Some(80), "{engine}");

        cache.put("session", b"opaque").unwrap();
        assert_eq!(
            cache.get("session", |b| b.to_vec()).unwrap(),
            Some(b"opaque".to_vec())
        );

        let existed: bool = users.delete(&123).unwrap();
        assert!(existed);
        assert!(!users.contains(&123).unwrap());

        users
            .put_batch(vec![(1, user(1)), (2, user(2)), (3, user(3))])
            .unwrap();
        assert_eq!(users.len().unwrap(), 3);
        assert!(!users.is_empty().unwrap());

        let active: Vec<String> = users
            .filter_map(|_id, u| u.active.then(|| u.name.to_string()))
            .unwrap();
        assert_eq!(active, ["user1", "user2"], "{engine}");

        let revenue = users
            .scan_with(|s| s.fold(0.0, |acc, _id, u| Ok(acc + u.revenue.to_native())))
            .unwrap();
        assert_eq!(revenue, 1.5 + 3.0 + 4.5, "{engine}");

        let mut visited = Vec::new();
        users
            .scan_with(|s| {
                s.for_each(|id, u| {
                    visited.push((*id, u.tags.len()));
                    Ok(())
                })
            })
            .unwrap();
        assert_eq!(visited, [(1, 1), (2, 2), (3, 3)], "{engine}");
    });
}
