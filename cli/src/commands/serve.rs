//! `kv serve`: runs one node of a replicated cluster (`replication::Node`) with its data in
//! --dir, prints `ready id=N api=ADDR raft=ADDR` once it serves, and stops cleanly (state
//! made durable, directory released) on Ctrl-C or SIGTERM.

use crate::args::ServeArgs;
use crate::failure::{Failure, Outcome};
use crate::store;
use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::Path;

/// `kv serve`.
pub fn serve(dir: &Path, a: &ServeArgs) -> Outcome {
    for (flag, addr) in [("--listen", &a.listen), ("--raft-listen", &a.raft_listen)]
        .into_iter()
        .chain(a.join.iter().map(|j| ("--join", j)))
    {
        check_addr(flag, addr)?;
    }
    store::check_not_file(dir)?;
    if store::has_store(dir) {
        return Err(Failure::usage(format!(
            "--dir {} holds a local store; a node needs a directory of its own (empty, or a node's)",
            dir.display()
        )));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::storage(format!("cannot start the async runtime: {e}")))?;
    let node_failure = |e: replication::Error| {
        Failure::storage(format!("node {} in {}: {e}", a.id, dir.display()))
    };
    rt.block_on(async {
        let mut config =
            replication::NodeConfig::new(a.id, a.listen.clone(), a.raft_listen.clone(), dir);
        config.join = a.join.clone();
        let node = replication::Node::start(config)
            .await
            .map_err(node_failure)?;
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the node: the line is informative.
        let _ = writeln!(
            out,
            "ready id={} api={} raft={}",
            node.id(),
            node.api_addr(),
            node.raft_addr()
        )
        .and_then(|()| out.flush());
        drop(out);
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| Failure::storage(format!("cannot watch for SIGTERM: {e}")))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        node.stop().await.map_err(node_failure)
    })
}

/// A `host:port` that resolves (a usage error otherwise, before anything is opened).
fn check_addr(flag: &str, addr: &str) -> Outcome {
    match addr.to_socket_addrs().map(|mut it| it.next()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Failure::usage(format!(
            "{flag} {addr:?}: resolves to no address"
        ))),
        Err(e) => Err(Failure::usage(format!(
            "{flag} {addr:?} is not a host:port address: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert!(check_addr("--listen", "127.0.0.1:0").is_ok());
        assert_eq!(
            check_addr("--listen", "127.0.0.1").unwrap_err().exit_code(),
            2
        );
        assert_eq!(
            check_addr("--listen", "nonsense:port")
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
