//! Fuzzes `sstable::fuzz_decode_table`: any input must give Ok or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sstable::fuzz_decode_table(data);
});
