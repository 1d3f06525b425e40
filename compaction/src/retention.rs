//! Which versions of one user key a compaction keeps (the RocksDB rule).
//!
//! Live snapshots `s1 < s2 < ... < sk` cut the sequence numbers into stripes: stripe `i` holds
//! the sequence numbers in `(s(i-1), si]`, and a last stripe holds those above `sk` (what
//! current readers see). A reader at a snapshot sees, per key, the newest version at or below
//! it, so within one stripe only the newest version can ever be seen: per user key, the merge
//! keeps the newest version of each stripe and drops the rest.
//!
//! A tombstone hides older versions. When the task is bottommost (no deeper level can hold the
//! key), the oldest kept version, if it is a tombstone, hides nothing: dropping it changes no
//! reader's view, so it is dropped, and then the next oldest if it is a tombstone too.

use common::{SeqNo, ValueKind};

/// One version of a user key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub seq: SeqNo,
    pub kind: ValueKind,
    pub value: Vec<u8>,
}

/// The retention rule for one merge, and the versions kept of the current user key.
#[derive(Debug)]
pub(crate) struct Retention {
    snapshots: Vec<SeqNo>,
    bottommost: bool,
    /// The stripe of the last kept version of the current key.
    last_stripe: Option<usize>,
    /// Kept versions of the current key, newest first.
    kept: Vec<Version>,
}

impl Retention {
    /// The rule for live `snapshots` (any order, duplicates allowed).
    pub fn new(snapshots: &[SeqNo], bottommost: bool) -> Retention {
        let mut snapshots = snapshots.to_vec();
        snapshots.sort_unstable();
        snapshots.dedup();
        Retention {
            snapshots,
            bottommost,
            last_stripe: None,
            kept: Vec::new(),
        }
    }

    fn stripe(&self, seq: SeqNo) -> usize {
        self.snapshots.partition_point(|&s| s < seq)
    }

    /// Offers the next (older) version of the current key; `value` is copied only if kept.
    /// Returns whether it was kept.
    pub fn offer(&mut self, seq: SeqNo, kind: ValueKind, value: &[u8]) -> bool {
        let stripe = self.stripe(seq);
        if self.last_stripe == Some(stripe) {
            return false;
        }
        self.last_stripe = Some(stripe);
        self.kept.push(Version {
            seq,
            kind,
            value: value.to_vec(),
        });
        true
    }

    /// Ends the current key: drops the trailing tombstones if bottommost and hands back the
    /// kept versions, newest first. The next `offer` starts a new key.
    pub fn finish_key(&mut self) -> (Vec<Version>, u64) {
        let mut tombstones = 0;
        if self.bottommost {
            while self
                .kept
                .last()
                .is_some_and(|v| v.kind == ValueKind::Delete)
            {
                self.kept.pop();
                tombstones += 1;
            }
        }
        self.last_stripe = None;
        (std::mem::take(&mut self.kept), tombstones)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValueKind::{Delete, Put};

    fn run(snapshots: &[SeqNo], bottommost: bool, versions: &[(SeqNo, ValueKind)]) -> Vec<SeqNo> {
        let mut r = Retention::new(snapshots, bottommost);
        for &(seq, kind) in versions {
            r.offer(seq, kind, b"v");
        }
        r.finish_key().0.iter().map(|v| v.seq).collect()
    }

    #[test]
    fn without_snapshots_only_the_newest_version_stays() {
        assert_eq!(run(&[], false, &[(9, Put), (5, Put), (2, Delete)]), vec![9]);
    }

    #[test]
    fn each_snapshot_keeps_the_version_it_sees() {
        // Snapshot 6 sees 5, snapshot 3 sees 2; 4 and 1 are hidden from everyone.
        let v = [(9, Put), (5, Put), (4, Put), (2, Put), (1, Put)];
        assert_eq!(run(&[3, 6], false, &v), vec![9, 5, 2]);
        assert_eq!(
            run(&[6, 3, 6], false, &v),
            vec![9, 5, 2],
            "order and duplicates do not matter"
        );
        assert_eq!(
            run(&[5], false, &v),
            vec![9, 5],
            "a snapshot equal to a seq sees it"
        );
    }

    #[test]
    fn tombstones_go_only_at_the_bottom_and_only_when_nothing_older_is_kept() {
        let v = [(9, Delete), (5, Put)];
        assert_eq!(run(&[], false, &v), vec![9]);
        assert_eq!(run(&[], true, &v), Vec::<SeqNo>::new());
        assert_eq!(run(&[6], true, &v), vec![9, 5], "snapshot 6 still sees 5");
        let v = [(9, Put), (7, Delete), (5, Put)];
        assert_eq!(
            run(&[8], true, &v),
            vec![9],
            "7 hid 5 from snapshot 8; nothing older stays"
        );
        let v = [(9, Delete), (7, Delete), (3, Delete)];
        assert_eq!(run(&[4, 8], true, &v), Vec::<SeqNo>::new());
        assert_eq!(run(&[4, 8], false, &v), vec![9, 7, 3]);
    }
}
