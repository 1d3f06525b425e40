//! `kv load FILE|-`: bulk import in atomic batches. The whole input is checked before the
//! store is opened (stdin is spooled to a temporary file for that), so malformed input
//! changes nothing.

use crate::args::LoadArgs;
use crate::bytes::{from_hex, Spelling};
use crate::failure::{Failure, Outcome};
use crate::{progress, store};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::time::Instant;

type Pair = (Vec<u8>, Vec<u8>);

fn tsv_line(sp: Spelling, line: &[u8]) -> Result<Pair, String> {
    let tabs = line.iter().filter(|&&b| b == b'\t').count();
    if tabs != 1 {
        return Err(format!(
            "expected key<TAB>value, found {tabs} tabs (a tab inside a key or value is written \\t)"
        ));
    }
    let at = line.iter().position(|&b| b == b'\t').unwrap_or(0);
    let key = sp.field(&line[..at]).map_err(|e| format!("key: {e}"))?;
    let value = sp
        .field(&line[at + 1..])
        .map_err(|e| format!("value: {e}"))?;
    Ok((key, value))
}

fn json_line(sp: Spelling, line: &[u8]) -> Result<Pair, String> {
    let v: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("expected an object {\"key\": .., \"value\": ..}")?;
    if let Some(extra) = obj
        .keys()
        .find(|k| !["key", "value", "key_hex", "value_hex"].contains(&k.as_str()))
    {
        return Err(format!("unknown field {extra:?}"));
    }
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let hex_name = format!("{name}_hex");
        match (obj.get(name), obj.get(&hex_name)) {
            (Some(_), Some(_)) => Err(format!("both {name:?} and {hex_name:?}")),
            (Some(serde_json::Value::String(s)), None) => match sp {
                Spelling::Plain => Ok(s.as_bytes().to_vec()),
                Spelling::Hex => from_hex(s.as_bytes()).map_err(|e| format!("{name}: {e}")),
            },
            (None, Some(serde_json::Value::String(s))) => {
                from_hex(s.as_bytes()).map_err(|e| format!("{hex_name}: {e}"))
            }
            (None, None) => Err(format!("missing {name:?}")),
            _ => Err(format!("{name:?} must be a string")),
        }
    };
    Ok((field("key")?, field("value")?))
}

/// Calls `each` on every record of `input`; the first malformed line is a usage error naming
/// the line.
fn for_each_record(
    input: &mut File,
    json: bool,
    sp: Spelling,
    max_record_bytes: u64,
    mut each: impl FnMut(Pair) -> Outcome,
) -> Outcome {
    input
        .seek(SeekFrom::Start(0))
        .map_err(|e| Failure::usage(format!("cannot rewind the input: {e}")))?;
    let reader = BufReader::with_capacity(1 << 20, &*input);
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| Failure::usage(format!("cannot read the input: {e}")))?;
        if line.is_empty() {
            continue;
        }
        let parsed = if json {
            json_line(sp, &line)
        } else {
            tsv_line(sp, &line)
        };
        let pair = parsed.map_err(|e| Failure::usage(format!("line {}: {e}", n + 1)))?;
        let size = (pair.0.len() + pair.1.len()) as u64;
        if size > max_record_bytes {
            return Err(Failure::usage(format!(
                "line {}: key plus value is {size} bytes, above the store's limit of {max_record_bytes}",
                n + 1
            )));
        }
        each(pair)?;
    }
    Ok(())
}

/// `kv load`.
pub fn load(dir: &Path, sp: Spelling, a: &LoadArgs) -> Outcome {
    store::check_dir(dir)?;
    let mut input = if a.file.as_os_str() == "-" {
        let mut spool = tempfile::tempfile()
            .map_err(|e| Failure::storage(format!("cannot make a spool file: {e}")))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut spool)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        spool
    } else {
        File::open(&a.file)
            .map_err(|e| Failure::usage(format!("cannot open {}: {e}", a.file.display())))?
    };
    let max = kvstore::Options::new(dir).max_value_bytes;

    // Pass 1: check every line, count.
    let (mut records, mut bytes) = (0u64, 0u64);
    for_each_record(&mut input, a.json, sp, max, |(k, v)| {
        records += 1;
        bytes += (k.len() + v.len()) as u64;
        Ok(())
    })?;

    // Pass 2: write, in batches.
    let db = store::open_or_create(dir)?;
    let bar = progress::bar(records, "loading");
    let started = Instant::now();
    let mut batch = db.batch();
    let mut batches = 0u64;
    let commit = |batch: kvstore::WriteBatch, batches: &mut u64| -> Outcome {
        let n = batch.len() as u64;
        batch.commit().map_err(|e| Failure::from_db(dir, e))?;
        *batches += 1;
        bar.inc(n);
        Ok(())
    };
    for_each_record(&mut input, a.json, sp, max, |(k, v)| {
        batch.put(k, v);
        if batch.len() as u64 >= a.batch_size {
            commit(std::mem::replace(&mut batch, db.batch()), &mut batches)?;
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        commit(batch, &mut batches)?;
    }
    db.persist().map_err(|e| Failure::from_db(dir, e))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "loaded {records} records ({:.2} MB of keys and values) in {} batches in {secs:.3} s: {:.0} records/s, {:.2} MB/s",
        bytes as f64 / 1e6,
        batches,
        records as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_or_say_why() {
        assert_eq!(
            tsv_line(Spelling::Plain, b"a\\tb\tv\\x00").unwrap(),
            (b"a\tb".to_vec(), b"v\0".to_vec())
        );
        assert!(tsv_line(Spelling::Plain, b"novalue")
            .unwrap_err()
            .contains("0 tabs"));
        assert!(tsv_line(Spelling::Hex, b"6g\t00")
            .unwrap_err()
            .starts_with("key"));
        assert_eq!(
            json_line(Spelling::Plain, br#"{"key":"k","value_hex":"00ff"}"#).unwrap(),
            (b"k".to_vec(), vec![0, 255])
        );
        assert!(json_line(Spelling::Plain, br#"{"key":"k"}"#)
            .unwrap_err()
            .contains("value"));
        assert!(json_line(Spelling::Plain, br#"{"key":"k","value":"v","x":1}"#).is_err());
    }
}
