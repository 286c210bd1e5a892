//! The memory engine's own promises, beyond the conformance suite: its B+tree agrees with a
//! `BTreeMap` through every kind of range, snapshots stay frozen however much is written after
//! them, nodes split and merge consistently at every size, and writes and storage cost what
//! the design says (a first write after a snapshot copies one path, not the table; a row costs
//! less than twice its raw bytes) — measured with a counting allocator.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};

use common::counting::{allocated_bytes, live_bytes};
use proptest::prelude::*;
use zerotable::engine::{Engine, KeyRange, ReadOps, WriteOptions, WriteTxn};
use zerotable::{EngineError, EngineErrorKind, MemoryEngine};

/// Counts the bytes allocated and freed by the current thread (tests run on parallel threads).
#[global_allocator]
static GLOBAL: common::counting::CountingAllocator = common::counting::CountingAllocator;

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn write(engine: &MemoryEngine, body: impl Fn(&dyn WriteTxn) -> zerotable::Result<()>) {
    engine
        .write(WriteOptions::DEFAULT, &mut |txn| body(txn))
        .unwrap();
}

fn collect(reader: &dyn ReadOps, table: &str, range: &KeyRange<'_>) -> Entries {
    let mut out = Vec::new();
    reader
        .range(table, range, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
    out
}

fn all(reader: &dyn ReadOps, table: &str) -> Entries {
    collect(reader, table, &KeyRange::ALL)
}

fn model_range(model: &BTreeMap<Vec<u8>, Vec<u8>>, range: &KeyRange<'_>) -> Entries {
    let mut out: Entries = model
        .iter()
        .filter(|(k, _)| range.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if range.reverse {
        out.reverse();
    }
    out
}

/// A shuffled `0..n` (xorshift, fixed seed).
fn shuffled(n: u64, seed: u64) -> Vec<u64> {
    let mut state = seed | 1;
    let mut keys: Vec<u64> = (0..n).collect();
    for i in (1..keys.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        keys.swap(i, (state % (i as u64 + 1)) as usize);
    }
    keys
}

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, usize),
    Delete(Vec<u8>),
    Range(Vec<u8>, Vec<u8>, u8, u8, bool),
    DeleteRange(Vec<u8>, Vec<u8>, u8, u8),
    Get(Vec<u8>),
    Snapshot,
    Commit,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(0u8..3, 0..3),
        (0u16..1500).prop_map(|n| n.to_be_bytes().to_vec()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (key(), prop_oneof![0usize..30, 0usize..600]).prop_map(|(k, n)| Op::Put(k, n)),
        4 => key().prop_map(Op::Delete),
        1 => (key(), key(), 0u8..3, 0u8..3, any::<bool>())
            .prop_map(|(a, b, ka, kb, r)| Op::Range(a, b, ka, kb, r)),
        1 => (key(), key(), 0u8..3, 0u8..3)
            .prop_map(|(a, b, ka, kb)| Op::DeleteRange(a, b, ka, kb)),
        2 => key().prop_map(Op::Get),
        1 => Just(Op::Snapshot),
        1 => Just(Op::Commit),
    ]
}

fn bound(kind: u8, key: &[u8]) -> Bound<&[u8]> {
    match kind {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random puts, deletes, range deletions, gets and ranges (both directions, every kind of
    /// bound) through the engine API agree with a `BTreeMap`, in the write transaction (its own
    /// writes, laid over the committed trees: counts and sizes too) and after commits; snapshots taken on the way keep seeing the state they began with.
    #[test]
    fn engine_agrees_with_a_btreemap(ops in prop::collection::vec(op(), 1..1200)) {
        let engine = MemoryEngine::new();
        let mut committed: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut working = committed.clone();
        let mut snapshots = Vec::new();
        let mut txn = engine.begin_write(WriteOptions::DEFAULT).unwrap();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Put(key, len) => {
                    let value = vec![n as u8; len];
                    txn.put("t", &key, &value).unwrap();
                    working.insert(key, value);
                }
                Op::Delete(key) => {
                    prop_assert_eq!(txn.delete("t", &key).unwrap(), working.remove(&key).is_some());
                }
                Op::Range(a, b, ka, kb, reverse) => {
                    let range = KeyRange { start: bound(ka, &a), end: bound(kb, &b), reverse };
                    prop_assert_eq!(collect(&*txn, "t", &range), model_range(&working, &range));
                    let snapshot = engine.begin_read().unwrap();
                    prop_assert_eq!(collect(&*snapshot, "t", &range), model_range(&committed, &range));
                }
                Op::DeleteRange(a, b, ka, kb) => {
                    let range = KeyRange { start: bound(ka, &a), end: bound(kb, &b), reverse: false };
                    let doomed: Vec<Vec<u8>> =
                        working.keys().filter(|k| range.contains(k)).cloned().collect();
                    prop_assert_eq!(txn.delete_range("t", &range).unwrap(), doomed.len() as u64);
                    for key in doomed {
                        working.remove(&key);
                    }
                }
                Op::Get(key) => {
                    let mut got = None;
                    let found = txn.get("t", &key, &mut |v| {
                        got = Some(v.to_vec());
                        Ok(())
                    }).unwrap();
                    prop_assert_eq!(found, working.contains_key(&key));
                    prop_assert_eq!(got.as_ref(), working.get(&key));
                }
                Op::Snapshot => snapshots.push((engine.begin_read().unwrap(), committed.clone())),
                Op::Commit => {
                    txn.commit().unwrap();
                    committed = working.clone();
                    txn = engine.begin_write(WriteOptions::DEFAULT).unwrap();
                }
            }
            prop_assert_eq!(txn.len("t").unwrap(), working.len() as u64);
            let stats = txn.table_stats("t").unwrap();
            prop_assert_eq!(stats.entries, working.len() as u64);
            let bytes: usize = working.iter().map(|(k, v)| k.len() + v.len()).sum();
            prop_assert_eq!(stats.stored_bytes, bytes as u64);
        }
        txn.commit().unwrap();
        let expected: Entries = working.into_iter().collect();
        engine.read(&mut |r| {
            assert_eq!(all(r, "t"), expected);
            Ok(())
        }).unwrap();
        for (snapshot, old) in &snapshots {
            prop_assert_eq!(snapshot.len("t").unwrap(), old.len() as u64);
            prop_assert_eq!(all(&**snapshot, "t"), old.clone().into_iter().collect::<Entries>());
        }
    }
}

/// A snapshot taken before 10,000 writes (puts over its keys, new keys, deletions, in several
/// commits) still sees exactly the content it began with.
#[test]
fn a_snapshot_outlives_ten_thousand_writes() {
    let engine = MemoryEngine::new();
    write(&engine, |txn| {
        for k in shuffled(5_000, 7) {
            txn.put("t", &(k * 2).to_be_bytes(), &k.to_le_bytes())?;
        }
        Ok(())
    });
    let snapshot = engine.begin_read().unwrap();
    let before = all(&*snapshot, "t");
    assert_eq!(before.len(), 5_000);
    for chunk in shuffled(10_000, 11).chunks(2_500) {
        write(&engine, |txn| {
            for &k in chunk {
                match k % 3 {
                    0 => txn.put("t", &k.to_be_bytes(), b"new").map(drop)?,
                    1 => txn.delete("t", &k.to_be_bytes()).map(drop)?,
                    _ => txn.put("other", &k.to_be_bytes(), b"x")?,
                }
            }
            Ok(())
        });
    }
    assert_eq!(all(&*snapshot, "t"), before);
    assert_eq!(snapshot.len("t").unwrap(), 5_000);
    assert_eq!(snapshot.list_tables().unwrap(), ["t"]);
    engine
        .read(&mut |r| {
            assert_ne!(all(r, "t"), before);
            Ok(())
        })
        .unwrap();
}

/// At many sizes (0 to 2,000 entries) a table filled in random order and emptied in another
/// stays consistent (every remaining key found, ranges complete), ends with `len` 0 and stays
/// listed, since it was created.
#[test]
fn filling_and_emptying_at_many_sizes_stays_consistent() {
    let engine = MemoryEngine::new();
    for (round, n) in [0u64, 1, 2, 31, 32, 33, 64, 65, 200, 1_000, 2_000]
        .into_iter()
        .enumerate()
    {
        let table = format!("t{n}");
        write(&engine, |txn| txn.create_table(&table));
        let keys = shuffled(n, round as u64 + 3);
        write(&engine, |txn| {
            for &k in &keys {
                txn.put(&table, &k.to_be_bytes(), &[k as u8; 40])?;
            }
            Ok(())
        });
        engine
            .read(&mut |r| {
                assert_eq!(r.len(&table)?, n);
                let keys: Vec<Vec<u8>> = all(r, &table).into_iter().map(|(k, _)| k).collect();
                let expected: Vec<Vec<u8>> = (0..n).map(|k| k.to_be_bytes().to_vec()).collect();
                assert_eq!(keys, expected);
                Ok(())
            })
            .unwrap();
        let order = shuffled(n, round as u64 + 101);
        // Delete in two commits, checking what is left in between.
        let (first, second) = order.split_at(order.len() / 2);
        for part in [first, second] {
            write(&engine, |txn| {
                for &k in part {
                    assert!(txn.delete(&table, &k.to_be_bytes())?);
                }
                Ok(())
            });
        }
        engine
            .read(&mut |r| {
                assert_eq!(r.len(&table)?, 0);
                assert!(all(r, &table).is_empty());
                assert!(r.list_tables()?.contains(&table));
                assert_eq!(r.table_stats(&table)?.entries, 0);
                Ok(())
            })
            .unwrap();
        // Half deleted, then reads of the rest, in one transaction.
        write(&engine, |txn| {
            for &k in &keys {
                txn.put(&table, &k.to_be_bytes(), b"v")?;
            }
            for &k in first {
                txn.delete(&table, &k.to_be_bytes())?;
            }
            for &k in second {
                assert!(txn.get(&table, &k.to_be_bytes(), &mut |v| {
                    assert_eq!(v, b"v");
                    Ok(())
                })?);
            }
            assert_eq!(txn.len(&table)?, second.len() as u64);
            Ok(())
        });
    }
}

/// Values of 1 MiB among small ones, empty keys and empty values are stored, found, ranged
/// over and counted like any other.
#[test]
fn large_values_and_empty_keys_and_values() {
    let engine = MemoryEngine::new();
    let big = |k: u8| vec![k; 1 << 20];
    write(&engine, |txn| {
        txn.put("t", b"", b"")?;
        txn.put("t", b"empty", b"")?;
        for k in 0..20u8 {
            let value = if k % 5 == 0 { big(k) } else { vec![k; 100] };
            txn.put("t", &[b'k', k], &value)?;
        }
        Ok(())
    });
    engine
        .read(&mut |r| {
            assert!(r.get("t", b"", &mut |v| {
                assert!(v.is_empty());
                Ok(())
            })?);
            assert!(r.get("t", b"empty", &mut |v| {
                assert!(v.is_empty());
                Ok(())
            })?);
            for k in 0..20u8 {
                assert!(r.get("t", &[b'k', k], &mut |v| {
                    assert_eq!(v.len(), if k % 5 == 0 { 1 << 20 } else { 100 });
                    assert!(v.iter().all(|b| *b == k));
                    Ok(())
                })?);
            }
            let entries = all(r, "t");
            assert_eq!(entries.len(), 22);
            assert_eq!(entries[0], (Vec::new(), Vec::new()));
            let stats = r.table_stats("t")?;
            assert_eq!(stats.entries, 22);
            assert_eq!(stats.stored_bytes, 5 + 40 + 4 * (1 << 20) + 16 * 100);
            Ok(())
        })
        .unwrap();
    // Replace a big value by a small one and back, and delete the empty key.
    write(&engine, |txn| {
        txn.put("t", &[b'k', 0], b"small")?;
        txn.put("t", &[b'k', 1], &big(1))?;
        assert!(txn.delete("t", b"")?);
        Ok(())
    });
    engine
        .read(&mut |r| {
            assert!(r.get("t", &[b'k', 0], &mut |v| {
                assert_eq!(v, b"small");
                Ok(())
            })?);
            assert!(r.get("t", &[b'k', 1], &mut |v| {
                assert_eq!(v.len(), 1 << 20);
                Ok(())
            })?);
            assert!(!r.get("t", b"", &mut |_| Ok(()))?);
            Ok(())
        })
        .unwrap();
}

/// The first write after a snapshot copies one root-to-leaf path, not the table: on a
/// 200,000-row table it allocates well under 64 KiB (the table holds about 20 MiB).
#[test]
fn the_first_write_after_a_snapshot_copies_a_path_not_the_table() {
    let engine = MemoryEngine::new();
    for chunk in shuffled(200_000, 5).chunks(50_000) {
        write(&engine, |txn| {
            for &k in chunk {
                txn.put("t", &k.to_be_bytes(), &[1; 90])?;
            }
            Ok(())
        });
    }
    let snapshot = engine.begin_read().unwrap();
    let before = allocated_bytes();
    write(&engine, |txn| {
        txn.put("t", &77_777u64.to_be_bytes(), &[2; 90])
    });
    let allocated = allocated_bytes() - before;
    assert!(
        allocated < 64 * 1024,
        "the first write after a snapshot allocated {allocated} bytes"
    );
    // And it is isolated from the snapshot all the same.
    assert!(
        snapshot
            .get("t", &77_777u64.to_be_bytes(), &mut |v| {
                assert_eq!(v, [1; 90]);
                Ok(())
            })
            .unwrap()
    );
    // A second write in another transaction copies one path again, no more.
    let before = allocated_bytes();
    write(&engine, |txn| {
        txn.put("t", &88_888u64.to_be_bytes(), &[3; 90])
    });
    assert!(allocated_bytes() - before < 64 * 1024);
}

/// 100,000 rows of 8-byte keys and 90-byte values, loaded in random order, hold less than
/// twice their raw bytes (node overhead, offsets, growth room and the copies made per commit
/// all counted).
#[test]
fn a_row_costs_less_than_twice_its_raw_bytes() {
    let rows = 100_000u64;
    let live_before = live_bytes();
    let engine = MemoryEngine::new();
    for chunk in shuffled(rows, 9).chunks(10_000) {
        write(&engine, |txn| {
            for &k in chunk {
                txn.put("t", &k.to_be_bytes(), &[k as u8; 90])?;
            }
            Ok(())
        });
    }
    let held = live_bytes() - live_before;
    let raw = (rows * (8 + 90)) as i64;
    println!(
        "{:.1} bytes held per row of {} raw bytes ({:.2}x)",
        held as f64 / rows as f64,
        8 + 90,
        held as f64 / raw as f64
    );
    assert!(held <= 2 * raw, "{held} bytes held for {raw} raw bytes");
    engine
        .read(&mut |r| {
            assert_eq!(r.len("t")?, rows);
            Ok(())
        })
        .unwrap();
}

/// In a write transaction, a running range over a table refuses writes and a drop of that
/// table (`InUse`), lets a deletion of an absent key answer `false`, and lets other tables be
/// written; afterwards the table is writable again.
#[test]
fn a_running_range_holds_its_table_only() {
    let engine = MemoryEngine::new();
    write(&engine, |txn| txn.put("a", b"1", b"x"));
    write(&engine, |txn| {
        txn.range("a", &KeyRange::ALL, &mut |_, _| {
            let kind = |e: zerotable::Error| e.engine_kind();
            assert_eq!(
                txn.put("a", b"2", b"y").map_err(kind),
                Err(Some(EngineErrorKind::InUse))
            );
            assert_eq!(
                txn.delete("a", b"1").map_err(kind),
                Err(Some(EngineErrorKind::InUse))
            );
            assert_eq!(
                txn.drop_table("a").map_err(kind),
                Err(Some(EngineErrorKind::InUse))
            );
            assert_eq!(txn.delete("a", b"absent").map_err(kind), Ok(false));
            txn.put("b", b"1", b"z")?;
            assert_eq!(txn.len("a")?, 1);
            Ok(ControlFlow::Continue(()))
        })?;
        txn.put("a", b"2", b"y")
    });
    engine
        .read(&mut |r| {
            assert_eq!(r.len("a")?, 2);
            assert_eq!(r.len("b")?, 1);
            Ok(())
        })
        .unwrap();
}

/// A transaction of many more changes than the engine stages in its ordered map (it applies
/// them to a working tree of its own past a few thousand) reads its own writes at every step,
/// rolls back to exactly the committed state, commits exactly what it wrote, and never shows
/// anything to a snapshot taken before it; a table dropped after the switch starts empty.
#[test]
fn a_large_transaction_reads_its_writes_rolls_back_and_commits_whole() {
    let engine = MemoryEngine::new();
    let mut model = BTreeMap::new();
    write(&engine, |txn| {
        for k in shuffled(3_000, 3) {
            txn.put("t", &(k * 3).to_be_bytes(), b"old")?;
        }
        Ok(())
    });
    for k in 0..3_000u64 {
        model.insert((k * 3).to_be_bytes().to_vec(), b"old".to_vec());
    }
    let before = engine.begin_read().unwrap();
    let committed = all(&*before, "t");

    let run = |txn: &dyn WriteTxn, model: &mut BTreeMap<Vec<u8>, Vec<u8>>| {
        for (step, k) in shuffled(12_000, 5).into_iter().enumerate() {
            let key = k.to_be_bytes().to_vec();
            match k % 5 {
                0..=2 => {
                    txn.put("t", &key, &k.to_le_bytes())?;
                    model.insert(key.clone(), k.to_le_bytes().to_vec());
                }
                3 => {
                    let existed = model.remove(&key).is_some();
                    assert_eq!(txn.delete("t", &key)?, existed, "delete {k}");
                }
                _ => {
                    let end = (k + 4).to_be_bytes().to_vec();
                    let range = KeyRange {
                        start: Bound::Included(&key),
                        end: Bound::Excluded(&end),
                        reverse: false,
                    };
                    let removed = model_range(model, &range);
                    assert_eq!(txn.delete_range("t", &range)?, removed.len() as u64);
                    for (key, _) in removed {
                        model.remove(&key);
                    }
                }
            }
            if step % 1_500 == 0 {
                assert_eq!(
                    all(txn, "t"),
                    model_range(model, &KeyRange::ALL),
                    "step {step}"
                );
                assert_eq!(txn.len("t")?, model.len() as u64);
                let reverse = KeyRange {
                    reverse: true,
                    ..KeyRange::ALL
                };
                assert_eq!(collect(txn, "t", &reverse), model_range(model, &reverse));
                let mut seen = None;
                txn.get("t", &key, &mut |v| {
                    seen = Some(v.to_vec());
                    Ok(())
                })?;
                assert_eq!(seen.as_ref(), model.get(&key), "get {k}");
            }
        }
        Ok(())
    };

    // Rolled back: nothing of it anywhere.
    let mut scratch = model.clone();
    let rolled_back = engine.write(WriteOptions::DEFAULT, &mut |txn| {
        run(txn, &mut scratch)?;
        Err(zerotable::Error::engine(
            None,
            zerotable::Operation::Commit,
            EngineError::new(EngineErrorKind::Other, "roll back"),
        ))
    });
    assert!(rolled_back.is_err());
    engine
        .read(&mut |r| {
            assert_eq!(all(r, "t"), committed);
            Ok(())
        })
        .unwrap();

    // Committed: exactly the model, and the old snapshot unchanged.
    let model = RefCell::new(model);
    write(&engine, |txn| run(txn, &mut model.borrow_mut()));
    let model = model.into_inner();
    engine
        .read(&mut |r| {
            assert_eq!(all(r, "t"), model_range(&model, &KeyRange::ALL));
            assert_eq!(r.len("t")?, model.len() as u64);
            Ok(())
        })
        .unwrap();
    assert_eq!(all(&*before, "t"), committed);

    // Dropped after the switch to a working tree, then re-created: only the new rows remain.
    write(&engine, |txn| {
        for k in 0..10_000u64 {
            txn.put("t", &k.to_be_bytes(), b"gone")?;
        }
        assert!(txn.drop_table("t")?);
        txn.put("t", b"only", b"row")
    });
    engine
        .read(&mut |r| {
            assert_eq!(all(r, "t"), vec![(b"only".to_vec(), b"row".to_vec())]);
            Ok(())
        })
        .unwrap();
}
