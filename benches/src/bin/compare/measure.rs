//! What the harness measures outside the engines: a directory's size on disk and the
//! process's peak resident memory. (The binary's own measurements read the file system
//! directly; the engines do their own I/O.)

use std::path::Path;

/// Bytes of every file under `dir` (allocated blocks, so preallocated but unwritten space
/// counts, as `du` would count it).
pub fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            total += dir_bytes(&entry.path());
        } else {
            total += meta.blocks() * 512;
        }
    }
    total
}

/// The `VmHWM` line's value (peak resident set, KiB) from a `/proc/<pid>/status` text.
pub fn parse_vmhwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// This process's peak resident set in KiB (0 where /proc is missing).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_vmhwm(&s))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmhwm_is_read_from_a_status_text() {
        let status = "Name:\tcompare\nVmPeak:\t  99 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vmhwm(status), Some(12345));
        assert_eq!(parse_vmhwm("Name:\tx\n"), None);
    }

    #[test]
    fn dir_bytes_counts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/f"), vec![1u8; 10_000]).unwrap();
        assert!(dir_bytes(dir.path()) >= 10_000);
        assert_eq!(dir_bytes(&dir.path().join("missing")), 0);
    }
}
