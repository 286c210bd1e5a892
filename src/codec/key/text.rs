//! Keys written as text: [`KeyType::parse_text`] turns what a person types (`42`,
//! `alice,1700000000`) into the exact bytes the typed encoder writes for that key, and
//! [`KeyValue::to_text`] writes a decoded key back in the same syntax.
//!
//! The syntax is documented on [`KeyType::parse_text`] (public), prefixes on
//! [`KeyType::parse_prefix_text`].
//!
//! # One encoder
//!
//! Text is parsed into Rust values and encoded by their [`IntoKeyBytes`] impls —
//! [`key_bytes`](IntoKeyBytes::key_bytes) for a whole key,
//! [`write_key_part`](IntoKeyBytes::write_key_part) for each part of a tuple — so a key typed
//! as text and the same key written by a program are the same bytes.

use std::fmt;

use super::{IntoKeyBytes, KeyArena, KeyType, KeyValue};

/// Why text could not be read as a key ([`KeyType::parse_text`]).
///
/// `Display` names the key type, the part at fault and what was expected:
///
/// ```
/// use zerotable::KeyType;
///
/// let key_type: KeyType = "(String, u16)".parse()?;
/// let err = key_type.parse_text("alice,70000").unwrap_err();
/// assert_eq!(err.part(), Some(2));
/// assert_eq!(
///     err.to_string(),
///     "part 2 of the (String, u16) key: expected a u16, found \"70000\": out of range (0 to 65535)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTextError(Box<Details>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Details {
    key_type: KeyType,
    part: Option<usize>,
    expected: String,
    found: String,
    problem: KeyTextProblem,
}

impl KeyTextError {
    /// The type of the whole key.
    pub fn key_type(&self) -> &KeyType {
        &self.0.key_type
    }

    /// The part at fault, counted from 1, when the key is a tuple and one part is at fault.
    pub fn part(&self) -> Option<usize> {
        self.0.part
    }

    /// What that part (or the key) should be, e.g. `"a u16"` or `"2 comma-separated parts"`.
    pub fn expected(&self) -> &str {
        &self.0.expected
    }

    /// The text at fault.
    pub fn found(&self) -> &str {
        &self.0.found
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &KeyTextProblem {
        &self.0.problem
    }
}

/// The specific defect of a [`KeyTextError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyTextProblem {
    /// Not a decimal integer.
    NotAnInteger,
    /// An integer beyond the type's range (its bounds, as text).
    OutOfRange {
        /// The smallest value of the type.
        min: String,
        /// The largest value of the type.
        max: String,
    },
    /// Neither `true` nor `false`.
    NotABool,
    /// Not hex digits (an odd number of them, or another character).
    NotHex,
    /// Hex of the wrong number of bytes for a `[u8; N]`.
    WrongLength {
        /// Bytes the type has.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// A tuple key with the wrong number of parts.
    PartCount {
        /// Parts the key type has (for a prefix: the most it may have).
        expected: usize,
        /// Parts given.
        found: usize,
    },
    /// A double quote that is never closed.
    UnclosedQuote,
    /// A backslash escape inside quotes that is not one of `\" \\ \n \r \t \0 \u{…}`.
    BadEscape(String),
    /// Text between a closing quote and the next comma.
    TextAfterQuote,
    /// A double quote inside a part that does not start with one.
    StrayQuote,
    /// The key type has no prefix form (a prefix needs a tuple, `String` or `Vec<u8>` key).
    NoPrefix,
}

impl fmt::Display for KeyTextProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnInteger => f.write_str("not a decimal integer"),
            Self::OutOfRange { min, max } => write!(f, "out of range ({min} to {max})"),
            Self::NotABool => f.write_str("write true or false"),
            Self::NotHex => f.write_str("not hex (two digits 0-9, a-f per byte, optional 0x)"),
            Self::WrongLength { expected, found } => {
                write!(f, "{found} bytes, the type has {expected}")
            }
            Self::PartCount { expected, found } => write!(
                f,
                "that is {found} part{} where {expected} {} expected: separate parts with \
                 commas, and double-quote a string part that contains a comma",
                if *found == 1 { "" } else { "s" },
                if *expected == 1 { "was" } else { "were" },
            ),
            Self::UnclosedQuote => f.write_str("the double quote is never closed"),
            Self::BadEscape(escape) => write!(
                f,
                "unknown escape {escape} (inside quotes use \\\" \\\\ \\n \\r \\t \\0 \\u{{…}})"
            ),
            Self::TextAfterQuote => {
                f.write_str("text after the closing quote (a comma should follow it)")
            }
            Self::StrayQuote => f.write_str(
                "a double quote inside an unquoted part (quote the whole part, writing \\\" for the \
                 quote)",
            ),
            Self::NoPrefix => {
                f.write_str("only tuple, String and Vec<u8> keys have prefixes")
            }
        }
    }
}

impl fmt::Display for KeyTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let details = &*self.0;
        match details.part {
            Some(part) => write!(f, "part {part} of the {} key", details.key_type)?,
            None => write!(f, "the {} key", details.key_type)?,
        }
        write!(
            f,
            ": expected {}, found {:?}: {}",
            details.expected, details.found, details.problem
        )
    }
}

impl std::error::Error for KeyTextError {}

impl KeyType {
    /// Reads a whole key of this type from text and returns the bytes the typed encoder writes
    /// for it.
    ///
    /// # Syntax
    ///
    /// | key part | text |
    /// | --- | --- |
    /// | `u8`..`u128`, `i8`..`i128` | decimal, optional sign, `_` between digits: `42`, `-7`, `1_000` |
    /// | `bool` | `true` or `false` |
    /// | `String`, as the whole key | the text exactly as it is, spaces and commas included |
    /// | `String`, as a tuple part | the text, trimmed; double-quoted when it contains a comma or a quote or starts or ends with a space: `"a,b"` |
    /// | `Vec<u8>`, `[u8; N]` | hex, with or without `0x`: `0x00ff`, `00ff` (exactly `N` bytes for `[u8; N]`) |
    /// | a tuple | its parts separated by commas: `alice,1700000000`, `"a,b",7` |
    ///
    /// Inside double quotes, `\"` is a quote and `\\` a backslash; `\n`, `\r`, `\t`, `\0`
    /// and `\u{…}` are accepted too (that is how [`KeyValue::to_text`] writes control
    /// characters). Any part may be quoted (`"7"` reads as `7`). Spaces around parts are
    /// ignored. A tuple nested in a tuple is written flat, its parts in order: `(u8, (u8, u8))`
    /// reads `1,2,3`.
    ///
    /// # Prefixes
    ///
    /// [`parse_prefix_text`](Self::parse_prefix_text) reads the leading parts of a tuple key
    /// (`alice` for a `(String, u64)` key: every key whose first part is `"alice"`), as
    /// [`KeyPrefix`](crate::KeyPrefix) does in code, or the first bytes of a `String` or
    /// `Vec<u8>` key (`ali`: every key starting with those bytes), as
    /// [`Table::starts_with`](crate::Table::starts_with) does. The keys starting with a
    /// prefix's bytes are exactly the keys the prefix names.
    ///
    /// # Example
    ///
    /// ```
    /// use zerotable::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyType};
    ///
    /// let key_type = <(String, i64)>::key_type();
    /// let bytes = key_type.parse_text(r#""a,b",-7"#)?;
    /// let mut arena = KeyArena::new();
    /// assert_eq!(bytes, ("a,b", -7i64).key_bytes(&mut arena));
    /// assert_eq!(key_type.decode(&bytes)?.to_text(), r#""a,b",-7"#);
    ///
    /// assert_eq!(KeyType::U64.parse_text("1_000")?, 1000u64.to_be_bytes());
    /// assert_eq!(KeyType::String.parse_text(" a, b")?, b" a, b"); // a whole String: as it is
    /// assert_eq!(KeyType::Bytes.parse_text("0x00ff")?, [0x00, 0xff]);
    /// assert!(KeyType::U8.parse_text("256").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`KeyTextError`] naming the part at fault and what it should be.
    pub fn parse_text(&self, text: &str) -> Result<Vec<u8>, KeyTextError> {
        let mut arena = KeyArena::new();
        match self {
            KeyType::Tuple(_) => {
                let leaves = self.leaves();
                let parts = self.split(text)?;
                if parts.len() != leaves.len() {
                    return Err(self.count_error(text, leaves.len(), parts.len(), false));
                }
                self.write_parts(&leaves, &parts, &mut arena)?;
                Ok(arena.as_slice().to_vec())
            }
            // A whole string is its own text: no quoting, no trimming.
            KeyType::String => Ok(text.key_bytes(&mut arena).to_vec()),
            _ => {
                let value = Leaf::parse(self, text.trim())
                    .map_err(|problem| self.error(None, self, text, problem))?;
                Ok(value.key_bytes(&mut arena).to_vec())
            }
        }
    }

    /// Reads a prefix of keys of this type from text: the leading parts of a tuple key (one
    /// part up to all of them), or the first bytes of a `String` (as text) or `Vec<u8>` (as hex)
    /// key. Every key of this type that starts with the returned bytes is a key the prefix
    /// names, and no other.
    ///
    /// ```
    /// use zerotable::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyPrefix, KeyType};
    ///
    /// let key_type = <(String, u64, bool)>::key_type();
    /// let mut arena = KeyArena::new();
    /// KeyPrefix::<(String, u64, bool)>::write_prefix(&("alice", 7u64), &mut arena);
    /// assert_eq!(key_type.parse_prefix_text("alice,7")?, arena.as_slice());
    /// assert_eq!(KeyType::String.parse_prefix_text("ali")?, b"ali");
    /// assert!(KeyType::U64.parse_prefix_text("1").is_err()); // integers have no prefix
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`KeyTextError`]: a part that does not read, more parts than the key has, or a key type
    /// without prefixes (integers, `bool`, `[u8; N]`:
    /// [`NoPrefix`](KeyTextProblem::NoPrefix)).
    pub fn parse_prefix_text(&self, text: &str) -> Result<Vec<u8>, KeyTextError> {
        match self {
            KeyType::Tuple(_) => {
                let leaves = self.leaves();
                let parts = self.split(text)?;
                if parts.len() > leaves.len() {
                    return Err(self.count_error(text, leaves.len(), parts.len(), true));
                }
                let mut arena = KeyArena::new();
                self.write_parts(&leaves[..parts.len()], &parts, &mut arena)?;
                Ok(arena.as_slice().to_vec())
            }
            KeyType::String | KeyType::Bytes => self.parse_text(text),
            _ => Err(self.error(None, self, text, KeyTextProblem::NoPrefix)),
        }
    }

    /// The non-tuple types of the key in order, nested tuples flattened.
    fn leaves(&self) -> Vec<&KeyType> {
        fn walk<'a>(key_type: &'a KeyType, out: &mut Vec<&'a KeyType>) {
            match key_type {
                KeyType::Tuple(parts) => parts.iter().for_each(|part| walk(part, out)),
                leaf => out.push(leaf),
            }
        }
        let mut leaves = Vec::new();
        walk(self, &mut leaves);
        leaves
    }

    /// Encodes each part as a tuple element, after the ones before it.
    fn write_parts(
        &self,
        leaves: &[&KeyType],
        parts: &[Part],
        arena: &mut KeyArena,
    ) -> Result<(), KeyTextError> {
        for (index, (leaf, part)) in leaves.iter().zip(parts).enumerate() {
            let value = match (leaf, part) {
                (KeyType::String, Part::Bare(text) | Part::Quoted(text)) => {
                    Leaf::String(text.clone())
                }
                (_, Part::Bare(text) | Part::Quoted(text)) => Leaf::parse(leaf, text.trim())
                    .map_err(|problem| self.error(Some(index + 1), leaf, text, problem))?,
            };
            value.write_key_part(arena);
        }
        Ok(())
    }

    /// Splits tuple text into its parts, undoing quotes.
    fn split(&self, text: &str) -> Result<Vec<Part>, KeyTextError> {
        let leaves = self.leaves();
        let mut parts = Vec::new();
        let mut rest = text;
        loop {
            let index = parts.len();
            let fail = |found: &str, problem| {
                let leaf = leaves.get(index).copied().unwrap_or(self);
                self.error(Some(index + 1), leaf, found, problem)
            };
            let trimmed = rest.trim_start();
            let (part, after) = if let Some(quoted) = trimmed.strip_prefix('"') {
                let (value, after) = unquote(quoted).map_err(|problem| fail(trimmed, problem))?;
                let after = after.trim_start();
                if !(after.is_empty() || after.starts_with(',')) {
                    return Err(fail(trimmed, KeyTextProblem::TextAfterQuote));
                }
                (Part::Quoted(value), after)
            } else {
                let end = trimmed.find(',').unwrap_or(trimmed.len());
                let bare = trimmed[..end].trim_end();
                if bare.contains('"') {
                    return Err(fail(bare, KeyTextProblem::StrayQuote));
                }
                (Part::Bare(bare.to_owned()), &trimmed[end..])
            };
            parts.push(part);
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None => return Ok(parts),
            }
        }
    }

    fn count_error(&self, text: &str, expected: usize, found: usize, prefix: bool) -> KeyTextError {
        KeyTextError(Box::new(Details {
            key_type: self.clone(),
            part: None,
            expected: if prefix {
                format!("1 to {expected} comma-separated parts")
            } else {
                format!("{expected} comma-separated parts")
            },
            found: text.to_owned(),
            problem: KeyTextProblem::PartCount { expected, found },
        }))
    }

    fn error(
        &self,
        part: Option<usize>,
        leaf: &KeyType,
        found: &str,
        problem: KeyTextProblem,
    ) -> KeyTextError {
        let expected = match (&problem, leaf) {
            (KeyTextProblem::NoPrefix, _) => "a tuple, String or Vec<u8> key".to_owned(),
            (_, KeyType::Bytes) => "hex bytes".to_owned(),
            (_, KeyType::FixedBytes(n)) => format!("{n} hex bytes"),
            (_, KeyType::String) => "text".to_owned(),
            (_, leaf) => format!("a {leaf}"),
        };
        KeyTextError(Box::new(Details {
            key_type: self.clone(),
            part,
            expected,
            found: found.to_owned(),
            problem,
        }))
    }
}

/// One part of tuple text.
enum Part {
    /// Written without quotes (trimmed).
    Bare(String),
    /// Written in double quotes (escapes undone).
    Quoted(String),
}

/// Reads a quoted string whose opening quote is already consumed; returns it and the text
/// after the closing quote.
fn unquote(text: &str) -> Result<(String, &str), KeyTextProblem> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => {
                let Some((_, escape)) = chars.next() else {
                    return Err(KeyTextProblem::UnclosedQuote);
                };
                value.push(match escape {
                    '"' => '"',
                    '\\' => '\\',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    '0' => '\0',
                    'u' => {
                        let rest = &text[i + 2..];
                        let code = rest
                            .strip_prefix('{')
                            .and_then(|r| r.split_once('}'))
                            .and_then(|(hex, _)| u32::from_str_radix(hex, 16).ok())
                            .and_then(char::from_u32);
                        let Some(code) = code else {
                            let shown: String = rest.chars().take(8).collect();
                            return Err(KeyTextProblem::BadEscape(format!("\\u{shown}")));
                        };
                        // Skip past the closing brace.
                        for (_, c) in chars.by_ref() {
                            if c == '}' {
                                break;
                            }
                        }
                        code
                    }
                    other => return Err(KeyTextProblem::BadEscape(format!("\\{other}"))),
                });
            }
            c => value.push(c),
        }
    }
    Err(KeyTextProblem::UnclosedQuote)
}

/// A non-tuple key value, typed, so the library's own encoders write it.
enum Leaf {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    Bool(bool),
    String(String),
    Bytes(Vec<u8>),
    /// `[u8; N]` with `N` known only at run time: written as the array encoder writes it (the
    /// bytes as they are, whole or as a part).
    Fixed(Vec<u8>),
}

impl Leaf {
    /// Reads `text` (already trimmed, quotes undone) as a value of the non-tuple `key_type`.
    fn parse(key_type: &KeyType, text: &str) -> Result<Leaf, KeyTextProblem> {
        fn unsigned<T: TryFrom<u128> + fmt::Display>(
            text: &str,
            min: T,
            max: T,
        ) -> Result<T, KeyTextProblem> {
            let digits = digits(text)?;
            if let Some(magnitude) = digits.strip_prefix('-') {
                // `-0` is zero; any other negative number is out of range.
                return match magnitude.parse::<u128>() {
                    Ok(0) => T::try_from(0).map_err(|_| range(min, max)),
                    Ok(_) => Err(range(min, max)),
                    Err(e) => Err(integer_problem(&e, &min, &max)),
                };
            }
            let value = digits
                .parse::<u128>()
                .map_err(|e| integer_problem(&e, &min, &max))?;
            T::try_from(value).map_err(|_| range(min, max))
        }
        fn signed<T: TryFrom<i128> + fmt::Display>(
            text: &str,
            min: T,
            max: T,
        ) -> Result<T, KeyTextProblem> {
            let digits = digits(text)?;
            let value = digits
                .parse::<i128>()
                .map_err(|e| integer_problem(&e, &min, &max))?;
            T::try_from(value).map_err(|_| range(min, max))
        }
        Ok(match key_type {
            KeyType::U8 => Leaf::U8(unsigned(text, u8::MIN, u8::MAX)?),
            KeyType::U16 => Leaf::U16(unsigned(text, u16::MIN, u16::MAX)?),
            KeyType::U32 => Leaf::U32(unsigned(text, u32::MIN, u32::MAX)?),
            KeyType::U64 => Leaf::U64(unsigned(text, u64::MIN, u64::MAX)?),
            KeyType::U128 => Leaf::U128(unsigned(text, u128::MIN, u128::MAX)?),
            KeyType::I8 => Leaf::I8(signed(text, i8::MIN, i8::MAX)?),
            KeyType::I16 => Leaf::I16(signed(text, i16::MIN, i16::MAX)?),
            KeyType::I32 => Leaf::I32(signed(text, i32::MIN, i32::MAX)?),
            KeyType::I64 => Leaf::I64(signed(text, i64::MIN, i64::MAX)?),
            KeyType::I128 => Leaf::I128(signed(text, i128::MIN, i128::MAX)?),
            KeyType::Bool => match text {
                "true" => Leaf::Bool(true),
                "false" => Leaf::Bool(false),
                _ => return Err(KeyTextProblem::NotABool),
            },
            KeyType::String => Leaf::String(text.to_owned()),
            KeyType::Bytes => Leaf::Bytes(hex(text)?),
            KeyType::FixedBytes(n) => {
                let bytes = hex(text)?;
                if bytes.len() != *n {
                    return Err(KeyTextProblem::WrongLength {
                        expected: *n,
                        found: bytes.len(),
                    });
                }
                Leaf::Fixed(bytes)
            }
            // Tuples are split into leaves before this is called.
            KeyType::Tuple(_) => return Err(KeyTextProblem::NotAnInteger),
        })
    }

    /// The value as a tuple element.
    fn write_key_part(&self, out: &mut KeyArena) {
        match self {
            Leaf::U8(v) => v.write_key_part(out),
            Leaf::U16(v) => v.write_key_part(out),
            Leaf::U32(v) => v.write_key_part(out),
            Leaf::U64(v) => v.write_key_part(out),
            Leaf::U128(v) => v.write_key_part(out),
            Leaf::I8(v) => v.write_key_part(out),
            Leaf::I16(v) => v.write_key_part(out),
            Leaf::I32(v) => v.write_key_part(out),
            Leaf::I64(v) => v.write_key_part(out),
            Leaf::I128(v) => v.write_key_part(out),
            Leaf::Bool(v) => v.write_key_part(out),
            Leaf::String(v) => v.write_key_part(out),
            Leaf::Bytes(v) => v.write_key_part(out),
            Leaf::Fixed(v) => out.extend_from_slice(v),
        }
    }

    /// The value as a whole key.
    fn key_bytes<'a>(&'a self, arena: &'a mut KeyArena) -> &'a [u8] {
        match self {
            Leaf::U8(v) => v.key_bytes(arena),
            Leaf::U16(v) => v.key_bytes(arena),
            Leaf::U32(v) => v.key_bytes(arena),
            Leaf::U64(v) => v.key_bytes(arena),
            Leaf::U128(v) => v.key_bytes(arena),
            Leaf::I8(v) => v.key_bytes(arena),
            Leaf::I16(v) => v.key_bytes(arena),
            Leaf::I32(v) => v.key_bytes(arena),
            Leaf::I64(v) => v.key_bytes(arena),
            Leaf::I128(v) => v.key_bytes(arena),
            Leaf::Bool(v) => v.key_bytes(arena),
            Leaf::String(v) => v.key_bytes(arena),
            Leaf::Bytes(v) => v.key_bytes(arena),
            Leaf::Fixed(v) => v,
        }
    }
}

/// The digits of a decimal integer with its `_` separators removed (only between digits).
fn digits(text: &str) -> Result<String, KeyTextProblem> {
    let body = text.trim_start_matches(['+', '-']);
    let separators_ok = !body.starts_with('_') && !body.ends_with('_') && !body.contains("__");
    if body.is_empty() || !separators_ok || text.len() - body.len() > 1 {
        return Err(KeyTextProblem::NotAnInteger);
    }
    Ok(text.replace('_', ""))
}

fn range<T: fmt::Display>(min: T, max: T) -> KeyTextProblem {
    KeyTextProblem::OutOfRange {
        min: min.to_string(),
        max: max.to_string(),
    }
}

fn integer_problem<T: fmt::Display>(
    error: &std::num::ParseIntError,
    min: &T,
    max: &T,
) -> KeyTextProblem {
    use std::num::IntErrorKind;
    match error.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => range(min, max),
        _ => KeyTextProblem::NotAnInteger,
    }
}

/// Hex digits, optionally after `0x`, two per byte.
fn hex(text: &str) -> Result<Vec<u8>, KeyTextProblem> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if !digits.len().is_multiple_of(2) {
        return Err(KeyTextProblem::NotHex);
    }
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(KeyTextProblem::NotHex)
        })
        .collect()
}

impl KeyValue {
    /// The key in the text syntax of [`KeyType::parse_text`]:
    /// reading it back with the key's type gives the same bytes.
    ///
    /// ```
    /// use zerotable::{FromKeyBytes, IntoKeyBytes, KeyArena};
    ///
    /// let mut arena = KeyArena::new();
    /// let key = ("say \"hi\", then go".to_string(), 7u32);
    /// let bytes = key.key_bytes(&mut arena).to_vec();
    /// let key_type = <(String, u32)>::key_type();
    /// let text = key_type.decode(&bytes)?.to_text();
    /// assert_eq!(text, r#""say \"hi\", then go",7"#);
    /// assert_eq!(key_type.parse_text(&text)?, bytes);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_text(&self) -> String {
        match self {
            // A whole string key is its own text.
            KeyValue::String(text) => text.clone(),
            KeyValue::Tuple(_) => {
                let mut parts = Vec::new();
                self.push_parts(&mut parts);
                parts.join(",")
            }
            leaf => leaf.to_string(),
        }
    }

    /// The text of each non-tuple part, nested tuples flattened.
    fn push_parts(&self, parts: &mut Vec<String>) {
        match self {
            KeyValue::Tuple(inner) => inner.iter().for_each(|part| part.push_parts(parts)),
            KeyValue::String(text) => parts.push(quote_if_needed(text)),
            leaf => parts.push(leaf.to_string()),
        }
    }
}

/// A string part as tuple text: bare when it reads back as itself, else quoted with escapes.
fn quote_if_needed(text: &str) -> String {
    let bare = !text.is_empty()
        && text.trim() == text
        && !text.contains([',', '"'])
        && !text.chars().any(char::is_control);
    if bare {
        return text.to_owned();
    }
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\0' => quoted.push_str("\\0"),
            c if c.is_control() => quoted.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::key::{FromKeyBytes, KeyPrefix};

    /// `text` reads as exactly the bytes the typed encoder writes for `key`, and the decoded key
    /// writes back as text that reads as the same bytes.
    fn agrees<K: IntoKeyBytes + FromKeyBytes>(key: K, text: &str) {
        let mut arena = KeyArena::new();
        let typed = key.key_bytes(&mut arena).to_vec();
        let key_type = K::key_type();
        let parsed = key_type
            .parse_text(text)
            .unwrap_or_else(|e| panic!("{text:?} as {key_type}: {e}"));
        assert_eq!(parsed, typed, "{text:?} as {key_type}");
        let written = key_type.decode(&typed).unwrap().to_text();
        assert_eq!(
            key_type.parse_text(&written).unwrap(),
            typed,
            "{written:?} as {key_type}"
        );
        assert_eq!(
            K::from_key_bytes(&parsed).unwrap().key_bytes(&mut arena),
            typed
        );
    }

    #[test]
    fn every_key_family_reads_as_the_typed_encoder_writes() {
        agrees(0u8, "0");
        agrees(255u8, "255");
        agrees(65_535u16, "65_535");
        agrees(7u32, "+7");
        agrees(0u32, "-0");
        agrees(u64::MAX, &u64::MAX.to_string());
        agrees(u128::MAX, &u128::MAX.to_string());
        agrees(-128i8, "-128");
        agrees(127i8, " 127 ");
        agrees(-7i16, "-7");
        agrees(i32::MIN, &i32::MIN.to_string());
        agrees(-1_000i64, "-1_000");
        agrees(i128::MIN, &i128::MIN.to_string());
        agrees(true, "true");
        agrees(false, "false");
        agrees(*b"\x00\xffab", "0x00ff6162");
        agrees(*b"\x00\xffab", "00FF6162");
        agrees([0u8; 0], "");
        agrees(String::from("alice"), "alice");
        agrees(String::from(" a, \"b\" "), " a, \"b\" ");
        agrees(String::new(), "");
        agrees(vec![0u8, 1, 255], "0x0001ff");
        agrees(Vec::<u8>::new(), "0x");
        agrees(
            (String::from("alice"), 1_700_000_000u64),
            "alice,1700000000",
        );
        agrees(
            (String::from("alice"), 1_700_000_000u64),
            " alice , 1_700_000_000 ",
        );
        agrees((String::from("a,b"), 7i32), r#""a,b",7"#);
        agrees((String::from("say \"hi\""), -7i64), r#""say \"hi\"", -7"#);
        agrees((String::from(" pad "), 0u8), r#"" pad ",0"#);
        agrees((String::from("back\\slash"), 0u8), r"back\slash,0");
        agrees((String::from("nul\0\n"), 0u8), r#""nul\0\n",0"#);
        agrees((String::from("é\u{7}"), 0u8), r#""é\u{7}",0"#);
        agrees((String::new(), String::new()), ",");
        agrees((String::new(), String::new()), r#""","""#);
        agrees((1u8, vec![0u8], true), "1,0x00,true");
        agrees((*b"ab", -1i8, 3u16, false), "6162,-1,3,false");
        agrees(
            (1u8, 2u16, 3u32, 4u64, String::from("five")),
            "1,2,3,4,five",
        );
        agrees((1u8, (2u8, String::from("x,y"))), r#"1,2,"x,y""#);
    }

    #[test]
    fn prefixes_are_what_key_prefix_writes() {
        let key_type = <(String, u64, bool)>::key_type();
        let mut arena = KeyArena::new();
        KeyPrefix::<(String, u64, bool)>::write_prefix(&("a,b",), &mut arena);
        assert_eq!(
            key_type.parse_prefix_text(r#""a,b""#).unwrap(),
            arena.as_slice()
        );
        arena.clear();
        KeyPrefix::<(String, u64, bool)>::write_prefix(&("a", 7u64), &mut arena);
        assert_eq!(key_type.parse_prefix_text("a,7").unwrap(), arena.as_slice());
        let mut whole = KeyArena::new();
        let full = ("a".to_string(), 7u64, true);
        assert_eq!(
            key_type.parse_prefix_text("a,7,true").unwrap(),
            full.key_bytes(&mut whole)
        );
        assert_eq!(KeyType::String.parse_prefix_text("al").unwrap(), b"al");
        assert_eq!(KeyType::Bytes.parse_prefix_text("0x00").unwrap(), [0]);
        for no_prefix in [KeyType::U64, KeyType::Bool, KeyType::FixedBytes(2)] {
            let err = no_prefix.parse_prefix_text("1").unwrap_err();
            assert_eq!(err.problem(), &KeyTextProblem::NoPrefix);
        }
        let err = key_type.parse_prefix_text("a,1,true,x").unwrap_err();
        assert_eq!(
            *err.problem(),
            KeyTextProblem::PartCount {
                expected: 3,
                found: 4
            }
        );
    }

    #[test]
    fn errors_name_the_part_and_what_was_expected() {
        let pair = <(String, u16)>::key_type();
        let problem = |key_type: &KeyType, text: &str| key_type.parse_text(text).unwrap_err();
        let err = problem(&pair, "alice,x");
        assert_eq!(
            (err.part(), err.problem().clone()),
            (Some(2), KeyTextProblem::NotAnInteger)
        );
        assert_eq!(
            err.to_string(),
            "part 2 of the (String, u16) key: expected a u16, found \"x\": not a decimal integer"
        );
        assert_eq!(
            problem(&pair, "alice").problem().clone(),
            KeyTextProblem::PartCount {
                expected: 2,
                found: 1
            }
        );
        assert_eq!(
            problem(&pair, r#""alice,7"#).problem().clone(),
            KeyTextProblem::UnclosedQuote
        );
        assert_eq!(
            problem(&pair, r#""a"b,7"#).problem().clone(),
            KeyTextProblem::TextAfterQuote
        );
        assert_eq!(
            problem(&pair, r#"a"b,7"#).problem().clone(),
            KeyTextProblem::StrayQuote
        );
        assert_eq!(
            problem(&pair, r#""a\qb",7"#).problem().clone(),
            KeyTextProblem::BadEscape("\\q".into())
        );
        assert!(matches!(
            problem(&pair, r#""a\u{zz}",7"#).problem().clone(),
            KeyTextProblem::BadEscape(_)
        ));
        assert!(matches!(
            problem(&KeyType::U8, "256").problem().clone(),
            KeyTextProblem::OutOfRange { .. }
        ));
        assert!(matches!(
            problem(&KeyType::U8, "-1").problem().clone(),
            KeyTextProblem::OutOfRange { .. }
        ));
        assert!(matches!(
            problem(&KeyType::I8, "-129").problem().clone(),
            KeyTextProblem::OutOfRange { .. }
        ));
        assert!(matches!(
            problem(&KeyType::U128, "340282366920938463463374607431768211456")
                .problem()
                .clone(),
            KeyTextProblem::OutOfRange { .. }
        ));
        for bad in ["", "_1", "1_", "1__0", "--1", "+-1", "1.5", "0x10", "1 0"] {
            assert_eq!(
                problem(&KeyType::I64, bad).problem().clone(),
                KeyTextProblem::NotAnInteger,
                "{bad:?}"
            );
        }
        assert_eq!(
            problem(&KeyType::Bool, "yes").problem().clone(),
            KeyTextProblem::NotABool
        );
        assert_eq!(
            problem(&KeyType::Bytes, "0x0").problem().clone(),
            KeyTextProblem::NotHex
        );
        assert_eq!(
            problem(&KeyType::Bytes, "zz").problem().clone(),
            KeyTextProblem::NotHex
        );
        assert_eq!(
            problem(&KeyType::Bytes, "é1").problem().clone(),
            KeyTextProblem::NotHex
        );
        assert_eq!(
            problem(&KeyType::FixedBytes(4), "0x0102").problem().clone(),
            KeyTextProblem::WrongLength {
                expected: 4,
                found: 2
            }
        );
        let err = problem(&KeyType::U64, "x");
        assert_eq!(err.part(), None);
        assert_eq!(
            err.to_string(),
            "the u64 key: expected a u64, found \"x\": not a decimal integer"
        );
    }
}
