//! One engine's figures for one case: what a child prints as one `RESULT` line and the parent
//! parses back.

/// The figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Engine name.
    pub engine: String,
    /// Case name.
    pub case: String,
    /// Operations timed.
    pub ops: u64,
    /// Seconds of the timed part.
    pub secs: f64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Key+value MB (10^6) per second.
    pub mb_per_sec: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: f64,
    /// p99.
    pub p99_us: f64,
    /// p99.9.
    pub p999_us: f64,
    /// Bytes on disk after the run and a flush.
    pub disk_bytes: u64,
    /// Bytes on disk after a full compaction as well (fillrandom and overwrite).
    pub compacted_bytes: Option<u64>,
    /// Key+value bytes of the live pairs (a full scan after the run).
    pub live_bytes: u64,
    /// Peak resident set of the child process, KiB.
    pub rss_kib: u64,
    /// Write amplification (our engine).
    pub wamp: Option<f64>,
    /// The engine's settings, in words.
    pub settings: String,
}

const TAG: &str = "RESULT";

fn opt<T: ToString>(x: &Option<T>) -> String {
    x.as_ref().map_or("-".into(), |v| v.to_string())
}

impl Row {
    /// The tab-separated line (settings last, free text without tabs).
    pub fn to_line(&self) -> String {
        [
            TAG.to_string(),
            self.engine.clone(),
            self.case.clone(),
            self.ops.to_string(),
            self.secs.to_string(),
            self.ops_per_sec.to_string(),
            self.mb_per_sec.to_string(),
            self.p50_us.to_string(),
            self.p99_us.to_string(),
            self.p999_us.to_string(),
            self.disk_bytes.to_string(),
            opt(&self.compacted_bytes),
            self.live_bytes.to_string(),
            self.rss_kib.to_string(),
            opt(&self.wamp),
            self.settings.replace('\t', " "),
        ]
        .join("\t")
    }

    /// The row of the first `RESULT` line in `output`.
    pub fn parse(output: &str) -> Result<Row, String> {
        let line = output
            .lines()
            .find(|l| l.starts_with(TAG))
            .ok_or("no RESULT line")?;
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 16 {
            return Err(format!("RESULT line with {} fields: {line:?}", f.len()));
        }
        fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
            s.parse().map_err(|_| format!("bad {what} {s:?}"))
        }
        fn maybe<T: std::str::FromStr>(s: &str, what: &str) -> Result<Option<T>, String> {
            if s == "-" {
                Ok(None)
            } else {
                num(s, what).map(Some)
            }
        }
        Ok(Row {
            engine: f[1].into(),
            case: f[2].into(),
            ops: num(f[3], "ops")?,
            secs: num(f[4], "secs")?,
            ops_per_sec: num(f[5], "ops/s")?,
            mb_per_sec: num(f[6], "MB/s")?,
            p50_us: num(f[7], "p50")?,
            p99_us: num(f[8], "p99")?,
            p999_us: num(f[9], "p99.9")?,
            disk_bytes: num(f[10], "disk")?,
            compacted_bytes: maybe(f[11], "compacted")?,
            live_bytes: num(f[12], "live")?,
            rss_kib: num(f[13], "rss")?,
            wamp: maybe(f[14], "wamp")?,
            settings: f[15].into(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn row(engine: &str, case: &str, ops_per_sec: f64) -> Row {
        Row {
            engine: engine.into(),
            case: case.into(),
            ops: 1000,
            secs: 1000.0 / ops_per_sec,
            ops_per_sec,
            mb_per_sec: ops_per_sec * 116.0 / 1e6,
            p50_us: 1.5,
            p99_us: 10.0,
            p999_us: 20.0,
            disk_bytes: 200_000,
            compacted_bytes: (case == "overwrite").then_some(150_000),
            live_bytes: 116_000,
            rss_kib: 50_000,
            wamp: (engine == "kvstore").then_some(2.5),
            settings: "fsync Os, lz4".into(),
        }
    }

    #[test]
    fn a_row_survives_its_line() {
        for r in [
            row("kvstore", "overwrite", 1234.5),
            row("fjall", "fillseq", 9.0),
        ] {
            let text = format!("noise\n{}\nmore\n", r.to_line());
            assert_eq!(Row::parse(&text).unwrap(), r);
        }
        assert!(Row::parse("nothing").is_err());
        assert!(Row::parse("RESULT\tx\ty").is_err());
    }
}
