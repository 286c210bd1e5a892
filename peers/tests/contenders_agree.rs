//! Every contender does the same logical work: the same reads give the same answers as a
//! `BTreeMap` model through loads, batch and single writes, removals, another thread's reads
//! and compaction.

use std::collections::BTreeMap;

use zerotable_peers::data::person;
use zerotable_peers::{Durability, Kind, Person, people};

const LOADED: u64 = 2_000;

/// The model: revenue by id, in key order.
struct Model(BTreeMap<u64, f64>);

impl Model {
    fn put(&mut self, p: &Person) {
        self.0.insert(p.id, p.revenue);
    }

    /// Summed in key order from 0.0, as an ordered store's scan does.
    fn sum(&self) -> f64 {
        self.0.values().fold(0.0, |sum, r| sum + r)
    }

    fn sum_from(&self, start: u64, count: usize) -> f64 {
        self.0
            .range(start..)
            .take(count)
            .fold(0.0, |sum, (_, r)| sum + r)
    }
}

/// Sums must be exact for stores that scan in key order; SQLite's `SUM` may add in another
/// order (or compensate rounding), so it gets a relative tolerance.
fn assert_sum(kind: Kind, what: &str, got: f64, want: f64) {
    if kind == Kind::Sqlite {
        let tolerance = 1e-9 * want.abs().max(1.0);
        assert!(
            (got - want).abs() <= tolerance,
            "{kind:?} {what}: {got} != {want}"
        );
    } else {
        assert_eq!(got, want, "{kind:?} {what}");
    }
}

fn check(kind: Kind) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = zerotable_peers::open(kind, dir.path(), Durability::None);
    assert!(!c.name().is_empty());
    let mut model = Model(BTreeMap::new());

    // Load.
    c.load(&mut people(LOADED));
    people(LOADED).for_each(|p| model.put(&p));
    for id in [0, 1, 2, 999, 1_500, LOADED - 1] {
        assert_eq!(
            c.revenue(id),
            Some(person(id).revenue),
            "{kind:?} revenue({id})"
        );
    }
    assert_eq!(c.revenue(LOADED), None, "{kind:?} absent id");
    assert_eq!(c.revenue(u64::MAX), None, "{kind:?} absent id");
    assert_sum(kind, "sum", c.sum_revenue(), model.sum());
    assert_sum(
        kind,
        "sum_from",
        c.sum_revenue_from(1_500, 10),
        model.sum_from(1_500, 10),
    );
    assert_sum(
        kind,
        "sum_from near the end",
        c.sum_revenue_from(LOADED - 3, 10),
        model.sum_from(LOADED - 3, 10),
    );
    assert_eq!(
        c.sum_revenue_from(LOADED, 10),
        0.0,
        "{kind:?} sum_from past the end"
    );

    // A batch of new people, and overwrites; then single writes, new and overwriting.
    let batch: Vec<Person> = (LOADED..LOADED + 100)
        .map(person)
        .chain((10..20).map(|id| Person {
            revenue: 0.25 * id as f64,
            ..person(id)
        }))
        .collect();
    c.write_batch(&batch);
    batch.iter().for_each(|p| model.put(p));
    let single = [
        person(5_000),
        Person {
            revenue: 12.5,
            ..person(7)
        },
    ];
    for p in &single {
        c.write_one(p);
        model.put(p);
    }
    for id in [7, 10, 15, LOADED, LOADED + 99, 5_000] {
        assert_eq!(
            c.revenue(id),
            model.0.get(&id).copied(),
            "{kind:?} revenue({id}) after writes"
        );
    }
    assert_sum(kind, "sum after writes", c.sum_revenue(), model.sum());

    // Remove every even id.
    let removed: Vec<u64> = model.0.keys().copied().filter(|id| id % 2 == 0).collect();
    c.remove(&mut removed.iter().copied());
    removed.iter().for_each(|id| {
        model.0.remove(id);
    });
    for id in [0, 2, 1_000, 5_000] {
        assert_eq!(c.revenue(id), None, "{kind:?} revenue({id}) after remove");
    }
    assert_eq!(
        c.revenue(1_001),
        Some(person(1_001).revenue),
        "{kind:?} kept"
    );
    assert_sum(kind, "sum after remove", c.sum_revenue(), model.sum());
    assert_sum(
        kind,
        "sum_from after remove",
        c.sum_revenue_from(1_500, 10),
        model.sum_from(1_500, 10),
    );

    // Another thread reads the same store.
    let mut read = c.reader();
    let seen = std::thread::spawn(move || [read(7), read(8), read(1_001), read(LOADED + 99)])
        .join()
        .expect("reader thread");
    assert_eq!(
        seen,
        [7, 8, 1_001, LOADED + 99].map(|id| model.0.get(&id).copied()),
        "{kind:?} reader"
    );

    // Size and compaction (the reader above is gone: redb compaction needs it dropped).
    if kind == Kind::ZerotableMemory {
        assert_eq!(c.size_on_disk(), 0, "{kind:?} size");
    } else {
        assert!(c.size_on_disk() > 0, "{kind:?} size");
    }
    c.compact();
    assert_sum(kind, "sum after compact", c.sum_revenue(), model.sum());
    assert_eq!(
        c.revenue(1_001),
        Some(person(1_001).revenue),
        "{kind:?} after compact"
    );
}

macro_rules! agree {
    ($($test:ident: $kind:ident),+ $(,)?) => {
        $(
            #[test]
            fn $test() {
                check(Kind::$kind);
            }
        )+
    };
}

agree! {
    raw_redb: RawRedb,
    zerotable_rkyv: ZerotableRkyv,
    zerotable_rkyv_unchecked: ZerotableRkyvUnchecked,
    zerotable_flatbuffers: ZerotableFlatbuffers,
    zerotable_flatbuffers_unchecked: ZerotableFlatbuffersUnchecked,
    zerotable_raw: ZerotableRaw,
    zerotable_memory: ZerotableMemory,
    postcard_redb: PostcardRedb,
    native_db: NativeDb,
    heed: Heed,
    zerotable_lmdb: ZerotableLmdb,
    raw_fjall: RawFjall,
    zerotable_fjall: ZerotableFjall,
    sqlite: Sqlite,
    raw_sqlite_blob: RawSqliteBlob,
    zerotable_sqlite: ZerotableSqlite,
}

#[cfg(feature = "rocksdb")]
agree! {
    raw_rocksdb: RawRocksDb,
    zerotable_rocksdb: ZerotableRocksDb,
}

/// Keeps the list above complete: adding a `Kind` without a test fails to compile here.
#[allow(dead_code)]
fn every_kind_is_tested(kind: Kind) {
    match kind {
        Kind::RawRedb
        | Kind::ZerotableRkyv
        | Kind::ZerotableRkyvUnchecked
        | Kind::ZerotableFlatbuffers
        | Kind::ZerotableFlatbuffersUnchecked
        | Kind::ZerotableRaw
        | Kind::ZerotableMemory
        | Kind::PostcardRedb
        | Kind::NativeDb
        | Kind::Heed
        | Kind::ZerotableLmdb
        | Kind::RawFjall
        | Kind::ZerotableFjall
        | Kind::Sqlite
        | Kind::RawSqliteBlob
        | Kind::ZerotableSqlite => {}
        #[cfg(feature = "rocksdb")]
        Kind::RawRocksDb | Kind::ZerotableRocksDb => {}
    }
}
