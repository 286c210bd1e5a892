//! The engines zerotable ships with. Each is one [`Database`](crate::Database) implementation.

mod memory;
mod redb;
mod writer_gate;

pub use self::memory::MemoryDatabase;
pub use self::redb::{RedbDatabase, RedbOptions};
pub use crate::database::Durability;
