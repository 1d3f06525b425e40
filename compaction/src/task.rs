//! A [`Task`]: one compaction the picker chose, and the [`BusySet`] of tables and key ranges
//! that running tasks hold, so that no key range is picked twice.

use crate::error::{Error, Result};
use crate::levels::TableInfo;
use std::collections::HashSet;

/// Why a task was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskReason {
    /// Level 0 holds `level0_file_trigger` tables or more.
    Level0FileCount,
    /// A level holds more than its target size.
    LevelSize,
    /// The caller asked for a range to be compacted.
    Manual,
}

/// The input tables taken from one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelInputs {
    /// The level they are in.
    pub level: usize,
    /// The tables, in the level's order (level 0: newest first).
    pub tables: Vec<TableInfo>,
}

/// One compaction: merge `inputs` into new tables of `output_level`.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The level compacted from.
    pub level: usize,
    /// The level the outputs go to: `level + 1` (for level 0: the base level, see
    /// [`crate::level_targets`]), or `level` itself for a manual rewrite of the deepest data.
    pub output_level: usize,
    /// The inputs: first those of `level`, then (if any) the overlapping ones of `output_level`.
    pub inputs: Vec<LevelInputs>,
    /// The tables of `output_level + 1` that overlap the task's range. The merge job cuts an
    /// output table early when it would overlap too many of their bytes.
    pub grandparents: Vec<TableInfo>,
    /// The smallest user key of all inputs.
    pub smallest: Vec<u8>,
    /// The largest user key of all inputs.
    pub largest: Vec<u8>,
    /// One input table and nothing to merge it with: the engine moves the table to
    /// `output_level` by a manifest edit alone, without running the merge job.
    pub is_trivial_move: bool,
    /// No level deeper than `output_level` holds any key of the task's range, so a tombstone
    /// that no snapshot needs can be dropped.
    pub bottommost: bool,
    /// Why the task was picked.
    pub reason: TaskReason,
    /// The score of `level` when the task was picked (0 for manual tasks).
    pub score: f64,
}

impl Task {
    /// The ids of all input tables.
    pub fn input_ids(&self) -> Vec<u64> {
        self.input_tables().map(|t| t.id).collect()
    }

    /// All input tables, level by level.
    pub fn input_tables(&self) -> impl Iterator<Item = &TableInfo> {
        self.inputs.iter().flat_map(|l| l.tables.iter())
    }

    /// The bytes of all input tables: what the merge job reads.
    pub fn input_bytes(&self) -> u64 {
        self.input_tables().map(|t| t.size_bytes).sum()
    }
}

/// What [`crate::pick_range`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum ManualPick {
    /// Run this task.
    Task(Task),
    /// The level holds nothing in the range: go on to the next level.
    Empty,
    /// A table or output range the task needs is being compacted: wait for running tasks,
    /// then ask again.
    Busy,
}

impl ManualPick {
    /// The task, if one was picked.
    pub fn task(self) -> Option<Task> {
        match self {
            ManualPick::Task(t) => Some(t),
            ManualPick::Empty | ManualPick::Busy => None,
        }
    }
}

/// The tables being compacted and the key ranges running tasks will write, per output level.
/// The engine inserts a task before running it and removes it once its result is installed
/// (or abandoned); the picker skips anything that meets the set.
#[derive(Debug, Clone, Default)]
pub struct BusySet {
    ids: HashSet<u64>,
    /// (output level, smallest, largest) of each running task.
    outputs: Vec<(usize, Vec<u8>, Vec<u8>)>,
}

impl BusySet {
    /// An empty set.
    pub fn new() -> BusySet {
        BusySet::default()
    }

    /// Marks the task's inputs and output range busy. Fails, changing nothing, if an input is
    /// already busy.
    pub fn insert(&mut self, task: &Task) -> Result<()> {
        if let Some(t) = task.input_tables().find(|t| self.ids.contains(&t.id)) {
            return Err(Error::InvalidTask {
                reason: format!("table {} is already being compacted", t.id),
            });
        }
        self.ids.extend(task.input_ids());
        self.outputs.push((
            task.output_level,
            task.smallest.clone(),
            task.largest.clone(),
        ));
        Ok(())
    }

    /// Releases what `insert(task)` marked.
    pub fn remove(&mut self, task: &Task) {
        for id in task.input_ids() {
            self.ids.remove(&id);
        }
        let entry = (
            task.output_level,
            task.smallest.clone(),
            task.largest.clone(),
        );
        if let Some(i) = self.outputs.iter().position(|o| *o == entry) {
            self.outputs.swap_remove(i);
        }
    }

    /// Whether table `id` is being compacted.
    pub fn contains(&self, id: u64) -> bool {
        self.ids.contains(&id)
    }

    /// Whether no task is running.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.outputs.is_empty()
    }

    /// The number of running tasks.
    pub fn task_count(&self) -> usize {
        self.outputs.len()
    }

    /// Whether a running task writes into `level` within `smallest..=largest`.
    pub fn output_conflicts(&self, level: usize, smallest: &[u8], largest: &[u8]) -> bool {
        self.outputs
            .iter()
            .any(|(l, s, e)| *l == level && s.as_slice() <= largest && smallest <= e.as_slice())
    }

    /// Whether any of `tables` is busy.
    pub(crate) fn any_busy<'a>(&self, tables: impl IntoIterator<Item = &'a TableInfo>) -> bool {
        tables.into_iter().any(|t| self.contains(t.id))
    }
}
