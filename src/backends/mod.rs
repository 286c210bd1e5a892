//! The engines zerotable ships with. Each is one [`Database`](crate::Database) implementation.

mod memory;
mod redb;

pub use self::memory::MemoryDatabase;
pub use self::redb::{RedbDatabase, RedbOptions};
pub use crate::database::Durability;
