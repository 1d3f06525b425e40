//! Fuzzes `sstable::fuzz_decode_table_edits`: edits to a fixed table's blocks with their
//! checksums recomputed, so the structural checks behind the checksums are what is tested.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sstable::fuzz_decode_table_edits(data);
});
