//! A file written by an earlier zerotable still opens: `tests/data/main-79255d8.redb` was
//! written by commit 79255d8 (before the structured table catalog; the program that wrote it is
//! `tests/data/main-79255d8.generator.rs.txt`). Its tables open with their original types and
//! hold exactly what was written, their old one-line type records are read and then rewritten
//! in the current catalog form, and every stored key decodes without the Rust types.

mod common;

use std::ops::ControlFlow;
use std::path::PathBuf;

use common::{User, user};
use rkyv::rancor;
use zerotable::schemas::Monster;
use zerotable::{
    CATALOG_TABLE, Error, KeyRange, KeyType, RkyvSerializer, Storage, TableOptions, TableRecord,
};

/// A private copy of the checked-in file (the test must not change it).
fn copy_of_old_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.redb");
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/main-79255d8.redb");
    std::fs::copy(source, &path).unwrap();
    (dir, path)
}

fn record(key: &str, format: &str, value_type: Option<&str>, version: u32) -> String {
    let mut text = format!("key={key} format={format}");
    if let Some(name) = value_type {
        text.push_str(&format!(" type={name}"));
    }
    text + &format!(" version={version}")
}

/// The raw catalog record of `table`, as stored.
fn stored_record(storage: &Storage, table: &str) -> String {
    let mut text = String::new();
    storage
        .engine()
        .read(&mut |reader| {
            reader.get(CATALOG_TABLE, table.as_bytes(), &mut |bytes| {
                text = String::from_utf8(bytes.to_vec()).unwrap();
                Ok(())
            })?;
            Ok(())
        })
        .unwrap();
    text
}

#[test]
fn the_catalog_of_an_old_file_reads_as_structured_records() {
    let (_dir, path) = copy_of_old_file();
    let storage = Storage::open(&path).unwrap();
    let tables: Vec<(String, String)> = storage
        .tables()
        .unwrap()
        .into_iter()
        .map(|(name, record)| (name, record.to_string()))
        .collect();
    let expected = [
        ("archived", record("u32", "rkyv", Some("User"), 0)),
        ("cache", record("String", "raw", None, 0)),
        ("events", record("(String, u64)", "raw", None, 0)),
        (
            "monsters",
            record("Vec<u8>", "flatbuffers", Some("Monster"), 0),
        ),
        ("signed", record("(i64, bool, [u8; 4])", "raw", None, 0)),
        ("users", record("u64", "rkyv", Some("User"), 0)),
        ("versioned", record("u16", "rkyv", Some("User"), 3)),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(n, r)| (n.to_owned(), r))
        .collect();
    assert_eq!(tables, expected);
    assert!(
        stored_record(&storage, "users").starts_with("key=u64 serializer="),
        "reading does not rewrite"
    );
}

#[test]
fn old_tables_open_with_their_types_and_hold_what_was_written() {
    let (_dir, path) = copy_of_old_file();
    let storage = Storage::open(&path).unwrap();

    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 100);
    users
        .scan()
        .for_each(|id, archived| {
            let owned: User = rkyv::deserialize::<User, rancor::Error>(archived).unwrap();
            assert_eq!(owned, user(*id));
            Ok(())
        })
        .unwrap();

    let events = storage.raw_table::<(String, u64)>("events").unwrap();
    let ada: Vec<(u64, String)> = events
        .prefix(&("account0",))
        .filter_map(|(_, seq), bytes| Some((*seq, String::from_utf8(bytes.to_vec()).unwrap())))
        .unwrap();
    assert_eq!(ada.len(), 10);
    assert_eq!(ada[1], (5, "event 5".to_owned()));
    assert_eq!(events.len().unwrap(), 50);

    let cache = storage.raw_table::<String>("cache").unwrap();
    assert_eq!(
        cache.get("user:2", |v| v.to_vec()).unwrap(),
        Some(b"grace".to_vec())
    );

    let signed = storage.raw_table::<(i64, bool, [u8; 4])>("signed").unwrap();
    let keys = signed.scan().filter_map(|key, _| Some(*key)).unwrap();
    assert_eq!(keys, [(-5, true, *b"abcd"), (7, false, *b"wxyz")]);

    let archived = storage
        .rkyv_borrowed_table::<u32, User>("archived")
        .unwrap();
    assert_eq!(
        archived.get(&7, |u| u.email.to_string()).unwrap(),
        Some(user(7).email)
    );

    let monsters = storage
        .flatbuffers_table::<Vec<u8>, Monster<'static>>("monsters")
        .unwrap();
    let orc = monsters.get(b"orc".as_slice(), |m| (m.name().map(str::to_owned), m.hp()));
    assert_eq!(orc.unwrap(), Some((Some("orc".to_owned()), 80)));

    let versioned = storage
        .table_with::<u16, User, _>(
            "versioned",
            RkyvSerializer::new(),
            TableOptions::default().version(3),
        )
        .unwrap();
    assert_eq!(versioned.get(&1, |u| u.id.to_native()).unwrap(), Some(1));

    // Opening rewrote each matching record in the current form.
    for table in [
        "users",
        "events",
        "cache",
        "signed",
        "archived",
        "monsters",
        "versioned",
    ] {
        let text = stored_record(&storage, table);
        assert!(text.starts_with("zerotable.table/1\n"), "{table}: {text:?}");
    }
    let (record, _) = TableRecord::decode(stored_record(&storage, "versioned").as_bytes()).unwrap();
    assert_eq!(record.version, 3);

    // And the file keeps working for writes, across a reopen.
    users.put(&100, &user(100)).unwrap();
    drop((
        users, events, cache, signed, archived, monsters, versioned, storage,
    ));
    let storage = Storage::open(&path).unwrap();
    let users = storage.rkyv_table::<u64, User>("users").unwrap();
    assert_eq!(users.len().unwrap(), 101);
}

#[test]
fn old_tables_still_refuse_other_types() {
    let (_dir, path) = copy_of_old_file();
    let storage = Storage::open(&path).unwrap();
    match storage.raw_table::<u64>("users") {
        Err(Error::TableTypeMismatch {
            table,
            stored,
            requested,
        }) => {
            assert_eq!(table, "users");
            let stored = stored.expect("the old record was read");
            assert_eq!(stored.key, KeyType::U64);
            assert_eq!(
                (stored.format.as_str(), stored.value_type.as_deref()),
                ("rkyv", Some("User"))
            );
            assert_eq!(requested.format, "raw");
        }
        other => panic!("expected a type mismatch, got {other:?}"),
    }
    assert!(matches!(
        storage.rkyv_table::<u64, User>("versioned"),
        Err(Error::TableTypeMismatch { .. })
    ));
    // Nothing was changed by the refusals.
    assert!(stored_record(&storage, "users").starts_with("key=u64 serializer="));
}

#[test]
fn every_stored_key_of_an_old_file_decodes_from_its_catalog_record() {
    let (_dir, path) = copy_of_old_file();
    let storage = Storage::open(&path).unwrap();
    let mut decoded = Vec::new();
    for (table, record) in storage.tables().unwrap() {
        storage
            .engine()
            .read(&mut |reader| {
                reader.range(&table, &KeyRange::ALL, &mut |key, _| {
                    let value = record.key.decode(key).unwrap_or_else(|e| {
                        panic!(
                            "{table}: key {key:?} does not decode as {}: {e}",
                            record.key
                        )
                    });
                    decoded.push(format!("{table} {value}"));
                    Ok(ControlFlow::Continue(()))
                })
            })
            .unwrap();
    }
    assert_eq!(decoded.len(), 100 + 50 + 2 + 2 + 1 + 1 + 1);
    for expected in [
        "users 99",
        r#"events ("account3", 48)"#,
        r#"cache "user:1""#,
        "signed (-5, true, 0x61626364)",
        "monsters 0x6f7263",
        "versioned 1",
    ] {
        assert!(
            decoded.iter().any(|d| d == expected),
            "{expected} not among the decoded keys"
        );
    }
}

/// A key type of the caller's own, as a pre-catalog table could have used: its old record
/// names a type the catalog cannot parse.
#[derive(Clone, Copy, Debug, PartialEq)]
struct UserId(u64);

impl zerotable::IntoKeyBytes for UserId {
    fn write_key_part(&self, out: &mut zerotable::KeyArena) {
        self.0.write_key_part(out);
    }
}

impl zerotable::FromKeyBytes for UserId {
    fn key_type() -> KeyType {
        KeyType::U64
    }

    fn read_key_part(input: &mut &[u8]) -> Result<Self, zerotable::KeyDecodeError> {
        u64::read_key_part(input).map(UserId)
    }
}

impl zerotable::KeyLike<UserId> for UserId {}

/// A pre-catalog record naming the caller's own key type is not parseable, but it is exactly
/// what the same types wrote then: the table opens with them (and only them), and its record
/// is rewritten in the current form.
#[test]
fn an_old_record_with_a_key_type_of_the_callers_own_opens_with_the_same_types() {
    let storage = Storage::in_memory();
    let old = "key=UserId serializer=RkyvSerializer<User> version=0";
    storage
        .engine()
        .write(zerotable::WriteOptions::DEFAULT, &mut |txn| {
            txn.put(CATALOG_TABLE, b"ids", old.as_bytes())?;
            let bytes = rkyv::to_bytes::<rancor::Error>(&user(1)).unwrap();
            txn.put("ids", &1u64.to_be_bytes(), &bytes)
        })
        .unwrap();
    assert!(matches!(
        storage.rkyv_table::<u64, User>("ids"),
        Err(Error::Catalog { .. })
    ));
    let ids = storage.rkyv_table::<UserId, User>("ids").unwrap();
    assert_eq!(ids.get(&UserId(1), |u| u.id.to_native()).unwrap(), Some(1));
    assert!(stored_record(&storage, "ids").starts_with("zerotable.table/1\n"));
    let record = storage.table_record("ids").unwrap().unwrap();
    assert_eq!(
        record.to_string(),
        "key=u64 format=rkyv type=User version=0"
    );
}
