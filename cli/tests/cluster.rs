//! Three real `kv serve` processes on loopback ports, driven by `kv --cluster ...`: the cluster
//! forms, serves put/get/scan/delete, reports its status, changes membership, serves stale
//! reads from a follower, and keeps serving without losing an acknowledged write after the
//! leader process is killed with SIGKILL. Every child is killed at the end, even on failure.

mod support;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// A running `kv serve`; dropping it kills the process (SIGKILL) and reaps it.
struct Node {
    id: u64,
    child: Child,
    api: String,
    raft: String,
    stderr: PathBuf,
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kv serve --id ID` with its data in `root/nID` on free loopback ports and waits for
/// its `ready id=N api=ADDR raft=ADDR` line.
fn serve(id: u64, root: &Path, join: Option<&str>) -> Node {
    let stderr = root.join(format!("n{id}.stderr"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv"));
    cmd.env_remove("KV_DIR")
        .arg("--dir")
        .arg(root.join(format!("n{id}")))
        .args(["serve", "--id", &id.to_string()])
        .args(["--listen", "127.0.0.1:0", "--raft-listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap());
    if let Some(j) = join {
        cmd.args(["--join", j]);
    }
    let mut child = cmd.spawn().expect("start kv serve");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .map(str::to_string)
    };
    let (Some(api), Some(raft)) = (field("api="), field("raft=")) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "node {id} printed {line:?}; stderr: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
    };
    assert!(line.starts_with(&format!("ready id={id} ")), "{line:?}");
    Node {
        id,
        child,
        api,
        raft,
        stderr,
        _stdout: out,
    }
}

/// `kv --cluster ADDRS ARGS...`.
fn kvc(cwd: &Path, addrs: &str, args: &[&str]) -> Run {
    let mut all = vec!["--cluster", addrs];
    all.extend_from_slice(args);
    kv_bare(cwd, &all)
}

/// The cluster's status as JSON (`kv cluster status --json`).
fn status(cwd: &Path, addrs: &str) -> serde_json::Value {
    let r = kvc(cwd, addrs, &["cluster", "status", "--json"]).expect(0);
    serde_json::from_str(&r.stdout).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// Polls `cond` on the status until it holds; a cluster that never gets there within 30 s
/// (far beyond the ~1 s elections take) is a failure.
#[track_caller]
fn wait_for(
    cwd: &Path,
    addrs: &str,
    what: &str,
    cond: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let r = kvc(cwd, addrs, &["cluster", "status", "--json"]);
        if r.code == 0 {
            let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            if cond(&s) {
                return s;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn three_kv_serve_processes_form_a_cluster_and_survive_sigkill_of_the_leader() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut nodes = vec![serve(1, root, None)];
    let seed = nodes[0].api.clone();
    nodes.push(serve(2, root, Some(&seed)));
    nodes.push(serve(3, root, Some(&seed)));
    let all = nodes
        .iter()
        .map(|n| n.api.as_str())
        .collect::<Vec<_>>()
        .join(",");

    // Both joiners become voters; `cluster status --json` shows three voters and a leader.
    let s = wait_for(root, &all, "three voters", |s| {
        ids(&s["voters"]) == [1, 2, 3] && s["leader"].is_u64()
    });
    assert_eq!(s["state"], "Leader", "status is the leader's view: {s}");
    assert_eq!(s["nodes"]["2"]["api_addr"], nodes[1].api.as_str());

    // The readable table names every member and the leader.
    let table = kvc(root, &all, &["cluster", "status"]).expect(0).stdout;
    for n in &nodes {
        assert!(table.contains(&n.api) && table.contains(&n.raft), "{table}");
    }
    assert!(table.contains("voter*"), "{table}");

    // put / get / scan / delete, with escaping and --hex, through any node.
    kvc(root, &all, &["put", "greeting", "hello"]).expect(0);
    let via3 = nodes[2].api.clone();
    assert_eq!(
        kvc(root, &via3, &["get", "greeting"]).expect(0).stdout,
        "hello\n"
    );
    kvc(root, &all, &["--hex", "put", "00ff", "0a09"]).expect(0);
    assert_eq!(
        kvc(root, &all, &["get", "greeting", "--json"])
            .expect(0)
            .stdout,
        "{\"key\":\"greeting\",\"value\":\"hello\"}\n"
    );
    let mut acked: Vec<(String, String)> = Vec::new();
    for i in 0..20 {
        let (k, v) = (format!("k{i:03}"), format!("v{i}"));
        kvc(root, &all, &["put", &k, &v]).expect(0);
        acked.push((k, v));
    }
    let scan = kvc(root, &all, &["scan"]).expect(0).stdout;
    assert!(
        scan.starts_with("\\x00\\xff\t\\n\\t\ngreeting\thello\nk000\tv0\n"),
        "{scan}"
    );
    assert_eq!(scan.lines().count(), 22);
    assert_eq!(
        kvc(
            root,
            &all,
            &["scan", "--prefix", "k01", "--reverse", "--limit", "2"]
        )
        .expect(0)
        .stdout,
        "k019\tv19\nk018\tv18\n"
    );
    assert_eq!(
        kvc(root, &all, &["scan", "--from", "k005", "--to", "k007"])
            .expect(0)
            .stdout,
        "k005\tv5\nk006\tv6\n"
    );
    kvc(root, &all, &["delete", "greeting"]).expect(0);
    let r = kvc(root, &all, &["get", "greeting"]).expect(1);
    assert_eq!(r.one_line_error(), "not found");

    // Bad input is refused before anything is sent, and changes nothing.
    let reserved = kvc(root, &all, &["--hex", "put", "00726166742f78", "00"]).expect(2);
    assert!(
        reserved.one_line_error().contains("reserved"),
        "{}",
        reserved.stderr
    );
    let r = kvc(root, &all, &["--hex", "put", "zz", "00"]).expect(2);
    assert!(r.one_line_error().contains("hex"), "{}", r.stderr);
    for local in [
        &["flush"][..],
        &["verify"],
        &["compact"],
        &["stats"],
        &["tour"],
    ] {
        let r = kvc(root, &all, local).expect(2);
        assert!(r.one_line_error().contains("--cluster"), "{}", r.stderr);
    }
    let r = kv_bare(root, &["cluster", "status"]).expect(2);
    assert!(r.one_line_error().contains("--cluster"), "{}", r.stderr);
    assert_eq!(
        kvc(root, &all, &["scan", "--hex"])
            .expect(0)
            .stdout
            .lines()
            .count(),
        21,
        "the refused commands wrote nothing"
    );

    // Membership: node 3 out (kept as a learner), re-added as a learner, promoted back.
    let r = kvc(
        root,
        &all,
        &["cluster", "change-membership", "--remove", "3"],
    )
    .expect(0);
    assert!(
        r.stdout.contains("voters now: 1,2; learners: 3"),
        "{}",
        r.stdout
    );
    let s = status(root, &all);
    assert_eq!(
        (ids(&s["voters"]), ids(&s["learners"])),
        (vec![1, 2], vec![3])
    );
    let (api3, raft3) = (nodes[2].api.clone(), nodes[2].raft.clone());
    kvc(
        root,
        &all,
        &[
            "cluster",
            "add-learner",
            "--id",
            "3",
            "--api",
            &api3,
            "--raft",
            &raft3,
        ],
    )
    .expect(0);
    let r = kvc(root, &all, &["cluster", "change-membership", "--add", "3"]).expect(0);
    assert!(
        r.stdout.contains("voters now: 1,2,3; learners: none"),
        "{}",
        r.stdout
    );
    kvc(
        root,
        &all,
        &["cluster", "change-membership", "--voters", "1,2,3"],
    )
    .expect(0);
    let r = kvc(
        root,
        &all,
        &[
            "cluster",
            "change-membership",
            "--voters",
            "1",
            "--add",
            "2",
        ],
    )
    .expect(2);
    assert!(
        r.one_line_error().contains("cannot be used with"),
        "{}",
        r.stderr
    );

    // A follower serves --stale-ok reads from its own state once it has applied the write.
    let s = status(root, &all);
    let leader = s["leader"].as_u64().unwrap();
    let follower = nodes.iter().find(|n| n.id != leader).unwrap().api.clone();
    kvc(root, &all, &["put", "fresh", "1"]).expect(0);
    let start = Instant::now();
    loop {
        let r = kvc(root, &follower, &["get", "fresh", "--stale-ok"]);
        if r.code == 0 {
            assert_eq!(r.stdout, "1\n");
            break;
        }
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the follower never applied it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    acked.push(("fresh".into(), "1".into()));
    let stale_scan = kvc(root, &follower, &["scan", "--prefix", "k", "--stale-ok"]).expect(0);
    assert_eq!(stale_scan.stdout.lines().count(), 20);

    // SIGKILL the leader's process: the others elect a new leader and keep serving.
    let pos = nodes.iter().position(|n| n.id == leader).unwrap();
    let mut killed = nodes.remove(pos);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    for i in 20..30 {
        let (k, v) = (format!("k{i:03}"), format!("v{i}"));
        kvc(root, &all, &["put", &k, &v]).expect(0);
        acked.push((k, v));
    }
    let s = wait_for(root, &all, "a new leader", |s| {
        s["leader"].as_u64().is_some_and(|l| l != leader)
    });
    assert_eq!(ids(&s["voters"]), [1, 2, 3]);

    // No acknowledged write is lost: every one reads back, linearizably, and scans in order.
    for (k, v) in &acked {
        let r = kvc(root, &all, &["get", k]).expect(0);
        assert_eq!(r.stdout, format!("{v}\n"), "{k} lost");
    }
    let expected: String = acked
        .iter()
        .filter(|(k, _)| k.starts_with('k'))
        .map(|(k, v)| format!("{k}\t{v}\n"))
        .collect();
    assert_eq!(
        kvc(root, &all, &["scan", "--prefix", "k"]).expect(0).stdout,
        expected
    );
    kvc(root, &all, &["get", "greeting"]).expect(1);

    // The survivors logged nothing alarming.
    for n in &nodes {
        assert!(
            std::fs::read_to_string(&n.stderr).unwrap().is_empty(),
            "node {} wrote to stderr",
            n.id
        );
    }

    // A node's directory is not a local store: local commands refuse it and change nothing.
    let n1 = root.join("n1");
    drop(killed);
    drop(nodes);
    let before = files(&n1);
    for args in [&["put", "a", "b"][..], &["get", "a"], &["load", "-"]] {
        let r = kv(&n1, args).expect(2);
        assert!(
            r.one_line_error().contains("replicated node"),
            "{}",
            r.stderr
        );
    }
    assert!(
        before == files(&n1),
        "a refused command changed the node's files"
    );
}

#[test]
fn serve_refuses_bad_input_and_changes_nothing() {
    let tmp = store_with(&[("a", "1")], true);
    let dir = db(&tmp);
    let before = files(&dir);
    let serve = [
        "serve",
        "--id",
        "1",
        "--raft-listen",
        "127.0.0.1:0",
        "--listen",
    ];
    let refused = |extra: &[&str], needle: &str| {
        let mut args = serve.to_vec();
        args.extend_from_slice(extra);
        let r = kv(&dir, &args).expect(2);
        assert!(r.one_line_error().contains(needle), "{}", r.stderr);
    };
    refused(&["127.0.0.1:0"], "holds a local store");
    refused(&["no-port"], "not a host:port");
    refused(&["127.0.0.1:0", "--cluster", "127.0.0.1:1"], "--cluster");
    refused(&["127.0.0.1:0", "--stale-ok"], "--stale-ok");
    let r = kv(
        &dir,
        &[
            "serve",
            "--id",
            "0",
            "--listen",
            "x:1",
            "--raft-listen",
            "x:2",
        ],
    )
    .expect(2);
    assert!(r.one_line_error().contains("--id"), "{}", r.stderr);
    assert!(before == files(&dir), "a refused serve changed the store");
}
