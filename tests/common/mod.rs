//! Shared fixtures for the integration tests: a realistic record, builders for FlatBuffers
//! values, a way to run one test body on every engine, child processes ([`child`]), a
//! counting allocator and allocation comparisons ([`counting`]), and raw-engine helpers for the
//! per-engine tests ([`engine`]).
#![allow(dead_code)] // each test binary uses its own subset

pub mod child;
pub mod counting;
pub mod engine;

use std::path::PathBuf;

use rkyv::{Archive, Deserialize, Serialize};
use tempfile::TempDir;
use zerotable::Storage;

/// An application record stored with rkyv.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub revenue: f64,
    pub tags: Vec<String>,
}

/// A small record of another shape, to store under the wrong table type.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Session {
    pub user_id: u64,
    pub token: [u8; 16],
}

/// A deterministic user number `i`.
pub fn user(i: u64) -> User {
    User {
        id: i,
        name: format!("user{i}"),
        email: format!("user{i}@example.com"),
        active: !i.is_multiple_of(3),
        revenue: (i % 100) as f64 * 1.5,
        tags: (0..i % 4).map(|t| format!("tag{t}")).collect(),
    }
}

/// A finished FlatBuffers `Monster` buffer.
#[cfg(feature = "example-schemas")]
pub fn monster_bytes(name: &str, hp: i16) -> Vec<u8> {
    use zerotable::schemas::{Color, Monster, MonsterArgs, Vec3, finish_monster_buffer};
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

/// A redb file path in a fresh temp dir (kept alive by the returned guard).
pub fn temp_redb() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.redb");
    (dir, path)
}

/// Runs `body` once on a fresh storage of every engine (the one engine list,
/// `zerotable::testing::builtin_harnesses`), naming the engine.
pub fn on_every_engine(mut body: impl FnMut(&str, Storage)) {
    for harness in zerotable::testing::builtin_harnesses() {
        let instance = harness.fresh();
        body(harness.name(), Storage::from_arc(instance.engine().clone()));
    }
}

/// Like [`on_every_engine`], but commits are not fsynced where the engine allows it, for
/// write-heavy tests.
pub fn on_every_fast_engine(mut body: impl FnMut(&str, Storage)) {
    for harness in zerotable::testing::builtin_harnesses() {
        let instance = harness.fresh_fast();
        body(harness.name(), Storage::from_arc(instance.engine().clone()));
    }
}
