//! rkyv values read back as owned Rust values, changed and stored again, in a program that
//! uses rkyv only through `zerotable::rkyv`.
//!
//! zerotable re-exports the rkyv it is built with as [`zerotable::rkyv`], so an application does
//! not need an rkyv dependency of its own. rkyv's derives name the crate `::rkyv` in the code
//! they generate, though, which does not resolve without that dependency (E0433, "could not
//! find `rkyv` in the list of imported crates"): `#[rkyv(crate = zerotable::rkyv)]` on each
//! derived type tells them where rkyv is.
//!
//! Reads hand the closure a validated `&ArchivedAccount` borrowed from the store. To get an
//! owned `Account` back (to change it, keep it, or pass it on), derive `Deserialize` too and
//! call `rkyv::deserialize` on the archived value. The program shows the three ways to write a
//! changed value back:
//!
//! 1. `get` + `put`: simple, but another writer may change the value in between;
//! 2. [`Table::update`](zerotable::Table::update): read, change and write in one transaction;
//! 3. [`Storage::write`](zerotable::Storage::write) with `get_in` / `put_in`: several rows in
//!    one transaction, which a failed check rolls back.
//!
//! ```text
//! cargo run --example rkyv_owned
//! ```

use zerotable::rkyv;
use zerotable::{Error, Storage};

/// The stored record. Every path in the derives goes through `zerotable::rkyv`.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq)]
#[rkyv(crate = zerotable::rkyv)]
struct Account {
    owner: String,
    balance_cents: i64,
    tags: Vec<String>,
}

/// Deserializes an archived account into an owned one. The archive was validated by the read
/// that handed it over; the error type only has to be one of rancor's.
fn to_owned(archived: &ArchivedAccount) -> Result<Account, Error> {
    rkyv::deserialize::<Account, rkyv::rancor::Error>(archived).map_err(Error::callback)
}

/// Moves `cents` from account `from` to account `to` in one write transaction: both accounts
/// change, or (an unknown account, too little money) neither does.
fn transfer(
    storage: &Storage,
    accounts: &zerotable::RkyvTable<u64, Account>,
    from: u64,
    to: u64,
    cents: i64,
) -> zerotable::Result<()> {
    storage.write(|tx| {
        let owned = |id: u64| -> zerotable::Result<Account> {
            accounts
                .get_in(tx, &id, to_owned)?
                .unwrap_or_else(|| Err(Error::callback(format!("no account {id}"))))
        };
        let (mut payer, mut payee) = (owned(from)?, owned(to)?);
        if payer.balance_cents < cents {
            // Returning an error rolls the whole transaction back.
            return Err(Error::callback(format!(
                "{} has {} cents, cannot send {cents}",
                payer.owner, payer.balance_cents
            )));
        }
        payer.balance_cents -= cents;
        payee.balance_cents += cents;
        accounts.put_in(tx, &from, &payer)?;
        accounts.put_in(tx, &to, &payee)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let storage = Storage::in_memory(); // or Storage::open("accounts.redb")?
    let accounts = storage.rkyv_table::<u64, Account>("accounts")?;
    accounts.put_batch([
        (
            1,
            Account {
                owner: "ada".into(),
                balance_cents: 10_000,
                tags: vec!["founder".into()],
            },
        ),
        (
            2,
            Account {
                owner: "grace".into(),
                balance_cents: 2_500,
                tags: vec![],
            },
        ),
    ])?;

    // 1. Read owned, change, put back. `get` gives `Option<Result<Account, _>>`: `?` the outer
    //    engine result, then the inner deserialization result.
    let mut ada: Account = accounts
        .get(&1, to_owned)?
        .ok_or("account 1 is missing")??;
    ada.tags.push("verified".into());
    accounts.put(&1, &ada)?;
    println!("get + put:      {ada:?}");

    // 2. The same change as one atomic read-modify-write. `update`'s closure returns the new
    //    value; returning `None` would delete the key, so it must not turn a failed
    //    deserialization into `None`. Here deserializing cannot fail: `Account` holds only
    //    strings, numbers and vectors, whose deserialization has no error case.
    accounts.update(&2, |old| {
        let mut grace = to_owned(old?).expect("a validated Account deserializes");
        grace.balance_cents += 1_000;
        Some(grace)
    })?;
    let grace = accounts
        .get(&2, to_owned)?
        .ok_or("account 2 is missing")??;
    println!("update:         {grace:?}");
    assert_eq!(grace.balance_cents, 3_500);

    // 3. Several owned values in one transaction, with a check that can roll it back.
    transfer(&storage, &accounts, 1, 2, 4_000)?;
    let refused = transfer(&storage, &accounts, 2, 1, 1_000_000).unwrap_err();
    println!("refused:        {refused}");
    let balances = accounts.filter_map(|id, a| Some((*id, a.balance_cents.to_native())))?;
    println!("balances:       {balances:?}");
    assert_eq!(balances, [(1, 6_000), (2, 7_500)]);

    // Reads that need no owned value stay zero-copy: only the matching owner is copied out.
    let rich =
        accounts.filter_map(|_, a| (a.balance_cents > 7_000).then(|| a.owner.to_string()))?;
    assert_eq!(rich, ["grace"]);
    Ok(())
}
