//! The engines zerotable ships with, one module (or folder) each: [`MemoryEngine`],
//! [`RedbEngine`] (the embedded default) and, each behind the cargo feature of its name,
//! `FjallEngine`, `LmdbEngine`, `SqliteEngine` and `RocksDbEngine`.
//!
//! A new engine is one new folder here, a `mod` line, an arm in [`connect`]'s list of schemes,
//! and an entry in the engine list of `zerotable::testing` — the conformance suite, and every
//! test that runs on every engine, pick it up from there.
//!
//! [`connect`] opens any of them from an address (`fjall://data/app`,
//! `lmdb://data/app?map_size=8GiB&durability=none`, a plain path for redb); the options of an
//! address are parsed by [`EngineOptions`] into each engine's typed options.

mod address;
#[cfg(feature = "fjall")]
pub mod fjall;
#[cfg(feature = "lmdb")]
pub mod lmdb;
pub mod memory;
mod options;
pub mod redb;
#[cfg(feature = "rocksdb")]
pub mod rocksdb;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use self::address::EngineAddress;
#[cfg(feature = "fjall")]
pub use self::fjall::{FjallEngine, FjallOptions};
#[cfg(feature = "lmdb")]
pub use self::lmdb::{LmdbEngine, LmdbOptions};
pub use self::memory::MemoryEngine;
pub use self::options::{ByteSize, EngineOptions, OptionValue};
pub use self::redb::{RedbEngine, RedbOptions};
#[cfg(feature = "rocksdb")]
pub use self::rocksdb::{RocksDbEngine, RocksDbOptions};
#[cfg(feature = "sqlite")]
pub use self::sqlite::{SqliteEngine, SqliteOptions};
use std::sync::Arc;

use crate::error::Result;
use crate::storage::Storage;

/// Every scheme [`connect`] knows, whether or not its engine is compiled in.
pub const SCHEMES: &[&str] = &["redb", "memory", "fjall", "lmdb", "sqlite", "rocksdb"];

/// Opens the engine an address names (see [`EngineAddress`]): `redb://`, `memory://`, and, with
/// their cargo features, `fjall://`, `lmdb://`, `sqlite://`, `rocksdb://`. A plain path is a
/// redb file. Unknown schemes and options, bad values, and engines not compiled in are
/// [`Error::InvalidConfig`](crate::Error::InvalidConfig) naming what is wrong.
///
/// [`Storage::connect`] is the usual way in.
///
/// ```
/// let storage = zerotable::engines::connect("memory://")?;
/// assert_eq!(storage.engine().name(), "memory");
/// let err = zerotable::engines::connect("mongodb://localhost").unwrap_err();
/// assert!(err.to_string().contains("unknown engine `mongodb`"), "{err}");
/// # Ok::<(), zerotable::Error>(())
/// ```
pub fn connect(address: &str) -> Result<Storage> {
    open_address(EngineAddress::parse(address)?)
}

/// Opens the engine `address` names: the one dispatch of [`connect`] and of configuration files
/// (which build an [`EngineAddress`] from their fields).
pub(crate) fn open_address(mut address: EngineAddress) -> Result<Storage> {
    let layers = crate::layers::take_from_address(&mut address.options)?;
    let storage = open_engine(address)?;
    if layers.is_empty() {
        return Ok(storage);
    }
    Ok(Storage::from_arc(crate::layers::wrap(
        &layers,
        Arc::clone(storage.engine()),
    )))
}

/// The engine of `address`, its layers' options taken out already.
fn open_engine(address: EngineAddress) -> Result<Storage> {
    match address.scheme.as_str() {
        "redb" => redb::connect(address),
        "memory" => memory::connect(address),
        #[cfg(feature = "fjall")]
        "fjall" => fjall::connect(address),
        #[cfg(feature = "lmdb")]
        "lmdb" => lmdb::connect(address),
        #[cfg(feature = "sqlite")]
        "sqlite" => sqlite::connect(address),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => rocksdb::connect(address),
        scheme => {
            let problem = if SCHEMES.contains(&scheme) {
                format!(
                    "engine `{scheme}` is not compiled in: enable zerotable's cargo feature \
                     `{scheme}`"
                )
            } else {
                format!("unknown engine `{scheme}` (known: {})", SCHEMES.join(", "))
            };
            Err(address.options.invalid(None, problem))
        }
    }
}
