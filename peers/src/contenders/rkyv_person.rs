//! What every raw contender storing rkyv bytes shares (raw redb, raw fjall, raw SQLite blob, raw
//! RocksDB, and heed's reads): the serializer with its reused buffers, and the validated read of
//! one field — the same logical work as zerotable's validated `get` on every engine.

use rkyv::rancor;

use crate::Person;
use crate::data::ArchivedPerson;

/// rkyv's serializer buffers, reused across writes (what zerotable's put_batch does too).
#[derive(Default)]
pub(super) struct Encoder {
    bytes: rkyv::util::AlignedVec,
    arena: rkyv::ser::allocator::Arena,
}

impl Encoder {
    /// `person` archived, in the reused buffer.
    pub(super) fn encode(&mut self, person: &Person) -> &[u8] {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        self.bytes = rkyv::api::high::to_bytes_in_with_alloc::<_, _, rancor::Error>(
            person,
            bytes,
            self.arena.acquire(),
        )
        .expect("serialize person");
        &self.bytes
    }
}

/// Validated access (bytecheck), the same logical work as zerotable's `get`: a stored value is
/// checked before its field is read.
pub(super) fn revenue_of(bytes: &[u8]) -> f64 {
    rkyv::access::<ArchivedPerson, rancor::Error>(bytes)
        .expect("valid archived person")
        .revenue
        .to_native()
}

/// The big-endian bytes of `id`: byte order is numeric order, for every engine that orders keys
/// as byte strings.
pub(super) fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}
