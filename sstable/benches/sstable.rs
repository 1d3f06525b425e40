//! Table benchmarks: build throughput, point lookups (hit and miss, with and without the block
//! cache) and scan throughput, on the in-memory file system so they measure the table code,
//! not the disk. Size: `SSTABLE_BENCH_ENTRIES` (default 100 000 entries of 16-byte keys and
//! 100-byte values). Also the decompression of one 4 KiB data block holding the `compare`
//! benchmark's kind of values, by our lz4 decoder and by `lz4_flex`'s (as we used it before).

use common::{InternalIterator, MemFs, ValueKind};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sstable::block_builder::BlockBuilder;
use sstable::format::{decompress_reusing, encode_stored_block, COMPRESSION_LZ4};
use sstable::{BlockCache, Compression, Table, TableBuilder, TableOptions};
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

/// Stored (lz4) forms of 4 KiB data blocks of 16-byte keys and 100-byte values cut from runs
/// of random bytes and runs of one byte, 1 to 32 long (as `benches/src/workload.rs` makes
/// them), and the contents' length of each.
fn lz4_blocks(count: usize) -> Vec<(Vec<u8>, usize)> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut values = Vec::new();
    while values.len() < 1 << 20 {
        let run = 1 + (next() % 32) as usize;
        if next() % 2 == 0 {
            values.extend((0..run).map(|_| next() as u8));
        } else {
            values.extend(std::iter::repeat_n(b'a' + (next() % 26) as u8, run));
        }
    }
    let mut i = 0u64;
    (0..count)
        .map(|_| {
            let mut b = BlockBuilder::new(16);
            while b.size_estimate() < 4096 {
                let mut k = format!("{:016}", i * 7).into_bytes();
                k.extend_from_slice(&(i << 8 | 1).to_le_bytes());
                let at = (next() % (values.len() as u64 - 100)) as usize;
                b.add(&k, &values[at..at + 100]);
                i += 1;
            }
            let contents = b.finish();
            let (stored, trailer) = encode_stored_block(&contents, Compression::Lz4);
            assert_eq!(trailer[0], COMPRESSION_LZ4);
            (stored, contents.len())
        })
        .collect()
}

/// What `format::decompress_reusing` did before our decoder: `lz4_flex`'s safe decoder into
/// the spare buffer resized to the block (zeroing only bytes past its old length).
fn lz4_flex_reusing(stored: &[u8], len: usize, mut buf: Vec<u8>) -> Vec<u8> {
    buf.resize(len, 0);
    let n = lz4_flex::block::decompress_into(&stored[4..], &mut buf).unwrap();
    assert_eq!(n, len);
    buf
}

fn decompress_benches(c: &mut Criterion) {
    let blocks = lz4_blocks(64);
    let ours = |stored: &[u8], _len: usize, spare: Vec<u8>| {
        decompress_reusing(stored, COMPRESSION_LZ4, spare).unwrap()
    };
    let mut g = c.benchmark_group("decompress");
    g.throughput(Throughput::Bytes(blocks[0].1 as u64));
    // `hot`: the same output buffer every time (in the CPU caches). `cold`: each decompression
    // into the next of 16 384 buffers of 4 KiB (64 MiB, as a cache miss reuses the buffer of
    // a block just evicted from the block cache).
    for (name, pool_size) in [("hot", 1), ("cold", 16_384)] {
        for (decoder, f) in [
            ("ours", &ours as &dyn Fn(&[u8], usize, Vec<u8>) -> Vec<u8>),
            ("lz4_flex", &lz4_flex_reusing),
        ] {
            let mut pool: Vec<Vec<u8>> = (0..pool_size).map(|_| vec![1u8; 4096]).collect();
            let mut i = 0;
            g.bench_function(format!("4k_block_{name}_{decoder}"), |b| {
                b.iter(|| {
                    i += 1;
                    let (stored, len) = &blocks[i % blocks.len()];
                    let slot = &mut pool[i % pool_size];
                    *slot = black_box(f(stored, *len, std::mem::take(slot)));
                })
            });
        }
    }
    g.finish();
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

criterion_group!(table_benches, benches, decompress_benches);
criterion_main!(table_benches);
