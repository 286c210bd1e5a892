//! The read commands: `tables`, `get`, `dump`, `stats`.

use std::ops::{Bound, ControlFlow};

use serde_json::{Value, json};
use zerotable::{KeyRange, KeyType, ReadOps, Storage, TableRecord, TableStats};

use crate::output::{self, Failure, Out};
use crate::{DumpFormat, Outcome, open};

/// The catalog's own table and the copy marker's: the library's, not the user's.
pub fn is_internal(name: &str) -> bool {
    name.starts_with("zerotable.")
}

/// One table as the commands show it: its catalog record, when it has one (a table written
/// outside the typed API has none).
pub struct TableEntry {
    pub name: String,
    pub record: Option<TableRecord>,
}

impl TableEntry {
    /// The engine table holding its rows: its own name, or the table a migration wrote.
    pub fn stored(&self) -> &str {
        self.record
            .as_ref()
            .map_or(&self.name, |record| record.stored_table(&self.name))
    }
}

/// The user tables: those the catalog records, and those the engine lists without a record.
fn user_tables(storage: &Storage, db: &str) -> Result<Vec<TableEntry>, Failure> {
    let records = storage.tables().map_err(|error| {
        Failure::new(
            format!("cannot read the catalog of {db}"),
            format!(
                "{} (`zerotable check` lists every problem)",
                output::describe(&error)
            ),
        )
    })?;
    let mut tables: Vec<TableEntry> = records
        .into_iter()
        .map(|(name, record)| TableEntry {
            name,
            record: Some(record),
        })
        .collect();
    for name in engine_tables(storage, db)? {
        // A migrated table's rows are in an engine table of another name, its record's.
        let known = tables
            .iter()
            .any(|table| table.name == name || table.stored() == name);
        if !is_internal(&name) && !known {
            tables.push(TableEntry { name, record: None });
        }
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tables)
}

/// The tables the engine itself lists (none for an engine without the capability).
pub fn engine_tables(storage: &Storage, db: &str) -> Result<Vec<String>, Failure> {
    if !storage.capabilities().table_admin {
        return Ok(Vec::new());
    }
    let reader = begin_read(storage, db)?;
    reader
        .list_tables()
        .map_err(|error| Failure::library(format!("cannot list the tables of {db}"), &error))
}

pub fn begin_read(storage: &Storage, db: &str) -> Result<Box<dyn zerotable::ReadTxn>, Failure> {
    storage
        .engine()
        .begin_read()
        .map_err(|error| Failure::library(format!("cannot read {db}"), &error))
}

/// A table's entries and bytes: the engine's figures where it keeps them, else counted.
pub fn figures(
    reader: &dyn ReadOps,
    table_admin: bool,
    table: &str,
) -> Result<TableStats, Failure> {
    let failed = |error: zerotable::Error| {
        Failure::library(format!("cannot measure table `{table}`"), &error)
    };
    if table_admin {
        return reader.table_stats(table).map_err(failed);
    }
    let mut stats = TableStats::default();
    reader
        .range(table, &KeyRange::ALL, &mut |key, value| {
            stats.entries += 1;
            stats.stored_bytes += (key.len() + value.len()) as u64;
            Ok(ControlFlow::Continue(()))
        })
        .map_err(failed)?;
    Ok(stats)
}

/// `zerotable tables DB`.
pub fn tables(db: &str, json: bool) -> Result<Outcome, Failure> {
    let storage = open::existing(db)?;
    let tables = user_tables(&storage, db)?;
    let reader = begin_read(&storage, db)?;
    let admin = storage.capabilities().table_admin;
    let mut out = Out::new();
    let mut rows = vec![
        [
            "name", "key", "format", "type", "version", "entries", "bytes",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let mut listed = Vec::new();
    for table in &tables {
        let stats = figures(&*reader, admin, table.stored())?;
        let record = table.record.as_ref();
        listed.push(json!({
            "name": table.name,
            "key": record.map(|r| r.key.to_string()),
            "format": record.map(|r| r.format.clone()),
            "value_type": record.and_then(|r| r.value_type.clone()),
            "version": record.map(|r| r.version),
            "entries": stats.entries,
            "bytes": stats.stored_bytes,
        }));
        let dash = || "-".to_owned();
        rows.push(vec![
            table.name.clone(),
            record.map_or_else(|| "(no record)".to_owned(), |r| r.key.to_string()),
            record.map_or_else(dash, |r| r.format.clone()),
            record
                .and_then(|r| r.value_type.clone())
                .unwrap_or_else(dash),
            record.map_or_else(dash, |r| r.version.to_string()),
            stats.entries.to_string(),
            stats.stored_bytes.to_string(),
        ]);
    }
    if json {
        out.json(&json!({ "tables": listed }))?;
    } else if tables.is_empty() {
        out.line("no tables")?;
    } else {
        for line in output::columns(&rows) {
            out.line(line)?;
        }
    }
    out.finish()?;
    Ok(Outcome::Done)
}

/// What a table's keys and values are, for reading them: its record's key type (an untyped
/// table's keys are bytes) and whether values are raw bytes.
struct Layout {
    /// The engine table holding the rows.
    stored: String,
    key: KeyType,
    raw: bool,
    format: Option<String>,
}

fn layout(storage: &Storage, db: &str, table: &str) -> Result<Layout, Failure> {
    let record = storage.table_record(table).map_err(|error| match error {
        zerotable::Error::InvalidTableName { .. } => Failure::usage(
            format!("bad table name {table:?}"),
            output::describe(&error),
        ),
        _ => Failure::library(format!("cannot read the catalog of {db}"), &error),
    })?;
    if let Some(record) = record {
        return Ok(Layout {
            stored: record.stored_table(table).to_owned(),
            raw: record.format == "raw",
            format: Some(record.format),
            key: record.key,
        });
    }
    if engine_tables(storage, db)?.iter().any(|name| name == table) {
        return Ok(Layout {
            stored: table.to_owned(),
            key: KeyType::Bytes,
            raw: false,
            format: None,
        });
    }
    Err(Failure::new(
        format!("no table `{table}` in {db}"),
        "`zerotable tables` lists the tables",
    ))
}

fn parse_key(layout: &Layout, text: &str, prefix: bool) -> Result<Vec<u8>, Failure> {
    let parsed = if prefix {
        layout.key.parse_prefix_text(text)
    } else {
        layout.key.parse_text(text)
    };
    parsed.map_err(|error| {
        let what = if prefix { "prefix" } else { "key" };
        Failure::usage(format!("cannot read the {what} {text:?}"), error)
    })
}

/// The key as text (the syntax `get` reads), or `None` with why it does not decode.
fn key_text(key_type: &KeyType, bytes: &[u8]) -> Result<String, String> {
    key_type
        .decode(bytes)
        .map(|value| value.to_text())
        .map_err(|error| error.to_string())
}

/// One entry as JSON.
fn entry_json(layout: &Layout, key: &[u8], value: &[u8]) -> Value {
    let (text, error) = match key_text(&layout.key, key) {
        Ok(text) => (Some(text), None),
        Err(error) => (None, Some(error)),
    };
    let mut entry = json!({
        "key": text,
        "key_hex": output::hex(key),
        "size": value.len(),
        "value_hex": output::hex(value),
    });
    if layout.raw {
        entry["value_text"] = json!(output::value_text(value, true));
    }
    if let Some(error) = error {
        entry["key_error"] = json!(error);
    }
    entry
}

/// `zerotable get DB TABLE KEY`.
pub fn get(db: &str, table: &str, key: &str, json: bool) -> Result<Outcome, Failure> {
    let storage = open::existing(db)?;
    let layout = layout(&storage, db, table)?;
    let bytes = parse_key(&layout, key, false)?;
    let mut value = None;
    storage
        .engine()
        .get(&layout.stored, &bytes, &mut |found| {
            value = Some(found.to_vec());
            Ok(())
        })
        .map_err(|error| Failure::library(format!("cannot read table `{table}`"), &error))?;
    let mut out = Out::new();
    let shown = key_text(&layout.key, &bytes).unwrap_or_else(|_| key.to_owned());
    match (&value, json) {
        (Some(value), true) => {
            let mut entry = entry_json(&layout, &bytes, value);
            entry["table"] = json!(table);
            entry["found"] = json!(true);
            out.json(&entry)?;
        }
        (Some(value), false) => {
            out.line(format!("key    {shown}"))?;
            out.line(format!(
                "size   {}",
                output::bytes_count(value.len() as u64)
            ))?;
            out.line(format!(
                "value  {}",
                output::value_line(value, layout.raw, None)
            ))?;
        }
        (None, true) => out.json(&json!({
            "table": table,
            "key": shown,
            "key_hex": output::hex(&bytes),
            "found": false,
        }))?,
        (None, false) => {}
    }
    out.finish()?;
    if value.is_none() {
        eprintln!("zerotable: no key {shown} in table `{table}`");
        return Ok(Outcome::Problems);
    }
    Ok(Outcome::Done)
}

/// Which entries `dump` shows.
pub struct Selection {
    pub from: Option<String>,
    pub to: Option<String>,
    pub prefix: Option<String>,
    pub limit: Option<u64>,
}

/// Bytes shown of a value in text output before it is cut.
const TEXT_VALUE_BYTES: usize = 48;

/// `zerotable dump DB TABLE`.
pub fn dump(
    db: &str,
    table: &str,
    selection: &Selection,
    format: DumpFormat,
) -> Result<Outcome, Failure> {
    let storage = open::existing(db)?;
    let layout = layout(&storage, db, table)?;
    let (start, end) = match &selection.prefix {
        Some(prefix) => {
            let prefix = parse_key(&layout, prefix, true)?;
            let end = successor(&prefix);
            (Some(prefix), end.map(Bound::Excluded))
        }
        None => {
            let from = selection
                .from
                .as_deref()
                .map(|text| parse_key(&layout, text, false))
                .transpose()?;
            let to = selection
                .to
                .as_deref()
                .map(|text| parse_key(&layout, text, false))
                .transpose()?;
            (from, to.map(Bound::Included))
        }
    };
    let range = KeyRange {
        start: start.as_deref().map_or(Bound::Unbounded, Bound::Included),
        end: match &end {
            Some(Bound::Included(key)) => Bound::Included(key.as_slice()),
            Some(Bound::Excluded(key)) => Bound::Excluded(key.as_slice()),
            _ => Bound::Unbounded,
        },
        reverse: false,
    };
    let reader = begin_read(&storage, db)?;
    let mut out = Out::new();
    if format == DumpFormat::Json {
        out.raw(&format!(
            "{{\n  \"table\": {},\n  \"key_type\": {},\n  \"format\": {},\n  \"entries\": [",
            json!(table),
            json!(layout.key.to_string()),
            json!(layout.format),
        ))?;
    }
    let mut shown: u64 = 0;
    let mut undecodable: u64 = 0;
    let mut stopped: Option<Failure> = None;
    let limit = selection.limit.unwrap_or(u64::MAX);
    if limit > 0 {
        reader
            .range(&layout.stored, &range, &mut |key, value| {
                let written = match format {
                    DumpFormat::Text => {
                        let key = key_text(&layout.key, key).unwrap_or_else(|_| {
                            undecodable += 1;
                            format!("<undecodable 0x{}>", output::hex(key))
                        });
                        out.line(format!(
                            "{key}\t{}\t{}",
                            output::bytes_count(value.len() as u64),
                            output::value_line(value, layout.raw, Some(TEXT_VALUE_BYTES))
                        ))
                    }
                    DumpFormat::Hex => {
                        out.line(format!("{} {}", output::hex(key), output::hex(value)))
                    }
                    DumpFormat::Json => {
                        let entry = entry_json(&layout, key, value);
                        if entry.get("key_error").is_some() {
                            undecodable += 1;
                        }
                        let separator = if shown == 0 { "\n    " } else { ",\n    " };
                        out.raw(&format!("{separator}{entry}"))
                    }
                };
                if let Err(failure) = written {
                    stopped = Some(failure);
                    return Ok(ControlFlow::Break(()));
                }
                shown += 1;
                Ok(if shown >= limit {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })
            .map_err(|error| Failure::library(format!("cannot read table `{table}`"), &error))?;
    }
    if let Some(failure) = stopped {
        return Err(failure);
    }
    if format == DumpFormat::Json {
        let close = if shown == 0 { "]" } else { "\n  ]" };
        out.raw(&format!("{close},\n  \"count\": {shown}\n}}\n"))?;
    }
    out.finish()?;
    if undecodable > 0 {
        let (keys, verb) = if undecodable == 1 {
            ("key", "does")
        } else {
            ("keys", "do")
        };
        eprintln!(
            "zerotable: {undecodable} {keys} of table `{table}` {verb} not decode as {} \
             (`zerotable check` lists every problem)",
            layout.key
        );
        return Ok(Outcome::Problems);
    }
    Ok(Outcome::Done)
}

/// The smallest byte string above every string starting with `prefix`; `None` when there is
/// none (the prefix is all `0xff`, or empty).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&byte| byte != 0xff)?;
    let mut next = prefix[..=last].to_vec();
    next[last] += 1;
    Some(next)
}

/// `zerotable stats DB`.
pub fn stats(db: &str, json: bool) -> Result<Outcome, Failure> {
    let storage = open::existing(db)?;
    let capabilities = storage.capabilities();
    let size = if capabilities.size_on_disk {
        Some(
            storage
                .size_on_disk()
                .map_err(|error| Failure::library(format!("cannot measure {db}"), &error))?,
        )
    } else {
        None
    };
    // Each table by its name, with the engine table holding its rows.
    let mut names: Vec<(String, String)> = user_tables(&storage, db)?
        .into_iter()
        .map(|table| {
            let stored = table.stored().to_owned();
            (table.name, stored)
        })
        .collect();
    names.extend(
        engine_tables(&storage, db)?
            .into_iter()
            .filter(|name| is_internal(name))
            .map(|name| (name.clone(), name)),
    );
    if !capabilities.table_admin {
        let catalog = zerotable::CATALOG_TABLE.to_owned();
        names.push((catalog.clone(), catalog));
    }
    names.sort();
    names.dedup();
    let reader = begin_read(&storage, db)?;
    let mut listed = Vec::new();
    let mut rows = vec![vec![
        "table".to_owned(),
        "entries".to_owned(),
        "bytes".to_owned(),
    ]];
    let (mut entries, mut bytes) = (0u64, 0u64);
    for (name, stored) in &names {
        let stats = figures(&*reader, capabilities.table_admin, stored)?;
        entries += stats.entries;
        bytes += stats.stored_bytes;
        listed.push(json!({
            "name": name,
            "entries": stats.entries,
            "bytes": stats.stored_bytes,
        }));
        rows.push(vec![
            name.clone(),
            stats.entries.to_string(),
            stats.stored_bytes.to_string(),
        ]);
    }
    rows.push(vec![
        "(total)".to_owned(),
        entries.to_string(),
        bytes.to_string(),
    ]);
    let engine = storage.engine().name();
    let mut out = Out::new();
    if json {
        out.json(&json!({
            "engine": engine,
            "size_on_disk": size,
            "tables": listed,
            "entries": entries,
            "bytes": bytes,
        }))?;
    } else {
        out.line(format!("engine        {engine}"))?;
        out.line(format!(
            "size on disk  {}",
            size.map_or_else(
                || "(not measured by this engine)".to_owned(),
                |size| format!("{} ({size} bytes)", output::human_size(size))
            )
        ))?;
        out.line("")?;
        for line in output::columns(&rows) {
            out.line(line)?;
        }
    }
    out.finish()?;
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn a_prefix_ends_below_its_successor() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(successor(&[0xff, 0xff]), None);
        assert_eq!(successor(b""), None);
    }
}
