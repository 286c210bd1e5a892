//! `Storage::connect`: engine addresses and their options, and the errors for every way an
//! address can be wrong (each names what is wrong and what would be right).

use zerotable::{Error, Storage};

/// The message of a connect error, checked to be an `InvalidConfig` naming `option`.
fn invalid(address: &str, option: Option<&str>) -> String {
    match Storage::connect(address) {
        Err(err @ Error::InvalidConfig { .. }) => {
            let Error::InvalidConfig {
                origin,
                option: named,
                ..
            } = &err
            else {
                unreachable!()
            };
            assert_eq!(origin, address, "the error names the address");
            assert_eq!(named.as_deref(), option, "the option at fault: {err}");
            err.to_string()
        }
        Err(other) => panic!("{address}: expected InvalidConfig, got {other:?}"),
        Ok(_) => panic!("{address}: expected an error, it opened"),
    }
}

#[test]
fn a_plain_path_is_a_redb_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.redb");
    let storage = Storage::connect(path.to_str().unwrap()).unwrap();
    assert_eq!(storage.engine().name(), "redb");
    storage.raw_table::<u8>("t").unwrap().put(&1, b"x").unwrap();
    drop(storage);
    assert!(path.is_file(), "the file is where the path says");
    // The same file through the scheme.
    let storage = Storage::connect(&format!("redb://{}", path.display())).unwrap();
    assert_eq!(storage.raw_table::<u8>("t").unwrap().len().unwrap(), 1);
}

#[test]
fn redb_options_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!(
        "redb://{}/app.redb?cache_size=16MiB&durability=none",
        dir.path().display()
    );
    let storage = Storage::connect(&address).unwrap();
    let t = storage.raw_table::<u8>("t").unwrap();
    t.put(&1, b"x").unwrap();
    storage.flush().unwrap();
    drop((t, storage));
    let storage = Storage::connect(&address).unwrap();
    assert_eq!(storage.raw_table::<u8>("t").unwrap().len().unwrap(), 1);
}

#[test]
fn escapes_in_the_path_are_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let absolute = dir.path().join("with space.redb");
    let address = format!(
        "redb://{}",
        absolute.display().to_string().replace(' ', "%20")
    );
    drop(Storage::connect(&address).unwrap());
    assert!(absolute.is_file(), "%20 decoded to a space");
}

#[test]
fn memory_takes_no_location_and_no_options() {
    let storage = Storage::connect("memory://").unwrap();
    assert_eq!(storage.engine().name(), "memory");
    let message = invalid("memory://data/app", None);
    assert!(message.contains("write memory://"), "{message}");
    let message = invalid("memory://?cache_size=1GiB", None);
    assert!(
        message.contains("unknown option `cache_size`") && message.contains("takes no options"),
        "{message}"
    );
}

#[test]
fn unknown_schemes_list_the_known_ones() {
    let message = invalid("mongodb://localhost/app", None);
    assert!(message.contains("unknown engine `mongodb`"), "{message}");
    for scheme in zerotable::engines::SCHEMES {
        assert!(message.contains(scheme), "{message} lists {scheme}");
    }
    let message = invalid("1x://app", None);
    assert!(message.contains("is not a scheme"), "{message}");
}

#[test]
fn engines_not_compiled_in_name_their_feature() {
    let missing: Vec<&str> = [
        ("fjall", cfg!(feature = "fjall")),
        ("lmdb", cfg!(feature = "lmdb")),
        ("sqlite", cfg!(feature = "sqlite")),
        ("rocksdb", cfg!(feature = "rocksdb")),
    ]
    .into_iter()
    .filter_map(|(scheme, on)| (!on).then_some(scheme))
    .collect();
    for scheme in missing {
        let message = invalid(&format!("{scheme}://data/app"), None);
        assert!(
            message.contains(&format!("enable zerotable's cargo feature `{scheme}`")),
            "{message}"
        );
    }
}

#[test]
fn unknown_options_are_named_with_the_ones_the_engine_takes() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("redb://{}/a.redb?durabilty=none", dir.path().display());
    let message = invalid(&address, None);
    assert!(message.contains("unknown option `durabilty`"), "{message}");
    assert!(
        message.contains("durability") && message.contains("cache_size"),
        "{message}"
    );
    assert!(
        !dir.path().join("a.redb").exists(),
        "nothing is created when the options are wrong"
    );
}

#[test]
fn bad_values_name_the_option_and_what_it_expects() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("redb://{}/a.redb", dir.path().display());
    let message = invalid(&format!("{base}?durability=sometimes"), Some("durability"));
    assert!(message.contains("`immediate`"), "{message}");
    assert!(message.contains("\"sometimes\""), "{message}");
    let message = invalid(&format!("{base}?cache_size=lots"), Some("cache_size"));
    assert!(message.contains("512MiB"), "{message}");
    let message = invalid(
        &format!("{base}?cache_size=99999999TiB"),
        Some("cache_size"),
    );
    assert!(message.contains("expected a size"), "{message}");
}

#[test]
fn malformed_queries_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("redb://{}/a.redb", dir.path().display());
    let message = invalid(&format!("{base}?durability"), None);
    assert!(message.contains("has no value"), "{message}");
    let message = invalid(
        &format!("{base}?durability=none&durability=immediate"),
        Some("durability"),
    );
    assert!(message.contains("given twice"), "{message}");
    let message = invalid(&format!("{base}?durability=%zz"), None);
    assert!(message.contains("percent-encoded"), "{message}");
}

#[test]
fn file_engines_need_a_path() {
    let message = invalid("redb://", None);
    assert!(message.contains("no path"), "{message}");
    let message = invalid("", None);
    assert!(message.contains("empty address"), "{message}");
}

#[test]
fn a_missing_directory_is_an_open_error_not_a_config_error() {
    let err = Storage::connect("redb:///nonexistent-dir-zerotable/a.redb").unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
}
