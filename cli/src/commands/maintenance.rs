//! `kv flush` and `kv checkpoint`: maintenance on a store. (No `kv compact` yet: the engine
//! has no public compaction entry point.)

use crate::commands::stats::human_bytes;
use crate::failure::{Failure, Outcome};
use crate::store;
use std::path::Path;

/// `kv flush`.
pub fn flush(dir: &Path) -> Outcome {
    let db = store::open_existing(dir)?;
    let (before, _, _) = store::disk_usage(dir);
    db.flush().map_err(|e| Failure::from_db(dir, e))?;
    let (after, table_bytes, wal_bytes) = store::disk_usage(dir);
    println!(
        "flushed: {after} table file(s) now ({} new), {} in tables, {} of WAL",
        after.saturating_sub(before),
        human_bytes(table_bytes),
        human_bytes(wal_bytes)
    );
    Ok(())
}

/// `kv checkpoint DEST`.
pub fn checkpoint(dir: &Path, dest: &Path) -> Outcome {
    if dest.exists() && !dest.is_dir() {
        return Err(Failure::usage(format!(
            "checkpoint destination {} is a file",
            dest.display()
        )));
    }
    if dest.is_dir()
        && std::fs::read_dir(dest)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Failure::usage(format!(
            "checkpoint destination {} is not empty",
            dest.display()
        )));
    }
    let inside = |d: &Path| std::path::absolute(d).ok();
    if let (Some(d), Some(s)) = (inside(dest), inside(dir)) {
        if d.starts_with(&s) {
            return Err(Failure::usage(format!(
                "checkpoint destination {} is inside the store {}",
                dest.display(),
                dir.display()
            )));
        }
    }
    let db = store::open_existing(dir)?;
    db.checkpoint(dest).map_err(|e| Failure::from_db(dir, e))?;
    let (tables, _, _) = store::disk_usage(dest);
    println!(
        "checkpoint written to {} ({tables} table(s); open it with --dir {})",
        dest.display(),
        dest.display()
    );
    Ok(())
}
