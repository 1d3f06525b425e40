//! Use case 2: Event sourcing: typed events appended to the log and replayed into projections; a second
//! projection built later from the same log; replay up to a position ("time travel").
//!
//! **When:** the events are the source of truth and the current state is derived: you want the
//! full history (audit), to add views later without migrating data, and to see the state as it
//! was at any point. Each event is one record: the key is the aggregate id (here the order id,
//! 8 bytes big-endian), the value the event as JSON (serde).
//!
//! **FsyncPolicy:** `Always`. An event that was acknowledged is a fact other systems may have
//! acted on; losing it on power loss rewrites history. Group commit keeps concurrent writers
//! cheap. (`Batch` only if your producers can re-send the last milliseconds of events.)
//!
//! Projections are plain folds over the log ([`Projection::apply`]); replaying from
//! `Position::start()` rebuilds any of them, and stopping at a position gives the state "as
//! of" that event. For a long log, store a projection with the position it covers (as the
//! `kv_store` snapshot does) and replay only the tail.

use crate::error::{Error, Result};
use crate::setup::wal_config;
use common::FileSystem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wal::{FsyncPolicy, Position, Record, Wal};

/// What happened to an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// A customer opened an order.
    Created {
        /// The order.
        order_id: u64,
        /// Who ordered.
        customer: String,
    },
    /// An item was added.
    ItemAdded {
        /// The order.
        order_id: u64,
        /// What.
        item: String,
        /// Price in cents.
        price: u64,
    },
    /// The order was submitted.
    Submitted {
        /// The order.
        order_id: u64,
    },
    /// The order was paid.
    Paid {
        /// The order.
        order_id: u64,
        /// Amount in cents.
        amount: u64,
    },
}

impl OrderEvent {
    /// The order this event belongs to.
    pub fn order_id(&self) -> u64 {
        match self {
            OrderEvent::Created { order_id, .. }
            | OrderEvent::ItemAdded { order_id, .. }
            | OrderEvent::Submitted { order_id }
            | OrderEvent::Paid { order_id, .. } => *order_id,
        }
    }
}

/// A view folded from the events.
pub trait Projection {
    /// Applies one event (at its log position).
    fn apply(&mut self, event: &OrderEvent, at: Position);
}

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// Items may be added.
    #[default]
    Open,
    /// Waiting for payment.
    Submitted,
    /// Done.
    Paid,
}

/// One order, as the [`Orders`] projection sees it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Order {
    /// Who ordered.
    pub customer: String,
    /// (item, price in cents).
    pub items: Vec<(String, u64)>,
    /// Where it stands.
    pub status: Status,
}

impl Order {
    /// The sum of the item prices (saturating: prices come from the log).
    pub fn total(&self) -> u64 {
        self.items
            .iter()
            .fold(0u64, |sum, (_, p)| sum.saturating_add(*p))
    }
}

/// Projection 1: every order and its state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Orders(pub BTreeMap<u64, Order>);

impl Projection for Orders {
    fn apply(&mut self, event: &OrderEvent, _at: Position) {
        let order = self.0.entry(event.order_id()).or_default();
        match event {
            OrderEvent::Created { customer, .. } => order.customer = customer.clone(),
            OrderEvent::ItemAdded { item, price, .. } => order.items.push((item.clone(), *price)),
            OrderEvent::Submitted { .. } => order.status = Status::Submitted,
            OrderEvent::Paid { .. } => order.status = Status::Paid,
        }
    }
}

/// Projection 2, added later: revenue per customer (paid orders only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revenue {
    customers: BTreeMap<u64, String>,
    /// Cents paid per customer.
    pub per_customer: BTreeMap<String, u64>,
}

impl Projection for Revenue {
    fn apply(&mut self, event: &OrderEvent, _at: Position) {
        match event {
            OrderEvent::Created { order_id, customer } => {
                self.customers.insert(*order_id, customer.clone());
            }
            OrderEvent::Paid { order_id, amount } => {
                let who = self.customers.get(order_id).cloned().unwrap_or_default();
                let paid = self.per_customer.entry(who).or_default();
                *paid = paid.saturating_add(*amount);
            }
            _ => {}
        }
    }
}

/// The event log.
#[derive(Debug, Clone)]
pub struct EventStore {
    wal: Wal,
    wal_dir: PathBuf,
}

impl EventStore {
    /// Opens the event log in `dir`.
    pub async fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        fsync_policy: FsyncPolicy,
    ) -> Result<EventStore> {
        let wal_dir = dir.join("events");
        let (wal, _) = Wal::open(wal_config(&fs, &wal_dir, fsync_policy, 64 << 20)).await?;
        Ok(EventStore { wal, wal_dir })
    }

    /// Appends one event; returns its position once durable as the policy says.
    pub async fn append(&self, event: &OrderEvent) -> Result<Position> {
        let value = serde_json::to_vec(event).map_err(|e| Error::Invalid(e.to_string()))?;
        let record = Record::put(event.order_id().to_be_bytes(), value);
        Ok(self.wal.append(&record).await?)
    }

    /// Folds every event at or before `upto` (all of them if `None`) into `projection`;
    /// returns how many were applied. An event that does not decode is an error naming its
    /// segment file and offset, never skipped.
    pub async fn replay(
        &self,
        projection: &mut dyn Projection,
        upto: Option<Position>,
    ) -> Result<u64> {
        let mut reader = self.wal.read_from(Position::start()).await?;
        let mut applied = 0;
        while let Some((record, at)) = reader.next_record().await? {
            if upto.is_some_and(|limit| at > limit) {
                break;
            }
            let event: OrderEvent = serde_json::from_slice(&record.value)
                .map_err(|e| Error::bad_record(&self.wal_dir, at, e))?;
            projection.apply(&event, at);
            applied += 1;
        }
        Ok(applied)
    }

    /// Closes the log.
    pub async fn close(&self) -> Result<()> {
        Ok(self.wal.close().await?)
    }
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Orders after a full replay (after a restart).
    pub orders: Orders,
    /// The projection added later.
    pub revenue: Revenue,
    /// Orders as of the event "order 1 submitted".
    pub as_of_submit: Orders,
}

/// The program: records two orders, restarts, replays two projections and travels in time.
pub async fn run(fs: Arc<dyn FileSystem>, dir: &Path, out: &mut dyn Write) -> Result<Summary> {
    writeln!(
        out,
        "event_sourcing in {} (FsyncPolicy::Always)",
        dir.display()
    )?;
    let store = EventStore::open(fs.clone(), dir, FsyncPolicy::Always).await?;
    let events = [
        OrderEvent::Created {
            order_id: 1,
            customer: "ada".into(),
        },
        OrderEvent::ItemAdded {
            order_id: 1,
            item: "keyboard".into(),
            price: 4_500,
        },
        OrderEvent::Created {
            order_id: 2,
            customer: "grace".into(),
        },
        OrderEvent::ItemAdded {
            order_id: 1,
            item: "mouse".into(),
            price: 1_500,
        },
        OrderEvent::Submitted { order_id: 1 },
        OrderEvent::ItemAdded {
            order_id: 2,
            item: "monitor".into(),
            price: 20_000,
        },
        OrderEvent::Paid {
            order_id: 1,
            amount: 6_000,
        },
        OrderEvent::Submitted { order_id: 2 },
    ];
    let mut submitted_at = Position::start();
    for e in &events {
        let at = store.append(e).await?;
        if *e == (OrderEvent::Submitted { order_id: 1 }) {
            submitted_at = at;
        }
    }
    writeln!(out, "appended {} events for 2 orders", events.len())?;
    store.close().await?;

    let store = EventStore::open(fs, dir, FsyncPolicy::Always).await?;
    let mut orders = Orders::default();
    let n = store.replay(&mut orders, None).await?;
    writeln!(
        out,
        "after a restart, replayed {n} events into the orders projection:"
    )?;
    for (id, o) in &orders.0 {
        writeln!(
            out,
            "  order {id}: {} {:?}, {} items, total {}",
            o.customer,
            o.status,
            o.items.len(),
            o.total()
        )?;
    }
    let mut revenue = Revenue::default();
    store.replay(&mut revenue, None).await?;
    writeln!(
        out,
        "a revenue projection added later, from the same log: {:?}",
        revenue.per_customer
    )?;
    let mut as_of_submit = Orders::default();
    let n = store.replay(&mut as_of_submit, Some(submitted_at)).await?;
    let o1 = as_of_submit.0.get(&1).cloned().unwrap_or_default();
    writeln!(
        out,
        "time travel to {submitted_at} (order 1 submitted, {n} events): order 1 {:?}, order 2 has {} items",
        o1.status,
        as_of_submit.0.get(&2).map_or(0, |o| o.items.len())
    )?;
    store.close().await?;
    Ok(Summary {
        orders,
        revenue,
        as_of_submit,
    })
}
