//! The commands that write: `compact`, and `copy` with its progress bar and verification
//! summary.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use zerotable::{CopyOptions, CopyProgress, CopyReport};

use crate::output::{self, Failure, Out};
use crate::{Outcome, open};

/// `zerotable compact DB`.
pub fn compact(db: &str, json: bool) -> Result<Outcome, Failure> {
    let storage = open::existing(db)?;
    let capabilities = storage.capabilities();
    let engine = storage.engine().name();
    if !capabilities.compact {
        return Err(Failure::new(
            format!("cannot compact {db}"),
            format!("the {engine} engine does not compact"),
        ));
    }
    let measure = || -> Result<Option<u64>, Failure> {
        if !capabilities.size_on_disk {
            return Ok(None);
        }
        storage
            .size_on_disk()
            .map(Some)
            .map_err(|error| Failure::library(format!("cannot measure {db}"), &error))
    };
    let before = measure()?;
    let compacted = storage
        .compact()
        .map_err(|error| Failure::library(format!("cannot compact {db}"), &error))?;
    let after = measure()?;
    let mut out = Out::new();
    if json {
        out.json(&json!({
            "engine": engine,
            "compacted": compacted,
            "size_before": before,
            "size_after": after,
        }))?;
    } else {
        let verdict = if compacted {
            "compacted"
        } else {
            "nothing to compact"
        };
        match (before, after) {
            (Some(before), Some(after)) => out.line(format!(
                "{verdict}: {} before, {} after",
                output::human_size(before),
                output::human_size(after)
            ))?,
            _ => out.line(verdict)?,
        }
    }
    out.finish()?;
    Ok(Outcome::Done)
}

/// `zerotable copy SRC DST`.
pub fn copy(
    src: &str,
    dst: &str,
    replace: bool,
    batch_bytes: Option<usize>,
    json: bool,
) -> Result<Outcome, Failure> {
    let source = open::existing(src)?;
    let destination = open::or_create(dst)?;
    let bar = progress_bar();
    let mut progress = |p: &CopyProgress<'_>| {
        bar.set_length(p.rows_total);
        bar.set_position(p.rows_done);
        bar.set_message(p.table.to_owned());
    };
    let mut options = CopyOptions::default()
        .replace(replace)
        .progress(&mut progress);
    if let Some(bytes) = batch_bytes {
        options = options.batch_bytes(bytes);
    }
    let copied = source.copy_to(&destination, options);
    bar.finish_and_clear();
    let report =
        copied.map_err(|error| Failure::library(format!("cannot copy {src} to {dst}"), &error))?;
    drop(destination);
    summary(src, dst, &report, json)?;
    Ok(Outcome::Done)
}

/// A bar on stderr when it is a terminal; a hidden one otherwise (pipes and logs get only the
/// summary).
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{msg:>16} [{bar:40}] {human_pos}/{human_len} rows, {per_sec}, eta {eta}",
    )
    .map(|style| style.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn rows_per_second(report: &CopyReport) -> u64 {
    let seconds = report.elapsed.as_secs_f64();
    if seconds > 0.0 {
        (report.rows as f64 / seconds).round() as u64
    } else {
        report.rows
    }
}

fn summary(src: &str, dst: &str, report: &CopyReport, json: bool) -> Result<(), Failure> {
    let mut out = Out::new();
    let per_second = rows_per_second(report);
    if json {
        let tables: Vec<_> = report
            .tables
            .iter()
            .map(|table| {
                json!({
                    "name": table.name,
                    "rows": table.rows,
                    "bytes": table.bytes,
                    "checksum": format!("{:016x}", table.checksum),
                })
            })
            .collect();
        out.json(&json!({
            "source": src,
            "destination": dst,
            "verified": true,
            "rows": report.rows,
            "bytes": report.bytes,
            "seconds": report.elapsed.as_secs_f64(),
            "rows_per_second": per_second,
            "tables": tables,
        }))?;
    } else {
        out.line(format!(
            "copied {src} to {dst}: {} tables, {} rows, {} in {:.2} s ({per_second} rows/s)",
            report.tables.len(),
            report.rows,
            output::human_size(report.bytes),
            report.elapsed.as_secs_f64(),
        ))?;
        out.line("verified: every table's rows, bytes and checksum agree on both sides")?;
        out.line("")?;
        let mut rows = vec![
            ["table", "rows", "bytes", "checksum"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for table in &report.tables {
            rows.push(vec![
                table.name.clone(),
                table.rows.to_string(),
                table.bytes.to_string(),
                format!("{:016x}", table.checksum),
            ]);
        }
        for line in output::columns(&rows) {
            out.line(line)?;
        }
    }
    out.finish()
}
