//! Tables against a `BTreeMap` model: random sorted entries (empty keys and values, a 1 MiB
//! value, many versions of one key, tombstones) are written, then read back through `get` at
//! random snapshots, full scans both ways, and random seeks with steps around them.
//! Case count: `SSTABLE_PROPTEST_CASES` (default 48).

mod support;

use common::{InternalIterator, InternalKey, Lookup, ValueKind, MAX_SEQNO};
use proptest::prelude::*;
use sstable::{BlockCache, Compression, Table, TableBuilder, TableOptions};
use std::path::Path;
use std::sync::Arc;
use support::*;

fn cases() -> u32 {
    std::env::var("SSTABLE_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

fn arb_model() -> impl Strategy<Value = Model> {
    let key = prop::collection::vec(
        prop::sample::select(vec![b'a', b'b', b'c', 0u8, 0xff]),
        0..4,
    );
    let entry = (
        key,
        1u64..60,
        prop::bool::weighted(0.25),
        prop::collection::vec(any::<u8>(), 0..24),
    );
    let hot = (1usize..80, prop::bool::ANY);
    (
        prop::collection::vec(entry, 1..150),
        hot,
        prop::bool::weighted(0.15),
    )
        .prop_map(|(entries, (versions, hot_deletes), big)| {
            let mut m = Model::new();
            for (k, seq, del, v) in entries {
                let kind = if del {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                let v = if del { Vec::new() } else { v };
                m.insert(InternalKey::new(k, seq, kind), v);
            }
            // Many versions of one key.
            for s in 0..versions as u64 {
                let del = hot_deletes && s % 7 == 3;
                let kind = if del {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                let v = if del {
                    Vec::new()
                } else {
                    format!("hot{s}").into_bytes()
                };
                m.insert(InternalKey::new(*b"hot", 100 + s, kind), v);
            }
            if big {
                let v: Vec<u8> = (0..(1usize << 20)).map(|i| (i * 31 % 251) as u8).collect();
                m.insert(InternalKey::new(*b"big", 7, ValueKind::Put), v);
            }
            m
        })
}

fn arb_options() -> impl Strategy<Value = TableOptions> {
    (
        prop::sample::select(vec![64usize, 200, 1024, 4096]),
        prop::bool::ANY,
        prop::sample::select(vec![0usize, 1, 10]),
        1usize..20,
    )
        .prop_map(|(block, lz4, bits, restart)| TableOptions {
            block_size_bytes: block,
            compression: if lz4 {
                Compression::Lz4
            } else {
                Compression::None
            },
            bloom_bits_per_key: bits,
            block_restart_interval: restart,
        })
}

fn arb_probe() -> impl Strategy<Value = (Vec<u8>, u64)> {
    (
        prop::collection::vec(
            prop::sample::select(vec![b'a', b'b', b'c', b'h', b'o', b't', 0u8, 0xff]),
            0..4,
        ),
        0u64..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn table_matches_model(
        model in arb_model(),
        options in arb_options(),
        probes in prop::collection::vec(arb_probe(), 0..60),
        cached: bool,
        walk in prop::collection::vec(any::<bool>(), 0..300),
    ) {
        let (fs, props) = mem_table(&model, options);
        let cache = cached.then(|| BlockCache::new(1 << 20));
        let table = Table::open(fs.shared(), Path::new("/db/t.sst"), 7, cache).unwrap();
        prop_assert_eq!(table.properties(), &props);
        prop_assert_eq!(props.entries, model.len() as u64);
        prop_assert_eq!(props.tombstones, model.keys().filter(|k| k.kind == ValueKind::Delete).count() as u64);
        prop_assert_eq!(&props.smallest, model.keys().next().unwrap());
        prop_assert_eq!(&props.largest, model.keys().next_back().unwrap());
        prop_assert_eq!(props.min_seq, model.keys().map(|k| k.seq).min().unwrap());
        prop_assert_eq!(props.max_seq, model.keys().map(|k| k.seq).max().unwrap());

        // Full scans both ways.
        let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(&scan_forward(&table).unwrap(), &expected);
        let mut back = scan_backward(&table).unwrap();
        back.reverse();
        prop_assert_eq!(&back, &expected);

        // Point lookups at random snapshots, for present and absent keys.
        let present = model.keys().map(|k| (k.user_key.clone(), k.seq));
        for (key, snap) in present.chain(probes.iter().cloned()).chain([(b"hot".to_vec(), MAX_SEQNO)]) {
            for s in [snap, snap.saturating_sub(1), snap + 1] {
                let want = model_get(&model, &key, s);
                prop_assert_eq!(table.get(&key, s).unwrap(), want.clone(), "get({:?}, {})", key, s);
                if want != Lookup::Absent {
                    prop_assert!(table.may_contain(&key));
                }
            }
        }

        // Random seeks, then a step each way.
        let mut it = table.iter();
        for (key, snap) in &probes {
            for kind in [ValueKind::Put, ValueKind::Delete] {
                let target = InternalKey::new(key.clone(), *snap, kind);
                it.seek(&target).unwrap();
                let mut want = model.range(target.clone()..);
                match want.next() {
                    Some((k, v)) => {
                        prop_assert!(it.valid());
                        prop_assert_eq!((it.user_key(), it.seq(), it.kind(), it.value()), (&k.user_key[..], k.seq, k.kind, &v[..]));
                        it.next().unwrap();
                        match want.next() {
                            Some((k2, _)) => prop_assert_eq!((it.user_key(), it.seq()), (&k2.user_key[..], k2.seq)),
                            None => prop_assert!(!it.valid()),
                        }
                    }
                    None => prop_assert!(!it.valid()),
                }
                it.seek_for_prev(&target).unwrap();
                let mut want = model.range(..=target.clone()).rev();
                match want.next() {
                    Some((k, _)) => {
                        prop_assert!(it.valid());
                        prop_assert_eq!((it.user_key(), it.seq(), it.kind()), (&k.user_key[..], k.seq, k.kind));
                        it.prev().unwrap();
                        match want.next() {
                            Some((k2, _)) => prop_assert_eq!((it.user_key(), it.seq()), (&k2.user_key[..], k2.seq)),
                            None => prop_assert!(!it.valid()),
                        }
                    }
                    None => prop_assert!(!it.valid()),
                }
            }
        }

        // A random walk mixing next and prev across block boundaries; off either end it
        // restarts from the other end.
        let mut it = table.iter();
        it.seek_to_first().unwrap();
        let mut pos = 0usize;
        for forward in walk {
            let moved = if forward { pos.checked_add(1).filter(|&p| p < expected.len()) } else { pos.checked_sub(1) };
            if forward { it.next().unwrap() } else { it.prev().unwrap() }
            match moved {
                Some(p) => pos = p,
                None => {
                    prop_assert!(!it.valid());
                    if forward { it.seek_to_first().unwrap(); pos = 0 } else { it.seek_to_last().unwrap(); pos = expected.len() - 1 }
                }
            }
            let (k, v) = &expected[pos];
            prop_assert!(it.valid());
            prop_assert_eq!((it.user_key(), it.seq(), it.kind(), it.value()), (&k.user_key[..], k.seq, k.kind, &v[..]));
        }

        let report = table.verify().unwrap();
        prop_assert_eq!(report.entries, props.entries);
        prop_assert_eq!(report.data_blocks, props.data_blocks);
    }
}

#[test]
fn out_of_order_and_duplicate_keys_are_rejected_and_not_written() {
    let fs = common::MemFs::new();
    let path = Path::new("/t.sst");
    let mut b = TableBuilder::new(fs.shared(), path, TableOptions::default()).unwrap();
    b.add(&InternalKey::new(*b"b", 5, ValueKind::Put), b"1")
        .unwrap();
    for bad in [
        InternalKey::new(*b"b", 5, ValueKind::Put), // duplicate
        InternalKey::new(*b"b", 6, ValueKind::Put), // newer version after older
        InternalKey::new(*b"a", 9, ValueKind::Put), // smaller user key
    ] {
        match b.add(&bad, b"x") {
            Err(sstable::Error::OutOfOrder {
                previous,
                key,
                file,
            }) => {
                assert_eq!(previous, InternalKey::new(*b"b", 5, ValueKind::Put));
                assert_eq!(key, bad);
                assert_eq!(file, path);
            }
            other => panic!("expected OutOfOrder for {bad:?}, got {other:?}"),
        }
    }
    // Same key and seq with the smaller kind sorts after: accepted.
    b.add(&InternalKey::new(*b"b", 5, ValueKind::Delete), b"")
        .unwrap();
    b.add(&InternalKey::new(*b"c", 1, ValueKind::Put), b"3")
        .unwrap();
    let props = b.finish().unwrap();
    assert_eq!(props.entries, 3);
    let t = Table::open(fs.shared(), path, 1, None).unwrap();
    let keys: Vec<_> = scan_forward(&t)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        vec![
            InternalKey::new(*b"b", 5, ValueKind::Put),
            InternalKey::new(*b"b", 5, ValueKind::Delete),
            InternalKey::new(*b"c", 1, ValueKind::Put),
        ]
    );
}

#[test]
fn empty_builder_cannot_finish_and_abandon_removes_the_file() {
    let fs = common::MemFs::new();
    let path = Path::new("/t.sst");
    let b = TableBuilder::new(fs.shared(), path, TableOptions::default()).unwrap();
    assert!(matches!(
        b.finish(),
        Err(sstable::Error::InvalidArgument { .. })
    ));
    let mut b = TableBuilder::new(fs.shared(), path, TableOptions::default()).unwrap();
    b.add(&InternalKey::new(*b"a", 1, ValueKind::Put), &[0; 10_000])
        .unwrap();
    assert!(b.estimated_size_bytes() > 0);
    assert!(common::FileSystem::exists(&fs, path));
    b.abandon();
    assert!(!common::FileSystem::exists(&fs, path));
    let mut b = TableBuilder::new(fs.shared(), path, TableOptions::default()).unwrap();
    let err = b.add_parts(b"a", MAX_SEQNO + 1, ValueKind::Put, b"");
    assert!(matches!(err, Err(sstable::Error::InvalidArgument { .. })));
}

#[test]
fn estimated_size_tracks_the_file() {
    let fs = common::MemFs::new();
    let path = Path::new("/t.sst");
    let mut b = TableBuilder::new(
        fs.shared(),
        path,
        TableOptions {
            compression: Compression::None,
            ..TableOptions::default()
        },
    )
    .unwrap();
    for i in 0..2000u32 {
        b.add_parts(format!("k{i:06}").as_bytes(), 1, ValueKind::Put, &[7; 100])
            .unwrap();
    }
    let estimate = b.estimated_size_bytes();
    let props = b.finish().unwrap();
    let ratio = estimate as f64 / props.file_size_bytes as f64;
    assert!(
        (0.9..1.1).contains(&ratio),
        "estimate {estimate} vs {}",
        props.file_size_bytes
    );
    assert_eq!(
        props.file_size_bytes,
        common::FileSystem::file_size(&fs, path).unwrap()
    );
}

/// Keys around and past the length up to which `get` builds its seek key on the stack, with
/// several versions each and shared prefixes, read at every snapshot that matters.
#[test]
fn long_keys_read_back_at_every_snapshot() {
    let mut model = Model::new();
    for len in [0usize, 1, 8, 40, 63, 64, 65, 70, 100, 300] {
        for tail in [b'a', b'b'] {
            let mut k = vec![b'k'; len];
            k.push(tail);
            for seq in [3u64, 5, 9] {
                let kind = if seq == 5 {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                let v = if seq == 5 {
                    Vec::new()
                } else {
                    format!("{len}{tail}{seq}").into_bytes()
                };
                model.insert(InternalKey::new(k.clone(), seq, kind), v);
            }
        }
    }
    for restart in [1, 4] {
        let options = TableOptions {
            block_size_bytes: 128,
            block_restart_interval: restart,
            ..TableOptions::default()
        };
        let (fs, _) = mem_table(&model, options);
        let table = Table::open(fs.shared(), Path::new("/db/t.sst"), 7, None).unwrap();
        let probes = model.keys().map(|k| k.user_key.clone()).chain([
            b"k".repeat(70),
            b"k".repeat(301),
            b"kz".to_vec(),
        ]);
        for key in probes {
            for s in [0, 2, 3, 4, 5, 8, 9, 10, MAX_SEQNO] {
                assert_eq!(
                    table.get(&key, s).unwrap(),
                    model_get(&model, &key, s),
                    "get({} bytes, {s})",
                    key.len()
                );
            }
        }
    }
}

/// A cache that holds only a few blocks, so that nearly every read evicts one and the next
/// miss decompresses into the evicted block's recycled buffer: every read must still return
/// exactly what the model holds (no byte of an old block may survive into a new one).
#[test]
fn tiny_cache_recycles_buffers_without_mixing_blocks() {
    let model = support::mixed_model(11);
    for compression in [Compression::Lz4, Compression::None] {
        let options = TableOptions {
            block_size_bytes: 512,
            compression,
            ..TableOptions::default()
        };
        let (fs, props) = mem_table(&model, options);
        assert!(props.data_blocks > 20);
        let cache = BlockCache::new(3 * 700);
        let table =
            Table::open(fs.shared(), Path::new("/db/t.sst"), 7, Some(cache.clone())).unwrap();
        let keys: Vec<&InternalKey> = model.keys().collect();
        let mut x = 5usize;
        for _ in 0..3000 {
            x = (x * 7919 + 13) % keys.len();
            let k = keys[x];
            assert_eq!(
                table.get(&k.user_key, k.seq).unwrap(),
                model_get(&model, &k.user_key, k.seq)
            );
        }
        assert!(
            cache.misses() > 1000,
            "the cache should thrash: {}",
            cache.misses()
        );
        assert!(cache.usage_bytes() <= cache.capacity_bytes());
    }
}

/// A bulk scan (`iter_no_fill`, as a compaction reads) sees every entry but leaves the block
/// cache as it found it; an ordinary `iter` fills it.
#[test]
fn a_no_fill_scan_reads_everything_and_leaves_the_cache_alone() {
    let model = support::mixed_model(12);
    let options = TableOptions {
        block_size_bytes: 512,
        ..TableOptions::default()
    };
    let (fs, props) = mem_table(&model, options);
    assert!(props.data_blocks > 5);
    let cache = BlockCache::new(1 << 20);
    let table =
        Arc::new(Table::open(fs.shared(), Path::new("/db/t.sst"), 7, Some(cache.clone())).unwrap());
    let scan = |mut it: sstable::TableIterator| {
        let mut n = 0;
        it.seek_to_first().unwrap();
        while it.valid() {
            n += 1;
            it.next().unwrap();
        }
        n
    };
    assert_eq!(scan(table.iter_no_fill()), model.len());
    assert_eq!(cache.len(), 0, "a no-fill scan inserted blocks");
    assert_eq!(scan(table.iter()), model.len());
    assert_eq!(cache.len() as u64, props.data_blocks);
    // With the cache full, a no-fill scan uses the cached blocks.
    let misses = cache.misses();
    assert_eq!(scan(table.iter_no_fill()), model.len());
    assert_eq!(cache.misses(), misses);
}
