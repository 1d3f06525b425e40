//! Use case 5: Raft-style log: see `examples::raft_log`.
//! Usage: `cargo run -p examples --bin raft_log [DIR]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::raft_log::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout())?;
    Ok(())
}
