//! Use case 7: Large values: the blob is stored in a file beside the log; the log holds a small record
//! that references it (file name, size, crc32c).
//!
//! **When:** values of megabytes (images, video, model files) that belong to a logged history.
//! Put in the log itself, every such value is written once to the log and again by each
//! snapshot or compaction, recovery reads all of it to rebuild a small index, a single record
//! is bounded by `max_record_bytes` and held whole in memory, and the log's group commit
//! waits behind the big write. Beside the log, each blob is written once, recovery reads only
//! the small references, and a blob can be streamed or served without touching the log.
//!
//! **FsyncPolicy:** `Always` for the references: each `put` already pays an fsync for the blob
//! and one for its directory; one more makes the acknowledgement mean "it is there".
//!
//! **The order, and why:** (1) write the blob file, (2) fsync it, (3) fsync the blob
//! directory, and only then (4) append the record that names it. The record is the commit
//! point. If the record could become durable first, a power cut could leave a durable record
//! naming a file that is missing (its directory entry not yet durable: step 3) or short (its
//! bytes not yet durable: step 2): a reference to data that never existed. In this order a
//! crash leaves at worst a blob that no record names, an orphan, which `open` deletes. Deletion
//! runs the other way: the tombstone is logged first, then the file is removed.

use crate::error::{Error, Result};
use crate::setup::wal_config;
use common::checksum::crc32c;
use common::FileSystem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Position, Record};

/// What the log records about a blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// The file's name in the blob directory.
    pub file: String,
    /// Its length.
    pub size_bytes: u64,
    /// The crc32c of its bytes.
    pub crc32c: u32,
}

/// What `open` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Named blobs.
    pub blobs: usize,
    /// Blob files no record names (a crash before their record), deleted.
    pub orphans_removed: usize,
}

/// Named blobs: files in `blobs/`, references in the log `log/`.
#[derive(Debug)]
pub struct BlobStore {
    fs: Arc<dyn FileSystem>,
    blobs_dir: PathBuf,
    wal_dir: PathBuf,
    wal: Wal,
    index: BTreeMap<String, BlobRef>,
    next_blob: u64,
}

fn blob_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".blob")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())?
}

impl BlobStore {
    /// Opens the store in `dir`: replays the references, deletes orphan blobs.
    pub fn open(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<(BlobStore, Opened)> {
        let blobs_dir = dir.join("blobs");
        let wal_dir = dir.join("log");
        fs.create_dir_all(&blobs_dir)?;
        fs.sync_dir(dir)?;
        let (wal, _) = Wal::open(wal_config(&fs, &wal_dir, FsyncPolicy::Always, 64 << 20))?;
        let mut index = BTreeMap::new();
        let mut reader = wal.read_from(Position::start())?;
        while let Some((r, at)) = reader.next_record()? {
            let name = String::from_utf8(r.key).map_err(|e| Error::bad_record(&wal_dir, at, e))?;
            if r.tombstone {
                index.remove(&name);
            } else {
                let blob: BlobRef = serde_json::from_slice(&r.value)
                    .map_err(|e| Error::bad_record(&wal_dir, at, e))?;
                index.insert(name, blob);
            }
        }
        let mut next_blob = 1;
        let mut orphans_removed = 0;
        let named: std::collections::BTreeSet<&str> =
            index.values().map(|b| b.file.as_str()).collect();
        for file in fs.list_dir(&blobs_dir)? {
            let Some(n) = blob_number(&file) else {
                return Err(Error::Invalid(format!(
                    "{} is not a blob",
                    blobs_dir.join(&file).display()
                )));
            };
            next_blob = next_blob.max(n.saturating_add(1));
            if !named.contains(file.as_str()) {
                fs.remove_file(&blobs_dir.join(&file))?;
                orphans_removed += 1;
            }
        }
        if orphans_removed > 0 {
            fs.sync_dir(&blobs_dir)?;
        }
        let opened = Opened {
            blobs: index.len(),
            orphans_removed,
        };
        Ok((
            BlobStore {
                fs,
                blobs_dir,
                wal_dir,
                wal,
                index,
                next_blob,
            },
            opened,
        ))
    }

    fn new_blob_name(&mut self) -> Result<String> {
        let n = self.next_blob;
        self.next_blob = n
            .checked_add(1)
            .ok_or_else(|| Error::Invalid("blob numbers are exhausted".into()))?;
        Ok(format!("{n:020}.blob"))
    }

    /// Steps 1-3: writes `data` to a new blob file, fsyncs it and the directory.
    pub fn write_blob(&mut self, data: &[u8]) -> Result<BlobRef> {
        let file = self.new_blob_name()?;
        let mut f = self.fs.create(&self.blobs_dir.join(&file))?;
        f.append(data)?;
        f.sync_all()?;
        drop(f);
        self.fs.sync_dir(&self.blobs_dir)?;
        Ok(BlobRef {
            file,
            size_bytes: data.len() as u64,
            crc32c: crc32c(data),
        })
    }

    /// Step 4: appends the record naming the blob (durable on return); a blob it replaces is
    /// deleted afterwards.
    pub fn commit(&mut self, name: &str, blob: BlobRef) -> Result<Position> {
        let value = serde_json::to_vec(&blob).map_err(|e| Error::Invalid(e.to_string()))?;
        let at = self.wal.append(&Record::put(name, value))?;
        if let Some(old) = self.index.insert(name.to_string(), blob) {
            self.fs.remove_file(&self.blobs_dir.join(old.file))?;
        }
        Ok(at)
    }

    /// Stores `data` under `name`: [`write_blob`](BlobStore::write_blob), then
    /// [`commit`](BlobStore::commit).
    pub fn put(&mut self, name: &str, data: &[u8]) -> Result<BlobRef> {
        let blob = self.write_blob(data)?;
        self.commit(name, blob.clone())?;
        Ok(blob)
    }

    /// The wrong order, kept to show in the tests what it risks: the record first, then the
    /// blob, without the directory fsync.
    pub fn put_record_first(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let file = self.new_blob_name()?;
        let blob = BlobRef {
            file: file.clone(),
            size_bytes: data.len() as u64,
            crc32c: crc32c(data),
        };
        self.commit(name, blob)?;
        let mut f = self.fs.create(&self.blobs_dir.join(&file))?;
        f.append(data)?;
        f.sync_all()?;
        Ok(())
    }

    /// Deletes `name`: the tombstone is logged (durably), then the file removed.
    pub fn delete(&mut self, name: &str) -> Result<bool> {
        let Some(old) = self.index.get(name).cloned() else {
            return Ok(false);
        };
        self.wal.append(&Record::delete(name))?;
        self.index.remove(name);
        self.fs.remove_file(&self.blobs_dir.join(old.file))?;
        Ok(true)
    }

    /// The blob named `name`, checked against its size and crc32c.
    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(blob) = self.index.get(name) else {
            return Ok(None);
        };
        let path = self.blobs_dir.join(&blob.file);
        if !self.fs.exists(&path) {
            return Err(Error::Corruption {
                file: path,
                offset: 0,
                reason: format!("the blob of {name:?} that the log references is missing"),
            });
        }
        let f = self.fs.open_read(&path)?;
        let len = f.len()?;
        if len != blob.size_bytes {
            return Err(Error::Corruption {
                file: path,
                offset: len.min(blob.size_bytes),
                reason: format!("{len} bytes, the log says {}", blob.size_bytes),
            });
        }
        let mut data = vec![0; len as usize];
        f.read_exact_at(&mut data, 0)?;
        let actual = crc32c(&data);
        if actual != blob.crc32c {
            return Err(Error::ChecksumMismatch {
                file: path,
                offset: 0,
                expected: blob.crc32c,
                actual,
            });
        }
        Ok(Some(data))
    }

    /// Every name and its reference.
    pub fn index(&self) -> &BTreeMap<String, BlobRef> {
        &self.index
    }

    /// The log's directory.
    pub fn wal_dir(&self) -> &Path {
        &self.wal_dir
    }

    /// The bytes of log data: whole sealed segments, plus the active segment up to the
    /// append position (its file may be longer: the WAL keeps zero-filled space preallocated
    /// ahead of the writer, which holds no data).
    pub fn log_bytes(&self) -> Result<u64> {
        let here = self.wal.current_position();
        let mut total = 0;
        for name in self.fs.list_dir(&self.wal_dir)? {
            match wal::format::parse_segment_file_name(&name) {
                Some(id) if id == here.segment_id() => total += here.offset(),
                Some(_) => total += self.fs.file_size(&self.wal_dir.join(name))?,
                None => {}
            }
        }
        Ok(total)
    }

    /// Closes the log.
    pub fn close(self) -> Result<()> {
        Ok(self.wal.close()?)
    }
}

/// A recognisable test pattern of `len` bytes.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Bytes of blobs stored (live at the end).
    pub blob_bytes: u64,
    /// Bytes of the log.
    pub log_bytes: u64,
    /// After the restart.
    pub reopened: Opened,
}

/// The program: stores two large blobs, replaces one, deletes one, restarts and verifies.
pub fn run(fs: Arc<dyn FileSystem>, dir: &Path, out: &mut dyn Write) -> Result<Summary> {
    writeln!(
        out,
        "large_values in {} (FsyncPolicy::Always for the references)",
        dir.display()
    )?;
    let (mut store, _) = BlobStore::open(fs.clone(), dir)?;
    let video = pattern(1, 4 << 20);
    let thumb = pattern(2, 256 << 10);
    let b1 = store.put("video-1", &video)?;
    store.put("thumb-1", &thumb)?;
    writeln!(
        out,
        "stored video-1 ({} bytes) as {}, thumb-1 ({} bytes)",
        b1.size_bytes,
        b1.file,
        thumb.len()
    )?;
    let video2 = pattern(3, 3 << 20);
    let b2 = store.put("video-1", &video2)?;
    store.delete("thumb-1")?;
    writeln!(
        out,
        "replaced video-1 ({} bytes, now {}), deleted thumb-1",
        b2.size_bytes, b2.file
    )?;
    let log_bytes = store.log_bytes()?;
    writeln!(
        out,
        "the log holds {} records in {log_bytes} bytes; the blobs stay beside it",
        4
    )?;
    store.close()?;
    let (store, reopened) = BlobStore::open(fs, dir)?;
    let ok = store.get("video-1")? == Some(video2.clone()) && store.get("thumb-1")?.is_none();
    writeln!(
        out,
        "after a restart: {} blob, read back and checked (size, crc32c): {ok}",
        reopened.blobs
    )?;
    if !ok {
        return Err(Error::Invalid("the blob store lost data".into()));
    }
    store.close()?;
    Ok(Summary {
        blob_bytes: video2.len() as u64,
        log_bytes,
        reopened,
    })
}
