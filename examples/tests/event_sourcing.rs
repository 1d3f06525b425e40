//! Use case 2: Event sourcing: projections, a projection added later, time travel, undecodable events.

mod support;

use common::MemFs;
use examples::event_sourcing::{run, EventStore, OrderEvent, Orders, Revenue, Status};
use std::path::Path;
use wal::{FsyncPolicy, Position};

fn events() -> Vec<OrderEvent> {
    vec![
        OrderEvent::Created {
            order_id: 7,
            customer: "ada".into(),
        },
        OrderEvent::ItemAdded {
            order_id: 7,
            item: "pen".into(),
            price: 250,
        },
        OrderEvent::Created {
            order_id: 8,
            customer: "ada".into(),
        },
        OrderEvent::ItemAdded {
            order_id: 8,
            item: "ink".into(),
            price: 900,
        },
        OrderEvent::Submitted { order_id: 7 },
        OrderEvent::Paid {
            order_id: 7,
            amount: 250,
        },
        OrderEvent::Submitted { order_id: 8 },
        OrderEvent::Paid {
            order_id: 8,
            amount: 900,
        },
    ]
}

#[tokio::test]
async fn projections_replay_the_log_and_time_travel_stops_at_a_position() {
    let fs = MemFs::new();
    let store = EventStore::open(fs.shared(), Path::new("/es"), FsyncPolicy::Always)
        .await
        .unwrap();
    let mut at = Vec::new();
    for e in events() {
        at.push(store.append(&e).await.unwrap());
    }
    // Always: every acknowledged event survives a power cut right now.
    let store = EventStore::open(fs.crash().shared(), Path::new("/es"), FsyncPolicy::Always)
        .await
        .unwrap();
    let mut orders = Orders::default();
    assert_eq!(store.replay(&mut orders, None).await.unwrap(), 8);
    assert_eq!(orders.0[&7].status, Status::Paid);
    assert_eq!(orders.0[&8].total(), 900);

    let mut revenue = Revenue::default();
    store.replay(&mut revenue, None).await.unwrap();
    assert_eq!(revenue.per_customer["ada"], 1150);

    // As of each event: the state after exactly the first k events.
    for (k, pos) in at.iter().enumerate() {
        let mut past = Orders::default();
        assert_eq!(
            store.replay(&mut past, Some(*pos)).await.unwrap(),
            k as u64 + 1
        );
        let mut expected = Orders::default();
        for (e, p) in events().iter().zip(&at).take(k + 1) {
            examples::event_sourcing::Projection::apply(&mut expected, e, *p);
        }
        assert_eq!(past, expected);
    }
    let mut before_all = Orders::default();
    assert_eq!(
        store
            .replay(&mut before_all, Some(Position::start()))
            .await
            .unwrap(),
        0
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn an_event_that_does_not_decode_is_an_error_naming_the_segment() {
    let fs = MemFs::new();
    let dir = Path::new("/es");
    let store = EventStore::open(fs.shared(), dir, FsyncPolicy::Always)
        .await
        .unwrap();
    store.append(&events()[0]).await.unwrap();
    store.close().await.unwrap();
    // Someone else's record in the event log: not an event.
    let cfg = examples::setup::wal_config(
        &fs.shared(),
        &dir.join("events"),
        FsyncPolicy::Always,
        1 << 20,
    );
    let (raw, _) = wal::Wal::open(cfg).await.unwrap();
    let bad = raw
        .append(&wal::Record::put(b"x", b"not json"))
        .await
        .unwrap();
    raw.close().await.unwrap();
    let store = EventStore::open(fs.shared(), dir, FsyncPolicy::Always)
        .await
        .unwrap();
    let err = store
        .replay(&mut Orders::default(), None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&wal::format::segment_file_name(bad.segment_id())),
        "{msg}"
    );
    assert!(msg.contains(&format!("offset {}", bad.offset())), "{msg}");
}

#[tokio::test]
async fn the_program_logic() {
    let fs = MemFs::new();
    let s = run(fs.shared(), Path::new("/prog"), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(s.orders.0[&1].status, Status::Paid);
    assert_eq!(s.orders.0[&1].total(), 6_000);
    assert_eq!(s.orders.0[&2].status, Status::Submitted);
    assert_eq!(s.revenue.per_customer.get("ada"), Some(&6_000));
    assert_eq!(s.revenue.per_customer.get("grace"), None);
    assert_eq!(s.as_of_submit.0[&1].status, Status::Submitted);
    assert!(s.as_of_submit.0[&2].items.is_empty());
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_event_sourcing"), &[dir.path()]);
    assert_eq!(
        support::line(&out, "  order 1"),
        "  order 1: ada Paid, 2 items, total 6000"
    );
    assert_eq!(
        support::line(&out, "  order 2"),
        "  order 2: grace Submitted, 1 items, total 20000"
    );
    assert!(support::line(&out, "a revenue projection").ends_with("{\"ada\": 6000}"));
    assert!(support::line(&out, "time travel")
        .ends_with("5 events): order 1 Submitted, order 2 has 0 items"));
}
