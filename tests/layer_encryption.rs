//! The encryption layer: the whole conformance suite over memory and redb, then what the suite
//! cannot see — tampering of every kind caught before decoding, wrong keys, rotation, keys from
//! files and the environment (never from an address), and no plaintext on disk.

use std::sync::Arc;

use proptest::prelude::*;
use zerotable::layers::{EncryptedEngine, EncryptionKey, EncryptionOptions, Keyring};
use zerotable::testing::{LayeredHarness, MemoryHarness, RedbHarness};
use zerotable::{Engine, Error, LayerErrorKind, MemoryEngine, RedbEngine, Storage, WriteOptions};

fn key(byte: u8) -> EncryptionKey {
    EncryptionKey::from_bytes([byte; 32])
}

fn sealed(engine: Arc<dyn Engine>) -> Arc<dyn Engine> {
    Arc::new(EncryptedEngine::over(
        engine,
        EncryptionOptions::with_key(key(7)),
    ))
}

zerotable::conformance_suite!(
    encryption_over_memory,
    LayeredHarness {
        name: "encryption over memory",
        inner: MemoryHarness,
        wrap: sealed
    }
);
zerotable::conformance_suite!(
    encryption_over_redb,
    LayeredHarness {
        name: "encryption over redb",
        inner: RedbHarness::FAST,
        wrap: sealed
    }
);

/// A storage encrypted with `key(7)` over `inner`.
fn storage_over(inner: &Arc<dyn Engine>) -> Storage {
    Storage::from_arc(sealed(Arc::clone(inner)))
}

fn raw_get(inner: &Arc<dyn Engine>, table: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    assert!(
        inner
            .get(table, key, &mut |v| {
                out = v.to_vec();
                Ok(())
            })
            .expect("raw get")
    );
    out
}

fn raw_put(inner: &Arc<dyn Engine>, table: &str, key: &[u8], value: &[u8]) {
    inner
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put(table, key, value))
        .expect("raw put");
}

fn kind_of(err: &Error) -> LayerErrorKind {
    match err {
        Error::Layer {
            layer: "encryption",
            kind,
            ..
        } => *kind,
        other => panic!("expected an encryption error, got {other}"),
    }
}

#[test]
fn tampering_of_every_kind_is_caught_before_decoding() -> zerotable::Result<()> {
    let inner: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
    let storage = storage_over(&inner);
    let accounts = storage.raw_table::<u64>("accounts")?;
    let audit = storage.raw_table::<u64>("audit")?;
    accounts.put(&1, b"balance=100")?;
    accounts.put(&2, b"balance=999999")?;
    let k1 = 1u64.to_be_bytes();
    let k2 = 2u64.to_be_bytes();
    let one = raw_get(&inner, "accounts", &k1);
    let two = raw_get(&inner, "accounts", &k2);

    // A value moved to another key of the same table.
    raw_put(&inner, "accounts", &k1, &two);
    let err = accounts.get(&1, |v| v.to_vec()).unwrap_err();
    assert_eq!(kind_of(&err), LayerErrorKind::Tampered);
    assert!(err.to_string().contains("fails authentication"), "{err}");
    assert_eq!(err.table(), Some("accounts"));

    // The same key in another table.
    raw_put(&inner, "audit", &k1, &one);
    assert_eq!(
        kind_of(&audit.get(&1, |v| v.to_vec()).unwrap_err()),
        LayerErrorKind::Tampered
    );

    // A flipped bit anywhere, a truncation: never a value.
    for at in 0..one.len() {
        let mut flipped = one.clone();
        flipped[at] ^= 0x80;
        raw_put(&inner, "accounts", &k1, &flipped);
        assert!(accounts.get(&1, |v| v.to_vec()).is_err(), "flip at {at}");
    }
    raw_put(&inner, "accounts", &k1, &one[..one.len() - 1]);
    assert_eq!(
        kind_of(&accounts.get(&1, |v| v.to_vec()).unwrap_err()),
        LayerErrorKind::Tampered
    );
    raw_put(&inner, "accounts", &k1, &one[..10]);
    assert_eq!(
        kind_of(&accounts.get(&1, |v| v.to_vec()).unwrap_err()),
        LayerErrorKind::Malformed
    );

    // Scans stop at the damaged entry with the same error.
    let err = accounts
        .scan_with(|s| s.fold(0, |n, _, _| Ok(n + 1)))
        .unwrap_err();
    assert_eq!(kind_of(&err), LayerErrorKind::Malformed);
    Ok(())
}

#[test]
fn a_wrong_key_after_reopen_is_refused_and_no_plaintext_reaches_the_disk() -> zerotable::Result<()>
{
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secret.redb");
    let open = |k: u8| -> zerotable::Result<Storage> {
        Ok(Storage::new(EncryptedEngine::new(
            RedbEngine::open(&path)?,
            EncryptionOptions::with_key(key(k)),
        )))
    };
    let marker = "PLAINTEXT-MARKER-".repeat(8);
    {
        let storage = open(7)?;
        let notes = storage.raw_table::<u64>("notes")?;
        for i in 0..50 {
            notes.put(&i, marker.as_bytes())?;
        }
    }
    let file = std::fs::read(&path).expect("read the file");
    assert!(
        !file.windows(17).any(|w| w == b"PLAINTEXT-MARKER-"),
        "plaintext on disk"
    );
    {
        let storage = open(8)?;
        // The catalog itself is sealed: opening a typed table already needs the right key.
        let err = storage.raw_table::<u64>("notes").map(|_| ()).unwrap_err();
        assert_eq!(kind_of(&err), LayerErrorKind::Tampered);
    }
    let storage = open(7)?;
    let notes = storage.raw_table::<u64>("notes")?;
    assert_eq!(notes.get(&3, |v| v.len())?, Some(marker.len()));
    Ok(())
}

#[test]
fn rotation_reencrypts_in_place_and_old_keys_can_then_go() -> zerotable::Result<()> {
    let inner: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
    {
        let storage = storage_over(&inner);
        let t = storage.raw_table::<u64>("t")?;
        for i in 0..2_500 {
            t.put(&i, format!("value {i}").as_bytes())?;
        }
    }
    // The new key alone cannot read what the old one sealed: a typed error naming the id.
    let only_new = Storage::from_arc(Arc::new(EncryptedEngine::over(
        Arc::clone(&inner),
        EncryptionOptions {
            keyring: Keyring::new(2, key(9)),
        },
    )));
    let err = only_new.raw_table::<u64>("t").map(|_| ()).unwrap_err();
    assert_eq!(kind_of(&err), LayerErrorKind::UnknownKey);
    assert!(err.to_string().contains("key id 1"), "{err}");

    let keyring = Keyring::new(2, key(9)).retired(1, key(7))?;
    let both = EncryptedEngine::over(Arc::clone(&inner), EncryptionOptions { keyring });
    // 2,500 rows and the catalog's record of the table.
    assert_eq!(both.rotate()?, 2_501);
    assert_eq!(both.rotate()?, 0, "nothing left under the old key");

    let t = only_new.raw_table::<u64>("t")?;
    assert_eq!(t.len()?, 2_500);
    assert_eq!(t.get(&2_499, |v| v.to_vec())?, Some(b"value 2499".to_vec()));
    Ok(())
}

#[test]
fn keys_come_from_files_or_the_environment_never_from_an_address() -> zerotable::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("app.key");
    std::fs::write(&key_file, &*EncryptionKey::generate()?.to_hex()).expect("write key");
    let db = dir.path().join("app.redb");
    let address = format!(
        "redb://{}?encryption_key_file={}",
        db.display(),
        key_file.display()
    );
    {
        let storage = Storage::connect(&address)?;
        storage.raw_table::<u64>("t")?.put(&1, b"x")?;
    }
    let storage = Storage::connect(&address)?;
    assert!(storage.layer::<EncryptedEngine>().is_some());
    assert_eq!(
        storage.raw_table::<u64>("t")?.get(&1, |v| v.to_vec())?,
        Some(b"x".to_vec())
    );
    drop(storage);

    let err = Storage::connect(&format!("memory://?encryption_key={}", "00".repeat(32)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("a key never goes in an address"), "{err}");
    assert!(
        !err.contains(&"00".repeat(32)),
        "the key is not echoed: {err}"
    );

    let err = Storage::connect("memory://?encryption_key_env=ZEROTABLE_TEST_NO_SUCH_VARIABLE")
        .unwrap_err()
        .to_string();
    assert!(err.contains("encryption_key_env"), "{err}");
    assert!(err.contains("ZEROTABLE_TEST_NO_SUCH_VARIABLE"), "{err}");

    let err = Storage::connect(&format!(
        "memory://?encryption_key_file={}&encryption_retired_keys=1=file:{}",
        key_file.display(),
        key_file.display()
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("given twice"), "{err}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any stored bytes read through the layer give a typed error, never a panic or a value.
    #[test]
    fn arbitrary_stored_bytes_are_refused(stored in proptest::collection::vec(any::<u8>(), 0..128)) {
        let inner: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
        raw_put(&inner, "t", b"k", &stored);
        let layer = sealed(inner);
        let err = layer.get("t", b"k", &mut |_| Ok(())).unwrap_err();
        prop_assert!(matches!(err, Error::Layer { layer: "encryption", .. }), "{err}");
    }
}
