//! Writes a table: entries in internal-key order in, a finished and fsynced file out
//! (`docs/sstable-format.md` for the layout).
//!
//! Data blocks are cut when they reach `block_size_bytes` and handed, in batches, to the
//! table's sink (`block_sink.rs`): each is compressed (when asked and when that makes it
//! smaller), given its trailer and appended, and its last key and handle go to the index. From
//! the first full batch on the sink runs on a thread of its own, so compression overlaps the
//! encoding of the next entries. `finish` joins it, then appends the filter, properties and
//! index blocks and the footer, and fsyncs the file. It does not sync the directory: the engine
//! does, once it has decided to keep the file. The bytes are the same either way.

use crate::block::Block;
use crate::block_builder::BlockBuilder;
use crate::block_sink::{BlockSink, DataBlock, Sink, BATCH_BLOCKS};
use crate::error::{Error, Result};
use crate::filter::{bloom_hash, build_filter};
use crate::format::{Compression, Footer, BLOCK_TRAILER_SIZE, FOOTER_SIZE, INDEX_RESTART_INTERVAL};
use crate::properties::TableProperties;
use common::ikey::{compare_encoded, split_encoded};
use common::{FileSystem, InternalKey, SeqNo, ValueKind, MAX_SEQNO};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How tables are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// A data block is cut once its contents reach this size (default 2048: a point read that
    /// misses the block cache reads and decompresses half as much as with 4 KiB blocks).
    pub block_size_bytes: usize,
    /// Data and index block compression (default lz4, kept only where smaller).
    pub compression: Compression,
    /// Bloom filter bits per distinct user key (default 10; 0 writes no filter).
    pub bloom_bits_per_key: usize,
    /// Every this many entries a data block stores a whole key (default 16).
    pub block_restart_interval: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size_bytes: 2048,
            compression: Compression::Lz4,
            bloom_bits_per_key: 10,
            block_restart_interval: 16,
        }
    }
}

/// Writes one table file. Feed it entries in strictly increasing internal-key order, then
/// `finish` (or `abandon`).
#[derive(Debug)]
pub struct TableBuilder {
    fs: Arc<dyn FileSystem>,
    path: PathBuf,
    options: TableOptions,
    data_block: BlockBuilder,
    /// Finished data blocks not yet handed to the sink (at most [`BATCH_BLOCKS`]).
    batch: Vec<DataBlock>,
    /// Stores the blocks; `None` once a write failed.
    sink: Option<Sink>,
    /// The encoded last key added (meaningful once `props.entries > 0`).
    last_key: Vec<u8>,
    scratch: Vec<u8>,
    /// Bloom hashes of the distinct user keys.
    key_hashes: Vec<u64>,
    props: TableProperties,
}

impl TableBuilder {
    /// Creates (truncating) the file at `path` and starts a table.
    pub fn new(
        fs: Arc<dyn FileSystem>,
        path: &Path,
        options: TableOptions,
    ) -> Result<TableBuilder> {
        let file = fs.create(path).map_err(|source| Error::Io {
            file: path.to_path_buf(),
            op: "create".into(),
            source,
        })?;
        let empty_key = InternalKey::new(Vec::new(), 0, ValueKind::Delete);
        let sink = BlockSink::new(
            file,
            path.to_path_buf(),
            options.compression,
            BlockBuilder::new(INDEX_RESTART_INTERVAL),
        );
        Ok(TableBuilder {
            fs,
            path: path.to_path_buf(),
            data_block: BlockBuilder::new(options.block_restart_interval),
            batch: Vec::new(),
            sink: Some(Sink::Here(sink)),
            options,
            last_key: Vec::new(),
            scratch: Vec::new(),
            key_hashes: Vec::new(),
            props: TableProperties {
                entries: 0,
                tombstones: 0,
                smallest: empty_key.clone(),
                largest: empty_key,
                min_seq: SeqNo::MAX,
                max_seq: 0,
                raw_key_bytes: 0,
                raw_value_bytes: 0,
                data_blocks: 0,
                data_uncompressed_bytes: 0,
                data_stored_bytes: 0,
                filter_bytes: 0,
                index_bytes: 0,
                file_size_bytes: 0,
            },
        })
    }

    /// Adds an entry; `key` must sort strictly after the previous one.
    pub fn add(&mut self, key: &InternalKey, value: &[u8]) -> Result<()> {
        self.add_parts(&key.user_key, key.seq, key.kind, value)
    }

    /// Adds an entry given the parts of its internal key (no allocation per call).
    /// Errors: [`Error::OutOfOrder`] if the key does not sort strictly after the previous one,
    /// [`Error::InvalidArgument`] for a sequence number over 56 bits or a builder whose earlier
    /// write failed. Nothing is written for a rejected entry.
    pub fn add_parts(
        &mut self,
        user_key: &[u8],
        seq: SeqNo,
        kind: ValueKind,
        value: &[u8],
    ) -> Result<()> {
        if self.sink.is_none() {
            return Err(self.failed_earlier());
        }
        if seq > MAX_SEQNO {
            return Err(self.invalid(&format!("sequence number {seq} is over 56 bits")));
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(user_key);
        self.scratch
            .extend_from_slice(&((seq << 8) | kind as u64).to_le_bytes());
        let first = self.props.entries == 0;
        if !first && compare_encoded(&self.last_key, &self.scratch) != Ordering::Less {
            return Err(Error::OutOfOrder {
                file: self.path.clone(),
                previous: InternalKey::decode(&self.last_key)
                    .unwrap_or_else(|| InternalKey::new(Vec::new(), 0, ValueKind::Delete)),
                key: InternalKey::new(user_key, seq, kind),
            });
        }
        let new_user_key =
            first || split_encoded(&self.last_key).is_none_or(|(last, _, _)| last != user_key);
        if new_user_key {
            self.key_hashes.push(bloom_hash(user_key));
        }
        let p = &mut self.props;
        if first {
            p.smallest = InternalKey::new(user_key, seq, kind);
        }
        p.entries += 1;
        p.tombstones += u64::from(kind == ValueKind::Delete);
        p.min_seq = p.min_seq.min(seq);
        p.max_seq = p.max_seq.max(seq);
        p.raw_key_bytes += user_key.len() as u64;
        p.raw_value_bytes += value.len() as u64;
        self.data_block.add(&self.scratch, value);
        std::mem::swap(&mut self.last_key, &mut self.scratch);
        if self.data_block.size_estimate() >= self.options.block_size_bytes {
            self.cut_data_block();
            if self.batch.len() >= BATCH_BLOCKS {
                self.hand_over_batch()?;
            }
        }
        Ok(())
    }

    /// About how big the file would be if finished now.
    pub fn estimated_size_bytes(&self) -> u64 {
        let filter = self.key_hashes.len() * self.options.bloom_bits_per_key / 8;
        let batched: usize = self.batch.iter().map(|(c, _)| c.len()).sum();
        let stored = self.sink.as_ref().map_or(0, Sink::size_estimate);
        stored + (batched + self.data_block.size_estimate() + filter + FOOTER_SIZE) as u64
    }

    /// Entries added so far.
    pub fn entries(&self) -> u64 {
        self.props.entries
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the pending data block, the filter, properties and index blocks and the footer,
    /// then fsyncs the file. A table must hold at least one entry (else `abandon` it).
    pub fn finish(mut self) -> Result<TableProperties> {
        if self.sink.is_none() {
            return Err(self.failed_earlier());
        }
        if self.props.entries == 0 {
            return Err(self.invalid("a table needs at least one entry; abandon an empty builder"));
        }
        if !self.data_block.is_empty() {
            self.cut_data_block();
        }
        self.props.largest = InternalKey::decode(&self.last_key)
            .ok_or_else(|| self.invalid("last key does not decode"))?;
        self.hand_over_batch()?;
        // Every data block is stored (the sink's thread, if any, is joined): the rest of the
        // table is written here.
        let mut sink = self.sink.take().expect("checked above").into_inner()?;
        self.props.data_blocks = sink.stats.blocks;
        self.props.data_uncompressed_bytes = sink.stats.uncompressed_bytes;
        self.props.data_stored_bytes = sink.stats.stored_bytes;

        let filter = build_filter(&self.key_hashes, self.options.bloom_bits_per_key);
        let filter_handle = sink.write_block(&filter, Compression::None)?;
        self.props.filter_bytes = filter_handle.size + BLOCK_TRAILER_SIZE as u64;

        let properties = self.props.encode();
        let properties_handle = sink.write_block(&properties, Compression::None)?;

        let index = sink.index_block.finish();
        debug_assert!(Block::new(index.clone()).is_ok());
        let index_handle = sink.write_block(&index, self.options.compression)?;
        self.props.index_bytes = index_handle.size + BLOCK_TRAILER_SIZE as u64;

        let footer = Footer {
            filter: filter_handle,
            properties: properties_handle,
            index: index_handle,
        };
        sink.append(&footer.encode())?;
        sink.sync()?;
        self.props.file_size_bytes = sink.offset;
        Ok(self.props)
    }

    /// Gives up on the table and removes its partial file (best effort: the engine also
    /// removes files no manifest names when it opens).
    pub fn abandon(self) {
        let TableBuilder { fs, path, sink, .. } = self;
        // The file is closed first (the sink's thread, if any, ends and is joined).
        if let Some(sink) = sink {
            let _ = sink.into_inner();
        }
        let _ = fs.remove_file(&path);
    }

    fn invalid(&self, reason: &str) -> Error {
        Error::InvalidArgument {
            file: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    /// The error of every call after a write failed.
    fn failed_earlier(&self) -> Error {
        self.invalid("a write to this table failed earlier; abandon it")
    }

    /// Ends the data block being built and queues it for the sink.
    fn cut_data_block(&mut self) {
        let contents = self.data_block.finish();
        debug_assert!(Block::new(contents.clone()).is_ok());
        self.batch.push((contents, self.last_key.clone()));
    }

    /// Hands the queued data blocks to the sink. The first full batch moves the sink to a
    /// thread of its own (a table of one batch or less is written in place). A failure
    /// leaves the builder failed.
    fn hand_over_batch(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let Some(mut sink) = self.sink.take() else {
            return Err(self.failed_earlier());
        };
        if self.batch.len() >= BATCH_BLOCKS && matches!(sink, Sink::Here(_)) {
            sink = match sink.start_thread() {
                Ok(sink) => sink,
                Err(source) => {
                    return Err(Error::Io {
                        file: self.path.clone(),
                        op: "start of the table's writer thread".into(),
                        source,
                    })
                }
            };
        }
        let batch = std::mem::take(&mut self.batch);
        self.sink = Some(sink.add_data_blocks(batch)?);
        Ok(())
    }
}
