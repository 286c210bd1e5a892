//! The index part of `zerotable check`: what can be verified of a secondary index without its
//! key function (which is code in the application): its record is well-formed and finished,
//! its table exists, every entry's index key decodes by the recorded key type, every entry
//! points to an existing row, and no row is indexed twice. Recomputing the index from the rows
//! needs the key function: `Index::verify` in the application does that.

use std::collections::HashSet;
use std::ops::ControlFlow;

use zerotable::index::all_index_records;
use zerotable::{IndexRecord, KeyRange, ReadOps, TableRecord};

use crate::output;

/// Entries listed one by one per index when they point nowhere or twice; beyond, counted.
const LISTED: u64 = 5;

/// What was checked in one index.
pub struct IndexCheckLine {
    pub table: String,
    pub name: String,
    pub key: String,
    pub unique: bool,
    pub entries: u64,
    pub bad_entries: u64,
}

/// Checks every index the catalog records; each problem found is pushed to `problems`.
pub fn check_indexes(
    reader: &dyn ReadOps,
    tables: &[(String, TableRecord)],
    problems: &mut Vec<String>,
) -> Vec<IndexCheckLine> {
    let records = match all_index_records(reader) {
        Ok(records) => records,
        Err(error) => {
            problems.push(format!(
                "the index catalog cannot be read: {}",
                output::describe(&error)
            ));
            return Vec::new();
        }
    };
    let mut lines = Vec::new();
    for record in records {
        let Some((_, table)) = tables.iter().find(|(name, _)| *name == record.table) else {
            problems.push(format!(
                "index `{}` belongs to table `{}`, which has no catalog record: drop the index",
                record.name, record.table
            ));
            continue;
        };
        if !record.ready {
            problems.push(format!(
                "index `{}` of table `{}` did not finish building: define it again in the \
                 application to build it",
                record.name, record.table
            ));
        }
        lines.push(check_entries(reader, &record, table, problems));
    }
    lines
}

/// Walks the entries of one index.
fn check_entries(
    reader: &dyn ReadOps,
    index: &IndexRecord,
    table: &TableRecord,
    problems: &mut Vec<String>,
) -> IndexCheckLine {
    let mut line = IndexCheckLine {
        table: index.table.clone(),
        name: index.name.clone(),
        key: index.key.to_string(),
        unique: index.unique,
        entries: 0,
        bad_entries: 0,
    };
    let rows = table.stored_table(&index.table).to_owned();
    let mut seen_rows: HashSet<Vec<u8>> = HashSet::new();
    let mut bad_entries = 0u64;
    let mut report = |problem: String| {
        bad_entries += 1;
        if bad_entries <= LISTED {
            problems.push(format!(
                "index `{}` of table `{}`: {problem}",
                index.name, index.table
            ));
        }
    };
    let walked = reader.range(&index.entries_table(), &KeyRange::ALL, &mut |key, value| {
        line.entries += 1;
        let mut rest = key;
        if let Err(error) = index.key.decode_leading_part(&mut rest) {
            report(format!(
                "entry 0x{} does not begin with a {} key: {error}",
                output::hex(key),
                index.key
            ));
            return Ok(ControlFlow::Continue(()));
        }
        let pk = if index.unique { value } else { rest };
        if let Err(error) = table.key.decode(pk) {
            report(format!(
                "entry 0x{} names row 0x{}, not a {} key: {error}",
                output::hex(key),
                output::hex(pk),
                table.key
            ));
        } else if !seen_rows.insert(pk.to_vec()) {
            report(format!("row 0x{} is indexed twice", output::hex(pk)));
        } else if !reader.get(&rows, pk, &mut |_| Ok(()))? {
            report(format!(
                "entry 0x{} points to row 0x{}, which does not exist",
                output::hex(key),
                output::hex(pk)
            ));
        }
        Ok(ControlFlow::Continue(()))
    });
    line.bad_entries = bad_entries;
    if line.bad_entries > LISTED {
        problems.push(format!(
            "index `{}` of table `{}`: {} more bad entries; rebuild it (Index::rebuild)",
            index.name,
            index.table,
            line.bad_entries - LISTED
        ));
    }
    if let Err(error) = walked {
        problems.push(format!(
            "index `{}` of table `{}` cannot be read to its end: {}",
            index.name,
            index.table,
            output::describe(&error)
        ));
    }
    line
}
