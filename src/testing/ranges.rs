//! Conformance checks: ranges — every combination of included, excluded and unbounded ends,
//! both directions, early stop, ranges that hold no key.

use std::ops::Bound;

use super::support::{
    Model, Rng, borrow_bound, collect, edge_keys, model_range, random_bound, range_copy, value_for,
};
use crate::engine::{KeyRange, ReadOps};

/// Start and end bounds of a range, owning their keys.
type OwnedBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Start and end bounds of a range, borrowing their keys.
type Bounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

super::checks! {
    /// `range` visits exactly the entries an ordered map would, for every combination of
    /// included, excluded and unbounded ends, both directions, and stopping early: explicit
    /// bounds at the extremes, then 200 pseudo-random ranges over keys with 0x00/0xFF bytes and
    /// prefixes of one another. A fresh read and a held snapshot agree; a neighbouring table
    /// never leaks in.
    fn range_bounds_match_ordered_model(f: &Fixture) {
        let mut rng = Rng(0x5EED_0002);
        let candidates = edge_keys();
        let model: Model = candidates
            .iter()
            .filter(|_| rng.chance(60))
            .map(|key| (key.clone(), value_for(key, 1)))
            .collect();
        f.write(|txn| {
            for (key, value) in &model {
                txn.put("t", key, value)?;
            }
            txn.put("s", b"", b"neighbour")?;
            txn.put("s", b"a\x00", b"neighbour")?;
            txn.put("s", b"\xff\xff\xff\xff", b"neighbour")
        });
        let snapshot = f.begin_read();

        let probes: [&[u8]; 6] = [b"", b"\x00", b"a", b"a\x00\xff", b"a\x01", b"\xff\xff\xff\xff"];
        let mut bounds = vec![Bound::Unbounded];
        for probe in probes {
            bounds.push(Bound::Included(probe.to_vec()));
            bounds.push(Bound::Excluded(probe.to_vec()));
        }
        let mut cases: Vec<OwnedBounds> = Vec::new();
        for start in &bounds {
            for end in &bounds {
                cases.push((start.clone(), end.clone()));
            }
        }
        for _ in 0..200 {
            let start = random_bound(&mut rng, &candidates);
            let end = random_bound(&mut rng, &candidates);
            cases.push((start, end));
        }

        f.read(|reader| {
            for (start, end) in &cases {
                for reverse in [false, true] {
                    let range = KeyRange { start: borrow_bound(start), end: borrow_bound(end), reverse };
                    let expected = model_range(&model, &range, None);
                    assert_eq!(range_copy(reader, "t", &range), expected, "{range:?}");
                    assert_eq!(range_copy(&*snapshot, "t", &range), expected, "{range:?} in a snapshot");
                    let limit = 1 + rng.below(expected.len() + 2);
                    assert_eq!(
                        collect(Some(limit), |visit| reader.range("t", &range, visit)),
                        model_range(&model, &range, Some(limit)),
                        "{range:?} stopping after {limit}"
                    );
                }
            }
        });
    }

    /// Ranges that hold no key (start above end, or equal ends with one excluded) visit
    /// nothing and do not panic, in both directions, in fresh reads, held snapshots and write
    /// transactions (with staged entries) alike, and on a missing table; a range with one
    /// included key at both ends visits exactly that key.
    fn empty_ranges_visit_nothing(f: &Fixture) {
        let stored: [&[u8]; 6] = [b"", b"\x00", b"a", b"a\x00", b"b", b"\xff"];
        f.write(|txn| {
            for key in stored {
                txn.put("t", key, b"v")?;
            }
            Ok(())
        });
        let snapshot = f.begin_read();
        let txn = f.begin_write();
        let staged: [&[u8]; 2] = [b"a\x01", b"\xff\xff"];
        for key in staged {
            txn.put("t", key, b"staged").unwrap();
        }

        let probes: [&[u8]; 9] =
            [b"", b"\x00", b"a", b"a\x00", b"a\x01", b"a\x02", b"b", b"\xff", b"\xff\xff"];
        let mut empty: Vec<Bounds<'_>> = Vec::new();
        for key in probes {
            empty.push((Bound::Included(key), Bound::Excluded(key)));
            empty.push((Bound::Excluded(key), Bound::Included(key)));
            empty.push((Bound::Excluded(key), Bound::Excluded(key)));
        }
        for (i, &low) in probes.iter().enumerate() {
            for &high in &probes[i + 1..] {
                empty.push((Bound::Included(high), Bound::Included(low)));
                empty.push((Bound::Included(high), Bound::Excluded(low)));
                empty.push((Bound::Excluded(high), Bound::Included(low)));
                empty.push((Bound::Excluded(high), Bound::Excluded(low)));
            }
        }
        let in_txn: &dyn ReadOps = &*txn;
        for (start, end) in empty {
            for reverse in [false, true] {
                let range = KeyRange { start, end, reverse };
                assert!(f.range("t", &range).is_empty(), "{range:?}");
                assert!(f.range("missing", &range).is_empty(), "{range:?}");
                assert!(range_copy(&*snapshot, "t", &range).is_empty(), "{range:?}");
                assert!(range_copy(in_txn, "t", &range).is_empty(), "{range:?}");
            }
        }
        for key in probes {
            let range = KeyRange { start: Bound::Included(key), end: Bound::Included(key), reverse: false };
            let in_db = stored.contains(&key).then(|| (key.to_vec(), b"v".to_vec()));
            assert_eq!(f.range("t", &range), Vec::from_iter(in_db.clone()));
            assert_eq!(range_copy(&*snapshot, "t", &range), Vec::from_iter(in_db.clone()));
            let in_staged = if staged.contains(&key) {
                Some((key.to_vec(), b"staged".to_vec()))
            } else {
                in_db
            };
            assert_eq!(range_copy(in_txn, "t", &range), Vec::from_iter(in_staged));
        }
    }
}
