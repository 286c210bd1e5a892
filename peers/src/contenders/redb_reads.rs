//! What the two contenders on redb itself (raw redb, postcard on redb) share: the `people`
//! table of `&[u8]` keys and values, and its reads, each with the contender's own way of
//! reading `revenue` out of a stored value.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

pub(super) const PEOPLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("people");

/// The table, open in a read transaction it keeps alive.
pub(super) type People = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// Opens a read transaction and the table: once per call, or once for many reads.
pub(super) fn open_people(db: &Database) -> People {
    let txn = db.begin_read().expect("begin_read");
    txn.open_table(PEOPLE).expect("open_table")
}

/// The revenue of `id`, read with `revenue`.
pub(super) fn revenue_in(table: &People, id: u64, revenue: impl Fn(&[u8]) -> f64) -> Option<f64> {
    let value = table.get(id.to_be_bytes().as_slice()).expect("get")?;
    Some(revenue(value.value()))
}

/// The sum of the revenue of the first `count` people from `start` on.
pub(super) fn sum_from_in(
    table: &People,
    start: u64,
    count: usize,
    revenue: impl Fn(&[u8]) -> f64,
) -> f64 {
    let start = start.to_be_bytes();
    table
        .range::<&[u8]>(start.as_slice()..)
        .expect("range")
        .take(count)
        .fold(0.0, |sum, entry| {
            let (_, value) = entry.expect("entry");
            sum + revenue(value.value())
        })
}

/// The sum of every person's revenue, in key order.
pub(super) fn sum_all(table: &People, revenue: impl Fn(&[u8]) -> f64) -> f64 {
    table.iter().expect("iter").fold(0.0, |sum, entry| {
        let (_, value) = entry.expect("entry");
        sum + revenue(value.value())
    })
}
