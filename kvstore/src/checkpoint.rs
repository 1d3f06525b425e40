//! Checkpoints: a consistent, openable copy of the database in another directory.
//!
//! ```text
//! flush (every write acknowledged before the call is then in a table)
//! take the version set's state: version V, last sequence S, next file number N
//! for each table of V: hard-link it into dest (copy, and sync the copy, where linking fails)
//! write dest/MANIFEST-N holding V, S, log start = the start of an empty WAL; sync; sync dest;
//! point dest/CURRENT at it (write, sync, rename, sync dest)
//! ```
//! Holding `V` keeps its tables from being deleted while they are linked. Writes that race
//! with the checkpoint are either wholly in it (flushed before the state was taken) or not.

use crate::engine::{lock, Engine};
use crate::error::{Error, Result};
use crate::filename::table_path;
use crate::version_set::write_snapshot_manifest;
use common::FileSystem;
use std::path::Path;
use std::sync::Arc;

impl Engine {
    /// See [`crate::Db::checkpoint`].
    pub fn checkpoint(&self, dest: &Path) -> Result<()> {
        let fs = &self.fs;
        if fs.is_dir(dest) {
            let names = fs.list_dir(dest).map_err(|e| Error::io(dest, e))?;
            if !names.is_empty() {
                return Err(Error::DestinationNotEmpty {
                    path: dest.to_path_buf(),
                });
            }
        } else if fs.exists(dest) {
            return Err(Error::DestinationNotEmpty {
                path: dest.to_path_buf(),
            });
        }
        self.flush_and_wait()?;
        let state = lock(&self.versions).state();
        fs.create_dir_all(dest).map_err(|e| Error::io(dest, e))?;
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
        for (_, f) in state.version.all_files() {
            let from = table_path(&self.dir, f.number);
            let to = table_path(dest, f.number);
            if fs.hard_link(&from, &to).is_err() {
                copy_file(fs, &from, &to)?;
            }
        }
        write_snapshot_manifest(
            fs,
            dest,
            state.next_file_number,
            &state.version,
            state.last_sequence,
            wal::Position::start().to_bytes(),
            state.next_file_number + 1,
        )?;
        Ok(())
    }
}

/// Copies `from` to `to` and syncs the copy.
fn copy_file(fs: &Arc<dyn FileSystem>, from: &Path, to: &Path) -> Result<()> {
    let src = fs.open_read(from).map_err(|e| Error::io(from, e))?;
    let len = src.len().map_err(|e| Error::io(from, e))?;
    let mut dst = fs.create(to).map_err(|e| Error::io(to, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let n = buf.len().min((len - at) as usize);
        src.read_exact_at(&mut buf[..n], at)
            .map_err(|e| Error::io(from, e))?;
        dst.append(&buf[..n]).map_err(|e| Error::io(to, e))?;
        at += n as u64;
    }
    dst.sync_all().map_err(|e| Error::io(to, e))
}
