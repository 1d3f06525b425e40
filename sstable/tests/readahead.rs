//! A forward scan reads blocks that are not cached several at a time (the cursor's read-ahead):
//! fewer reads than blocks, the same entries, a read error still fails the scan naming the file,
//! and a damaged block read ahead still fails its checksum when the cursor reaches it.

mod support;

use common::{FaultKind, FaultyFs, FileSystem, InternalIterator, MemFs, Op};
use sstable::{BlockCache, Error, Table, TableOptions};
use std::path::Path;
use std::sync::Arc;
use support::*;

fn small_blocks() -> TableOptions {
    TableOptions {
        block_size_bytes: 256,
        ..TableOptions::default()
    }
}

#[test]
fn a_forward_scan_reads_blocks_several_at_a_time() {
    let model = mixed_model(21);
    let (mem, props) = mem_table(&model, small_blocks());
    assert!(props.data_blocks > 40, "{} blocks", props.data_blocks);
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for cache in [None, Some(BlockCache::new(1 << 20))] {
        let fs = FaultyFs::new(mem.shared());
        let t = Table::open(fs.shared(), Path::new("/db/t.sst"), 1, cache).unwrap();
        let opened = fs.count(Op::Read);
        assert_eq!(scan_forward(&t).unwrap(), expected);
        let reads = fs.count(Op::Read) - opened;
        assert!(
            reads * 4 < props.data_blocks,
            "{reads} reads for {} blocks",
            props.data_blocks
        );
        // Backward and again forward: the same entries (the second forward scan of the
        // cached table reads nothing).
        let mut back = scan_backward(&t).unwrap();
        back.reverse();
        assert_eq!(back, expected);
        assert_eq!(scan_forward(&t).unwrap(), expected);
    }
}

#[test]
fn a_read_error_ahead_fails_the_scan() {
    let model = mixed_model(22);
    let (mem, _) = mem_table(&model, small_blocks());
    let fs = FaultyFs::new(mem.shared());
    let t = Table::open(fs.shared(), Path::new("/db/t.sst"), 1, None).unwrap();
    let mut it = t.iter();
    it.seek_to_first().unwrap();
    // The next read (the first read ahead) fails.
    fs.fail(Op::Read, 0, FaultKind::Error);
    let e = loop {
        match it.next() {
            Ok(()) => assert!(it.valid(), "the scan ended without meeting the fault"),
            Err(e) => break e,
        }
    };
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert_eq!(e.file(), Path::new("/db/t.sst"));
    assert!(!it.valid());
}

#[test]
fn a_damaged_block_read_ahead_fails_its_checksum() {
    let model = mixed_model(23);
    let (mem, _) = mem_table(&model, small_blocks());
    let path = Path::new("/db/t.sst");
    let t = Table::open(mem.shared(), path, 1, None).unwrap();
    // Damage the fifth data block, which the scan reaches through a read ahead.
    let victim = t.index().get(4).unwrap().handle;
    let mut bytes = vec![0u8; mem.file_size(path).unwrap() as usize];
    mem.open_read(path)
        .unwrap()
        .read_exact_at(&mut bytes, 0)
        .unwrap();
    bytes[victim.offset as usize + 1] ^= 0x40;
    let damaged = MemFs::new();
    damaged.create_dir_all(Path::new("/db")).unwrap();
    let mut f = damaged.create(path).unwrap();
    f.append(&bytes).unwrap();
    f.sync_all().unwrap();
    drop(f);
    let t: Arc<Table> = Table::open(damaged.shared(), path, 1, None).unwrap();
    let e = scan_forward(&t).unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e:?}");
    assert_eq!(e.file(), path);
}
