//! [`LayeredHarness`]: any harness with a layer ([`crate::layers`]) over its engine, so that a
//! layer runs the whole suite over every engine it is put on.

use std::sync::Arc;

use super::{Harness, Instance};
use crate::engine::{Capabilities, Engine};

/// The engines of `inner`, each wrapped by `wrap` (and rewrapped on every reopen).
///
/// A layer keeps its engine's promises, so it claims the inner engine's capabilities.
///
/// ```
/// use std::sync::Arc;
/// use zerotable::layers::{CachedEngine, CacheOptions};
/// use zerotable::testing::{Harness, LayeredHarness, MemoryHarness};
///
/// let harness = LayeredHarness {
///     name: "cache over memory",
///     inner: MemoryHarness,
///     wrap: |engine| Arc::new(CachedEngine::over(engine, CacheOptions::default())),
/// };
/// assert_eq!(harness.claims(), MemoryHarness.claims());
/// zerotable::testing::run_suite(&harness, "basic");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LayeredHarness<H> {
    /// The name in reports, such as `"lz4 over redb"`.
    pub name: &'static str,
    /// The harness of the engine under the layer.
    pub inner: H,
    /// Puts the layer over an engine.
    pub wrap: fn(Arc<dyn Engine>) -> Arc<dyn Engine>,
}

impl<H: Harness> Harness for LayeredHarness<H> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn claims(&self) -> Capabilities {
        self.inner.claims()
    }

    fn fresh(&self) -> Instance {
        self.inner.fresh().wrapped(self.wrap)
    }

    fn fresh_fast(&self) -> Instance {
        self.inner.fresh_fast().wrapped(self.wrap)
    }
}
