//! Use case 6a: Session store with `Batch(10ms)`.

mod support;

use common::MemFs;
use examples::session_store::{run, SessionStore};
use std::path::Path;

#[tokio::test]
async fn sessions_survive_once_the_window_has_passed() {
    let fs = MemFs::new();
    let dir = Path::new("/s");
    let mut store = SessionStore::open(fs.shared(), dir).await.unwrap();
    store.touch("a", "cart 1").await.unwrap();
    store.touch("b", "cart 2").await.unwrap();
    store.end("a").await.unwrap();
    store.touch("c", "cart 3").await.unwrap();
    store.wait_window().await.unwrap();
    let after = SessionStore::open(fs.crash().shared(), dir).await.unwrap();
    assert_eq!(after.sessions(), store.sessions());
    assert_eq!(after.get("a"), None);
    assert_eq!(after.get("c"), Some("cart 3"));
}

#[tokio::test]
async fn the_program_logic() {
    let s = run(MemFs::new().shared(), Path::new("/prog"), &mut Vec::new())
        .await
        .unwrap();
    let (written, below, survived) = s.immediate;
    assert_eq!(written, 20);
    assert!(below <= survived && survived <= written);
    assert_eq!(s.after_window, (40, 40));
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_session_store"), &[dir.path()]);
    assert_eq!(
        support::line(&out, "after a clean restart"),
        "after a clean restart: 1 session, alice has \"cart: 3 books\""
    );
    assert!(support::line(&out, "power cut right after 20 updates").contains("survived"));
    assert!(support::line(&out, "power cut after 20 more").ends_with("40 of 40 survived"));
    assert_eq!(
        support::line(&out, "reopened after the cut"),
        "reopened after the cut: 40 sessions"
    );
}
