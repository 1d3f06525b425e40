//! Insert and get throughput of the memtable.
//!
//! `cargo bench -p memtable`. Keys are 16 bytes, values 100 bytes, in a pseudo-random order.
//! `merged_visible_scan_4x25k` reads four memtables of 25 000 entries each through
//! `common::MergingIterator` and `common::VisibleIter`, as the engine's range scan does.

use common::merge::MapErr;
use common::{InternalIterator, MergingIterator, ValueKind, VisibleIter};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use memtable::MemTable;
use std::convert::Infallible;
use std::hint::black_box;
use std::ops::Bound;
use std::sync::Arc;

const N: usize = 100_000;

fn key(i: usize) -> [u8; 16] {
    // A multiplicative hash spreads the keys; the low half keeps them unique.
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&h.to_be_bytes());
    k[8..].copy_from_slice(&(i as u64).to_be_bytes());
    k
}

fn filled() -> Arc<MemTable> {
    let mt = Arc::new(MemTable::new(0));
    let value = [7u8; 100];
    for i in 0..N {
        mt.insert(&key(i), i as u64 + 1, ValueKind::Put, &value);
    }
    mt
}

fn bench(c: &mut Criterion) {
    let value = [7u8; 100];
    let mut g = c.benchmark_group("memtable");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("insert_100k", |b| {
        b.iter_batched(
            || MemTable::new(0),
            |mt| {
                for i in 0..N {
                    mt.insert(&key(i), i as u64 + 1, ValueKind::Put, &value);
                }
                mt
            },
            BatchSize::PerIteration,
        )
    });
    let mt = filled();
    g.bench_function("get_hit_100k", |b| {
        b.iter(|| {
            for i in 0..N {
                black_box(mt.get(&key(i), u64::MAX));
            }
        })
    });
    g.bench_function("get_miss_100k", |b| {
        b.iter(|| {
            for i in N..2 * N {
                black_box(mt.get(&key(i), u64::MAX));
            }
        })
    });
    g.bench_function("scan_forward_100k", |b| {
        b.iter(|| {
            let mut it = mt.iter();
            it.seek_to_first().unwrap();
            let mut n = 0usize;
            while it.valid() {
                n += it.value().len();
                it.next().unwrap();
            }
            black_box(n)
        })
    });
    g.bench_function("scan_backward_100k", |b| {
        b.iter(|| {
            let mut it = mt.iter();
            it.seek_to_last().unwrap();
            let mut n = 0usize;
            while it.valid() {
                n += it.value().len();
                it.prev().unwrap();
            }
            black_box(n)
        })
    });
    let tables: Vec<Arc<MemTable>> = (0..4)
        .map(|t| {
            let mt = Arc::new(MemTable::new(t));
            for i in (t as usize..N).step_by(4) {
                mt.insert(&key(i), i as u64 + 1, ValueKind::Put, &value);
            }
            mt
        })
        .collect();
    g.bench_function("merged_visible_scan_4x25k", |b| {
        b.iter(|| {
            let children: Vec<Box<dyn InternalIterator<Error = Infallible>>> = tables
                .iter()
                .map(|t| {
                    Box::new(MapErr::new(t.iter(), |e: Infallible| -> Infallible { e }))
                        as Box<dyn InternalIterator<Error = Infallible>>
                })
                .collect();
            let merged = MergingIterator::new(children);
            let mut n = 0usize;
            for kv in VisibleIter::new(merged, u64::MAX, Bound::Unbounded, Bound::Unbounded) {
                n += kv.unwrap().1.len();
            }
            assert_eq!(n, N * value.len());
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
