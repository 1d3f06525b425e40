//! The memtable against a `BTreeMap` model: point lookups at random snapshots, full scans both
//! ways, and random seeks followed by random walks that switch direction.

use common::{InternalIterator, InternalKey, Lookup, ValueKind, MAX_SEQNO};
use memtable::MemTable;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

type Model = BTreeMap<InternalKey, Vec<u8>>;

fn model_get(model: &Model, user_key: &[u8], snapshot: u64) -> Lookup {
    match model
        .range(InternalKey::seek_key(user_key, snapshot)..)
        .next()
    {
        Some((k, v)) if k.user_key == user_key => match k.kind {
            ValueKind::Put => Lookup::Found(v.clone()),
            ValueKind::Delete => Lookup::Deleted,
        },
        _ => Lookup::Absent,
    }
}

fn entry(it: &impl InternalIterator) -> (InternalKey, Vec<u8>) {
    (
        InternalKey::new(it.user_key(), it.seq(), it.kind()),
        it.value().to_vec(),
    )
}

fn kind(delete: bool) -> ValueKind {
    if delete {
        ValueKind::Delete
    } else {
        ValueKind::Put
    }
}

/// Short keys over a 3-letter alphabet so versions of one key pile up.
fn user_key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(0u8..3, 0..3)
}

fn target() -> impl Strategy<Value = InternalKey> {
    (user_key(), 0u64..40, any::<bool>()).prop_map(|(k, s, d)| InternalKey::new(k, s, kind(d)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn memtable_matches_btreemap(
        ops in proptest::collection::vec(
            (user_key(), 0u64..40, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..4)),
            0..120),
        probes in proptest::collection::vec((user_key(), 0u64..45), 0..40),
        seeks in proptest::collection::vec(
            (target(), any::<bool>(), proptest::collection::vec(any::<bool>(), 0..12)), 0..20),
    ) {
        let mt = Arc::new(MemTable::new(7));
        let mut model = Model::new();
        let mut expected_size = 0;
        for (k, seq, del, v) in &ops {
            let v = if *del { Vec::new() } else { v.clone() };
            mt.insert(k, *seq, kind(*del), &v);
            expected_size += memtable::entry_charge(k.len(), v.len());
            model.insert(InternalKey::new(k.clone(), *seq, kind(*del)), v);
        }
        prop_assert_eq!(mt.id(), 7);
        prop_assert_eq!(mt.len(), model.len());
        prop_assert_eq!(mt.is_empty(), model.is_empty());
        prop_assert_eq!(mt.approximate_size_bytes(), expected_size);
        prop_assert_eq!(mt.min_seq(), ops.iter().map(|o| o.1).min());
        prop_assert_eq!(mt.max_seq(), ops.iter().map(|o| o.1).max());

        for (k, snap) in &probes {
            prop_assert_eq!(mt.get(k, *snap), model_get(&model, k, *snap));
        }
        prop_assert_eq!(mt.get(b"\x00", MAX_SEQNO + 5), model_get(&model, b"\x00", MAX_SEQNO));

        let all: Vec<(InternalKey, Vec<u8>)> = model.into_iter().collect();
        let mut it = mt.iter();
        it.seek_to_first().unwrap();
        let mut fwd = Vec::new();
        while it.valid() {
            fwd.push(entry(&it));
            it.next().unwrap();
        }
        prop_assert_eq!(&fwd, &all);
        it.seek_to_last().unwrap();
        let mut bwd = Vec::new();
        while it.valid() {
            bwd.push(entry(&it));
            it.prev().unwrap();
        }
        bwd.reverse();
        prop_assert_eq!(&bwd, &all);

        for (t, for_prev, walk) in &seeks {
            // The model's position: an index into `all`, `None` when off either end.
            let mut pos = if *for_prev {
                it.seek_for_prev(t).unwrap();
                all.iter().rposition(|(k, _)| k <= t)
            } else {
                it.seek(t).unwrap();
                all.iter().position(|(k, _)| k >= t)
            };
            for forward in walk {
                match pos {
                    None => { prop_assert!(!it.valid()); break; }
                    Some(p) => {
                        prop_assert!(it.valid());
                        prop_assert_eq!(&entry(&it), &all[p]);
                    }
                }
                let p = pos.unwrap();
                if *forward {
                    it.next().unwrap();
                    pos = (p + 1 < all.len()).then_some(p + 1);
                } else {
                    it.prev().unwrap();
                    pos = p.checked_sub(1);
                }
            }
        }
    }
}

/// Long walks cross many window refills (the window grows to `MAX_WINDOW`), in both directions.
#[test]
fn long_walks_cross_window_refills() {
    let mt = Arc::new(MemTable::new(0));
    let n = 1000u64;
    for i in 0..n {
        mt.insert(
            format!("k{i:05}").as_bytes(),
            i + 1,
            ValueKind::Put,
            &i.to_le_bytes(),
        );
    }
    let mut it = mt.iter();
    it.seek(&InternalKey::seek_key(*b"k00500", MAX_SEQNO))
        .unwrap();
    for i in 500..n {
        assert_eq!(it.user_key(), format!("k{i:05}").as_bytes());
        it.next().unwrap();
    }
    assert!(!it.valid());
    it.seek_for_prev(&InternalKey::seek_key(*b"k00499", 0))
        .unwrap();
    for i in (0..500u64).rev() {
        assert_eq!(it.user_key(), format!("k{i:05}").as_bytes());
        assert_eq!(it.value(), &i.to_le_bytes());
        it.prev().unwrap();
    }
    assert!(!it.valid());
    // Turn around in the middle of a long backward walk.
    it.seek_to_last().unwrap();
    for _ in 0..300 {
        it.prev().unwrap();
    }
    assert_eq!(it.user_key(), format!("k{:05}", n - 301).as_bytes());
    for _ in 0..300 {
        it.next().unwrap();
    }
    assert_eq!(it.user_key(), format!("k{:05}", n - 1).as_bytes());
}

/// A key too long for the node is charged its own heap block, and keys around the inline
/// limit (22 bytes) that share their first 16 bytes order and read back as the model says.
#[test]
fn long_keys_are_charged_and_ordered_like_short_ones() {
    use memtable::{entry_charge, ENTRY_OVERHEAD_BYTES, LONG_KEY_OVERHEAD_BYTES};
    assert_eq!(entry_charge(22, 5), 22 + 5 + ENTRY_OVERHEAD_BYTES);
    assert_eq!(
        entry_charge(23, 5),
        23 + 5 + ENTRY_OVERHEAD_BYTES + LONG_KEY_OVERHEAD_BYTES
    );
    let mt = Arc::new(MemTable::new(1));
    let mut model = Model::new();
    let mut size = 0;
    let mut seq = 0;
    for len in [16usize, 17, 21, 22, 23, 24, 40, 300] {
        for last in [b'a', b'b'] {
            let mut key = vec![b'p'; len];
            key[len - 1] = last;
            seq += 1;
            mt.insert(&key, seq, ValueKind::Put, &key[..3]);
            size += entry_charge(len, 3);
            model.insert(
                InternalKey::new(key.clone(), seq, ValueKind::Put),
                key[..3].to_vec(),
            );
        }
    }
    assert_eq!(mt.approximate_size_bytes(), size);
    for k in model.keys() {
        assert_eq!(
            mt.get(&k.user_key, MAX_SEQNO),
            model_get(&model, &k.user_key, MAX_SEQNO)
        );
    }
    let mut it = mt.iter();
    it.seek_to_first().unwrap();
    let mut got = Vec::new();
    while it.valid() {
        got.push(it.user_key().to_vec());
        it.next().unwrap();
    }
    let want: Vec<Vec<u8>> = model.keys().map(|k| k.user_key.clone()).collect();
    assert_eq!(got, want);
}
