//! heed: typed LMDB, with `Person` archived by rkyv and read in place (validated access). The
//! raw LMDB contender: what zerotable on LMDB is measured against (hand-written heed +
//! validated rkyv).

use std::borrow::Borrow;
use std::fs;
use std::path::{Path, PathBuf};

use heed::byteorder::BigEndian;
use heed::types::{Bytes, U64};
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions};

use super::disk::tree_bytes;
use super::rkyv_person::{Encoder, revenue_of};
use crate::{Contender, Durability, Person};

/// Big-endian u64 keys, so LMDB's lexicographic order is numeric order.
type People = Database<'static, U64<BigEndian>, Bytes>;

/// The map size: the most the environment can ever hold. 4 GiB leaves ample room for a million
/// ~120-byte records, their B-tree pages and the pages freed by copy-on-write.
const MAP_SIZE: usize = 4 << 30;

/// An LMDB environment in `dir/heed`, one named database of rkyv-archived people.
pub struct Heed {
    env: Env,
    db: People,
    path: PathBuf,
    encoder: Encoder,
}

impl Heed {
    /// Opens (creating if needed) the environment in `dir/heed`.
    pub fn open(dir: &Path, durability: Durability) -> Self {
        let path = dir.join("heed");
        fs::create_dir_all(&path).expect("create the heed directory");
        let mut options = EnvOpenOptions::new();
        options.map_size(MAP_SIZE).max_dbs(1);
        if durability == Durability::None {
            // SAFETY: NO_SYNC only skips the fsync of each commit. That is the point of a
            // benchmark of non-durable writes: the file stays consistent, and an OS crash (not a
            // process crash) can lose the most recent commits, never corrupt older ones.
            unsafe { options.flags(EnvFlags::NO_SYNC) };
        }
        // SAFETY: the environment's files are private to this process's contender: nothing else
        // maps or modifies them while it is open, and it is on a local file system.
        let env = unsafe { options.open(&path) }.expect("open the LMDB environment");
        let wtxn = env.write_txn().expect("begin a write transaction");
        let db = env
            .create_databases_and_commit(wtxn, |opener, wtxn| {
                opener
                    .create_database::<U64<BigEndian>, Bytes>(wtxn, Some("people"))
                    .map(CommitOrAbort::<_, ()>::Commit)
            })
            .expect("create the people database")
            .unwrap_commit();
        Heed {
            env,
            db,
            path,
            encoder: Encoder::default(),
        }
    }

    /// Stores `people` in one write transaction, archiving each in the reused buffer.
    fn put_all<P: Borrow<Person>>(&mut self, people: impl Iterator<Item = P>) {
        let mut wtxn = self.env.write_txn().expect("begin a write transaction");
        for person in people {
            let person = person.borrow();
            let bytes = self.encoder.encode(person);
            self.db
                .put(&mut wtxn, &person.id, bytes)
                .expect("put a person");
        }
        wtxn.commit().expect("commit");
    }
}

/// A point read of `id` in its own read transaction.
fn read_revenue(env: &Env, db: People, id: u64) -> Option<f64> {
    let rtxn = env.read_txn().expect("begin a read transaction");
    db.get(&rtxn, &id).expect("get a person").map(revenue_of)
}

fn sum_from_in(rtxn: &heed::RoTxn<'_>, db: People, start: u64, count: usize) -> f64 {
    let mut sum = 0.0;
    for entry in db.range(rtxn, &(start..)).expect("seek").take(count) {
        let (_, bytes) = entry.expect("read an entry");
        sum += revenue_of(bytes);
    }
    sum
}

impl Contender for Heed {
    fn name(&self) -> &'static str {
        "heed (LMDB, rkyv)"
    }

    fn load(&mut self, people: &mut dyn Iterator<Item = Person>) {
        self.put_all(people);
    }

    fn write_batch(&mut self, people: &[Person]) {
        self.put_all(people.iter());
    }

    fn write_one(&mut self, person: &Person) {
        self.put_all(std::iter::once(person));
    }

    fn revenue(&mut self, id: u64) -> Option<f64> {
        read_revenue(&self.env, self.db, id)
    }

    fn sum_revenue(&mut self) -> f64 {
        let rtxn = self.env.read_txn().expect("begin a read transaction");
        let mut sum = 0.0;
        for entry in self.db.iter(&rtxn).expect("iterate") {
            let (_, bytes) = entry.expect("read an entry");
            sum += revenue_of(bytes);
        }
        sum
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        let rtxn = self.env.read_txn().expect("begin a read transaction");
        sum_from_in(&rtxn, self.db, start, count)
    }

    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let rtxn = self.env.read_txn().expect("begin a read transaction");
        ids.iter()
            .filter_map(|id| self.db.get(&rtxn, id).expect("get a person"))
            .map(revenue_of)
            .sum()
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let rtxn = self.env.read_txn().expect("begin a read transaction");
        starts
            .iter()
            .map(|&start| sum_from_in(&rtxn, self.db, start, count))
            .sum()
    }

    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        let mut wtxn = self.env.write_txn().expect("begin a write transaction");
        for id in ids {
            self.db.delete(&mut wtxn, &id).expect("delete a person");
        }
        wtxn.commit().expect("commit");
    }

    /// The blocks allocated to the environment's files (`st_blocks * 512`, [`tree_bytes`]: the
    /// same measure as zerotable on LMDB's) rather than their length: LMDB maps the whole map
    /// size, and with `WRITE_MAP` it sizes the file to it (sparse), so the length can overstate
    /// the data. Without `WRITE_MAP`, as here, `data.mdb` grows with the pages written and the
    /// two agree within a page. The lock file (a few KiB) is counted too.
    fn size_on_disk(&mut self) -> u64 {
        tree_bytes(&self.path)
    }

    /// A no-op: LMDB has no in-place compaction. Its freed pages go to a free list that later
    /// writes reuse, so the file stops growing but never shrinks; reclaiming the space means
    /// copying the environment with compaction (`Env::copy_to_path` with
    /// `CompactionOption::Enabled`) to a new file and reopening from it, which is a backup
    /// procedure rather than an operation on the open store.
    fn compact(&mut self) {}

    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send> {
        let env = self.env.clone();
        let db = self.db;
        Box::new(move |id| read_revenue(&env, db, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::person;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut heed = Heed::open(dir.path(), Durability::None);
        heed.load(&mut crate::people(1_000));
        assert_eq!(heed.revenue(5), Some(person(5).revenue));
        assert_eq!(heed.revenue(1_000), None);
        let all: f64 = (0..1_000).map(|id| person(id).revenue).sum();
        assert_eq!(heed.sum_revenue(), all);
        let some: f64 = (100..150).map(|id| person(id).revenue).sum();
        assert_eq!(heed.sum_revenue_from(100, 50), some);
        heed.write_one(&person(2_000));
        heed.write_batch(&[person(2_001), person(2_002)]);
        assert_eq!(heed.revenue(2_002), Some(person(2_002).revenue));
        heed.remove(&mut (0..10));
        assert_eq!(heed.revenue(5), None);
        let mut reader = heed.reader();
        let got = std::thread::spawn(move || (reader(5), reader(42)))
            .join()
            .unwrap();
        assert_eq!(got, (None, Some(person(42).revenue)));
        heed.compact();
        assert!(heed.size_on_disk() > 0);
    }
}
