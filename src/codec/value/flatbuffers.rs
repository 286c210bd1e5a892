//! FlatBuffers values: finished buffers in, verified generated tables out.

use std::marker::PhantomData;

use flatbuffers::{Follow, Verifiable};

use super::{DecodeUnchecked, EncodeError, ValueSerializer};
use crate::error::BoxError;

/// Names the borrowed view of a flatc-generated root table, for every buffer lifetime.
///
/// flatc generates `Monster<'a>`, a view tied to the buffer it reads. A table stores the
/// `'static` instance as its type parameter and [`View<'a>`](Self::View) recovers the view at
/// the lifetime of the stored bytes, so a read can never outlive the page it borrows from
/// (binding `Follow<'static>` to borrowed bytes, as a naive design would, is unsound).
///
/// Implement it with [`flatbuffer_root!`](crate::flatbuffer_root):
/// ```ignore
/// zerotable::flatbuffer_root!(my_schema::Monster);
/// ```
pub trait FlatBufferRoot: 'static {
    /// The generated table type at lifetime `'a`.
    type View<'a>: Follow<'a, Inner = Self::View<'a>> + Verifiable + 'a;
}

/// Implements [`FlatBufferRoot`] for flatc-generated root tables, given their paths.
#[macro_export]
macro_rules! flatbuffer_root {
    ($($root:ident)::+ $(,)?) => {
        impl $crate::FlatBufferRoot for $($root)::+<'static> {
            type View<'a> = $($root)::+<'a>;
        }
    };
    ($($($root:ident)::+),+ $(,)?) => {
        $( $crate::flatbuffer_root!($($root)::+); )+
    };
}

/// Verifies `bytes` as a `T` buffer and returns the root table view.
fn root<T: FlatBufferRoot>(bytes: &[u8]) -> Result<T::View<'_>, flatbuffers::InvalidFlatbuffer> {
    flatbuffers::root::<T::View<'_>>(bytes)
}

/// Stores finished FlatBuffers (verified before storing); reads give the verified root table.
pub struct FlatBuffersSerializer<T>(PhantomData<fn() -> T>);

super::rkyv::phantom_serializer!(FlatBuffersSerializer);

impl<T: FlatBufferRoot> ValueSerializer<[u8]> for FlatBuffersSerializer<T> {
    type Output<'a> = T::View<'a>;
    type Scratch = ();
    const FORMAT: &'static str = "flatbuffers";

    fn value_type_name(&self) -> Option<String> {
        Some(super::type_name_of::<T>())
    }

    fn encode<'s>(&self, value: &'s [u8], _: &'s mut ()) -> Result<&'s [u8], EncodeError> {
        root::<T>(value).map_err(|e| EncodeError::Invalid(Box::new(e)))?;
        Ok(value)
    }

    fn decode<'a>(&self, bytes: &'a [u8]) -> Result<T::View<'a>, BoxError> {
        Ok(root::<T>(bytes)?)
    }
}

impl<T: FlatBufferRoot> DecodeUnchecked<[u8]> for FlatBuffersSerializer<T> {
    #[inline]
    unsafe fn decode_unchecked<'a>(&self, bytes: &'a [u8]) -> T::View<'a> {
        // SAFETY: the caller guarantees `bytes` are a buffer this serializer's `encode`
        // verified as a `T`, unmodified since: reading its root without verifying is sound.
        unsafe { flatbuffers::root_unchecked::<T::View<'a>>(bytes) }
    }
}
