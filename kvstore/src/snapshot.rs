//! [`Snapshot`]: a frozen, consistent view while writes go on.

use crate::engine::Engine;
use crate::error::Result;
use crate::read::{prefix_range, DbIter, KeyRange};
use common::SeqNo;
use std::fmt;
use std::sync::Arc;

/// Reads through a snapshot see the database as it was when the snapshot was taken. It is
/// registered with the engine while it lives (compaction keeps the versions it can see).
pub struct Snapshot {
    engine: Arc<Engine>,
    seq: SeqNo,
}

impl Snapshot {
    /// A snapshot at the engine's visible sequence number.
    pub(crate) fn new(engine: Arc<Engine>) -> Snapshot {
        let seq = engine.acquire_snapshot();
        Snapshot { engine, seq }
    }

    /// The sequence number the snapshot reads at.
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    /// The value of `key` as of the snapshot.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.engine.get_at(key.as_ref(), self.seq)
    }

    /// The pairs in `range` as of the snapshot; double-ended.
    pub fn range(&self, range: impl KeyRange) -> DbIter {
        self.engine.iter_at(self.seq, range.into_bounds())
    }

    /// The pairs whose keys start with `prefix` as of the snapshot; double-ended.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> DbIter {
        self.engine.iter_at(self.seq, prefix_range(prefix.as_ref()))
    }

    /// Every pair as of the snapshot.
    pub fn iter(&self) -> DbIter {
        self.range(..)
    }
}

impl Clone for Snapshot {
    fn clone(&self) -> Self {
        self.engine.register_snapshot(self.seq);
        Snapshot {
            engine: self.engine.clone(),
            seq: self.seq,
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.engine.release_snapshot(self.seq);
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot").field("seq", &self.seq).finish()
    }
}
