//! Conformance checks: typed (being ported).

super::checks! {}
