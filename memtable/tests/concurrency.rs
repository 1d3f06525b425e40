//! Several threads insert while others read and iterate the same memtable.
//!
//! Writer `w` inserts keys `w-i` for `i` in `0..N`, each with two versions (a put at an odd
//! sequence number, then for every third key a tombstone). Readers check what may be seen at any
//! moment: a key's lookup is absent, the put's exact value, or deleted only where a tombstone is
//! written; scans see strictly increasing internal keys and only values that belong to their key.
//! `MEMTABLE_STRESS_N` sets `N` (default 20 000).

use common::{InternalIterator, InternalKey, Lookup, ValueKind, MAX_SEQNO};
use memtable::MemTable;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const WRITERS: u64 = 3;

fn n() -> u64 {
    std::env::var("MEMTABLE_STRESS_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

fn key(w: u64, i: u64) -> Vec<u8> {
    format!("{w}-{i:08}").into_bytes()
}

fn value(k: &[u8]) -> Vec<u8> {
    let mut v = k.to_vec();
    v.extend_from_slice(b"=value");
    v
}

#[test]
fn concurrent_inserts_reads_and_scans() {
    let n = n();
    let mt = Arc::new(MemTable::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mt = Arc::clone(&mt);
            thread::spawn(move || {
                for i in 0..n {
                    let k = key(w, i);
                    let seq = (w * n + i) * 2 + 1;
                    mt.insert(&k, seq, ValueKind::Put, &value(&k));
                    if i % 3 == 0 {
                        mt.insert(&k, seq + 1, ValueKind::Delete, b"");
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let mt = Arc::clone(&mt);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut rounds = 0u64;
                while !done.load(Ordering::Acquire) || rounds < 2 {
                    rounds += 1;
                    if r == 0 {
                        for i in (0..n).step_by(7) {
                            for w in 0..WRITERS {
                                let k = key(w, i);
                                match mt.get(&k, MAX_SEQNO) {
                                    Lookup::Absent => {}
                                    Lookup::Found(v) => assert_eq!(v, value(&k)),
                                    Lookup::Deleted => assert_eq!(i % 3, 0),
                                }
                            }
                        }
                    } else {
                        let mut it = mt.iter();
                        it.seek_to_first().unwrap();
                        let mut last: Option<InternalKey> = None;
                        while it.valid() {
                            let k = InternalKey::new(it.user_key(), it.seq(), it.kind());
                            if k.kind == ValueKind::Put {
                                assert_eq!(it.value(), value(&k.user_key));
                            }
                            assert!(last.as_ref().is_none_or(|l| *l < k));
                            last = Some(k);
                            it.next().unwrap();
                        }
                        it.seek_to_last().unwrap();
                        let mut last: Option<InternalKey> = None;
                        while it.valid() {
                            let k = InternalKey::new(it.user_key(), it.seq(), it.kind());
                            assert!(last.as_ref().is_none_or(|l| *l > k));
                            last = Some(k);
                            it.prev().unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().unwrap();
    }
    // Everything is there once the writers are done.
    let per_writer = n + n.div_ceil(3);
    assert_eq!(mt.len() as u64, WRITERS * per_writer);
    assert_eq!(mt.min_seq(), Some(1));
    for w in 0..WRITERS {
        for i in 0..n {
            let k = key(w, i);
            let want = if i % 3 == 0 {
                Lookup::Deleted
            } else {
                Lookup::Found(value(&k))
            };
            assert_eq!(mt.get(&k, MAX_SEQNO), want);
        }
    }
}
