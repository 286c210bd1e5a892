//! The compression layer: the whole conformance suite over memory and redb (lz4 and zstd, with
//! every value offered to the compressor), then what the suite cannot see — values that do
//! compress, settings changed on a live database, damaged stored forms, options.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use zerotable::layers::{CompressedEngine, CompressionOptions, Compressor};
use zerotable::testing::{LayeredHarness, MemoryHarness, RedbHarness};
use zerotable::{Engine, Error, LayerErrorKind, MemoryEngine, Storage, WriteOptions};

fn lz4(engine: Arc<dyn Engine>) -> Arc<dyn Engine> {
    let options = CompressionOptions {
        compressor: Compressor::Lz4,
        min_size: 0,
    };
    Arc::new(CompressedEngine::over(engine, options))
}

zerotable::conformance_suite!(
    lz4_over_memory,
    LayeredHarness {
        name: "lz4 over memory",
        inner: MemoryHarness,
        wrap: lz4
    }
);
zerotable::conformance_suite!(
    lz4_over_redb,
    LayeredHarness {
        name: "lz4 over redb",
        inner: RedbHarness::FAST,
        wrap: lz4
    }
);

#[cfg(feature = "zstd")]
fn zstd(engine: Arc<dyn Engine>) -> Arc<dyn Engine> {
    let options = CompressionOptions {
        compressor: Compressor::Zstd { level: 3 },
        min_size: 0,
    };
    Arc::new(CompressedEngine::over(engine, options))
}

#[cfg(feature = "zstd")]
zerotable::conformance_suite!(
    zstd_over_memory,
    LayeredHarness {
        name: "zstd over memory",
        inner: MemoryHarness,
        wrap: zstd
    }
);
#[cfg(feature = "zstd")]
zerotable::conformance_suite!(
    zstd_over_redb,
    LayeredHarness {
        name: "zstd over redb",
        inner: RedbHarness::FAST,
        wrap: zstd
    }
);

/// Text that compresses well, different per `i`.
fn text(i: u64) -> String {
    format!("record {i}: ")
        + &"lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20)
}

#[test]
fn typed_reads_borrow_decompressed_values_even_when_nested() -> zerotable::Result<()> {
    let storage = Storage::new(CompressedEngine::new(
        MemoryEngine::new(),
        CompressionOptions::default(),
    ));
    let users = storage.rkyv_table::<u64, common::User>("users")?;
    let notes = storage.raw_table::<u64>("notes")?;
    for i in 0..200 {
        let mut user = common::user(i);
        user.tags = vec![text(i)];
        users.put(&i, &user)?;
        notes.put(&i, text(i + 1).as_bytes())?;
    }
    let stats = storage.table_stats("notes")?;
    let plain: u64 = (0..200).map(|i| text(i + 1).len() as u64 + 8).sum();
    assert!(
        stats.stored_bytes * 5 < plain,
        "stored {} of {plain}",
        stats.stored_bytes
    );
    // A scan whose callback reads another compressed table: each read gets its own buffer.
    let checked = users.scan_with(|s| {
        s.fold(0u64, |n, id, user| {
            let note = notes.get(&id, |v| v.to_vec())?.expect("note");
            assert_eq!(note, text(id + 1).as_bytes());
            assert_eq!(user.tags[0].as_str(), text(*id));
            Ok(n + 1)
        })
    })?;
    assert_eq!(checked, 200);
    Ok(())
}

#[cfg(feature = "zstd")]
#[test]
fn settings_change_on_a_live_database() -> zerotable::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.redb");
    let open = |compressor| -> zerotable::Result<Storage> {
        let options = CompressionOptions {
            compressor,
            min_size: 16,
        };
        Ok(Storage::new(CompressedEngine::new(
            zerotable::RedbEngine::open(&path)?,
            options,
        )))
    };
    let phases = [
        Compressor::Lz4,
        Compressor::Zstd { level: 9 },
        Compressor::None,
    ];
    for (phase, compressor) in phases.into_iter().enumerate() {
        let storage = open(compressor)?;
        let docs = storage.raw_table::<u64>("docs")?;
        for i in 0..100 {
            docs.put(&(phase as u64 * 100 + i), text(i).as_bytes())?;
        }
        // Every value written so far, under every earlier setting, reads back.
        for id in 0..(phase as u64 + 1) * 100 {
            let value = docs.get(&id, |v| v.to_vec())?.expect("written");
            assert_eq!(value, text(id % 100).as_bytes(), "id {id} in phase {phase}");
        }
    }
    Ok(())
}

/// Stores `stored` as the value of key 0 of table `t`, straight into the engine under the
/// compression layer, and reads it back through the layer.
fn damaged(stored: &[u8]) -> Error {
    let inner: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
    let storage = Storage::from_arc(Arc::new(CompressedEngine::over(
        Arc::clone(&inner),
        CompressionOptions::default(),
    )));
    let table = storage.raw_table::<u64>("t").expect("table");
    table.put(&0, b"a valid value").expect("put");
    inner
        .write(WriteOptions::DEFAULT, &mut |txn| {
            txn.put("t", &[0; 8], stored)
        })
        .expect("raw write");
    table.get(&0, |v| v.len()).unwrap_err()
}

#[test]
fn damaged_stored_forms_are_typed_errors_naming_the_entry() {
    let err = damaged(&[1, 200, 1, 0xff, 0x00]);
    assert!(
        matches!(
            &err,
            Error::Layer {
                layer: "compression",
                kind: LayerErrorKind::Malformed,
                table,
                ..
            } if table == "t"
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("rewrite or delete"), "{message}");
    assert!(matches!(damaged(&[7, 1, 2, 3]), Error::Layer { .. }));
    assert!(matches!(damaged(&[]), Error::Layer { .. }));
    // A length no lz4 block of this size can produce is refused before allocating it.
    let err = damaged(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]);
    assert!(err.to_string().contains("cannot hold"), "{err}");
}

#[test]
fn address_options_choose_and_check_the_compressor() {
    let storage =
        Storage::connect("memory://?value_compression=lz4&value_compression_min_size=1KiB")
            .expect("lz4 over memory");
    let layer = storage
        .layer::<CompressedEngine>()
        .expect("compression layer");
    assert_eq!(layer.transform().options().min_size, 1024);

    let err = Storage::connect("memory://?value_compression=brotli")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown compressor \"brotli\""), "{err}");
    let err = Storage::connect("memory://?value_compression=lz4&value_compression_level=3")
        .unwrap_err()
        .to_string();
    assert!(err.contains("applies to zstd only"), "{err}");
    #[cfg(feature = "zstd")]
    {
        let err = Storage::connect("memory://?value_compression=zstd&value_compression_level=40")
            .unwrap_err()
            .to_string();
        assert!(err.contains("from 1 to 22"), "{err}");
        assert!(
            Storage::connect("memory://?value_compression=zstd&value_compression_level=19").is_ok()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any stored bytes read through the layer give a value or a typed error, never a panic.
    #[test]
    fn arbitrary_stored_bytes_never_panic(form in 0u8..4, body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut stored = vec![form];
        stored.extend_from_slice(&body);
        let inner: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
        inner.write(WriteOptions::DEFAULT, &mut |txn| txn.put("t", b"k", &stored)).expect("raw write");
        let layer = CompressedEngine::over(inner, CompressionOptions::default());
        match layer.get("t", b"k", &mut |_| Ok(())) {
            Ok(found) => prop_assert!(found),
            Err(err) => prop_assert!(matches!(err, Error::Layer { .. }), "{err}"),
        }
    }
}
