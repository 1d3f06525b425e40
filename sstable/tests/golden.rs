//! Golden files: a table written by format version 1 is checked in under
//! `tests/fixtures/sstable/` and must read back, forever, with the same entries and the same
//! bloom filter answers (the filter's hash reaches the disk; if it ever changed, old filters
//! would give false negatives).
//!
//! To regenerate after an intentional format change (bump `FORMAT_VERSION` and add a new
//! fixture next to the old one; never overwrite an old one):
//! `SSTABLE_WRITE_GOLDEN=1 cargo test -p sstable --test golden`.

mod support;

use common::{InternalKey, MemFs, RealFs, ValueKind};
use sstable::{Compression, Table, TableOptions};
use std::path::{Path, PathBuf};
use support::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sstable/v1_table.sst")
}

/// The golden table's entries. Frozen: never change this function.
fn golden_model() -> Model {
    let mut r = SplitMix(0x5eed_2026);
    let mut m = Model::new();
    m.insert(
        InternalKey::new(Vec::new(), 1, ValueKind::Put),
        b"the empty key".to_vec(),
    );
    for i in 0..120u64 {
        let key = format!("golden-{i:04}").into_bytes();
        for v in 0..(1 + i % 3) {
            let seq = 100 + i * 3 + v;
            let kind = if (i + v) % 7 == 3 {
                ValueKind::Delete
            } else {
                ValueKind::Put
            };
            let value = match (kind, i % 4) {
                (ValueKind::Delete, _) => Vec::new(),
                (_, 0) => Vec::new(),
                (_, 1) => r.bytes(24),
                _ => format!("value of {i} version {v} ").repeat(4).into_bytes(),
            };
            m.insert(InternalKey::new(key.clone(), seq, kind), value);
        }
    }
    m
}

fn golden_options() -> TableOptions {
    TableOptions {
        block_size_bytes: 512,
        compression: Compression::Lz4,
        bloom_bits_per_key: 10,
        block_restart_interval: 4,
    }
}

/// Probe keys `probe-0000`..`probe-1999` that the golden filter answers "maybe" for. Recorded
/// when the fixture was written; the same bits and hash must give the same answers forever.
const FILTER_POSITIVES: &[u32] = &[
    198, 309, 444, 479, 735, 808, 893, 937, 1189, 1373, 1376, 1576, 1666, 1756, 1965,
];

fn probe(i: u32) -> Vec<u8> {
    format!("probe-{i:04}").into_bytes()
}

#[test]
fn writer_still_writes_the_golden_bytes() {
    let model = golden_model();
    let (fs, _) = mem_table(&model, golden_options());
    let today = fs.read_all(Path::new("/db/t.sst")).unwrap();
    if std::env::var_os("SSTABLE_WRITE_GOLDEN").is_some() {
        std::fs::create_dir_all(fixture().parent().unwrap()).unwrap();
        std::fs::write(fixture(), &today).unwrap();
        let t = Table::open(fs.shared(), Path::new("/db/t.sst"), 1, None).unwrap();
        let positives: Vec<u32> = (0..2000).filter(|&i| t.may_contain(&probe(i))).collect();
        eprintln!("FILTER_POSITIVES = {positives:?}");
    }
    let golden = std::fs::read(fixture()).expect("the golden fixture is checked in");
    assert!(
        today == golden,
        "the writer no longer produces the version-1 golden bytes: if the format changed on \
         purpose, bump FORMAT_VERSION and add a new fixture (keep reading the old one)"
    );
}

#[test]
fn golden_table_reads_back() {
    let model = golden_model();
    let t = Table::open(RealFs::shared(), &fixture(), 1, None).unwrap();
    let p = t.properties();
    assert_eq!(p.entries, model.len() as u64);
    assert!(p.data_blocks > 5, "{p:?}");
    assert!(
        p.data_stored_bytes < p.data_uncompressed_bytes,
        "some blocks are lz4: {p:?}"
    );
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(scan_forward(&t).unwrap(), expected);
    let mut back = scan_backward(&t).unwrap();
    back.reverse();
    assert_eq!(back, expected);
    for k in model.keys() {
        for s in [k.seq, k.seq + 1, k.seq.saturating_sub(1)] {
            assert_eq!(
                t.get(&k.user_key, s).unwrap(),
                model_get(&model, &k.user_key, s)
            );
        }
    }
    assert_eq!(t.verify().unwrap().entries, model.len() as u64);
}

#[test]
fn golden_filter_answers_never_change() {
    let bytes = std::fs::read(fixture()).unwrap();
    let fs = MemFs::new();
    let mut f = common::FileSystem::create(&fs, Path::new("/g.sst")).unwrap();
    f.append(&bytes).unwrap();
    drop(f);
    let t = Table::open(fs.shared(), Path::new("/g.sst"), 1, None).unwrap();
    for k in golden_model().keys() {
        assert!(
            t.may_contain(&k.user_key),
            "false negative for {:?}",
            k.user_key
        );
    }
    let positives: Vec<u32> = (0..2000).filter(|&i| t.may_contain(&probe(i))).collect();
    assert_eq!(positives, FILTER_POSITIVES);
    // At 10 bits per key the false-positive rate stays low.
    assert!(positives.len() < 40, "{} of 2000", positives.len());
}

/// The hex dump in `docs/sstable-format.md` ("Worked example") is what the writer produces.
#[test]
fn format_doc_worked_example_is_exact() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/sstable-format.md"),
    )
    .unwrap();
    let section = &doc[doc
        .find("## Worked example")
        .expect("worked example section")..];
    let mut documented = Vec::new();
    for line in section
        .lines()
        .filter(|l| l.len() > 6 && l.as_bytes()[4] == b':')
    {
        let hex = line[5..].split("   ").next().unwrap();
        documented.extend(
            hex.split_whitespace()
                .map(|h| u8::from_str_radix(h, 16).unwrap()),
        );
    }
    let fs = MemFs::new();
    let path = Path::new("/t.sst");
    let opts = TableOptions {
        compression: Compression::None,
        ..TableOptions::default()
    };
    let mut b = sstable::TableBuilder::new(fs.shared(), path, opts).unwrap();
    b.add(&InternalKey::new(*b"apple", 2, ValueKind::Put), b"red")
        .unwrap();
    b.add(&InternalKey::new(*b"apricot", 1, ValueKind::Delete), b"")
        .unwrap();
    assert_eq!(b.finish().unwrap().file_size_bytes, 204);
    assert_eq!(fs.read_all(path).unwrap(), documented);
    assert_eq!(sstable::filter::bloom_hash(b"apple"), 0x9bd6_c11a_2c6b_f096);
}
