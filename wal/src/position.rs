//! Positions: where a record is in the log.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The position of one record: its segment id and its byte offset in that segment's file.
///
/// Totally ordered in log order (segment first, then offset). [`Position::start`] is before
/// every record. A position can be stored (serde, or the fixed 16-byte form of
/// [`to_bytes`](Position::to_bytes)) and handed back to `read_from` later.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct Position {
    segment: u64,
    offset: u64,
}

impl Position {
    /// The position before every record.
    pub const fn start() -> Position {
        Position {
            segment: 0,
            offset: 0,
        }
    }

    /// A position from its parts (as stored by a consumer; normally positions come from the log).
    pub const fn new(segment_id: u64, offset: u64) -> Position {
        Position {
            segment: segment_id,
            offset,
        }
    }

    /// The id of the segment holding the record.
    pub const fn segment_id(&self) -> u64 {
        self.segment
    }

    /// The byte offset of the record's frame in its segment file.
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// The fixed 16-byte form: segment id then offset, each a little-endian `u64`.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.segment.to_le_bytes());
        b[8..].copy_from_slice(&self.offset.to_le_bytes());
        b
    }

    /// Decodes [`to_bytes`](Position::to_bytes).
    pub fn from_bytes(bytes: [u8; 16]) -> Position {
        let mut s = [0u8; 8];
        let mut o = [0u8; 8];
        s.copy_from_slice(&bytes[..8]);
        o.copy_from_slice(&bytes[8..]);
        Position {
            segment: u64::from_le_bytes(s),
            offset: u64::from_le_bytes(o),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.segment, self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_bytes_and_display() {
        let a = Position::new(1, 500);
        let b = Position::new(2, 32);
        assert!(Position::start() < a && a < b);
        assert_eq!(Position::from_bytes(b.to_bytes()), b);
        assert_eq!(b.to_bytes()[0], 2);
        assert_eq!(b.to_string(), "2:32");
        assert_eq!((b.segment_id(), b.offset()), (2, 32));
    }
}
