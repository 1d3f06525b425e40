//! Bad input: a one-line message, the documented exit code, and an unchanged store.

mod support;
use std::path::Path;
use support::*;

/// Runs `args` against a store holding a table and a WAL record, and checks that it fails
/// with `code`, one line naming the problem (containing `needle`), and no byte changed.
#[track_caller]
fn refused(args: &[&str], stdin: &[u8], code: i32, needle: &str) {
    let tmp = store_with(&[("a", "1"), ("b", "2")], true);
    let dir = db(&tmp);
    kv(&dir, &["put", "c", "3"]).expect(0);
    refused_in(&dir, args, stdin, code, needle);
}

#[track_caller]
fn refused_in(dir: &Path, args: &[&str], stdin: &[u8], code: i32, needle: &str) {
    let before = files(dir);
    let r = kv_in(dir, args, stdin).expect(code);
    let line = r.one_line_error();
    assert!(line.contains(needle), "{args:?}: {line:?} lacks {needle:?}");
    assert_eq!(files(dir), before, "{args:?} changed the store");
    assert_eq!(kv(dir, &["scan"]).expect(0).stdout, "a\t1\nb\t2\nc\t3\n");
}

#[test]
fn usage_errors_exit_2_and_change_nothing() {
    refused(&["frobnicate"], b"", 2, "frobnicate");
    refused(&["put", "--frob", "k", "v"], b"", 2, "--frob");
    refused(&["put", "k"], b"", 2, "VALUE");
    refused(&["get"], b"", 2, "KEY");
    refused(&["scan", "--limit", "many"], b"", 2, "many");
    refused(&["--hex", "put", "6b", "zz"], b"", 2, "invalid hex");
    refused(&["--hex", "put", "abc", "00"], b"", 2, "odd number");
    refused(&["--hex", "get", "0g"], b"", 2, "invalid hex");
    refused(&["--hex", "scan", "--from", "x"], b"", 2, "--from");
    refused(&["--hex", "compact", "--to", "x"], b"", 2, "--to");
    refused(&["--hex", "put", "6b", "-"], b"not hex", 2, "invalid hex");
    refused(&["bench", "--workload", "nope"], b"", 2, "nope");
    refused(&["crash-demo", "--policy", "never"], b"", 2, "never");
    refused(&["crash-demo"], b"", 2, "needs an empty --dir");
    refused(&["dump", "sst", "/nonexistent.sst"], b"", 2, "not a file");
}

#[test]
fn malformed_load_input_loads_nothing() {
    // The bad line is the third: the first two must not be written either.
    refused(&["load", "-"], b"x\t1\ny\t2\nno tab here\n", 2, "line 3");
    refused(
        &["load", "-"],
        b"x\t1\nbad\\qescape\tv\n",
        2,
        "line 2: key: bad escape",
    );
    refused(&["--hex", "load", "-"], b"00\t0g\n", 2, "line 1: value");
    refused(
        &["load", "--json", "-"],
        b"{\"key\":\"x\",\"value\":\"1\"}\n{\"key\":1}\n",
        2,
        "line 2",
    );
    refused(&["load", "/nonexistent/input.tsv"], b"", 2, "cannot open");
}

#[test]
fn dir_that_is_a_file_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    std::fs::write(&file, b"precious").unwrap();
    for args in [
        &["put", "a", "b"][..],
        &["get", "a"],
        &["scan"],
        &["verify"],
        &["stats"],
        &["load", "-"],
    ] {
        let r = kv(&file, args).expect(2);
        assert!(
            r.one_line_error().contains("is a file"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
}

#[test]
fn missing_store_is_a_storage_error_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nothing-here");
    for args in [
        &["get", "a"][..],
        &["scan"],
        &["delete", "a"],
        &["stats"],
        &["verify"],
        &["flush"],
        &["dump", "wal"],
    ] {
        let r = kv(&dir, args).expect(3);
        assert!(
            r.one_line_error().contains("no store at"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert!(!dir.exists());
}

#[test]
fn a_locked_store_is_refused_unchanged() {
    let tmp = store_with(&[("a", "1"), ("b", "2")], true);
    let dir = db(&tmp);
    kv(&dir, &["put", "c", "3"]).expect(0);
    let before = files(&dir);
    let fs = common::RealFs::shared();
    let lock = fs.lock(&dir.join("LOCK")).expect("take the store's lock");
    for args in [
        &["put", "x", "y"][..],
        &["get", "a"],
        &["scan"],
        &["delete", "a"],
        &["verify"],
        &["flush"],
        &["dump", "manifest"],
    ] {
        let r = kv(&dir, args).expect(3);
        assert!(
            r.one_line_error().contains("locked by another process"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(files(&dir), before);
    drop(lock);
    kv(&dir, &["get", "a"]).expect(0);
}

#[test]
fn a_corrupt_store_names_the_file_and_suggests_verify() {
    let tmp = store_with(&[("a", "1"), ("b", "2")], true);
    let dir = db(&tmp);
    // A manifest that is not one.
    let manifest = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("MANIFEST-")
        })
        .unwrap();
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&manifest, &bytes).unwrap();
    let before = files(&dir);
    for args in [&["get", "a"][..], &["put", "x", "y"], &["scan"]] {
        let r = kv(&dir, args).expect(3);
        let line = r.one_line_error();
        assert!(
            line.contains("MANIFEST-") && line.contains("kv verify"),
            "{args:?}: {line}"
        );
    }
    assert_eq!(files(&dir), before);
    let r = kv(&dir, &["verify"]).expect(3);
    assert!(
        r.stdout.contains("PROBLEM") && r.stdout.contains("MANIFEST-"),
        "{}",
        r.stdout
    );
}

#[test]
fn checkpoint_into_the_store_or_a_file_is_refused() {
    let tmp = store_with(&[("a", "1"), ("b", "2")], true);
    let dir = db(&tmp);
    kv(&dir, &["put", "c", "3"]).expect(0);
    let inside = dir.join("ck");
    refused_in(
        &dir,
        &["checkpoint", inside.to_str().unwrap()],
        b"",
        2,
        "inside the store",
    );
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    refused_in(
        &dir,
        &["checkpoint", file.to_str().unwrap()],
        b"",
        2,
        "is a file",
    );
}
