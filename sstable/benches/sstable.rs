//! Table benchmarks: build throughput, point lookups (hit and miss, with and without the block
//! cache) and scan throughput, on the in-memory file system so they measure the table code,
//! not the disk. Size: `SSTABLE_BENCH_ENTRIES` (default 100 000 entries of 16-byte keys and
//! 100-byte values).

use common::{InternalIterator, MemFs, ValueKind};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sstable::{BlockCache, Table, TableBuilder, TableOptions};
use std::path::Path;
use std::sync::Arc;

fn entries() -> usize {
    std::env::var("SSTABLE_BENCH_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

fn key(i: usize) -> Vec<u8> {
    format!("key{:013}", i * 2).into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    // Half random-looking, half repetitive, so lz4 has something but not everything to do.
    let mut v = Vec::with_capacity(100);
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    while v.len() < 50 {
        x ^= x >> 29;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        v.push(x as u8);
    }
    v.resize(100, b'v');
    v
}

fn build(fs: &MemFs, path: &Path, n: usize) -> u64 {
    let mut b = TableBuilder::new(fs.shared(), path, TableOptions::default()).unwrap();
    for i in 0..n {
        b.add_parts(&key(i), 1, ValueKind::Put, &value(i)).unwrap();
    }
    b.finish().unwrap().file_size_bytes
}

fn benches(c: &mut Criterion) {
    let n = entries();
    let raw_bytes = (n * (16 + 100)) as u64;

    let mut g = c.benchmark_group("build");
    g.throughput(Throughput::Bytes(raw_bytes));
    g.sample_size(10);
    g.bench_function(format!("{n}_entries"), |b| {
        b.iter_batched(
            MemFs::new,
            |fs| build(&fs, Path::new("/t.sst"), n),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let fs = MemFs::new();
    let path = Path::new("/t.sst");
    build(&fs, path, n);
    let uncached = Table::open(fs.shared(), path, 1, None).unwrap();
    let cache = BlockCache::new(256 << 20);
    let cached = Table::open(fs.shared(), path, 2, Some(Arc::clone(&cache))).unwrap();

    let mut g = c.benchmark_group("get");
    g.throughput(Throughput::Elements(1));
    for (name, table) in [("no_cache", &uncached), ("cache", &cached)] {
        let mut i = 0usize;
        g.bench_function(format!("hit_{name}"), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(table.get(&key(i), 10).unwrap())
            })
        });
        let mut i = 0usize;
        g.bench_function(format!("miss_{name}"), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                // Odd numbers are never written: a miss that the filter usually stops.
                let k = format!("key{:013}", i * 2 + 1);
                black_box(table.get(k.as_bytes(), 10).unwrap())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(raw_bytes));
    g.sample_size(10);
    for (name, table) in [("no_cache", &uncached), ("cache", &cached)] {
        g.bench_function(format!("forward_{name}"), |b| {
            b.iter(|| {
                let mut it = table.iter();
                it.seek_to_first().unwrap();
                let mut count = 0;
                while it.valid() {
                    count += it.value().len();
                    it.next().unwrap();
                }
                black_box(count)
            })
        });
    }
    g.bench_function("backward_cache", |b| {
        b.iter(|| {
            let mut it = cached.iter();
            it.seek_to_last().unwrap();
            let mut count = 0;
            while it.valid() {
                count += it.value().len();
                it.prev().unwrap();
            }
            black_box(count)
        })
    });
    g.finish();
}

criterion_group!(table_benches, benches);
criterion_main!(table_benches);
