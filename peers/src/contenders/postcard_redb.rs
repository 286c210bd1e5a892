//! The naive way: serde + postcard values on redb, every read decodes the whole `Person` (its
//! strings and tag vector allocated) to look at one field.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::Database;

use super::redb_reads::{PEOPLE, open_people, revenue_in, sum_all, sum_from_in};
use crate::{Contender, Durability, Person};

/// redb with postcard-encoded values.
pub struct PostcardRedb {
    db: Arc<Database>,
    path: PathBuf,
    durability: redb::Durability,
}

impl PostcardRedb {
    /// Creates `postcard.redb` in `dir` with an empty `people` table.
    pub fn open(dir: &Path, durability: Durability) -> Self {
        let path = dir.join("postcard.redb");
        let db = Database::create(&path).expect("create postcard.redb");
        let durability = match durability {
            Durability::Immediate => redb::Durability::Immediate,
            Durability::None => redb::Durability::None,
        };
        let this = PostcardRedb {
            db: Arc::new(db),
            path,
            durability,
        };
        // Read transactions cannot open a table that was never created.
        this.write(|_| {});
        this
    }

    /// Runs `body` on the table in one write transaction with the chosen durability, commits.
    fn write(&self, body: impl FnOnce(&mut redb::Table<&[u8], &[u8]>)) {
        let mut txn = self.db.begin_write().expect("begin_write");
        txn.set_durability(self.durability).expect("set_durability");
        {
            let mut table = txn.open_table(PEOPLE).expect("open_table");
            body(&mut table);
        }
        txn.commit().expect("commit");
    }
}

fn insert(table: &mut redb::Table<&[u8], &[u8]>, person: &Person) {
    let value = postcard::to_allocvec(person).expect("serialize person");
    table
        .insert(person.id.to_be_bytes().as_slice(), value.as_slice())
        .expect("insert");
}

fn decode(bytes: &[u8]) -> Person {
    postcard::from_bytes(bytes).expect("valid postcard person")
}

/// Decodes the whole person to read its revenue (what this contender measures).
fn decoded_revenue(bytes: &[u8]) -> f64 {
    decode(bytes).revenue
}

fn read_revenue(db: &Database, id: u64) -> Option<f64> {
    revenue_in(&open_people(db), id, decoded_revenue)
}

impl Contender for PostcardRedb {
    fn name(&self) -> &'static str {
        "postcard (redb)"
    }

    fn load(&mut self, people: &mut dyn Iterator<Item = Person>) {
        self.write(|table| {
            for person in people {
                insert(table, &person);
            }
        });
    }

    fn write_batch(&mut self, people: &[Person]) {
        self.write(|table| {
            for person in people {
                insert(table, person);
            }
        });
    }

    fn write_one(&mut self, person: &Person) {
        self.write(|table| insert(table, person));
    }

    fn revenue(&mut self, id: u64) -> Option<f64> {
        read_revenue(&self.db, id)
    }

    fn sum_revenue(&mut self) -> f64 {
        sum_all(&open_people(&self.db), decoded_revenue)
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        sum_from_in(&open_people(&self.db), start, count, decoded_revenue)
    }

    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let table = open_people(&self.db);
        ids.iter()
            .filter_map(|&id| revenue_in(&table, id, decoded_revenue))
            .sum()
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let table = open_people(&self.db);
        starts
            .iter()
            .map(|&start| sum_from_in(&table, start, count, decoded_revenue))
            .sum()
    }

    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        self.write(|table| {
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
