//! Table handles kept open for the length of one transaction.
//!
//! redb opens a table per transaction (≈0.9 µs in a write transaction); keeping the handle
//! makes every later operation on the table skip that. The first slot lives inline and the
//! others in one array allocated when a transaction opens a second table, so a one-table
//! transaction (every auto-commit operation) allocates nothing more than raw redb does; slots
//! never move once made, so a handle can be lent to a running scan while other slots are
//! filled: each slot has its own `RefCell`. A scan holds its slot shared for as long as it runs; reads of the same table
//! nest freely, and a write to it finds the slot borrowed and is refused with
//! [`InUse`](crate::EngineErrorKind::InUse) instead of changing what the scan walks.
//! When every slot is taken, a handle no running read holds is closed to make room; only when
//! all slots are held by running reads is a table opened for one operation (redb refuses to
//! open a table twice in a write transaction, so reading a table inside its own scan then
//! needs 16 scans of other tables to be running at once before it fails with `InUse`).

use std::cell::{OnceCell, Ref, RefCell, RefMut};

use crate::error::{EngineError, EngineErrorKind, Error, Operation, Result};

/// Tables kept open per transaction beyond the first.
const MORE_SLOTS: usize = 15;
/// Longest table name stored inline (zerotable's own names are at most 64 bytes); longer
/// names of tables written through the raw engine are kept on the heap.
const NAME_CAPACITY: usize = 64;

/// A table's name, inline when short.
enum Name {
    Inline { len: u8, bytes: [u8; NAME_CAPACITY] },
    Long(Box<str>),
}

impl Name {
    fn new(table: &str) -> Self {
        if table.len() > NAME_CAPACITY {
            return Name::Long(table.into());
        }
        let mut bytes = [0; NAME_CAPACITY];
        bytes[..table.len()].copy_from_slice(table.as_bytes());
        Name::Inline {
            len: table.len() as u8,
            bytes,
        }
    }

    #[inline]
    fn is(&self, table: &str) -> bool {
        match self {
            Name::Inline { len, bytes } => &bytes[..usize::from(*len)] == table.as_bytes(),
            Name::Long(name) => **name == *table,
        }
    }
}

/// A handle and the name of its table.
pub(super) struct Named<T> {
    name: Name,
    pub(super) handle: T,
}

impl<T> Named<T> {
    fn is(&self, table: &str) -> bool {
        self.name.is(table)
    }
}

/// One slot: empty, or a table's handle.
type Slot<T> = RefCell<Option<Named<T>>>;

pub(super) struct TableSlots<T> {
    first: Slot<T>,
    more: OnceCell<Box<[Slot<T>; MORE_SLOTS]>>,
}

/// What opening a table gave.
enum Opened<'s, T> {
    /// The table does not exist.
    Missing,
    /// Its handle, kept in this slot.
    Kept(&'s Slot<T>),
    /// Its handle, for this operation only (no slot could take it).
    Loose(T),
}

pub(super) fn in_use(table: &str, operation: Operation) -> Error {
    Error::engine(
        Some(table),
        operation,
        EngineError::of_kind(EngineErrorKind::InUse),
    )
}

impl<T> TableSlots<T> {
    pub(super) fn new() -> Self {
        TableSlots {
            first: RefCell::new(None),
            more: OnceCell::new(),
        }
    }

    /// Every slot made so far.
    fn slots(&self) -> impl Iterator<Item = &Slot<T>> {
        std::iter::once(&self.first).chain(self.more.get().into_iter().flat_map(|more| more.iter()))
    }

    /// The slot holding `table`'s handle, if one does.
    #[inline]
    fn find(&self, table: &str) -> Option<&Slot<T>> {
        // A slot borrowed mutably is being written by an operation that runs no callbacks, so
        // it cannot be the caller of this one: skipping it is safe.
        let holds = |slot: &&Slot<T>| {
            slot.try_borrow()
                .is_ok_and(|entry| entry.as_ref().is_some_and(|named| named.is(table)))
        };
        if holds(&&self.first) {
            return Some(&self.first);
        }
        self.more.get()?.iter().find(holds)
    }

    /// Whether a slot holds `table`'s handle.
    pub(super) fn contains(&self, table: &str) -> bool {
        self.find(table).is_some()
    }

    /// A free slot, or else one whose handle no running read holds (closed to make room).
    fn vacancy(&self) -> Option<&Slot<T>> {
        let is_free = |slot: &&Slot<T>| slot.try_borrow().is_ok_and(|entry| entry.is_none());
        if is_free(&&self.first) {
            return Some(&self.first);
        }
        let more = self
            .more
            .get_or_init(|| Box::new(std::array::from_fn(|_| RefCell::new(None))));
        more.iter()
            .find(is_free)
            .or_else(|| self.slots().find(|slot| slot.try_borrow_mut().is_ok()))
    }

    /// Opens `table` with `open` and keeps the handle in a slot if one can take it.
    fn open_and_keep(
        &self,
        table: &str,
        open: impl FnOnce() -> Result<Option<T>>,
    ) -> Result<Opened<'_, T>> {
        let slot = self.vacancy();
        // Close the evicted handle first: redb must not hold the same table open twice.
        if let Some(slot) = slot {
            *slot.borrow_mut() = None;
        }
        let Some(handle) = open()? else {
            return Ok(Opened::Missing);
        };
        let Some(slot) = slot else {
            return Ok(Opened::Loose(handle));
        };
        *slot.borrow_mut() = Some(Named {
            name: Name::new(table),
            handle,
        });
        Ok(Opened::Kept(slot))
    }

    /// Runs `body` with `table`'s handle shared, opening it with `open` if no slot holds it
    /// (`open` returns `None` for a table that does not exist: then so does this).
    #[inline]
    pub(super) fn read<R>(
        &self,
        table: &str,
        open: impl FnOnce() -> Result<Option<T>>,
        body: impl FnOnce(&T) -> Result<R>,
    ) -> Result<Option<R>> {
        let slot = match self.find(table) {
            Some(slot) => slot,
            None => match self.open_and_keep(table, open)? {
                Opened::Missing => return Ok(None),
                Opened::Kept(slot) => slot,
                Opened::Loose(handle) => return body(&handle).map(Some),
            },
        };
        let entry = Ref::filter_map(slot.borrow(), Option::as_ref)
            .unwrap_or_else(|_| unreachable!("a found or kept slot holds a handle"));
        body(&entry.handle).map(Some)
    }

    /// Runs `body` with `table`'s handle exclusively, opening it with `open` if no slot holds
    /// it. Fails with `InUse` while a read of the table is running.
    pub(super) fn write<R>(
        &self,
        table: &str,
        operation: Operation,
        open: impl FnOnce() -> Result<T>,
        body: impl FnOnce(&mut T) -> Result<R>,
    ) -> Result<R> {
        let slot = match self.find(table) {
            Some(slot) => slot,
            None => match self.open_and_keep(table, || open().map(Some))? {
                Opened::Kept(slot) => slot,
                Opened::Loose(mut handle) => return body(&mut handle),
                Opened::Missing => unreachable!("`open` always gives a handle here"),
            },
        };
        let entry = slot
            .try_borrow_mut()
            .map_err(|_| in_use(table, operation))?;
        let mut entry = RefMut::filter_map(entry, Option::as_mut)
            .unwrap_or_else(|_| unreachable!("a found or kept slot holds a handle"));
        body(&mut entry.handle)
    }

    /// Takes every handle out of its slot (skipping slots a running read holds) and hands it to
    /// `each`.
    pub(super) fn drain(&self, mut each: impl FnMut(T)) {
        for slot in self.slots() {
            if let Ok(mut entry) = slot.try_borrow_mut()
                && let Some(named) = entry.take()
            {
                each(named.handle);
            }
        }
    }

    /// Closes `table`'s handle (redb refuses to drop an open table). `InUse` while a read of it
    /// is running.
    pub(super) fn close(&self, table: &str, operation: Operation) -> Result<()> {
        if let Some(slot) = self.find(table) {
            let mut entry = slot
                .try_borrow_mut()
                .map_err(|_| in_use(table, operation))?;
            *entry = None;
        }
        Ok(())
    }
}
