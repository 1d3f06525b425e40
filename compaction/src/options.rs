//! [`CompactionOptions`]: the knobs of leveled compaction and of write flow control, with their
//! defaults and [`CompactionOptions::validate`].
//!
//! Level targets grow by `level_size_ratio` per level, from `level1_size_bytes_target` down
//! (static) or from the deepest level's size up (dynamic, the default); see
//! [`crate::level_targets`]. The deepest level (`max_levels - 1`) has no target: it holds
//! whatever is left.
//!
//! Sizing: as in RocksDB, keep `level1_size_bytes_target` near what level 0 holds when it
//! triggers (memtable size x `level0_file_trigger`). A base level much larger than that makes
//! every level-0 compaction rewrite far more than it brings down.

use crate::error::{Error, Result};

/// Options of the picker, the merge job and flow control. Every field has a default.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionOptions {
    /// Level 0 is compacted once it holds this many tables (its score reaches 1). Default 4.
    pub level0_file_trigger: usize,
    /// Writes slow down once level 0 holds this many tables. Default 20.
    pub level0_slowdown_files: usize,
    /// Writes stop once level 0 holds this many tables. Default 36.
    pub level0_stop_files: usize,
    /// Each level's target is this many times the one above. Default 10.
    pub level_size_ratio: u64,
    /// Level 1's target size; with `dynamic_level_bytes`, the base level's largest target.
    /// Default 64 MiB.
    pub level1_size_bytes_target: u64,
    /// Derive the targets from the deepest level's size (RocksDB's dynamic level bytes, see
    /// [`crate::level_targets`]): space amplification stays near 1.1. Default true.
    pub dynamic_level_bytes: bool,
    /// The number of levels, level 0 included. Default 7.
    pub max_levels: usize,
    /// The merge job starts a new output table once the current one reaches this size (at the
    /// next user-key boundary). Default 8 MiB.
    pub target_file_size_bytes: u64,
    /// The merge job also starts a new output table once the current one overlaps this many
    /// bytes of the level below the output level, so no future compaction of one output table
    /// pulls in too much (LevelDB's grandparent limit). Default 10 x `target_file_size_bytes`.
    pub max_grandparent_overlap_bytes: u64,
    /// Writes slow down once the estimated compaction debt reaches this. Default 64 GiB.
    pub pending_bytes_slowdown: u64,
    /// Writes stop once the estimated compaction debt reaches this. Default 256 GiB.
    pub pending_bytes_stop: u64,
    /// The delay per write when writes first slow down; it grows linearly to four times this
    /// as the pressure approaches the stop limit. Default 1000 (1 ms).
    pub slowdown_delay_micros: u64,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        CompactionOptions {
            level0_file_trigger: 4,
            level0_slowdown_files: 20,
            level0_stop_files: 36,
            level_size_ratio: 10,
            level1_size_bytes_target: 64 << 20,
            dynamic_level_bytes: true,
            max_levels: 7,
            target_file_size_bytes: 8 << 20,
            max_grandparent_overlap_bytes: 80 << 20,
            pending_bytes_slowdown: 64 << 30,
            pending_bytes_stop: 256 << 30,
            slowdown_delay_micros: 1000,
        }
    }
}

/// The most levels a tree may have.
pub const MAX_LEVELS_LIMIT: usize = 16;

impl CompactionOptions {
    /// Checks every field and their relations; the error names the first bad field.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field: &'static str, reason: String| Err(Error::InvalidOptions { field, reason });
        if self.level0_file_trigger == 0 {
            return bad("level0_file_trigger", "must be at least 1".into());
        }
        if self.level0_slowdown_files < self.level0_file_trigger {
            return bad(
                "level0_slowdown_files",
                format!(
                    "{} is below level0_file_trigger ({})",
                    self.level0_slowdown_files, self.level0_file_trigger
                ),
            );
        }
        if self.level0_stop_files <= self.level0_slowdown_files {
            return bad(
                "level0_stop_files",
                format!(
                    "{} must exceed level0_slowdown_files ({})",
                    self.level0_stop_files, self.level0_slowdown_files
                ),
            );
        }
        if self.level_size_ratio < 2 {
            return bad(
                "level_size_ratio",
                format!("{} is below 2", self.level_size_ratio),
            );
        }
        if self.level1_size_bytes_target == 0 {
            return bad("level1_size_bytes_target", "must be positive".into());
        }
        if !(2..=MAX_LEVELS_LIMIT).contains(&self.max_levels) {
            return bad(
                "max_levels",
                format!("{} is outside 2..={MAX_LEVELS_LIMIT}", self.max_levels),
            );
        }
        if self.target_file_size_bytes == 0 {
            return bad("target_file_size_bytes", "must be positive".into());
        }
        if self.max_grandparent_overlap_bytes == 0 {
            return bad("max_grandparent_overlap_bytes", "must be positive".into());
        }
        if self.pending_bytes_slowdown == 0 {
            return bad("pending_bytes_slowdown", "must be positive".into());
        }
        if self.pending_bytes_stop <= self.pending_bytes_slowdown {
            return bad(
                "pending_bytes_stop",
                format!(
                    "{} must exceed pending_bytes_slowdown ({})",
                    self.pending_bytes_stop, self.pending_bytes_slowdown
                ),
            );
        }
        Ok(())
    }

    /// The static target size of `level` (>= 1); `u64::MAX` for level 0 and the deepest level,
    /// which have no size target. With `dynamic_level_bytes` the picker uses
    /// [`crate::level_targets`] instead.
    pub fn level_target_bytes(&self, level: usize) -> u64 {
        if level == 0 || level + 1 >= self.max_levels {
            return u64::MAX;
        }
        let mut target = self.level1_size_bytes_target;
        for _ in 1..level {
            target = target.saturating_mul(self.level_size_ratio);
        }
        target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        CompactionOptions::default().validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_field() {
        type Edit = fn(&mut CompactionOptions);
        let cases: Vec<(&str, Edit)> = vec![
            ("level0_file_trigger", |o| o.level0_file_trigger = 0),
            ("level0_slowdown_files", |o| o.level0_slowdown_files = 2),
            ("level0_stop_files", |o| o.level0_stop_files = 20),
            ("level_size_ratio", |o| o.level_size_ratio = 1),
            ("level1_size_bytes_target", |o| {
                o.level1_size_bytes_target = 0
            }),
            ("max_levels", |o| o.max_levels = 1),
            ("max_levels", |o| o.max_levels = 17),
            ("target_file_size_bytes", |o| o.target_file_size_bytes = 0),
            ("max_grandparent_overlap_bytes", |o| {
                o.max_grandparent_overlap_bytes = 0
            }),
            ("pending_bytes_slowdown", |o| o.pending_bytes_slowdown = 0),
            ("pending_bytes_stop", |o| o.pending_bytes_stop = 1),
        ];
        for (name, edit) in cases {
            let mut o = CompactionOptions::default();
            edit(&mut o);
            match o.validate() {
                Err(Error::InvalidOptions { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: expected InvalidOptions, got {other:?}"),
            }
        }
    }

    #[test]
    fn targets_grow_by_the_ratio_and_the_last_level_has_none() {
        let o = CompactionOptions {
            level1_size_bytes_target: 100,
            max_levels: 4,
            ..Default::default()
        };
        assert_eq!(o.level_target_bytes(0), u64::MAX);
        assert_eq!(o.level_target_bytes(1), 100);
        assert_eq!(o.level_target_bytes(2), 1000);
        assert_eq!(o.level_target_bytes(3), u64::MAX);
    }
}
