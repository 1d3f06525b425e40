//! Our LZ4 *block* compressor (the raw block format, no frame), used for every data and index
//! block a table builder writes; `lz4.rs` is its decoder. Safe Rust.
//!
//! Why not `lz4_flex::block::compress` (what we used before): per call it allocates and zeroes
//! an 8 KiB hash table and a worst-case output `Vec`, then shrinks that `Vec` (a reallocation),
//! all for a 2-4 KiB block; with its `safe-encode` feature every output byte is a bounds-checked
//! push. Here the caller keeps one [`Lz4Compressor`] (one per table builder) and a reusable
//! output `Vec`:
//!
//! - the hash table (4096 `u32` positions, 16 KiB) is allocated once and never cleared between
//!   blocks: each entry holds `base + position`, and each call moves `base` past every position
//!   stored by the calls before it, so an entry below `base` is from an earlier block and reads
//!   as empty. It is zeroed only when `base` would overflow (after 4 GiB of input);
//! - the block is compressed straight onto the end of the caller's `Vec` (grown once, to the
//!   worst case, then truncated);
//! - literal runs of up to 16 bytes are one fixed 16-byte copy (the bytes past the run are
//!   rewritten by what follows, or cut off by the final truncation), match lengths are counted
//!   8 bytes at a time.
//!
//! The match finder is the reference LZ4's fast one (`LZ4_compress_generic`): hash the 4 bytes
//! at the cursor (Knuth's multiplicative hash, top 12 bits), look up the last position with
//! that hash, and take it if its 4 bytes are equal and it is at most 65 535 bytes back; extend
//! the match backwards over the pending literals and forwards as far as it goes (8 bytes at a
//! time both ways). After 32 misses in a row the cursor starts skipping (2 bytes per probe,
//! then 3 after 32 more probes, ...), so incompressible data costs few probes per byte; the
//! reference starts after 64, `lz4_flex` after 32, which on our blocks gives `lz4_flex`'s
//! ratio (64: 0.3% smaller blocks, 4% slower). After a match, the position 2 bytes before its
//! end is hashed and the match's end is tried at once (a match right after a match gets a
//! token with no literals). The probe loop has one data-dependent branch, on the 4-byte
//! comparison: a stale entry (an earlier block's) is turned into position 0 without a branch,
//! since with an `if` a third of those branches were mispredicted (the encoder was 1.4-1.6 times
//! slower, `valgrind --branch-sim`: 1029 mispredictions per 4 KiB block, now about 420).
//!
//! The format rules the encoder follows (the LZ4 block specification; `lz4.rs` rejects a block
//! that breaks any of them, and so does the reference decoder):
//!
//! ```text
//! sequence = token (u8: min(literals, 15) << 4 | min(match length - 4, 15))
//!            [literals - 15 as bytes of 255 and a last byte < 255, if the high nibble is 15]
//!            literals
//!            offset (u16 little-endian, 1..=65535, back from the end of the output so far)
//!            [match length - 19 in the same form, if the low nibble is 15]
//! block    = sequence* last   (last = a token with a low nibble of 0, its length bytes and
//!                              its literals, no offset: every block ends with one)
//! ```
//!
//! - every match is at least 4 bytes long and at most 65 535 bytes back;
//! - the last 5 bytes of the input are always literals (a match ends 5 or more bytes before the
//!   end: `LAST_LITERALS`);
//! - a match starts 12 or more bytes before the end of the input (`MF_LIMIT`), so an input of
//!   fewer than 13 bytes is one run of literals (an empty input is the single byte 0: a token
//!   with no literals);
//! - inputs of [`MAX_INPUT_BYTES`] or more (never a table block) are stored as one run of
//!   literals, which keeps every position in a `u32` with room for `base`.

/// The shortest match; the token stores the match length minus this.
const MIN_MATCH: usize = 4;
/// The last bytes of a block that are always literals.
const LAST_LITERALS: usize = 5;
/// A match must start at least this many bytes before the end of the block.
const MF_LIMIT: usize = 12;
/// The farthest back a match may be (the offset is a `u16`).
const MAX_DISTANCE: usize = 65_535;
/// log2 of the number of hash table entries.
const HASH_LOG: u32 = 12;
/// The number of hash table entries.
const TABLE_SIZE: usize = 1 << HASH_LOG;
/// After `1 << SKIP_TRIGGER` failed probes in a row the cursor advances 2 bytes per probe,
/// then 3 after as many more, and so on (the reference LZ4 uses 6 with acceleration 1).
const SKIP_TRIGGER: u32 = 5;
/// The width of the fixed literal copy.
const WILD: usize = 16;
/// Inputs this long or longer are stored as one run of literals (see the module doc).
pub const MAX_INPUT_BYTES: usize = 1 << 30;

/// The most bytes [`Lz4Compressor::compress_into`] appends for an input of `len` bytes: the
/// LZ4 worst case (all literals: the token, one length byte per 255 literals, the literals).
pub const fn max_compressed_len(len: usize) -> usize {
    len + len / 255 + 16
}

/// A reusable LZ4 block compressor: the hash table of positions and the base that makes the
/// entries of earlier calls read as empty (see the module doc). About 16 KiB; keep one per
/// thread of work (a table builder holds one) and call [`Lz4Compressor::compress_into`] for
/// each block.
pub struct Lz4Compressor {
    /// `base + position` of the last position of the current input seen with each hash; an
    /// entry below `base` belongs to an earlier input.
    table: Box<[u32; TABLE_SIZE]>,
    /// Added to the positions of the current input; above every entry of earlier inputs.
    base: u32,
}

impl std::fmt::Debug for Lz4Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lz4Compressor")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Default for Lz4Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Lz4Compressor {
    /// A compressor with an empty table (the one allocation it makes).
    pub fn new() -> Lz4Compressor {
        Lz4Compressor {
            table: Box::new([0; TABLE_SIZE]),
            // Above the zeroes of the fresh table.
            base: 1,
        }
    }

    /// Appends the LZ4 block form of `input` to `out` and returns the number of bytes
    /// appended (at most [`max_compressed_len`]). Allocates only if `out` must grow.
    pub fn compress_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let start = out.len();
        // Room for the worst case and for the fixed copies past the end of the output.
        out.resize(start + max_compressed_len(input.len()) + 2 * WILD, 0);
        let dst = &mut out[start..];
        let written = if input.len() >= MAX_INPUT_BYTES {
            last_literals(input, 0, dst, 0)
        } else {
            // Every entry stored from here on is at least `base` and below `base + len`.
            let len = input.len() as u32;
            if self.base > u32::MAX - len {
                self.table.fill(0);
                self.base = 1;
            }
            let written = compress_block(input, dst, &mut self.table, self.base);
            self.base += len;
            written
        };
        out.truncate(start + written);
        written
    }
}

/// Reads the 4 bytes at `p` as a little-endian `u32`.
#[inline(always)]
fn read_u32(src: &[u8], p: usize) -> u32 {
    u32::from_le_bytes(src[p..p + 4].try_into().expect("4 bytes"))
}

/// Reads the 8 bytes at `p` as a little-endian `u64`.
#[inline(always)]
fn read_u64(src: &[u8], p: usize) -> u64 {
    u64::from_le_bytes(src[p..p + 8].try_into().expect("8 bytes"))
}

/// The table slot of the 4 bytes `v`: the top [`HASH_LOG`] bits of Knuth's multiplicative hash.
#[inline(always)]
fn hash(v: u32) -> usize {
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_LOG)) as usize
}

/// How many bytes from `a` on equal those from `b` on (`b < a`), stopping at `limit`.
#[inline(always)]
fn count_equal(src: &[u8], mut a: usize, mut b: usize, limit: usize) -> usize {
    let from = a;
    while a + 8 <= limit {
        let diff = read_u64(src, a) ^ read_u64(src, b);
        if diff != 0 {
            return a - from + (diff.trailing_zeros() / 8) as usize;
        }
        a += 8;
        b += 8;
    }
    while a < limit && src[a] == src[b] {
        a += 1;
        b += 1;
    }
    a - from
}

/// How many bytes before `a` equal those before `b` (`b < a`), at most `limit` (`limit <= b`).
#[inline(always)]
fn count_equal_backwards(src: &[u8], a: usize, b: usize, limit: usize) -> usize {
    let mut k = 0;
    while k + 8 <= limit {
        let diff = read_u64(src, a - k - 8) ^ read_u64(src, b - k - 8);
        if diff != 0 {
            return k + (diff.leading_zeros() / 8) as usize;
        }
        k += 8;
    }
    while k < limit && src[a - k - 1] == src[b - k - 1] {
        k += 1;
    }
    k
}

/// Writes the continuation bytes of a length whose nibble is 15: `rest` (the length minus 15)
/// as bytes of 255 and a last byte below 255.
#[inline(always)]
fn write_length(dst: &mut [u8], mut op: usize, mut rest: usize) -> usize {
    while rest >= 255 {
        dst[op] = 255;
        op += 1;
        rest -= 255;
    }
    dst[op] = rest as u8;
    op + 1
}

/// Copies `src[from..from + n]` to `dst[op..]`; returns the new `op`. A run of up to 16 (32)
/// bytes with 16 (32) bytes of input left is one fixed copy (the bytes past the run are
/// rewritten later or cut off: `dst` has `2 * WILD` bytes of slack).
#[inline(always)]
fn copy_literals(src: &[u8], from: usize, n: usize, dst: &mut [u8], op: usize) -> usize {
    if n <= WILD && from + WILD <= src.len() {
        dst[op..op + WILD].copy_from_slice(&src[from..from + WILD]);
    } else if n <= 2 * WILD && from + 2 * WILD <= src.len() {
        dst[op..op + 2 * WILD].copy_from_slice(&src[from..from + 2 * WILD]);
    } else {
        dst[op..op + n].copy_from_slice(&src[from..from + n]);
    }
    op + n
}

/// Writes the last sequence (literals `src[anchor..]`, no match) at `dst[op..]`; returns the
/// output length.
fn last_literals(src: &[u8], anchor: usize, dst: &mut [u8], mut op: usize) -> usize {
    let lit = src.len() - anchor;
    if lit >= 15 {
        dst[op] = 15 << 4;
        op = write_length(dst, op + 1, lit - 15);
    } else {
        dst[op] = (lit as u8) << 4;
        op += 1;
    }
    dst[op..op + lit].copy_from_slice(&src[anchor..]);
    op + lit
}

/// Compresses all of `src` (shorter than [`MAX_INPUT_BYTES`]) into `dst` (at least
/// `max_compressed_len(src.len()) + 2 * WILD` bytes) and returns the compressed length. `table`
/// entries below `base` are empty; positions are stored as `base + position`.
fn compress_block(src: &[u8], dst: &mut [u8], table: &mut [u32; TABLE_SIZE], base: u32) -> usize {
    let n = src.len();
    if n < MF_LIMIT + 1 {
        return last_literals(src, 0, dst, 0);
    }
    // The last position a match may start at, and where every match must end by.
    let match_start_limit = n - MF_LIMIT;
    let match_end_limit = n - LAST_LITERALS;
    let stored = |p: usize| base + p as u32;

    let mut op = 0;
    let mut anchor = 0;
    table[hash(read_u32(src, 0))] = stored(0);
    let mut ip = 1;
    let mut forward_hash = hash(read_u32(src, ip));
    'blocks: loop {
        // Find a match: probe at `ip`, advancing by `step`, which grows with the misses.
        let mut forward = ip;
        let mut probes = 1u32 << SKIP_TRIGGER;
        let mut candidate;
        loop {
            let h = forward_hash;
            ip = forward;
            forward += (probes >> SKIP_TRIGGER) as usize;
            probes += 1;
            if forward > match_start_limit + 1 {
                break 'blocks;
            }
            candidate = table[h].wrapping_sub(base) as usize;
            forward_hash = hash(read_u32(src, forward));
            table[h] = stored(ip);
            // An entry of an earlier input wraps to a candidate past the input's end (see
            // `compress_into`); it becomes position 0, which the 4-byte test below then
            // almost always rejects (and any position before `ip` is a correct candidate).
            // Choosing without a branch matters: whether an entry is from this input or an
            // earlier one is a coin toss (see the module doc).
            candidate = if candidate < ip { candidate } else { 0 };
            if (ip - candidate <= MAX_DISTANCE) & (read_u32(src, candidate) == read_u32(src, ip)) {
                break;
            }
        }
        // Extend it backwards over the pending literals.
        let back = count_equal_backwards(src, ip, candidate, (ip - anchor).min(candidate));
        ip -= back;
        candidate -= back;
        // The token, the literals' length and the literals.
        let lit = ip - anchor;
        let mut token_at = op;
        if lit < 15 + 255 {
            // Without a branch on whether the length needs its byte (a coin toss here): the
            // byte is written anyway and kept only if needed.
            dst[op] = (lit.min(15) as u8) << 4;
            dst[op + 1] = lit.wrapping_sub(15) as u8;
            op += 1 + usize::from(lit >= 15);
        } else {
            dst[op] = 15 << 4;
            op = write_length(dst, op + 1, lit - 15);
        }
        op = copy_literals(src, anchor, lit, dst, op);
        loop {
            // The match: offset, length, the token's low nibble.
            let offset = (ip - candidate) as u16;
            dst[op..op + 2].copy_from_slice(&offset.to_le_bytes());
            op += 2;
            let extra = count_equal(src, ip + MIN_MATCH, candidate + MIN_MATCH, match_end_limit);
            ip += MIN_MATCH + extra;
            if extra < 15 + 255 {
                // As for the literals' length.
                dst[token_at] |= extra.min(15) as u8;
                dst[op] = extra.wrapping_sub(15) as u8;
                op += usize::from(extra >= 15);
            } else {
                dst[token_at] |= 15;
                op = write_length(dst, op, extra - 15);
            }
            anchor = ip;
            if ip > match_start_limit {
                break 'blocks;
            }
            // Hash a position inside the match, then try a match right at its end.
            table[hash(read_u32(src, ip - 2))] = stored(ip - 2);
            let h = hash(read_u32(src, ip));
            candidate = table[h].wrapping_sub(base) as usize;
            table[h] = stored(ip);
            candidate = if candidate < ip { candidate } else { 0 };
            if (ip - candidate > MAX_DISTANCE) | (read_u32(src, candidate) != read_u32(src, ip)) {
                break;
            }
            // A sequence with no literals.
            token_at = op;
            dst[op] = 0;
            op += 1;
        }
        ip += 1;
        forward_hash = hash(read_u32(src, ip));
    }
    last_literals(src, anchor, dst, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Compresses `data` with `c` (after `junk` already in the output `Vec`), checks the
    /// bound, and decodes it with both decoders.
    fn roundtrip_with(c: &mut Lz4Compressor, data: &[u8]) -> usize {
        let junk = [0xA5u8; 3];
        let mut out = junk.to_vec();
        let n = c.compress_into(data, &mut out);
        assert_eq!(out.len(), junk.len() + n);
        assert_eq!(&out[..junk.len()], &junk);
        assert!(n <= max_compressed_len(data.len()));
        let block = &out[junk.len()..];
        let mut ours = vec![7u8; 5];
        crate::lz4::decompress_into(block, data.len(), &mut ours)
            .unwrap_or_else(|e| panic!("our decoder, {} bytes: {e}", data.len()));
        assert!(
            ours == data,
            "our decoder, {} bytes: wrong output",
            data.len()
        );
        let flex = lz4_flex::block::decompress(block, data.len())
            .unwrap_or_else(|e| panic!("lz4_flex, {} bytes: {e}", data.len()));
        assert!(flex == data, "lz4_flex, {} bytes: wrong output", data.len());
        n
    }

    fn roundtrip(data: &[u8]) -> usize {
        roundtrip_with(&mut Lz4Compressor::new(), data)
    }

    fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// The sequences of a block: (literals, match length or `None` for the last, offset).
    fn sequences(block: &[u8]) -> Vec<(usize, Option<usize>, usize)> {
        let mut seqs = Vec::new();
        let mut ip = 0;
        let length = |ip: &mut usize, mut n: usize| {
            if n == 15 {
                loop {
                    let b = block[*ip];
                    *ip += 1;
                    n += usize::from(b);
                    if b != 255 {
                        break;
                    }
                }
            }
            n
        };
        loop {
            let token = block[ip];
            ip += 1;
            let lit = length(&mut ip, usize::from(token >> 4));
            ip += lit;
            if ip == block.len() {
                seqs.push((lit, None, 0));
                return seqs;
            }
            let offset = usize::from(u16::from_le_bytes([block[ip], block[ip + 1]]));
            ip += 2;
            let mlen = length(&mut ip, usize::from(token & 15)) + MIN_MATCH;
            seqs.push((lit, Some(mlen), offset));
        }
    }

    #[test]
    fn empty_and_tiny_inputs_are_literals() {
        let mut c = Lz4Compressor::new();
        assert_eq!(roundtrip_with(&mut c, b""), 1);
        let mut out = Vec::new();
        c.compress_into(b"", &mut out);
        assert_eq!(out, [0]);
        for len in 1..=12 {
            let data = vec![b'x'; len];
            // Too short for a match (one must start 12 bytes before the end): all literals.
            assert_eq!(roundtrip_with(&mut c, &data), 1 + len);
        }
        // 13 bytes: a match of 4 at position 1 is allowed (it ends 8 bytes before the end).
        assert!(roundtrip_with(&mut c, &[b'y'; 13]) < 14);
    }

    #[test]
    fn lengths_around_the_boundaries() {
        let mut c = Lz4Compressor::new();
        for len in (0..80).chain([255, 256, 270, 271, 4095, 4096, 4097]) {
            for data in [
                vec![0u8; len],
                random_bytes(len, len as u64 + 1),
                (0..len).map(|i| (i % 7) as u8).collect(),
            ] {
                roundtrip_with(&mut c, &data);
            }
        }
        for len in [65_534, 65_535, 65_536, 65_537, 70_000] {
            for data in [
                vec![3u8; len],
                random_bytes(len, 9),
                (0..len).map(|i| (i / 100) as u8).collect(),
            ] {
                roundtrip_with(&mut c, &data);
            }
        }
    }

    #[test]
    fn end_of_block_rules_hold() {
        let mut c = Lz4Compressor::new();
        for len in 13..200 {
            for data in [vec![b'z'; len], (0..len).map(|i| (i % 3) as u8).collect()] {
                let mut out = Vec::new();
                c.compress_into(&data, &mut out);
                let seqs = sequences(&out);
                let mut pos = 0;
                for &(lit, mlen, _) in &seqs {
                    pos += lit;
                    if let Some(m) = mlen {
                        assert!(pos + MF_LIMIT <= len, "match at {pos} of {len}");
                        pos += m;
                        assert!(pos + LAST_LITERALS <= len, "match ends at {pos} of {len}");
                    }
                }
                assert_eq!(pos, len);
                assert!(seqs.last().unwrap().0 >= LAST_LITERALS);
            }
        }
    }

    #[test]
    fn all_same_bytes_compress_to_one_long_match() {
        let data = vec![b'q'; 10_000];
        let n = roundtrip(&data);
        assert!(n < 60, "{n} bytes");
        let mut out = Vec::new();
        Lz4Compressor::new().compress_into(&data, &mut out);
        let seqs = sequences(&out);
        assert_eq!(seqs.len(), 2, "{seqs:?}");
        assert_eq!(seqs[0], (1, Some(10_000 - 1 - 5), 1));
        assert_eq!(seqs[1].0, 5);
    }

    #[test]
    fn incompressible_data_is_literals_and_bounded() {
        for len in [100, 4096, 65_536, 200_000] {
            let data = random_bytes(len, 77);
            let n = roundtrip(&data);
            assert!(n <= max_compressed_len(len));
            assert!(n > len, "random data should not shrink");
        }
    }

    #[test]
    fn long_literal_runs_and_long_matches() {
        let mut c = Lz4Compressor::new();
        // Literal runs of 15, 16, 269, 270, 271, 600 bytes before a match; matches of 19, 20,
        // 270, 300, 1000 bytes.
        for lit in [14, 15, 16, 17, 269, 270, 271, 524, 525, 600] {
            for mlen in [4, 5, 18, 19, 20, 269, 270, 271, 300, 1000] {
                let phrase = random_bytes(mlen, 5);
                let mut data = phrase.clone();
                data.extend(random_bytes(lit, 11));
                data.extend_from_slice(&phrase);
                data.extend(random_bytes(20, 13));
                roundtrip_with(&mut c, &data);
                let mut out = Vec::new();
                c.compress_into(&data, &mut out);
                let seqs = sequences(&out);
                // The phrase's second copy is found whole, after the random run (a phrase
                // shorter than the probes' step after 600 random bytes may be skipped).
                if mlen >= 18 {
                    assert!(
                        seqs.iter()
                            .any(|&(_, m, off)| m == Some(mlen) && off == mlen + lit),
                        "lit {lit} mlen {mlen}: {seqs:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn offsets_near_the_window_limit() {
        let mut c = Lz4Compressor::new();
        for gap in [65_500, 65_530, 65_531, 65_532, 65_535, 65_536, 65_540] {
            // Longer than the probes' step after 64 KiB of random bytes.
            let phrase = random_bytes(2000, 3);
            let mut data = phrase.clone();
            data.extend(random_bytes(gap - 2000, 21));
            data.extend_from_slice(&phrase);
            data.extend(random_bytes(30, 8));
            roundtrip_with(&mut c, &data);
            let mut out = Vec::new();
            c.compress_into(&data, &mut out);
            let seqs = sequences(&out);
            for &(_, _, off) in &seqs {
                assert!(off <= MAX_DISTANCE);
            }
            let found = seqs.iter().any(|&(_, m, off)| m.is_some() && off == gap);
            assert_eq!(found, gap <= MAX_DISTANCE, "gap {gap}: {seqs:?}");
        }
    }

    #[test]
    fn earlier_blocks_are_never_matched() {
        // The same compressor over many blocks: entries left by earlier blocks must read as
        // empty (a match into them would be an offset past the output's start).
        let mut c = Lz4Compressor::new();
        let blocks: Vec<Vec<u8>> = (0..50)
            .map(|i| {
                let mut b = random_bytes(300 + i * 37, i as u64 + 100);
                let copy = b[..50].to_vec();
                b.extend(copy);
                b
            })
            .collect();
        for b in blocks.iter().chain(blocks.iter().rev()) {
            roundtrip_with(&mut c, b);
            // A block compressed after others equals the same block compressed fresh.
            let mut a = Vec::new();
            let mut fresh = Vec::new();
            c.compress_into(b, &mut a);
            Lz4Compressor::new().compress_into(b, &mut fresh);
            assert_eq!(a, fresh);
        }
    }

    #[test]
    fn base_wraps_by_clearing_the_table() {
        let mut c = Lz4Compressor::new();
        let data: Vec<u8> = (0..3000)
            .map(|i| (i % 251) as u8 ^ (i / 700) as u8)
            .collect();
        roundtrip_with(&mut c, &data);
        c.base = u32::MAX - 1000;
        roundtrip_with(&mut c, &data);
        assert!(c.base < 10_000, "base {}", c.base);
        roundtrip_with(&mut c, &data);
        let mut a = Vec::new();
        let mut fresh = Vec::new();
        c.compress_into(&data, &mut a);
        Lz4Compressor::new().compress_into(&data, &mut fresh);
        assert_eq!(a, fresh);
    }

    #[test]
    fn ratio_close_to_lz4_flex_on_table_like_data() {
        // Runs of random bytes and of one byte, 1-32 long, with ascending 16-byte keys: the
        // `compare` benchmark's kind of block.
        let mut c = Lz4Compressor::new();
        let (mut ours, mut flex) = (0, 0);
        for seed in 0..20u64 {
            let mut data = Vec::new();
            let mut r = random_bytes(8192, seed + 1).into_iter();
            let mut k = seed * 1000;
            while data.len() < 4096 {
                data.extend_from_slice(format!("{k:016}").as_bytes());
                k += 7;
                while data.len() % 116 != 0 {
                    let run = 1 + usize::from(r.next().unwrap() % 32);
                    if r.next().unwrap() & 1 == 0 {
                        data.extend(r.by_ref().take(run));
                    } else {
                        let b = b'a' + r.next().unwrap() % 26;
                        data.extend(std::iter::repeat_n(b, run));
                    }
                    data.truncate(data.len().min(data.len() / 116 * 116 + 116));
                }
            }
            ours += roundtrip_with(&mut c, &data);
            flex += lz4_flex::block::compress(&data).len();
        }
        assert!(ours * 100 <= flex * 102, "ours {ours} vs lz4_flex {flex}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_bytes_roundtrip(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            roundtrip(&data);
        }

        #[test]
        fn repetitive_bytes_roundtrip(
            data in proptest::collection::vec(0u8..4, 0..3000),
            period in 1usize..40,
        ) {
            // Few distinct bytes and a repeated prefix: many matches, overlapping ones too.
            let mut d: Vec<u8> = data.iter().take(period).copied().collect();
            d.extend(d.clone().iter().cycle().take(data.len() / 2));
            d.extend_from_slice(&data);
            roundtrip(&d);
        }

        #[test]
        fn a_reused_compressor_roundtrips(
            blocks in proptest::collection::vec(proptest::collection::vec(0u8..8, 0..600), 1..8),
        ) {
            let mut c = Lz4Compressor::new();
            for b in &blocks {
                roundtrip_with(&mut c, b);
            }
        }
    }
}
