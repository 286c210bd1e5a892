//! [`IntoKeyBytes`] and [`FromKeyBytes`] for the supported key types.

use super::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyDecodeError, KeyDecodeReason};

/// Splits `N` bytes off the front of `input`, advancing it only on success.
fn take<const N: usize>(
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
fn exact<const N: usize>(bytes: &[u8], expected: &'static str) -> Result<[u8; N], KeyDecodeError> {
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
    ($($t:ty),*) => {$(
        impl IntoKeyBytes for $t {
            fn write_key_part(&self, out: &mut KeyArena) {
                out.extend_from_slice(&self.to_be_bytes());
            }
        }

        impl FromKeyBytes for $t {
            fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                take(input, stringify!($t)).map(<$t>::from_be_bytes)
            }

            fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
                exact(bytes, stringify!($t)).map(<$t>::from_be_bytes)
            }
        }
    )*};
}

unsigned_keys!(u8, u16, u32, u64, u128);

// The sign bit is `MIN`'s bit pattern; XOR with it maps MIN..=MAX onto 0..=unsigned MAX
// monotonically, so the unsigned big-endian bytes sort numerically.
macro_rules! signed_keys {
    ($($t:ty => $u:ty),*) => {$(
        impl IntoKeyBytes for $t {
            fn write_key_part(&self, out: &mut KeyArena) {
                let biased = self.cast_unsigned() ^ <$t>::MIN.cast_unsigned();
                out.extend_from_slice(&biased.to_be_bytes());
            }
        }

        impl FromKeyBytes for $t {
            fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                take(input, stringify!($t)).map(|b| {
                    (<$u>::from_be_bytes(b) ^ <$t>::MIN.cast_unsigned()).cast_signed()
                })
            }

            fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
                exact(bytes, stringify!($t)).map(|b| {
                    (<$u>::from_be_bytes(b) ^ <$t>::MIN.cast_unsigned()).cast_signed()
                })
            }
        }
    )*};
}

signed_keys!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

impl IntoKeyBytes for bool {
    fn write_key_part(&self, out: &mut KeyArena) {
        out.push(u8::from(*self));
    }
}

fn decode_bool(byte: u8) -> Result<bool, KeyDecodeError> {
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
    fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        take(input, std::any::type_name::<Self>())
    }

    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        exact(bytes, std::any::type_name::<Self>())
    }
}

/// Writes `bytes` as a self-delimiting part: NUL escaped as `00 FF`, terminated by `00 00`.
fn write_escaped(bytes: &[u8], out: &mut KeyArena) {
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
fn read_escaped(input: &mut &[u8], expected: &'static str) -> Result<Vec<u8>, KeyDecodeError> {
    let mut value = Vec::new();
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
                return Ok(value);
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

fn utf8(bytes: Vec<u8>) -> Result<String, KeyDecodeError> {
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
    fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        read_escaped(input, "Vec<u8>")
    }

    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        Ok(bytes.to_vec())
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
    fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
        utf8(read_escaped(input, "String")?)
    }

    fn from_key_bytes(bytes: &[u8]) -> Result<Self, KeyDecodeError> {
        utf8(bytes.to_vec())
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

// Tuples always use the elements' part encodings, even for the last element: that keeps the
// encoding of `(x, y)` a prefix-extension of the encoding of `x`'s part, which prefix scans
// rely on, and the default `from_key_bytes` then rejects any leftover bytes.
macro_rules! tuple_keys {
    ($($T:ident . $i:tt),+) => {
        impl<$($T: IntoKeyBytes),+> IntoKeyBytes for ($($T,)+) {
            fn write_key_part(&self, out: &mut KeyArena) {
                $(self.$i.write_key_part(out);)+
            }
        }

        impl<$($T: FromKeyBytes),+> FromKeyBytes for ($($T,)+) {
            fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                Ok(($($T::read_key_part(input)?,)+))
            }
        }
    };
}

tuple_keys!(A.0, B.1);
tuple_keys!(A.0, B.1, C.2);
