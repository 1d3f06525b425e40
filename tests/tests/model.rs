//! The model test: thousands of random operations against the engine and a `BTreeMap`, with a
//! tiny memtable so flushes, many level-0 files and WAL truncation happen all the time, plus
//! snapshots, reopens and simulated power losses (MemFs crash; under `FsyncPolicy::Always`
//! every acknowledged write must survive, so the model still holds). Compaction runs in the
//! background with tiny level targets and output tables, and random manual compactions
//! (whole database or a random range) are forced between operations, while snapshots taken
//! earlier must keep reading exactly what they saw.
//!
//! `KV_MODEL_OPS` sets the number of operations (default 3000), `KV_MODEL_SEED` the seed; the
//! seed is printed, and named in every assertion.

use common::MemFs;
use kvstore::{CompactionOptions, Db, FsyncPolicy};
use std::collections::BTreeMap;
use std::ops::Bound;
use tests::{env_or, seed_from_env, Rng};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn open(fs: &MemFs) -> Db {
    Db::builder("/db")
        .memtable_size_bytes(1024)
        .max_immutable_memtables(2)
        .block_cache_bytes(64 << 10)
        .max_manifest_bytes(4096)
        .fsync_policy(FsyncPolicy::Always)
        .compaction_options(CompactionOptions {
            target_file_size_bytes: 1024,
            max_grandparent_overlap_bytes: 4096,
            level_size_ratio: 2,
            ..CompactionOptions::default()
        })
        .fs(fs.shared())
        .open()
        .expect("open")
}

fn key(rng: &mut Rng) -> Vec<u8> {
    // Two-level key space so prefixes select something: "a3/17".
    let a = rng.below(6);
    let b = rng.below(40);
    format!("{}{}/{:02}", (b'a' + a as u8) as char, rng.below(3), b).into_bytes()
}

fn bound(rng: &mut Rng) -> Bound<Vec<u8>> {
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(key(rng)),
        _ => Bound::Excluded(key(rng)),
    }
}

fn model_range(m: &Model, lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let empty = match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    };
    if empty {
        return Vec::new();
    }
    m.range::<Vec<u8>, _>((lo.clone(), hi.clone()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Reads `it` from both ends at random, as a user may, and returns the items in key order.
fn drain_mixed(rng: &mut Rng, mut it: kvstore::DbIter) -> kvstore::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let (mut front, mut back) = (Vec::new(), Vec::new());
    loop {
        if rng.chance(50) {
            match it.next() {
                None => break,
                Some(r) => front.push(r?),
            }
        } else {
            match it.next_back() {
                None => break,
                Some(r) => back.push(r?),
            }
        }
    }
    back.reverse();
    front.extend(back);
    Ok(front)
}

fn run(seed: u64, ops: u64) {
    let mut rng = Rng::new(seed);
    let mut fs = MemFs::new();
    let mut db = open(&fs);
    let mut model = Model::new();
    let mut snaps: Vec<(kvstore::Snapshot, Model)> = Vec::new();
    let mut flushes = 0;
    let mut compactions = 0;
    let mut compacted = false;
    for step in 0..ops {
        let ctx = format!("seed {seed}, step {step}");
        match rng.below(100) {
            0..=34 => {
                let k = key(&mut rng);
                let n = rng.below(60) as usize;
                let v = rng.bytes(n);
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            35..=44 => {
                let k = key(&mut rng);
                db.delete(&k).unwrap();
                model.remove(&k);
            }
            45..=52 => {
                let mut b = db.batch();
                for _ in 0..1 + rng.below(6) {
                    let k = key(&mut rng);
                    if rng.chance(70) {
                        let n = rng.below(30) as usize;
                        let v = rng.bytes(n);
                        b.put(&k, &v);
                        model.insert(k, v);
                    } else {
                        b.delete(&k);
                        model.remove(&k);
                    }
                }
                b.commit().unwrap();
            }
            53..=66 => {
                let k = key(&mut rng);
                assert_eq!(
                    db.get(&k).unwrap(),
                    model.get(&k).cloned(),
                    "{ctx}: get {k:?}"
                );
            }
            67..=74 => {
                let (lo, hi) = (bound(&mut rng), bound(&mut rng));
                let want = model_range(&model, &lo, &hi);
                let it = db.range((lo.clone(), hi.clone()));
                let got: Vec<_> = if rng.chance(50) {
                    it.collect::<Result<_, _>>().unwrap()
                } else {
                    let mut v: Vec<_> = it.rev().collect::<Result<_, _>>().unwrap();
                    v.reverse();
                    v
                };
                assert_eq!(got, want, "{ctx}: range {lo:?}..{hi:?}");
            }
            75..=77 => {
                let p = format!("{}", (b'a' + rng.below(6) as u8) as char).into_bytes();
                let want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let got: Vec<_> = db.prefix(&p).collect::<Result<_, _>>().unwrap();
                assert_eq!(got, want, "{ctx}: prefix {p:?}");
                let mut back: Vec<_> = db.prefix(&p).rev().collect::<Result<_, _>>().unwrap();
                back.reverse();
                assert_eq!(back, want, "{ctx}: prefix {p:?} reversed");
            }
            78..=79 => {
                let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let got = drain_mixed(&mut rng, db.iter()).unwrap();
                assert_eq!(got, want, "{ctx}: scan from both ends");
            }
            80..=82 => {
                if snaps.len() >= 3 {
                    snaps.remove(rng.below(3) as usize);
                }
                snaps.push((db.snapshot(), model.clone()));
            }
            83..=90 => {
                if let Some((snap, m)) = snaps.get(rng.below(snaps.len().max(1) as u64) as usize) {
                    let k = key(&mut rng);
                    assert_eq!(
                        snap.get(&k).unwrap(),
                        m.get(&k).cloned(),
                        "{ctx}: snapshot get"
                    );
                    let (lo, hi) = (bound(&mut rng), bound(&mut rng));
                    let got: Vec<_> = snap
                        .range((lo.clone(), hi.clone()))
                        .collect::<Result<_, _>>()
                        .unwrap();
                    assert_eq!(got, model_range(m, &lo, &hi), "{ctx}: snapshot range");
                }
            }
            91 => db.flush().unwrap(),
            92..=93 => {
                // An iterator opened before the compaction and read across it still yields
                // exactly the state it was opened at.
                let open_iter = rng.chance(50).then(|| {
                    let mut it = db.iter();
                    let first = it.next().transpose().unwrap();
                    (it, first, model.clone())
                });
                if rng.chance(30) {
                    db.compact().unwrap();
                } else {
                    let (lo, hi) = (bound(&mut rng), bound(&mut rng));
                    db.compact_range((lo, hi)).unwrap();
                }
                compacted = true;
                if let Some((it, first, m)) = open_iter {
                    let mut got: Vec<_> = first.into_iter().collect();
                    got.extend(it.map(Result::unwrap));
                    let want: Vec<_> = m.into_iter().collect();
                    assert_eq!(got, want, "{ctx}: an iterator across a compaction");
                }
            }
            94..=96 => {
                snaps.clear();
                let seq = db.stats().visible_sequence;
                flushes += db.stats().flushes;
                compactions += db.stats().compactions;
                drop(db);
                db = open(&fs);
                assert_eq!(
                    db.stats().visible_sequence,
                    seq,
                    "{ctx}: sequence numbers after reopen"
                );
            }
            _ => {
                // Power loss: only synced bytes and directory entries survive.
                snaps.clear();
                let seq = db.stats().visible_sequence;
                flushes += db.stats().flushes;
                compactions += db.stats().compactions;
                fs = fs.crash();
                drop(db);
                db = open(&fs);
                assert_eq!(
                    db.stats().visible_sequence,
                    seq,
                    "{ctx}: sequence numbers after crash"
                );
            }
        }
    }
    let all: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(all, want, "seed {seed}: final scan");
    let stats = db.stats();
    flushes += stats.flushes;
    compactions += stats.compactions;
    println!(
        "{flushes} flushes, {compactions} compactions, {} tables at the end ({:?})",
        stats.table_files(),
        stats.levels
    );
    assert_eq!(
        stats.compaction_failures, 0,
        "seed {seed}: {:?}",
        stats.last_compaction_error
    );
    if ops >= 1000 {
        assert!(compacted, "seed {seed}: no manual compaction was forced");
        assert!(compactions > 0, "seed {seed}: nothing was ever compacted");
    }
    assert!(
        flushes >= ops / 200,
        "seed {seed}: the tiny memtable flushed only {flushes} times"
    );
    assert!(stats.table_files() > 0, "seed {seed}: no tables");
    // Once everything is flushed the WAL holds only the active segment (and perhaps the one
    // a rotation just opened): every older segment was deleted.
    db.flush().unwrap();
    let segments = db.stats().wal_segments;
    assert!(
        segments <= 2,
        "seed {seed}: {segments} WAL segments after a flush"
    );
}

#[test]
fn random_operations_match_a_btreemap() {
    let seed = seed_from_env("KV_MODEL_SEED");
    let ops = env_or("KV_MODEL_OPS", 3000);
    println!(
        "model test seed {seed}, {ops} ops (KV_MODEL_SEED={seed} KV_MODEL_OPS={ops} to replay)"
    );
    run(seed, ops);
}

#[test]
fn a_fixed_seed_matches_a_btreemap() {
    run(0x5eed, 1500);
}
