//! Under `Always`, an append that leaves a page or more buffered is written to the file at
//! once and the background thread fdatasyncs it at once, before anyone waits for it (so that
//! the sync overlaps the appender's own work); smaller appends stay in the buffer until a
//! sync round writes them.

mod util;

use std::time::{Duration, Instant};
use util::*;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Record};

#[test]
fn a_large_batch_is_written_and_synced_before_anyone_waits_and_a_small_record_is_not() {
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

    // Nobody waits or syncs: the background thread's round makes both durable.
    let last = *positions.last().unwrap();
    let start = Instant::now();
    while wal.durable_position() <= last {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the large batch was not synced without a wait"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let image = fs.crash();
    drop(wal);
    let (wal, _) = Wal::open(config(&image, FsyncPolicy::Always)).unwrap();
    let records = read_all(&wal);
    assert_eq!(records.len(), 101);
    assert_eq!(records[0].0.key, b"small");
    assert_eq!(records[100].0.key, b"k099");
}
