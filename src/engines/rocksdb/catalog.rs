//! The engine's own catalog: which zerotable table lives in which column family.
//!
//! It is kept in RocksDB's `default` column family, written in the same `WriteBatch` as the
//! data of the transaction that changes it, so creating and dropping tables commits or rolls
//! back with everything else. Its keys:
//!
//! | key | value |
//! |---|---|
//! | `0x00 "format"` | `zerotable-rocksdb/1`: marks a folder as this engine's |
//! | `0x00 "next"` | the next table id (u64, big-endian) |
//! | `0x01` + table name (UTF-8) | the table's id (u64, big-endian) |
//!
//! Table `n` lives in column family `zt.n`. Ids are never reused while their column family
//! exists, so a table dropped and created again gets a new, empty column family, and a
//! snapshot that still lists the old table reads the old one.

use std::collections::BTreeMap;
use std::sync::Arc;

use rocksdb::WriteBatch;

use super::{Db, rocks_error};
use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// The value under [`FORMAT_KEY`] in a folder this engine created.
pub(super) const FORMAT_VALUE: &[u8] = b"zerotable-rocksdb/1";
/// Where the format marker is.
pub(super) const FORMAT_KEY: &[u8] = b"\x00format";
/// Where the next table id is.
const NEXT_KEY: &[u8] = b"\x00next";
/// The first byte of every table entry's key.
const TABLE_PREFIX: u8 = 0x01;
/// The prefix of the column families holding tables.
const CF_PREFIX: &str = "zt.";

/// The tables of one committed state (or of a write transaction's draft).
#[derive(Clone, Debug, Default)]
pub(super) struct Catalog {
    /// Table name → where it lives, in name (byte) order.
    pub(super) tables: BTreeMap<String, TableEntry>,
    /// The next id to give a new table (at least one above every id in use).
    pub(super) next_id: u64,
}

/// Where one table lives.
#[derive(Clone, Debug)]
pub(super) struct TableEntry {
    /// Its id.
    pub(super) id: u64,
    /// Its column family's name, `zt.<id>` (kept to look the handle up without formatting).
    pub(super) cf: Arc<str>,
}

impl TableEntry {
    pub(super) fn new(id: u64) -> Self {
        TableEntry {
            id,
            cf: cf_name(id).into(),
        }
    }
}

/// The column family of table `id`.
pub(super) fn cf_name(id: u64) -> String {
    format!("{CF_PREFIX}{id}")
}

/// The table id of a column family named like [`cf_name`] makes them; `None` for any other.
pub(super) fn parse_cf_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(CF_PREFIX)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

fn damaged(problem: String) -> Error {
    Error::engine(
        None,
        Operation::Catalog,
        EngineError::new(EngineErrorKind::Corrupted, problem),
    )
}

fn decode_id(bytes: &[u8], what: &str) -> Result<u64> {
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| damaged(format!("{what}: expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

fn table_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + name.len());
    key.push(TABLE_PREFIX);
    key.extend_from_slice(name.as_bytes());
    key
}

impl Catalog {
    /// Reads the committed catalog from the `default` column family.
    pub(super) fn load(db: &Db) -> Result<Catalog> {
        let mut catalog = Catalog::default();
        let mut cursor = db.raw_iterator();
        cursor.seek([TABLE_PREFIX]);
        while let Some((key, value)) = cursor.item() {
            let Some(name) = key.strip_prefix(&[TABLE_PREFIX]) else {
                break;
            };
            let name = std::str::from_utf8(name).map_err(|_| {
                damaged(format!(
                    "the catalog holds a table name that is not UTF-8: {name:?}"
                ))
            })?;
            let id = decode_id(value, &format!("the id of table {name:?}"))?;
            catalog.tables.insert(name.to_owned(), TableEntry::new(id));
            cursor.next();
        }
        cursor
            .status()
            .map_err(rocks_error(None, Operation::Catalog))?;
        let next = db
            .get_pinned(NEXT_KEY)
            .map_err(rocks_error(None, Operation::Catalog))?;
        let stored_next = match next {
            Some(bytes) => decode_id(&bytes, "the next table id")?,
            None => 0,
        };
        let above_used = catalog.tables.values().map(|t| t.id + 1).max().unwrap_or(0);
        catalog.next_id = stored_next.max(above_used);
        Ok(catalog)
    }

    /// Adds to `batch` (its `default` column family) what turns the stored catalog `base` into
    /// this one.
    pub(super) fn write_changes(&self, base: &Catalog, batch: &mut WriteBatch) {
        for (name, entry) in &base.tables {
            if !self.tables.contains_key(name) {
                batch.delete(table_key(name));
            } else if self.tables[name].id != entry.id {
                batch.put(table_key(name), self.tables[name].id.to_be_bytes());
            }
        }
        for (name, entry) in &self.tables {
            if !base.tables.contains_key(name) {
                batch.put(table_key(name), entry.id.to_be_bytes());
            }
        }
        if self.next_id != base.next_id {
            batch.put(NEXT_KEY, self.next_id.to_be_bytes());
        }
    }

    /// The names of the tables, ascending.
    pub(super) fn names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_family_names_round_trip_and_others_are_not_tables() {
        for id in [0, 1, 9, 10, 12345, u64::MAX] {
            assert_eq!(parse_cf_name(&cf_name(id)), Some(id));
        }
        for other in [
            "default",
            "zt.",
            "zt.01",
            "zt.-1",
            "zt.1a",
            "zt.99999999999999999999",
            "x.1",
        ] {
            assert_eq!(parse_cf_name(other), None, "{other}");
        }
    }
}
