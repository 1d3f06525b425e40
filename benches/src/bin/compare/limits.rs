//! The machine's own ceiling: sequential write bandwidth with one fdatasync at the end, and
//! the rates of 4 KiB append+fdatasync and 4 KiB overwrite-in-place+fdatasync loops.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

/// The three figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Sequential write, 1 MiB writes then one fdatasync: MiB/s.
    pub seq_mib_per_sec: f64,
    /// 4 KiB append + fdatasync per op: ops/s.
    pub append_sync_per_sec: f64,
    /// 4 KiB overwrite at offset 0 + fdatasync per op: ops/s.
    pub overwrite_sync_per_sec: f64,
}

/// Measures the limits with files in `dir` (removed afterwards): `seq_mib` MiB sequential,
/// `ops` fdatasyncs per loop.
pub fn measure(dir: &Path, seq_mib: u64, ops: u64) -> std::io::Result<Limits> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("limits.tmp");
    let chunk = vec![0xA5u8; 1 << 20];

    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    let at = Instant::now();
    for _ in 0..seq_mib {
        f.write_all(&chunk)?;
    }
    f.sync_data()?;
    let seq_mib_per_sec = seq_mib as f64 / at.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;

    let page = &chunk[..4096];
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    let at = Instant::now();
    for _ in 0..ops {
        f.write_all(page)?;
        f.sync_data()?;
    }
    let append_sync_per_sec = ops as f64 / at.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;

    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    f.write_all_at(page, 0)?;
    f.sync_all()?;
    let at = Instant::now();
    for _ in 0..ops {
        f.write_all_at(page, 0)?;
        f.sync_data()?;
    }
    let overwrite_sync_per_sec = ops as f64 / at.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;

    Ok(Limits {
        seq_mib_per_sec,
        append_sync_per_sec,
        overwrite_sync_per_sec,
    })
}

impl Limits {
    /// The higher of each figure in `self` and `other` (a shared machine's ceiling is what it
    /// reached when least disturbed).
    pub fn best(self, other: Limits) -> Limits {
        Limits {
            seq_mib_per_sec: self.seq_mib_per_sec.max(other.seq_mib_per_sec),
            append_sync_per_sec: self.append_sync_per_sec.max(other.append_sync_per_sec),
            overwrite_sync_per_sec: self
                .overwrite_sync_per_sec
                .max(other.overwrite_sync_per_sec),
        }
    }
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "machine limits:")?;
        writeln!(
            f,
            "  sequential write + one fdatasync:   {:>10.0} MiB/s",
            self.seq_mib_per_sec
        )?;
        writeln!(
            f,
            "  4 KiB append + fdatasync:           {:>10.0} /s",
            self.append_sync_per_sec
        )?;
        write!(
            f,
            "  4 KiB overwrite-in-place + fdatasync: {:>8.0} /s",
            self.overwrite_sync_per_sec
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_measure_and_print() {
        let dir = tempfile::tempdir().unwrap();
        let l = measure(dir.path(), 1, 3).unwrap();
        assert!(l.seq_mib_per_sec > 0.0 && l.append_sync_per_sec > 0.0);
        assert!(l.overwrite_sync_per_sec > 0.0);
        let text = l.to_string();
        assert!(
            text.contains("MiB/s") && text.contains("overwrite-in-place"),
            "{text}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "files removed"
        );
    }
}
