//! The two tables, seen generically through `Spec`; the storage that holds them (`World`) and
//! their model (`Model`); and comparisons of whole tables with the model.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt::Debug;

use rkyv::{Archive, Serialize};

use crate::codec::key::{FromKeyBytes, IntoKeyBytes, KeyArena, KeyLike};
use crate::codec::value::{RawSerializer, RkyvSerializer, ValueLike, ValueSerializer};
use crate::storage::Storage;
use crate::table::Table;
use crate::testing::Fixture;

/// The rkyv-stored value.
#[derive(Archive, Serialize, Clone, Debug, PartialEq)]
pub(super) struct Row {
    pub(super) v: u32,
    pub(super) s: String,
}

pub(super) type RowKey = (u8, u16);

// ---- the two tables, seen generically ----

/// What the model needs to know about a table: key type, model value, how to read a view.
pub(super) trait Spec: 'static {
    type K: Ord + Clone + Debug + IntoKeyBytes + FromKeyBytes + KeyLike<Self::K>;
    type V: ?Sized;
    /// The value as the model keeps it, and as it is handed to the table.
    type M: Clone + Debug + PartialEq + Borrow<Self::V> + ValueLike<Self::V>;
    type S: ValueSerializer<Self::V>;

    fn to_model(view: <Self::S as ValueSerializer<Self::V>>::Output<'_>) -> Self::M;
    /// The "modify" change of `update`.
    fn modify(value: &Self::M) -> Self::M;
}

/// The `bytes` table: raw values.
pub(super) struct Bytes;

impl Spec for Bytes {
    type K = u16;
    type V = [u8];
    type M = Vec<u8>;
    type S = RawSerializer;

    fn to_model(view: &[u8]) -> Vec<u8> {
        view.to_vec()
    }

    fn modify(value: &Vec<u8>) -> Vec<u8> {
        let mut value = value.clone();
        value.push(0xAB);
        value
    }
}

/// The `rows` table: rkyv values, composite keys.
pub(super) struct Rows;

impl Spec for Rows {
    type K = RowKey;
    type V = Row;
    type M = Row;
    type S = RkyvSerializer<Row>;

    fn to_model(view: &ArchivedRow) -> Row {
        Row {
            v: view.v.to_native(),
            s: view.s.as_str().to_owned(),
        }
    }

    fn modify(value: &Row) -> Row {
        Row {
            v: value.v + 1,
            s: format!("{}m", value.s),
        }
    }
}

pub(super) type TableOf<P> = Table<<P as Spec>::K, <P as Spec>::V, <P as Spec>::S>;
pub(super) type MapOf<P> = BTreeMap<<P as Spec>::K, <P as Spec>::M>;

pub(super) fn view<P: Spec>(value: &P::M) -> &P::V {
    value.borrow()
}

/// The row a `bytes` entry becomes when copied into `rows`.
pub(super) fn row_of_bytes(value: &[u8]) -> Row {
    Row {
        v: value.len() as u32,
        s: value.iter().map(|b| char::from(b'a' + b % 26)).collect(),
    }
}

/// The bytes a `rows` entry becomes when copied into `bytes`.
pub(super) fn bytes_of_row(row: &Row) -> Vec<u8> {
    let mut value = vec![row.v as u8];
    value.extend(row.s.bytes());
    value
}

// ---- the system under test and its model ----

/// A storage over the fixture's engine and its two tables. Dropping it leaves the fixture's
/// handle the only one on the engine, so that it can be reopened.
pub(super) struct World {
    pub(super) storage: Storage,
    pub(super) bytes: TableOf<Bytes>,
    pub(super) rows: TableOf<Rows>,
    /// Indexes every write must keep: `bytes` by length (empty values left out), `rows` by
    /// `v` (multiples of 3 left out) and by `(s, v)`.
    indexes: Vec<Box<dyn Fn() -> crate::Result<crate::index::IndexCheck>>>,
}

impl World {
    /// The two tables, opened (and recorded in the catalog if new).
    pub(super) fn open(f: &Fixture) -> Self {
        let storage = f.storage();
        let bytes = storage.raw_table::<u16>("bytes").expect("open table bytes");
        let rows = storage
            .rkyv_table::<RowKey, Row>("rows")
            .expect("open table rows");
        let by_len = bytes
            .index("by_len", |v: &[u8]| {
                (!v.is_empty()).then_some(v.len() as u32)
            })
            .expect("index bytes.by_len");
        let by_v = rows
            .index("by_v", |r: &ArchivedRow| {
                let v = r.v.to_native();
                (!v.is_multiple_of(3)).then_some(v)
            })
            .expect("index rows.by_v");
        let by_s = rows
            .index("by_s", |r: &ArchivedRow| {
                Some((r.s.as_str().to_owned(), r.v.to_native()))
            })
            .expect("index rows.by_s");
        World {
            indexes: vec![
                Box::new(move || by_len.verify()),
                Box::new(move || by_v.verify()),
                Box::new(move || by_s.verify()),
            ],
            bytes,
            rows,
            storage,
        }
    }

    /// Every index equals its recomputation from its table.
    pub(super) fn check_indexes(&self, step: &str) {
        for (i, verify) in self.indexes.iter().enumerate() {
            let check = verify().expect("verify an index");
            assert!(check.is_consistent(), "index {i} {step}: {check:?}");
        }
    }

    /// The two tables, dropped (whatever an earlier case left in them) and opened empty.
    pub(super) fn fresh(f: &Fixture) -> Self {
        let storage = f.storage();
        for name in ["bytes", "rows"] {
            storage.drop_table(name).expect("drop_table");
            assert!(
                !storage.table_exists(name).expect("table_exists"),
                "a dropped table keeps its catalog record"
            );
        }
        drop(storage);
        World::open(f)
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Model {
    pub(super) bytes: MapOf<Bytes>,
    pub(super) rows: MapOf<Rows>,
}

// ---- whole tables against the model ----

/// A table's full contents, both ways, equal the model.
fn check_table<P: Spec>(table: &TableOf<P>, model: &MapOf<P>, step: &str) {
    let forward = table
        .filter_map(|key, value| Some((key.clone(), P::to_model(value))))
        .unwrap();
    let want: Vec<(P::K, P::M)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(forward, want, "{}: full scan {step}", table.name());
    let backward = table
        .scan()
        .rev()
        .fold(Vec::new(), |mut acc, key, value| {
            acc.push((key.clone(), P::to_model(value)));
            Ok(acc)
        })
        .unwrap();
    assert!(
        backward.iter().eq(want.iter().rev()),
        "{}: reversed scan {step}: {backward:?}",
        table.name()
    );
    assert_eq!(
        table.is_empty().unwrap(),
        model.is_empty(),
        "is_empty {step}"
    );
}

/// The engine's raw entries of a table, read through the fixture in the run's mode, have the
/// model's keys (encoded) and, if `values` is given, its values.
fn check_raw<K: IntoKeyBytes>(
    f: &Fixture,
    table: &str,
    keys: impl Iterator<Item = K>,
    values: Option<Vec<Vec<u8>>>,
    step: &str,
) {
    let raw = f.scan_all(table);
    let mut arena = KeyArena::new();
    let want_keys: Vec<Vec<u8>> = keys.map(|key| key.key_bytes(&mut arena).to_vec()).collect();
    let raw_keys: Vec<Vec<u8>> = raw.iter().map(|(key, _)| key.clone()).collect();
    assert_eq!(raw_keys, want_keys, "{table}: raw keys {step}");
    if let Some(values) = values {
        let raw_values: Vec<Vec<u8>> = raw.into_iter().map(|(_, value)| value).collect();
        assert_eq!(raw_values, values, "{table}: raw values {step}");
    }
    assert_eq!(
        f.len(table),
        want_keys.len() as u64,
        "{table}: raw len {step}"
    );
}

/// Both tables have the model's lengths.
pub(super) fn check_lens(world: &World, model: &Model, step: &str) {
    assert_eq!(
        world.bytes.len().unwrap(),
        model.bytes.len() as u64,
        "bytes len {step}"
    );
    assert_eq!(
        world.rows.len().unwrap(),
        model.rows.len() as u64,
        "rows len {step}"
    );
}

/// Both tables equal the model: lengths, full scans both ways, and the raw entries read
/// through the fixture in the run's mode.
pub(super) fn check_all(f: &Fixture, world: &World, model: &Model, step: &str) {
    check_lens(world, model, step);
    check_table::<Bytes>(&world.bytes, &model.bytes, step);
    check_table::<Rows>(&world.rows, &model.rows, step);
    let bytes_values = model.bytes.values().cloned().collect();
    check_raw(f, "bytes", model.bytes.keys(), Some(bytes_values), step);
    check_raw(f, "rows", model.rows.keys(), None, step);
}
