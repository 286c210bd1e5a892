//! Snapshots kept between auto-commit reads.
//!
//! Beginning an LMDB read transaction is most of what a one-key read costs: LMDB allocates and
//! zeroes a transaction sized by `max_dbs`, and without thread-local storage (which `Send`
//! snapshots need) it claims a reader slot under the lock table's mutex. An auto-commit read
//! ([`Engine::read`](crate::Engine::read)) therefore borrows a snapshot kept from an earlier
//! one, as long as it is still the latest state.
//!
//! - **Freshness**: a kept snapshot is used only while its transaction id is the id of the
//!   last commit in the environment (read from the meta page, which every commit of any process
//!   writes before it returns): it then sees exactly what a new transaction would.
//! - **Pinning**: a kept snapshot keeps LMDB from reusing the pages later commits free, like
//!   any open snapshot. A write transaction of this process ends the idle kept snapshots when
//!   it begins and when it commits, and a read that finds its snapshot outdated when it ends
//!   drops it then; so this process's own commits meet only the snapshots of reads running at
//!   that moment. Another process's commits are not seen until this process reads again: while
//!   it stays idle, its kept snapshots (at most [`SLOTS`]) keep the pages those commits free
//!   from being reused.
//! - **No waiting**: a read takes a kept snapshot with `try_lock` only; busy slots (another
//!   thread reading, or a read nested in this thread's callback) are skipped, and a read that
//!   finds none free begins a transaction of its own.
//! - Kept snapshots count as open snapshots: the map cannot be resized while one is leased.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use heed::{RoTxn, WithoutTls};

use super::read::{View, begin_txn};
use super::shared::Shared;
use crate::engine::catch_engine_panic;
use crate::error::{Operation, Result};

/// Kept snapshots: a few, so that a few threads reading at once each find one.
pub(super) const SLOTS: usize = 4;

/// A kept snapshot: its transaction (begun by `begin_txn`), and the handles it may use. It
/// counts as an open snapshot of its [`Shared`] (whoever drops it calls [`Kept::end`]).
pub(super) struct Kept {
    txn: RoTxn<'static, WithoutTls>,
    registered: usize,
}

impl Kept {
    /// Ends the transaction, then stops counting it as open.
    pub(super) fn end(self, shared: &Shared) {
        drop(self.txn);
        shared.leave();
    }
}

/// The snapshots an engine keeps for its auto-commit reads.
#[derive(Default)]
pub(super) struct SnapshotReuse {
    /// How many slots hold a snapshot (a write skips the slots while none does).
    kept: AtomicUsize,
    slots: [Mutex<Option<Kept>>; SLOTS],
}

/// A slot a read holds: use its snapshot, or fill it.
pub(super) struct Lease<'a> {
    reuse: &'a SnapshotReuse,
    slot: MutexGuard<'a, Option<Kept>>,
}

impl SnapshotReuse {
    /// A free slot; `None` when every slot is busy.
    pub(super) fn lease(&self) -> Option<Lease<'_>> {
        self.slots.iter().find_map(|slot| {
            let slot = match slot.try_lock() {
                Ok(slot) => slot,
                // A read panicked in its callback while holding the slot: the snapshot is
                // read-only and was left as it was, so it is still sound to use.
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return None,
            };
            Some(Lease { reuse: self, slot })
        })
    }

    /// Ends the kept snapshots no read is using (a write begins or committed, or the map is
    /// about to be resized).
    pub(super) fn end_idle(&self, shared: &Shared) {
        if self.kept.load(Ordering::Acquire) == 0 {
            return;
        }
        for slot in &self.slots {
            let slot = match slot.try_lock() {
                Ok(slot) => Some(slot),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(kept) = slot.and_then(|mut slot| slot.take()) {
                self.kept.fetch_sub(1, Ordering::Release);
                kept.end(shared);
            }
        }
    }
}

impl Lease<'_> {
    /// The slot's snapshot if it is still the latest state of the environment, else a new one
    /// kept in the slot (an outdated one is ended first).
    pub(super) fn snapshot<'s>(&'s mut self, shared: &'s Shared) -> Result<View<'s>> {
        let latest = shared.env.info().last_txn_id;
        if self
            .slot
            .as_ref()
            .is_some_and(|kept| kept.txn.id() != latest)
        {
            self.take(shared);
        }
        if self.slot.is_none() {
            let (txn, registered) =
                catch_engine_panic(None, Operation::BeginRead, |_| begin_txn(shared))?;
            self.reuse.kept.fetch_add(1, Ordering::Release);
            *self.slot = Some(Kept { txn, registered });
        }
        let kept = self
            .slot
            .as_ref()
            .unwrap_or_else(|| unreachable!("a snapshot was just kept"));
        Ok(View {
            txn: &kept.txn,
            registered: kept.registered,
            shared,
        })
    }

    /// Ends the read: a snapshot a commit outdated meanwhile is ended rather than kept pinning
    /// pages until the next read.
    pub(super) fn release(mut self, shared: &Shared) {
        let latest = shared.env.info().last_txn_id;
        if self
            .slot
            .as_ref()
            .is_some_and(|kept| kept.txn.id() != latest)
        {
            self.take(shared);
        }
    }

    fn take(&mut self, shared: &Shared) {
        if let Some(kept) = self.slot.take() {
            self.reuse.kept.fetch_sub(1, Ordering::Release);
            kept.end(shared);
        }
    }
}
