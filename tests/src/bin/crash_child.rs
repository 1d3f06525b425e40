//! The crash test's child: opens the database named by its arguments and writes the cycle's
//! workload forever, printing `ack <i>` after write `i` returns, until its parent kills it.
//! Tiny memtables, level targets and output tables keep compactions running all the time, so
//! kills land in their middle; every 100 writes it prints `compactions <n>` (merges plus
//! trivial moves so far).
//!
//! Usage: `crash_child <db dir> <cycle> <always|batch|os>`

use kvstore::{CompactionOptions, Db, FsyncPolicy};
use std::io::Write;
use std::time::Duration;
use tests::{Op, Workload};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: crash_child <db dir> <cycle> <always|batch|os>");
        std::process::exit(2);
    }
    let cycle: u64 = args[2].parse().expect("cycle number");
    let policy = match args[3].as_str() {
        "always" => FsyncPolicy::Always,
        "batch" => FsyncPolicy::Batch(Duration::from_millis(2)),
        "os" => FsyncPolicy::Os,
        other => panic!("unknown policy {other}"),
    };
    let db = Db::builder(&args[1])
        .memtable_size_bytes(16 << 10)
        .max_immutable_memtables(2)
        .fsync_policy(policy)
        .compaction_options(CompactionOptions {
            target_file_size_bytes: 4 << 10,
            max_grandparent_overlap_bytes: 16 << 10,
            level_size_ratio: 3,
            ..CompactionOptions::default()
        })
        .open()
        .expect("open");
    let out = std::io::stdout();
    let mut out = out.lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let w = Workload::new(cycle);
    for i in 0.. {
        let ops = w.ops(i);
        if ops.len() == 1 {
            match &ops[0] {
                Op::Put(k, v) => db.put(k, v).expect("put"),
                Op::Delete(k) => db.delete(k).expect("delete"),
            }
        } else {
            let mut b = db.batch();
            for op in &ops {
                match op {
                    Op::Put(k, v) => b.put(k, v),
                    Op::Delete(k) => b.delete(k),
                };
            }
            b.commit().expect("batch");
        }
        writeln!(out, "ack {i}").unwrap();
        if i % 100 == 99 {
            let s = db.stats();
            writeln!(out, "compactions {}", s.compactions + s.trivial_moves).unwrap();
        }
        out.flush().unwrap();
    }
}
