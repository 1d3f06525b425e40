//! Compaction in the engine: bounded space under overwrites, tombstones compacted away, write
//! amplification in stats, snapshots and iterators unchanged by compactions running under
//! them, flow control counted.
//!
//! `KV_SPACE_KEYS` (default 100,000, the size) and `KV_SPACE_ROUNDS` (default 20) size
//! the space test. Values are 100 random bytes, so lz4 cannot flatter the result: the live
//! data is counted uncompressed and the values do not compress.

use common::MemFs;
use kvstore::{CompactionOptions, Db, FsyncPolicy, Snapshot};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tests::{dir_size, env_or, table_files_on_disk, Rng};

fn key(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

fn tiny(fs: &MemFs, threads: usize) -> Db {
    Db::builder("/db")
        .memtable_size_bytes(4 << 10)
        .fsync_policy(FsyncPolicy::Os)
        .compaction_threads(threads)
        .compaction_options(CompactionOptions {
            target_file_size_bytes: 8 << 10,
            max_grandparent_overlap_bytes: 32 << 10,
            level_size_ratio: 4,
            ..CompactionOptions::default()
        })
        .fs(fs.shared())
        .open()
        .unwrap()
}

#[test]
fn overwrites_compact_to_at_most_one_and_a_half_times_the_live_data_and_deletes_to_nothing() {
    let keys = env_or("KV_SPACE_KEYS", 100_000);
    let rounds = env_or("KV_SPACE_ROUNDS", 20);
    let fs = MemFs::new();
    let db = Db::builder("/db")
        .memtable_size_bytes(1 << 20)
        .fsync_policy(FsyncPolicy::Os)
        .fs(fs.shared())
        .open()
        .unwrap();
    let mut rng = Rng::new(42);
    for _ in 0..rounds {
        for i in 0..keys {
            db.put(key(i), rng.bytes(100)).unwrap();
        }
    }
    db.compact().unwrap();
    let live = keys * (key(0).len() as u64 + 100);
    let disk = dir_size(fs.shared().as_ref(), Path::new("/db"));
    let stats = db.stats();
    if std::env::var("KV_DEBUG").is_ok() {
        let f = fs.shared();
        for d in ["/db", "/db/wal"] {
            for n in f.list_dir(Path::new(d)).unwrap() {
                let p = Path::new(d).join(&n);
                println!("{} {}", p.display(), f.file_size(&p).unwrap_or(0));
            }
        }
    }
    println!(
        "{keys} keys x {rounds} rounds: disk {disk} bytes, live {live} bytes ({:.3}x); \
         write amplification {:.2} (tables only {:.2}); {} compactions, {} trivial moves; \
         levels {:?}",
        disk as f64 / live as f64,
        stats.write_amplification(),
        stats.table_write_amplification(),
        stats.compactions,
        stats.trivial_moves,
        stats.levels
    );
    assert!(
        disk as f64 <= 1.5 * live as f64,
        "disk {disk} bytes exceeds 1.5x the live data ({live} bytes)"
    );
    assert_eq!(
        table_files_on_disk(fs.shared().as_ref(), Path::new("/db")),
        stats.table_files(),
        "obsolete tables are deleted once compaction is done"
    );
    assert!(stats.compactions > 0);
    assert!(stats.compaction_bytes_written > 0 && stats.compaction_bytes_read > 0);
    assert!(
        stats.table_write_amplification() > 1.0,
        "flush + compaction bytes exceed the user bytes"
    );
    assert!(stats.write_amplification() > stats.table_write_amplification());
    assert_eq!(
        stats.compaction_failures, 0,
        "{:?}",
        stats.last_compaction_error
    );
    // Point reads after the compaction see the last round.
    assert_eq!(db.get(key(keys / 2)).unwrap().map(|v| v.len()), Some(100));

    for i in 0..keys {
        db.delete(key(i)).unwrap();
    }
    db.compact().unwrap();
    let stats = db.stats();
    assert_eq!(
        stats.live_table_bytes(),
        0,
        "every key is deleted: no table remains ({:?})",
        stats.levels
    );
    let disk = dir_size(fs.shared().as_ref(), Path::new("/db"));
    println!("after deleting every key: disk {disk} bytes");
    assert!(
        disk < 64 << 10,
        "{disk} bytes left after deleting everything"
    );
    assert_eq!(db.iter().count(), 0);
    drop(db);
    assert_eq!(
        table_files_on_disk(fs.shared().as_ref(), Path::new("/db")),
        0
    );
}

#[test]
fn background_compaction_keeps_every_key_and_snapshot_through_reopen() {
    let fs = MemFs::new();
    let db = tiny(&fs, 2);
    let mut rng = Rng::new(7);
    let mut model = std::collections::BTreeMap::new();
    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;
    let mut snaps: Vec<(Snapshot, Pairs)> = Vec::new();
    for step in 0..6000u64 {
        let k = key(rng.below(800));
        if rng.chance(15) {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            let n = 20 + rng.below(60) as usize;
            let v = rng.bytes(n);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        if step % 1000 == 999 {
            let snap = db.snapshot();
            snaps.push((snap, model.clone().into_iter().collect()));
        }
    }
    // Let the background threads catch up on whatever is due, then check every snapshot.
    db.compact_range(key(100)..key(300)).unwrap();
    for (snap, want) in &snaps {
        let got: Vec<_> = snap.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(&got, want, "snapshot at {}", snap.seq());
        for (k, v) in want.iter().step_by(37) {
            assert_eq!(snap.get(k).unwrap().as_ref(), Some(v));
        }
    }
    let stats = db.stats();
    println!("{:?}", stats.levels);
    assert!(stats.compactions + stats.trivial_moves > 0);
    assert!(
        stats.levels[1..].iter().any(|l| l.files > 0),
        "compaction moved data below level 0: {:?}",
        stats.levels
    );
    drop(snaps);
    drop(db);
    let db = tiny(&fs, 0);
    let got: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
    let want: Vec<_> = model.into_iter().collect();
    assert_eq!(got, want);
    assert_eq!(
        table_files_on_disk(fs.shared().as_ref(), Path::new("/db")),
        db.stats().table_files(),
        "no orphan table after a clean close and reopen"
    );
}

/// Round `r` sets every key to `r`, in key order, so any consistent view holds values that
/// never increase along the keys and span at most two adjacent rounds.
fn check_consistent(view: &[(Vec<u8>, Vec<u8>)], keys: u64) {
    assert_eq!(view.len() as u64, keys, "every key is always present");
    let rounds: Vec<u64> = view
        .iter()
        .map(|(_, v)| String::from_utf8_lossy(&v[..8]).parse().unwrap())
        .collect();
    for pair in rounds.windows(2) {
        assert!(
            pair[0] >= pair[1] && pair[0] - pair[1] <= 1,
            "not a snapshot: {rounds:?}"
        );
    }
}

#[test]
fn readers_and_iterators_see_exactly_their_snapshot_while_compactions_run() {
    let keys = 300u64;
    let fs = MemFs::new();
    let db = tiny(&fs, 1);
    let value = |r: u64| format!("{r:08}{}", "v".repeat(40)).into_bytes();
    for i in 0..keys {
        db.put(key(i), value(0)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut r = 1;
            while !stop.load(Ordering::Relaxed) && r < 200 {
                for i in 0..keys {
                    db.put(key(i), value(r)).unwrap();
                }
                r += 1;
            }
        })
    };
    let compactor = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 30 {
                db.compact_range(key(n * 7 % keys)..key((n * 7 + 90) % keys + 1))
                    .unwrap();
                n += 1;
            }
        })
    };
    let mut rng = Rng::new(3);
    for _ in 0..40 {
        // A snapshot read twice, with compactions in between, reads the same thing.
        let snap = db.snapshot();
        let first: Vec<_> = snap.iter().collect::<Result<_, _>>().unwrap();
        check_consistent(&first, keys);
        // An iterator half read, then a forced compaction, then the rest.
        let mut it = snap.iter();
        let mut half: Vec<_> = (0..keys / 2).map(|_| it.next().unwrap().unwrap()).collect();
        if rng.chance(50) {
            db.compact_range(key(0)..key(keys)).unwrap();
        }
        half.extend(it.map(Result::unwrap));
        assert_eq!(half, first, "an iterator across a compaction");
        let again: Vec<_> = snap.iter().rev().collect::<Result<_, _>>().unwrap();
        let again: Vec<_> = again.into_iter().rev().collect();
        assert_eq!(again, first, "a snapshot re-read after compactions");
        for _ in 0..10 {
            let i = rng.below(keys) as usize;
            assert_eq!(snap.get(&first[i].0).unwrap().as_ref(), Some(&first[i].1));
        }
        // Plain reads (no snapshot) are consistent views too.
        let live: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
        check_consistent(&live, keys);
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    compactor.join().unwrap();
    let stats = db.stats();
    assert!(stats.compactions > 0, "{stats:?}");
    assert_eq!(
        stats.compaction_failures, 0,
        "{:?}",
        stats.last_compaction_error
    );
}

#[test]
fn flow_control_slows_and_stops_writers_and_counts_it() {
    let fs = MemFs::new();
    let db = Db::builder("/db")
        .memtable_size_bytes(2 << 10)
        .fsync_policy(FsyncPolicy::Os)
        .compaction_options(CompactionOptions {
            level0_file_trigger: 2,
            level0_slowdown_files: 2,
            level0_stop_files: 3,
            slowdown_delay_micros: 50,
            ..CompactionOptions::default()
        })
        .fs(fs.shared())
        .open()
        .unwrap();
    let mut rng = Rng::new(9);
    for i in 0..20_000u64 {
        db.put(key(i % 2000), rng.bytes(50)).unwrap();
    }
    let stats = db.stats();
    println!(
        "slowdowns {} ({} µs), stops {} ({} µs), L0 files {}",
        stats.slowdowns,
        stats.slowdown_micros,
        stats.stops,
        stats.stop_micros,
        stats.levels[0].files
    );
    assert!(stats.slowdowns + stats.stops > 0, "no flow control at all");
    assert!(stats.slowdowns == 0 || stats.slowdown_micros >= 50 * stats.slowdowns);
    assert_eq!(db.iter().count(), 2000);
}

#[test]
fn no_compaction_threads_means_manual_compaction_only() {
    let fs = MemFs::new();
    let db = tiny(&fs, 0);
    for i in 0..3000u64 {
        db.put(key(i % 500), format!("{i:040}")).unwrap();
    }
    db.flush().unwrap();
    let before = db.stats();
    assert_eq!(before.compactions + before.trivial_moves, 0);
    assert!(before.levels[0].files > 4);
    db.compact().unwrap();
    let after = db.stats();
    assert_eq!(after.levels[0].files, 0);
    assert!(after.pending_compaction_bytes == 0, "{after:?}");
    for i in 2500..3000u64 {
        assert_eq!(
            db.get(key(i % 500)).unwrap(),
            Some(format!("{i:040}").into_bytes())
        );
    }
}

#[test]
fn range_reads_cross_the_tables_of_a_deep_level_both_ways() {
    let fs = MemFs::new();
    let db = tiny(&fs, 0);
    let keys = 3000u64;
    for i in 0..keys {
        db.put(key(i * 2), format!("{i:030}")).unwrap();
    }
    db.compact().unwrap();
    let stats = db.stats();
    let deepest = stats.levels.iter().rev().find(|l| l.files > 0).unwrap();
    assert!(deepest.files >= 5, "{:?}", stats.levels);
    assert_eq!(stats.levels[0].files, 0);
    let mut rng = Rng::new(5);
    for _ in 0..50 {
        // Odd bounds fall between keys, and so often between tables.
        let (a, b) = (rng.below(keys * 2 + 2), rng.below(keys * 2 + 2));
        let (lo, hi) = (a.min(b), a.max(b));
        let want: Vec<u64> = (lo.div_ceil(2)..hi.div_ceil(2)).collect();
        let got: Vec<u64> = db
            .range(key(lo)..key(hi))
            .map(|r| {
                let v = r.unwrap().1;
                String::from_utf8(v).unwrap().parse().unwrap()
            })
            .collect();
        assert_eq!(got, want, "{lo}..{hi}");
        let back: Vec<u64> = db
            .range(key(lo)..key(hi))
            .rev()
            .map(|r| String::from_utf8(r.unwrap().1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(back, want.iter().rev().copied().collect::<Vec<_>>());
    }
}

#[test]
fn a_failed_job_changes_nothing_and_a_failed_manifest_write_poisons_until_reopen() {
    use common::{FaultKind, FaultyFs, Op};
    use kvstore::Error;
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.shared());
    let open = |fs: Arc<dyn common::FileSystem>| {
        Db::builder("/db")
            .memtable_size_bytes(4 << 10)
            .compaction_threads(0)
            .max_manifest_bytes(1024) // every edit rolls the manifest (a CURRENT rename)
            .compaction_options(CompactionOptions {
                target_file_size_bytes: 8 << 10,
                ..CompactionOptions::default()
            })
            .fs(fs)
            .open()
            .unwrap()
    };
    let db = open(faulty.shared());
    let mut model = Model::new();
    type Model = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;
    fn put(db: &Db, model: &mut Model, i: u64) {
        let (k, v) = (key(i % 700), format!("value {i:030}").into_bytes());
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    for i in 0..3000 {
        put(&db, &mut model, i);
    }
    db.flush().unwrap();
    let scan = |db: &Db| db.iter().collect::<Result<Vec<_>, _>>().unwrap();
    let want: Vec<_> = model.clone().into_iter().collect();
    assert_eq!(scan(&db), want);

    // The first output table cannot be created: the job fails and changes nothing.
    faulty.fail(Op::Create, 0, FaultKind::Error);
    let err = db.compact().unwrap_err();
    assert!(!matches!(err, Error::Poisoned(_)), "{err}");
    let stats = db.stats();
    assert_eq!(stats.compaction_failures, 1);
    assert!(stats.last_compaction_error.is_some());
    assert!(stats.levels[0].files > 0, "level 0 is untouched");
    assert_eq!(scan(&db), want);
    assert_eq!(
        table_files_on_disk(mem.shared().as_ref(), Path::new("/db")),
        stats.table_files()
    );
    // The engine goes on: writes, then a compaction that succeeds.
    for i in 3000..3500 {
        put(&db, &mut model, i);
    }
    db.compact().unwrap();
    let want: Vec<_> = model.clone().into_iter().collect();
    assert_eq!(scan(&db), want);
    assert_eq!(db.stats().levels[0].files, 0);

    // The manifest update of the next compaction fails: the engine is poisoned.
    for i in 3500..5000 {
        put(&db, &mut model, i);
    }
    db.flush().unwrap();
    faulty.fail(Op::Rename, 0, FaultKind::Error);
    assert!(matches!(db.compact(), Err(Error::Poisoned(_))));
    assert!(matches!(db.put(b"x", b"y"), Err(Error::Poisoned(_))));
    drop(db);
    faulty.heal();
    // Reopening reads what the manifest really says: every acknowledged write, no orphan.
    let db = open(mem.shared());
    let want: Vec<_> = model.into_iter().collect();
    assert_eq!(scan(&db), want);
    assert_eq!(
        table_files_on_disk(mem.shared().as_ref(), Path::new("/db")),
        db.stats().table_files()
    );
    db.compact().unwrap();
    assert_eq!(scan(&db), want);
}

#[test]
fn power_loss_at_any_step_of_a_compaction_loses_nothing_and_leaves_no_orphan() {
    use common::{FaultKind, FaultyFs, Op};
    let ops = [
        Op::Create,
        Op::Append,
        Op::SyncData,
        Op::SyncDir,
        Op::Rename,
        Op::Remove,
    ];
    let mut outcomes = (0, 0);
    for op in ops {
        for skip in [0, 1, 3] {
            let mem = MemFs::new();
            let faulty = FaultyFs::new(mem.shared());
            let open = |fs: Arc<dyn common::FileSystem>| {
                Db::builder("/db")
                    .memtable_size_bytes(4 << 10)
                    .compaction_threads(0)
                    .max_manifest_bytes(1024)
                    .compaction_options(CompactionOptions {
                        target_file_size_bytes: 4 << 10,
                        ..CompactionOptions::default()
                    })
                    .fs(fs)
                    .open()
                    .unwrap()
            };
            let db = open(faulty.shared());
            let mut model = std::collections::BTreeMap::new();
            for i in 0..1500u64 {
                let (k, v) = (key(i % 400), format!("v{i:040}").into_bytes());
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            db.flush().unwrap();
            faulty.fail(op, skip, FaultKind::Error);
            match db.compact() {
                Ok(()) => outcomes.0 += 1,
                Err(_) => outcomes.1 += 1,
            }
            faulty.freeze();
            drop(db);
            let crashed = mem.crash();
            let db = open(crashed.shared());
            let got: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
            let want: Vec<_> = model.into_iter().collect();
            assert_eq!(got, want, "{op:?}/{skip}: acknowledged writes lost");
            assert_eq!(
                table_files_on_disk(crashed.shared().as_ref(), Path::new("/db")),
                db.stats().table_files(),
                "{op:?}/{skip}: orphan tables after reopening"
            );
        }
    }
    assert!(
        outcomes.1 > 0,
        "some faults hit the compaction: {outcomes:?}"
    );
}
