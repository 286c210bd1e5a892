//! Arbitrary bytes as a value stored under the encryption layer, planted straight into the
//! memory engine beneath it and read back through the layer: always `Error::Layer` (no input
//! forges a tag), never a panic. The same bytes put as a value read back unchanged, and the
//! sealed form with one bit flipped — the bit chosen by the input — is refused.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use zerotable::layers::{EncryptedEngine, EncryptionKey, EncryptionOptions};
use zerotable::{Engine, Error, MemoryEngine, WriteOptions};

static LAYERS: LazyLock<(Arc<dyn Engine>, EncryptedEngine)> = LazyLock::new(|| {
    let below: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
    let key = EncryptionKey::from_bytes([0x5a; 32]);
    let layer = EncryptedEngine::over(Arc::clone(&below), EncryptionOptions::with_key(key));
    (below, layer)
});

fn read(engine: &dyn Engine, table: &str) -> zerotable::Result<Option<Vec<u8>>> {
    let mut value = None;
    engine.get(table, b"k", &mut |bytes| {
        value = Some(bytes.to_vec());
        Ok(())
    })?;
    Ok(value)
}

fn plant(below: &Arc<dyn Engine>, table: &str, bytes: &[u8]) {
    below
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put(table, b"k", bytes)
        })
        .expect("plant");
}

fuzz_target!(|data: &[u8]| {
    let (below, layer) = &*LAYERS;
    plant(below, "planted", data);
    let err = read(layer, "planted").expect_err("no planted bytes open");
    assert!(matches!(err, Error::Layer { .. }), "{err}");

    layer
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("round", b"k", data)
        })
        .expect("put");
    assert_eq!(
        read(layer, "round").expect("read back").as_deref(),
        Some(data)
    );

    let mut sealed = read(&**below, "round").expect("raw").expect("stored");
    let bit = data.iter().fold(0usize, |acc, &b| {
        acc.wrapping_mul(31).wrapping_add(b as usize)
    });
    let bit = bit % (sealed.len() * 8);
    sealed[bit / 8] ^= 1 << (bit % 8);
    plant(below, "flipped", &sealed);
    let err = read(layer, "flipped").expect_err("a flipped bit is refused");
    assert!(matches!(err, Error::Layer { .. }), "{err}");
});
