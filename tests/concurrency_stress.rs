//! Several threads transfer amounts between rows in transactions while readers sum every row in
//! snapshots: every snapshot sees the same total, and no transfer is lost. Bounded in time.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::on_every_engine;
use zerotable::{Durability, Storage, WriteOptions};

const ACCOUNTS: u64 = 16;
const START_BALANCE: u64 = 1_000;
const WRITERS: u64 = 3;
const READERS: u64 = 2;
const RUN_FOR: Duration = Duration::from_millis(1_500);

fn balance(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8-byte balance"))
}

fn stress(engine: &str, storage: Storage) {
    let accounts = storage.raw_table::<u64>("accounts").unwrap();
    accounts
        .put_batch((0..ACCOUNTS).map(|a| (a, START_BALANCE.to_be_bytes().to_vec())))
        .unwrap();
    let total = ACCOUNTS * START_BALANCE;
    let stop = AtomicBool::new(false);
    let transfers = AtomicU64::new(0);
    let audits = AtomicU64::new(0);

    thread::scope(|scope| {
        for writer in 0..WRITERS {
            let (accounts, storage, stop, transfers) = (&accounts, &storage, &stop, &transfers);
            scope.spawn(move || {
                let mut seed = writer * 7 + 1;
                while !stop.load(Ordering::Relaxed) {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let (from, to, amount) =
                        ((seed >> 33) % ACCOUNTS, (seed >> 17) % ACCOUNTS, seed % 50);
                    storage
                        .write_with(WriteOptions::durability(Durability::None), |tx| {
                            let available = accounts.get_in(tx, &from, balance)?.unwrap_or(0);
                            let moved = amount.min(available);
                            accounts.update_in(tx, &from, |b| {
                                b.map(|b| (balance(b) - moved).to_be_bytes())
                            })?;
                            accounts.update_in(tx, &to, |b| {
                                b.map(|b| (balance(b) + moved).to_be_bytes())
                            })?;
                            Ok(())
                        })
                        .unwrap();
                    transfers.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for _ in 0..READERS {
            let (accounts, storage, stop, audits) = (&accounts, &storage, &stop, &audits);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let seen = storage
                        .read(|snap| {
                            accounts
                                .scan_in(snap)
                                .fold(0, |sum, _, b| Ok(sum + balance(b)))
                        })
                        .unwrap();
                    assert_eq!(
                        seen, total,
                        "{engine}: a snapshot saw money appear or vanish"
                    );
                    audits.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let started = Instant::now();
        while started.elapsed() < RUN_FOR {
            thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
    });

    let final_total = accounts
        .scan()
        .fold(0, |sum, _, b| Ok(sum + balance(b)))
        .unwrap();
    assert_eq!(final_total, total, "{engine}");
    let (transfers, audits) = (transfers.into_inner(), audits.into_inner());
    println!("{engine}: {transfers} transfers, {audits} snapshot audits, total always {total}");
    assert!(
        transfers > 0 && audits > 0,
        "{engine}: the stress did no work"
    );
}

/// Snapshots are consistent across concurrent transactions and writers are serialized: every
/// snapshot sum, and the final sum, equal the starting total, on every engine.
#[test]
fn snapshot_totals_hold_while_writers_transfer_concurrently() {
    on_every_engine(stress);
}
