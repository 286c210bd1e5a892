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
pub(crate) struct Bounds {
    bytes: KeyArena,
    /// Where the end key starts in `bytes`.
    split: usize,
    start: Edge,
    end: Edge,
}

impl Bounds {
    pub(crate) const ALL: Bounds = Bounds {
        bytes: KeyArena::new(),
        split: 0,
        start: Edge::Unbounded,
        end: Edge::Unbounded,
    };

    pub(crate) fn encode<Q: IntoKeyBytes + ?Sized>(start: Bound<&Q>, end: Bound<&Q>) -> Self {
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
    pub(crate) fn prefix<K, P: KeyPrefix<K>>(prefix: &P) -> Self {
        let mut bytes = KeyArena::new();
        prefix.write_prefix(&mut bytes);
        Self::starting_with(bytes.as_slice())
    }

    /// The keys whose encoding starts with `prefix`: from it (included) up to its successor
    /// (excluded; unbounded if it has none, as for a prefix of only `0xFF` bytes).
    pub(crate) fn starting_with(prefix: &[u8]) -> Self {
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

    /// Bounds over keys that begin with the part encoding of a key (index entries: the index
    /// key's part, then the primary key): every key starting with the part of a key within
    /// `start..end`. Part encodings are prefix-free and ordered like their keys, so a key's
    /// entries lie between its part and that part's successor.
    pub(crate) fn leading_part<Q: IntoKeyBytes + ?Sized>(start: Bound<&Q>, end: Bound<&Q>) -> Self {
        let mut bounds = Bounds::ALL;
        let mut part = KeyArena::new();
        let mut successor = KeyArena::new();
        let part_of = |key: &Q, part: &mut KeyArena| {
            part.clear();
            key.write_key_part(part);
        };
        match start {
            Bound::Included(key) => {
                part_of(key, &mut part);
                bounds.bytes.extend_from_slice(part.as_slice());
                bounds.start = Edge::Included;
            }
            Bound::Excluded(key) => {
                part_of(key, &mut part);
                if !prefix_successor(part.as_slice(), &mut successor) {
                    // Nothing sorts after every extension of the greatest key: empty.
                    bounds.split = 0;
                    bounds.end = Edge::Excluded;
                    return bounds;
                }
                bounds.bytes.extend_from_slice(successor.as_slice());
                bounds.start = Edge::Included;
            }
            Bound::Unbounded => {}
        }
        bounds.split = bounds.bytes.len();
        match end {
            Bound::Included(key) => {
                part_of(key, &mut part);
                if prefix_successor(part.as_slice(), &mut successor) {
                    bounds.bytes.extend_from_slice(successor.as_slice());
                    bounds.end = Edge::Excluded;
                }
            }
            Bound::Excluded(key) => {
                part_of(key, &mut part);
                bounds.bytes.extend_from_slice(part.as_slice());
                bounds.end = Edge::Excluded;
            }
            Bound::Unbounded => {}
        }
        bounds
    }

    /// Whether `key` lies within the bounds.
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        let (start, end) = self.bytes.as_slice().split_at(self.split);
        let after_start = match self.start {
            Edge::Included => key >= start,
            Edge::Excluded => key > start,
            Edge::Unbounded => true,
        };
        let before_end = match self.end {
            Edge::Included => key <= end,
            Edge::Excluded => key < end,
            Edge::Unbounded => true,
        };
        after_start && before_end
    }

    pub(crate) fn range(&self, reverse: bool) -> KeyRange<'_> {
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
