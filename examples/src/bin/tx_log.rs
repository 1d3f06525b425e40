//! Use case 4: Transaction log with atomic batches: see `examples::tx_log`.
//! Usage: `cargo run -p examples --bin tx_log [DIR]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::tx_log::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout())?;
    Ok(())
}
