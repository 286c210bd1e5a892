//! RocksDB used directly (rust-rocksdb, bundled RocksDB, LZ4): `&[u8]` keys (u64 big-endian)
//! and rkyv bytes as values, read with validated `rkyv::access` on the pinned slice (no copy) or
//! the raw iterator's borrowed value. The reference zerotable on RocksDB is measured against.
//!
//! A transaction here is a `WriteBatch` (atomic), written with `WriteOptions::set_sync` for
//! `Immediate` (RocksDB does not fsync its WAL by default) and without for `None` (the WAL
//! still reaches the OS, as zerotable's `Durability::None` does on every engine). Reads of one
//! call share an explicit snapshot where there are several; a single read reads the latest
//! state, which is what a point read is in RocksDB.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{DB, DBCompressionType, Options, WriteBatch, WriteOptions};

use super::disk::tree_bytes;
use super::rkyv_person::{Encoder, key, revenue_of};
use crate::{Contender, Durability, Person};

/// A RocksDB database in `dir/rocksdb`, its default column family holding the people.
pub struct RawRocksDb {
    db: Arc<DB>,
    path: PathBuf,
    write_options: WriteOptions,
    encoder: Encoder,
}

impl RawRocksDb {
    /// Opens (creating) the database in `dir/rocksdb`.
    pub fn open(dir: &Path, durability: Durability) -> Self {
        let path = dir.join("rocksdb");
        let mut options = Options::default();
        options.create_if_missing(true);
        // The only compression built in (the `lz4` feature); RocksDB's default, Snappy, is not.
        options.set_compression_type(DBCompressionType::Lz4);
        let db = DB::open(&options, &path).expect("open the RocksDB database");
        let mut write_options = WriteOptions::default();
        write_options.set_sync(durability == Durability::Immediate);
        RawRocksDb {
            db: Arc::new(db),
            path,
            write_options,
            encoder: Encoder::default(),
        }
    }

    /// Writes `people` in one atomic batch.
    fn put_all<'p>(&mut self, people: impl Iterator<Item = &'p Person>) {
        let mut batch = WriteBatch::default();
        for person in people {
            batch.put(key(person.id), self.encoder.encode(person));
        }
        self.db
            .write_opt(batch, &self.write_options)
            .expect("write a batch");
    }
}

/// A point read of `id`, on the pinned slice.
fn read_revenue(db: &DB, id: u64) -> Option<f64> {
    db.get_pinned(key(id))
        .expect("get a person")
        .map(|value| revenue_of(&value))
}

/// Sums the revenue of the first `count` values of `iter` from `start` on.
fn sum_from_in(iter: &mut rocksdb::DBRawIterator<'_>, start: u64, count: usize) -> f64 {
    let mut sum = 0.0;
    iter.seek(key(start));
    for _ in 0..count {
        let Some(value) = iter.value() else { break };
        sum += revenue_of(value);
        iter.next();
    }
    iter.status().expect("iterate");
    sum
}

impl Contender for RawRocksDb {
    fn name(&self) -> &'static str {
        "raw RocksDB"
    }

    fn load(&mut self, people: &mut dyn Iterator<Item = Person>) {
        let mut batch = WriteBatch::default();
        for person in people {
            batch.put(key(person.id), self.encoder.encode(&person));
        }
        self.db
            .write_opt(batch, &self.write_options)
            .expect("write a batch");
    }

    fn write_batch(&mut self, people: &[Person]) {
        self.put_all(people.iter());
    }

    fn write_one(&mut self, person: &Person) {
        self.put_all(std::iter::once(person));
    }

    fn revenue(&mut self, id: u64) -> Option<f64> {
        read_revenue(&self.db, id)
    }

    fn sum_revenue(&mut self) -> f64 {
        let mut iter = self.db.raw_iterator();
        iter.seek_to_first();
        let mut sum = 0.0;
        while let Some(value) = iter.value() {
            sum += revenue_of(value);
            iter.next();
        }
        iter.status().expect("iterate");
        sum
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        sum_from_in(&mut self.db.raw_iterator(), start, count)
    }

    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let snapshot = self.db.snapshot();
        ids.iter()
            .filter_map(|&id| snapshot.get_pinned(key(id)).expect("get a person"))
            .map(|value| revenue_of(&value))
            .sum()
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let snapshot = self.db.snapshot();
        let mut iter = snapshot.raw_iterator();
        starts
            .iter()
            .map(|&start| sum_from_in(&mut iter, start, count))
            .sum()
    }

    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        let mut batch = WriteBatch::default();
        for id in ids {
            batch.delete(key(id));
        }
        self.db
            .write_opt(batch, &self.write_options)
            .expect("write a batch");
    }

    /// Every file of the database directory (SST files, WAL, manifest, options, logs).
    fn size_on_disk(&mut self) -> u64 {
        tree_bytes(&self.path)
    }

    /// Flushes the memtable, then compacts the whole key range.
    fn compact(&mut self) {
        self.db.flush().expect("flush");
        self.db.compact_range::<&[u8], &[u8]>(None, None);
    }

    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send> {
        let db = Arc::clone(&self.db);
        Box::new(move |id| read_revenue(&db, id))
    }
}
