//! `zerotable`: look inside, check, compact and copy zerotable databases from the shell.
//!
//! One file per group of commands: `read.rs` (tables, get, dump, stats), `check.rs`,
//! `admin.rs` (compact, copy); `open.rs` turns a command line's DB into a storage, and
//! `output.rs` formats keys, values, sizes and errors.
//!
//! Exit codes: 0 when all is well, 1 when problems were found (`check` found damage, `get`
//! found no such key, the database is missing or unreadable, any error at run time), 2 for bad
//! usage (clap's own errors, and keys that do not read as the table's key type).

mod admin;
mod check;
mod check_index;
mod open;
mod output;
mod read;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::output::Failure;

const DB_HELP: &str = "The database: an engine address (`fjall://data/app`, \
`lmdb://data/app?map_size=8GiB`; a plain path is a redb file) or a configuration file \
(`*.toml`, `*.json`). Read commands never create a database that is not there.";

const KEY_SYNTAX: &str = "Keys are written as text, read by the table's key type: integers \
in decimal (42, -7, 1_000); true or false; a whole String key as the text exactly; Vec<u8> and \
[u8; N] in hex (0x00ff or 00ff); tuples as comma-separated parts (alice,1700000000), where a \
string part containing a comma, a double quote or leading or trailing spaces is double-quoted, \
with \\\" and \\\\ as escapes (\"a,b\",7). `dump` writes keys in this syntax.";

/// Look inside, check, compact and copy zerotable databases.
#[derive(Parser, Debug)]
#[command(name = "zerotable", version, after_help = KEY_SYNTAX)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the tables: name, key type, value format, value type, version, entries, bytes.
    Tables {
        #[arg(help = DB_HELP)]
        db: String,
        /// Write JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the value stored under one key (exit 1 if there is none).
    #[command(after_help = KEY_SYNTAX)]
    Get {
        #[arg(help = DB_HELP)]
        db: String,
        /// The table.
        table: String,
        /// The key, as text read by the table's key type (see below).
        #[arg(allow_hyphen_values = true)]
        key: String,
        /// Write JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List a table's entries in key order: keys decoded, values in hex with their sizes (text
    /// when a raw table's value is UTF-8).
    #[command(after_help = KEY_SYNTAX)]
    Dump {
        #[arg(help = DB_HELP)]
        db: String,
        /// The table.
        table: String,
        /// Start at this key (included).
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        from: Option<String>,
        /// Stop at this key (included).
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        to: Option<String>,
        /// Only keys with these leading tuple parts, or starting with this text (String keys)
        /// or these hex bytes (Vec<u8> keys).
        #[arg(
            long,
            value_name = "PREFIX",
            allow_hyphen_values = true,
            conflicts_with_all = ["from", "to"]
        )]
        prefix: Option<String>,
        /// Show at most this many entries.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Output: text (values shortened), json, or hex (`KEYHEX VALUEHEX` per line, whole).
        #[arg(long, value_enum, default_value_t = DumpFormat::Text)]
        format: DumpFormat,
        /// The same as --format json.
        #[arg(long, conflicts_with = "format")]
        json: bool,
    },
    /// Check the engine's structures, every catalog record and every key; exit 1 and list the
    /// problems if any.
    Check {
        #[arg(help = DB_HELP)]
        db: String,
        /// Write JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the engine, its size on disk and each table's entries and bytes.
    Stats {
        #[arg(help = DB_HELP)]
        db: String,
        /// Write JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Reclaim free space (for the engines that can).
    Compact {
        #[arg(help = DB_HELP)]
        db: String,
        /// Write JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Copy every table, with its catalog record, from SRC into DST (created if missing), then
    /// check both sides agree: rows, bytes and a checksum per table.
    Copy {
        /// The database to copy from (address or configuration file; it must exist).
        src: String,
        /// The database to copy into (address or configuration file; created if missing).
        dst: String,
        /// Empty the destination's copied tables first, instead of refusing tables with rows
        /// (also what finishes an interrupted copy: it copies everything again).
        #[arg(long)]
        replace: bool,
        /// About how many bytes of rows to move per transaction (memory used is about this).
        #[arg(long, value_name = "N", value_parser = parse_byte_count)]
        batch_bytes: Option<usize>,
        /// Write the summary as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// How `dump` writes entries.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum DumpFormat {
    /// One line per entry: the key as text, the value's size, the value (shortened).
    Text,
    /// One JSON document: the table, and each entry's key, size and value.
    Json,
    /// One line per entry: key and value in hex, whole.
    Hex,
}

/// `8388608`, `8MiB`, `512KiB`, `1GiB`, `64kB`.
fn parse_byte_count(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{text:?} is not a byte count (e.g. 8388608, 512KiB, 8MiB)"))?;
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?}: use B, KiB, MiB, GiB, kB, MB or GB"
            ));
        }
    };
    number
        .checked_mul(scale)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("{text:?} is out of range (1 byte and up)"))
}

/// How a command ended when it did not fail.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Everything as asked.
    Done,
    /// The command ran and found problems (or nothing where something was asked for); what
    /// to say was said already.
    Problems,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(failure) => {
            if !failure.is_quiet() {
                eprintln!("zerotable: {failure}");
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run(command: Command) -> Result<Outcome, Failure> {
    match command {
        Command::Tables { db, json } => read::tables(&db, json),
        Command::Get {
            db,
            table,
            key,
            json,
        } => read::get(&db, &table, &key, json),
        Command::Dump {
            db,
            table,
            from,
            to,
            prefix,
            limit,
            format,
            json,
        } => {
            let format = if json { DumpFormat::Json } else { format };
            let selection = read::Selection {
                from,
                to,
                prefix,
                limit,
            };
            read::dump(&db, &table, &selection, format)
        }
        Command::Check { db, json } => check::check(&db, json),
        Command::Stats { db, json } => read::stats(&db, json),
        Command::Compact { db, json } => admin::compact(&db, json),
        Command::Copy {
            src,
            dst,
            replace,
            batch_bytes,
            json,
        } => admin::copy(&src, &dst, replace, batch_bytes, json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn byte_counts_take_units() {
        assert_eq!(parse_byte_count("4096"), Ok(4096));
        assert_eq!(parse_byte_count("8MiB"), Ok(8 << 20));
        assert_eq!(parse_byte_count("64kB"), Ok(64_000));
        assert!(parse_byte_count("0").is_err());
        assert!(parse_byte_count("8 parsecs").is_err());
        assert!(parse_byte_count("MiB").is_err());
    }
}
