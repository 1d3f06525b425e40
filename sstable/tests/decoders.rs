//! Decoders never panic: random bytes, and valid inputs with a byte changed *behind* the
//! checksum (the crc recomputed, so the structural checks are what stands), go through the same
//! entry points as the `fuzz/` targets. Also runs every file of the checked-in fuzz corpus
//! (`fuzz/corpus/<target>/`), so CI covers it without a nightly toolchain.
//!
//! To rewrite the seed corpus: `SSTABLE_WRITE_CORPUS=1 cargo test -p sstable --test decoders`.

mod support;

use common::checksum::{crc32c, crc32c_extend};
use common::{InternalKey, ValueKind};
use proptest::prelude::*;
use sstable::block_builder::BlockBuilder;
use sstable::format::{BlockHandle, COMPRESSION_LZ4, COMPRESSION_NONE};
use sstable::{
    fuzz_decode_block, fuzz_decode_footer, fuzz_decode_index, fuzz_decode_table,
    fuzz_decode_table_edits,
};
use sstable::{Compression, Table, TableOptions};
use std::path::{Path, PathBuf};
use support::*;

type Entry = fn(&[u8]) -> sstable::Result<usize>;

const TARGETS: [(&str, Entry); 5] = [
    ("block", fuzz_decode_block),
    ("index", fuzz_decode_index),
    ("footer", fuzz_decode_footer),
    ("table", fuzz_decode_table),
    ("table_edits", fuzz_decode_table_edits),
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn small_model(n: u64) -> Model {
    (0..n)
        .map(|i| {
            let kind = if i % 4 == 3 {
                ValueKind::Delete
            } else {
                ValueKind::Put
            };
            let v = if kind == ValueKind::Delete {
                vec![]
            } else {
                format!("v{i}").repeat(3).into_bytes()
            };
            (
                InternalKey::new(format!("k{i:03}").into_bytes(), 50 - i, kind),
                v,
            )
        })
        .collect()
}

fn small_table(n: u64, compression: Compression) -> Vec<u8> {
    let opts = TableOptions {
        block_size_bytes: 64,
        compression,
        block_restart_interval: 2,
        ..TableOptions::default()
    };
    let (fs, _) = mem_table(&small_model(n), opts);
    fs.read_all(Path::new("/db/t.sst")).unwrap()
}

fn block_contents(n: u64) -> Vec<u8> {
    let mut b = BlockBuilder::new(3);
    for (k, v) in small_model(n) {
        b.add(&k.encode(), &v);
    }
    b.finish()
}

fn index_input() -> Vec<u8> {
    let mut b = BlockBuilder::new(1);
    let mut v = Vec::new();
    BlockHandle {
        offset: 0,
        size: 100,
    }
    .encode_varint(&mut v);
    b.add(&InternalKey::new(*b"m", 5, ValueKind::Put).encode(), &v);
    v.clear();
    BlockHandle {
        offset: 105,
        size: 50,
    }
    .encode_varint(&mut v);
    b.add(&InternalKey::new(*b"z", 1, ValueKind::Put).encode(), &v);
    let mut out = 160u64.to_le_bytes().to_vec();
    out.extend_from_slice(&b.finish());
    out
}

/// The seeds: (target, name, bytes). Names starting with `valid-` must decode without error.
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut contents = vec![COMPRESSION_NONE];
    contents.extend_from_slice(&block_contents(9));
    let raw = block_contents(30);
    let mut lz4 = vec![COMPRESSION_LZ4];
    lz4.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    lz4.extend_from_slice(&lz4_flex::block::compress(&raw));
    let table = small_table(12, Compression::Lz4);
    let plain = small_table(5, Compression::None);
    vec![
        ("block", "valid-raw".into(), contents.clone()),
        ("block", "valid-lz4".into(), lz4),
        (
            "block",
            "bad-restarts".into(),
            vec![0, 1, 2, 3, 200, 0, 0, 0, 1, 0, 0, 0],
        ),
        ("index", "valid-two-blocks".into(), index_input()),
        ("index", "gap".into(), {
            let mut i = index_input();
            i[0] = 170;
            i
        }),
        ("footer", "valid-table".into(), table.clone()),
        ("footer", "short".into(), table[table.len() - 20..].to_vec()),
        ("table", "valid-lz4".into(), table.clone()),
        ("table", "valid-plain".into(), plain.clone()),
        (
            "table",
            "truncated".into(),
            table[..table.len() / 2].to_vec(),
        ),
        ("table_edits", "valid-raw-unedited".into(), vec![0]),
        ("table_edits", "valid-lz4-unedited".into(), vec![1]),
        (
            "table_edits",
            "raw-restart-count".into(),
            vec![0, 0x7a, 0x00, 0xff],
        ),
        (
            "table_edits",
            "raw-shared-prefix".into(),
            vec![0, 0x00, 0x00, 0x09, 0x40, 0x00, 0x05],
        ),
        (
            "table_edits",
            "lz4-length".into(),
            vec![1, 0x00, 0x00, 0xff, 0x01, 0x00, 0x7f],
        ),
    ]
}

#[test]
fn checked_in_corpus_never_panics() {
    if std::env::var_os("SSTABLE_WRITE_CORPUS").is_some() {
        for (target, name, bytes) in seeds() {
            std::fs::create_dir_all(corpus_dir(target)).unwrap();
            std::fs::write(corpus_dir(target).join(name), bytes).unwrap();
        }
    }
    for (target, entry) in TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "empty corpus for {target}");
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let result = entry(&bytes);
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("valid-") {
                assert!(result.is_ok(), "{}: {result:?}", f.display());
            }
        }
    }
}

#[test]
fn seeds_say_what_their_names_say() {
    for (target, name, bytes) in seeds() {
        let entry = TARGETS.iter().find(|(t, _)| *t == target).unwrap().1;
        let result = entry(&bytes);
        assert_eq!(
            result.is_ok(),
            name.starts_with("valid-"),
            "{target}/{name}: {result:?}"
        );
    }
}

/// Cases per property: `SSTABLE_PROPTEST_CASES` (default 256).
fn cases() -> u32 {
    std::env::var("SSTABLE_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

/// Rewrites the crc32c of the stored block at `handle` after its bytes were changed.
fn fix_crc(file: &mut [u8], handle: BlockHandle) {
    let start = handle.offset as usize;
    let end = start + handle.size as usize;
    let kind = file[end];
    let crc = crc32c_extend(crc32c(&file[start..end]), &[kind]);
    file[end + 1..end + 5].copy_from_slice(&crc.to_le_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for (_, entry) in TARGETS {
            let _ = entry(&bytes);
        }
    }

    #[test]
    fn mutated_seeds_never_panic(which in 0usize..15, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let (target, _, mut bytes) = seeds().swap_remove(which);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let entry = TARGETS.iter().find(|(t, _)| *t == target).unwrap().1;
        let _ = entry(&bytes);
    }

    /// A byte changed inside a data block with its checksum recomputed: the checksum cannot
    /// help, so the block decoder's own checks must hold (an error or a consistent table,
    /// never a panic).
    #[test]
    fn changes_behind_the_checksum_never_panic(lz4: bool, block in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), b: u8) {
        let compression = if lz4 { Compression::Lz4 } else { Compression::None };
        let (fs, _) = mem_table(&small_model(40), TableOptions { block_size_bytes: 128, compression, block_restart_interval: 3, ..TableOptions::default() });
        let path = Path::new("/db/t.sst");
        let handles: Vec<BlockHandle> = Table::open(fs.shared(), path, 1, None).unwrap().index().iter().map(|e| e.handle).collect();
        let h = handles[block.index(handles.len())];
        let mut file = fs.read_all(path).unwrap();
        file[h.offset as usize + at.index(h.size as usize)] = b;
        fix_crc(&mut file, h);
        let _ = fuzz_decode_table(&file);
    }

    #[test]
    fn random_edits_behind_the_checksum_never_panic(edits in prop::collection::vec(any::<u8>(), 1..40)) {
        let _ = fuzz_decode_table_edits(&edits);
    }
}
