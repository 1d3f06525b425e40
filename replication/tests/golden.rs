//! Golden files: snapshot files written by format version 1 are read back forever, and the
//! encoder still writes them byte for byte (the worked example in `docs/replication.md`).

use replication::format::{decode_snapshot, encode_snapshot};
use replication::SnapshotMeta;
use std::path::Path;

#[test]
fn snapshot_v1_with_one_pair_reads_back_and_encodes_identically() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshot-v1-one-pair.bin");
    let bytes = std::fs::read(&path).unwrap();
    let decoded = decode_snapshot(&bytes, &path).unwrap();
    assert_eq!(decoded.pairs, vec![(b"k".to_vec(), b"v".to_vec())]);
    assert_eq!(decoded.meta.last_log_id, None);
    let meta = SnapshotMeta {
        last_log_id: None,
        last_membership: Default::default(),
    };
    assert_eq!(encode_snapshot(&meta, &decoded.pairs).unwrap(), bytes);
    assert_eq!(bytes.len(), 148); // 16 header + 110 metadata + 8 count + 10 pair + 4 crc
}
