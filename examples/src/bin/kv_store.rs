//! Use case 1: Key-value store with log compaction: see `examples::kv_store`.
//! Usage: `cargo run -p examples --bin kv_store [DIR]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::kv_store::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout())?;
    Ok(())
}
