//! Helpers shared by the integration tests.
#![allow(dead_code)]

use common::MemFs;
use std::path::{Path, PathBuf};
use wal::blocking::Wal;
use wal::{FsyncPolicy, Position, Record, WalConfig};

pub const DIR: &str = "/wal";

pub fn config(fs: &MemFs, policy: FsyncPolicy) -> WalConfig {
    WalConfig {
        dir: PathBuf::from(DIR),
        fs: fs.shared(),
        fsync_policy: policy,
        ..Default::default()
    }
}

pub fn seg_path(id: u64) -> PathBuf {
    Path::new(DIR).join(format!("{id:020}.wal"))
}

/// Whether the first segment's bytes, as the OS has them (written, not necessarily synced),
/// hold `needle`.
pub fn file_has(fs: &MemFs, needle: &[u8]) -> bool {
    let data = fs.read_all(&seg_path(1)).unwrap();
    data.windows(needle.len()).any(|w| w == needle)
}

pub fn read_all(wal: &Wal) -> Vec<(Record, Position)> {
    let mut r = wal.read_from(Position::start()).unwrap();
    let mut out = Vec::new();
    while let Some(x) = r.next_record().unwrap() {
        out.push(x);
    }
    out
}

pub fn rec(i: usize, value_len: usize) -> Record {
    if i % 7 == 3 {
        Record::delete(format!("key-{i}"))
    } else {
        Record::put(format!("key-{i}"), vec![(i % 251) as u8; value_len])
    }
}
