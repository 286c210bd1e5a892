//! Which tables a write transaction is reading right now, so that writing one of them from a
//! read callback is refused with [`InUse`](crate::EngineErrorKind::InUse) instead of changing
//! what a running scan walks (an LMDB cursor, a RocksDB iterator and a SQLite statement all
//! misbehave, or worse, when their table changes under them).

use std::cell::RefCell;

use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// The tables with a read (a range, or a get whose callback runs) in progress inside one write
/// transaction. Mark each read with [`enter`](Self::enter) for as long as it runs and call
/// [`check_writable`](Self::check_writable) before every write.
///
/// A transaction reads a handful of tables at once at most, so this is a short list.
///
/// ```
/// use zerotable::EngineErrorKind;
/// use zerotable::engine::RunningReads;
/// use zerotable::Operation;
///
/// let reads = RunningReads::default();
/// {
///     let _scan = reads.enter("users");
///     let err = reads.check_writable("users", Operation::Put).unwrap_err();
///     assert_eq!(err.engine_kind(), Some(EngineErrorKind::InUse));
///     assert!(reads.check_writable("orders", Operation::Put).is_ok());
/// }
/// assert!(reads.check_writable("users", Operation::Put).is_ok());
/// ```
#[derive(Debug, Default)]
pub struct RunningReads {
    tables: RefCell<Vec<(Box<str>, usize)>>,
}

/// One read in progress, until dropped (also during a panic).
#[derive(Debug)]
pub struct ReadMark<'a> {
    reads: &'a RunningReads,
    table: Box<str>,
}

impl RunningReads {
    /// Marks a read of `table` as running until the returned mark is dropped. Reads nest.
    pub fn enter(&self, table: &str) -> ReadMark<'_> {
        let mut tables = self.tables.borrow_mut();
        match tables.iter_mut().find(|(name, _)| **name == *table) {
            Some((_, count)) => *count += 1,
            None => tables.push((table.into(), 1)),
        }
        ReadMark {
            reads: self,
            table: table.into(),
        }
    }

    /// Whether a read of `table` is running.
    pub fn is_reading(&self, table: &str) -> bool {
        self.tables
            .borrow()
            .iter()
            .any(|(name, count)| **name == *table && *count > 0)
    }

    /// `Ok` unless a read of `table` is running; then [`InUse`](EngineErrorKind::InUse) for
    /// `operation`.
    pub fn check_writable(&self, table: &str, operation: Operation) -> Result<()> {
        if self.is_reading(table) {
            return Err(Error::engine(
                Some(table),
                operation,
                EngineError::of_kind(EngineErrorKind::InUse),
            ));
        }
        Ok(())
    }
}

impl Drop for ReadMark<'_> {
    fn drop(&mut self) {
        let mut tables = self.reads.tables.borrow_mut();
        if let Some(at) = tables.iter().position(|(name, _)| *name == self.table) {
            tables[at].1 -= 1;
            if tables[at].1 == 0 {
                tables.swap_remove(at);
            }
        }
    }
}
