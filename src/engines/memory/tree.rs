//! A persistent (copy-on-write) B+tree of byte keys and byte values.
//!
//! Nodes are reference counted ([`Arc`]). Cloning a [`Tree`] is one reference-count increment;
//! a mutation goes down through [`Arc::make_mut`], which clones a node only while someone else
//! (a snapshot, the committed state) still shares it. So the first write after a snapshot copies
//! one root-to-leaf path, and later writes to the same path change the copies in place.
//!
//! Entries are stored packed: a leaf keeps all its key bytes in one buffer, with a `u32` end
//! offset per entry (see [`Packed`]), and all its value bytes in another, in the order they
//! were written, with a span per entry (see [`Values`]: an insertion appends its value rather
//! than shifting the values after it). A point read binary-searches one contiguous key buffer
//! and a scan walks contiguous memory. Branches pack their separator keys the same way.
//!
//! Nodes split when they exceed [`MAX_ENTRIES`] entries (children, for a branch) or, holding
//! two entries or more, [`MAX_BYTES`] bytes. A deletion removes a node left empty and merges an
//! underfull node (under a quarter of the entry limit and half the byte limit) into a neighbour
//! when the two fit in one node; otherwise the underfull node is tolerated.

use std::cmp::Ordering;
use std::ops::{Bound, ControlFlow};
use std::sync::Arc;

use crate::engine::{KeyRange, Visit};
use crate::error::Result;

/// Most entries in a leaf, children in a branch.
const MAX_ENTRIES: usize = 64;
/// Most key and value bytes in a leaf (separator bytes in a branch) once it holds two entries.
const MAX_BYTES: usize = 8 * 1024;
/// A node with fewer entries (and under half [`MAX_BYTES`]) is merged into a neighbour if they fit.
const MIN_ENTRIES: usize = MAX_ENTRIES / 4;
/// Longest key, and longest value: offsets are `u32`, and with items this size no node's
/// buffer can outgrow them (a node holds at most `2^31` bytes, splits in halves by bytes).
pub(super) const MAX_ITEM: usize = 1 << 28;

/// Byte strings stored back to back in one buffer, with the end offset of each.
#[derive(Debug, Default)]
struct Packed {
    data: Vec<u8>,
    ends: Vec<u32>,
}

/// A copy (a node copied because a snapshot shares it) gets a little room to grow: it is about
/// to be written, and an exact-size copy would be reallocated by that very write.
impl Clone for Packed {
    fn clone(&self) -> Self {
        let mut data = Vec::with_capacity(self.data.len() + self.data.len() / 8 + 16);
        data.extend_from_slice(&self.data);
        let mut ends = Vec::with_capacity(self.ends.len() + 2);
        ends.extend_from_slice(&self.ends);
        Packed { data, ends }
    }
}

/// The first 8 bytes of `key`, zero-padded, as a big-endian number: keys compare as their heads
/// do, except that equal heads need the full keys compared.
fn head(key: &[u8]) -> u64 {
    let mut bytes = [0; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(bytes)
}

/// Sorted keys: [`Packed`] plus the [`head`] of each in one array, which a search walks instead
/// of the key bytes (fewer cache lines; no byte comparison until heads tie).
#[derive(Clone, Debug, Default)]
struct Keys {
    packed: Packed,
    heads: Vec<u64>,
}

impl Keys {
    fn len(&self) -> usize {
        self.heads.len()
    }

    fn bytes(&self) -> usize {
        self.packed.bytes()
    }

    fn start(&self, i: usize) -> usize {
        self.packed.start(i)
    }

    fn get(&self, i: usize) -> &[u8] {
        self.packed.get(i)
    }

    /// How key `i` compares with `key`, whose head is `h`.
    fn cmp_at(&self, i: usize, key: &[u8], h: u64) -> Ordering {
        self.heads[i]
            .cmp(&h)
            .then_with(|| self.packed.get(i).cmp(key))
    }

    /// Number of keys below `key`.
    fn lower_bound(&self, key: &[u8]) -> usize {
        let h = head(key);
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.cmp_at(mid, key, h) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Number of keys at or below `key`.
    fn upper_bound(&self, key: &[u8]) -> usize {
        let h = head(key);
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.cmp_at(mid, key, h) != Ordering::Greater {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// `Ok(index)` of `key`, or `Err(index)` where it would be inserted.
    fn search(&self, key: &[u8]) -> std::result::Result<usize, usize> {
        let h = head(key);
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.cmp_at(mid, key, h) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn insert(&mut self, i: usize, key: &[u8]) {
        self.packed.insert(i, key);
        self.heads.insert(i, head(key));
    }

    fn push(&mut self, key: &[u8]) {
        self.packed.push(key);
        self.heads.push(head(key));
    }

    fn remove(&mut self, i: usize) {
        self.packed.remove(i);
        self.heads.remove(i);
    }

    fn split_off(&mut self, i: usize) -> Keys {
        Keys {
            packed: self.packed.split_off(i),
            heads: self.heads.split_off(i),
        }
    }

    fn append(&mut self, other: &Keys) {
        self.packed.append(&other.packed);
        self.heads.extend_from_slice(&other.heads);
    }
}

impl Packed {
    fn bytes(&self) -> usize {
        self.data.len()
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] as usize }
    }

    fn get(&self, i: usize) -> &[u8] {
        &self.data[self.start(i)..self.ends[i] as usize]
    }

    /// Room for `extra` more bytes, growing by at least a quarter: little slack, few copies.
    fn reserve(&mut self, extra: usize) {
        if self.data.capacity() - self.data.len() < extra {
            self.data.reserve_exact(extra.max(self.data.len() / 4));
        }
    }

    fn insert(&mut self, i: usize, bytes: &[u8]) {
        let at = self.start(i);
        let old_len = self.data.len();
        self.reserve(bytes.len());
        self.data.extend_from_slice(bytes);
        self.data.copy_within(at..old_len, at + bytes.len());
        self.data[at..at + bytes.len()].copy_from_slice(bytes);
        let n = bytes.len() as u32;
        self.ends.insert(i, at as u32 + n);
        for end in &mut self.ends[i + 1..] {
            *end += n;
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.data.extend_from_slice(bytes);
        self.ends.push(self.data.len() as u32);
    }

    fn remove(&mut self, i: usize) {
        let (start, end) = (self.start(i), self.ends[i] as usize);
        self.data.drain(start..end);
        self.ends.remove(i);
        let n = (end - start) as u32;
        for end in &mut self.ends[i..] {
            *end -= n;
        }
    }

    /// Moves strings `i..` out into a new `Packed`, allocated to size.
    fn split_off(&mut self, i: usize) -> Packed {
        let at = self.start(i);
        let right = Packed {
            data: self.data[at..].to_vec(),
            ends: self.ends[i..].iter().map(|end| end - at as u32).collect(),
        };
        self.data.truncate(at);
        self.ends.truncate(i);
        self.data.shrink_to(at + at / 4);
        right
    }

    fn append(&mut self, other: &Packed) {
        let base = self.data.len() as u32;
        self.reserve(other.data.len());
        self.data.extend_from_slice(&other.data);
        self.ends.extend(other.ends.iter().map(|end| end + base));
    }
}

/// The values of a leaf, in the order they were written rather than in key order: entry `i`'s
/// value is `data[spans[i].0..spans[i].1]`. An insertion appends its value and shifts only the
/// small `spans` array, not the value bytes of the entries after it; a deletion or a longer
/// replacement leaves garbage behind, compacted away (back into key order) once it makes up a
/// quarter of the buffer, and whenever the leaf is copied or split.
#[derive(Debug, Default)]
struct Values {
    data: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// Bytes of `data` that no entry uses.
    garbage: usize,
}

impl Clone for Values {
    fn clone(&self) -> Self {
        self.compacted(self.bytes() / 8 + 16, 2)
    }
}

impl Values {
    /// Bytes of the values.
    fn bytes(&self) -> usize {
        self.data.len() - self.garbage
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let (start, end) = self.spans[i];
        &self.data[start as usize..end as usize]
    }

    /// Bytes of the values of entries `..i`.
    fn bytes_before(&self, i: usize) -> usize {
        self.spans[..i]
            .iter()
            .map(|&(start, end)| (end - start) as usize)
            .sum()
    }

    /// The values of entries `from..`, in key order, with `room` spare bytes and `slots` spare
    /// spans.
    fn compacted_from(&self, from: usize, room: usize, slots: usize) -> Values {
        let spans = &self.spans[from..];
        let bytes: usize = spans.iter().map(|&(s, e)| (e - s) as usize).sum();
        let mut out = Values {
            data: Vec::with_capacity(bytes + room),
            spans: Vec::with_capacity(spans.len() + slots),
            garbage: 0,
        };
        for &(start, end) in spans {
            out.push(&self.data[start as usize..end as usize]);
        }
        out
    }

    fn compacted(&self, room: usize, slots: usize) -> Values {
        self.compacted_from(0, room, slots)
    }

    /// Appends `bytes` to the buffer (growing it by half at least: growth copies the whole
    /// buffer, and nothing else does); returns their span.
    fn append_bytes(&mut self, bytes: &[u8]) -> (u32, u32) {
        if self.data.capacity() - self.data.len() < bytes.len() {
            self.data
                .reserve_exact(bytes.len().max(self.data.len() / 2));
        }
        let start = self.data.len() as u32;
        self.data.extend_from_slice(bytes);
        (start, self.data.len() as u32)
    }

    fn push(&mut self, bytes: &[u8]) {
        let span = self.append_bytes(bytes);
        self.spans.push(span);
    }

    fn insert(&mut self, i: usize, bytes: &[u8]) {
        let span = self.append_bytes(bytes);
        self.spans.insert(i, span);
    }

    fn replace(&mut self, i: usize, bytes: &[u8]) {
        let (start, end) = self.spans[i];
        let old = (end - start) as usize;
        if bytes.len() <= old {
            let start = start as usize;
            self.data[start..start + bytes.len()].copy_from_slice(bytes);
            self.spans[i].1 = (start + bytes.len()) as u32;
            self.garbage += old - bytes.len();
        } else {
            self.spans[i] = self.append_bytes(bytes);
            self.garbage += old;
        }
        self.collect_garbage();
    }

    fn remove(&mut self, i: usize) {
        let (start, end) = self.spans.remove(i);
        self.garbage += (end - start) as usize;
        self.collect_garbage();
    }

    /// Compacts the buffer once garbage makes up a quarter of it.
    fn collect_garbage(&mut self) {
        if self.garbage * 4 > self.data.len() {
            let room = self.bytes() / 8 + 16;
            *self = self.compacted(room, 0);
        }
    }

    /// Moves the values of entries `i..` out into a new `Values` with room to grow by a quarter
    /// of the leaf split (inserts follow, mostly there for an append); the rest is compacted,
    /// with a quarter of its size to grow.
    fn split_off(&mut self, i: usize) -> Values {
        let right = self.compacted_from(i, self.bytes() / 4, 0);
        self.spans.truncate(i);
        let room = self.bytes_before(i) / 4;
        *self = self.compacted(room, i / 4);
        right
    }

    fn append(&mut self, other: &Values) {
        for i in 0..other.len() {
            self.push(other.get(i));
        }
    }
}

/// The index where a node of `n` entries whose first `i` entries hold `bytes_before(i)` bytes
/// splits in two of about the same size: halves by bytes (by count when sizes are even), each
/// side keeping an entry at least.
fn split_point(n: usize, total: usize, bytes_before: impl Fn(usize) -> usize) -> usize {
    let (mut lo, mut hi) = (1, n - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if bytes_before(mid) * 2 < total {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Leaf),
    Branch(Branch),
}

/// Entries `i` of a leaf: `keys.get(i)`, `values.get(i)`, keys ascending.
#[derive(Clone, Debug, Default)]
struct Leaf {
    keys: Keys,
    values: Values,
}

/// `children[i]` holds the keys from `seps.get(i - 1)` (included) to `seps.get(i)` (excluded).
#[derive(Clone, Debug)]
struct Branch {
    seps: Keys,
    children: Vec<Arc<Node>>,
}

/// A split-off right sibling and the separator key in front of it.
type Split = (Vec<u8>, Node);

impl Leaf {
    fn bytes(&self) -> usize {
        self.keys.bytes() + self.values.bytes()
    }

    fn is_over(&self) -> bool {
        let n = self.keys.len();
        n > MAX_ENTRIES || (n >= 2 && self.bytes() > MAX_BYTES)
    }

    /// Splits an overfull leaf; `at_end` (an append past every key) leaves it full instead of
    /// half full, so that loading keys in order packs leaves tight.
    fn split(&mut self, at_end: bool) -> Split {
        let n = self.keys.len();
        let at = if at_end && n > MAX_ENTRIES && self.bytes() <= MAX_BYTES {
            n - 1
        } else {
            split_point(n, self.bytes(), |i| {
                self.keys.start(i) + self.values.bytes_before(i)
            })
        };
        let right = Leaf {
            keys: self.keys.split_off(at),
            values: self.values.split_off(at),
        };
        (right.keys.get(0).to_vec(), Node::Leaf(right))
    }
}

impl Branch {
    fn is_over(&self) -> bool {
        let n = self.children.len();
        n > MAX_ENTRIES || (n >= 3 && self.seps.bytes() > MAX_BYTES)
    }

    fn split(&mut self, at_end: bool) -> Split {
        let n = self.seps.len();
        // The separator at `at` moves up; the left keeps `at` separators, the right the rest.
        let at = if at_end && self.seps.bytes() <= MAX_BYTES {
            n - 1
        } else {
            split_point(n, self.seps.bytes(), |i| self.seps.start(i)).min(n - 1)
        };
        let mut right_seps = self.seps.split_off(at);
        let sep = right_seps.get(0).to_vec();
        right_seps.remove(0);
        let right = Branch {
            seps: right_seps,
            children: self.children.split_off(at + 1),
        };
        (sep, Node::Branch(right))
    }

    /// Removes child `i` (empty) and a separator next to it.
    fn remove_child(&mut self, i: usize) {
        self.children.remove(i);
        if self.seps.len() > 0 {
            self.seps.remove(i.saturating_sub(1));
        }
    }

    /// Merges child `i` into its neighbour if it is underfull and they fit in one node.
    fn rebalance(&mut self, i: usize) {
        if self.children.len() < 2 || !self.children[i].is_under() {
            return;
        }
        let left = if i + 1 < self.children.len() {
            i
        } else {
            i - 1
        };
        let (a, b) = (&*self.children[left], &*self.children[left + 1]);
        let fits = match (a, b) {
            (Node::Leaf(a), Node::Leaf(b)) => {
                a.keys.len() + b.keys.len() <= MAX_ENTRIES && a.bytes() + b.bytes() <= MAX_BYTES
            }
            (Node::Branch(a), Node::Branch(b)) => {
                a.children.len() + b.children.len() <= MAX_ENTRIES
                    && a.seps.bytes() + b.seps.bytes() + self.seps.get(left).len() <= MAX_BYTES
            }
            _ => false,
        };
        if !fits {
            return;
        }
        let right = self.children.remove(left + 1);
        let sep = self.seps.get(left).to_vec();
        self.seps.remove(left);
        match (Arc::make_mut(&mut self.children[left]), &*right) {
            (Node::Leaf(a), Node::Leaf(b)) => {
                a.keys.append(&b.keys);
                a.values.append(&b.values);
            }
            (Node::Branch(a), Node::Branch(b)) => {
                a.seps.push(&sep);
                a.seps.append(&b.seps);
                a.children.extend(b.children.iter().cloned());
            }
            _ => unreachable!("siblings are at the same depth"),
        }
    }
}

/// Splits an overfull `node` into as many nodes as it takes for each to be within the limits
/// (two, unless large entries crowd one half), pushing the right siblings to `out` in order.
fn split_node(node: &mut Node, at_end: bool, out: &mut Vec<Split>) {
    let (sep, mut right) = match node {
        Node::Leaf(leaf) => leaf.split(at_end),
        Node::Branch(branch) => branch.split(at_end),
    };
    if node.is_over() {
        split_node(node, false, out);
    }
    let mut rest = Vec::new();
    if right.is_over() {
        split_node(&mut right, at_end, &mut rest);
    }
    out.push((sep, right));
    out.append(&mut rest);
}

impl Node {
    fn is_over(&self) -> bool {
        match self {
            Node::Leaf(leaf) => leaf.is_over(),
            Node::Branch(branch) => branch.is_over(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Node::Leaf(leaf) => leaf.keys.len() == 0,
            Node::Branch(branch) => branch.children.is_empty(),
        }
    }

    fn is_under(&self) -> bool {
        match self {
            Node::Leaf(leaf) => leaf.keys.len() < MIN_ENTRIES && leaf.bytes() < MAX_BYTES / 2,
            Node::Branch(branch) => {
                branch.children.len() < MIN_ENTRIES && branch.seps.bytes() < MAX_BYTES / 2
            }
        }
    }

    /// Inserts or replaces; returns whether the key is new, and the right siblings split off
    /// (none mostly: an empty `Vec` does not allocate). `rightmost`: this node holds the tree's
    /// greatest keys.
    fn insert(&mut self, key: &[u8], value: &[u8], rightmost: bool) -> (bool, Vec<Split>) {
        let (new, at_end) = match self {
            Node::Leaf(leaf) => match leaf.keys.search(key) {
                Ok(i) => {
                    leaf.values.replace(i, value);
                    (false, false)
                }
                Err(i) => {
                    leaf.keys.insert(i, key);
                    leaf.values.insert(i, value);
                    (true, rightmost && i + 1 == leaf.keys.len())
                }
            },
            Node::Branch(branch) => {
                let i = branch.seps.upper_bound(key);
                let last = i + 1 == branch.children.len();
                let child = Arc::make_mut(&mut branch.children[i]);
                let (new, splits) = child.insert(key, value, rightmost && last);
                for (j, (sep, right)) in splits.into_iter().enumerate() {
                    branch.seps.insert(i + j, &sep);
                    branch.children.insert(i + j + 1, Arc::new(right));
                }
                (new, rightmost && last)
            }
        };
        let mut splits = Vec::new();
        if self.is_over() {
            split_node(self, at_end, &mut splits);
        }
        (new, splits)
    }

    /// Removes `key`, which is present.
    fn remove(&mut self, key: &[u8]) {
        match self {
            Node::Leaf(leaf) => {
                if let Ok(i) = leaf.keys.search(key) {
                    leaf.keys.remove(i);
                    leaf.values.remove(i);
                }
            }
            Node::Branch(branch) => {
                let i = branch.seps.upper_bound(key);
                let child = Arc::make_mut(&mut branch.children[i]);
                child.remove(key);
                if child.is_empty() {
                    branch.remove_child(i);
                } else {
                    branch.rebalance(i);
                }
            }
        }
    }

    /// Visits the entries within `start..end` in order (descending if `reverse`).
    fn walk(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<ControlFlow<()>> {
        match self {
            Node::Leaf(leaf) => {
                let from = match start {
                    Bound::Included(s) => leaf.keys.lower_bound(s),
                    Bound::Excluded(s) => leaf.keys.upper_bound(s),
                    Bound::Unbounded => 0,
                };
                let to = match end {
                    Bound::Included(e) => leaf.keys.upper_bound(e),
                    Bound::Excluded(e) => leaf.keys.lower_bound(e),
                    Bound::Unbounded => leaf.keys.len(),
                };
                if from >= to {
                    return Ok(ControlFlow::Continue(()));
                }
                let (keys, values) = (&leaf.keys, &leaf.values);
                if reverse {
                    for i in (from..to).rev() {
                        if visit(keys.get(i), values.get(i))?.is_break() {
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                } else {
                    for i in from..to {
                        if visit(keys.get(i), values.get(i))?.is_break() {
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                }
                Ok(ControlFlow::Continue(()))
            }
            Node::Branch(branch) => {
                let first = match start {
                    Bound::Included(s) | Bound::Excluded(s) => branch.seps.upper_bound(s),
                    Bound::Unbounded => 0,
                };
                let last = match end {
                    Bound::Included(e) => branch.seps.upper_bound(e),
                    Bound::Excluded(e) => branch.seps.lower_bound(e),
                    Bound::Unbounded => branch.children.len() - 1,
                };
                if first > last {
                    return Ok(ControlFlow::Continue(()));
                }
                // Only the first and last child need the bounds: the ones between lie inside.
                let child = |c: usize, visit: &mut Visit<'_>| {
                    let s = if c == first { start } else { Bound::Unbounded };
                    let e = if c == last { end } else { Bound::Unbounded };
                    branch.children[c].walk(s, e, reverse, visit)
                };
                if reverse {
                    for c in (first..=last).rev() {
                        if child(c, visit)?.is_break() {
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                } else {
                    for c in first..=last {
                        if child(c, visit)?.is_break() {
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                }
                Ok(ControlFlow::Continue(()))
            }
        }
    }
}

/// A B+tree; cloning it is O(1) and the clones are independent (copy-on-write).
#[derive(Clone, Debug, Default)]
pub(super) struct Tree {
    root: Option<Arc<Node>>,
    len: u64,
}

impl Tree {
    /// Number of entries.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The value stored for `key`.
    pub(super) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let mut node = self.root.as_deref()?;
        loop {
            match node {
                Node::Branch(branch) => node = &branch.children[branch.seps.upper_bound(key)],
                Node::Leaf(leaf) => {
                    return leaf.keys.search(key).ok().map(|i| leaf.values.get(i));
                }
            }
        }
    }

    /// Inserts or replaces `key`'s value (each at most [`MAX_ITEM`] bytes); returns whether the
    /// key is new. Copies the nodes on its path that someone else shares.
    pub(super) fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        debug_assert!(key.len() <= MAX_ITEM && value.len() <= MAX_ITEM);
        let root = self
            .root
            .get_or_insert_with(|| Arc::new(Node::Leaf(Leaf::default())));
        let (new, mut splits) = Arc::make_mut(root).insert(key, value, true);
        // A root that split gets a parent, which may split in turn (large separators).
        while !splits.is_empty() {
            let mut branch = Branch {
                seps: Keys::default(),
                children: vec![self.root.take().expect("just inserted into")],
            };
            for (sep, right) in splits.drain(..) {
                branch.seps.push(&sep);
                branch.children.push(Arc::new(right));
            }
            let mut root = Node::Branch(branch);
            if root.is_over() {
                split_node(&mut root, true, &mut splits);
            }
            self.root = Some(Arc::new(root));
        }
        self.len += u64::from(new);
        new
    }

    /// Applies `changes` (`None`: a deletion), in key order: each one descends from the root,
    /// copying only what someone else shares.
    pub(super) fn apply<'a>(
        &mut self,
        changes: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    ) {
        for (key, value) in changes {
            match value {
                Some(value) => {
                    self.insert(key, value);
                }
                None => {
                    self.remove(key);
                }
            }
        }
    }

    /// Removes `key`; returns whether it was there. Copies nothing when it was not.
    pub(super) fn remove(&mut self, key: &[u8]) -> bool {
        if self.get(key).is_none() {
            return false;
        }
        let Some(root) = &mut self.root else {
            return false;
        };
        Arc::make_mut(root).remove(key);
        self.len -= 1;
        // A root left with one child hands over to it; an empty tree has no root.
        loop {
            self.root = match self.root.as_deref() {
                Some(Node::Branch(branch)) if branch.children.len() == 1 => {
                    Some(Arc::clone(&branch.children[0]))
                }
                Some(node) if node.is_empty() => None,
                _ => break,
            };
        }
        true
    }

    /// Visits the entries within `range`, in its direction, until `visit` breaks or fails.
    pub(super) fn range(&self, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        if let Some(root) = &self.root {
            let _ = root.walk(range.start, range.end, range.reverse, visit)?;
        }
        Ok(())
    }

    /// Key and value bytes stored.
    pub(super) fn stored_bytes(&self) -> u64 {
        fn bytes(node: &Node) -> u64 {
            match node {
                Node::Leaf(leaf) => leaf.bytes() as u64,
                Node::Branch(branch) => branch.children.iter().map(|c| bytes(c)).sum(),
            }
        }
        self.root.as_deref().map_or(0, bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// Checks every structural invariant; returns the entries in order.
    fn check(tree: &Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
        fn walk(
            node: &Node,
            low: Option<&[u8]>,
            high: Option<&[u8]>,
            depth: usize,
            leaf_depth: &mut Option<usize>,
            out: &mut Vec<(Vec<u8>, Vec<u8>)>,
        ) {
            let within = |key: &[u8]| low.is_none_or(|l| key >= l) && high.is_none_or(|h| key < h);
            match node {
                Node::Leaf(leaf) => {
                    assert_eq!(
                        *leaf_depth.get_or_insert(depth),
                        depth,
                        "leaves at one depth"
                    );
                    assert!(!leaf.is_over(), "leaf over its limits");
                    assert_eq!(leaf.keys.len(), leaf.values.spans.len());
                    assert_eq!(leaf.keys.heads.len(), leaf.keys.packed.ends.len());
                    let packed = &leaf.keys.packed;
                    assert_eq!(
                        packed.ends.last().map_or(0, |e| *e as usize),
                        packed.bytes()
                    );
                    let values = &leaf.values;
                    assert!(values.garbage * 4 <= values.data.len(), "garbage compacted");
                    assert_eq!(
                        values.bytes_before(values.len()) + values.garbage,
                        values.data.len(),
                        "spans and garbage cover the buffer"
                    );
                    for &(start, end) in &values.spans {
                        assert!(start <= end && end as usize <= values.data.len());
                    }
                    for i in 0..leaf.keys.len() {
                        assert!(within(leaf.keys.get(i)), "key outside its separators");
                        if i > 0 {
                            assert!(leaf.keys.get(i - 1) < leaf.keys.get(i), "keys ascending");
                        }
                        out.push((leaf.keys.get(i).to_vec(), leaf.values.get(i).to_vec()));
                    }
                }
                Node::Branch(branch) => {
                    assert!(!branch.is_over(), "branch over its limits");
                    assert_eq!(branch.seps.len() + 1, branch.children.len());
                    for (c, child) in branch.children.iter().enumerate() {
                        assert!(!child.is_empty(), "empty node below the root");
                        let l = if c == 0 {
                            low
                        } else {
                            Some(branch.seps.get(c - 1))
                        };
                        let h = if c == branch.seps.len() {
                            high
                        } else {
                            Some(branch.seps.get(c))
                        };
                        walk(child, l, h, depth + 1, leaf_depth, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        if let Some(root) = &tree.root {
            assert!(!root.is_empty(), "an empty tree has no root");
            if let Node::Branch(branch) = &**root {
                assert!(branch.children.len() >= 2, "a one-child root hands over");
            }
            walk(root, None, None, 0, &mut None, &mut out);
        }
        assert_eq!(out.len() as u64, tree.len(), "len counts the entries");
        let bytes: usize = out.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert_eq!(tree.stored_bytes(), bytes as u64);
        out
    }

    fn collect(tree: &Tree, range: &KeyRange<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        tree.range(range, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        out
    }

    fn model_range(
        model: &BTreeMap<Vec<u8>, Vec<u8>>,
        range: &KeyRange<'_>,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out: Vec<_> = model
            .iter()
            .filter(|(k, _)| range.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if range.reverse {
            out.reverse();
        }
        out
    }

    fn bound(kind: u8, key: &[u8]) -> Bound<&[u8]> {
        match kind % 3 {
            0 => Bound::Included(key),
            1 => Bound::Excluded(key),
            _ => Bound::Unbounded,
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Put(Vec<u8>, usize),
        Delete(Vec<u8>),
        Snapshot,
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(0u8..4, 0..4),
            (0u16..2000).prop_map(|n| n.to_be_bytes().to_vec()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (key(), prop_oneof![0usize..40, 0usize..3000]).prop_map(|(k, n)| Op::Put(k, n)),
            3 => key().prop_map(Op::Delete),
            1 => Just(Op::Snapshot),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random puts and deletes agree with a `BTreeMap`, keep the invariants, and leave
        /// earlier clones (snapshots) unchanged; ranges agree in both directions.
        #[test]
        fn agrees_with_a_btreemap(
            ops in prop::collection::vec(op(), 1..1500),
            ranges in prop::collection::vec((key(), key(), 0u8..3, 0u8..3, any::<bool>()), 8),
        ) {
            let mut tree = Tree::default();
            let mut model = BTreeMap::new();
            let mut snapshots = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Put(key, len) => {
                        let value = vec![n as u8; len];
                        prop_assert_eq!(tree.insert(&key, &value), model.insert(key, value).is_none());
                    }
                    Op::Delete(key) => {
                        prop_assert_eq!(tree.remove(&key), model.remove(&key).is_some());
                    }
                    Op::Snapshot => snapshots.push((tree.clone(), model.clone())),
                }
            }
            let entries = check(&tree);
            prop_assert_eq!(&entries, &model.clone().into_iter().collect::<Vec<_>>());
            for (key, value) in &model {
                prop_assert_eq!(tree.get(key), Some(&value[..]));
            }
            for (a, b, ka, kb, reverse) in &ranges {
                let range = KeyRange { start: bound(*ka, a), end: bound(*kb, b), reverse: *reverse };
                prop_assert_eq!(collect(&tree, &range), model_range(&model, &range));
            }
            for (snapshot, old) in &snapshots {
                prop_assert_eq!(check(snapshot), old.clone().into_iter().collect::<Vec<_>>());
            }
        }
    }

    /// Many entries (three levels), inserted in random order then deleted in another, keep the
    /// invariants at every step checked; ranges stop where the visitor breaks.
    #[test]
    fn grows_and_shrinks_through_several_levels() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let n = 20_000u64;
        let mut keys: Vec<u64> = (0..n).collect();
        for i in (1..keys.len()).rev() {
            keys.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        let mut tree = Tree::default();
        for (i, k) in keys.iter().enumerate() {
            assert!(tree.insert(&k.to_be_bytes(), &[*k as u8; 20]));
            if i % 4999 == 0 {
                check(&tree);
            }
        }
        assert_eq!(check(&tree).len() as u64, n);
        let mut seen = 0;
        tree.range(
            &KeyRange {
                start: Bound::Excluded(&100u64.to_be_bytes()),
                end: Bound::Unbounded,
                reverse: false,
            },
            &mut |k, _| {
                assert_eq!(k, (101 + seen as u64).to_be_bytes());
                seen += 1;
                Ok(if seen == 500 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            },
        )
        .unwrap();
        assert_eq!(seen, 500);
        for i in (1..keys.len()).rev() {
            keys.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        for (i, k) in keys.iter().enumerate() {
            assert!(tree.remove(&k.to_be_bytes()));
            assert!(!tree.remove(&k.to_be_bytes()));
            if i % 2999 == 0 {
                check(&tree);
            }
        }
        assert!(tree.root.is_none());
        assert_eq!(tree.len(), 0);
    }

    /// Keys loaded in ascending order fill their leaves (the append split), and a key large
    /// enough to overflow a node on its own sits in a leaf of its own.
    #[test]
    fn appends_pack_leaves_and_large_entries_split_by_bytes() {
        let mut tree = Tree::default();
        for k in 0..MAX_ENTRIES as u64 * 20 {
            tree.insert(&k.to_be_bytes(), b"v");
        }
        check(&tree);
        let Some(Node::Branch(root)) = tree.root.as_deref() else {
            panic!("two levels expected");
        };
        assert_eq!(
            root.children.len(),
            20,
            "full leaves: {}",
            root.children.len()
        );
        let mut tree = Tree::default();
        for k in 0..40u8 {
            tree.insert(&[k], &vec![k; if k % 7 == 0 { 20_000 } else { 300 }]);
        }
        check(&tree);
        for k in 0..40u8 {
            assert_eq!(
                tree.get(&[k]).map(<[u8]>::len),
                Some(if k % 7 == 0 { 20_000 } else { 300 })
            );
        }
    }
}
