//! `kv bench`: a db_bench-style workload from the `benches` crate, with a progress bar and a
//! summary line.

use crate::args::BenchArgs;
use crate::failure::{Failure, Outcome};
use crate::{progress, store};
use benches::{BenchConfig, EngineOptions};
use std::path::Path;

/// `kv bench`.
pub fn bench(dir: &Path, dir_explicit: bool, a: &BenchArgs) -> Outcome {
    let cfg = BenchConfig {
        workload: a.workload,
        num: a.num,
        value_size: a.value_size,
        threads: a.threads,
        seed: a.seed,
        ..BenchConfig::new(a.workload)
    };
    cfg.validate().map_err(|e| Failure::usage(e.to_string()))?;
    let (dir, _guard) = store::fresh_dir(dir, dir_explicit, "bench")?;
    let mut opts = EngineOptions::new(&dir);
    opts.sync_writes = cfg.workload.sync_writes();
    let engine = a
        .engine
        .open(&opts)
        .map_err(|e| Failure::storage(e.to_string()))?;
    println!(
        "bench {} on {} in {}: {} ops, {}-byte values, {} thread(s)",
        cfg.workload,
        engine.name(),
        dir.display(),
        cfg.ops(),
        cfg.value_size,
        cfg.threads
    );
    if cfg.workload.needs_fill() {
        let bar = progress::bar(cfg.num, "filling");
        benches::fill(&*engine, &cfg, &|n| bar.inc(n))
            .map_err(|e| Failure::storage(e.to_string()))?;
        bar.finish_and_clear();
        println!(
            "filled {} keys first (untimed) and flushed them to tables",
            cfg.num
        );
    }
    let bar = progress::bar(cfg.ops(), cfg.workload.name());
    let report = benches::run(&*engine, &cfg, &|n| bar.inc(n))
        .map_err(|e| Failure::storage(e.to_string()))?;
    bar.finish_and_clear();
    println!("{report}");
    Ok(())
}
