//! native_db: typed models over redb, serialized with native_model's default codec (bincode 1.3
//! through serde) and decoded whole on every read.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use native_db::{Builder, Database, Models, ToKey, native_db};
use native_model::{Model, native_model};
use serde::{Deserialize, Serialize};

use crate::{Contender, Durability, Person};

/// `Person` as a native_db model: the same fields, keyed by `id`.
#[derive(Serialize, Deserialize)]
#[native_model(id = 1, version = 1)]
#[native_db]
struct NPerson {
    #[primary_key]
    id: u64,
    name: String,
    email: String,
    active: bool,
    revenue: f64,
    tags: Vec<String>,
}

impl From<&Person> for NPerson {
    fn from(person: &Person) -> Self {
        NPerson {
            id: person.id,
            name: person.name.clone(),
            email: person.email.clone(),
            active: person.active,
            revenue: person.revenue,
            tags: person.tags.clone(),
        }
    }
}

impl From<Person> for NPerson {
    fn from(person: Person) -> Self {
        let Person {
            id,
            name,
            email,
            active,
            revenue,
            tags,
        } = person;
        NPerson {
            id,
            name,
            email,
            active,
            revenue,
            tags,
        }
    }
}

/// The models every database is built from: `'static`, so the `Database` borrowing them is too.
static MODELS: LazyLock<Models> = LazyLock::new(|| {
    let mut models = Models::new();
    models.define::<NPerson>().expect("define the person model");
    models
});

/// A native_db database in `dir/native.db`.
///
/// native_db 0.8 does not expose redb's `Durability`: every commit is fsynced whatever the
/// `Durability` asked for, so this contender's "no fsync" figures are durable writes (its name
/// says so).
pub struct NativeDb {
    db: Arc<Database<'static>>,
    file: PathBuf,
    durability: Durability,
}

impl NativeDb {
    /// Opens (creating if needed) the database `dir/native.db`; `durability` cannot be honoured
    /// (see the type's documentation).
    pub fn open(dir: &Path, durability: Durability) -> Self {
        let file = dir.join("native.db");
        let db = Builder::new()
            .create(&MODELS, &file)
            .expect("open the native_db database");
        NativeDb {
            db: Arc::new(db),
            file,
            durability,
        }
    }

    /// Upserts `people` in one read-write transaction (overwriting any person with the same id,
    /// like every other contender's writes; native_db's `insert` would refuse them).
    fn upsert_all(&self, people: impl Iterator<Item = NPerson>) {
        let rw = self
            .db
            .rw_transaction()
            .expect("begin a read-write transaction");
        for person in people {
            rw.upsert(person).expect("upsert a person");
        }
        rw.commit().expect("commit");
    }
}

/// A point read of `id` in its own read transaction (native_db decodes the whole record).
fn read_revenue(db: &Database<'_>, id: u64) -> Option<f64> {
    let r = db.r_transaction().expect("begin a read transaction");
    let person: Option<NPerson> = r.get().primary(id).expect("get a person");
    person.map(|person| person.revenue)
}

impl Contender for NativeDb {
    fn name(&self) -> &'static str {
        match self.durability {
            Durability::Immediate => "native_db",
            Durability::None => "native_db (always fsyncs)",
        }
    }

    fn load(&mut self, people: &mut dyn Iterator<Item = Person>) {
        self.upsert_all(people.map(NPerson::from));
    }

    fn write_batch(&mut self, people: &[Person]) {
        self.upsert_all(people.iter().map(NPerson::from));
    }

    fn write_one(&mut self, person: &Person) {
        self.upsert_all(std::iter::once(NPerson::from(person)));
    }

    fn revenue(&mut self, id: u64) -> Option<f64> {
        read_revenue(&self.db, id)
    }

    fn sum_revenue(&mut self) -> f64 {
        let r = self.db.r_transaction().expect("begin a read transaction");
        let scan = r
            .scan()
            .primary::<NPerson>()
            .expect("open the primary scan");
        let mut sum = 0.0;
        for person in scan.all().expect("scan") {
            sum += person.expect("read a person").revenue;
        }
        sum
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        self.sums_from(&[start], count)
    }

    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let r = self.db.r_transaction().expect("begin a read transaction");
        let mut sum = 0.0;
        for &id in ids {
            let person: Option<NPerson> = r.get().primary(id).expect("get a person");
            sum += person.map_or(0.0, |person| person.revenue);
        }
        sum
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let r = self.db.r_transaction().expect("begin a read transaction");
        let scan = r
            .scan()
            .primary::<NPerson>()
            .expect("open the primary scan");
        let mut sum = 0.0;
        for &start in starts {
            for person in scan.range(start..).expect("seek").take(count) {
                sum += person.expect("read a person").revenue;
            }
        }
        sum
    }

    /// native_db removes an item, not a key (it needs the record to drop its secondary keys),
    /// so each id is read, then removed, in the one transaction. Absent ids are skipped.
    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        let rw = self
            .db
            .rw_transaction()
            .expect("begin a read-write transaction");
        for id in ids {
            let person: Option<NPerson> = rw.get().primary(id).expect("get a person");
            if let Some(person) = person {
                rw.remove(person).expect("remove a person");
            }
        }
        rw.commit().expect("commit");
    }

    fn size_on_disk(&mut self) -> u64 {
        fs::metadata(&self.file).map_or(0, |meta| meta.len())
    }

    /// `Database::compact` (redb's compaction). It needs the database exclusively: every
    /// [`reader`](Contender::reader) must have been dropped.
    fn compact(&mut self) {
        Arc::get_mut(&mut self.db)
            .expect("compact with every reader dropped")
            .compact()
            .expect("compact");
    }

    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send> {
        let db = Arc::clone(&self.db);
        Box::new(move |id| read_revenue(&db, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::person;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = NativeDb::open(dir.path(), Durability::None);
        db.load(&mut crate::people(1_000));
        assert_eq!(db.revenue(5), Some(person(5).revenue));
        assert_eq!(db.revenue(1_000), None);
        let all: f64 = (0..1_000).map(|id| person(id).revenue).sum();
        assert_eq!(db.sum_revenue(), all);
        let some: f64 = (100..150).map(|id| person(id).revenue).sum();
        assert_eq!(db.sum_revenue_from(100, 50), some);
        db.write_one(&person(2_000));
        db.write_batch(&[person(2_001), person(2_002), person(7)]);
        assert_eq!(db.revenue(2_002), Some(person(2_002).revenue));
        db.remove(&mut (0..10));
        assert_eq!(db.revenue(5), None);
        let mut reader = db.reader();
        let got = std::thread::spawn(move || (reader(5), reader(42)))
            .join()
            .unwrap();
        assert_eq!(got, (None, Some(person(42).revenue)));
        db.compact();
        assert!(db.size_on_disk() > 0);
    }
}
