//! The small value types of the engine contract: key ranges, durability, write options,
//! table figures, capabilities, integrity reports.

use std::ops::Bound;

/// A range of encoded keys and the direction to walk it.
///
/// ```
/// use std::ops::Bound;
/// use zerotable::KeyRange;
///
/// let range = KeyRange { start: Bound::Included(&b"a"[..]), end: Bound::Excluded(&b"c"[..]), reverse: false };
/// assert!(range.contains(b"b") && !range.contains(b"c"));
/// assert!(!range.is_empty());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRange<'a> {
    /// Lower bound.
    pub start: Bound<&'a [u8]>,
    /// Upper bound.
    pub end: Bound<&'a [u8]>,
    /// Walk from the end down to the start.
    pub reverse: bool,
}

impl<'a> KeyRange<'a> {
    /// Every key, ascending.
    pub const ALL: KeyRange<'static> = KeyRange {
        start: Bound::Unbounded,
        end: Bound::Unbounded,
        reverse: false,
    };

    /// Whether no key can fall in the range (start above end, or equal with an excluded side).
    /// Engines check it first: ordered maps panic on such ranges.
    #[inline]
    pub fn is_empty(&self) -> bool {
        match (self.start, self.end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
            _ => false,
        }
    }

    /// Whether `key` falls within the bounds.
    pub fn contains(&self, key: &[u8]) -> bool {
        let above_start = match self.start {
            Bound::Included(s) => key >= s,
            Bound::Excluded(s) => key > s,
            Bound::Unbounded => true,
        };
        let below_end = match self.end {
            Bound::Included(e) => key <= e,
            Bound::Excluded(e) => key < e,
            Bound::Unbounded => true,
        };
        above_start && below_end
    }

    /// The bounds as a tuple, which implements `RangeBounds<[u8]>`.
    #[inline]
    pub fn bounds(&self) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
        (self.start, self.end)
    }
}

/// How hard a commit works to reach the disk before returning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit is fsynced before it returns: an acknowledged write survives power loss.
    #[default]
    Immediate,
    /// Commits are not fsynced: far faster, but a crash of the machine loses every commit since
    /// the last `Immediate` one or [`flush`](crate::Storage::flush) (the file itself stays
    /// consistent).
    None,
}

/// Options of one write transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// This commit's durability; `None` keeps the engine's default.
    pub durability: Option<Durability>,
}

impl WriteOptions {
    /// The engine's defaults.
    pub const DEFAULT: WriteOptions = WriteOptions { durability: None };

    /// Options with this commit's durability chosen.
    ///
    /// ```
    /// use zerotable::{Durability, WriteOptions};
    /// assert_eq!(WriteOptions::durability(Durability::None).durability, Some(Durability::None));
    /// ```
    pub fn durability(durability: Durability) -> Self {
        WriteOptions {
            durability: Some(durability),
        }
    }
}

/// Size figures of one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Number of entries.
    pub entries: u64,
    /// Bytes of keys and values stored (excluding the engine's own overhead).
    pub stored_bytes: u64,
}

/// The optional capabilities an engine offers ([`Engine::capabilities`](crate::Engine::capabilities)).
///
/// ```
/// let storage = zerotable::Storage::in_memory();
/// let caps = storage.capabilities();
/// assert!(caps.table_admin && !caps.persistent && !caps.flush);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Data survives the process: the engine can be reopened and holds what was committed
    /// (with the durability rules of [`Durability`]).
    pub persistent: bool,
    /// `list_tables`, `table_stats`, `create_table`, `drop_table`.
    pub table_admin: bool,
    /// `size_on_disk`.
    pub size_on_disk: bool,
    /// `compact`.
    pub compact: bool,
    /// `flush`, and commits that honour [`Durability::None`].
    pub flush: bool,
    /// `check_integrity`.
    pub check_integrity: bool,
}

impl Capabilities {
    /// Every capability.
    pub const ALL: Capabilities = Capabilities {
        persistent: true,
        table_admin: true,
        size_on_disk: true,
        compact: true,
        flush: true,
        check_integrity: true,
    };

    /// No optional capability.
    pub const NONE: Capabilities = Capabilities {
        persistent: false,
        table_admin: false,
        size_on_disk: false,
        compact: false,
        flush: false,
        check_integrity: false,
    };
}

/// The outcome of [`Engine::check_integrity`](crate::Engine::check_integrity) that did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Integrity {
    /// Every structure checked out.
    Intact,
    /// Damage was found and repaired (redb rebuilds its allocator state, for example).
    Repaired,
}
