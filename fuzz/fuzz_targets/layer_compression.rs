//! Arbitrary bytes as a value stored under the compression layer, planted straight into the
//! memory engine beneath it and read back through the layer: the read gives a value or
//! `Error::Layer`, never a panic, and never allocates what the header claims beyond what the
//! compressed bytes can produce. The same bytes, put as a value through the layer (lz4 and
//! zstd, every size offered to the compressor), read back unchanged.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use zerotable::layers::{CompressedEngine, CompressionOptions, Compressor};
use zerotable::{Engine, Error, MemoryEngine, WriteOptions};

struct Layers {
    below: Arc<dyn Engine>,
    lz4: CompressedEngine,
    zstd: CompressedEngine,
}

static LAYERS: LazyLock<Layers> = LazyLock::new(|| {
    let below: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
    let with = |compressor| {
        let options = CompressionOptions {
            compressor,
            min_size: 0,
        };
        CompressedEngine::over(Arc::clone(&below), options)
    };
    Layers {
        lz4: with(Compressor::Lz4),
        zstd: with(Compressor::Zstd { level: 3 }),
        below: Arc::clone(&below),
    }
});

fn read(engine: &dyn Engine, table: &str) -> zerotable::Result<Option<Vec<u8>>> {
    let mut value = None;
    engine.get(table, b"k", &mut |bytes| {
        value = Some(bytes.to_vec());
        Ok(())
    })?;
    Ok(value)
}

fuzz_target!(|data: &[u8]| {
    let layers = &*LAYERS;
    layers
        .below
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("planted", b"k", data)
        })
        .expect("plant");
    match read(&layers.lz4, "planted") {
        Ok(value) => assert!(value.is_some()),
        Err(err) => assert!(matches!(err, Error::Layer { .. }), "{err}"),
    }
    for layer in [&layers.lz4, &layers.zstd] {
        layer
            .write(WriteOptions::DEFAULT, &mut |txn| {
                txn.put("round", b"k", data)
            })
            .expect("put");
        assert_eq!(
            read(layer, "round").expect("read back").as_deref(),
            Some(data)
        );
    }
});
