//! One module per contender; `open` builds any of them.

mod heed;
mod native_db;
mod postcard_redb;
mod raw_redb;
mod redb_reads;
mod sqlite;
mod zerotable;

use std::path::Path;

use crate::{Contender, Durability, Kind};

/// Opens contender `kind` with its files in `dir`.
pub fn open(kind: Kind, dir: &Path, durability: Durability) -> Box<dyn Contender> {
    match kind {
        Kind::RawRedb => Box::new(raw_redb::RawRedb::open(dir, durability)),
        Kind::ZerotableRkyv => Box::new(zerotable::Zerotable::rkyv(dir, durability, false)),
        Kind::ZerotableRkyvUnchecked => Box::new(zerotable::Zerotable::rkyv(dir, durability, true)),
        Kind::ZerotableFlatbuffers => {
            Box::new(zerotable::Zerotable::flatbuffers(dir, durability, false))
        }
        Kind::ZerotableFlatbuffersUnchecked => {
            Box::new(zerotable::Zerotable::flatbuffers(dir, durability, true))
        }
        Kind::ZerotableRaw => Box::new(zerotable::Zerotable::raw(dir, durability)),
        Kind::ZerotableMemory => Box::new(zerotable::Zerotable::memory()),
        Kind::PostcardRedb => Box::new(postcard_redb::PostcardRedb::open(dir, durability)),
        Kind::NativeDb => Box::new(native_db::NativeDb::open(dir, durability)),
        Kind::Heed => Box::new(heed::Heed::open(dir, durability)),
        Kind::Sqlite => Box::new(sqlite::Sqlite::open(dir, durability)),
    }
}
