//! `kv --cluster ADDR[,ADDR...] put|get|delete|scan`: the same commands, against a replicated
//! cluster through `replication::ClusterClient`. Writes go to the leader (a follower names it
//! and the client follows); reads are linearizable unless --stale-ok. Input is checked before
//! anything is sent, so bad input changes nothing.

use super::data::{print_pairs, print_value, read_value, scan_bounds};
use crate::args::ScanArgs;
use crate::bytes::Spelling;
use crate::failure::{Failure, Outcome};
use replication::ClusterClient;
use std::ffi::OsStr;
use std::future::Future;
use std::ops::Bound;

/// A cluster to talk to: its client addresses and whether stale reads are fine.
pub struct Remote<'a> {
    /// The client API addresses given with --cluster.
    pub addrs: &'a [String],
    /// --stale-ok.
    pub stale_ok: bool,
}

impl Remote<'_> {
    /// Runs `f` with a client on a one-thread runtime (the CLI is synchronous).
    pub fn run<T, F>(&self, f: impl FnOnce(ClusterClient) -> F) -> Outcome<T>
    where
        F: Future<Output = replication::Result<T>>,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::storage(format!("cannot start the async runtime: {e}")))?;
        let client = ClusterClient::new(self.addrs.iter().cloned());
        rt.block_on(f(client)).map_err(|e| self.failure(e))
    }

    /// A client error in words a user can act on (exit 3).
    pub fn failure(&self, e: replication::Error) -> Failure {
        use replication::Error as E;
        let addrs = self.addrs.join(",");
        let msg = match &e {
            E::Unavailable(last) => format!(
                "cluster {addrs} is unavailable: no node answered, or no leader was reachable, in time (last: {last}); check that the nodes run (`kv --cluster {addrs} cluster status`)"
            ),
            E::NotLeader { leader } => match leader {
                Some((id, addr)) => {
                    format!("cluster {addrs}: not the leader; node {id} at {addr} is")
                }
                None => format!("cluster {addrs}: no leader is known (an election may be under way; retry)"),
            },
            _ => format!("cluster {addrs}: {e}"),
        };
        Failure::storage(msg)
    }
}

/// A key checked before it is sent: not under the replication metadata's reserved prefix.
fn key_arg(sp: Spelling, key: &OsStr) -> Outcome<Vec<u8>> {
    let key = sp.arg("KEY", key).map_err(Failure::usage)?;
    check_key(&key)?;
    Ok(key)
}

fn check_key(key: &[u8]) -> Outcome {
    if key.starts_with(replication::RESERVED_PREFIX) {
        return Err(Failure::usage(
            "KEY: keys starting with \\x00raft/ are reserved for the replication metadata",
        ));
    }
    Ok(())
}

/// `kv --cluster .. put KEY VALUE`: returns once the write is committed by a majority.
pub fn put(r: &Remote, sp: Spelling, key: &OsStr, value: &OsStr) -> Outcome {
    let key = key_arg(sp, key)?;
    let value = read_value(sp, value)?;
    let max = kvstore::Options::new(".").max_value_bytes;
    let size = (key.len() + value.len()) as u64;
    if size > max {
        return Err(Failure::usage(format!(
            "key plus value is {size} bytes, above the store's limit of {max}"
        )));
    }
    r.run(|c| async move { c.put(&key, &value).await })
}

/// `kv --cluster .. get KEY`: a missing key is `not found`, exit 1.
pub fn get(r: &Remote, sp: Spelling, key: &OsStr, json: bool) -> Outcome {
    let key = key_arg(sp, key)?;
    let stale = r.stale_ok;
    let k = key.clone();
    let value = r
        .run(|c| async move { c.get(&k, stale).await })?
        .ok_or(Failure::NotFound)?;
    print_value(sp, &key, &value, json)
}

/// `kv --cluster .. delete KEY`.
pub fn delete(r: &Remote, sp: Spelling, key: &OsStr) -> Outcome {
    let key = key_arg(sp, key)?;
    r.run(|c| async move { c.delete(&key).await })
}

/// `kv --cluster .. scan`: the range is read in one request; --reverse reverses it here
/// (so `--reverse --limit N` reads the whole range to return its last N pairs).
pub fn scan(r: &Remote, sp: Spelling, a: &ScanArgs) -> Outcome {
    let (lower, upper) = scan_bounds(sp, a)?;
    let start = match lower {
        Bound::Included(k) => k,
        _ => Vec::new(),
    };
    let end = match upper {
        Bound::Excluded(k) => Some(k),
        _ => None,
    };
    let limit = a.limit.unwrap_or(usize::MAX);
    if limit == 0 || end.as_ref().is_some_and(|e| *e <= start) {
        return Ok(());
    }
    let fetch = if a.reverse { usize::MAX } else { limit };
    let stale = r.stale_ok;
    let mut pairs = r.run(|c| async move { c.scan(&start, end.as_deref(), fetch, stale).await })?;
    if a.reverse {
        pairs.reverse();
        pairs.truncate(limit);
    }
    print_pairs(sp, a.json, pairs.into_iter().map(Ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_are_usage_errors() {
        let e = check_key(b"\x00raft/last_applied").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(check_key(b"\x00rafting").is_ok());
        assert!(check_key(b"user").is_ok());
    }
}
