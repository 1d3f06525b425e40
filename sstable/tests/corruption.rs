//! Bad files: truncation, a bad magic, an unknown version, and a flipped byte at every offset of
//! a table. Each gives an error that names the file (and, for a block, the block's offset):
//! never a panic, never wrong data, never a silent skip.

mod support;

use common::{FaultKind, FaultyFs, InternalKey, MemFs, Op, ValueKind};
use sstable::format::{FOOTER_SIZE, FORMAT_VERSION};
use sstable::{BlockCache, Compression, Error, Table, TableBuilder, TableOptions};
use std::path::Path;
use support::*;

const PATH: &str = "/db/t.sst";

/// Opens, scans, looks up every key and verifies; returns the first error. On success checks
/// the data is exactly the model's.
fn read_everything(fs: &MemFs, model: &Model) -> sstable::Result<()> {
    let t = Table::open(
        fs.shared(),
        Path::new(PATH),
        1,
        Some(BlockCache::new(1 << 20)),
    )?;
    let got = scan_forward(&t)?;
    let mut back = scan_backward(&t)?;
    back.reverse();
    for (k, _) in model.iter() {
        let want = model_get(model, &k.user_key, k.seq);
        assert_eq!(
            t.get(&k.user_key, k.seq)?,
            want,
            "wrong data from a corrupt table"
        );
    }
    t.verify()?;
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got, expected, "wrong data from a corrupt table");
    assert_eq!(back, expected, "wrong data from a corrupt table");
    Ok(())
}

fn assert_names_file(e: &Error) {
    assert!(e.is_corruption(), "not a corruption error: {e:?}");
    assert_eq!(e.file(), Path::new(PATH));
    assert!(
        e.to_string().contains(PATH),
        "message does not name the file: {e}"
    );
}

#[test]
fn truncated_files() {
    let model = mixed_model(1);
    let (fs, props) = mem_table(&model, TableOptions::default());
    let good = fs.read_all(Path::new(PATH)).unwrap();
    let len = good.len();
    assert_eq!(len as u64, props.file_size_bytes);
    for cut in [
        0,
        1,
        FOOTER_SIZE - 1,
        FOOTER_SIZE,
        len / 2,
        len - FOOTER_SIZE,
        len - 1,
    ] {
        fs.write_all(Path::new(PATH), &good[..cut]).unwrap();
        let e = Table::open(fs.shared(), Path::new(PATH), 1, None).unwrap_err();
        assert_names_file(&e);
        if cut < FOOTER_SIZE {
            assert!(e.to_string().contains("truncated"), "{e}");
        }
    }
}

#[test]
fn bad_magic_and_unknown_version() {
    let model = mixed_model(2);
    let (fs, _) = mem_table(&model, TableOptions::default());
    let good = fs.read_all(Path::new(PATH)).unwrap();
    let len = good.len();

    let mut bad = good.clone();
    bad[len - 1] ^= 0x20;
    fs.write_all(Path::new(PATH), &bad).unwrap();
    match Table::open(fs.shared(), Path::new(PATH), 1, None) {
        Err(e @ Error::BadMagic { offset, .. }) => {
            assert_eq!(offset, (len - 8) as u64);
            assert_names_file(&e);
        }
        other => panic!("expected BadMagic, got {other:?}"),
    }

    let mut bad = good.clone();
    bad[len - 12..len - 8].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    fs.write_all(Path::new(PATH), &bad).unwrap();
    match Table::open(fs.shared(), Path::new(PATH), 1, None) {
        Err(e @ Error::UnknownVersion { version, .. }) => {
            assert_eq!(version, FORMAT_VERSION + 1);
            assert_names_file(&e);
        }
        other => panic!("expected UnknownVersion, got {other:?}"),
    }

    fs.write_all(
        Path::new(PATH),
        b"definitely not a table, but longer than sixty-four bytes...........",
    )
    .unwrap();
    assert!(matches!(
        Table::open(fs.shared(), Path::new(PATH), 1, None),
        Err(Error::BadMagic { .. })
    ));
}

/// Flips one byte at every offset of the file, one at a time. Every byte of a table is under
/// a checksum or checked against a constant, so every flip must be reported, and a data
/// block's checksum error must name the block that holds the flipped byte.
#[test]
fn a_flipped_byte_anywhere_is_reported() {
    let model = mixed_model(3);
    for compression in [Compression::None, Compression::Lz4] {
        let options = TableOptions {
            block_size_bytes: 512,
            compression,
            ..TableOptions::default()
        };
        let (fs, props) = mem_table(&model, options);
        assert!(props.data_blocks > 10);
        let good = fs.read_all(Path::new(PATH)).unwrap();
        read_everything(&fs, &model).unwrap();
        let table = Table::open(fs.shared(), Path::new(PATH), 1, None).unwrap();
        let blocks: Vec<(u64, u64)> = table
            .index()
            .iter()
            .map(|e| (e.handle.offset, e.handle.end().unwrap()))
            .collect();
        drop(table);
        let step = std::env::var("SSTABLE_FLIP_STEP")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        for pos in (0..good.len()).step_by(step) {
            let mut bad = good.clone();
            bad[pos] ^= 0x01 << (pos % 8);
            fs.write_all(Path::new(PATH), &bad).unwrap();
            let e =
                read_everything(&fs, &model).expect_err(&format!("flip at {pos} went unnoticed"));
            assert_names_file(&e);
            if let Some(&(start, end)) = blocks
                .iter()
                .find(|(s, e)| (*s..*e).contains(&(pos as u64)))
            {
                match &e {
                    Error::ChecksumMismatch {
                        block,
                        block_offset,
                        ..
                    } => {
                        assert_eq!(
                            (*block, *block_offset),
                            ("data block", start),
                            "flip at {pos} in block {start}..{end}"
                        );
                    }
                    other => panic!("flip at {pos} in data block {start}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn errors_while_writing_fail_the_builder() {
    // The builder gathers blocks into writes of 256 KiB: the small model takes one write,
    // the large one (about 1.5 MB that lz4 cannot shrink) several, so a fault on a later
    // write is exercised too.
    let small = mixed_model(4);
    let large = incompressible_model(3000, 500);
    for (op, skip, model) in [
        (Op::Append, 0, &small),
        (Op::Append, 3, &large),
        (Op::SyncData, 0, &small),
        (Op::Create, 0, &small),
    ] {
        let mem = MemFs::new();
        let fs = FaultyFs::new(mem.shared());
        fs.fail(op, skip, FaultKind::ShortWrite);
        let path = Path::new("/t.sst");
        let mut b = match TableBuilder::new(
            fs.shared(),
            path,
            TableOptions {
                block_size_bytes: 256,
                ..TableOptions::default()
            },
        ) {
            Ok(b) => b,
            Err(e) => {
                assert!(matches!(e, Error::Io { .. }) && op == Op::Create, "{e:?}");
                continue;
            }
        };
        let mut failed = None;
        for (k, v) in model {
            if let Err(e) = b.add(k, v) {
                failed = Some(e);
                break;
            }
        }
        let result = match failed {
            Some(e) => Err(e),
            None => b.finish().map(|_| ()),
        };
        let e = result.expect_err("an injected fault must surface");
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert_eq!(e.file(), path);
    }
}

#[test]
fn a_failed_builder_refuses_further_entries() {
    let mem = MemFs::new();
    let fs = FaultyFs::new(mem.shared());
    fs.fail(Op::Append, 0, FaultKind::Error);
    let mut b = TableBuilder::new(
        fs.shared(),
        Path::new("/t.sst"),
        TableOptions {
            block_size_bytes: 64,
            ..TableOptions::default()
        },
    )
    .unwrap();
    let mut i = 0u32;
    let first = loop {
        i += 1;
        if let Err(e) = b.add_parts(format!("k{i:04}").as_bytes(), 1, ValueKind::Put, &[1; 50]) {
            break e;
        }
    };
    assert!(matches!(first, Error::Io { .. }));
    fs.heal();
    let again = b.add_parts(b"z", 1, ValueKind::Put, b"");
    assert!(matches!(again, Err(Error::InvalidArgument { .. })));
    assert!(matches!(b.finish(), Err(Error::InvalidArgument { .. })));
}

/// `n` puts with `value_len`-byte pseudo-random values (lz4 leaves them as they are).
fn incompressible_model(n: u64, value_len: usize) -> Model {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut m = Model::new();
    for i in 0..n {
        let value = (0..value_len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        m.insert(
            InternalKey::new(format!("big{i:06}").into_bytes(), 1, ValueKind::Put),
            value,
        );
    }
    m
}
