//! Merge-job and picker throughput.
//!
//! `cargo bench -p compaction`. `merge_4x25k`: four overlapping tables of 25 000 entries each
//! (16-byte keys, 100-byte values, every key written twice across the tables) merged into tables
//! of 2 MiB on a MemFs, no snapshots: half the entries are shadowed and dropped. `pick_*`: the
//! picker over a tree of about 1 000 tables.

use common::{FileSystem, InternalKey, MemFs, ValueKind};
use compaction::{
    pick, run, BusySet, CompactionOptions, LevelInputs, Levels, MergeJob, TableInfo, Task,
    TaskReason,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sstable::{Table, TableBuilder, TableOptions};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PER_TABLE: u64 = 25_000;
const TABLES: u64 = 4;

fn key(i: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(16);
    k.extend_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn inputs(fs: &Arc<dyn FileSystem>) -> Vec<Arc<Table>> {
    // Table t holds keys t*N/2 .. t*N/2 + N: each key is in two tables (but the first and last half).
    (0..TABLES)
        .map(|t| {
            let mut entries: Vec<(Vec<u8>, u64)> = (0..PER_TABLE)
                .map(|i| {
                    let k = t * PER_TABLE / 2 + i;
                    (key(k), 1 + t * PER_TABLE + i)
                })
                .collect();
            entries.sort();
            let path = PathBuf::from(format!("/db/{:06}.sst", t + 1));
            let mut b = TableBuilder::new(fs.clone(), &path, TableOptions::default()).unwrap();
            for (k, seq) in &entries {
                b.add(
                    &InternalKey::new(k.clone(), *seq, ValueKind::Put),
                    &[7u8; 100],
                )
                .unwrap();
            }
            b.finish().unwrap();
            Table::open(fs.clone(), &path, t + 1, None).unwrap()
        })
        .collect()
}

fn task(tables: &[Arc<Table>]) -> Task {
    let infos: Vec<TableInfo> = tables
        .iter()
        .map(|t| {
            let p = t.properties();
            TableInfo::new(
                t.file_id(),
                p.file_size_bytes,
                p.smallest.user_key.clone(),
                p.largest.user_key.clone(),
            )
        })
        .collect();
    Task {
        level: 0,
        output_level: 1,
        smallest: infos.iter().map(|t| t.smallest.clone()).min().unwrap(),
        largest: infos.iter().map(|t| t.largest.clone()).max().unwrap(),
        inputs: vec![LevelInputs {
            level: 0,
            tables: infos,
        }],
        grandparents: Vec::new(),
        is_trivial_move: false,
        bottommost: true,
        reason: TaskReason::Manual,
        score: 0.0,
    }
}

fn bench_merge(c: &mut Criterion) {
    let fs = MemFs::new().shared();
    fs.create_dir_all(Path::new("/db")).unwrap();
    let tables = inputs(&fs);
    let task = task(&tables);
    let options = CompactionOptions {
        target_file_size_bytes: 2 << 20,
        ..Default::default()
    };
    let mut g = c.benchmark_group("compaction");
    g.sample_size(10);
    g.throughput(Throughput::Elements(TABLES * PER_TABLE));
    g.bench_function("merge_4x25k", |b| {
        b.iter(|| {
            let job = MergeJob {
                task: &task,
                inputs: &tables,
                snapshots: &[],
                fs: fs.clone(),
                table_options: TableOptions::default(),
                options: &options,
                cancel: None,
            };
            let mut next = 100u64;
            let mut factory = || {
                next += 1;
                (next, PathBuf::from(format!("/db/{next:06}.sst")))
            };
            let out = run(&job, &mut factory).unwrap();
            for t in &out.tables {
                fs.remove_file(&t.path).unwrap();
            }
            black_box(out.stats)
        })
    });
    g.finish();
}

fn bench_pick(c: &mut Criterion) {
    // A settled tree: 3 level-0 tables, then levels 1..4 of 10, 100, 900 tables.
    let mut levels = vec![Vec::new(); 7];
    let mut id = 0;
    let mut table = |lo: u64, hi: u64, size: u64| {
        id += 1;
        TableInfo::new(id, size, lo.to_be_bytes(), hi.to_be_bytes())
    };
    for _ in 0..3 {
        levels[0].push(table(0, 1 << 40, 64 << 20));
    }
    for (n, count) in [(1usize, 10u64), (2, 100), (3, 900)] {
        let span = (1u64 << 40) / count;
        levels[n] = (0..count)
            .map(|i| table(i * span, (i + 1) * span - 1, 8 << 20))
            .collect();
    }
    let levels = Levels::new(levels).unwrap();
    let options = CompactionOptions::default();
    let busy = BusySet::new();
    let mut g = c.benchmark_group("compaction");
    g.bench_function("pick_settled_1k_tables", |b| {
        b.iter(|| black_box(pick(&levels, &busy, &options)))
    });
    g.finish();
}

criterion_group!(benches, bench_merge, bench_pick);
criterion_main!(benches);
