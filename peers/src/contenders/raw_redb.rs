//! redb used directly: `&[u8]` keys (u64 big-endian) and rkyv bytes as values, read with
//! validated `rkyv::access`. The reference every other contender is measured against, so it
//! does the least a careful user would do for the same guarantees.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::Database;

use super::redb_reads::{PEOPLE, open_people, revenue_in, sum_all, sum_from_in};
use super::rkyv_person::{Encoder, revenue_of};
use crate::{Contender, Durability, Person};

/// redb with rkyv values, no layer in between.
pub struct RawRedb {
    db: Arc<Database>,
    path: PathBuf,
    durability: redb::Durability,
    encoder: Encoder,
}

impl RawRedb {
    /// Creates `raw.redb` in `dir` with an empty `people` table.
    pub fn open(dir: &Path, durability: Durability) -> Self {
        let path = dir.join("raw.redb");
        let db = Database::create(&path).expect("create raw.redb");
        let durability = match durability {
            Durability::Immediate => redb::Durability::Immediate,
            Durability::None => redb::Durability::None,
        };
        let mut this = RawRedb {
            db: Arc::new(db),
            path,
            durability,
            encoder: Encoder::default(),
        };
        // Read transactions cannot open a table that was never created.
        this.write(|_, _| {});
        this
    }

    /// Runs `body` on the table in one write transaction with the chosen durability, commits.
    fn write(&mut self, body: impl FnOnce(&mut redb::Table<&[u8], &[u8]>, &mut Encoder)) {
        let mut txn = self.db.begin_write().expect("begin_write");
        txn.set_durability(self.durability).expect("set_durability");
        {
            let mut table = txn.open_table(PEOPLE).expect("open_table");
            body(&mut table, &mut self.encoder);
        }
        txn.commit().expect("commit");
    }
}

fn insert(table: &mut redb::Table<&[u8], &[u8]>, encoder: &mut Encoder, person: &Person) {
    let value = encoder.encode(person);
    table
        .insert(person.id.to_be_bytes().as_slice(), value)
        .expect("insert");
}

fn read_revenue(db: &Database, id: u64) -> Option<f64> {
    revenue_in(&open_people(db), id, revenue_of)
}

impl Contender for RawRedb {
    fn name(&self) -> &'static str {
        "raw redb"
    }

    fn load(&mut self, people: &mut dyn Iterator<Item = Person>) {
        self.write(|table, encoder| {
            for person in people {
                insert(table, encoder, &person);
            }
        });
    }

    fn write_batch(&mut self, people: &[Person]) {
        self.write(|table, encoder| {
            for person in people {
                insert(table, encoder, person);
            }
        });
    }

    fn write_one(&mut self, person: &Person) {
        self.write(|table, encoder| insert(table, encoder, person));
    }

    fn revenue(&mut self, id: u64) -> Option<f64> {
        read_revenue(&self.db, id)
    }

    fn sum_revenue(&mut self) -> f64 {
        sum_all(&open_people(&self.db), revenue_of)
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        sum_from_in(&open_people(&self.db), start, count, revenue_of)
    }

    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let table = open_people(&self.db);
        ids.iter()
            .filter_map(|&id| revenue_in(&table, id, revenue_of))
            .sum()
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let table = open_people(&self.db);
        starts
            .iter()
            .map(|&start| sum_from_in(&table, start, count, revenue_of))
            .sum()
    }

    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        self.write(|table, _| {
            for id in ids {
                table.remove(id.to_be_bytes().as_slice()).expect("remove");
            }
        });
    }

    fn size_on_disk(&mut self) -> u64 {
        std::fs::metadata(&self.path).expect("metadata").len()
    }

    fn compact(&mut self) {
        // redb compacts through `&mut Database`: only possible while no reader shares it.
        Arc::get_mut(&mut self.db)
            .expect("compact: drop every reader() first (redb needs exclusive access)")
            .compact()
            .expect("compact");
    }

    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send> {
        let db = Arc::clone(&self.db);
        Box::new(move |id| read_revenue(&db, id))
    }
}
