//! Configuration: where the log lives and what it promises.

use crate::error::{Error, Result};
use crate::format::MAX_FRAME_PAYLOAD;
use common::{FileSystem, RealFs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What a returned `append` promises: whether the record survives a *process crash* (the
/// process dies, e.g. SIGKILL or an abort, while the operating system keeps running) and a
/// *power loss* (or kernel crash: only what was fsynced survives).
///
/// | policy      | when `append` returns, the record is ...      | process crash | power loss                  |
/// |-------------|-----------------------------------------------|---------------|-----------------------------|
/// | `Always`    | written and fdatasynced                       | survives      | survives                    |
/// | `Batch(d)`  | written to the OS; fdatasynced within `d`     | survives      | survives once `d` has passed |
/// | `Os`        | written to the OS                             | survives      | only after `sync`, `close` or a rotation |
///
/// "Written to the OS" means a `write` system call put the bytes in the segment file (the page
/// cache); concurrent appenders share that call (a group write) as they share fdatasyncs under
/// `Always` (group commit). The same holds for [`wait_durable`](crate::Wal::wait_durable)
/// after [`append_no_wait`](crate::Wal::append_no_wait); until `wait_durable` returns, such
/// a record may still be in the process's buffer (the background thread writes it out within
/// about a millisecond, but that is not a promise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `append` returns once an fdatasync covers the record. Concurrent appenders share one
    /// fdatasync (group commit).
    Always,
    /// `append` returns once the record is written to the OS (it survives a process crash); a
    /// background thread fdatasyncs every record within the given interval of its append's
    /// return, also when no further append comes (it survives a power loss after that).
    Batch(Duration),
    /// `append` returns once the record is written to the OS (it survives a process crash); it
    /// survives a power loss once `sync()`, `close()` or a segment rotation has returned.
    Os,
}

/// What `open` does with damage it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// A torn tail of the last segment (or of the one before it, if a crash interrupted a
    /// rotation) is cut back to the last whole batch; damage anywhere else is an error naming
    /// the file and offset.
    #[default]
    TolerateCorruptTail,
    /// Any damage, a torn tail included, is an error. (A zero-filled preallocated tail is not
    /// damage.)
    AbsoluteConsistency,
    /// Damaged ranges are skipped and every skip is reported in `RecoveryInfo::skipped`;
    /// readers jump over them. A checksum-failed record is never returned.
    SkipCorrupted,
}

/// Whether record payloads are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// Stored as is.
    #[default]
    None,
    /// lz4 for records whose key plus value is at least `min_bytes` (kept only if smaller).
    Lz4 {
        /// The smallest record worth compressing.
        min_bytes: usize,
    },
}

/// How to open a log. Build with struct update syntax over [`Default`].
#[derive(Clone, Debug)]
pub struct WalConfig {
    /// The directory holding the segments and the LOCK file (created if missing).
    pub dir: PathBuf,
    /// Durability promise; default `Batch(5ms)`.
    pub fsync_policy: FsyncPolicy,
    /// A segment is sealed and a new one started once it reaches this size (default 128 MiB).
    /// The background thread rotates, so a segment can exceed this by what is appended
    /// meanwhile (a batch never spans segments).
    pub segment_size_bytes: u64,
    /// Largest key plus value accepted (default 64 MiB). Recovery treats longer frames as
    /// damage, so do not reopen a log with a limit below records it holds.
    pub max_record_bytes: u64,
    /// What `open` does with damage (default `TolerateCorruptTail`).
    pub recovery_mode: RecoveryMode,
    /// Payload compression (default none).
    pub compression: Compression,
    /// Keep zero-filled, allocated space ([`PREALLOCATE_STEP`] bytes at a time) ahead of the
    /// writer under `Always` and `Batch`, so that an fdatasync overwrites blocks in place and
    /// need not also commit a new file size and block allocation (one fsync per step does).
    /// Default true. Under `Os`, which fsyncs only at `sync`, `close` and rotation, it is
    /// used only for `mapped_appends` on a file system that maps. The zero tail is cut at rotation and close, and by
    /// recovery after a crash.
    pub preallocate: bool,
    /// Write buffered appends into the preallocated space by copying them into a shared
    /// memory map of the segment (the same page-cache pages a `write` fills: as safe from a
    /// process crash, without a system call per hand-off), on file systems that map
    /// (the real one), under `Os` and `Batch`. Needs `preallocate`. Default true. Not used
    /// under `Always`: there every append is followed by an fdatasync, and the next store
    /// into the page it wrote back faults and waits for that writeback (measured: 9.1-10.8k
    /// against 10.2-11.4k durable appends/s with `write` calls). Set it false to have every
    /// hand-off be a `write` call, e.g. where another process might truncate the segments (a
    /// store into a page past the end of the file would kill the process with SIGBUS).
    pub mapped_appends: bool,
    /// Appends are gathered in a buffer of this size before being written (default 256 KiB).
    pub write_buffer_bytes: usize,
    /// How long a blocking durability waiter that another thread's round will serve (an
    /// `Always` append's wait, a `sync`) yields the CPU in a loop before it parks (default
    /// 400 us; zero parks at once). A parked waiter is woken by a system call and, on an idle
    /// core, an inter-processor interrupt: tens of microseconds on a VM, paid again at each
    /// level of the wake-up relay (see `sleepers.rs`). A yielding waiter sees its round end at
    /// once and gives way to any other runnable thread, but keeps an otherwise idle core busy
    /// while it waits: set zero where idle cores matter more than durable-write throughput.
    pub wait_spin: Duration,
    /// The file system (default the real one).
    pub fs: Arc<dyn FileSystem>,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            dir: PathBuf::from("wal"),
            fsync_policy: FsyncPolicy::Batch(Duration::from_millis(5)),
            segment_size_bytes: 128 << 20,
            max_record_bytes: 64 << 20,
            recovery_mode: RecoveryMode::default(),
            compression: Compression::default(),
            preallocate: true,
            mapped_appends: true,
            write_buffer_bytes: 256 << 10,
            wait_spin: DEFAULT_WAIT_SPIN,
            fs: RealFs::shared(),
        }
    }
}

/// The default of [`WalConfig::wait_spin`].
pub const DEFAULT_WAIT_SPIN: Duration = Duration::from_micros(400);

/// How much zero-filled space [`WalConfig::preallocate`] adds ahead of the writer at a time
/// (at most `segment_size_bytes`).
pub const PREALLOCATE_STEP: u64 = 256 << 10;

impl WalConfig {
    /// Bytes of zero-filled space kept ahead of the writer; 0 when not preallocating.
    pub(crate) fn preallocate_step(&self) -> u64 {
        if self.preallocate && (self.fsync_policy != FsyncPolicy::Os || self.maps()) {
            PREALLOCATE_STEP.min(self.segment_size_bytes)
        } else {
            0
        }
    }

    /// Whether the active segment's preallocated space is mapped for appends.
    pub(crate) fn maps(&self) -> bool {
        self.mapped_appends && self.fsync_policy != FsyncPolicy::Always && self.fs.maps_files()
    }

    /// Whether preallocated space is written with zeros (`WritableFile::preallocate`) rather
    /// than only allocated (`WritableFile::reserve`): under `Always`, where every append is
    /// fdatasynced and allocated-but-unwritten extents would make each of those syncs also
    /// commit their conversion. The others fdatasync rarely, and writing the zeros cost a
    /// second page-cache write of every logged byte (8.5% of a `fillseq` writer).
    pub(crate) fn zero_fill(&self) -> bool {
        self.fsync_policy == FsyncPolicy::Always
    }

    /// Whether written bytes are handed to writeback a step at a time behind the writer
    /// (`writer.rs`, `WRITEBACK_STEP`): under `Os` and `Batch`, whose fdatasyncs come rarely
    /// and would otherwise find a whole segment dirty. Not under `Always`: every round
    /// fdatasyncs what it wrote.
    pub(crate) fn writeback_behind(&self) -> bool {
        self.fsync_policy != FsyncPolicy::Always
    }

    /// The length a new segment is zero-filled to, if preallocating.
    pub(crate) fn new_segment_len(&self) -> Option<u64> {
        let step = self.preallocate_step();
        (step > 0).then_some(crate::format::SEGMENT_HEADER_LEN + step)
    }
    /// Rejects values the log cannot honour.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.segment_size_bytes < 4096 {
            return Err(Error::InvalidConfig(format!(
                "segment_size_bytes {} is below the minimum 4096",
                self.segment_size_bytes
            )));
        }
        if self.max_record_bytes == 0 || self.max_record_bytes > MAX_FRAME_PAYLOAD - 32 {
            return Err(Error::InvalidConfig(format!(
                "max_record_bytes {} must be between 1 and {}",
                self.max_record_bytes,
                MAX_FRAME_PAYLOAD - 32
            )));
        }
        if let FsyncPolicy::Batch(d) = self.fsync_policy {
            if d.is_zero() {
                return Err(Error::InvalidConfig(
                    "FsyncPolicy::Batch needs a non-zero interval (use Always)".into(),
                ));
            }
        }
        if self.write_buffer_bytes == 0 {
            return Err(Error::InvalidConfig(
                "write_buffer_bytes must be positive".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = WalConfig::default();
        assert_eq!(c.fsync_policy, FsyncPolicy::Batch(Duration::from_millis(5)));
        assert_eq!(c.segment_size_bytes, 128 << 20);
        assert_eq!(c.max_record_bytes, 64 << 20);
        assert!(c.validate().is_ok());
        let bad = WalConfig {
            segment_size_bytes: 10,
            ..WalConfig::default()
        };
        assert!(matches!(bad.validate(), Err(Error::InvalidConfig(_))));
        let bad = WalConfig {
            fsync_policy: FsyncPolicy::Batch(Duration::ZERO),
            ..WalConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
