//! Codecs: how typed keys become ordered bytes ([`key`]) and how values become stored bytes
//! and borrowed views ([`value`]).

pub mod key;
pub mod value;
