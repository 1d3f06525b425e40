//! `kv stats`: what the store holds and how it has behaved, as a table or as JSON.

use crate::failure::Outcome;
use crate::store;
use kvstore::Stats;
use serde_json::json;
use std::path::Path;

/// Bytes in binary units, one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Table bytes over the bytes of the deepest non-empty level (RocksDB's estimate of space
/// amplification: the deepest level holds about one version of each key). 0 with no tables.
pub fn space_amplification(s: &Stats) -> f64 {
    let total: u64 = s.levels.iter().map(|l| l.size_bytes).sum();
    match s.levels.iter().rev().find(|l| l.size_bytes > 0) {
        Some(last) => total as f64 / last.size_bytes as f64,
        None => 0.0,
    }
}

/// The block cache's hit rate in percent, if it was asked anything.
pub fn hit_rate(s: &Stats) -> Option<f64> {
    let asked = s.block_cache_hits + s.block_cache_misses;
    (asked > 0).then(|| 100.0 * s.block_cache_hits as f64 / asked as f64)
}

/// The stats as a readable table.
pub fn table(dir: &Path, s: &Stats) -> String {
    let mut t = String::new();
    let mut line = |k: &str, v: String| t.push_str(&format!("{k:<15}{v}\n"));
    line("store", dir.display().to_string());
    line("sequence", s.visible_sequence.to_string());
    line("level", format!("{:>6}  {:>12}", "files", "bytes"));
    for (i, l) in s.levels.iter().enumerate() {
        line(
            &format!("  L{i}"),
            format!("{:>6}  {:>12}", l.files, human_bytes(l.size_bytes)),
        );
    }
    let total: u64 = s.levels.iter().map(|l| l.size_bytes).sum();
    line(
        "  total",
        format!("{:>6}  {:>12}", s.table_files(), human_bytes(total)),
    );
    line(
        "memtable",
        format!(
            "{} ({} frozen, waiting for flush)",
            human_bytes(s.memtable_bytes),
            s.immutable_memtables
        ),
    );
    line(
        "wal",
        format!(
            "{} in {} segment(s)",
            human_bytes(s.wal_bytes),
            s.wal_segments
        ),
    );
    line(
        "block cache",
        match hit_rate(s) {
            Some(r) => format!(
                "{:.1} % hit rate ({} hits, {} misses), {} held",
                r,
                s.block_cache_hits,
                s.block_cache_misses,
                human_bytes(s.block_cache_bytes)
            ),
            None => format!("no reads yet, {} held", human_bytes(s.block_cache_bytes)),
        },
    );
    line(
        "write amp",
        format!(
            "{:.2} (WAL + table bytes written per user byte; tables alone {:.2}; this process)",
            s.write_amplification(),
            s.table_write_amplification()
        ),
    );
    line(
        "space amp",
        format!(
            "{:.2} (table bytes / deepest level's bytes)",
            space_amplification(s)
        ),
    );
    line(
        "compaction",
        format!(
            "{} merge(s), {} trivial move(s), {} read, {} written, {} running, {} pending, {} failed",
            s.compactions,
            s.trivial_moves,
            human_bytes(s.compaction_bytes_read),
            human_bytes(s.compaction_bytes_written),
            s.running_compactions,
            human_bytes(s.pending_compaction_bytes),
            s.compaction_failures
        ),
    );
    line(
        "write stalls",
        format!(
            "{} waits for flush (queue full), {} ({} ms) at the memtable memory limit, \
             {} stops ({} ms), {} slowdowns ({} ms) for compaction",
            s.write_stalls,
            s.memory_stalls,
            s.memory_stall_micros / 1000,
            s.stops,
            s.stop_micros / 1000,
            s.slowdowns,
            s.slowdown_micros / 1000
        ),
    );
    if let Some(e) = &s.last_compaction_error {
        line("last failure", e.clone());
    }
    if s.wal_delete_failures > 0 {
        line(
            "wal deletes",
            format!(
                "{} failed (retried by the next flush)",
                s.wal_delete_failures
            ),
        );
    }
    line(
        "this process",
        format!(
            "{} puts, {} deletes, {} gets, {} flushes, {} tables deleted, {} snapshots",
            s.puts, s.deletes, s.gets, s.flushes, s.tables_deleted, s.live_snapshots
        ),
    );
    t
}

/// The stats as one JSON object.
pub fn to_json(dir: &Path, s: &Stats) -> serde_json::Value {
    json!({
        "dir": dir.display().to_string(),
        "visible_sequence": s.visible_sequence,
        "levels": s.levels.iter().enumerate().map(|(i, l)| json!({
            "level": i, "files": l.files, "size_bytes": l.size_bytes,
        })).collect::<Vec<_>>(),
        "table_files": s.table_files(),
        "memtable_bytes": s.memtable_bytes,
        "immutable_memtables": s.immutable_memtables,
        "wal_bytes": s.wal_bytes,
        "wal_segments": s.wal_segments,
        "block_cache_hits": s.block_cache_hits,
        "block_cache_misses": s.block_cache_misses,
        "block_cache_bytes": s.block_cache_bytes,
        "block_cache_hit_rate": hit_rate(s).map(|r| r / 100.0),
        "write_amplification": s.write_amplification(),
        "space_amplification": space_amplification(s),
        "write_stalls": s.write_stalls,
        "memory_stalls": s.memory_stalls,
        "memory_stall_micros": s.memory_stall_micros,
        "stops": s.stops,
        "stop_micros": s.stop_micros,
        "slowdowns": s.slowdowns,
        "slowdown_micros": s.slowdown_micros,
        "compactions": s.compactions,
        "trivial_moves": s.trivial_moves,
        "compaction_bytes_read": s.compaction_bytes_read,
        "compaction_bytes_written": s.compaction_bytes_written,
        "compaction_failures": s.compaction_failures,
        "last_compaction_error": s.last_compaction_error,
        "running_compactions": s.running_compactions,
        "pending_compaction_bytes": s.pending_compaction_bytes,
        "table_write_amplification": s.table_write_amplification(),
        "wal_delete_failures": s.wal_delete_failures,
        "puts": s.puts,
        "deletes": s.deletes,
        "gets": s.gets,
        "batches": s.batches,
        "flushes": s.flushes,
        "user_bytes_written": s.user_bytes_written,
        "flush_bytes_written": s.flush_bytes_written,
        "tables_deleted": s.tables_deleted,
        "live_snapshots": s.live_snapshots,
    })
}

/// `kv stats`.
pub fn stats(dir: &Path, json: bool) -> Outcome {
    let db = store::open_existing(dir)?;
    let s = db.stats();
    if json {
        println!("{}", to_json(dir, &s));
    } else {
        print!("{}", table(dir, &s));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_amplification() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        let mut s = Stats::default();
        assert_eq!(space_amplification(&s), 0.0);
        s.levels = vec![
            kvstore::LevelStats {
                files: 1,
                size_bytes: 10,
            },
            kvstore::LevelStats {
                files: 1,
                size_bytes: 40,
            },
        ];
        assert_eq!(space_amplification(&s), 1.25);
        assert_eq!(hit_rate(&s), None);
    }
}
