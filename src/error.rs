//! Errors, in two layers.
//!
//! - [`EngineError`]: what an engine reports, with a [`EngineErrorKind`] a caller can match on
//!   (I/O, corruption, already open, nested write, conflict, commit outcome unknown,
//!   unsupported, …) and the engine's own error kept as its `source()`.
//! - [`Error`]: the crate's error. Engine failures arrive as [`Error::Engine`] (with the table,
//!   when there is one, and the [`Operation`]) or [`Error::Open`]; the typed layer adds its own
//!   variants (a value that does not decode, a table opened as the wrong type, …).
//!
//! `Display` shows the first cause and, where there is something to do, what to do:
//!
//! ```
//! use zerotable::{EngineError, EngineErrorKind, Error, Operation};
//!
//! let err = Error::engine(
//!     Some("users"),
//!     Operation::Commit,
//!     EngineError::new(EngineErrorKind::CommitOutcomeUnknown, std::io::Error::other("fsync failed")),
//! );
//! assert_eq!(err.engine_kind(), Some(EngineErrorKind::CommitOutcomeUnknown));
//! assert!(err.to_string().contains("fsync failed"));
//! assert!(err.to_string().contains("re-read"));
//! ```

use std::fmt;

use crate::catalog::TableRecord;
use crate::codec::key::KeyDecodeError;

/// A boxed error from an engine, a serializer or a caller's closure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for `Result<T, zerotable::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an engine reported: the part of an [`EngineError`] to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EngineErrorKind {
    /// Reading or writing the underlying storage failed (disk full, permissions, a failed
    /// read or fsync). redb refuses every later write until the storage is reopened.
    Io,
    /// The stored data is damaged: the engine found pages, checksums or structures it cannot
    /// read (or its library panicked, most likely on such data). A write transaction that met
    /// this is rolled back.
    Corrupted,
    /// The database is already open — by another process, or by this one (a `Storage`, or a
    /// `Table` from it, is still alive: tables keep their database open). On an open error,
    /// [`Error::holder`] tells which, and how many handles of this process hold it.
    AlreadyOpen,
    /// The engine, or the connection to it, is closed.
    Closed,
    /// This thread already holds the write transaction and started another write, which
    /// would wait for itself forever.
    NestedWrite,
    /// An optimistic transaction lost to a concurrent one: nothing was written; run it again.
    Conflict,
    /// The commit failed at a point where it may or may not have been applied.
    CommitOutcomeUnknown,
    /// The engine does not offer this operation (see [`Capabilities`](crate::Capabilities)).
    Unsupported,
    /// What the operation needs is in use: the table is being read inside this same
    /// transaction (a scan or a read callback over it is still running) and cannot be written
    /// or dropped until that read ends; or, for compaction and integrity checks, transactions
    /// are still open.
    InUse,
    /// A size or count beyond what the engine can hold (a key too long, a map full).
    LimitExceeded,
    /// Anything else, described by the source.
    Other,
}

impl EngineErrorKind {
    /// A short description, as `Display` shows it.
    pub fn describe(self) -> &'static str {
        match self {
            EngineErrorKind::Io => "I/O error",
            EngineErrorKind::Corrupted => "storage corrupted",
            EngineErrorKind::AlreadyOpen => "database already open",
            EngineErrorKind::Closed => "engine closed",
            EngineErrorKind::NestedWrite => {
                "this thread already holds a write transaction, and a second write would wait for \
                 it forever"
            }
            EngineErrorKind::Conflict => "write conflict",
            EngineErrorKind::CommitOutcomeUnknown => "commit outcome unknown",
            EngineErrorKind::Unsupported => "not supported by this engine",
            EngineErrorKind::InUse => "in use by a running read or transaction",
            EngineErrorKind::LimitExceeded => "engine limit exceeded",
            EngineErrorKind::Other => "engine error",
        }
    }

    /// What a caller can do about it, when there is something to do.
    pub fn hint(self) -> Option<&'static str> {
        Some(match self {
            EngineErrorKind::Io => {
                "check the disk (space, permissions); after an I/O error drop the Storage and \
                 every Table from it, then open it again"
            }
            EngineErrorKind::Corrupted => {
                "drop the Storage and every Table from it and open it again (redb repairs what \
                 it can on open), then run Storage::check_integrity where the engine has one \
                 (Storage::capabilities); if the damage remains, restore a backup or copy the \
                 tables that still read into a new storage"
            }
            EngineErrorKind::AlreadyOpen => {
                "close it where it is open, then open it again: in this process, drop every \
                 Storage and Table of it (tables keep their database open) or call \
                 Storage::close; elsewhere, stop the process that holds it. To use one database \
                 from several places, clone its Storage instead of opening the file again"
            }
            EngineErrorKind::NestedWrite => {
                "do this write inside the open transaction with the table's `_in` methods \
                 (`table.put_in(tx, ..)` instead of `table.put(..)`), open tables before \
                 starting the transaction, or commit or drop the transaction first"
            }
            EngineErrorKind::Conflict => "run the transaction again",
            EngineErrorKind::CommitOutcomeUnknown => {
                "the data may or may not be there: re-read before retrying work that is not \
                 idempotent"
            }
            EngineErrorKind::InUse => {
                "finish the scan or read callback over the table first (or collect what you need \
                 and write afterwards); compaction needs every snapshot and transaction ended"
            }
            EngineErrorKind::Unsupported => {
                "check Storage::capabilities before calling, or pick an engine that offers it"
            }
            EngineErrorKind::Closed | EngineErrorKind::LimitExceeded | EngineErrorKind::Other => {
                return None;
            }
        })
    }
}

impl fmt::Display for EngineErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// An engine's failure: a kind to match on and, usually, the engine's own error as source.
///
/// ```
/// use zerotable::{EngineError, EngineErrorKind};
///
/// let err = EngineError::new(EngineErrorKind::Io, std::io::Error::other("disk full"));
/// assert_eq!(err.kind(), EngineErrorKind::Io);
/// assert_eq!(err.to_string(), "I/O error: disk full");
/// ```
#[derive(Debug)]
pub struct EngineError {
    kind: EngineErrorKind,
    source: Option<BoxError>,
    /// What was found out beyond the engine's own error. Boxed: most errors have none, and
    /// every `Result<_, Error>` carries the room for it.
    detail: Option<Box<Detail>>,
}

/// The findings an [`EngineError`] may carry besides its kind and source.
#[derive(Debug, Default)]
struct Detail {
    explanation: Option<String>,
    holder: Option<Holder>,
}

impl EngineError {
    /// An error of `kind` caused by `source` (the engine's own error, or a message).
    pub fn new(kind: EngineErrorKind, source: impl Into<BoxError>) -> Self {
        EngineError {
            kind,
            source: Some(source.into()),
            detail: None,
        }
    }

    /// An error of `kind` with nothing more to say.
    pub fn of_kind(kind: EngineErrorKind) -> Self {
        EngineError {
            kind,
            source: None,
            detail: None,
        }
    }

    /// The same error with what was found out about it, in words: which file, whose lock,
    /// which permission, and what to do. `Display` shows it after the engine's own message,
    /// which stays the [`cause`](Self::cause).
    ///
    /// ```
    /// use zerotable::{EngineError, EngineErrorKind};
    /// let err = EngineError::new(EngineErrorKind::Io, "permission denied")
    ///     .explained("no permission to write /data/app.redb: give this user write permission");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "I/O error: permission denied — no permission to write /data/app.redb: give this user write permission"
    /// );
    /// assert_eq!(err.cause().unwrap().to_string(), "permission denied");
    /// ```
    pub fn explained(mut self, explanation: impl Into<String>) -> Self {
        self.detail.get_or_insert_with(Box::default).explanation = Some(explanation.into());
        self
    }

    /// What was found out about the failure, when anything was (see
    /// [`explained`](Self::explained)).
    pub fn explanation(&self) -> Option<&str> {
        self.detail.as_ref()?.explanation.as_deref()
    }

    /// The same error, saying who holds the database (for
    /// [`AlreadyOpen`](EngineErrorKind::AlreadyOpen)).
    ///
    /// ```
    /// use zerotable::error::Holder;
    /// use zerotable::{EngineError, EngineErrorKind};
    /// let err = EngineError::of_kind(EngineErrorKind::AlreadyOpen).with_holder(Holder::AnotherProcess);
    /// assert_eq!(err.holder(), Some(Holder::AnotherProcess));
    /// ```
    pub fn with_holder(mut self, holder: Holder) -> Self {
        self.detail.get_or_insert_with(Box::default).holder = Some(holder);
        self
    }

    /// Who holds the database, when the error is that it is open already and that is known.
    pub fn holder(&self) -> Option<Holder> {
        self.detail.as_ref()?.holder
    }

    /// The same error, classified as `kind` (an engine that knows more than the library it
    /// wraps, e.g. that a failure during a commit leaves its outcome unknown).
    ///
    /// ```
    /// use zerotable::{EngineError, EngineErrorKind};
    /// let err = EngineError::new(EngineErrorKind::Io, "fsync failed")
    ///     .with_kind(EngineErrorKind::CommitOutcomeUnknown);
    /// assert_eq!(err.kind(), EngineErrorKind::CommitOutcomeUnknown);
    /// assert_eq!(err.cause().unwrap().to_string(), "fsync failed");
    /// ```
    pub fn with_kind(self, kind: EngineErrorKind) -> Self {
        EngineError { kind, ..self }
    }

    /// What went wrong.
    pub fn kind(&self) -> EngineErrorKind {
        self.kind
    }

    /// The engine's own error, if any.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        if let Some(explanation) = self.explanation() {
            write!(f, " — {explanation}")?;
        }
        Ok(())
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Why a copy between storages stopped (see [`Error::Copy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CopyErrorKind {
    /// A destination table already has rows; the copy writes into empty tables only unless
    /// told to replace them.
    DestinationNotEmpty,
    /// An earlier copy into this destination did not finish; run again replacing the
    /// destination's tables.
    Unfinished,
    /// The source is itself the destination of a copy that did not finish.
    SourceUnfinished,
    /// Source and destination are the same engine.
    SameStorage,
    /// After copying, a destination table's row count or checksum differs from the source's.
    Mismatch,
}

/// What was being done when an engine failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Opening or creating the database.
    Open,
    /// Beginning a read snapshot.
    BeginRead,
    /// Beginning a write transaction.
    BeginWrite,
    /// A point read.
    Get,
    /// An ordered walk over keys.
    Range,
    /// Counting entries.
    Len,
    /// Inserting or replacing a value.
    Put,
    /// Removing a key.
    Delete,
    /// Removing every key in a range.
    DeleteRange,
    /// Creating a table.
    CreateTable,
    /// Dropping a table.
    DropTable,
    /// Listing tables.
    ListTables,
    /// Reading a table's size figures.
    TableStats,
    /// Committing a write transaction.
    Commit,
    /// Making earlier commits durable.
    Flush,
    /// Reclaiming free space.
    Compact,
    /// Measuring the size on disk.
    SizeOnDisk,
    /// Checking (and where possible repairing) the stored structures.
    CheckIntegrity,
    /// Reading or writing the table catalog.
    Catalog,
    /// Closing the database ([`Storage::close`](crate::Storage::close)).
    Close,
}

impl Operation {
    /// The operation's name as messages show it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Open => "open",
            Operation::BeginRead => "begin_read",
            Operation::BeginWrite => "begin_write",
            Operation::Get => "get",
            Operation::Range => "range",
            Operation::Len => "len",
            Operation::Put => "put",
            Operation::Delete => "delete",
            Operation::DeleteRange => "delete_range",
            Operation::CreateTable => "create_table",
            Operation::DropTable => "drop_table",
            Operation::ListTables => "list_tables",
            Operation::TableStats => "table_stats",
            Operation::Commit => "commit",
            Operation::Flush => "flush",
            Operation::Compact => "compact",
            Operation::SizeOnDisk => "size_on_disk",
            Operation::CheckIntegrity => "check_integrity",
            Operation::Catalog => "catalog",
            Operation::Close => "close",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who holds a database that could not be opened because it is open already: see
/// [`Error::holder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Holder {
    /// This process has it open: a [`Storage`](crate::Storage), or a [`Table`](crate::Table)
    /// from one, is still alive — tables keep their database open after their `Storage` is
    /// dropped. `handles` counts them, when the database was opened through
    /// [`Storage::open`](crate::Storage::open) or [`Storage::new`](crate::Storage::new)
    /// (`None` otherwise, e.g. for an engine shared with [`Storage::from_arc`](crate::Storage::from_arc)).
    ThisProcess {
        /// The live handles, when known.
        handles: Option<Handles>,
    },
    /// No database of this process has it open: another process holds the file's lock (or
    /// this process opened it with redb directly, outside zerotable).
    AnotherProcess,
}

/// How many handles keep one database open in this process, as
/// [`Storage::handles`](crate::Storage::handles) counts them. The database closes when the last
/// one is dropped.
///
/// ```
/// use zerotable::error::Handles;
/// let handles = Handles { storages: 0, tables: 2 };
/// assert_eq!(handles.total(), 2);
/// assert_eq!(handles.to_string(), "2 Tables");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Handles {
    /// Live `Storage` values (each clone counts).
    pub storages: usize,
    /// Live `Table` values (each clone counts), and any other clone of the engine's `Arc`
    /// (from [`Storage::engine`](crate::Storage::engine)).
    pub tables: usize,
}

impl Handles {
    /// All of them.
    pub fn total(self) -> usize {
        self.storages + self.tables
    }
}

impl fmt::Display for Handles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match (self.storages, self.tables) {
            (0, 0) => f.write_str("no handles"),
            (s, 0) => write!(f, "{s} Storage{}", plural(s)),
            (0, t) => write!(f, "{t} Table{}", plural(t)),
            (s, t) => write!(f, "{s} Storage{} and {t} Table{}", plural(s), plural(t)),
        }
    }
}

/// `" — what to do"` after a message, when the kind has advice.
struct Hint(EngineErrorKind);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.hint() {
            Some(hint) => write!(f, " ({hint})"),
            None => Ok(()),
        }
    }
}

/// An error's message without the line breaks some validators end it with (the FlatBuffers
/// verifier does), so that what follows it stays on its line.
struct Trimmed<'a>(&'a BoxError);

impl fmt::Display for Trimmed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.to_string().trim_end())
    }
}

/// `table `x`` or nothing.
struct OnTable<'a>(&'a Option<String>);

impl fmt::Display for OnTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(table) => write!(f, " on table `{table}`"),
            None => Ok(()),
        }
    }
}

/// Everything that can go wrong in zerotable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database could not be opened or created. The source says why (match on its
    /// [`kind`](EngineError::kind): [`AlreadyOpen`](EngineErrorKind::AlreadyOpen),
    /// [`Corrupted`](EngineErrorKind::Corrupted), [`Io`](EngineErrorKind::Io), …).
    #[error("cannot open {location}: {source}{hint}", hint = Hint(source.kind()))]
    Open {
        /// What was being opened: a path, or an engine's address.
        location: String,
        /// Why it failed.
        #[source]
        source: EngineError,
    },

    /// The engine failed during an operation.
    ///
    /// A failure before the commit leaves nothing of the transaction behind. A commit that
    /// fails with [`EngineErrorKind::CommitOutcomeUnknown`] may or may not be on disk after a
    /// restart: re-read before retrying work that is not idempotent.
    #[error("{operation} failed{on}: {source}{hint}", on = OnTable(table), hint = Hint(source.kind()))]
    Engine {
        /// The table being worked on, when the operation concerns one.
        table: Option<String>,
        /// What was being done.
        operation: Operation,
        /// The engine's error, with its kind.
        #[source]
        source: EngineError,
    },

    /// A stored value could not be read as the table's value type: its bytes are truncated,
    /// corrupted, or were written as another type. Nothing is skipped silently: the key is named
    /// so the entry can be inspected, rewritten or deleted.
    #[error(
        "stored value for key {key} in table `{table}` is not a valid {format} value: {}; \
         rewrite the entry with put or remove it with delete (if many entries fail, the value \
         type changed without a new version: migrate the table, see Error::TableTypeMismatch)",
        Trimmed(source)
    )]
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
    #[error("stored key {key} in table `{table}` could not be decoded: {source}")]
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
    #[error("value could not be serialized as {format} for table `{table}`: {source}")]
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
    #[error(
        "value rejected for table `{table}`: not a valid {format} value: {}; nothing was \
         stored: pass bytes serialized as the table's value type",
        Trimmed(source)
    )]
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

    /// The table was created with another key type, value format, value type or version than
    /// it is being opened with. Nothing was read: open it with its original types, or migrate
    /// it. `stored` is `None` for a table that holds entries but has no catalog record (written
    /// outside the typed API): its type is unknown.
    ///
    /// A table keeps the types it was created with. To change them, migrate: open a new table
    /// with the new types (and [`TableOptions::version`](crate::TableOptions::version) raised
    /// when only the value type's layout changed), copy every entry over converting it, then
    /// [`drop_table`](crate::Storage::drop_table) the old one (or drop it first, and recreate
    /// it under the same name from a copy).
    #[error(
        "table `{table}` was created as [{}], not [{requested}]; open it with its original types, \
         or, if its types changed on purpose, migrate it: open a new table with the new types \
         (raise TableOptions::version when only the value type's layout changed), copy the entries \
         over converting each, then drop_table the old one",
        stored.as_ref().map_or_else(|| "unknown: entries written without a catalog record".to_owned(), |r| r.to_string())
    )]
    TableTypeMismatch {
        /// The table.
        table: String,
        /// What the table was created as.
        stored: Option<Box<TableRecord>>,
        /// What it was being opened as.
        requested: Box<TableRecord>,
    },

    /// A table's catalog record cannot be read: the catalog table was damaged or written by
    /// something else.
    #[error("the catalog record of table `{table}` is unreadable: {reason}")]
    Catalog {
        /// The table whose record is unreadable.
        table: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A table was handed a transaction or snapshot of another `Storage`. Nothing was read or
    /// written: use one begun on the storage the table was opened from.
    #[error(
        "table `{table}` was given a transaction or snapshot of another Storage; use one begun on the Storage the table was opened from"
    )]
    ForeignTransaction {
        /// The table.
        table: String,
    },

    /// [`Storage::close`](crate::Storage::close) found other handles of the database still
    /// alive. The handle `close` was called on is gone; the database stays open until the
    /// handles counted here are dropped too.
    #[error(
        "cannot close the database: {handles} of it still alive keep it open (tables keep their \
         database open); drop them, then close the last Storage (or just drop it)"
    )]
    StillOpen {
        /// The handles still alive, not counting the one `close` was called on.
        handles: Handles,
    },

    /// An engine address or configuration is wrong: an unknown engine or option, a value that
    /// does not parse, an engine not compiled in. Nothing was opened.
    #[error("invalid configuration {origin:?}: {}{problem}", option.as_ref().map(|o| format!("option `{o}`: ")).unwrap_or_default())]
    InvalidConfig {
        /// Where the configuration came from: the address, or the file.
        origin: String,
        /// The option at fault, when one is.
        option: Option<String>,
        /// What is wrong, and what would be right.
        problem: String,
    },

    /// A copy between two storages ([`Storage::copy_to`](crate::Storage::copy_to)) refused to
    /// start, or found the destination different from the source when it checked it. The
    /// message says what to do.
    #[error("copy{}: {problem}", table.as_ref().map(|t| format!(" of table {t:?}")).unwrap_or_default())]
    Copy {
        /// The table concerned, when one is.
        table: Option<String>,
        /// What went wrong, to match on.
        kind: CopyErrorKind,
        /// What happened, and what to do.
        problem: String,
    },

    /// A table's migration to a new value type ([`Storage::migrate_table`](crate::Storage::migrate_table))
    /// did not happen: no such table, a new type recorded like the old, or the table changed
    /// while it ran. The old table is in place, unchanged.
    #[error("migration of table {table:?}: {problem}")]
    Migration {
        /// The table.
        table: String,
        /// What happened, and what to do.
        problem: String,
    },

    /// A layer ([`crate::layers`]) could not turn a stored value back into the value: it fails
    /// authentication (encryption: changed, moved from another key or table, or another key),
    /// names a key the keyring lacks, or is not a form the layer writes. Nothing is handed to
    /// the value decoder. `kind` says which; the message says what to do.
    #[error("layer `{layer}` cannot read the value of key {key} in table `{table}`: {problem}")]
    Layer {
        /// The layer: `"compression"`, `"encryption"`.
        layer: &'static str,
        /// The table holding the entry.
        table: String,
        /// The entry's encoded key.
        key: KeyBytes,
        /// What is wrong, to match on.
        kind: LayerErrorKind,
        /// What happened, and what to do.
        problem: String,
    },

    /// A write would give a unique index ([`crate::index`]) a key another row already holds.
    /// The write was refused before anything of it was written: in its own transaction
    /// nothing changed; in a transaction of yours, return the error to roll the rest back, or
    /// go on without this write.
    #[error(
        "unique index `{index}` of table `{table}` already holds key {key} (for row {holder}); \
         nothing was written: change the key, or update or delete that row first"
    )]
    UniqueViolation {
        /// The indexed table.
        table: String,
        /// The unique index.
        index: String,
        /// The index key, decoded for display.
        key: String,
        /// The encoded primary key of the row holding it.
        holder: KeyBytes,
    },

    /// A secondary index cannot be used as asked: not defined in this process while the
    /// catalog records it (writes are refused), defined differently, inconsistent with its
    /// table, or misnamed. `kind` says which; the message says what to do.
    #[error("index `{index}` of table `{table}`: {problem}")]
    Index {
        /// The indexed table.
        table: String,
        /// The index.
        index: String,
        /// What is wrong, to match on.
        kind: IndexErrorKind,
        /// What happened, and what to do.
        problem: String,
    },

    /// A caller's closure (a scan body, a fold step) returned an error of its own, wrapped
    /// with [`Error::callback`]. The scan stopped there.
    #[error("callback failed: {source}")]
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

    /// An [`Error::Engine`], for engine implementations.
    ///
    /// ```
    /// use zerotable::{EngineError, EngineErrorKind, Error, Operation};
    /// let err = Error::engine(Some("t"), Operation::Get, EngineError::of_kind(EngineErrorKind::Closed));
    /// assert_eq!(err.to_string(), "get failed on table `t`: engine closed");
    /// ```
    pub fn engine(table: Option<&str>, operation: Operation, source: EngineError) -> Self {
        Error::Engine {
            table: table.map(str::to_owned),
            operation,
            source,
        }
    }

    /// An [`Error::Engine`] of `kind` whose cause is `source` (the engine's own error, or a
    /// message).
    ///
    /// ```
    /// use zerotable::{EngineErrorKind, Error, Operation};
    /// let err = Error::engine_failure(None, Operation::Flush, EngineErrorKind::Io, "fsync failed");
    /// assert_eq!(err.engine_kind(), Some(EngineErrorKind::Io));
    /// ```
    pub fn engine_failure(
        table: Option<&str>,
        operation: Operation,
        kind: EngineErrorKind,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::engine(table, operation, EngineError::new(kind, source))
    }

    /// The typed "this engine cannot do that" answer.
    pub fn unsupported(operation: Operation) -> Self {
        Error::engine(
            None,
            operation,
            EngineError::of_kind(EngineErrorKind::Unsupported),
        )
    }

    /// The kind of an engine failure ([`Error::Engine`] or [`Error::Open`]), to match on.
    ///
    /// ```
    /// # let storage = zerotable::Storage::in_memory();
    /// let err = storage.compact().unwrap_err(); // memory has nothing to compact
    /// assert_eq!(err.engine_kind(), Some(zerotable::EngineErrorKind::Unsupported));
    /// ```
    pub fn engine_kind(&self) -> Option<EngineErrorKind> {
        match self {
            Error::Engine { source, .. } | Error::Open { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// Who holds the database, for an error of kind
    /// [`AlreadyOpen`](EngineErrorKind::AlreadyOpen) where that is known: this process (with
    /// how many handles) or another one.
    ///
    /// ```
    /// use zerotable::error::{Handles, Holder};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("app.redb");
    /// let storage = zerotable::Storage::open(&path)?;
    /// let users = storage.raw_table::<u64>("users")?;
    /// drop(storage); // the table still holds the database open
    /// let err = zerotable::Storage::open(&path).unwrap_err();
    /// let handles = Handles { storages: 0, tables: 1 };
    /// assert_eq!(err.holder(), Some(Holder::ThisProcess { handles: Some(handles) }));
    /// # drop(users);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn holder(&self) -> Option<Holder> {
        match self {
            Error::Engine { source, .. } | Error::Open { source, .. } => source.holder(),
            _ => None,
        }
    }

    /// The operation that failed, for engine failures.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Error::Engine { operation, .. } => Some(*operation),
            Error::Open { .. } => Some(Operation::Open),
            Error::StillOpen { .. } => Some(Operation::Close),
            _ => None,
        }
    }

    /// The table the error concerns, when there is one.
    pub fn table(&self) -> Option<&str> {
        match self {
            Error::Engine { table, .. } => table.as_deref(),
            Error::CorruptValue { table, .. }
            | Error::KeyDecode { table, .. }
            | Error::Serialize { table, .. }
            | Error::InvalidValue { table, .. }
            | Error::TableTypeMismatch { table, .. }
            | Error::Catalog { table, .. }
            | Error::ForeignTransaction { table }
            | Error::Migration { table, .. }
            | Error::UniqueViolation { table, .. }
            | Error::Index { table, .. }
            | Error::Layer { table, .. } => Some(table),
            Error::InvalidTableName { name, .. } => Some(name),
            Error::Copy { table, .. } => table.as_deref(),
            Error::Open { .. }
            | Error::StillOpen { .. }
            | Error::Callback { .. }
            | Error::InvalidConfig { .. } => None,
        }
    }

    /// Names `table` on an engine error that has none yet (engines report the table where they
    /// know it; the typed layer fills it in where they do not).
    /// An [`Error::Index`].
    pub(crate) fn index(
        table: &str,
        index: &str,
        kind: IndexErrorKind,
        problem: impl Into<String>,
    ) -> Self {
        Error::Index {
            table: table.to_owned(),
            index: index.to_owned(),
            kind,
            problem: problem.into(),
        }
    }

    pub(crate) fn on_table(mut self, name: &str) -> Self {
        if let Error::Engine { table, .. } = &mut self
            && table.is_none()
        {
            *table = Some(name.to_owned());
        }
        self
    }
}

/// What is wrong with a secondary index ([`Error::Index`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IndexErrorKind {
    /// The catalog records the index but this process has not defined it: writes to its
    /// table are refused until it is defined (or dropped).
    NotDefined,
    /// The index is recorded with another key type or uniqueness than it is being defined
    /// with.
    Mismatch,
    /// An entry points to a row that does not exist (the index was written around
    /// zerotable): rebuild it.
    Inconsistent,
    /// The index name breaks the naming rule (that of table names).
    InvalidName,
}

/// What a layer found wrong with a stored value ([`Error::Layer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LayerErrorKind {
    /// The value failed authentication: its bytes were changed, it was moved from another key
    /// or table, or it was encrypted with another key.
    Tampered,
    /// The value was encrypted under a key id the keyring does not hold.
    UnknownKey,
    /// The stored bytes are not a form the layer writes: truncated, damaged, or written without
    /// this layer.
    Malformed,
    /// The value was written in a form this build cannot read (zstd without the cargo feature
    /// `zstd`).
    NotCompiledIn,
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
