//! Conformance checks: model (being ported).

super::checks! {}
