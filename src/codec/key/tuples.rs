//! Tuple keys `(A, B)` and `(A, B, C)`: the elements' part encodings, concatenated.

use super::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyDecodeError, KeyType};

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
            fn key_type() -> KeyType {
                KeyType::Tuple(vec![$($T::key_type()),+])
            }

            fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                Ok(($($T::read_key_part(input)?,)+))
            }
        }
    };
}

tuple_keys!(A.0, B.1);
tuple_keys!(A.0, B.1, C.2);
