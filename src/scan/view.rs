//! How a scan views each stored value: validated (the default) or, after
//! [`Scanner::unchecked`](super::Scanner::unchecked), not. Each way gets its own monomorphized
//! walk, so a validated scan pays nothing per row for the other.

use crate::codec::key::{FromKeyBytes, IntoKeyBytes};
use crate::codec::value::{DecodeUnchecked, ValueSerializer};
use crate::error::Result;
use crate::table::Table;

/// How an unchecked scan views a value.
pub(super) type ViewUnchecked<V, S> =
    for<'a> unsafe fn(&S, &'a [u8]) -> <S as ValueSerializer<V>>::Output<'a>;

pub(super) trait ViewValue<V: ?Sized, S: ValueSerializer<V>> {
    fn view<'a, K>(
        &self,
        table: &Table<K, V, S>,
        key: &[u8],
        bytes: &'a [u8],
    ) -> Result<S::Output<'a>>
    where
        K: IntoKeyBytes + FromKeyBytes;
}

/// Validated views (the default).
pub(super) struct Checked;

impl<V: ?Sized, S: ValueSerializer<V>> ViewValue<V, S> for Checked {
    #[inline]
    fn view<'a, K>(
        &self,
        table: &Table<K, V, S>,
        key: &[u8],
        bytes: &'a [u8],
    ) -> Result<S::Output<'a>>
    where
        K: IntoKeyBytes + FromKeyBytes,
    {
        table.decode(key, bytes)
    }
}

/// Unchecked views, set by [`Scanner::unchecked`](super::Scanner::unchecked).
pub(super) struct Unchecked<V: ?Sized, S: ValueSerializer<V>>(pub(super) ViewUnchecked<V, S>);

impl<V: ?Sized, S: ValueSerializer<V>> ViewValue<V, S> for Unchecked<V, S> {
    #[inline]
    fn view<'a, K>(
        &self,
        table: &Table<K, V, S>,
        _: &[u8],
        bytes: &'a [u8],
    ) -> Result<S::Output<'a>>
    where
        K: IntoKeyBytes + FromKeyBytes,
    {
        // SAFETY: this way is only made by `Scanner::unchecked`, whose caller guarantees that
        // every value the scan visits is valid for this serializer.
        Ok(unsafe { (self.0)(&table.serializer, bytes) })
    }
}

/// # Safety
/// As for [`DecodeUnchecked::decode_unchecked`].
pub(super) unsafe fn view_unchecked<'a, V: ?Sized, S: DecodeUnchecked<V>>(
    serializer: &S,
    bytes: &'a [u8],
) -> S::Output<'a> {
    // SAFETY: forwarded: the caller upholds `decode_unchecked`'s contract.
    unsafe { serializer.decode_unchecked(bytes) }
}
