//! SQLite used as a key-value store through rusqlite (bundled): a `WITHOUT ROWID` table of BLOB
//! keys (u64 big-endian) and rkyv bytes as BLOB values, read with validated `rkyv::access` on
//! the blob the statement lends. The same logical work as zerotable on SQLite, so its reference
//! (the column-per-field `Sqlite` contender is the relational way, a different workload).

use std::borrow::Borrow;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::disk::sqlite_bytes;
use super::rkyv_person::{Encoder, key, revenue_of};
use crate::{Contender, Durability, Person};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS people (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) \
                      WITHOUT ROWID";
const UPSERT: &str = "INSERT OR REPLACE INTO people (k, v) VALUES (?1, ?2)";
const GET: &str = "SELECT v FROM people WHERE k = ?1";
const ALL: &str = "SELECT v FROM people ORDER BY k";
const FROM: &str = "SELECT v FROM people WHERE k >= ?1 ORDER BY k LIMIT ?2";
const DELETE: &str = "DELETE FROM people WHERE k = ?1";

/// A SQLite database `dir/blob.sqlite` with one key-value table, `people`.
pub struct RawSqliteBlob {
    conn: Connection,
    file: PathBuf,
    encoder: Encoder,
}

impl RawSqliteBlob {
    /// Opens (creating if needed) `dir/blob.sqlite` in WAL mode, with `synchronous=FULL` (fsync
    /// of the WAL on every commit) for `Immediate` and `synchronous=NORMAL` (no fsync per commit,
    /// the WAL synced at checkpoints) for `None`: what zerotable's SQLite engine sets.
    pub fn open(dir: &Path, durability: Durability) -> Self {
        let file = dir.join("blob.sqlite");
        let conn = Connection::open(&file).expect("open the SQLite database");
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .expect("set WAL mode");
        assert!(
            mode.eq_ignore_ascii_case("wal"),
            "journal mode {mode}, not WAL"
        );
        let synchronous = match durability {
            Durability::Immediate => "FULL",
            Durability::None => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .expect("set synchronous");
        conn.execute_batch(CREATE).expect("create the people table");
        RawSqliteBlob {
            conn,
            file,
            encoder: Encoder::default(),
        }
    }

    /// Writes `people` in one write transaction (`BEGIN IMMEDIATE`: the write lock up front, as
    /// a read-modify-write transaction needs), replacing any row with the same key.
    fn upsert_all<P: Borrow<Person>>(&mut self, people: impl Iterator<Item = P>) {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin a transaction");
        {
            let mut upsert = tx.prepare_cached(UPSERT).expect("prepare the upsert");
            for person in people {
                let person = person.borrow();
                let value = self.encoder.encode(person);
                upsert
                    .execute(params![key(person.id).as_slice(), value])
                    .expect("write a person");
            }
        }
        tx.commit().expect("commit");
    }
}

/// A point read of `id` (a transaction of its own: SQLite's autocommit), validating the blob
/// the statement lends in place.
fn read_revenue(conn: &Connection, id: u64) -> Option<f64> {
    conn.prepare_cached(GET)
        .expect("prepare the point read")
        .query_row([key(id).as_slice()], |row| {
            Ok(revenue_of(row.get_ref(0)?.as_blob()?))
        })
        .optional()
        .expect("read a person")
}

/// Sums the revenue of every row `rows` yields, in Rust.
fn sum_rows(mut rows: rusqlite::Rows<'_>) -> f64 {
    let mut sum = 0.0;
    while let Some(row) = rows.next().expect("step") {
        sum += revenue_of(row.get_ref(0).expect("a value").as_blob().expect("a blob"));
    }
    sum
}

/// `count` as a SQL LIMIT.
fn limit(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl Contender for RawSqliteBlob {
    fn name(&self) -> &'static str {
        "raw SQLite (blob, rkyv)"
    }

    fn load(&mut self, people: &mut dyn Iterator<Item = Person>) {
        self.upsert_all(people);
    }

    fn write_batch(&mut self, people: &[Person]) {
        self.upsert_all(people.iter());
    }

    fn write_one(&mut self, person: &Person) {
        self.upsert_all(std::iter::once(person));
    }

    fn revenue(&mut self, id: u64) -> Option<f64> {
        read_revenue(&self.conn, id)
    }

    fn sum_revenue(&mut self) -> f64 {
        let mut stmt = self.conn.prepare_cached(ALL).expect("prepare the scan");
        sum_rows(stmt.query([]).expect("scan"))
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        let mut stmt = self
            .conn
            .prepare_cached(FROM)
            .expect("prepare the range scan");
        sum_rows(
            stmt.query(params![key(start).as_slice(), limit(count)])
                .expect("seek"),
        )
    }

    /// One deferred transaction (one read snapshot) and the cached statement for every read.
    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let tx = self.conn.transaction().expect("begin a transaction");
        let sum = ids.iter().filter_map(|&id| read_revenue(&tx, id)).sum();
        tx.commit().expect("end the read transaction");
        sum
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let tx = self.conn.transaction().expect("begin a transaction");
        let mut sum = 0.0;
        {
            let mut stmt = tx.prepare_cached(FROM).expect("prepare the range scan");
            for &start in starts {
                sum += sum_rows(
                    stmt.query(params![key(start).as_slice(), limit(count)])
                        .expect("seek"),
                );
            }
        }
        tx.commit().expect("end the read transaction");
        sum
    }

    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin a transaction");
        {
            let mut delete = tx.prepare_cached(DELETE).expect("prepare the delete");
            for id in ids {
                delete
                    .execute([key(id).as_slice()])
                    .expect("delete a person");
            }
        }
        tx.commit().expect("commit");
    }

    /// The main file plus the WAL (the shared-memory index, 32 KiB, is not data).
    fn size_on_disk(&mut self) -> u64 {
        sqlite_bytes(&self.file)
    }

    /// As the `Sqlite` contender: checkpoint, `VACUUM`, checkpoint with `TRUNCATE`.
    fn compact(&mut self) {
        self.conn
            .execute_batch(
                "PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .expect("vacuum");
    }

    /// A read-only connection of its own (a `Connection` is `Send` but not `Sync`).
    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send> {
        let conn = Connection::open_with_flags(
            &self.file,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .expect("open a read-only connection");
        Box::new(move |id| read_revenue(&conn, id))
    }
}
