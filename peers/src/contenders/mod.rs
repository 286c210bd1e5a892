//! One module per contender; `open` builds any of them.

mod disk;
mod heed;
mod native_db;
mod postcard_redb;
mod raw_fjall;
mod raw_redb;
#[cfg(feature = "rocksdb")]
mod raw_rocksdb;
mod raw_sqlite_blob;
mod redb_reads;
mod rkyv_person;
mod sqlite;
mod zerotable;

use std::path::Path;

use self::zerotable::{OnEngine, Zerotable};
use crate::{Contender, Durability, Kind};

/// Opens contender `kind` with its files in `dir`.
pub fn open(kind: Kind, dir: &Path, durability: Durability) -> Box<dyn Contender> {
    match kind {
        Kind::RawRedb => Box::new(raw_redb::RawRedb::open(dir, durability)),
        Kind::ZerotableRkyv => Box::new(Zerotable::rkyv(dir, durability, false)),
        Kind::ZerotableRkyvUnchecked => Box::new(Zerotable::rkyv(dir, durability, true)),
        Kind::ZerotableFlatbuffers => Box::new(Zerotable::flatbuffers(dir, durability, false)),
        Kind::ZerotableFlatbuffersUnchecked => {
            Box::new(Zerotable::flatbuffers(dir, durability, true))
        }
        Kind::ZerotableRaw => Box::new(Zerotable::raw(dir, durability)),
        Kind::ZerotableMemory => Box::new(Zerotable::memory()),
        Kind::PostcardRedb => Box::new(postcard_redb::PostcardRedb::open(dir, durability)),
        Kind::NativeDb => Box::new(native_db::NativeDb::open(dir, durability)),
        Kind::Heed => Box::new(heed::Heed::open(dir, durability)),
        Kind::ZerotableLmdb => Box::new(Zerotable::on(OnEngine::Lmdb, dir, durability)),
        Kind::RawFjall => Box::new(raw_fjall::RawFjall::open(dir, durability)),
        Kind::ZerotableFjall => Box::new(Zerotable::on(OnEngine::Fjall, dir, durability)),
        Kind::Sqlite => Box::new(sqlite::Sqlite::open(dir, durability)),
        Kind::RawSqliteBlob => Box::new(raw_sqlite_blob::RawSqliteBlob::open(dir, durability)),
        Kind::ZerotableSqlite => Box::new(Zerotable::on(OnEngine::Sqlite, dir, durability)),
        #[cfg(feature = "rocksdb")]
        Kind::RawRocksDb => Box::new(raw_rocksdb::RawRocksDb::open(dir, durability)),
        #[cfg(feature = "rocksdb")]
        Kind::ZerotableRocksDb => Box::new(Zerotable::on(OnEngine::RocksDb, dir, durability)),
    }
}
