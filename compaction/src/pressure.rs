//! Flow control: [`compaction_debt`] (RocksDB's estimate of the bytes compaction must still
//! rewrite) and [`write_pressure`], which turns it and the level-0 table count into a decision
//! for the write path: go on, slow each write down a little, or stop until compaction catches up.

use crate::levels::Levels;
use crate::options::CompactionOptions;
use crate::targets::level_targets;

/// What the write path should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePressure {
    /// Write at full speed.
    None,
    /// Delay each write by this many microseconds.
    Slowdown {
        /// The delay per write.
        delay_micros: u64,
    },
    /// Wait for compaction before writing.
    Stop,
}

/// The estimated bytes compaction must rewrite before every level is within its target
/// (RocksDB's `EstimateCompactionBytesNeeded`): level 0 once triggered counts itself and level
/// 1; each level over its target pushes its excess down, counting it times one plus the size
/// ratio of the next level to it.
pub fn compaction_debt(levels: &Levels, options: &CompactionOptions) -> u64 {
    let last = levels.num_levels().min(options.max_levels);
    if last < 2 {
        return 0;
    }
    let mut debt: u64 = 0;
    let level0_bytes = levels.level_size_bytes(0);
    let level0_triggered = levels.level(0).len() >= options.level0_file_trigger
        || level0_bytes >= options.level1_size_bytes_target;
    let mut to_next: u64 = 0;
    if level0_triggered {
        debt = level0_bytes;
        to_next = level0_bytes;
    }
    let targets = level_targets(levels, options);
    let mut next_level_bytes: u64 = 0;
    for n in targets.base_level..last - 1 {
        let mut size = if next_level_bytes > 0 {
            std::mem::take(&mut next_level_bytes)
        } else {
            levels.level_size_bytes(n)
        };
        if n == targets.base_level && level0_triggered {
            debt = debt.saturating_add(size);
        }
        size = size.saturating_add(std::mem::take(&mut to_next));
        let target = targets.target_bytes[n];
        if size > target {
            to_next = size - target;
            next_level_bytes = levels.level_size_bytes(n + 1);
            if next_level_bytes > 0 {
                let fan_out = next_level_bytes as f64 / size as f64 + 1.0;
                debt = debt.saturating_add((to_next as f64 * fan_out) as u64);
            }
        }
    }
    debt
}

/// Whether writes should go on, slow down or stop: stop once level 0 holds
/// `level0_stop_files` tables or the debt reaches `pending_bytes_stop`; slow down from
/// `level0_slowdown_files` / `pending_bytes_slowdown`, by `slowdown_delay_micros` growing
/// linearly to four times that as either measure nears its stop limit.
pub fn write_pressure(levels: &Levels, options: &CompactionOptions) -> WritePressure {
    let files = levels.level(0).len() as u64;
    let debt = compaction_debt(levels, options);
    if files >= options.level0_stop_files as u64 || debt >= options.pending_bytes_stop {
        return WritePressure::Stop;
    }
    let progress = |value: u64, slow: u64, stop: u64| -> Option<f64> {
        (value >= slow).then(|| (value - slow) as f64 / (stop - slow).max(1) as f64)
    };
    let files_progress = progress(
        files,
        options.level0_slowdown_files as u64,
        options.level0_stop_files as u64,
    );
    let debt_progress = progress(
        debt,
        options.pending_bytes_slowdown,
        options.pending_bytes_stop,
    );
    match files_progress
        .into_iter()
        .chain(debt_progress)
        .reduce(f64::max)
    {
        None => WritePressure::None,
        Some(p) => WritePressure::Slowdown {
            delay_micros: options.slowdown_delay_micros
                + (options.slowdown_delay_micros as f64 * 3.0 * p) as u64,
        },
    }
}
