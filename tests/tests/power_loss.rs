//! Simulated power loss through the file-system seam: a `FaultyFs` over a `MemFs` fails one
//! chosen operation (the process "dies" there: everything after it fails too), then
//! `MemFs::crash` keeps only synced bytes and synced directory entries, and the database is
//! reopened. Under `FsyncPolicy::Always` every acknowledged write must be there, and nothing
//! else. The failure points cover a flush (table write, directory sync, manifest append, WAL
//! rotation and segment deletion) and manifest swaps (a new manifest and the CURRENT rename,
//! at open and when the manifest outgrows its limit).

use common::{FaultKind, FaultyFs, FileSystem, MemFs, Op};
use kvstore::{Db, DbBuilder, FsyncPolicy};
use std::collections::BTreeMap;
use std::sync::Arc;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const OPS: [Op; 6] = [
    Op::Create,
    Op::Append,
    Op::SyncData,
    Op::SyncDir,
    Op::Rename,
    Op::Remove,
];

fn builder(fs: Arc<dyn FileSystem>, memtable: usize) -> DbBuilder {
    Db::builder("/db")
        .memtable_size_bytes(memtable)
        .max_manifest_bytes(1024)
        .fsync_policy(FsyncPolicy::Always)
        .fs(fs)
}

/// Writes keys `from..to` (acknowledged ones go into the model); stops at the first error.
fn write(db: &Db, model: &mut Model, from: u32, to: u32, tag: &str) {
    write_padded(db, model, from, to, tag, 0);
}

/// As [`write`], each value followed by `pad` pseudo-random bytes (which lz4 cannot shrink).
fn write_padded(db: &Db, model: &mut Model, from: u32, to: u32, tag: &str, pad: usize) {
    for i in from..to {
        let k = format!("k{:05}", i % 700).into_bytes();
        let mut v = format!("{tag}-{i}-{}", "v".repeat((i % 40) as usize)).into_bytes();
        let mut x = u64::from(i) | 1 << 40;
        v.extend((0..pad).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        }));
        let res = if i % 11 == 0 {
            db.delete(&k)
        } else {
            db.put(&k, &v)
        };
        match res {
            Ok(()) if i % 11 == 0 => {
                model.remove(&k);
            }
            Ok(()) => {
                model.insert(k, v);
            }
            Err(_) => return,
        }
    }
}

fn check(fs: &MemFs, model: &Model, ctx: &str) {
    let db = builder(fs.shared(), 2048)
        .open()
        .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
    let got: Model = db
        .iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{ctx}: scan failed: {e}"));
    assert_eq!(got.len(), model.len(), "{ctx}: key count");
    assert!(
        got == *model,
        "{ctx}: contents differ from the acknowledged writes"
    );
    // It keeps working.
    db.put(b"after", b"crash").unwrap();
    db.flush().unwrap();
    assert_eq!(db.get(b"after").unwrap(), Some(b"crash".to_vec()));
}

#[test]
fn power_loss_during_a_flush_keeps_every_acknowledged_write() {
    let mut failed_flushes = 0;
    for op in OPS {
        for skip in [0, 1, 2, 4, 7] {
            let ctx = format!("fail {op:?} after {skip}");
            let mem = MemFs::new();
            let faulty = FaultyFs::new(mem.shared());
            let db = builder(faulty.shared(), 4 << 20).open().unwrap();
            let mut model = Model::new();
            write(&db, &mut model, 0, 300, "a");
            db.flush().unwrap();
            // About 1.8 MB that the table builder writes in seven or eight 256 KiB writes, so
            // the faults land inside the table as well as after it.
            write_padded(&db, &mut model, 300, 600, "b", 6000);
            faulty.fail(op, skip, FaultKind::Error);
            if db.flush().is_err() {
                failed_flushes += 1;
                // Poisoned: writes fail and are not acknowledged.
                write(&db, &mut model, 600, 610, "c");
            }
            faulty.freeze();
            drop(db);
            check(&mem.crash(), &model, &ctx);
        }
    }
    assert!(
        failed_flushes > 10,
        "the faults must hit flushes ({failed_flushes})"
    );
}

#[test]
fn power_loss_during_manifest_swaps_keeps_every_acknowledged_write() {
    for op in OPS {
        for skip in [0, 1, 2, 3, 5] {
            let ctx = format!("fail {op:?} after {skip}");
            let mem = MemFs::new();
            let mut model = Model::new();
            {
                let db = builder(mem.shared(), 2048).open().unwrap();
                write(&db, &mut model, 0, 400, "a");
            }
            // Every open writes a new manifest and swaps CURRENT; small memtables and a 1 KiB
            // manifest limit make flushes swap it again.
            let faulty = FaultyFs::new(mem.shared());
            faulty.fail(op, skip, FaultKind::Error);
            if let Ok(db) = builder(faulty.shared(), 2048).open() {
                write(&db, &mut model, 400, 900, "b");
                faulty.freeze();
                drop(db);
            }
            faulty.freeze();
            check(&mem.crash(), &model, &ctx);
        }
    }
}

#[test]
fn power_loss_without_sync_under_batch_policy_keeps_a_prefix() {
    // No fault: the power simply goes while a `Batch` writer runs. What survives must be the
    // state after some prefix of the writes.
    let mem = MemFs::new();
    let db = Db::builder("/db")
        .memtable_size_bytes(4096)
        .fsync_policy(FsyncPolicy::Batch(std::time::Duration::from_millis(1)))
        .fs(mem.shared())
        .open()
        .unwrap();
    let mut states = vec![Model::new()];
    let mut model = Model::new();
    for i in 0..600u32 {
        let k = format!("k{:03}", i % 97).into_bytes();
        let v = format!("v{i}").into_bytes();
        db.put(&k, &v).unwrap();
        model.insert(k, v);
        states.push(model.clone());
        if i == 450 {
            db.persist().unwrap();
        }
    }
    let crashed = mem.crash();
    drop(db);
    let db = Db::builder("/db").fs(crashed.shared()).open().unwrap();
    let got: Model = db.iter().collect::<Result<_, _>>().unwrap();
    let k = states
        .iter()
        .rposition(|s| *s == got)
        .expect("the recovered state is no prefix of the writes");
    assert!(
        k >= 451,
        "persist() made the first 451 writes durable, found {k}"
    );
}
