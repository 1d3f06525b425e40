//! [`WriteBatch`]: several puts and deletes applied atomically.

use crate::db::{blocking, Db};
use crate::error::Result;
use crate::write::WriteOp;

/// Puts and deletes applied all together or not at all: one WAL append, consecutive sequence
/// numbers, visible to readers at once. Made by [`Db::batch`].
#[derive(Debug)]
#[must_use = "a batch does nothing until .commit()"]
pub struct WriteBatch {
    db: Db,
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    pub(crate) fn new(db: Db) -> WriteBatch {
        WriteBatch {
            db,
            ops: Vec::new(),
        }
    }

    /// Adds a put.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(WriteOp::put(key, value));
        self
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.ops.push(WriteOp::delete(key));
        self
    }

    /// How many operations the batch holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Applies the batch atomically; returns once it is durable per the fsync policy. Later
    /// operations on the same key win over earlier ones. An empty batch does nothing.
    pub fn commit(self) -> Result<()> {
        self.db.engine().write(&self.ops)
    }

    /// [`WriteBatch::commit`] for async code (runs on tokio's blocking pool).
    pub async fn commit_async(self) -> Result<()> {
        let WriteBatch { db, ops } = self;
        let engine = db.engine().clone();
        blocking(move || engine.write(&ops)).await
    }
}
