//! `put`, `get`, `delete`, `scan`: the store as a map of bytes.

use crate::args::ScanArgs;
use crate::bytes::Spelling;
use crate::failure::{Failure, Outcome};
use crate::store;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::ops::Bound;
use std::path::Path;

type Pair = (Vec<u8>, Vec<u8>);

/// A key range: `Included`/`Unbounded` below, `Excluded`/`Unbounded` above.
pub(crate) type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

use crate::failure::out_err;

/// `kv put KEY VALUE` (VALUE `-`: stdin).
pub fn put(dir: &Path, sp: Spelling, key: &OsStr, value: &OsStr) -> Outcome {
    let key = sp.arg("KEY", key).map_err(Failure::usage)?;
    let value = read_value(sp, value)?;
    let db = store::open_or_create(dir)?;
    db.put(&key, &value).map_err(|e| Failure::from_db(dir, e))
}

/// `kv put`'s VALUE argument as bytes (`-`: all of stdin).
pub(crate) fn read_value(sp: Spelling, value: &OsStr) -> Outcome<Vec<u8>> {
    Ok(if value == "-" {
        let mut raw = Vec::new();
        std::io::stdin()
            .read_to_end(&mut raw)
            .map_err(|e| Failure::usage(format!("cannot read the value from stdin: {e}")))?;
        match sp {
            Spelling::Plain => raw,
            Spelling::Hex => crate::bytes::from_hex(raw.trim_ascii())
                .map_err(|e| Failure::usage(format!("VALUE from stdin: {e}")))?,
        }
    } else {
        sp.arg("VALUE", value).map_err(Failure::usage)?
    })
}

/// `kv get KEY`.
pub fn get(dir: &Path, sp: Spelling, key: &OsStr, json: bool) -> Outcome {
    let key = sp.arg("KEY", key).map_err(Failure::usage)?;
    let db = store::open_existing(dir)?;
    let value = db
        .get(&key)
        .map_err(|e| Failure::from_db(dir, e))?
        .ok_or(Failure::NotFound)?;
    print_value(sp, &key, &value, json)
}

/// `kv delete KEY`.
pub fn delete(dir: &Path, sp: Spelling, key: &OsStr) -> Outcome {
    let key = sp.arg("KEY", key).map_err(Failure::usage)?;
    let db = store::open_existing(dir)?;
    db.delete(&key).map_err(|e| Failure::from_db(dir, e))
}

fn json_pair(sp: Spelling, key: &[u8], value: &[u8]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    sp.json_field(&mut m, "key", key);
    sp.json_field(&mut m, "value", value);
    serde_json::Value::Object(m)
}

/// The tighter of two lower bounds (both `Included` or `Unbounded`).
fn max_lower(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (a, b) {
        (Bound::Unbounded, x) | (x, Bound::Unbounded) => x,
        (Bound::Included(x), Bound::Included(y)) => Bound::Included(x.max(y)),
        (x, _) => x,
    }
}

/// The tighter of two upper bounds (both `Excluded` or `Unbounded`).
fn min_upper(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (a, b) {
        (Bound::Unbounded, x) | (x, Bound::Unbounded) => x,
        (Bound::Excluded(x), Bound::Excluded(y)) => Bound::Excluded(x.min(y)),
        (x, _) => x,
    }
}

/// The key range `kv scan`'s --from, --to and --prefix select: `Included` or `Unbounded`
/// below, `Excluded` or `Unbounded` above.
pub(crate) fn scan_bounds(sp: Spelling, a: &ScanArgs) -> Outcome<Range> {
    let parse = |what: &str, v: &Option<std::ffi::OsString>| -> Outcome<Option<Vec<u8>>> {
        v.as_deref()
            .map(|s| sp.arg(what, s).map_err(Failure::usage))
            .transpose()
    };
    let from = parse("--from", &a.from)?;
    let to = parse("--to", &a.to)?;
    let prefix = parse("--prefix", &a.prefix)?;
    let mut lower = from.map_or(Bound::Unbounded, Bound::Included);
    let mut upper = to.map_or(Bound::Unbounded, Bound::Excluded);
    if let Some(p) = prefix {
        let (pl, pu) = common::visible::prefix_bounds(&p);
        lower = max_lower(lower, pl);
        upper = min_upper(upper, pu);
    }
    Ok((lower, upper))
}

/// Prints scanned pairs, one per line (or one JSON object per line).
pub(crate) fn print_pairs(
    sp: Spelling,
    json: bool,
    items: impl Iterator<Item = Outcome<Pair>>,
) -> Outcome {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for item in items {
        let (k, v) = item?;
        if json {
            writeln!(out, "{}", json_pair(sp, &k, &v)).map_err(out_err)?;
        } else {
            writeln!(out, "{}\t{}", sp.show(&k), sp.show(&v)).map_err(out_err)?;
        }
    }
    out.flush().map_err(out_err)
}

/// Prints a value read by `kv get`.
pub(crate) fn print_value(sp: Spelling, key: &[u8], value: &[u8], json: bool) -> Outcome {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", json_pair(sp, key, value)).map_err(out_err)
    } else {
        writeln!(out, "{}", sp.show(value)).map_err(out_err)
    }
}

/// `kv scan`.
pub fn scan(dir: &Path, sp: Spelling, a: &ScanArgs) -> Outcome {
    let (lower, upper) = scan_bounds(sp, a)?;
    let db = store::open_existing(dir)?;
    let iter = db.range((lower, upper));
    let limit = a.limit.unwrap_or(usize::MAX);
    let items: Box<dyn Iterator<Item = kvstore::Result<Pair>>> = if a.reverse {
        Box::new(iter.rev().take(limit))
    } else {
        Box::new(iter.take(limit))
    };
    print_pairs(
        sp,
        a.json,
        items.map(|i| i.map_err(|e| Failure::from_db(dir, e))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_intersect() {
        let inc = |s: &str| Bound::Included(s.as_bytes().to_vec());
        let exc = |s: &str| Bound::Excluded(s.as_bytes().to_vec());
        assert_eq!(max_lower(inc("b"), inc("a")), inc("b"));
        assert_eq!(max_lower(Bound::Unbounded, inc("a")), inc("a"));
        assert_eq!(min_upper(exc("b"), exc("c")), exc("b"));
        assert_eq!(min_upper(exc("b"), Bound::Unbounded), exc("b"));
    }
}
