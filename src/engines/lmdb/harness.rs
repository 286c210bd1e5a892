//! The LMDB engine under the conformance suite.
#![cfg(feature = "testing")]

use std::sync::Arc;

use super::{LmdbEngine, LmdbOptions};
use crate::engine::{Capabilities, Durability};
use crate::testing::{Harness, Instance};

/// The LMDB engine under test, in a fresh temporary directory, with default options (a 1 GiB
/// map, 128 tables) and the durability given.
#[derive(Clone, Debug)]
pub struct LmdbHarness {
    /// Durability of every commit of [`fresh`](Harness::fresh) engines.
    pub durability: Durability,
}

impl LmdbHarness {
    /// Every commit durable (the default).
    pub const DEFAULT: LmdbHarness = LmdbHarness {
        durability: Durability::Immediate,
    };

    fn open_fresh(&self, durability: Durability) -> Instance {
        let options = LmdbOptions::default().durability(durability);
        Instance::in_temp_dir("env", move |path| {
            Arc::new(LmdbEngine::open_with(path, options.clone()).expect("open lmdb"))
        })
    }
}

impl Harness for LmdbHarness {
    fn name(&self) -> &'static str {
        "lmdb"
    }

    fn claims(&self) -> Capabilities {
        Capabilities {
            compact: false,
            ..Capabilities::ALL
        }
    }

    fn fresh(&self) -> Instance {
        self.open_fresh(self.durability)
    }

    fn fresh_fast(&self) -> Instance {
        self.open_fresh(Durability::None)
    }
}
