//! The picker over hand-made level shapes.

use compaction::{
    apply, compaction_debt, pick, pick_range, write_pressure, BusySet, CompactionOptions, Error,
    Levels, ManualPick, TableInfo, TaskReason, WritePressure,
};

const MB: u64 = 1 << 20;

fn t(id: u64, size_bytes: u64, s: &str, l: &str) -> TableInfo {
    TableInfo::new(id, size_bytes, s.as_bytes(), l.as_bytes())
}

fn small() -> CompactionOptions {
    CompactionOptions {
        level1_size_bytes_target: 10 * MB,
        dynamic_level_bytes: false,
        max_levels: 4,
        ..Default::default()
    }
}

fn tree(levels: Vec<Vec<TableInfo>>) -> Levels {
    let mut levels = levels;
    levels.resize(4, Vec::new());
    Levels::new(levels).unwrap()
}

fn ids(tables: &[TableInfo]) -> Vec<u64> {
    tables.iter().map(|t| t.id).collect()
}

#[test]
fn level0_below_its_trigger_is_left_alone() {
    let levels = tree(vec![vec![
        t(1, MB, "a", "z"),
        t(2, MB, "a", "z"),
        t(3, MB, "a", "z"),
    ]]);
    assert!(pick(&levels, &BusySet::new(), &small()).is_none());
}

#[test]
fn level0_trigger_takes_all_overlapping_level0_and_level1_tables() {
    let levels = tree(vec![
        vec![
            t(4, MB, "c", "f"),
            t(3, MB, "b", "e"),
            t(2, MB, "d", "g"),
            t(1, MB, "a", "c"),
        ],
        vec![
            t(10, MB, "a", "b"),
            t(11, MB, "e", "h"),
            t(12, MB, "m", "p"),
        ],
    ]);
    let task = pick(&levels, &BusySet::new(), &small()).unwrap();
    assert_eq!((task.level, task.output_level), (0, 1));
    assert_eq!(task.reason, TaskReason::Level0FileCount);
    assert_eq!(
        ids(&task.inputs[0].tables),
        vec![4, 3, 2, 1],
        "level 0 newest first"
    );
    assert_eq!(ids(&task.inputs[1].tables), vec![10, 11]);
    assert_eq!(
        (task.smallest.as_slice(), task.largest.as_slice()),
        (&b"a"[..], &b"h"[..])
    );
    assert!(!task.is_trivial_move);
    assert!(task.bottommost);
    assert_eq!(task.input_bytes(), 6 * MB);
}

#[test]
fn level0_closure_leaves_disjoint_tables_and_never_splits_overlapping_ones() {
    // Oldest is d..f; it overlaps b..e, which overlaps a..c; x..z is apart.
    let levels = tree(vec![vec![
        t(4, MB, "a", "c"),
        t(3, MB, "x", "z"),
        t(2, MB, "b", "e"),
        t(1, MB, "d", "f"),
    ]]);
    let task = pick(&levels, &BusySet::new(), &small()).unwrap();
    assert_eq!(ids(&task.inputs[0].tables), vec![4, 2, 1]);
    assert_eq!(task.inputs.len(), 1, "level 1 is empty");
}

#[test]
fn level0_skips_a_closure_holding_a_busy_table() {
    let options = CompactionOptions {
        level0_file_trigger: 2,
        ..small()
    };
    // Table 1 (oldest) is being compacted. Table 3 overlaps it, table 2 does not.
    let levels = tree(vec![vec![
        t(3, MB, "a", "c"),
        t(2, MB, "x", "z"),
        t(1, MB, "b", "d"),
    ]]);
    let mut busy = BusySet::new();
    let running = pick_range(&levels, &busy, 0, Some(b"b"), Some(b"b"), &options)
        .task()
        .unwrap();
    assert_eq!(running.input_ids(), vec![3, 1]);
    busy.insert(&running).unwrap();
    assert!(
        pick(&levels, &busy, &options).is_none(),
        "only one idle table: score 1/2"
    );

    let mut levels = levels;
    levels.push_level0(t(5, MB, "b", "c")).unwrap();
    let task = pick(&levels, &busy, &options).unwrap();
    assert_eq!(
        task.input_ids(),
        vec![2],
        "5 overlaps the busy closure, 2 does not"
    );
    assert!(task.is_trivial_move);
}

#[test]
fn a_level_over_its_target_moves_the_table_with_least_overlap() {
    let levels = tree(vec![
        vec![],
        vec![
            t(1, 4 * MB, "a", "c"),
            t(2, 4 * MB, "d", "f"),
            t(3, 4 * MB, "g", "i"),
        ],
        vec![
            t(10, 20 * MB, "a", "b"),
            t(11, 2 * MB, "e", "e"),
            t(12, 30 * MB, "h", "h"),
        ],
    ]);
    let task = pick(&levels, &BusySet::new(), &small()).unwrap();
    assert_eq!((task.level, task.output_level), (1, 2));
    assert_eq!(task.reason, TaskReason::LevelSize);
    assert!((task.score - 1.2).abs() < 1e-9);
    assert_eq!(task.input_ids(), vec![2, 11]);
    assert!(task.bottommost);
}

#[test]
fn busy_tables_and_busy_output_ranges_are_skipped() {
    let levels = tree(vec![
        vec![],
        vec![
            t(1, 12 * MB, "a", "c"),
            t(2, 12 * MB, "d", "f"),
            t(3, 12 * MB, "g", "i"),
        ],
        vec![
            t(10, 20 * MB, "a", "b"),
            t(11, 2 * MB, "e", "e"),
            t(12, 30 * MB, "h", "h"),
        ],
        vec![t(20, 5 * MB, "e", "e")],
    ]);
    let options = small();
    let mut busy = BusySet::new();
    // A running L2 -> L3 task holds table 11 and writes e..e into level 3.
    let running = pick_range(&levels, &busy, 2, Some(b"e"), Some(b"e"), &options)
        .task()
        .unwrap();
    assert_eq!(running.input_ids(), vec![11, 20]);
    assert!(running.bottommost);
    busy.insert(&running).unwrap();
    assert_eq!(
        pick_range(&levels, &busy, 2, None, None, &options),
        ManualPick::Busy,
        "table 11 is busy"
    );
    assert!(
        busy.insert(&running).is_err(),
        "a table cannot be in two tasks"
    );
    let task = pick(&levels, &busy, &options).unwrap();
    assert_eq!(
        task.input_ids(),
        vec![1, 10],
        "table 2's overlap is busy; 1 has the next best ratio"
    );
    busy.insert(&task).unwrap();
    let third = pick(&levels, &busy, &options).unwrap();
    assert_eq!(third.input_ids(), vec![3, 12]);
    busy.insert(&third).unwrap();
    assert!(pick(&levels, &busy, &options).is_none());
    busy.remove(&third);
    let scores = compaction::level_scores(&levels, &busy, &options);
    assert!(
        (scores[1] - 2.4).abs() < 1e-9,
        "busy tables do not count: {scores:?}"
    );
    busy.remove(&task);
    busy.remove(&third);
    busy.remove(&running);
    assert!(busy.is_empty());
}

#[test]
fn a_running_task_output_range_blocks_a_task_writing_there() {
    let options = small();
    // Level 2 has nothing at d..f, so a task moving table 2 down touches no level-2 table;
    // while it runs, no other task may write d..f into level 2.
    let levels = tree(vec![
        vec![],
        vec![t(1, 6 * MB, "a", "c"), t(2, 6 * MB, "d", "f")],
        vec![t(10, 20 * MB, "a", "b")],
    ]);
    let mut busy = BusySet::new();
    let first = pick(&levels, &busy, &options).unwrap();
    assert_eq!(first.input_ids(), vec![2]);
    assert!(first.is_trivial_move);
    busy.insert(&first).unwrap();
    assert!(busy.output_conflicts(2, b"e", b"z"));
    let second = pick(&levels, &busy, &options);
    assert!(
        second.is_none(),
        "level 1 is below target once table 2 is busy: {second:?}"
    );
}

#[test]
fn trivial_move_applies_without_outputs() {
    let levels = tree(vec![
        vec![],
        vec![t(1, 6 * MB, "a", "c"), t(2, 6 * MB, "d", "f")],
        vec![t(10, 20 * MB, "a", "b")],
    ]);
    let task = pick(&levels, &BusySet::new(), &small()).unwrap();
    assert!(task.is_trivial_move);
    let after = apply(&levels, &task, &[]).unwrap();
    assert_eq!(ids(after.level(1)), vec![1]);
    assert_eq!(ids(after.level(2)), vec![10, 2]);
    assert!(matches!(
        apply(&levels, &task, &[t(99, 1, "d", "d")]),
        Err(Error::InvalidTask { .. })
    ));
}

#[test]
fn a_large_grandparent_overlap_forbids_a_trivial_move() {
    let options = CompactionOptions {
        max_grandparent_overlap_bytes: 50 * MB,
        ..small()
    };
    let levels = tree(vec![
        vec![],
        vec![t(1, 11 * MB, "a", "z")],
        vec![],
        vec![t(20, 60 * MB, "m", "n")],
    ]);
    let task = pick(&levels, &BusySet::new(), &options).unwrap();
    assert!(!task.is_trivial_move);
    assert!(!task.bottommost, "level 3 holds m..n");
    assert_eq!(ids(&task.grandparents), vec![20]);
}

#[test]
fn bottommost_means_no_deeper_level_holds_the_range() {
    let levels = tree(vec![
        vec![],
        vec![t(1, 6 * MB, "a", "c"), t(2, 6 * MB, "k", "m")],
        vec![t(10, MB, "a", "b"), t(11, 50 * MB, "k", "l")],
        vec![t(20, MB, "c", "c")],
    ]);
    let options = small();
    let busy = BusySet::new();
    let a = pick_range(&levels, &busy, 1, Some(b"a"), Some(b"a"), &options)
        .task()
        .unwrap();
    assert_eq!(a.input_ids(), vec![1, 10]);
    assert!(!a.bottommost, "level 3 holds c");
    let k = pick_range(&levels, &busy, 1, Some(b"k"), Some(b"k"), &options)
        .task()
        .unwrap();
    assert_eq!(k.input_ids(), vec![2, 11]);
    assert!(k.bottommost);
}

#[test]
fn the_highest_score_wins_and_the_last_level_is_never_picked() {
    let options = small();
    let levels = tree(vec![
        (1..=4).map(|i| t(i, MB, "a", "b")).collect(),
        vec![],
        vec![t(10, 300 * MB, "c", "d")],
        vec![t(20, 100_000 * MB, "a", "z")],
    ]);
    let task = pick(&levels, &BusySet::new(), &options).unwrap();
    assert_eq!(task.level, 2, "level 2 scores 3, level 0 scores 1");
    let scores = compaction::level_scores(&levels, &BusySet::new(), &options);
    assert_eq!(scores[3], 0.0);
    let after = apply(&levels, &task, &[t(30, 300 * MB + 1, "a", "z")]).unwrap();
    let next = pick(&after, &BusySet::new(), &options).unwrap();
    assert_eq!(next.level, 0);
}

#[test]
fn manual_compaction_rewrites_the_deepest_level_in_place() {
    let options = small();
    let levels = tree(vec![
        vec![t(1, MB, "a", "b")],
        vec![t(10, MB, "x", "y")],
        vec![t(20, MB, "a", "c")],
    ]);
    let busy = BusySet::new();
    let l0 = pick_range(&levels, &busy, 0, None, None, &options)
        .task()
        .unwrap();
    assert_eq!((l0.output_level, l0.input_ids()), (1, vec![1]));
    assert!(
        !l0.bottommost && l0.is_trivial_move,
        "moving down is enough while level 2 holds a..c"
    );
    let l1 = pick_range(&levels, &busy, 1, None, None, &options)
        .task()
        .unwrap();
    assert_eq!(
        (l1.output_level, l1.input_ids()),
        (1, vec![10]),
        "nothing deeper holds x..y"
    );
    assert!(l1.bottommost && !l1.is_trivial_move);
    let after = apply(&levels, &l1, &[t(11, MB / 2, "x", "x")]).unwrap();
    assert_eq!(ids(after.level(1)), vec![11]);
    let l2 = pick_range(&levels, &busy, 2, Some(b"b"), None, &options)
        .task()
        .unwrap();
    assert_eq!((l2.output_level, l2.input_ids()), (2, vec![20]));
    assert_eq!(
        pick_range(&levels, &busy, 3, None, None, &options),
        ManualPick::Empty
    );
    assert_eq!(
        pick_range(&levels, &busy, 2, Some(b"d"), Some(b"w"), &options),
        ManualPick::Empty
    );
    // Level 0 into an empty level 1 is bottommost here only when nothing deeper overlaps.
    let lone = tree(vec![vec![t(1, MB, "a", "b")]]);
    let task = pick_range(&lone, &busy, 0, None, None, &options)
        .task()
        .unwrap();
    assert!(
        task.bottommost && !task.is_trivial_move,
        "a manual bottommost task rewrites"
    );
}

#[test]
fn apply_refuses_stale_tasks_and_overlapping_outputs() {
    let levels = tree(vec![
        (1..=4).map(|i| t(i, MB, "c", "d")).collect(),
        vec![t(10, MB, "a", "b"), t(11, MB, "x", "y")],
    ]);
    let task = pick(&levels, &BusySet::new(), &small()).unwrap();
    assert_eq!(
        task.input_ids(),
        vec![1, 2, 3, 4],
        "level 0 in its order, newest first"
    );
    let after = apply(&levels, &task, &[t(5, 3 * MB, "c", "d")]).unwrap();
    assert!(after.level(0).is_empty());
    assert_eq!(ids(after.level(1)), vec![10, 5, 11]);
    assert!(
        matches!(apply(&after, &task, &[]), Err(Error::InvalidTask { .. })),
        "stale"
    );
    assert!(
        apply(&levels, &task, &[t(5, MB, "b", "d")]).is_err(),
        "overlaps table 10"
    );
    assert!(apply(&levels, &task, &[]).is_ok(), "everything was deleted");
}

#[test]
fn write_pressure_slows_then_stops_on_level0_count() {
    let options = small();
    let with_l0 = |n: u64| tree(vec![(1..=n).map(|i| t(i, 1000, "a", "b")).collect()]);
    assert_eq!(write_pressure(&with_l0(19), &options), WritePressure::None);
    assert_eq!(
        write_pressure(&with_l0(20), &options),
        WritePressure::Slowdown { delay_micros: 1000 }
    );
    let WritePressure::Slowdown { delay_micros } = write_pressure(&with_l0(35), &options) else {
        panic!("35 files slow down");
    };
    assert!(delay_micros > 1000 && delay_micros < 4000, "{delay_micros}");
    assert_eq!(write_pressure(&with_l0(36), &options), WritePressure::Stop);
}

#[test]
fn debt_counts_level0_and_the_excess_of_each_level() {
    let options = small();
    assert_eq!(compaction_debt(&tree(vec![]), &options), 0);
    let l0 = tree(vec![
        (1..=4).map(|i| t(i, MB, "a", "b")).collect(),
        vec![t(10, 5 * MB, "a", "z")],
    ]);
    assert_eq!(
        compaction_debt(&l0, &options),
        9 * MB,
        "level 0 plus level 1"
    );
    // Level 1 holds 20 MiB against 10: 10 MiB go down into 40 MiB, fan-out 40/20 + 1 = 3.
    let l1 = tree(vec![
        vec![],
        vec![t(10, 20 * MB, "a", "z")],
        vec![t(20, 40 * MB, "a", "z")],
    ]);
    assert_eq!(compaction_debt(&l1, &options), 30 * MB);
    let heavy = CompactionOptions {
        pending_bytes_slowdown: 8 * MB,
        pending_bytes_stop: 30 * MB,
        ..options
    };
    assert_eq!(write_pressure(&l1, &heavy), WritePressure::Stop);
    assert!(matches!(
        write_pressure(&l0, &heavy),
        WritePressure::Slowdown { .. }
    ));
}

#[test]
fn a_few_huge_level0_tables_trigger_by_size() {
    let levels = tree(vec![vec![t(1, 6 * MB, "a", "b"), t(2, 5 * MB, "c", "d")]]);
    let task = pick(&levels, &BusySet::new(), &small()).unwrap();
    assert_eq!(task.level, 0);
    assert!((task.score - 1.1).abs() < 1e-9, "{}", task.score);
    assert_eq!(
        task.input_ids(),
        vec![2],
        "the oldest table's closure, which is itself"
    );
}

fn dynamic() -> CompactionOptions {
    CompactionOptions {
        dynamic_level_bytes: true,
        ..small()
    }
}

#[test]
fn dynamic_targets_send_level0_to_the_base_level() {
    let options = dynamic();
    let l0: Vec<TableInfo> = (1..=4).map(|i| t(i, MB, "c", "d")).collect();
    // An empty tree: straight to the deepest level, a merge there is bottommost.
    let empty = tree(vec![l0.clone()]);
    let task = pick(&empty, &BusySet::new(), &options).unwrap();
    assert_eq!((task.output_level, task.bottommost), (3, true));
    // 100 MiB at the bottom: level 2's target is 10 MiB; level 1's would be 1 MiB, under
    // level1_size_bytes_target, so level 2 is the base.
    let grown = tree(vec![
        l0.clone(),
        vec![],
        vec![],
        vec![t(30, 100 * MB, "a", "z")],
    ]);
    let targets = compaction::level_targets(&grown, &options);
    assert_eq!(targets.base_level, 2);
    assert_eq!(targets.target_bytes[2], 10 * MB);
    // At 500 MiB, level 2 would need 50 MiB: level 1 becomes the base.
    let big = tree(vec![
        vec![],
        vec![],
        vec![],
        vec![t(30, 500 * MB, "a", "z")],
    ]);
    assert_eq!(compaction::level_targets(&big, &options).base_level, 1);
    let task = pick(&grown, &BusySet::new(), &options).unwrap();
    assert_eq!((task.level, task.output_level), (0, 2));
    assert!(!task.bottommost);
    assert_eq!(ids(&task.grandparents), vec![30]);
    let manual = pick_range(&grown, &BusySet::new(), 0, None, None, &options)
        .task()
        .unwrap();
    assert_eq!(manual.output_level, 2);
}

#[test]
fn dynamic_targets_move_stranded_data_down() {
    // The tree shrank: level 1 holds data though the base level is 1 only while it does; a
    // level above the base would score at once.
    let options = dynamic();
    let levels = tree(vec![
        vec![],
        vec![],
        vec![t(20, 11 * MB, "a", "m")],
        vec![t(30, 20 * MB, "a", "z")],
    ]);
    let targets = compaction::level_targets(&levels, &options);
    assert_eq!(targets.base_level, 2);
    let task = pick(&levels, &BusySet::new(), &options).unwrap();
    assert_eq!((task.level, task.output_level), (2, 3));
}
