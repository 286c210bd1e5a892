//! redb hands values back at whatever address its page layout gives them. With rkyv's
//! `unaligned` format (which zerotable enables) every one of them validates and reads in place.

mod common;

use std::sync::Arc;

use common::{User, temp_redb, user};
use zerotable::{Engine, RedbEngine, Storage};

/// With rkyv's `unaligned` format every archived type has alignment 1.
#[test]
fn archived_types_need_no_alignment() {
    assert_eq!(std::mem::align_of::<<User as rkyv::Archive>::Archived>(), 1);
    assert_eq!(std::mem::align_of::<rkyv::Archived<u64>>(), 1);
    assert_eq!(std::mem::align_of::<rkyv::Archived<f64>>(), 1);
}

/// Values redb hands back at misaligned addresses validate and read in place through a typed
/// get (and redb does produce many such addresses).
#[test]
fn misaligned_values_from_redb_validate_and_read_in_place() {
    let (_dir, path) = temp_redb();
    let db = Arc::new(RedbEngine::open(&path).unwrap());
    let storage = Storage::from_arc(db.clone());
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    users.put_batch((0..2_000).map(|i| (i, user(i)))).unwrap();

    let mut misaligned = 0;
    for i in 0..2_000u64 {
        // Where does redb put the value? (Raw engine read, same key encoding as the table.)
        db.read(&mut |reader| {
            reader.get("users", &i.to_be_bytes(), &mut |bytes| {
                if !(bytes.as_ptr() as usize).is_multiple_of(8) {
                    misaligned += 1;
                }
                Ok(())
            })?;
            Ok(())
        })
        .unwrap();
        // The typed read validates the same bytes at that address and reads them in place.
        let (id, name_ptr) = users
            .get(&i, |u| {
                (u.id.to_native(), u.name.as_str().as_ptr() as usize)
            })
            .unwrap()
            .unwrap();
        assert_eq!(id, i);
        assert_ne!(name_ptr, 0);
    }
    // Without misaligned values this test would prove nothing: make sure redb produced them.
    assert!(
        misaligned > 100,
        "only {misaligned} of 2000 values were misaligned"
    );
}
