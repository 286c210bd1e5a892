//! How zerotable's keys and table names are stored in LMDB, which refuses empty keys, limits
//! keys (and so database names) to 511 bytes, and names databases with C strings.
//!
//! - **Keys** are stored behind one prefix byte, `0x00`: the empty key becomes `[0x00]`, and
//!   since every stored key has the same first byte, LMDB's memcmp order is the order of the
//!   keys themselves. A key may therefore have [`MAX_KEY`] = 510 bytes.
//! - **Tables** are LMDB named databases called `t:` + the table name, or `x:` + the name in
//!   hexadecimal when it contains a NUL byte (which a C string cannot hold). zerotable's own
//!   list of tables is the database [`REGISTRY`], whose name has neither prefix, so no table
//!   name can collide with it. The registry's keys are the table names, stored like keys.

use std::borrow::Cow;
use std::ops::Bound;

/// The longest key LMDB stores (`mdb_env_get_maxkeysize` of heed's build without the
/// `longer-keys` feature), prefix included.
pub(super) const LMDB_MAX_KEY: usize = 511;

/// The longest key zerotable can store: LMDB's limit minus the prefix byte.
pub const MAX_KEY: usize = LMDB_MAX_KEY - 1;

/// The byte in front of every stored key.
const PREFIX: u8 = 0;

/// The named database that lists zerotable's tables (one key per table).
pub(super) const REGISTRY: &str = "zerotable:tables";

/// A key with its prefix byte, on the stack.
pub(super) struct StoredKey {
    bytes: [u8; LMDB_MAX_KEY],
    len: usize,
}

impl StoredKey {
    /// The stored form of `key`; `None` when it is longer than [`MAX_KEY`].
    #[inline]
    pub(super) fn new(key: &[u8]) -> Option<Self> {
        if key.len() > MAX_KEY {
            return None;
        }
        let mut bytes = [0; LMDB_MAX_KEY];
        bytes[0] = PREFIX;
        bytes[1..=key.len()].copy_from_slice(key);
        Some(StoredKey {
            bytes,
            len: key.len() + 1,
        })
    }

    #[inline]
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The key a stored key stands for; `None` for bytes zerotable did not write (no prefix).
#[inline]
pub(super) fn user_key(stored: &[u8]) -> Option<&[u8]> {
    match stored.split_first() {
        Some((&PREFIX, key)) => Some(key),
        _ => None,
    }
}

/// A bound of a range, in stored form.
///
/// A bound longer than any storable key is cut to [`MAX_KEY`] bytes, which selects the same
/// stored keys: a key of at most 510 bytes is above a longer bound exactly when it is above its
/// first 510 bytes, and below it exactly when it is at most those 510 bytes.
pub(super) fn stored_bound(bound: Bound<&[u8]>, start: bool) -> Bound<StoredKey> {
    let cut = |key: &[u8]| StoredKey::new(&key[..MAX_KEY]).unwrap_or_else(|| unreachable!());
    match bound {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(key) | Bound::Excluded(key) if key.len() > MAX_KEY => {
            if start {
                Bound::Excluded(cut(key))
            } else {
                Bound::Included(cut(key))
            }
        }
        Bound::Included(key) => {
            Bound::Included(StoredKey::new(key).unwrap_or_else(|| unreachable!()))
        }
        Bound::Excluded(key) => {
            Bound::Excluded(StoredKey::new(key).unwrap_or_else(|| unreachable!()))
        }
    }
}

/// A stored bound as heed takes it.
pub(super) fn as_slice(bound: &Bound<StoredKey>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(key) => Bound::Included(key.as_bytes()),
        Bound::Excluded(key) => Bound::Excluded(key.as_bytes()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The LMDB database name of `table`; `None` when the name would be longer than LMDB allows
/// (database names are keys of LMDB's main database).
pub(super) fn database_name(table: &str) -> Option<Cow<'static, str>> {
    let name = if table.contains('\0') {
        let mut name = String::with_capacity(2 + 2 * table.len());
        name.push_str("x:");
        for byte in table.bytes() {
            name.push_str(&format!("{byte:02x}"));
        }
        name
    } else {
        format!("t:{table}")
    };
    // The registry stores the table name as a key too: the shorter limit of the two wins.
    (name.len() <= LMDB_MAX_KEY && table.len() <= MAX_KEY).then_some(Cow::Owned(name))
}

/// What an entry of LMDB's main database (a database name) is to zerotable.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DatabaseName {
    /// A table's database.
    Table(String),
    /// The registry.
    Registry,
    /// Something zerotable did not create.
    Foreign,
}

/// Reads a database name back.
pub(super) fn classify(name: &[u8]) -> DatabaseName {
    if name == REGISTRY.as_bytes() {
        return DatabaseName::Registry;
    }
    let table = match name {
        [b't', b':', rest @ ..] => std::str::from_utf8(rest).ok().map(str::to_owned),
        [b'x', b':', hex @ ..] => decode_hex(hex).and_then(|bytes| String::from_utf8(bytes).ok()),
        _ => None,
    };
    table.map_or(DatabaseName::Foreign, DatabaseName::Table)
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for table in [
            "users",
            "",
            "a:b",
            "x:y",
            "with\0nul",
            "zerotable:tables",
            "é",
        ] {
            let name = database_name(table).unwrap();
            assert_eq!(
                classify(name.as_bytes()),
                DatabaseName::Table(table.to_owned())
            );
        }
        assert_eq!(classify(REGISTRY.as_bytes()), DatabaseName::Registry);
        assert_eq!(classify(b"other"), DatabaseName::Foreign);
        assert!(database_name(&"n".repeat(509)).is_some());
        assert!(database_name(&"n".repeat(510)).is_none());
    }

    #[test]
    fn keys_keep_their_order() {
        let mut keys: Vec<&[u8]> = vec![b"", b"\x00", b"a", b"a\x00", b"\xff", b"ab"];
        keys.sort();
        let stored: Vec<Vec<u8>> = keys
            .iter()
            .map(|key| StoredKey::new(key).unwrap().as_bytes().to_vec())
            .collect();
        let mut sorted = stored.clone();
        sorted.sort();
        assert_eq!(stored, sorted);
        assert!(StoredKey::new(&[1; MAX_KEY]).is_some());
        assert!(StoredKey::new(&[1; MAX_KEY + 1]).is_none());
        assert_eq!(
            user_key(StoredKey::new(b"k").unwrap().as_bytes()),
            Some(&b"k"[..])
        );
    }
}
