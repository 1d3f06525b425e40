//! Property: what every snapshot sees is the same before and after a merge.

mod support;

use common::{SeqNo, ValueKind, MAX_SEQNO};
use compaction::{CompactionOptions, Levels};
use proptest::prelude::*;
use support::*;

/// (key index, is delete, value length, input table) per entry; seq = position + 1.
type Spec = Vec<(u8, bool, usize, usize)>;

/// The entries, the live snapshots, whether the task is bottommost, the output target size.
fn scenario() -> impl Strategy<Value = (Spec, Vec<SeqNo>, bool, u64)> {
    (
        prop::collection::vec((0u8..8, any::<bool>(), 0usize..40, 0usize..4), 1..80),
        prop::collection::vec(0u64..90, 0..5),
        any::<bool>(),
        100u64..3000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn every_snapshot_sees_the_same_after_a_merge(
        (spec, snapshots, bottommost, target) in scenario()
    ) {
        let mut per_table: Vec<Vec<Entry>> = vec![Vec::new(); 4];
        let mut all = Vec::new();
        for (i, &(k, is_del, len, table)) in spec.iter().enumerate() {
            let key = format!("key{k}");
            let seq = i as SeqNo + 1;
            let e = if is_del { del(&key, seq) } else { put(&key, seq, &"x".repeat(len)) };
            per_table[table].push(e.clone());
            all.push(e);
        }
        let mut b = Bench::new();
        let inputs: Vec<_> = per_table.into_iter().filter(|t| !t.is_empty()).map(|t| b.table(t)).collect();
        let options = CompactionOptions { target_file_size_bytes: target, ..Default::default() };
        let out = b.merge(&inputs, &snapshots, bottommost, &options).unwrap();
        let merged = b.read_outputs(&out);

        let mut views: Vec<SeqNo> = snapshots.clone();
        views.push(MAX_SEQNO);
        for k in 0..8u8 {
            let key = format!("key{k}").into_bytes();
            for &s in &views {
                let before = visible(&all, &key, s);
                let after = visible(&merged, &key, s);
                if bottommost {
                    // Nothing lies below: a tombstone and nothing at all read the same.
                    prop_assert_eq!(before.flatten(), after.flatten(), "key{} at {}", k, s);
                } else {
                    // Deeper levels may hold older versions: a tombstone must stay a tombstone.
                    prop_assert_eq!(before, after, "key{} at {}", k, s);
                }
            }
            // At most one version per snapshot stripe survives.
            let kept = merged.iter().filter(|e| e.0 == key).count();
            prop_assert!(kept <= snapshots.len() + 1);
        }
        if bottommost && snapshots.is_empty() {
            prop_assert!(merged.iter().all(|e| e.2 == ValueKind::Put), "no tombstone survives");
        }
        prop_assert_eq!(out.stats.entries_read, all.len() as u64);
        prop_assert_eq!(
            out.stats.entries_written + out.stats.shadowed_dropped + out.stats.tombstones_dropped,
            all.len() as u64
        );
        let mut levels = vec![Vec::new(); 2];
        levels[1] = out.tables.iter().map(|t| t.table_info()).collect();
        prop_assert!(Levels::new(levels).is_ok(), "outputs are sorted and disjoint");
    }
}
