//! The engines zerotable ships with, one module (or folder) each: [`MemoryEngine`] and
//! [`RedbEngine`] (the embedded default). A new engine is one new folder here, a `mod` line
//! and an entry in the engine list of `zerotable::testing` — the conformance suite, and every
//! test that runs on every engine, pick it up from there.

mod memory;
mod redb;

pub use self::memory::MemoryEngine;
pub use self::redb::{RedbEngine, RedbOptions};
