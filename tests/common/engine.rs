//! Raw-engine helpers for the per-engine tests (`engine_*.rs`): one put, one get, the entries of
//! a table and the listed tables, each in a transaction of its own through the [`Engine`]
//! trait, and the check that an address is refused as `InvalidConfig`.

use std::ops::ControlFlow;

use zerotable::{Engine, Error, KeyRange, ReadOps, Storage, WriteOptions};

/// Puts one entry in its own write transaction; it must commit.
pub fn put(engine: &dyn Engine, table: &str, key: &[u8], value: &[u8]) {
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| txn.put(table, key, value))
        .unwrap();
}

/// The value of `key` in `table`, copied, from a fresh snapshot.
pub fn get(engine: &dyn Engine, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    let snapshot = engine.begin_read().unwrap();
    let mut value = None;
    snapshot
        .get(table, key, &mut |bytes| {
            value = Some(bytes.to_vec());
            Ok(())
        })
        .unwrap();
    value
}

/// Every entry of `table` in `range`, copied, as `reader` sees them.
pub fn collect(
    reader: &dyn ReadOps,
    table: &str,
    range: KeyRange<'_>,
) -> zerotable::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    reader.range(table, &range, &mut |key, value| {
        out.push((key.to_vec(), value.to_vec()));
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(out)
}

/// Every entry of `table` in `range`, copied, from a fresh snapshot.
pub fn scan(engine: &dyn Engine, table: &str, range: KeyRange<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    engine
        .read(&mut |reader| {
            out = collect(reader, table, range)?;
            Ok(())
        })
        .unwrap();
    out
}

/// Every entry of `table`, copied, from a fresh snapshot.
pub fn entries(engine: &dyn Engine, table: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    scan(engine, table, KeyRange::ALL)
}

/// The listed tables, from a fresh snapshot.
pub fn list_tables(engine: &dyn Engine) -> Vec<String> {
    engine.begin_read().unwrap().list_tables().unwrap()
}

/// Connecting to `address` must fail with [`Error::InvalidConfig`] naming `option` (`None`:
/// naming none), whose problem says each of `says`. Returns the error.
pub fn invalid_config(address: &str, option: Option<&str>, says: &[&str]) -> Error {
    let error = match Storage::connect(address) {
        Err(error) => error,
        Ok(_) => panic!("{address}: expected InvalidConfig, but it opened"),
    };
    match &error {
        Error::InvalidConfig {
            option: named,
            problem,
            ..
        } => {
            assert_eq!(named.as_deref(), option, "{address}: {error}");
            for said in says {
                assert!(
                    problem.contains(said),
                    "{address}: `{said}` not in: {error}"
                );
            }
        }
        other => panic!("{address}: expected InvalidConfig, got {other:?}"),
    }
    error
}
