//! Keeping indexes in step with their table: what the one write path calls, for every index
//! of the table, inside the writing transaction.
//!
//! # Entries
//!
//! An entry's key starts with the part encoding of the index key (the form a key takes inside
//! a tuple: self-delimiting, ordered like the key):
//! - unique index: key = index key part, value = the row's primary key;
//! - other indexes: key = index key part + the primary key, value empty — so the rows of one
//!   index key lie together, in primary-key order.
//!
//! # One write
//!
//! 1. the index keys of the row as it was (read in the transaction) and as it will be;
//! 2. for each unique index whose key changes: is the new key taken by another row? Then
//!    [`Error::UniqueViolation`] — before anything is written, so the failed write leaves
//!    nothing behind, in its own transaction or in the caller's;
//! 3. the row is written;
//! 4. for each index whose key changed: the old entry removed, the new one added.

use std::marker::PhantomData;
use std::ops::ControlFlow;

use super::IndexRecord;
use crate::codec::key::{IntoKeyBytes, KeyArena};
use crate::codec::value::ValueSerializer;
use crate::engine::{KeyRange, WriteTxn};
use crate::error::{Error, KeyBytes, Result};

/// One defined index, its key function erased: what the write path holds.
pub(crate) trait Maintain: Send + Sync {
    /// What the index was defined as.
    fn record(&self) -> &IndexRecord;

    /// The engine table of its entries.
    fn entries(&self) -> &str;

    /// Writes the part encoding of the index key of the row (`pk`, `value`) into `out`;
    /// `false` when the row has no key in this index.
    fn key_of(&self, pk: &[u8], value: &[u8], out: &mut KeyArena) -> Result<bool>;
}

/// An index key function over the values of a table of `V`s stored by `S`.
pub(crate) struct KeyFn<V: ?Sized, S, IK, F> {
    pub(crate) record: IndexRecord,
    pub(crate) entries: String,
    pub(crate) serializer: S,
    pub(crate) key: F,
    pub(crate) types: PhantomData<fn(&V) -> IK>,
}

impl<V, S, IK, F> Maintain for KeyFn<V, S, IK, F>
where
    V: ?Sized + 'static,
    S: ValueSerializer<V>,
    IK: IntoKeyBytes + 'static,
    F: Fn(S::Output<'_>) -> Option<IK> + Send + Sync + 'static,
{
    fn record(&self) -> &IndexRecord {
        &self.record
    }

    fn entries(&self) -> &str {
        &self.entries
    }

    fn key_of(&self, pk: &[u8], value: &[u8], out: &mut KeyArena) -> Result<bool> {
        let view = self
            .serializer
            .decode(value)
            .map_err(|source| Error::CorruptValue {
                table: self.record.table.clone(),
                key: KeyBytes(pk.to_vec()),
                format: S::FORMAT,
                source,
            })?;
        out.clear();
        match (self.key)(view) {
            Some(key) => {
                key.write_key_part(out);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// The index keys of one row, one per index (`None`: not indexed, or no row).
pub(crate) type RowKeys = Vec<Option<KeyArena>>;

/// The index keys of the row (`pk`, `value`) in every index.
pub(crate) fn keys_of(
    indexes: &[std::sync::Arc<dyn Maintain>],
    pk: &[u8],
    value: Option<&[u8]>,
) -> Result<RowKeys> {
    indexes
        .iter()
        .map(|index| {
            let Some(value) = value else { return Ok(None) };
            let mut key = KeyArena::new();
            Ok(index.key_of(pk, value, &mut key)?.then_some(key))
        })
        .collect()
}

/// The key of `index`'s entry for index key `key` of row `pk`, into `out`.
pub(crate) fn entry_key<'a>(
    index: &dyn Maintain,
    key: &[u8],
    pk: &[u8],
    out: &'a mut KeyArena,
) -> &'a [u8] {
    out.clear();
    out.extend_from_slice(key);
    if !index.record().unique {
        out.extend_from_slice(pk);
    }
    out.as_slice()
}

/// Step 2: refuses new keys of unique indexes that another row holds.
pub(crate) fn check_unique(
    txn: &dyn WriteTxn,
    indexes: &[std::sync::Arc<dyn Maintain>],
    pk: &[u8],
    old: &RowKeys,
    new: &RowKeys,
) -> Result<()> {
    for ((index, old), new) in indexes.iter().zip(old).zip(new) {
        let Some(new) = new else { continue };
        if old.as_ref().map(KeyArena::as_slice) != Some(new.as_slice()) {
            check_unique_key(txn, &**index, pk, new.as_slice())?;
        }
    }
    Ok(())
}

/// Refuses index key `key` for row `pk` if `index` is unique and another row holds it.
pub(crate) fn check_unique_key(
    txn: &dyn WriteTxn,
    index: &dyn Maintain,
    pk: &[u8],
    key: &[u8],
) -> Result<()> {
    if !index.record().unique {
        return Ok(());
    }
    let mut holder = None;
    txn.get(index.entries(), key, &mut |owner| {
        if owner != pk {
            holder = Some(owner.to_vec());
        }
        Ok(())
    })?;
    match holder {
        Some(holder) => Err(violation(index.record(), key, &holder)),
        None => Ok(()),
    }
}

/// Step 4: moves the entries of the row `pk` from its old keys to its new ones.
pub(crate) fn update_entries(
    txn: &dyn WriteTxn,
    indexes: &[std::sync::Arc<dyn Maintain>],
    pk: &[u8],
    old: &RowKeys,
    new: &RowKeys,
) -> Result<()> {
    let mut entry = KeyArena::new();
    for ((index, old), new) in indexes.iter().zip(old).zip(new) {
        let (old, new) = (
            old.as_ref().map(KeyArena::as_slice),
            new.as_ref().map(KeyArena::as_slice),
        );
        if old == new {
            continue;
        }
        if let Some(old) = old {
            txn.delete(index.entries(), entry_key(&**index, old, pk, &mut entry))?;
        }
        if let Some(new) = new {
            let value: &[u8] = if index.record().unique { pk } else { &[] };
            txn.put(
                index.entries(),
                entry_key(&**index, new, pk, &mut entry),
                value,
            )?;
        }
    }
    Ok(())
}

/// Removes every entry of `index` that points to row `pk`, wherever it is: for a row whose
/// old value cannot be decoded (damaged), so its old index keys are unknown. Walks the whole
/// index; damage is rare.
pub(crate) fn remove_entries_of(txn: &dyn WriteTxn, index: &dyn Maintain, pk: &[u8]) -> Result<()> {
    let record = index.record();
    let mut doomed = Vec::new();
    txn.range(index.entries(), &KeyRange::ALL, &mut |key, value| {
        let points_here = if record.unique {
            value == pk
        } else {
            let mut rest = key;
            record.key.decode_leading_part(&mut rest).is_ok() && rest == pk
        };
        if points_here {
            doomed.push(key.to_vec());
        }
        Ok(ControlFlow::Continue(()))
    })?;
    for key in doomed {
        txn.delete(index.entries(), &key)?;
    }
    Ok(())
}

/// The index key of an entry, for messages: its decoded form, or its bytes.
pub(crate) fn describe_key(record: &IndexRecord, key_part: &[u8]) -> String {
    let mut input = key_part;
    match record.key.decode_leading_part(&mut input) {
        Ok(value) => value.to_string(),
        Err(_) => KeyBytes(key_part.to_vec()).to_string(),
    }
}

/// The unique violation of `record` by index key `key`, held by row `holder`.
pub(crate) fn violation(record: &IndexRecord, key: &[u8], holder: &[u8]) -> Error {
    Error::UniqueViolation {
        table: record.table.clone(),
        index: record.name.clone(),
        key: describe_key(record, key),
        holder: KeyBytes(holder.to_vec()),
    }
}
