//! The small-buffer byte arena keys are encoded into.

use std::fmt;

/// Small-buffer byte arena keys are encoded into.
///
/// Holds up to [`KeyArena::INLINE_CAPACITY`] bytes inline (on the stack) and spills to a heap
/// `Vec` beyond, so encoding fixed-size keys and tuples of them never allocates. Reusable:
/// [`clear`](KeyArena::clear) keeps any heap capacity for the next key.
#[derive(Clone)]
pub struct KeyArena {
    inline: [u8; Self::INLINE_CAPACITY],
    /// Bytes used in `inline`; meaningful only while `!on_heap`.
    inline_len: usize,
    /// Kept (possibly empty) across `clear` so a reused arena does not allocate again.
    heap: Vec<u8>,
    /// Whether the current contents live in `heap` rather than `inline`.
    on_heap: bool,
}

impl KeyArena {
    /// Bytes stored without heap allocation: enough for three `u128`s (48 bytes) with room.
    pub const INLINE_CAPACITY: usize = 64;

    /// Creates an empty arena without allocating.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            inline: [0; Self::INLINE_CAPACITY],
            inline_len: 0,
            heap: Vec::new(),
            on_heap: false,
        }
    }

    /// Removes all bytes, keeping any heap capacity.
    pub fn clear(&mut self) {
        self.inline_len = 0;
        self.heap.clear();
        self.on_heap = false;
    }

    /// Appends one byte.
    pub fn push(&mut self, byte: u8) {
        if !self.on_heap && self.inline_len < Self::INLINE_CAPACITY {
            self.inline[self.inline_len] = byte;
            self.inline_len += 1;
        } else {
            self.spill(1);
            self.heap.push(byte);
        }
    }

    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        if !self.on_heap {
            let end = self.inline_len + bytes.len();
            if end <= Self::INLINE_CAPACITY {
                self.inline[self.inline_len..end].copy_from_slice(bytes);
                self.inline_len = end;
                return;
            }
            self.spill(bytes.len());
        }
        self.heap.extend_from_slice(bytes);
    }

    /// The bytes written since the last [`clear`](KeyArena::clear).
    pub fn as_slice(&self) -> &[u8] {
        if self.on_heap {
            &self.heap
        } else {
            &self.inline[..self.inline_len]
        }
    }

    /// Number of bytes written.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether no bytes have been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the current contents live on the heap. For tests of the no-allocation promise.
    #[doc(hidden)]
    pub fn spilled(&self) -> bool {
        self.on_heap
    }

    /// Heap bytes this arena owns (0 if it never allocated). For tests of the no-allocation
    /// promise.
    #[doc(hidden)]
    pub fn heap_capacity(&self) -> usize {
        self.heap.capacity()
    }

    /// Moves the inline contents to the heap, reserving room for `additional` more bytes.
    fn spill(&mut self, additional: usize) {
        if !self.on_heap {
            self.heap.clear();
            self.heap.reserve(self.inline_len + additional);
            self.heap.extend_from_slice(&self.inline[..self.inline_len]);
            self.on_heap = true;
        }
    }
}

impl Default for KeyArena {
    fn default() -> Self {
        Self::new()
    }
}

impl AsRef<[u8]> for KeyArena {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for KeyArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyArena")
            .field("bytes", &self.as_slice())
            .field("spilled", &self.on_heap)
            .finish_non_exhaustive()
    }
}
