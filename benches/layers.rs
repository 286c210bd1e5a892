//! What each layer costs, and what the cache and compression give back, against the bare redb
//! engine in the same run (ratios, not absolute figures, are what carry across machines).
//!
//! Two data sets, both loaded through zerotable into redb files in a temporary directory (commits
//! not fsynced):
//! - `users`: the examples' `User` records (~110-byte rkyv values), `ZEROTABLE_BENCH_ROWS` rows
//!   (default 1,000,000) — the peers benchmark's data set;
//! - `text`: 1 KiB of generated prose per row, a tenth as many rows — what compression is for.
//!
//! Stacks: `bare` (redb), `cache` (256 MiB), `metrics`, `lz4`, `zstd` (level 3), `encryption`,
//! and `stack` (metrics, cache, lz4 and encryption together). The cache and metrics wear the bare
//! file; the others write their own.
//!
//! - `get_hot`: validated typed gets of random keys among the first 10,000 (`revenue` read).
//! - `get_uniform`: 65,536 random keys over every row, with a 1 MiB cache that holds a few
//!   percent of them (its hit rate is printed): what misses cost (bare is measured before and after it: the first run warms redb's
//!   page cache, which both share).
//! - `fold`: a fold over every row summing `revenue`.
//! - `load`: `put_batch` of 10,000 rows in one transaction into an emptied table.
//! - The size on disk of each stack and data set is printed before the timings.
//!
//! ```text
//! cargo bench --features compression,zstd,encryption --bench layers
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use zerotable::layers::{
    self, CacheOptions, CompressionOptions, Compressor, EncryptionKey, EncryptionOptions,
    LayerSpec, MetricsOptions,
};
use zerotable::{Durability, Engine, RedbEngine, RedbOptions, Storage};

#[path = "../examples/support/mod.rs"]
mod support;
use support::{User, XorShift64, make_user};

const HOT: u64 = 10_000;
const KEYS: usize = 1 << 16;
const LOAD: u64 = 10_000;

fn rows() -> u64 {
    std::env::var("ZEROTABLE_BENCH_ROWS")
        .ok()
        .and_then(|rows| rows.replace('_', "").parse().ok())
        .unwrap_or(1_000_000)
}

fn lz4() -> LayerSpec {
    LayerSpec::Compression(CompressionOptions::default())
}

fn zstd() -> LayerSpec {
    LayerSpec::Compression(CompressionOptions {
        compressor: Compressor::Zstd { level: 3 },
        ..CompressionOptions::default()
    })
}

fn encryption() -> LayerSpec {
    LayerSpec::Encryption(EncryptionOptions::with_key(EncryptionKey::from_bytes(
        [7; 32],
    )))
}

fn cache(capacity: u64) -> LayerSpec {
    LayerSpec::Cache(CacheOptions { capacity })
}

fn metrics() -> LayerSpec {
    LayerSpec::Metrics(MetricsOptions::default())
}

/// A stack's name, its layers, and whether it needs a file of its own (it changes values).
struct Stack {
    name: &'static str,
    layers: Vec<LayerSpec>,
    own_file: bool,
}

fn stacks() -> Vec<Stack> {
    let stack = |name, layers, own_file| Stack {
        name,
        layers,
        own_file,
    };
    vec![
        stack("bare", vec![], true),
        stack("cache", vec![cache(256 << 20)], false),
        stack("metrics", vec![metrics()], false),
        stack("lz4", vec![lz4()], true),
        stack("zstd", vec![zstd()], true),
        stack("encryption", vec![encryption()], true),
        stack(
            "stack",
            vec![metrics(), cache(256 << 20), lz4(), encryption()],
            true,
        ),
    ]
}

/// Prose of about 1 KiB from a small vocabulary, different for every id.
fn prose(id: u64) -> String {
    const WORDS: [&str; 24] = [
        "the",
        "storage",
        "engine",
        "keeps",
        "every",
        "table",
        "ordered",
        "by",
        "key",
        "and",
        "value",
        "reads",
        "are",
        "validated",
        "before",
        "a",
        "closure",
        "sees",
        "them",
        "while",
        "writers",
        "commit",
        "durable",
        "pages",
    ];
    let mut rng = XorShift64::new(id + 1);
    let mut text = format!("entry {id}:");
    while text.len() < 1024 {
        text.push(' ');
        text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    text
}

/// One opened stack: the storage, and the engine under the layers (for its size).
struct Opened {
    name: &'static str,
    storage: Storage,
    bare: Arc<dyn Engine>,
}

fn open_all(dir: &std::path::Path) -> Vec<Opened> {
    let rows = rows();
    let mut bare_file: Option<Arc<dyn Engine>> = None;
    let mut opened = Vec::new();
    for stack in stacks() {
        let engine: Arc<dyn Engine> = if stack.own_file {
            let options = RedbOptions::default().durability(Durability::None);
            Arc::new(
                RedbEngine::open_with(dir.join(format!("{}.redb", stack.name)), options)
                    .expect("open redb"),
            )
        } else {
            Arc::clone(bare_file.as_ref().expect("bare comes first"))
        };
        if stack.name == "bare" {
            bare_file = Some(Arc::clone(&engine));
        }
        let storage = Storage::from_arc(layers::wrap(&stack.layers, Arc::clone(&engine)));
        if stack.own_file {
            let users = storage.rkyv_table::<u64, User>("users").expect("users");
            for chunk in (0..rows).collect::<Vec<_>>().chunks(100_000) {
                users
                    .put_batch(chunk.iter().map(|&id| (id, make_user(id))))
                    .expect("load users");
            }
            let text = storage.raw_table::<u64>("text").expect("text");
            text.put_batch((0..rows / 10).map(|id| (id, prose(id).into_bytes())))
                .expect("load text");
            engine.flush().expect("flush");
        }
        opened.push(Opened {
            name: stack.name,
            storage,
            bare: engine,
        });
    }
    opened
}

fn report_sizes(opened: &[Opened]) {
    println!(
        "\nsize on disk ({} user rows, {} text rows):",
        rows(),
        rows() / 10
    );
    println!("| stack | users table, stored bytes | text table, stored bytes | file |");
    println!("|---|---:|---:|---:|");
    for stack in opened
        .iter()
        .filter(|o| !matches!(o.name, "cache" | "metrics"))
    {
        let users = stack
            .storage
            .table_stats("users")
            .expect("stats")
            .stored_bytes;
        let text = stack
            .storage
            .table_stats("text")
            .expect("stats")
            .stored_bytes;
        let file = stack.bare.size_on_disk().expect("size");
        println!(
            "| {} | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            stack.name,
            users as f64 / 1048576.0,
            text as f64 / 1048576.0,
            file as f64 / 1048576.0
        );
    }
    println!();
}

fn random_keys(bound: u64) -> Vec<u64> {
    let mut rng = XorShift64::new(42);
    (0..KEYS).map(|_| rng.below(bound)).collect()
}

fn layers_bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let opened = open_all(dir.path());
    report_sizes(&opened);
    let rows = rows();

    let hot = random_keys(HOT);
    let mut group = c.benchmark_group("layers/get_hot");
    for stack in &opened {
        let users = stack
            .storage
            .rkyv_table::<u64, User>("users")
            .expect("users");
        let mut at = 0usize;
        group.bench_function(stack.name, |b| {
            b.iter(|| {
                at = (at + 1) % KEYS;
                black_box(users.get(&hot[at], |u| u.revenue.to_native()).expect("get"))
            })
        });
    }
    group.finish();

    let uniform = random_keys(rows);
    let mut group = c.benchmark_group("layers/get_uniform");
    let bare = &opened[0];
    let small_cache = Storage::from_arc(layers::wrap(&[cache(1 << 20)], Arc::clone(&bare.bare)));
    // Bare twice, around the cache: both share one redb file and its page cache, which the
    // first run warms.
    let runs = [
        ("bare", &bare.storage),
        ("cache_1MiB", &small_cache),
        ("bare_again", &bare.storage),
    ];
    for (name, storage) in runs {
        let users = storage.rkyv_table::<u64, User>("users").expect("users");
        let mut at = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                at = (at + 1) % KEYS;
                black_box(
                    users
                        .get(&uniform[at], |u| u.revenue.to_native())
                        .expect("get"),
                )
            })
        });
    }
    group.finish();
    let stats = small_cache
        .layer::<layers::CachedEngine>()
        .expect("the cache")
        .stats();
    println!(
        "1 MiB cache over {KEYS} random keys: {} hits, {} misses ({:.1} % hits)\n",
        stats.hits,
        stats.misses,
        100.0 * stats.hits as f64 / (stats.hits + stats.misses).max(1) as f64
    );

    let mut group = c.benchmark_group("layers/fold");
    group.sample_size(10);
    for stack in opened.iter().filter(|o| o.name != "cache") {
        let users = stack
            .storage
            .rkyv_table::<u64, User>("users")
            .expect("users");
        group.bench_function(stack.name, |b| {
            b.iter(|| {
                users
                    .scan_with(|s| s.fold(0.0, |sum, _, u| Ok(sum + u.revenue.to_native())))
                    .expect("fold")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("layers/load");
    group.sample_size(10);
    for stack in opened
        .iter()
        .filter(|o| !matches!(o.name, "cache" | "metrics"))
    {
        let storage = &stack.storage;
        group.bench_function(stack.name, |b| {
            b.iter_batched(
                || {
                    storage.drop_table("load").expect("drop");
                    storage.rkyv_table::<u64, User>("load").expect("load")
                },
                |fresh| {
                    fresh
                        .put_batch((0..LOAD).map(|id| (id, make_user(id))))
                        .expect("load")
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = layers_bench
}
criterion_main!(benches);
