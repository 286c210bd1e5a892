//! The table catalog: each table remembers what it was created as — key encoding, value
//! format, value type, version — so reopening it as something else fails instead of
//! misreading, and a tool can list tables and decode their keys without the Rust types.
//!
//! # Records
//!
//! Records live in the table `zerotable.meta` (a name no user table can take: user names cannot
//! contain `.`), keyed by table name. A record is UTF-8 text, one `field=value` per line after a
//! header naming the record version:
//!
//! ```text
//! zerotable.table/1
//! key=(String, i64)
//! format=rkyv
//! type=Order
//! version=2
//! ```
//!
//! - `key`: the key encoding as a [`KeyType`] (`u64`, `String`, `[u8; 16]`, `(String, i64)`).
//! - `format`: the value format (`rkyv`, `flatbuffers`, `raw`, or a format of your own).
//! - `type`: the value type's name; absent for raw bytes. By default it is derived from
//!   `std::any::type_name` with every module path removed (`app::model::User` → `User`), so
//!   moving a type between modules changes nothing. `type_name`'s exact output is not promised
//!   by std: where that matters, name the type yourself ([`TableOptions::type_name`]).
//! - `version`: the version you give the type ([`TableOptions::version`]); bump it when the
//!   stored layout changes without the name changing.
//!
//! Records written by zerotable before the catalog (one line,
//! `key=u64 serializer=RkyvSerializer<User> version=0`) are read as well, and rewritten in the
//! current form the first time the table is opened with matching types.

use std::fmt;

use crate::codec::key::{FromKeyBytes, KeyType};
use crate::codec::value::ValueSerializer;
use crate::engine::{Engine, KeyRange, ReadOps, WriteOptions, WriteTxn};
use crate::error::{Error, Result};

/// The catalog table's name.
pub const CATALOG_TABLE: &str = "zerotable.meta";

/// The header line of the current record format.
const HEADER: &str = "zerotable.table/1";

/// The longest table name allowed.
pub const MAX_TABLE_NAME_LEN: usize = 64;

/// Checks a table name: 1 to [`MAX_TABLE_NAME_LEN`] ASCII letters, digits or `_`.
///
/// The rule is strict on purpose: names end up in engine namespaces, file names and logs, and
/// a name that is valid everywhere is simpler than one escaped differently in each.
///
/// ```
/// assert!(zerotable::validate_table_name("orders_2024").is_ok());
/// assert!(zerotable::validate_table_name("zerotable.meta").is_err());
/// ```
pub fn validate_table_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_TABLE_NAME_LEN {
        "it is longer than 64 bytes"
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        "only ASCII letters, digits and '_' are allowed"
    } else {
        return Ok(());
    };
    Err(Error::InvalidTableName {
        name: name.to_owned(),
        reason,
    })
}

/// Options for opening a typed table: the version and name its catalog record gives the
/// value type.
///
/// ```
/// use zerotable::{RkyvSerializer, Storage, TableOptions};
///
/// #[derive(rkyv::Archive, rkyv::Serialize)]
/// struct User { name: String }
///
/// let storage = Storage::in_memory();
/// let options = TableOptions::default().version(2).type_name("app.User");
/// let users = storage.table_with::<u64, User, _>("users", RkyvSerializer::new(), options)?;
/// let record = storage.table_record("users")?.unwrap();
/// assert_eq!((record.value_type.as_deref(), record.version), (Some("app.User"), 2));
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableOptions {
    version: u32,
    type_name: Option<String>,
}

impl TableOptions {
    /// The value type's version (default 0).
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// The version set.
    pub(crate) fn version_number(&self) -> u32 {
        self.version
    }

    /// The value type's name as recorded, instead of the one derived from its Rust name.
    /// Printable text without line breaks.
    pub fn type_name(mut self, name: impl Into<String>) -> Self {
        self.type_name = Some(name.into());
        self
    }
}

/// What a table was created as: one catalog record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableRecord {
    /// How keys are encoded.
    pub key: KeyType,
    /// How values are stored (`rkyv`, `flatbuffers`, `raw`, …).
    pub format: String,
    /// The value type's name, if the format has one.
    pub value_type: Option<String>,
    /// The value type's version.
    pub version: u32,
    /// The engine table holding the rows, when it is not the table's own name: a migrated
    /// table's rows live in the table its migration wrote (`users.v2`), which the record
    /// points to.
    pub stored: Option<String>,
}

impl TableRecord {
    /// The record of a table of `K` keys whose values `serializer` stores.
    pub fn of<K, V, S>(serializer: &S, options: &TableOptions) -> Self
    where
        K: FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V>,
    {
        TableRecord {
            key: K::key_type(),
            format: S::FORMAT.to_owned(),
            value_type: options
                .type_name
                .clone()
                .or_else(|| serializer.value_type_name()),
            version: options.version,
            stored: None,
        }
    }

    /// The engine table holding the rows of table `name`: [`stored`](Self::stored), or the
    /// name itself.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// storage.raw_table::<u8>("t")?;
    /// assert_eq!(storage.table_record("t")?.unwrap().stored_table("t"), "t");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn stored_table<'a>(&'a self, name: &'a str) -> &'a str {
        self.stored.as_deref().unwrap_or(name)
    }

    /// Whether both records describe the same key and value types (wherever the rows are).
    pub(crate) fn same_types(&self, other: &TableRecord) -> bool {
        self.key == other.key
            && self.format == other.format
            && self.value_type == other.value_type
            && self.version == other.version
    }

    /// The record as stored.
    pub fn encode(&self) -> String {
        let mut text = format!("{HEADER}\nkey={}\nformat={}\n", self.key, self.format);
        if let Some(name) = &self.value_type {
            text.push_str(&format!("type={name}\n"));
        }
        text.push_str(&format!("version={}\n", self.version));
        if let Some(stored) = &self.stored {
            text.push_str(&format!("stored={stored}\n"));
        }
        text
    }

    /// Reads a stored record, current or from before the catalog; `legacy` says which.
    pub fn decode(bytes: &[u8]) -> std::result::Result<(Self, bool), String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
        match text.strip_prefix(HEADER) {
            Some(fields) => Self::decode_fields(fields).map(|record| (record, false)),
            None if text.starts_with("key=") => Self::decode_legacy(text).map(|r| (r, true)),
            None => Err(format!("unknown record format {:?}", first_line(text))),
        }
    }

    fn decode_fields(fields: &str) -> std::result::Result<Self, String> {
        let (mut key, mut format, mut value_type, mut version) = (None, None, None, None);
        let mut stored = None;
        for line in fields.lines().filter(|line| !line.is_empty()) {
            let (field, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {line:?} is not field=value"))?;
            match field {
                "key" => key = Some(value.parse::<KeyType>().map_err(|e| e.to_string())?),
                "format" => format = Some(value.to_owned()),
                "type" => value_type = Some(value.to_owned()),
                "version" => {
                    version = Some(
                        value
                            .parse()
                            .map_err(|_| format!("bad version {value:?}"))?,
                    )
                }
                "stored" => stored = Some(value.to_owned()),
                // Fields added by later versions of the record are ignored.
                _ => {}
            }
        }
        Ok(TableRecord {
            key: key.ok_or("no key field")?,
            format: format.ok_or("no format field")?,
            value_type,
            version: version.ok_or("no version field")?,
            stored,
        })
    }

    /// `key=(String, u64) serializer=RkyvSerializer<User> version=0`.
    fn decode_legacy(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("unreadable record {text:?}");
        let rest = text.strip_prefix("key=").ok_or_else(bad)?;
        let (key, rest) = rest.split_once(" serializer=").ok_or_else(bad)?;
        let (serializer, version) = rest.rsplit_once(" version=").ok_or_else(bad)?;
        let (format, value_type) = match serializer.split_once('<') {
            Some((kind, generic)) => {
                let name = generic.strip_suffix('>').ok_or_else(bad)?;
                let name = name.replace("<'_>", "").replace("'_, ", "");
                let format = match kind {
                    "RkyvSerializer" | "RkyvBytesSerializer" => "rkyv",
                    "FlatBuffersSerializer" => "flatbuffers",
                    _ => return Err(bad()),
                };
                (format, Some(name))
            }
            None if serializer == "RawSerializer" => ("raw", None),
            None => return Err(bad()),
        };
        Ok(TableRecord {
            key: key
                .parse()
                .map_err(|e: crate::codec::key::UnknownKeyType| e.to_string())?,
            format: format.to_owned(),
            value_type,
            version: version.trim().parse().map_err(|_| bad())?,
            stored: None,
        })
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

impl fmt::Display for TableRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key={} format={}", self.key, self.format)?;
        if let Some(name) = &self.value_type {
            write!(f, " type={name}")?;
        }
        write!(f, " version={}", self.version)?;
        if let Some(stored) = &self.stored {
            write!(f, " stored={stored}")?;
        }
        Ok(())
    }
}

/// `alloc::string::String` → `String`; `zerotable::schemas::Monster<'_>` → `Monster`;
/// `app::model::Pair<alloc::string::String, u64>` → `Pair<String, u64>`: every path prefix and
/// lifetime dropped, generics kept.
pub(crate) fn short_type_name(full: &str) -> String {
    strip_paths(
        &full
            .replace("<'_>", "")
            .replace("'_, ", "")
            .replace("'static, ", ""),
    )
}

/// Drops every path prefix of the type names in `full`, keeping generics (and lifetimes).
fn strip_paths(full: &str) -> String {
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

/// The catalog record of `table`, if it has one; `legacy` marks a pre-catalog record.
fn read_record(reader: &dyn ReadOps, table: &str) -> Result<Option<(TableRecord, bool)>> {
    let mut record = None;
    reader.get(CATALOG_TABLE, table.as_bytes(), &mut |bytes| {
        record = Some(TableRecord::decode(bytes).map_err(|reason| Error::Catalog {
            table: table.to_owned(),
            reason,
        })?);
        Ok(())
    })?;
    Ok(record)
}

/// The catalog record of `table` as `reader` sees it, if it has one.
pub(crate) fn record_in(reader: &dyn ReadOps, table: &str) -> Result<Option<TableRecord>> {
    Ok(read_record(reader, table)?.map(|(record, _)| record))
}

/// The engine table holding `table`'s rows as `reader` sees the catalog: the one its record
/// names, or `table` itself (also when it has no record, or an unreadable one).
pub(crate) fn stored_table_in(reader: &dyn ReadOps, table: &str) -> Result<String> {
    match read_record(reader, table) {
        Ok(Some((record, _))) => Ok(record.stored_table(table).to_owned()),
        Ok(None) | Err(Error::Catalog { .. }) => Ok(table.to_owned()),
        Err(other) => Err(other),
    }
}

/// The catalog record of `table` in `engine`, if it has one.
pub(crate) fn record_of(engine: &dyn Engine, table: &str) -> Result<Option<TableRecord>> {
    let mut record = None;
    engine.read(&mut |reader| {
        record = read_record(reader, table)?.map(|(record, _)| record);
        Ok(())
    })?;
    Ok(record)
}

/// Every table with its record, in name order.
pub(crate) fn all_records(engine: &dyn Engine) -> Result<Vec<(String, TableRecord)>> {
    let mut records = Vec::new();
    engine.read(&mut |reader| {
        reader.range(CATALOG_TABLE, &KeyRange::ALL, &mut |name, bytes| {
            let name = String::from_utf8_lossy(name).into_owned();
            let (record, _) = TableRecord::decode(bytes).map_err(|reason| Error::Catalog {
                table: name.clone(),
                reason,
            })?;
            records.push((name, record));
            Ok(std::ops::ControlFlow::Continue(()))
        })
    })?;
    Ok(records)
}

/// What a table's catalog record says about opening it as `expected`.
enum Stored {
    /// The record describes `expected`; `legacy`: it is in the pre-catalog form; `stored`: the
    /// engine table holding the rows, when not the table's name.
    Matches {
        legacy: bool,
        stored: Option<String>,
    },
    /// The record describes another type.
    Other(TableRecord),
}

/// Reads `table`'s record and compares it with `expected`. A pre-catalog record that is
/// exactly what the requested types wrote then (`legacy_form`) matches even when its names
/// are ones the catalog cannot parse (a key or serializer type of the caller's own).
fn stored(
    reader: &dyn ReadOps,
    table: &str,
    expected: &TableRecord,
    legacy_form: &str,
) -> Result<Option<Stored>> {
    let mut stored = None;
    reader.get(CATALOG_TABLE, table.as_bytes(), &mut |bytes| {
        stored = Some(if bytes == legacy_form.as_bytes() {
            Stored::Matches {
                legacy: true,
                stored: None,
            }
        } else {
            let (record, legacy) = TableRecord::decode(bytes).map_err(|reason| Error::Catalog {
                table: table.to_owned(),
                reason,
            })?;
            if record.same_types(expected) {
                Stored::Matches {
                    legacy,
                    stored: record.stored,
                }
            } else {
                Stored::Other(record)
            }
        });
        Ok(())
    })?;
    Ok(stored)
}

/// Records `table` as `expected` on first open (creating the table), or checks it against its
/// record (rewriting a pre-catalog record that matches in the current form). `legacy_form` is
/// the record the pre-catalog zerotable wrote for the same types. Returns the engine table
/// holding the rows when it is not `table` itself (a migrated table).
pub(crate) fn register(
    engine: &dyn Engine,
    table: &str,
    expected: &TableRecord,
    legacy_form: &str,
) -> Result<Option<String>> {
    let mismatch = |stored: Option<TableRecord>| Error::TableTypeMismatch {
        table: table.to_owned(),
        stored: stored.map(Box::new),
        requested: Box::new(expected.clone()),
    };
    // The common case, an existing table opened as itself, needs only a read.
    let mut found = None;
    engine.read(&mut |reader| {
        found = stored(reader, table, expected, legacy_form)?;
        Ok(())
    })?;
    match found {
        Some(Stored::Matches {
            legacy: false,
            stored,
        }) => return Ok(stored),
        Some(Stored::Other(record)) => return Err(mismatch(Some(record))),
        _ => {}
    }
    let creates_tables = engine.capabilities().table_admin;
    let mut location = None;
    engine.write(WriteOptions::DEFAULT, &mut |txn| {
        match stored(txn, table, expected, legacy_form)? {
            Some(Stored::Matches { legacy, stored }) => {
                if legacy {
                    put_record(txn, table, expected)?;
                }
                location = stored;
                return Ok(());
            }
            Some(Stored::Other(record)) => return Err(mismatch(Some(record))), // changed meanwhile
            None => {}
        }
        // Entries without a record were written outside the typed API (or through a handle
        // used after its table was dropped): their type is unknown, so claiming them for
        // `expected` could misread every value.
        if txn.len(table)? > 0 {
            return Err(mismatch(None));
        }
        put_record(txn, table, expected)?;
        if creates_tables {
            txn.create_table(table)?;
        }
        Ok(())
    })?;
    Ok(location)
}

/// The one-line record zerotable wrote before the catalog for a table of `K` keys stored with
/// serializer `S` (`key=u64 serializer=RkyvSerializer<User> version=0`): type names with their
/// paths removed but lifetimes kept, as that version printed them.
pub(crate) fn legacy_form<K: ?Sized, S: ?Sized>(version: u32) -> String {
    format!(
        "key={} serializer={} version={version}",
        strip_paths(std::any::type_name::<K>()),
        strip_paths(std::any::type_name::<S>()),
    )
}

pub(crate) fn put_record(txn: &dyn WriteTxn, table: &str, record: &TableRecord) -> Result<()> {
    txn.put(CATALOG_TABLE, table.as_bytes(), record.encode().as_bytes())
        .map_err(|e| e.on_table(table))
}

/// Forgets `table`'s record, within the transaction that drops the table.
pub(crate) fn forget(txn: &dyn WriteTxn, table: &str) -> Result<bool> {
    txn.delete(CATALOG_TABLE, table.as_bytes())
}

/// Checks that `type_name` can be stored in a record.
pub(crate) fn validate_type_name(table: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(Error::Catalog {
            table: table.to_owned(),
            reason: format!("type name {name:?} must be non-empty printable text"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_records_are_what_the_pre_catalog_version_wrote() {
        struct Probe;
        assert_eq!(
            legacy_form::<u64, crate::RkyvSerializer<Probe>>(0),
            "key=u64 serializer=RkyvSerializer<Probe> version=0"
        );
        assert_eq!(
            legacy_form::<(String, u64), crate::RawSerializer>(3),
            "key=(String, u64) serializer=RawSerializer version=3"
        );
    }

    #[test]
    fn type_names_lose_their_paths_and_lifetimes_but_keep_generics() {
        assert_eq!(short_type_name("u64"), "u64");
        assert_eq!(short_type_name("alloc::string::String"), "String");
        assert_eq!(
            short_type_name("app::model::Pair<alloc::string::String, app::User>"),
            "Pair<String, User>"
        );
        assert_eq!(
            short_type_name("(alloc::string::String, u64, [u8; 4])"),
            "(String, u64, [u8; 4])"
        );
        assert_eq!(
            short_type_name("zerotable::schemas::Monster<'_>"),
            "Monster"
        );
        assert_eq!(short_type_name("[u8]"), "[u8]");
    }

    #[test]
    fn records_round_trip_and_legacy_records_are_understood() {
        let record = TableRecord {
            key: "(String, i64)".parse().unwrap(),
            format: "rkyv".into(),
            value_type: Some("Order".into()),
            version: 2,
            stored: None,
        };
        assert_eq!(
            TableRecord::decode(record.encode().as_bytes()).unwrap(),
            (record.clone(), false)
        );
        let migrated = TableRecord {
            stored: Some("orders.v2".into()),
            ..record
        };
        assert_eq!(
            TableRecord::decode(migrated.encode().as_bytes()).unwrap(),
            (migrated.clone(), false)
        );
        assert!(
            migrated
                .to_string()
                .ends_with(" version=2 stored=orders.v2")
        );
        let legacy = |text: &str| TableRecord::decode(text.as_bytes()).unwrap();
        let (users, is_legacy) = legacy("key=u64 serializer=RkyvSerializer<User> version=0");
        assert!(is_legacy);
        assert_eq!(users.to_string(), "key=u64 format=rkyv type=User version=0");
        let (events, _) = legacy("key=(String, u64) serializer=RawSerializer version=0");
        assert_eq!(events.to_string(), "key=(String, u64) format=raw version=0");
        let (monsters, _) =
            legacy("key=Vec<u8> serializer=FlatBuffersSerializer<Monster<'_>> version=3");
        assert_eq!(
            monsters.to_string(),
            "key=Vec<u8> format=flatbuffers type=Monster version=3"
        );
        for bad in [
            &b"\xff"[..],
            b"garbage",
            b"zerotable.table/1\nkey=u64\n",
            b"key=u64",
        ] {
            assert!(TableRecord::decode(bad).is_err(), "{bad:?}");
        }
    }
}
