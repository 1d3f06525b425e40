//! `compare`: the same db_bench-style workloads on this engine and its peers (fjall, sled,
//! redb, rocksdb: each behind the cargo feature of its name), each engine and case in its own
//! child process (this binary re-executed) so that peak RSS is per run; then the machine's
//! limits, the recovery measurement, and tables with each peer's figure as a ratio to ours.
//!
//! ```text
//! cargo run --release -p benches --features fjall,sled,redb --bin compare -- [all|limits|recovery] [--num N] ...
//! ```

#![forbid(unsafe_code)]

mod args;
mod child;
mod limits;
mod measure;
mod median;
mod recovery;
mod row;
mod table;

use args::{Args, Mode};
use clap::Parser;
use row::Row;
use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    match args.mode {
        Mode::Child => {
            let (kind, case) = args.child_case()?;
            let row = child::run_case(args, kind, case).map_err(|e| e.to_string())?;
            println!("{}", row.to_line());
            Ok(())
        }
        Mode::Limits => {
            let l = limits::measure(&args.dir(), args.limits_mb, args.limits_ops)
                .map_err(|e| format!("limits: {e}"))?;
            println!("{l}");
            Ok(())
        }
        Mode::Recovery => {
            let r = recovery::measure(args, true).map_err(|e| e.to_string())?;
            println!("{r}");
            Ok(())
        }
        Mode::RecoveryFill => {
            let (wal, user) = recovery::fill(args).map_err(|e| e.to_string())?;
            println!("{}{wal} {user}", recovery::FILLED_PREFIX);
            Ok(())
        }
        Mode::RecoveryReopen => {
            let (elapsed, engine) = recovery::reopen_timed(args).map_err(|e| e.to_string())?;
            println!("{}{}", recovery::REOPEN_PREFIX, elapsed.as_nanos());
            // Ends as a crash would, the engine left open (see `reopen_timed`).
            use std::io::Write;
            let _ = std::io::stdout().flush();
            std::mem::forget(engine);
            std::process::exit(0)
        }
        Mode::All => all(args),
    }
}

/// The CPU model and core count, for the report's header.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

fn all(args: &Args) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let root = args.dir();
    let engines = args.engines();
    let cases = args.cases();
    println!(
        "compare on {}; engines {}; {} keys ({} for fillsync), {}-byte keys, {}-byte values, batches of {}, cache {} MiB, write buffer {} MiB, in {}",
        machine(),
        engines.iter().map(|e| e.name()).collect::<Vec<_>>().join(", "),
        args.num,
        args.sync_num,
        16,
        args.value_size,
        args.batch_size,
        args.cache_mb,
        args.write_buffer_mb,
        root.display()
    );
    println!("each engine and case runs in its own process, case by case (every engine in turn); durable cases (fillsync, fillbatch) open every engine with a durable write/commit, the others with durability on sync only (one sync at the end)");
    if args.repeat > 1 {
        println!(
            "each engine runs each case {} times, round by round; the tables give each engine's median run by ops/s (its latencies, disk and RSS are that run's)",
            args.repeat
        );
    }
    let before = if args.no_limits {
        None
    } else {
        let l = limits::measure(&root, args.limits_mb, args.limits_ops)
            .map_err(|e| format!("limits: {e}"))?;
        println!("before the engines: {l}");
        Some(l)
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut seen_settings: Vec<String> = Vec::new();
    let repeat = args.repeat as usize;
    // Case by case, every engine in turn: the figures a ratio compares are taken minutes
    // apart at most, not a whole run apart (this VM's disk and CPU drift within a run: its
    // overwrite-in-place + fdatasync rate measured 21.4k/s before the engines and 12.6k/s
    // after them in one run). Repeats go round by round (see `median.rs`).
    for case in &cases {
        // Each engine's runs of this case, in the order of `engines`.
        let mut runs: Vec<Vec<Row>> = vec![Vec::new(); engines.len()];
        for round in 1..=repeat {
            let of = if repeat > 1 {
                format!(" (run {round} of {repeat})")
            } else {
                String::new()
            };
            for (kind, engine_runs) in engines.iter().zip(&mut runs) {
                let dir = root.join(format!("{}-{}", kind.name(), case.name));
                let _ = std::fs::remove_dir_all(&dir);
                let out = Command::new(&exe)
                    .args(args.child_args(*kind, case, &dir))
                    .stderr(Stdio::inherit())
                    .output()
                    .map_err(|e| format!("spawning {}: {e}", exe.display()))?;
                let _ = std::fs::remove_dir_all(&dir);
                let text = String::from_utf8_lossy(&out.stdout);
                match Row::parse(&text) {
                    Ok(row) if out.status.success() => {
                        let key = format!("{}: {}", row.engine, row.settings);
                        if !seen_settings.contains(&key) {
                            println!("settings {key}");
                            seen_settings.push(key);
                        }
                        println!("{}{of}", table::detail(&row));
                        engine_runs.push(row);
                    }
                    other => println!(
                        "{:<11} {:<8} FAILED{of} ({}): {}",
                        case.name,
                        kind.name(),
                        out.status,
                        other.err().unwrap_or_default()
                    ),
                }
            }
        }
        for engine_runs in &runs {
            if repeat > 1 {
                if let Some(line) = median::spread_line(engine_runs) {
                    println!("{line}");
                }
            }
            rows.extend(median::median_run(engine_runs));
        }
    }
    let limits = match before {
        None => None,
        Some(before) => {
            let l = limits::measure(&root, args.limits_mb, args.limits_ops)
                .map_err(|e| format!("limits: {e}"))?;
            println!("\nafter the engines: {l}");
            let best = before.best(l);
            println!("best of the two (used below): {best}");
            Some(best)
        }
    };
    if !args.no_recovery {
        for order in [args::KeyOrder::Ascending, args::KeyOrder::Scrambled] {
            let a = Args {
                recovery_order: order,
                ..args.clone()
            };
            let mut child = a.child_args(benches::EngineKind::KvStore, &args::Case::ALL[0], &root);
            child[0] = "recovery".into();
            let status = Command::new(&exe)
                .args(&child)
                .status()
                .map_err(|e| format!("spawning {}: {e}", exe.display()))?;
            if !status.success() {
                println!("recovery ({}) FAILED ({status})", order.name());
            }
        }
    }
    print!("{}", table::summary(&rows, &cases, limits.as_ref()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use benches::EngineKind;

    #[test]
    fn arguments_parse_and_a_child_gets_the_same_settings() {
        let a = Args::try_parse_from(["compare"]).unwrap();
        assert_eq!(a.mode, Mode::All);
        assert_eq!((a.num, a.value_size, a.batch_size), (1_000_000, 100, 100));
        assert_eq!(a.engines(), EngineKind::ALL.to_vec());
        assert_eq!(a.cases().len(), args::Case::ALL.len());
        assert_eq!(a.repeat, 1);
        assert_eq!(
            Args::try_parse_from(["compare", "--repeat", "3"])
                .unwrap()
                .repeat,
            3
        );
        assert!(Args::try_parse_from(["compare", "--repeat", "0"]).is_err());

        let a = Args::try_parse_from([
            "compare",
            "--engines=kvstore",
            "--cases",
            "fillseq,fillsync16",
            "--num",
            "5000",
            "--cache-mb=8",
        ])
        .unwrap();
        assert_eq!(
            a.cases().iter().map(|c| c.name).collect::<Vec<_>>(),
            ["fillseq", "fillsync16"]
        );
        let dir = std::path::Path::new("/tmp/x");
        let mut argv = vec!["compare".to_string()];
        argv.extend(a.child_args(EngineKind::KvStore, a.cases()[1], dir));
        let c = Args::try_parse_from(&argv).unwrap();
        assert_eq!(c.mode, Mode::Child);
        let (kind, case) = c.child_case().unwrap();
        assert_eq!(
            (kind, case.name, case.threads),
            (EngineKind::KvStore, "fillsync16", 16)
        );
        assert_eq!((c.num, c.cache_mb, c.dir()), (5000, 8, dir.to_path_buf()));

        assert!(Args::try_parse_from(["compare", "--cases=nope"]).is_err());
        assert!(Args::try_parse_from(["compare", "--engines=nope"]).is_err());
        assert!(Args::try_parse_from(["compare", "limits"]).unwrap().mode == Mode::Limits);
        let bad = Args::try_parse_from(["compare", "child", "--case=kvstore"]).unwrap();
        assert!(bad.child_case().is_err());
    }

    #[test]
    fn a_child_case_runs_in_process_and_its_row_prints() {
        let dir = tempfile::tempdir().unwrap();
        let a = Args::try_parse_from([
            "compare".to_string(),
            "child".into(),
            "--case=kvstore:overwrite".into(),
            "--num=2000".into(),
            format!("--dir={}", dir.path().display()),
        ])
        .unwrap();
        let (kind, case) = a.child_case().unwrap();
        let row = child::run_case(&a, kind, case).unwrap();
        assert_eq!((row.ops, row.case.as_str()), (2000, "overwrite"));
        assert_eq!(row.live_bytes, 2000 * 116, "every key once");
        assert!(row.compacted_bytes.is_some() && row.wamp.is_some() && row.rss_kib > 0);
        assert_eq!(Row::parse(&row.to_line()).unwrap(), row);
        let text = table::summary(&[row], &[case], None);
        assert!(text.contains("overwrite"), "{text}");
    }

    #[test]
    fn recovery_replays_a_small_wal_in_either_key_order() {
        for order in ["ascending", "scrambled"] {
            let dir = tempfile::tempdir().unwrap();
            let a = Args::try_parse_from([
                "compare".to_string(),
                "recovery".into(),
                "--recovery-mb=1".into(),
                format!("--recovery-order={order}"),
                format!("--dir={}", dir.path().display()),
            ])
            .unwrap();
            let r = recovery::measure(&a, false).unwrap();
            assert!(r.wal_bytes >= 1 << 20 && r.pairs == (1 << 20) / 116, "{r}");
            assert!(r.to_string().contains(&format!("{order} key order")), "{r}");
        }
    }
}
