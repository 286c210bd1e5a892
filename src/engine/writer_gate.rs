//! One writer at a time per database — and an error instead of a deadlock when the thread
//! that holds the write starts another one (an auto-commit `put` inside `Storage::write`, a
//! second `begin_write`). Waiting there could never end.
//!
//! The gate records the thread that began the write. That is exact because a write
//! transaction never changes threads: [`WriteTxn`](crate::WriteTxn) is not `Send`, and
//! neither is the typed [`WriteTx`](crate::WriteTx) wrapping it.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, ThreadId};

use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// Admits one writer at a time; others wait, the holder's own thread is refused with
/// [`NestedWrite`](crate::EngineErrorKind::NestedWrite). A helper for engines whose library
/// does not serialize writers (or deadlocks on a nested write): take a ticket in
/// `begin_write` and keep it in the transaction, after the fields that must end first.
///
/// ```
/// use std::sync::Arc;
/// use zerotable::EngineErrorKind;
/// use zerotable::engine::WriterGate;
///
/// let gate = Arc::new(WriterGate::default());
/// let ticket = gate.enter()?;
/// assert_eq!(gate.enter().unwrap_err().engine_kind(), Some(EngineErrorKind::NestedWrite));
/// drop(ticket);
/// let _again = gate.enter()?;
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct WriterGate {
    owner: Mutex<Option<ThreadId>>,
    released: Condvar,
}

/// The right to write, until dropped (also during a panic).
#[derive(Debug)]
pub struct WriterTicket(Arc<WriterGate>);

impl WriterGate {
    /// Waits until no other thread writes, then admits this one.
    pub fn enter(self: &Arc<Self>) -> Result<WriterTicket> {
        let me = thread::current().id();
        // No caller code runs under this lock, so poisoning cannot hide a broken invariant.
        let mut owner = self.owner.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match *owner {
                None => break,
                Some(holder) if holder == me => {
                    return Err(Error::engine(
                        None,
                        Operation::BeginWrite,
                        EngineError::of_kind(EngineErrorKind::NestedWrite),
                    ));
                }
                Some(_) => {
                    owner = self
                        .released
                        .wait(owner)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
        *owner = Some(me);
        Ok(WriterTicket(Arc::clone(self)))
    }
}

impl Drop for WriterTicket {
    fn drop(&mut self) {
        *self.0.owner.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.0.released.notify_one();
    }
}
