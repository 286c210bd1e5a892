//! A global allocator that counts, per thread (tests run on parallel threads), the allocation
//! calls made, the bytes they asked for, and the bytes still live. A global allocator must be
//! declared in the binary itself, so each test binary that counts says
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

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
