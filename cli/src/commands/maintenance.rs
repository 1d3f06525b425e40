//! `kv flush`, `kv compact` and `kv checkpoint`: maintenance on a store.

use crate::bytes::Spelling;
use crate::commands::stats::human_bytes;
use crate::failure::{Failure, Outcome};
use crate::store;
use std::ffi::OsString;
use std::ops::Bound;
use std::path::Path;
use std::time::Instant;

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

/// `kv compact [--from A] [--to B]`.
pub fn compact(
    dir: &Path,
    sp: Spelling,
    from: &Option<OsString>,
    to: &Option<OsString>,
) -> Outcome {
    let bound = |what: &str, v: &Option<OsString>| -> Outcome<Bound<Vec<u8>>> {
        Ok(match v {
            Some(s) => Bound::Included(sp.arg(what, s).map_err(Failure::usage)?),
            None => Bound::Unbounded,
        })
    };
    let (lo, hi) = (bound("--from", from)?, bound("--to", to)?);
    let db = store::open_existing(dir)?;
    let before = db.stats();
    let started = Instant::now();
    if matches!((&lo, &hi), (Bound::Unbounded, Bound::Unbounded)) {
        db.compact()
    } else {
        db.compact_range((lo, hi))
    }
    .map_err(|e| Failure::from_db(dir, e))?;
    let after = db.stats();
    let per_level: Vec<String> = after
        .levels
        .iter()
        .enumerate()
        .filter(|(_, l)| l.files > 0)
        .map(|(i, l)| format!("L{i} {} file(s) {}", l.files, human_bytes(l.size_bytes)))
        .collect();
    println!(
        "compacted in {:.3} s: {} merge(s), {} trivial move(s), {} read, {} written; now {}",
        started.elapsed().as_secs_f64(),
        after.compactions - before.compactions,
        after.trivial_moves - before.trivial_moves,
        human_bytes(after.compaction_bytes_read - before.compaction_bytes_read),
        human_bytes(after.compaction_bytes_written - before.compaction_bytes_written),
        if per_level.is_empty() {
            "no tables".to_string()
        } else {
            per_level.join(", ")
        }
    );
    Ok(())
}
