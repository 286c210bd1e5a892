//! Snapshots kept between auto-commit reads.
//!
//! Beginning a redb read transaction and opening a table in it is most of what a one-key read
//! costs (≈4,000 of ≈7,000 instructions). An auto-commit read therefore borrows a snapshot kept
//! from an earlier one, with its table handles still open, for as long as nothing has been
//! committed since; this is what makes an auto-commit get cost about what a get inside a held
//! snapshot costs.
//!
//! One atomic word, the **state**, says whether kept snapshots may be used: a generation, bumped
//! by every commit made through the engine, and in its low bits the number of commits in flight
//! and whether reuse is off. A commit marks itself in flight *before* redb applies it and, in one
//! atomic step, unmarks itself and bumps the generation *after* redb applied it and before the
//! commit call returns ([`SnapshotReuse::committing`]). A snapshot is kept tagged with the state
//! its read loaded before beginning it, and
//! - a read uses kept snapshots only when the state it loads has no commit in flight (and reuse
//!   is on), and only one tagged with exactly that state; otherwise it begins a transaction of
//!   its own;
//! - a read that began a transaction keeps it only if the state is still the one it loaded
//!   before beginning it, checked when the read ends (so after the transaction began).
//!
//! Invariants:
//! - **Reads never go back in time**: an auto-commit read sees at least every commit that
//!   returned before it began, and at least what any read that ended before it began saw — as if
//!   every read began a fresh redb transaction. Each read shows redb's latest state as of some
//!   moment inside it:
//!   - a snapshot kept with tag `s` shows the latest state for as long as the state stays `s`.
//!     Its read loaded `s` (acquiring the release of the commit that set it: the transaction
//!     begun next sees that commit and all before), and found the state still `s` after the
//!     transaction began: had the transaction seen a commit marked in flight after that load, it
//!     would have synchronized with redb's commit, which comes after the mark, and the check
//!     would have found the state changed. And while the state stays `s` no commit is in flight,
//!     so the latest state does not change;
//!   - a read uses a kept snapshot only when the state it loaded is exactly its tag: it sees the
//!     latest state as of that load;
//!   - any other read begins its own transaction, which redb makes at least as new as every
//!     commit that returned and every transaction begun before it.
//!
//!   (Outdating only after redb applied the commit, as this module once did, left a window in
//!   which a fresh transaction already saw the commit while a later read still used an older
//!   kept snapshot.)
//! - **No pinning**: redb cannot reuse pages that a live snapshot still sees. A write drops
//!   every kept snapshot no read is using when it begins and again when it commits, and a read
//!   that finds its snapshot outdated when it ends drops it then; so a commit meets only the
//!   snapshots of reads running at that moment, as it would without the reuse.
//! - **No waiting**: the reuse adds no lock to the read path but a kept snapshot's, taken with
//!   `try_lock` only (the state is one atomic load). Busy slots (another thread reading, or this thread's own
//!   read nested in a callback) are skipped, and a read that finds none free, or meets a commit
//!   in flight, begins a transaction of its own, exactly as without this cache.
//! - **Raw access turns it off**: writes made directly on the `redb::Database` (through
//!   `RedbEngine::redb`) do not touch the state, so handing the database out disables the reuse
//!   for good.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use super::read::RedbRead;

/// Kept snapshots: a few, so that a few threads reading at once each find one.
const SLOTS: usize = 4;

// The state word: bit 0 says reuse is off; bits 1 to 15 count the commits in flight (one at a
// time in practice: a writer holds the writer gate until its commit is unmarked, but counting
// does not rely on that); bits 16 to 63 are the generation (wrapping around is harmless: a kept
// snapshot is dropped at the first change it meets, long before the same value comes back).
/// Set for good once the database was handed out.
const DISABLED: u64 = 1;
/// One commit in flight.
const COMMIT: u64 = 1 << 1;
/// One step of the generation.
const GENERATION: u64 = 1 << 16;
/// The bits that, when any is set, forbid using and keeping snapshots.
const NO_REUSE: u64 = GENERATION - 1;

/// A kept snapshot and the state it was begun in (never one with a commit in flight).
pub(super) struct Kept {
    pub(super) snapshot: RedbRead,
    state: u64,
}

/// The snapshots an engine keeps for its auto-commit reads.
pub(super) struct SnapshotReuse {
    /// Generation, commits in flight and whether reuse is off (see the module docs).
    state: AtomicU64,
    /// How many slots hold a snapshot (a commit skips the slots while none does).
    kept: AtomicUsize,
    slots: [Mutex<Option<Kept>>; SLOTS],
}

/// A slot a read holds: use its snapshot, or fill it.
pub(super) struct Lease<'a> {
    reuse: &'a SnapshotReuse,
    slot: MutexGuard<'a, Option<Kept>>,
    /// The state loaded before the read used or began its snapshot (no commit in flight).
    state: u64,
}

/// A commit in flight, from before redb applies it until this is dropped (after).
#[must_use = "the commit is in flight until this is dropped"]
pub(super) struct Committing<'a>(&'a SnapshotReuse);

impl SnapshotReuse {
    pub(super) fn new() -> Self {
        SnapshotReuse {
            state: AtomicU64::new(0),
            kept: AtomicUsize::new(0),
            slots: std::array::from_fn(|_| Mutex::new(None)),
        }
    }

    /// A free slot, its outdated snapshot already taken out (returned, for the caller to drop
    /// under its panic guard); `None` when every slot is busy, a commit is in flight or reuse
    /// is off: the read then begins a transaction of its own and keeps nothing.
    pub(super) fn lease(&self) -> Option<(Lease<'_>, Option<Kept>)> {
        // Acquire: pairs with the release of the commit that set this generation, so that a
        // snapshot begun after this load sees that commit.
        let state = self.state.load(Ordering::Acquire);
        if state & NO_REUSE != 0 {
            return None;
        }
        self.slots.iter().find_map(|slot| {
            let mut slot = match slot.try_lock() {
                Ok(slot) => slot,
                // A read panicked in its callback while holding the slot: the snapshot is
                // read-only and was left as it was, so it is still sound to use.
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return None,
            };
            let outdated = slot.take_if(|kept| kept.state != state);
            if outdated.is_some() {
                self.kept.fetch_sub(1, Ordering::Relaxed);
            }
            Some((
                Lease {
                    reuse: self,
                    slot,
                    state,
                },
                outdated,
            ))
        })
    }

    /// Outdates the kept snapshots and hands back those no read is using, for the caller to
    /// drop. Called when a write begins (so that its commit can reuse the pages it frees) and
    /// before compaction and the integrity check (which need every snapshot closed). Commits
    /// use [`committing`](Self::committing) instead.
    pub(super) fn outdate(&self) -> Vec<Kept> {
        self.state.fetch_add(GENERATION, Ordering::AcqRel);
        self.take_idle()
    }

    /// Marks a commit in flight until the returned guard is dropped; call it right before redb
    /// applies the commit, and drop the guard once redb returned (whatever the outcome: a
    /// failed commit may have been applied). Meanwhile no read uses or keeps a snapshot, and
    /// the drop bumps the generation, outdating every kept snapshot, before the commit call
    /// returns.
    pub(super) fn committing(&self) -> Committing<'_> {
        // A read whose transaction saw this commit's data synchronized with redb's commit,
        // which comes after this mark: its check when it ends finds the state changed.
        self.state.fetch_add(COMMIT, Ordering::AcqRel);
        Committing(self)
    }

    /// Turns reuse off for good (the database was handed out) and hands back the idle snapshots.
    pub(super) fn disable(&self) -> Vec<Kept> {
        self.state.fetch_or(DISABLED, Ordering::AcqRel);
        self.take_idle()
    }

    /// The kept snapshots no read is using, taken out of their slots.
    pub(super) fn take_idle(&self) -> Vec<Kept> {
        let mut idle = Vec::new();
        if self.kept.load(Ordering::Relaxed) == 0 {
            return idle;
        }
        for slot in &self.slots {
            let slot = match slot.try_lock() {
                Ok(slot) => Some(slot),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(kept) = slot.and_then(|mut slot| slot.take()) {
                self.kept.fetch_sub(1, Ordering::Relaxed);
                idle.push(kept);
            }
        }
        idle
    }
}

impl Lease<'_> {
    /// The kept snapshot, if the slot holds one (current: outdated ones were taken out).
    pub(super) fn snapshot(&self) -> Option<&RedbRead> {
        self.slot.as_ref().map(|kept| &kept.snapshot)
    }

    /// Puts `snapshot`, begun after this lease's state was loaded, in the slot for this read.
    /// No other read can use it before [`release`](Self::release) checked that the state is
    /// still the same, that is, that no commit was marked in flight before the snapshot began.
    pub(super) fn keep(&mut self, snapshot: RedbRead) -> &RedbRead {
        self.reuse.kept.fetch_add(1, Ordering::Relaxed);
        &self
            .slot
            .insert(Kept {
                snapshot,
                state: self.state,
            })
            .snapshot
    }

    /// Ends the read. The snapshot stays kept only if the state is still the one loaded before
    /// it was used or begun: no commit began since (the state never comes back to an earlier
    /// value). Otherwise it is taken out (returned, to be dropped by the caller) rather than
    /// kept pinning pages, or, begun while a commit was in flight, showing a state no later
    /// read may be handed in place of a newer one.
    pub(super) fn release(mut self) -> Option<Kept> {
        // After the snapshot began (sequenced after it, and acquire).
        let current = self.reuse.state.load(Ordering::Acquire);
        let outdated = self.slot.take_if(|kept| kept.state != current);
        if outdated.is_some() {
            self.reuse.kept.fetch_sub(1, Ordering::Relaxed);
        }
        outdated
    }
}

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        // One atomic step: the commit leaves the in-flight count and the generation moves on.
        // (Two steps would let a read in between use a snapshot older than the commit.)
        // Release: a read that loads this generation, or a later one, sees the commit.
        self.0
            .state
            .fetch_add(GENERATION - COMMIT, Ordering::Release);
        // Dropping a snapshot calls into redb, which could panic: not while unwinding (the
        // idle snapshots are outdated anyway, and dropped by the next read or write).
        if !std::thread::panicking() {
            super::discard(self.0.take_idle());
        }
    }
}
