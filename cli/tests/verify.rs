//! `kv verify` catches damage in each kind of file, naming the file and offset.

mod support;
use support::*;

fn flip(path: &std::path::Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn verify_catches_a_byte_flipped_in_an_sstable() {
    let pairs: Vec<(String, String)> = (0..300)
        .map(|i| (format!("key{i:04}"), format!("value {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let tmp = store_with(&refs, true);
    let dir = db(&tmp);
    kv(&dir, &["verify"]).expect(0);
    let table = tables(&dir).pop().unwrap();
    let name = table.file_name().unwrap().to_str().unwrap().to_string();
    flip(&table, 100); // inside the first data block
    let r = kv(&dir, &["verify"]).expect(3);
    let problem = r
        .stdout
        .lines()
        .find(|l| l.contains("PROBLEM"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        problem.contains(&name) && problem.contains("offset"),
        "{problem}"
    );
    assert!(
        r.one_line_error().contains("1 problem(s) found"),
        "{}",
        r.stderr
    );
    // Reading through the damage is an error naming the table and suggesting verify, never wrong data.
    let r = kv(&dir, &["scan"]).expect(3);
    let line = r.one_line_error();
    assert!(line.contains(&name) && line.contains("kv verify"), "{line}");
}

#[test]
fn verify_catches_a_truncated_table_and_a_missing_one() {
    let tmp = store_with(&[("a", "1")], true);
    let dir = db(&tmp);
    kv(&dir, &["put", "b", "2"]).expect(0);
    kv(&dir, &["flush"]).expect(0);
    let ts = tables(&dir);
    assert_eq!(ts.len(), 2);
    let bytes = std::fs::read(&ts[0]).unwrap();
    std::fs::write(&ts[0], &bytes[..bytes.len() - 10]).unwrap();
    std::fs::remove_file(&ts[1]).unwrap();
    let r = kv(&dir, &["verify"]).expect(3);
    let problems: Vec<&str> = r.stdout.lines().filter(|l| l.contains("PROBLEM")).collect();
    assert!(
        problems.iter().any(|l| l.contains("missing")),
        "{}",
        r.stdout
    );
    assert!(
        problems.iter().all(|l| l.contains("offset")),
        "{}",
        r.stdout
    );
    assert!(problems.len() >= 2, "{}", r.stdout);
}

#[test]
fn verify_catches_a_byte_flipped_in_the_wal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let input: String = (0..200)
        .map(|i| format!("k{i:03}\tvalue number {i}\n"))
        .collect();
    kv_in(&dir, &["load", "--batch-size", "1", "-"], input.as_bytes()).expect(0);
    let wal_dir = dir.join("wal");
    let seg = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .max()
        .unwrap();
    let len = std::fs::metadata(&seg).unwrap().len() as usize;
    flip(&seg, len / 2);
    let r = kv(&dir, &["verify"]).expect(3);
    let problem = r
        .stdout
        .lines()
        .find(|l| l.contains("PROBLEM"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        problem.contains(seg.file_name().unwrap().to_str().unwrap()) && problem.contains("offset"),
        "{problem}"
    );
}
