//! Configuration files (`zerotable::config`): TOML and JSON open the engine they name, relative
//! paths start at the file's folder, the example configurations stay valid, addresses and
//! configurations say the same things, and every way a configuration can be wrong is an
//! `InvalidConfig` naming the file and the field — with nothing created on disk.

use std::path::{Path, PathBuf};

use zerotable::config::{EngineConfig, OptionSetting, StorageConfig};
use zerotable::{Error, Storage};

/// Writes `text` to `name` in `dir`; its path.
fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The error of opening `path`, checked to be an `InvalidConfig` about that file naming
/// `field`; its message.
fn invalid(path: &Path, field: Option<&str>) -> String {
    match Storage::from_config_file(path) {
        Err(err @ Error::InvalidConfig { .. }) => {
            let Error::InvalidConfig { origin, option, .. } = &err else {
                unreachable!()
            };
            assert_eq!(origin, &path.display().to_string(), "the file: {err}");
            assert_eq!(option.as_deref(), field, "the field at fault: {err}");
            let message = err.to_string();
            assert!(!message.contains('\n'), "one line: {message}");
            message
        }
        Err(other) => panic!("expected InvalidConfig, got {other:?}"),
        Ok(_) => panic!("expected an error, it opened"),
    }
}

#[test]
fn a_toml_file_opens_redb_relative_to_its_folder_and_reopens_the_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let config = file(
        dir.path(),
        "app.toml",
        "[engine]\nkind = \"redb\"\npath = \"data/app.redb\"\n\n[engine.options]\n\
         durability = \"none\"\ncache_size = \"16MiB\"\n",
    );
    let storage = Storage::from_config_file(&config).unwrap();
    assert_eq!(storage.engine().name(), "redb");
    storage
        .raw_table::<u32>("t")
        .unwrap()
        .put(&7, b"seven")
        .unwrap();
    drop(storage);
    assert!(dir.path().join("data/app.redb").is_file());

    let storage = Storage::from_config_file(&config).unwrap();
    let value = storage
        .raw_table::<u32>("t")
        .unwrap()
        .get(&7, |v| v.to_vec());
    assert_eq!(value.unwrap().as_deref(), Some(&b"seven"[..]));
}

#[test]
fn a_json_file_says_the_same_as_toml() {
    let dir = tempfile::tempdir().unwrap();
    let json = file(
        dir.path(),
        "app.json",
        r#"{"engine": {"kind": "redb", "path": "app.redb", "options": {"durability": "none"}}}"#,
    );
    let toml = file(
        dir.path(),
        "app.toml",
        "[engine]\nkind = \"redb\"\npath = \"app.redb\"\noptions = { durability = \"none\" }\n",
    );
    assert_eq!(
        StorageConfig::load(&json).unwrap(),
        StorageConfig::load(&toml).unwrap()
    );
    let storage = Storage::from_config_file(&json).unwrap();
    assert_eq!(storage.engine().name(), "redb");
    assert!(dir.path().join("app.redb").is_file());
}

#[test]
fn memory_needs_no_path() {
    let config = StorageConfig::from_toml("inline", "engine = { kind = \"memory\" }").unwrap();
    assert_eq!(
        Storage::from_config(&config).unwrap().engine().name(),
        "memory"
    );
}

/// Every example configuration under `examples/configs/` parses, and opens (in a copy of its
/// folder, so that its relative paths land in a temporary directory) when its engine is
/// compiled in.
#[test]
fn the_example_configurations_are_valid() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        let config =
            StorageConfig::load(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        seen += 1;
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join(path.file_name().unwrap());
        std::fs::copy(&path, &copy).unwrap();
        if let Some(relative) = &config.engine.path {
            let parent = dir.path().join(relative).parent().unwrap().to_owned();
            std::fs::create_dir_all(parent).unwrap();
        }
        match Storage::from_config_file(&copy) {
            Ok(storage) => {
                assert_eq!(
                    storage.engine().name(),
                    config.engine.kind,
                    "{}",
                    path.display()
                )
            }
            Err(Error::InvalidConfig { problem, .. }) if problem.contains("not compiled in") => {}
            Err(other) => panic!("{}: {other}", path.display()),
        }
    }
    assert!(
        seen >= 4,
        "the example configurations are missing ({seen} found)"
    );
}

#[test]
fn an_address_and_a_configuration_describe_the_same_engine() {
    let engine = EngineConfig::from_address("redb://data/my%20app.redb?durability=none").unwrap();
    assert_eq!(engine.kind, "redb");
    assert_eq!(engine.path.as_deref(), Some(Path::new("data/my app.redb")));
    assert_eq!(
        engine.options.get("durability"),
        Some(&OptionSetting::Text("none".into()))
    );
    assert_eq!(
        engine.address(),
        "redb://data/my%20app.redb?durability=none"
    );
    let config = StorageConfig {
        engine,
        layers: Vec::new(),
    };
    assert_eq!(
        StorageConfig::from_toml("again", &config.to_toml()).unwrap(),
        config
    );

    // The same option, the same meaning: a bad value is refused by both with the same words.
    let dir = tempfile::tempdir().unwrap();
    let by_address = Storage::connect(&format!(
        "redb://{}/a.redb?cache_size=lots",
        dir.path().display()
    ))
    .unwrap_err()
    .to_string();
    let by_config = invalid(
        &file(
            dir.path(),
            "a.toml",
            "[engine]\nkind = \"redb\"\npath = \"a.redb\"\noptions = { cache_size = \"lots\" }\n",
        ),
        Some("engine.options.cache_size"),
    );
    let problem = "expected a size such as 4096, 64KiB, 512MiB or 8GiB, got \"lots\"";
    assert!(by_address.contains(problem), "{by_address}");
    assert!(by_config.contains(problem), "{by_config}");
    assert!(!dir.path().join("a.redb").exists(), "nothing is created");
}

#[test]
fn unknown_fields_are_named_at_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let top = invalid(
        &file(
            dir.path(),
            "a.toml",
            "cache = 1\n[engine]\nkind = \"memory\"\n",
        ),
        Some("cache"),
    );
    assert!(top.contains("unknown field `cache`"), "{top}");
    assert!(top.contains("line 1"), "{top}");
    let inner = invalid(
        &file(
            dir.path(),
            "b.toml",
            "[engine]\nkind = \"redb\"\npth = \"x.redb\"\n",
        ),
        Some("engine.pth"),
    );
    assert!(
        inner.contains("unknown field `pth`, expected one of"),
        "{inner}"
    );
    assert!(inner.contains("line 3"), "{inner}");
    let option = invalid(
        &file(
            dir.path(),
            "c.toml",
            "[engine]\nkind = \"redb\"\npath = \"x.redb\"\n[engine.options]\ndurabilty = \"none\"\n",
        ),
        None,
    );
    assert!(
        option.contains("unknown option `engine.options.durabilty`"),
        "{option}"
    );
    assert!(
        option.contains("durability"),
        "lists the known options: {option}"
    );
    let json = invalid(
        &file(
            dir.path(),
            "d.json",
            r#"{"engine": {"kind": "memory", "size": 3}}"#,
        ),
        Some("engine.size"),
    );
    assert!(json.contains("unknown field `size`"), "{json}");
    assert!(!dir.path().join("x.redb").exists(), "nothing is created");
}

#[test]
fn wrong_types_and_bad_values_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path_type = invalid(
        &file(
            dir.path(),
            "a.toml",
            "[engine]\nkind = \"redb\"\npath = 5\n",
        ),
        Some("engine.path"),
    );
    assert!(
        path_type.contains("invalid type: integer `5`"),
        "{path_type}"
    );
    let float = invalid(
        &file(
            dir.path(),
            "b.toml",
            "[engine]\nkind = \"redb\"\npath = \"x.redb\"\noptions = { cache_size = 1.5 }\n",
        ),
        Some("engine.options.cache_size"),
    );
    assert!(
        float.contains("expected a string, a whole number or true/false"),
        "{float}"
    );
    let durability = invalid(
        &file(
            dir.path(),
            "c.toml",
            "[engine]\nkind = \"redb\"\npath = \"x.redb\"\noptions = { durability = true }\n",
        ),
        Some("engine.options.durability"),
    );
    assert!(durability.contains("`immediate`"), "{durability}");
    let numbers = file(
        dir.path(),
        "d.toml",
        "[engine]\nkind = \"redb\"\npath = \"x.redb\"\noptions = { cache_size = 1048576 }\n",
    );
    Storage::from_config_file(&numbers).expect("a whole number is a size in bytes");
    let json_type = invalid(
        &file(dir.path(), "e.json", r#"{"engine": {"kind": ["redb"]}}"#),
        Some("engine.kind"),
    );
    assert!(json_type.contains("invalid type: sequence"), "{json_type}");
}

#[test]
fn missing_and_unknown_engines_say_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let no_engine = invalid(&file(dir.path(), "a.toml", "# nothing\n"), None);
    assert!(no_engine.contains("missing field `engine`"), "{no_engine}");
    let no_kind = invalid(
        &file(dir.path(), "b.toml", "[engine]\npath = \"x\"\n"),
        Some("engine"),
    );
    assert!(no_kind.contains("missing field `kind`"), "{no_kind}");
    let no_path = invalid(
        &file(dir.path(), "c.toml", "[engine]\nkind = \"lmdb\"\n"),
        None,
    );
    assert!(
        no_path.contains("no path") || no_path.contains("not compiled in"),
        "{no_path}"
    );
    let unknown = invalid(
        &file(
            dir.path(),
            "d.toml",
            "[engine]\nkind = \"mongodb\"\npath = \"x\"\n",
        ),
        None,
    );
    assert!(unknown.contains("unknown engine `mongodb`"), "{unknown}");
    let empty = invalid(
        &file(dir.path(), "e.toml", "[engine]\nkind = \"\"\n"),
        Some("engine.kind"),
    );
    assert!(empty.contains("name an engine"), "{empty}");
}

#[test]
fn syntax_errors_give_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let toml = invalid(
        &file(
            dir.path(),
            "a.toml",
            "[engine]\nkind = \"redb\npath = \"x\"\n",
        ),
        None,
    );
    assert!(toml.contains("line 2"), "{toml}");
    let json = invalid(
        &file(
            dir.path(),
            "b.json",
            "{\"engine\": {\"kind\": \"redb\",\n}}",
        ),
        None,
    );
    assert!(json.contains("line 2"), "{json}");
    let trailing = invalid(
        &file(
            dir.path(),
            "c.json",
            "{\"engine\": {\"kind\": \"memory\"}} 5",
        ),
        None,
    );
    assert!(trailing.contains("trailing characters"), "{trailing}");
}

#[test]
fn unreadable_files_and_unknown_formats_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = invalid(&dir.path().join("none.toml"), None);
    assert!(missing.contains("cannot read the file"), "{missing}");
    let yaml = invalid(&file(dir.path(), "a.yaml", "engine: {}\n"), None);
    assert!(yaml.contains("*.toml or *.json"), "{yaml}");
    let not_utf8 = dir.path().join("b.toml");
    std::fs::write(&not_utf8, [0xff, 0xfe, b'[']).unwrap();
    let binary = invalid(&not_utf8, None);
    assert!(binary.contains("cannot read the file"), "{binary}");
}

/// Each engine compiled in opens from a configuration with its options, like its address.
#[test]
fn every_engine_compiled_in_opens_from_a_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut configs = vec![("redb", "app.redb", "durability = \"none\"")];
    if cfg!(feature = "fjall") {
        configs.push(("fjall", "fjall", "durability = \"none\""));
    }
    if cfg!(feature = "lmdb") {
        configs.push(("lmdb", "lmdb", "map_size = \"64MiB\""));
    }
    if cfg!(feature = "sqlite") {
        configs.push(("sqlite", "app.sqlite", "readers = 2"));
    }
    if cfg!(feature = "rocksdb") {
        configs.push(("rocksdb", "rocksdb", "cache_size = \"8MiB\""));
    }
    for (kind, path, options) in configs {
        let config = file(
            dir.path(),
            &format!("{kind}.toml"),
            &format!(
                "[engine]\nkind = \"{kind}\"\npath = \"{path}\"\n[engine.options]\n{options}\n"
            ),
        );
        let storage = Storage::from_config_file(&config).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(storage.engine().name(), kind);
        storage.raw_table::<u8>("t").unwrap().put(&1, b"x").unwrap();
    }
}
