//! The report: one detail line per engine and case, then tables with each peer's figure as a
//! ratio to ours and our standing against the targets.

use crate::args::Case;
use crate::limits::Limits;
use crate::row::Row;
use std::fmt::Write;

/// Our engine's name: ratios are to its figures.
pub const OURS: &str = "kvstore";
/// Printed beside sled's durable figures.
pub const SLED_NOTE: &str =
    "* sled 0.34's flush uses sync_file_range, not fdatasync: its durable figures are not durable";

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// `1234567.0` as `1.23M`, `12345.0` as `12.3k`.
pub fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// One engine's figures for one case, on one line.
pub fn detail(row: &Row) -> String {
    let mut s = format!(
        "{:<11} {:<8} {:>9} ops/s {:>7.2} MB/s  p50 {:>8.1} us  p99 {:>8.1} us  p99.9 {:>9.1} us  disk {:>7.1} MiB (live kv {:.1} MiB)",
        row.case,
        row.engine,
        human(row.ops_per_sec),
        row.mb_per_sec,
        row.p50_us,
        row.p99_us,
        row.p999_us,
        mib(row.disk_bytes),
        mib(row.live_bytes),
    );
    if let Some(c) = row.compacted_bytes {
        let _ = write!(s, ", {:.1} MiB compacted", mib(c));
    }
    let _ = write!(s, "  peak RSS {:.0} MiB", row.rss_kib as f64 / 1024.0);
    if let Some(w) = row.wamp {
        let _ = write!(s, "  write amp {w:.2}");
    }
    s
}

fn find<'a>(rows: &'a [Row], engine: &str, case: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.engine == engine && r.case == case)
}

fn mark(engine: &str, case: &Case) -> &'static str {
    if engine == "sled" && case.durable() {
        "*"
    } else {
        ""
    }
}

/// What one table shows.
struct Figure<'a> {
    title: &'a str,
    value: &'a dyn Fn(&Row) -> Option<f64>,
    fmt: &'a dyn Fn(f64) -> String,
    /// Whether to add ours over the best peer against the case's target (higher is better).
    targets: bool,
}

/// A table over `cases` of a figure per engine, each peer's as a ratio to ours.
fn ratio_table(
    out: &mut String,
    fig: Figure<'_>,
    rows: &[Row],
    engines: &[String],
    cases: &[&Case],
) {
    let Figure {
        title,
        value: figure,
        fmt,
        targets,
    } = fig;
    let _ = writeln!(out, "\n{title} (peer figures as a ratio to {OURS}'s)");
    let mut head = format!("{:<12}", "case");
    for e in engines {
        let _ = write!(head, " {e:>20}");
    }
    if targets {
        let _ = write!(
            head,
            " {:>14} {:>7} {:>5}",
            "ours/best peer", "target", "met"
        );
    }
    let _ = writeln!(out, "{head}");
    for case in cases {
        let ours = find(rows, OURS, case.name).and_then(figure);
        let mut line = format!("{:<12}", case.name);
        let mut best: Option<f64> = None;
        for e in engines {
            let cell = match find(rows, e, case.name).and_then(figure) {
                None => "-".to_string(),
                Some(x) if e == OURS => fmt(x),
                Some(x) => {
                    // sled's durable figures are not durable (the note below the table): they
                    // are shown, starred, but are not the best peer to beat.
                    if mark(e, case).is_empty() {
                        best = Some(best.map_or(x, |b: f64| b.max(x)));
                    }
                    match ours {
                        Some(o) if o > 0.0 => {
                            format!("{}{} ({:.2}x)", fmt(x), mark(e, case), x / o)
                        }
                        _ => format!("{}{}", fmt(x), mark(e, case)),
                    }
                }
            };
            let _ = write!(line, " {cell:>20}");
        }
        if targets {
            match (ours, best) {
                (Some(o), Some(b)) if b > 0.0 && case.target > 0.0 => {
                    let r = o / b;
                    let met = if r >= case.target { "yes" } else { "NO" };
                    let _ = write!(line, " {:>13.2}x {:>6.1}x {met:>5}", r, case.target);
                }
                (Some(o), Some(b)) if b > 0.0 => {
                    let _ = write!(line, " {:>13.2}x {:>7} {:>5}", o / b, "-", "-");
                }
                _ => {}
            }
        }
        let _ = writeln!(out, "{line}");
    }
}

/// The closing tables for `rows` (any engines and cases; missing cells print as `-`).
pub fn summary(rows: &[Row], cases: &[&Case], limits: Option<&Limits>) -> String {
    let mut engines: Vec<String> = vec![OURS.to_string()];
    for r in rows {
        if !engines.contains(&r.engine) {
            engines.push(r.engine.clone());
        }
    }
    let mut out = String::new();
    ratio_table(
        &mut out,
        Figure {
            title: "Throughput, ops/s",
            value: &|r| Some(r.ops_per_sec),
            fmt: &human,
            targets: true,
        },
        rows,
        &engines,
        cases,
    );
    let wide = |r: &Row| Some(r.p99_us);
    ratio_table(
        &mut out,
        Figure {
            title: "p99 latency, us (lower is better)",
            value: &wide,
            fmt: &|x| format!("{x:.1}"),
            targets: false,
        },
        rows,
        &engines,
        cases,
    );
    ratio_table(
        &mut out,
        Figure {
            title: "Disk after the run and a flush, MiB (lower is better)",
            value: &|r| Some(mib(r.disk_bytes)),
            fmt: &|x| format!("{x:.1}"),
            targets: false,
        },
        rows,
        &engines,
        cases,
    );
    ratio_table(
        &mut out,
        Figure {
            title: "Peak RSS of the run's process, MiB (lower is better)",
            value: &|r| Some(r.rss_kib as f64 / 1024.0),
            fmt: &|x| format!("{x:.0}"),
            targets: false,
        },
        rows,
        &engines,
        cases,
    );
    let _ = writeln!(out, "\nSpace: disk / live key+value bytes (targets for {OURS}: fillrandom after a flush <= 1.1, overwrite after compaction <= 1.5)");
    for e in &engines {
        let fr = find(rows, e, "fillrandom")
            .filter(|r| r.live_bytes > 0)
            .map(|r| format!("{:.2}", r.disk_bytes as f64 / r.live_bytes as f64));
        let ow = find(rows, e, "overwrite")
            .filter(|r| r.live_bytes > 0)
            .and_then(|r| r.compacted_bytes.map(|c| c as f64 / r.live_bytes as f64))
            .map(|x| format!("{x:.2}"));
        let _ = writeln!(
            out,
            "  {e:<8} fillrandom+flush {:>6}   overwrite+compaction {:>6}",
            fr.unwrap_or("-".into()),
            ow.unwrap_or("-".into())
        );
    }
    if let Some(ours) = find(rows, OURS, "fillrandom") {
        let peers_max = rows
            .iter()
            .filter(|r| r.case == "fillrandom" && r.engine == "rocksdb")
            .map(|r| r.rss_kib)
            .max();
        let _ = writeln!(
            out,
            "  peak RSS during fillrandom: {OURS} {:.0} MiB{}",
            ours.rss_kib as f64 / 1024.0,
            match peers_max {
                Some(r) => format!(", rocksdb {:.0} MiB", r as f64 / 1024.0),
                None => ", rocksdb not in this run".into(),
            }
        );
    }
    if let (Some(one), Some(many)) = (
        find(rows, OURS, "fillsync1"),
        find(rows, OURS, "fillsync16"),
    ) {
        let _ = writeln!(
            out,
            "\nGroup commit: {OURS} fillsync16 / fillsync1 = {:.2}x (target >= 8x)",
            many.ops_per_sec / one.ops_per_sec.max(1e-9)
        );
    }
    if let Some(l) = limits {
        let _ = writeln!(out, "\nfillsync as a fraction of the machine's ceiling ({:.0}/s overwrite-in-place+fdatasync, {:.0}/s append+fdatasync)", l.overwrite_sync_per_sec, l.append_sync_per_sec);
        for e in &engines {
            for case in ["fillsync1", "fillsync16"] {
                if let Some(r) = find(rows, e, case) {
                    let star = if e == "sled" { "*" } else { "" };
                    let _ = writeln!(
                        out,
                        "  {e:<8} {case:<10} {:>9}{star} ops/s = {:.2} of overwrite-in-place, {:.2} of append",
                        human(r.ops_per_sec),
                        r.ops_per_sec / l.overwrite_sync_per_sec,
                        r.ops_per_sec / l.append_sync_per_sec
                    );
                }
            }
        }
    }
    if engines.iter().any(|e| e == "sled") {
        let _ = writeln!(out, "\n{SLED_NOTE}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::tests::row;

    #[test]
    fn the_summary_shows_ratios_targets_and_the_sled_note() {
        let rows = vec![
            row("kvstore", "fillseq", 600_000.0),
            row("fjall", "fillseq", 400_000.0),
            row("sled", "fillseq", 200_000.0),
            row("kvstore", "fillsync1", 1000.0),
            row("kvstore", "fillsync16", 9000.0),
            row("sled", "fillsync1", 20_000.0),
            row("fjall", "fillsync1", 800.0),
            row("kvstore", "overwrite", 100.0),
        ];
        let cases: Vec<&Case> = Case::ALL.iter().collect();
        let limits = Limits {
            seq_mib_per_sec: 300.0,
            append_sync_per_sec: 2000.0,
            overwrite_sync_per_sec: 4000.0,
        };
        let text = summary(&rows, &cases, Some(&limits));
        assert!(text.contains("400.0k (0.67x)"), "{text}");
        assert!(text.contains("1.50x"), "ours over best peer: {text}");
        assert!(
            text.contains("20.0k* (20.00x)"),
            "sled's durable mark: {text}"
        );
        assert!(text.contains("fillsync16 / fillsync1 = 9.00x"), "{text}");
        assert!(text.contains("0.25 of overwrite-in-place"), "{text}");
        assert!(text.contains("sync_file_range"), "{text}");
        assert!(text.contains("overwrite+compaction   1.29"), "{text}");
        let fillseq = text.lines().find(|l| l.starts_with("fillseq")).unwrap();
        assert!(
            fillseq.contains("yes"),
            "1.5x over a 1.2x target: {fillseq}"
        );
        // The best durable peer is fjall's 800/s, not sled's starred 20k: 1.25x, met.
        let sync = text.lines().find(|l| l.starts_with("fillsync1 ")).unwrap();
        assert!(sync.contains("1.25x") && sync.contains("yes"), "{sync}");
        assert!(detail(&rows[0]).contains("write amp 2.50"));
        assert_eq!(human(1_234_567.0), "1.23M");
    }
}
