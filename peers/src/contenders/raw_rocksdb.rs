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

use rocksdb::{BlockBasedOptions, Cache, DB, DBCompressionType, Options, WriteBatch, WriteOptions};

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
        // The options zerotable's RocksDB engine opens with by default, so that the two differ
        // only by the layer: LZ4 (the only compression built in; RocksDB's default, Snappy, is
        // not), a 32 MiB LRU block cache, RocksDB's info log kept to two small files (they count
        // in the size on disk of both).
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_keep_log_file_num(2);
        options.set_max_log_file_size(1 << 20);
        options.set_compression_type(DBCompressionType::Lz4);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&Cache::new_lru_cache(32 << 20));
        options.set_block_based_table_factory(&table);
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

    /// Compacts the whole key range (RocksDB flushes the memtable first), as zerotable's
    /// RocksDB engine does for each table.
    fn compact(&mut self) {
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
    }

    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send> {
        let db = Arc::clone(&self.db);
        Box::new(move |id| read_revenue(&db, id))
    }
}
