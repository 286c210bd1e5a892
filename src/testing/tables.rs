//! Conformance checks: tables (being ported).

super::checks! {}
