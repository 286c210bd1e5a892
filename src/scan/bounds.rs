//! A scan's bounds, encoded once when the scan is built.

use std::ops::Bound;

use crate::codec::key::{IntoKeyBytes, KeyArena, KeyPrefix, prefix_successor};
use crate::engine::KeyRange;

/// Whether a bound includes its key, excludes it, or is absent.
#[derive(Clone, Copy)]
enum Edge {
    Included,
    Excluded,
    Unbounded,
}

/// A scan's two bounds, encoded into one arena (start bytes, then end bytes): a scanner stays
/// small to move, and both keys stay on the stack up to the arena's inline size together.
pub(super) struct Bounds {
    bytes: KeyArena,
    /// Where the end key starts in `bytes`.
    split: usize,
    start: Edge,
    end: Edge,
}

impl Bounds {
    pub(super) const ALL: Bounds = Bounds {
        bytes: KeyArena::new(),
        split: 0,
        start: Edge::Unbounded,
        end: Edge::Unbounded,
    };

    pub(super) fn encode<Q: IntoKeyBytes + ?Sized>(start: Bound<&Q>, end: Bound<&Q>) -> Self {
        let mut bounds = Bounds::ALL;
        // `key_bytes` may borrow from the key instead of filling its arena: copy either way.
        let mut scratch = KeyArena::new();
        bounds.start = bounds.push(start, &mut scratch);
        bounds.split = bounds.bytes.len();
        scratch.clear();
        bounds.end = bounds.push(end, &mut scratch);
        bounds
    }

    fn push<Q: IntoKeyBytes + ?Sized>(&mut self, bound: Bound<&Q>, scratch: &mut KeyArena) -> Edge {
        let (edge, key) = match bound {
            Bound::Included(key) => (Edge::Included, key),
            Bound::Excluded(key) => (Edge::Excluded, key),
            Bound::Unbounded => return Edge::Unbounded,
        };
        self.bytes.extend_from_slice(key.key_bytes(scratch));
        edge
    }

    /// The tuple keys whose leading elements are `prefix`.
    pub(super) fn prefix<K, P: KeyPrefix<K>>(prefix: &P) -> Self {
        let mut bytes = KeyArena::new();
        prefix.write_prefix(&mut bytes);
        Self::starting_with(bytes.as_slice())
    }

    /// The keys whose encoding starts with `prefix`: from it (included) up to its successor
    /// (excluded; unbounded if it has none, as for a prefix of only `0xFF` bytes).
    pub(super) fn starting_with(prefix: &[u8]) -> Self {
        let mut bounds = Bounds::ALL;
        bounds.bytes.extend_from_slice(prefix);
        bounds.start = Edge::Included;
        bounds.split = bounds.bytes.len();
        let mut successor = KeyArena::new();
        if prefix_successor(prefix, &mut successor) {
            bounds.bytes.extend_from_slice(successor.as_slice());
            bounds.end = Edge::Excluded;
        }
        bounds
    }

    pub(super) fn range(&self, reverse: bool) -> KeyRange<'_> {
        let (start, end) = self.bytes.as_slice().split_at(self.split);
        let bound = |edge, key| match edge {
            Edge::Included => Bound::Included(key),
            Edge::Excluded => Bound::Excluded(key),
            Edge::Unbounded => Bound::Unbounded,
        };
        KeyRange {
            start: bound(self.start, start),
            end: bound(self.end, end),
            reverse,
        }
    }
}
