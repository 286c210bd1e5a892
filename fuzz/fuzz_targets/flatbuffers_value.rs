//! Arbitrary bytes as stored FlatBuffers `Monster` and `User` buffers: verified directly (at two
//! alignments) and through flatbuffers tables of the memory engine (`get`, `scan_with(fold)`,
//! `filter_map` give the value, every field readable, or `CorruptValue`), and `put` into those
//! tables (refused with `InvalidValue` and nothing stored, or stored and readable).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use zerotable::FlatBuffersTable;
use zerotable::schemas::{Monster, User};
use zerotable_fuzz::{
    GOOD, STORAGE, check_planted, check_put, monster_bytes, touch_monster, touch_user, user_bytes,
};

type Tables = (
    FlatBuffersTable<u64, Monster<'static>>,
    FlatBuffersTable<u64, User<'static>>,
);

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let monsters = STORAGE.flatbuffers_table("monsters").expect("open");
    monsters
        .put(&GOOD, &monster_bytes("troll", 300))
        .expect("put");
    let users = STORAGE.flatbuffers_table("users").expect("open");
    users.put(&GOOD, &user_bytes(2)).expect("put");
    (monsters, users)
});

fuzz_target!(|data: &[u8]| {
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(data);
    for bytes in [data, &shifted[1..]] {
        let monster = flatbuffers::root::<Monster>(bytes).ok().map(touch_monster);
        let user = flatbuffers::root::<User>(bytes).ok().map(touch_user);
        std::hint::black_box((monster, user));
    }

    let (monsters, users) = &*TABLES;
    let monster_ok = check_planted(&STORAGE, monsters, data, touch_monster);
    let user_ok = check_planted(&STORAGE, users, data, touch_user);
    assert_eq!(
        check_put(&STORAGE, monsters, data, touch_monster),
        monster_ok
    );
    assert_eq!(check_put(&STORAGE, users, data, touch_user), user_ok);
});
