//! Reads a table: open checks the footer and loads the filter, properties and index; point
//! lookups ask the bloom filter, binary-search the index and read one data block.
//!
//! Every block read checks its crc32c; every error names the file and the block's offset.
//! Reads are positioned (`read_at`), so many threads share one `Table`; when the file system
//! maps the file (`FileSystem::open_read_mapped`, the real one does), the data blocks of reads
//! that fill the block cache are slices of the map instead, with no read-ahead.

use crate::block::{Block, BlockError};
use crate::block_iter::BlockIter;
use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::filter::{bloom_hash, BloomFilter};
use crate::format::{
    check_trailer, decompress_reusing, BlockHandle, Footer, BLOCK_TRAILER_SIZE, FOOTER_SIZE,
};
pub use crate::index::{decode_index, Index, IndexEntry};
use crate::properties::TableProperties;
use crate::table_iter::TableIterator;
use common::ikey::compare_encoded;
use common::{FileSystem, Lookup, RandomAccessFile, SeqNo, ValueKind, MAX_SEQNO};
use std::cell::RefCell;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Seek keys up to this long are built on the stack by [`Table::get`].
const SHORT_TARGET_BYTES: usize = 72;

/// What [`Table::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Data blocks read and checked.
    pub data_blocks: u64,
    /// Entries decoded.
    pub entries: u64,
    /// Tombstones among them.
    pub tombstones: u64,
    /// Bytes whose checksums were checked (every block, trailers and footer included).
    pub bytes_checked: u64,
}

/// An open table, shareable between threads.
#[derive(Debug)]
pub struct Table {
    file: Arc<dyn RandomAccessFile>,
    path: PathBuf,
    file_id: u64,
    cache: Option<Arc<BlockCache>>,
    footer: Footer,
    index: Index,
    filter: BloomFilter,
    props: TableProperties,
}

impl Table {
    /// Opens the table at `path`: reads and checks the footer, filter, properties and index.
    /// `file_id` keys this table's blocks in `cache`; it must be unique to this file.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        path: &Path,
        file_id: u64,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<Arc<Table>> {
        let io = |op: String| {
            let file = path.to_path_buf();
            move |source| Error::Io { file, op, source }
        };
        let file = fs.open_read_mapped(path).map_err(io("open".into()))?;
        let file_len = file.len().map_err(io("stat".into()))?;
        if file_len < FOOTER_SIZE as u64 {
            return Err(Error::Corruption {
                file: path.to_path_buf(),
                offset: 0,
                reason: format!("file is {file_len} bytes, shorter than the {FOOTER_SIZE}-byte footer (truncated?)"),
            });
        }
        let footer_offset = file_len - FOOTER_SIZE as u64;
        let mut footer_bytes = [0u8; FOOTER_SIZE];
        file.read_exact_at(&mut footer_bytes, footer_offset)
            .map_err(io(format!("read footer at {footer_offset}")))?;
        let footer = Footer::decode(path, &footer_bytes, file_len)?;
        let read = |h: BlockHandle, what: &'static str| {
            read_block(&*file, None, path, h, what, Vec::new())
        };

        let filter = read(footer.filter, "filter block")?;
        let filter = BloomFilter::decode(&filter)
            .map_err(|r| corrupt(path, footer.filter.offset, format!("filter block: {r}")))?;

        let props = read(footer.properties, "properties block")?;
        let mut props = TableProperties::decode(&props).map_err(|r| {
            corrupt(
                path,
                footer.properties.offset,
                format!("properties block: {r}"),
            )
        })?;
        props.index_bytes = footer.index.size + BLOCK_TRAILER_SIZE as u64;
        props.file_size_bytes = file_len;
        let filter_bytes = footer.filter.size + BLOCK_TRAILER_SIZE as u64;
        if props.filter_bytes != filter_bytes {
            return Err(corrupt(
                path,
                footer.properties.offset,
                format!(
                    "properties say the filter takes {} bytes, the footer says {filter_bytes}",
                    props.filter_bytes
                ),
            ));
        }

        let index = read(footer.index, "index block")?;
        let index = Block::new(index)
            .and_then(|b| decode_index(b, footer.filter.offset))
            .map_err(|e| corrupt(path, footer.index.offset, format!("index block: {e}")))?;
        let largest = props.largest.encode();
        if index.len() as u64 != props.data_blocks
            || index.last().map(|e| e.last_key) != Some(&largest[..])
        {
            return Err(corrupt(
                path,
                footer.index.offset,
                format!(
                    "index has {} blocks and another last key than the properties ({} blocks, largest {:?})",
                    index.len(),
                    props.data_blocks,
                    props.largest
                ),
            ));
        }
        Ok(Arc::new(Table {
            file,
            path: path.to_path_buf(),
            file_id,
            cache,
            footer,
            index,
            filter,
            props,
        }))
    }

    /// The newest version of `user_key` with `seq <= snapshot`.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Lookup> {
        self.get_hashed(user_key, bloom_hash(user_key), snapshot)
    }

    /// As [`Table::get`], given the key's filter hash ([`bloom_hash`]`(user_key)`), so that a
    /// read which asks several tables hashes the key once.
    pub fn get_hashed(&self, user_key: &[u8], hash: u64, snapshot: SeqNo) -> Result<Lookup> {
        debug_assert_eq!(hash, bloom_hash(user_key));
        if !self.filter.may_contain_hash(hash) {
            return Ok(Lookup::Absent);
        }
        // The seek key (user_key, snapshot, Put), encoded on the stack when it is short.
        let trailer = (snapshot.min(MAX_SEQNO) << 8) | ValueKind::Put as u64;
        let i = self.index.find(user_key, trailer);
        let mut short = [0u8; SHORT_TARGET_BYTES];
        let long: Vec<u8>;
        let target: &[u8] = if user_key.len() + 8 <= SHORT_TARGET_BYTES {
            let n = user_key.len();
            short[..n].copy_from_slice(user_key);
            short[n..n + 8].copy_from_slice(&trailer.to_le_bytes());
            &short[..n + 8]
        } else {
            long = [user_key, &trailer.to_le_bytes()[..]].concat();
            &long
        };
        if i == self.index.len() {
            return Ok(Lookup::Absent);
        }
        let block = self.data_block(i, true)?;
        let buffers = KEY_BUFFERS.with(|c| {
            c.try_borrow_mut()
                .map(|mut b| std::mem::take(&mut *b))
                .unwrap_or_default()
        });
        let mut it = BlockIter::with_buffers(block, buffers);
        let found = self.find_in_block(i, &mut it, user_key, snapshot, target);
        let buffers = it.into_buffers();
        if buffers.0.capacity().max(buffers.1.capacity()) <= KEY_BUFFER_KEEP_BYTES {
            KEY_BUFFERS.with(|c| {
                if let Ok(mut b) = c.try_borrow_mut() {
                    *b = buffers;
                }
            });
        }
        found
    }

    /// The rest of [`Table::get`]: seeks `it`, a cursor over data block `i`, to `target` (the
    /// encoded seek key of `user_key` at `snapshot`) and reads what it lands on.
    fn find_in_block(
        &self,
        i: usize,
        it: &mut BlockIter,
        user_key: &[u8],
        snapshot: SeqNo,
        target: &[u8],
    ) -> Result<Lookup> {
        it.seek(target).map_err(|e| self.block_corrupt(i, e))?;
        if !it.valid() {
            return Err(self.block_corrupt(
                i,
                BlockError::new(0, "block ends before the last key its index entry names"),
            ));
        }
        if it.user_key() == user_key && it.seq() > snapshot {
            // The seek landed on a version newer than the snapshot: the block's restart keys
            // are out of order. Report it rather than return a value the snapshot cannot see.
            return Err(self.block_corrupt(
                i,
                BlockError::new(0, "seek landed on a version newer than the snapshot"),
            ));
        }
        Ok(match (it.user_key() == user_key, it.kind()) {
            (false, _) => Lookup::Absent,
            (true, ValueKind::Put) => Lookup::Found(it.value().to_vec()),
            (true, ValueKind::Delete) => Lookup::Deleted,
        })
    }

    /// False only if the table certainly holds no version of `user_key` (the bloom filter).
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.filter.may_contain(user_key)
    }

    /// The table's properties.
    pub fn properties(&self) -> &TableProperties {
        &self.props
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The id this table's blocks are cached under.
    pub fn file_id(&self) -> u64 {
        self.file_id
    }

    /// The decoded index: one entry per data block.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// A double-ended cursor over all entries, holding this table alive.
    pub fn iter(self: &Arc<Self>) -> TableIterator {
        TableIterator::new(Arc::clone(self), true)
    }

    /// A cursor for a bulk scan (a compaction): it uses cached blocks but does not insert
    /// the blocks it reads into the block cache (RocksDB's `fill_cache = false`), so a
    /// compaction neither evicts the blocks reads need nor grows the cache's memory while
    /// the engine only writes.
    pub fn iter_no_fill(self: &Arc<Self>) -> TableIterator {
        TableIterator::new(Arc::clone(self), false)
    }

    /// Reads every block from the file (bypassing the cache), checks every checksum and every
    /// entry's order, and checks the totals against the properties.
    pub fn verify(&self) -> Result<VerifyReport> {
        for (h, what) in [
            (self.footer.filter, "filter block"),
            (self.footer.properties, "properties block"),
            (self.footer.index, "index block"),
        ] {
            self.read_block(h, what)?;
        }
        let mut report = VerifyReport {
            data_blocks: 0,
            entries: 0,
            tombstones: 0,
            bytes_checked: self.props.file_size_bytes,
        };
        let mut prev_last: Option<&[u8]> = None;
        for (i, entry) in self.index.iter().enumerate() {
            let block = Block::new(self.read_block(entry.handle, "data block")?)
                .map_err(|e| self.block_corrupt(i, e))?;
            let block = Arc::new(block);
            let mut it = block.iter();
            it.seek_to_first().map_err(|e| self.block_corrupt(i, e))?;
            let mut first = true;
            let mut last = Vec::new();
            while it.valid() {
                if first
                    && prev_last.is_some_and(|p| compare_encoded(p, it.key()) != Ordering::Less)
                {
                    return Err(self.block_corrupt(
                        i,
                        BlockError::new(0, "first key is not after the previous block's last key"),
                    ));
                }
                first = false;
                report.entries += 1;
                report.tombstones += u64::from(it.kind() == ValueKind::Delete);
                last.clear();
                last.extend_from_slice(it.key());
                it.next().map_err(|e| self.block_corrupt(i, e))?;
            }
            if last != entry.last_key {
                return Err(self.block_corrupt(
                    i,
                    BlockError::new(0, "last key differs from the index entry's key"),
                ));
            }
            prev_last = Some(entry.last_key);
            report.data_blocks += 1;
        }
        if report.entries != self.props.entries || report.tombstones != self.props.tombstones {
            return Err(self.corrupt(
                self.footer.properties.offset,
                format!(
                    "blocks hold {} entries ({} tombstones), properties say {} ({})",
                    report.entries, report.tombstones, self.props.entries, self.props.tombstones
                ),
            ));
        }
        Ok(report)
    }

    /// The data block `i` of the index, from the cache or the file; a block read from the
    /// file is inserted into the cache if `fill_cache`.
    pub(crate) fn data_block(&self, i: usize, fill_cache: bool) -> Result<Arc<Block>> {
        self.data_block_via(i, fill_cache, None)
    }

    /// [`Table::data_block`], reading a block that is not cached through `ahead` when one is
    /// given: from the bytes it holds if they cover the block, otherwise with one read of the
    /// block and the blocks after it (see [`ReadAhead`]).
    pub(crate) fn data_block_via(
        &self,
        i: usize,
        fill_cache: bool,
        ahead: Option<&mut ReadAhead>,
    ) -> Result<Arc<Block>> {
        let handle = self.index.handle(i);
        let spare = match &self.cache {
            Some(cache) => match cache.get_or_spare(self.file_id, handle.offset, fill_cache) {
                Ok(b) => return Ok(b),
                Err(spare) => spare,
            },
            None => Vec::new(),
        };
        let cache = self.cache.as_ref().filter(|_| fill_cache);
        // Reads that fill the cache (a user's reads) take the block from the file's map, if
        // it has one, in place and with no read-ahead. A bulk scan (a compaction) reads with
        // `pread`: the pages it passes once would otherwise stay in the process's resident set
        // while the table is open (overwrite's peak RSS measured 186 -> 283 MiB that way).
        let map = self.file.mapped().filter(|_| fill_cache);
        let data = match ahead.filter(|_| map.is_none()) {
            Some(ahead) => self.read_ahead(ahead, handle, spare)?,
            None => read_block(&*self.file, map, &self.path, handle, "data block", spare)?,
        };
        let block = Block::new(data).map_err(|e| self.block_corrupt(i, e))?;
        if block.num_restarts() == 0 {
            return Err(self.block_corrupt(i, BlockError::new(0, "data block is empty")));
        }
        let block = Arc::new(block);
        if let Some(cache) = cache {
            cache.insert(self.file_id, handle.offset, Arc::clone(&block));
        }
        Ok(block)
    }

    /// The decoded data block at `handle`, from the bytes `ahead` holds, which are first
    /// refilled from the file (the block and up to `ahead`'s span of the blocks after it) if
    /// they do not cover it.
    fn read_ahead(
        &self,
        ahead: &mut ReadAhead,
        handle: BlockHandle,
        spare: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let too_large = || {
            self.corrupt(
                handle.offset,
                format!("data block of {} bytes is too large", handle.size),
            )
        };
        let len = usize::try_from(handle.size)
            .ok()
            .and_then(|s| s.checked_add(BLOCK_TRAILER_SIZE))
            .ok_or_else(too_large)?;
        let end = handle
            .offset
            .checked_add(len as u64)
            .ok_or_else(too_large)?;
        if handle.offset < ahead.start || end > ahead.start + ahead.len as u64 {
            // The data blocks end where the filter block starts (the index tiles that area).
            let data_end = self.footer.filter.offset.max(end);
            let want = (ahead.span as u64).min(data_end - handle.offset);
            let n = usize::try_from(want).map_or(len, |w| w.max(len));
            if ahead.buf.len() < n {
                ahead.buf.resize(n, 0);
            }
            ahead.len = 0;
            ahead.start = handle.offset;
            ahead.span = (ahead.span * 2).min(READ_AHEAD_MAX_BYTES);
            if let Err(source) = self.file.read_exact_at(&mut ahead.buf[..n], handle.offset) {
                return Err(Error::Io {
                    file: self.path.clone(),
                    op: format!("read data blocks at {} ({n} bytes)", handle.offset),
                    source,
                });
            }
            ahead.len = n;
        }
        let at = (handle.offset - ahead.start) as usize;
        decode_raw(
            &self.path,
            handle,
            "data block",
            &ahead.buf[at..at + len],
            spare,
        )
    }
    fn read_block(&self, handle: BlockHandle, what: &'static str) -> Result<Vec<u8>> {
        read_block(&*self.file, None, &self.path, handle, what, Vec::new())
    }

    fn corrupt(&self, offset: u64, reason: String) -> Error {
        corrupt(&self.path, offset, reason)
    }

    pub(crate) fn block_corrupt(&self, i: usize, e: BlockError) -> Error {
        let offset = self.index.get(i).map_or(0, |x| x.handle.offset);
        self.corrupt(offset, format!("data block {i}: {e}"))
    }
}

fn corrupt(path: &Path, offset: u64, reason: String) -> Error {
    Error::Corruption {
        file: path.to_path_buf(),
        offset,
        reason,
    }
}

/// The first read of a [`ReadAhead`] covers this many bytes of the file; each further read
/// twice as many, up to [`READ_AHEAD_MAX_BYTES`].
const READ_AHEAD_FIRST_BYTES: usize = 8 * 1024;
/// The largest read of a [`ReadAhead`] (a block larger than that is read alone).
const READ_AHEAD_MAX_BYTES: usize = 256 * 1024;

/// A table cursor's read-ahead: when it moves on to the next block and finds it neither in
/// the cache nor among the bytes read before, it reads that block together with the blocks
/// after it, 8 KiB the first time and twice as much each time after (at most 256 KiB), so a
/// scan costs one read per span rather than one per block. Each block is still checked and
/// decoded only when the cursor reaches it. Bound: one buffer of at most 256 KiB (or one
/// block, if larger) per cursor; when the cursor drops, a buffer of at most 64 KiB goes to its
/// thread's pool of cursor buffers (`table_iter.rs`) and is reused without being zeroed again.
#[derive(Debug)]
pub(crate) struct ReadAhead {
    /// `buf[..len]` holds the file's bytes from `start`; the rest is room for later refills.
    buf: Vec<u8>,
    len: usize,
    /// The file offset of `buf[0]`.
    start: u64,
    /// How many bytes the next refill reads.
    span: usize,
}

impl ReadAhead {
    /// A read-ahead that holds nothing yet and refills into `buf` (any contents).
    pub(crate) fn with_buffer(buf: Vec<u8>) -> ReadAhead {
        ReadAhead {
            buf,
            len: 0,
            start: 0,
            span: READ_AHEAD_FIRST_BYTES,
        }
    }

    /// Its buffer, for reuse; it then holds nothing.
    pub(crate) fn take_buffer(&mut self) -> Vec<u8> {
        self.len = 0;
        std::mem::take(&mut self.buf)
    }
}

/// A read buffer of up to this many bytes stays with its thread for the next read.
const READ_BUFFER_KEEP_BYTES: usize = 1 << 20;

/// Key buffers of up to this many bytes stay with their thread for the next [`Table::get`].
const KEY_BUFFER_KEEP_BYTES: usize = 64 * 1024;

thread_local! {
    /// Each thread's buffer for a block's stored bytes, reused from read to read so that a
    /// cache miss allocates at most the block it returns (none when the cache lends the
    /// buffer of an evicted block) instead of also a zeroed buffer to read into. Bound: one
    /// buffer per thread, dropped after use if it grew past [`READ_BUFFER_KEEP_BYTES`].
    static READ_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };

    /// Each thread's key buffers for the block cursor of [`Table::get`], so that a point
    /// read does not allocate (and free) them. Bound: two buffers per thread, kept only while
    /// neither grew past [`KEY_BUFFER_KEEP_BYTES`].
    static KEY_BUFFERS: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Reads a block and its trailer (in place from `map`, the file's bytes, if given), checks the
/// crc32c and decompresses it into `spare` (a buffer whose allocation is reused and whose
/// contents are all overwritten).
fn read_block(
    file: &dyn RandomAccessFile,
    map: Option<&[u8]>,
    path: &Path,
    handle: BlockHandle,
    what: &'static str,
    spare: Vec<u8>,
) -> Result<Vec<u8>> {
    let len = usize::try_from(handle.size)
        .ok()
        .and_then(|s| s.checked_add(BLOCK_TRAILER_SIZE))
        .ok_or_else(|| {
            corrupt(
                path,
                handle.offset,
                format!("{what} of {} bytes is too large", handle.size),
            )
        })?;
    if let Some(bytes) = map {
        let raw = usize::try_from(handle.offset)
            .ok()
            .and_then(|at| bytes.get(at..at.checked_add(len)?))
            .ok_or_else(|| {
                corrupt(
                    path,
                    handle.offset,
                    format!(
                        "{what} of {len} bytes runs past the file's end ({} bytes)",
                        bytes.len()
                    ),
                )
            })?;
        return decode_raw(path, handle, what, raw, spare);
    }
    READ_BUFFER.with(|cell| {
        // Not re-entered; should it ever be, a fresh buffer serves.
        let mut fresh = Vec::new();
        let mut kept = cell.try_borrow_mut().ok();
        let buf = kept.as_deref_mut().unwrap_or(&mut fresh);
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let out = decode_stored(file, path, handle, what, &mut buf[..len], spare);
        if buf.capacity() > READ_BUFFER_KEEP_BYTES {
            *buf = Vec::new();
        }
        out
    })
}

/// [`read_block`] into `raw`, a buffer of exactly the block's length with its trailer.
fn decode_stored(
    file: &dyn RandomAccessFile,
    path: &Path,
    handle: BlockHandle,
    what: &'static str,
    raw: &mut [u8],
    spare: Vec<u8>,
) -> Result<Vec<u8>> {
    file.read_exact_at(raw, handle.offset)
        .map_err(|source| Error::Io {
            file: path.to_path_buf(),
            op: format!("read {what} at {} ({} bytes)", handle.offset, raw.len()),
            source,
        })?;
    decode_raw(path, handle, what, raw, spare)
}

/// Checks the crc32c of `raw` (a block's stored bytes and trailer, as read from the file) and
/// decompresses it into `spare`.
fn decode_raw(
    path: &Path,
    handle: BlockHandle,
    what: &'static str,
    raw: &[u8],
    spare: Vec<u8>,
) -> Result<Vec<u8>> {
    let (stored, kind) =
        check_trailer(raw).map_err(|(expected, actual)| Error::ChecksumMismatch {
            file: path.to_path_buf(),
            block: what,
            block_offset: handle.offset,
            expected,
            actual,
        })?;
    decompress_reusing(stored, kind, spare)
        .map_err(|r| corrupt(path, handle.offset, format!("{what}: {r}")))
}
