//! Helpers for the merge-job tests: tables on a MemFs, tasks, and reading outputs back.
#![allow(dead_code)]

use common::{FileSystem, InternalIterator, InternalKey, MemFs, SeqNo, ValueKind};
use compaction::{
    run, CompactionOptions, JobOutput, LevelInputs, MergeJob, Result, TableInfo, Task, TaskReason,
};
use sstable::{Table, TableBuilder, TableOptions};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One entry: (user key, seq, kind, value).
pub type Entry = (Vec<u8>, SeqNo, ValueKind, Vec<u8>);

pub fn put(k: &str, seq: SeqNo, v: &str) -> Entry {
    (
        k.as_bytes().to_vec(),
        seq,
        ValueKind::Put,
        v.as_bytes().to_vec(),
    )
}

pub fn del(k: &str, seq: SeqNo) -> Entry {
    (k.as_bytes().to_vec(), seq, ValueKind::Delete, Vec::new())
}

pub fn table_options() -> TableOptions {
    TableOptions {
        block_size_bytes: 256,
        ..TableOptions::default()
    }
}

/// A test bench: a MemFs directory and a file-number counter.
pub struct Bench {
    pub mem: MemFs,
    pub fs: Arc<dyn FileSystem>,
    pub next_id: u64,
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Bench {
    pub fn new() -> Bench {
        let mem = MemFs::new();
        let fs = mem.shared();
        fs.create_dir_all(std::path::Path::new("/db")).unwrap();
        Bench {
            mem,
            fs,
            next_id: 1,
            cancel: None,
        }
    }

    pub fn path(id: u64) -> PathBuf {
        PathBuf::from(format!("/db/{id:06}.sst"))
    }

    /// Writes a table of `entries` (sorted here into internal-key order) and opens it.
    pub fn table(&mut self, mut entries: Vec<Entry>) -> Arc<Table> {
        entries.sort_by(|a, b| {
            InternalKey::new(a.0.clone(), a.1, a.2).cmp(&InternalKey::new(b.0.clone(), b.1, b.2))
        });
        let id = self.next_id;
        self.next_id += 1;
        let mut b = TableBuilder::new(self.fs.clone(), &Bench::path(id), table_options()).unwrap();
        for (k, s, kind, v) in &entries {
            b.add(&InternalKey::new(k.clone(), *s, *kind), v).unwrap();
        }
        b.finish().unwrap();
        Table::open(self.fs.clone(), &Bench::path(id), id, None).unwrap()
    }

    /// Runs a merge of `inputs` (all taken as inputs of one level-0 -> 1 task).
    pub fn merge(
        &mut self,
        inputs: &[Arc<Table>],
        snapshots: &[SeqNo],
        bottommost: bool,
        options: &CompactionOptions,
    ) -> Result<JobOutput> {
        let task = task_for(inputs, bottommost, Vec::new());
        self.run(&task, inputs, snapshots, options)
    }

    pub fn run(
        &mut self,
        task: &Task,
        inputs: &[Arc<Table>],
        snapshots: &[SeqNo],
        options: &CompactionOptions,
    ) -> Result<JobOutput> {
        let job = MergeJob {
            task,
            inputs,
            snapshots,
            fs: self.fs.clone(),
            table_options: table_options(),
            options,
            cancel: self.cancel.as_deref(),
        };
        let next_id = &mut self.next_id;
        let mut factory = || {
            let id = *next_id;
            *next_id += 1;
            (id, Bench::path(id))
        };
        run(&job, &mut factory)
    }

    /// Every entry of the job's outputs, in order, checking that each output reads back.
    pub fn read_outputs(&self, out: &JobOutput) -> Vec<Entry> {
        let mut all = Vec::new();
        for t in &out.tables {
            let table = Table::open(self.fs.clone(), &t.path, t.id, None).unwrap();
            assert_eq!(table.properties(), &t.properties);
            all.extend(entries(&table));
        }
        all
    }
}

/// A level-0 -> 1 task whose inputs are `inputs`.
pub fn task_for(inputs: &[Arc<Table>], bottommost: bool, grandparents: Vec<TableInfo>) -> Task {
    let tables: Vec<TableInfo> = inputs.iter().map(|t| info(t)).collect();
    let smallest = tables
        .iter()
        .map(|t| t.smallest.clone())
        .min()
        .unwrap_or_default();
    let largest = tables
        .iter()
        .map(|t| t.largest.clone())
        .max()
        .unwrap_or_default();
    Task {
        level: 0,
        output_level: 1,
        inputs: vec![LevelInputs { level: 0, tables }],
        grandparents,
        smallest,
        largest,
        is_trivial_move: false,
        bottommost,
        reason: TaskReason::Manual,
        score: 0.0,
    }
}

pub fn info(t: &Table) -> TableInfo {
    let p = t.properties();
    TableInfo::new(
        t.file_id(),
        p.file_size_bytes,
        p.smallest.user_key.clone(),
        p.largest.user_key.clone(),
    )
}

/// All entries of a table, in order.
pub fn entries(table: &Arc<Table>) -> Vec<Entry> {
    let mut it = table.iter();
    let mut out = Vec::new();
    it.seek_to_first().unwrap();
    while it.valid() {
        out.push((
            it.user_key().to_vec(),
            it.seq(),
            it.kind(),
            it.value().to_vec(),
        ));
        it.next().unwrap();
    }
    out
}

/// What a reader at `snapshot` sees for `key` in `entries` (any order): the value of the newest
/// version at or below the snapshot, `Some(None)` for a tombstone, `None` for nothing.
pub fn visible(entries: &[Entry], key: &[u8], snapshot: SeqNo) -> Option<Option<Vec<u8>>> {
    entries
        .iter()
        .filter(|e| e.0 == key && e.1 <= snapshot)
        .max_by_key(|e| e.1)
        .map(|e| (e.2 == ValueKind::Put).then(|| e.3.clone()))
}
