//! Leading parts of composite keys, for prefix scans.

use super::{IntoKeyBytes, KeyArena};

/// A value that encodes exactly like a tuple element of type `T`: `T` itself, a reference to
/// it, or the borrowed form of an owned string or byte string.
pub trait KeyPartOf<T: ?Sized>: IntoKeyBytes {}

impl<T: IntoKeyBytes> KeyPartOf<T> for T {}
impl<T: IntoKeyBytes + ?Sized> KeyPartOf<T> for &T {}
impl KeyPartOf<String> for &str {}
impl KeyPartOf<Vec<u8>> for &[u8] {}

/// The leading elements of a tuple key `K`: `(a,)` for `(A, B)` keys; `(a,)` or `(a, b)` for
/// `(A, B, C)` keys.
///
/// Every key whose leading elements equal the prefix starts with the prefix's encoding (tuple
/// parts are self-delimiting), so a prefix scan is a byte-range scan.
pub trait KeyPrefix<K> {
    /// Appends the encoding of the prefix's elements.
    fn write_prefix(&self, out: &mut KeyArena);
}

impl<A, B, PA: KeyPartOf<A>> KeyPrefix<(A, B)> for (PA,) {
    fn write_prefix(&self, out: &mut KeyArena) {
        self.0.write_key_part(out);
    }
}

impl<A, B, C, PA: KeyPartOf<A>> KeyPrefix<(A, B, C)> for (PA,) {
    fn write_prefix(&self, out: &mut KeyArena) {
        self.0.write_key_part(out);
    }
}

impl<A, B, C, PA: KeyPartOf<A>, PB: KeyPartOf<B>> KeyPrefix<(A, B, C)> for (PA, PB) {
    fn write_prefix(&self, out: &mut KeyArena) {
        self.0.write_key_part(out);
        self.1.write_key_part(out);
    }
}

/// The smallest byte string greater than every string starting with `prefix`, if any:
/// drop trailing `0xFF`s and increment the last byte. Written into `out`.
pub(crate) fn prefix_successor(prefix: &[u8], out: &mut KeyArena) -> bool {
    let Some(last) = prefix.iter().rposition(|&b| b != 0xFF) else {
        return false;
    };
    out.clear();
    out.extend_from_slice(&prefix[..last]);
    out.push(prefix[last] + 1);
    true
}
