//! The merge job on MemFs tables.

mod support;

use common::{FaultKind, FaultyFs, Op, ValueKind, MAX_SEQNO};
use compaction::{CompactionOptions, Error, TableInfo};
use std::path::Path;
use support::*;

fn seqs(entries: &[Entry]) -> Vec<(String, u64)> {
    entries
        .iter()
        .map(|e| (String::from_utf8(e.0.clone()).unwrap(), e.1))
        .collect()
}

fn s(k: &str, seq: u64) -> (String, u64) {
    (k.to_string(), seq)
}

#[test]
fn shadowed_versions_are_dropped() {
    let mut b = Bench::new();
    let newer = b.table(vec![put("a", 5, "a5"), put("b", 6, "b6")]);
    let older = b.table(vec![
        put("a", 3, "a3"),
        put("a", 2, "a2"),
        put("c", 1, "c1"),
    ]);
    let out = b
        .merge(&[newer, older], &[], false, &CompactionOptions::default())
        .unwrap();
    assert_eq!(out.tables.len(), 1);
    let got = b.read_outputs(&out);
    assert_eq!(seqs(&got), vec![s("a", 5), s("b", 6), s("c", 1)]);
    assert_eq!(got[0].3, b"a5");
    assert_eq!(out.stats.entries_read, 5);
    assert_eq!(out.stats.entries_written, 3);
    assert_eq!(out.stats.shadowed_dropped, 2);
    assert!(out.stats.bytes_read > 0 && out.stats.bytes_written > 0);
    assert_eq!(
        out.stats.bytes_written,
        out.tables[0].properties.file_size_bytes
    );
    let info = out.tables[0].table_info();
    assert_eq!(
        (info.smallest.as_slice(), info.largest.as_slice()),
        (&b"a"[..], &b"c"[..])
    );
}

#[test]
fn versions_visible_to_snapshots_are_kept() {
    let mut b = Bench::new();
    let t = b.table(vec![
        put("a", 9, "a9"),
        put("a", 7, "a7"),
        put("a", 5, "a5"),
        put("a", 3, "a3"),
        put("a", 1, "a1"),
    ]);
    let out = b
        .merge(&[t], &[4, 7], false, &CompactionOptions::default())
        .unwrap();
    let got = b.read_outputs(&out);
    assert_eq!(seqs(&got), vec![s("a", 9), s("a", 7), s("a", 3)]);
    assert_eq!(out.stats.shadowed_dropped, 2);
}

#[test]
fn tombstones_stay_above_deeper_data_and_go_at_the_bottom() {
    let mut b = Bench::new();
    let newer = b.table(vec![del("a", 8), del("b", 9), put("c", 10, "c")]);
    let older = b.table(vec![put("a", 2, "old"), put("c", 3, "c3")]);
    let inputs = [newer, older];
    let options = CompactionOptions::default();

    let out = b.merge(&inputs, &[], false, &options).unwrap();
    let got = b.read_outputs(&out);
    assert_eq!(seqs(&got), vec![s("a", 8), s("b", 9), s("c", 10)]);
    assert_eq!(got[0].2, ValueKind::Delete);
    assert_eq!(out.stats.tombstones_dropped, 0);

    let out = b.merge(&inputs, &[], true, &options).unwrap();
    assert_eq!(seqs(&b.read_outputs(&out)), vec![s("c", 10)]);
    assert_eq!(out.stats.tombstones_dropped, 2);

    // Snapshot 5 still sees a@2, so a's tombstone must stay to hide it from newer readers.
    let out = b.merge(&inputs, &[5], true, &options).unwrap();
    assert_eq!(
        seqs(&b.read_outputs(&out)),
        vec![s("a", 8), s("a", 2), s("c", 10), s("c", 3)]
    );
    assert_eq!(
        out.stats.tombstones_dropped, 1,
        "b's tombstone hides nothing"
    );
}

#[test]
fn everything_deleted_at_the_bottom_leaves_no_table() {
    let mut b = Bench::new();
    let newer = b.table(vec![del("a", 8), del("b", 9)]);
    let older = b.table(vec![put("a", 2, "x"), put("b", 3, "y")]);
    let out = b
        .merge(&[newer, older], &[], true, &CompactionOptions::default())
        .unwrap();
    assert!(out.tables.is_empty());
    assert_eq!(out.stats.bytes_written, 0);
    assert_eq!(
        b.fs.list_dir(Path::new("/db")).unwrap().len(),
        2,
        "only the inputs"
    );
}

#[test]
fn outputs_split_on_user_key_boundaries_and_are_sorted_and_disjoint() {
    let mut b = Bench::new();
    let mut entries = Vec::new();
    let mut seq = 1;
    for k in 0..200 {
        for _ in 0..(1 + k % 5) {
            entries.push(put(&format!("key{k:04}"), seq, &"v".repeat(40)));
            seq += 1;
        }
    }
    let split = entries.len() / 2;
    let t1 = b.table(entries[..split].to_vec());
    let t2 = b.table(entries[split..].to_vec());
    // Every version stays visible to some snapshot.
    let snapshots: Vec<u64> = (1..seq).collect();
    let options = CompactionOptions {
        target_file_size_bytes: 2048,
        ..Default::default()
    };
    let out = b.merge(&[t1, t2], &snapshots, false, &options).unwrap();
    assert!(out.tables.len() >= 5, "{} outputs", out.tables.len());
    for pair in out.tables.windows(2) {
        let (a, c) = (&pair[0].properties, &pair[1].properties);
        assert!(
            a.largest.user_key < c.smallest.user_key,
            "a user key spans two outputs: {:?} / {:?}",
            a.largest,
            c.smallest
        );
    }
    for t in &out.tables {
        // A table is cut at the first key boundary past the target, so it exceeds the target
        // by at most one key's versions (5 x ~50 bytes) plus block overhead.
        assert!(
            t.properties.file_size_bytes < 2048 + 1024,
            "{}",
            t.properties.file_size_bytes
        );
    }
    let got = b.read_outputs(&out);
    assert_eq!(got, {
        let mut sorted = entries.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        sorted
    });
    let infos: Vec<TableInfo> = out.tables.iter().map(|t| t.table_info()).collect();
    let mut levels = vec![Vec::new(); 3];
    levels[1] = infos;
    compaction::Levels::new(levels).expect("outputs form a valid level");
}

#[test]
fn outputs_are_cut_where_they_would_overlap_too_much_of_the_level_below() {
    let mut b = Bench::new();
    let entries: Vec<Entry> = (0..100)
        .map(|k| put(&format!("k{k:03}"), k + 1, "v"))
        .collect();
    let t = b.table(entries);
    // Ten grandparent tables of 100 bytes each, one per ten keys.
    let grandparents: Vec<TableInfo> = (0..10)
        .map(|g| {
            TableInfo::new(
                1000 + g,
                100,
                format!("k{:03}", g * 10).into_bytes(),
                format!("k{:03}", g * 10 + 9).into_bytes(),
            )
        })
        .collect();
    let task = task_for(std::slice::from_ref(&t), false, grandparents);
    let options = CompactionOptions {
        max_grandparent_overlap_bytes: 250,
        ..Default::default()
    };
    let out = b.run(&task, &[t], &[], &options).unwrap();
    // A cut happens once more than 250 bytes (three whole grandparents) lie behind the table.
    assert_eq!(
        out.tables.len(),
        4,
        "{:?}",
        out.tables
            .iter()
            .map(|t| t.table_info())
            .collect::<Vec<_>>()
    );
    assert_eq!(out.tables[0].properties.largest.user_key, b"k029");
    assert_eq!(out.tables[1].properties.largest.user_key, b"k059");
    assert_eq!(out.tables[2].properties.largest.user_key, b"k089");
}

#[test]
fn a_failed_write_removes_every_output() {
    let mut b = Bench::new();
    let entries: Vec<Entry> = (0..300)
        .map(|k| put(&format!("k{k:03}"), k + 1, &"v".repeat(30)))
        .collect();
    let t = b.table(entries);
    let faulty = FaultyFs::new(b.fs.clone());
    // The second output's fsync fails: the first output is finished by then.
    faulty.fail(Op::SyncData, 1, FaultKind::Error);
    b.fs = faulty.shared();
    let options = CompactionOptions {
        target_file_size_bytes: 1024,
        ..Default::default()
    };
    let err = b.merge(&[t], &[], false, &options).unwrap_err();
    assert!(matches!(err, Error::Table(_)), "{err}");
    assert!(faulty.count(Op::Create) >= 2);
    assert_eq!(
        b.fs.list_dir(Path::new("/db")).unwrap(),
        vec!["000001.sst".to_string()],
        "only the input is left"
    );
}

#[test]
fn the_job_refuses_trivial_moves_and_wrong_inputs() {
    let mut b = Bench::new();
    let t1 = b.table(vec![put("a", 1, "x")]);
    let t2 = b.table(vec![put("b", 2, "y")]);
    let options = CompactionOptions::default();
    let mut task = task_for(std::slice::from_ref(&t1), true, Vec::new());
    let err = b.run(&task, &[t2], &[], &options).unwrap_err();
    assert!(matches!(err, Error::InvalidTask { .. }), "{err}");
    task.is_trivial_move = true;
    let err = b.run(&task, &[t1], &[MAX_SEQNO], &options).unwrap_err();
    assert!(matches!(err, Error::InvalidTask { .. }), "{err}");
}

#[test]
fn a_cancelled_job_stops_and_leaves_nothing() {
    let mut b = Bench::new();
    let t = b.table(
        (0..100)
            .map(|k| put(&format!("k{k:03}"), k + 1, "v"))
            .collect(),
    );
    b.cancel = Some(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
        true,
    )));
    let err = b
        .merge(
            std::slice::from_ref(&t),
            &[],
            false,
            &CompactionOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(b.fs.list_dir(Path::new("/db")).unwrap().len(), 1);
    b.cancel = Some(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
        false,
    )));
    let out = b
        .merge(&[t], &[], false, &CompactionOptions::default())
        .unwrap();
    assert_eq!(out.stats.entries_written, 100);
}

#[test]
fn the_same_internal_key_in_two_inputs_is_an_error_naming_the_file() {
    let mut b = Bench::new();
    let t1 = b.table(vec![put("a", 5, "x"), put("b", 6, "y")]);
    let t2 = b.table(vec![put("b", 6, "y")]);
    let err = b
        .merge(&[t1, t2], &[], false, &CompactionOptions::default())
        .unwrap_err();
    match &err {
        Error::InputOutOfOrder { file, key, .. } => {
            assert_eq!(file, &Bench::path(2));
            assert_eq!((key.user_key.as_slice(), key.seq), (&b"b"[..], 6));
        }
        other => panic!("expected InputOutOfOrder, got {other}"),
    }
    assert!(err.to_string().contains("000002.sst"), "{err}");
    assert_eq!(
        b.fs.list_dir(Path::new("/db")).unwrap().len(),
        2,
        "no output is left"
    );
}

#[test]
fn pick_run_apply_is_the_engine_loop() {
    let mut b = Bench::new();
    let options = CompactionOptions {
        level1_size_bytes_target: 1 << 20,
        target_file_size_bytes: 600,
        max_levels: 4,
        ..Default::default()
    };
    let mut tables = std::collections::HashMap::new();
    let mut levels = compaction::Levels::empty(options.max_levels);
    let mut distinct = std::collections::BTreeSet::new();
    let mut seq = 0u64;
    let mut newest_seq = std::collections::BTreeMap::new();
    for flush in 0..4u64 {
        let entries: Vec<Entry> = (0..60u64)
            .map(|k| {
                seq += 1;
                let value = format!("{:x}", seq.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                put(&format!("k{:03}", (k * 37 + flush * 11) % 100), seq, &value)
            })
            .collect();
        distinct.extend(entries.iter().map(|e| e.0.clone()));
        for e in &entries {
            newest_seq.insert(e.0.clone(), e.1);
        }
        let t = b.table(entries);
        levels.push_level0(info(&t)).unwrap();
        tables.insert(t.file_id(), t);
    }
    let mut busy = compaction::BusySet::new();
    let task = compaction::pick(&levels, &busy, &options).expect("four level-0 tables");
    busy.insert(&task).unwrap();
    let inputs: Vec<_> = task
        .input_ids()
        .iter()
        .map(|id| tables[id].clone())
        .collect();
    let out = b.run(&task, &inputs, &[], &options).unwrap();
    assert!(out.tables.len() > 1, "{:?}", out.stats);
    let infos: Vec<TableInfo> = out.tables.iter().map(|t| t.table_info()).collect();
    let levels = compaction::apply(&levels, &task, &infos).unwrap();
    busy.remove(&task);
    assert!(levels.level(0).is_empty());
    assert_eq!(levels.level(task.output_level).len(), out.tables.len());
    assert_eq!(out.stats.entries_read, 240);
    assert_eq!(
        out.stats.entries_written,
        distinct.len() as u64,
        "each key once"
    );
    let got: std::collections::BTreeMap<Vec<u8>, u64> = b
        .read_outputs(&out)
        .into_iter()
        .map(|e| (e.0, e.1))
        .collect();
    assert_eq!(got, newest_seq, "each key's newest version");
    assert!(compaction::pick(&levels, &busy, &options).is_none());
}
