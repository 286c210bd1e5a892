//! # zerotable
//!
//! Synchronous, typed tables over embedded key-value stores, with zero-copy, validated reads.
//!
//! A [`Storage`] wraps one engine — a redb file by default, or memory — and hands out
//! [`Table<K, V, S>`]s: keys of type `K` are encoded so that their byte order is their natural
//! order, values of type `V` are serialized by `S` (rkyv, FlatBuffers or raw bytes). Reads never
//! build an owned value: your closure receives a view that borrows the stored bytes where the
//! engine keeps them, validated first.
//!
//! ```
//! use rkyv::{Archive, Serialize};
//! use zerotable::Storage;
//!
//! #[derive(Archive, Serialize)]
//! struct User {
//!     name: String,
//!     active: bool,
//!     revenue: f64,
//! }
//!
//! # fn main() -> zerotable::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("app.redb");
//! let storage = Storage::open(&path)?; // or Storage::in_memory()
//! let users = storage.rkyv_table::<u64, User>("users")?;
//!
//! users.put(&1, &User { name: "ada".into(), active: true, revenue: 12.5 })?;
//! users.put_batch(vec![
//!     (2, User { name: "grace".into(), active: false, revenue: 7.0 }),
//!     (3, User { name: "edsger".into(), active: true, revenue: 0.5 }),
//! ])?;
//!
//! // The closure sees `&ArchivedUser` inside redb's page: no copy, no deserialization.
//! assert_eq!(users.get(&1, |u| u.name.len())?, Some(3));
//!
//! let active: Vec<String> = users.filter_map(|_id, u| u.active.then(|| u.name.to_string()))?;
//! assert_eq!(active, ["ada", "edsger"]);
//!
//! let revenue = users.scan_with(|s| s.fold(0.0, |acc, _id, u| Ok(acc + u.revenue.to_native())))?;
//! assert_eq!(revenue, 20.0);
//!
//! assert!(users.delete(&2)?);
//! assert_eq!(users.len()?, 2);
//! # Ok(())
//! # }
//! ```
//!
//! ## Layout
//! - [`engine`]: the engine contract ([`Engine`], [`ReadOps`], [`ReadTxn`], [`WriteTxn`],
//!   [`Capabilities`]); [`engines`]: redb and memory, one module each.
//! - [`codec`]: order-preserving key encodings ([`IntoKeyBytes`], [`FromKeyBytes`],
//!   [`KeyType`]) and value formats ([`ValueSerializer`]).
//! - [`Storage`], [`Table`], [`Scanner`], [`WriteTx`], [`Snapshot`]: the typed layer; the
//!   catalog ([`TableRecord`]); [`error`]: the crate error and the engine error with its kinds.
//!   Keys and bounds are taken borrowed: any [`KeyLike`] of the key type (`"ada"` for a
//!   `String` key, `("ada", 7)` for a `(String, u64)` key), ranges as [`KeyBounds`].
//! - [`index`]: secondary indexes kept by every typed write ([`Table::unique_index`],
//!   [`Table::index`], [`Index`]); [`watch`]: change subscriptions delivered after commit, in
//!   commit order ([`Storage::subscribe`], [`Events`]).
//! - [`cookbook`]: complete recipes — paging, a reverse time window, an index table kept in the
//!   same transaction, updating a struct through rkyv, a compare-and-swap loop, your own engine,
//!   your own FlatBuffers schema.
//! - rkyv types can be derived through the re-export, with no rkyv dependency of your own:
//!   `#[derive(zerotable::rkyv::Archive, zerotable::rkyv::Serialize)]` with
//!   `#[rkyv(crate = zerotable::rkyv)]` (see the cookbook).

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod catalog;
pub mod codec;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub mod config;
pub mod cookbook;
pub mod copy;
pub mod engine;
pub mod engines;
pub mod error;
pub mod index;
pub mod layers;
pub mod migrate;
pub mod scan;
#[cfg(feature = "example-schemas")]
#[cfg_attr(docsrs, doc(cfg(feature = "example-schemas")))]
pub mod schemas;
mod storage;
mod table;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod txn;
pub mod watch;

pub use catalog::{
    CATALOG_TABLE, MAX_TABLE_NAME_LEN, TableOptions, TableRecord, validate_table_name,
};
pub use codec::key::{
    ByteStringKey, FromKeyBytes, IntoKeyBytes, KeyArena, KeyBounds, KeyDecodeError,
    KeyDecodeReason, KeyLike, KeyPrefix, KeyTextError, KeyTextProblem, KeyType, KeyValue,
};
pub use codec::value::{
    DecodeUnchecked, FlatBufferRoot, FlatBuffersSerializer, RawSerializer, RkyvBytesSerializer,
    RkyvSerializer, RkyvValue, ValueLike, ValueSerializer,
};
pub use copy::{CopyOptions, CopyProgress, CopyReport, TableCopy};
pub use engine::{
    CallerCode, Capabilities, Durability, Engine, Integrity, KeyRange, ReadOps, ReadTxn,
    TableStats, WriteOptions, WriteTxn, catch_engine_panic,
};
#[cfg(feature = "fjall")]
pub use engines::{FjallEngine, FjallOptions};
#[cfg(feature = "lmdb")]
pub use engines::{LmdbEngine, LmdbOptions};
pub use engines::{MemoryEngine, RedbEngine, RedbOptions};
#[cfg(feature = "rocksdb")]
pub use engines::{RocksDbEngine, RocksDbOptions};
#[cfg(feature = "sqlite")]
pub use engines::{SqliteEngine, SqliteOptions};
pub use error::{
    CopyErrorKind, EngineError, EngineErrorKind, Error, Handles, Holder, IndexErrorKind,
    LayerErrorKind, Operation, Result,
};
pub use index::{Index, IndexCheck, IndexOptions, IndexProgress, IndexRecord, IndexScanner};
pub use migrate::MigrationReport;
pub use scan::{Scanner, Values};
pub use storage::{FlatBuffersTable, RawTable, RkyvBytesTable, RkyvTable, Storage};
pub use table::Table;
pub use txn::{Reader, Snapshot, WriteTx};
pub use watch::{Change, ChangeKind, Event, Events, SubscribeOptions, SubscriptionGuard};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The rkyv this crate is built against (with its `unaligned` format), for deriving stored types.
/// Without a direct rkyv dependency, derive with `#[rkyv(crate = zerotable::rkyv)]`.
pub use rkyv;

/// The FlatBuffers runtime this crate is built against; flatc-generated code needs that same
/// version as a direct `flatbuffers` dependency (see [`flatbuffer_root!`]).
pub use flatbuffers;
