//! Snapshots kept between auto-commit reads.
//!
//! Beginning a redb read transaction and opening a table in it is most of what a one-key read
//! costs (≈4,000 of ≈7,000 instructions). An auto-commit read therefore borrows a snapshot kept
//! from an earlier one, with its table handles still open, for as long as nothing has been
//! committed since; this is what makes an auto-commit get cost about what a get inside a held
//! snapshot costs.
//!
//! Invariants:
//! - **Freshness**: every commit through the engine bumps the generation *before* its commit
//!   call returns, and a kept snapshot is used only while its generation is current; so a read
//!   that begins after a commit returned sees it, as a fresh transaction would.
//! - **No pinning**: redb cannot reuse pages that a live snapshot still sees. A write drops
//!   every kept snapshot no read is using when it begins and again when it commits, and a read
//!   that finds its snapshot outdated when it ends drops it then; so a commit meets only the
//!   snapshots of reads running at that moment, as it would without the reuse.
//! - **No waiting**: a read takes a kept snapshot with `try_lock` only. Busy slots (another
//!   thread reading, or this thread's own read nested in a callback) are skipped, and a read
//!   that finds none free begins a transaction of its own, exactly as without this cache.
//! - **Raw access turns it off**: writes made directly on the `redb::Database` (through
//!   `RedbEngine::redb`) do not bump the generation, so handing the database out disables the
//!   reuse for good.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use super::read::RedbRead;

/// Kept snapshots: a few, so that a few threads reading at once each find one.
const SLOTS: usize = 4;

/// A kept snapshot and the generation it was begun in.
pub(super) struct Kept {
    pub(super) snapshot: RedbRead,
    generation: u64,
}

/// The snapshots an engine keeps for its auto-commit reads.
pub(super) struct SnapshotReuse {
    generation: AtomicU64,
    disabled: AtomicBool,
    /// How many slots hold a snapshot (a commit skips the slots while none does).
    kept: AtomicUsize,
    slots: [Mutex<Option<Kept>>; SLOTS],
}

/// A slot a read holds: use its snapshot, or fill it.
pub(super) struct Lease<'a> {
    reuse: &'a SnapshotReuse,
    slot: MutexGuard<'a, Option<Kept>>,
    generation: u64,
}

impl SnapshotReuse {
    pub(super) fn new() -> Self {
        SnapshotReuse {
            generation: AtomicU64::new(0),
            disabled: AtomicBool::new(false),
            kept: AtomicUsize::new(0),
            slots: std::array::from_fn(|_| Mutex::new(None)),
        }
    }

    /// A free slot, its outdated snapshot already taken out (returned, for the caller to drop
    /// under its panic guard); `None` when every slot is busy or reuse is off.
    pub(super) fn lease(&self) -> Option<(Lease<'_>, Option<Kept>)> {
        if self.disabled.load(Ordering::Relaxed) {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        self.slots.iter().find_map(|slot| {
            let mut slot = match slot.try_lock() {
                Ok(slot) => slot,
                // A read panicked in its callback while holding the slot: the snapshot is
                // read-only and was left as it was, so it is still sound to use.
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return None,
            };
            let outdated = slot.take_if(|kept| kept.generation != generation);
            if outdated.is_some() {
                self.kept.fetch_sub(1, Ordering::Relaxed);
            }
            Some((
                Lease {
                    reuse: self,
                    slot,
                    generation,
                },
                outdated,
            ))
        })
    }

    /// Outdates the kept snapshots and hands back those no read is using, for the caller to
    /// drop. Called when a write begins (so that its commit can reuse the pages it frees) and
    /// by every commit before it returns (so that later reads see it).
    pub(super) fn outdate(&self) -> Vec<Kept> {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.take_idle()
    }

    /// Turns reuse off for good (the database was handed out) and hands back the idle snapshots.
    pub(super) fn disable(&self) -> Vec<Kept> {
        self.disabled.store(true, Ordering::Relaxed);
        self.outdate()
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

    /// Keeps `snapshot`, begun in this lease's generation, in the slot.
    pub(super) fn keep(&mut self, snapshot: RedbRead) -> &RedbRead {
        self.reuse.kept.fetch_add(1, Ordering::Relaxed);
        &self
            .slot
            .insert(Kept {
                snapshot,
                generation: self.generation,
            })
            .snapshot
    }

    /// Ends the read: a snapshot that a commit outdated meanwhile is taken out (returned, to be
    /// dropped by the caller) rather than kept pinning pages until the next read.
    pub(super) fn release(mut self) -> Option<Kept> {
        let current = self.reuse.generation.load(Ordering::Acquire);
        let outdated = self.slot.take_if(|kept| kept.generation != current);
        if outdated.is_some() {
            self.reuse.kept.fetch_sub(1, Ordering::Relaxed);
        }
        outdated
    }
}
