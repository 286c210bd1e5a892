//! Raw bytes: stored as given, read back as `&[u8]`.

use super::{EncodeError, ValueSerializer};
use crate::error::BoxError;

/// Stores byte strings unchanged; reads hand out the stored `&[u8]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawSerializer;

impl ValueSerializer<[u8]> for RawSerializer {
    type Output<'a> = &'a [u8];
    type Scratch = ();
    const FORMAT: &'static str = "raw";

    fn value_type_name(&self) -> Option<String> {
        None
    }

    fn encode<'s>(&self, value: &'s [u8], _: &'s mut ()) -> Result<&'s [u8], EncodeError> {
        Ok(value)
    }

    fn decode<'a>(&self, bytes: &'a [u8]) -> Result<&'a [u8], BoxError> {
        Ok(bytes)
    }
}
