//! [`Scanner`]: streaming, ordered passes over a table.

use std::ops::ControlFlow;

use crate::error::Result;
use crate::key::{FromKeyBytes, IntoKeyBytes};
use crate::serializer::ValueSerializer;
use crate::table::Table;

/// One ordered pass over a table, handed out by [`Table::scan_with`].
///
/// Entries are decoded one at a time in place and never collected. A closure's `Err` stops the
/// pass and is returned as is; so does an entry that fails to decode (naming its key).
pub struct Scanner<'t, K, V: ?Sized, S> {
    table: &'t Table<K, V, S>,
}

impl<'t, K, V, S> Scanner<'t, K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    pub(crate) fn new(table: &'t Table<K, V, S>) -> Self {
        Scanner { table }
    }

    /// Folds every entry, in key order, into an accumulator.
    pub fn fold<A, F>(self, init: A, mut step: F) -> Result<A>
    where
        F: FnMut(A, &K, S::Output<'_>) -> Result<A>,
    {
        // The accumulator moves through the engine's callback; it is always put back before the
        // next entry unless `step` failed, in which case the scan stops.
        let mut acc = Some(init);
        self.table.visit(|key, value| {
            let Some(current) = acc.take() else {
                return Ok(ControlFlow::Break(()));
            };
            acc = Some(step(current, key, value)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(acc.expect("fold: accumulator is restored after every successful step"))
    }

    /// Calls `body` for every entry, in key order.
    pub fn for_each<F>(self, mut body: F) -> Result<()>
    where
        F: FnMut(&K, S::Output<'_>) -> Result<()>,
    {
        self.table.visit(|key, value| {
            body(key, value)?;
            Ok(ControlFlow::Continue(()))
        })
    }

    /// Calls `body` for entries in key order until it returns [`ControlFlow::Break`]: an early
    /// stop that is not an error.
    pub fn try_for_each<F>(self, body: F) -> Result<()>
    where
        F: FnMut(&K, S::Output<'_>) -> Result<ControlFlow<()>>,
    {
        self.table.visit(body)
    }
}
