//! Variable-length keys: strings and byte strings. As a whole key they are their own bytes
//! (borrowed, never copied); as a tuple element each `0x00` is written `0x00 0xFF` and the part
//! ends with `0x00 0x00`.

use super::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyDecodeError, KeyDecodeReason, KeyType};

/// Writes `bytes` as a self-delimiting part: NUL escaped as `00 FF`, terminated by `00 00`.
pub(super) fn write_escaped(bytes: &[u8], out: &mut KeyArena) {
    let mut chunks = bytes.split(|&b| b == 0);
    if let Some(first) = chunks.next() {
        out.extend_from_slice(first);
    }
    for chunk in chunks {
        out.extend_from_slice(&[0x00, 0xFF]);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&[0x00, 0x00]);
}

/// Inverse of [`write_escaped`]; advances `input` only on success.
pub(super) fn read_escaped(
    input: &mut &[u8],
    expected: &'static str,
) -> Result<Vec<u8>, KeyDecodeError> {
    let mut value = Vec::new();
    read_escaped_into(input, expected, &mut value)?;
    Ok(value)
}

/// [`read_escaped`] into `value` (cleared first, its capacity reused).
fn read_escaped_into(
    input: &mut &[u8],
    expected: &'static str,
    value: &mut Vec<u8>,
) -> Result<(), KeyDecodeError> {
    value.clear();
    let mut rest = *input;
    loop {
        let Some(zero) = rest.iter().position(|&b| b == 0) else {
            return Err(KeyDecodeError::new(
                expected,
                KeyDecodeReason::MissingTerminator,
            ));
        };
        value.extend_from_slice(&rest[..zero]);
        match rest.get(zero + 1) {
            Some(0x00) => {
                *input = &rest[zero + 2..];
                return Ok(());
            }
            Some(0xFF) => {
                value.push(0);
                rest = &rest[zero + 2..];
            }
            Some(&other) => {
                return Err(KeyDecodeError::new(
                    expected,
                    KeyDecodeReason::InvalidEscape(other),
                ));
            }
            None => {
                return Err(KeyDecodeError::new(
                    expected,
                    KeyDecodeReason::MissingTerminator,
                ));
            }
        }
    }
}

/// Fills `string` with `fill`'s bytes (its buffer reused), keeping it valid UTF-8: on invalid
/// bytes it is left empty.
fn fill_string(
    string: &mut String,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<(), KeyDecodeError>,
) -> Result<(), KeyDecodeError> {
    let mut bytes = std::mem::take(string).into_bytes();
    fill(&mut bytes)?;
    *string = utf8(bytes)?;
    Ok(())
}

pub(super) fn utf8(bytes: Vec<u8>) -> Result<String, KeyDecodeError> {
    String::from_utf8(bytes)
        .map_err(|_| KeyDecodeError::new("String", KeyDecodeReason::InvalidUtf8))
}

impl IntoKeyBytes for [u8] {
    fn write_key_part(&self, out: &mut KeyArena) {
        write_escaped(self, out);
    }

    fn key_bytes<'a>(&'a self, _arena: &'a mut KeyArena) -> &'a [u8] {
        self
    }
}

impl IntoKeyBytes for Vec<u8> {
    fn write_key_part(&self, out: &mut KeyArena) {
        write_escaped(self, out);
    }

    fn key_bytes<'a>(&'a self, _arena: &'a mut KeyArena) -> &'a [u8] {
        self
    }
}

impl FromKeyBytes for Vec<u8> {
    fn key_type() -> KeyType {
        KeyType::Bytes
    }

    fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        read_escaped(input, "Vec<u8>")
    }

    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        Ok(bytes.to_vec())
    }

    fn read_key_part_into(&mut self, input: &mut &[u8]) -> Result<(), KeyDecodeError> {
        read_escaped_into(input, "Vec<u8>", self)
    }

    fn set_from_key_bytes(&mut self, bytes: &[u8]) -> Result<(), KeyDecodeError> {
        self.clear();
        self.extend_from_slice(bytes);
        Ok(())
    }
}

impl IntoKeyBytes for str {
    fn write_key_part(&self, out: &mut KeyArena) {
        write_escaped(self.as_bytes(), out);
    }

    fn key_bytes<'a>(&'a self, _arena: &'a mut KeyArena) -> &'a [u8] {
        self.as_bytes()
    }
}

impl IntoKeyBytes for String {
    fn write_key_part(&self, out: &mut KeyArena) {
        write_escaped(self.as_bytes(), out);
    }

    fn key_bytes<'a>(&'a self, _arena: &'a mut KeyArena) -> &'a [u8] {
        self.as_bytes()
    }
}

impl FromKeyBytes for String {
    fn key_type() -> KeyType {
        KeyType::String
    }

    fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        utf8(read_escaped(input, "String")?)
    }

    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        utf8(bytes.to_vec())
    }

    fn read_key_part_into(&mut self, input: &mut &[u8]) -> Result<(), KeyDecodeError> {
        fill_string(self, |bytes| read_escaped_into(input, "String", bytes))
    }

    fn set_from_key_bytes(&mut self, bytes: &[u8]) -> Result<(), KeyDecodeError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| KeyDecodeError::new("String", KeyDecodeReason::InvalidUtf8))?;
        self.clear();
        self.push_str(text);
        Ok(())
    }
}

/// Key types whose whole-key encoding is their own bytes — `String` and `Vec<u8>` — so that
/// the keys starting with some bytes are one contiguous range: what
/// [`Table::starts_with`](crate::Table::starts_with) scans.
pub trait ByteStringKey {
    /// What a prefix is written as: `str` for `String`, `[u8]` for `Vec<u8>`.
    type Prefix: ?Sized + AsRef<[u8]>;
}

impl ByteStringKey for String {
    type Prefix = str;
}

impl ByteStringKey for Vec<u8> {
    type Prefix = [u8];
}
