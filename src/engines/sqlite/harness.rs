//! The SQLite engine under test (feature `testing`).

use std::sync::Arc;

use super::{SqliteEngine, SqliteOptions};
use crate::engine::{Capabilities, Durability};
use crate::testing::{Harness, Instance};

/// The SQLite engine under test, on a database file in a fresh temporary directory.
///
/// ```
/// use zerotable::testing::{Harness, SqliteHarness};
///
/// let instance = SqliteHarness::DEFAULT.fresh();
/// assert_eq!(instance.engine().name(), "sqlite");
/// ```
#[derive(Clone, Debug)]
pub struct SqliteHarness {
    /// The durability every open uses ([`fresh_fast`](Harness::fresh_fast) uses
    /// [`Durability::None`]).
    pub durability: Durability,
}

impl SqliteHarness {
    /// Every commit durable (the default).
    pub const DEFAULT: SqliteHarness = SqliteHarness {
        durability: Durability::Immediate,
    };

    fn open_fresh(&self, durability: Durability) -> Instance {
        let options = SqliteOptions::default().durability(durability);
        Instance::in_temp_dir("conformance.sqlite", move |path| {
            Arc::new(SqliteEngine::open_with(path, options.clone()).expect("open sqlite"))
        })
    }
}

impl Harness for SqliteHarness {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn claims(&self) -> Capabilities {
        Capabilities::ALL
    }

    fn fresh(&self) -> Instance {
        self.open_fresh(self.durability)
    }

    fn fresh_fast(&self) -> Instance {
        self.open_fresh(Durability::None)
    }
}
