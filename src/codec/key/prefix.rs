//! Leading parts of composite keys, for prefix scans.

use super::{KeyArena, KeyLike};

/// The leading elements of a tuple key `K`, each [`KeyLike`] its element: `(a,)` for `(A, B)`
/// keys; `(a,)` or `(a, b)` for `(A, B, C)` keys; and so on up to four of a five-element key.
///
/// Every key whose leading elements equal the prefix starts with the prefix's encoding (tuple
/// parts are self-delimiting), so a prefix scan is a byte-range scan.
pub trait KeyPrefix<K> {
    /// Appends the encoding of the prefix's elements.
    fn write_prefix(&self, out: &mut KeyArena);
}

/// `KeyPrefix<($K...)>` for the prefix `($P...)` of leading elements.
macro_rules! prefix_of {
    (($($K:ident),+) for ($($P:ident : $E:ident . $i:tt),+)) => {
        impl<$($K,)+ $($P: KeyLike<$E>),+> KeyPrefix<($($K,)+)> for ($($P,)+) {
            fn write_prefix(&self, out: &mut KeyArena) {
                $(self.$i.write_key_part(out);)+
            }
        }
    };
}

prefix_of!((A, B) for (PA: A.0));
prefix_of!((A, B, C) for (PA: A.0));
prefix_of!((A, B, C) for (PA: A.0, PB: B.1));
prefix_of!((A, B, C, D) for (PA: A.0));
prefix_of!((A, B, C, D) for (PA: A.0, PB: B.1));
prefix_of!((A, B, C, D) for (PA: A.0, PB: B.1, PC: C.2));
prefix_of!((A, B, C, D, E) for (PA: A.0));
prefix_of!((A, B, C, D, E) for (PA: A.0, PB: B.1));
prefix_of!((A, B, C, D, E) for (PA: A.0, PB: B.1, PC: C.2));
prefix_of!((A, B, C, D, E) for (PA: A.0, PB: B.1, PC: C.2, PD: D.3));

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
