//! Use case 3: Job queue with durable consumer positions and retention: see `examples::job_queue`.
//! Usage: `cargo run -p examples --bin job_queue [DIR]`.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::job_queue::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout()).await?;
    Ok(())
}
