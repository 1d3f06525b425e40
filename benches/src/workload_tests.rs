//! Every workload against the kvstore engine, small, checking counts and what reads return.

use crate::{fill, key, run, BenchConfig, EngineKind, EngineOptions, Workload};
use std::sync::atomic::{AtomicU64, Ordering};

fn run_one(workload: Workload, threads: usize) -> crate::BenchReport {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::new(dir.path());
    opts.sync_writes = workload.sync_writes();
    opts.write_buffer_bytes = 64 << 10; // several flushes even in a small run
    let engine = EngineKind::KvStore.open(&opts).unwrap();
    let mut cfg = BenchConfig::new(workload);
    cfg.num = if workload.sync_writes() { 200 } else { 3000 };
    cfg.threads = threads;
    cfg.scan_length = 10;
    if workload.needs_fill() {
        let filled = AtomicU64::new(0);
        fill(&*engine, &cfg, &|n| {
            filled.fetch_add(n, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(filled.load(Ordering::Relaxed), cfg.num);
    }
    let done = AtomicU64::new(0);
    let report = run(&*engine, &cfg, &|n| {
        done.fetch_add(n, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(
        done.load(Ordering::Relaxed),
        cfg.ops(),
        "{workload}: progress adds up"
    );
    assert_eq!(report.ops, cfg.ops(), "{workload}");
    let latencies = if workload == Workload::FillBatch {
        (0..threads)
            .map(|t| {
                let (lo, hi) = crate::runner::share(cfg.num, t, threads);
                (hi - lo).div_ceil(cfg.batch_size as u64)
            })
            .sum()
    } else {
        report.ops
    };
    assert_eq!(
        report.latency.count(),
        latencies,
        "{workload}: one latency per op (per batch for fillbatch)"
    );
    assert!(report.bytes > 0);
    if workload.writes() {
        // Whatever was written can be read back: the last key of a fillseq at least.
        let last = engine.get(&key(cfg.num - 1)).unwrap();
        if workload == Workload::FillSeq {
            assert_eq!(last.map(|v| v.len()), Some(cfg.value_size));
        }
    } else if workload == Workload::ReadMissing {
        assert_eq!(report.found, 0, "{workload}: no missing key is found");
    } else if workload != Workload::ReadSeq {
        assert_eq!(
            report.found, report.ops,
            "{workload}: every key read exists"
        );
    }
    report
}

#[test]
fn every_workload_runs_single_threaded() {
    for w in Workload::ALL {
        let r = run_one(*w, 1);
        assert!(r.to_string().contains(w.name()));
    }
}

#[test]
fn workloads_split_over_threads() {
    for w in [
        Workload::FillRandom,
        Workload::ReadRandom,
        Workload::ReadSeq,
        Workload::Scan,
        Workload::Mixed,
        Workload::FillBatch,
    ] {
        run_one(w, 3);
    }
}

#[test]
fn readseq_reads_every_key_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = EngineKind::KvStore
        .open(&EngineOptions::new(dir.path()))
        .unwrap();
    let mut cfg = BenchConfig::new(Workload::ReadSeq);
    cfg.num = 1000;
    fill(&*engine, &cfg, &|_| {}).unwrap();
    let mut keys = Vec::new();
    engine
        .scan(b"", usize::MAX, &mut |k, _| keys.push(k.to_vec()))
        .unwrap();
    let want: Vec<Vec<u8>> = (0..1000).map(|i| key(i).to_vec()).collect();
    assert_eq!(keys, want);
    assert!("nope".parse::<EngineKind>().is_err());
}
