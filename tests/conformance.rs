//! Every engine shipped with zerotable runs the one conformance suite in `zerotable::testing`.

use std::sync::Arc;

use zerotable::testing::Fixture;
use zerotable::{MemoryDatabase, RedbDatabase};

zerotable::conformance_suite!(memory, || Fixture::new(Arc::new(MemoryDatabase::new())));

zerotable::conformance_suite!(redb, || {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = RedbDatabase::open(dir.path().join("conformance.redb")).expect("open redb");
    Fixture::with_guard(Arc::new(db), dir)
});
