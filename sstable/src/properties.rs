//! What a table holds, written in its properties block (`docs/sstable-format.md`, "Properties
//! block") and read back on open, so the engine and compaction can plan without a scan.

use common::coding::{put_length_prefixed, put_varint, Reader};
use common::{InternalKey, SeqNo};

/// A table's summary. `index_bytes` and `file_size_bytes` are not stored in the properties
/// block (they are written after it); the reader fills them from the footer and file length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProperties {
    /// Number of entries (every version of every key, tombstones included).
    pub entries: u64,
    /// How many entries are tombstones.
    pub tombstones: u64,
    /// The first internal key.
    pub smallest: InternalKey,
    /// The last internal key.
    pub largest: InternalKey,
    /// The smallest sequence number of any entry.
    pub min_seq: SeqNo,
    /// The largest sequence number of any entry.
    pub max_seq: SeqNo,
    /// Sum of the user keys' lengths.
    pub raw_key_bytes: u64,
    /// Sum of the values' lengths.
    pub raw_value_bytes: u64,
    /// Number of data blocks.
    pub data_blocks: u64,
    /// Sum of the data blocks' sizes before compression (entries and restart arrays).
    pub data_uncompressed_bytes: u64,
    /// Sum of the data blocks' sizes as stored (after compression, trailers included).
    pub data_stored_bytes: u64,
    /// The filter block's stored size, trailer included.
    pub filter_bytes: u64,
    /// The index block's stored size, trailer included.
    pub index_bytes: u64,
    /// The whole file's size.
    pub file_size_bytes: u64,
}

impl TableProperties {
    /// The properties block's contents (all but `index_bytes` and `file_size_bytes`).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [
            self.entries,
            self.tombstones,
            self.min_seq,
            self.max_seq,
            self.raw_key_bytes,
            self.raw_value_bytes,
            self.data_blocks,
            self.data_uncompressed_bytes,
            self.data_stored_bytes,
            self.filter_bytes,
        ] {
            put_varint(&mut b, v);
        }
        put_length_prefixed(&mut b, &self.smallest.encode());
        put_length_prefixed(&mut b, &self.largest.encode());
        b
    }

    /// Decodes a properties block; `index_bytes` and `file_size_bytes` are left at 0. Checks
    /// that every byte is used and that the fields agree with one another.
    pub fn decode(block: &[u8]) -> Result<TableProperties, String> {
        let mut r = Reader::new(block);
        let mut v = [0u64; 10];
        for (i, slot) in v.iter_mut().enumerate() {
            *slot = r
                .varint()
                .ok_or_else(|| format!("properties field {i} is truncated or malformed"))?;
        }
        let mut key = |which: &str| {
            r.length_prefixed()
                .and_then(InternalKey::decode)
                .ok_or_else(|| format!("properties: {which} key is truncated or malformed"))
        };
        let smallest = key("smallest")?;
        let largest = key("largest")?;
        if !r.is_empty() {
            return Err(format!(
                "properties block has {} unexpected trailing bytes",
                r.remaining()
            ));
        }
        let [entries, tombstones, min_seq, max_seq, raw_key_bytes, raw_value_bytes, data_blocks, data_uncompressed_bytes, data_stored_bytes, filter_bytes] =
            v;
        let sane = entries >= 1
            && tombstones <= entries
            && min_seq <= max_seq
            && smallest <= largest
            && data_blocks >= 1
            && data_blocks <= entries;
        if !sane {
            return Err(format!(
                "properties disagree with one another: {entries} entries, {tombstones} tombstones, \
                 {data_blocks} blocks, seq {min_seq}..={max_seq}, smallest {smallest:?}, largest {largest:?}"
            ));
        }
        Ok(TableProperties {
            entries,
            tombstones,
            smallest,
            largest,
            min_seq,
            max_seq,
            raw_key_bytes,
            raw_value_bytes,
            data_blocks,
            data_uncompressed_bytes,
            data_stored_bytes,
            filter_bytes,
            index_bytes: 0,
            file_size_bytes: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ValueKind;

    #[test]
    fn roundtrip_and_rejects() {
        let p = TableProperties {
            entries: 10,
            tombstones: 2,
            smallest: InternalKey::new(*b"a", 9, ValueKind::Put),
            largest: InternalKey::new(*b"z", 1, ValueKind::Delete),
            min_seq: 1,
            max_seq: 9,
            raw_key_bytes: 30,
            raw_value_bytes: 300,
            data_blocks: 2,
            data_uncompressed_bytes: 400,
            data_stored_bytes: 200,
            filter_bytes: 20,
            index_bytes: 0,
            file_size_bytes: 0,
        };
        let b = p.encode();
        assert_eq!(TableProperties::decode(&b).unwrap(), p);
        assert!(TableProperties::decode(&b[..b.len() - 1]).is_err());
        let mut longer = b.clone();
        longer.push(0);
        assert!(TableProperties::decode(&longer).is_err());
        let mut swapped = p.clone();
        std::mem::swap(&mut swapped.smallest, &mut swapped.largest);
        assert!(TableProperties::decode(&swapped.encode()).is_err());
    }
}
