//! FlatBuffers with your own schema: orders stored as finished FlatBuffers in a redb file and
//! read back as verified views of the stored bytes.
//!
//! The schema is `examples/flatbuffers/order.fbs`. `examples/flatbuffers/order_generated.rs`
//! is what flatc 25.12.19 makes of it, generated the way the docs of
//! [`zerotable::flatbuffer_root!`] tell you to generate yours:
//!
//! ```text
//! flatc --rust -o examples/flatbuffers examples/flatbuffers/order.fbs
//! ```
//!
//! It is checked in, so this example builds without flatc; `.ci/check-generated.sh` fails when it
//! is no longer exactly what that flatc produces. The generated code refers to the runtime as
//! `::flatbuffers`, which here is this package's own `flatbuffers = "25.12.19"` dependency, the
//! same crate as [`zerotable::flatbuffers`]: buffers built with one are read by the other.
//!
//! The program loads 1,000 orders in one write transaction (one reused builder), reads one
//! back with [`Table::get`](zerotable::Table::get) (the closure sees the verified `Order` view
//! inside the stored bytes), sums a key range with a [`Scanner`](zerotable::Scanner) fold, lists
//! the newest orders with a reverse range scan, rewrites one order with
//! [`Table::update`](zerotable::Table::update), and shows that bytes which are not an `Order`
//! buffer are refused.
//!
//! ```text
//! cargo run --example flatbuffers
//! ```

use std::error::Error;
use std::ops::ControlFlow;

use zerotable::Storage;
use zerotable::flatbuffers::{FlatBufferBuilder, WIPOffset};

// flatc output, checked in. Not written to this crate's lint standards, and included with
// `include!` rather than declared as a `#[path]` module so that `cargo fmt` leaves it as flatc
// wrote it.
#[allow(warnings, clippy::all)]
mod order_generated {
    include!("flatbuffers/order_generated.rs");
}

use order_generated::shop::{
    LineItem, LineItemArgs, Order, OrderArgs, Status, finish_order_buffer,
};

// `Order` can now be the root type of a table: `storage.flatbuffers_table::<K, Order>`.
zerotable::flatbuffer_root!(Order);

/// Orders loaded.
const ORDERS: u64 = 1_000;
const SKUS: [&str; 4] = ["tea", "cup", "kettle", "spoon"];

/// One line of an order: SKU, quantity, unit price in cents.
type Line<'a> = (&'a str, u32, u64);

/// Builds a finished `Order` buffer in `builder` (reset first, so one builder serves every
/// order) and returns its bytes.
fn build_order<'b>(
    builder: &'b mut FlatBufferBuilder<'static>,
    id: u64,
    customer: &str,
    status: Status,
    lines: &[Line<'_>],
) -> &'b [u8] {
    builder.reset();
    let items: Vec<WIPOffset<LineItem>> = lines
        .iter()
        .map(|&(sku, quantity, price_cents)| {
            let sku = builder.create_string(sku);
            LineItem::create(
                builder,
                &LineItemArgs {
                    sku: Some(sku),
                    quantity,
                    price_cents,
                },
            )
        })
        .collect();
    let items = builder.create_vector(&items);
    let customer = builder.create_string(customer);
    let order = Order::create(
        builder,
        &OrderArgs {
            id,
            customer: Some(customer),
            status,
            items: Some(items),
        },
    );
    finish_order_buffer(builder, order);
    builder.finished_data()
}

/// The deterministic lines of order `id`: 1 to 3 items.
fn lines_of(id: u64) -> Vec<Line<'static>> {
    (0..1 + id % 3)
        .map(|i| {
            let sku = SKUS[((id + i) % 4) as usize];
            (
                sku,
                1 + ((id * 7 + i) % 5) as u32,
                250 + (id * 13 + i) % 900,
            )
        })
        .collect()
}

/// The total of an order in cents, read from the view without copying anything.
fn total_cents(order: &Order<'_>) -> u64 {
    order.items().map_or(0, |items| {
        items
            .iter()
            .map(|line| u64::from(line.quantity()) * line.price_cents())
            .sum()
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("orders.redb");
    let storage = Storage::open(&path)?;
    let orders = storage.flatbuffers_table::<u64, Order>("orders")?;

    // 1. Load: one transaction, one builder reused for every order. `put_in` verifies each
    //    buffer as an `Order` before storing it.
    let mut builder = FlatBufferBuilder::new();
    storage.write(|tx| {
        for id in 1..=ORDERS {
            let status = match id % 10 {
                0..=5 => Status::Delivered,
                6..=8 => Status::Shipped,
                _ => Status::Placed,
            };
            let customer = format!("customer-{}", id % 97);
            let bytes = build_order(&mut builder, id, &customer, status, &lines_of(id));
            orders.put_in(tx, &id, bytes)?;
        }
        Ok(())
    })?;
    println!("stored {} orders in {}", orders.len()?, path.display());

    // 2. Point read: `order` is the verified `Order<'_>` view of the stored bytes.
    let summary = orders.get(&42, |order| {
        format!(
            "order {} by {}: {:?}, items: {}, total: {:.2}",
            order.id(),
            order.customer().unwrap_or("?"),
            order.status(),
            order.items().map_or(0, |items| items.len()),
            total_cents(&order) as f64 / 100.0
        )
    })?;
    println!("{}", summary.ok_or("order 42 is missing")?);

    // 3. Range scan: revenue and open orders among ids 100..200, in key order.
    let (revenue, open) = orders
        .range(100u64..200)
        .fold((0u64, 0u32), |(sum, open), _, o| {
            Ok((
                sum + total_cents(&o),
                open + u32::from(o.status() != Status::Delivered),
            ))
        })?;
    println!(
        "orders 100..200: {:.2} revenue, {open} not delivered yet",
        revenue as f64 / 100.0
    );

    // 4. The three newest orders still waiting to ship: a reverse scan that stops early.
    let mut waiting = Vec::new();
    orders.scan().rev().try_for_each(|id, order| {
        if order.status() == Status::Placed {
            waiting.push(*id);
        }
        Ok(if waiting.len() == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    println!("newest orders waiting to ship: {waiting:?}");

    // 5. FlatBuffers views are read-only: changing an order means building a new buffer. Here
    //    from the stored one, inside `update`'s write transaction.
    let shipped = waiting[0];
    orders.update(&shipped, |old| {
        let old = old?; // absent: stay absent
        let lines: Vec<Line<'_>> = old
            .items()
            .map(|items| {
                items
                    .iter()
                    .map(|l| (l.sku().unwrap_or(""), l.quantity(), l.price_cents()))
                    .collect()
            })
            .unwrap_or_default();
        let mut builder = FlatBufferBuilder::new();
        let customer = old.customer().unwrap_or("");
        Some(build_order(&mut builder, old.id(), customer, Status::Shipped, &lines).to_vec())
    })?;
    let status = orders
        .get(&shipped, |o| o.status())?
        .ok_or("order vanished")?;
    println!("order {shipped} is now {status:?}");
    assert_eq!(status, Status::Shipped);

    // 6. Bytes that are not a valid `Order` buffer never reach the table.
    let refused = orders.put(&0, b"not a flatbuffer").unwrap_err();
    println!("garbage refused: {}", refused.to_string().trim_end());
    assert!(!orders.contains(&0)?);
    Ok(())
}
