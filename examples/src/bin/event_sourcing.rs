//! Use case 2: Event sourcing with projections and time travel: see `examples::event_sourcing`.
//! Usage: `cargo run -p examples --bin event_sourcing [DIR]`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = examples::setup::WorkDir::from_args()?;
    examples::event_sourcing::run(common::RealFs::shared(), &dir.path, &mut std::io::stdout())
        .await?;
    Ok(())
}
