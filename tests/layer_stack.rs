//! Layers composed: the whole stack (metrics, cache, compression, encryption) runs the whole
//! conformance suite over memory and redb, in the recommended order and reversed, and opens
//! the same way from an address and from a configuration file.

use std::sync::Arc;

use zerotable::layers::{
    self, CacheOptions, CachedEngine, CompressedEngine, CompressionOptions, EncryptedEngine,
    EncryptionKey, EncryptionOptions, LayerSpec, MeteredEngine, MetricsOptions,
};
use zerotable::testing::{LayeredHarness, MemoryHarness, RedbHarness};
use zerotable::{Engine, Storage};

fn stack(reversed: bool) -> Vec<LayerSpec> {
    let mut stack = vec![
        LayerSpec::Metrics(MetricsOptions::default()),
        // Small enough that the suite's tables evict.
        LayerSpec::Cache(CacheOptions { capacity: 64 << 10 }),
        LayerSpec::Compression(CompressionOptions {
            min_size: 0,
            ..CompressionOptions::default()
        }),
        LayerSpec::Encryption(EncryptionOptions::with_key(EncryptionKey::from_bytes(
            [3; 32],
        ))),
    ];
    if reversed {
        stack.reverse();
    }
    stack
}

fn recommended(engine: Arc<dyn Engine>) -> Arc<dyn Engine> {
    layers::wrap(&stack(false), engine)
}

fn reversed(engine: Arc<dyn Engine>) -> Arc<dyn Engine> {
    layers::wrap(&stack(true), engine)
}

zerotable::conformance_suite!(
    stack_over_memory,
    LayeredHarness {
        name: "metrics+cache+compression+encryption over memory",
        inner: MemoryHarness,
        wrap: recommended
    }
);
zerotable::conformance_suite!(
    stack_over_redb,
    LayeredHarness {
        name: "metrics+cache+compression+encryption over redb",
        inner: RedbHarness::FAST,
        wrap: recommended
    }
);
zerotable::conformance_suite!(
    reversed_stack_over_memory,
    LayeredHarness {
        name: "encryption+compression+cache+metrics over memory",
        inner: MemoryHarness,
        wrap: reversed
    }
);

/// Which layers a storage wears, outermost first.
fn layer_names(storage: &Storage) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut engine: &dyn Engine = &**storage.engine();
    loop {
        let any = engine.as_any();
        let name = match any {
            Some(a) if a.is::<MeteredEngine>() => "metrics",
            Some(a) if a.is::<CachedEngine>() => "cache",
            Some(a) if a.is::<CompressedEngine>() => "compression",
            Some(a) if a.is::<EncryptedEngine>() => "encryption",
            _ => engine.name(),
        };
        names.push(name);
        match engine.inner() {
            Some(inner) => engine = inner,
            None => return names,
        }
    }
}

#[test]
fn an_address_and_a_configuration_file_build_the_same_stack() -> zerotable::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("app.key");
    std::fs::write(&key, &*EncryptionKey::generate()?.to_hex()).expect("key file");
    let address = format!(
        "redb://{}?metrics=true&read_cache=1MiB&value_compression=lz4&encryption_key_file={}",
        dir.path().join("by-address.redb").display(),
        key.display()
    );
    let by_address = Storage::connect(&address)?;
    assert_eq!(
        layer_names(&by_address),
        ["metrics", "cache", "compression", "encryption", "redb"]
    );

    // In a file, the order is the list's, and a relative key file is taken from the file's
    // folder.
    let config = dir.path().join("app.toml");
    std::fs::write(
        &config,
        r#"
            [engine]
            kind = "redb"
            path = "by-config.redb"

            [[layers]]
            kind = "metrics"

            [[layers]]
            kind = "encryption"
            encryption_key_file = "app.key"

            [[layers]]
            kind = "compression"
            value_compression = "lz4"
            value_compression_min_size = "128B"
        "#,
    )
    .expect("config file");
    let by_config = Storage::from_config_file(&config)?;
    assert_eq!(
        layer_names(&by_config),
        ["metrics", "encryption", "compression", "redb"]
    );
    for storage in [&by_address, &by_config] {
        let docs = storage.raw_table::<u64>("docs")?;
        let text = "a layered value ".repeat(64);
        docs.put(&1, text.as_bytes())?;
        assert_eq!(docs.get(&1, |v| v.to_vec())?, Some(text.into_bytes()));
        let metrics = storage
            .layer::<MeteredEngine>()
            .expect("metrics")
            .snapshot();
        assert!(metrics.table("docs").is_some());
    }

    // Mistakes in a layer entry name the entry and the option.
    std::fs::write(
        &config,
        "[engine]\nkind = \"memory\"\n[[layers]]\nkind = \"cache\"\nread_cahce = \"1MiB\"\n",
    )
    .expect("config file");
    let err = Storage::from_config_file(&config).unwrap_err().to_string();
    assert!(err.contains("layers[0].read_cahce"), "{err}");
    std::fs::write(
        &config,
        "[engine]\nkind = \"memory\"\n[[layers]]\nkind = \"zip\"\n",
    )
    .expect("config file");
    let err = Storage::from_config_file(&config).unwrap_err().to_string();
    assert!(err.contains("unknown layer `zip`"), "{err}");
    Ok(())
}

#[test]
fn a_copy_moves_a_database_into_and_between_layered_storages() -> zerotable::Result<()> {
    let plain = Storage::in_memory();
    let users = plain.raw_table::<u64>("users")?;
    for i in 0..500u64 {
        users.put(&i, format!("user {i} ").repeat(20).as_bytes())?;
    }
    let sealed_with = |byte: u8| {
        let stack = [
            LayerSpec::Compression(CompressionOptions::default()),
            LayerSpec::Encryption(EncryptionOptions::with_key(EncryptionKey::from_bytes(
                [byte; 32],
            ))),
        ];
        let below: Arc<dyn Engine> = Arc::new(zerotable::MemoryEngine::new());
        (
            Arc::clone(&below),
            Storage::from_arc(layers::wrap(&stack, below)),
        )
    };
    // Plain into compressed and encrypted, then re-encrypted under another key by a copy.
    let (below_a, a) = sealed_with(1);
    plain.copy_to(&a, Default::default())?;
    let (below_b, b) = sealed_with(2);
    let report = a.copy_to(&b, Default::default())?;
    assert_eq!(
        report.rows,
        500 + 1,
        "the rows and the table's catalog record"
    );
    for (below, storage) in [(&below_a, &a), (&below_b, &b)] {
        let table = storage.raw_table::<u64>("users")?;
        assert_eq!(
            table.get(&42, |v| v.to_vec())?,
            users.get(&42, |v| v.to_vec())?
        );
        // Below the layers, nothing reads as the plain value.
        let mut stored = Vec::new();
        below.get("users", &42u64.to_be_bytes(), &mut |v| {
            stored = v.to_vec();
            Ok(())
        })?;
        assert!(!stored.windows(7).any(|w| w == b"user 42"));
    }
    Ok(())
}

#[test]
fn layer_options_leave_the_engines_own_options_to_the_engine() -> zerotable::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    // `cache_size` is redb's page cache, `read_cache` the cache layer: both apply.
    let address = format!(
        "redb://{}?cache_size=16MiB&read_cache=1MiB",
        dir.path().join("app.redb").display()
    );
    let storage = Storage::connect(&address)?;
    assert_eq!(layer_names(&storage), ["cache", "redb"]);
    drop(storage);
    // An engine that takes no options still refuses them, layers or not.
    let err = Storage::connect("memory://?cache_size=1GiB&read_cache=1MiB")
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown option `cache_size`"), "{err}");
    Ok(())
}
