//! The contenders of zerotable's benchmark suite, behind one interface, so every benchmark runs
//! the same logical work on each: a point read reads one field of the record, a scan sums a
//! field, writes store whole records.

pub mod contenders;
pub mod data;

use std::path::Path;

pub use data::{Person, people, people_shuffled};

/// Whether every commit is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Fsync on every commit (the safe default of every engine here).
    Immediate,
    /// No fsync per commit.
    None,
}

/// One way of storing `Person` records under u64 keys.
///
/// Implementations keep their engine open for their whole life and use its natural API the way
/// a careful user would (one transaction per call, prepared statements, typed tables).
pub trait Contender {
    /// A short name for tables of results, e.g. `"zerotable rkyv (redb)"`.
    fn name(&self) -> &'static str;

    /// Stores every person in one transaction.
    fn load(&mut self, people: &mut dyn Iterator<Item = Person>);

    /// Stores `people` in one transaction (a batch write).
    fn write_batch(&mut self, people: &[Person]);

    /// Stores one person in its own transaction (an individual write).
    fn write_one(&mut self, person: &Person);

    /// The revenue of person `id`, read by key; `None` if absent.
    fn revenue(&mut self, id: u64) -> Option<f64>;

    /// The sum of every person's revenue, in key order, over the whole store.
    fn sum_revenue(&mut self) -> f64;

    /// The sum of the revenue of the first `count` people with id >= `start` (seek + scan).
    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64;

    /// The sum of the revenue of every person in `ids` (absent ones count 0), all read in one
    /// read transaction: what a careful user does for many reads (one snapshot, the table
    /// opened once, statements prepared once).
    fn revenues(&mut self, ids: &[u64]) -> f64;

    /// For every start of `starts`, [`sum_revenue_from`](Self::sum_revenue_from)`(start,
    /// count)`, all in one read transaction; the sum of them all.
    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64;

    /// Removes every id in `ids` in one transaction.
    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>);

    /// Bytes on disk (0 for memory engines).
    fn size_on_disk(&mut self) -> u64;

    /// Reclaims free space where the engine can (redb compaction, SQLite VACUUM).
    fn compact(&mut self);

    /// A point reader for another thread, over the same store (sharing the engine handle, or
    /// with a connection of its own where the engine needs one).
    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send>;
}

/// Opens contender `kind` in directory `dir`.
pub fn open(kind: Kind, dir: &Path, durability: Durability) -> Box<dyn Contender> {
    contenders::open(kind, dir, durability)
}

/// Every contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// redb with `&[u8]` keys and rkyv bytes, reading the field with validated rkyv access.
    RawRedb,
    /// zerotable rkyv table on redb, validated reads.
    ZerotableRkyv,
    /// zerotable rkyv table on redb, `get_unchecked` and unchecked scans.
    ZerotableRkyvUnchecked,
    /// zerotable FlatBuffers table on redb.
    ZerotableFlatbuffers,
    /// zerotable FlatBuffers table on redb, `get_unchecked` and unchecked scans (no verifier).
    ZerotableFlatbuffersUnchecked,
    /// zerotable raw table on redb; the closure validates the rkyv bytes itself (same work as
    /// `RawRedb`), measuring the typed layer without its serializer.
    ZerotableRaw,
    /// zerotable rkyv table on the memory engine.
    ZerotableMemory,
    /// serde + postcard values on raw redb, decoded on every read: the naive way.
    PostcardRedb,
    /// native_db (typed models over redb).
    NativeDb,
    /// heed (typed LMDB), rkyv values read in place: raw LMDB, the reference of
    /// [`ZerotableLmdb`](Kind::ZerotableLmdb).
    Heed,
    /// zerotable rkyv table on LMDB (`lmdb://`), validated reads.
    ZerotableLmdb,
    /// fjall's own API, `&[u8]` keys and rkyv bytes read with validated rkyv access.
    RawFjall,
    /// zerotable rkyv table on fjall (`fjall://`), validated reads.
    ZerotableFjall,
    /// SQLite via rusqlite (bundled), one row per person, a column per field.
    Sqlite,
    /// SQLite via rusqlite as a key-value store: a `WITHOUT ROWID` table of BLOB keys and rkyv
    /// BLOB values read with validated rkyv access (the same work as zerotable on SQLite).
    RawSqliteBlob,
    /// zerotable rkyv table on SQLite (`sqlite://`), validated reads.
    ZerotableSqlite,
    /// RocksDB's own API (rust-rocksdb), `&[u8]` keys and rkyv bytes read with validated rkyv
    /// access on pinned slices. Only with the `rocksdb` feature.
    #[cfg(feature = "rocksdb")]
    RawRocksDb,
    /// zerotable rkyv table on RocksDB (`rocksdb://`), validated reads. Only with the `rocksdb`
    /// feature.
    #[cfg(feature = "rocksdb")]
    ZerotableRocksDb,
}

impl Kind {
    /// Every contender compiled in, in the order result tables list them.
    pub const ALL: &'static [Kind] = &[
        Kind::RawRedb,
        Kind::ZerotableRkyv,
        Kind::ZerotableRkyvUnchecked,
        Kind::ZerotableFlatbuffers,
        Kind::ZerotableFlatbuffersUnchecked,
        Kind::ZerotableRaw,
        Kind::ZerotableMemory,
        Kind::PostcardRedb,
        Kind::NativeDb,
        Kind::Heed,
        Kind::ZerotableLmdb,
        Kind::RawFjall,
        Kind::ZerotableFjall,
        Kind::Sqlite,
        Kind::RawSqliteBlob,
        Kind::ZerotableSqlite,
        #[cfg(feature = "rocksdb")]
        Kind::RawRocksDb,
        #[cfg(feature = "rocksdb")]
        Kind::ZerotableRocksDb,
    ];

    /// Fails to compile when a `Kind` is added, as a reminder to add it to [`Kind::ALL`].
    const fn _every_kind_is_listed(self) {
        match self {
            Kind::RawRedb
            | Kind::ZerotableRkyv
            | Kind::ZerotableRkyvUnchecked
            | Kind::ZerotableFlatbuffers
            | Kind::ZerotableFlatbuffersUnchecked
            | Kind::ZerotableRaw
            | Kind::ZerotableMemory
            | Kind::PostcardRedb
            | Kind::NativeDb
            | Kind::Heed
            | Kind::ZerotableLmdb
            | Kind::RawFjall
            | Kind::ZerotableFjall
            | Kind::Sqlite
            | Kind::RawSqliteBlob
            | Kind::ZerotableSqlite => {}
            #[cfg(feature = "rocksdb")]
            Kind::RawRocksDb | Kind::ZerotableRocksDb => {}
        }
    }

    /// The command-line name of the contender: its variant name in kebab case
    /// (`raw-fjall`, `zerotable-lmdb`).
    pub fn slug(self) -> String {
        let debug = format!("{self:?}");
        let mut slug = String::new();
        for (i, c) in debug.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                slug.push('-');
            }
            slug.push(c.to_ascii_lowercase());
        }
        slug
    }

    /// The contender whose [`slug`](Kind::slug) is `slug`, if it is compiled in.
    pub fn from_slug(slug: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|kind| kind.slug() == slug)
    }

    /// The contenders a benchmark runs: every one of [`Kind::ALL`], or, when environment
    /// variable `ZEROTABLE_BENCH_CONTENDERS` is set, those it lists (slugs separated by commas
    /// or spaces, e.g. `raw-fjall,zerotable-fjall`), in [`Kind::ALL`]'s order. Panics on a slug
    /// it does not know, naming the known ones.
    pub fn selected() -> Vec<Kind> {
        let Ok(list) = std::env::var("ZEROTABLE_BENCH_CONTENDERS") else {
            return Kind::ALL.to_vec();
        };
        let wanted: Vec<&str> = list
            .split([',', ' '])
            .filter(|slug| !slug.is_empty())
            .collect();
        for slug in &wanted {
            if Kind::from_slug(slug).is_none() {
                let known: Vec<String> = Kind::ALL.iter().map(|k| k.slug()).collect();
                panic!(
                    "ZEROTABLE_BENCH_CONTENDERS: unknown contender {slug:?} (known: {})",
                    known.join(", ")
                );
            }
        }
        Kind::ALL
            .iter()
            .copied()
            .filter(|kind| wanted.contains(&kind.slug().as_str()))
            .collect()
    }
}
