//! When the active memtable is frozen: at `memtable_size_bytes`, or earlier when a memory
//! limit would otherwise make writers wait for the flush before it.
//!
//! Under `memtable_memory_limit_bytes` (L), a memtable frozen at S bytes is flushed while the
//! next one fills; once the two hold L together, writers wait for the flush to end. If the
//! flush takes `p` seconds per byte and writers add `r` bytes per second, the next memtable
//! gains `r * p * S` bytes during the flush, so writers never wait while
//!
//! ```text
//! S + r * p * S <= L,   i.e.   S <= L / (1 + r * p)
//! ```
//!
//! So the active memtable is frozen at [`freeze_point`]`(L, memtable_size_bytes, r, p)`: that
//! bound, at most the configured size and at least half of it. `r` is the pace of the last
//! memtable frozen for being full (its bytes over its life, less the time writers waited on
//! the limit meanwhile), taken as that memtable is frozen; `p` is the flushes' seconds per
//! byte, taken by the flush thread after each flush: a flush slower than the pace so far sets
//! it, a faster one moves it half way (so the point errs towards flushing early). The point is
//! recomputed at both moments, so a flush that ends while the next memtable fills already
//! moves that memtable's point. The growth `r * p` is taken with a margin
//! ([`GROWTH_MARGIN`], which says why). Measured with and without the margin in the same
//! build (`compare child`, 2 vCPUs, 3 interleaved pairs per case): overwrite 261-274k ->
//! 278-300k puts/s (peak RSS 156-170 -> 140-160 MiB), fillseq 456-525k -> 495-594k and
//! 480-549k -> 529-586k (two sets), fillrandom 260-288k -> 255-291k (no change; peak RSS
//! 82-83 MiB either way). Without a limit, or before the first flush, memtables freeze at
//! `memtable_size_bytes`. When the flush is slower than the writers even at half size
//! (`r * p > 1`), writers wait anyway and the floor keeps tables from shrinking further for
//! nothing.
//!
//! The writer (under the writer lock) and the flush thread both recompute; one of them may
//! store a point made from the other's previous figure, which the next recomputation
//! corrects. The point is a heuristic: the limit alone bounds the memory.
//!
//! A memtable that took in a replayed log at open counts the replayed bytes in its pace, so
//! its successor may freeze early once; the next full memtable's pace corrects it.
//!
//! The memory bound is unchanged (writers still wait at L); what changes is that a flush
//! starts before the memtables reach it. Measured in `compare` (64 MiB write buffer, L = 72
//! MiB, 2 vCPUs, 5 interleaved runs each, medians): overwrite 268k -> 328k puts/s,
//! fillrandom 277k -> 304k (peak RSS 83 -> 82 MiB), fillseq 530k -> 563k. In the timed phase
//! of a 1M-key overwrite the writer's limit waits fell from 0.55-0.84 s to 0-0.15 s, with 3-4
//! flushes of 43-58 MiB memtables instead of 2 of 64 MiB.

use crate::engine::{Engine, Writer};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The margin on the measured growth `r * p`: flushes of one size vary by about a quarter
/// (64 MiB flushes measured 323-433 ms on 2 vCPUs while the writer filled the next memtable),
/// and without it writers waited 74-125 ms at the end of a flush of a memtable frozen at the
/// point in `fillrandom`.
pub(crate) const GROWTH_MARGIN: f64 = 1.25;

/// The size to freeze the next memtable at:
/// `limit / (1 + GROWTH_MARGIN * write_rate * flush_secs_per_byte)` within `size / 2 ..=
/// size`; `size` when there is no limit (`limit == 0`) or no flush has been measured yet
/// (`flush_secs_per_byte == None`).
pub(crate) fn freeze_point(
    limit: usize,
    size: usize,
    write_bytes_per_sec: f64,
    flush_secs_per_byte: Option<f64>,
) -> usize {
    let Some(p) = flush_secs_per_byte else {
        return size;
    };
    if limit == 0 {
        return size;
    }
    // `max` also turns a NaN product into 0; an infinite one makes `fits` 0, then the floor.
    let growth = (GROWTH_MARGIN * write_bytes_per_sec * p).max(0.0);
    let fits = limit as f64 / (1.0 + growth);
    (fits as usize).clamp(size / 2, size)
}

/// The active memtable's start: when, and the microseconds writers had waited on the limit
/// by then (`Counters::memory_stall_micros`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActiveSince {
    pub at: Instant,
    pub stall_micros: u64,
}

impl ActiveSince {
    /// Now, with `stall_micros` waited so far.
    pub(crate) fn now(stall_micros: u64) -> ActiveSince {
        ActiveSince {
            at: Instant::now(),
            stall_micros,
        }
    }
}

impl Engine {
    /// The size at which the active memtable is frozen now (see the module doc).
    pub(crate) fn freeze_at(&self) -> usize {
        self.freeze_at.load(Ordering::Relaxed)
    }

    /// A marker for a memtable becoming active now.
    pub(crate) fn active_since_now(&self) -> ActiveSince {
        ActiveSince::now(self.counters.memory_stall_micros.load(Ordering::Relaxed))
    }

    /// Called by a write that found the active memtable full, before it freezes it: records
    /// this memtable's write pace and sets the freeze point from it.
    pub(crate) fn note_write_pace(&self, w: &Writer) {
        let stalled = self
            .counters
            .memory_stall_micros
            .load(Ordering::Relaxed)
            .saturating_sub(w.active_since.stall_micros);
        // The limit waits happen under the writer lock, one at a time: their sum is wall time.
        let life = w
            .active_since
            .at
            .elapsed()
            .saturating_sub(Duration::from_micros(stalled));
        let rate = w.active.approximate_size_bytes() as f64 / life.as_secs_f64().max(1e-6);
        self.write_bytes_per_sec
            .store(rate.to_bits(), Ordering::Relaxed);
        self.refresh_freeze_point();
    }

    /// Called by the flush thread after a flush of `bytes` (the memtable's size estimate) that
    /// took `took`: folds its seconds per byte into the flushes' pace (a slower flush counts at
    /// once, a faster one by half), and sets the freeze point from it, so that the memtable
    /// filling now already freezes at the new point.
    pub(crate) fn note_flush_pace(&self, bytes: usize, took: Duration) {
        if bytes == 0 {
            return;
        }
        let new = took.as_secs_f64() / bytes as f64;
        let old = f64::from_bits(self.flush_secs_per_byte.load(Ordering::Relaxed));
        let pace = if old > 0.0 && new < old {
            (old + new) / 2.0
        } else {
            new
        };
        self.flush_secs_per_byte
            .store(pace.to_bits(), Ordering::Relaxed);
        self.refresh_freeze_point();
    }

    fn refresh_freeze_point(&self) {
        let rate = f64::from_bits(self.write_bytes_per_sec.load(Ordering::Relaxed));
        let pace = f64::from_bits(self.flush_secs_per_byte.load(Ordering::Relaxed));
        let next = freeze_point(
            self.opts.memtable_memory_limit_bytes,
            self.opts.memtable_size_bytes,
            rate,
            (pace > 0.0).then_some(pace),
        );
        self.freeze_at.store(next, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::{freeze_point, GROWTH_MARGIN};

    const MIB: usize = 1 << 20;

    #[test]
    fn without_a_limit_or_a_measured_flush_memtables_freeze_at_their_size() {
        assert_eq!(freeze_point(0, 64 * MIB, 1e9, Some(1e-8)), 64 * MIB);
        assert_eq!(freeze_point(72 * MIB, 64 * MIB, 1e9, None), 64 * MIB);
    }

    #[test]
    fn the_next_memtable_may_fill_the_rest_of_the_limit_during_a_slower_flush() {
        // Writers at 50 MB/s, flushes at 160 MB/s: growth 0.3125 of the frozen size, taken
        // with the margin.
        let s = freeze_point(72 * MIB, 64 * MIB, 50e6, Some(1.0 / 160e6));
        assert_eq!(
            s,
            (72.0 * MIB as f64 / (1.0 + 0.3125 * GROWTH_MARGIN)) as usize
        );
        // A flush a quarter slower than the measured pace still ends at the limit, not past.
        let during_flush = s as f64 * 50e6 * GROWTH_MARGIN / 160e6;
        assert!((s as f64 + during_flush - (72 * MIB) as f64).abs() < 2.0);
        assert!(s < (72.0 * MIB as f64 / 1.3125) as usize);
    }

    #[test]
    fn slow_writers_or_a_large_limit_keep_the_configured_size() {
        assert_eq!(freeze_point(72 * MIB, 64 * MIB, 1e3, Some(1e-8)), 64 * MIB);
        assert_eq!(
            freeze_point(256 * MIB, 64 * MIB, 50e6, Some(1.0 / 160e6)),
            64 * MIB
        );
        assert_eq!(freeze_point(72 * MIB, 64 * MIB, 0.0, Some(1e-8)), 64 * MIB);
        assert_eq!(
            freeze_point(72 * MIB, 64 * MIB, f64::NAN, Some(1e-8)),
            64 * MIB
        );
    }

    #[test]
    fn a_flush_slower_than_the_writers_stops_at_half_the_size() {
        assert_eq!(freeze_point(72 * MIB, 64 * MIB, 1e9, Some(1e-6)), 32 * MIB);
        assert_eq!(
            freeze_point(72 * MIB, 64 * MIB, f64::INFINITY, Some(1e-6)),
            32 * MIB
        );
    }
}
