//! Conformance checks: snapshots (being ported).

super::checks! {}
