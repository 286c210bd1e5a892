//! Helpers shared by the suite's files: copying reads, a reference model, deterministic
//! randomness, keys where byte order is subtle, threads with a deadline.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::engine::{Engine, Found, KeyRange, ReadOps};
use crate::error::{EngineErrorKind, Result};

/// A record stored by the typed checks.
#[derive(rkyv::Archive, rkyv::Serialize, Debug, Clone, PartialEq)]
pub struct Record {
    /// A string field.
    pub name: String,
    /// A numeric field.
    pub score: u32,
}

/// One entry as read back: key and value, copied out of the engine.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

/// The reference model the engine is compared with: an ordered map of byte strings.
pub(crate) type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// How long a check waits for another thread before declaring the engine stuck.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Runs a point read and copies what its callback received, checking that the callback ran at
/// most once and that the returned flag agrees with it.
pub(crate) fn get_copy(reader: &dyn ReadOps, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    copy_found(|found| reader.get(table, key, found))
}

/// [`get_copy`] through the auto-commit [`Engine::get`].
pub(crate) fn get_latest_copy(engine: &dyn Engine, table: &str, key: &[u8]) -> Option<Vec<u8>> {
    copy_found(|found| engine.get(table, key, found))
}

/// Runs `get` with a callback that copies what it receives, with the checks of [`get_copy`].
fn copy_found(get: impl FnOnce(&mut Found<'_>) -> Result<bool>) -> Option<Vec<u8>> {
    let mut out = None;
    let mut calls = 0;
    let found = get(&mut |bytes| {
        calls += 1;
        out = Some(bytes.to_vec());
        Ok(())
    })
    .expect("get");
    assert!(calls <= 1, "a get must call its callback at most once");
    assert_eq!(
        found,
        out.is_some(),
        "get's return value must match the callback"
    );
    out
}

/// Runs a range read, copying every visited entry and breaking once `limit` entries were
/// visited (never, if `None`).
pub(crate) fn collect(
    limit: Option<usize>,
    scan: impl FnOnce(&mut crate::engine::Visit<'_>) -> Result<()>,
) -> Vec<Entry> {
    let mut rows = Vec::new();
    let mut visit = |key: &[u8], value: &[u8]| {
        assert!(
            limit.is_none_or(|n| rows.len() < n),
            "the visitor was called again after it returned Break"
        );
        rows.push((key.to_vec(), value.to_vec()));
        Ok(if limit.is_some_and(|n| rows.len() >= n) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    };
    scan(&mut visit).expect("range");
    rows
}

/// Every entry of `range`, copied.
pub(crate) fn range_copy(reader: &dyn ReadOps, table: &str, range: &KeyRange<'_>) -> Vec<Entry> {
    collect(None, |visit| reader.range(table, range, visit))
}

/// A whole table, ascending.
pub(crate) fn all(reader: &dyn ReadOps, table: &str) -> Vec<Entry> {
    range_copy(reader, table, &KeyRange::ALL)
}

/// What `range` must visit according to the model: written independently of
/// [`KeyRange::contains`], so that the suite does not trust the code it checks.
pub(crate) fn model_range(model: &Model, range: &KeyRange<'_>, limit: Option<usize>) -> Vec<Entry> {
    let above_start = |key: &[u8]| match range.start {
        Bound::Included(start) => key >= start,
        Bound::Excluded(start) => key > start,
        Bound::Unbounded => true,
    };
    let below_end = |key: &[u8]| match range.end {
        Bound::Included(end) => key <= end,
        Bound::Excluded(end) => key < end,
        Bound::Unbounded => true,
    };
    let mut rows: Vec<Entry> = model
        .iter()
        .filter(|(key, _)| above_start(key) && below_end(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if range.reverse {
        rows.reverse();
    }
    rows.truncate(limit.unwrap_or(usize::MAX));
    rows
}

/// Every entry of the model, ascending.
pub(crate) fn model_all(model: &Model) -> Vec<Entry> {
    model_range(model, &KeyRange::ALL, None)
}

/// A small deterministic pseudo-random generator (SplitMix64): the same seed gives the same
/// sequence on every platform, so a failing case can be replayed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every byte string of length 0 to 3 over an alphabet with the extreme bytes 0x00 and 0xFF:
/// many keys are prefixes of others (`a`, `a\0`, `a\0\0`), which is where byte order is subtle.
pub(crate) fn edge_keys() -> Vec<Vec<u8>> {
    const ALPHABET: [u8; 4] = [0x00, 0x01, b'a', 0xFF];
    let mut keys = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..3 {
        last = last
            .iter()
            .flat_map(|prefix: &Vec<u8>| {
                ALPHABET.iter().map(move |&byte| {
                    let mut key = prefix.clone();
                    key.push(byte);
                    key
                })
            })
            .collect();
        keys.extend(last.iter().cloned());
    }
    keys
}

/// A value that differs for every key and `version`, and has a varying length.
pub(crate) fn value_for(key: &[u8], version: u8) -> Vec<u8> {
    let mut value = vec![version; usize::from(version % 4)];
    value.extend(key.iter().rev());
    value.push(key.len() as u8);
    value
}

/// A random bound over `keys` (mostly keys of the candidate set, sometimes a longer one that
/// lands between stored keys).
pub(crate) fn random_bound(rng: &mut Rng, keys: &[Vec<u8>]) -> Bound<Vec<u8>> {
    let mut key = rng.pick(keys).clone();
    if rng.chance(15) {
        key.push(*rng.pick(&[0x00, 0x7F, 0xFF]));
    }
    match rng.below(5) {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Included(key),
        _ => Bound::Excluded(key),
    }
}

pub(crate) fn borrow_bound(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// Runs `job` on another thread and returns its result, failing the check if it panics or has
/// not finished within [`PATIENCE`] (a stuck thread is left behind, but the check fails instead
/// of hanging).
pub(crate) fn on_thread_within<T: Send + 'static>(
    what: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(job());
    });
    match result.recv_timeout(PATIENCE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {PATIENCE:?}: is the engine stuck?")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Entries from text pairs, for readable expectations.
pub(crate) fn rows(pairs: &[(&str, &str)]) -> Vec<Entry> {
    pairs
        .iter()
        .map(|(key, value)| (key.as_bytes().to_vec(), value.as_bytes().to_vec()))
        .collect()
}

pub(crate) fn names(tables: &[&str]) -> Vec<String> {
    tables.iter().map(|name| name.to_string()).collect()
}

/// Asserts that `result` is the typed "unsupported" answer.
pub(crate) fn assert_unsupported<T: std::fmt::Debug>(result: Result<T>, what: &str) {
    match result {
        Err(error) => assert_eq!(
            error.engine_kind(),
            Some(EngineErrorKind::Unsupported),
            "{what}: an unclaimed capability must answer Unsupported, not {error:?}"
        ),
        Ok(value) => panic!("{what}: an unclaimed capability answered Ok({value:?})"),
    }
}

/// Asserts that `result` failed with an engine error of `kind`.
pub(crate) fn assert_kind<T: std::fmt::Debug>(
    result: Result<T>,
    kind: EngineErrorKind,
    what: &str,
) {
    match result {
        Err(error) => assert_eq!(error.engine_kind(), Some(kind), "{what}: {error:?}"),
        Ok(value) => panic!("{what}: expected a {kind:?} error, got Ok({value:?})"),
    }
}
