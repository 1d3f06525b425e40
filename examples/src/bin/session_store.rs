//! Use case 6a: Session store with `Batch(10ms)`: see `examples::session_store`.
//! Usage: `cargo run -p examples --bin session_store [DIR]` (the power cuts run on a simulated disk).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::session_store::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout())
        .await?;
    Ok(())
}
