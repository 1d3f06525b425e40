//! Golden file: a segment written by format version 1 (`tests/fixtures/v1/`, the worked example
//! of `docs/wal-format.md`, produced independently of this code from the spec). This code must
//! write exactly those bytes and read them back, forever.

mod util;

use common::{FileSystem, MemFs};
use std::path::Path;
use util::*;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Position, Record};

const FIXTURE: &[u8] = include_bytes!("fixtures/v1/00000000000000000001.wal");

fn records() -> Vec<Record> {
    vec![
        Record::put("k", "v"),
        Record::put("a", "1"),
        Record::delete("b"),
    ]
}

#[test]
fn writes_the_documented_bytes() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let p = wal.append(&records()[0]).unwrap();
    let ps = wal.append_batch(&records()[1..]).unwrap();
    assert_eq!(
        (p, ps[0], ps[1]),
        (
            Position::new(1, 32),
            Position::new(1, 45),
            Position::new(1, 58)
        )
    );
    wal.close().unwrap();
    assert_eq!(fs.read_all(&seg_path(1)).unwrap(), FIXTURE);
}

#[test]
fn reads_the_version_1_fixture() {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new(DIR)).unwrap();
    fs.create(&seg_path(1)).unwrap();
    fs.write_all(&seg_path(1), FIXTURE).unwrap();
    let (wal, info) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    assert_eq!(info.records_read, 3);
    assert_eq!(info.bytes_cut, 0);
    let got: Vec<Record> = read_all(&wal).into_iter().map(|(r, _)| r).collect();
    assert_eq!(got, records());
}
