//! Conformance checks: write_txn (being ported).

super::checks! {}
