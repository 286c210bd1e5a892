//! The compression layer: values above a size are stored compressed with lz4 (`lz4_flex`,
//! pure Rust) or zstd (cargo feature `zstd`, zstd's C library), each behind a one-byte header
//! that says how it is stored, so the settings can change on a live database: values written
//! under the old settings stay readable, new ones follow the new settings.
//!
//! # Stored form
//! | first byte | then | written when |
//! |---|---|---|
//! | `0` | the value, as it is | the value is shorter than [`CompressionOptions::min_size`], the compressor is [`Compressor::None`], or compressing did not make it smaller |
//! | `1` | its length (LEB128), an lz4 block | [`Compressor::Lz4`] |
//! | `2` | its length (LEB128), a zstd frame | [`Compressor::Zstd`] |
//!
//! # Reads
//! A value stored as it is reaches the reader borrowed from the engine, zero-copy as without the
//! layer. A compressed one is decompressed into a buffer reused per thread, and the typed view
//! borrows that buffer: **such a read is no longer zero-copy** (one decompression, no
//! allocation once the buffer has grown). A stored value that is not one of these forms —
//! damaged, truncated, or written without the layer — is an
//! [`Error::Layer`](crate::Error::Layer) of kind [`Malformed`](LayerErrorKind::Malformed); a
//! length the compressed bytes cannot produce is refused before anything is allocated.
//!
//! A database is compressed from its creation (or a copy, [`Storage::copy_to`](crate::Storage::copy_to),
//! into a compressed storage): the layer does not tell a value written without it from one
//! written with it. `table_stats` and `size_on_disk` count the stored, compressed bytes.

#[cfg(feature = "zstd")]
use std::cell::RefCell;
use std::sync::Arc;

use super::transform::{ValueLayer, ValueTransform, layer_error};
use crate::engine::Engine;
use crate::engines::{ByteSize, EngineOptions};
use crate::error::{LayerErrorKind, Result};

/// The header byte of a value stored as it is.
const STORED: u8 = 0;
/// The header byte of an lz4 block.
const LZ4: u8 = 1;
/// The header byte of a zstd frame.
const ZSTD: u8 = 2;

/// The largest value the layer decompresses (4 GiB): no engine stores more in one value.
const MAX_VALUE: u64 = 1 << 32;

/// How new values are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compressor {
    /// Stored as they are (behind the header): reads still decompress what was compressed.
    None,
    /// lz4, fast (`lz4_flex`, block format).
    Lz4,
    /// zstd at a level from 1 (fast) to 22 (small); cargo feature `zstd`.
    #[cfg(feature = "zstd")]
    Zstd {
        /// The compression level, 1–22.
        level: i32,
    },
}

/// Options of the compression layer.
///
/// ```
/// use zerotable::layers::{CompressionOptions, Compressor};
/// let options = CompressionOptions { compressor: Compressor::Lz4, min_size: 128 };
/// assert_eq!(CompressionOptions::default().min_size, 64);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompressionOptions {
    /// How new values are compressed (default lz4).
    pub compressor: Compressor,
    /// Values shorter than this many bytes are stored as they are (default 64): compressing
    /// them saves little and costs a copy on every read.
    pub min_size: usize,
}

impl Default for CompressionOptions {
    fn default() -> Self {
        CompressionOptions {
            compressor: Compressor::Lz4,
            min_size: 64,
        }
    }
}

impl CompressionOptions {
    /// The options `value_compression`, `value_compression_level` and
    /// `value_compression_min_size` of an address
    /// or a configuration's layer entry.
    pub(crate) fn from_options(options: &mut EngineOptions) -> Result<Self> {
        let mut out = CompressionOptions::default();
        let name = options.take::<String>("value_compression")?;
        let level = options.take::<i32>("value_compression_level")?;
        out.compressor = match name.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("lz4") => Compressor::Lz4,
            Some("none") => Compressor::None,
            Some("zstd") => zstd_compressor(options, level)?,
            Some(other) => {
                return Err(options.invalid(
                    Some("value_compression"),
                    format!("unknown compressor {other:?}: use lz4, zstd or none"),
                ));
            }
        };
        if level.is_some() && !is_zstd(out.compressor) {
            return Err(options.invalid(
                Some("value_compression_level"),
                "a level applies to zstd only: add value_compression=zstd".to_owned(),
            ));
        }
        if let Some(ByteSize(min)) = options.take::<ByteSize>("value_compression_min_size")? {
            out.min_size = usize::try_from(min).unwrap_or(usize::MAX);
        }
        Ok(out)
    }
}

#[cfg(feature = "zstd")]
fn zstd_compressor(options: &EngineOptions, level: Option<i32>) -> Result<Compressor> {
    let level = level.unwrap_or(3);
    if !(1..=22).contains(&level) {
        return Err(options.invalid(
            Some("value_compression_level"),
            format!("zstd levels go from 1 to 22, got {level}"),
        ));
    }
    Ok(Compressor::Zstd { level })
}

#[cfg(not(feature = "zstd"))]
fn zstd_compressor(options: &EngineOptions, _level: Option<i32>) -> Result<Compressor> {
    Err(options.invalid(
        Some("value_compression"),
        "zstd is not compiled in: enable zerotable's cargo feature `zstd`".to_owned(),
    ))
}

fn is_zstd(compressor: Compressor) -> bool {
    #[cfg(feature = "zstd")]
    if let Compressor::Zstd { .. } = compressor {
        return true;
    }
    let _ = compressor;
    false
}

/// The compression transform of [`CompressedEngine`].
#[derive(Clone, Debug)]
pub struct Compression {
    options: CompressionOptions,
}

impl Compression {
    /// The transform with these options.
    pub fn new(options: CompressionOptions) -> Self {
        Compression { options }
    }

    /// The options new values are written with.
    pub fn options(&self) -> &CompressionOptions {
        &self.options
    }
}

/// An engine whose values are compressed: see the [module](self) for the stored form.
///
/// ```
/// use zerotable::layers::{CompressedEngine, CompressionOptions};
/// use zerotable::{MemoryEngine, Storage};
///
/// let storage = Storage::new(CompressedEngine::new(MemoryEngine::new(), CompressionOptions::default()));
/// let docs = storage.raw_table::<u64>("docs")?;
/// let text = "all work and no play makes jack a dull boy. ".repeat(100);
/// docs.put(&1, text.as_bytes())?;
/// assert_eq!(docs.get(&1, |v| v.len())?, Some(text.len()));
/// assert!(storage.table_stats("docs")?.stored_bytes < text.len() as u64 / 4);
/// # Ok::<(), zerotable::Error>(())
/// ```
pub type CompressedEngine = ValueLayer<Compression>;

impl ValueLayer<Compression> {
    /// Compression over `inner`.
    pub fn new(inner: impl Engine, options: CompressionOptions) -> Self {
        Self::over(Arc::new(inner), options)
    }

    /// Compression over the shared engine `inner`.
    pub fn over(inner: Arc<dyn Engine>, options: CompressionOptions) -> Self {
        ValueLayer::with_transform(inner, Compression::new(options))
    }
}

impl ValueTransform for Compression {
    fn encode(&self, table: &str, _key: &[u8], value: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if value.len() >= self.options.min_size {
            let compressed = match self.options.compressor {
                Compressor::None => false,
                Compressor::Lz4 => lz4_encode(value, out),
                #[cfg(feature = "zstd")]
                Compressor::Zstd { level } => zstd_encode(value, level, out).map_err(|e| {
                    crate::Error::engine_failure(
                        Some(table),
                        crate::Operation::Put,
                        crate::EngineErrorKind::Other,
                        e,
                    )
                })?,
            };
            if compressed && out.len() < value.len() + 1 {
                return Ok(());
            }
        }
        let _ = table;
        out.clear();
        out.reserve(value.len() + 1);
        out.push(STORED);
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode<'a>(
        &self,
        table: &str,
        key: &[u8],
        stored: &'a [u8],
        buf: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        decode(stored, buf)
            .map_err(|(kind, problem)| layer_error("compression", table, key, kind, problem))
    }
}

/// Appends header, length and lz4 block to `out`; always `true`.
fn lz4_encode(value: &[u8], out: &mut Vec<u8>) -> bool {
    out.push(LZ4);
    push_length(out, value.len() as u64);
    let at = out.len();
    out.resize(
        at + lz4_flex::block::get_maximum_output_size(value.len()),
        0,
    );
    match lz4_flex::block::compress_into(value, &mut out[at..]) {
        Ok(written) => {
            out.truncate(at + written);
            true
        }
        Err(_) => false,
    }
}

#[cfg(feature = "zstd")]
thread_local! {
    static ZSTD_COMPRESSORS: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    static ZSTD_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// Appends header, length and zstd frame to `out`, with this thread's compression context.
#[cfg(feature = "zstd")]
fn zstd_encode(value: &[u8], level: i32, out: &mut Vec<u8>) -> std::io::Result<bool> {
    out.push(ZSTD);
    push_length(out, value.len() as u64);
    let at = out.len();
    out.resize(at + zstd::zstd_safe::compress_bound(value.len()), 0);
    ZSTD_COMPRESSORS.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().is_none_or(|(at_level, _)| *at_level != level) {
            *cell = Some((level, zstd::bulk::Compressor::new(level)?));
        }
        let (_, compressor) = cell.as_mut().expect("set above");
        let written = compressor.compress_to_buffer(value, &mut out[at..])?;
        out.truncate(at + written);
        Ok(true)
    })
}

/// What is wrong with a stored value, for [`Error::Layer`](crate::Error::Layer).
type Problem = (LayerErrorKind, String);

/// The value `stored` holds: borrowed from it, or decompressed into `buf`.
fn decode<'a>(stored: &'a [u8], buf: &'a mut Vec<u8>) -> std::result::Result<&'a [u8], Problem> {
    let malformed = |what: &str| {
        (
            LayerErrorKind::Malformed,
            format!(
                "{what}; the value is damaged or was written without the compression layer: \
                 rewrite or delete the entry"
            ),
        )
    };
    let Some((&form, rest)) = stored.split_first() else {
        return Err(malformed("the stored value is empty (no header byte)"));
    };
    match form {
        STORED => Ok(rest),
        LZ4 | ZSTD => {
            let (length, body) = read_length(rest).ok_or_else(|| malformed("bad length"))?;
            // lz4 expands at most ~255 times, a zstd frame at most ~32768 times: a length
            // beyond that is damage, refused before allocating it.
            let ratio = if form == LZ4 { 256 } else { 1 << 15 };
            let possible = (body.len() as u64).saturating_mul(ratio) + (1 << 17);
            if length > MAX_VALUE || length > possible {
                return Err(malformed(&format!(
                    "a length of {length} bytes that {} compressed bytes cannot hold",
                    body.len()
                )));
            }
            let length = length as usize;
            buf.clear();
            buf.resize(length, 0);
            let written = if form == LZ4 {
                lz4_flex::block::decompress_into(body, buf)
                    .map_err(|e| malformed(&format!("lz4 block does not decompress: {e}")))?
            } else {
                zstd_decode(body, buf)?
            };
            if written != length {
                return Err(malformed(&format!(
                    "decompressed to {written} bytes where the header says {length}"
                )));
            }
            Ok(&buf[..])
        }
        other => Err(malformed(&format!("unknown header byte {other}"))),
    }
}

#[cfg(feature = "zstd")]
fn zstd_decode(body: &[u8], buf: &mut [u8]) -> std::result::Result<usize, Problem> {
    ZSTD_DECOMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let decompressor = zstd::bulk::Decompressor::new().map_err(|e| {
                (
                    LayerErrorKind::Malformed,
                    format!("zstd could not start: {e}"),
                )
            })?;
            *cell = Some(decompressor);
        }
        let decompressor = cell.as_mut().expect("set above");
        decompressor.decompress_to_buffer(body, buf).map_err(|e| {
            (
                LayerErrorKind::Malformed,
                format!(
                    "zstd frame does not decompress: {e}; the value is damaged or was written \
                     without the compression layer: rewrite or delete the entry"
                ),
            )
        })
    })
}

#[cfg(not(feature = "zstd"))]
fn zstd_decode(_body: &[u8], _buf: &mut [u8]) -> std::result::Result<usize, Problem> {
    Err((
        LayerErrorKind::NotCompiledIn,
        "the value was compressed with zstd, which this build lacks: enable zerotable's cargo \
         feature `zstd`"
            .to_owned(),
    ))
}

/// Appends `length` as LEB128.
fn push_length(out: &mut Vec<u8>, mut length: u64) {
    while length >= 0x80 {
        out.push((length as u8) | 0x80);
        length >>= 7;
    }
    out.push(length as u8);
}

/// Reads a LEB128 length (at most 10 bytes, no overflow) and the bytes after it.
fn read_length(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut length = 0u64;
    for (at, &byte) in bytes.iter().enumerate().take(10) {
        let part = u64::from(byte & 0x7f);
        let shift = 7 * at as u32;
        if shift == 63 && part > 1 {
            return None;
        }
        length |= part << shift;
        if byte & 0x80 == 0 {
            return Some((length, &bytes[at + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn round_trip(options: CompressionOptions, value: &[u8]) -> Vec<u8> {
        let compression = Compression::new(options);
        let mut stored = Vec::new();
        compression.encode("t", b"k", value, &mut stored).unwrap();
        let mut buf = Vec::new();
        let back = compression.decode("t", b"k", &stored, &mut buf).unwrap();
        assert_eq!(back, value);
        stored
    }

    #[test]
    fn small_and_incompressible_values_are_stored_as_they_are() {
        let stored = round_trip(CompressionOptions::default(), b"short");
        assert_eq!(stored, b"\0short");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        let stored = round_trip(CompressionOptions::default(), &noise);
        assert_eq!(stored[0], STORED);
    }

    #[test]
    fn text_is_compressed_and_settings_can_change() {
        let text = "the quick brown fox jumps over the lazy dog ".repeat(200);
        let stored = round_trip(CompressionOptions::default(), text.as_bytes());
        assert_eq!(stored[0], LZ4);
        assert!(stored.len() < text.len() / 5);
        // Written with lz4, read by a layer now set to store values as they are.
        let plain = Compression::new(CompressionOptions {
            compressor: Compressor::None,
            min_size: 0,
        });
        let mut buf = Vec::new();
        assert_eq!(
            plain.decode("t", b"k", &stored, &mut buf).unwrap(),
            text.as_bytes()
        );
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_round_trips_at_every_level_used() {
        let text = "zstd compresses repeated text well; ".repeat(300);
        for level in [1, 3, 19] {
            let options = CompressionOptions {
                compressor: Compressor::Zstd { level },
                min_size: 64,
            };
            assert_eq!(round_trip(options, text.as_bytes())[0], ZSTD);
        }
    }

    #[test]
    fn lengths_round_trip_and_overlong_ones_are_refused() {
        for length in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            push_length(&mut out, length);
            assert_eq!(read_length(&out), Some((length, &[][..])));
        }
        assert_eq!(read_length(&[0xff; 11]), None);
        assert_eq!(
            read_length(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            None
        );
    }

    #[test]
    fn damaged_values_are_typed_errors() {
        let compression = Compression::new(CompressionOptions::default());
        let text = "abcabcabcabc".repeat(100);
        let mut stored = Vec::new();
        compression
            .encode("t", b"k", text.as_bytes(), &mut stored)
            .unwrap();
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            vec![9, 1, 2],
            vec![LZ4],
            vec![LZ4, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3],
            stored[..stored.len() / 2].to_vec(),
        ];
        let mut longer = stored.clone();
        longer[1] = longer[1].wrapping_add(1);
        cases.push(longer);
        for case in cases {
            let mut buf = Vec::new();
            let err = compression.decode("t", b"k", &case, &mut buf).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Layer {
                        kind: LayerErrorKind::Malformed | LayerErrorKind::NotCompiledIn,
                        ..
                    }
                ),
                "{case:?}: {err}"
            );
        }
    }
}
