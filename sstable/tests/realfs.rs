//! Tables on the real file system, read by many threads through one shared block cache.

mod support;

use common::{InternalIterator, Lookup, RealFs};
use sstable::{BlockCache, Table, TableOptions};
use std::sync::Arc;
use support::*;

#[test]
fn write_then_read_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("000001.sst");
    let model = mixed_model(11);
    let props = write_table(RealFs::shared(), &path, &model, TableOptions::default());
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        props.file_size_bytes
    );
    let t = Table::open(RealFs::shared(), &path, 1, None).unwrap();
    assert_eq!(t.properties(), &props);
    assert_eq!(t.path(), path);
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(scan_forward(&t).unwrap(), expected);
    let report = t.verify().unwrap();
    assert_eq!(
        (report.entries, report.bytes_checked),
        (props.entries, props.file_size_bytes)
    );
}

#[test]
fn threads_share_tables_and_one_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = BlockCache::new(64 * 1024);
    let mut tables = Vec::new();
    let mut models = Vec::new();
    for id in 0..3u64 {
        let path = dir.path().join(format!("{id:06}.sst"));
        let model = mixed_model(100 + id);
        write_table(
            RealFs::shared(),
            &path,
            &model,
            TableOptions {
                block_size_bytes: 1024,
                ..TableOptions::default()
            },
        );
        tables.push(Table::open(RealFs::shared(), &path, id, Some(Arc::clone(&cache))).unwrap());
        models.push(model);
    }
    std::thread::scope(|s| {
        for t in 0..4usize {
            let (tables, models) = (&tables, &models);
            s.spawn(move || {
                for round in 0..3 {
                    for (table, model) in tables.iter().zip(models) {
                        for (i, k) in model
                            .keys()
                            .enumerate()
                            .filter(|(i, _)| (i + t + round) % 3 == 0)
                        {
                            let want = model_get(model, &k.user_key, k.seq);
                            assert_eq!(table.get(&k.user_key, k.seq).unwrap(), want, "key {i}");
                        }
                        // An iterator held across calls and moved to this thread.
                        let mut it = table.iter();
                        it.seek_to_first().unwrap();
                        let mut n = 0;
                        while it.valid() {
                            n += 1;
                            it.next().unwrap();
                        }
                        assert_eq!(n, model.len());
                    }
                }
            });
        }
    });
    assert!(cache.usage_bytes() <= cache.capacity_bytes());
    assert!(cache.hits() > 0 && cache.misses() > 0);
    assert_eq!(
        tables[0].get(b"no such key", u64::MAX).unwrap(),
        Lookup::Absent
    );
}

#[test]
fn table_iterator_is_send_and_static() {
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    write_table(
        RealFs::shared(),
        &path,
        &mixed_model(5),
        TableOptions::default(),
    );
    let t = Table::open(RealFs::shared(), &path, 1, None).unwrap();
    let mut it = t.iter();
    drop(t);
    assert_send_static(&it);
    let handle = std::thread::spawn(move || {
        it.seek_to_last().unwrap();
        it.user_key().to_vec()
    });
    assert_eq!(handle.join().unwrap(), b"key00299");
}

/// Tables on the real file system are read through a map (`open_read_mapped`); a damaged
/// data block read that way still fails its checksum, naming the file, and a point read of a
/// key in it fails too. The file is damaged before it is opened: an open table's file is
/// never modified (the map's terms, see common's `read_map.rs`).
#[test]
fn a_mapped_table_reports_a_damaged_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("000007.sst");
    let model = mixed_model(7);
    write_table(RealFs::shared(), &path, &model, TableOptions::default());
    let file = RealFs::shared().open_read_mapped(&path).unwrap();
    assert_eq!(
        file.mapped().map(<[u8]>::len),
        Some(std::fs::metadata(&path).unwrap().len() as usize)
    );
    drop(file);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0x20; // inside the first data block
    std::fs::write(&path, &bytes).unwrap();
    let t = Table::open(RealFs::shared(), &path, 1, Some(BlockCache::new(1 << 20))).unwrap();
    let err = scan_forward(&t).expect_err("the damaged block must fail");
    assert!(err.to_string().contains("000007.sst"), "{err}");
    let first = model.keys().next().unwrap();
    assert!(t.get(&first.user_key, first.seq).is_err());
}
