//! The `zerotable` command-line tool, end to end: the built binary run on real databases made
//! with the library in temporary folders — every command, its text and JSON output, exit codes,
//! a damaged file, a missing one, bad usage.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use zerotable::{CATALOG_TABLE, Storage, WriteOptions};

#[derive(zerotable::rkyv::Archive, zerotable::rkyv::Serialize)]
#[rkyv(crate = zerotable::rkyv)]
struct User {
    name: String,
    age: u32,
}

/// A redb file with tables of several key types and formats.
struct Fixture {
    dir: tempfile::TempDir,
    db: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("app.redb");
        let storage = Storage::open(&path).expect("open");
        let users = storage.rkyv_table::<u64, User>("users").expect("users");
        users
            .put(
                &1,
                &User {
                    name: "ada".into(),
                    age: 36,
                },
            )
            .expect("put");
        users
            .put(
                &2,
                &User {
                    name: "grace".into(),
                    age: 45,
                },
            )
            .expect("put");
        let events = storage
            .raw_table::<(String, u64)>("events")
            .expect("events");
        for (who, at, what) in [
            ("alice", 1_700_000_000u64, "login"),
            ("alice", 1_700_000_100, "logout"),
            ("bob", 1_700_000_050, "login"),
            ("a,b", 7, "comma"),
            ("say \"hi\"", 8, "quotes"),
        ] {
            events
                .put(&(who.to_string(), at), what.as_bytes())
                .expect("put");
        }
        let scores = storage.raw_table::<i64>("scores").expect("scores");
        scores.put(&-7, &[0xff, 0x00, 0x01]).expect("put");
        scores.put(&1_000, b"kilo").expect("put");
        let names = storage.raw_table::<String>("names").expect("names");
        names.put(&"ali".to_string(), b"short").expect("put");
        names.put(&"alice".to_string(), b"long").expect("put");
        names.put(&"bob, jr".to_string(), b"comma").expect("put");
        let ids = storage.raw_table::<[u8; 4]>("ids").expect("ids");
        ids.put(&[0xde, 0xad, 0xbe, 0xef], b"beef").expect("put");
        let flags = storage
            .raw_table::<(bool, Vec<u8>, i8)>("flags")
            .expect("flags");
        flags.put(&(true, vec![0, 1], -1), b"on").expect("put");
        drop((users, events, scores, names, ids, flags));
        storage.close().expect("close");
        let db = path.to_str().expect("UTF-8 path").to_owned();
        Fixture { dir, db }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs the binary.
fn zerotable(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zerotable"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

/// Runs the binary and expects exit code 0.
fn ok(args: &[&str]) -> String {
    let output = zerotable(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}\nstdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Runs the binary and parses its stdout as JSON.
fn json(args: &[&str]) -> Value {
    let text = ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}\n{text}"))
}

/// Runs the binary, expects `code`, and checks the error is one line of `zerotable: …` on
/// stderr, without a panic or a backtrace. Returns that line.
fn fails(code: i32, args: &[&str]) -> String {
    let output = zerotable(args);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}\nstdout: {}\nstderr: {err}",
        stdout(&output)
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{args:?}: {err}");
    if code == 1 {
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("zerotable: "), "{args:?}: {err}");
    }
    err
}

#[test]
fn tables_lists_every_table_with_its_record_and_figures() {
    let fx = Fixture::new();
    let text = ok(&["tables", &fx.db]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("name"), "{text}");
    let events = lines
        .iter()
        .find(|line| line.starts_with("events "))
        .expect("events listed");
    let cells: Vec<&str> = events.split("  ").filter(|c| !c.is_empty()).collect();
    assert_eq!(
        cells.iter().map(|c| c.trim()).collect::<Vec<_>>()[..6],
        ["events", "(String, u64)", "raw", "-", "0", "5"],
        "{events}"
    );
    assert!(!text.contains("zerotable.meta"), "{text}");

    let listed = json(&["tables", &fx.db, "--json"]);
    let tables = listed["tables"].as_array().expect("tables");
    let names: Vec<&str> = tables.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(
        names,
        ["events", "flags", "ids", "names", "scores", "users"]
    );
    let users = &tables[5];
    assert_eq!(users["key"], "u64");
    assert_eq!(users["format"], "rkyv");
    assert_eq!(users["value_type"], "User");
    assert_eq!(users["version"], 0);
    assert_eq!(users["entries"], 2);
    assert!(users["bytes"].as_u64().expect("bytes") > 16);
    assert_eq!(tables[0]["value_type"], Value::Null);
}

#[test]
fn get_reads_keys_of_every_type_from_text() {
    let fx = Fixture::new();
    let db = fx.db.as_str();
    let text = ok(&["get", db, "events", "alice,1700000000"]);
    assert_eq!(
        text,
        "key    alice,1700000000\nsize   5 bytes\nvalue  \"login\"\n"
    );
    // Spaces around tuple parts and `_` in integers are fine.
    assert!(ok(&["get", db, "events", " bob , 1_700_000_050"]).contains("\"login\""));
    assert!(ok(&["get", db, "events", "\"a,b\",7"]).contains("\"comma\""));
    assert!(ok(&["get", db, "events", r#""say \"hi\"",8"#]).contains("\"quotes\""));
    assert!(ok(&["get", db, "scores", "-7"]).contains("value  0xff0001"));
    assert!(ok(&["get", db, "scores", "1000"]).contains("\"kilo\""));
    assert!(ok(&["get", db, "scores", "--json", "-7"]).contains("ff0001"));
    assert!(ok(&["get", db, "names", "bob, jr"]).contains("\"comma\""));
    assert!(ok(&["get", db, "ids", "0xdeadbeef"]).contains("\"beef\""));
    assert!(ok(&["get", db, "ids", "DEADBEEF"]).contains("\"beef\""));
    assert!(ok(&["get", db, "flags", "true,0x0001,-1"]).contains("\"on\""));
    // An rkyv value is shown in hex, with its size.
    let user = json(&["get", db, "users", "2", "--json"]);
    assert_eq!(user["found"], true);
    assert_eq!(user["table"], "users");
    assert_eq!(user["key"], "2");
    assert_eq!(user["key_hex"], "0000000000000002");
    let hex = user["value_hex"].as_str().expect("hex");
    assert_eq!(hex.len() as u64, 2 * user["size"].as_u64().expect("size"));
    assert!(
        hex.contains(
            &"grace"
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    );
    assert!(user.get("value_text").is_none(), "rkyv values are not text");

    let raw = json(&["get", db, "events", "alice,1700000100", "--json"]);
    assert_eq!(raw["value_text"], "logout");
    assert_eq!(raw["size"], 6);
}

#[test]
fn get_of_a_missing_key_exits_1() {
    let fx = Fixture::new();
    let err = fails(1, &["get", &fx.db, "events", "carol,1"]);
    assert_eq!(err, "zerotable: no key carol,1 in table `events`\n");
    let output = zerotable(&["get", &fx.db, "users", "99", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let reply: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(reply["found"], false);
    let err = fails(1, &["get", &fx.db, "nope", "1"]);
    assert!(err.contains("no table `nope`"), "{err}");
}

#[test]
fn keys_that_do_not_read_as_the_key_type_are_bad_usage() {
    let fx = Fixture::new();
    for (table, key, says) in [
        ("users", "x", "expected a u64, found \"x\""),
        ("users", "-1", "out of range"),
        ("events", "alice", "that is 1 part where 2 were expected"),
        ("events", "alice,x", "part 2 of the (String, u64) key"),
        ("events", "\"alice,1", "never closed"),
        ("ids", "0xdead", "2 bytes, the type has 4"),
        ("flags", "yes,00,1", "write true or false"),
    ] {
        let err = fails(2, &["get", &fx.db, table, key]);
        assert!(err.starts_with("zerotable: cannot read the key"), "{err}");
        assert!(err.contains(says), "{key:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let err = fails(2, &["dump", &fx.db, "users", "--prefix", "1"]);
    assert!(
        err.contains("only tuple, String and Vec<u8> keys have prefixes"),
        "{err}"
    );
    let err = fails(2, &["get", &fx.db, "bad-name", "1"]);
    assert!(err.contains("bad table name"), "{err}");
}

#[test]
fn dump_shows_entries_in_key_order_in_three_formats() {
    let fx = Fixture::new();
    let db = fx.db.as_str();
    let text = ok(&["dump", db, "events"]);
    let keys: Vec<&str> = text
        .lines()
        .map(|line| line.split('\t').next().unwrap_or_default())
        .collect();
    assert_eq!(
        keys,
        [
            "\"a,b\",7",
            "alice,1700000000",
            "alice,1700000100",
            "bob,1700000050",
            r#""say \"hi\"",8"#
        ]
    );
    assert!(
        text.contains("alice,1700000000\t5 bytes\t\"login\"\n"),
        "{text}"
    );
    // Every key dump writes reads back with get.
    for key in keys {
        ok(&["get", db, "events", key]);
    }

    let dumped = json(&["dump", db, "scores", "--json"]);
    assert_eq!(dumped["table"], "scores");
    assert_eq!(dumped["key_type"], "i64");
    assert_eq!(dumped["format"], "raw");
    assert_eq!(dumped["count"], 2);
    let entries = dumped["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["key"], "-7");
    assert_eq!(entries[0]["value_hex"], "ff0001");
    assert_eq!(entries[0]["value_text"], Value::Null, "not UTF-8");
    assert_eq!(entries[1]["key"], "1000");
    assert_eq!(entries[1]["value_text"], "kilo");
    assert_eq!(
        json(&["dump", db, "scores", "--format", "json"]),
        dumped,
        "--json is --format json"
    );

    let hex = ok(&["dump", db, "ids", "--format", "hex"]);
    assert_eq!(hex, "deadbeef 62656566\n");
    let empty = json(&["dump", db, "events", "--limit", "0", "--json"]);
    assert_eq!(empty["count"], 0);
    assert_eq!(empty["entries"], Value::Array(Vec::new()));
}

#[test]
fn dump_selects_by_range_prefix_and_limit() {
    let fx = Fixture::new();
    let db = fx.db.as_str();
    let keys = |args: &[&str]| -> Vec<String> {
        let dumped = json(&[&["dump", db][..], args, &["--json"]].concat());
        dumped["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|entry| entry["key"].as_str().expect("key").to_owned())
            .collect()
    };
    assert_eq!(
        keys(&["events", "--prefix", "alice"]),
        ["alice,1700000000", "alice,1700000100"]
    );
    assert_eq!(
        keys(&["events", "--prefix", "alice,1700000100"]),
        ["alice,1700000100"]
    );
    assert_eq!(
        keys(&["events", "--from", "alice,0", "--to", "bob,1700000050"]),
        ["alice,1700000000", "alice,1700000100", "bob,1700000050"]
    );
    assert_eq!(
        keys(&["events", "--from", "alice,1700000050", "--limit", "2"]),
        ["alice,1700000100", "bob,1700000050"]
    );
    assert_eq!(keys(&["names", "--prefix", "ali"]), ["ali", "alice"]);
    assert_eq!(keys(&["names", "--prefix", "alic"]), ["alice"]);
    assert_eq!(keys(&["scores", "--to", "0"]), ["-7"]);
    assert_eq!(keys(&["scores", "--from", "-7", "--to", "-7"]), ["-7"]);
    assert_eq!(keys(&["flags", "--prefix", "true"]), ["true,0x0001,-1"]);
    assert!(keys(&["flags", "--prefix", "false"]).is_empty());
}

#[test]
fn check_passes_on_a_sound_database() {
    let fx = Fixture::new();
    let text = ok(&["check", &fx.db]);
    assert!(text.contains("integrity intact"), "{text}");
    assert!(text.contains("ok         no problems found"), "{text}");
    let report = json(&["check", &fx.db, "--json"]);
    assert_eq!(report["ok"], true);
    assert_eq!(report["engine"], "redb");
    assert_eq!(report["integrity"], "intact");
    assert_eq!(report["catalog_records"], 6);
    assert_eq!(report["problems"], Value::Array(Vec::new()));
    let events = report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|table| table["name"] == "events")
        .expect("events");
    assert_eq!(events["entries"], 5);
    assert_eq!(events["bad_keys"], 0);
}

#[test]
fn check_lists_undecodable_keys_and_malformed_records_and_exits_1() {
    let fx = Fixture::new();
    {
        let storage = Storage::open(&fx.db).expect("open");
        storage
            .engine()
            .write(WriteOptions::DEFAULT, &mut |txn| {
                txn.put("users", b"\x01", b"short key")?;
                txn.put("events", b"no terminator", b"x")?;
                txn.put(CATALOG_TABLE, b"broken", b"garbage")?;
                txn.put("stray", b"k", b"v")
            })
            .expect("write");
    }
    let output = zerotable(&["check", &fx.db, "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!("zerotable: check found 3 problems in {}\n", fx.db)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["ok"], false);
    let problems: Vec<&str> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].contains("record of table `broken` is malformed"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("table `events`: key 0x6e6f"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("missing 0x00 0x00 terminator"),
        "{problems:?}"
    );
    assert!(problems[2].contains("table `users`: key 0x01 does not decode as u64"));
    let notes = report["notes"].as_array().expect("notes");
    assert!(
        notes[0]
            .as_str()
            .expect("note")
            .contains("`stray` has no catalog record")
    );

    let text = fails(1, &["check", &fx.db]);
    assert!(text.contains("3 problems"), "{text}");
    let listing = stdout(&zerotable(&["check", &fx.db]));
    assert!(
        listing.contains("3 problems:\n  - the catalog record"),
        "{listing}"
    );

    // Commands that need the whole catalog say so in one line.
    let err = fails(1, &["tables", &fx.db]);
    assert!(err.contains("cannot read the catalog"), "{err}");
    assert!(err.contains("zerotable check"), "{err}");
    // dump still shows what it can, and says that keys did not decode.
    let output = zerotable(&["dump", &fx.db, "users"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).ends_with("\n<undecodable 0x01>\t9 bytes\t0x73686f7274206b6579\n"),
        "{}",
        stdout(&output)
    );
    assert!(stderr(&output).contains("1 key of table `users` does not decode as u64"));
}

#[test]
fn a_damaged_file_is_an_error_in_one_line_not_a_panic() {
    let fx = Fixture::new();
    let mut bytes = std::fs::read(&fx.db).expect("read");
    assert!(bytes.len() > 8192, "a file big enough to damage");
    let middle = bytes.len() / 2;
    for byte in &mut bytes[..64] {
        *byte ^= 0x5a;
    }
    for byte in &mut bytes[middle..middle + 4096] {
        *byte = 0xa5;
    }
    std::fs::write(&fx.db, bytes).expect("write");
    for command in ["tables", "check", "stats", "compact"] {
        let err = fails(1, &[command, &fx.db]);
        assert!(err.contains(&fx.db), "{command}: {err}");
    }
    fails(1, &["get", &fx.db, "users", "1"]);
    fails(1, &["dump", &fx.db, "users"]);
    fails(
        1,
        &["copy", &fx.db, fx.path("copy.redb").to_str().expect("path")],
    );
}

#[test]
fn a_missing_database_is_an_error_and_is_not_created() {
    let fx = Fixture::new();
    let missing = fx.path("missing.redb");
    let db = missing.to_str().expect("path");
    for args in [
        vec!["tables", db],
        vec!["get", db, "users", "1"],
        vec!["dump", db, "users"],
        vec!["check", db],
        vec!["stats", db],
        vec!["compact", db],
        vec!["copy", db, &fx.db],
    ] {
        let err = fails(1, &args);
        assert!(err.contains("does not exist"), "{args:?}: {err}");
        assert!(!missing.exists(), "{args:?} created {db}");
    }
    // An engine address and a configuration file are checked the same way.
    let folder = fx.path("no-such-folder");
    let address = format!("redb://{}", folder.display());
    fails(1, &["tables", &address]);
    let config = fx.path("app.toml");
    std::fs::write(&config, "[engine]\nkind = \"redb\"\npath = \"gone.redb\"\n").expect("write");
    let err = fails(1, &["stats", config.to_str().expect("path")]);
    assert!(err.contains("gone.redb does not exist"), "{err}");
    assert!(!fx.path("gone.redb").exists());
    assert!(!folder.exists());
}

#[test]
fn bad_usage_exits_2() {
    let fx = Fixture::new();
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["tables"],
        vec!["get", &fx.db, "users"],
        vec!["dump", &fx.db, "events", "--format", "xml"],
        vec!["dump", &fx.db, "events", "--prefix", "a", "--from", "a,1"],
        vec!["dump", &fx.db, "events", "--limit", "-1"],
        vec!["dump", &fx.db, "events", "--json", "--format", "hex"],
        vec!["copy", &fx.db, "x.redb", "--batch-bytes", "lots"],
        vec!["stats", &fx.db, "--verbose"],
    ] {
        let output = zerotable(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"));
    }
    assert!(ok(&["--help"]).contains("dump"));
    assert!(ok(&["dump", "--help"]).contains("comma-separated"));
}

#[test]
fn stats_show_the_engine_size_and_tables() {
    let fx = Fixture::new();
    let text = ok(&["stats", &fx.db]);
    assert!(
        text.starts_with("engine        redb\nsize on disk  "),
        "{text}"
    );
    assert!(text.contains("\nevents "), "{text}");
    assert!(text.contains("\nzerotable.meta "), "{text}");
    let stats = json(&["stats", &fx.db, "--json"]);
    assert_eq!(stats["engine"], "redb");
    let size = stats["size_on_disk"].as_u64().expect("size");
    assert_eq!(size, std::fs::metadata(&fx.db).expect("metadata").len());
    let tables = stats["tables"].as_array().expect("tables");
    let entries: u64 = tables.iter().filter_map(|t| t["entries"].as_u64()).sum();
    assert_eq!(stats["entries"], entries);
    let meta = tables
        .iter()
        .find(|t| t["name"] == CATALOG_TABLE)
        .expect("the catalog");
    assert_eq!(meta["entries"], 6);
    let users = tables.iter().find(|t| t["name"] == "users").expect("users");
    assert_eq!(users["entries"], 2);
}

#[test]
fn compact_keeps_every_row() {
    let fx = Fixture::new();
    {
        let storage = Storage::open(&fx.db).expect("open");
        let filler = storage.raw_table::<u32>("filler").expect("filler");
        for i in 0..2_000u32 {
            filler.put(&i, &[7; 256]).expect("put");
        }
        storage.drop_table("filler").expect("drop");
    }
    let before = json(&["dump", &fx.db, "events", "--json"]);
    let text = ok(&["compact", &fx.db]);
    assert!(
        text.starts_with("compacted") || text.starts_with("nothing"),
        "{text}"
    );
    let report = json(&["compact", &fx.db, "--json"]);
    assert_eq!(report["engine"], "redb");
    assert!(report["size_after"].as_u64() <= report["size_before"].as_u64());
    assert_eq!(json(&["dump", &fx.db, "events", "--json"]), before);
    ok(&["check", &fx.db]);
    let err = fails(1, &["compact", "memory://"]);
    assert!(err.contains("does not compact"), "{err}");
}

/// Copies the fixture to `destination` and checks every table reads the same there.
fn copies_to(fx: &Fixture, destination: &str) {
    let text = ok(&["copy", &fx.db, destination]);
    assert!(
        text.starts_with(&format!("copied {} to {destination}: 7 tables", fx.db)),
        "{text}"
    );
    assert!(text.contains("rows/s"), "{text}");
    assert!(text.contains("\nverified: "), "{text}");
    assert!(text.contains("\nevents "), "{text}");
    assert_eq!(
        json(&["tables", destination, "--json"]),
        json(&["tables", &fx.db, "--json"])["tables"]
            .as_array()
            .map(|tables| serde_json::json!({ "tables": tables }))
            .expect("tables"),
        "{destination}"
    );
    for table in ["events", "users", "names", "flags", "ids", "scores"] {
        assert_eq!(
            ok(&["dump", destination, table, "--format", "hex"]),
            ok(&["dump", &fx.db, table, "--format", "hex"]),
            "{destination} {table}"
        );
    }
    ok(&["check", destination]);
    // A second copy into the now full tables is refused, unless told to replace them.
    let err = fails(1, &["copy", &fx.db, destination]);
    assert!(err.contains("--replace"), "{err}");
    let report = json(&[
        "copy",
        &fx.db,
        destination,
        "--replace",
        "--batch-bytes",
        "64",
        "--json",
    ]);
    assert_eq!(report["verified"], true);
    assert_eq!(report["rows"], 14 + 6); // the rows, and the catalog records
    let tables = report["tables"].as_array().expect("tables");
    let events = tables
        .iter()
        .find(|t| t["name"] == "events")
        .expect("events");
    assert_eq!(events["rows"], 5);
    assert_eq!(events["checksum"].as_str().map(str::len), Some(16));
    assert!(report["rows_per_second"].as_u64().is_some());
}

#[test]
fn copy_between_redb_files() {
    let fx = Fixture::new();
    let destination = fx.path("copy.redb");
    copies_to(&fx, destination.to_str().expect("path"));
}

#[test]
fn copy_into_other_engines() {
    let fx = Fixture::new();
    let mut schemes = Vec::new();
    if cfg!(feature = "fjall") {
        schemes.push("fjall");
    }
    if cfg!(feature = "lmdb") {
        schemes.push("lmdb");
    }
    if cfg!(feature = "sqlite") {
        schemes.push("sqlite");
    }
    if cfg!(feature = "rocksdb") {
        schemes.push("rocksdb");
    }
    for scheme in schemes {
        let address = format!("{scheme}://{}", fx.path(scheme).display());
        copies_to(&fx, &address);
    }
    // An engine that is not compiled in is an error naming its cargo feature.
    if !cfg!(feature = "rocksdb") {
        let address = format!("rocksdb://{}", fx.path("rocks").display());
        let err = fails(1, &["copy", &fx.db, &address]);
        assert!(err.contains("feature `rocksdb`"), "{err}");
    }
}

#[test]
fn a_configuration_file_names_the_database() {
    let fx = Fixture::new();
    let toml = fx.path("app.toml");
    std::fs::write(&toml, "[engine]\nkind = \"redb\"\npath = \"app.redb\"\n").expect("write");
    let json_config = fx.path("app.json");
    std::fs::write(
        &json_config,
        r#"{"engine": {"kind": "redb", "path": "app.redb"}}"#,
    )
    .expect("write");
    let direct = ok(&["tables", &fx.db]);
    for config in [&toml, &json_config] {
        assert_eq!(ok(&["tables", config.to_str().expect("path")]), direct);
    }
    let bad = fx.path("bad.toml");
    std::fs::write(&bad, "[engine]\nkind = \"redb\"\npaht = \"app.redb\"\n").expect("write");
    let err = fails(1, &["tables", bad.to_str().expect("path")]);
    assert!(err.contains("paht"), "{err}");
    // A copy whose destination is a configuration file creates the database it names.
    let destination = fx.path("copy.toml");
    std::fs::write(
        &destination,
        "[engine]\nkind = \"redb\"\npath = \"copied.redb\"\n",
    )
    .expect("write");
    ok(&["copy", &fx.db, destination.to_str().expect("path")]);
    assert!(fx.path("copied.redb").exists());
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let fx = Fixture::new();
    {
        let storage = Storage::open(&fx.db).expect("open");
        let many = storage.raw_table::<u32>("many").expect("many");
        many.put_batch((0..20_000u32).map(|i| (i, vec![b'x'; 32])))
            .expect("put");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_zerotable"))
        .args(["dump", &fx.db, "many"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // the reader goes away at once
    let output = child.wait_with_output().expect("wait");
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// A migrated table's rows live in the engine table its migration wrote: every command reads
/// them there, and that engine table is not listed as a table of its own.
#[test]
fn commands_read_a_migrated_table_where_its_rows_are() {
    let fx = Fixture::new();
    {
        let storage = Storage::open(&fx.db).expect("open");
        storage
            .migrate_table::<String, [u8], [u8], _, _, _>(
                "names",
                (zerotable::RawSerializer, zerotable::TableOptions::default()),
                (
                    zerotable::RawSerializer,
                    zerotable::TableOptions::default().version(1),
                ),
                |old| Ok(old.to_ascii_uppercase()),
            )
            .expect("migrate");
    }
    let tables = json(&["tables", &fx.db, "--json"]);
    let listed = tables["tables"].as_array().expect("tables");
    assert!(
        !listed.iter().any(|t| t["name"] == "names.v1"),
        "the rows' engine table is not a table: {tables}"
    );
    let names = listed
        .iter()
        .find(|t| t["name"] == "names")
        .expect("names listed");
    assert_eq!(
        (names["version"].as_u64(), names["entries"].as_u64()),
        (Some(1), Some(3))
    );

    let got = json(&["get", &fx.db, "names", "alice", "--json"]);
    assert_eq!(got["value_text"], "LONG", "{got}");
    let dumped = ok(&["dump", &fx.db, "names"]);
    assert!(
        dumped.contains("SHORT") && dumped.contains("COMMA"),
        "{dumped}"
    );
    let checked = ok(&["check", &fx.db]);
    assert!(
        checked.contains("names: 3 keys of String, all decode"),
        "{checked}"
    );
    let stats = json(&["stats", &fx.db, "--json"]);
    let stats_names = stats["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["name"] == "names")
        .expect("names in stats")
        .clone();
    assert_eq!(stats_names["entries"].as_u64(), Some(3), "{stats}");
}

#[test]
fn check_verifies_indexes_against_their_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("indexed.redb");
    let db = path.to_str().expect("utf-8 path").to_owned();
    {
        let storage = Storage::open(&path).expect("open");
        let users = storage.rkyv_table::<u64, User>("users").expect("users");
        let by_name = users
            .unique_index("by_name", |u: &ArchivedUser| u.name.as_str().to_owned())
            .expect("index");
        for (id, name) in [(1u64, "ada"), (2, "grace")] {
            users
                .put(
                    &id,
                    &User {
                        name: name.into(),
                        age: 1,
                    },
                )
                .expect("put");
        }
        assert!(by_name.verify().expect("verify").is_consistent());
    }
    let text = ok(&["check", &db]);
    assert!(
        text.contains(
            "index      users.by_name: 2 entries by String (unique), all point to their rows"
        ),
        "{text}"
    );
    let report = json(&["check", &db, "--json"]);
    assert_eq!(report["indexes"][0]["entries"], 2);
    assert_eq!(report["indexes"][0]["bad_entries"], 0);
    // Entries written around zerotable: one pointing nowhere, one indexing row 1 twice.
    {
        let storage = Storage::open(&path).expect("open");
        storage
            .write(|tx| {
                let txn = tx.engine_txn();
                txn.put(
                    "zerotable.index.users.by_name",
                    b"zed\0\0",
                    &9u64.to_be_bytes(),
                )?;
                txn.put(
                    "zerotable.index.users.by_name",
                    b"bis\0\0",
                    &1u64.to_be_bytes(),
                )
            })
            .expect("damage");
    }
    fails(1, &["check", &db]);
    let text = stdout(&zerotable(&["check", &db]));
    assert!(
        text.contains("points to row 0x0000000000000009, which does not exist"),
        "{text}"
    );
    assert!(
        text.contains("row 0x0000000000000001 is indexed twice"),
        "{text}"
    );
}
