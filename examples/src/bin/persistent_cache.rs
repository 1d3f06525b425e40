//! Use case 6b: Cache with `Os` and periodic snapshots: see `examples::persistent_cache`.
//! Usage: `cargo run -p examples --bin persistent_cache [DIR]` (the power cuts run on a simulated disk).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::persistent_cache::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout())?;
    Ok(())
}
