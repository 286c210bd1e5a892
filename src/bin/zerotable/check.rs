//! `zerotable check DB`: the engine's own integrity check (where it has one), every catalog
//! record well-formed, every key of every typed table decoding by its table's key type, every
//! secondary index sound as far as its records can tell (`check_index.rs`), and no unfinished
//! copy. Goes on past each problem to list them all.

use std::ops::ControlFlow;

use serde_json::json;
use zerotable::{CATALOG_TABLE, Integrity, KeyRange, ReadOps, TableRecord};

use crate::check_index::check_indexes;
use crate::output::{self, Failure, Out};
use crate::read::{begin_read, engine_tables, is_internal};
use crate::{Outcome, open};

/// Undecodable keys listed one by one per table; beyond, they are counted.
const KEYS_LISTED: u64 = 5;

/// The copy marker's table (see `zerotable::copy`).
const COPY_MARKER_TABLE: &str = "zerotable.copy";

/// What was checked in one table.
struct TableCheck {
    name: String,
    key: String,
    entries: u64,
    bad_keys: u64,
}

pub fn check(db: &str, json: bool) -> Result<Outcome, Failure> {
    let storage = open::existing(db)?;
    let mut problems: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    // The engine's own check first: it needs every transaction ended.
    let integrity = if storage.capabilities().check_integrity {
        match storage.check_integrity() {
            Ok(Integrity::Intact) => "intact",
            Ok(Integrity::Repaired) => {
                problems.push("the engine found damage in its structures and repaired it".into());
                "repaired"
            }
            Ok(_) => "unknown",
            Err(error) => {
                problems.push(format!(
                    "the engine's integrity check failed: {}",
                    output::describe(&error)
                ));
                "failed"
            }
        }
    } else {
        "not checked (the engine has no integrity check)"
    };

    let reader = begin_read(&storage, db)?;
    let records = catalog_records(&*reader, &mut problems);

    match reader.len(COPY_MARKER_TABLE) {
        Ok(0) => {}
        Ok(_) => problems.push(
            "a copy into this database did not finish: run `zerotable copy` again with \
             --replace"
                .into(),
        ),
        Err(error) => problems.push(format!(
            "cannot read the copy marker: {}",
            output::describe(&error)
        )),
    }

    match engine_tables(&storage, db) {
        Ok(names) => {
            for name in names {
                let recorded = records.iter().any(|(recorded, _)| *recorded == name);
                if !is_internal(&name) && !recorded {
                    notes.push(format!(
                        "table `{name}` has no catalog record (written outside the typed API?): \
                         its keys were not checked"
                    ));
                }
            }
        }
        Err(failure) => problems.push(failure.to_string()),
    }

    let mut tables = Vec::new();
    for (name, record) in &records {
        tables.push(check_keys(&*reader, name, record, &mut problems));
    }
    let indexes = check_indexes(&*reader, &records, &mut problems);
    drop(reader);

    let engine = storage.engine().name();
    let mut out = Out::new();
    if json {
        let tables: Vec<_> = tables
            .iter()
            .map(|table| {
                json!({
                    "name": table.name,
                    "key": table.key,
                    "entries": table.entries,
                    "bad_keys": table.bad_keys,
                })
            })
            .collect();
        let indexes: Vec<_> = indexes
            .iter()
            .map(|index| {
                json!({
                    "table": index.table,
                    "name": index.name,
                    "key": index.key,
                    "unique": index.unique,
                    "entries": index.entries,
                    "bad_entries": index.bad_entries,
                })
            })
            .collect();
        out.json(&json!({
            "ok": problems.is_empty(),
            "engine": engine,
            "integrity": integrity,
            "catalog_records": records.len(),
            "tables": tables,
            "indexes": indexes,
            "notes": notes,
            "problems": problems,
        }))?;
    } else {
        out.line(format!("engine     {engine}, integrity {integrity}"))?;
        out.line(format!("catalog    {} well-formed records", records.len()))?;
        for table in &tables {
            let verdict = match table.bad_keys {
                0 => "all decode".to_owned(),
                bad => format!("{bad} do not decode"),
            };
            out.line(format!(
                "table      {}: {} keys of {}, {verdict}",
                table.name, table.entries, table.key
            ))?;
        }
        for index in &indexes {
            let verdict = match index.bad_entries {
                0 => "all point to their rows".to_owned(),
                bad => format!("{bad} bad"),
            };
            out.line(format!(
                "index      {}.{}: {} entries by {}{}, {verdict}",
                index.table,
                index.name,
                index.entries,
                index.key,
                if index.unique { " (unique)" } else { "" }
            ))?;
        }
        for note in &notes {
            out.line(format!("note       {note}"))?;
        }
        if problems.is_empty() {
            out.line("ok         no problems found")?;
        } else {
            out.line(format!("{} problems:", problems.len()))?;
            for problem in &problems {
                out.line(format!("  - {problem}"))?;
            }
        }
    }
    out.finish()?;
    if problems.is_empty() {
        Ok(Outcome::Done)
    } else {
        eprintln!(
            "zerotable: check found {} problem{} in {db}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        Ok(Outcome::Problems)
    }
}

/// The catalog's well-formed records; each malformed one is a problem.
fn catalog_records(reader: &dyn ReadOps, problems: &mut Vec<String>) -> Vec<(String, TableRecord)> {
    let mut records = Vec::new();
    let walked = reader.range(CATALOG_TABLE, &KeyRange::ALL, &mut |name, bytes| {
        let shown = String::from_utf8_lossy(name).into_owned();
        match std::str::from_utf8(name).map(zerotable::validate_table_name) {
            Ok(Ok(())) => {}
            _ => problems.push(format!(
                "the catalog has a record under {shown:?}, which is not a table name"
            )),
        }
        match TableRecord::decode(bytes) {
            Ok((record, _legacy)) => records.push((shown, record)),
            Err(reason) => problems.push(format!(
                "the catalog record of table `{shown}` is malformed: {reason}"
            )),
        }
        Ok(ControlFlow::Continue(()))
    });
    if let Err(error) = walked {
        problems.push(format!(
            "cannot read the catalog to its end: {}",
            output::describe(&error)
        ));
    }
    records
}

/// Decodes every key of `table` by its record's key type.
fn check_keys(
    reader: &dyn ReadOps,
    table: &str,
    record: &TableRecord,
    problems: &mut Vec<String>,
) -> TableCheck {
    let mut check = TableCheck {
        name: table.to_owned(),
        key: record.key.to_string(),
        entries: 0,
        bad_keys: 0,
    };
    let walked = reader.range(
        record.stored_table(table),
        &KeyRange::ALL,
        &mut |key, _value| {
            check.entries += 1;
            if let Err(error) = record.key.decode(key) {
                check.bad_keys += 1;
                if check.bad_keys <= KEYS_LISTED {
                    problems.push(format!(
                        "table `{table}`: key 0x{} does not decode as {}: {error}",
                        output::hex(key),
                        record.key
                    ));
                }
            }
            Ok(ControlFlow::Continue(()))
        },
    );
    if check.bad_keys > KEYS_LISTED {
        problems.push(format!(
            "table `{table}`: {} more keys do not decode as {}",
            check.bad_keys - KEYS_LISTED,
            record.key
        ));
    }
    if let Err(error) = walked {
        problems.push(format!(
            "table `{table}` cannot be read to its end (after {} keys): {}",
            check.entries,
            output::describe(&error)
        ));
    }
    check
}
