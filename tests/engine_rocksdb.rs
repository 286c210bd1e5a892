//! Tests specific to the rocksdb engine (being written).
