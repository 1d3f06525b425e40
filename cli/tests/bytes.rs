//! Keys and values are bytes: `--hex` both ways; otherwise escaped output that stays one line.

mod support;
use support::*;

#[test]
fn hex_reads_and_prints_hex() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    kv(&dir, &["--hex", "put", "00ff0a", "DEADbeef"]).expect(0);
    assert_eq!(
        kv(&dir, &["--hex", "get", "00ff0a"]).expect(0).stdout,
        "deadbeef\n"
    );
    assert_eq!(
        kv(&dir, &["get", "--hex", "00ff0a"]).expect(0).stdout,
        "deadbeef\n",
        "--hex after the command too"
    );
    assert_eq!(
        kv(&dir, &["get", "00ff0a"]).expect(1).stderr,
        "not found\n",
        "without --hex the key is literal"
    );
    assert_eq!(
        kv(&dir, &["--hex", "scan"]).expect(0).stdout,
        "00ff0a\tdeadbeef\n"
    );
    assert_eq!(
        kv(&dir, &["scan"]).expect(0).stdout,
        "\\x00\\xff\\n\t\\xde\\xad\\xbe\\xef\n"
    );
    assert_eq!(
        kv(&dir, &["--hex", "scan", "--json"]).expect(0).stdout,
        "{\"key\":\"00ff0a\",\"value\":\"deadbeef\"}\n"
    );
    assert_eq!(
        kv(&dir, &["--hex", "scan", "--prefix", "00"])
            .expect(0)
            .stdout
            .lines()
            .count(),
        1
    );
    assert_eq!(
        kv(&dir, &["--hex", "scan", "--from", "01"])
            .expect(0)
            .stdout,
        ""
    );
    kv_in(&dir, &["--hex", "put", "01", "-"], b"6869\n").expect(0);
    assert_eq!(kv(&dir, &["get", "--hex", "01"]).expect(0).stdout, "6869\n");
    kv(&dir, &["--hex", "delete", "00ff0a"]).expect(0);
    kv(&dir, &["--hex", "get", "00ff0a"]).expect(1);
}

#[test]
fn every_byte_is_escaped_printably_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let all: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
    kv(&dir, &["--hex", "put", "6b", &all]).expect(0);
    let out = kv(&dir, &["get", "k"]).expect(0).stdout;
    let line = out.strip_suffix('\n').unwrap();
    assert!(
        line.bytes().all(|b| (0x20..=0x7e).contains(&b)),
        "only printable ASCII: {line}"
    );
    assert!(line.starts_with("\\x00\\x01"), "{line}");
    assert!(line.contains("\\t\\n\\x0b\\x0c\\r"), "{line}");
    assert!(line.contains(" !\"#$%&'()*+,-./0123456789"), "{line}");
    assert!(line.contains("[\\\\]"), "backslash doubled: {line}");
    assert!(line.ends_with("\\xfe\\xff"), "{line}");
    // The escaped scan output loads back to the same bytes.
    let scan = kv(&dir, &["scan"]).expect(0).stdout;
    assert_eq!(scan.lines().count(), 1);
    let copy = tmp.path().join("copy");
    kv_in(&copy, &["load", "-"], scan.as_bytes()).expect(0);
    assert_eq!(
        kv(&copy, &["--hex", "get", "6b"]).expect(0).stdout,
        format!("{all}\n")
    );
    // Non-UTF-8 bytes in JSON come as *_hex fields.
    let r = kv(&dir, &["get", "k", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["key"], "k");
    assert_eq!(v["value_hex"], all.as_str());
}

#[test]
fn tabs_and_newlines_in_keys_keep_lines_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    kv(&dir, &["put", "a\tb", "line1\nline2\r"]).expect(0);
    kv(&dir, &["put", "back\\slash", "v"]).expect(0);
    let out = kv(&dir, &["scan"]).expect(0).stdout;
    assert_eq!(out, "a\\tb\tline1\\nline2\\r\nback\\\\slash\tv\n");
    assert_eq!(
        kv(&dir, &["get", "a\tb"]).expect(0).stdout,
        "line1\\nline2\\r\n"
    );
}
