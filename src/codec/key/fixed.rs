//! Fixed-width keys: integers (big-endian; signed ones with the sign bit flipped), `bool`
//! (one byte, `0` or `1`) and byte arrays `[u8; N]` (as they are).

use super::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyDecodeError, KeyDecodeReason, KeyType};

/// Splits `N` bytes off the front of `input`, advancing it only on success.
pub(super) fn take<const N: usize>(
    input: &mut &[u8],
    expected: &'static str,
) -> Result<[u8; N], KeyDecodeError> {
    match input.split_first_chunk::<N>() {
        Some((head, rest)) => {
            *input = rest;
            Ok(*head)
        }
        None => Err(wrong_length(expected, N, input.len())),
    }
}

/// A whole standalone fixed-width key: reports a length mismatch rather than "trailing bytes",
/// which is the more useful diagnosis when the key is not a tuple.
pub(super) fn exact<const N: usize>(
    bytes: &[u8],
    expected: &'static str,
) -> Result<[u8; N], KeyDecodeError> {
    <[u8; N]>::try_from(bytes).map_err(|_| wrong_length(expected, N, bytes.len()))
}

fn wrong_length(expected: &'static str, width: usize, found: usize) -> KeyDecodeError {
    KeyDecodeError::new(
        expected,
        KeyDecodeReason::WrongLength {
            expected: width,
            found,
        },
    )
}

macro_rules! unsigned_keys {
    ($($t:ty => $kind:ident),*) => {$(
        impl IntoKeyBytes for $t {
            #[inline]
            fn write_key_part(&self, out: &mut KeyArena) {
                out.extend_from_slice(&self.to_be_bytes());
            }
        }

        impl FromKeyBytes for $t {
            fn key_type() -> KeyType {
                KeyType::$kind
            }

            fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                take(input, stringify!($t)).map(<$t>::from_be_bytes)
            }

            #[inline]
            fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
                exact(bytes, stringify!($t)).map(<$t>::from_be_bytes)
            }
        }
    )*};
}

unsigned_keys!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, u128 => U128);

// The sign bit is `MIN`'s bit pattern; XOR with it maps MIN..=MAX onto 0..=unsigned MAX
// monotonically, so the unsigned big-endian bytes sort numerically.
macro_rules! signed_keys {
    ($($t:ty => $u:ty, $kind:ident),*) => {$(
        impl IntoKeyBytes for $t {
            #[inline]
            fn write_key_part(&self, out: &mut KeyArena) {
                let biased = self.cast_unsigned() ^ <$t>::MIN.cast_unsigned();
                out.extend_from_slice(&biased.to_be_bytes());
            }
        }

        impl FromKeyBytes for $t {
            fn key_type() -> KeyType {
                KeyType::$kind
            }

            fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                take(input, stringify!($t)).map(|b| {
                    (<$u>::from_be_bytes(b) ^ <$t>::MIN.cast_unsigned()).cast_signed()
                })
            }

            #[inline]
            fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
                exact(bytes, stringify!($t)).map(|b| {
                    (<$u>::from_be_bytes(b) ^ <$t>::MIN.cast_unsigned()).cast_signed()
                })
            }
        }
    )*};
}

signed_keys!(i8 => u8, I8, i16 => u16, I16, i32 => u32, I32, i64 => u64, I64, i128 => u128, I128);

impl IntoKeyBytes for bool {
    fn write_key_part(&self, out: &mut KeyArena) {
        out.push(u8::from(*self));
    }
}

pub(super) fn decode_bool(byte: u8) -> Result<bool, KeyDecodeError> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(KeyDecodeError::new(
            "bool",
            KeyDecodeReason::InvalidBool(other),
        )),
    }
}

impl FromKeyBytes for bool {
    fn key_type() -> KeyType {
        KeyType::Bool
    }

    fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        let [byte] = take(input, "bool")?;
        decode_bool(byte)
    }

    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        let [byte] = exact(bytes, "bool")?;
        decode_bool(byte)
    }
}

impl<const N: usize> IntoKeyBytes for [u8; N] {
    fn write_key_part(&self, out: &mut KeyArena) {
        out.extend_from_slice(self);
    }

    fn key_bytes<'a>(&'a self, _arena: &'a mut KeyArena) -> &'a [u8] {
        self
    }
}

impl<const N: usize> FromKeyBytes for [u8; N] {
    fn key_type() -> KeyType {
        KeyType::FixedBytes(N)
    }

    fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        take(input, std::any::type_name::<Self>())
    }

    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        exact(bytes, std::any::type_name::<Self>())
    }
}
