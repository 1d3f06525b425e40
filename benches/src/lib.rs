//! db_bench-style workloads for key-value engines, written once against an engine-agnostic
//! [`Engine`] trait: `fillseq`, `fillrandom`, `readrandom`, `readseq`, `readmissing`,
//! `overwrite`, `fillsync`, `fillbatch`, `scan` (seekrandom + a scan) and `mixed` (90% reads)
//! ([`Workload`]), run over any number of threads, reported as ops/s, MB/s and latency
//! percentiles (p50, p99, p99.9) from a log-linear [`Histogram`].
//!
//! This crate's engine is [`KvStoreEngine`]; the peers fjall, sled, redb and rocksdb are more
//! [`EngineKind`]s, each behind the cargo feature of its name (off by default). `kv bench` is
//! one command-line face; the `compare` binary (`src/bin/compare.rs`) runs every workload on
//! every engine, each in its own process, and prints ratios to this engine (see README.md).
//!
//! ```
//! use benches::{fill, run, BenchConfig, EngineKind, EngineOptions, Workload};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let engine = EngineKind::KvStore.open(&EngineOptions::new(dir.path()))?;
//! let mut cfg = BenchConfig::new(Workload::ReadRandom);
//! cfg.num = 500;
//! fill(&*engine, &cfg, &|_| {})?;                 // untimed: keys 0..500
//! let report = run(&*engine, &cfg, &|_done| {})?;  // 500 checked random reads
//! assert_eq!((report.ops, report.found), (500, 500));
//! assert!(report.latency.percentile(0.99) >= report.latency.percentile(0.50));
//! println!("{report}");
//! # Ok::<(), benches::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod engine;
mod error;
mod histogram;
mod kvstore_engine;
pub mod peers;
mod rng;
mod runner;
mod workload;
#[cfg(test)]
mod workload_tests;

pub use engine::{Engine, EngineKind, EngineOptions};
pub use error::{Error, Result};
pub use histogram::Histogram;
pub use kvstore_engine::KvStoreEngine;
pub use rng::Rng;
pub use runner::{fill, run, scrambler, write_in_order, write_permuted, BenchConfig, BenchReport};
pub use workload::{key, missing_key, Values, Workload};
