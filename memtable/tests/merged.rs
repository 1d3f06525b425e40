//! Memtables composed the way the engine reads them: several memtables (newest first) under a
//! `MergingIterator`, read through a `VisibleIter` at a snapshot within bounds, compared with a
//! model of the writes.

use common::merge::MapErr;
use common::{InternalIterator, MergingIterator, ValueKind, VisibleIter};
use memtable::MemTable;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ops::Bound;
use std::sync::Arc;

#[derive(Debug, PartialEq)]
struct EngineError;

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    let key = || proptest::collection::vec(0u8..4, 0..3);
    prop_oneof![
        Just(Bound::Unbounded),
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
    ]
}

fn contains(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>, k: &Vec<u8>) -> bool {
    use std::ops::RangeBounds;
    (lower.clone(), upper.clone()).contains(k)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn memtables_merged_and_filtered_match_model(
        writes in proptest::collection::vec(
            (proptest::collection::vec(0u8..4, 0..3), proptest::bool::weighted(0.3),
             proptest::collection::vec(any::<u8>(), 0..3)),
            0..200),
        per_table in 1usize..80,
        snap_frac in 0.0f64..1.1,
        lower in bound(),
        upper in bound(),
    ) {
        // Writes fill memtables of `per_table` entries in turn, like an engine freezing them.
        let tables: Vec<Arc<MemTable>> = writes
            .chunks(per_table)
            .enumerate()
            .map(|(t, chunk)| {
                let mt = Arc::new(MemTable::new(t as u64));
                for (j, (k, del, v)) in chunk.iter().enumerate() {
                    let seq = (t * per_table + j + 1) as u64;
                    let (kind, v) = if *del { (ValueKind::Delete, &[][..]) } else { (ValueKind::Put, &v[..]) };
                    mt.insert(k, seq, kind, v);
                }
                mt
            })
            .collect();
        let snapshot = (writes.len() as f64 * snap_frac) as u64;
        let mut latest = BTreeMap::new();
        for (i, (k, del, v)) in writes.iter().enumerate() {
            if (i as u64) < snapshot {
                latest.insert(k.clone(), (!del).then(|| v.clone()));
            }
        }
        let want: Vec<(Vec<u8>, Vec<u8>)> = latest
            .into_iter()
            .filter(|(k, _)| contains(&lower, &upper, k))
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();

        let children = || -> Vec<Box<dyn InternalIterator<Error = EngineError>>> {
            tables
                .iter()
                .rev()
                .map(|t| {
                    Box::new(MapErr::new(t.iter(), |e: Infallible| -> EngineError { match e {} }))
                        as Box<dyn InternalIterator<Error = EngineError>>
                })
                .collect()
        };
        let fwd: Vec<_> = VisibleIter::new(MergingIterator::new(children()), snapshot, lower.clone(), upper.clone())
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(&fwd, &want);
        let mut bwd: Vec<_> = VisibleIter::new(MergingIterator::new(children()), snapshot, lower.clone(), upper.clone())
            .rev()
            .collect::<Result<_, _>>()
            .unwrap();
        bwd.reverse();
        prop_assert_eq!(&bwd, &want);
    }
}
