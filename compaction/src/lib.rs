//! Leveled compaction: deciding what to compact (pure functions of the tree's shape) and
//! merging the chosen tables.
//!
//! The engine owns the manifest and the files' lifecycles; this crate only
//! - decides: [`pick`] (and [`pick_range`] for manual compactions) turn [`Levels`] and the
//!   [`BusySet`] of running tasks into a [`Task`]; [`apply`] gives the tree's shape after it;
//!   [`compaction_debt`] and [`write_pressure`] tell the write path to slow down or stop;
//! - merges: [`run`] rewrites a task's input tables ([`MergeJob`]) into new tables named by an
//!   [`OutputFactory`], keeping per user key the newest version of each snapshot stripe,
//!   dropping tombstones that hide nothing when the task is bottommost, and cutting outputs only
//!   between user keys. It returns the new tables ([`OutputTable`]) and [`JobStats`] (bytes read
//!   and written, for write amplification).
//!
//! The engine's loop: `pick` -> `BusySet::insert` -> (trivial move, or open the inputs and
//! `run`) -> one manifest edit mirroring `apply` -> `BusySet::remove` -> delete the inputs once
//! no reader holds them.
//!
//! ```
//! use compaction::{apply, pick, BusySet, CompactionOptions, Levels, TableInfo};
//!
//! let options = CompactionOptions::default();
//! let mut levels = Levels::empty(options.max_levels);
//! for id in 1..=4 {
//!     levels.push_level0(TableInfo::new(id, 1 << 20, *b"a", *b"z")).unwrap();
//! }
//! let task = pick(&levels, &BusySet::new(), &options).expect("four level-0 tables trigger");
//! // An empty tree: level 0 goes straight to the deepest level (dynamic level targets).
//! assert_eq!((task.level, task.output_level), (0, 6));
//! assert_eq!(task.input_ids(), vec![4, 3, 2, 1]);
//! // ... the merge job writes table 5 ...
//! let levels = apply(&levels, &task, &[TableInfo::new(5, 3 << 20, *b"a", *b"z")]).unwrap();
//! assert_eq!(levels.level(6).len(), 1);
//! assert!(pick(&levels, &BusySet::new(), &options).is_none());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod apply;
mod error;
mod job;
mod levels;
mod options;
mod picker;
mod pressure;
mod retention;
mod targets;
mod task;

pub use apply::apply;
pub use error::{Error, Result};
pub use job::{
    run, JobOutput, JobStats, MergeJob, OutputFactory, OutputTable, CANCEL_CHECK_ENTRIES,
};
pub use levels::{key_range, Levels, TableInfo};
pub use options::{CompactionOptions, MAX_LEVELS_LIMIT};
pub use picker::{level_scores, pick, pick_range};
pub use pressure::{compaction_debt, write_pressure, WritePressure};
pub use targets::{level_targets, LevelTargets};
pub use task::{BusySet, LevelInputs, ManualPick, Task, TaskReason};
