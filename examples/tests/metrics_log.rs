//! Use case 6c: Metrics with `Os` and `sync()` per batch.

mod support;

use common::MemFs;
use examples::metrics_log::{batch, run, MetricsLog};
use std::path::Path;

#[tokio::test]
async fn synced_batches_survive_and_the_batch_in_progress_does_not() {
    let fs = MemFs::new();
    let dir = Path::new("/m");
    let log = MetricsLog::open(fs.shared(), dir).await.unwrap();
    log.record_batch(&batch(0, 9)).await.unwrap();
    for m in batch(1, 6) {
        log.record(&m).await.unwrap();
    }
    assert_eq!(
        log.aggregate().await.unwrap()["cpu"].0,
        5,
        "all 15 readable before the cut"
    );
    let after = MetricsLog::open(fs.crash().shared(), dir).await.unwrap();
    let agg = after.aggregate().await.unwrap();
    assert_eq!(agg.values().map(|(n, _)| n).sum::<u64>(), 9);
    assert_eq!(agg["cpu"], (3, 0.0 + 3.0 + 6.0));
}

#[tokio::test]
async fn the_program_logic() {
    let s = run(MemFs::new().shared(), Path::new("/prog"), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(s.survived, 60);
    assert_eq!(s.aggregate["cpu"].0, 20);
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_metrics_log"), &[dir.path()]);
    assert_eq!(
        support::line(&out, "after a clean restart"),
        "after a clean restart: 12 samples"
    );
    assert!(support::line(&out, "power cut:").starts_with("power cut: 60 samples survived"));
    assert_eq!(
        support::line(&out, "  cpu:"),
        "  cpu: 20 samples, mean 63.5"
    );
}
