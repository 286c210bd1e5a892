//! Layers: engines that wrap an engine, so that any engine can wear them — compression,
//! encryption with integrity, a read cache, metrics.
//!
//! Each layer is an [`Engine`] over an `Arc<dyn Engine>`, so layers stack in any order and the
//! stack is one engine to a [`Storage`](crate::Storage). Keys, table names and every table
//! operation pass through untouched (a key's bytes are its order); only values change.
//!
//! | layer | type | what it does | cargo feature |
//! |---|---|---|---|
//! | metrics | [`MeteredEngine`] | counts, bytes and latency per table and operation | — (`metrics` to export) |
//! | cache | [`CachedEngine`] | point reads from memory, bounded by bytes, snapshot-correct | — |
//! | compression | `CompressedEngine` | lz4 (or zstd) per value above a size | `compression` (`zstd`) |
//! | encryption | `EncryptedEngine` | XChaCha20-Poly1305 per value, bound to its table and key | `encryption` |
//!
//! A sensible stack, outermost first, is the order of that table: metrics see what the caller
//! asked for; the cache keeps plain values, so a hit skips decryption and decompression;
//! compression comes before encryption (ciphertext does not compress).
//!
//! Three ways in:
//! - **Types**: `Storage::new(MeteredEngine::new(CachedEngine::new(RedbEngine::open(..)?, ..), ..))`.
//! - **An address**: the layers' options join the engine's
//!   (`redb://app.redb?read_cache=256MiB&value_compression=lz4&metrics=true`); with an address the
//!   order is always the table's. A key never goes in an address: name a file or an
//!   environment variable.
//! - **A configuration file**: a `layers` list, outermost first, each with a `kind` and the same
//!   options (`zerotable::config`, feature `config`).
//!
//! | option | layer | value |
//! |---|---|---|
//! | `metrics` | metrics | `true` puts the layer on |
//! | `metrics_export` | metrics | `true` also reports to the `metrics` crate's recorder (feature `metrics`) |
//! | `read_cache` | cache | the cache's bound in bytes (`256MiB`); giving it puts the layer on |
//! | `value_compression` | compression | `lz4`, `zstd` or `none` (reads compressed values, writes plain) |
//! | `value_compression_level` | compression | zstd's level, 1–22 (default 3) |
//! | `value_compression_min_size` | compression | values shorter than this are stored as they are (default 64) |
//! | `encryption_key_file` | encryption | a file holding the 32-byte key, raw or as 64 hex digits |
//! | `encryption_key_env` | encryption | an environment variable holding the key as 64 hex digits |
//! | `encryption_key_id` | encryption | the id new values are encrypted under (default 1) |
//! | `encryption_retired_keys` | encryption | older keys still read: `id=file:PATH` or `id=env:VAR`, comma-separated |
//!
//! The names keep clear of the engines' own options (`cache_size` is redb's, fjall's and
//! RocksDB's page cache; `compression` is RocksDB's block compression).
//!
//! ```
//! use zerotable::layers::{CachedEngine, MeteredEngine};
//!
//! let storage = zerotable::Storage::connect("memory://?read_cache=1MiB&metrics=true")?;
//! let users = storage.raw_table::<u64>("users")?;
//! users.put(&1, b"ada")?;
//! assert_eq!(users.get(&1, |v| v.to_vec())?, Some(b"ada".to_vec()));
//! assert!(storage.layer::<CachedEngine>().is_some());
//! let metrics = storage.layer::<MeteredEngine>().expect("metrics are on").snapshot();
//! assert!(metrics.table("users").is_some());
//! # Ok::<(), zerotable::Error>(())
//! ```

/// The `Engine` methods every layer answers alike, inside its `impl Engine`: it wraps
/// `self.inner` (an `Arc<dyn Engine>`), can be found by its type
/// ([`Storage::layer`](crate::Storage::layer)), and keeps the inner engine's name and
/// capabilities.
macro_rules! layer_identity {
    () => {
        fn inner(&self) -> Option<&dyn $crate::engine::Engine> {
            Some(&*self.inner)
        }

        fn as_any(&self) -> Option<&dyn std::any::Any> {
            Some(self)
        }

        fn name(&self) -> &'static str {
            self.inner.name()
        }

        fn capabilities(&self) -> $crate::engine::Capabilities {
            self.inner.capabilities()
        }
    };
}
use layer_identity;

/// Forwards the listed optional `Engine` methods (`size_on_disk`, `compact`, `flush`,
/// `check_integrity`) to `self.inner` unchanged, inside a layer's `impl Engine`.
macro_rules! forward_to_inner {
    ($($method:ident),* $(,)?) => {
        $( $crate::layers::forward_to_inner!(@one $method); )*
    };
    (@one size_on_disk) => {
        fn size_on_disk(&self) -> $crate::error::Result<u64> {
            self.inner.size_on_disk()
        }
    };
    (@one compact) => {
        fn compact(&self) -> $crate::error::Result<bool> {
            self.inner.compact()
        }
    };
    (@one flush) => {
        fn flush(&self) -> $crate::error::Result<()> {
            self.inner.flush()
        }
    };
    (@one check_integrity) => {
        fn check_integrity(&self) -> $crate::error::Result<$crate::engine::Integrity> {
            self.inner.check_integrity()
        }
    };
}
use forward_to_inner;

/// Forwards the listed [`ReadOps`](crate::engine::ReadOps) methods (`range`, `len`,
/// `list_tables`, `table_stats`) unchanged to the wrapped transaction's `self.inner.reads()`,
/// inside a layer's `impl ReadOps` for its transactions.
macro_rules! forward_reads {
    ($($method:ident),* $(,)?) => {
        $( $crate::layers::forward_reads!(@one $method); )*
    };
    (@one range) => {
        fn range(
            &self,
            table: &str,
            range: &$crate::engine::KeyRange<'_>,
            visit: &mut $crate::engine::Visit<'_>,
        ) -> $crate::error::Result<()> {
            self.inner.reads().range(table, range, visit)
        }
    };
    (@one len) => {
        fn len(&self, table: &str) -> $crate::error::Result<u64> {
            self.inner.reads().len(table)
        }
    };
    (@one list_tables) => {
        fn list_tables(&self) -> $crate::error::Result<Vec<String>> {
            self.inner.reads().list_tables()
        }
    };
    (@one table_stats) => {
        fn table_stats(&self, table: &str) -> $crate::error::Result<$crate::engine::TableStats> {
            self.inner.reads().table_stats(table)
        }
    };
}
use forward_reads;

// Each layer's module documents its design and stored form; its types are re-exported here.
pub mod cache;
#[cfg(feature = "compression")]
pub mod compression;
#[cfg(feature = "encryption")]
pub mod encryption;
pub mod metrics;
mod transform;

use std::sync::Arc;

pub use self::cache::{CacheOptions, CacheStats, CachedEngine};
#[cfg(feature = "compression")]
pub use self::compression::{CompressedEngine, Compression, CompressionOptions, Compressor};
#[cfg(feature = "encryption")]
pub use self::encryption::{
    EncryptedEngine, Encryption, EncryptionKey, EncryptionOptions, Keyring,
};
pub use self::metrics::{
    LatencySummary, MeteredEngine, MetricsOptions, MetricsSnapshot, OpMetrics, TableMetrics,
};
pub(crate) use self::transform::with_buffer;
pub use self::transform::{ValueLayer, ValueTransform};
use crate::engine::Engine;
use crate::engines::{ByteSize, EngineOptions};
use crate::error::Result;

/// Every layer kind, outermost first in the order an address stacks them.
pub const KINDS: &[&str] = &["metrics", "cache", "compression", "encryption"];

/// One layer of a stack and its typed options: what an address or a configuration file
/// describes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum LayerSpec {
    /// [`MeteredEngine`].
    Metrics(MetricsOptions),
    /// [`CachedEngine`].
    Cache(CacheOptions),
    /// `CompressedEngine`.
    #[cfg(feature = "compression")]
    Compression(CompressionOptions),
    /// `EncryptedEngine`.
    #[cfg(feature = "encryption")]
    Encryption(EncryptionOptions),
}

impl LayerSpec {
    /// The layer's kind, as [`KINDS`] names it.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Metrics(_) => "metrics",
            LayerSpec::Cache(_) => "cache",
            #[cfg(feature = "compression")]
            LayerSpec::Compression(_) => "compression",
            #[cfg(feature = "encryption")]
            LayerSpec::Encryption(_) => "encryption",
        }
    }

    /// This layer over `inner`.
    pub fn wrap(&self, inner: Arc<dyn Engine>) -> Arc<dyn Engine> {
        match self {
            LayerSpec::Metrics(options) => Arc::new(MeteredEngine::over(inner, options.clone())),
            LayerSpec::Cache(options) => Arc::new(CachedEngine::over(inner, options.clone())),
            #[cfg(feature = "compression")]
            LayerSpec::Compression(options) => {
                Arc::new(CompressedEngine::over(inner, options.clone()))
            }
            #[cfg(feature = "encryption")]
            LayerSpec::Encryption(options) => {
                Arc::new(EncryptedEngine::over(inner, options.clone()))
            }
        }
    }

    /// The layer `kind` with its options taken from `options` (a configuration file's layer
    /// entry, whose option names are those of an address). Unknown kinds, options and values
    /// are [`Error::InvalidConfig`](crate::Error::InvalidConfig).
    pub fn from_options(kind: &str, options: &mut EngineOptions) -> Result<LayerSpec> {
        let spec = match kind {
            "metrics" => LayerSpec::Metrics(metrics_options(options)?),
            "cache" => LayerSpec::Cache(cache_options(options)?),
            "compression" => compression_options(options)?,
            "encryption" => encryption_options(options)?,
            other => {
                return Err(options.invalid(
                    Some("kind"),
                    format!("unknown layer `{other}` (known: {})", KINDS.join(", ")),
                ));
            }
        };
        Ok(spec)
    }
}

/// `layers` over `engine`, the first outermost.
///
/// ```
/// use std::sync::Arc;
/// use zerotable::layers::{self, CacheOptions, LayerSpec, MetricsOptions};
///
/// let stack = [LayerSpec::Metrics(MetricsOptions::default()), LayerSpec::Cache(CacheOptions::default())];
/// let engine = layers::wrap(&stack, Arc::new(zerotable::MemoryEngine::new()));
/// let storage = zerotable::Storage::from_arc(engine);
/// assert!(storage.layer::<layers::CachedEngine>().is_some());
/// ```
pub fn wrap(layers: &[LayerSpec], engine: Arc<dyn Engine>) -> Arc<dyn Engine> {
    layers
        .iter()
        .rev()
        .fold(engine, |inner, layer| layer.wrap(inner))
}

/// Takes the layers' options out of an address's `options`, leaving the engine's: the stack
/// they ask for, outermost first, in the order of [`KINDS`].
pub(crate) fn take_from_address(options: &mut EngineOptions) -> Result<Vec<LayerSpec>> {
    let mut stack = Vec::new();
    if options.contains("metrics") || options.contains("metrics_export") {
        let on = options.take::<bool>("metrics")?.unwrap_or(true);
        let metrics = metrics_options(options)?;
        if on {
            stack.push(LayerSpec::Metrics(metrics));
        }
    }
    if options.contains("read_cache") {
        stack.push(LayerSpec::Cache(cache_options(options)?));
    }
    if [
        "value_compression",
        "value_compression_level",
        "value_compression_min_size",
    ]
    .iter()
    .any(|name| options.contains(name))
    {
        stack.push(compression_options(options)?);
    }
    if options.contains("encryption_key") {
        return Err(options.invalid(
            Some("encryption_key"),
            "a key never goes in an address (addresses end up in logs and shell histories): \
             put it in a file and give encryption_key_file, or in an environment variable and \
             give encryption_key_env"
                .to_owned(),
        ));
    }
    if [
        "encryption_key_file",
        "encryption_key_env",
        "encryption_key_id",
        "encryption_retired_keys",
    ]
    .iter()
    .any(|name| options.contains(name))
    {
        stack.push(encryption_options(options)?);
    }
    Ok(stack)
}

fn metrics_options(options: &mut EngineOptions) -> Result<MetricsOptions> {
    let export = options.take::<bool>("metrics_export")?.unwrap_or(false);
    if export && !cfg!(feature = "metrics") {
        return Err(options.invalid(
            Some("metrics_export"),
            "exporting needs zerotable's cargo feature `metrics`".to_owned(),
        ));
    }
    Ok(MetricsOptions { export })
}

fn cache_options(options: &mut EngineOptions) -> Result<CacheOptions> {
    let mut cache = CacheOptions::default();
    if let Some(ByteSize(bytes)) = options.take::<ByteSize>("read_cache")? {
        cache.capacity = bytes;
    }
    Ok(cache)
}

#[cfg(feature = "compression")]
fn compression_options(options: &mut EngineOptions) -> Result<LayerSpec> {
    CompressionOptions::from_options(options).map(LayerSpec::Compression)
}

#[cfg(not(feature = "compression"))]
fn compression_options(options: &mut EngineOptions) -> Result<LayerSpec> {
    Err(options.invalid(
        None,
        "the compression layer is not compiled in: enable zerotable's cargo feature \
         `compression` (and `zstd` for zstd)"
            .to_owned(),
    ))
}

#[cfg(feature = "encryption")]
fn encryption_options(options: &mut EngineOptions) -> Result<LayerSpec> {
    EncryptionOptions::from_options(options).map(LayerSpec::Encryption)
}

#[cfg(not(feature = "encryption"))]
fn encryption_options(options: &mut EngineOptions) -> Result<LayerSpec> {
    Err(options.invalid(
        None,
        "the encryption layer is not compiled in: enable zerotable's cargo feature `encryption`"
            .to_owned(),
    ))
}
