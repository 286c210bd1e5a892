//! Conformance check: random sequences of typed table operations, run through a
//! [`Storage`](crate::Storage) over the engine under test and against a `BTreeMap` model of
//! each table; proptest shrinks any sequence where the tables and the model disagree to a
//! minimal one, which the failure message prints.
//!
//! The tables: `bytes`, raw values under `u16` keys, and `rows`, rkyv values (validated on every
//! read) under `(u8, u16)` keys (for prefix scans). Keys come from a small domain so overwrites,
//! deletes of present keys and CAS hits are common; bounds include the largest key, whose
//! encoding is all `0xFF`.
//!
//! Operations:
//! - auto-commit: `put`, `delete`, `put_batch`, `update` (set, set-if-absent, modify, remove),
//!   `compare_and_swap`, `get_or_insert`, `get`/`contains`, `get_many`, ranges (random bounds,
//!   forwards or reversed, early stop, auto-commit or in a snapshot), prefixes;
//! - in a write transaction over both tables: `put_in`, `delete_in`, `put_batch_in`,
//!   `update_in`, `compare_and_swap_in`, `get_or_insert_in`, `get_in`/`contains_in`,
//!   `get_many_in`, `len_in`, `range_in` (with early stop), `prefix_in`; scanning one table
//!   while writing (or deleting from) the other; auto-commit reads from inside the transaction,
//!   which see the committed state only;
//! - transactions: `Storage::write` (default or no durability) that commits, fails with the
//!   caller's error, fails with the `NestedWrite` error of a nested write (auto-commit put,
//!   `Storage::write` or `begin_write` on the same thread), or swallows that error and commits;
//!   `begin_write` handles that commit, roll back or are dropped; panicking transactions of
//!   both kinds;
//! - reopening: on a [`persistent`](crate::Capabilities::persistent) engine, dropping every
//!   handle and reopening the database through the harness, with or without a `flush` first
//!   (nothing committed may be lost, even commits made without durability: the engine is closed
//!   cleanly); on other engines a full comparison without reopening.
//!
//! Both tables carry secondary indexes (`bytes` by length, `rows` by a field and by a tuple of
//! two), defined again after every reopen: after every operation each must equal its
//! recomputation from its table ([`Index::verify`](crate::Index::verify)).
//!
//! After every operation both lengths are checked; every few operations, after a reopen and at
//! the end, full scans both ways, plus the raw entries read through the engine in the run's
//! [`Mode`].
//!
//! Each proptest case starts by dropping both tables through
//! [`Storage::drop_table`](crate::Storage::drop_table) and opening them again, since a check
//! gets one engine for all its cases. Default: 64 cases of up to 40
//! operations in [`Mode::Boxed`], and an eighth as many (8) in [`Mode::Scoped`], to save time:
//! the typed layer goes through both kinds of engine transactions in either mode, only the raw
//! cross-checks follow the mode. The environment variable `ZEROTABLE_MODEL_CASES` sets the
//! number of cases (of the boxed run). A long run:
//!
//! ```sh
//! ZEROTABLE_MODEL_CASES=10000 cargo test --release --all-features --test conformance model
//! ```
//!
//! Failures are not persisted to a regressions file: the failure message holds the shrunk
//! sequence.
//!
//! The check is split over five files: this one (the check, its configuration and the loop
//! that runs one sequence), `ops.rs` (the operations and their proptest strategies),
//! `world.rs` (the two tables, the model, and comparisons of whole tables), `at.rs` (where a
//! table operation runs: auto-commit or in a write transaction) and `run.rs` (one operation
//! against the tables and the model). The table operations that exist both auto-commit and in
//! a write transaction are run and checked by one function, told where they run.

mod at;
mod ops;
mod run;
mod world;

use std::cell::{Cell, RefCell};
use std::panic;
use std::sync::Once;

use proptest::test_runner::{Config, TestError, TestRunner};

use self::world::{Model, World, check_all, check_lens};
use super::support::assert_unsupported;
use super::{Fixture, Mode};

super::checks! {
    /// Random sequences of typed operations — auto-commit, in transactions that commit, fail,
    /// nest or panic, scans of one table that write the other, reopening — leave both tables
    /// exactly as an ordered map model says, and every read on the way agrees with the model.
    fn typed_operations_match_an_ordered_map_model(f: &Fixture) {
        quiet_model_panics();
        let mut runner = TestRunner::new(config(f.mode()));
        let outcome = runner.run(&ops::sequence(), |ops| {
            let _case = CaseGuard::enter();
            run_sequence(f, &ops);
            Ok(())
        });
        match outcome {
            Ok(()) => {}
            Err(TestError::Fail(reason, ops)) => panic!(
                "the engine disagrees with the model: {reason}\n(panicked at {})\nminimal \
                 failing sequence ({} operations, each case on freshly dropped tables):\n{ops:#?}",
                LAST_FAILURE.with(|last| last.borrow_mut().take()).unwrap_or_default(),
                ops.len()
            ),
            Err(TestError::Abort(reason)) => panic!("the model test aborted: {reason}"),
        }
    }
}

/// `ZEROTABLE_MODEL_CASES` (default 64) cases in boxed mode, an eighth of them in scoped mode.
fn config(mode: Mode) -> Config {
    let cases: u32 = std::env::var("ZEROTABLE_MODEL_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64);
    let cases = match mode {
        Mode::Boxed => cases,
        Mode::Scoped => cases.div_ceil(8),
    };
    let defaults = Config::default();
    // proptest's default shrinks for `4 * cases` iterations only: too few for the scoped runs.
    let max_shrink_iters = match defaults.max_shrink_iters {
        u32::MAX => 1024,
        set_in_environment => set_in_environment,
    };
    Config {
        cases,
        max_shrink_iters,
        // A check may only touch its own engine: print shrunk failures, write no regression file.
        failure_persistence: None,
        ..defaults
    }
}

/// The payload of the panics this test makes on purpose (kept out of the output).
struct ModelPanic;

thread_local! {
    /// Whether this thread is running a proptest case of the model.
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    /// Where the last failing case of this thread panicked.
    static LAST_FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps the output readable: the panics this test makes on purpose print nothing, and a
/// failing case (proptest runs hundreds of them while shrinking) only records where it
/// panicked, for the final report; every other panic goes to the previous hook.
fn quiet_model_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().is::<ModelPanic>() {
                return;
            }
            if IN_CASE.with(Cell::get) {
                let location = info.location().map(ToString::to_string);
                LAST_FAILURE.with(|last| *last.borrow_mut() = location);
                return;
            }
            previous(info);
        }));
    });
}

/// Marks this thread as running a model case until dropped (also by a panic).
struct CaseGuard;

impl CaseGuard {
    fn enter() -> Self {
        IN_CASE.with(|flag| flag.set(true));
        CaseGuard
    }
}

impl Drop for CaseGuard {
    fn drop(&mut self) {
        IN_CASE.with(|flag| flag.set(false));
    }
}

/// Flushes (where claimed) and, on a persistent engine, drops every handle and reopens the
/// database.
fn reopen(f: &Fixture, world: World, flush: bool) -> World {
    if flush {
        if f.claims().flush {
            world.storage.flush().expect("flush");
        } else {
            assert_unsupported(world.storage.flush(), "flush");
        }
    }
    if !f.claims().persistent {
        return world;
    }
    drop(world);
    assert!(
        f.reopen(),
        "the harness claims a persistent engine but cannot reopen it"
    );
    World::open(f)
}

/// Runs one sequence on freshly dropped tables, comparing with the model as it goes.
fn run_sequence(f: &Fixture, ops: &[ops::Op]) {
    let mut world = World::fresh(f);
    let mut model = Model::default();
    check_all(f, &world, &model, "after dropping both tables");
    for (i, op) in ops.iter().enumerate() {
        let step = format!("after op {i} ({op:?})");
        if let ops::Op::Reopen { flush } = op {
            world = reopen(f, world, *flush);
            check_all(f, &world, &model, &step);
            world.check_indexes(&step);
            continue;
        }
        run::run_op(&world, &mut model, op);
        check_lens(&world, &model, &step);
        world.check_indexes(&step);
        if i % 5 == 4 {
            check_all(f, &world, &model, &step);
        }
    }
    check_all(f, &world, &model, "at the end");
}
