//! Engine benchmarks on the real file system: put, get (memtable hit, table hit, miss) and
//! range scans. `cargo bench -p kvstore`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kvstore::{Db, FsyncPolicy};
use std::hint::black_box;
use std::time::Duration;

const KEYS: u64 = 20_000;

fn key(i: u64) -> Vec<u8> {
    format!("key{:010}", i.wrapping_mul(0x9e37_79b9) % 1_000_000_007).into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    let mut v = format!("value-{i}-").into_bytes();
    v.resize(100, b'v');
    v
}

fn filled(dir: &std::path::Path, flush: bool) -> Db {
    let db = Db::builder(dir)
        .memtable_size_bytes(64 << 20)
        .fsync_policy(FsyncPolicy::Os)
        .open()
        .unwrap();
    for i in 0..KEYS {
        db.put(key(i), value(i)).unwrap();
    }
    if flush {
        db.flush().unwrap();
    }
    db
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("kvstore");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);

    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .fsync_policy(FsyncPolicy::Os)
        .open()
        .unwrap();
    let mut i = 0u64;
    g.throughput(Throughput::Elements(1));
    g.bench_function("put_100b_fsync_os", |b| {
        b.iter(|| {
            i += 1;
            db.put(key(i), value(i)).unwrap();
        })
    });
    drop(db);

    let dir = tempfile::tempdir().unwrap();
    let db = Db::builder(dir.path())
        .fsync_policy(FsyncPolicy::Always)
        .open()
        .unwrap();
    g.bench_function("put_100b_fsync_always", |b| {
        b.iter(|| {
            i += 1;
            db.put(key(i), value(i)).unwrap();
        })
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("batch_100x100b_fsync_always", |b| {
        b.iter_batched(
            || {
                let mut batch = db.batch();
                for _ in 0..100 {
                    i += 1;
                    batch.put(key(i), value(i));
                }
                batch
            },
            |batch| batch.commit().unwrap(),
            BatchSize::SmallInput,
        )
    });
    drop(db);

    let dir = tempfile::tempdir().unwrap();
    let mem = filled(dir.path(), false);
    let mut n = 0u64;
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_memtable_hit", |b| {
        b.iter(|| {
            n = (n + 7) % KEYS;
            black_box(mem.get(key(n)).unwrap().unwrap());
        })
    });
    drop(mem);

    let dir = tempfile::tempdir().unwrap();
    let table = filled(dir.path(), true);
    g.bench_function("get_table_hit", |b| {
        b.iter(|| {
            n = (n + 7) % KEYS;
            black_box(table.get(key(n)).unwrap().unwrap());
        })
    });
    g.bench_function("get_miss", |b| {
        b.iter(|| {
            n += 1;
            assert!(table.get(format!("absent{n}")).unwrap().is_none());
        })
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("range_scan_100", |b| {
        b.iter(|| {
            n = (n + 7) % KEYS;
            let start = key(n);
            let count = table.range(start.as_slice()..).take(100).count();
            black_box(count);
        })
    });
    g.bench_function("range_scan_100_rev", |b| {
        b.iter(|| {
            n = (n + 7) % KEYS;
            let end = key(n);
            let count = table.range(..end.as_slice()).rev().take(100).count();
            black_box(count);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
