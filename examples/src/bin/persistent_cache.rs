//! Use case 6b: Cache with `Os` and periodic snapshots: see `examples::persistent_cache`.
//! Usage: `cargo run -p examples --bin persistent_cache` (runs on a simulated disk: it cuts the power).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::persistent_cache::run(&mut std::io::stdout())?;
    Ok(())
}
