//! Order-preserving key encoding.
//!
//! Embedded key-value stores such as redb compare keys as raw bytes (memcmp). Range scans,
//! prefix scans and "first key ≥ x" lookups are only meaningful if that byte order agrees with
//! the key type's own [`Ord`]. This module defines that encoding: for every supported type,
//! `a.cmp(&b) == enc(a).cmp(&enc(b))`, and decoding is the exact inverse.
//!
//! # Encoding
//!
//! | type | bytes |
//! | --- | --- |
//! | `u8`..`u128` | big-endian, fixed width |
//! | `i8`..`i128` | big-endian with the sign bit flipped, fixed width |
//! | `bool` | one byte, `0` or `1` |
//! | `[u8; N]` | the `N` bytes as they are |
//! | `str`, `String`, `[u8]`, `Vec<u8>` as a whole key | the bytes as they are |
//! | the same as a tuple element | each `0x00` written as `0x00 0xFF`, then `0x00 0x00` |
//! | `(A, B)` … `(A, B, C, D, E)` | the elements' part encodings, concatenated |
//!
//! One family per file: `fixed.rs` (integers, `bool`, `[u8; N]`), `bytes.rs` (strings and
//! byte strings), `tuples.rs`; `key_type.rs` describes each encoding as data ([`KeyType`]) so
//! keys can be decoded without their Rust type; `like.rs` says which borrowed forms may stand
//! for a key ([`KeyLike`]). A new key type is one new file here (plus its `mod` line),
//! implementing [`IntoKeyBytes`], [`FromKeyBytes`] and `KeyLike<Self>`.
//!
//! Big-endian puts the most significant byte first, which is what memcmp looks at first.
//! Two's complement sorts negative numbers after positive ones as unsigned bytes; flipping the
//! sign bit moves `MIN` to `0x00..` and `MAX` to `0xFF..`, restoring numeric order.
//!
//! # Standalone keys and key parts
//!
//! A key that is a whole string needs no delimiter: the end of the key is the end of the string,
//! and memcmp on UTF-8 already equals `str`'s order. So standalone strings and byte strings are
//! their own bytes, borrowed without copying ([`IntoKeyBytes::key_bytes`]).
//!
//! Inside a tuple, each element must be *self-delimiting* and the encodings must be
//! *prefix-free*, or `("ab", "c")` and `("a", "bc")` would both become `abc`. Fixed-width types
//! are self-delimiting already. Variable-length ones are terminated by `0x00 0x00`, and any
//! `0x00` in the data is escaped as `0x00 0xFF`. The terminator sorts below every possible
//! continuation (`0x00 0xFF` or any non-zero byte), so a string sorts before its extensions,
//! and so `("a", "")` < `("a\0", "")` just as the tuples compare.
//!
//! Because parts are concatenated in element order, every tuple whose first element is `x`
//! starts with the part encoding of `x` (from [`IntoKeyBytes::write_key_part`], not the
//! standalone one): a prefix scan over those bytes finds exactly those tuples, in order.
//!
//! # Decoding
//!
//! Decoding is strict: it accepts exactly the byte strings the encoder can produce (so every
//! accepted input re-encodes to itself) and returns a [`KeyDecodeError`] for anything else,
//! including truncated or garbage input. It never panics.

mod arena;
mod bytes;
mod fixed;
mod key_type;
mod like;
mod prefix;
mod text;
mod tuples;

use std::fmt;

pub use arena::KeyArena;
pub use bytes::ByteStringKey;
pub use key_type::{KeyType, KeyValue, UnknownKeyType};
pub use like::{KeyBounds, KeyLike};
pub use prefix::KeyPrefix;
pub(crate) use prefix::prefix_successor;
pub use text::{KeyTextError, KeyTextProblem};

/// Encodes a key into bytes whose lexicographic (memcmp) order equals the key's natural [`Ord`].
///
/// See the [module docs](self) for the byte format.
pub trait IntoKeyBytes {
    /// Appends the self-delimiting encoding used for elements of tuple keys to `out`.
    fn write_key_part(&self, out: &mut KeyArena);

    /// Returns the standalone encoding of a whole key.
    ///
    /// The default clears `arena`, writes the part encoding into it and returns its contents.
    /// Types whose standalone form is their own bytes (`str`, `[u8]`, `String`, `Vec<u8>`,
    /// `[u8; N]`) return those bytes without touching `arena`.
    fn key_bytes<'a>(&'a self, arena: &'a mut KeyArena) -> &'a [u8] {
        arena.clear();
        self.write_key_part(arena);
        arena.as_slice()
    }
}

impl<T: IntoKeyBytes + ?Sized> IntoKeyBytes for &T {
    fn write_key_part(&self, out: &mut KeyArena) {
        (**self).write_key_part(out);
    }

    fn key_bytes<'a>(&'a self, arena: &'a mut KeyArena) -> &'a [u8] {
        (**self).key_bytes(arena)
    }
}

/// Decodes keys written by [`IntoKeyBytes`].
pub trait FromKeyBytes: Sized {
    /// The encoding's structure, recorded in the table catalog so that tools can decode keys
    /// without the Rust type. A key type of your own that encodes like a built-in one (a
    /// newtype around `u64`, say) returns that one's.
    fn key_type() -> KeyType;

    /// Decodes a self-delimiting part from the front of `input` and advances `input` past it.
    ///
    /// # Errors
    ///
    /// Fails if the front of `input` is not a valid encoding of `Self` (too short, invalid
    /// `bool` byte or escape, missing terminator, invalid UTF-8). On error, how far `input` has
    /// advanced is unspecified.
    fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError>;

    /// Decodes a whole standalone key.
    ///
    /// # Errors
    ///
    /// Fails if `bytes` is not exactly one encoding of `Self`. The default reads one part and
    /// fails with [`KeyDecodeReason::TrailingBytes`] unless that consumed all of `bytes`.
    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        let mut input = bytes;
        let value = Self::read_key_part(&mut input)?;
        trailing::<Self>(input)?;
        Ok(value)
    }

    /// [`read_key_part`](Self::read_key_part) into an existing value, reusing its buffers:
    /// scans decode every key into one value this way, so a `String` key costs no allocation
    /// per row. The default assigns a freshly read value.
    ///
    /// # Errors
    ///
    /// As for [`read_key_part`](Self::read_key_part); on error `self` holds an unspecified
    /// (valid) value.
    fn read_key_part_into(&mut self, input: &mut &[u8]) -> Result<(), KeyDecodeError> {
        *self = Self::read_key_part(input)?;
        Ok(())
    }

    /// [`from_key_bytes`](Self::from_key_bytes) into an existing value, reusing its buffers.
    /// The default assigns a freshly decoded value.
    ///
    /// # Errors
    ///
    /// As for [`from_key_bytes`](Self::from_key_bytes); on error `self` holds an unspecified
    /// (valid) value.
    #[inline]
    fn set_from_key_bytes(&mut self, bytes: &[u8]) -> Result<(), KeyDecodeError> {
        *self = Self::from_key_bytes(bytes)?;
        Ok(())
    }
}

/// Fails with [`KeyDecodeReason::TrailingBytes`] unless a standalone key was read whole.
pub(super) fn trailing<T>(input: &[u8]) -> Result<(), KeyDecodeError> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(KeyDecodeError::new(
            std::any::type_name::<T>(),
            KeyDecodeReason::TrailingBytes(input.len()),
        ))
    }
}

/// Why key bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDecodeError {
    /// The type that was being decoded, e.g. `"u64"` or `"String"` (for a tuple, the element
    /// that failed, or the tuple type itself when bytes were left over).
    pub expected: &'static str,
    /// What was wrong with the bytes.
    pub reason: KeyDecodeReason,
}

impl KeyDecodeError {
    /// Creates an error for decoding type `expected`.
    pub fn new(expected: &'static str, reason: KeyDecodeReason) -> Self {
        Self { expected, reason }
    }
}

impl fmt::Display for KeyDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode {} key: {}", self.expected, self.reason)
    }
}

impl std::error::Error for KeyDecodeError {}

/// The specific defect found in key bytes, part of a [`KeyDecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyDecodeReason {
    /// A fixed-width value had the wrong number of bytes (`found` is what was available).
    WrongLength {
        /// Bytes the type occupies.
        expected: usize,
        /// Bytes that were available.
        found: usize,
    },
    /// A string's bytes are not valid UTF-8.
    InvalidUtf8,
    /// A `bool` byte other than `0` or `1`.
    InvalidBool(u8),
    /// A variable-length part ended before its `0x00 0x00` terminator.
    MissingTerminator,
    /// A `0x00` inside a variable-length part was followed by this byte instead of `0xFF`
    /// (escaped NUL) or `0x00` (terminator).
    InvalidEscape(u8),
    /// A standalone key had this many bytes left over after the value was decoded.
    TrailingBytes(usize),
}

impl fmt::Display for KeyDecodeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::WrongLength { expected, found } => {
                write!(f, "expected {expected} bytes, found {found}")
            }
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::InvalidBool(b) => write!(f, "bool byte must be 0 or 1, found {b:#04x}"),
            Self::MissingTerminator => f.write_str("missing 0x00 0x00 terminator"),
            Self::InvalidEscape(b) => {
                write!(f, "0x00 must be followed by 0xff or 0x00, found {b:#04x}")
            }
            Self::TrailingBytes(n) => write!(f, "{n} trailing bytes after the key"),
        }
    }
}
