//! What a redb-backed storage commits is there after the storage is dropped and reopened.

mod common;

use common::{Session, User, monster_bytes, temp_redb, user};
use zerotable::schemas::Monster;
use zerotable::{Durability, EngineErrorKind, RedbEngine, RedbOptions, Storage};

/// Every kind of table (rkyv, borrowed rkyv, FlatBuffers, raw) keeps its committed puts and
/// deletes across a drop and reopen of the file.
#[test]
fn every_value_kind_survives_reopen() {
    let (_dir, path) = temp_redb();
    {
        let storage = Storage::open(&path).unwrap();
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..1_000).map(|i| (i, user(i)))).unwrap();
        users.delete(&500).unwrap();
        let session = Session {
            user_id: 3,
            token: [3; 16],
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&session).unwrap();
        storage
            .rkyv_borrowed_table::<u64, Session>("sessions")
            .unwrap()
            .put(&3, &bytes)
            .unwrap();
        storage
            .flatbuffers_table::<u64, Monster>("monsters")
            .unwrap()
            .put(&4, &monster_bytes("troll", 300))
            .unwrap();
        storage
            .raw_table::<String>("cache")
            .unwrap()
            .put("k", b"v")
            .unwrap();
    }
    let storage = Storage::open(&path).unwrap();
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 999);
    assert_eq!(users.get(&500, |u| u.id).unwrap(), None);
    assert_eq!(
        users.get(&999, |u| u.email.to_string()).unwrap().unwrap(),
        "user999@example.com"
    );
    let ids = users.scan_with(|s| {
        s.fold(0u64, |sum, id, u| {
            assert_eq!(*id, u.id.to_native());
            Ok(sum + id)
        })
    });
    assert_eq!(ids.unwrap(), (0..1_000).sum::<u64>() - 500);
    let sessions = storage
        .rkyv_borrowed_table::<u64, Session>("sessions")
        .unwrap();
    assert_eq!(sessions.get(&3, |s| s.token).unwrap(), Some([3; 16]));
    let monsters = storage
        .flatbuffers_table::<u64, Monster>("monsters")
        .unwrap();
    assert_eq!(monsters.get(&4, |m| m.hp()).unwrap(), Some(300));
    let cache = storage.raw_table::<String>("cache").unwrap();
    assert_eq!(cache.get("k", |v| v.to_vec()).unwrap(), Some(b"v".to_vec()));
}

/// `RedbEngine::open_with` options are accepted, and commits made without fsync
/// (`Durability::None`) are on disk after the storage is dropped cleanly.
#[test]
fn options_apply_and_data_written_without_fsync_is_readable_after_clean_close() {
    let (_dir, path) = temp_redb();
    let options = RedbOptions::default()
        .cache_size(8 << 20)
        .durability(Durability::None);
    {
        let storage = Storage::new(RedbEngine::open_with(&path, options.clone()).unwrap());
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        for i in 0..100 {
            users.put(&i, &user(i)).unwrap();
        }
    }
    // redb makes non-durable commits durable when the database is dropped cleanly.
    let storage = Storage::new(RedbEngine::open_with(&path, options).unwrap());
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 100);
}

/// A file that is not a redb database is refused with `Error::Open` naming the path.
#[test]
fn opening_a_file_that_is_not_a_database_is_an_open_error() {
    let (_dir, path) = temp_redb();
    std::fs::write(&path, vec![0x42; 4096]).unwrap();
    match Storage::open(&path) {
        Err(zerotable::Error::Open { location, source }) => {
            assert_eq!(location, path.display().to_string());
            // redb reads the magic number first and reports a file without it as invalid
            // data, which zerotable classifies as a damaged file.
            assert_eq!(source.kind(), EngineErrorKind::Corrupted, "{source}");
        }
        other => panic!("expected Open error, got {other:?}"),
    }
}
