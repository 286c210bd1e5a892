//! Tests specific to the sqlite engine (being written).
