//! Index records: what each secondary index was defined as, kept in the catalog table
//! `zerotable.indexes` keyed by `table/index`, and where its entries live.
//!
//! A record is UTF-8 text like the table records:
//!
//! ```text
//! zerotable.index/1
//! key=String
//! unique=true
//! state=ready
//! ```
//!
//! `state` is `building` from the definition until the last batch of the build over existing
//! rows commits, then `ready`. An index found `building` (its build was interrupted) is built
//! again from the start when it is next defined.

use std::ops::ControlFlow;

use crate::catalog::validate_table_name;
use crate::codec::key::KeyType;
use crate::engine::{KeyRange, ReadOps, WriteTxn};
use crate::error::{Error, IndexErrorKind, Result};

/// The catalog table of index records.
pub const INDEX_CATALOG_TABLE: &str = "zerotable.indexes";

const HEADER: &str = "zerotable.index/1";

/// What an index was defined as: one record of the index catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexRecord {
    /// The indexed table.
    pub table: String,
    /// The index's name.
    pub name: String,
    /// The index key's encoding.
    pub key: KeyType,
    /// Whether an index key may belong to one row only.
    pub unique: bool,
    /// Whether its build over the rows present at its definition has finished.
    pub ready: bool,
}

impl IndexRecord {
    /// The engine table holding the index's entries: `zerotable.index.<table>.<index>` (user
    /// names cannot contain `.`, so it is nobody else's).
    pub fn entries_table(&self) -> String {
        entries_table(&self.table, &self.name)
    }

    /// Whether `other` describes the same index (its key and uniqueness), ready or not.
    pub(crate) fn same_definition(&self, other: &IndexRecord) -> bool {
        self.table == other.table
            && self.name == other.name
            && self.key == other.key
            && self.unique == other.unique
    }

    /// The record as stored.
    pub fn encode(&self) -> String {
        format!(
            "{HEADER}\nkey={}\nunique={}\nstate={}\n",
            self.key,
            self.unique,
            if self.ready { "ready" } else { "building" }
        )
    }

    /// Reads a stored record of index `name` of `table`.
    pub fn decode(table: &str, name: &str, bytes: &[u8]) -> std::result::Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
        let fields = text
            .strip_prefix(HEADER)
            .ok_or_else(|| format!("unknown record format {:?}", text.lines().next()))?;
        let (mut key, mut unique, mut ready) = (None, None, None);
        for line in fields.lines().filter(|line| !line.is_empty()) {
            let (field, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {line:?} is not field=value"))?;
            match field {
                "key" => key = Some(value.parse::<KeyType>().map_err(|e| e.to_string())?),
                "unique" => unique = Some(value == "true"),
                "state" => ready = Some(value == "ready"),
                other => return Err(format!("unknown field {other:?}")),
            }
        }
        Ok(IndexRecord {
            table: table.to_owned(),
            name: name.to_owned(),
            key: key.ok_or("no key field")?,
            unique: unique.ok_or("no unique field")?,
            ready: ready.ok_or("no state field")?,
        })
    }
}

/// The engine table of the entries of index `index` of `table`.
pub(crate) fn entries_table(table: &str, index: &str) -> String {
    format!("zerotable.index.{table}.{index}")
}

fn record_key(table: &str, index: &str) -> String {
    format!("{table}/{index}")
}

/// Checks an index name: the rule of table names.
pub(crate) fn validate_index_name(table: &str, name: &str) -> Result<()> {
    validate_table_name(name).map_err(|_| {
        Error::index(
            table,
            name,
            IndexErrorKind::InvalidName,
            "index names are 1 to 64 ASCII letters, digits or '_'",
        )
    })
}

fn unreadable(table: &str, name: &str, reason: String) -> Error {
    Error::Catalog {
        table: table.to_owned(),
        reason: format!("the record of its index `{name}` is unreadable: {reason}"),
    }
}

/// The record of index `name` of `table`, if there is one.
pub(crate) fn record_in(
    reader: &dyn ReadOps,
    table: &str,
    name: &str,
) -> Result<Option<IndexRecord>> {
    let mut record = None;
    reader.get(
        INDEX_CATALOG_TABLE,
        record_key(table, name).as_bytes(),
        &mut |bytes| {
            record = Some(
                IndexRecord::decode(table, name, bytes)
                    .map_err(|reason| unreadable(table, name, reason))?,
            );
            Ok(())
        },
    )?;
    Ok(record)
}

/// The records of every index of `table`, by name.
pub(crate) fn records_of(reader: &dyn ReadOps, table: &str) -> Result<Vec<IndexRecord>> {
    let prefix = format!("{table}/");
    let mut end = prefix.clone().into_bytes();
    *end.last_mut().expect("not empty") += 1; // '/' + 1 = '0': just past the prefix
    let range = KeyRange {
        start: std::ops::Bound::Included(prefix.as_bytes()),
        end: std::ops::Bound::Excluded(&end),
        reverse: false,
    };
    let mut records = Vec::new();
    reader.range(INDEX_CATALOG_TABLE, &range, &mut |key, bytes| {
        let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
        records.push(
            IndexRecord::decode(table, &name, bytes)
                .map_err(|reason| unreadable(table, &name, reason))?,
        );
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(records)
}

/// Every index record, by table and name.
pub fn all_index_records(reader: &dyn ReadOps) -> Result<Vec<IndexRecord>> {
    let mut records = Vec::new();
    reader.range(INDEX_CATALOG_TABLE, &KeyRange::ALL, &mut |key, bytes| {
        let key = String::from_utf8_lossy(key);
        let (table, name) = key.split_once('/').unwrap_or((&key, ""));
        records.push(
            IndexRecord::decode(table, name, bytes)
                .map_err(|reason| unreadable(table, name, reason))?,
        );
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(records)
}

pub(crate) fn put_record(txn: &dyn WriteTxn, record: &IndexRecord) -> Result<()> {
    txn.put(
        INDEX_CATALOG_TABLE,
        record_key(&record.table, &record.name).as_bytes(),
        record.encode().as_bytes(),
    )
}

pub(crate) fn forget(txn: &dyn WriteTxn, table: &str, name: &str) -> Result<bool> {
    txn.delete(INDEX_CATALOG_TABLE, record_key(table, name).as_bytes())
}

/// Empties (or drops, where the engine has tables of its own) the entries of `record`.
pub(crate) fn clear_entries(txn: &dyn WriteTxn, record: &IndexRecord, drop: bool) -> Result<()> {
    let table = record.entries_table();
    if drop {
        txn.drop_table(&table)?;
    } else {
        txn.delete_range(&table, &KeyRange::ALL)?;
    }
    Ok(())
}
