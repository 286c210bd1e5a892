//! Upgrading a table's value type: every row rewritten from version n of its type to version
//! n + 1 by a closure of yours, and its catalog record with it ([`Storage::migrate_table`],
//! [`Storage::migrate_rkyv_table`]).
//!
//! # All or nothing, in bounded memory
//!
//! The new rows are written beside the old ones, into a table of their own (`users.v2` for
//! version 2 of `users`), in batches of about 8 MiB, each its own transaction: the old table is
//! not touched and memory stays near one batch whatever the table's size. Then one durable
//! transaction switches: it checks that the old table is still what was read (its row count
//! and checksum, read again inside the transaction — a migration does not lose a write made
//! meanwhile, it fails instead), points the catalog record at the new rows with the new type
//! and version, and drops the old rows.
//!
//! So a crash leaves the old table (before the switch commits) or the new one (after), never a
//! mix. Rows a crashed migration had written are in its own table, which nothing reads; the
//! next migration of the table empties it first. A failing closure or a row that does not
//! encode stops the migration the same way, with the old table in place.
//!
//! The switch holds the write transaction while it reads the old table again: other writers
//! wait for one read of the table. Handles on the table opened before the migration still
//! point at the old rows, which the switch dropped: open the table again, with its new type.
//!
//! ```
//! use zerotable::{RkyvSerializer, Storage, TableOptions};
//!
//! #[derive(rkyv::Archive, rkyv::Serialize)]
//! struct UserV1 { name: String }
//! #[derive(rkyv::Archive, rkyv::Serialize)]
//! struct User { name: String, admin: bool }
//!
//! let storage = Storage::in_memory();
//! let v1 = TableOptions::default().type_name("User").version(1);
//! let old = storage.table_with::<u64, UserV1, _>("users", RkyvSerializer::new(), v1.clone())?;
//! old.put(&1, &UserV1 { name: "ada".into() })?;
//! drop(old);
//!
//! let v2 = TableOptions::default().type_name("User").version(2);
//! let report = storage.migrate_rkyv_table::<u64, UserV1, User>("users", v1, v2.clone(), |old| User {
//!     name: old.name.to_string(),
//!     admin: old.name == "ada",
//! })?;
//! assert_eq!(report.rows, 1);
//! let users = storage.table_with::<u64, User, _>("users", RkyvSerializer::new(), v2)?;
//! assert_eq!(users.get(&1, |u| u.admin)?, Some(true));
//! # Ok::<(), zerotable::Error>(())
//! ```

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use std::borrow::Borrow;
use std::sync::Arc;

use crate::catalog::{self, TableOptions, TableRecord};
use crate::codec::key::{FromKeyBytes, IntoKeyBytes};
use crate::codec::value::{RkyvSerializer, RkyvValue, ValueSerializer};
use crate::copy::{Batch, Tally};
use crate::engine::{Durability, KeyRange, WriteOptions, WriteTxn};
use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::table::Table;
use crate::txn::run_read;

/// Bytes of new rows per transaction while migrating.
const BATCH_BYTES: usize = 8 << 20;

/// What a finished migration did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationReport {
    /// Rows rewritten.
    pub rows: u64,
    /// Bytes of the old values.
    pub old_bytes: u64,
    /// Bytes of the new values.
    pub new_bytes: u64,
    /// The engine table now holding the rows (its catalog record points there).
    pub stored: String,
    /// Time taken, the switch included.
    pub elapsed: Duration,
}

impl Storage {
    /// Rewrites every row of table `name` from its current type (`old`: serializer and
    /// options, as it is opened) to a new one (`new`), through `convert`, and its catalog
    /// record with it — all or nothing, in bounded memory (see [`migrate`](crate::migrate)).
    ///
    /// The table must exist and be of the old type (else
    /// [`TableTypeMismatch`](Error::TableTypeMismatch)); the new record must differ from the
    /// old one (bump the version). `convert`'s error stops the migration and comes back
    /// unchanged, the old table in place.
    ///
    /// ```
    /// use zerotable::{RawSerializer, Storage, TableOptions};
    ///
    /// let storage = Storage::in_memory();
    /// storage.raw_table::<u32>("names")?.put(&1, b"ada")?;
    /// let v1 = TableOptions::default().version(1);
    /// storage.migrate_table::<u32, [u8], [u8], _, _, _>(
    ///     "names",
    ///     (RawSerializer, TableOptions::default()),
    ///     (RawSerializer, v1.clone()),
    ///     |old| Ok(old.to_ascii_uppercase()),
    /// )?;
    /// let names = storage.table_with::<u32, [u8], _>("names", RawSerializer, v1)?;
    /// assert_eq!(names.get(&1, |v| v.to_vec())?, Some(b"ADA".to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn migrate_table<K, Old, New, SO, SN, R>(
        &self,
        name: &str,
        old: (SO, TableOptions),
        new: (SN, TableOptions),
        mut convert: impl FnMut(SO::Output<'_>) -> Result<R>,
    ) -> Result<MigrationReport>
    where
        K: IntoKeyBytes + FromKeyBytes,
        Old: ?Sized,
        New: ?Sized,
        SO: ValueSerializer<Old>,
        SN: ValueSerializer<New>,
        R: Borrow<New>,
    {
        let started = Instant::now();
        let (old_serializer, old_options) = old;
        let (new_serializer, new_options) = new;
        let Some(old_record) = self.table_record(name)? else {
            return Err(Error::Migration {
                table: name.to_owned(),
                problem: "no such table (it has no catalog record)".to_owned(),
            });
        };
        // Index keys are computed from the old type: the indexes go first.
        let indexes = run_read(&**self.engine(), |reader| {
            crate::index::records_of(reader, name)
        })?;
        if let Some(index) = indexes.first() {
            return Err(Error::Migration {
                table: name.to_owned(),
                problem: format!(
                    "it has indexes (`{}`{}); drop them (Storage::drop_index), migrate, then \
                     define them again on the new type (they are built then)",
                    index.name,
                    if indexes.len() > 1 { " and others" } else { "" }
                ),
            });
        }
        // Checks that the table is of the old type, and finds where its rows are.
        let old_table = self.table_with::<K, Old, SO>(name, old_serializer, old_options)?;
        let current = old_table.stored.to_string();
        let mut record = TableRecord::of::<K, New, SN>(&new_serializer, &new_options);
        if let Some(type_name) = &record.value_type {
            catalog::validate_type_name(name, type_name)?;
        }
        if record.same_types(&old_record) {
            return Err(Error::Migration {
                table: name.to_owned(),
                problem: format!(
                    "the new type is recorded exactly as the old one ({record}): give it \
                     another version (TableOptions::version)"
                ),
            });
        }
        let target = new_location(name, record.version, &current);
        record.stored = Some(target.clone());
        let new_table: Table<K, New, SN> =
            Table::new(Arc::clone(self.engine()), name, &target, new_serializer)?;
        let engine = &**self.engine();
        let admin = engine.capabilities().table_admin;

        // What an interrupted migration left in the new rows' table goes first.
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| empty(txn, &target, admin))
            .map_err(|e| e.on_table(name))?;

        // The new rows, batch by batch, from one snapshot of the old ones.
        let snapshot = engine.begin_read()?;
        let mut read = Tally::EMPTY;
        let mut written = Tally::EMPTY;
        let mut batch = Batch::default();
        let mut encoded = Batch::default();
        let mut scratch = Default::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            batch
                .read_after(&*snapshot, &current, after.as_deref(), BATCH_BYTES)
                .map_err(|e| e.on_table(name))?;
            let Some(last) = batch.last_key() else {
                break;
            };
            after = Some(last.to_vec());
            encoded.clear();
            for (key, value) in batch.iter() {
                read.add(key, value);
                let new_value = convert(old_table.decode(key, value)?)?;
                let bytes = new_table.encode(new_value.borrow(), &mut scratch)?;
                written.add(key, bytes);
                encoded.push(key, bytes);
            }
            engine
                .write(WriteOptions::durability(Durability::None), &mut |txn| {
                    for (key, value) in encoded.iter() {
                        txn.put(&target, key, value)?;
                    }
                    Ok(())
                })
                .map_err(|e| e.on_table(name))?;
        }
        drop(snapshot);

        // The switch: durable, and only if the old rows are still those read.
        engine
            .write(WriteOptions::DEFAULT, &mut |txn| {
                let mut now = Tally::EMPTY;
                txn.range(&current, &KeyRange::ALL, &mut |key, value| {
                    now.add(key, value);
                    Ok(ControlFlow::Continue(()))
                })?;
                if now != read {
                    return Err(changed(
                        name,
                        "it was written while the migration ran; run the migration again",
                    ));
                }
                if catalog::record_in(txn, name)?.as_ref() != Some(&old_record) {
                    return Err(changed(name, "its catalog record changed meanwhile"));
                }
                if !crate::index::records_of(txn, name)?.is_empty() {
                    return Err(changed(name, "an index was defined on it meanwhile"));
                }
                catalog::put_record(txn, name, &record)?;
                empty(txn, &current, admin)
            })
            .map_err(|e| e.on_table(name))?;
        // Its subscribers watched values of the old type: tell them the rows were replaced.
        crate::watch::table_dropped(&new_table.hooks);
        Ok(MigrationReport {
            rows: read.rows,
            old_bytes: read.value_bytes,
            new_bytes: written.value_bytes,
            stored: target,
            elapsed: started.elapsed(),
        })
    }

    /// [`migrate_table`](Self::migrate_table) for rkyv tables: `convert` sees each old value
    /// as `&Archived<Old>`, validated, and returns the new value.
    pub fn migrate_rkyv_table<K, Old, New>(
        &self,
        name: &str,
        old: TableOptions,
        new: TableOptions,
        mut convert: impl FnMut(&Old::Archived) -> New,
    ) -> Result<MigrationReport>
    where
        K: IntoKeyBytes + FromKeyBytes,
        Old: RkyvValue + 'static,
        New: RkyvValue + 'static,
    {
        self.migrate_table::<K, Old, New, _, _, _>(
            name,
            (RkyvSerializer::<Old>::new(), old),
            (RkyvSerializer::<New>::new(), new),
            |view| Ok(convert(view)),
        )
    }
}

/// Where a migration to `version` writes the rows of `name`, which are now in `current`.
fn new_location(name: &str, version: u32, current: &str) -> String {
    let base = format!("{name}.v{version}");
    if base != current {
        return base;
    }
    (2..)
        .map(|n| format!("{base}.{n}"))
        .find(|candidate| candidate != current)
        .unwrap_or(base)
}

/// Empties engine table `table` (drops it where the engine administers tables).
fn empty(txn: &dyn WriteTxn, table: &str, admin: bool) -> Result<()> {
    if admin {
        txn.drop_table(table).map(drop)
    } else {
        txn.delete_range(table, &KeyRange::ALL).map(drop)
    }
}

fn changed(name: &str, what: &str) -> Error {
    Error::Migration {
        table: name.to_owned(),
        problem: format!("it did not switch: {what}; the old table is unchanged"),
    }
}
