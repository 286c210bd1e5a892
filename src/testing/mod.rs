//! The conformance suite every [`Engine`] must pass (feature `testing`), split by what it
//! checks, one file each:
//!
//! | file | promises checked |
//! |---|---|
//! | `basic.rs` | point reads and writes, tables, order, callbacks (errors, panics, re-entrancy) |
//! | `ranges.rs` | every kind of bound, both directions, early stop, empty ranges |
//! | `snapshots.rs` | isolation from later commits, one state of every table, threads |
//! | `write_txn.rs` | atomicity, read-your-writes, rollback, serialized writers, nesting |
//! | `tables.rs` | table administration (or its typed `Unsupported` answer) |
//! | `durability.rs` | flush, compaction, size, integrity (or `Unsupported`), reopening |
//! | `typed.rs` | typed tables, the catalog, the typed transaction API |
//! | `indexes.rs` | secondary indexes kept by every write, unique keys, builds, reopening |
//! | `watch.rs` | change subscriptions: after commit, in order, filters, lag, unsubscribing |
//! | `model/` | random operation sequences against an ordered-map model, with shrinking |
//!
//! A [`Harness`] tells the suite how to make a fresh engine, how to reopen it (for persistent
//! engines) and which [`Capabilities`] it claims; every capability check verifies both sides:
//! what is claimed works, what is not claimed answers
//! [`Unsupported`](crate::EngineErrorKind::Unsupported). Each check runs twice, once through
//! the boxed transactions ([`Engine::begin_read`], [`Engine::begin_write`]) and once through
//! the scoped ones ([`Engine::read`], [`Engine::write`]), so an engine's fast paths are held to
//! the same promises.
//!
//! [`conformance_suite!`](crate::conformance_suite) generates one `#[test]` per file for an
//! engine. Inside a file, the `checks!` list *defines* the checks, so no check can exist
//! without running; and the generated tests include one that fails if a file is missing from
//! the macro.
//!
//! ```ignore
//! struct MyHarness;
//! impl zerotable::testing::Harness for MyHarness { /* fresh, reopen, claims */ }
//! zerotable::conformance_suite!(my_engine, MyHarness);
//! ```

pub mod basic;
pub mod durability;
pub mod indexes;
mod layered;
pub mod model;
pub mod ranges;
pub mod snapshots;
mod support;
pub mod tables;
pub mod typed;
pub mod watch;
pub mod write_txn;

use std::any::Any;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

pub use self::layered::LayeredHarness;
pub use self::support::Record;
// Each engine behind a feature keeps its harness in its own folder (`harness.rs`).
use crate::engine::{Capabilities, Engine, KeyRange, ReadOps, ReadTxn, WriteOptions, WriteTxn};
#[cfg(feature = "fjall")]
pub use crate::engines::fjall::FjallHarness;
#[cfg(feature = "lmdb")]
pub use crate::engines::lmdb::LmdbHarness;
#[cfg(feature = "rocksdb")]
pub use crate::engines::rocksdb::RocksDbHarness;
#[cfg(feature = "sqlite")]
pub use crate::engines::sqlite::SqliteHarness;
use crate::engines::{MemoryEngine, RedbEngine, RedbOptions};
use crate::error::Result;
use crate::storage::Storage;

/// How the suite makes, and remakes, the engine under test.
pub trait Harness {
    /// The engine's name in reports.
    fn name(&self) -> &'static str;

    /// The optional capabilities the engine claims. The suite checks that
    /// [`Engine::capabilities`] says the same, and that each claimed capability works while
    /// each unclaimed one answers `Unsupported`.
    fn claims(&self) -> Capabilities;

    /// A fresh, empty engine.
    fn fresh(&self) -> Instance;

    /// A fresh, empty engine for write-heavy tests: commits are not fsynced where the engine
    /// allows it. The default is [`fresh`](Self::fresh).
    fn fresh_fast(&self) -> Instance {
        self.fresh()
    }
}

/// One engine under test, with what it needs: a way to reopen it and whatever must outlive it
/// (a temporary directory).
pub struct Instance {
    engine: Option<Arc<dyn Engine>>,
    reopen: Option<Box<dyn Fn() -> Arc<dyn Engine>>>,
    _keep_alive: Box<dyn Any>,
}

impl Instance {
    /// An engine that cannot be reopened (nothing persists).
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        Instance {
            engine: Some(engine),
            reopen: None,
            _keep_alive: Box::new(()),
        }
    }

    /// A persistent engine: `reopen` opens the same database again (after the previous engine
    /// was dropped); `keep_alive` lives as long as the instance.
    pub fn persistent(
        engine: Arc<dyn Engine>,
        reopen: impl Fn() -> Arc<dyn Engine> + 'static,
        keep_alive: impl Any,
    ) -> Self {
        Instance {
            engine: Some(engine),
            reopen: Some(Box::new(reopen)),
            _keep_alive: Box::new(keep_alive),
        }
    }

    /// A persistent engine at `entry` in a fresh temporary directory: `open` makes it from
    /// that path, now and on every reopen; the directory lives as long as the instance.
    pub fn in_temp_dir(
        entry: &str,
        open: impl Fn(&std::path::Path) -> Arc<dyn Engine> + 'static,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(entry);
        let reopen = move || open(&path);
        Instance::persistent(reopen(), reopen, dir)
    }

    /// The same instance with its engine, and every engine a reopen makes, wrapped by `wrap`:
    /// a layer ([`crate::layers`]) over the engine under test.
    pub fn wrapped(self, wrap: impl Fn(Arc<dyn Engine>) -> Arc<dyn Engine> + 'static) -> Self {
        let wrap = std::rc::Rc::new(wrap);
        let reopen = self.reopen.map(|reopen| {
            let wrap = std::rc::Rc::clone(&wrap);
            Box::new(move || wrap(reopen())) as Box<dyn Fn() -> Arc<dyn Engine>>
        });
        Instance {
            engine: self.engine.map(|engine| wrap(engine)),
            reopen,
            _keep_alive: self._keep_alive,
        }
    }

    /// The engine under test.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        self.engine
            .as_ref()
            .unwrap_or_else(|| unreachable!("only `reopen` takes the engine, and puts one back"))
    }
}

/// Which transactions a check run goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// [`Engine::begin_read`] and [`Engine::begin_write`], committed explicitly.
    Boxed,
    /// [`Engine::read`] and [`Engine::write`], scoped to one call.
    Scoped,
}

impl Mode {
    /// Runs `body` on a snapshot of `engine` through this mode.
    pub fn read<R>(self, engine: &dyn Engine, body: impl FnOnce(&dyn ReadOps) -> R) -> R {
        match self {
            Mode::Boxed => body(&*engine.begin_read().expect("begin_read")),
            Mode::Scoped => {
                let mut body = Some(body);
                let mut out = None;
                engine
                    .read(&mut |reader| {
                        out = Some((body.take().expect("read body runs once"))(reader));
                        Ok(())
                    })
                    .expect("read");
                out.expect("the read body ran")
            }
        }
    }

    /// Runs `body` in one write transaction on `engine` through this mode and commits it if
    /// `body` returns `Ok`; returns what the commit returned. For threads that only have the
    /// engine; checks use [`Fixture::try_write`].
    pub fn write(
        self,
        engine: &dyn Engine,
        options: WriteOptions,
        body: impl FnOnce(&dyn WriteTxn) -> Result<()>,
    ) -> Result<()> {
        match self {
            Mode::Boxed => {
                let txn = engine.begin_write(options)?;
                body(&*txn)?;
                txn.commit()
            }
            Mode::Scoped => {
                let mut body = Some(body);
                engine.write(options, &mut |txn| {
                    (body.take().expect("write body runs once"))(txn)
                })
            }
        }
    }
}

/// What one check works with: the engine, its claims, and helpers that read and write through
/// the transactions of the run's [`Mode`].
pub struct Fixture {
    instance: RefCell<Instance>,
    claims: Capabilities,
    mode: Mode,
}

impl Fixture {
    /// A fixture over `instance` for a run in `mode`.
    pub fn new(instance: Instance, claims: Capabilities, mode: Mode) -> Self {
        Fixture {
            instance: RefCell::new(instance),
            claims,
            mode,
        }
    }

    /// The engine under test.
    pub fn engine(&self) -> Arc<dyn Engine> {
        Arc::clone(self.instance.borrow().engine())
    }

    /// A typed storage over the engine.
    pub fn storage(&self) -> Storage {
        Storage::from_arc(self.engine())
    }

    /// The capabilities the harness claims.
    pub fn claims(&self) -> Capabilities {
        self.claims
    }

    /// The mode of this run.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Drops the engine and opens the same database again; `false` (and nothing done) for an
    /// engine that is not persistent. Every other handle on the engine must be gone.
    pub fn reopen(&self) -> bool {
        let mut instance = self.instance.borrow_mut();
        let Some(reopen) = instance.reopen.take() else {
            return false;
        };
        let engine = instance.engine.take().expect("an engine is open");
        assert_eq!(
            Arc::strong_count(&engine),
            1,
            "reopen: something still holds the engine"
        );
        drop(engine);
        instance.engine = Some(reopen());
        instance.reopen = Some(reopen);
        true
    }

    /// Runs `body` on a snapshot, through this run's mode.
    pub fn read<R>(&self, body: impl FnOnce(&dyn ReadOps) -> R) -> R {
        self.mode.read(&*self.engine(), body)
    }

    /// Runs `body` in a write transaction through this run's mode and commits it if `body`
    /// returns `Ok`; returns what the commit returned.
    pub fn try_write(&self, body: impl FnOnce(&dyn WriteTxn) -> Result<()>) -> Result<()> {
        self.try_write_with(WriteOptions::DEFAULT, body)
    }

    /// [`try_write`](Self::try_write) with options.
    pub fn try_write_with(
        &self,
        options: WriteOptions,
        body: impl FnOnce(&dyn WriteTxn) -> Result<()>,
    ) -> Result<()> {
        self.mode.write(&*self.engine(), options, body)
    }

    /// [`try_write`](Self::try_write), expecting success.
    pub fn write(&self, body: impl FnOnce(&dyn WriteTxn) -> Result<()>) {
        self.try_write(body).expect("write transaction");
    }

    /// A snapshot to hold across other operations.
    pub fn begin_read(&self) -> Box<dyn ReadTxn> {
        self.engine().begin_read().expect("begin_read")
    }

    /// A write transaction to hold across other operations.
    pub fn begin_write(&self) -> Box<dyn WriteTxn> {
        self.engine()
            .begin_write(WriteOptions::DEFAULT)
            .expect("begin_write")
    }

    /// Puts one entry in its own transaction.
    pub fn put(&self, table: &str, key: &[u8], value: &[u8]) {
        self.write(|txn| txn.put(table, key, value));
    }

    /// Deletes one key in its own transaction; whether it existed.
    pub fn delete(&self, table: &str, key: &[u8]) -> bool {
        let mut existed = false;
        self.write(|txn| {
            existed = txn.delete(table, key)?;
            Ok(())
        });
        existed
    }

    /// The value of `key`, copied, from a fresh snapshot — checked to be what the auto-commit
    /// [`Engine::get`] finds too, so every check that reads a key also holds that path to it.
    pub fn get(&self, table: &str, key: &[u8]) -> Option<Vec<u8>> {
        let in_snapshot = self.read(|reader| support::get_copy(reader, table, key));
        let latest = support::get_latest_copy(&*self.engine(), table, key);
        assert_eq!(
            latest, in_snapshot,
            "Engine::get of {key:?} in {table:?} disagrees with a snapshot's get"
        );
        in_snapshot
    }

    /// The entry count from a fresh snapshot.
    pub fn len(&self, table: &str) -> u64 {
        self.read(|reader| reader.len(table).expect("len"))
    }

    /// Every entry of `table`, ascending, from a fresh snapshot.
    pub fn scan_all(&self, table: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.range(table, &KeyRange::ALL)
    }

    /// The entries of `range`, from a fresh snapshot.
    pub fn range(&self, table: &str, range: &KeyRange<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.read(|reader| support::range_copy(reader, table, range))
    }
}

/// One check: a name and the function that runs it.
#[derive(Clone, Copy)]
pub struct Check {
    /// The promise it checks, as a function name.
    pub name: &'static str,
    /// Runs it; a panic is a failure.
    pub run: fn(&Fixture),
}

/// Defines the checks of one file and its `CHECKS` list from the same text, so that a check
/// cannot be written and then forgotten.
macro_rules! checks {
    ($( $(#[$meta:meta])* fn $name:ident($f:ident: &Fixture) $body:block )*) => {
        $( $(#[$meta])* pub fn $name($f: &$crate::testing::Fixture) $body )*

        /// Every check of this file, in order.
        pub const CHECKS: &[$crate::testing::Check] = &[
            $( $crate::testing::Check { name: stringify!($name), run: $name } ),*
        ];
    };
}
pub(crate) use checks;

/// Every file of the suite, by name.
pub const SUITES: &[(&str, &[Check])] = &[
    ("basic", basic::CHECKS),
    ("ranges", ranges::CHECKS),
    ("snapshots", snapshots::CHECKS),
    ("write_txn", write_txn::CHECKS),
    ("tables", tables::CHECKS),
    ("durability", durability::CHECKS),
    ("typed", typed::CHECKS),
    ("indexes", indexes::CHECKS),
    ("watch", watch::CHECKS),
    ("model", model::CHECKS),
];

/// Runs every check of suite file `suite` on engines from `harness`, each on a fresh engine
/// and in both [`Mode`]s, and panics with the list of failures, if any.
pub fn run_suite(harness: &dyn Harness, suite: &str) {
    let checks = SUITES
        .iter()
        .find(|(name, _)| *name == suite)
        .unwrap_or_else(|| panic!("no conformance suite file named {suite:?}"))
        .1;
    let mut failures = String::new();
    for check in checks {
        for mode in [Mode::Boxed, Mode::Scoped] {
            let fixture = Fixture::new(harness.fresh(), harness.claims(), mode);
            let outcome = catch_unwind(AssertUnwindSafe(|| (check.run)(&fixture)));
            if let Err(panic) = outcome {
                let message = crate::engine::panic_message_of(&*panic);
                let _ = writeln!(
                    failures,
                    "  {}::{} ({mode:?}): {message}",
                    suite, check.name
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "engine {:?} failed conformance checks:\n{failures}",
        harness.name()
    );
}

/// Checks that an engine reports the capabilities its harness claims.
pub fn run_capability_claims(harness: &dyn Harness) {
    let instance = harness.fresh();
    assert_eq!(
        instance.engine().capabilities(),
        harness.claims(),
        "engine {:?} reports other capabilities than its harness claims",
        harness.name()
    );
}

/// Generates the conformance tests for one engine, in a module named `$name`: one `#[test]`
/// per suite file, one for the capability claims, and one that fails if a file of [`SUITES`]
/// has no test here. The tests and that list come from the same list of names below, so a file
/// cannot be listed without running. `$harness` is an expression of a type implementing
/// [`Harness`].
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $harness:expr) => {
        $crate::conformance_suite!(@files $name, $harness;
            basic, ranges, snapshots, write_txn, tables, durability, typed, indexes, watch, model);
    };
    (@files $name:ident, $harness:expr; $($file:ident),+) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $file() {
                    $crate::testing::run_suite(&$harness, stringify!($file));
                }
            )+

            #[test]
            fn capability_claims() {
                $crate::testing::run_capability_claims(&$harness);
            }

            #[test]
            fn every_suite_file_runs() {
                let here: &[&str] = &[$(stringify!($file)),+];
                let all: Vec<&str> = $crate::testing::SUITES.iter().map(|(n, _)| *n).collect();
                assert_eq!(here, all.as_slice(), "a suite file has no test in conformance_suite!");
            }
        }
    };
}

/// [`conformance_suite!`] for each engine of a list `name: harness, …`, as
/// [`for_each_builtin_engine!`](crate::for_each_builtin_engine) hands it.
#[macro_export]
macro_rules! conformance_suites {
    ($($name:ident: $harness:expr),* $(,)?) => {
        $( $crate::conformance_suite!($name, $harness); )*
    };
}

/// Calls `$callback! { name: harness, … }` with every engine shipped with zerotable and
/// compiled in: the one list of engines, shared by the conformance suite and every test that
/// runs on every engine (through [`builtin_harnesses`]).
///
/// The engines behind cargo features join the list through a chain of small macros, one per
/// feature, each defined in two ways by `cfg` (adding its engine, or passing the list on), so
/// that the features of *zerotable* decide, not those of the crate calling the macro.
#[macro_export]
macro_rules! for_each_builtin_engine {
    ($($callback:ident)::+) => {
        $crate::__engines_fjall! { [$($callback)::+]
            memory: $crate::testing::MemoryHarness,
            redb: $crate::testing::RedbHarness::DEFAULT,
        }
    };
}

// The fjall link of `for_each_builtin_engine!`.
#[cfg(feature = "fjall")]
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_fjall {
    ([$($callback:tt)*] $($list:tt)*) => {
        $crate::__engines_lmdb! { [$($callback)*] $($list)* fjall: $crate::testing::FjallHarness::DEFAULT, }
    };
}
#[cfg(not(feature = "fjall"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_fjall {
    ([$($callback:tt)*] $($list:tt)*) => {
        $crate::__engines_lmdb! { [$($callback)*] $($list)* }
    };
}

// The lmdb link of `for_each_builtin_engine!`.
#[cfg(feature = "lmdb")]
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_lmdb {
    ([$($callback:tt)*] $($list:tt)*) => {
        $crate::__engines_sqlite! { [$($callback)*] $($list)* lmdb: $crate::testing::LmdbHarness::DEFAULT, }
    };
}
#[cfg(not(feature = "lmdb"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_lmdb {
    ([$($callback:tt)*] $($list:tt)*) => {
        $crate::__engines_sqlite! { [$($callback)*] $($list)* }
    };
}

// The sqlite link of `for_each_builtin_engine!`.
#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_sqlite {
    ([$($callback:tt)*] $($list:tt)*) => {
        $crate::__engines_rocksdb! { [$($callback)*] $($list)* sqlite: $crate::testing::SqliteHarness::DEFAULT, }
    };
}
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_sqlite {
    ([$($callback:tt)*] $($list:tt)*) => {
        $crate::__engines_rocksdb! { [$($callback)*] $($list)* }
    };
}

// The rocksdb link of `for_each_builtin_engine!`.
#[cfg(feature = "rocksdb")]
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_rocksdb {
    ([$($callback:tt)*] $($list:tt)*) => {
        $crate::__engines_end! { [$($callback)*] $($list)* rocksdb: $crate::testing::RocksDbHarness::DEFAULT, }
    };
}
#[cfg(not(feature = "rocksdb"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_rocksdb {
    ([$($callback:tt)*] $($list:tt)*) => {
        $crate::__engines_end! { [$($callback)*] $($list)* }
    };
}

// The end of `for_each_builtin_engine!`'s chain: calls the callback with the list.
#[doc(hidden)]
#[macro_export]
macro_rules! __engines_end {
    ([$($callback:tt)*] $($list:tt)*) => {
        $($callback)*! { $($list)* }
    };
}

macro_rules! harness_list {
    ($($name:ident: $harness:expr),* $(,)?) => {
        vec![$( Box::new($harness) as Box<dyn Harness> ),*]
    };
}

/// Every engine shipped with zerotable, as harnesses (the list of
/// [`for_each_builtin_engine!`](crate::for_each_builtin_engine)).
pub fn builtin_harnesses() -> Vec<Box<dyn Harness>> {
    crate::for_each_builtin_engine!(harness_list)
}

/// The memory engine under test.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryHarness;

impl Harness for MemoryHarness {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn claims(&self) -> Capabilities {
        Capabilities {
            table_admin: true,
            ..Capabilities::NONE
        }
    }

    fn fresh(&self) -> Instance {
        Instance::new(Arc::new(MemoryEngine::new()))
    }
}

/// The redb engine under test, on a file in a fresh temporary directory.
#[derive(Clone, Debug)]
pub struct RedbHarness {
    /// Options every open uses.
    pub durability: crate::engine::Durability,
}

impl RedbHarness {
    /// Every commit durable (the default).
    pub const DEFAULT: RedbHarness = RedbHarness {
        durability: crate::engine::Durability::Immediate,
    };

    /// No commit fsynced: for the suites of layers over redb, which keep redb's durability
    /// as it is (its own suite checks it) and need not wait for the disk thousands of times.
    pub const FAST: RedbHarness = RedbHarness {
        durability: crate::engine::Durability::None,
    };
}

impl Harness for RedbHarness {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn claims(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn fresh(&self) -> Instance {
        self.open_fresh(self.durability)
    }

    fn fresh_fast(&self) -> Instance {
        self.open_fresh(crate::engine::Durability::None)
    }
}

impl RedbHarness {
    fn open_fresh(&self, durability: crate::engine::Durability) -> Instance {
        let options = RedbOptions::default().durability(durability);
        Instance::in_temp_dir("conformance.redb", move |path| {
            Arc::new(RedbEngine::open_with(path, options.clone()).expect("open redb"))
        })
    }
}
