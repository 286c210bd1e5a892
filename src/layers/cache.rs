//! [`CachedEngine`]: a read cache of point reads, bounded by bytes, that keeps every promise of
//! the engine under it — snapshot isolation included.
//!
//! # What is cached
//! Only point reads: the auto-commit [`Engine::get`] (the latest state) and [`ReadOps::get`] on
//! a snapshot ([`Engine::begin_read`] or the scoped [`Engine::read`]). A value is cached as
//! found, and so is its absence ("not found" is as valuable as a value: misses are where an
//! engine works hardest). Everything else passes through: ranges, `len`, `list_tables`,
//! `table_stats`, and every read inside a write transaction (it must see the transaction's own
//! writes). Writes never fill the cache; they only invalidate it.
//!
//! # Design
//! - **Epoch.** One counter, even while no commit is in progress. Every commit through this
//!   layer runs, under one commit lock (which serializes the commits of optimistic engines
//!   too): epoch + 1 (odd) → the inner commit → invalidate what the transaction wrote →
//!   epoch + 1 (even again). The invalidation runs whether the commit succeeded or not (a
//!   [`CommitOutcomeUnknown`](crate::EngineErrorKind::CommitOutcomeUnknown) may have applied),
//!   and also when the commit panics. So while the epoch is `2k` exactly `k` commits have been
//!   applied *and* invalidated, and none is in flight.
//! - **What a commit invalidates.** A write transaction records what it touched: each key put
//!   or deleted, or a whole table for `delete_range` and `drop_table` — and for any table in
//!   which it touched more than 10,000 keys, so that a bulk load costs bounded memory.
//!   `create_table` changes no key's value (a new table is empty, as a missing one reads) and
//!   invalidates nothing. A key's entry is removed; a whole table is invalidated by bumping its
//!   *generation*, which every entry records: an entry of an older generation is never used
//!   again and ages out of the cache.
//! - **Snapshots.** Beginning one reads the epoch (`e1`), begins the inner snapshot, reads the
//!   epoch again (`e2`). If `e1 == e2` and it is even, no commit was in flight while the inner
//!   snapshot began, so it sees exactly the commits of epochs up to `e1`: its epoch is `e1`.
//!   Otherwise the snapshot bypasses the cache for its whole life.
//! - **Entries.** `(table, key)` → `{ value or absence, generation, since }`. A snapshot of
//!   epoch `t` uses an entry if its generation is the table's current one and `since <= t`. A
//!   miss inserts what the inner engine found only if, with the shard's lock held, the epoch is
//!   still `t` (the snapshot is of the latest state and no commit is in flight); the entry's
//!   `since` is `t`.
//! - **Auto-commit gets.** Read the epoch `e`; if it is odd, go to the inner engine and cache
//!   nothing. Otherwise a hit needs, under the shard's lock, the epoch still `e` (and a valid
//!   entry); a miss asks the inner engine and inserts only if the epoch is still `e` under the
//!   shard's lock.
//!
//! # Why it is correct
//! What is assumed of the inner engine is its contract: a commit is visible to every snapshot
//! (and auto-commit read) begun after `commit` returned, and to none begun before the commit
//! started; and visibility is synchronization — a reader that sees a commit *happens after*
//! it, so after the epoch store that preceded it. Hence, for a snapshot: if the inner snapshot
//! saw commit `c`, the second epoch load sees `2c - 1` or more; if the first load saw `2c`,
//! commit `c` had returned and the inner snapshot sees it. With `e1 == e2 == 2k` the inner
//! snapshot sees commits `1..=k` and no other (writes that do not go through this layer are
//! outside the argument: see below).
//!
//! Invariant: *an entry present, of the current generation, holds its key's value in every
//! state from its `since` up to the latest commit whose invalidation has finished.*
//!
//! - *When inserted* it holds the value of state `since`: it was read from a snapshot of epoch
//!   `since` (or by an auto-commit read during which the epoch stayed `since`, so with no
//!   commit in flight: the latest state was state `since`).
//! - *A later commit* touching the key sets the epoch odd, then takes the shard's lock to
//!   remove the entry (or bump the table's generation). The inserter checked the epoch under
//!   that same lock: if the invalidation took the lock first, the inserter sees the epoch moved
//!   (it is odd or larger: both are sequentially consistent atomics, and the lock orders the
//!   two critical sections) and inserts nothing; otherwise the insertion came first and the
//!   invalidation removes it. Either way no entry survives a commit that changed its key.
//!   A generation read under the lock moves only while the epoch is odd, so an entry inserted
//!   under a new generation has a `since` after the commit that bumped it.
//!
//! Hence:
//! - **Snapshot isolation.** A snapshot of epoch `t` uses only entries with `since <= t` that
//!   no commit up to now has invalidated, so no commit between `since` and `t` changed them:
//!   their value is that of state `t`. It never sees a value committed after it began (such
//!   an entry has `since > t`), nor a stale one (its invalidation finished before the epoch
//!   reached `t`, and the snapshot read `t` after that).
//! - **Atomic visibility and monotonic reads.** An auto-commit hit at epoch `e` returns the
//!   value of the state at the instant the epoch was read, with no commit in flight. One
//!   thread's successive gets read a never-decreasing epoch; once it saw any key of a commit
//!   (through the inner engine), that commit's invalidation is finished or the epoch is still
//!   odd — then the next get goes to the inner engine too. It never sees one key of a commit
//!   new and another old, nor a key go back in time.
//! - **The inner engine's other promises** hold unchanged: writes, reads in write
//!   transactions, ranges, errors and capabilities are the inner engine's own.
//!
//! # Locks
//! - A shard's lock is held only for a lookup, an insertion with its evictions, or an
//!   invalidation; never while the inner engine or a caller's callback runs. A hit clones the
//!   value's `Arc` out, releases the lock, then calls the callback; a miss runs the inner read
//!   (and the callback inside it) with no lock held and takes the lock again to insert.
//! - The commit lock is held only around the inner commit itself. A boxed transaction takes it
//!   in `commit`; a scoped [`Engine::write`] takes it when the body has returned `Ok`, just
//!   before the inner engine commits, and releases it once the inner `write` returned. So no
//!   body runs under it, and its holder waits for nothing a waiting committer holds: a
//!   serialized engine's other writers are still waiting to begin, an optimistic engine's are
//!   not waiting at all. Nested layers take their commit locks outermost first, always.
//! - Locks are taken whether poisoned or not: nothing of this module can panic halfway through
//!   a critical section except by running out of memory, and a panicking commit still
//!   invalidates and makes the epoch even (a drop guard does it).
//!
//! # Costs and limits
//! - **Bounded by bytes.** An entry weighs its table name, key and value lengths plus
//!   128 bytes of bookkeeping; the cache is split in up to 16 shards by key
//!   hash, each with its own lock and an equal share of [`CacheOptions::capacity`], evicting by
//!   CLOCK (a second chance for entries read since the hand last passed). A value heavier than
//!   a quarter of a shard is not cached. Capacity 0 caches nothing.
//! - **Copies.** A miss copies the value once, into the cache; a hit hands the caller that
//!   copy (borrowed for the callback, as an engine hands its own buffer: no further copy). The
//!   callback never runs with a lock of the cache held, so it may read or write again; its
//!   errors and panics propagate unchanged and leave the cache usable.
//! - **Writers.** A commit waits for the commit lock of this layer (one commit at a time), and
//!   snapshots begun while a commit is in flight bypass the cache.
//! - **Only writes through this layer are seen.** A write made to the inner engine some other
//!   way (another handle on the same file, another process) is not invalidated: every writer
//!   must go through the layer — [`Storage`](crate::Storage) owns it, so use one storage.
//! - After [`Engine::check_integrity`] repairs something or fails (other than as
//!   unsupported), the cache is emptied the way a commit invalidates (a repair may change
//!   stored data). The check runs outside the commit lock: it may wait for a writer, whose
//!   commit may be waiting for that lock.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::transform::{InnerReads, InnerWrites};
use super::with_buffer;
use crate::engine::{
    Engine, Found, Integrity, KeyRange, ReadBody, ReadOps, ReadTxn, WriteBody, WriteOptions,
    WriteTxn,
};
use crate::error::{EngineErrorKind, Result};

/// Bytes of bookkeeping counted for each entry on top of its table name, key and value: the
/// index slot, the CLOCK slot and two reference-counted allocations.
const ENTRY_OVERHEAD: u64 = 128;

/// Shards at most; a small cache has fewer (each at least [`MIN_SHARD_BYTES`]).
const MAX_SHARDS: u64 = 16;

/// The smallest share of the capacity a shard gets when the cache is split.
const MIN_SHARD_BYTES: u64 = 64 << 10;

/// A write transaction that touched more keys of one table invalidates the whole table.
const MAX_KEYS_PER_TABLE: usize = 10_000;

/// A write transaction that touched more keys in all invalidates every further table whole.
const MAX_KEYS: usize = 100_000;

/// Options of [`CachedEngine`].
///
/// ```
/// use zerotable::layers::CacheOptions;
///
/// assert_eq!(CacheOptions::default().capacity, 64 << 20);
/// let small = CacheOptions { capacity: 1 << 20 };
/// # let _ = small;
/// ```
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// The bound of the cache, in bytes (an entry weighs its table name, key and value plus
    /// 128 bytes of bookkeeping). Default 64 MiB; 0 caches nothing.
    pub capacity: u64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions { capacity: 64 << 20 }
    }
}

/// What a [`CachedEngine`] has done since it was made: [`CachedEngine::stats`].
///
/// Every point read the layer answers (an auto-commit [`Engine::get`] or a snapshot's
/// [`ReadOps::get`]) counts once, as a hit or as a miss; reads inside write transactions and
/// range reads are not counted.
///
/// ```
/// use zerotable::engine::{Engine, WriteOptions};
/// use zerotable::layers::{CacheOptions, CacheStats, CachedEngine};
///
/// let engine = CachedEngine::new(zerotable::MemoryEngine::new(), CacheOptions::default());
/// assert_eq!(engine.stats(), CacheStats::default());
/// engine.write(WriteOptions::default(), &mut |txn| txn.put("t", b"k", b"v"))?;
/// engine.get("t", b"k", &mut |_| Ok(()))?; // a miss: read, then cached
/// engine.get("t", b"k", &mut |_| Ok(()))?; // a hit
/// let stats = engine.stats();
/// assert_eq!((stats.hits, stats.misses, stats.inserts, stats.entries), (1, 1, 1, 1));
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Point reads answered from the cache (found or not found).
    pub hits: u64,
    /// Point reads that went to the inner engine (including those a snapshot that bypasses
    /// the cache made, and those of values too large to cache).
    pub misses: u64,
    /// Entries put in the cache.
    pub inserts: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Entries removed because a commit changed their key, plus one for each table a commit
    /// invalidated whole (whose entries are then never used again and age out).
    pub invalidations: u64,
    /// Entries held now (entries of a table invalidated whole count until they age out).
    pub entries: u64,
    /// Bytes the entries held now weigh.
    pub bytes: u64,
}

/// A read cache over another engine: point reads of recent states served from memory, bounded
/// by bytes, with the inner engine's snapshot isolation kept exactly.
///
/// # What is cached
/// Point reads only: the auto-commit [`Engine::get`] and [`ReadOps::get`] on a snapshot
/// ([`Engine::begin_read`], [`Engine::read`]). Values are cached, and so is "not found".
/// Ranges, `len`, `list_tables`, `table_stats` and every read inside a write transaction
/// (which must see the transaction's own writes) go to the inner engine. Writes never fill the
/// cache: each commit removes what it changed — the keys it put or deleted, or whole tables for
/// `delete_range`, `drop_table` and transactions that touched more than 10,000 keys of a table.
///
/// # Guarantees
/// Every promise of the [`Engine`] contract holds as the inner engine keeps it:
/// - **Snapshot isolation.** A snapshot sees exactly the state it began on, from the cache or
///   not: never a value committed after it began, never one overwritten before. A snapshot
///   that begins while a commit is in flight bypasses the cache for its whole life.
/// - **Atomic visibility, monotonic reads.** An auto-commit `get` returns the value of the
///   latest state at some instant during the call; a thread never sees one key of a commit new
///   and another old, nor a value go back in time. While a commit is in flight, auto-commit
///   gets go to the inner engine.
/// - **Callbacks.** A hit hands the callback the cached copy (made once, on the miss that
///   filled it); no lock of the cache is held while a callback runs, so it may read and write
///   again. A callback's error and panic propagate unchanged, and the cache stays usable.
/// - **Bounded memory.** Entries weigh their table name, key and value plus 128 bytes; the
///   total stays within [`CacheOptions::capacity`] (evicting by CLOCK, over up to 16 shards by
///   key hash). A value heavier than a quarter of a shard is read through, not cached.
///
/// # Costs and limits
/// - Commits through the layer take one lock in turn (only around the inner commit itself),
///   and a miss copies the value once into the cache.
/// - **Every write must go through this layer.** A write made to the inner engine some other
///   way (another handle on the same file, another process) is not seen by the cache and may
///   be hidden by it: let one [`Storage`](crate::Storage) own the stack.
/// - After [`Engine::check_integrity`] repairs something or fails (other than as
///   unsupported), the cache is emptied (a repair may change stored values).
///
/// The design and the proof of the guarantees are in the source, `src/layers/cache.rs`.
///
/// ```
/// use zerotable::Storage;
/// use zerotable::layers::{CacheOptions, CachedEngine};
///
/// let engine = CachedEngine::new(zerotable::MemoryEngine::new(), CacheOptions { capacity: 8 << 20 });
/// let storage = Storage::new(engine);
/// let users = storage.raw_table::<u64>("users")?;
/// users.put(&1, b"ada")?;
/// assert_eq!(users.get(&1, |v| v.to_vec())?, Some(b"ada".to_vec()));
/// assert_eq!(users.get(&1, |v| v.to_vec())?, Some(b"ada".to_vec()));
/// let cache = storage.layer::<CachedEngine>().expect("the cache is on");
/// assert!(cache.stats().hits >= 1);
/// # Ok::<(), zerotable::Error>(())
/// ```
pub struct CachedEngine {
    inner: Arc<dyn Engine>,
    shared: Arc<Shared>,
}

impl CachedEngine {
    /// A cache over `inner`.
    ///
    /// ```
    /// use zerotable::engine::{Engine, WriteOptions};
    /// use zerotable::layers::{CacheOptions, CachedEngine};
    ///
    /// let engine = CachedEngine::new(zerotable::MemoryEngine::new(), CacheOptions::default());
    /// engine.write(WriteOptions::default(), &mut |txn| txn.put("t", b"k", b"v"))?;
    /// let mut seen = Vec::new();
    /// assert!(engine.get("t", b"k", &mut |v| Ok(seen.extend_from_slice(v)))?);
    /// assert_eq!(seen, b"v");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn new(inner: impl Engine, options: CacheOptions) -> Self {
        CachedEngine::over(Arc::new(inner), options)
    }

    /// A cache over the shared engine `inner` (how a stack of layers is built).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zerotable::engine::Engine;
    /// use zerotable::layers::{CacheOptions, CachedEngine};
    ///
    /// let inner: Arc<dyn Engine> = Arc::new(zerotable::MemoryEngine::new());
    /// let engine = CachedEngine::over(inner, CacheOptions { capacity: 1 << 20 });
    /// assert_eq!(engine.name(), "memory");
    /// assert!(engine.inner().is_some());
    /// ```
    pub fn over(inner: Arc<dyn Engine>, options: CacheOptions) -> Self {
        CachedEngine {
            inner,
            shared: Arc::new(Shared::new(options.capacity)),
        }
    }

    /// The counters, and the entries and bytes held now.
    ///
    /// ```
    /// use zerotable::engine::Engine;
    /// use zerotable::layers::{CacheOptions, CachedEngine};
    ///
    /// let engine = CachedEngine::new(zerotable::MemoryEngine::new(), CacheOptions::default());
    /// assert!(!engine.get("t", b"missing", &mut |_| Ok(()))?); // absence is cached too
    /// assert!(!engine.get("t", b"missing", &mut |_| Ok(()))?);
    /// let stats = engine.stats();
    /// assert_eq!((stats.misses, stats.hits, stats.entries), (1, 1, 1));
    /// assert!(stats.bytes > 0);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn stats(&self) -> CacheStats {
        let counters = &self.shared.counters;
        let mut stats = CacheStats {
            hits: counters.hits.load(Ordering::Relaxed),
            misses: counters.misses.load(Ordering::Relaxed),
            inserts: counters.inserts.load(Ordering::Relaxed),
            evictions: counters.evictions.load(Ordering::Relaxed),
            invalidations: counters.invalidations.load(Ordering::Relaxed),
            entries: 0,
            bytes: 0,
        };
        for shard in self.shared.shards.iter() {
            let shard = lock(shard);
            stats.entries += shard.index.len() as u64;
            stats.bytes += shard.bytes;
        }
        stats
    }

    /// Empties the cache (the counters are kept). Safe at any time: the cache only forgets.
    ///
    /// ```
    /// use zerotable::engine::Engine;
    /// use zerotable::layers::{CacheOptions, CachedEngine};
    ///
    /// let engine = CachedEngine::new(zerotable::MemoryEngine::new(), CacheOptions::default());
    /// engine.get("t", b"k", &mut |_| Ok(()))?;
    /// assert_eq!(engine.stats().entries, 1);
    /// engine.clear();
    /// assert_eq!((engine.stats().entries, engine.stats().bytes), (0, 0));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn clear(&self) {
        self.shared.clear();
    }

    /// The epoch of a snapshot whose inner snapshot was begun between loads `before` and
    /// `after` of the epoch: `None` if a commit was in flight (or the cache is off).
    fn snapshot_epoch(&self, before: u64, after: u64) -> Option<u64> {
        (before == after && before.is_multiple_of(2) && self.shared.max_weight > 0)
            .then_some(before)
    }
}

impl std::fmt::Debug for CachedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedEngine")
            .field("inner", &self.inner.name())
            .field("capacity", &self.shared.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Engine for CachedEngine {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        let before = self.shared.epoch.load(Ordering::SeqCst);
        let inner = self.inner.begin_read()?;
        let after = self.shared.epoch.load(Ordering::SeqCst);
        Ok(Box::new(CachedRead {
            inner,
            shared: Arc::clone(&self.shared),
            epoch: self.snapshot_epoch(before, after),
        }))
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        Ok(Box::new(CachedWrite {
            inner: self.inner.begin_write(options)?,
            shared: Arc::clone(&self.shared),
            touched: RefCell::new(Touched::default()),
        }))
    }

    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        let before = self.shared.epoch.load(Ordering::SeqCst);
        self.inner.read(&mut |reads| {
            // The inner snapshot exists by now: `after` brackets its beginning with `before`.
            let after = self.shared.epoch.load(Ordering::SeqCst);
            body(&CachedRead {
                inner: reads,
                shared: &*self.shared,
                epoch: self.snapshot_epoch(before, after),
            })
        })
    }

    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        let touched = RefCell::new(Touched::default());
        let mut committing: Option<Committing<'_>> = None;
        let result = self.inner.write(options, &mut |txn| {
            body(&CachedWrite {
                inner: txn,
                shared: &*self.shared,
                touched: &touched,
            })?;
            // The body succeeded: the inner engine commits as soon as this returns. The
            // commit lock is taken only now, with the body done, so no body ever runs (and
            // waits for anything) while this layer's commit lock is held.
            if committing.is_none() && !touched.borrow().is_empty() {
                committing = Some(self.shared.begin_commit(Invalidate::Touched(&touched)));
            }
            Ok(())
        });
        // Invalidates and ends the commit (whatever the outcome: it may have applied).
        drop(committing);
        result
    }

    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        let at = self.shared.epoch.load(Ordering::SeqCst);
        if !at.is_multiple_of(2) {
            // A commit is in flight: the latest state is the inner engine's to tell.
            self.shared.counters.count(&self.shared.counters.misses, 1);
            return self.inner.get(table, key, found);
        }
        self.shared
            .point_get(at, Wanted::Latest, table, key, found, |found| {
                self.inner.get(table, key, found)
            })
    }

    super::layer_identity!();
    // Compaction moves data, never changes it; size and flush change nothing.
    super::forward_to_inner!(size_on_disk, compact, flush);

    fn check_integrity(&self) -> Result<Integrity> {
        // Not under the commit lock: the inner check may wait for a writer, and that writer's
        // commit for the lock. A repair may have changed stored values: afterwards the cache
        // is emptied the way a commit invalidates, so nothing read before survives.
        let outcome = self.inner.check_integrity();
        let unchanged = match &outcome {
            Ok(integrity) => *integrity == Integrity::Intact,
            Err(error) => error.engine_kind() == Some(EngineErrorKind::Unsupported),
        };
        if !unchanged {
            drop(self.shared.begin_commit(Invalidate::Everything));
        }
        outcome
    }
}

/// Takes `mutex`, whether or not a panic poisoned it: every critical section of this module
/// leaves its data consistent at each step that could panic, and callers' code never runs
/// under these locks.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The cache of one [`CachedEngine`], shared with its snapshots.
struct Shared {
    /// Even while no commit is in flight; see the module documentation.
    epoch: AtomicU64,
    /// One commit at a time.
    commits: Mutex<()>,
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    capacity: u64,
    shard_capacity: u64,
    /// The heaviest entry cached; 0 when the cache is off.
    max_weight: u64,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    invalidations: AtomicU64,
}

impl Counters {
    fn count(&self, counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Which states a point read may be answered from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// An auto-commit read: the latest state, whose epoch was read before the lookup.
    Latest,
    /// A snapshot's read: the state of the snapshot's epoch.
    Snapshot,
}

impl Shared {
    fn new(capacity: u64) -> Self {
        let shards = (capacity / MIN_SHARD_BYTES).clamp(1, MAX_SHARDS);
        let shard_capacity = capacity / shards;
        Shared {
            epoch: AtomicU64::new(0),
            commits: Mutex::new(()),
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            capacity,
            shard_capacity,
            max_weight: shard_capacity / 4,
            counters: Counters::default(),
        }
    }

    fn shard_of(&self, composite: &[u8]) -> usize {
        (self.hasher.hash_one(composite) % self.shards.len() as u64) as usize
    }

    /// A point read at epoch `at` (even): from the cache if a usable entry is there, else
    /// through `inner`, caching what it finds when the epoch is still `at`.
    fn point_get(
        &self,
        at: u64,
        wanted: Wanted,
        table: &str,
        key: &[u8],
        found: &mut Found<'_>,
        inner: impl FnOnce(&mut Found<'_>) -> Result<bool>,
    ) -> Result<bool> {
        let base = composite_len(table, key) + ENTRY_OVERHEAD;
        if base > self.max_weight {
            self.counters.count(&self.counters.misses, 1);
            return inner(found);
        }
        let (shard, cached) = with_buffer(|composite| {
            compose(composite, table, key);
            let shard = self.shard_of(composite);
            let mut guard = lock(&self.shards[shard]);
            if wanted == Wanted::Latest && self.epoch.load(Ordering::SeqCst) != at {
                return (shard, None);
            }
            (shard, guard.lookup(composite, table, at))
        });
        // The lock is released: the caller's callback may read and write again.
        match cached {
            Some(Some(value)) => {
                self.counters.count(&self.counters.hits, 1);
                found(&value)?;
                return Ok(true);
            }
            Some(None) => {
                self.counters.count(&self.counters.hits, 1);
                return Ok(false);
            }
            None => self.counters.count(&self.counters.misses, 1),
        }
        let room = self.max_weight - base;
        let mut copy: Option<Arc<[u8]>> = None;
        let hit = inner(&mut |bytes| {
            found(bytes)?;
            if bytes.len() as u64 <= room {
                copy = Some(Arc::from(bytes));
            }
            Ok(())
        })?;
        let value = match (hit, copy) {
            (false, _) => None,
            (true, Some(value)) => Some(value),
            (true, None) => return Ok(true), // too large to cache
        };
        self.insert(shard, at, table, key, value);
        Ok(hit)
    }

    /// Caches `value` (`None`: absent) of `key` as of epoch `at`, if the epoch is still `at`.
    fn insert(&self, shard: usize, at: u64, table: &str, key: &[u8], value: Option<Arc<[u8]>>) {
        if self.epoch.load(Ordering::Relaxed) != at {
            return; // a later state exists: nothing to allocate (checked again below)
        }
        let composite: Arc<[u8]> = with_buffer(|buf| {
            compose(buf, table, key);
            Arc::from(&buf[..])
        });
        let weight = composite.len() as u64
            + value.as_ref().map_or(0, |value| value.len() as u64)
            + ENTRY_OVERHEAD;
        let mut guard = lock(&self.shards[shard]);
        // Under the lock a committer's invalidation also takes: see the module documentation.
        if self.epoch.load(Ordering::SeqCst) != at {
            return;
        }
        let (inserted, evicted) =
            guard.insert(composite, table, value, at, weight, self.shard_capacity);
        drop(guard);
        self.counters
            .count(&self.counters.inserts, u64::from(inserted));
        self.counters.count(&self.counters.evictions, evicted);
    }

    /// Takes the commit lock and makes the epoch odd; the guard returned invalidates and makes
    /// it even again when dropped.
    fn begin_commit<'a>(&'a self, invalidate: Invalidate<'a>) -> Committing<'a> {
        let serial = lock(&self.commits);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        Committing {
            shared: self,
            invalidate,
            _serial: serial,
        }
    }

    /// Removes or makes unreachable every entry `touched` may have changed.
    fn invalidate(&self, touched: &Touched) {
        let mut removed = 0;
        let mut keys: Vec<(usize, &[u8])> = Vec::new();
        for (table, touch) in &touched.tables {
            match touch {
                Touch::Whole => {
                    for shard in self.shards.iter() {
                        lock(shard).bump(table);
                    }
                    removed += 1;
                }
                Touch::Keys(set) => keys.extend(
                    set.iter()
                        .map(|composite| (self.shard_of(composite), &composite[..])),
                ),
            }
        }
        keys.sort_unstable_by_key(|&(shard, _)| shard);
        for run in keys.chunk_by(|a, b| a.0 == b.0) {
            let mut shard = lock(&self.shards[run[0].0]);
            for &(_, composite) in run {
                removed += u64::from(shard.remove(composite));
            }
        }
        self.counters.count(&self.counters.invalidations, removed);
    }

    fn clear(&self) {
        for shard in self.shards.iter() {
            lock(shard).clear();
        }
    }
}

/// What a commit invalidates.
enum Invalidate<'a> {
    /// What its write transaction recorded.
    Touched(&'a RefCell<Touched>),
    /// Everything (after a repair).
    Everything,
}

/// A commit in flight: the commit lock held and the epoch odd. Dropping it — after the inner
/// commit returned, failed or panicked — invalidates and makes the epoch even again.
struct Committing<'a> {
    shared: &'a Shared,
    invalidate: Invalidate<'a>,
    _serial: MutexGuard<'a, ()>,
}

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        match self.invalidate {
            Invalidate::Touched(touched) => match touched.try_borrow() {
                Ok(touched) => self.shared.invalidate(&touched),
                // Only if a panic left the record borrowed: forget everything instead.
                Err(_) => self.shared.clear(),
            },
            Invalidate::Everything => self.shared.clear(),
        }
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

/// The length of the cache key of `key` in `table`.
fn composite_len(table: &str, key: &[u8]) -> u64 {
    (4 + table.len() + key.len()) as u64
}

/// Writes the cache key of `key` in `table` into `out` (empty): the table name's length, the
/// name, the key.
fn compose(out: &mut Vec<u8>, table: &str, key: &[u8]) {
    // Table names longer than 4 GiB are not a thing; saturating keeps it well defined.
    let len = u32::try_from(table.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(table.as_bytes());
    out.extend_from_slice(key);
}

/// One shard: an index from cache key to CLOCK slot, and the tables' generations.
#[derive(Default)]
struct Shard {
    index: HashMap<Arc<[u8]>, usize>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    bytes: u64,
    /// Tables invalidated whole, and how many times (absent: 0).
    generations: HashMap<Box<str>, u64>,
}

struct Slot {
    key: Arc<[u8]>,
    /// `None`: the key is absent.
    value: Option<Arc<[u8]>>,
    generation: u64,
    /// The epoch from which the value holds.
    since: u64,
    weight: u64,
    /// Read since the CLOCK hand last passed.
    referenced: bool,
}

impl Shard {
    fn generation(&self, table: &str) -> u64 {
        if self.generations.is_empty() {
            return 0;
        }
        self.generations.get(table).copied().unwrap_or(0)
    }

    /// The entry of `composite` usable at epoch `at`: `Some(value or absence)`, or `None`.
    fn lookup(&mut self, composite: &[u8], table: &str, at: u64) -> Option<Option<Arc<[u8]>>> {
        let &index = self.index.get(composite)?;
        let generation = self.generation(table);
        let slot = self.slots[index].as_mut()?;
        if slot.generation != generation {
            self.remove_slot(index); // unreachable for good
            return None;
        }
        if slot.since > at {
            return None;
        }
        slot.referenced = true;
        Some(slot.value.clone())
    }

    /// Caches an entry; returns whether it was inserted and how many entries were evicted.
    fn insert(
        &mut self,
        key: Arc<[u8]>,
        table: &str,
        value: Option<Arc<[u8]>>,
        since: u64,
        weight: u64,
        capacity: u64,
    ) -> (bool, u64) {
        let generation = self.generation(table);
        if let Some(&index) = self.index.get(&key) {
            let Some(slot) = self.slots[index].as_mut() else {
                unreachable!("an indexed slot holds its entry")
            };
            if slot.generation == generation && slot.since <= since {
                // Another reader cached it first: the older entry serves older snapshots too.
                slot.referenced = true;
                return (false, 0);
            }
            self.remove_slot(index);
        }
        let mut evicted = 0;
        while self.bytes + weight > capacity && self.evict_one() {
            evicted += 1;
        }
        if self.bytes + weight > capacity {
            return (false, evicted);
        }
        let slot = Slot {
            key: Arc::clone(&key),
            value,
            generation,
            since,
            weight,
            referenced: false,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = Some(slot);
                index
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, index);
        self.bytes += weight;
        (true, evicted)
    }

    /// Removes the entry of `composite`; whether there was one.
    fn remove(&mut self, composite: &[u8]) -> bool {
        match self.index.get(composite) {
            Some(&index) => {
                self.remove_slot(index);
                true
            }
            None => false,
        }
    }

    fn remove_slot(&mut self, index: usize) {
        if let Some(slot) = self.slots[index].take() {
            self.index.remove(&slot.key);
            self.bytes -= slot.weight;
            self.free.push(index);
        }
    }

    /// Evicts one entry by CLOCK (entries of an invalidated generation first as the hand
    /// passes); `false` if the shard is empty.
    fn evict_one(&mut self) -> bool {
        if self.index.is_empty() {
            return false;
        }
        // Two turns at most: the first clears every reference bit it passes.
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let index = self.hand;
            self.hand += 1;
            let Some(slot) = self.slots[index].as_mut() else {
                continue;
            };
            if slot.referenced && !stale(&self.generations, slot) {
                slot.referenced = false;
                continue;
            }
            self.remove_slot(index);
            return true;
        }
    }

    /// Makes every entry of `table` unreachable.
    fn bump(&mut self, table: &str) {
        match self.generations.get_mut(table) {
            Some(generation) => *generation += 1,
            None => {
                self.generations.insert(table.into(), 1);
            }
        }
    }

    fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.hand = 0;
        self.bytes = 0;
    }
}

/// Whether `slot` belongs to a table generation that was invalidated.
fn stale(generations: &HashMap<Box<str>, u64>, slot: &Slot) -> bool {
    if generations.is_empty() {
        return false;
    }
    let name_len = slot.key.get(..4).map_or(0, |len| {
        u32::from_le_bytes(len.try_into().unwrap_or([0; 4])) as usize
    });
    let table = slot
        .key
        .get(4..4 + name_len)
        .and_then(|name| std::str::from_utf8(name).ok());
    table.is_some_and(|table| generations.get(table).copied().unwrap_or(0) != slot.generation)
}

/// What a write transaction touched: the cache keys it put or deleted, per table, or whole
/// tables.
#[derive(Default)]
struct Touched {
    tables: HashMap<Box<str>, Touch>,
    /// Keys recorded, in all tables.
    keys: usize,
}

enum Touch {
    Keys(HashSet<Box<[u8]>>),
    Whole,
}

impl Touched {
    fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    fn key(&mut self, table: &str, key: &[u8]) {
        if !self.tables.contains_key(table) {
            self.tables
                .insert(table.into(), Touch::Keys(HashSet::new()));
        }
        let Some(touch) = self.tables.get_mut(table) else {
            unreachable!("just inserted")
        };
        let Touch::Keys(keys) = touch else {
            return;
        };
        if keys.len() >= MAX_KEYS_PER_TABLE || self.keys >= MAX_KEYS {
            self.keys -= keys.len();
            *touch = Touch::Whole;
            return;
        }
        with_buffer(|composite| {
            compose(composite, table, key);
            if !keys.contains(&composite[..]) {
                keys.insert(composite[..].into());
                self.keys += 1;
            }
        });
    }

    fn whole(&mut self, table: &str) {
        match self.tables.get_mut(table) {
            Some(touch) => {
                if let Touch::Keys(keys) = touch {
                    self.keys -= keys.len();
                }
                *touch = Touch::Whole;
            }
            None => {
                self.tables.insert(table.into(), Touch::Whole);
            }
        }
    }
}

/// A snapshot of the inner engine, boxed (`begin_read`) or borrowed (`read`), and its epoch.
struct CachedRead<I, S> {
    inner: I,
    shared: S,
    /// `None`: the snapshot bypasses the cache.
    epoch: Option<u64>,
}

impl<I: InnerReads, S: Deref<Target = Shared>> ReadOps for CachedRead<I, S> {
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        let reads = self.inner.reads();
        match self.epoch {
            Some(at) => self
                .shared
                .point_get(at, Wanted::Snapshot, table, key, found, |found| {
                    reads.get(table, key, found)
                }),
            None => {
                self.shared.counters.count(&self.shared.counters.misses, 1);
                reads.get(table, key, found)
            }
        }
    }

    super::forward_reads!(range, len, list_tables, table_stats);
}

impl ReadTxn for CachedRead<Box<dyn ReadTxn>, Arc<Shared>> {}

/// A write transaction of the inner engine, boxed (`begin_write`) or borrowed (`write`), and
/// the record of what it touched.
struct CachedWrite<I, S, T> {
    inner: I,
    shared: S,
    touched: T,
}

impl<I, S, T: Borrow<RefCell<Touched>>> CachedWrite<I, S, T> {
    fn touched(&self) -> std::cell::RefMut<'_, Touched> {
        self.touched.borrow().borrow_mut()
    }
}

impl<I: InnerReads, S, T> ReadOps for CachedWrite<I, S, T> {
    // Reads see the transaction's own writes: never from the cache.
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.inner.reads().get(table, key, found)
    }

    super::forward_reads!(range, len, list_tables, table_stats);
}

impl<I, S, T> WriteTxn for CachedWrite<I, S, T>
where
    I: InnerWrites,
    S: Deref<Target = Shared>,
    T: Borrow<RefCell<Touched>>,
{
    // Each write is recorded before it is made: one that fails halfway is invalidated too.
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.touched().key(table, key);
        self.inner.writes().put(table, key, value)
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.touched().key(table, key);
        self.inner.writes().delete(table, key)
    }

    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        self.touched().whole(table);
        self.inner.writes().delete_range(table, range)
    }

    fn create_table(&self, table: &str) -> Result<()> {
        // No key changes: a new table is empty, as a missing one reads.
        self.inner.writes().create_table(table)
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        self.touched().whole(table);
        self.inner.writes().drop_table(table)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let this = *self;
        let touched: &RefCell<Touched> = this.touched.borrow();
        if touched.borrow().is_empty() {
            return this.inner.commit(); // nothing to invalidate
        }
        let _committing = this.shared.begin_commit(Invalidate::Touched(touched));
        this.inner.commit()
    }
}
