//! The conformance harness of the RocksDB engine (feature `testing`).

use std::sync::Arc;

use super::{RocksDbEngine, RocksDbOptions};
use crate::engine::{Capabilities, Durability};
use crate::testing::{Harness, Instance};

/// The RocksDB engine under test, on a folder in a fresh temporary directory.
///
/// ```
/// use zerotable::testing::{Harness, RocksDbHarness};
///
/// let instance = RocksDbHarness::DEFAULT.fresh();
/// assert_eq!(instance.engine().name(), "rocksdb");
/// ```
#[derive(Clone, Debug)]
pub struct RocksDbHarness {
    /// Durability of the engines [`fresh`](Harness::fresh) opens (`fresh_fast` never syncs).
    pub durability: Durability,
}

impl RocksDbHarness {
    /// Every commit durable (the default).
    pub const DEFAULT: RocksDbHarness = RocksDbHarness {
        durability: Durability::Immediate,
    };

    fn open_fresh(&self, durability: Durability) -> Instance {
        // Small: the suite keeps many databases open at once.
        let options = RocksDbOptions::default()
            .durability(durability)
            .cache_size(4 << 20);
        Instance::in_temp_dir("conformance", move |path| {
            Arc::new(RocksDbEngine::open_with(path, options.clone()).expect("open rocksdb"))
        })
    }
}

impl Harness for RocksDbHarness {
    fn name(&self) -> &'static str {
        "rocksdb"
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
