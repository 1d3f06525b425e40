//! The picker: a pure function from the shape of the tree to the next [`Task`].
//!
//! Scores (LevelDB/RocksDB): level 0 scores its number of tables not being compacted divided
//! by `level0_file_trigger`, or its bytes not being compacted divided by
//! `level1_size_bytes_target` if that is more (a few huge flushes also trigger); a level
//! `n >= 1` above the deepest scores its bytes not being compacted divided by its target (see
//! [`crate::level_targets`]). Levels scoring at least 1 are tried from the highest score down
//! (ties: the shallower level first); the first that yields a task wins.
//!
//! - Level 0 -> base level (level 1 with static targets): starting from the oldest idle
//!   level-0 table, take the overlap closure in level 0 (every level-0 table meeting the range,
//!   repeatedly, so no older version of a key is left above a newer one), then every base-level
//!   table meeting the range.
//! - Level n -> n+1: one table of level n, the one whose overlap with level n+1 is the smallest
//!   relative to its own size (RocksDB's "min overlapping ratio": it writes the least per byte
//!   moved down), plus the level n+1 tables meeting its range.
//! - A task is skipped if any of its tables is busy or its range meets the output range of a
//!   running task at the same output level.
//! - One input table with nothing to merge with in the output level (and at most
//!   `max_grandparent_overlap_bytes` below it) is a trivial move.

use crate::levels::{key_range, Levels, TableInfo};
use crate::options::CompactionOptions;
use crate::targets::{level_targets, LevelTargets};
use crate::task::{BusySet, LevelInputs, ManualPick, Task, TaskReason};

/// The deepest level a task may write to.
fn last_level(levels: &Levels, options: &CompactionOptions) -> Option<usize> {
    levels
        .num_levels()
        .min(options.max_levels)
        .checked_sub(1)
        .filter(|&l| l >= 1)
}

/// Each level's score (0 for the deepest level and beyond). A level needs compaction when
/// its score is at least 1.
pub fn level_scores(levels: &Levels, busy: &BusySet, options: &CompactionOptions) -> Vec<f64> {
    let targets = level_targets(levels, options);
    scores_for(levels, busy, options, &targets)
}

fn scores_for(
    levels: &Levels,
    busy: &BusySet,
    options: &CompactionOptions,
    targets: &LevelTargets,
) -> Vec<f64> {
    let mut scores = vec![0.0; levels.num_levels()];
    let Some(last) = last_level(levels, options) else {
        return scores;
    };
    for (n, score) in scores.iter_mut().enumerate().take(last) {
        let idle: Vec<&TableInfo> = levels
            .level(n)
            .iter()
            .filter(|t| !busy.contains(t.id))
            .collect();
        let bytes: u64 = idle.iter().map(|t| t.size_bytes).sum();
        *score = if n == 0 {
            let by_count = idle.len() as f64 / options.level0_file_trigger.max(1) as f64;
            let by_size = bytes as f64 / options.level1_size_bytes_target as f64;
            by_count.max(by_size)
        } else if n < targets.base_level {
            // Levels above the base are empty by construction (the base is never below the
            // first non-empty level); should one hold data anyway, it moves down first.
            if bytes > 0 {
                f64::MAX
            } else {
                0.0
            }
        } else {
            bytes as f64 / targets.target_bytes[n] as f64
        };
    }
    scores
}

/// The next compaction to run, or `None` if no level needs one (or every candidate meets a
/// running task). Pure: no I/O, no state.
pub fn pick(levels: &Levels, busy: &BusySet, options: &CompactionOptions) -> Option<Task> {
    let targets = level_targets(levels, options);
    let scores = scores_for(levels, busy, options, &targets);
    let mut order: Vec<usize> = (0..scores.len()).filter(|&n| scores[n] >= 1.0).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.into_iter().find_map(|n| {
        if n == 0 {
            pick_level0(levels, busy, options, targets.base_level, scores[0])
        } else {
            pick_level(levels, busy, n, options, scores[n])
        }
    })
}

/// A manual compaction of the tables of `level` meeting the user-key range `start..=end`
/// (`None`: unbounded), for `compact_range`. Level 0 goes to the base level; a deeper level
/// goes to the next one if any deeper level holds keys of the range, and is otherwise rewritten
/// in place (`output_level == level`), which drops shadowed versions and tombstones no snapshot
/// needs. A manual task is a trivial move only when it is not bottommost.
///
/// To compact a range fully, call this for level 0, 1, ... in turn (running each task; on
/// [`ManualPick::Busy`] wait for running tasks and ask again), and stop after the first task
/// that is `bottommost`: its merge already dropped what could go.
pub fn pick_range(
    levels: &Levels,
    busy: &BusySet,
    level: usize,
    start: Option<&[u8]>,
    end: Option<&[u8]>,
    options: &CompactionOptions,
) -> ManualPick {
    let Some(last) = last_level(levels, options).filter(|&last| level <= last) else {
        return ManualPick::Empty;
    };
    let in_range = |t: &TableInfo| {
        start.is_none_or(|s| t.largest.as_slice() >= s)
            && end.is_none_or(|e| t.smallest.as_slice() <= e)
    };
    let tables = levels.level(level);
    let mut chosen: Vec<bool> = tables.iter().map(in_range).collect();
    if level == 0 {
        close_level0(tables, &mut chosen);
    }
    let inputs: Vec<TableInfo> = chosen_tables(tables, &chosen);
    let Some((smallest, largest)) = key_range(&inputs) else {
        return ManualPick::Empty;
    };
    if busy.any_busy(&inputs) {
        return ManualPick::Busy;
    }
    let output_level = if level == 0 {
        level_targets(levels, options).base_level
    } else if level < last && levels.deeper_overlaps(level, &smallest, &largest) {
        level + 1
    } else {
        level
    };
    match build_task(
        levels,
        busy,
        options,
        level,
        output_level,
        inputs,
        TaskReason::Manual,
        0.0,
    ) {
        Some(task) => ManualPick::Task(task),
        None => ManualPick::Busy,
    }
}

/// Level 0 -> base level, seeded by the oldest idle table whose closure is idle.
fn pick_level0(
    levels: &Levels,
    busy: &BusySet,
    options: &CompactionOptions,
    base_level: usize,
    score: f64,
) -> Option<Task> {
    let tables = levels.level(0);
    (0..tables.len()).rev().find_map(|seed| {
        if busy.contains(tables[seed].id) {
            return None;
        }
        let mut chosen = vec![false; tables.len()];
        chosen[seed] = true;
        close_level0(tables, &mut chosen);
        let inputs = chosen_tables(tables, &chosen);
        if busy.any_busy(&inputs) {
            return None;
        }
        build_task(
            levels,
            busy,
            options,
            0,
            base_level,
            inputs,
            TaskReason::Level0FileCount,
            score,
        )
    })
}

/// Level n -> n+1: the idle table with the least overlap ratio whose task is free.
fn pick_level(
    levels: &Levels,
    busy: &BusySet,
    n: usize,
    options: &CompactionOptions,
    score: f64,
) -> Option<Task> {
    let mut best: Option<(u128, &TableInfo)> = None;
    for t in levels.level(n) {
        if busy.contains(t.id) {
            continue;
        }
        let below = levels.overlapping(n + 1, &t.smallest, &t.largest);
        if busy.any_busy(below.iter().copied()) {
            continue;
        }
        let (s, l) = key_range(below.iter().copied().chain([t]))?;
        if busy.output_conflicts(n + 1, &s, &l) {
            continue;
        }
        let below_bytes: u64 = below.iter().map(|b| b.size_bytes).sum();
        let ratio = (below_bytes as u128) * 1024 / (t.size_bytes.max(1) as u128);
        if best.is_none_or(|(r, _)| ratio < r) {
            best = Some((ratio, t));
        }
    }
    let (_, table) = best?;
    build_task(
        levels,
        busy,
        options,
        n,
        n + 1,
        vec![table.clone()],
        TaskReason::LevelSize,
        score,
    )
}

/// Marks every level-0 table meeting the range of the marked ones, until nothing changes.
fn close_level0(tables: &[TableInfo], chosen: &mut [bool]) {
    let Some((mut s, mut l)) = key_range(
        tables
            .iter()
            .zip(chosen.iter())
            .filter(|(_, &c)| c)
            .map(|(t, _)| t),
    ) else {
        return;
    };
    loop {
        let mut changed = false;
        for (t, c) in tables.iter().zip(chosen.iter_mut()) {
            if !*c && t.overlaps(&s, &l) {
                *c = true;
                changed = true;
                if t.smallest < s {
                    s = t.smallest.clone();
                }
                if t.largest > l {
                    l = t.largest.clone();
                }
            }
        }
        if !changed {
            return;
        }
    }
}

fn chosen_tables(tables: &[TableInfo], chosen: &[bool]) -> Vec<TableInfo> {
    tables
        .iter()
        .zip(chosen)
        .filter(|(_, &c)| c)
        .map(|(t, _)| t.clone())
        .collect()
}

/// Adds the output level's overlapping tables and the task's facts, or `None` if the task
/// meets a running one.
#[allow(clippy::too_many_arguments)]
fn build_task(
    levels: &Levels,
    busy: &BusySet,
    options: &CompactionOptions,
    level: usize,
    output_level: usize,
    inputs: Vec<TableInfo>,
    reason: TaskReason,
    score: f64,
) -> Option<Task> {
    let (s, l) = key_range(&inputs)?;
    let below: Vec<TableInfo> = if output_level == level {
        Vec::new()
    } else {
        levels
            .overlapping(output_level, &s, &l)
            .into_iter()
            .cloned()
            .collect()
    };
    if busy.any_busy(&below) {
        return None;
    }
    let (smallest, largest) = key_range(inputs.iter().chain(&below))?;
    if busy.output_conflicts(output_level, &smallest, &largest) {
        return None;
    }
    let bottommost = !levels.deeper_overlaps(output_level, &smallest, &largest);
    let grandparents: Vec<TableInfo> = levels
        .overlapping(output_level + 1, &smallest, &largest)
        .into_iter()
        .cloned()
        .collect();
    let grandparent_bytes: u64 = grandparents.iter().map(|t| t.size_bytes).sum();
    let is_trivial_move = output_level != level
        && inputs.len() == 1
        && below.is_empty()
        && grandparent_bytes <= options.max_grandparent_overlap_bytes
        && !(reason == TaskReason::Manual && bottommost);
    let mut all = vec![LevelInputs {
        level,
        tables: inputs,
    }];
    if !below.is_empty() {
        all.push(LevelInputs {
            level: output_level,
            tables: below,
        });
    }
    Some(Task {
        level,
        output_level,
        inputs: all,
        grandparents,
        smallest,
        largest,
        is_trivial_move,
        bottommost,
        reason,
        score,
    })
}
