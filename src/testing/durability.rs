//! Conformance checks: durability (being ported).

super::checks! {}
