//! One case on one engine, in its own process (so the peak RSS is that run's alone): open,
//! fill if the workload needs it (untimed), run, flush, measure, print one `RESULT` line.

use crate::args::{Args, Case};
use crate::measure::{dir_bytes, peak_rss_kib};
use crate::row::Row;
use benches::{fill, run, BenchConfig, EngineKind, EngineOptions};

/// The engine's options for `case`: same durability for every engine per case, the shared
/// cache and write-buffer sizes.
pub fn engine_options(args: &Args, case: &Case) -> EngineOptions {
    let mut opts = EngineOptions::new(args.dir());
    opts.sync_writes = case.workload.sync_writes();
    opts.cache_bytes = args.cache_mb << 20;
    opts.write_buffer_bytes = args.write_buffer_mb << 20;
    opts
}

/// The benchmark configuration of `case`.
pub fn bench_config(args: &Args, case: &Case) -> BenchConfig {
    let mut cfg = BenchConfig::new(case.workload);
    cfg.num = if case.small { args.sync_num } else { args.num };
    cfg.value_size = args.value_size;
    cfg.threads = case.threads;
    cfg.seed = args.seed;
    cfg.batch_size = args.batch_size;
    cfg
}

/// Runs `case` on `kind` in `args.dir()` and returns its row.
pub fn run_case(args: &Args, kind: EngineKind, case: &Case) -> benches::Result<Row> {
    let dir = args.dir();
    // A case measures a fill from nothing: over an earlier run's data it would fill on top of
    // it (more levels, more bytes) and report figures that compare with nothing.
    if std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(benches::Error::InvalidConfig {
            name: "dir",
            reason: format!(
                "{} is not empty: a case starts from an empty directory (remove it first)",
                dir.display()
            ),
        });
    }
    std::fs::create_dir_all(&dir).map_err(|e| benches::Error::engine("harness", "mkdir", e))?;
    let opts = engine_options(args, case);
    let cfg = bench_config(args, case);
    let engine = kind.open(&opts)?;
    if case.workload.needs_fill() {
        fill(&*engine, &cfg, &|_| {})?;
    }
    let report = run(&*engine, &cfg, &|_| {})?;
    let rss_kib = peak_rss_kib();
    engine.flush()?;
    let wamp = engine.write_amplification();
    let disk_bytes = dir_bytes(&dir);
    let mut live_bytes = 0u64;
    engine.scan(b"", usize::MAX, &mut |k, v| {
        live_bytes += (k.len() + v.len()) as u64
    })?;
    let compacted_bytes = if matches!(case.name, "fillrandom" | "overwrite") {
        engine.compact()?;
        Some(dir_bytes(&dir))
    } else {
        None
    };
    let us = |q: f64| report.latency.percentile(q).as_nanos() as f64 / 1000.0;
    Ok(Row {
        engine: kind.name().into(),
        case: case.name.into(),
        ops: report.ops,
        secs: report.elapsed.as_secs_f64(),
        ops_per_sec: report.ops_per_sec(),
        mb_per_sec: report.mb_per_sec(),
        p50_us: us(0.50),
        p99_us: us(0.99),
        p999_us: us(0.999),
        disk_bytes,
        compacted_bytes,
        live_bytes,
        rss_kib,
        wamp,
        settings: engine.settings(),
    })
}
