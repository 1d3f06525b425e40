//! A seeded simulation of the picker under a long random write stream (pure, no I/O).
//!
//! Tables are modelled as sorted, disjoint key intervals, each labelled with the flush
//! ("version") that wrote it; a table's size is its number of keys (one byte per key).
//! Each step flushes a level-0 table of a few random intervals, then gives the compactor a
//! budget of work (bytes it may merge). Up to two tasks run at once; a task finishes when the
//! budget has paid for its input bytes, and its outputs (the union of its inputs, newest version
//! winning, cut into tables of the target size) are installed with `apply`.
//!
//! Checked: picks never meet a running task; after each apply the tree's invariants hold and
//! every key reads (level 0 newest first, then the deeper levels) the newest version written;
//! level 0 never passes the stop limit (writes stop there, as the engine would); and whenever
//! the compactor is allowed to catch up, every level is within its target and level 0 under its
//! trigger.
//!
//! Size: `COMPACTION_SIM_FLUSHES` (default 1500) flushes per seed.

use compaction::{
    apply, level_scores, pick, write_pressure, BusySet, CompactionOptions, Levels, TableInfo, Task,
    WritePressure,
};
use std::collections::HashMap;

/// A table's contents: sorted disjoint (first, last, version) intervals.
type Runs = Vec<(u64, u64, u64)>;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn key(k: u64) -> Vec<u8> {
    k.to_be_bytes().to_vec()
}

fn size(runs: &Runs) -> u64 {
    runs.iter().map(|&(a, b, _)| b - a + 1).sum()
}

/// The union of several tables' runs, the newest version winning where they overlap.
fn union(inputs: &[&Runs]) -> Runs {
    let mut bounds: Vec<u64> = inputs
        .iter()
        .flat_map(|r| r.iter().flat_map(|&(a, b, _)| [a, b + 1]))
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut out: Runs = Vec::new();
    for w in bounds.windows(2) {
        let (lo, hi) = (w[0], w[1] - 1);
        let version = inputs
            .iter()
            .flat_map(|r| r.iter())
            .filter(|&&(a, b, _)| a <= lo && hi <= b)
            .map(|&(_, _, v)| v)
            .max();
        if let Some(v) = version {
            match out.last_mut() {
                Some(last) if last.1 + 1 == lo && last.2 == v => last.1 = hi,
                _ => out.push((lo, hi, v)),
            }
        }
    }
    out
}

/// Cuts runs into tables of at most `target` keys.
fn split(runs: Runs, target: u64) -> Vec<Runs> {
    let mut tables = Vec::new();
    let mut cur: Runs = Vec::new();
    let mut cur_size = 0;
    for (mut a, b, v) in runs {
        while a <= b {
            let take = (b - a + 1).min(target - cur_size);
            cur.push((a, a + take - 1, v));
            cur_size += take;
            a += take;
            if cur_size == target {
                tables.push(std::mem::take(&mut cur));
                cur_size = 0;
            }
        }
    }
    if !cur.is_empty() {
        tables.push(cur);
    }
    tables
}

struct Sim {
    options: CompactionOptions,
    levels: Levels,
    contents: HashMap<u64, Runs>,
    busy: BusySet,
    /// Running tasks with the work still owed.
    running: Vec<(Task, u64)>,
    next_id: u64,
    /// Every flush: (first, last, version), to answer "what is the newest version of k".
    history: Vec<(u64, u64, u64)>,
    flushed_bytes: u64,
    compaction_written_bytes: u64,
    max_level0: usize,
    stalls: u64,
    tasks: u64,
    trivial_moves: u64,
}

impl Sim {
    fn new(options: CompactionOptions) -> Sim {
        Sim {
            levels: Levels::empty(options.max_levels),
            options,
            contents: HashMap::new(),
            busy: BusySet::new(),
            running: Vec::new(),
            next_id: 1,
            history: Vec::new(),
            flushed_bytes: 0,
            compaction_written_bytes: 0,
            max_level0: 0,
            stalls: 0,
            tasks: 0,
            trivial_moves: 0,
        }
    }

    fn add_table(&mut self, runs: Runs) -> TableInfo {
        let id = self.next_id;
        self.next_id += 1;
        let info = TableInfo::new(id, size(&runs), key(runs[0].0), key(runs[runs.len() - 1].1));
        self.contents.insert(id, runs);
        info
    }

    fn flush(&mut self, rng: &mut Rng, keyspace: u64) {
        let version = self.history.len() as u64 + 1;
        let mut runs: Runs = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let len = 1 + rng.below(4000);
            let a = rng.below(keyspace - len);
            runs.push((a, a + len - 1, version));
            self.history.push((a, a + len - 1, version));
        }
        let runs = union(
            &runs
                .iter()
                .map(|r| vec![*r])
                .collect::<Vec<_>>()
                .iter()
                .collect::<Vec<_>>(),
        );
        self.flushed_bytes += size(&runs);
        let info = self.add_table(runs);
        self.levels.push_level0(info).unwrap();
        self.max_level0 = self.max_level0.max(self.levels.level(0).len());
    }

    /// Starts tasks while a worker is free and the picker has one.
    fn start_tasks(&mut self, workers: usize) {
        while self.running.len() < workers {
            let Some(task) = pick(&self.levels, &self.busy, &self.options) else {
                return;
            };
            assert!(
                !self
                    .busy
                    .output_conflicts(task.output_level, &task.smallest, &task.largest),
                "picked a range a running task writes: {task:?}"
            );
            self.busy.insert(&task).expect("picked a busy table");
            self.tasks += 1;
            let cost = if task.is_trivial_move {
                0
            } else {
                task.input_bytes()
            };
            self.running.push((task, cost));
        }
    }

    /// Spends `budget` bytes of merge work; finished tasks are installed.
    fn work(&mut self, mut budget: u64, workers: usize) {
        loop {
            self.start_tasks(workers);
            if self.running.is_empty() {
                return;
            }
            // The cheapest remaining task finishes first (workers run in parallel).
            let (i, owed) = self
                .running
                .iter()
                .enumerate()
                .map(|(i, (_, owed))| (i, *owed))
                .min_by_key(|&(_, owed)| owed)
                .unwrap();
            let per_worker = budget / self.running.len() as u64;
            if owed > per_worker {
                for (_, o) in &mut self.running {
                    *o -= per_worker.min(*o);
                }
                return;
            }
            for (_, o) in &mut self.running {
                *o -= owed.min(*o);
            }
            budget -= owed * self.running.len() as u64;
            let (task, _) = self.running.swap_remove(i);
            self.finish(task);
        }
    }

    fn finish(&mut self, task: Task) {
        self.busy.remove(&task);
        let outputs = if task.is_trivial_move {
            self.trivial_moves += 1;
            Vec::new()
        } else {
            let inputs: Vec<Runs> = task
                .input_ids()
                .iter()
                .map(|id| self.contents.remove(id).unwrap())
                .collect();
            let merged = union(&inputs.iter().collect::<Vec<_>>());
            let tables: Vec<TableInfo> = split(merged, self.options.target_file_size_bytes)
                .into_iter()
                .map(|runs| self.add_table(runs))
                .collect();
            self.compaction_written_bytes += tables.iter().map(|t| t.size_bytes).sum::<u64>();
            tables
        };
        self.levels = apply(&self.levels, &task, &outputs).expect("apply keeps the invariants");
    }

    /// Every level within its target, level 0 under its trigger.
    fn assert_settled(&self) {
        let scores = level_scores(&self.levels, &BusySet::new(), &self.options);
        for (n, s) in scores.iter().enumerate() {
            assert!(
                *s < 1.0,
                "level {n} scores {s} after catching up: {:?}",
                self.sizes()
            );
        }
    }

    fn sizes(&self) -> Vec<u64> {
        (0..self.levels.num_levels())
            .map(|n| self.levels.level_size_bytes(n))
            .collect()
    }

    /// The newest version of `k` as a read finds it: level 0 newest first, then each level.
    fn read(&self, k: u64) -> Option<u64> {
        for (n, level) in self.levels.levels().iter().enumerate() {
            let found = level
                .iter()
                .filter(|t| t.overlaps(&key(k), &key(k)))
                .find_map(|t| {
                    self.contents[&t.id]
                        .iter()
                        .find(|&&(a, b, _)| a <= k && k <= b)
                        .map(|r| r.2)
                });
            if let Some(v) = found {
                if n > 0 {
                    let hits = level
                        .iter()
                        .filter(|t| t.overlaps(&key(k), &key(k)))
                        .count();
                    assert!(hits <= 1, "level {n} has {hits} tables holding key {k}");
                }
                return Some(v);
            }
        }
        None
    }

    fn assert_reads(&self, rng: &mut Rng, keyspace: u64) {
        for _ in 0..64 {
            // Probe near a recent write half the time, anywhere otherwise.
            let k = if rng.below(2) == 0 && !self.history.is_empty() {
                let (a, b, _) = self.history[rng.below(self.history.len() as u64) as usize];
                a + rng.below(b - a + 1)
            } else {
                rng.below(keyspace)
            };
            let want = self
                .history
                .iter()
                .filter(|&&(a, b, _)| a <= k && k <= b)
                .map(|r| r.2)
                .max();
            assert_eq!(self.read(k), want, "key {k}");
        }
    }
}

fn flushes() -> usize {
    std::env::var("COMPACTION_SIM_FLUSHES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500)
}

fn options(dynamic_level_bytes: bool) -> CompactionOptions {
    CompactionOptions {
        dynamic_level_bytes,
        level1_size_bytes_target: 40_000,
        target_file_size_bytes: 8_000,
        max_grandparent_overlap_bytes: 80_000,
        max_levels: 5,
        ..Default::default()
    }
}

/// Runs one seed; `budget_per_flush` is the merge work allowed per flushed byte.
fn simulate(seed: u64, keyspace: u64, budget_per_flush: u64, dynamic: bool) -> Sim {
    let mut rng = Rng(seed);
    let mut sim = Sim::new(options(dynamic));
    let workers = 2;
    for step in 0..flushes() {
        match write_pressure(&sim.levels, &sim.options) {
            WritePressure::Stop => {
                // Writes wait: the compactor runs until the pressure drops.
                sim.stalls += 1;
                while write_pressure(&sim.levels, &sim.options) == WritePressure::Stop {
                    sim.work(u64::MAX / 4, workers);
                }
            }
            WritePressure::Slowdown { .. } | WritePressure::None => {}
        }
        let before = sim.flushed_bytes;
        sim.flush(&mut rng, keyspace);
        assert!(sim.levels.level(0).len() <= sim.options.level0_stop_files);
        let flushed = sim.flushed_bytes - before;
        sim.work(flushed * budget_per_flush, workers);
        if step % 100 == 99 {
            sim.assert_reads(&mut rng, keyspace);
            // Let the compactor catch up, then every level must be within target.
            while !sim.running.is_empty() || pick(&sim.levels, &sim.busy, &sim.options).is_some() {
                sim.work(u64::MAX / 4, workers);
            }
            sim.assert_settled();
        }
    }
    sim.assert_reads(&mut rng, keyspace);
    sim
}

/// Write amplification and space amplification at the end of a run.
fn amplification(sim: &Sim) -> (f64, f64) {
    let stored = sim.sizes().iter().sum::<u64>();
    let write_amp =
        (sim.flushed_bytes + sim.compaction_written_bytes) as f64 / sim.flushed_bytes as f64;
    let live = size(&union(&sim.contents.values().collect::<Vec<_>>()));
    (write_amp, stored as f64 / live as f64)
}

fn report(label: &str, sim: &Sim) {
    let (write_amp, space_amp) = amplification(sim);
    println!(
        "{label}: sizes {:?}, max L0 {}, tasks {} ({} trivial), write amp {write_amp:.2}, space amp {space_amp:.3}, stalls {}",
        sim.sizes(), sim.max_level0, sim.tasks, sim.trivial_moves, sim.stalls
    );
}

#[test]
fn levels_stay_within_targets_and_reads_stay_right() {
    for (seed, dynamic) in [(1, true), (2, true), (3, false), (4, false)] {
        let sim = simulate(seed, 6_000_000, 30, dynamic);
        report(&format!("growing, seed {seed}, dynamic {dynamic}"), &sim);
        let (write_amp, space_amp) = amplification(&sim);
        assert!(
            sim.max_level0 < sim.options.level0_slowdown_files,
            "level 0 reached {}",
            sim.max_level0
        );
        let last = sim.options.max_levels - 1;
        assert!(
            !sim.levels.level(last).is_empty(),
            "data reached the deepest level"
        );
        assert!(write_amp < 25.0, "write amplification {write_amp}");
        assert!(space_amp < 1.5, "space amplification {space_amp}");
    }
}

#[test]
fn overwriting_a_small_key_space_keeps_space_amplification_low() {
    // About 25 overwrites of every key.
    for dynamic in [true, false] {
        let sim = simulate(11, 300_000, 30, dynamic);
        report(&format!("overwrite, dynamic {dynamic}"), &sim);
        let (_, space_amp) = amplification(&sim);
        let bound = if dynamic { 1.25 } else { 1.5 };
        assert!(
            space_amp < bound,
            "space amplification {space_amp} (dynamic {dynamic})"
        );
    }
}

#[test]
fn a_slow_compactor_stalls_writes_instead_of_growing_level0() {
    let sim = simulate(7, 2_000_000, 2, true);
    report("slow compactor", &sim);
    assert!(
        sim.stalls > 0,
        "a compactor at 2 bytes per byte written falls behind"
    );
    assert!(sim.max_level0 <= sim.options.level0_stop_files);
}
