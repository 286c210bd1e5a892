//! One SQLite connection with its prepared statements and what it knows of the schema.
//!
//! A [`Conn`] keeps the rusqlite connection and a [`Session`] borrowing it in one heap cell, so
//! that statements are prepared once per connection and reused without a lookup by SQL text
//! (rusqlite's `prepare_cached` hashes the text and allocates its key on every call). A
//! statement in use is taken out of its slot and put back afterwards: a nested read of the same
//! kind (a `get` inside a scan's callback) finds the slot empty and prepares a second one.
//!
//! The session also caches the set of zerotable tables, tagged with SQLite's schema cookie
//! (`PRAGMA schema_version`, which every `CREATE` and `DROP` changes): reading the cookie at the
//! start of each transaction both pins the WAL snapshot and says whether the set is current.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Bound;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, PrepFlags, Statement};

use super::SqliteOptions;

/// A connection and its session, in one heap cell.
pub(super) struct Conn(Cell_);

self_cell::self_cell!(
    struct Cell_ {
        owner: Connection,
        #[not_covariant]
        dependent: Session,
    }
);

// SAFETY: `rusqlite::Connection` is `Send`; the session only holds statements and caches that
// belong to that one connection and borrow nothing else. Moving the cell moves the connection
// together with every statement prepared on it, and both are then used from one thread at a
// time (the cell is not `Sync`, and every use goes through `&self` of its single owner). SQLite
// connections are opened in multi-thread mode (`SQLITE_OPEN_NO_MUTEX`), which allows a
// connection and its statements to be used from any thread as long as no two threads use them
// at once — exactly what moving the whole cell guarantees.
unsafe impl Send for Conn {}

impl Conn {
    /// Opens a connection to `path` with the engine's settings, creating the file if `create`
    /// (the engine's first connection, which also puts the file in WAL mode; the others find it
    /// so).
    pub(super) fn open(
        path: &Path,
        options: &SqliteOptions,
        create: bool,
    ) -> rusqlite::Result<Self> {
        // No URI interpretation: the path is a file name, whatever it looks like.
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let connection = Connection::open_with_flags(path, flags)?;
        connection.busy_timeout(options.busy_timeout)?;
        if let Some(bytes) = options.cache_size {
            // A negative cache_size is a size in KiB.
            let kib = (bytes / 1024).max(1);
            connection.execute_batch(&format!("PRAGMA cache_size = -{kib}"))?;
        }
        Ok(Conn(Cell_::new(connection, |connection| {
            Session::new(connection)
        })))
    }

    /// Runs `body` with the connection's session.
    #[inline]
    pub(super) fn with<R>(&self, body: impl for<'c> FnOnce(&Session<'c>) -> R) -> R {
        self.0.with_dependent(|_, session| body(session))
    }
}

/// Statements that name no table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fixed {
    Begin,
    BeginImmediate,
    Commit,
    Rollback,
    SchemaVersion,
    ListTables,
}

const FIXED: usize = 6;

impl Fixed {
    fn index(self) -> usize {
        self as usize
    }

    fn sql(self) -> &'static str {
        match self {
            Fixed::Begin => "BEGIN DEFERRED",
            Fixed::BeginImmediate => "BEGIN IMMEDIATE",
            Fixed::Commit => "COMMIT",
            Fixed::Rollback => "ROLLBACK",
            Fixed::SchemaVersion => "PRAGMA schema_version",
            Fixed::ListTables => {
                "SELECT name FROM sqlite_schema WHERE type = 'table' \
                 AND (name GLOB 'zt_*' OR name GLOB 'zx_*')"
            }
        }
    }
}

/// Statements over one table. Bounds are numbered 0 (unbounded), 1 (included), 2 (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Get,
    Put,
    Delete,
    Len,
    Stats,
    Range { start: u8, end: u8, reverse: bool },
    DeleteRange { start: u8, end: u8 },
}

/// 5 single statements, 18 ranges, 9 range deletions.
const TABLE_OPS: usize = 32;

impl Op {
    fn index(self) -> usize {
        match self {
            Op::Get => 0,
            Op::Put => 1,
            Op::Delete => 2,
            Op::Len => 3,
            Op::Stats => 4,
            Op::Range {
                start,
                end,
                reverse,
            } => 5 + usize::from(start * 3 + end) * 2 + usize::from(reverse),
            Op::DeleteRange { start, end } => 23 + usize::from(start * 3 + end),
        }
    }

    fn sql(self, ident: &str) -> String {
        match self {
            Op::Get => format!("SELECT v FROM {ident} WHERE k = ?1"),
            Op::Put => format!(
                "INSERT INTO {ident} (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
            ),
            Op::Delete => format!("DELETE FROM {ident} WHERE k = ?1"),
            Op::Len => format!("SELECT count(*) FROM {ident}"),
            Op::Stats => {
                format!("SELECT count(*), coalesce(sum(length(k) + length(v)), 0) FROM {ident}")
            }
            Op::Range {
                start,
                end,
                reverse,
            } => {
                let mut sql = format!("SELECT k, v FROM {ident}");
                push_bounds(&mut sql, start, end);
                sql.push_str(if reverse {
                    " ORDER BY k DESC"
                } else {
                    " ORDER BY k ASC"
                });
                sql
            }
            Op::DeleteRange { start, end } => {
                let mut sql = format!("DELETE FROM {ident}");
                push_bounds(&mut sql, start, end);
                sql
            }
        }
    }
}

/// The WHERE clause of a range: `?1` is the start, `?2` the end.
fn push_bounds(sql: &mut String, start: u8, end: u8) {
    let start = match start {
        1 => Some("k >= ?1"),
        2 => Some("k > ?1"),
        _ => None,
    };
    let end = match end {
        1 => Some("k <= ?2"),
        2 => Some("k < ?2"),
        _ => None,
    };
    match (start, end) {
        (Some(s), Some(e)) => {
            let _ = write!(sql, " WHERE {s} AND {e}");
        }
        (Some(c), None) | (None, Some(c)) => {
            let _ = write!(sql, " WHERE {c}");
        }
        (None, None) => {}
    }
}

/// The number of a bound, for [`Op::Range`] and [`Op::DeleteRange`].
pub(super) fn bound_kind(bound: Bound<&[u8]>) -> u8 {
    match bound {
        Bound::Unbounded => 0,
        Bound::Included(_) => 1,
        Bound::Excluded(_) => 2,
    }
}

/// The SQLite table of zerotable table `name`, as a quoted identifier.
///
/// Names made only of `a-z`, `0-9`, `_`, `.` and `-` keep their spelling behind the prefix
/// `zt_` (`users` → `"zt_users"`); any other name — upper case included, since SQLite compares
/// identifiers without regard to ASCII case — is written in lower-case hex behind `zx_`
/// (`Users` → `"zx_5573657273"`). The two forms never collide with each other, with SQLite's
/// own `sqlite_` tables, or with anything a user names otherwise.
pub(super) fn ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    let mut ident = String::with_capacity(name.len() * 2 + 5);
    if plain {
        let _ = write!(ident, "\"zt_{name}\"");
    } else {
        ident.push_str("\"zx_");
        for byte in name.bytes() {
            let _ = write!(ident, "{byte:02x}");
        }
        ident.push('"');
    }
    ident
}

/// The zerotable name of SQLite table `sqlite_name`, if it is one of ours: only names that
/// [`ident`] gives back exactly (not, say, `zt_Users` or `zx_5A` made by someone else).
pub(super) fn table_name(sqlite_name: &str) -> Option<String> {
    let name = if let Some(plain) = sqlite_name.strip_prefix("zt_") {
        plain.to_owned()
    } else {
        let hex = sqlite_name.strip_prefix("zx_")?;
        if hex.len() % 2 != 0 {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        String::from_utf8(bytes).ok()?
    };
    let quoted = ident(&name);
    (quoted.get(1..quoted.len() - 1) == Some(sqlite_name)).then_some(name)
}

/// The tables that exist, as of schema cookie `version` (`None`: unknown, reload).
#[derive(Default)]
pub(super) struct Known {
    pub(super) version: Option<i64>,
    pub(super) tables: HashSet<Box<str>>,
}

/// The prepared statements of one table.
struct TableStatements<'c> {
    slots: [Option<Statement<'c>>; TABLE_OPS],
}

/// More tables than this in one connection's statement map: it is cleared.
const MAX_TABLES_PREPARED: usize = 256;

/// What one connection keeps: its statements and its view of the schema.
pub(super) struct Session<'c> {
    conn: &'c Connection,
    fixed: RefCell<[Option<Statement<'c>>; FIXED]>,
    tables: RefCell<HashMap<Box<str>, TableStatements<'c>>>,
    known: RefCell<Known>,
    /// Statements taken out and not yet put back: reads in progress on this connection.
    running: Cell<usize>,
    /// The `synchronous` setting last given (`FULL`: true), if any.
    synchronous_full: Cell<Option<bool>>,
}

/// Which statement to use.
#[derive(Clone, Copy)]
pub(super) enum Which<'n> {
    Fixed(Fixed),
    Table(&'n str, Op),
}

impl<'c> Session<'c> {
    fn new(conn: &'c Connection) -> Self {
        Session {
            conn,
            fixed: RefCell::new(Default::default()),
            tables: RefCell::new(HashMap::new()),
            known: RefCell::new(Known::default()),
            running: Cell::new(0),
            synchronous_full: Cell::new(None),
        }
    }

    /// The connection.
    pub(super) fn connection(&self) -> &'c Connection {
        self.conn
    }

    /// Whether statements of this connection are running (a read in progress).
    pub(super) fn is_running(&self) -> bool {
        self.running.get() > 0
    }

    /// The set of existing tables, for reading and changing.
    pub(super) fn known(&self) -> &RefCell<Known> {
        &self.known
    }

    /// Runs `body` with the statement `which`, prepared on first use (a failure to prepare
    /// goes through `prepare_failed`) and kept for the next.
    pub(super) fn with<R, E>(
        &self,
        which: Which<'_>,
        prepare_failed: impl FnOnce(rusqlite::Error) -> E,
        body: impl FnOnce(&mut Statement<'c>) -> Result<R, E>,
    ) -> Result<R, E> {
        let taken = match which {
            Which::Fixed(fixed) => self.fixed.borrow_mut()[fixed.index()].take(),
            Which::Table(table, op) => self
                .tables
                .borrow_mut()
                .get_mut(table)
                .and_then(|statements| statements.slots[op.index()].take()),
        };
        let statement = match taken {
            Some(statement) => statement,
            None => self.prepare(which).map_err(prepare_failed)?,
        };
        let mut lease = Lease {
            session: self,
            which,
            statement: Some(statement),
        };
        self.running.set(self.running.get() + 1);
        let statement = lease
            .statement
            .as_mut()
            .unwrap_or_else(|| unreachable!("the lease holds its statement until dropped"));
        body(statement)
    }

    fn prepare(&self, which: Which<'_>) -> rusqlite::Result<Statement<'c>> {
        let flags = PrepFlags::SQLITE_PREPARE_PERSISTENT;
        match which {
            Which::Fixed(fixed) => self.conn.prepare_with_flags(fixed.sql(), flags),
            Which::Table(table, op) => self.conn.prepare_with_flags(&op.sql(&ident(table)), flags),
        }
    }

    /// Puts a statement back in its slot (or drops it, if a nested use filled the slot).
    fn put_back(&self, which: Which<'_>, statement: Statement<'c>) {
        match which {
            Which::Fixed(fixed) => {
                let mut fixed_slots = self.fixed.borrow_mut();
                let slot = &mut fixed_slots[fixed.index()];
                if slot.is_none() {
                    *slot = Some(statement);
                }
            }
            Which::Table(table, op) => {
                let mut tables = self.tables.borrow_mut();
                if !tables.contains_key(table) {
                    if tables.len() >= MAX_TABLES_PREPARED {
                        tables.clear();
                    }
                    tables.insert(
                        table.into(),
                        TableStatements {
                            slots: Default::default(),
                        },
                    );
                }
                if let Some(statements) = tables.get_mut(table) {
                    let slot = &mut statements.slots[op.index()];
                    if slot.is_none() {
                        *slot = Some(statement);
                    }
                }
            }
        }
    }

    /// Finalizes the statements of `table` (dropped).
    pub(super) fn forget(&self, table: &str) {
        let removed = self.tables.borrow_mut().remove(table);
        drop(removed);
    }

    /// Sets `synchronous` to `FULL` (every commit fsyncs the WAL) or `NORMAL` (no fsync per
    /// commit), unless it is set so already. Outside a transaction only.
    ///
    /// Not a kept statement: SQLite applies this pragma when it compiles it, so a kept one
    /// would take effect again only through a re-preparation.
    pub(super) fn set_synchronous_full(&self, full: bool) -> rusqlite::Result<()> {
        if self.synchronous_full.get() == Some(full) {
            return Ok(());
        }
        self.synchronous_full.set(None);
        self.conn.execute_batch(if full {
            "PRAGMA synchronous = FULL"
        } else {
            "PRAGMA synchronous = NORMAL"
        })?;
        self.synchronous_full.set(Some(full));
        Ok(())
    }

    /// Runs a fixed statement that returns no rows.
    pub(super) fn execute(&self, fixed: Fixed) -> rusqlite::Result<()> {
        self.with(
            Which::Fixed(fixed),
            |e| e,
            |statement| statement.raw_execute().map(|_| ()),
        )
    }

    /// Reads the schema cookie (which, as the first read of a transaction, also pins its WAL
    /// snapshot) and makes the set of tables current for it.
    pub(super) fn refresh_known(&self) -> rusqlite::Result<()> {
        let version = self.schema_version()?;
        if self.known.borrow().version == Some(version) {
            return Ok(());
        }
        let mut tables = HashSet::new();
        self.with(
            Which::Fixed(Fixed::ListTables),
            |e| e,
            |statement| {
                let mut rows = statement.raw_query();
                while let Some(row) = rows.next()? {
                    let name = row.get_ref(0)?.as_str()?;
                    if let Some(table) = table_name(name) {
                        tables.insert(table.into_boxed_str());
                    }
                }
                Ok::<_, rusqlite::Error>(())
            },
        )?;
        *self.known.borrow_mut() = Known {
            version: Some(version),
            tables,
        };
        Ok(())
    }

    /// The schema cookie as this connection's transaction sees it now.
    pub(super) fn schema_version(&self) -> rusqlite::Result<i64> {
        self.with(
            Which::Fixed(Fixed::SchemaVersion),
            |e| e,
            |statement| {
                let mut rows = statement.raw_query();
                match rows.next()? {
                    Some(row) => row.get(0),
                    None => Err(rusqlite::Error::QueryReturnedNoRows),
                }
            },
        )
    }

    /// Whether zerotable table `table` exists (as of the last [`refresh_known`] and the
    /// changes of the current write transaction).
    ///
    /// [`refresh_known`]: Self::refresh_known
    #[inline]
    pub(super) fn exists(&self, table: &str) -> bool {
        self.known.borrow().tables.contains(table)
    }
}

/// A statement taken out of its slot, put back when dropped (also during a panic).
struct Lease<'s, 'c, 'w> {
    session: &'s Session<'c>,
    which: Which<'w>,
    statement: Option<Statement<'c>>,
}

impl Drop for Lease<'_, '_, '_> {
    fn drop(&mut self) {
        let session = self.session;
        session.running.set(session.running.get() - 1);
        if let Some(statement) = self.statement.take() {
            session.put_back(self.which, statement);
        }
    }
}
