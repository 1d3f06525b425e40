//! The storing half of a table builder: data blocks in, compressed, given their trailers,
//! gathered into large writes and indexed (`docs/sstable-format.md`). A table of more than one
//! block runs it on a thread of its own (a [`Sink`]), so that compressing and writing one batch
//! of blocks overlaps reading and encoding the entries of the next.
//!
//! Measured in `compare`'s fillrandom (1M random puts, 64 MiB memtables of 351k entries,
//! 2-vCPU VM): building a table with `Compression::None` took 240-345 ms against 280-600 ms
//! with lz4, so lz4 is about a third of a flush; the writer waits for the flush once the next
//! memtable reaches the memory limit (about 0.3-0.4 s per flush, 19% of that run). With the
//! sink on its own thread: the flush after the last write 405-485 -> 208-285 ms; the flushes
//! during the run, which share the 2 cores with the writer until it waits, 316-522 ->
//! 330-421 ms; fillrandom median 222k -> 245k puts/s (6 interleaved pairs, ahead in all six);
//! overwrite and fillseq unchanged within the noise (medians 219k and 219k, 508k and 492k).

use crate::block_builder::BlockBuilder;
use crate::error::{Error, Result};
use crate::format::{encode_stored_block, BlockHandle, Compression, BLOCK_TRAILER_SIZE};
use common::WritableFile;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Blocks are gathered into writes of about this size. A 2 KiB block per `write` call cost
/// a system call per block: 17,000 of them for a 64 MiB memtable's flush.
const WRITE_BUFFER_BYTES: usize = 256 << 10;

/// Data blocks handed to the sink's thread at a time: one wake-up of it per this many blocks
/// (a 2 KiB block compresses in a few microseconds, about what a wake-up costs).
pub(crate) const BATCH_BLOCKS: usize = 32;

/// Batches that may wait for the sink's thread before the builder waits for it.
const QUEUED_BATCHES: usize = 2;

/// A finished data block's contents and the last key in it (its index entry's key).
pub(crate) type DataBlock = (Vec<u8>, Vec<u8>);

/// What the data blocks added so far amount to (for the table's properties).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DataStats {
    pub blocks: u64,
    pub uncompressed_bytes: u64,
    pub stored_bytes: u64,
}

/// Writes a table's blocks to its file, in order, and builds the index of its data blocks.
#[derive(Debug)]
pub(crate) struct BlockSink {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    compression: Compression,
    pub index_block: BlockBuilder,
    pub stats: DataStats,
    /// The table's length so far: bytes written plus `pending`.
    pub offset: u64,
    /// Encoded bytes not yet written to the file (see [`WRITE_BUFFER_BYTES`]).
    pending: Vec<u8>,
}

impl BlockSink {
    pub fn new(
        file: Box<dyn WritableFile>,
        path: PathBuf,
        compression: Compression,
        index_block: BlockBuilder,
    ) -> BlockSink {
        BlockSink {
            file,
            path,
            compression,
            index_block,
            stats: DataStats::default(),
            offset: 0,
            pending: Vec::new(),
        }
    }

    /// Stores a data block (compressed as configured) and indexes it under `last_key`.
    pub fn add_data_block(&mut self, contents: &[u8], last_key: &[u8]) -> Result<()> {
        let handle = self.write_block(contents, self.compression)?;
        let mut value = Vec::with_capacity(20);
        handle.encode_varint(&mut value);
        self.index_block.add(last_key, &value);
        self.stats.blocks += 1;
        self.stats.uncompressed_bytes += contents.len() as u64;
        self.stats.stored_bytes += handle.size + BLOCK_TRAILER_SIZE as u64;
        Ok(())
    }

    /// Stores a block with its trailer; returns where it is.
    pub fn write_block(
        &mut self,
        contents: &[u8],
        compression: Compression,
    ) -> Result<BlockHandle> {
        let (mut stored, trailer) = encode_stored_block(contents, compression);
        let handle = BlockHandle {
            offset: self.offset,
            size: stored.len() as u64,
        };
        stored.extend_from_slice(&trailer);
        self.append(&stored)?;
        Ok(handle)
    }

    /// Adds `bytes` to the table; they reach the file in writes of about
    /// [`WRITE_BUFFER_BYTES`] (`finish` writes the rest before its fsync).
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(bytes);
        self.offset += bytes.len() as u64;
        if self.pending.len() >= WRITE_BUFFER_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes the gathered bytes to the file.
    pub fn write_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Err(source) = self.file.append(&self.pending) {
            return Err(Error::Io {
                file: self.path.clone(),
                op: format!(
                    "write of {} bytes at offset {}",
                    self.pending.len(),
                    self.offset - self.pending.len() as u64
                ),
                source,
            });
        }
        self.pending.clear();
        Ok(())
    }

    /// Writes what is gathered and fsyncs the file.
    pub fn sync(&mut self) -> Result<()> {
        self.write_pending()?;
        self.file.sync_all().map_err(|source| Error::Io {
            file: self.path.clone(),
            op: "fsync".into(),
            source,
        })
    }

    /// About how long the table is so far, its index included.
    fn size_estimate(&self) -> u64 {
        self.offset + self.index_block.size_estimate() as u64
    }
}

/// A [`BlockSink`] called in place, or running on a thread of its own.
#[derive(Debug)]
pub(crate) enum Sink {
    Here(BlockSink),
    Thread(SinkThread),
}

/// A [`BlockSink`] on its own thread, fed batches of data blocks.
#[derive(Debug)]
pub(crate) struct SinkThread {
    /// `None` once the thread was told to end.
    tx: Option<SyncSender<Vec<DataBlock>>>,
    handle: JoinHandle<(BlockSink, Result<()>)>,
    /// The sink's size estimate after its last batch.
    stored: Arc<AtomicU64>,
    /// Raw bytes of the blocks handed over, and of those the thread has stored.
    sent_raw: u64,
    done_raw: Arc<AtomicU64>,
}

impl Sink {
    /// Moves the sink to a thread of its own (a no-op if it is there already).
    pub fn start_thread(self) -> std::io::Result<Sink> {
        let mut sink = match self {
            Sink::Here(sink) => sink,
            thread => return Ok(thread),
        };
        let (tx, rx) = sync_channel::<Vec<DataBlock>>(QUEUED_BATCHES);
        let stored = Arc::new(AtomicU64::new(sink.size_estimate()));
        let done_raw = Arc::new(AtomicU64::new(0));
        let (stored2, done2) = (stored.clone(), done_raw.clone());
        let handle = std::thread::Builder::new()
            .name("sstable-sink".into())
            .spawn(move || {
                for batch in rx {
                    let mut raw = 0;
                    for (contents, last_key) in &batch {
                        if let Err(e) = sink.add_data_block(contents, last_key) {
                            return (sink, Err(e));
                        }
                        raw += contents.len() as u64;
                    }
                    stored2.store(sink.size_estimate(), Ordering::Relaxed);
                    done2.fetch_add(raw, Ordering::Relaxed);
                }
                (sink, Ok(()))
            })?;
        Ok(Sink::Thread(SinkThread {
            tx: Some(tx),
            handle,
            stored,
            sent_raw: 0,
            done_raw,
        }))
    }

    /// Stores data blocks, in order. On a thread, the failure of an earlier batch may surface
    /// here instead (the thread is joined for it); either way a failed sink is gone.
    pub fn add_data_blocks(self, batch: Vec<DataBlock>) -> Result<Sink> {
        match self {
            Sink::Here(mut sink) => {
                for (contents, last_key) in &batch {
                    sink.add_data_block(contents, last_key)?;
                }
                Ok(Sink::Here(sink))
            }
            Sink::Thread(mut t) => {
                let raw: u64 = batch.iter().map(|(c, _)| c.len() as u64).sum();
                match t.tx.as_ref().map(|tx| tx.send(batch)) {
                    Some(Ok(())) => {
                        t.sent_raw += raw;
                        Ok(Sink::Thread(t))
                    }
                    // The thread ended, which it does early only on an error: the join
                    // returns it.
                    _ => match Sink::Thread(t).into_inner() {
                        Err(e) => Err(e),
                        Ok(sink) => Err(Error::InvalidArgument {
                            file: sink.path,
                            reason: "the table's writer thread ended early".into(),
                        }),
                    },
                }
            }
        }
    }

    /// The sink, once every block handed over is stored (joins the thread), or the first
    /// error it met.
    pub fn into_inner(self) -> Result<BlockSink> {
        match self {
            Sink::Here(sink) => Ok(sink),
            Sink::Thread(mut t) => {
                t.tx = None;
                match t.handle.join() {
                    Ok((sink, result)) => result.map(|()| sink),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        }
    }

    /// About how long the table is so far, its index included (blocks still queued for the
    /// thread count at their uncompressed size).
    pub fn size_estimate(&self) -> u64 {
        match self {
            Sink::Here(sink) => sink.size_estimate(),
            Sink::Thread(t) => {
                let queued = t
                    .sent_raw
                    .saturating_sub(t.done_raw.load(Ordering::Relaxed));
                t.stored.load(Ordering::Relaxed) + queued
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::{FaultKind, FaultyFs, FileSystem, MemFs, Op};
    use std::path::Path;

    fn sink_on(fs: &dyn FileSystem, path: &str) -> Sink {
        let file = fs.create(Path::new(path)).unwrap();
        Sink::Here(BlockSink::new(
            file,
            path.into(),
            Compression::Lz4,
            BlockBuilder::new(crate::format::INDEX_RESTART_INTERVAL),
        ))
    }

    /// 300 blocks of about 2 KiB in batches of `BATCH_BLOCKS`: every `incompressible`-th one
    /// does not compress, the others do.
    fn batches(incompressible: u32) -> Vec<Vec<DataBlock>> {
        let blocks: Vec<DataBlock> = (0..300u32)
            .map(|i| {
                let contents: Vec<u8> = if i % incompressible == 0 {
                    // Checksums of a counter: nothing for lz4 to find.
                    (0..512u32)
                        .flat_map(|j| {
                            common::checksum::crc32c(&[i, j].map(u32::to_le_bytes).concat())
                                .to_le_bytes()
                        })
                        .collect()
                } else {
                    format!("block {i} ").repeat(200).into_bytes()
                };
                (contents, format!("key{i:05}").into_bytes())
            })
            .collect();
        blocks
            .chunks(BATCH_BLOCKS)
            .map(<[DataBlock]>::to_vec)
            .collect()
    }

    /// The sink's thread writes exactly what the sink writes in place.
    #[test]
    fn a_sink_on_its_thread_writes_the_same_bytes_as_in_place() {
        let fs = MemFs::new();
        let mut here = sink_on(&fs, "/here");
        let mut thread = sink_on(&fs, "/thread").start_thread().unwrap();
        assert!(matches!(thread, Sink::Thread(_)));
        for batch in batches(3) {
            here = here.add_data_blocks(batch.clone()).unwrap();
            thread = thread.add_data_blocks(batch).unwrap();
            assert!(thread.size_estimate() >= here.size_estimate() / 2);
        }
        let mut here = here.into_inner().unwrap();
        let mut thread = thread.into_inner().unwrap();
        for sink in [&mut here, &mut thread] {
            let index = sink.index_block.finish();
            sink.write_block(&index, Compression::Lz4).unwrap();
            sink.sync().unwrap();
        }
        assert_eq!(here.offset, thread.offset);
        assert_eq!(here.stats.blocks, 300);
        assert_eq!(here.stats.stored_bytes, thread.stats.stored_bytes);
        let read = |p: &str| fs.read_all(Path::new(p)).unwrap();
        assert_eq!(read("/here"), read("/thread"));
        assert_eq!(read("/here").len() as u64, here.offset);
    }

    /// A write that fails on the sink's thread (600 KiB of incompressible blocks: two writes
    /// of `WRITE_BUFFER_BYTES` there) surfaces as that I/O error, naming the file, when a later
    /// batch is handed over or when the sink is joined.
    #[test]
    fn a_failed_write_on_the_thread_surfaces_with_its_file() {
        let fs = FaultyFs::new(MemFs::new().shared());
        fs.fail(Op::Append, 0, FaultKind::Error);
        let mut sink = Some(sink_on(&fs, "/t.sst").start_thread().unwrap());
        let mut failure = None;
        for batch in batches(1) {
            match sink.take().unwrap().add_data_blocks(batch) {
                Ok(s) => sink = Some(s),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let e = match (failure, sink) {
            (Some(e), _) => e,
            (None, Some(sink)) => sink
                .into_inner()
                .expect_err("the injected fault must surface"),
            (None, None) => unreachable!("a sink is kept until a failure"),
        };
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert_eq!(e.file(), Path::new("/t.sst"));
    }
}
