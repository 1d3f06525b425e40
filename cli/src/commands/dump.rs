//! `kv dump wal|sst FILE|manifest`: the on-disk files in readable form.

use crate::bytes::Spelling;
use crate::commands::stats::human_bytes;
use crate::failure::{Failure, Outcome};
use crate::inspect::{open_wal_copy, read_manifest};
use crate::store::{self, fs};
use common::{InternalIterator, InternalKey, ValueKind};
use std::io::Write;
use std::path::Path;

use crate::failure::out_err;

fn kind(k: ValueKind) -> &'static str {
    match k {
        ValueKind::Put => "PUT",
        ValueKind::Delete => "DEL",
    }
}

fn ikey(sp: Spelling, k: &InternalKey) -> String {
    format!("{} @{} {}", sp.show(&k.user_key), k.seq, kind(k.kind))
}

/// `kv dump wal`: the recovery summary, then every whole record with its position.
pub fn wal(dir: &Path, sp: Spelling) -> Outcome {
    let _lock = store::lock_quiet(dir)?;
    let start = read_manifest(dir).ok().map(|v| v.log_start);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let Some((wal, info)) = open_wal_copy(dir, wal::RecoveryMode::TolerateCorruptTail)? else {
        writeln!(out, "no WAL segments").map_err(out_err)?;
        return Ok(());
    };
    writeln!(
        out,
        "# {} segment(s), {} record(s), {} bytes of whole frames, torn tail {} bytes; replay starts at {}",
        info.segments_read,
        info.records_read,
        info.bytes_read,
        info.bytes_cut,
        start.map_or("?".into(), |p| p.to_string())
    )
    .map_err(out_err)?;
    writeln!(
        out,
        "# position\tkind\tkey\tvalue  (positions before the replay start are flushed)"
    )
    .map_err(out_err)?;
    let mut reader = wal
        .read_from(wal::Position::start())
        .map_err(|e| Failure::storage(e.to_string()))?;
    while let Some((r, pos)) = reader
        .next_record()
        .map_err(|e| Failure::storage(e.to_string()))?
    {
        if r.tombstone {
            writeln!(out, "{pos}\tDEL\t{}", sp.show(&r.key)).map_err(out_err)?;
        } else {
            writeln!(
                out,
                "{pos}\tPUT\t{}\t{}",
                sp.show(&r.key),
                sp.show(&r.value)
            )
            .map_err(out_err)?;
        }
    }
    out.flush().map_err(out_err)
}

/// `kv dump sst FILE`: properties, index, then every entry.
pub fn sst(file: &Path, sp: Spelling) -> Outcome {
    if !file.is_file() {
        return Err(Failure::usage(format!("{} is not a file", file.display())));
    }
    let table = sstable::Table::open(fs(), file, 0, None)
        .map_err(|e| Failure::storage(format!("{e}; run `kv verify` for a full report")))?;
    let p = table.properties().clone();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let w = &mut out;
    let mut line = |s: String| writeln!(w, "{s}").map_err(out_err);
    line(format!(
        "# table {} ({})",
        file.display(),
        human_bytes(p.file_size_bytes)
    ))?;
    line(format!(
        "# entries {} ({} tombstones), sequences {}..={}",
        p.entries, p.tombstones, p.min_seq, p.max_seq
    ))?;
    line(format!("# smallest {}", ikey(sp, &p.smallest)))?;
    line(format!("# largest  {}", ikey(sp, &p.largest)))?;
    line(format!(
        "# {} data blocks: {} raw, {} stored; keys {} raw, values {} raw; index {}, filter {}",
        p.data_blocks,
        human_bytes(p.data_uncompressed_bytes),
        human_bytes(p.data_stored_bytes),
        human_bytes(p.raw_key_bytes),
        human_bytes(p.raw_value_bytes),
        human_bytes(p.index_bytes),
        human_bytes(p.filter_bytes)
    ))?;
    for (i, e) in table.index().iter().enumerate() {
        let last = InternalKey::decode(e.last_key)
            .map(|k| ikey(sp, &k))
            .unwrap_or_else(|| sp.show(e.last_key));
        line(format!(
            "# block {i}: offset {}, {} bytes stored, last key {last}",
            e.handle.offset, e.handle.size
        ))?;
    }
    line("# key\tseq\tkind\tvalue".into())?;
    let mut it = table.iter();
    let storage =
        |e: sstable::Error| Failure::storage(format!("{e}; run `kv verify` for a full report"));
    it.seek_to_first().map_err(storage)?;
    while it.valid() {
        let s = match it.kind() {
            ValueKind::Put => format!(
                "{}\t{}\tPUT\t{}",
                sp.show(it.user_key()),
                it.seq(),
                sp.show(it.value())
            ),
            ValueKind::Delete => format!("{}\t{}\tDEL", sp.show(it.user_key()), it.seq()),
        };
        line(s)?;
        it.next().map_err(storage)?;
    }
    out.flush().map_err(out_err)
}

/// `kv dump manifest`: the live manifest's edits, then the live tables.
pub fn manifest(dir: &Path, sp: Spelling) -> Outcome {
    let _lock = store::lock_quiet(dir)?;
    let view = read_manifest(dir).map_err(|e| Failure::from_db(dir, e))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(
        out,
        "# {} ({} edits)",
        view.path.display(),
        view.edits.len()
    )
    .map_err(out_err)?;
    for (i, e) in view.edits.iter().enumerate() {
        let mut parts = Vec::new();
        if let Some(m) = e.log_start {
            parts.push(format!("log_start {}", wal::Position::from_bytes(m)));
        }
        if let Some(s) = e.last_sequence {
            parts.push(format!("last_sequence {s}"));
        }
        if let Some(n) = e.next_file_number {
            parts.push(format!("next_file {n}"));
        }
        writeln!(out, "edit {i}: {}", parts.join(", ")).map_err(out_err)?;
        for (level, n) in &e.deleted {
            writeln!(out, "  - L{level} {}", kvstore::filename::table_name(*n)).map_err(out_err)?;
        }
        for (level, f) in &e.added {
            writeln!(
                out,
                "  + L{level} {} {} seq {}..={} [{} .. {}]",
                kvstore::filename::table_name(f.number),
                human_bytes(f.size_bytes),
                f.smallest_seq,
                f.largest_seq,
                ikey(sp, &f.smallest),
                ikey(sp, &f.largest)
            )
            .map_err(out_err)?;
        }
    }
    writeln!(
        out,
        "# live: {} table(s), WAL replay from {}, last flushed sequence {}",
        view.live.len(),
        view.log_start,
        view.last_sequence
    )
    .map_err(out_err)?;
    for (n, (level, f)) in &view.live {
        writeln!(
            out,
            "L{level} {} {}",
            kvstore::filename::table_name(*n),
            human_bytes(f.size_bytes)
        )
        .map_err(out_err)?;
    }
    out.flush().map_err(out_err)
}
