//! The fjall engine under the conformance suite.

#![cfg(feature = "testing")]

use std::sync::Arc;

use super::{FjallEngine, FjallOptions};
use crate::engine::{Capabilities, Durability};
use crate::testing::{Harness, Instance};

/// The fjall engine under test, in a folder of a fresh temporary directory.
///
/// ```
/// use zerotable::testing::{FjallHarness, Harness};
///
/// let instance = FjallHarness::DEFAULT.fresh();
/// assert_eq!(instance.engine().name(), "fjall");
/// assert!(FjallHarness::DEFAULT.claims().persistent);
/// ```
#[derive(Clone, Debug)]
pub struct FjallHarness {
    /// The durability every open uses.
    pub durability: Durability,
}

impl FjallHarness {
    /// Every commit durable (the default).
    pub const DEFAULT: FjallHarness = FjallHarness {
        durability: Durability::Immediate,
    };

    fn open_fresh(&self, durability: Durability) -> Instance {
        // One background thread: the suite opens hundreds of databases on a few cores.
        let options = FjallOptions::default()
            .durability(durability)
            .worker_threads(1);
        Instance::in_temp_dir("conformance.fjall", move |path| {
            Arc::new(FjallEngine::open(path, options.clone()).expect("open fjall"))
        })
    }
}

impl Harness for FjallHarness {
    fn name(&self) -> &'static str {
        "fjall"
    }

    fn claims(&self) -> Capabilities {
        Capabilities {
            check_integrity: false,
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
