//! Every command, run as the real binary.

mod support;
use support::*;

#[test]
fn put_get_delete_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    kv(&dir, &["put", "k1", "v1"]).expect(0);
    let r = kv(&dir, &["get", "k1"]).expect(0);
    assert_eq!(r.stdout, "v1\n");
    let r = kv(&dir, &["get", "missing"]).expect(1);
    assert_eq!(r.stderr, "not found\n");
    assert_eq!(r.stdout, "");
    kv(&dir, &["delete", "k1"]).expect(0);
    kv(&dir, &["get", "k1"]).expect(1);
    kv(&dir, &["delete", "never-there"]).expect(0);
    // A value from stdin, byte for byte.
    kv_in(&dir, &["put", "s", "-"], b"from\nstdin").expect(0);
    assert_eq!(kv(&dir, &["get", "s"]).expect(0).stdout, "from\\nstdin\n");
    let r = kv(&dir, &["get", "s", "--json"]).expect(0);
    assert_eq!(r.stdout.trim(), r#"{"key":"s","value":"from\nstdin"}"#);
}

#[test]
fn kv_dir_env_and_default_dir() {
    let tmp = tempfile::tempdir().unwrap();
    kv_bare(tmp.path(), &["put", "a", "1"]).expect(0);
    assert!(
        tmp.path().join("kv-data").join("CURRENT").is_file(),
        "default ./kv-data"
    );
    let other = tmp.path().join("env-db");
    let with_env = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kv"))
            .env("KV_DIR", &other)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(with_env(&["put", "b", "2"]).status.success());
    assert_eq!(with_env(&["get", "b"]).stdout, b"2\n");
    assert!(other.join("CURRENT").is_file(), "KV_DIR chose the store");
    kv_bare(tmp.path(), &["get", "b"]).expect(1);
}

#[test]
fn scan_ranges_prefix_limit_reverse_json() {
    let tmp = store_with(
        &[
            ("a", "1"),
            ("b1", "2"),
            ("b2", "3"),
            ("b3", "4"),
            ("c", "5"),
        ],
        false,
    );
    let dir = db(&tmp);
    let scan = |args: &[&str]| kv(&dir, &[&["scan"], args].concat()).expect(0).stdout;
    assert_eq!(scan(&[]), "a\t1\nb1\t2\nb2\t3\nb3\t4\nc\t5\n");
    assert_eq!(scan(&["--from", "b2"]), "b2\t3\nb3\t4\nc\t5\n");
    assert_eq!(scan(&["--to", "b2"]), "a\t1\nb1\t2\n");
    assert_eq!(scan(&["--prefix", "b"]), "b1\t2\nb2\t3\nb3\t4\n");
    assert_eq!(
        scan(&["--prefix", "b", "--from", "b2", "--to", "c"]),
        "b2\t3\nb3\t4\n"
    );
    assert_eq!(scan(&["--prefix", "b", "--to", "b2"]), "b1\t2\n");
    assert_eq!(scan(&["--limit", "2"]), "a\t1\nb1\t2\n");
    assert_eq!(scan(&["--reverse", "--limit", "2"]), "c\t5\nb3\t4\n");
    assert_eq!(
        scan(&["--prefix", "b", "--reverse"]),
        "b3\t4\nb2\t3\nb1\t2\n"
    );
    assert_eq!(scan(&["--prefix", "zz"]), "");
    assert_eq!(scan(&["--from", "c", "--to", "a"]), "");
    assert_eq!(
        scan(&["--json", "--prefix", "b", "--limit", "1"]),
        "{\"key\":\"b1\",\"value\":\"2\"}\n"
    );
}

#[test]
fn load_tsv_json_and_stdin_with_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let file = tmp.path().join("in.tsv");
    let tsv: String = (0..2500)
        .map(|i| format!("key{i:05}\tvalue {i}\n"))
        .collect();
    std::fs::write(&file, tsv).unwrap();
    let r = kv(
        &dir,
        &["load", file.to_str().unwrap(), "--batch-size", "1000"],
    )
    .expect(0);
    assert!(r.stdout.starts_with("loaded 2500 records"), "{}", r.stdout);
    assert!(
        r.stdout.contains("in 3 batches") && r.stdout.contains("records/s"),
        "{}",
        r.stdout
    );
    assert_eq!(
        kv(&dir, &["get", "key01234"]).expect(0).stdout,
        "value 1234\n"
    );
    let json = "{\"key\":\"j1\",\"value\":\"one\"}\n{\"key\":\"j2\",\"value_hex\":\"00ff\"}\n";
    kv_in(&dir, &["load", "--json", "-"], json.as_bytes()).expect(0);
    assert_eq!(kv(&dir, &["get", "j1"]).expect(0).stdout, "one\n");
    assert_eq!(kv(&dir, &["get", "j2"]).expect(0).stdout, "\\x00\\xff\n");
    let r = kv(&dir, &["scan", "--prefix", "j2", "--json"]).expect(0);
    assert_eq!(r.stdout, "{\"key\":\"j2\",\"value_hex\":\"00ff\"}\n");
    // What scan prints, load reads back.
    let dump = kv(&dir, &["scan"]).expect(0).stdout;
    let copy = tmp.path().join("copy");
    kv_in(&copy, &["load", "-"], dump.as_bytes()).expect(0);
    assert_eq!(kv(&copy, &["scan"]).expect(0).stdout, dump);
}

#[test]
fn flush_checkpoint_stats_and_dumps() {
    let tmp = store_with(&[("apple", "red"), ("pear", "green")], false);
    let dir = db(&tmp);
    kv(&dir, &["delete", "pear"]).expect(0);
    let r = kv(&dir, &["dump", "wal"]).expect(0);
    assert!(
        r.stdout.contains("PUT\tapple\tred") && r.stdout.contains("DEL\tpear"),
        "{}",
        r.stdout
    );
    let r = kv(&dir, &["flush"]).expect(0);
    assert!(
        r.stdout.starts_with("flushed: 1 table file(s) now (1 new)"),
        "{}",
        r.stdout
    );
    let table = tables(&dir).pop().expect("a table after flush");
    let r = kv(&dir, &["dump", "sst", table.to_str().unwrap()]).expect(0);
    assert!(
        r.stdout.contains("# entries 3 (1 tombstones)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("apple\t1\tPUT\tred") && r.stdout.contains("pear\t3\tDEL"),
        "{}",
        r.stdout
    );
    let r = kv(&dir, &["dump", "manifest"]).expect(0);
    assert!(
        r.stdout.contains("+ L0") && r.stdout.contains("# live: 1 table(s)"),
        "{}",
        r.stdout
    );

    let ck = tmp.path().join("ck");
    let r = kv(&dir, &["checkpoint", ck.to_str().unwrap()]).expect(0);
    assert!(r.stdout.contains("checkpoint written"), "{}", r.stdout);
    assert_eq!(kv(&ck, &["scan"]).expect(0).stdout, "apple\tred\n");
    // A checkpoint into a non-empty directory is refused.
    let r = kv(&dir, &["checkpoint", ck.to_str().unwrap()]).expect(2);
    assert!(r.one_line_error().contains("not empty"));

    let r = kv(&dir, &["stats"]).expect(0);
    for word in [
        "L0",
        "memtable",
        "wal",
        "block cache",
        "write amp",
        "space amp",
        "write stalls",
    ] {
        assert!(r.stdout.contains(word), "stats lacks {word}: {}", r.stdout);
    }
    let r = kv(&dir, &["stats", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["levels"][0]["files"], 1);
    assert!(v["write_amplification"].is_number());
}

#[test]
fn verify_a_sound_store() {
    let tmp = store_with(&[("a", "1"), ("b", "2")], true);
    let dir = db(&tmp);
    kv(&dir, &["put", "c", "3"]).expect(0); // one record left in the WAL
    let r = kv(&dir, &["verify"]).expect(0);
    assert!(r.stdout.contains("sound"), "{}", r.stdout);
    assert!(
        r.stdout.contains("1 of them after the last flush"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("PROBLEM"));
}

#[test]
fn bench_runs_each_workload_small() {
    let tmp = tempfile::tempdir().unwrap();
    for w in [
        "fillseq",
        "fillrandom",
        "readrandom",
        "readseq",
        "overwrite",
        "scan",
    ] {
        let dir = tmp.path().join(w);
        let r = kv(
            &dir,
            &["bench", "--workload", w, "--num", "400", "--threads", "2"],
        )
        .expect(0);
        assert!(
            r.stdout.contains("ops/s") && r.stdout.contains("p99.9"),
            "{w}: {}",
            r.stdout
        );
    }
    let r = kv(
        &tmp.path().join("sync"),
        &["bench", "--workload", "fillsync", "--num", "20"],
    )
    .expect(0);
    assert!(r.stdout.contains("fillsync"), "{}", r.stdout);
    // Without --dir it runs in a temporary directory and leaves nothing behind in the cwd.
    let r = kv_bare(
        tmp.path(),
        &["bench", "--workload", "readrandom", "--num", "200"],
    )
    .expect(0);
    assert!(r.stdout.contains("(200 of 200 found)"), "{}", r.stdout);
    assert!(!tmp.path().join("kv-data").exists());
    // It never benchmarks over existing data.
    let dir = tmp.path().join("fillseq");
    let before = files(&dir);
    let r = kv(&dir, &["bench", "--num", "10"]).expect(2);
    assert!(r.one_line_error().contains("needs an empty --dir"));
    assert_eq!(files(&dir), before);
}

#[test]
fn tour_walks_through_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let r = kv_bare(tmp.path(), &["tour"]).expect(0);
    for step in [
        "$ kv put",
        "$ kv get user:2",
        "grace",
        "$ kv scan",
        "$ kv load",
        "$ kv flush",
        "$ kv stats",
        "$ kv verify",
        "sound",
        "$ kv crash-demo --cycles 3",
        "survived 3 kill(s)",
    ] {
        assert!(
            r.stdout.contains(step),
            "tour lacks {step:?}:\n{}",
            r.stdout
        );
    }
    assert!(
        !tmp.path().join("kv-data").exists(),
        "the tour uses a temporary store"
    );
}

#[test]
fn help_documents_exit_codes_and_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let r = kv_bare(tmp.path(), &["--help"]).expect(0);
    for word in [
        "Exit codes",
        "0  success",
        "1  not found",
        "2  usage error",
        "3  storage error",
        "put",
        "scan",
        "load",
        "flush",
        "compact",
        "checkpoint",
        "stats",
        "verify",
        "dump",
        "bench",
        "crash-demo",
        "tour",
        "KV_DIR",
    ] {
        assert!(r.stdout.contains(word), "help lacks {word:?}");
    }
    assert!(
        !r.stdout.contains("crash-writer"),
        "the child command stays hidden"
    );
}

#[test]
fn a_closed_output_pipe_ends_scan_quietly() {
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let input: String = (0..20_000)
        .map(|i| format!("key{i:06}\tvalue {i}\n"))
        .collect();
    kv_in(&dir, &["load", "-"], input.as_bytes()).expect(0);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kv"))
        .arg("--dir")
        .arg(&dir)
        .arg("scan")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    out.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"key000000\t");
    drop(out); // like `kv scan | head -1`
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn compact_merges_tables_and_keeps_contents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    for round in 0..3 {
        let input: String = (0..500)
            .map(|i| format!("k{i:03}\tv{i}-{round}\n"))
            .collect();
        kv_in(&dir, &["load", "-"], input.as_bytes()).expect(0);
        kv(&dir, &["flush"]).expect(0);
    }
    kv(&dir, &["delete", "k007"]).expect(0);
    let before = kv(&dir, &["scan"]).expect(0).stdout;
    assert_eq!(before.lines().count(), 499);
    let r = kv(&dir, &["compact"]).expect(0);
    assert!(
        r.stdout.starts_with("compacted in") && r.stdout.contains("now L6 1 file(s)"),
        "{}",
        r.stdout
    );
    assert_eq!(
        tables(&dir).len(),
        1,
        "three tables and a tombstone merged into one"
    );
    assert_eq!(kv(&dir, &["scan"]).expect(0).stdout, before);
    let m = kv(&dir, &["dump", "manifest"]).expect(0).stdout;
    assert!(
        m.contains("# live: 1 table(s)") && !m.contains("\nL0 "),
        "{m}"
    );
    kv(&dir, &["verify"]).expect(0);
    let r = kv(&dir, &["compact", "--from", "k100", "--to", "k200"]).expect(0);
    assert!(r.stdout.starts_with("compacted in"), "{}", r.stdout);
    assert_eq!(kv(&dir, &["scan"]).expect(0).stdout, before);
}
