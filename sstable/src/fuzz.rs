//! Decoder entry points for fuzzing (`fuzz/` targets) and for the corpus test that runs the
//! same inputs in CI. Each takes arbitrary bytes and must return `Ok` or an error, never panic.
//! They return how many entries they decoded.

use crate::block::Block;
use crate::error::{Error, Result};
use crate::format::{decompress, BlockHandle, Compression, Footer, FOOTER_SIZE};
use crate::index::decode_index;
use crate::table_reader::Table;
use crate::{BlockCache, TableBuilder, TableOptions};
use common::checksum::{crc32c, crc32c_extend};
use common::{InternalIterator, InternalKey, MemFs, ValueKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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
    // The search must land every entry's own key on that entry (keys strictly increase).
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(
            entries.find_encoded(e.last_key),
            i,
            "index search disagrees"
        );
    }
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

/// A fixed small table (40 entries, 128-byte blocks, restart interval 3) and the handles of all
/// its blocks: data, filter, properties, index.
fn base_table(compression: Compression) -> Result<(Vec<u8>, Vec<BlockHandle>)> {
    let fs = MemFs::new();
    let path = Path::new("/base.sst");
    let options = TableOptions {
        block_size_bytes: 128,
        compression,
        bloom_bits_per_key: 10,
        block_restart_interval: 3,
    };
    let mut b = TableBuilder::new(fs.shared(), path, options)?;
    for i in 0..40u64 {
        let kind = if i % 5 == 4 {
            ValueKind::Delete
        } else {
            ValueKind::Put
        };
        let value = if kind == ValueKind::Put {
            format!("value{i}").repeat(2)
        } else {
            String::new()
        };
        b.add_parts(
            format!("key{:03}", i / 2).as_bytes(),
            100 - i,
            kind,
            value.as_bytes(),
        )?;
    }
    b.finish()?;
    let bytes = fs.read_all(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        op: "read".into(),
        source,
    })?;
    let table = Table::open(fs.shared(), path, 0, None)?;
    let footer = Footer::decode(
        path,
        &bytes[bytes.len() - FOOTER_SIZE..],
        bytes.len() as u64,
    )?;
    let mut handles: Vec<BlockHandle> = table.index().iter().map(|e| e.handle).collect();
    handles.extend([footer.filter, footer.properties, footer.index]);
    Ok((bytes, handles))
}

/// Edits *behind the checksums*: takes a fixed small table (the first input byte picks raw or
/// lz4 blocks), applies the rest of the input as 3-byte edits `(u16 position, new byte)` to the
/// bytes of its blocks (positions wrap over all block bytes), recomputes every block's crc32c,
/// then runs [`fuzz_decode_table`]. The checksums cannot catch these changes, so this reaches
/// the structural checks of every block decoder.
pub fn fuzz_decode_table_edits(data: &[u8]) -> Result<usize> {
    static BASES: OnceLock<[(Vec<u8>, Vec<BlockHandle>); 2]> = OnceLock::new();
    let Some((&pick, edits)) = data.split_first() else {
        return Ok(0);
    };
    let bases = match BASES.get() {
        Some(b) => b,
        None => {
            let made = [
                base_table(Compression::None)?,
                base_table(Compression::Lz4)?,
            ];
            BASES.get_or_init(|| made)
        }
    };
    let (base, handles) = &bases[usize::from(pick & 1)];
    let mut file = base.clone();
    let total: u64 = handles.iter().map(|h| h.size).sum();
    for e in edits.chunks_exact(3) {
        let mut at = u64::from(u16::from_le_bytes([e[0], e[1]])) % total.max(1);
        for h in handles {
            if at < h.size {
                file[(h.offset + at) as usize] = e[2];
                break;
            }
            at -= h.size;
        }
    }
    for h in handles {
        let (start, end) = (h.offset as usize, (h.offset + h.size) as usize);
        let crc = crc32c_extend(crc32c(&file[start..end]), &file[end..end + 1]);
        file[end + 1..end + 5].copy_from_slice(&crc.to_le_bytes());
    }
    fuzz_decode_table(&file)
}
