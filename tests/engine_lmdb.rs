//! Tests specific to the lmdb engine (being written).
