//! `kv tour`: the first thing a newcomer runs. It drives the same code as the commands, on a
//! fresh store, printing each command as you would type it and saying what happens.

use crate::args::{LoadArgs, Policy, ScanArgs};
use crate::bytes::Spelling;
use crate::commands::{crash_demo, data, load, maintenance, stats, verify};
use crate::failure::{Failure, Outcome};
use crate::store;
use std::ffi::OsStr;
use std::path::Path;

fn step(what: &str, command: &str) {
    println!();
    for line in what.lines() {
        println!("# {line}");
    }
    println!("$ kv {command}");
}

fn scan_args() -> ScanArgs {
    ScanArgs {
        from: None,
        to: None,
        prefix: None,
        limit: None,
        reverse: false,
        json: false,
    }
}

/// `kv tour`.
pub fn tour(dir: &Path, dir_explicit: bool) -> Outcome {
    let (dir, guard) = store::fresh_dir(dir, dir_explicit, "tour")?;
    let dir = dir.as_path();
    let plain = Spelling::Plain;
    println!(
        "kv tour: a short walk through the store, in {}",
        dir.display()
    );
    if guard.is_some() {
        println!("(a temporary directory, removed at the end; `kv --dir PATH tour` keeps one)");
    }

    step(
        "put: each write goes to the write-ahead log (fsynced before it returns),\nthen to the in-memory table (the memtable).",
        "put user:1 ada; kv put user:2 grace; kv put user:3 edsger",
    );
    for (k, v) in [("user:1", "ada"), ("user:2", "grace"), ("user:3", "edsger")] {
        data::put(dir, plain, OsStr::new(k), OsStr::new(v))?;
    }
    println!("(no output: success is silent, exit status 0)");

    step("get: the newest value of a key.", "get user:2");
    data::get(dir, plain, OsStr::new("user:2"), false)?;

    step(
        "get of a missing key prints `not found` on stderr and exits with status 1.",
        "get user:9",
    );
    match data::get(dir, plain, OsStr::new("user:9"), false) {
        Err(Failure::NotFound) => println!("not found   (exit status 1)"),
        other => other?,
    }

    step("scan: key<TAB>value lines in key order; --prefix, --from, --to, --limit, --reverse narrow it.", "scan --prefix user:");
    data::scan(
        dir,
        plain,
        &ScanArgs {
            prefix: Some("user:".into()),
            ..scan_args()
        },
    )?;

    step(
        "delete writes a tombstone: the key disappears from gets and scans.",
        "delete user:1; kv scan",
    );
    data::delete(dir, plain, OsStr::new("user:1"))?;
    data::scan(dir, plain, &scan_args())?;

    step(
        "keys and values are bytes: --hex reads and prints hex; without it, bytes that are not\nprintable ASCII print escaped (\\x00, \\t, \\n, \\\\), so every line stays one line.",
        "--hex put 00ff 6c696e65310a6c696e6532; kv scan",
    );
    data::put(
        dir,
        Spelling::Hex,
        OsStr::new("00ff"),
        OsStr::new("6c696e65310a6c696e6532"),
    )?;
    data::scan(dir, plain, &scan_args())?;

    let input_dir = tempfile::tempdir()
        .map_err(|e| Failure::storage(format!("cannot make a temporary directory: {e}")))?;
    let file = input_dir.path().join("cities.tsv");
    let lines: String = (1..=1000)
        .map(|i| format!("city:{i:04}\tpopulation {}\n", i * 137))
        .collect();
    std::fs::write(&file, lines)
        .map_err(|e| Failure::storage(format!("cannot write {}: {e}", file.display())))?;
    step(
        "load imports key<TAB>value lines (what scan prints) in atomic batches; --json takes JSON lines.",
        &format!("load {}", file.display()),
    );
    load::load(
        dir,
        plain,
        &LoadArgs {
            file: file.clone(),
            json: false,
            batch_size: 250,
        },
    )?;

    step(
        "scan with --from and --limit.",
        "scan --from city:0500 --limit 3",
    );
    data::scan(
        dir,
        plain,
        &ScanArgs {
            from: Some("city:0500".into()),
            limit: Some(3),
            ..scan_args()
        },
    )?;

    step(
        "flush writes the memtable to a sorted, checksummed table file (an SSTable) at level 0;\nthe WAL behind it is then no longer needed.",
        "flush",
    );
    maintenance::flush(dir)?;

    step(
        "compact merges tables down the levels: overwritten versions and tombstones that hide\nnothing are dropped (a background thread also does this as tables pile up).",
        "compact",
    );
    maintenance::compact(dir, plain, &None, &None)?;

    step(
        "stats: levels, memtable, WAL, cache, amplification (counters are this process's).",
        "stats",
    );
    stats::stats(dir, false)?;

    step(
        "verify reads every file and checks every checksum, without opening the store for writing.",
        "verify",
    );
    verify::verify(dir)?;

    step(
        "crash-demo runs a writer process, kills it with SIGKILL at random moments, and checks that\nevery acknowledged write survived, then takes and opens a checkpoint. (In its own store.)",
        "crash-demo --cycles 3",
    );
    let (demo_dir, _demo_guard) = store::fresh_dir(dir, false, "crash-demo")?;
    crash_demo::run_demo(&demo_dir, 3, Policy::Always, None)?;

    println!();
    println!("# That is the tour. Next: `kv --help`, `kv bench --workload readrandom`, `kv dump manifest`.");
    Ok(())
}
