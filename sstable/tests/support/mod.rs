//! Helpers shared by the integration tests: building a table from a model and reading a
//! table back in full.
#![allow(dead_code)]

use common::{InternalIterator, InternalKey, Lookup, MemFs, SeqNo, ValueKind};
use sstable::{Table, TableBuilder, TableOptions, TableProperties};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Internal key -> value; a tombstone's value is empty.
pub type Model = BTreeMap<InternalKey, Vec<u8>>;

/// Writes `model` (in order) to `path` on `fs`.
pub fn write_table(
    fs: Arc<dyn common::FileSystem>,
    path: &Path,
    model: &Model,
    options: TableOptions,
) -> TableProperties {
    let mut b = TableBuilder::new(fs, path, options).unwrap();
    for (k, v) in model {
        b.add(k, v).unwrap();
    }
    b.finish().unwrap()
}

/// A MemFs holding `model` as `/db/t.sst`.
pub fn mem_table(model: &Model, options: TableOptions) -> (MemFs, TableProperties) {
    let fs = MemFs::new();
    common::FileSystem::create_dir_all(&fs, Path::new("/db")).unwrap();
    let p = write_table(fs.shared(), Path::new("/db/t.sst"), model, options);
    (fs, p)
}

/// Every entry, first to last.
pub fn scan_forward(t: &Arc<Table>) -> sstable::Result<Vec<(InternalKey, Vec<u8>)>> {
    let mut it = t.iter();
    let mut out = Vec::new();
    it.seek_to_first()?;
    while it.valid() {
        out.push((
            InternalKey::new(it.user_key(), it.seq(), it.kind()),
            it.value().to_vec(),
        ));
        it.next()?;
    }
    Ok(out)
}

/// Every entry, last to first.
pub fn scan_backward(t: &Arc<Table>) -> sstable::Result<Vec<(InternalKey, Vec<u8>)>> {
    let mut it = t.iter();
    let mut out = Vec::new();
    it.seek_to_last()?;
    while it.valid() {
        out.push((
            InternalKey::new(it.user_key(), it.seq(), it.kind()),
            it.value().to_vec(),
        ));
        it.prev()?;
    }
    Ok(out)
}

/// What the model says a lookup of `user_key` at `snapshot` returns.
pub fn model_get(model: &Model, user_key: &[u8], snapshot: SeqNo) -> Lookup {
    let from = InternalKey::seek_key(user_key, snapshot);
    match model.range(from..).next() {
        Some((k, v)) if k.user_key == user_key => match k.kind {
            ValueKind::Put => Lookup::Found(v.clone()),
            ValueKind::Delete => Lookup::Deleted,
        },
        _ => Lookup::Absent,
    }
}

/// A deterministic generator (splitmix64) for tests that need fixed data.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `n` pseudo-random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// A model with several blocks: 300 keys, some with several versions, some tombstones, an
/// empty key and empty values; values compressible half the time.
pub fn mixed_model(seed: u64) -> Model {
    let mut r = SplitMix(seed);
    let mut m = Model::new();
    m.insert(
        InternalKey::new(Vec::new(), 3, ValueKind::Put),
        b"empty key".to_vec(),
    );
    for i in 0..300u64 {
        let key = format!("key{i:05}").into_bytes();
        let versions = 1 + r.next_u64() % 3;
        for v in 0..versions {
            let seq = 10 + i * 4 + v;
            let kind = if r.next_u64().is_multiple_of(5) {
                ValueKind::Delete
            } else {
                ValueKind::Put
            };
            let value = match (kind, r.next_u64() % 4) {
                (ValueKind::Delete, _) => Vec::new(),
                (_, 0) => Vec::new(),
                (_, 1) => r.bytes(40),
                _ => vec![b'a' + (i % 26) as u8; 60],
            };
            m.insert(InternalKey::new(key.clone(), seq, kind), value);
        }
    }
    m
}
