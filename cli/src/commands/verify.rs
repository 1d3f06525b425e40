//! `kv verify`: every checksum of every file, without opening (and so without repairing) the
//! store. Each problem is one line naming the file and the offset; the exit status is 0 only
//! when there are none.

use crate::commands::stats::human_bytes;
use crate::failure::{Failure, Outcome};
use crate::inspect::{open_wal_copy, read_manifest, wal_segments};
use crate::store::{self, fs};
use kvstore::filename::{self, FileKind};
use std::path::Path;

/// What a verification found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Lines describing what was checked and found sound.
    pub ok: Vec<String>,
    /// Damage: each names a file and an offset.
    pub problems: Vec<String>,
    /// Things worth knowing that are not damage (leftovers a crash explains).
    pub notes: Vec<String>,
}

/// Checks the store in `dir` (which the caller has locked).
pub fn check(dir: &Path) -> Outcome<Findings> {
    let mut f = Findings::default();
    let fs = fs();
    let view = match read_manifest(dir) {
        Ok(v) => Some(v),
        Err(e) => {
            f.problems.push(format!("manifest: {e}"));
            None
        }
    };
    if let Some(view) = &view {
        f.ok.push(format!(
            "{}: {} edit(s), {} live table(s), last flushed sequence {}, WAL replay from {}",
            view.path.display(),
            view.edits.len(),
            view.live.len(),
            view.last_sequence,
            view.log_start
        ));
        for (&number, (level, desc)) in &view.live {
            let path = filename::table_path(dir, number);
            if !fs.exists(&path) {
                f.problems.push(format!(
                    "{} at offset 0: missing, but the manifest lists it at level {level}",
                    path.display()
                ));
                continue;
            }
            match fs.file_size(&path) {
                Ok(len) if len != desc.size_bytes => f.problems.push(format!(
                    "{} at offset {}: the file is {len} bytes, the manifest says {}",
                    path.display(),
                    len.min(desc.size_bytes),
                    desc.size_bytes
                )),
                Ok(_) => {}
                Err(e) => f
                    .problems
                    .push(format!("{} at offset 0: {e}", path.display())),
            }
            let checked = sstable::Table::open(fs.clone(), &path, number, None)
                .and_then(|t| t.verify().map(|r| (t, r)));
            match checked {
                Err(e) => f.problems.push(e.to_string()),
                Ok((t, r)) => {
                    let p = t.properties();
                    if p.smallest != desc.smallest || p.largest != desc.largest {
                        f.problems.push(format!(
                            "{} at offset {}: its key range differs from the manifest's",
                            path.display(),
                            desc.size_bytes
                        ));
                    }
                    f.ok.push(format!(
                        "{}: level {level}, {}, {} entries ({} tombstones) in {} data blocks",
                        path.display(),
                        human_bytes(desc.size_bytes),
                        r.entries,
                        r.tombstones,
                        r.data_blocks
                    ));
                }
            }
        }
        // Files the manifest does not name: a crash's leftovers, removed by the next open.
        let names = fs.list_dir(dir).unwrap_or_default();
        for name in names {
            match filename::parse(&name) {
                Some(FileKind::Table(n)) if !view.live.contains_key(&n) => f.notes.push(format!(
                    "{name} is not in the manifest (left by an interrupted flush or compaction; the next open removes it)"
                )),
                Some(FileKind::Manifest(_)) if dir.join(&name) != view.path => f.notes.push(
                    format!("{name} is an old manifest (the next open removes it)"),
                ),
                Some(FileKind::Temp) => f.notes.push(format!(
                    "{name} is a temporary file (the next open removes it)"
                )),
                _ => {}
            }
        }
    }
    check_wal(dir, view.as_ref().map(|v| v.log_start), &mut f)?;
    Ok(f)
}

fn check_wal(dir: &Path, log_start: Option<wal::Position>, f: &mut Findings) -> Outcome {
    let segments = wal_segments(dir)?;
    let opened = match open_wal_copy(dir, wal::RecoveryMode::SkipCorrupted) {
        Ok(o) => o,
        Err(e) => {
            f.problems.push(format!("wal: {e}"));
            return Ok(());
        }
    };
    let Some((wal, info)) = opened else {
        f.notes.push("the store has no WAL segments yet".into());
        return Ok(());
    };
    for s in &info.skipped {
        f.problems.push(format!(
            "{} at offset {}: {} ({} bytes damaged)",
            s.file.display(),
            s.from_offset,
            s.reason,
            s.to_offset.saturating_sub(s.from_offset)
        ));
    }
    if info.bytes_cut > 0 {
        f.notes.push(format!(
            "the last WAL segment ends in a torn write of {} bytes (a write interrupted by a crash; it was never acknowledged under fsync policy `always`, and the next open cuts it)",
            info.bytes_cut
        ));
    }
    let mut replay = 0u64;
    if let Some(start) = log_start {
        match wal.read_from(start) {
            Err(e) => f.problems.push(format!(
                "wal: cannot read from the manifest's replay position {start}: {e}"
            )),
            Ok(mut reader) => loop {
                match reader.next_record() {
                    Ok(Some(_)) => replay += 1,
                    Ok(None) => break,
                    Err(e) => {
                        f.problems.push(format!("wal: {e}"));
                        break;
                    }
                }
            },
        }
    }
    let bytes: u64 = segments
        .iter()
        .map(|(_, p)| fs().file_size(p).unwrap_or(0))
        .sum();
    f.ok.push(format!(
        "{}: {} segment(s), {}, {} whole record(s), {} of them after the last flush",
        dir.join(filename::WAL_DIR).display(),
        info.segments_read,
        human_bytes(bytes),
        info.records_read,
        replay
    ));
    Ok(())
}

/// `kv verify`.
pub fn verify(dir: &Path) -> Outcome {
    let _lock = store::lock_quiet(dir)?;
    let f = check(dir)?;
    println!("verifying {}", dir.display());
    for l in &f.ok {
        println!("  ok       {l}");
    }
    for l in &f.notes {
        println!("  note     {l}");
    }
    for l in &f.problems {
        println!("  PROBLEM  {l}");
    }
    if f.problems.is_empty() {
        println!("sound: every checksum of every file matches");
        Ok(())
    } else {
        Err(Failure::storage(format!(
            "{} problem(s) found in {}; the store is not sound",
            f.problems.len(),
            dir.display()
        )))
    }
}
