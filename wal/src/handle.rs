//! The owner of an open log: closing it when the last handle of either face is dropped.

use crate::engine::Engine;
use std::sync::Arc;

/// Shared by every clone of `Wal` and `blocking::Wal` for one open log.
#[derive(Debug)]
pub(crate) struct Handle(pub Arc<Engine>);

impl Drop for Handle {
    fn drop(&mut self) {
        // Best effort: write and fsync what was appended, stop the thread, release the lock.
        // Errors were (or will be) reported to the writers through poisoning.
        let _ = self.0.close();
    }
}
