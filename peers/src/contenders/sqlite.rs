//! SQLite through rusqlite (bundled): one row per person, WAL journal, cached prepared statements.

use std::borrow::Borrow;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::{Contender, Durability, Person};

const UPSERT: &str = "INSERT OR REPLACE INTO people (id, name, email, active, revenue, tags) \
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const REVENUE: &str = "SELECT revenue FROM people WHERE id = ?1";
const ALL_REVENUES: &str = "SELECT revenue FROM people ORDER BY id";
const REVENUES_FROM: &str = "SELECT revenue FROM people WHERE id >= ?1 ORDER BY id LIMIT ?2";
const DELETE: &str = "DELETE FROM people WHERE id = ?1";

/// A SQLite database `dir/people.sqlite` with one table, `people`, keyed by `id` (the rowid).
pub struct Sqlite {
    conn: Connection,
    file: PathBuf,
}

impl Sqlite {
    /// Opens (creating if needed) `dir/people.sqlite` in WAL mode, with `synchronous=FULL`
    /// (fsync on every commit) for `Immediate` and `synchronous=OFF` for `None`.
    pub fn open(dir: &Path, durability: Durability) -> Self {
        let file = dir.join("people.sqlite");
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
            Durability::None => "OFF",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .expect("set synchronous");
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS people (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 email TEXT NOT NULL,
                 active INTEGER NOT NULL,
                 revenue REAL NOT NULL,
                 tags TEXT NOT NULL
             )",
        )
        .expect("create the people table");
        Sqlite { conn, file }
    }

    /// Writes `people` in one transaction (replacing any row with the same id).
    fn upsert_all<P: Borrow<Person>>(&mut self, people: impl Iterator<Item = P>) {
        let tx = self.conn.transaction().expect("begin a transaction");
        {
            let mut upsert = tx.prepare_cached(UPSERT).expect("prepare the upsert");
            for person in people {
                let person = person.borrow();
                upsert
                    .execute(params![
                        rowid(person.id).expect("an id SQLite can store"),
                        person.name,
                        person.email,
                        person.active,
                        person.revenue,
                        person.tags.join(","),
                    ])
                    .expect("write a person");
            }
        }
        tx.commit().expect("commit");
    }
}

/// `id` as a rowid (SQLite integers are signed): `None` beyond `i64::MAX`, where no row can be.
fn rowid(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

/// A point read of `id` (a transaction of its own: SQLite's autocommit).
fn read_revenue(conn: &Connection, id: u64) -> Option<f64> {
    let id = rowid(id)?;
    conn.prepare_cached(REVENUE)
        .expect("prepare the point read")
        .query_row([id], |row| row.get(0))
        .optional()
        .expect("read a revenue")
}

/// Sums the first column of every row `rows` yields, in Rust.
fn sum_rows(mut rows: rusqlite::Rows<'_>) -> f64 {
    let mut sum = 0.0;
    while let Some(row) = rows.next().expect("step") {
        sum += row.get::<_, f64>(0).expect("a revenue");
    }
    sum
}

impl Contender for Sqlite {
    fn name(&self) -> &'static str {
        "SQLite (rusqlite)"
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

    /// Steps through `SELECT revenue ... ORDER BY id` and adds in Rust: the same work as the
    /// other contenders (visit every record in key order, read one field). `SELECT SUM(revenue)`
    /// would let SQLite add inside its VM and skip the per-row round trip to Rust.
    fn sum_revenue(&mut self) -> f64 {
        let mut stmt = self
            .conn
            .prepare_cached(ALL_REVENUES)
            .expect("prepare the scan");
        sum_rows(stmt.query([]).expect("scan"))
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        let Some(start) = rowid(start) else {
            return 0.0;
        };
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(REVENUES_FROM)
            .expect("prepare the range scan");
        sum_rows(stmt.query(params![start, count]).expect("seek"))
    }

    /// One deferred transaction (one read snapshot) and the cached statement for every read.
    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let tx = self.conn.transaction().expect("begin a transaction");
        let sum = ids.iter().filter_map(|&id| read_revenue(&tx, id)).sum();
        tx.commit().expect("end the read transaction");
        sum
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let tx = self.conn.transaction().expect("begin a transaction");
        let mut sum = 0.0;
        {
            let mut stmt = tx
                .prepare_cached(REVENUES_FROM)
                .expect("prepare the range scan");
            for start in starts.iter().filter_map(|&start| rowid(start)) {
                sum += sum_rows(stmt.query(params![start, count]).expect("seek"));
            }
        }
        tx.commit().expect("end the read transaction");
        sum
    }

    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        let tx = self.conn.transaction().expect("begin a transaction");
        {
            let mut delete = tx.prepare_cached(DELETE).expect("prepare the delete");
            for id in ids.filter_map(rowid) {
                delete.execute([id]).expect("delete a person");
            }
        }
        tx.commit().expect("commit");
    }

    /// The main file plus the WAL (the shared-memory index, 32 KiB, is not data).
    fn size_on_disk(&mut self) -> u64 {
        let len = |path: &Path| fs::metadata(path).map_or(0, |meta| meta.len());
        let mut wal = self.file.clone().into_os_string();
        wal.push("-wal");
        len(&self.file) + len(Path::new(&wal))
    }

    /// Checkpoints the WAL into the main file, `VACUUM`s (which rebuilds the file without its
    /// free pages, writing the new pages through the WAL), then checkpoints again with `TRUNCATE`
    /// so the smaller file is what is on disk and the WAL is emptied.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::person;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Sqlite::open(dir.path(), Durability::None);
        db.load(&mut crate::people(1_000));
        assert_eq!(db.revenue(5), Some(person(5).revenue));
        assert_eq!(db.revenue(1_000), None);
        let all: f64 = (0..1_000).map(|id| person(id).revenue).sum();
        assert_eq!(db.sum_revenue(), all);
        let some: f64 = (100..150).map(|id| person(id).revenue).sum();
        assert_eq!(db.sum_revenue_from(100, 50), some);
        db.write_one(&person(2_000));
        db.write_batch(&[person(2_001), person(2_002), person(7)]);
        assert_eq!(db.revenue(2_002), Some(person(2_002).revenue));
        db.remove(&mut (0..10));
        assert_eq!(db.revenue(5), None);
        let mut reader = db.reader();
        let got = std::thread::spawn(move || (reader(5), reader(42)))
            .join()
            .unwrap();
        assert_eq!(got, (None, Some(person(42).revenue)));
        let before = db.size_on_disk();
        db.compact();
        let after = db.size_on_disk();
        assert!(after > 0 && after <= before, "{before} -> {after}");
    }
}
