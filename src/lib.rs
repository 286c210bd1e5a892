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
//! ## Modules
//! - [`database`]: the object-safe engine trait ([`Database`]); [`backends`]: redb and memory.
//! - [`key`]: order-preserving key encodings ([`IntoKeyBytes`], [`FromKeyBytes`]).
//! - [`serializer`]: value formats ([`ValueSerializer`]).
//! - [`table`], [`scan`], [`storage`]: the typed layer; [`error`]: the one error type.

#![warn(missing_docs)]

pub mod backends;
pub mod database;
pub mod error;
pub mod key;
mod registry;
pub mod scan;
#[cfg(feature = "example-schemas")]
pub mod schemas;
pub mod serializer;
pub mod storage;
pub mod table;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transaction;

pub use backends::{Durability, MemoryDatabase, RedbDatabase, RedbOptions};
pub use database::{
    BatchFill, BatchWriter, Database, KeyRange, ReadTransaction, ScanVisitor, TableStats,
    WriteBody, WriteTransaction,
};
pub use error::{Error, Result};
pub use key::{
    FromKeyBytes, IntoKeyBytes, KeyArena, KeyDecodeError, KeyDecodeReason, KeyPartOf, KeyPrefix,
};
pub use scan::Scanner;
pub use serializer::{
    FlatBufferRoot, FlatBuffersSerializer, RawSerializer, RkyvBytesSerializer, RkyvSerializer,
    RkyvValue, ValueSerializer,
};
pub use storage::{FlatBuffersTable, RawTable, RkyvBytesTable, RkyvTable, Storage};
pub use table::Table;
pub use transaction::{Reader, Snapshot, WriteTx};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The rkyv this crate is built against (with its `unaligned` format), for deriving stored types.
pub use rkyv;
