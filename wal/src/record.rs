//! The record: what the log stores.

use crate::RecordRef;

/// One logged record: a key, a value, and whether it is a deletion.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Record {
    /// The key.
    pub key: Vec<u8>,
    /// The value (empty for a deletion).
    pub value: Vec<u8>,
    /// Whether this record deletes `key`.
    pub tombstone: bool,
}

impl Record {
    /// A record that sets `key` to `value`.
    pub fn put(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Record {
        Record {
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
            tombstone: false,
        }
    }

    /// A record that deletes `key`.
    pub fn delete(key: impl AsRef<[u8]>) -> Record {
        Record {
            key: key.as_ref().to_vec(),
            value: Vec::new(),
            tombstone: true,
        }
    }

    /// Key plus value bytes: what `max_record_bytes` limits.
    pub fn size_bytes(&self) -> u64 {
        (self.key.len() + self.value.len()) as u64
    }
}

/// What the append methods take: an owned [`Record`] or a borrowed [`RecordRef`] (which
/// spares a caller that holds the key and value elsewhere two allocations and two copies
/// per record; the log copies the bytes into its buffer either way).
pub trait AsRecord {
    /// The record, borrowed.
    fn as_record(&self) -> RecordRef<'_>;
}

impl AsRecord for Record {
    fn as_record(&self) -> RecordRef<'_> {
        RecordRef::from(self)
    }
}

impl AsRecord for RecordRef<'_> {
    fn as_record(&self) -> RecordRef<'_> {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors() {
        let p = Record::put(b"k", "v");
        assert_eq!(
            (p.key.as_slice(), p.value.as_slice(), p.tombstone),
            (&b"k"[..], &b"v"[..], false)
        );
        let d = Record::delete(b"k");
        assert!(d.tombstone && d.value.is_empty());
        assert_eq!(p.size_bytes(), 2);
    }
}
