//! Decoder entry points for fuzzing (`fuzz/` targets) and for the corpus test that runs the
//! same inputs in CI. Each takes arbitrary bytes and must return `Ok` or an error, never panic.
//! They return how many entries they decoded.

use crate::block::Block;
use crate::error::{Error, Result};
use crate::format::{decompress, Footer};
use crate::table_reader::{decode_index, Table};
use crate::BlockCache;
use common::{InternalIterator, InternalKey, MemFs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FUZZ_FILE: &str = "/fuzz/input.sst";
/// Bound on the keys each entry point seeks to, so one input stays fast.
const MAX_SEEKS: usize = 64;

fn corrupt(reason: String) -> Error {
    Error::Corruption {
        file: PathBuf::from(FUZZ_FILE),
        offset: 0,
        reason,
    }
}

/// A block as stored: the first byte is the compression type, the rest the stored bytes (no
/// checksum). Decompresses, decodes, walks forward and backward, and seeks to the keys found.
pub fn fuzz_decode_block(data: &[u8]) -> Result<usize> {
    let Some((&kind, stored)) = data.split_first() else {
        return Ok(0);
    };
    let contents = decompress(stored, kind).map_err(corrupt)?;
    let block = Arc::new(Block::new(contents).map_err(|e| corrupt(e.to_string()))?);
    let mut it = block.iter();
    let mut keys = Vec::new();
    let walk = |it: &mut crate::block_iter::BlockIter, keys: &mut Vec<Vec<u8>>| {
        it.seek_to_first()?;
        while it.valid() {
            if keys.len() < MAX_SEEKS {
                keys.push(it.key().to_vec());
            }
            it.next()?;
        }
        it.seek_to_last()?;
        while it.valid() {
            it.prev()?;
        }
        for k in keys.iter() {
            it.seek(k)?;
        }
        Ok::<_, crate::block::BlockError>(())
    };
    walk(&mut it, &mut keys).map_err(|e| corrupt(e.to_string()))?;
    Ok(keys.len())
}

/// An index block: the first 8 bytes (little-endian) are where the data area ends, the rest
/// is the index block's contents.
pub fn fuzz_decode_index(data: &[u8]) -> Result<usize> {
    if data.len() < 8 {
        return Ok(0);
    }
    let (end, contents) = data.split_at(8);
    let data_end = u64::from_le_bytes(end.try_into().unwrap_or([0; 8]));
    let block = Block::new(contents.to_vec()).map_err(|e| corrupt(e.to_string()))?;
    let entries = decode_index(block, data_end).map_err(|e| corrupt(e.to_string()))?;
    Ok(entries.len())
}

/// The tail of a file of `data.len()` bytes: decodes its last 64 bytes as the footer.
pub fn fuzz_decode_footer(data: &[u8]) -> Result<usize> {
    let tail = &data[data.len().saturating_sub(crate::format::FOOTER_SIZE)..];
    Footer::decode(Path::new(FUZZ_FILE), tail, data.len() as u64).map(|_| 3)
}

/// A whole table file: opens it (with and without a cache), scans both ways, looks up and
/// seeks to the keys found, and verifies it.
pub fn fuzz_decode_table(data: &[u8]) -> Result<usize> {
    let fs = MemFs::new();
    let path = Path::new(FUZZ_FILE);
    let io = |source| Error::Io {
        file: path.to_path_buf(),
        op: "fuzz setup".into(),
        source,
    };
    common::FileSystem::create_dir_all(&fs, Path::new("/fuzz")).map_err(io)?;
    let mut f = common::FileSystem::create(&fs, path).map_err(io)?;
    f.append(data).map_err(io)?;
    drop(f);
    let mut entries = 0;
    for cache in [None, Some(BlockCache::new(1 << 20))] {
        let table = Table::open(fs.shared(), path, 1, cache)?;
        let mut it = table.iter();
        let mut keys = Vec::new();
        it.seek_to_first()?;
        while it.valid() {
            if keys.len() < MAX_SEEKS {
                keys.push(InternalKey::new(it.user_key(), it.seq(), it.kind()));
            }
            entries += 1;
            it.next()?;
        }
        it.seek_to_last()?;
        while it.valid() {
            it.prev()?;
        }
        for k in &keys {
            table.get(&k.user_key, k.seq)?;
            it.seek(k)?;
            it.seek_for_prev(k)?;
        }
        table.verify()?;
    }
    Ok(entries)
}
