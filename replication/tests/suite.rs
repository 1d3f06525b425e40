//! openraft's own conformance suite against our log store (on `wal`) and state machine (on
//! `kvstore`), on the in-memory file system.

use common::MemFs;
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::{ErrorSubject, ErrorVerb, StorageError};
use replication::{KvStateMachine, TypeConfig, WalLogStore};
use std::path::Path;

struct Builder;

impl StoreBuilder<TypeConfig, WalLogStore, KvStateMachine, MemFs> for Builder {
    async fn build(
        &self,
    ) -> Result<(MemFs, WalLogStore, KvStateMachine), StorageError<TypeConfig>> {
        let fs = MemFs::new();
        let err = |e: replication::Error| {
            StorageError::from_io_error(ErrorSubject::Store, ErrorVerb::Write, e.into_io())
        };
        let log = WalLogStore::open(Path::new("/node/raft-log"), fs.shared(), 4096)
            .await
            .map_err(err)?;
        let sm = KvStateMachine::open(Path::new("/node"), fs.shared(), 64 << 10).map_err(err)?;
        Ok((fs, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_passes() {
    Suite::test_all(Builder)
        .await
        .expect("openraft's storage suite");
}
