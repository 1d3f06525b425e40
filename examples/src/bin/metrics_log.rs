//! Use case 6c: Metrics with `Os` and `sync()` per batch: see `examples::metrics_log`.
//! Usage: `cargo run -p examples --bin metrics_log [DIR]` (the power cuts run on a simulated disk).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::metrics_log::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout()).await?;
    Ok(())
}
