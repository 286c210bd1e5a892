//! Typed range and prefix scans agree with a `BTreeMap` model: every range form, both
//! directions, every consumer, seeks with an early stop, empty and inverted ranges, prefixes of
//! 2- and 3-tuples (including NUL bytes and strings that are prefixes of each other), and scans
//! inside write transactions and snapshots. Randomized cases compare on every engine.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::ops::{ControlFlow, RangeBounds};

use common::on_every_engine;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use zerotable::{
    Error, FromKeyBytes, IntoKeyBytes, KeyLike, RawSerializer, RawTable, Scanner, Storage,
};

type Model<K> = BTreeMap<K, Vec<u8>>;
type Entries<K> = Vec<(K, Vec<u8>)>;
type RawScanner<'s, K> = Scanner<'s, K, [u8], RawSerializer>;

/// The value stored under `key`: derived from it, so a wrong key/value pairing shows.
fn value_of<K: Debug>(key: &K) -> Vec<u8> {
    format!("value of {key:?}").into_bytes()
}

/// Opens raw table `name` and fills it (and the returned model) with `keys`.
fn filled<K>(
    storage: &Storage,
    name: &str,
    keys: impl IntoIterator<Item = K>,
) -> (RawTable<K>, Model<K>)
where
    K: IntoKeyBytes + FromKeyBytes + KeyLike<K> + Ord + Clone + Debug,
{
    let table = storage.raw_table::<K>(name).unwrap();
    let model: Model<K> = keys
        .into_iter()
        .map(|k| {
            let v = value_of(&k);
            (k, v)
        })
        .collect();
    table
        .put_batch(model.iter().map(|(k, v)| (k.clone(), v.clone())))
        .unwrap();
    (table, model)
}

/// Every entry a scanner visits, in visiting order.
fn collect<K: IntoKeyBytes + FromKeyBytes + Clone>(scanner: RawScanner<'_, K>) -> Entries<K> {
    scanner
        .filter_map(|k, v| Some((k.clone(), v.to_vec())))
        .unwrap()
}

/// The model's entries within `bounds` (any bounds, inverted ones included), in key order.
fn model_within<K: Ord + Clone>(model: &Model<K>, bounds: &impl RangeBounds<K>) -> Entries<K> {
    model
        .iter()
        .filter(|(k, _)| bounds.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn reversed<T>(mut items: Vec<T>) -> Vec<T> {
    items.reverse();
    items
}

/// A fresh storage of every engine (the one engine list, commits not fsynced where the engine
/// allows it), for randomized cases that report failures instead of panicking.
fn on_fresh_engines(
    mut body: impl FnMut(&str, &Storage) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    for harness in zerotable::testing::builtin_harnesses() {
        let instance = harness.fresh_fast();
        body(
            harness.name(),
            &Storage::from_arc(instance.engine().clone()),
        )?;
    }
    Ok(())
}

/// `table.range($range)` forwards and reversed equals `model.range($range)`.
macro_rules! assert_range {
    ($engine:expr, $table:expr, $model:expr, $range:expr) => {{
        let expected: Entries<_> = $model
            .range($range)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(
            collect($table.range($range)),
            expected,
            "{}: range({})",
            $engine,
            stringify!($range)
        );
        assert_eq!(
            collect($table.range($range).rev()),
            reversed(expected),
            "{}: range({}).rev()",
            $engine,
            stringify!($range)
        );
    }};
}

/// [`assert_range!`] for `&str` bounds on `String` keys: the table takes them as they are;
/// the model's `BTreeMap::range` needs `str` named, since `(Bound<&str>, Bound<&str>)` is both
/// `RangeBounds<str>` and `RangeBounds<&str>`.
macro_rules! assert_str_range {
    ($engine:expr, $table:expr, $model:expr, $range:expr) => {{
        let expected: Entries<String> = $model
            .range::<str, _>($range)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(
            collect($table.range($range)),
            expected,
            "{}: range({})",
            $engine,
            stringify!($range)
        );
        assert_eq!(
            collect($table.range($range).rev()),
            reversed(expected),
            "{}: range({}).rev()",
            $engine,
            stringify!($range)
        );
    }};
}

/// `table.range($range)` visits nothing, in either direction, and does not panic.
macro_rules! assert_empty_range {
    ($engine:expr, $table:expr, $range:expr) => {{
        assert_eq!(
            collect($table.range($range)),
            vec![],
            "{}: range({})",
            $engine,
            stringify!($range)
        );
        assert_eq!(
            collect($table.range($range).rev()),
            vec![],
            "{}: range({}).rev()",
            $engine,
            stringify!($range)
        );
    }};
}

const U64_KEYS: [u64; 15] = [
    0,
    1,
    2,
    5,
    9,
    10,
    11,
    99,
    100,
    255,
    256,
    1 << 32,
    u64::MAX - 2,
    u64::MAX - 1,
    u64::MAX,
];

/// Every form of `u64` range (half-open, inclusive, open-ended, explicit bounds, by reference)
/// visits what a `BTreeMap` does, in both directions.
#[test]
fn u64_typed_ranges_match_the_model() {
    on_every_engine(|engine, storage| {
        let (t, model) = filled(&storage, "u64s", U64_KEYS);
        assert_range!(engine, t, model, 2..11);
        assert_range!(engine, t, model, 2..=11);
        assert_range!(engine, t, model, 3..10);
        assert_range!(engine, t, model, 3..=10);
        assert_range!(engine, t, model, 11..);
        assert_range!(engine, t, model, 12..);
        assert_range!(engine, t, model, ..11);
        assert_range!(engine, t, model, ..=11);
        assert_range!(engine, t, model, ..);
        assert_range!(engine, t, model, 10..=10);
        assert_range!(engine, t, model, 255..257);
        assert_range!(engine, t, model, (1 << 32)..);
        assert_range!(engine, t, model, (u64::MAX - 1)..=u64::MAX);
        assert_range!(engine, t, model, u64::MAX..);
        assert_range!(engine, t, model, ..=u64::MAX);
        assert_range!(engine, t, model, (Excluded(2), Included(10)));
        assert_range!(engine, t, model, (Excluded(2), Excluded(10)));
        assert_range!(engine, t, model, (Excluded(u64::MAX - 1), Unbounded));
        // A range given by reference.
        assert_range!(engine, t, model, &2..&100);
    });
}

/// `i64` keys scan in numeric order (negatives first) and every range over them matches the model;
/// inverted ones visit nothing.
#[test]
#[allow(clippy::reversed_empty_ranges)] // inverted ranges on purpose: they must visit nothing
fn i64_ranges_order_negative_numbers_first() {
    on_every_engine(|engine, storage| {
        let keys = [
            i64::MIN,
            i64::MIN + 1,
            -1000,
            -256,
            -255,
            -2,
            -1,
            0,
            1,
            2,
            255,
            256,
            1000,
            i64::MAX - 1,
            i64::MAX,
        ];
        let (t, model) = filled(&storage, "i64s", keys);
        // Whole table in numeric order.
        assert_eq!(
            t.filter_map(|k, _| Some(*k)).unwrap(),
            model.keys().copied().collect::<Vec<_>>(),
            "{engine}"
        );
        assert_range!(engine, t, model, -256..256);
        assert_range!(engine, t, model, -1..=1);
        assert_range!(engine, t, model, -5..-1);
        assert_range!(engine, t, model, -5..=-1);
        assert_range!(engine, t, model, ..0);
        assert_range!(engine, t, model, ..=-1);
        assert_range!(engine, t, model, 0..);
        assert_range!(engine, t, model, -1..);
        assert_range!(engine, t, model, i64::MIN..(i64::MIN + 2));
        assert_range!(engine, t, model, i64::MIN..=i64::MIN);
        assert_range!(engine, t, model, (i64::MAX - 1)..);
        assert_range!(engine, t, model, (Excluded(-256), Excluded(-1)));
        assert_empty_range!(engine, t, 1..-1);
        assert_empty_range!(engine, t, 0..=-1);
        assert_empty_range!(engine, t, i64::MAX..i64::MIN);
    });
}

const STRING_KEYS: [&str; 14] = [
    "",
    "\0",
    "\0\0",
    "a",
    "a\0",
    "a\0b",
    "aa",
    "ab",
    "abc",
    "b",
    "ba",
    "z",
    "é",
    "\u{10FFFF}",
];

/// `String` ranges with owned or borrowed (`str`) bounds match the model, NUL bytes and multi-byte
/// characters included.
#[test]
fn string_ranges_with_owned_and_borrowed_bounds() {
    on_every_engine(|engine, storage| {
        let (t, model) = filled(&storage, "strings", STRING_KEYS.map(String::from));
        // Owned bounds: `Q = String`.
        assert_range!(engine, t, model, "a".to_string().."b".to_string());
        assert_range!(engine, t, model, "a".to_string()..="b".to_string());
        assert_range!(engine, t, model, "a\0".to_string().."ab".to_string());
        assert_range!(engine, t, model, "ab".to_string()..);
        assert_range!(engine, t, model, .."a".to_string());
        assert_range!(engine, t, model, ..="a".to_string());
        assert_range!(engine, t, model, "".to_string()..);
        // Borrowed bounds: `Q = str`, no allocation.
        assert_str_range!(engine, t, model, (Included("a"), Excluded("b")));
        assert_str_range!(engine, t, model, (Excluded("a"), Included("b")));
        assert_str_range!(engine, t, model, (Excluded("a"), Unbounded));
        assert_str_range!(engine, t, model, (Unbounded, Excluded("\0\0")));
        assert_str_range!(engine, t, model, (Included("z"), Unbounded));
        // Every key of the model sits where `str`'s order puts it.
        assert_eq!(
            collect(t.scan()),
            model_within(&model, &(Unbounded::<String>, Unbounded)),
            "{engine}"
        );
        assert_empty_range!(engine, t, "b".to_string().."a".to_string());
        assert_eq!(collect(t.range((Included("b"), Excluded("a")))), vec![]);
        assert_eq!(collect(t.range((Excluded("a"), Excluded("a")))), vec![]);
        assert_eq!(
            collect(t.range((Excluded("a"), Included("a"))).rev()),
            vec![]
        );
        assert_eq!(collect(t.range((Included("aa\0"), Excluded("ab")))), vec![]);
    });
}

/// Empty and inverted ranges visit nothing (and do not panic) with every consumer, also on a
/// never-written table.
#[test]
#[allow(clippy::reversed_empty_ranges)] // inverted ranges on purpose: they must visit nothing
fn empty_and_inverted_ranges_visit_nothing() {
    on_every_engine(|engine, storage| {
        let (t, _) = filled(&storage, "u64s", U64_KEYS);
        assert_empty_range!(engine, t, 5..5);
        assert_empty_range!(engine, t, 10..10);
        assert_empty_range!(engine, t, 11..10);
        assert_empty_range!(engine, t, 100..2);
        assert_empty_range!(engine, t, 100..=2);
        assert_empty_range!(engine, t, 11..=10);
        assert_empty_range!(engine, t, u64::MAX..0);
        assert_empty_range!(engine, t, ..0);
        assert_empty_range!(engine, t, 3..5);
        assert_empty_range!(engine, t, (Excluded(10), Excluded(10)));
        assert_empty_range!(engine, t, (Excluded(10), Included(10)));
        assert_empty_range!(engine, t, (Excluded(11), Included(10)));
        assert_empty_range!(engine, t, (Excluded(u64::MAX), Unbounded));
        // Every consumer, on an inverted range.
        let inverted = || t.range(100..2);
        assert_eq!(inverted().fold(0, |n, _, _| Ok(n + 1)).unwrap(), 0);
        inverted().for_each(|_, _| panic!("visited")).unwrap();
        inverted()
            .rev()
            .try_for_each(|_, _| panic!("visited"))
            .unwrap();

        // A table that was never written: every range is empty.
        let nothing = storage.raw_table::<u64>("never_written").unwrap();
        assert_empty_range!(engine, nothing, ..);
        assert_empty_range!(engine, nothing, 1..10);
        assert_empty_range!(engine, nothing, 10..1);
    });
}

/// `fold`, `for_each`, `filter_map`, `try_for_each` and `scan_with` visit exactly the model's
/// entries, in order, both directions.
#[test]
fn every_consumer_agrees_with_the_model_in_both_directions() {
    on_every_engine(|engine, storage| {
        let (t, model) = filled(&storage, "numbers", (0..200u64).map(|i| i * 3));
        for (lo, hi) in [(0u64, 600u64), (7, 300), (30, 31), (598, 700)] {
            let expected = model_within(&model, &(lo..hi));
            for reverse in [false, true] {
                let scan = || {
                    let s = t.range(lo..hi);
                    if reverse { s.rev() } else { s }
                };
                let expected = if reverse {
                    reversed(expected.clone())
                } else {
                    expected.clone()
                };
                let keys: Vec<u64> = expected.iter().map(|(k, _)| *k).collect();
                let what = format!("{engine}: {lo}..{hi} reverse={reverse}");

                // fold: keys in order, and the sum of value lengths.
                let folded = scan()
                    .fold(Vec::new(), |mut acc, k, v| {
                        assert_eq!(v, value_of(k).as_slice());
                        acc.push(*k);
                        Ok(acc)
                    })
                    .unwrap();
                assert_eq!(folded, keys, "{what}: fold");
                let bytes = scan().fold(0, |n, _, v| Ok(n + v.len())).unwrap();
                assert_eq!(
                    bytes,
                    expected.iter().map(|(_, v)| v.len()).sum::<usize>(),
                    "{what}: fold sum"
                );

                // for_each
                let mut seen = Vec::new();
                scan()
                    .for_each(|k, v| {
                        seen.push((*k, v.to_vec()));
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(seen, expected, "{what}: for_each");

                // filter_map, keeping even keys.
                let even = scan()
                    .filter_map(|k, _| k.is_multiple_of(2).then_some(*k))
                    .unwrap();
                let expected_even: Vec<u64> = keys
                    .iter()
                    .copied()
                    .filter(|k| k.is_multiple_of(2))
                    .collect();
                assert_eq!(even, expected_even, "{what}: filter_map");

                // try_for_each that never breaks visits everything.
                let mut visited = Vec::new();
                scan()
                    .try_for_each(|k, _| {
                        visited.push(*k);
                        Ok(ControlFlow::Continue(()))
                    })
                    .unwrap();
                assert_eq!(visited, keys, "{what}: try_for_each");
            }
        }
        // Table-level filter_map and scan_with cover the whole table in order.
        assert_eq!(
            t.filter_map(|k, _| Some(*k)).unwrap(),
            model.keys().copied().collect::<Vec<_>>()
        );
        let last_three = t
            .scan_with(|s| {
                s.rev().fold(Vec::new(), |mut acc, k, _| {
                    if acc.len() < 3 {
                        acc.push(*k);
                    }
                    Ok(acc)
                })
            })
            .unwrap();
        assert_eq!(last_three, vec![597, 594, 591], "{engine}");
    });
}

/// Up to `n` keys from `start` onwards (or, reversed, from `start` downwards), stopping the scan
/// with `ControlFlow::Break` as soon as it has them. Returns the keys and how many entries the
/// scan visited.
fn seek(t: &RawTable<u64>, start: u64, n: usize, reverse: bool) -> (Vec<u64>, usize) {
    assert!(n > 0);
    let scan = if reverse {
        t.range(..=start).rev()
    } else {
        t.range(start..)
    };
    let mut keys = Vec::new();
    let mut visits = 0;
    scan.try_for_each(|k, _| {
        visits += 1;
        keys.push(*k);
        Ok(if keys.len() == n {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })
    .unwrap();
    (keys, visits)
}

/// A range scan seeks to its start and an early `Break` stops it right after the wanted entries,
/// which makes paging work.
#[test]
fn seek_then_stop_after_n() {
    on_every_engine(|engine, storage| {
        let (t, model) = filled(&storage, "numbers", (0..100u64).map(|i| i * 10));
        for start in [0, 1, 10, 15, 500, 985, 990, 991, 5000] {
            for n in [1, 3, 10, 200] {
                let forward: Vec<u64> = model.range(start..).map(|(k, _)| *k).take(n).collect();
                let (keys, visits) = seek(&t, start, n, false);
                assert_eq!(keys, forward, "{engine}: {n} from {start}");
                assert_eq!(visits, forward.len(), "{engine}: stopped right after {n}");

                let backward: Vec<u64> = model
                    .range(..=start)
                    .rev()
                    .map(|(k, _)| *k)
                    .take(n)
                    .collect();
                let (keys, visits) = seek(&t, start, n, true);
                assert_eq!(keys, backward, "{engine}: {n} down from {start}");
                assert_eq!(visits, backward.len());
            }
        }

        // Paging: each page seeks past the previous page's last key.
        let mut pages = Vec::new();
        let mut after: Bound<u64> = Unbounded;
        loop {
            let mut page = Vec::new();
            t.range((after, Unbounded))
                .try_for_each(|k, _| {
                    page.push(*k);
                    Ok(if page.len() == 7 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    })
                })
                .unwrap();
            let Some(&last) = page.last() else { break };
            after = Excluded(last);
            pages.push(page);
        }
        assert_eq!(pages.len(), 15, "{engine}: 100 keys in pages of 7");
        assert_eq!(
            pages.concat(),
            model.keys().copied().collect::<Vec<_>>(),
            "{engine}"
        );
    });
}

/// Strings that are prefixes of one another, with and without NUL bytes.
const PREFIX_STRINGS: [&str; 9] = ["", "\0", "\0\0", "a", "a\0", "a\0\0", "a\0b", "ab", "b"];

/// A one-element prefix of a pair key selects exactly the keys with that first element, even for
/// strings that prefix each other.
#[test]
fn prefixes_of_pairs_select_exactly_the_first_element() {
    on_every_engine(|engine, storage| {
        let keys = PREFIX_STRINGS
            .iter()
            .flat_map(|s| [0u64, 1, 256, u64::MAX].map(|n| (s.to_string(), n)));
        let (t, model) = filled(&storage, "pairs", keys);
        let absent = ["c", "a\0a", "\0a", "aa", "\u{10FFFF}"];
        for first in PREFIX_STRINGS.iter().chain(&absent) {
            let expected: Entries<(String, u64)> = model
                .iter()
                .filter(|((a, _), _)| a == first)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // `&str`, `String` and `&String` all stand for the `String` part.
            let by_str = collect(t.prefix(&(*first,)));
            assert_eq!(by_str, expected, "{engine}: prefix ({first:?},)");
            let owned = first.to_string();
            assert_eq!(collect(t.prefix(&(owned.clone(),))), expected);
            assert_eq!(collect(t.prefix(&(&owned,))), expected);
            assert_eq!(
                collect(t.prefix(&(*first,)).rev()),
                reversed(expected.clone()),
                "{engine}: prefix ({first:?},).rev()"
            );
            let count = t.prefix(&(*first,)).fold(0, |n, _, _| Ok(n + 1)).unwrap();
            assert_eq!(count, expected.len());
        }
    });
}

/// One- and two-element prefixes of triple keys select exactly the matching keys, both directions,
/// with early stops.
#[test]
fn prefixes_of_triples_by_one_and_two_elements() {
    on_every_engine(|engine, storage| {
        let firsts = [0u32, 1, 0x00FF_FFFF, u32::MAX];
        let seconds = ["", "\0", "x", "x\0", "x\0\0", "xy", "y"];
        let thirds = [i16::MIN, -1, 0, 1, i16::MAX];
        let mut keys = Vec::new();
        for a in firsts {
            for b in seconds {
                for c in thirds {
                    keys.push((a, b.to_string(), c));
                }
            }
        }
        let (t, model) = filled(&storage, "triples", keys);
        type Triple = (u32, String, i16);
        let matching = |keep: &dyn Fn(&Triple) -> bool| -> Entries<Triple> {
            model
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        for a in firsts.into_iter().chain([2, u32::MAX - 1]) {
            let expected = matching(&|k| k.0 == a);
            assert_eq!(collect(t.prefix(&(a,))), expected, "{engine}: ({a},)");
            assert_eq!(
                collect(t.prefix(&(a,)).rev()),
                reversed(expected),
                "{engine}: ({a},).rev()"
            );
            for b in seconds.into_iter().chain(["z", "x\0y", "\0x"]) {
                let expected = matching(&|k| k.0 == a && k.1 == b);
                assert_eq!(
                    collect(t.prefix(&(a, b))),
                    expected,
                    "{engine}: ({a}, {b:?})"
                );
                assert_eq!(
                    collect(t.prefix(&(a, b.to_string())).rev()),
                    reversed(expected.clone()),
                    "{engine}: ({a}, {b:?}).rev()"
                );
                // An early stop inside a prefix.
                let mut first_two = Vec::new();
                t.prefix(&(a, b))
                    .try_for_each(|k, _| {
                        first_two.push(k.clone());
                        Ok(if first_two.len() == 2 {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        })
                    })
                    .unwrap();
                let expected_two: Vec<Triple> =
                    expected.iter().take(2).map(|(k, _)| k.clone()).collect();
                assert_eq!(first_two, expected_two);
            }
        }
    });
}

/// Range, scan and prefix scans inside a write transaction see its uncommitted writes; nobody else
/// does, and a rollback leaves the committed state.
#[test]
#[allow(clippy::reversed_empty_ranges)] // inverted ranges on purpose: they must visit nothing
fn scans_in_a_write_transaction_see_its_uncommitted_writes() {
    on_every_engine(|engine, storage| {
        let (t, committed) = filled(&storage, "numbers", (0..20u64).map(|i| i * 2));
        let (pairs, pairs_committed) = filled(
            &storage,
            "pairs",
            [("a", 1u64), ("a", 2), ("ab", 1), ("b", 1)].map(|(s, n)| (s.to_string(), n)),
        );
        let mut model = committed.clone();
        let mut pairs_model = pairs_committed.clone();

        let outcome: zerotable::Result<()> = storage.write(|tx| {
            for k in [5u64, 7, 100] {
                t.put_in(tx, &k, &value_of(&k))?;
                model.insert(k, value_of(&k));
            }
            t.put_in(tx, &10, b"changed")?;
            model.insert(10, b"changed".to_vec());
            for k in [4u64, 6, 38] {
                assert!(t.delete_in(tx, &k)?);
                model.remove(&k);
            }
            let k = ("a".to_string(), 0u64);
            pairs.put_in(tx, &k, &value_of(&k))?;
            pairs_model.insert(k.clone(), value_of(&k));
            assert!(pairs.delete_in(tx, &("a".to_string(), 2))?);
            pairs_model.remove(&("a".to_string(), 2));

            assert_eq!(
                collect(t.range_in(tx, 3..12)),
                model_within(&model, &(3..12)),
                "{engine}"
            );
            assert_eq!(
                collect(t.range_in(tx, 3..=12).rev()),
                reversed(model_within(&model, &(3..=12))),
                "{engine}"
            );
            assert_eq!(collect(t.range_in(tx, 30..)), model_within(&model, &(30..)));
            assert_eq!(collect(t.range_in(tx, 12..3)), vec![]);
            assert_eq!(collect(t.scan_in(tx)), model_within(&model, &(..)));
            assert_eq!(
                collect(t.scan_in(tx).rev()),
                reversed(model_within(&model, &(..)))
            );
            let only_a: Entries<(String, u64)> = pairs_model
                .iter()
                .filter(|((s, _), _)| s == "a")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(collect(pairs.prefix_in(tx, &("a",))), only_a);
            assert_eq!(
                collect(pairs.prefix_in(tx, &("a",)).rev()),
                reversed(only_a)
            );
            // Nobody else sees them yet.
            assert_eq!(collect(t.scan()), model_within(&committed, &(..)));
            Err(Error::callback("roll back"))
        });
        assert!(matches!(outcome, Err(Error::Callback { .. })));
        assert_eq!(
            collect(t.scan()),
            model_within(&committed, &(..)),
            "{engine}"
        );
        assert_eq!(collect(pairs.scan()), model_within(&pairs_committed, &(..)));

        // The same writes, committed, are what later scans see.
        storage
            .write(|tx| {
                t.put_in(tx, &5, &value_of(&5))?;
                t.delete_in(tx, &4)?;
                assert_eq!(
                    t.range_in(tx, 3..7).filter_map(|k, _| Some(*k))?,
                    vec![5, 6]
                );
                Ok(())
            })
            .unwrap();
        assert_eq!(
            t.range(3..7).filter_map(|k, _| Some(*k)).unwrap(),
            vec![5, 6]
        );
    });
}

/// Scans in a snapshot ignore commits made after it began, even from inside its own closure.
#[test]
fn scans_in_a_snapshot_ignore_later_commits() {
    on_every_engine(|engine, storage| {
        let (t, model) = filled(&storage, "numbers", 0..50u64);
        let (pairs, pairs_model) = filled(
            &storage,
            "pairs",
            [("a", 1u64), ("a\0", 1), ("ab", 1)].map(|(s, n)| (s.to_string(), n)),
        );
        storage
            .read(|snap| {
                assert_eq!(
                    collect(t.range_in(snap, 10..20)),
                    model_within(&model, &(10..20))
                );
                // Commits made while the snapshot is open are invisible to it.
                t.put(&15, b"new")?;
                t.delete(&16)?;
                t.put(&1000, b"new")?;
                pairs.put(&("a".to_string(), 0), b"new")?;
                assert_eq!(
                    collect(t.range_in(snap, 10..20)),
                    model_within(&model, &(10..20)),
                    "{engine}"
                );
                assert_eq!(
                    collect(t.range_in(snap, 40..).rev()),
                    reversed(model_within(&model, &(40..)))
                );
                assert_eq!(collect(t.scan_in(snap)), model_within(&model, &(..)));
                let only_a: Entries<(String, u64)> = pairs_model
                    .iter()
                    .filter(|((s, _), _)| s == "a")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(collect(pairs.prefix_in(snap, &("a",))), only_a);
                Ok(())
            })
            .unwrap();
        // Outside the snapshot the commits show.
        assert_eq!(
            t.range(14..17)
                .filter_map(|k, v| Some((*k, v.to_vec())))
                .unwrap(),
            vec![(14, value_of(&14u64)), (15, b"new".to_vec())],
            "{engine}"
        );
        assert_eq!(
            pairs.prefix(&("a",)).fold(0, |n, _, _| Ok(n + 1)).unwrap(),
            2
        );
    });
}

// ---- randomized comparisons ----

fn bound_of<K: Debug + Clone>(
    key: impl Strategy<Value = K> + Clone,
) -> impl Strategy<Value = Bound<K>> {
    prop_oneof![
        1 => Just(Unbounded),
        2 => key.clone().prop_map(Included),
        2 => key.prop_map(Excluded),
    ]
}

/// Builds a table of `keys` on both engines and compares `range(bounds)` (reversed if asked,
/// stopped after `limit` entries if given) with the model.
fn check_random_range<K>(
    keys: &BTreeSet<K>,
    bounds: (Bound<K>, Bound<K>),
    reverse: bool,
    limit: Option<usize>,
) -> Result<(), TestCaseError>
where
    K: IntoKeyBytes + FromKeyBytes + KeyLike<K> + Ord + Clone + Debug,
{
    on_fresh_engines(|engine, storage| {
        let (t, model) = filled(storage, "random", keys.iter().cloned());
        let mut expected = model_within(&model, &bounds);
        if reverse {
            expected.reverse();
        }
        let scan = t.range(bounds.clone());
        let scan = if reverse { scan.rev() } else { scan };
        let found = match limit {
            None => collect(scan),
            Some(limit) => {
                expected.truncate(limit);
                let mut found = Vec::new();
                scan.try_for_each(|k, v| {
                    found.push((k.clone(), v.to_vec()));
                    Ok(if found.len() >= limit {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    })
                })
                .unwrap();
                found
            }
        };
        prop_assert_eq!(
            found,
            expected,
            "{}: {:?} reverse={}",
            engine,
            bounds,
            reverse
        );
        Ok(())
    })
}

fn u64_key() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![
        4 => 0u64..64,
        1 => Just(u64::MAX),
        1 => (u64::MAX - 4)..u64::MAX,
        1 => any::<u64>(),
    ]
}

fn i64_key() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![
        4 => -32i64..32,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => any::<i64>(),
    ]
}

/// Short strings over an alphabet with NUL and a multi-byte character.
fn short_string() -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(prop::sample::select(vec!['\0', 'a', 'b', 'é']), 0..4)
        .prop_map(|chars| chars.into_iter().collect())
}

fn limit() -> impl Strategy<Value = Option<usize>> {
    prop::option::of(1usize..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random `u64` ranges, either direction, stopped early or not, match the model on every
    /// engine.
    #[test]
    fn random_u64_ranges_match_the_model(
        keys in prop::collection::btree_set(u64_key(), 0..40),
        start in bound_of(u64_key()),
        end in bound_of(u64_key()),
        reverse in any::<bool>(),
        limit in limit(),
    ) {
        check_random_range(&keys, (start, end), reverse, limit)?;
    }

    /// Random `i64` ranges, either direction, stopped early or not, match the model on every
    /// engine.
    #[test]
    fn random_i64_ranges_match_the_model(
        keys in prop::collection::btree_set(i64_key(), 0..40),
        start in bound_of(i64_key()),
        end in bound_of(i64_key()),
        reverse in any::<bool>(),
        limit in limit(),
    ) {
        check_random_range(&keys, (start, end), reverse, limit)?;
    }

    /// Random `String` ranges (NUL and multi-byte characters), either direction, match the model on
    /// every engine.
    #[test]
    fn random_string_ranges_match_the_model(
        keys in prop::collection::btree_set(short_string(), 0..40),
        start in bound_of(short_string()),
        end in bound_of(short_string()),
        reverse in any::<bool>(),
        limit in limit(),
    ) {
        check_random_range(&keys, (start, end), reverse, limit)?;
    }

    /// Random one-element prefixes of `(String, u64)` keys select exactly the model's matches.
    #[test]
    fn random_pair_prefixes_match_the_model(
        keys in prop::collection::btree_set((short_string(), 0u64..4), 0..40),
        first in short_string(),
        reverse in any::<bool>(),
    ) {
        on_fresh_engines(|engine, storage| {
            let (t, model) = filled(storage, "pairs", keys.iter().cloned());
            let mut expected: Entries<(String, u64)> = model
                .iter()
                .filter(|((a, _), _)| *a == first)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let scan = t.prefix(&(first.as_str(),));
            let found = if reverse {
                expected.reverse();
                collect(scan.rev())
            } else {
                collect(scan)
            };
            prop_assert_eq!(found, expected, "{}: prefix ({:?},)", engine, first);
            Ok(())
        })?;
    }

    /// Random one- and two-element prefixes of triple keys select exactly the model's matches.
    #[test]
    fn random_triple_prefixes_match_the_model(
        keys in prop::collection::btree_set(
            (prop::sample::select(vec![0u32, 1, u32::MAX]), short_string(), -2i16..2),
            0..40,
        ),
        first in prop::sample::select(vec![0u32, 1, u32::MAX]),
        second in prop::option::of(short_string()),
        reverse in any::<bool>(),
    ) {
        on_fresh_engines(|engine, storage| {
            let (t, model) = filled(storage, "triples", keys.iter().cloned());
            let mut expected: Entries<(u32, String, i16)> = model
                .iter()
                .filter(|((a, b, _), _)| {
                    *a == first && second.as_ref().is_none_or(|second| b == second)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let scan = match &second {
                None => t.prefix(&(first,)),
                Some(second) => t.prefix(&(first, second.as_str())),
            };
            let found = if reverse {
                expected.reverse();
                collect(scan.rev())
            } else {
                collect(scan)
            };
            prop_assert_eq!(found, expected, "{}: prefix {:?} {:?}", engine, first, second);
            Ok(())
        })?;
    }
}
