//! A table shared by four reader threads and one writer thread: every read sees a complete
//! value, and the writer's work all lands.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::{User, on_every_engine, user};

/// Four threads reading (gets and scans) while one writes (puts and batches) through clones of
/// one table: every value read is complete and belongs to its key, and every write lands, on
/// every engine.
#[test]
fn four_readers_and_one_writer_share_a_table() {
    on_every_engine(|engine, storage| {
        let users = storage.rkyv_table::<u64, User>("users").unwrap();
        users.put_batch((0..200).map(|i| (i, user(i)))).unwrap();
        let done = AtomicBool::new(false);
        thread::scope(|scope| {
            for reader in 0..4u64 {
                let users = users.clone();
                let done = &done;
                scope.spawn(move || {
                    let mut reads = 0u64;
                    while !done.load(Ordering::Acquire) || reads < 200 {
                        let key = (reads * 7 + reader) % 400;
                        let got = users
                            .get(&key, |u| (u.id.to_native(), u.name.to_string()))
                            .unwrap();
                        if let Some((id, name)) = got {
                            assert_eq!(id, key);
                            assert_eq!(name, format!("user{key}"));
                        }
                        if reads.is_multiple_of(50) {
                            let rows = users.scan_with(|s| {
                                s.fold(0u64, |n, id, u| {
                                    assert_eq!(*id, u.id.to_native());
                                    Ok(n + 1)
                                })
                            });
                            assert!(rows.unwrap() >= 200);
                        }
                        reads += 1;
                    }
                });
            }
            let users = users.clone();
            let done = &done;
            scope.spawn(move || {
                for i in 200..400 {
                    users.put(&i, &user(i)).unwrap();
                    if i % 40 == 0 {
                        users.put_batch((i..i + 5).map(|j| (j, user(j)))).unwrap();
                    }
                }
                done.store(true, Ordering::Release);
            });
        });
        assert_eq!(users.len().unwrap(), 400, "{engine}");
    });
}
