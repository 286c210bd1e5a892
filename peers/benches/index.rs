//! Secondary indexes: zerotable's ([`zerotable::index`]) against native_db's secondary keys,
//! on the same `Person` rows, both over redb, both fsyncing every commit:
//!
//! - `index_insert`: one transaction of 1,000 new rows (ids at random places), into a store
//!   starting with `ZEROTABLE_BENCH_INDEX_ROWS` rows (100,000 by default) — with no index,
//!   with a unique index on `email`, and with it plus an index on `name` (not unique: 64
//!   distinct names). One iteration is one transaction.
//! - `index_get_unique`: a row found by its email (10,000 hot emails in turn), reading its
//!   revenue; the primary-key get of the same rows beside it.
//! - `index_range`: the first 100 rows of one name (by the non-unique index, in turn over
//!   the names), summing their revenue.
//!
//! zerotable hands a validated, zero-copy view of each row; native_db decodes each row whole
//! (bincode through serde).
//!
//! ```text
//! cargo bench --bench index
//! ```

mod common;

use std::sync::LazyLock;

use common::{cycle, new_people};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use native_db::{Builder, Database, Models, ToKey, native_db};
use native_model::{Model, native_model};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;
use zerotable::{Index, RkyvSerializer, RkyvTable, Storage};
use zerotable_peers::data::{ArchivedPerson, person, random_keys};
use zerotable_peers::{Person, people_shuffled};

/// Rows of the stores: `ZEROTABLE_BENCH_INDEX_ROWS`, 100,000 by default.
fn base_rows() -> u64 {
    std::env::var("ZEROTABLE_BENCH_INDEX_ROWS")
        .ok()
        .map(|text| text.replace('_', "").parse().expect("a count"))
        .unwrap_or(100_000)
}

const BATCH: usize = 1_000;
const HOT: u64 = 10_000;
const RANGE_ROWS: usize = 100;

// ---- native_db: one model per index set ----

/// The fields no index reads.
#[derive(Serialize, Deserialize)]
struct Rest {
    name: String,
    email: String,
    active: bool,
    revenue: f64,
    tags: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[native_model(id = 1, version = 1)]
#[native_db]
struct Plain {
    #[primary_key]
    id: u64,
    rest: Rest,
}

#[derive(Serialize, Deserialize)]
#[native_model(id = 2, version = 1)]
#[native_db]
struct OneKey {
    #[primary_key]
    id: u64,
    #[secondary_key(unique)]
    email: String,
    rest: Rest,
}

#[derive(Serialize, Deserialize)]
#[native_model(id = 3, version = 1)]
#[native_db]
struct TwoKeys {
    #[primary_key]
    id: u64,
    #[secondary_key(unique)]
    email: String,
    #[secondary_key]
    name: String,
    rest: Rest,
}

fn rest(p: &Person) -> Rest {
    Rest {
        name: p.name.clone(),
        email: p.email.clone(),
        active: p.active,
        revenue: p.revenue,
        tags: p.tags.clone(),
    }
}

static MODELS: LazyLock<Models> = LazyLock::new(|| {
    let mut models = Models::new();
    models.define::<Plain>().expect("model");
    models.define::<OneKey>().expect("model");
    models.define::<TwoKeys>().expect("model");
    models
});

/// How many indexes a store keeps.
#[derive(Clone, Copy)]
enum Indexes {
    None,
    Email,
    EmailAndName,
}

impl Indexes {
    const ALL: [Indexes; 3] = [Indexes::None, Indexes::Email, Indexes::EmailAndName];

    fn label(self) -> &'static str {
        match self {
            Indexes::None => "no index",
            Indexes::Email => "1 index",
            Indexes::EmailAndName => "2 indexes",
        }
    }
}

struct NativeStore {
    db: Database<'static>,
    indexes: Indexes,
    _dir: TempDir,
}

impl NativeStore {
    fn open(indexes: Indexes) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Builder::new()
            .create(&MODELS, dir.path().join("native.db"))
            .expect("open native_db");
        NativeStore {
            db,
            indexes,
            _dir: dir,
        }
    }

    fn insert(&self, people: &[Person]) {
        let rw = self.db.rw_transaction().expect("rw");
        for p in people {
            match self.indexes {
                Indexes::None => rw.insert(Plain {
                    id: p.id,
                    rest: rest(p),
                }),
                Indexes::Email => rw.insert(OneKey {
                    id: p.id,
                    email: p.email.clone(),
                    rest: rest(p),
                }),
                Indexes::EmailAndName => rw.insert(TwoKeys {
                    id: p.id,
                    email: p.email.clone(),
                    name: p.name.clone(),
                    rest: rest(p),
                }),
            }
            .expect("insert");
        }
        rw.commit().expect("commit");
    }
}

// ---- zerotable ----

type People = RkyvTable<u64, Person>;
type ByString = Index<u64, String, Person, RkyvSerializer<Person>>;

struct ZeroStore {
    people: People,
    by_email: Option<ByString>,
    by_name: Option<ByString>,
    _storage: Storage,
    _dir: TempDir,
}

impl ZeroStore {
    fn open(indexes: Indexes) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = Storage::open(dir.path().join("zerotable.redb")).expect("open");
        let people = storage.rkyv_table::<u64, Person>("people").expect("table");
        let by_email = match indexes {
            Indexes::None => None,
            _ => Some(
                people
                    .unique_index("by_email", |p: &ArchivedPerson| p.email.as_str().to_owned())
                    .expect("index"),
            ),
        };
        let by_name = match indexes {
            Indexes::EmailAndName => Some(
                people
                    .index("by_name", |p: &ArchivedPerson| {
                        Some(p.name.as_str().to_owned())
                    })
                    .expect("index"),
            ),
            _ => None,
        };
        ZeroStore {
            people,
            by_email,
            by_name,
            _storage: storage,
            _dir: dir,
        }
    }

    fn insert(&self, people: &[Person]) {
        self.people
            .put_batch(people.iter().map(|p| (p.id, p)))
            .expect("put_batch");
    }
}

fn load(rows: u64, insert: impl Fn(&[Person])) {
    let all: Vec<Person> = people_shuffled(rows).collect();
    for chunk in all.chunks(50_000) {
        insert(chunk);
    }
}

fn index_insert(c: &mut Criterion) {
    let rows = base_rows();
    let mut group = c.benchmark_group("index_insert");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sampling_mode(SamplingMode::Flat);
    for indexes in Indexes::ALL {
        let store = ZeroStore::open(indexes);
        bench_inserts(
            &mut group,
            format!("zerotable, {}", indexes.label()),
            rows,
            |people| store.insert(people),
        );
        drop(store);
        let store = NativeStore::open(indexes);
        bench_inserts(
            &mut group,
            format!("native_db, {}", indexes.label()),
            rows,
            |people| store.insert(people),
        );
    }
    group.finish();
}

/// Loads `rows` into a store through `insert`, then times one `insert` of `BATCH` new rows
/// per iteration.
fn bench_inserts(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: String,
    rows: u64,
    insert: impl Fn(&[Person]),
) {
    load(rows, &insert);
    let mut fresh = new_people(BATCH);
    group.bench_function(name, |b| {
        b.iter_batched(
            &mut fresh,
            |batch| {
                insert(&batch);
                batch
            },
            BatchSize::PerIteration,
        )
    });
}

fn index_reads(c: &mut Criterion) {
    let rows = base_rows();
    let zero = ZeroStore::open(Indexes::EmailAndName);
    load(rows, |chunk| zero.insert(chunk));
    let native = NativeStore::open(Indexes::EmailAndName);
    load(rows, |chunk| native.insert(chunk));
    let by_email = zero.by_email.as_ref().expect("indexed");
    let by_name = zero.by_name.as_ref().expect("indexed");

    let hot = random_keys(HOT as usize, rows, 0x1D3);
    let emails: Vec<String> = hot.iter().map(|&id| person(id).email).collect();
    let mut email_turn = 0usize;
    let mut next_email = || {
        email_turn += 1;
        emails[email_turn % emails.len()].as_str()
    };
    // Both find the same rows.
    for &id in hot.iter().take(16) {
        let email = person(id).email;
        assert_eq!(by_email.get(email.as_str(), |pk, _| *pk).unwrap(), Some(id));
        let r = native.db.r_transaction().unwrap();
        let row: Option<TwoKeys> = r.get().secondary(TwoKeysKey::email, email).unwrap();
        assert_eq!(row.map(|p| p.id), Some(id));
    }

    let mut group = c.benchmark_group("index_get_unique");
    group.bench_function("zerotable, primary get", |b| {
        let mut next = cycle(&hot);
        b.iter(|| zero.people.get(&next(), |p| p.revenue.to_native()).unwrap())
    });
    group.bench_function("zerotable, by unique index", |b| {
        b.iter(|| {
            by_email
                .get(next_email(), |_, p| p.revenue.to_native())
                .unwrap()
        })
    });
    group.bench_function("native_db, by unique secondary key", |b| {
        b.iter(|| {
            let r = native.db.r_transaction().unwrap();
            let row: Option<TwoKeys> = r
                .get()
                .secondary(TwoKeysKey::email, next_email().to_owned())
                .unwrap();
            row.map(|p| p.rest.revenue)
        })
    });
    group.finish();

    let names: Vec<String> = (0..64u64)
        .map(|i| person(i).name)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut group = c.benchmark_group("index_range");
    group.throughput(Throughput::Elements(RANGE_ROWS as u64));
    group.bench_function("zerotable, non-unique index", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let name = names[i % names.len()].as_str();
            by_name
                .range(name..=name)
                .take(RANGE_ROWS as u64)
                .fold(0.0, |sum, _, _, p| Ok(sum + p.revenue.to_native()))
                .unwrap()
        })
    });
    group.bench_function("native_db, secondary key", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let name = names[i % names.len()].clone();
            let r = native.db.r_transaction().unwrap();
            let scan = r.scan().secondary::<TwoKeys>(TwoKeysKey::name).unwrap();
            let mut sum = 0.0;
            for row in scan.range(name.clone()..=name).unwrap().take(RANGE_ROWS) {
                sum += row.unwrap().rest.revenue;
            }
            sum
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = index_insert, index_reads
}
criterion_main!(benches);
