//! Engine options written as text — the query of an engine address
//! (`lmdb://data/app?map_size=8GiB&durability=none`) — parsed once, by name, into each engine's
//! typed options. Every option must be used: [`EngineOptions::finish`] refuses the unknown ones,
//! naming them and listing the ones the engine takes.

use std::fmt;

use crate::engine::Durability;
use crate::error::{Error, Result};

/// Named option values for one engine, and where they came from (for errors).
///
/// ```
/// use zerotable::engines::{ByteSize, EngineOptions};
///
/// let mut options = EngineOptions::from_query("lmdb://app", "map_size=8GiB&sync=false")?;
/// assert_eq!(options.take::<ByteSize>("map_size")?, Some(ByteSize(8 << 30)));
/// assert_eq!(options.take::<bool>("sync")?, Some(false));
/// assert_eq!(options.take::<u64>("max_readers")?, None); // not given
/// options.finish()?;
///
/// let mut options = EngineOptions::from_query("lmdb://app", "map_sise=8GiB")?;
/// options.take::<ByteSize>("map_size")?;
/// let err = options.finish().unwrap_err().to_string();
/// assert!(err.contains("unknown option `map_sise`"), "{err}");
/// assert!(err.contains("map_size"), "{err}");
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct EngineOptions {
    origin: String,
    /// Put before an option's name in errors: empty for an address, `engine.options.` for a
    /// configuration file.
    field_prefix: String,
    entries: Vec<Entry>,
    /// The names the engine asked for, for the message about unknown ones.
    known: Vec<&'static str>,
}

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    value: String,
    used: bool,
}

impl EngineOptions {
    /// No options; `origin` names where they would come from (an address, a file).
    pub fn new(origin: impl Into<String>) -> Self {
        EngineOptions {
            origin: origin.into(),
            field_prefix: String::new(),
            entries: Vec::new(),
            known: Vec::new(),
        }
    }

    /// No options yet, from the field `prefix` (such as `engine.options.`) of a configuration
    /// at `origin`: errors name the option with that prefix.
    #[cfg(feature = "config")]
    pub(crate) fn in_field(origin: impl Into<String>, prefix: impl Into<String>) -> Self {
        EngineOptions {
            field_prefix: prefix.into(),
            ..EngineOptions::new(origin)
        }
    }

    /// Parses a URL query: `name=value` pairs separated by `&`, percent-encoded.
    pub fn from_query(origin: impl Into<String>, query: &str) -> Result<Self> {
        let mut options = EngineOptions::new(origin);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                options.invalid(
                    None,
                    format!("option `{pair}` has no value: write `{pair}=…`"),
                )
            })?;
            let name = options.decode(name)?;
            let value = options.decode(value)?;
            options.insert(name, value)?;
        }
        Ok(options)
    }

    /// Adds an option; giving the same one twice is an error.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Result<()> {
        let name = name.into();
        if self.entries.iter().any(|entry| entry.name == name) {
            return Err(self.invalid(Some(&name), "given twice".to_owned()));
        }
        self.entries.push(Entry {
            name,
            value: value.into(),
            used: false,
        });
        Ok(())
    }

    /// The options given, by name, in the order given.
    pub fn settings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|entry| (entry.name.as_str(), entry.value.as_str()))
    }

    /// Whether option `name` was given (without using it).
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|entry| entry.name == name)
    }

    /// Where these options came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The value of option `name` parsed as `T`, or `None` if it was not given. A value that
    /// does not parse is an error naming the option and what it expects.
    pub fn take<T: OptionValue>(&mut self, name: &'static str) -> Result<Option<T>> {
        if !self.known.contains(&name) {
            self.known.push(name);
        }
        let Some(at) = self.entries.iter().position(|entry| entry.name == name) else {
            return Ok(None);
        };
        self.entries[at].used = true;
        let text = &self.entries[at].value;
        match T::parse_option(text) {
            Some(value) => Ok(Some(value)),
            None => Err(self.invalid(
                Some(name),
                format!("expected {}, got {text:?}", T::EXPECTED),
            )),
        }
    }

    /// Ends parsing: an option no [`take`](Self::take) asked for is an error naming it and
    /// listing the options this engine takes.
    pub fn finish(self) -> Result<()> {
        match self.entries.iter().find(|entry| !entry.used) {
            None => Ok(()),
            Some(entry) => {
                let known = if self.known.is_empty() {
                    "this engine takes no options".to_owned()
                } else {
                    format!("this engine takes: {}", self.known.join(", "))
                };
                Err(self.invalid(
                    None,
                    format!(
                        "unknown option `{}{}` ({known})",
                        self.field_prefix, entry.name
                    ),
                ))
            }
        }
    }

    /// An [`Error::InvalidConfig`] about these options.
    pub fn invalid(&self, option: Option<&str>, problem: String) -> Error {
        Error::InvalidConfig {
            origin: self.origin.clone(),
            option: option.map(|name| format!("{}{name}", self.field_prefix)),
            problem,
        }
    }

    fn decode(&self, text: &str) -> Result<String> {
        percent_decode(text).ok_or_else(|| {
            self.invalid(None, format!("{text:?} is not valid percent-encoded UTF-8"))
        })
    }
}

/// Decodes `%XX` escapes (and nothing else); `None` if an escape is malformed or the result is
/// not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = bytes.get(at + 1..at + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A type an option's text parses into.
pub trait OptionValue: Sized {
    /// What a valid value looks like, for the error message (`"true or false"`).
    const EXPECTED: &'static str;

    /// Parses the text, `None` if it is not valid.
    fn parse_option(text: &str) -> Option<Self>;
}

impl OptionValue for bool {
    const EXPECTED: &'static str = "true or false";

    fn parse_option(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        }
    }
}

macro_rules! integer_options {
    ($($t:ty),*) => {$(
        impl OptionValue for $t {
            const EXPECTED: &'static str = concat!("a whole number (", stringify!($t), ")");

            fn parse_option(text: &str) -> Option<Self> {
                text.replace('_', "").parse().ok()
            }
        }
    )*};
}
integer_options!(u32, u64, usize, i32);

impl OptionValue for String {
    const EXPECTED: &'static str = "text";

    fn parse_option(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

impl OptionValue for Durability {
    const EXPECTED: &'static str = "`immediate` (fsync every commit) or `none`";

    fn parse_option(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "immediate" => Some(Durability::Immediate),
            "none" => Some(Durability::None),
            _ => None,
        }
    }
}

/// A size in bytes, written as a number with an optional unit: `4096`, `64KiB`, `512MiB`,
/// `8GiB`, `1TiB` (powers of 1024) or `10MB`, `2GB` (powers of 1000).
///
/// ```
/// use zerotable::engines::{ByteSize, OptionValue};
/// assert_eq!(ByteSize::parse_option("8GiB"), Some(ByteSize(8 << 30)));
/// assert_eq!(ByteSize::parse_option("10 MB"), Some(ByteSize(10_000_000)));
/// assert_eq!(ByteSize::parse_option("4096"), Some(ByteSize(4096)));
/// assert_eq!(ByteSize::parse_option("8XB"), None);
/// assert_eq!(ByteSize(3 << 20).to_string(), "3MiB");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

const UNITS: &[(&str, u64)] = &[
    ("tib", 1 << 40),
    ("gib", 1 << 30),
    ("mib", 1 << 20),
    ("kib", 1 << 10),
    ("tb", 1_000_000_000_000),
    ("gb", 1_000_000_000),
    ("mb", 1_000_000),
    ("kb", 1_000),
    ("b", 1),
];

impl OptionValue for ByteSize {
    const EXPECTED: &'static str = "a size such as 4096, 64KiB, 512MiB or 8GiB";

    fn parse_option(text: &str) -> Option<Self> {
        let lower = text.trim().to_ascii_lowercase();
        let (number, scale) = UNITS
            .iter()
            .find_map(|(unit, scale)| Some((lower.strip_suffix(unit)?, *scale)))
            .unwrap_or((lower.as_str(), 1));
        let number: u64 = number.trim().replace('_', "").parse().ok()?;
        number.checked_mul(scale).map(ByteSize)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, scale) in [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ] {
            if self.0 >= scale && self.0.is_multiple_of(scale) {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}", self.0)
    }
}
