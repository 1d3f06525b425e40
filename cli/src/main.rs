//! `kv`: the command-line face of the store. `kv --help` lists the commands and exit codes;
//! `kv tour` shows them working.
#![forbid(unsafe_code)]

mod args;
mod bytes;
mod commands;
mod failure;
mod inspect;
mod progress;
mod store;

use args::{Cli, Command, DumpCommand};
use bytes::Spelling;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use commands::remote::{self, Remote};
use commands::{
    bench, cluster, crash_demo, data, dump, load, maintenance, serve, stats, tour, verify,
};
use failure::{Failure, Outcome};

/// The command's name as typed (for messages).
fn name(c: &Command) -> &'static str {
    match c {
        Command::Put { .. } => "put",
        Command::Get { .. } => "get",
        Command::Delete { .. } => "delete",
        Command::Scan(_) => "scan",
        Command::Load(_) => "load",
        Command::Stats { .. } => "stats",
        Command::Flush => "flush",
        Command::Compact { .. } => "compact",
        Command::Checkpoint { .. } => "checkpoint",
        Command::Verify => "verify",
        Command::Dump(_) => "dump",
        Command::Bench(_) => "bench",
        Command::CrashDemo(_) => "crash-demo",
        Command::Tour => "tour",
        Command::Serve(_) => "serve",
        Command::Cluster(_) => "cluster",
        Command::CrashWriter(_) => "crash-writer",
    }
}

/// `kv --cluster ...`: put, get, delete, scan and `cluster ...` go to the cluster; every
/// other command works on a local store only.
fn run_remote(cli: &Cli) -> Outcome {
    let sp = Spelling::new(cli.hex);
    let r = Remote {
        addrs: &cli.cluster,
        stale_ok: cli.stale_ok,
    };
    if let Some(bad) = cli.cluster.iter().find(|a| a.trim().is_empty()) {
        return Err(Failure::usage(format!(
            "--cluster: empty address {bad:?} (expected ADDR[,ADDR...])"
        )));
    }
    if cli.stale_ok && !matches!(cli.command, Command::Get { .. } | Command::Scan(_)) {
        return Err(Failure::usage("--stale-ok applies to get and scan only"));
    }
    match &cli.command {
        Command::Put { key, value } => remote::put(&r, sp, key, value),
        Command::Get { key, json } => remote::get(&r, sp, key, *json),
        Command::Delete { key } => remote::delete(&r, sp, key),
        Command::Scan(a) => remote::scan(&r, sp, a),
        Command::Cluster(c) => cluster::cluster(&r, c),
        other => Err(Failure::usage(format!(
            "`kv {}` works on a local store (--dir) and cannot be combined with --cluster",
            name(other)
        ))),
    }
}

fn run(cli: &Cli, dir_explicit: bool) -> Outcome {
    if !cli.cluster.is_empty() {
        return run_remote(cli);
    }
    if cli.stale_ok {
        return Err(Failure::usage("--stale-ok needs --cluster ADDR[,ADDR...]"));
    }
    let dir = cli.dir.as_path();
    let sp = Spelling::new(cli.hex);
    match &cli.command {
        Command::Put { key, value } => data::put(dir, sp, key, value),
        Command::Get { key, json } => data::get(dir, sp, key, *json),
        Command::Delete { key } => data::delete(dir, sp, key),
        Command::Scan(a) => data::scan(dir, sp, a),
        Command::Load(a) => load::load(dir, sp, a),
        Command::Stats { json } => stats::stats(dir, *json),
        Command::Flush => maintenance::flush(dir),
        Command::Compact { from, to } => maintenance::compact(dir, sp, from, to),
        Command::Checkpoint { dest } => maintenance::checkpoint(dir, dest),
        Command::Verify => verify::verify(dir),
        Command::Dump(DumpCommand::Wal) => dump::wal(dir, sp),
        Command::Dump(DumpCommand::Sst { file }) => dump::sst(file, sp),
        Command::Dump(DumpCommand::Manifest) => dump::manifest(dir, sp),
        Command::Bench(a) => bench::bench(dir, dir_explicit, a),
        Command::CrashDemo(a) => crash_demo::crash_demo(dir, dir_explicit, a),
        Command::Tour => tour::tour(dir, dir_explicit),
        Command::CrashWriter(a) => crash_demo::writer(dir, a),
        Command::Serve(a) => serve::serve(dir, a),
        Command::Cluster(_) => Err(Failure::usage(
            "`kv cluster` needs --cluster ADDR[,ADDR...] (the client address of any member)",
        )),
    }
}

fn main() {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                std::process::exit(0);
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = e.print();
                std::process::exit(2);
            }
            // One line naming the problem: clap's message up to its usage section, joined.
            let text = e.render().to_string();
            let first = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("tip:")
                        && !l.starts_with("For more information")
                })
                .collect::<Vec<_>>()
                .join(" ");
            let first = first.trim_start_matches("error: ");
            eprintln!("kv: {first} (see `kv --help`)");
            std::process::exit(2);
        }
    };
    let dir_explicit = matches.value_source("dir") != Some(ValueSource::DefaultValue);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kv: {e}");
            std::process::exit(2);
        }
    };
    match run(&cli, dir_explicit) {
        Ok(()) | Err(Failure::OutputClosed) => {}
        Err(Failure::NotFound) => {
            eprintln!("not found");
            std::process::exit(1);
        }
        Err(f) => {
            eprintln!("kv: {f}");
            std::process::exit(f.exit_code());
        }
    }
}
