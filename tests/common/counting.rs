//! A global allocator that counts, per thread (tests run on parallel threads), the allocation
//! calls made, the bytes they asked for, and the bytes still live. A global allocator must be
//! declared in the binary itself, so each test binary that counts says
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;
//! ```
//!
//! With it, [`compare_lookups`] counts what gets of different kinds allocate: the typed ones
//! ([`typed_get`], [`typed_get_in`]) on the users of [`users_table`] against an engine's own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use zerotable::{RkyvTable, Snapshot, Storage};

use super::{User, user};

/// Forwards to the system allocator, counting what the current thread does.
pub struct CountingAllocator;

/// One thread's counts.
struct Counts {
    /// Calls to `alloc` and `realloc`.
    allocations: Cell<u64>,
    /// Bytes asked for by `alloc` and `realloc` (a `realloc` counts its whole new size).
    allocated: Cell<u64>,
    /// Bytes allocated minus bytes freed (negative when freeing what another thread allocated).
    live: Cell<i64>,
}

thread_local! {
    static COUNTS: Counts = const {
        Counts {
            allocations: Cell::new(0),
            allocated: Cell::new(0),
            live: Cell::new(0),
        }
    };
}

/// Counts one allocation call of `allocated` bytes that frees `freed` bytes (`alloc`,
/// `realloc`), or with `call` false, only a free (`dealloc`). Silent once the thread's counts are
/// gone (thread exit).
fn count(call: bool, allocated: usize, freed: usize) {
    let _ = COUNTS.try_with(|counts| {
        counts
            .allocations
            .set(counts.allocations.get() + u64::from(call));
        counts
            .allocated
            .set(counts.allocated.get() + allocated as u64);
        counts
            .live
            .set(counts.live.get() + allocated as i64 - freed as i64);
    });
}

// SAFETY: every method forwards to the system allocator unchanged; the only addition is
// thread-local counters, whose const-initialised `Cell`s never allocate or panic.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(true, layout.size(), 0);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(false, 0, layout.size());
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(true, new_size, layout.size());
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocation calls (`alloc` and `realloc`) this thread has made so far.
pub fn allocations() -> u64 {
    COUNTS.with(|counts| counts.allocations.get())
}

/// Bytes this thread has asked to allocate so far.
pub fn allocated_bytes() -> u64 {
    COUNTS.with(|counts| counts.allocated.get())
}

/// Bytes this thread has allocated and not freed.
pub fn live_bytes() -> i64 {
    COUNTS.with(|counts| counts.live.get())
}

/// Allocation calls `work` makes on this thread.
pub fn allocations_during(work: impl FnOnce()) -> u64 {
    let before = allocations();
    work();
    allocations() - before
}

/// How many keys an allocation comparison ([`compare_lookups`]) looks up, each once per run.
pub const LOOKUPS: u64 = 1_000;

/// Compares what lookups cost in allocations. Every contender (a name, and one lookup of key
/// `i`) first runs over `0..LOOKUPS` to warm up (page cache, lazily initialised state); then
/// the allocations of a second run of each are counted, printed per lookup on one line
/// (`{label}: {name} {per lookup}, …`), and returned in the contenders' order.
pub fn compare_lookups<const N: usize>(
    label: &str,
    mut contenders: [(&str, &mut dyn FnMut(u64)); N],
) -> [u64; N] {
    for (_, lookup) in &mut contenders {
        (0..LOOKUPS).for_each(&mut **lookup);
    }
    let counts: [u64; N] = std::array::from_fn(|k| {
        let lookup = &mut *contenders[k].1;
        allocations_during(|| (0..LOOKUPS).for_each(lookup))
    });
    let figures: Vec<String> = contenders
        .iter()
        .zip(counts)
        .map(|((name, _), count)| format!("{name} {}", count as f64 / LOOKUPS as f64))
        .collect();
    println!("{label}: {}", figures.join(", "));
    counts
}

/// Users `0..LOOKUPS` (`user(i)` under key `i`) in typed table `users` of `storage`.
pub fn users_table(storage: &Storage) -> RkyvTable<u64, User> {
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    users.put_batch((0..LOOKUPS).map(|i| (i, user(i)))).unwrap();
    users
}

/// The typed contender: an auto-commit get of user `i` (which must be there), reading one field.
pub fn typed_get(users: &RkyvTable<u64, User>) -> impl FnMut(u64) + '_ {
    move |i| {
        let revenue = users.get(&i, |u| u.revenue.to_native()).unwrap();
        std::hint::black_box(revenue.unwrap());
    }
}

/// The typed contender inside one snapshot: a get of user `i` (which must be there) in
/// `snapshot`, reading one field.
pub fn typed_get_in<'a>(
    users: &'a RkyvTable<u64, User>,
    snapshot: &'a Snapshot,
) -> impl FnMut(u64) + 'a {
    move |i| {
        let revenue = users
            .get_in(snapshot, &i, |u| u.revenue.to_native())
            .unwrap();
        std::hint::black_box(revenue.unwrap());
    }
}
