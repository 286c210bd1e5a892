//! rkyv values, validated on every read and accessed in place.
//!
//! zerotable builds rkyv with its `unaligned` format: every archived type has alignment 1, so
//! an archive can be validated and read wherever the engine's page put it (redb does not align
//! values; with rkyv's default aligned format about half of all reads would fail validation or
//! need a copy). The format is a crate-wide rkyv switch: see the README, section "rkyv format".
//!
//! # Deriving through `zerotable::rkyv`, and reading owned values
//!
//! An application needs no rkyv dependency of its own: [`zerotable::rkyv`](crate::rkyv) is the
//! rkyv zerotable is built with. rkyv's derives, however, write `::rkyv::…` paths into the code
//! they generate, and without the dependency those fail with E0433, "could not find `rkyv` in
//! the list of imported crates". `#[rkyv(crate = zerotable::rkyv)]` on every derived type
//! points them at the re-export instead. (With `rkyv = "0.8"` as your own dependency, plain
//! `#[derive(Archive, Serialize)]` works too: Cargo resolves it to the same rkyv.)
//!
//! Reads hand your closure the validated archived value (`&ArchivedUser`), borrowed from the
//! store. For an owned `User` — to change it and store it again, to keep it after the read —
//! derive `Deserialize` as well and call `rkyv::deserialize` on it:
//!
//! ```
//! use zerotable::rkyv;
//!
//! #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
//! #[rkyv(crate = zerotable::rkyv)]
//! struct User {
//!     name: String,
//!     visits: u32,
//! }
//!
//! /// The owned `User` of an archived one; rkyv's error becomes a zerotable error.
//! fn to_owned(archived: &ArchivedUser) -> zerotable::Result<User> {
//!     rkyv::deserialize::<User, rkyv::rancor::Error>(archived).map_err(zerotable::Error::callback)
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = zerotable::Storage::in_memory();
//! let users = storage.rkyv_table::<u64, User>("users")?;
//! users.put(&1, &User { name: "ada".into(), visits: 0 })?;
//!
//! // Read owned, change, put back. Two transactions: another writer may come in between.
//! let mut ada: User = users.get(&1, to_owned)?.ok_or("no user 1")??;
//! ada.visits += 1;
//! users.put(&1, &ada)?;
//!
//! // The same change in one transaction. Returning `None` from `update` deletes the key, so
//! // don't let a deserialization error turn into `None`; for a struct of strings, numbers and
//! // vectors deserializing has no error case.
//! users.update(&1, |old| {
//!     let mut user = to_owned(old?).expect("a validated User deserializes");
//!     user.visits += 1;
//!     Some(user)
//! })?;
//! assert_eq!(users.get(&1, to_owned)?.transpose()?, Some(User { name: "ada".into(), visits: 2 }));
//!
//! // Checks that may refuse the change: `get_in` and `put_in` in one write transaction, which
//! // an `Err` rolls back.
//! let refused = storage.write(|tx| {
//!     let mut user = users.get_in(tx, &1, to_owned)?.expect("user 1 exists")?;
//!     user.visits += 1;
//!     users.put_in(tx, &1, &user)?;
//!     if user.visits > 2 {
//!         return Err(zerotable::Error::callback("too many visits"));
//!     }
//!     Ok(())
//! });
//! assert!(refused.is_err());
//! assert_eq!(users.get(&1, |u| u.visits.to_native())?, Some(2)); // rolled back
//! # Ok(())
//! # }
//! ```
//!
//! `examples/rkyv_owned.rs` in the repository is a whole program doing this, with rkyv used
//! only through `zerotable::rkyv`.

use std::cell::RefCell;
use std::marker::PhantomData;

use rkyv::api::high::{HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::{BoxedError, Failure, Source};
use rkyv::ser::allocator::{Arena, ArenaHandle};
use rkyv::util::AlignedVec;
use rkyv::{Archive, Serialize};

use super::{DecodeUnchecked, EncodeError, ValueSerializer};
use crate::error::BoxError;

/// A type zerotable can store with rkyv: serializable with rkyv's default serializer, and whose
/// archived form can be validated by bytecheck (`#[derive(Archive, Serialize)]` gives both).
///
/// Reads validate with rancor's [`Failure`], the cheapest error type (it records nothing), and
/// only when a value fails validate it again with [`BoxedError`], which keeps the validator's
/// reason (which field, which check) in release builds too; serialization reports
/// `BoxedError`. Measured: validating a 90-byte record with `BoxedError` on the success path
/// costs ≈235 instructions more than with `Failure` (callgrind, `peers/callgrind.sh`), a
/// cost every read would pay for an error that almost never happens.
pub trait RkyvValue:
    Archive<
        Archived: for<'a> CheckBytes<HighValidator<'a, Failure>>
                      + for<'a> CheckBytes<HighValidator<'a, BoxedError>>,
    > + for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, BoxedError>>
{
}

impl<T> RkyvValue for T where
    T: Archive<
            Archived: for<'a> CheckBytes<HighValidator<'a, Failure>>
                          + for<'a> CheckBytes<HighValidator<'a, BoxedError>>,
        > + for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, BoxedError>>
{
}

/// Validates `bytes` as an archived `V` and returns it in place; on failure the error says
/// what the validator found, in every build profile.
#[inline]
fn access<V: RkyvValue>(bytes: &[u8]) -> Result<&V::Archived, BoxedError> {
    match rkyv::access::<V::Archived, Failure>(bytes) {
        Ok(archived) => Ok(archived),
        Err(_) => Err(explain::<V>(bytes)),
    }
}

/// Why `bytes` are not a valid archived `V` (validated again, with an error that says so).
#[cold]
#[inline(never)]
fn explain<V: RkyvValue>(bytes: &[u8]) -> BoxedError {
    match rkyv::access::<V::Archived, BoxedError>(bytes) {
        Err(reason) => reason,
        // Validation is deterministic: the second pass fails where the first did.
        Ok(_) => BoxedError::new(Inconsistent),
    }
}

/// The impossible outcome of [`explain`]: the first validation failed and the second passed.
#[derive(Debug)]
struct Inconsistent;

impl std::fmt::Display for Inconsistent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the value failed validation once and passed it when checked again")
    }
}

impl std::error::Error for Inconsistent {}

/// Encode buffers: reused across the puts of a batch, and returned to a small per-thread pool
/// when dropped, so a single `put` does not allocate them either (after a thread's first put).
pub struct RkyvScratch {
    bytes: AlignedVec,
    // An `Option` so that handing the arena back to the pool does not build (allocate) a new one.
    arena: Option<Arena>,
}

/// Buffers larger than this are freed rather than pooled, so one huge value does not pin memory.
const POOLED_CAPACITY_LIMIT: usize = 1 << 20;
/// Scratch buffers kept per thread (nested puts, e.g. inside a scan callback, need more than one).
const POOLED_PER_THREAD: usize = 4;

thread_local! {
    static POOL: RefCell<Vec<(AlignedVec, Arena)>> = const { RefCell::new(Vec::new()) };
}

impl Default for RkyvScratch {
    fn default() -> Self {
        // `try_with`: during thread teardown the pool may already be gone.
        let pooled = POOL.try_with(|pool| pool.borrow_mut().pop()).ok().flatten();
        let (bytes, arena) = pooled.unwrap_or_default();
        RkyvScratch {
            bytes,
            arena: Some(arena),
        }
    }
}

impl Drop for RkyvScratch {
    fn drop(&mut self) {
        if self.bytes.capacity() > POOLED_CAPACITY_LIMIT {
            return;
        }
        let Some(mut arena) = self.arena.take() else {
            return;
        };
        arena.shrink();
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOLED_PER_THREAD {
                pool.push((bytes, arena));
            }
        });
    }
}

/// Serializes owned `V` values with rkyv; reads give `&Archived<V>`, validated.
pub struct RkyvSerializer<V>(PhantomData<fn() -> V>);

/// Stores bytes that are already an archived `V` (validated before storing); reads give
/// `&Archived<V>`, validated.
pub struct RkyvBytesSerializer<V>(PhantomData<fn() -> V>);

impl<V: RkyvValue + 'static> ValueSerializer<V> for RkyvSerializer<V> {
    type Output<'a> = &'a V::Archived;
    type Scratch = RkyvScratch;
    const FORMAT: &'static str = "rkyv";

    fn value_type_name(&self) -> Option<String> {
        Some(super::type_name_of::<V>())
    }

    fn encode<'s>(
        &self,
        value: &'s V,
        scratch: &'s mut RkyvScratch,
    ) -> Result<&'s [u8], EncodeError> {
        let mut bytes = std::mem::take(&mut scratch.bytes);
        bytes.clear();
        let bytes = rkyv::api::high::to_bytes_in_with_alloc::<_, _, BoxedError>(
            value,
            bytes,
            scratch.arena.get_or_insert_with(Arena::new).acquire(),
        )
        .map_err(|e| EncodeError::Serialize(Box::new(e)))?;
        scratch.bytes = bytes;
        Ok(scratch.bytes.as_slice())
    }

    #[inline]
    fn decode<'a>(&self, bytes: &'a [u8]) -> Result<&'a V::Archived, BoxError> {
        Ok(access::<V>(bytes)?)
    }
}

impl<V: RkyvValue + 'static> DecodeUnchecked<V> for RkyvSerializer<V> {
    #[inline]
    unsafe fn decode_unchecked<'a>(&self, bytes: &'a [u8]) -> &'a V::Archived {
        // SAFETY: the caller guarantees `bytes` hold a valid archived `V`; with the `unaligned`
        // format every archived type has alignment 1, so any address is suitably aligned.
        unsafe { rkyv::access_unchecked::<V::Archived>(bytes) }
    }
}

impl<V: RkyvValue + 'static> ValueSerializer<[u8]> for RkyvBytesSerializer<V> {
    type Output<'a> = &'a V::Archived;
    type Scratch = ();
    const FORMAT: &'static str = "rkyv";

    fn value_type_name(&self) -> Option<String> {
        Some(super::type_name_of::<V>())
    }

    fn encode<'s>(&self, value: &'s [u8], _: &'s mut ()) -> Result<&'s [u8], EncodeError> {
        access::<V>(value).map_err(|e| EncodeError::Invalid(Box::new(e)))?;
        Ok(value)
    }

    #[inline]
    fn decode<'a>(&self, bytes: &'a [u8]) -> Result<&'a V::Archived, BoxError> {
        Ok(access::<V>(bytes)?)
    }
}

/// Implements the marker-type boilerplate without requiring anything of `V`.
macro_rules! phantom_serializer {
    ($name:ident) => {
        impl<V> $name<V> {
            /// The serializer for `V`.
            pub const fn new() -> Self {
                $name(::std::marker::PhantomData)
            }
        }
        impl<V> Default for $name<V> {
            fn default() -> Self {
                Self::new()
            }
        }
        impl<V> Clone for $name<V> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<V> Copy for $name<V> {}
        impl<V> ::std::fmt::Debug for $name<V> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}<{}>", stringify!($name), std::any::type_name::<V>())
            }
        }
    };
}
pub(crate) use phantom_serializer;

phantom_serializer!(RkyvSerializer);
phantom_serializer!(RkyvBytesSerializer);
