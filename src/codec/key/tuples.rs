//! Tuple keys of two to five elements: the elements' part encodings, concatenated.

use super::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyDecodeError, KeyLike, KeyType, trailing};

// Tuples always use the elements' part encodings, even for the last element: that keeps the
// encoding of `(x, y)` a prefix-extension of the encoding of `x`'s part, which prefix scans
// rely on, and the default `from_key_bytes` then rejects any leftover bytes.
macro_rules! tuple_keys {
    ($($T:ident $Q:ident . $i:tt),+) => {
        impl<$($T: IntoKeyBytes),+> IntoKeyBytes for ($($T,)+) {
            fn write_key_part(&self, out: &mut KeyArena) {
                $(self.$i.write_key_part(out);)+
            }
        }

        // Element-wise: `("ada", 7)` is key-like for `(String, u64)`.
        impl<$($T,)+ $($Q: KeyLike<$T>),+> KeyLike<($($T,)+)> for ($($Q,)+) {}

        impl<$($T: FromKeyBytes),+> FromKeyBytes for ($($T,)+) {
            fn key_type() -> KeyType {
                KeyType::Tuple(vec![$($T::key_type()),+])
            }

            fn read_key_part(input: &mut &[u8]) -> Result<Self, KeyDecodeError> {
                Ok(($($T::read_key_part(input)?,)+))
            }

            fn read_key_part_into(&mut self, input: &mut &[u8]) -> Result<(), KeyDecodeError> {
                $(self.$i.read_key_part_into(input)?;)+
                Ok(())
            }

            fn set_from_key_bytes(&mut self, bytes: &[u8]) -> Result<(), KeyDecodeError> {
                let mut input = bytes;
                self.read_key_part_into(&mut input)?;
                trailing::<Self>(input)
            }
        }
    };
}

tuple_keys!(A QA.0, B QB.1);
tuple_keys!(A QA.0, B QB.1, C QC.2);
tuple_keys!(A QA.0, B QB.1, C QC.2, D QD.3);
tuple_keys!(A QA.0, B QB.1, C QC.2, D QD.3, E QE.4);
