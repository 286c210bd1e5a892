//! Crash recovery, on every persistent engine compiled in (redb, and fjall, LMDB, SQLite and
//! RocksDB with their features; one module of tests per engine, opened through its address): a
//! child process commits numbered transactions and is killed with SIGKILL at a random moment;
//! the parent reopens the database and checks that every acknowledged commit is there, that no
//! partial transaction is visible, that every row still validates as its type, and that the
//! engine's integrity check passes (where it has one; for redb also redb's own). Then it
//! restarts the child on the same database, which carries on numbering from what is on disk:
//! each kill point builds on the state the previous ones left.
//!
//! Two workloads, each in its own child process (this test binary run again, selected with
//! `--exact crash_child` and the `ZEROTABLE_CRASH_CHILD` variable; without it `crash_child` does
//! nothing):
//!
//! - **transfers**: transaction `n` moves an amount between two of 16 accounts (table
//!   `accounts`) and appends ledger entry `n` (table `ledger`), in one `Storage::write`. After a
//!   kill the ledger must hold exactly entries `1..=k` (each the transfer `n` determines), the
//!   accounts must be exactly the ledger replayed, their sum constant, and `k` must be the last
//!   acknowledged number or one more (committed, killed before it was printed).
//! - **batch**: `put_batch` of 50,000 rows, all rewritten by every batch with its number; the
//!   child is killed while a batch is being written, and after reopening every row must carry
//!   the same batch number: all of the batch or none of it.
//!
//! Commits use the default durability (`Immediate`): an acknowledged commit must survive.
//! The child prints `@zerotable-crash ACK <n>` (flushed) only after the commit returned `Ok`.
//! A SIGKILL loses nothing the child already handed to the kernel, so this covers process
//! crashes, not power loss; since most of a commit's time is its fsync, most kills find the
//! in-flight commit already on disk, unacknowledged.
//!
//! The default run makes 10 transfer kills and 3 batch kills. Long mode:
//!
//! ```sh
//! ZEROTABLE_CRASH_KILLS=50 cargo test --all-features --release --test crash_recovery -- --nocapture
//! ```
//!
//! (`ZEROTABLE_CRASH_KILLS` transfer kills and a fifth as many batch kills, at least 3.) Each
//! run prints the seed of its kill delays; `ZEROTABLE_CRASH_SEED=<seed>` replays the delays
//! (not the exact timing of the child, which the scheduler decides). A third test kills the
//! child while it creates the file (see its comment).

use std::io::{BufRead, BufReader, Read, Write};
use std::ops::ControlFlow;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rkyv::{Archive, Serialize};
use zerotable::Storage;

/// Set in the child's environment to the database's address; its absence makes `crash_child` a
/// no-op.
const CHILD_ENV: &str = "ZEROTABLE_CRASH_CHILD";
/// Which workload the child runs: `transfers` or `batch`.
const MODE_ENV: &str = "ZEROTABLE_CRASH_MODE";
const KILLS_ENV: &str = "ZEROTABLE_CRASH_KILLS";
const SEED_ENV: &str = "ZEROTABLE_CRASH_SEED";
const CHILD_TEST: &str = "crash_child";
/// Starts every line the child reports, so it cannot be mistaken for libtest's own output.
const MARK: &str = "@zerotable-crash ";
/// A child runs at most this long on its own (in case its parent never kills it).
const CHILD_LIFETIME: Duration = Duration::from_secs(120);

const ACCOUNTS: u32 = 16;
const INITIAL_BALANCE: i64 = 1_000_000;
const BATCH_ROWS: u64 = 50_000;

#[derive(Archive, Serialize)]
struct Account {
    id: u32,
    balance: i64,
    /// The last ledger entry that moved money in or out of this account.
    last_tx: u64,
}

#[derive(Archive, Serialize)]
struct Entry {
    n: u64,
    from: u32,
    to: u32,
    amount: i64,
    from_after: i64,
    to_after: i64,
}

#[derive(Archive, Serialize)]
struct Row {
    batch: u64,
    row: u64,
    check: u64,
}

/// splitmix64's output function: a well-mixed hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The transfer that ledger entry `n` records: (from, to, amount), from != to.
fn transfer(n: u64) -> (u32, u32, i64) {
    let h = mix(n);
    let accounts = u64::from(ACCOUNTS);
    let from = h % accounts;
    let to = (from + 1 + (h >> 16) % (accounts - 1)) % accounts;
    let amount = 1 + ((h >> 32) % 1_000) as i64;
    (from as u32, to as u32, amount)
}

fn row_check(batch: u64, row: u64) -> u64 {
    mix(batch.rotate_left(32) ^ row)
}

/// A small seeded PRNG for the kill delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mix(self.0)
    }

    /// A uniform-enough value in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn seeded_rng(test: &str) -> Rng {
    let seed = match std::env::var(SEED_ENV) {
        Ok(seed) => seed.parse().expect("ZEROTABLE_CRASH_SEED is a u64"),
        Err(_) => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
            mix(now.as_nanos() as u64 ^ u64::from(std::process::id()))
        }
    };
    println!("crash_recovery {test}: seed {seed} (replay the delays with {SEED_ENV}={seed})");
    Rng(seed)
}

fn transfer_kills() -> usize {
    match std::env::var(KILLS_ENV) {
        Ok(kills) => kills
            .parse()
            .ok()
            .filter(|&k| k > 0)
            .expect("ZEROTABLE_CRASH_KILLS is a positive number"),
        Err(_) => 10,
    }
}

// ---- the child ----

/// Reports one line to the parent. The leading newline ends whatever libtest printed last.
fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    // Failing to write means the parent is gone: stop.
    write!(out, "\n{MARK}{line}\n")
        .and_then(|()| out.flush())
        .expect("the parent stopped reading");
}

/// The child's entry point: does nothing in a normal test run.
#[test]
fn crash_child() {
    let Ok(address) = std::env::var(CHILD_ENV) else {
        return;
    };
    let deadline = Instant::now() + CHILD_LIFETIME;
    match std::env::var(MODE_ENV).as_deref() {
        Ok("transfers") => child_transfers(&address, deadline),
        Ok("batch") => child_batch(&address, deadline),
        other => panic!("unknown {MODE_ENV}: {other:?}"),
    }
    .expect("child workload failed");
}

fn child_transfers(address: &str, deadline: Instant) -> zerotable::Result<()> {
    let storage = Storage::connect(address)?;
    let accounts = storage.rkyv_table::<u32, Account>("accounts")?;
    let ledger = storage.rkyv_table::<u64, Entry>("ledger")?;
    if accounts.is_empty()? {
        storage.write(|tx| {
            for id in 0..ACCOUNTS {
                let account = Account {
                    id,
                    balance: INITIAL_BALANCE,
                    last_tx: 0,
                };
                accounts.put_in(tx, &id, &account)?;
            }
            Ok(())
        })?;
        report("SETUP");
    }
    let mut last = 0;
    ledger.scan().rev().try_for_each(|&n, _| {
        last = n;
        Ok(ControlFlow::Break(()))
    })?;
    for n in last + 1.. {
        if Instant::now() > deadline {
            break;
        }
        let (from, to, amount) = transfer(n);
        storage.write(|tx| {
            assert!(!ledger.contains_in(tx, &n)?, "entry {n} exists already");
            let from_before = accounts.get_in(tx, &from, |a| a.balance.to_native())?;
            let to_before = accounts.get_in(tx, &to, |a| a.balance.to_native())?;
            let from_after = from_before.expect("source account") - amount;
            let to_after = to_before.expect("target account") + amount;
            for (id, balance) in [(from, from_after), (to, to_after)] {
                let account = Account {
                    id,
                    balance,
                    last_tx: n,
                };
                accounts.put_in(tx, &id, &account)?;
            }
            let entry = Entry {
                n,
                from,
                to,
                amount,
                from_after,
                to_after,
            };
            ledger.put_in(tx, &n, &entry)
        })?;
        report(&format!("ACK {n}"));
    }
    Ok(())
}

fn child_batch(address: &str, deadline: Instant) -> zerotable::Result<()> {
    let storage = Storage::connect(address)?;
    let bulk = storage.rkyv_table::<u64, Row>("bulk")?;
    let current = bulk.get(&0, |r| r.batch.to_native())?.unwrap_or(0);
    for batch in current + 1.. {
        if Instant::now() > deadline {
            break;
        }
        report(&format!("BEGIN {batch}"));
        bulk.put_batch((0..BATCH_ROWS).map(|row| {
            let check = row_check(batch, row);
            (row, Row { batch, row, check })
        }))?;
        report(&format!("ACK {batch}"));
    }
    Ok(())
}

// ---- the parent ----

/// What the child reported, and when the parent read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Setup,
    Begin(u64),
    Ack(u64),
}

fn parse_event(line: &str) -> Option<Event> {
    let rest = line.strip_prefix(MARK)?;
    let (word, number) = rest.split_once(' ').unwrap_or((rest, ""));
    match word {
        "SETUP" => Some(Event::Setup),
        "BEGIN" => Some(Event::Begin(number.parse().ok()?)),
        "ACK" => Some(Event::Ack(number.parse().ok()?)),
        _ => panic!("unknown report from the child: {line:?}"),
    }
}

/// A running child; killed (if still running) when dropped, so a failing test leaves no
/// process behind.
struct Running {
    child: Child,
    events: Receiver<(Instant, Event)>,
    /// The reports already taken with `next_event`.
    seen: Vec<Event>,
    stdout: Option<JoinHandle<()>>,
    stderr: Option<JoinHandle<String>>,
}

/// What a killed child left: its reports in order, and its stderr.
struct Killed {
    events: Vec<Event>,
    stderr: String,
}

impl Killed {
    fn acks(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Ack(n) => Some(*n),
                _ => None,
            })
            .collect()
    }
}

fn spawn_child(address: &str, mode: &str) -> Running {
    let exe = std::env::current_exe().expect("path of this test binary");
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, address)
        .env(MODE_ENV, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let (sender, events) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let stdout = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(event) = parse_event(&line) {
                // The receiver is gone only once the parent stopped caring.
                let _ = sender.send((Instant::now(), event));
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    Running {
        child,
        events,
        seen: Vec::new(),
        stdout: Some(stdout),
        stderr: Some(stderr),
    }
}

impl Running {
    /// Waits for the child's next report.
    fn next_event(&mut self) -> (Instant, Event) {
        match self.events.recv_timeout(Duration::from_secs(60)) {
            Ok((at, event)) => {
                self.seen.push(event);
                (at, event)
            }
            Err(RecvTimeoutError::Timeout) => panic!("the child reported nothing for 60 s"),
            Err(RecvTimeoutError::Disconnected) => {
                let killed = self.kill();
                panic!("the child exited early; stderr:\n{}", killed.stderr)
            }
        }
    }

    /// Waits for the child to begin its next batch: when, and its number.
    fn next_begin(&mut self) -> (Instant, u64) {
        loop {
            if let (at, Event::Begin(batch)) = self.next_event() {
                return (at, batch);
            }
        }
    }

    /// SIGKILLs the child and collects everything it reported. Fails if it had exited by
    /// itself (a panic or an error in the child workload).
    fn kill(&mut self) -> Killed {
        self.child.kill().expect("send SIGKILL");
        let status = self.child.wait().expect("reap the child");
        self.stdout.take().unwrap().join().expect("stdout reader");
        let stderr = self.stderr.take().unwrap().join().expect("stderr reader");
        assert_eq!(
            status.signal(),
            Some(9),
            "the child was not killed by SIGKILL but ended with {status}; stderr:\n{stderr}"
        );
        let mut events = std::mem::take(&mut self.seen);
        events.extend(self.events.try_iter().map(|(_, event)| event));
        Killed { events, stderr }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.stdout.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the engine's integrity check when it has one (no other `Storage` of it may be open),
/// and for redb also redb's own, which returns `Ok(true)` for a clean file, `Ok(false)` if it
/// had to repair it.
fn assert_integrity(address: &str) {
    if let Some(path) = address.strip_prefix("redb://") {
        let mut db = ::redb::Database::open(path).expect("redb opens the file");
        match db.check_integrity() {
            Ok(true) => {}
            other => panic!("redb integrity check after reopen: {other:?} (expected Ok(true))"),
        }
    }
    let storage = Storage::connect(address).expect("reopen for the integrity check");
    if storage.capabilities().check_integrity {
        let integrity = storage.check_integrity().expect("integrity check");
        assert_eq!(
            integrity,
            zerotable::Integrity::Intact,
            "integrity check after reopen"
        );
    }
}

/// Checks the transfer invariants on the file and returns the ledger length `k`.
fn verify_transfers(address: &str) -> u64 {
    let storage = Storage::connect(address).expect("reopen after SIGKILL");
    let accounts = storage.rkyv_table::<u32, Account>("accounts").unwrap();
    let ledger = storage.rkyv_table::<u64, Entry>("ledger").unwrap();
    let k = storage
        .read(|snap| {
            // Replay the ledger: entries 1..=k, each the transfer its number determines.
            let mut balances = vec![INITIAL_BALANCE; ACCOUNTS as usize];
            let mut last_tx = vec![0; ACCOUNTS as usize];
            let k = ledger.scan_in(snap).fold(0, |previous, &n, e| {
                assert_eq!(n, previous + 1, "ledger has a gap before entry {n}");
                let (from, to, amount) = transfer(n);
                assert_eq!(e.n.to_native(), n, "entry {n}: number");
                assert_eq!(
                    (e.from.to_native(), e.to.to_native(), e.amount.to_native()),
                    (from, to, amount),
                    "entry {n}: transfer"
                );
                balances[from as usize] -= amount;
                balances[to as usize] += amount;
                last_tx[from as usize] = n;
                last_tx[to as usize] = n;
                assert_eq!(
                    (e.from_after.to_native(), e.to_after.to_native()),
                    (balances[from as usize], balances[to as usize]),
                    "entry {n}: balances after"
                );
                Ok(n)
            })?;
            assert_eq!(ledger.len_in(snap)?, k, "ledger length vs its entries");
            // The accounts are exactly the replayed ledger: nothing half-applied.
            let mut total = 0;
            let ids = accounts.scan_in(snap).fold(Vec::new(), |mut ids, &id, a| {
                let i = id as usize;
                assert_eq!(a.id.to_native(), id, "account {id}: id");
                assert_eq!(
                    (a.balance.to_native(), a.last_tx.to_native()),
                    (balances[i], last_tx[i]),
                    "account {id} does not match the ledger's {k} entries"
                );
                total += a.balance.to_native();
                ids.push(id);
                Ok(ids)
            })?;
            if ids.is_empty() {
                assert_eq!(k, 0, "ledger entries but no accounts");
            } else {
                assert_eq!(ids, (0..ACCOUNTS).collect::<Vec<_>>(), "account ids");
                assert_eq!(
                    total,
                    INITIAL_BALANCE * i64::from(ACCOUNTS),
                    "sum of balances"
                );
            }
            assert_eq!(accounts.len_in(snap)?, ids.len() as u64, "accounts length");
            Ok(k)
        })
        .expect("every row reads back and validates");
    drop((accounts, ledger, storage));
    assert_integrity(address);
    k
}

/// The address of a database named `name` in `dir` on `engine`.
fn address(engine: &str, dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let path = path.to_str().expect("temporary paths are UTF-8");
    assert!(!path.contains(['%', '?']), "{path}: would need escaping");
    format!("{engine}://{path}")
}

/// Every acknowledged transfer survives a SIGKILL of the writing process, at most the one
/// commit in flight appears besides them, and no transaction is half applied: the ledger has no
/// gaps, the accounts are exactly the ledger replayed, and the integrity check passes.
fn acknowledged_transfers_survive_sigkill(engine: &str) {
    let kills = transfer_kills();
    let mut rng = seeded_rng(&format!("{engine} transfers"));
    let dir = tempfile::tempdir().unwrap();
    let path = address(engine, dir.path(), "transfers");
    // The database is created before the first kill: a kill while an engine initializes a new
    // one is `kill_while_creating_leaves_it_openable`'s subject.
    drop(Storage::connect(&path).expect("create the database"));
    let started = Instant::now();
    let mut on_disk = 0; // ledger length after the previous kill
    let mut acknowledged = 0; // acknowledged commits over all runs
    let mut unacknowledged_found = 0; // kills that left one commit the child had not reported
    let mut max_unacknowledged = 0;
    for kill in 1..=kills {
        let delay = Duration::from_millis(rng.between(20, 300));
        let mut child = spawn_child(&path, "transfers");
        thread::sleep(delay);
        let killed = child.kill();
        let acks = killed.acks();
        let expected: Vec<u64> = (on_disk + 1..).take(acks.len()).collect();
        assert_eq!(
            acks, expected,
            "kill {kill}: the child must carry on from entry {on_disk}"
        );
        let last_ack = acks.last().copied().unwrap_or(on_disk);
        let k = verify_transfers(&path);
        assert!(
            k >= last_ack,
            "kill {kill}: acknowledged entry {last_ack} is lost, the ledger ends at {k}; \
             child stderr:\n{}",
            killed.stderr
        );
        assert!(
            k <= last_ack + 1,
            "kill {kill}: ledger ends at {k}, but only one commit past the last acknowledged \
             ({last_ack}) can have been in flight"
        );
        let unacknowledged = k - last_ack;
        unacknowledged_found += usize::from(unacknowledged > 0);
        max_unacknowledged = max_unacknowledged.max(unacknowledged);
        acknowledged += acks.len();
        println!(
            "crash_recovery {engine} transfers: kill {kill:>3} after {:>3} ms: {:>4} acknowledged, \
             ledger 1..={k}, {unacknowledged} unacknowledged on disk",
            delay.as_millis(),
            acks.len(),
        );
        on_disk = k;
    }
    assert!(
        acknowledged > 0,
        "no commit was acknowledged in {kills} runs"
    );
    println!(
        "crash_recovery {engine} transfers: SUMMARY {kills} kill points survived, {acknowledged} \
         acknowledged commits (ledger 1..={on_disk}), max {max_unacknowledged} \
         unacknowledged-but-committed per kill ({unacknowledged_found} kills left one), \
         {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A kill while `Storage::connect` creates a new database must not leave one that no later open
/// accepts.
///
/// redb initializes a new file in place and writes its magic number last, refusing any
/// non-empty file without it; a process killed in that window used to leave a file every later
/// `Storage::open` refused. zerotable now initializes new redb files under a temporary name and
/// links them into place, so the file appears whole or not at all. The other engines are held
/// to the same: a half-created database opens (empty) or is created again.
fn kill_while_creating_leaves_it_openable(engine: &str) {
    let mut rng = seeded_rng(&format!("{engine} create"));
    let dir = tempfile::tempdir().unwrap();
    let mut unopenable = Vec::new();
    let attempts = 40;
    for attempt in 0..attempts {
        let path = address(engine, dir.path(), &format!("create{attempt}"));
        let delay = Duration::from_micros(rng.between(0, 15_000));
        let mut child = spawn_child(&path, "transfers");
        thread::sleep(delay);
        child.kill();
        if let Err(e) = Storage::connect(&path) {
            unopenable.push(format!(
                "killed after {delay:?}: {e}: {:?}",
                std::error::Error::source(&e)
            ));
        }
    }
    assert!(
        unopenable.is_empty(),
        "{} of {attempts} kills left a file Storage::open refuses:\n{}",
        unopenable.len(),
        unopenable.join("\n")
    );
}

/// Checks that every row of `bulk` carries one batch number, and returns it (0: no batch yet).
fn verify_batch(address: &str) -> u64 {
    let storage = Storage::connect(address).expect("reopen after SIGKILL");
    let bulk = storage.rkyv_table::<u64, Row>("bulk").unwrap();
    let (rows, batch) = storage
        .read(|snap| {
            let (rows, batch) = bulk.scan_in(snap).fold((0, None), |(rows, batch), &i, r| {
                assert_eq!(i, rows, "row keys are 0..{BATCH_ROWS} without gaps");
                let b = r.batch.to_native();
                assert_eq!(r.row.to_native(), i, "row {i}: number");
                assert_eq!(r.check.to_native(), row_check(b, i), "row {i}: check");
                let batch = batch.unwrap_or(b);
                assert_eq!(
                    b, batch,
                    "row {i} is from batch {b} but row 0 from batch {batch}: a partial batch"
                );
                Ok((rows + 1, Some(batch)))
            })?;
            assert_eq!(bulk.len_in(snap)?, rows, "table length vs its rows");
            Ok((rows, batch.unwrap_or(0)))
        })
        .expect("every row reads back and validates");
    assert!(
        rows == 0 || rows == BATCH_ROWS,
        "{rows} rows: not a whole batch"
    );
    drop((bulk, storage));
    assert_integrity(address);
    batch
}

/// A `put_batch` of 50,000 rows killed while it is written is all there or not there at all
/// after reopening, and every acknowledged batch survives.
fn large_put_batch_is_all_or_nothing_under_sigkill(engine: &str) {
    let kills = (transfer_kills() / 5).max(3);
    let mut rng = seeded_rng(&format!("{engine} batch"));
    let dir = tempfile::tempdir().unwrap();
    let path = address(engine, dir.path(), "batch");
    let started = Instant::now();
    let mut on_disk = 0;
    let (mut in_flight_lost, mut in_flight_kept) = (0, 0);
    let mut batch_time = None;
    for kill in 1..=kills {
        let mut child = spawn_child(&path, "batch");
        let (mut begun, mut target) = child.next_begin();
        assert_eq!(target, on_disk + 1, "kill {kill}: the child carries on");
        // The first run times one whole batch; every run then kills 5-150 % of that time after a
        // batch began: mostly inside it, sometimes inside the next one.
        let batch_time = *batch_time.get_or_insert_with(|| {
            let (acked, event) = child.next_event();
            assert_eq!(event, Event::Ack(target), "kill {kill}");
            let time = acked - begun;
            (begun, target) = child.next_begin();
            time
        });
        let delay = batch_time.mul_f64(rng.between(5, 150) as f64 / 100.0);
        thread::sleep(delay.saturating_sub(begun.elapsed()));
        let killed = child.kill();
        let last_ack = killed.acks().last().copied().unwrap_or(target - 1);
        let in_flight = killed.events.last() == Some(&Event::Begin(last_ack + 1));
        let batch = verify_batch(&path);
        assert!(
            batch == last_ack || batch == last_ack + 1,
            "kill {kill}: the rows are from batch {batch}, the last acknowledged is {last_ack}"
        );
        let outcome = if !in_flight {
            "no batch in flight".to_string()
        } else if batch == last_ack {
            in_flight_lost += 1;
            format!("in-flight batch {} rolled back whole", last_ack + 1)
        } else {
            in_flight_kept += 1;
            format!("in-flight batch {batch} committed whole, unacknowledged")
        };
        println!(
            "crash_recovery {engine} batch: kill {kill:>2} {:>4} ms after batch {} began (one batch: \
             {} ms): last acknowledged {last_ack}, all {BATCH_ROWS} rows from batch {batch} \
             ({outcome})",
            delay.as_millis(),
            target,
            batch_time.as_millis(),
        );
        on_disk = batch;
    }
    assert!(
        in_flight_lost > 0,
        "no kill landed inside a put_batch: the test did not test anything"
    );
    println!(
        "crash_recovery {engine} batch: SUMMARY {kills} kill points survived; killed inside a \
         {BATCH_ROWS}-row put_batch: {in_flight_lost} rolled back whole, {in_flight_kept} \
         committed whole (unacknowledged); {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// One module of the three crash tests per persistent engine compiled in.
macro_rules! crash_tests {
    ($($(#[$cfg:meta])* $engine:ident),* $(,)?) => {$(
        $(#[$cfg])*
        mod $engine {
            #[test]
            fn acknowledged_transfers_survive_sigkill() {
                super::acknowledged_transfers_survive_sigkill(stringify!($engine));
            }

            #[test]
            fn kill_while_creating_leaves_it_openable() {
                super::kill_while_creating_leaves_it_openable(stringify!($engine));
            }

            #[test]
            fn large_put_batch_is_all_or_nothing_under_sigkill() {
                super::large_put_batch_is_all_or_nothing_under_sigkill(stringify!($engine));
            }
        }
    )*};
}

crash_tests!(
    redb,
    #[cfg(feature = "fjall")]
    fjall,
    #[cfg(feature = "lmdb")]
    lmdb,
    #[cfg(feature = "sqlite")]
    sqlite,
    #[cfg(feature = "rocksdb")]
    rocksdb,
);
