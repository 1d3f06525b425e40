//! Use case 7: Large values beside the log: see `examples::large_values`.
//! Usage: `cargo run -p examples --bin large_values [DIR]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::large_values::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout())?;
    Ok(())
}
