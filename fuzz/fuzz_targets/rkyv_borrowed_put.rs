//! Arbitrary bytes `put` into an rkyv-borrowed table (pre-serialized `Account` archives):
//! refused with `InvalidValue` and nothing stored, or stored unchanged and readable with `get`
//! (every field), also through an owned rkyv table of the same type reading the same bytes.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use zerotable::{RkyvBytesTable, RkyvTable};
use zerotable_fuzz::{Account, STORAGE, check_put, plant, touch_account};

static TABLES: LazyLock<(RkyvBytesTable<u64, Account>, RkyvTable<u64, Account>)> =
    LazyLock::new(|| {
        let borrowed = STORAGE.rkyv_borrowed_table("put_target").expect("open");
        let owned = STORAGE.rkyv_table("owned_view").expect("open");
        (borrowed, owned)
    });

fuzz_target!(|data: &[u8]| {
    let (borrowed, owned) = &*TABLES;
    if check_put(&STORAGE, borrowed, data, touch_account) {
        // The accepted bytes, stored under an owned table too, read the same.
        plant(&STORAGE, owned.name(), &7u64.to_be_bytes(), data);
        let read = owned.get(&7, touch_account);
        assert!(
            matches!(read, Ok(Some(_))),
            "accepted by put, refused by an owned table: {read:?}"
        );
    }
});
