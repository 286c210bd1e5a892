//! fjall used directly: `&[u8]` keys (u64 big-endian) and rkyv bytes as values, read with
//! validated `rkyv::access` on the slice fjall hands back. The reference zerotable on fjall is
//! measured against, doing the same work as `raw_redb.rs` does on redb.
//!
//! It opens the same kind of fjall database as zerotable's fjall engine, the optimistic
//! transactional one with its default options, so that the ratio of the two is the cost of
//! zerotable's layer and not of a choice of fjall mode: a transaction is a fjall write
//! transaction committed with `PersistMode::SyncAll` for `Immediate` (journal fsynced in the
//! commit; fjall does not fsync by default) and `PersistMode::Buffer` for `None` (handed to the
//! OS), as the engine does. A single read reads the keyspace directly (the least a careful user
//! does: one read is consistent on its own); the reads of one call share a snapshot
//! (`read_tx`).

use std::path::{Path, PathBuf};

use fjall::{
    KeyspaceCreateOptions, OptimisticTxDatabase, OptimisticTxKeyspace, PersistMode, Readable,
};

use super::disk::tree_bytes;
use super::rkyv_person::{Encoder, key, revenue_of};
use crate::{Contender, Durability, Person};

/// A fjall database in `dir/fjall` with one keyspace, `people`.
pub struct RawFjall {
    /// Always open, except for a moment inside `compact`, which reopens the database.
    open: Option<Open>,
    path: PathBuf,
    persist: PersistMode,
    encoder: Encoder,
}

/// The database and its keyspace.
struct Open {
    db: OptimisticTxDatabase,
    people: OptimisticTxKeyspace,
}

impl Open {
    fn new(path: &Path) -> Self {
        let db = OptimisticTxDatabase::builder(path)
            .open()
            .expect("open the fjall database");
        let people = db
            .keyspace("people", KeyspaceCreateOptions::default)
            .expect("open the people keyspace");
        Open { db, people }
    }
}

impl RawFjall {
    /// Opens (creating) the database in `dir/fjall` and its `people` keyspace.
    pub fn open(dir: &Path, durability: Durability) -> Self {
        let path = dir.join("fjall");
        let persist = match durability {
            Durability::Immediate => PersistMode::SyncAll,
            Durability::None => PersistMode::Buffer,
        };
        RawFjall {
            open: Some(Open::new(&path)),
            path,
            persist,
            encoder: Encoder::default(),
        }
    }

    fn handles(&self) -> &Open {
        self.open.as_ref().expect("the database is open")
    }

    /// Runs `body` in one write transaction with the chosen durability, commits.
    fn write(
        &mut self,
        body: impl FnOnce(&mut fjall::OptimisticWriteTx, &OptimisticTxKeyspace, &mut Encoder),
    ) {
        let open = self.open.as_ref().expect("the database is open");
        let mut tx = open
            .db
            .write_tx()
            .expect("begin a write transaction")
            .durability(Some(self.persist));
        body(&mut tx, &open.people, &mut self.encoder);
        tx.commit()
            .expect("commit")
            .expect("no conflict: one writer at a time");
    }

    fn put_all<'p>(&mut self, people: impl Iterator<Item = &'p Person>) {
        self.write(|tx, keyspace, encoder| {
            for person in people {
                insert(tx, keyspace, encoder, person);
            }
        });
    }
}

fn insert(
    tx: &mut fjall::OptimisticWriteTx,
    people: &OptimisticTxKeyspace,
    encoder: &mut Encoder,
    person: &Person,
) {
    tx.insert(people, key(person.id).as_slice(), encoder.encode(person));
}

/// A point read of `id`, on the keyspace's latest state.
fn read_revenue(people: &OptimisticTxKeyspace, id: u64) -> Option<f64> {
    people
        .get(key(id))
        .expect("get a person")
        .map(|value| revenue_of(&value))
}

/// Sums the revenue of at most `count` entries of `iter`.
fn sum_first(iter: fjall::Iter, count: usize) -> f64 {
    iter.take(count).fold(0.0, |sum, guard| {
        sum + revenue_of(&guard.value().expect("read an entry"))
    })
}

impl Contender for RawFjall {
    fn name(&self) -> &'static str {
        "raw fjall"
    }

    fn load(&mut self, people: &mut dyn Iterator<Item = Person>) {
        self.write(|tx, keyspace, encoder| {
            for person in people {
                insert(tx, keyspace, encoder, &person);
            }
        });
    }

    fn write_batch(&mut self, people: &[Person]) {
        self.put_all(people.iter());
    }

    fn write_one(&mut self, person: &Person) {
        self.put_all(std::iter::once(person));
    }

    fn revenue(&mut self, id: u64) -> Option<f64> {
        read_revenue(&self.handles().people, id)
    }

    fn sum_revenue(&mut self) -> f64 {
        self.handles()
            .people
            .inner()
            .iter()
            .fold(0.0, |sum, guard| {
                sum + revenue_of(&guard.value().expect("read an entry"))
            })
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        sum_first(self.handles().people.inner().range(key(start)..), count)
    }

    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let Open { db, people } = self.handles();
        let snapshot = db.read_tx();
        ids.iter()
            .filter_map(|&id| snapshot.get(people, key(id)).expect("get a person"))
            .map(|value| revenue_of(&value))
            .sum()
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let Open { db, people } = self.handles();
        let snapshot = db.read_tx();
        starts
            .iter()
            .map(|&start| sum_first(snapshot.range(people, key(start)..), count))
            .sum()
    }

    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        self.write(|tx, keyspace, _| {
            for id in ids {
                tx.remove(keyspace, key(id).as_slice());
            }
        });
    }

    /// Every file under the database folder (journals, tables, manifests), as zerotable's fjall
    /// engine counts it.
    fn size_on_disk(&mut self) -> u64 {
        tree_bytes(&self.path)
    }

    /// What zerotable's fjall engine's `compact` does to a table: flush the memtable into a
    /// table file, then compact the keyspace into one sorted run (dropping deleted and
    /// overwritten entries). Then reopens the database: fjall deletes the table files a
    /// compaction replaced only when it next collects old versions — at a later memtable
    /// rotation of any keyspace (zerotable's engine rotates its catalog keyspace after the
    /// tables, which does it) or at open — and a size measured before that would count them.
    fn compact(&mut self) {
        let keyspace = self.handles().people.inner();
        keyspace
            .rotate_memtable_and_wait()
            .and_then(|()| keyspace.major_compact())
            .expect("compact");
        // Dropping the last handle closes the database (and releases its folder lock).
        self.open = None;
        self.open = Some(Open::new(&self.path));
    }

    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send> {
        let people = self.handles().people.clone();
        Box::new(move |id| read_revenue(&people, id))
    }
}
