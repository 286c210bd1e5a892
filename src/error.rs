//! The crate's single error type.
//!
//! Every failure a caller can act on differently is its own variant, and every variant that comes
//! from somewhere else keeps that cause as its `source()` (downcast it to reach, for example, the
//! [`redb::Error`] behind an [`Error::Engine`]).

use std::fmt;
use std::path::PathBuf;

use crate::key::KeyDecodeError;

/// A boxed error from an engine, a serializer or a caller's closure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for `Result<T, zerotable::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in zerotable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database file could not be opened or created (missing permissions, not a redb file,
    /// already open in another process, …). The source is the engine's own error.
    #[error("cannot open database at {}", path.display())]
    Open {
        /// The path that was being opened.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: BoxError,
    },

    /// The storage engine failed while working on a table (I/O error, disk full, corruption
    /// detected by the engine, …). For redb the source is a [`redb::Error`].
    ///
    /// A failure before the commit leaves nothing of the operation behind. A failure *during*
    /// the commit (`operation == "commit"`, or the auto-commit operation's own commit, e.g. a
    /// failed fsync) leaves its outcome unknown: the data may or may not be there after a
    /// restart, so re-read before retrying non-idempotent work. After an I/O error redb refuses
    /// every further write (`redb::Error::PreviousIo`) until the database is reopened: drop the
    /// `Storage` and its tables, then open the file again (the reopen repairs it).
    #[error("storage engine failed during {operation} on table `{table}`")]
    Engine {
        /// The table being worked on (`"*"` for database-wide operations such as `commit`).
        table: String,
        /// What was being done: `"get"`, `"put"`, `"delete"`, `"batch"`, `"range"`, `"len"`,
        /// `"commit"`, `"compact"`, ….
        operation: &'static str,
        /// The engine's error.
        #[source]
        source: BoxError,
    },

    /// A stored value could not be read as the table's value type: its bytes are truncated,
    /// corrupted, or were written as another type. Nothing is skipped silently: the key is named
    /// so the entry can be inspected, rewritten or deleted.
    #[error("stored value for key {key} in table `{table}` is not a valid {format} value")]
    CorruptValue {
        /// The table holding the entry.
        table: String,
        /// The entry's encoded key.
        key: KeyBytes,
        /// The value format the table expected (`"rkyv"`, `"flatbuffers"`, …).
        format: &'static str,
        /// The decoder's error (for rkyv a bytecheck error, for flatbuffers an
        /// `InvalidFlatbuffer`).
        #[source]
        source: BoxError,
    },

    /// A stored key could not be decoded as the table's key type (a table written with another
    /// key type, or corrupted bytes).
    #[error("stored key {key} in table `{table}` could not be decoded")]
    KeyDecode {
        /// The table holding the entry.
        table: String,
        /// The raw key bytes.
        key: KeyBytes,
        /// What was wrong with them.
        #[source]
        source: KeyDecodeError,
    },

    /// A value could not be serialized for storing. Nothing was stored.
    #[error("value could not be serialized as {format} for table `{table}`")]
    Serialize {
        /// The table written to.
        table: String,
        /// The value format.
        format: &'static str,
        /// The serializer's error.
        #[source]
        source: BoxError,
    },

    /// Pre-serialized bytes handed to `put` failed validation, so they were refused before
    /// reaching the store. Nothing was stored.
    #[error("value rejected for table `{table}`: not a valid {format} value")]
    InvalidValue {
        /// The table written to.
        table: String,
        /// The value format the bytes were checked against.
        format: &'static str,
        /// The validator's error.
        #[source]
        source: BoxError,
    },

    /// A table name is not allowed. Names are 1 to 64 ASCII letters, digits or `_`.
    #[error("invalid table name {name:?}: {reason}")]
    InvalidTableName {
        /// The name that was refused.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// The table was created with another key type, serializer, value type or version than it
    /// is being opened with. Nothing was read: open it with its original types, or migrate it.
    #[error("table `{table}` was created as [{stored}], not [{requested}]")]
    TableTypeMismatch {
        /// The table.
        table: String,
        /// What the table was created as.
        stored: String,
        /// What it was being opened as.
        requested: String,
    },

    /// This thread already holds the database's write transaction (inside `Storage::write`, or
    /// an open `WriteTx`), and tried to start another write: an auto-commit `put`/`delete`/
    /// `update`, a `put_batch`, opening a new table, or a second transaction. Waiting would
    /// deadlock, so it fails instead. Use the `_in` methods with the open transaction, and open
    /// tables before starting it.
    #[error("table `{table}`: a write transaction is already open on this thread")]
    NestedWrite {
        /// The table the refused write was for (`"*"` for a transaction).
        table: String,
    },

    /// A caller's closure (a scan body, a fold step) returned an error of its own, wrapped
    /// with [`Error::callback`]. The scan stopped there.
    #[error("callback failed")]
    Callback {
        /// The caller's error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Wraps an error of the caller's own, to return it from a scan or fold closure.
    ///
    /// ```
    /// let err = zerotable::Error::callback(std::io::Error::other("quota exceeded"));
    /// assert!(matches!(err, zerotable::Error::Callback { .. }));
    /// ```
    pub fn callback(source: impl Into<BoxError>) -> Self {
        Error::Callback {
            source: source.into(),
        }
    }

    /// Builds an [`Error::Engine`] for an engine implementation.
    pub fn engine(table: &str, operation: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Engine {
            table: table.to_owned(),
            operation,
            source: source.into(),
        }
    }

    /// The table the error concerns, when there is one.
    pub fn table(&self) -> Option<&str> {
        match self {
            Error::Engine { table, .. }
            | Error::CorruptValue { table, .. }
            | Error::KeyDecode { table, .. }
            | Error::Serialize { table, .. }
            | Error::InvalidValue { table, .. }
            | Error::TableTypeMismatch { table, .. }
            | Error::NestedWrite { table } => Some(table),
            Error::InvalidTableName { name, .. } => Some(name),
            Error::Open { .. } | Error::Callback { .. } => None,
        }
    }
}

/// Encoded key bytes carried by an error; displayed as hex so any key prints safely.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(pub Vec<u8>);

impl fmt::Display for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
