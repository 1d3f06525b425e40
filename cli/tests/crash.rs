//! `kv crash-demo`: a writer child killed with SIGKILL; nothing acknowledged may be lost.

mod support;
use support::*;

#[test]
fn crash_demo_three_cycles_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let r = kv(&dir, &["crash-demo", "--cycles", "3"]).expect(0);
    assert_eq!(
        r.stdout.matches("killed it with SIGKILL").count(),
        3,
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stdout.matches("opened it as a store of its own").count(),
        3,
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("survived 3 kill(s)") && !r.stdout.contains("PROBLEM"),
        "{}",
        r.stdout
    );
    // The store it leaves is sound and holds what the demo says.
    kv(&dir, &["verify"]).expect(0);
    let keys = kv(&dir, &["scan"]).expect(0).stdout.lines().count();
    assert!(
        r.stdout.contains(&format!("the same {keys} keys")),
        "{keys} keys; {}",
        r.stdout
    );
}

#[test]
fn crash_demo_under_batch_and_os_keeps_a_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    for policy in ["batch", "os"] {
        let dir = tmp.path().join(policy);
        let r = kv(
            &dir,
            &[
                "crash-demo",
                "--cycles",
                "2",
                "--policy",
                policy,
                "--seed",
                "7",
            ],
        )
        .expect(0);
        assert!(r.stdout.contains("survived 2 kill(s)"), "{}", r.stdout);
    }
}
