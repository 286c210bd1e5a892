//! Arbitrary bytes as a stored rkyv `Account` (strings, `Vec<String>`, `Option`s, an enum):
//! `RkyvSerializer::decode` at an aligned and a misaligned address, then planted under an rkyv
//! table and an rkyv-borrowed table of the memory engine and read with `get`, `scan_with(fold)`
//! and `filter_map`. Every read gives the value (all fields readable) or `CorruptValue`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use zerotable::{RkyvBytesTable, RkyvTable};
use zerotable_fuzz::{
    Account, GOOD, STORAGE, account, check_planted, decode_account_at_two_alignments, rkyv_bytes,
    touch_account,
};

static TABLES: LazyLock<(RkyvTable<u64, Account>, RkyvBytesTable<u64, Account>)> =
    LazyLock::new(|| {
        let owned = STORAGE.rkyv_table("accounts").expect("open");
        owned.put(&GOOD, &account(3)).expect("put");
        let borrowed = STORAGE.rkyv_borrowed_table("borrowed").expect("open");
        borrowed.put(&GOOD, &rkyv_bytes(&account(4))).expect("put");
        (owned, borrowed)
    });

fuzz_target!(|data: &[u8]| {
    let decoded = decode_account_at_two_alignments(data);

    let (owned, borrowed) = &*TABLES;
    let owned_ok = check_planted(&STORAGE, owned, data, touch_account);
    let borrowed_ok = check_planted(&STORAGE, borrowed, data, touch_account);
    assert_eq!(owned_ok, borrowed_ok);
    assert_eq!(owned_ok, decoded.is_some());
});
