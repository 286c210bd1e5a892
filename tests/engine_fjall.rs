//! Tests specific to the fjall engine (being written).
