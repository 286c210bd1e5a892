//! Change subscriptions: a [`Table`]'s committed writes, delivered to subscribers.
//!
//! ```
//! # #[derive(rkyv::Archive, rkyv::Serialize)] struct User { name: String }
//! use zerotable::{ChangeKind, Event, Storage};
//!
//! let storage = Storage::in_memory();
//! let users = storage.rkyv_table::<u64, User>("users")?;
//! let (events, _guard) = storage.subscribe(&users, 100..200)?;
//! users.put(&150, &User { name: "ada".into() })?;
//! users.put(&7, &User { name: "not watched".into() })?;
//! users.delete(&150)?;
//!
//! let Some(Event::Change(change)) = events.try_recv() else { panic!() };
//! assert_eq!((change.key()?, change.kind()), (150, ChangeKind::Insert));
//! assert_eq!(change.value(|u| u.name.len())?, Some(3));
//! let Some(Event::Change(change)) = events.try_recv() else { panic!() };
//! assert_eq!((change.key()?, change.kind()), (150, ChangeKind::Delete));
//! assert!(events.try_recv().is_none());
//! # Ok::<(), zerotable::Error>(())
//! ```
//!
//! # What is delivered, and when
//!
//! - **After the commit only**: a write's event is queued in its transaction and handed to the
//!   subscribers once the commit has succeeded. Rolled-back work (an error, a panic, a dropped
//!   [`WriteTx`](crate::WriteTx), a failed commit) delivers nothing.
//! - **In commit order**, across every table of the storage: a transaction with events takes
//!   its place in a commit order before it commits and delivers before the next one may.
//!   Within a transaction, events come in the order of its writes.
//! - **Every typed write**: put, delete (of a present key), batches, update,
//!   compare-and-swap, get-or-insert, each inside a transaction or on its own. Writes made
//!   around the typed API — through [`WriteTx::engine_txn`](crate::WriteTx::engine_txn) or
//!   another process — are not seen. A delete of an absent key changes nothing and delivers
//!   nothing; a put of the value already stored is an [`Update`](ChangeKind::Update).
//! - **What an event carries**: the table, the typed key, the kind of change, and the new
//!   value, viewed through the table's serializer (validated) like a read.
//!   [`Storage::drop_table`](crate::Storage::drop_table) delivers [`Event::TableDropped`].
//!
//! # A slow subscriber never blocks writers
//!
//! Each subscription has a bounded queue ([`Storage::subscribe_with`] sets its capacity,
//! 1,024 events by default). A writer never waits for a subscriber: when the queue is full the
//! event is dropped and counted. Once the subscriber has made room, the next event is preceded
//! by one [`Event::Lagged`] giving how many were dropped there. A subscriber that lags has
//! missed changes: it should read the table (or its range) again to resynchronize, then go on
//! with the events after the marker.
//!
//! # Ending
//!
//! Dropping either the [`Events`] receiver or its [`SubscriptionGuard`] unsubscribes: nothing
//! more is queued, and the receiver ends once it has handed out what was queued. The receiver
//! also ends when every storage and table handle of the database is gone.
//!
//! Writes pay for subscriptions only while a table has subscribers: one key comparison per
//! subscriber, and a copy of the key and value for each event a subscriber wants.

mod queue;

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Weak};
use std::time::Duration;

use self::queue::Item;
pub(crate) use self::queue::Subscriber;
use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyBounds, KeyPrefix};
use crate::codec::value::ValueSerializer;
use crate::error::{Error, KeyBytes, Result};
use crate::scan::Bounds;
use crate::storage::Storage;
use crate::table::Table;
use crate::table::hooks::{OrderTicket, TableHooks};

/// The default capacity of a subscription's queue.
pub const DEFAULT_CAPACITY: usize = 1024;

/// What a write did to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The key was absent before.
    Insert,
    /// The key held a value before, replaced.
    Update,
    /// The key was removed.
    Delete,
}

/// One committed change, as stored: shared by every subscriber that wants it.
pub(crate) struct ChangeData {
    table: Arc<str>,
    key: Box<[u8]>,
    kind: ChangeKind,
    value: Option<Box<[u8]>>,
}

/// What a subscription receives.
pub enum Event<K, V: ?Sized, S> {
    /// A committed change to a watched key.
    Change(Change<K, V, S>),
    /// The queue was full and this many changes were dropped here: read the watched keys again
    /// to resynchronize, then go on with the events that follow.
    Lagged {
        /// How many changes were dropped.
        missed: u64,
    },
    /// The table was dropped ([`Storage::drop_table`]); events of a table created again under
    /// the name follow.
    TableDropped,
}

impl<K, V: ?Sized, S> fmt::Debug for Event<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Change(change) => f.debug_tuple("Change").field(change).finish(),
            Event::Lagged { missed } => f.debug_struct("Lagged").field("missed", missed).finish(),
            Event::TableDropped => f.write_str("TableDropped"),
        }
    }
}

/// A committed change: its table, typed key, kind, and the new value.
pub struct Change<K, V: ?Sized, S> {
    data: Arc<ChangeData>,
    serializer: S,
    types: PhantomData<fn(&K, &V)>,
}

impl<K, V: ?Sized, S> fmt::Debug for Change<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Change")
            .field("table", &self.data.table)
            .field("kind", &self.data.kind)
            .field("key", &KeyBytes(self.data.key.to_vec()))
            .finish_non_exhaustive()
    }
}

impl<K, V, S> Change<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V>,
{
    /// The table written.
    pub fn table(&self) -> &str {
        &self.data.table
    }

    /// Insert, update or delete.
    pub fn kind(&self) -> ChangeKind {
        self.data.kind
    }

    /// The key written, decoded.
    pub fn key(&self) -> Result<K> {
        K::from_key_bytes(&self.data.key).map_err(|source| Error::KeyDecode {
            table: self.data.table.to_string(),
            key: KeyBytes(self.data.key.to_vec()),
            source,
        })
    }

    /// The key written, encoded.
    pub fn key_bytes(&self) -> &[u8] {
        &self.data.key
    }

    /// `read(view)` of the new value (validated as a read is), or `None` for a delete.
    pub fn value<F, R>(&self, read: F) -> Result<Option<R>>
    where
        F: FnOnce(S::Output<'_>) -> R,
    {
        match &self.data.value {
            Some(bytes) => match self.serializer.decode(bytes) {
                Ok(view) => Ok(Some(read(view))),
                Err(source) => Err(Error::CorruptValue {
                    table: self.data.table.to_string(),
                    key: KeyBytes(self.data.key.to_vec()),
                    format: S::FORMAT,
                    source,
                }),
            },
            None => Ok(None),
        }
    }

    /// The new value's stored bytes, or `None` for a delete.
    pub fn value_bytes(&self) -> Option<&[u8]> {
        self.data.value.as_deref()
    }
}

/// The receiving end of a subscription: [`recv`](Self::recv) blocks for the next event, or
/// iterate. Dropping it unsubscribes.
pub struct Events<K, V: ?Sized, S> {
    link: Link,
    serializer: S,
    types: PhantomData<fn(&K, &V)>,
}

/// Keeps a subscription alive; dropping it unsubscribes (as dropping its [`Events`] does).
#[must_use = "dropping the guard ends the subscription"]
pub struct SubscriptionGuard {
    _link: Link,
}

impl fmt::Debug for SubscriptionGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionGuard").finish_non_exhaustive()
    }
}

impl<K, V: ?Sized, S> fmt::Debug for Events<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

/// One end of a subscription: unsubscribes when dropped.
struct Link {
    subscriber: Arc<Subscriber>,
    hooks: Weak<TableHooks>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.subscriber.close();
        if let Some(hooks) = self.hooks.upgrade() {
            hooks.change(|state| {
                state
                    .subscribers
                    .retain(|s| !Arc::ptr_eq(s, &self.subscriber))
            });
        }
    }
}

impl<K, V, S> Events<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V> + Clone,
{
    fn event(&self, item: Item) -> Event<K, V, S> {
        match item {
            Item::Change(data) => Event::Change(Change {
                data,
                serializer: self.serializer.clone(),
                types: PhantomData,
            }),
            Item::Lagged(missed) => Event::Lagged { missed },
            Item::Dropped => Event::TableDropped,
        }
    }

    /// The next event, waiting for one; `None` once the subscription has ended (its guard
    /// dropped, or the database closed) and everything queued was handed out.
    pub fn recv(&self) -> Option<Event<K, V, S>> {
        self.link.subscriber.pop(None).map(|item| self.event(item))
    }

    /// The next event if one is queued, without waiting.
    pub fn try_recv(&self) -> Option<Event<K, V, S>> {
        self.link
            .subscriber
            .pop(Some(Duration::ZERO))
            .map(|item| self.event(item))
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event<K, V, S>> {
        self.link
            .subscriber
            .pop(Some(timeout))
            .map(|item| self.event(item))
    }

    /// Whether the subscription has ended (nothing more will be queued).
    pub fn is_closed(&self) -> bool {
        self.link.subscriber.is_closed()
    }
}

impl<K, V, S> Iterator for Events<K, V, S>
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V> + Clone,
{
    type Item = Event<K, V, S>;

    fn next(&mut self) -> Option<Self::Item> {
        self.recv()
    }
}

/// Options of a subscription.
#[derive(Clone, Copy, Debug)]
pub struct SubscribeOptions {
    capacity: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            capacity: DEFAULT_CAPACITY,
        }
    }
}

impl SubscribeOptions {
    /// How many events the queue holds before later ones are dropped (and counted in an
    /// [`Event::Lagged`]); at least 2, default [`DEFAULT_CAPACITY`].
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(2);
        self
    }
}

impl Storage {
    /// Subscribes to the committed changes of `table` whose keys are within `keys`: `..` for
    /// all, `a..b`, `a..=b`, `a..` and the like (see [`Table::range`]). See [`crate::watch`].
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let (events, guard) = storage.subscribe(&t, ..)?;
    /// t.put(&1, b"x")?;
    /// assert!(events.try_recv().is_some());
    /// drop(guard); // unsubscribes
    /// t.put(&2, b"y")?;
    /// assert!(events.recv().is_none());
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn subscribe<K, V, S, R>(
        &self,
        table: &Table<K, V, S>,
        keys: R,
    ) -> Result<(Events<K, V, S>, SubscriptionGuard)>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V> + Clone,
        R: KeyBounds<K>,
    {
        self.subscribe_with(table, keys, SubscribeOptions::default())
    }

    /// [`subscribe`](Self::subscribe) with options (the queue's capacity).
    ///
    /// ```
    /// use zerotable::{Event, SubscribeOptions};
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<u64>("t")?;
    /// let (events, _guard) = storage.subscribe_with(&t, .., SubscribeOptions::default().capacity(2))?;
    /// t.put_batch((0..5u64).map(|i| (i, [0u8])))?; // 2 queued, 3 dropped
    /// assert!(matches!(events.try_recv(), Some(Event::Change(_))));
    /// assert!(matches!(events.try_recv(), Some(Event::Change(_))));
    /// t.put(&9, b"after")?;
    /// assert!(matches!(events.try_recv(), Some(Event::Lagged { missed: 3 })));
    /// assert!(matches!(events.try_recv(), Some(Event::Change(c)) if c.key()? == 9));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn subscribe_with<K, V, S, R>(
        &self,
        table: &Table<K, V, S>,
        keys: R,
        options: SubscribeOptions,
    ) -> Result<(Events<K, V, S>, SubscriptionGuard)>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V> + Clone,
        R: KeyBounds<K>,
    {
        let (start, end) = keys.key_bounds();
        Ok(subscribe_to(table, Bounds::encode(start, end), options))
    }

    /// Subscribes to one key of `table`.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<String>("t")?;
    /// let (events, _guard) = storage.subscribe_key(&t, "config")?;
    /// t.put("other", b"x")?;
    /// t.put("config", b"y")?;
    /// assert_eq!(events.count_queued(), 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn subscribe_key<K, V, S, Q>(
        &self,
        table: &Table<K, V, S>,
        key: &Q,
    ) -> Result<(Events<K, V, S>, SubscriptionGuard)>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V> + Clone,
        Q: crate::KeyLike<K> + ?Sized,
    {
        let bounds = Bounds::encode(
            std::ops::Bound::Included(key),
            std::ops::Bound::Included(key),
        );
        Ok(subscribe_to(table, bounds, SubscribeOptions::default()))
    }

    /// Subscribes to the tuple keys of `table` whose leading elements are `prefix` (as
    /// [`Table::prefix`] scans them).
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<(String, u64)>("t")?;
    /// let (events, _guard) = storage.subscribe_prefix(&t, &("ada",))?;
    /// t.put(&("ada", 1), b"")?;
    /// t.put(&("bob", 1), b"")?;
    /// assert_eq!(events.count_queued(), 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn subscribe_prefix<K, V, S, P>(
        &self,
        table: &Table<K, V, S>,
        prefix: &P,
    ) -> Result<(Events<K, V, S>, SubscriptionGuard)>
    where
        K: IntoKeyBytes + FromKeyBytes,
        V: ?Sized,
        S: ValueSerializer<V> + Clone,
        P: KeyPrefix<K>,
    {
        Ok(subscribe_to(
            table,
            Bounds::prefix(prefix),
            SubscribeOptions::default(),
        ))
    }

    /// Subscribes to the `String` (or `Vec<u8>`) keys of `table` that start with `prefix`.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let t = storage.raw_table::<String>("t")?;
    /// let (events, _guard) = storage.subscribe_starting_with(&t, "user:")?;
    /// t.put("user:1", b"")?;
    /// t.put("video:1", b"")?;
    /// assert_eq!(events.count_queued(), 1);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn subscribe_starting_with<K, V, S>(
        &self,
        table: &Table<K, V, S>,
        prefix: &K::Prefix,
    ) -> Result<(Events<K, V, S>, SubscriptionGuard)>
    where
        K: IntoKeyBytes + FromKeyBytes + crate::codec::key::ByteStringKey,
        V: ?Sized,
        S: ValueSerializer<V> + Clone,
    {
        let bounds = Bounds::starting_with(prefix.as_ref());
        Ok(subscribe_to(table, bounds, SubscribeOptions::default()))
    }
}

impl<K, V: ?Sized, S> Events<K, V, S> {
    /// How many events are queued now (a lag marker counts as one).
    pub fn count_queued(&self) -> usize {
        self.link.subscriber.queued()
    }
}

fn subscribe_to<K, V, S>(
    table: &Table<K, V, S>,
    bounds: Bounds,
    options: SubscribeOptions,
) -> (Events<K, V, S>, SubscriptionGuard)
where
    K: IntoKeyBytes + FromKeyBytes,
    V: ?Sized,
    S: ValueSerializer<V> + Clone,
{
    let subscriber = Arc::new(Subscriber::new(bounds, options.capacity));
    table
        .hooks
        .change(|state| state.subscribers.push(Arc::clone(&subscriber)));
    let link = || Link {
        subscriber: Arc::clone(&subscriber),
        hooks: Arc::downgrade(&table.hooks),
    };
    let events = Events {
        link: link(),
        serializer: table.serializer.clone(),
        types: PhantomData,
    };
    (events, SubscriptionGuard { _link: link() })
}

/// The change events of one transaction, delivered once it has committed.
#[derive(Default)]
pub(crate) struct Pending {
    events: RefCell<Vec<(Arc<Subscriber>, Arc<ChangeData>)>>,
    /// The commit order of the engine, once an event is queued.
    order: RefCell<Option<Arc<crate::table::hooks::CommitOrder>>>,
}

impl Pending {
    /// Queues the change of `key` in `table` for every subscriber in `subscribers` watching it.
    pub(crate) fn record(
        &self,
        hooks: &TableHooks,
        subscribers: &[Arc<Subscriber>],
        table: &Arc<str>,
        key: &[u8],
        kind: ChangeKind,
        value: Option<&[u8]>,
    ) {
        let mut data = None;
        for subscriber in subscribers.iter().filter(|s| s.watches(key)) {
            let data = data.get_or_insert_with(|| {
                Arc::new(ChangeData {
                    table: Arc::clone(table),
                    key: key.into(),
                    kind,
                    value: value.map(Into::into),
                })
            });
            self.events
                .borrow_mut()
                .push((Arc::clone(subscriber), Arc::clone(data)));
        }
        if data.is_some() {
            self.order
                .borrow_mut()
                .get_or_insert_with(|| Arc::clone(hooks.order()));
        }
    }

    /// Called just before the commit: takes the events out, and their place in the commit
    /// order if there are any. Deliver the outbox once the commit has succeeded; dropping it
    /// delivers nothing.
    pub(crate) fn seal(&self) -> Outbox {
        let events = std::mem::take(&mut *self.events.borrow_mut());
        let ticket = match self.order.borrow_mut().take() {
            Some(order) if !events.is_empty() => Some(order.enter()),
            _ => None,
        };
        Outbox {
            events,
            _ticket: ticket,
        }
    }
}

/// The events of a committing transaction, holding its place in the commit order.
pub(crate) struct Outbox {
    events: Vec<(Arc<Subscriber>, Arc<ChangeData>)>,
    _ticket: Option<OrderTicket>,
}

impl Outbox {
    /// Hands every event to its subscriber, then gives up the place in the commit order.
    pub(crate) fn deliver(self) {
        for (subscriber, data) in &self.events {
            subscriber.push(Item::Change(Arc::clone(data)));
        }
    }
}

/// Tells the subscribers of a dropped table.
pub(crate) fn table_dropped(hooks: &TableHooks) {
    for subscriber in &hooks.current().subscribers {
        subscriber.push(Item::Dropped);
    }
}
