//! Use case 6c: Metrics with `Os` and `sync()` per batch: see `examples::metrics_log`.
//! Usage: `cargo run -p examples --bin metrics_log` (runs on a simulated disk: it cuts the power).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::metrics_log::run(&mut std::io::stdout()).await?;
    Ok(())
}
