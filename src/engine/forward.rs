//! [`forward_write_txn!`]: the boxed write transaction of an engine whose operations live in
//! another value (the scoped transaction's, borrowed from an owner): every [`ReadOps`] and
//! [`WriteTxn`] method but `commit` is one forwarding call, written once here.
//!
//! [`ReadOps`]: crate::engine::ReadOps
//! [`WriteTxn`]: crate::engine::WriteTxn

/// Implements `ReadOps` and `WriteTxn` for `$ty` by forwarding every call to the operations
/// value that `self.$via(|ops| …)` lends; the tokens after the last comma are the rest of the
/// `WriteTxn` impl (its `commit`).
macro_rules! forward_write_txn {
    ($ty:ty, $via:ident, $($commit:tt)*) => {
        impl $crate::engine::ReadOps for $ty {
            fn get(
                &self,
                table: &str,
                key: &[u8],
                found: &mut $crate::engine::Found<'_>,
            ) -> $crate::error::Result<bool> {
                self.$via(|ops| ops.get(table, key, found))
            }

            fn range(
                &self,
                table: &str,
                range: &$crate::engine::KeyRange<'_>,
                visit: &mut $crate::engine::Visit<'_>,
            ) -> $crate::error::Result<()> {
                self.$via(|ops| ops.range(table, range, visit))
            }

            fn len(&self, table: &str) -> $crate::error::Result<u64> {
                self.$via(|ops| ops.len(table))
            }

            fn list_tables(&self) -> $crate::error::Result<Vec<String>> {
                self.$via(|ops| ops.list_tables())
            }

            fn table_stats(&self, table: &str) -> $crate::error::Result<$crate::engine::TableStats> {
                self.$via(|ops| ops.table_stats(table))
            }
        }

        impl $crate::engine::WriteTxn for $ty {
            fn put(&self, table: &str, key: &[u8], value: &[u8]) -> $crate::error::Result<()> {
                self.$via(|ops| ops.put(table, key, value))
            }

            fn delete(&self, table: &str, key: &[u8]) -> $crate::error::Result<bool> {
                self.$via(|ops| ops.delete(table, key))
            }

            fn delete_range(
                &self,
                table: &str,
                range: &$crate::engine::KeyRange<'_>,
            ) -> $crate::error::Result<u64> {
                self.$via(|ops| ops.delete_range(table, range))
            }

            fn create_table(&self, table: &str) -> $crate::error::Result<()> {
                self.$via(|ops| ops.create_table(table))
            }

            fn drop_table(&self, table: &str) -> $crate::error::Result<bool> {
                self.$via(|ops| ops.drop_table(table))
            }

            $($commit)*
        }
    };
}
pub(crate) use forward_write_txn;
