//! Under `Always`, an append that leaves a page or more buffered is written to the file at
//! once (and its writeback started), before anyone waits for it; smaller appends stay in the
//! buffer until the sync round writes them. Either way only a sync makes them durable.

mod util;

use util::*;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Record};

#[test]
fn a_large_batch_reaches_the_file_before_its_sync_and_a_small_record_does_not() {
    let fs = common::MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Always)).unwrap();
    let small = [0xABu8; 100];
    wal.append_no_wait(&[Record::put(b"small", small)]).unwrap();
    assert!(
        !file_has(&fs, &small),
        "a 100-byte append was written early"
    );

    let big = [0xCDu8; 100];
    let batch: Vec<Record> = (0..100)
        .map(|i| Record::put(format!("k{i:03}").into_bytes(), big))
        .collect();
    let positions = wal.append_no_wait(&batch).unwrap();
    assert!(
        file_has(&fs, &small) && file_has(&fs, &big),
        "a 13 KB batch was not written early"
    );

    // Written is not durable: a crash now keeps neither.
    let image = fs.crash();
    assert!(!image
        .read_all(&seg_path(1))
        .unwrap()
        .windows(100)
        .any(|w| w == big));

    wal.wait_durable(*positions.last().unwrap()).unwrap();
    let image = fs.crash();
    drop(wal);
    let (wal, _) = Wal::open(config(&image, FsyncPolicy::Always)).unwrap();
    let records = read_all(&wal);
    assert_eq!(records.len(), 101);
    assert_eq!(records[0].0.key, b"small");
    assert_eq!(records[100].0.key, b"k099");
}
