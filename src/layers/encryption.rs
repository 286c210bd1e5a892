//! The encryption layer: every value is sealed with XChaCha20-Poly1305 (RustCrypto, pure Rust)
//! under a fresh random 24-byte nonce, with associated data that binds it to its table and its
//! row key.
//!
//! # What is protected
//! - **Values**: confidential, and authenticated. A flipped bit, a truncation, a value copied
//!   to another key or another table, or a read with the wrong key is an
//!   [`Error::Layer`] of kind [`Tampered`](LayerErrorKind::Tampered): the
//!   value decoder never sees the bytes.
//! - **Not protected**: row keys and table names are stored in the clear (their byte order is
//!   what makes ranges work), and so are value sizes (plus 45 bytes), the number of entries,
//!   and the access pattern. Deleting a row, or putting back an older value of the *same* key
//!   and table (a rollback of that row), is not detected: a value is bound to where it is,
//!   not to when it was written. Plaintext is in memory while it is read, and stays there in
//!   a [`CachedEngine`](super::CachedEngine) put above this layer.
//!
//! # Stored form
//! `[1: format][key id: u32 LE][nonce: 24 bytes][ciphertext][tag: 16 bytes]`, sealed with the
//! associated data `"zerotable.encryption.v1" ‖ format ‖ key id ‖ len(table): u32 LE ‖ table ‖
//! row key`.
//!
//! # Keys
//! 32 bytes, from the caller ([`EncryptionKey::from_bytes`]), a file (raw, or 64 hex digits),
//! or an environment variable (64 hex digits); never from an address. Key material is wiped
//! from memory when dropped (`zeroize`). A [`Keyring`] holds the key new values are sealed
//! under and retired keys that still open older values, each under its id: rotate by adding a
//! new current key and keeping the old one retired, then re-encrypt in place with
//! [`EncryptedEngine::rotate`] (or copy into a storage with only the new key through
//! [`Storage::copy_to`](crate::Storage::copy_to)); once nothing is sealed under the old key,
//! drop it from the ring.
//!
//! A database is encrypted from its creation (or a copy into an encrypted storage): a value
//! written without the layer fails authentication like a damaged one.

use std::fmt;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::transform::{ValueLayer, ValueTransform, layer_error, with_buffer};
use crate::engine::{Engine, KeyRange, WriteOptions};
use crate::engines::EngineOptions;
use crate::error::{Error, LayerErrorKind, Result};

/// The format byte of the stored form.
const FORMAT: u8 = 1;
/// Format byte and key id.
const HEADER: usize = 1 + 4;
const NONCE: usize = 24;
const TAG: usize = 16;
/// What sealing adds to a value: header, nonce and tag.
pub const OVERHEAD: usize = HEADER + NONCE + TAG;
const CONTEXT: &[u8] = b"zerotable.encryption.v1";

/// A 256-bit key, wiped from memory when dropped. Its `Debug` shows no key material.
///
/// ```
/// use zerotable::layers::EncryptionKey;
/// let key = EncryptionKey::from_hex(&"00".repeat(32))?;
/// assert_eq!(format!("{key:?}"), "EncryptionKey(..)");
/// assert!(EncryptionKey::from_hex("abc").is_err());
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EncryptionKey(bytes)
    }

    /// A new random key, from the operating system's generator.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut bytes[..]).map_err(|e| key_error("the random generator", e))?;
        Ok(EncryptionKey(*bytes))
    }

    /// A key from 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(hex: &str) -> Result<Self> {
        parse_hex(hex.trim().as_bytes())
            .map(EncryptionKey)
            .ok_or_else(|| key_error("the key", "expected 64 hex digits (32 bytes)"))
    }

    /// A key from a file holding its 32 bytes, raw, or as 64 hex digits.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let origin = format!("key file {}", path.display());
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| key_error(&origin, e))?);
        if let Ok(raw) = <[u8; 32]>::try_from(&bytes[..]) {
            return Ok(EncryptionKey(raw));
        }
        let text = bytes.trim_ascii();
        parse_hex(text).map(EncryptionKey).ok_or_else(|| {
            key_error(
                &origin,
                format!(
                    "holds {} bytes: expected the 32-byte key, raw or as 64 hex digits",
                    bytes.len()
                ),
            )
        })
    }

    /// A key from the environment variable `name`, as 64 hex digits.
    pub fn from_env(name: &str) -> Result<Self> {
        let origin = format!("environment variable {name}");
        let value = Zeroizing::new(
            std::env::var(name)
                .map_err(|e| key_error(&origin, format!("{e}: set it to the key")))?,
        );
        parse_hex(value.trim().as_bytes())
            .map(EncryptionKey)
            .ok_or_else(|| key_error(&origin, "expected 64 hex digits (32 bytes)"))
    }

    /// The key as 64 lowercase hex digits (to write a key file), wiped when dropped.
    pub fn to_hex(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(64));
        for byte in self.0 {
            out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
            out.push(char::from_digit(u32::from(byte & 15), 16).unwrap_or('0'));
        }
        out
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

fn parse_hex(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *byte = (high * 16 + low) as u8;
    }
    Some(out)
}

fn key_error(origin: &str, problem: impl fmt::Display) -> Error {
    Error::InvalidConfig {
        origin: origin.to_owned(),
        option: None,
        problem: format!("no encryption key: {problem}"),
    }
}

/// The keys of the encryption layer: the current one, which seals new values, and retired
/// ones, which still open values sealed under them. Each has an id, stored with every value.
///
/// ```
/// use zerotable::layers::{EncryptionKey, Keyring};
/// let ring = Keyring::new(2, EncryptionKey::from_bytes([2; 32]))
///     .retired(1, EncryptionKey::from_bytes([1; 32]))?;
/// assert_eq!(ring.current_id(), 2);
/// assert_eq!(ring.ids(), vec![1, 2]);
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Keyring {
    current: u32,
    keys: Vec<(u32, EncryptionKey)>,
}

impl Keyring {
    /// A ring whose current key, sealing every new value, is `key` under `id`.
    pub fn new(id: u32, key: EncryptionKey) -> Self {
        Keyring {
            current: id,
            keys: vec![(id, key)],
        }
    }

    /// Adds a retired key, which opens values sealed under `id` and seals nothing new. An id
    /// given twice is an error.
    pub fn retired(mut self, id: u32, key: EncryptionKey) -> Result<Self> {
        if self.keys.iter().any(|(have, _)| *have == id) {
            return Err(key_error(
                "the keyring",
                format!("key id {id} is given twice"),
            ));
        }
        self.keys.push((id, key));
        Ok(self)
    }

    /// The id new values are sealed under.
    pub fn current_id(&self) -> u32 {
        self.current
    }

    /// Every id in the ring, ascending.
    pub fn ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.keys.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids
    }
}

/// Options of the encryption layer: its keys.
#[derive(Clone, Debug)]
pub struct EncryptionOptions {
    /// The keys.
    pub keyring: Keyring,
}

impl EncryptionOptions {
    /// Options sealing every value under `key` (id 1).
    pub fn with_key(key: EncryptionKey) -> Self {
        EncryptionOptions {
            keyring: Keyring::new(1, key),
        }
    }

    /// The options `encryption_key_file` or `encryption_key_env` (one of them),
    /// `encryption_key_id` and `encryption_retired_keys` of an address or a configuration's
    /// layer entry. The key is read now.
    pub(crate) fn from_options(options: &mut EngineOptions) -> Result<Self> {
        let file = options.take::<String>("encryption_key_file")?;
        let env = options.take::<String>("encryption_key_env")?;
        let id = options.take::<u32>("encryption_key_id")?.unwrap_or(1);
        let retired = options.take::<String>("encryption_retired_keys")?;
        let in_option = |name: &str, err: Error| options.invalid(Some(name), err.to_string());
        let key = match (file, env) {
            (Some(file), None) => {
                EncryptionKey::from_file(&file).map_err(|e| in_option("encryption_key_file", e))?
            }
            (None, Some(env)) => {
                EncryptionKey::from_env(&env).map_err(|e| in_option("encryption_key_env", e))?
            }
            (Some(_), Some(_)) => {
                return Err(options.invalid(
                    None,
                    "give one of encryption_key_file and encryption_key_env, not both".to_owned(),
                ));
            }
            (None, None) => {
                return Err(options.invalid(
                    None,
                    "the encryption layer needs its key: give encryption_key_file (a file \
                     holding the key) or encryption_key_env (a variable holding it in hex)"
                        .to_owned(),
                ));
            }
        };
        let mut keyring = Keyring::new(id, key);
        for entry in retired.iter().flat_map(|list| list.split(',')) {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let parsed = entry.split_once('=').and_then(|(id, source)| {
                let id = id.trim().parse::<u32>().ok()?;
                let source = source.trim();
                Some((id, source))
            });
            let Some((retired_id, source)) = parsed else {
                return Err(options.invalid(
                    Some("encryption_retired_keys"),
                    format!("{entry:?} is not `id=file:PATH` or `id=env:VAR`"),
                ));
            };
            let key = if let Some(path) = source.strip_prefix("file:") {
                EncryptionKey::from_file(path)
            } else if let Some(var) = source.strip_prefix("env:") {
                EncryptionKey::from_env(var)
            } else {
                return Err(options.invalid(
                    Some("encryption_retired_keys"),
                    format!("{entry:?}: the key's source is `file:PATH` or `env:VAR`"),
                ));
            };
            keyring = key
                .and_then(|key| keyring.retired(retired_id, key))
                .map_err(|e| in_option("encryption_retired_keys", e))?;
        }
        Ok(EncryptionOptions { keyring })
    }
}

/// The encryption transform of [`EncryptedEngine`]: one cipher per key of the ring.
pub struct Encryption {
    current: u32,
    ciphers: Vec<(u32, XChaCha20Poly1305)>,
}

impl Encryption {
    /// The transform with these keys.
    pub fn new(options: &EncryptionOptions) -> Self {
        Encryption {
            current: options.keyring.current,
            ciphers: options
                .keyring
                .keys
                .iter()
                .map(|(id, key)| (*id, XChaCha20Poly1305::new((&key.0).into())))
                .collect(),
        }
    }

    fn cipher(&self, id: u32) -> Option<&XChaCha20Poly1305> {
        self.ciphers
            .iter()
            .find(|(have, _)| *have == id)
            .map(|(_, cipher)| cipher)
    }

    /// The key id a stored value is sealed under, if it has the layer's form.
    fn key_id_of(stored: &[u8]) -> Option<u32> {
        if stored.len() < OVERHEAD || stored[0] != FORMAT {
            return None;
        }
        Some(u32::from_le_bytes(stored[1..5].try_into().ok()?))
    }
}

impl fmt::Debug for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u32> = self.ciphers.iter().map(|(id, _)| *id).collect();
        f.debug_struct("Encryption")
            .field("current", &self.current)
            .field("key_ids", &ids)
            .finish()
    }
}

/// Runs `body` with the associated data binding a value to `header`, `table` and `key`.
fn with_associated_data<R>(
    header: &[u8],
    table: &str,
    key: &[u8],
    body: impl FnOnce(&[u8]) -> R,
) -> R {
    with_buffer(|aad| {
        aad.extend_from_slice(CONTEXT);
        aad.extend_from_slice(header);
        aad.extend_from_slice(&(table.len() as u32).to_le_bytes());
        aad.extend_from_slice(table.as_bytes());
        aad.extend_from_slice(key);
        body(aad)
    })
}

impl ValueTransform for Encryption {
    fn encode(&self, table: &str, key: &[u8], value: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let cipher = self
            .cipher(self.current)
            .unwrap_or_else(|| unreachable!("a keyring always holds its current key"));
        out.reserve(value.len() + OVERHEAD);
        out.push(FORMAT);
        out.extend_from_slice(&self.current.to_le_bytes());
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|e| {
            Error::engine_failure(
                Some(table),
                crate::Operation::Put,
                crate::EngineErrorKind::Other,
                format!("no random nonce: {e}"),
            )
        })?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(value);
        let (header, rest) = out.split_at_mut(HEADER);
        let body = &mut rest[NONCE..];
        let tag = with_associated_data(header, table, key, |aad| {
            cipher.encrypt_in_place_detached(XNonce::from_slice(&nonce), aad, body)
        })
        .map_err(|_| {
            Error::engine_failure(
                Some(table),
                crate::Operation::Put,
                crate::EngineErrorKind::LimitExceeded,
                "the value is too long to encrypt",
            )
        })?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    fn decode<'a>(
        &self,
        table: &str,
        key: &[u8],
        stored: &'a [u8],
        buf: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let fail = |kind, problem: String| layer_error("encryption", table, key, kind, problem);
        let Some(id) = Self::key_id_of(stored) else {
            return Err(fail(
                LayerErrorKind::Malformed,
                format!(
                    "{} bytes that are not a sealed value (too short, or an unknown format): \
                     the value is damaged or was written without the encryption layer",
                    stored.len()
                ),
            ));
        };
        let Some(cipher) = self.cipher(id) else {
            return Err(fail(
                LayerErrorKind::UnknownKey,
                format!(
                    "the value is sealed under key id {id}, which the keyring lacks (it holds \
                     {:?}): add that key as a retired key",
                    self.ciphers.iter().map(|(id, _)| *id).collect::<Vec<_>>()
                ),
            ));
        };
        let (header, rest) = stored.split_at(HEADER);
        let (nonce, sealed) = rest.split_at(NONCE);
        let (body, tag) = sealed.split_at(sealed.len() - TAG);
        buf.clear();
        buf.extend_from_slice(body);
        let opened = with_associated_data(header, table, key, |aad| {
            cipher.decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                aad,
                buf,
                Tag::from_slice(tag),
            )
        });
        if opened.is_err() {
            buf.zeroize();
            return Err(fail(
                LayerErrorKind::Tampered,
                "the value fails authentication: its bytes were changed, it was moved from \
                 another key or table, or the key is not the one it was sealed with (or it was \
                 written without the encryption layer); restore it from a backup, or delete it"
                    .to_owned(),
            ));
        }
        Ok(&buf[..])
    }
}

/// An engine whose values are encrypted and authenticated: see the [module](self) for what is
/// protected.
///
/// ```
/// use zerotable::layers::{EncryptedEngine, EncryptionKey, EncryptionOptions};
/// use zerotable::{MemoryEngine, Storage};
///
/// let key = EncryptionKey::generate()?;
/// let storage = Storage::new(EncryptedEngine::new(MemoryEngine::new(), EncryptionOptions::with_key(key)));
/// let secrets = storage.raw_table::<u64>("secrets")?;
/// secrets.put(&1, b"the launch code")?;
/// assert_eq!(secrets.get(&1, |v| v.to_vec())?, Some(b"the launch code".to_vec()));
/// # Ok::<(), zerotable::Error>(())
/// ```
pub type EncryptedEngine = ValueLayer<Encryption>;

impl ValueLayer<Encryption> {
    /// Encryption over `inner`.
    pub fn new(inner: impl Engine, options: EncryptionOptions) -> Self {
        Self::over(Arc::new(inner), options)
    }

    /// Encryption over the shared engine `inner`.
    pub fn over(inner: Arc<dyn Engine>, options: EncryptionOptions) -> Self {
        ValueLayer::with_transform(inner, Encryption::new(&options))
    }

    /// Re-encrypts, in place, every value sealed under a key other than the current one;
    /// returns how many. Works table by table in transactions of at most 1,000 values, each
    /// reading and rewriting its values under the write lock, so writers may go on meanwhile
    /// and nothing they write is overwritten. Needs the engine's table administration (to list
    /// the tables).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use zerotable::layers::{EncryptedEngine, EncryptionKey, EncryptionOptions, Keyring};
    /// use zerotable::{Engine, MemoryEngine, Storage};
    ///
    /// let (old, new) = (EncryptionKey::from_bytes([1; 32]), EncryptionKey::from_bytes([2; 32]));
    /// let disk: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
    /// let before = EncryptedEngine::over(disk.clone(), EncryptionOptions::with_key(old.clone()));
    /// Storage::new(before).raw_table::<u64>("t")?.put(&1, b"secret")?;
    ///
    /// let keyring = Keyring::new(2, new.clone()).retired(1, old)?;
    /// let rotating = EncryptedEngine::over(disk.clone(), EncryptionOptions { keyring });
    /// assert_eq!(rotating.rotate()?, 2); // the row, and the catalog record of its table
    ///
    /// let after = Storage::new(EncryptedEngine::over(disk, EncryptionOptions { keyring: Keyring::new(2, new) }));
    /// assert_eq!(after.raw_table::<u64>("t")?.get(&1, |v| v.to_vec())?, Some(b"secret".to_vec()));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn rotate(&self) -> Result<u64> {
        const CHUNK: usize = 1_000;
        let inner = self.inner_engine();
        let encryption = self.transform();
        let mut tables = Vec::new();
        inner.read(&mut |reads| {
            tables = reads.list_tables()?;
            Ok(())
        })?;
        let mut rotated = 0u64;
        for table in &tables {
            let mut after: Option<Vec<u8>> = None;
            loop {
                let mut last: Option<Vec<u8>> = None;
                let mut seen = 0usize;
                inner.write(WriteOptions::DEFAULT, &mut |txn| {
                    let mut stale: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                    seen = 0;
                    last = None;
                    let range = KeyRange {
                        start: after
                            .as_deref()
                            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                        end: std::ops::Bound::Unbounded,
                        reverse: false,
                    };
                    txn.range(table, &range, &mut |key, stored| {
                        seen += 1;
                        last = Some(key.to_vec());
                        if Encryption::key_id_of(stored) != Some(encryption.current) {
                            stale.push((key.to_vec(), stored.to_vec()));
                        }
                        Ok(if seen == CHUNK {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        })
                    })?;
                    for (key, stored) in &stale {
                        let mut plain = Zeroizing::new(Vec::new());
                        let value = encryption.decode(table, key, stored, &mut plain)?;
                        let mut sealed = Vec::new();
                        encryption.encode(table, key, value, &mut sealed)?;
                        txn.put(table, key, &sealed)?;
                    }
                    rotated += stale.len() as u64;
                    Ok(())
                })?;
                if seen < CHUNK {
                    break;
                }
                after = last;
            }
        }
        Ok(rotated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(id: u32, byte: u8) -> EncryptionOptions {
        EncryptionOptions {
            keyring: Keyring::new(id, EncryptionKey::from_bytes([byte; 32])),
        }
    }

    fn seal(encryption: &Encryption, table: &str, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encryption.encode(table, key, value, &mut out).unwrap();
        out
    }

    fn open(encryption: &Encryption, table: &str, key: &[u8], stored: &[u8]) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        encryption
            .decode(table, key, stored, &mut buf)
            .map(<[u8]>::to_vec)
    }

    fn kind(result: Result<Vec<u8>>) -> LayerErrorKind {
        match result {
            Err(Error::Layer { kind, .. }) => kind,
            other => panic!("expected a layer error, got {other:?}"),
        }
    }

    #[test]
    fn values_round_trip_with_fresh_nonces() {
        let encryption = Encryption::new(&ring(1, 7));
        let a = seal(&encryption, "t", b"k", b"hello");
        let b = seal(&encryption, "t", b"k", b"hello");
        assert_ne!(a, b, "every seal draws a new nonce");
        assert_eq!(a.len(), 5 + OVERHEAD);
        assert_eq!(open(&encryption, "t", b"k", &a).unwrap(), b"hello");
        assert_eq!(
            open(&encryption, "t", b"k", &seal(&encryption, "t", b"k", b"")).unwrap(),
            b""
        );
    }

    #[test]
    fn moved_flipped_truncated_or_wrong_key_values_are_refused() {
        let encryption = Encryption::new(&ring(1, 7));
        let stored = seal(&encryption, "users", b"alice", b"balance=100");
        assert_eq!(
            kind(open(&encryption, "users", b"bob", &stored)),
            LayerErrorKind::Tampered
        );
        assert_eq!(
            kind(open(&encryption, "admins", b"alice", &stored)),
            LayerErrorKind::Tampered
        );
        for at in 0..stored.len() {
            let mut flipped = stored.clone();
            flipped[at] ^= 0x01;
            let err = kind(open(&encryption, "users", b"alice", &flipped));
            assert!(
                matches!(
                    err,
                    LayerErrorKind::Tampered
                        | LayerErrorKind::Malformed
                        | LayerErrorKind::UnknownKey
                ),
                "byte {at}: {err:?}"
            );
        }
        for len in 0..stored.len() {
            assert!(open(&encryption, "users", b"alice", &stored[..len]).is_err());
        }
        let other = Encryption::new(&ring(1, 8));
        assert_eq!(
            kind(open(&other, "users", b"alice", &stored)),
            LayerErrorKind::Tampered
        );
        let other_id = Encryption::new(&ring(2, 7));
        assert_eq!(
            kind(open(&other_id, "users", b"alice", &stored)),
            LayerErrorKind::UnknownKey
        );
    }

    #[test]
    fn keys_parse_from_hex_files_and_never_show() {
        let key = EncryptionKey::generate().unwrap();
        let again = EncryptionKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(key.0, again.0);
        let dir = tempfile::tempdir().unwrap();
        let hex = dir.path().join("hex.key");
        std::fs::write(&hex, format!("{}\n", &*key.to_hex())).unwrap();
        assert_eq!(EncryptionKey::from_file(&hex).unwrap().0, key.0);
        let raw = dir.path().join("raw.key");
        std::fs::write(&raw, key.0).unwrap();
        assert_eq!(EncryptionKey::from_file(&raw).unwrap().0, key.0);
        let short = dir.path().join("short.key");
        std::fs::write(&short, b"0123").unwrap();
        let err = EncryptionKey::from_file(&short).unwrap_err().to_string();
        assert!(err.contains("holds 4 bytes"), "{err}");
        assert!(!err.contains("0123"), "{err}");
        assert!(!format!("{:?}", ring(1, 9)).contains("9, 9"));
    }
}
