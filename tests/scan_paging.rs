//! Scans that stop and page — `skip`, `take`, `first`, `last`, `count`, `values` — and the
//! borrowed ways to bound them — `&str` bounds on `String` keys, `starts_with`, tuple keys of
//! four elements with borrowed parts and prefixes of one to three — checked against a
//! `BTreeMap` model on every engine, in both directions.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::ops::RangeBounds;

use common::counting::allocations;
use common::on_every_fast_engine;
use proptest::prelude::*;
use zerotable::{RawSerializer, Scanner, Storage};

type Model<K> = BTreeMap<K, Vec<u8>>;

/// The value stored under key number `i` of a table: distinct per key.
fn value(i: usize) -> Vec<u8> {
    (i as u32).to_be_bytes().to_vec()
}

/// What a scan shaped by `reverse`, `skip` and `take` must visit, from the model's entries
/// within its bounds (in key order).
fn shaped<T>(mut within: Vec<T>, reverse: bool, skip: u64, take: Option<u64>) -> Vec<T> {
    if reverse {
        within.reverse();
    }
    let take = take.map_or(usize::MAX, |t| t as usize);
    within.into_iter().skip(skip as usize).take(take).collect()
}

/// Every consumer of `scan` (rebuilt by `make` for each) agrees with `expected`: the entries,
/// their values alone, the count, the first and the last.
fn check_consumers<'s, K>(
    engine: &str,
    make: impl Fn() -> Scanner<'s, K, [u8], RawSerializer>,
    expected: &[(K, Vec<u8>)],
) -> Result<(), TestCaseError>
where
    K: zerotable::IntoKeyBytes + zerotable::FromKeyBytes + Clone + PartialEq + std::fmt::Debug + 's,
{
    let entries = make()
        .filter_map(|k, v| Some((k.clone(), v.to_vec())))
        .unwrap();
    prop_assert_eq!(&entries, expected, "{}: entries", engine);
    let values = make().values().filter_map(|v| Some(v.to_vec())).unwrap();
    let expected_values: Vec<Vec<u8>> = expected.iter().map(|(_, v)| v.clone()).collect();
    prop_assert_eq!(values, expected_values, "{}: values", engine);
    prop_assert_eq!(
        make().count().unwrap(),
        expected.len() as u64,
        "{}: count",
        engine
    );
    let first = make().first(|k, v| (k.clone(), v.to_vec())).unwrap();
    prop_assert_eq!(first.as_ref(), expected.first(), "{}: first", engine);
    let last = make().last(|k, v| (k.clone(), v.to_vec())).unwrap();
    prop_assert_eq!(last.as_ref(), expected.last(), "{}: last", engine);
    let first_value = make().values().first(|v| v.to_vec()).unwrap();
    prop_assert_eq!(
        first_value.as_ref(),
        expected.first().map(|(_, v)| v),
        "{}",
        engine
    );
    Ok(())
}

/// `scan` reversed if asked, then skipping and taking.
fn shape<K, S>(
    scan: Scanner<'_, K, [u8], S>,
    reverse: bool,
    skip: u64,
    take: Option<u64>,
) -> Scanner<'_, K, [u8], S>
where
    K: zerotable::IntoKeyBytes + zerotable::FromKeyBytes,
    S: zerotable::ValueSerializer<[u8]>,
{
    let scan = if reverse { scan.rev() } else { scan };
    let scan = scan.skip(skip);
    match take {
        Some(n) => scan.take(n),
        None => scan,
    }
}

/// Runs `body` on a fresh storage of every engine, stopping at the first failure.
fn on_engines(
    mut body: impl FnMut(&str, &Storage) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut result = Ok(());
    on_every_fast_engine(|engine, storage| {
        if result.is_ok() {
            result = body(engine, &storage);
        }
    });
    result
}

fn bound<K: Clone>(kind: u8, key: &K) -> Bound<K> {
    match kind % 3 {
        0 => Unbounded,
        1 => Included(key.clone()),
        _ => Excluded(key.clone()),
    }
}

/// Short strings over an alphabet with NUL and a non-ASCII letter: prefixes collide often.
fn short_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just('\0'), Just('a'), Just('b'), Just('é')],
        0..4,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

type Quad = (u8, String, u8, u16);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// `u64` ranges with any bounds, shaped by `rev`, `skip` and `take` (in either order of
    /// the two), visit exactly the model's entries, through every consumer.
    #[test]
    fn ranges_skip_and_take_like_iterators(
        keys in proptest::collection::btree_set(0u64..200, 0..60),
        start in (0u8..3, 0u64..200),
        end in (0u8..3, 0u64..200),
        reverse in any::<bool>(),
        skip in 0u64..12,
        take in proptest::option::of(0u64..12),
        take_first in any::<bool>(),
    ) {
        let model: Model<u64> = keys.iter().enumerate().map(|(i, k)| (*k, value(i))).collect();
        let bounds = (bound(start.0, &start.1), bound(end.0, &end.1));
        let within: Vec<_> = model
            .iter()
            .filter(|(k, _)| bounds.contains(*k))
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        // `take(t).skip(s)` is `skip(s).take(t - s)`, as for iterators.
        let expected = match (take_first, take) {
            (true, Some(t)) => shaped(within, reverse, skip, Some(t.saturating_sub(skip))),
            _ => shaped(within, reverse, skip, take),
        };
        on_engines(|engine, storage| {
            let t = storage.raw_table::<u64>("t").unwrap();
            t.put_batch(model.iter().map(|(k, v)| (*k, v.as_slice()))).unwrap();
            let make = || {
                let scan = t.range(bounds);
                let scan = if reverse { scan.rev() } else { scan };
                match (take_first, take) {
                    (true, Some(n)) => scan.take(n).skip(skip),
                    (_, Some(n)) => scan.skip(skip).take(n),
                    (_, None) => scan.skip(skip),
                }
            };
            check_consumers(engine, make, &expected)
        })?;
    }

    /// On `String` keys, `starts_with` and borrowed `&str` bounds visit exactly the model's
    /// entries, in both directions, paged.
    #[test]
    fn string_prefixes_and_borrowed_bounds(
        keys in proptest::collection::btree_set(short_string(), 0..40),
        prefix in short_string(),
        start in (0u8..3, short_string()),
        end in (0u8..3, short_string()),
        reverse in any::<bool>(),
        skip in 0u64..4,
        take in proptest::option::of(0u64..6),
    ) {
        let model: Model<String> =
            keys.iter().enumerate().map(|(i, k)| (k.clone(), value(i))).collect();
        let with_prefix: Vec<_> = model
            .iter()
            .filter(|(k, _)| k.starts_with(prefix.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let with_prefix = shaped(with_prefix, reverse, skip, take);
        let str_bounds = (bound(start.0, &start.1.as_str()), bound(end.0, &end.1.as_str()));
        // Filtered, not `BTreeMap::range`: that panics on inverted bounds, the table does not.
        let within: Vec<_> = model
            .iter()
            .filter(|(k, _)| RangeBounds::<&str>::contains(&str_bounds, &k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let within = shaped(within, reverse, skip, take);
        on_engines(|engine, storage| {
            let t = storage.raw_table::<String>("s").unwrap();
            t.put_batch(model.iter().map(|(k, v)| (k.as_str(), v.as_slice()))).unwrap();
            check_consumers(engine, || shape(t.starts_with(prefix.as_str()), reverse, skip, take), &with_prefix)?;
            check_consumers(engine, || shape(t.range(str_bounds), reverse, skip, take), &within)
        })?;
    }

    /// Four-element tuple keys: prefixes of one, two and three leading elements (strings
    /// borrowed) and borrowed tuple bounds visit exactly the model's entries, both directions.
    #[test]
    fn four_element_tuples_with_borrowed_parts(
        keys in proptest::collection::btree_set(
            (0u8..3, short_string(), 0u8..3, 0u16..3), 0..50),
        a in 0u8..3,
        b in short_string(),
        c in 0u8..3,
        low in (0u8..3, short_string()),
        reverse in any::<bool>(),
    ) {
        let model: Model<Quad> = keys.iter().enumerate().map(|(i, k)| (k.clone(), value(i))).collect();
        let pick = |keep: &dyn Fn(&Quad) -> bool| -> Vec<(Quad, Vec<u8>)> {
            let all = model.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone()));
            shaped(all.collect(), reverse, 0, None)
        };
        let one = pick(&|k| k.0 == a);
        let two = pick(&|k| k.0 == a && k.1 == b);
        let three = pick(&|k| k.0 == a && k.1 == b && k.2 == c);
        let from = (low.0, low.1.clone(), 0u8, 0u16);
        let to = (a, b.clone(), c, u16::MAX);
        let between = pick(&|k| *k >= from && *k <= to);
        on_engines(|engine, storage| {
            let t = storage.raw_table::<Quad>("q").unwrap();
            t.put_batch(model.iter().map(|(k, v)| (k, v.as_slice()))).unwrap();
            let dir = |scan| shape(scan, reverse, 0, None);
            check_consumers(engine, || dir(t.prefix(&(a,))), &one)?;
            check_consumers(engine, || dir(t.prefix(&(a, b.as_str()))), &two)?;
            check_consumers(engine, || dir(t.prefix(&(a, b.as_str(), c))), &three)?;
            let bounds = (low.0, low.1.as_str(), 0u8, 0u16)..=(a, b.as_str(), c, u16::MAX);
            check_consumers(engine, || dir(t.range(bounds.clone())), &between)
        })?;
    }
}

/// The forms the everyday API promises, as a user writes them: borrowed string ranges and
/// prefixes, borrowed tuple lookups, borrowed batches, values-only folds, the next page.
#[test]
fn the_everyday_forms_compile_and_work() {
    on_every_fast_engine(|engine, storage| {
        let cache = storage.raw_table::<String>("cache").unwrap();
        for k in ["user:1", "user:2", "user:3", "video:1"] {
            cache.put(k, k.as_bytes()).unwrap();
        }
        let mut seen = Vec::new();
        cache
            .range("user:".."user;")
            .for_each(|k, _| {
                seen.push(k.to_string());
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, ["user:1", "user:2", "user:3"], "{engine}");
        assert_eq!(
            cache.starts_with("user:").take(2).count().unwrap(),
            2,
            "{engine}"
        );

        let by_time = storage.raw_table::<(String, i64)>("by_time").unwrap();
        for t in [10i64, 20, 30, 40, 50, 60] {
            by_time.put(&("alice", t), &t.to_be_bytes()).unwrap();
        }
        by_time.put(&("bob", 35), b"bob").unwrap();
        assert!(by_time.contains(&("alice", 20)).unwrap(), "{engine}");
        let (t0, t1) = (15, 55);
        let newest: Vec<i64> = by_time
            .range(("alice", t0)..("alice", t1))
            .rev()
            .take(2)
            .filter_map(|(_, t), _| Some(*t))
            .unwrap();
        assert_eq!(newest, [50, 40], "{engine}");

        let orders = storage.raw_table::<u64>("orders").unwrap();
        let (o1, o2) = (vec![1u8], vec![2u8, 2]);
        orders.put_batch([(&1u64, &o1), (&2u64, &o2)]).unwrap();
        let total = orders.values().fold(0, |n, v| Ok(n + v.len())).unwrap();
        assert_eq!(total, 3, "{engine}");
        let last_seen = 1u64;
        let page = orders.range(last_seen..).skip(1).take(100);
        assert_eq!(page.filter_map(|k, _| Some(*k)).unwrap(), [2], "{engine}");
        assert_eq!(orders.first(|k, _| *k).unwrap(), Some(1), "{engine}");
        assert_eq!(orders.last(|k, _| *k).unwrap(), Some(2), "{engine}");
        let keys = ["a".to_string(), "b".to_string()];
        let found = cache.get_many(&keys, |v| v.is_some()).unwrap();
        assert_eq!(found, [false, false], "{engine}");
        let found = cache.get_many(["user:1", "x"], |v| v.is_some()).unwrap();
        assert_eq!(found, [true, false], "{engine}");
    });
}

/// Scanned `String` keys are decoded into one reused buffer: a scan of many rows allocates a
/// handful of times, not once per row (counted on this thread).
#[test]
fn string_keys_are_not_allocated_per_row() {
    let storage = Storage::in_memory();
    let t = storage.raw_table::<String>("t").unwrap();
    t.put_batch((0..2_000).map(|i| (format!("key number {i:05}"), [0u8])))
        .unwrap();
    let before = allocations();
    let total = t.scan().fold(0, |n, k, _| Ok(n + k.len())).unwrap();
    let during = allocations() - before;
    assert_eq!(total, 2_000 * 16);
    assert!(during < 50, "{during} allocations for 2,000 rows");
}

// A counting allocator, for the test above.
#[global_allocator]
static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;
