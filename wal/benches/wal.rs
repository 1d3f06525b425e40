//! WAL benchmarks (`cargo bench -p wal`): append throughput per policy and record size,
//! group commit under `Always` and group writes under `Os` with 1, 4 and 16 concurrent
//! appenders, `Always` from one appender with and without `preallocate`, `read_from` scan
//! throughput, and recovery throughput. Logs live on the real disk, in a temporary directory
//! under the system temporary directory (`WAL_BENCH_DIR` overrides). `WAL_BENCH_SCAN_MB` sets the size of
//! the log that scan and recovery read (default 64).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wal::blocking::Wal;
use wal::{FsyncPolicy, Position, Record, WalConfig};

fn bench_root() -> PathBuf {
    let root = std::env::var_os("WAL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("wal-bench"));
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn open(dir: &std::path::Path, policy: FsyncPolicy) -> Wal {
    let config = WalConfig {
        dir: dir.to_path_buf(),
        fsync_policy: policy,
        ..Default::default()
    };
    Wal::open(config).unwrap().0
}

fn record(value_bytes: usize) -> Record {
    // 100 B and 1 KiB records: key and value together.
    Record::put(b"user:0000000042", vec![0xab; value_bytes - 15])
}

fn append_throughput(c: &mut Criterion) {
    let root = bench_root();
    let mut g = c.benchmark_group("append");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for (name, policy) in [
        ("os", FsyncPolicy::Os),
        ("batch_5ms", FsyncPolicy::Batch(Duration::from_millis(5))),
        ("always", FsyncPolicy::Always),
    ] {
        for size in [100usize, 1024] {
            let dir = tempfile::tempdir_in(&root).unwrap();
            let wal = open(dir.path(), policy);
            let rec = record(size);
            g.throughput(Throughput::Elements(1));
            g.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        wal.append(&rec).unwrap();
                    }
                    let elapsed = t.elapsed();
                    // Keep the disk footprint bounded between samples.
                    wal.delete_segments_before(wal.current_position()).unwrap();
                    elapsed
                })
            });
            wal.close().unwrap();
        }
    }
    g.finish();
}

/// `tasks` tokio tasks appending `size`-byte records at once, each waiting for its own append.
fn concurrent(c: &mut Criterion, group: &str, policy: FsyncPolicy, sizes: &[usize]) {
    let root = bench_root();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    let dir = tempfile::tempdir_in(&root).unwrap();
    let config = WalConfig {
        dir: dir.path().to_path_buf(),
        fsync_policy: policy,
        ..Default::default()
    };
    let wal = rt.block_on(wal::Wal::open(config)).unwrap().0;
    for &size in sizes {
        for tasks in [1usize, 4, 16] {
            g.throughput(Throughput::Elements(1));
            let id = if sizes.len() > 1 {
                BenchmarkId::new(format!("{size}B_tasks"), tasks)
            } else {
                BenchmarkId::new("tasks", tasks)
            };
            g.bench_with_input(id, &tasks, |b, &tasks| {
                b.iter_custom(|iters| {
                    let per_task = iters.div_ceil(tasks as u64);
                    let t = Instant::now();
                    rt.block_on(async {
                        let handles: Vec<_> = (0..tasks)
                            .map(|_| {
                                let wal = wal.clone();
                                tokio::spawn(async move {
                                    let rec = record(size);
                                    for _ in 0..per_task {
                                        wal.append(&rec).await.unwrap();
                                    }
                                })
                            })
                            .collect();
                        for h in handles {
                            h.await.unwrap();
                        }
                    });
                    // Report the time per append actually made.
                    let elapsed = t
                        .elapsed()
                        .mul_f64(iters as f64 / (per_task * tasks as u64) as f64);
                    rt.block_on(wal.delete_segments_before(wal.current_position()))
                        .unwrap();
                    elapsed
                })
            });
        }
    }
    rt.block_on(wal.close()).unwrap();
    g.finish();
}

fn group_commit(c: &mut Criterion) {
    concurrent(c, "always_concurrent", FsyncPolicy::Always, &[100]);
}

fn group_write(c: &mut Criterion) {
    concurrent(c, "os_concurrent", FsyncPolicy::Os, &[100, 1024]);
}

/// One appender under `Always` (every append waits for its own fdatasync), with segments
/// zero-filled up front (`preallocate`) or grown by each write.
fn always_preallocate(c: &mut Criterion) {
    let root = bench_root();
    let mut g = c.benchmark_group("always_1_writer");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for preallocate in [false, true] {
        let dir = tempfile::tempdir_in(&root).unwrap();
        let config = WalConfig {
            dir: dir.path().to_path_buf(),
            fsync_policy: FsyncPolicy::Always,
            preallocate,
            ..Default::default()
        };
        let wal = Wal::open(config).unwrap().0;
        let rec = record(100);
        g.throughput(Throughput::Elements(1));
        let name = if preallocate { "preallocate" } else { "grow" };
        g.bench_function(name, |b| {
            b.iter(|| wal.append(&rec).unwrap());
        });
        wal.close().unwrap();
    }
    g.finish();
}

fn scan_and_recovery(c: &mut Criterion) {
    let root = bench_root();
    let mb: u64 = std::env::var("WAL_BENCH_SCAN_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let dir = tempfile::tempdir_in(&root).unwrap();
    let (bytes, records) = {
        let wal = open(dir.path(), FsyncPolicy::Os);
        let rec = record(1024);
        let n = (mb << 20) / 1024;
        for _ in 0..n {
            wal.append(&rec).unwrap();
        }
        wal.close().unwrap();
        (n * (1024 + 10 + 1), n)
    };
    let mut g = c.benchmark_group("read");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Bytes(bytes));
    let wal = open(dir.path(), FsyncPolicy::Os);
    g.bench_function("scan_1KiB_records", |b| {
        b.iter(|| {
            let mut r = wal.read_from(Position::start()).unwrap();
            let mut n = 0u64;
            while let Some((rec, _)) = r.next_record().unwrap() {
                n += rec.value.len() as u64;
            }
            assert_eq!(n, records * (1024 - 15));
        })
    });
    wal.close().unwrap();
    drop(wal);
    g.bench_function("recovery", |b| {
        b.iter(|| {
            let config = WalConfig {
                dir: dir.path().to_path_buf(),
                fsync_policy: FsyncPolicy::Os,
                ..Default::default()
            };
            let (wal, info) = Wal::open(config).unwrap();
            assert_eq!(info.records_read, records);
            wal.close().unwrap();
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    append_throughput,
    group_commit,
    group_write,
    always_preallocate,
    scan_and_recovery
);
criterion_main!(benches);
