//! Key encodings described as data: [`KeyType`] names the structure of a key type (recorded
//! in the table catalog as text such as `u64` or `(String, i64)`), and
//! [`KeyType::decode`] turns stored key bytes into a [`KeyValue`] without the Rust type — what
//! a command-line tool or a migration needs.

use std::fmt;
use std::str::FromStr;

use super::bytes::{read_escaped, utf8};
use super::fixed::{decode_bool, take};
use super::{KeyDecodeError, KeyDecodeReason};

/// The structure of a key encoding.
///
/// ```
/// use zerotable::{FromKeyBytes, KeyType};
///
/// let key_type = <(String, i64)>::key_type();
/// assert_eq!(key_type.to_string(), "(String, i64)");
/// assert_eq!("(String, i64)".parse::<KeyType>().unwrap(), key_type);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `u128`
    U128,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `i128`
    I128,
    /// `bool`
    Bool,
    /// `[u8; N]`
    FixedBytes(usize),
    /// `String` (or `str`)
    String,
    /// `Vec<u8>` (or `[u8]`)
    Bytes,
    /// A tuple of parts.
    Tuple(Vec<KeyType>),
}

/// A decoded key, for display and tools.
///
/// ```
/// use zerotable::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyType};
///
/// let mut arena = KeyArena::new();
/// let bytes = ("ada".to_string(), -7i64).key_bytes(&mut arena).to_vec();
/// let value = <(String, i64)>::key_type().decode(&bytes).unwrap();
/// assert_eq!(value.to_string(), r#"("ada", -7)"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyValue {
    /// Any unsigned integer.
    Unsigned(u128),
    /// Any signed integer.
    Signed(i128),
    /// A `bool`.
    Bool(bool),
    /// A string.
    String(String),
    /// A byte string (fixed or variable).
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<KeyValue>),
}

impl KeyType {
    /// Decodes a whole stored key of this type.
    pub fn decode(&self, bytes: &[u8]) -> Result<KeyValue, KeyDecodeError> {
        match self {
            KeyType::String => return utf8(bytes.to_vec()).map(KeyValue::String),
            KeyType::Bytes => return Ok(KeyValue::Bytes(bytes.to_vec())),
            _ => {}
        }
        let mut input = bytes;
        let value = self.decode_part(&mut input)?;
        if input.is_empty() {
            Ok(value)
        } else {
            Err(KeyDecodeError::new(
                "key",
                KeyDecodeReason::TrailingBytes(input.len()),
            ))
        }
    }

    /// Decodes a key's part encoding (the form it takes inside a tuple, or at the front of an
    /// index entry) from the front of `input`, advancing `input` past it.
    ///
    /// ```
    /// use zerotable::{IntoKeyBytes, KeyArena, KeyType};
    /// let mut arena = KeyArena::new();
    /// "ada".write_key_part(&mut arena);
    /// arena.extend_from_slice(&[7]);
    /// let mut input = arena.as_slice();
    /// assert_eq!(KeyType::String.decode_leading_part(&mut input).unwrap().to_string(), r#""ada""#);
    /// assert_eq!(input, [7]);
    /// ```
    pub fn decode_leading_part(&self, input: &mut &[u8]) -> Result<KeyValue, KeyDecodeError> {
        self.decode_part(input)
    }

    /// Decodes one self-delimiting part from the front of `input`.
    fn decode_part(&self, input: &mut &[u8]) -> Result<KeyValue, KeyDecodeError> {
        fn unsigned<const N: usize>(
            input: &mut &[u8],
            name: &'static str,
        ) -> Result<KeyValue, KeyDecodeError> {
            let bytes: [u8; N] = take(input, name)?;
            let mut wide = [0u8; 16];
            wide[16 - N..].copy_from_slice(&bytes);
            Ok(KeyValue::Unsigned(u128::from_be_bytes(wide)))
        }
        fn signed<const N: usize>(
            input: &mut &[u8],
            name: &'static str,
        ) -> Result<KeyValue, KeyDecodeError> {
            let mut bytes: [u8; N] = take(input, name)?;
            bytes[0] ^= 0x80; // undo the sign flip
            // Sign-extend into 16 bytes.
            let fill = if bytes[0] & 0x80 != 0 { 0xFF } else { 0 };
            let mut wide = [fill; 16];
            wide[16 - N..].copy_from_slice(&bytes);
            Ok(KeyValue::Signed(i128::from_be_bytes(wide)))
        }
        match self {
            KeyType::U8 => unsigned::<1>(input, "u8"),
            KeyType::U16 => unsigned::<2>(input, "u16"),
            KeyType::U32 => unsigned::<4>(input, "u32"),
            KeyType::U64 => unsigned::<8>(input, "u64"),
            KeyType::U128 => unsigned::<16>(input, "u128"),
            KeyType::I8 => signed::<1>(input, "i8"),
            KeyType::I16 => signed::<2>(input, "i16"),
            KeyType::I32 => signed::<4>(input, "i32"),
            KeyType::I64 => signed::<8>(input, "i64"),
            KeyType::I128 => signed::<16>(input, "i128"),
            KeyType::Bool => {
                let [byte] = take(input, "bool")?;
                decode_bool(byte).map(KeyValue::Bool)
            }
            KeyType::FixedBytes(n) => {
                if input.len() < *n {
                    return Err(KeyDecodeError::new(
                        "[u8; N]",
                        KeyDecodeReason::WrongLength {
                            expected: *n,
                            found: input.len(),
                        },
                    ));
                }
                let (head, rest) = input.split_at(*n);
                *input = rest;
                Ok(KeyValue::Bytes(head.to_vec()))
            }
            KeyType::String => utf8(read_escaped(input, "String")?).map(KeyValue::String),
            KeyType::Bytes => read_escaped(input, "Vec<u8>").map(KeyValue::Bytes),
            KeyType::Tuple(parts) => parts
                .iter()
                .map(|part| part.decode_part(input))
                .collect::<Result<_, _>>()
                .map(KeyValue::Tuple),
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            KeyType::U8 => "u8",
            KeyType::U16 => "u16",
            KeyType::U32 => "u32",
            KeyType::U64 => "u64",
            KeyType::U128 => "u128",
            KeyType::I8 => "i8",
            KeyType::I16 => "i16",
            KeyType::I32 => "i32",
            KeyType::I64 => "i64",
            KeyType::I128 => "i128",
            KeyType::Bool => "bool",
            KeyType::String => "String",
            KeyType::Bytes => "Vec<u8>",
            KeyType::FixedBytes(n) => return write!(f, "[u8; {n}]"),
            KeyType::Tuple(parts) => {
                f.write_str("(")?;
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{part}")?;
                }
                return f.write_str(")");
            }
        };
        f.write_str(name)
    }
}

/// A key type name that [`KeyType`] does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown key type {0:?}: expected an integer type, bool, String, Vec<u8>, [u8; N] or a tuple of them"
)]
pub struct UnknownKeyType(pub String);

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownKeyType(text.to_owned());
        let text = text.trim();
        if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            let parts = split_top_level(inner)
                .into_iter()
                .map(|part| part.parse::<KeyType>().map_err(|_| unknown()))
                .collect::<Result<Vec<_>, _>>()?;
            return if parts.len() >= 2 {
                Ok(KeyType::Tuple(parts))
            } else {
                Err(unknown())
            };
        }
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            let (element, len) = inner.split_once(';').ok_or_else(unknown)?;
            if element.trim() != "u8" {
                return Err(unknown());
            }
            return len
                .trim()
                .parse()
                .map(KeyType::FixedBytes)
                .map_err(|_| unknown());
        }
        Ok(match text {
            "u8" => KeyType::U8,
            "u16" => KeyType::U16,
            "u32" => KeyType::U32,
            "u64" => KeyType::U64,
            "u128" => KeyType::U128,
            "i8" => KeyType::I8,
            "i16" => KeyType::I16,
            "i32" => KeyType::I32,
            "i64" => KeyType::I64,
            "i128" => KeyType::I128,
            "bool" => KeyType::Bool,
            "String" | "str" => KeyType::String,
            "Vec<u8>" | "[u8]" => KeyType::Bytes,
            _ => return Err(unknown()),
        })
    }
}

/// Splits `a, (b, c), [u8; 4]` at the commas outside brackets.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '<' => depth += 1,
            ')' | ']' | '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Unsigned(n) => write!(f, "{n}"),
            KeyValue::Signed(n) => write!(f, "{n}"),
            KeyValue::Bool(b) => write!(f, "{b}"),
            KeyValue::String(s) => write!(f, "{s:?}"),
            KeyValue::Bytes(bytes) => {
                f.write_str("0x")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            KeyValue::Tuple(parts) => {
                f.write_str("(")?;
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{part}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyArena};

    fn round_trip<K: IntoKeyBytes + FromKeyBytes>(key: K, expected: &str) {
        let mut arena = KeyArena::new();
        let bytes = key.key_bytes(&mut arena).to_vec();
        let key_type = K::key_type();
        assert_eq!(key_type.to_string().parse::<KeyType>().unwrap(), key_type);
        assert_eq!(key_type.decode(&bytes).unwrap().to_string(), expected);
    }

    #[test]
    fn every_key_family_decodes_without_its_rust_type() {
        round_trip(7u8, "7");
        round_trip(u64::MAX, "18446744073709551615");
        round_trip(u128::MAX, &u128::MAX.to_string());
        round_trip(-1i8, "-1");
        round_trip(i64::MIN, &i64::MIN.to_string());
        round_trip(i128::MIN, &i128::MIN.to_string());
        round_trip(12345i32, "12345");
        round_trip(true, "true");
        round_trip(*b"ab\0c", "0x61620063");
        round_trip("a\0b".to_string(), r#""a\0b""#);
        round_trip(vec![0u8, 255], "0x00ff");
        round_trip(("x\0".to_string(), -3i16), r#"("x\0", -3)"#);
        round_trip((1u8, vec![0u8], true), "(1, 0x00, true)");
    }

    #[test]
    fn malformed_keys_and_names_are_errors() {
        assert!(KeyType::U64.decode(&[1, 2, 3]).is_err());
        assert!(KeyType::Bool.decode(&[2]).is_err());
        assert!(KeyType::FixedBytes(4).decode(&[1]).is_err());
        assert!(
            KeyType::Tuple(vec![KeyType::String, KeyType::U8])
                .decode(b"ab")
                .is_err()
        );
        assert!(KeyType::String.decode(&[0xff]).is_err());
        for bad in [
            "",
            "u65",
            "(u8)",
            "[u16; 4]",
            "[u8; x]",
            "Vec<u16>",
            "(u8, nope)",
        ] {
            assert!(bad.parse::<KeyType>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            " ( String ,u64 ) ".parse::<KeyType>().unwrap().to_string(),
            "(String, u64)"
        );
    }
}
