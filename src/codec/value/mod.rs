//! Value serializers: how a table turns values into stored bytes and stored bytes back into a
//! borrowed view.
//!
//! A [`ValueSerializer`] never produces an owned value on the read path: [`decode`] returns an
//! [`Output`] that borrows the stored bytes (an `&Archived<V>`, a FlatBuffers table, a `&[u8]`),
//! and the table hands it to the caller's closure while the engine's buffer is alive.
//!
//! One format per file: `rkyv.rs`, `flatbuffers.rs`, `raw.rs`. A new value format is one new
//! file here (plus its `mod` line) implementing [`ValueSerializer`].
//!
//! [`decode`]: ValueSerializer::decode
//! [`Output`]: ValueSerializer::Output

mod flatbuffers;
mod raw;
mod rkyv;

pub use self::flatbuffers::{FlatBufferRoot, FlatBuffersSerializer};
pub use self::raw::RawSerializer;
pub use self::rkyv::{RkyvBytesSerializer, RkyvScratch, RkyvSerializer, RkyvValue};

use crate::error::BoxError;

/// `T`'s name without module paths or lifetimes (`app::model::User` → `User`), as the table
/// catalog records value types.
///
/// ```
/// assert_eq!(zerotable::codec::value::type_name_of::<Vec<String>>(), "Vec<String>");
/// ```
pub fn type_name_of<T: ?Sized>() -> String {
    crate::catalog::short_type_name(std::any::type_name::<T>())
}

/// Why a value could not be turned into stored bytes.
#[derive(Debug)]
pub enum EncodeError {
    /// The serializer failed on a well-formed value (reported as [`Error::Serialize`]).
    ///
    /// [`Error::Serialize`]: crate::Error::Serialize
    Serialize(BoxError),
    /// Pre-serialized bytes failed validation (reported as [`Error::InvalidValue`]).
    ///
    /// [`Error::InvalidValue`]: crate::Error::InvalidValue
    Invalid(BoxError),
}

/// Converts values of type `V` to bytes and stored bytes to a borrowed view.
///
/// # Contract
/// - `decode` must accept every byte string `encode` produced, and must return an error — never
///   panic or cause undefined behaviour — for any other byte string: stored bytes can be
///   truncated, corrupted, or written by a table of another type.
/// - `encode` must only return bytes that `decode` accepts: invalid input is refused with
///   [`EncodeError::Invalid`] before it reaches the store.
pub trait ValueSerializer<V: ?Sized>: Send + Sync + 'static {
    /// The borrowed view of a stored value that read closures receive.
    type Output<'a>;

    /// Reusable buffers for encoding, so a batch of puts reuses one allocation.
    type Scratch: Default;

    /// The format's name, used in error messages (`"rkyv"`, `"flatbuffers"`, `"raw"`).
    const FORMAT: &'static str;

    /// Encodes `value`, into `scratch` if it needs to; returns the bytes to store.
    fn encode<'s>(
        &self,
        value: &'s V,
        scratch: &'s mut Self::Scratch,
    ) -> Result<&'s [u8], EncodeError>;

    /// The stored value type's name for the table catalog (`User`), or `None` for formats
    /// that have none (raw bytes). Derive it with [`type_name_of`].
    fn value_type_name(&self) -> Option<String>;

    /// Validates `bytes` and returns the view of the value they hold.
    fn decode<'a>(&self, bytes: &'a [u8]) -> Result<Self::Output<'a>, BoxError>;
}

/// A value argument that stands for a `V` in batch writes: `V` itself or `&V`, and for raw
/// byte values (`V = [u8]`) any owned or borrowed byte buffer (`Vec<u8>`, `[u8; N]`,
/// `Box<[u8]>`, rkyv's `AlignedVec`, and references to them).
///
/// ```
/// # let storage = zerotable::Storage::in_memory();
/// let raw = storage.raw_table::<u64>("raw")?;
/// let (a, b) = (vec![1u8], [2u8, 2]);
/// raw.put_batch([(1u64, a.as_slice()), (2, b.as_slice())])?;
/// raw.put_batch([(3u64, &a)])?; // &Vec<u8>
/// raw.put_batch([(4u64, b)])?; // [u8; 2]
/// assert_eq!(raw.len()?, 4);
/// # Ok::<(), zerotable::Error>(())
/// ```
pub trait ValueLike<V: ?Sized> {
    /// The value it stands for.
    fn as_value(&self) -> &V;
}

impl<V> ValueLike<V> for V {
    fn as_value(&self) -> &V {
        self
    }
}

impl<V: ?Sized> ValueLike<V> for &V {
    fn as_value(&self) -> &V {
        self
    }
}

/// Byte buffers that stand for a raw `[u8]` value, owned and borrowed.
macro_rules! bytes_like {
    ($($t:ty $(, const $n:ident)?);* $(;)?) => {$(
        impl<$(const $n: usize)?> ValueLike<[u8]> for $t {
            fn as_value(&self) -> &[u8] {
                &self[..]
            }
        }
    )*};
}

bytes_like!(
    Vec<u8>; &Vec<u8>; Box<[u8]>; &Box<[u8]>; [u8; N], const N; &[u8; N], const N;
    ::rkyv::util::AlignedVec<N>, const N; &::rkyv::util::AlignedVec<N>, const N;
);

/// A [`ValueSerializer`] that can also hand out the view of stored bytes without checking them
/// first: the opt-in behind [`Table::get_unchecked`](crate::Table::get_unchecked), for formats
/// whose check costs more than the read (rkyv's validation; FlatBuffers' verifier, which costs
/// about four times rkyv's on the same record).
pub trait DecodeUnchecked<V: ?Sized>: ValueSerializer<V> {
    /// The view of the value `bytes` hold, unchecked.
    ///
    /// # Safety
    /// `bytes` must be exactly what this serializer's `encode` accepted or produced for the same
    /// type definition, unmodified since. Corrupt or foreign bytes are undefined behaviour.
    unsafe fn decode_unchecked<'a>(&self, bytes: &'a [u8]) -> Self::Output<'a>;
}
