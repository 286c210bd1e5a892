//! [`ValueLayer`]: the one engine wrapper of every layer that changes how values are stored
//! (compression, encryption). A [`ValueTransform`] says how a value is encoded on its way in
//! and decoded on its way out; this file does the rest — every read and write method, boxed
//! and scoped transactions — once.
//!
//! Keys, table names, counts and every table operation pass through untouched: a key's bytes
//! are its order. A decoded value is handed to the reader's callback from a buffer reused per
//! thread (a callback that reads again gets a buffer of its own), or borrowed from the engine
//! when the stored form is the value itself.

use std::cell::RefCell;
use std::sync::Arc;

use crate::engine::{
    Engine, Found, KeyRange, ReadBody, ReadOps, ReadTxn, Visit, WriteBody, WriteOptions, WriteTxn,
};
use crate::error::Result;

/// How a [`ValueLayer`] stores values: an encoding applied by every write and undone by every
/// read. Implement it to add a layer of your own.
///
/// # Contract
/// - `decode` of what `encode` wrote for the same `table` and `key` gives back the value.
/// - `decode` of any other bytes returns an error (with a kind a caller can match on, such as
///   [`Error::Layer`](crate::Error::Layer)); it never panics, whatever the bytes.
pub trait ValueTransform: Send + Sync + 'static {
    /// Appends the stored form of `value` (of `key` in `table`) to `out`, which is empty.
    fn encode(&self, table: &str, key: &[u8], value: &[u8], out: &mut Vec<u8>) -> Result<()>;

    /// The value stored as `stored`: borrowed from `stored` when the stored form holds it as
    /// is, or written into `buf` (empty, reused between calls) and borrowed from there.
    fn decode<'a>(
        &self,
        table: &str,
        key: &[u8],
        stored: &'a [u8],
        buf: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]>;
}

/// An engine whose values go through a [`ValueTransform`] on their way in and out.
/// `CompressedEngine` (feature `compression`) and `EncryptedEngine` (feature `encryption`) are
/// this type.
pub struct ValueLayer<T> {
    inner: Arc<dyn Engine>,
    transform: Arc<T>,
}

impl<T: ValueTransform> ValueLayer<T> {
    /// `transform` over the shared engine `inner`.
    pub fn with_transform(inner: Arc<dyn Engine>, transform: T) -> Self {
        ValueLayer {
            inner,
            transform: Arc::new(transform),
        }
    }

    /// The transform this layer applies.
    pub fn transform(&self) -> &T {
        &self.transform
    }

    /// The engine under this layer.
    #[cfg_attr(not(feature = "encryption"), allow(dead_code))]
    pub(crate) fn inner_engine(&self) -> &Arc<dyn Engine> {
        &self.inner
    }
}

impl<T: ValueTransform> Engine for ValueLayer<T> {
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(Transformed {
            inner: self.inner.begin_read()?,
            transform: Arc::clone(&self.transform),
        }))
    }

    fn begin_write(&self, options: WriteOptions) -> Result<Box<dyn WriteTxn>> {
        Ok(Box::new(Transformed {
            inner: self.inner.begin_write(options)?,
            transform: Arc::clone(&self.transform),
        }))
    }

    fn read(&self, body: &mut ReadBody<'_>) -> Result<()> {
        self.inner.read(&mut |reads| {
            body(&Transformed {
                inner: reads,
                transform: &*self.transform,
            })
        })
    }

    fn write(&self, options: WriteOptions, body: &mut WriteBody<'_>) -> Result<()> {
        self.inner.write(options, &mut |txn| {
            body(&Transformed {
                inner: txn,
                transform: &*self.transform,
            })
        })
    }

    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.inner.get(table, key, &mut |stored| {
            decoded(&*self.transform, table, key, stored, |value| found(value))
        })
    }

    super::layer_identity!();
    super::forward_to_inner!(size_on_disk, compact, flush, check_integrity);
}

/// A transaction of the inner engine, boxed (`begin_read`, `begin_write`) or borrowed (the
/// scoped `read` and `write`), with the transform beside it.
struct Transformed<I, T> {
    inner: I,
    transform: T,
}

impl<I: InnerReads, T: std::ops::Deref<Target = X>, X: ValueTransform> ReadOps
    for Transformed<I, T>
{
    fn get(&self, table: &str, key: &[u8], found: &mut Found<'_>) -> Result<bool> {
        self.inner.reads().get(table, key, &mut |stored| {
            decoded(&*self.transform, table, key, stored, |value| found(value))
        })
    }

    fn range(&self, table: &str, range: &KeyRange<'_>, visit: &mut Visit<'_>) -> Result<()> {
        self.inner.reads().range(table, range, &mut |key, stored| {
            decoded(&*self.transform, table, key, stored, |value| {
                visit(key, value)
            })
        })
    }

    super::forward_reads!(len, list_tables, table_stats);
}

impl<I: InnerReads + Send, T: std::ops::Deref<Target = X> + Send, X: ValueTransform> ReadTxn
    for Transformed<I, T>
where
    Transformed<I, T>: ReadOps,
{
}

impl<I: InnerWrites, T: std::ops::Deref<Target = X>, X: ValueTransform> WriteTxn
    for Transformed<I, T>
{
    fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        with_buffer(|stored| {
            self.transform.encode(table, key, value, stored)?;
            self.inner.writes().put(table, key, stored)
        })
    }

    fn delete(&self, table: &str, key: &[u8]) -> Result<bool> {
        self.inner.writes().delete(table, key)
    }

    fn delete_range(&self, table: &str, range: &KeyRange<'_>) -> Result<u64> {
        self.inner.writes().delete_range(table, range)
    }

    fn create_table(&self, table: &str) -> Result<()> {
        self.inner.writes().create_table(table)
    }

    fn drop_table(&self, table: &str) -> Result<bool> {
        self.inner.writes().drop_table(table)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.inner.commit()
    }
}

/// An [`Error::Layer`](crate::Error::Layer) about the stored value of `key` in `table`.
#[cfg_attr(
    not(any(feature = "compression", feature = "encryption")),
    allow(dead_code)
)]
pub(crate) fn layer_error(
    layer: &'static str,
    table: &str,
    key: &[u8],
    kind: crate::LayerErrorKind,
    problem: impl Into<String>,
) -> crate::Error {
    crate::Error::Layer {
        layer,
        table: table.to_owned(),
        key: crate::error::KeyBytes(key.to_vec()),
        kind,
        problem: problem.into(),
    }
}

/// Decodes `stored` with `transform` and hands the value to `use_value`.
fn decoded<X: ValueTransform + ?Sized, R>(
    transform: &X,
    table: &str,
    key: &[u8],
    stored: &[u8],
    use_value: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    with_buffer(|buf| use_value(transform.decode(table, key, stored, buf)?))
}

/// The inner side of a wrapped transaction: the four shapes a layer meets (a boxed snapshot or
/// write transaction, or one borrowed for a scoped call), seen as reads.
pub(crate) trait InnerReads {
    /// The inner transaction's reads.
    fn reads(&self) -> &dyn ReadOps;
}

/// [`InnerReads`] that can write and commit.
pub(crate) trait InnerWrites: InnerReads {
    /// The inner transaction's writes.
    fn writes(&self) -> &dyn WriteTxn;

    /// Commits a boxed transaction. A borrowed one belongs to a scoped
    /// [`Engine::write`], which commits it when the body returns; nothing can reach this.
    fn commit(self) -> Result<()>;
}

impl InnerReads for Box<dyn ReadTxn> {
    fn reads(&self) -> &dyn ReadOps {
        &**self
    }
}

impl InnerReads for &dyn ReadOps {
    fn reads(&self) -> &dyn ReadOps {
        *self
    }
}

impl InnerReads for Box<dyn WriteTxn> {
    fn reads(&self) -> &dyn ReadOps {
        &**self
    }
}

impl InnerReads for &dyn WriteTxn {
    fn reads(&self) -> &dyn ReadOps {
        *self
    }
}

impl InnerWrites for Box<dyn WriteTxn> {
    fn writes(&self) -> &dyn WriteTxn {
        &**self
    }

    fn commit(self) -> Result<()> {
        WriteTxn::commit(self)
    }
}

impl InnerWrites for &dyn WriteTxn {
    fn writes(&self) -> &dyn WriteTxn {
        *self
    }

    fn commit(self) -> Result<()> {
        // A `&dyn WriteTxn` is only ever lent to the body of a scoped write, and `commit`
        // takes a `Box`: no caller can hold a boxed wrapper of a borrowed transaction. Were one
        // to, it gets an error, not a pretend commit.
        Err(crate::Error::engine_failure(
            None,
            crate::Operation::Commit,
            crate::EngineErrorKind::Other,
            "a scoped write transaction commits when its body returns",
        ))
    }
}

/// Buffers kept per thread for decoded and encoded values: enough for reads nested a few deep.
const KEPT_BUFFERS: usize = 8;

/// A buffer larger than this is dropped after use rather than kept (one huge value must not
/// pin its size in every thread).
const KEPT_CAPACITY: usize = 1 << 20;

thread_local! {
    static BUFFERS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `body` with an empty buffer of this thread's pool, then gives it back. A nested call
/// (a read callback reading again) gets another buffer.
pub(crate) fn with_buffer<R>(body: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = BUFFERS
        .with(|pool| pool.borrow_mut().pop())
        .unwrap_or_default();
    buf.clear();
    let out = body(&mut buf);
    if buf.capacity() <= KEPT_CAPACITY {
        BUFFERS.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < KEPT_BUFFERS {
                pool.push(buf);
            }
        });
    }
    out
}
