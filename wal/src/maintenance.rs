//! The rare operations that change which segments exist: rotation, `truncate_after`,
//! `delete_segments_before`. Each holds the engine's `admin` lock throughout.
//!
//! Orders that make them crash-safe:
//! - rotation: create the new segment (header, fdatasync, directory fsync) before any record
//!   goes to it; switch appends to it; fdatasync the old one before the new one's bytes are
//!   written (they wait in the buffer while `sealing`), so no crash can leave records in a new
//!   segment after a torn old one;
//! - `truncate_after`: remove later segments newest first, fsync the directory, cut the kept
//!   segment, write a seal frame if the cut split a batch, fdatasync;
//! - `delete_segments_before`: remove oldest first (a crash leaves a contiguous log), fsync the
//!   directory.

use crate::engine::{lock, Engine};
use crate::error::{Error, Result};
use crate::format::{max_payload_for, FLAG_LAST, KIND_SEAL, SEGMENT_HEADER_LEN};
use crate::frames::FileWindow;
use crate::recovery::frame_at;
use crate::segment::{create_segment, segment_path};
use crate::writer::ActiveSegment;
use crate::Position;
use std::sync::atomic::Ordering;

impl Engine {
    /// Rotates if the active segment reached its size (`rotate_pending`), checked under the
    /// `admin` lock so that the sync thread and a leading waiter never both rotate for it.
    pub fn rotate_if_due(&self) -> Result<()> {
        let _admin = lock(&self.admin);
        if !lock(&self.state).rotate_pending {
            return Ok(());
        }
        let result = self.rotate_locked();
        lock(&self.state).rotate_pending = false;
        result.map(|_| ())
    }

    /// Seals the active segment and starts the next; returns the position of its first record.
    pub fn rotate(&self) -> Result<Position> {
        let _admin = lock(&self.admin);
        let result = self.rotate_locked();
        lock(&self.state).rotate_pending = false;
        result
    }

    fn rotate_locked(&self) -> Result<Position> {
        self.check_writable()?;
        let fs = &*self.config.fs;
        let dir = &self.config.dir;
        let new_id = lock(&self.state).active.as_ref().ok_or(Error::Closed)?.id + 1;
        let file = create_segment(
            fs,
            dir,
            new_id,
            self.config.new_segment_len(),
            self.config.zero_fill(),
        )
        .map_err(|e| self.poison("creating a new segment failed", e))?;
        let fresh = ActiveSegment::new(fs, segment_path(dir, new_id), new_id, file, &self.config)
            .map_err(|e| self.poison("opening a new segment failed", e))?;
        let mut old = {
            let mut st = lock(&self.state);
            let active = st.active.as_mut().ok_or(Error::Closed)?;
            if let Err(e) = active.flush() {
                return Err(self.poison("write to the active segment failed", e));
            }
            let old = std::mem::replace(active, fresh);
            st.segments.insert(old.id, Some(old.file_end));
            st.segments.insert(new_id, None);
            st.sealing = true;
            old
        };
        let sealed = old.trim().and_then(|()| old.flush_and_sync());
        lock(&self.state).sealing = false;
        self.seal_cv.notify_all();
        sealed.map_err(|e| self.poison("sealing a segment (fdatasync) failed", e))?;
        self.mark_durable(Position::new(new_id, 0));
        Ok(Position::new(new_id, SEGMENT_HEADER_LEN))
    }

    /// Keeps the record at `pos` and everything before it; drops every later record.
    /// `Position::start()` drops every record.
    pub fn truncate_after(&self, pos: Position) -> Result<()> {
        let _admin = lock(&self.admin);
        self.check_writable()?;
        let fs = &*self.config.fs;
        let dir = &self.config.dir;
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let active = st.active.as_mut().ok_or(Error::Closed)?;
        if let Err(e) = active.flush() {
            return Err(self.poison("write to the active segment failed", e));
        }
        let end = active.end_position();
        let active_id = active.id;
        let first = *st.segments.keys().next().unwrap_or(&active_id);
        let invalid = |reason: &str| Error::InvalidPosition {
            position: pos,
            reason: reason.to_string(),
        };
        let (seg, cut, seal) = if pos == Position::start() {
            (first, SEGMENT_HEADER_LEN, false)
        } else {
            if pos.segment_id() < first {
                return Err(Error::PositionDeleted {
                    position: pos,
                    first_available: Position::new(first, SEGMENT_HEADER_LEN),
                });
            }
            if pos >= end || pos.offset() < SEGMENT_HEADER_LEN {
                return Err(invalid("no record of this log is there"));
            }
            let len = match st.segments.get(&pos.segment_id()) {
                Some(Some(len)) => *len,
                Some(None) => active.file_end,
                None => return Err(invalid("no such segment")),
            };
            let file = fs.open_read(&segment_path(dir, pos.segment_id()))?;
            let mut win = FileWindow::new(file, len);
            match frame_at(
                &mut win,
                pos.offset(),
                max_payload_for(self.config.max_record_bytes),
            )? {
                Ok((h, total)) if h.kind != KIND_SEAL => (
                    pos.segment_id(),
                    pos.offset() + total,
                    h.flags & FLAG_LAST == 0,
                ),
                _ => return Err(invalid("no record starts there")),
            }
        };
        if seg != active_id {
            let later: Vec<u64> = st.segments.range(seg + 1..).map(|(&id, _)| id).collect();
            for id in later.iter().rev() {
                fs.remove_file(&segment_path(dir, *id))
                    .map_err(|e| self.poison("removing a truncated segment failed", e))?;
                st.segments.remove(id);
            }
            fs.sync_dir(dir)
                .map_err(|e| self.poison("fsync of the WAL directory failed", e))?;
            let path = segment_path(dir, seg);
            let reopened = fs
                .open_append(&path)
                .and_then(|f| ActiveSegment::new(fs, path, seg, f, &self.config))
                .map_err(|e| self.poison("reopening the kept segment failed", e))?;
            st.active = Some(reopened);
            st.segments.insert(seg, None);
        }
        let active = st.active.as_mut().ok_or(Error::Closed)?;
        let done = (|| {
            active.truncate(cut)?;
            if seal {
                active.encode_seal();
            }
            active.flush_and_sync()
        })();
        done.map_err(|e| self.poison("truncating the log failed", e))?;
        let new_end = active.end_position();
        let epoch = self.epoch.load(Ordering::Acquire) + 1;
        st.truncations.push((epoch, Position::new(seg, cut)));
        st.unflushed_since = None;
        st.unsynced_since = None;
        self.epoch.store(epoch, Ordering::Release);
        let sleepers = {
            let mut s = lock(&self.sync);
            s.durable = new_end;
            s.in_flight = new_end;
            s.sleepers.take_all()
        };
        self.durable_tx.send_replace(new_end);
        crate::sleepers::unpark_all(sleepers);
        self.reset_written(new_end);
        Ok(())
    }

    /// Deletes every segment wholly before `pos` (never the active one); returns how many.
    pub fn delete_segments_before(&self, pos: Position) -> Result<usize> {
        let _admin = lock(&self.admin);
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let victims: Vec<u64> = {
            let st = lock(&self.state);
            let active = st.active.as_ref().ok_or(Error::Closed)?.id;
            let limit = pos.segment_id().min(active);
            st.segments.range(..limit).map(|(&id, _)| id).collect()
        };
        // Oldest first, and a segment leaves the in-memory list only once its file is gone:
        // if a removal fails, it and every later victim stay listed, so a retry deletes them.
        let mut removed = 0;
        let mut failure = None;
        for id in &victims {
            let entry = lock(&self.state).segments.remove(id);
            if let Err(e) = self
                .config
                .fs
                .remove_file(&segment_path(&self.config.dir, *id))
            {
                if let Some(entry) = entry {
                    lock(&self.state).segments.insert(*id, entry);
                }
                failure = Some(e);
                break;
            }
            removed += 1;
        }
        if removed > 0 {
            self.config
                .fs
                .sync_dir(&self.config.dir)
                .map_err(|e| self.poison("fsync of the WAL directory failed", e))?;
        }
        if let Some(e) = failure {
            return Err(e.into());
        }
        Ok(removed)
    }
}
