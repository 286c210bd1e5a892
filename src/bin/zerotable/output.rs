//! Output: errors in one line, values in hex or text, sizes, and stdout that tolerates a
//! closed pipe (`zerotable dump … | head`).

use std::fmt;
use std::io::{self, Write};

/// A failed command: what was being done and why, printed as `zerotable: <what>: <cause>`.
#[derive(Debug)]
pub struct Failure {
    what: String,
    cause: String,
    code: u8,
}

impl Failure {
    /// A failure at run time (exit code 1).
    pub fn new(what: impl Into<String>, cause: impl fmt::Display) -> Self {
        Failure {
            what: what.into(),
            cause: one_line(&cause.to_string()),
            code: 1,
        }
    }

    /// Bad usage found after parsing the command line (exit code 2), like a key that does not
    /// read as its table's key type.
    pub fn usage(what: impl Into<String>, cause: impl fmt::Display) -> Self {
        Failure {
            code: 2,
            ..Failure::new(what, cause)
        }
    }

    /// A library error met while doing `what`.
    pub fn library(what: impl Into<String>, error: &zerotable::Error) -> Self {
        Failure::new(what, describe(error))
    }

    /// Stdout was closed by the reader (a pipe into `head`): stop quietly.
    fn closed_output() -> Self {
        Failure {
            what: String::new(),
            cause: String::new(),
            code: 0,
        }
    }

    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// Whether there is nothing to say (the output was closed).
    pub fn is_quiet(&self) -> bool {
        self.what.is_empty()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cause.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{}: {}", self.what, self.cause)
        }
    }
}

/// A library error in words for the shell: the engine's message without the advice meant for
/// Rust callers ("drop the Storage…"), which `Display` adds to open and engine errors.
pub fn describe(error: &zerotable::Error) -> String {
    let text = match error {
        zerotable::Error::Open { location, source } => format!("cannot open {location}: {source}"),
        zerotable::Error::Engine {
            table,
            operation,
            source,
        } => match table {
            Some(table) => format!("{operation} failed on table `{table}`: {source}"),
            None => format!("{operation} failed: {source}"),
        },
        other => other.to_string(),
    };
    one_line(&text)
}

/// `text` on one line: line breaks become `; `.
pub fn one_line(text: &str) -> String {
    text.trim()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Buffered stdout whose writes fail with a quiet [`Failure`] once the reader has gone.
pub struct Out {
    inner: io::BufWriter<io::StdoutLock<'static>>,
}

impl Out {
    pub fn new() -> Self {
        Out {
            inner: io::BufWriter::new(io::stdout().lock()),
        }
    }

    /// Writes one line.
    pub fn line(&mut self, text: impl fmt::Display) -> Result<(), Failure> {
        writeln!(self.inner, "{text}").map_err(output_error)
    }

    /// Writes `text` as it is.
    pub fn raw(&mut self, text: &str) -> Result<(), Failure> {
        self.inner.write_all(text.as_bytes()).map_err(output_error)
    }

    /// Writes `value` as pretty JSON, then a line break.
    pub fn json(&mut self, value: &serde_json::Value) -> Result<(), Failure> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|error| Failure::new("cannot write JSON", error))?;
        self.line(text)
    }

    /// Flushes what is buffered.
    pub fn finish(mut self) -> Result<(), Failure> {
        self.inner.flush().map_err(output_error)
    }
}

fn output_error(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Failure::closed_output()
    } else {
        Failure::new("cannot write to stdout", error)
    }
}

/// Lowercase hex, no prefix.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// How a value reads: as text for raw tables when it is UTF-8, else as hex.
pub fn value_text(bytes: &[u8], raw: bool) -> Option<&str> {
    if raw {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// A value for one line of text: quoted text or `0x` hex, cut after `max` bytes (`…` marks the
/// cut; `None`: whole).
pub fn value_line(bytes: &[u8], raw: bool, max: Option<usize>) -> String {
    let cut = max.filter(|&max| bytes.len() > max);
    match value_text(bytes, raw) {
        Some(text) => match cut {
            Some(max) => {
                let mut end = max;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{:?}…", &text[..end])
            }
            None => format!("{text:?}"),
        },
        None => match cut {
            Some(max) => format!("0x{}…", hex(&bytes[..max])),
            None => format!("0x{}", hex(bytes)),
        },
    }
}

/// `1 byte`, `12 bytes`.
pub fn bytes_count(n: u64) -> String {
    if n == 1 {
        "1 byte".to_owned()
    } else {
        format!("{n} bytes")
    }
}

/// `532 B`, `12.5 KiB`, `3.0 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Rows of cells (the first one a header) as aligned columns: columns of numbers to the right,
/// others to the left.
pub fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = |i: usize| {
        rows.iter()
            .filter_map(|row| row.get(i))
            .map(|cell| cell.chars().count())
            .max()
            .unwrap_or(0)
    };
    let numeric = |i: usize| {
        rows.iter()
            .skip(1)
            .filter_map(|row| row.get(i))
            .all(|cell| cell.parse::<u64>().is_ok())
    };
    let layout: Vec<(usize, bool)> = (0..count).map(|i| (width(i), numeric(i))).collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&layout)
                .map(|(cell, &(width, right))| {
                    if right {
                        format!("{cell:>width$}")
                    } else {
                        format!("{cell:<width$}")
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_show_as_text_or_hex() {
        assert_eq!(value_line(b"hi", true, None), "\"hi\"");
        assert_eq!(value_line(b"hi", false, None), "0x6869");
        assert_eq!(value_line(&[0xff, 1], true, None), "0xff01");
        assert_eq!(value_line(b"hello", true, Some(2)), "\"he\"…");
        assert_eq!(value_line("é".as_bytes(), true, Some(1)), "\"\"…");
        assert_eq!(value_line(b"hello", false, Some(2)), "0x6865…");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(one_line("a\n b\n\n"), "a; b");
        let rows = [
            vec!["name".into(), "rows".into()],
            vec!["t".into(), "12".into()],
        ];
        assert_eq!(columns(&rows), ["name  rows", "t       12"]);
    }
}
