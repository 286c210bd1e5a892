//! Key arguments: values that encode exactly like a key type, so that lookups, bounds and
//! prefixes can be written with borrowed forms — `"alice"` for a `String` key, `&bytes[..]` for
//! a `Vec<u8>` key, `("alice", 7)` for a `(String, u64)` key — without building the owned key.

use std::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

use super::IntoKeyBytes;

/// A value whose encoding is exactly that of some key of type `K`, in both the standalone and
/// the tuple-part form: `K` itself, a reference to a `KeyLike<K>`, `str` for `String`, `[u8]`
/// for `Vec<u8>`, and tuples of key-likes for tuple keys, element by element.
///
/// Every method of a table that takes a key or a bound takes a `KeyLike<K>`:
///
/// ```
/// # let storage = zerotable::Storage::in_memory();
/// let visits = storage.raw_table::<(String, u64)>("visits")?;
/// visits.put(&("ada", 7), b"x")?; // (&str, integer) for (String, u64): nothing allocated
/// assert!(visits.contains(&("ada", 7))?);
/// let owned = ("ada".to_string(), 7u64);
/// assert!(visits.contains(&owned)?); // the owned key works too
/// # Ok::<(), zerotable::Error>(())
/// ```
///
/// A key type of your own implements it for itself, beside [`IntoKeyBytes`] and
/// [`FromKeyBytes`](super::FromKeyBytes): `impl KeyLike<MyKey> for MyKey {}` (one line: there
/// is no blanket identity, which would overlap the element-wise impls of tuples).
pub trait KeyLike<K: ?Sized>: IntoKeyBytes {}

impl<K: ?Sized, T: KeyLike<K> + ?Sized> KeyLike<K> for &T {}

impl KeyLike<String> for String {}
impl KeyLike<String> for str {}
impl KeyLike<Vec<u8>> for Vec<u8> {}
impl KeyLike<Vec<u8>> for [u8] {}
impl<const N: usize> KeyLike<[u8; N]> for [u8; N] {}
impl KeyLike<bool> for bool {}

macro_rules! like_itself {
    ($($t:ty),*) => {$(impl KeyLike<$t> for $t {})*};
}

like_itself!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

/// A range of keys of type `K`, written with [`KeyLike`] bounds: `a..b`, `a..=b`, `a..`,
/// `..b`, `..=b`, `..`, or a `(Bound, Bound)` pair. One impl per range form, so the bound type
/// is read off the range itself (`"a".."b"` on a `String` table needs no annotation).
///
/// ```
/// use std::ops::Bound;
/// # let storage = zerotable::Storage::in_memory();
/// let words = storage.raw_table::<String>("words")?;
/// for w in ["apple", "banana", "cherry"] {
///     words.put(w, b"")?;
/// }
/// assert_eq!(words.range("b"..).count()?, 2);
/// assert_eq!(words.range(..="banana").count()?, 2);
/// assert_eq!(words.range((Bound::Excluded("apple"), Bound::Unbounded)).count()?, 2);
/// assert_eq!(words.range(..).count()?, 3);
/// # Ok::<(), zerotable::Error>(())
/// ```
pub trait KeyBounds<K> {
    /// What the bounds are written with.
    type Bound: KeyLike<K> + ?Sized;

    /// The start and end bounds.
    fn key_bounds(&self) -> (Bound<&Self::Bound>, Bound<&Self::Bound>);
}

impl<K, Q: KeyLike<K>> KeyBounds<K> for Range<Q> {
    type Bound = Q;
    fn key_bounds(&self) -> (Bound<&Q>, Bound<&Q>) {
        (Bound::Included(&self.start), Bound::Excluded(&self.end))
    }
}

impl<K, Q: KeyLike<K>> KeyBounds<K> for RangeInclusive<Q> {
    type Bound = Q;
    fn key_bounds(&self) -> (Bound<&Q>, Bound<&Q>) {
        (Bound::Included(self.start()), Bound::Included(self.end()))
    }
}

impl<K, Q: KeyLike<K>> KeyBounds<K> for RangeFrom<Q> {
    type Bound = Q;
    fn key_bounds(&self) -> (Bound<&Q>, Bound<&Q>) {
        (Bound::Included(&self.start), Bound::Unbounded)
    }
}

impl<K, Q: KeyLike<K>> KeyBounds<K> for RangeTo<Q> {
    type Bound = Q;
    fn key_bounds(&self) -> (Bound<&Q>, Bound<&Q>) {
        (Bound::Unbounded, Bound::Excluded(&self.end))
    }
}

impl<K, Q: KeyLike<K>> KeyBounds<K> for RangeToInclusive<Q> {
    type Bound = Q;
    fn key_bounds(&self) -> (Bound<&Q>, Bound<&Q>) {
        (Bound::Unbounded, Bound::Included(&self.end))
    }
}

impl<K: KeyLike<K>> KeyBounds<K> for RangeFull {
    type Bound = K;
    fn key_bounds(&self) -> (Bound<&K>, Bound<&K>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}

impl<K, Q: KeyLike<K>> KeyBounds<K> for (Bound<Q>, Bound<Q>) {
    type Bound = Q;
    fn key_bounds(&self) -> (Bound<&Q>, Bound<&Q>) {
        (self.0.as_ref(), self.1.as_ref())
    }
}
