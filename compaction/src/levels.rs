//! The shape of the tree as compaction sees it: [`TableInfo`] per table and [`Levels`].
//!
//! The engine maps its own file metadata into this view before asking the picker. Invariants,
//! checked by [`Levels::new`]:
//! - level 0 is ordered newest first; its tables may overlap;
//! - every deeper level is sorted by smallest key and its tables' user-key ranges are disjoint
//!   (`largest` of one table < `smallest` of the next): one user key's versions never span two
//!   tables of a level;
//! - every table has `smallest <= largest`, and no table id appears twice.

use crate::error::{Error, Result};
use std::collections::HashSet;

/// What compaction knows of one table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableInfo {
    /// The table's id (the engine's file number).
    pub id: u64,
    /// The table's size on disk.
    pub size_bytes: u64,
    /// The smallest user key in the table.
    pub smallest: Vec<u8>,
    /// The largest user key in the table.
    pub largest: Vec<u8>,
}

impl TableInfo {
    /// A table covering the user keys `smallest..=largest`.
    pub fn new(
        id: u64,
        size_bytes: u64,
        smallest: impl Into<Vec<u8>>,
        largest: impl Into<Vec<u8>>,
    ) -> TableInfo {
        TableInfo {
            id,
            size_bytes,
            smallest: smallest.into(),
            largest: largest.into(),
        }
    }

    /// Whether the table's key range meets `smallest..=largest`.
    pub fn overlaps(&self, smallest: &[u8], largest: &[u8]) -> bool {
        self.smallest.as_slice() <= largest && smallest <= self.largest.as_slice()
    }
}

/// The tables of every level. Level 0 newest first; deeper levels sorted and disjoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    levels: Vec<Vec<TableInfo>>,
}

impl Levels {
    /// An empty tree of `num_levels` levels.
    pub fn empty(num_levels: usize) -> Levels {
        Levels {
            levels: vec![Vec::new(); num_levels],
        }
    }

    /// A tree from its levels (level 0 first, newest table first), after checking the
    /// invariants of the module documentation.
    pub fn new(levels: Vec<Vec<TableInfo>>) -> Result<Levels> {
        let levels = Levels { levels };
        levels.check()?;
        Ok(levels)
    }

    /// Checks the invariants of the module documentation.
    pub fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidLevels { reason });
        let mut ids = HashSet::new();
        for (n, level) in self.levels.iter().enumerate() {
            for t in level {
                if t.smallest > t.largest {
                    return bad(format!("table {} in level {n}: smallest > largest", t.id));
                }
                if !ids.insert(t.id) {
                    return bad(format!("table {} appears twice", t.id));
                }
            }
            if n == 0 {
                continue;
            }
            for pair in level.windows(2) {
                if pair[0].largest >= pair[1].smallest {
                    return bad(format!(
                        "level {n}: table {} (largest {:?}) is not before table {} (smallest {:?})",
                        pair[0].id, pair[0].largest, pair[1].id, pair[1].smallest
                    ));
                }
            }
        }
        Ok(())
    }

    /// The number of levels.
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }

    /// The tables of `level` (empty past the last level).
    pub fn level(&self, level: usize) -> &[TableInfo] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// All levels, level 0 first.
    pub fn levels(&self) -> &[Vec<TableInfo>] {
        &self.levels
    }

    /// The bytes held by `level`.
    pub fn level_size_bytes(&self, level: usize) -> u64 {
        self.level(level).iter().map(|t| t.size_bytes).sum()
    }

    /// The bytes held by all levels.
    pub fn total_size_bytes(&self) -> u64 {
        (0..self.num_levels())
            .map(|n| self.level_size_bytes(n))
            .sum()
    }

    /// The number of tables in all levels.
    pub fn table_count(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// Adds a freshly flushed table as the newest of level 0.
    pub fn push_level0(&mut self, table: TableInfo) -> Result<()> {
        if self.levels.is_empty() {
            return Err(Error::InvalidLevels {
                reason: "a tree without levels cannot take a flushed table".into(),
            });
        }
        if self.find(table.id).is_some() {
            return Err(Error::InvalidLevels {
                reason: format!("table {} is already in the tree", table.id),
            });
        }
        self.levels[0].insert(0, table);
        Ok(())
    }

    /// The level holding table `id`, if any.
    pub fn find(&self, id: u64) -> Option<usize> {
        self.levels
            .iter()
            .position(|level| level.iter().any(|t| t.id == id))
    }

    /// The tables of `level` whose range meets `smallest..=largest`, in the level's order.
    /// For levels >= 1 they are contiguous and found by binary search.
    pub fn overlapping(&self, level: usize, smallest: &[u8], largest: &[u8]) -> Vec<&TableInfo> {
        let tables = self.level(level);
        if level == 0 {
            return tables
                .iter()
                .filter(|t| t.overlaps(smallest, largest))
                .collect();
        }
        let start = tables.partition_point(|t| t.largest.as_slice() < smallest);
        let end = tables.partition_point(|t| t.smallest.as_slice() <= largest);
        tables[start..end.max(start)].iter().collect()
    }

    /// The bytes of `level` overlapping `smallest..=largest`.
    pub fn overlapping_bytes(&self, level: usize, smallest: &[u8], largest: &[u8]) -> u64 {
        self.overlapping(level, smallest, largest)
            .into_iter()
            .map(|t| t.size_bytes)
            .sum()
    }

    /// Whether any level deeper than `level` holds a table meeting `smallest..=largest`.
    pub fn deeper_overlaps(&self, level: usize, smallest: &[u8], largest: &[u8]) -> bool {
        (level + 1..self.num_levels()).any(|n| !self.overlapping(n, smallest, largest).is_empty())
    }

    pub(crate) fn levels_mut(&mut self) -> &mut Vec<Vec<TableInfo>> {
        &mut self.levels
    }
}

/// The user-key range `smallest..=largest` covering all of `tables` (`None` if empty).
pub fn key_range<'a>(
    tables: impl IntoIterator<Item = &'a TableInfo>,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut range: Option<(&[u8], &[u8])> = None;
    for t in tables {
        range = Some(match range {
            None => (&t.smallest, &t.largest),
            Some((s, l)) => (s.min(&t.smallest), l.max(&t.largest)),
        });
    }
    range.map(|(s, l)| (s.to_vec(), l.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: u64, s: &str, l: &str) -> TableInfo {
        TableInfo::new(id, 10, s.as_bytes(), l.as_bytes())
    }

    #[test]
    fn invariants_are_checked() {
        assert!(Levels::new(vec![
            vec![t(1, "a", "z"), t(2, "b", "c")],
            vec![t(3, "a", "b"), t(4, "c", "d")]
        ])
        .is_ok());
        let overlap = Levels::new(vec![vec![], vec![t(3, "a", "c"), t(4, "c", "d")]]);
        assert!(matches!(overlap, Err(Error::InvalidLevels { .. })));
        let unsorted = Levels::new(vec![vec![], vec![t(4, "c", "d"), t(3, "a", "b")]]);
        assert!(unsorted.is_err());
        let twice = Levels::new(vec![vec![t(1, "a", "b")], vec![t(1, "c", "d")]]);
        assert!(twice.is_err());
        let inverted = Levels::new(vec![vec![t(1, "b", "a")]]);
        assert!(inverted.is_err());
    }

    #[test]
    fn overlapping_uses_inclusive_ranges() {
        let levels = Levels::new(vec![
            vec![],
            vec![t(1, "a", "b"), t(2, "d", "f"), t(3, "h", "k")],
        ])
        .unwrap();
        let ids = |s: &str, l: &str| -> Vec<u64> {
            levels
                .overlapping(1, s.as_bytes(), l.as_bytes())
                .into_iter()
                .map(|t| t.id)
                .collect()
        };
        assert_eq!(ids("b", "d"), vec![1, 2]);
        assert_eq!(ids("c", "c"), Vec::<u64>::new());
        assert_eq!(ids("g", "z"), vec![3]);
        assert_eq!(ids("0", "a"), vec![1]);
        assert_eq!(levels.overlapping_bytes(1, b"a", b"z"), 30);
        assert!(levels.deeper_overlaps(0, b"e", b"e"));
        assert!(!levels.deeper_overlaps(1, b"e", b"e"));
    }

    #[test]
    fn push_level0_puts_the_newest_first() {
        let mut levels = Levels::empty(3);
        levels.push_level0(t(1, "a", "b")).unwrap();
        levels.push_level0(t(2, "a", "b")).unwrap();
        assert_eq!(levels.level(0)[0].id, 2);
        assert!(levels.push_level0(t(2, "x", "y")).is_err());
        assert_eq!(levels.find(1), Some(0));
        levels.push_level0(t(3, "x", "y")).unwrap();
        let hits: Vec<u64> = levels
            .overlapping(0, b"b", b"c")
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(
            hits,
            vec![2, 1],
            "level 0 in its order, only the tables that overlap"
        );
        assert_eq!(levels.total_size_bytes(), 30);
    }
}
