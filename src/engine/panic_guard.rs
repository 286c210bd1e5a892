//! Engine libraries that panic on damaged data (redb 4 hits `unreachable!` on some damaged
//! pages) must not pass the panic on: [`catch_engine_panic`] turns it into a typed
//! [`Corrupted`](crate::EngineErrorKind::Corrupted) error naming the table and operation.
//!
//! A caller's callback runs inside the guarded call (a range walk calls it between two steps
//! of the engine's iterator), but its panic is not the engine's: callbacks run through
//! [`CallerCode::run`], and a panic that starts there is resumed unchanged. One guard covers a
//! whole operation, so the cost is one landing pad per operation, not per row.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// Marks the parts of a guarded call that are the caller's code, not the engine's.
#[derive(Debug, Default)]
pub struct CallerCode {
    running: Cell<bool>,
}

impl CallerCode {
    /// Runs a caller's callback: a panic inside it propagates unchanged.
    #[inline]
    pub fn run<R>(&self, callback: impl FnOnce() -> R) -> R {
        let outer = self.running.replace(true);
        let result = callback();
        self.running.set(outer);
        result
    }
}

/// Runs `call` (a call into an engine library) and converts a panic of the engine into an
/// [`Error::Engine`] of kind [`Corrupted`](EngineErrorKind::Corrupted). Callbacks of the
/// caller must run through the given [`CallerCode`], so that their panics pass through.
///
/// ```
/// use zerotable::{EngineErrorKind, Operation, catch_engine_panic};
///
/// let err = catch_engine_panic(Some("users"), Operation::Get, |_| -> zerotable::Result<()> {
///     panic!("entered unreachable code") // as if inside the engine library
/// })
/// .unwrap_err();
/// assert_eq!(err.engine_kind(), Some(EngineErrorKind::Corrupted));
/// assert_eq!(err.table(), Some("users"));
///
/// // A callback's panic is the caller's own: it passes through.
/// let caught = std::panic::catch_unwind(|| {
///     catch_engine_panic(None, Operation::Get, |caller| caller.run(|| -> zerotable::Result<()> {
///         panic!("the caller's bug")
///     }))
/// });
/// assert!(caught.is_err());
/// ```
#[inline]
pub fn catch_engine_panic<T>(
    table: Option<&str>,
    operation: Operation,
    call: impl FnOnce(&CallerCode) -> Result<T>,
) -> Result<T> {
    guard_engine_call(table, operation, call).unwrap_or_else(Err)
}

/// [`catch_engine_panic`], telling a caught engine panic (the outer `Err`) apart from an error
/// the call returned: engines stop using a write transaction after a panic inside it.
#[inline]
pub(crate) fn guard_engine_call<T>(
    table: Option<&str>,
    operation: Operation,
    call: impl FnOnce(&CallerCode) -> Result<T>,
) -> std::result::Result<Result<T>, Error> {
    let caller = CallerCode::default();
    match catch_unwind(AssertUnwindSafe(|| call(&caller))) {
        Ok(result) => Ok(result),
        Err(panic) if caller.running.get() => resume_unwind(panic),
        Err(panic) => Err(Error::engine(
            table,
            operation,
            EngineError::new(
                EngineErrorKind::Corrupted,
                format!(
                    "the engine panicked, most likely on damaged data: {}",
                    panic_message(&*panic)
                ),
            ),
        )),
    }
}

/// The text of a panic payload, when it has one.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
