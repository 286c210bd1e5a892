//! A subscriber's bounded queue: writers push without ever waiting, the receiver pops.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::ChangeData;
use crate::scan::Bounds;
use crate::table::hooks::lock;

/// What a queue holds.
pub(crate) enum Item {
    Change(Arc<ChangeData>),
    Lagged(u64),
    Dropped,
}

/// One subscription: the keys it watches and its queue.
pub(crate) struct Subscriber {
    watched: Bounds,
    capacity: usize,
    queue: Mutex<Queue>,
    ready: Condvar,
}

struct Queue {
    items: VecDeque<Item>,
    /// Changes dropped since the queue was last full, not yet reported.
    missed: u64,
    /// Nothing more will be pushed.
    closed: bool,
}

impl Subscriber {
    pub(crate) fn new(watched: Bounds, capacity: usize) -> Self {
        Subscriber {
            watched,
            capacity,
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                missed: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// Whether `key` (encoded) is one this subscriber watches.
    pub(crate) fn watches(&self, key: &[u8]) -> bool {
        self.watched.contains(key)
    }

    /// Queues `item` without waiting. A full queue drops a change and counts it; the count is
    /// queued as a lag marker ahead of the first change there is room for again (the marker
    /// takes that room when only one place is free, and the change is counted in it).
    pub(crate) fn push(&self, item: Item) {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return;
        }
        let free = self.capacity.saturating_sub(queue.items.len());
        match (free, queue.missed) {
            (0, _) => queue.missed += 1,
            (1, missed) if missed > 0 => {
                queue.items.push_back(Item::Lagged(missed + 1));
                queue.missed = 0;
            }
            (_, missed) => {
                if missed > 0 {
                    queue.items.push_back(Item::Lagged(missed));
                    queue.missed = 0;
                }
                queue.items.push_back(item);
            }
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// The next item: waits for one up to `timeout` (forever for `None`). `None` when the
    /// time is up, or when the subscription is closed and empty.
    pub(crate) fn pop(&self, timeout: Option<Duration>) -> Option<Item> {
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        let mut queue = lock(&self.queue);
        loop {
            if let Some(item) = queue.items.pop_front() {
                return Some(item);
            }
            if queue.closed {
                return None;
            }
            queue = match deadline {
                None => self
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    if left.is_zero() {
                        return None;
                    }
                    self.ready
                        .wait_timeout(queue, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// Ends the subscription: nothing more is queued; a waiting receiver wakes.
    pub(crate) fn close(&self) {
        lock(&self.queue).closed = true;
        self.ready.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.queue).closed
    }

    pub(crate) fn queued(&self) -> usize {
        lock(&self.queue).items.len()
    }
}
