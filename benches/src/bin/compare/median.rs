//! Repeated runs of one engine's case: the run the tables report, and the spread beside it.
//!
//! With `--repeat N`, every engine runs each case `N` times, round by round (every engine in
//! turn, then again), so that a slow minute of this VM's disk or CPU falls on one run of each
//! engine rather than on every run of one. The tables then take each engine's median run by
//! ops/s, whole: its latencies, disk size and peak RSS are that run's, not medians taken
//! figure by figure from different runs.

use crate::row::Row;
use crate::table::human;

/// The median of `runs` by ops/s (for an even count, the slower of the two middle runs), or
/// `None` if there are none.
pub fn median_run(runs: &[Row]) -> Option<Row> {
    let mut sorted: Vec<&Row> = runs.iter().collect();
    sorted.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .map(|r| (*r).clone())
}

/// One line for `runs` of one engine's case: every run's ops/s in the order they ran, and
/// the median's.
pub fn spread_line(runs: &[Row]) -> Option<String> {
    let median = median_run(runs)?;
    let each: Vec<String> = runs.iter().map(|r| human(r.ops_per_sec)).collect();
    Some(format!(
        "{:<11} {:<8} median of {} runs {:>9} ops/s (runs: {}; slowest to fastest {:.2}x)",
        median.case,
        median.engine,
        runs.len(),
        human(median.ops_per_sec),
        each.join(", "),
        spread(runs),
    ))
}

/// The fastest run's ops/s over the slowest's.
fn spread(runs: &[Row]) -> f64 {
    let (lo, hi) = runs.iter().fold((f64::INFINITY, 0f64), |(lo, hi), r| {
        (lo.min(r.ops_per_sec), hi.max(r.ops_per_sec))
    });
    if lo > 0.0 {
        hi / lo
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::tests::row;

    fn runs(figures: &[f64]) -> Vec<Row> {
        figures
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                let mut r = row("kvstore", "fillseq", f);
                r.p99_us = i as f64; // which run it was
                r
            })
            .collect()
    }

    #[test]
    fn the_median_is_a_whole_run() {
        assert_eq!(median_run(&[]), None);
        let m = median_run(&runs(&[300.0, 100.0, 200.0])).unwrap();
        assert_eq!((m.ops_per_sec, m.p99_us), (200.0, 2.0));
        // Even count: the slower of the middle two.
        let m = median_run(&runs(&[400.0, 100.0, 300.0, 200.0])).unwrap();
        assert_eq!((m.ops_per_sec, m.p99_us), (200.0, 3.0));
        let m = median_run(&runs(&[150.0])).unwrap();
        assert_eq!(m.ops_per_sec, 150.0);
    }

    #[test]
    fn the_spread_line_lists_every_run_in_order() {
        let line = spread_line(&runs(&[30_000.0, 10_000.0, 20_000.0])).unwrap();
        assert!(line.contains("median of 3 runs"), "{line}");
        assert!(line.contains("20.0k ops/s"), "{line}");
        assert!(line.contains("runs: 30.0k, 10.0k, 20.0k"), "{line}");
        assert!(line.contains("3.00x"), "{line}");
        assert_eq!(spread_line(&[]), None);
    }
}
