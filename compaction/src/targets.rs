//! [`level_targets`]: each level's size target and the base level (where level 0 compacts to).
//!
//! Static targets (LevelDB): level 1 holds `level1_size_bytes_target`, each deeper level
//! `level_size_ratio` times more, level 0 compacts into level 1.
//!
//! Dynamic targets (RocksDB's `level_compaction_dynamic_level_bytes`, the default): the targets
//! are derived from the deepest level's actual size, dividing by the ratio on the way up, so the
//! deepest level holds about `ratio / (ratio - 1)` of the data and space amplification stays
//! near 1.1 whatever the database's size. The first level whose target would not exceed
//! `level1_size_bytes_target` is the base level: level 0 compacts straight into it, and the
//! levels between 1 and it stay empty. No level's target is below `level1_size_bytes_target`,
//! so a small database lives in level 0 and the deepest level only.

use crate::levels::Levels;
use crate::options::CompactionOptions;

/// The size targets of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelTargets {
    /// The level level-0 tables compact into (1 with static targets).
    pub base_level: usize,
    /// Per level: the bytes it may hold before it needs compaction; `u64::MAX` for level 0,
    /// the deepest level and the (empty) levels above the base level.
    pub target_bytes: Vec<u64>,
}

/// The targets for `levels` now. See the module documentation.
pub fn level_targets(levels: &Levels, options: &CompactionOptions) -> LevelTargets {
    let num = levels.num_levels().min(options.max_levels);
    let mut target_bytes = vec![u64::MAX; levels.num_levels()];
    if num < 2 {
        return LevelTargets {
            base_level: 1,
            target_bytes,
        };
    }
    let last = num - 1;
    if !options.dynamic_level_bytes {
        for (n, t) in target_bytes.iter_mut().enumerate().take(last).skip(1) {
            *t = options.level_target_bytes(n);
        }
        return LevelTargets {
            base_level: 1,
            target_bytes,
        };
    }
    let ratio = options.level_size_ratio.max(2);
    let base_max = options.level1_size_bytes_target;
    let base_min = (base_max / ratio).max(1);
    let first_non_empty = (1..=last).find(|&n| !levels.level(n).is_empty());
    let Some(first_non_empty) = first_non_empty else {
        // An empty tree: level 0 goes straight to the deepest level.
        return LevelTargets {
            base_level: last,
            target_bytes,
        };
    };
    let max_size = (1..=last)
        .map(|n| levels.level_size_bytes(n))
        .max()
        .unwrap_or(0);
    let mut cur = max_size;
    for _ in first_non_empty..last {
        cur /= ratio;
    }
    let (base_level, base_size) = if cur <= base_min {
        (first_non_empty, base_min + 1)
    } else {
        let mut base = first_non_empty;
        while base > 1 && cur > base_max {
            base -= 1;
            cur /= ratio;
        }
        (base, cur.clamp(1, base_max))
    };
    let mut size = base_size;
    for (n, t) in target_bytes
        .iter_mut()
        .enumerate()
        .take(last)
        .skip(base_level)
    {
        if n > base_level {
            size = size.saturating_mul(ratio);
        }
        *t = size.max(base_max);
    }
    LevelTargets {
        base_level,
        target_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::levels::TableInfo;

    fn tree(sizes: &[u64]) -> Levels {
        Levels::new(
            sizes
                .iter()
                .enumerate()
                .map(|(n, &s)| {
                    if s == 0 {
                        vec![]
                    } else {
                        vec![TableInfo::new(n as u64, s, *b"a", *b"z")]
                    }
                })
                .collect(),
        )
        .unwrap()
    }

    fn dynamic() -> CompactionOptions {
        CompactionOptions {
            level1_size_bytes_target: 100,
            max_levels: 5,
            ..Default::default()
        }
    }

    #[test]
    fn an_empty_tree_compacts_level0_into_the_deepest_level() {
        let t = level_targets(&tree(&[5, 0, 0, 0, 0]), &dynamic());
        assert_eq!(t.base_level, 4);
        assert!(t.target_bytes.iter().all(|&b| b == u64::MAX));
    }

    #[test]
    fn targets_come_down_from_the_deepest_level() {
        // 5_000 bytes at the bottom: 500 above it, then 50 <= 100: the base is level 2.
        let t = level_targets(&tree(&[0, 0, 0, 0, 5_000]), &dynamic());
        assert_eq!(t.base_level, 2);
        assert_eq!(t.target_bytes, vec![u64::MAX, u64::MAX, 100, 500, u64::MAX]);
        // 50_000 at the bottom needs every level: level 1 at its largest target.
        let t = level_targets(&tree(&[0, 0, 0, 0, 50_000]), &dynamic());
        assert_eq!(t.base_level, 1);
        assert_eq!(t.target_bytes, vec![u64::MAX, 100, 500, 5000, u64::MAX]);
        // A small tree: everything in the deepest level, base is the deepest level.
        let t = level_targets(&tree(&[0, 0, 0, 0, 90]), &dynamic());
        assert_eq!(t.base_level, 4);
        // Data stranded above the base (the tree shrank) keeps the base at its level.
        let t = level_targets(&tree(&[0, 0, 300, 0, 500]), &dynamic());
        assert_eq!(t.base_level, 2);
        assert_eq!(t.target_bytes[2..4], [100, 110]);
    }

    #[test]
    fn static_targets_ignore_the_shape() {
        let options = CompactionOptions {
            dynamic_level_bytes: false,
            ..dynamic()
        };
        let t = level_targets(&tree(&[0, 0, 0, 0, 50_000]), &options);
        assert_eq!(t.base_level, 1);
        assert_eq!(t.target_bytes, vec![u64::MAX, 100, 1000, 10_000, u64::MAX]);
    }
}
