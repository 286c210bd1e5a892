//! zerotable itself, in each of its table kinds: rkyv (validated or unchecked), FlatBuffers and
//! raw bytes on redb, rkyv on the memory engine, and rkyv on every other engine (fjall, LMDB,
//! SQLite, RocksDB), opened by address as a user would (`Storage::connect`).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use flatbuffers::FlatBufferBuilder;
use rkyv::rancor;
use zerotable::schemas::{User, UserArgs, finish_user_buffer};
use zerotable::{
    FlatBuffersTable, RawTable, RedbEngine, RedbOptions, RkyvTable, Scanner, Snapshot, Storage,
    Table, ValueSerializer,
};

use super::disk::{sqlite_bytes, tree_bytes};
use crate::data::ArchivedPerson;
use crate::{Contender, Durability, Person};

const TABLE: &str = "people";

/// One zerotable storage and its `people` table, of one of the kinds below.
pub struct Zerotable {
    name: &'static str,
    storage: Storage,
    table: People,
    /// Reused for every FlatBuffers record written (reset between rows).
    fbb: FlatBufferBuilder<'static>,
    size: SizeOf,
}

/// How a contender's size on disk is measured.
enum SizeOf {
    /// The engine's own `size_on_disk` (0 for the memory engine, which has none).
    Engine,
    /// The bytes allocated to every file under this folder ([`tree_bytes`]): what the raw
    /// contender of the same engine counts, so that their ratio is the layer's.
    Files(PathBuf),
    /// A SQLite database file and its WAL ([`sqlite_bytes`]), as the raw SQLite contenders
    /// count it.
    Sqlite(PathBuf),
}

/// An engine zerotable is measured on, beside that engine's raw contender.
#[derive(Clone, Copy, Debug)]
pub enum OnEngine {
    /// `fjall://` (beside `RawFjall`).
    Fjall,
    /// `lmdb://` (beside `Heed`).
    Lmdb,
    /// `sqlite://` (beside `RawSqliteBlob`).
    Sqlite,
    /// `rocksdb://` (beside `RawRocksDb`).
    #[cfg(feature = "rocksdb")]
    RocksDb,
}

impl OnEngine {
    /// The contender's name, the engine's in parentheses as for redb and memory.
    fn name(self) -> &'static str {
        match self {
            OnEngine::Fjall => "zerotable rkyv (fjall)",
            OnEngine::Lmdb => "zerotable rkyv (LMDB)",
            OnEngine::Sqlite => "zerotable rkyv (SQLite)",
            #[cfg(feature = "rocksdb")]
            OnEngine::RocksDb => "zerotable rkyv (RocksDB)",
        }
    }

    fn scheme(self) -> &'static str {
        match self {
            OnEngine::Fjall => "fjall",
            OnEngine::Lmdb => "lmdb",
            OnEngine::Sqlite => "sqlite",
            #[cfg(feature = "rocksdb")]
            OnEngine::RocksDb => "rocksdb",
        }
    }

    /// Options beyond durability, as a query fragment: LMDB gets heed's map size, so both
    /// have the same room.
    fn options(self) -> &'static str {
        match self {
            OnEngine::Lmdb => "&map_size=4GiB",
            _ => "",
        }
    }
}

/// `path` percent-encoded for the location of an engine address (anything but unreserved
/// characters and `/`).
fn encode_path(path: &Path) -> String {
    let text = path.to_str().expect("a UTF-8 temporary path");
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The table, by kind. Every variant is cheap to clone and `Send + Sync`: `reader` clones it.
#[derive(Clone)]
enum People {
    /// `get` / scans: validated rkyv access.
    Rkyv(RkyvTable<u64, Person>),
    /// `get_unchecked` and unchecked scans.
    RkyvUnchecked(RkyvTable<u64, Person>),
    /// Verified FlatBuffers `User` buffers.
    Flatbuffers(FlatBuffersTable<u64, User<'static>>),
    /// `get_unchecked` and unchecked scans of the same buffers.
    FlatbuffersUnchecked(FlatBuffersTable<u64, User<'static>>),
    /// rkyv bytes stored as raw values; the caller validates them with `rkyv::access` inside
    /// the read closure: the same work as the raw redb contender, through zerotable's layer.
    Raw(RawTable<u64>),
}

fn open_redb(dir: &Path, durability: Durability) -> Storage {
    let durability = match durability {
        Durability::Immediate => zerotable::Durability::Immediate,
        Durability::None => zerotable::Durability::None,
    };
    let engine = RedbEngine::open_with(
        dir.join("zerotable.redb"),
        RedbOptions::default().durability(durability),
    )
    .expect("open zerotable.redb");
    Storage::new(engine)
}

impl Zerotable {
    fn new(name: &'static str, storage: Storage, table: People) -> Self {
        Zerotable {
            name,
            storage,
            table,
            fbb: FlatBufferBuilder::new(),
            size: SizeOf::Engine,
        }
    }

    /// rkyv table (validated reads) on `engine`, opened by address with `Storage::connect`,
    /// its files under `dir/zerotable-<scheme>/`.
    pub fn on(engine: OnEngine, dir: &Path, durability: Durability) -> Self {
        let folder = dir.join(format!("zerotable-{}", engine.scheme()));
        std::fs::create_dir_all(&folder).expect("create the engine's folder");
        let location = match engine {
            OnEngine::Sqlite => folder.join("people.sqlite"),
            _ => folder.join("db"),
        };
        let durability = match durability {
            Durability::Immediate => "immediate",
            Durability::None => "none",
        };
        let address = format!(
            "{}://{}?durability={durability}{}",
            engine.scheme(),
            encode_path(&location),
            engine.options()
        );
        let storage = Storage::connect(&address).unwrap_or_else(|e| panic!("open {address}: {e}"));
        let table = storage.rkyv_table(TABLE).expect("rkyv table");
        let mut this = Self::new(engine.name(), storage, People::Rkyv(table));
        this.size = match engine {
            OnEngine::Sqlite => SizeOf::Sqlite(location),
            _ => SizeOf::Files(folder),
        };
        this
    }

    /// rkyv table on redb; `unchecked` reads with `get_unchecked`.
    pub fn rkyv(dir: &Path, durability: Durability, unchecked: bool) -> Self {
        let storage = open_redb(dir, durability);
        let table = storage.rkyv_table(TABLE).expect("rkyv table");
        if unchecked {
            let table = People::RkyvUnchecked(table);
            Self::new("zerotable rkyv unchecked (redb)", storage, table)
        } else {
            Self::new("zerotable rkyv (redb)", storage, People::Rkyv(table))
        }
    }

    /// FlatBuffers table on redb; `unchecked` reads with `get_unchecked`.
    pub fn flatbuffers(dir: &Path, durability: Durability, unchecked: bool) -> Self {
        let storage = open_redb(dir, durability);
        let table = storage.flatbuffers_table(TABLE).expect("flatbuffers table");
        if unchecked {
            let table = People::FlatbuffersUnchecked(table);
            Self::new("zerotable flatbuffers unchecked (redb)", storage, table)
        } else {
            let table = People::Flatbuffers(table);
            Self::new("zerotable flatbuffers (redb)", storage, table)
        }
    }

    /// Raw table on redb holding rkyv bytes.
    pub fn raw(dir: &Path, durability: Durability) -> Self {
        let storage = open_redb(dir, durability);
        let table = storage.raw_table(TABLE).expect("raw table");
        Self::new("zerotable raw (redb)", storage, People::Raw(table))
    }

    /// rkyv table on the memory engine (validated reads).
    pub fn memory() -> Self {
        let storage = Storage::in_memory();
        let table = storage.rkyv_table(TABLE).expect("rkyv table");
        Self::new("zerotable rkyv (memory)", storage, People::Rkyv(table))
    }
}

/// Encodes `person` as a finished `User` buffer in `fbb` (reset first) and returns its bytes.
fn user_buffer<'b>(fbb: &'b mut FlatBufferBuilder<'static>, person: &Person) -> &'b [u8] {
    fbb.reset();
    let name = fbb.create_string(&person.name);
    let email = fbb.create_string(&person.email);
    let tags: Vec<_> = person.tags.iter().map(|t| fbb.create_string(t)).collect();
    let tags = fbb.create_vector(&tags);
    let user = User::create(
        fbb,
        &UserArgs {
            id: person.id,
            name: Some(name),
            email: Some(email),
            active: person.active,
            revenue: person.revenue,
            tags: Some(tags),
        },
    );
    finish_user_buffer(fbb, user);
    fbb.finished_data()
}

/// rkyv bytes of `person`, for the raw table.
fn rkyv_bytes(person: &Person) -> rkyv::util::AlignedVec {
    rkyv::to_bytes::<rancor::Error>(person).expect("serialize person")
}

/// The raw contender's read: validated rkyv access by the caller (as in raw redb).
fn raw_revenue(bytes: &[u8]) -> f64 {
    rkyv::access::<ArchivedPerson, rancor::Error>(bytes)
        .expect("valid archived person")
        .revenue
        .to_native()
}

impl People {
    /// The revenue of `id`, read in `snapshot`.
    fn revenue_in(&self, snapshot: &Snapshot, id: u64) -> Option<f64> {
        let revenue = match self {
            People::Rkyv(table) => table.get_in(snapshot, &id, |p| p.revenue.to_native()),
            // SAFETY: as in `revenue`: only this contender writes this table.
            People::RkyvUnchecked(table) => unsafe {
                table.get_unchecked_in(snapshot, &id, |p| p.revenue.to_native())
            },
            People::Flatbuffers(table) => table.get_in(snapshot, &id, |u| u.revenue()),
            // SAFETY: as in `revenue`: only this contender writes this table.
            People::FlatbuffersUnchecked(table) => unsafe {
                table.get_unchecked_in(snapshot, &id, |u| u.revenue())
            },
            People::Raw(table) => table.get_in(snapshot, &id, raw_revenue),
        };
        revenue.expect("get_in")
    }

    /// [`sum_from`] of every start, in `snapshot`.
    fn sums_from_in(&self, snapshot: &Snapshot, starts: &[u64], count: usize) -> f64 {
        let each = |start: u64| match self {
            People::Rkyv(table) => sum_from(table.range_in(snapshot, start..), count, |p| {
                p.revenue.to_native()
            }),
            // SAFETY: as in `revenue`: only this contender writes this table.
            People::RkyvUnchecked(table) => unsafe {
                sum_from(table.range_in(snapshot, start..).unchecked(), count, |p| {
                    p.revenue.to_native()
                })
            },
            People::Flatbuffers(table) => {
                sum_from(table.range_in(snapshot, start..), count, |u| u.revenue())
            }
            // SAFETY: as in `revenue`: only this contender writes this table.
            People::FlatbuffersUnchecked(table) => unsafe {
                sum_from(table.range_in(snapshot, start..).unchecked(), count, |u| {
                    u.revenue()
                })
            },
            People::Raw(table) => sum_from(table.range_in(snapshot, start..), count, raw_revenue),
        };
        starts.iter().map(|&start| each(start)).sum()
    }

    fn revenue(&self, id: u64) -> Option<f64> {
        let revenue = match self {
            People::Rkyv(table) => table.get(&id, |p| p.revenue.to_native()),
            // SAFETY: only this contender writes this table, always through this same
            // `RkyvTable<u64, Person>`, and nothing else touches the file.
            People::RkyvUnchecked(table) => unsafe {
                table.get_unchecked(&id, |p| p.revenue.to_native())
            },
            People::Flatbuffers(table) => table.get(&id, |u| u.revenue()),
            // SAFETY: only this contender writes this table, always through this same verified
            // `FlatBuffersTable<u64, User>`, and nothing else touches the file.
            People::FlatbuffersUnchecked(table) => unsafe {
                table.get_unchecked(&id, |u| u.revenue())
            },
            People::Raw(table) => table.get(&id, raw_revenue),
        };
        revenue.expect("get")
    }
}

/// Sums the first `count` values `scanner` visits, stopping the scan early.
fn sum_from<V, S>(
    scanner: Scanner<'_, u64, V, S>,
    count: usize,
    revenue: impl Fn(S::Output<'_>) -> f64,
) -> f64
where
    V: ?Sized,
    S: ValueSerializer<V>,
{
    let mut sum = 0.0;
    let mut left = count;
    if left == 0 {
        return sum;
    }
    scanner
        .try_for_each(|_, value| {
            sum += revenue(value);
            left -= 1;
            Ok(if left == 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })
        .expect("range");
    sum
}

fn sum_all<V, S>(scanner: Scanner<'_, u64, V, S>, revenue: impl Fn(S::Output<'_>) -> f64) -> f64
where
    V: ?Sized,
    S: ValueSerializer<V>,
{
    scanner
        .fold(0.0, |sum, _, value| Ok(sum + revenue(value)))
        .expect("scan")
}

/// Deletes every id in one write transaction.
fn delete_all<V, S>(storage: &Storage, table: &Table<u64, V, S>, ids: &mut dyn Iterator<Item = u64>)
where
    V: ?Sized,
    S: ValueSerializer<V>,
{
    storage
        .write(|tx| {
            for id in ids {
                table.delete_in(tx, &id)?;
            }
            Ok(())
        })
        .expect("delete batch");
}

impl Contender for Zerotable {
    fn name(&self) -> &'static str {
        self.name
    }

    fn load(&mut self, people: &mut dyn Iterator<Item = Person>) {
        let Zerotable { table, fbb, .. } = self;
        let written = match table {
            People::Rkyv(table) | People::RkyvUnchecked(table) => {
                table.put_batch(people.map(|p| (p.id, p)))
            }
            // put_batch takes owned items (an iterator cannot lend the builder's buffer), so
            // each finished buffer is copied out once.
            People::Flatbuffers(table) | People::FlatbuffersUnchecked(table) => {
                table.put_batch(people.map(|p| (p.id, user_buffer(fbb, &p).to_vec())))
            }
            People::Raw(table) => table.put_batch(people.map(|p| (p.id, rkyv_bytes(&p)))),
        };
        written.expect("put_batch");
    }

    fn write_batch(&mut self, people: &[Person]) {
        let Zerotable { table, fbb, .. } = self;
        let written = match table {
            People::Rkyv(table) | People::RkyvUnchecked(table) => {
                table.put_batch(people.iter().map(|p| (p.id, p)))
            }
            People::Flatbuffers(table) | People::FlatbuffersUnchecked(table) => {
                table.put_batch(people.iter().map(|p| (p.id, user_buffer(fbb, p).to_vec())))
            }
            People::Raw(table) => table.put_batch(people.iter().map(|p| (p.id, rkyv_bytes(p)))),
        };
        written.expect("put_batch");
    }

    fn write_one(&mut self, person: &Person) {
        let Zerotable { table, fbb, .. } = self;
        let written = match table {
            People::Rkyv(table) | People::RkyvUnchecked(table) => table.put(&person.id, person),
            People::Flatbuffers(table) | People::FlatbuffersUnchecked(table) => {
                table.put(&person.id, user_buffer(fbb, person))
            }
            People::Raw(table) => table.put(&person.id, &rkyv_bytes(person)),
        };
        written.expect("put");
    }

    fn revenue(&mut self, id: u64) -> Option<f64> {
        self.table.revenue(id)
    }

    fn sum_revenue(&mut self) -> f64 {
        match &self.table {
            People::Rkyv(table) => sum_all(table.scan(), |p| p.revenue.to_native()),
            // SAFETY: as in `revenue`: only this contender writes this table.
            People::RkyvUnchecked(table) => unsafe {
                sum_all(table.scan().unchecked(), |p| p.revenue.to_native())
            },
            People::Flatbuffers(table) => sum_all(table.scan(), |u| u.revenue()),
            // SAFETY: as in `revenue`: only this contender writes this table.
            People::FlatbuffersUnchecked(table) => unsafe {
                sum_all(table.scan().unchecked(), |u| u.revenue())
            },
            People::Raw(table) => sum_all(table.scan(), raw_revenue),
        }
    }

    fn sum_revenue_from(&mut self, start: u64, count: usize) -> f64 {
        match &self.table {
            People::Rkyv(table) => sum_from(table.range(start..), count, |p| p.revenue.to_native()),
            // SAFETY: as in `revenue`: only this contender writes this table.
            People::RkyvUnchecked(table) => unsafe {
                sum_from(table.range(start..).unchecked(), count, |p| {
                    p.revenue.to_native()
                })
            },
            People::Flatbuffers(table) => sum_from(table.range(start..), count, |u| u.revenue()),
            // SAFETY: as in `revenue`: only this contender writes this table.
            People::FlatbuffersUnchecked(table) => unsafe {
                sum_from(table.range(start..).unchecked(), count, |u| u.revenue())
            },
            People::Raw(table) => sum_from(table.range(start..), count, raw_revenue),
        }
    }

    fn revenues(&mut self, ids: &[u64]) -> f64 {
        let snapshot = self.storage.snapshot().expect("snapshot");
        ids.iter()
            .filter_map(|&id| self.table.revenue_in(&snapshot, id))
            .sum()
    }

    fn sums_from(&mut self, starts: &[u64], count: usize) -> f64 {
        let snapshot = self.storage.snapshot().expect("snapshot");
        self.table.sums_from_in(&snapshot, starts, count)
    }

    fn remove(&mut self, ids: &mut dyn Iterator<Item = u64>) {
        match &self.table {
            People::Rkyv(table) | People::RkyvUnchecked(table) => {
                delete_all(&self.storage, table, ids)
            }
            People::Flatbuffers(table) | People::FlatbuffersUnchecked(table) => {
                delete_all(&self.storage, table, ids)
            }
            People::Raw(table) => delete_all(&self.storage, table, ids),
        }
    }

    fn size_on_disk(&mut self) -> u64 {
        match &self.size {
            // The memory engine has no size on disk (it says so: capability off).
            SizeOf::Engine if !self.storage.capabilities().size_on_disk => 0,
            SizeOf::Engine => self.storage.size_on_disk().expect("size_on_disk"),
            SizeOf::Files(folder) => tree_bytes(folder),
            SizeOf::Sqlite(file) => sqlite_bytes(file),
        }
    }

    fn compact(&mut self) {
        if self.storage.capabilities().compact {
            self.storage.compact().expect("compact");
        }
    }

    fn reader(&self) -> Box<dyn FnMut(u64) -> Option<f64> + Send> {
        let table = self.table.clone();
        Box::new(move |id| table.revenue(id))
    }
}
