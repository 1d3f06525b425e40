//! Use case 6a: Session store with `Batch(10ms)`: see `examples::session_store`.
//! Usage: `cargo run -p examples --bin session_store` (runs on a simulated disk: it cuts the power).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::session_store::run(&mut std::io::stdout()).await?;
    Ok(())
}
