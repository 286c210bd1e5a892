//! The table type registry: each table remembers the key type, serializer (with value type) and
//! version it was created with, so reopening it as something else fails instead of misreading.
//!
//! Records live in a metadata table whose name (`zerotable.meta`) can never clash with a user
//! table (user names cannot contain `.`). Type names are recorded without module paths, so
//! moving a type between modules, or a compiler printing paths differently, does not break
//! reopening; renaming a type or changing the version does (on purpose). A table that holds
//! entries but has no record (written through the raw `Database` API, or through a table handle
//! used after its table was dropped) cannot be opened as a typed table: its type is unknown.

use std::any::type_name;

use crate::database::Database;
use crate::error::{Error, Result};

/// The metadata table's name.
pub(crate) const META_TABLE: &str = "zerotable.meta";

/// What [`Error::TableTypeMismatch`] reports for a table holding entries but no type record.
pub(crate) const UNRECORDED: &str = "unknown: entries written without a type record";

/// What a table was created as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableType(String);

impl TableType {
    pub(crate) fn of<K: ?Sized, S: ?Sized>(version: u32) -> Self {
        TableType(format!(
            "key={} serializer={} version={version}",
            short_type_name(type_name::<K>()),
            short_type_name(type_name::<S>()),
        ))
    }
}

/// `alloc::string::String` → `String`; `zerotable::RkyvSerializer<app::model::User>` →
/// `RkyvSerializer<User>`: every path prefix dropped, generics kept.
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if c == ':' {
            continue;
        }
        if i > 0 && full[..i].ends_with("::") {
            out.truncate(segment_start);
        }
        if !(c.is_alphanumeric() || c == '_') {
            segment_start = out.len() + c.len_utf8();
        }
        out.push(c);
    }
    out
}

/// Records `table`'s type on first open (creating the table), or checks it against the record.
pub(crate) fn register(db: &dyn Database, table: &str, expected: &TableType) -> Result<()> {
    let check = |stored: &[u8]| {
        if stored == expected.0.as_bytes() {
            Ok(())
        } else {
            Err(Error::TableTypeMismatch {
                table: table.to_owned(),
                stored: String::from_utf8_lossy(stored).into_owned(),
                requested: expected.0.clone(),
            })
        }
    };
    // The common case, an existing table opened as itself, needs only a read.
    let mut outcome = None;
    db.get(META_TABLE, table.as_bytes(), &mut |stored| {
        outcome = Some(check(stored))
    })?;
    if let Some(outcome) = outcome {
        return outcome;
    }
    let mut txn = db.begin_write(None)?;
    txn.get(META_TABLE, table.as_bytes(), &mut |stored| {
        outcome = Some(check(stored))
    })?;
    if let Some(outcome) = outcome {
        return outcome; // another thread registered it first
    }
    // Entries without a type record were written outside the typed API (or through a handle
    // used after its table was dropped): their type is unknown, so claiming them for
    // `expected` could misread every value.
    if txn.len(table)? > 0 {
        return Err(Error::TableTypeMismatch {
            table: table.to_owned(),
            stored: UNRECORDED.to_owned(),
            requested: expected.0.clone(),
        });
    }
    txn.put(META_TABLE, table.as_bytes(), expected.0.as_bytes())?;
    txn.create_table(table)?;
    txn.commit()
}

/// Forgets `table`'s record, within the transaction that drops the table.
pub(crate) fn forget(txn: &mut dyn crate::WriteTransaction, table: &str) -> Result<bool> {
    txn.delete(META_TABLE, table.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_lose_their_paths_but_keep_generics() {
        assert_eq!(short_type_name("u64"), "u64");
        assert_eq!(short_type_name("alloc::string::String"), "String");
        assert_eq!(
            short_type_name("zerotable::serializer::rkyv::RkyvSerializer<app::model::User>"),
            "RkyvSerializer<User>"
        );
        assert_eq!(
            short_type_name("(alloc::string::String, u64, [u8; 4])"),
            "(String, u64, [u8; 4])"
        );
        assert_eq!(short_type_name("[u8]"), "[u8]");
    }
}
