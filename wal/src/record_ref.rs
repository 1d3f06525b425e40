//! A record borrowed from a reader's buffer, and decoding a frame's payload without copying it.
//!
//! [`crate::format::decode_record`] copies the key and the value into a fresh [`Record`] (two
//! allocations per record). Replay applies each record once and forgets it, so it decodes with
//! [`decode_payload`] instead: the same checks and the same error texts, giving where the key
//! and the value lie in the payload. Only a compressed payload is inflated, into a scratch
//! record the reader keeps (the tests check both paths agree with `decode_record` on every
//! input, valid or not).

use crate::format::{decode_record, FrameHeader, FLAG_COMPRESSED, KIND_DELETE};
use crate::Record;
use common::coding::get_varint;
use std::ops::Range;

/// One logged record, borrowed from the buffer of the reader that returned it: valid until
/// that reader moves on. [`RecordRef::to_record`] makes an owned copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordRef<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value (empty for a deletion).
    pub value: &'a [u8],
    /// Whether this record deletes `key`.
    pub tombstone: bool,
}

impl RecordRef<'_> {
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            key: self.key.to_vec(),
            value: self.value.to_vec(),
            tombstone: self.tombstone,
        }
    }

    /// Key plus value bytes: what `max_record_bytes` limits.
    pub fn size_bytes(&self) -> u64 {
        (self.key.len() + self.value.len()) as u64
    }
}

impl<'a> From<&'a Record> for RecordRef<'a> {
    fn from(r: &'a Record) -> RecordRef<'a> {
        RecordRef {
            key: &r.key,
            value: &r.value,
            tombstone: r.tombstone,
        }
    }
}

/// Where a decoded record's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// Key and value are these ranges of the payload.
    Plain {
        key: Range<usize>,
        value: Range<usize>,
        tombstone: bool,
    },
    /// The payload was compressed: the record was inflated into the scratch record.
    Inflated,
}

impl Decoded {
    /// The record, given the payload it was decoded from and the scratch record.
    pub fn record<'a>(&self, payload: &'a [u8], scratch: &'a Record) -> RecordRef<'a> {
        match self {
            Decoded::Plain {
                key,
                value,
                tombstone,
            } => RecordRef {
                key: &payload[key.clone()],
                value: &payload[value.clone()],
                tombstone: *tombstone,
            },
            Decoded::Inflated => RecordRef::from(scratch),
        }
    }
}

/// Decodes the record of a checksum-verified Put/Delete frame as
/// [`decode_record`] does (same checks, same error texts), without copying a plain payload;
/// a compressed one is inflated into `scratch`.
pub(crate) fn decode_payload(
    header: &FrameHeader,
    payload: &[u8],
    max_record_bytes: u64,
    scratch: &mut Record,
) -> Result<Decoded, String> {
    if header.flags & FLAG_COMPRESSED != 0 {
        *scratch = decode_record(header, payload, max_record_bytes)?;
        return Ok(Decoded::Inflated);
    }
    let (key_len, n) = get_varint(payload).ok_or("key length varint is malformed")?;
    let left = payload.len() - n;
    if key_len > left as u64 {
        return Err(format!(
            "key length {key_len} exceeds the {left} payload bytes left"
        ));
    }
    let key_end = n + key_len as usize;
    Ok(Decoded::Plain {
        key: n..key_end,
        value: key_end..payload.len(),
        tombstone: header.kind == KIND_DELETE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Compression;
    use crate::format::{encode_record, FLAG_FIRST, FLAG_LAST, FRAME_HEADER_LEN, KIND_PUT};
    use proptest::prelude::*;

    /// Both decoders on the same input: equal records or equal error texts.
    fn agree(header: &FrameHeader, payload: &[u8], max: u64) {
        let owned = decode_record(header, payload, max);
        let mut scratch = Record::default();
        let borrowed = decode_payload(header, payload, max, &mut scratch)
            .map(|d| d.record(payload, &scratch).to_record());
        assert_eq!(borrowed, owned);
    }

    #[test]
    fn plain_and_compressed_frames_decode_alike() {
        let records = [
            Record::put(b"key", b"value"),
            Record::put(b"", b""),
            Record::delete(b"gone"),
            Record::put(vec![7u8; 300], vec![1u8; 5000]),
        ];
        for compression in [Compression::None, Compression::Lz4 { min_bytes: 1 }] {
            for r in &records {
                let mut buf = Vec::new();
                encode_record(
                    &mut buf,
                    r,
                    FLAG_FIRST | FLAG_LAST,
                    compression,
                    &mut Vec::new(),
                );
                let h = FrameHeader::decode(&buf).expect("a whole header");
                let payload = &buf[FRAME_HEADER_LEN..];
                agree(&h, payload, 10_000);
                let mut scratch = Record::default();
                let d = decode_payload(&h, payload, 10_000, &mut scratch).expect("valid");
                assert_eq!(d.record(payload, &scratch), RecordRef::from(r));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn agrees_with_decode_record_on_any_bytes(
            payload in proptest::collection::vec(any::<u8>(), 0..40),
            kind in KIND_PUT..=KIND_DELETE,
            compressed in any::<bool>(),
            max in 0u64..64,
        ) {
            let header = FrameHeader {
                crc: 0,
                len: payload.len() as u32,
                kind,
                flags: if compressed { FLAG_COMPRESSED } else { 0 },
            };
            agree(&header, &payload, max);
        }
    }
}
