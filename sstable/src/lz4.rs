//! Our LZ4 *block* decoder (the raw block format, no frame), used for every lz4 block we read.
//!
//! Table blocks are written by `lz4_flex::block::compress` (the stored format:
//! `docs/sstable-format.md`, "Compression"). We decode ourselves because `lz4_flex`'s safe
//! decoder copies a match that overlaps itself (an offset shorter than the match, as in the
//! runs of one byte that values often hold) one byte at a time, each byte waiting on the store
//! of the byte `offset` before it, and calls `memcpy` for literal runs over 14 bytes. Here,
//! writing into the output slice:
//!
//! - far from both ends of the block (`fast_sequence`), every sequence with at most 64
//!   literals takes a branch-light path: the first byte of each length's continuation is added
//!   through a mask rather than behind a branch on the nibble (which nibbles are 15 follows the
//!   data, so such a branch is mispredicted about as often as not); the literals are one fixed
//!   copy of 64 bytes and a match of up to 32 bytes fixed copies of 32 (the bytes past either
//!   are rewritten by the next sequences); a match from 32 or more bytes back is 2 chunks of
//!   16, one from 8 to 31 bytes back 4 chunks of 8, each from `offset` back of its own start
//!   (right even when the match overlaps itself), and one with a period of 1 to 7 bytes is
//!   built in registers from the 8 bytes before it (the period times a constant with a 1 in
//!   every `p`-th byte) and stored 8 bytes at a time, so no byte waits on the store of another. Only the offset is checked: the margins
//!   guarantee the rest. On the `compare` benchmark's blocks (seekrandom, `--num 100000`,
//!   callgrind) this took the simulated branch mispredictions of a decode from ~104 to ~44
//!   per 2 KiB block, for ~16% more instructions (9.5k -> 11.1k);
//! - elsewhere, literals of up to 32 bytes are one fixed copy of 16 or 32 bytes where the
//!   margins allow it, longer ones a `copy_from_slice`; a match from 16 or more bytes back is
//!   copied in fixed chunks of 16 bytes (8 to 15 bytes back: of 8), each through a register
//!   (a fixed-size copy the compiler inlines), not a `memmove` call; a run of one byte
//!   (offset 1) is stored 16 copies at a time; a period of 1 to 15 bytes is written in chunks
//!   of 16, each built one byte at a time from the 16 bytes before it through a fixed table
//!   (`16 - p + i % p`);
//! - near the end of the block, where the fixed copies would run past it, copies are exact
//!   (an overlapping match doubles the written period until it is done).
//!
//! The output is zero-filled before decoding (safe Rust cannot write into uninitialised
//! memory, and appending to a `Vec` instead measured no faster). On a buffer that is cold in
//! the CPU caches, which is what a cache miss decompresses into (the buffer of a block just
//! evicted), zero-filling first was faster than not, by about a fifth in the decompression
//! benchmark: the `memset` claims whole cache lines without reading them from memory first.
//!
//! The format, as the LZ4 block specification states it: a block is a series of sequences, each
//!
//! ```text
//! token (u8: literal length << 4 | match length - 4)
//! [literal length - 15 as 255-bytes plus a last byte < 255, if the high nibble is 15]
//! literals
//! offset (u16 little-endian, 1..=65535, counted back from the current end of the output)
//! [match length - 19 in the same 255-run form, if the low nibble is 15]
//! ```
//!
//! and the last sequence stops after its literals. Every malformed block is an [`Lz4Error`],
//! never a panic and never output that is not the block's: a truncated length, literal or
//! offset, offset 0 or beyond the output written so far, output longer or shorter than the
//! declared length, and a violation of the end-of-block rules (the last 5 bytes are literals, and
//! the last match starts at least 12 bytes before the end; the reference decoder enforces both
//! and every LZ4 compressor, `lz4_flex` included, keeps them).

/// The shortest match; the token stores the match length minus this.
const MIN_MATCH: usize = 4;
/// The last bytes of a block that are always literals.
const LAST_LITERALS: usize = 5;
/// A match must start at least this many bytes before the end of the block.
const MF_LIMIT: usize = 12;
/// The width of the fixed-size copies of the fast paths.
const WILD: usize = 16;
/// The longest match copied in chunks of [`WILD`] bytes (longer ones call `memmove`).
const WILD_MAX: usize = 64;
/// [`fast_sequence`] runs while more than this many input bytes are left: the token, a byte
/// of literal length, 64 literal bytes read (of at most 64 used), the 2-byte offset after
/// them and a byte of match length.
const FAST_INPUT: usize = 1 + 1 + 4 * WILD + 2 + 1;
/// ... and more than this many output bytes: 64 literals written (of at most 64 used), a match
/// of at most 32 bytes written as 32 and the 5 last literals after it, which also keeps the
/// match 12 or more bytes from the end.
const FAST_OUTPUT: usize = 4 * WILD + 2 * WILD + LAST_LITERALS;

/// `PERIOD_INDEX[p][i]` is `16 - p + i % p`: where in the last 16 bytes before it the byte
/// `i` of a match with a period `p` of 1 to 15 bytes is.
const PERIOD_INDEX: [[u8; WILD]; WILD] = {
    let mut t = [[0u8; WILD]; WILD];
    let mut p = 1;
    while p < WILD {
        let mut i = 0;
        while i < WILD {
            t[p][i] = (WILD - p + i % p) as u8;
            i += 1;
        }
        p += 1;
    }
    t
};

/// `PERIOD_REPEAT[p]`, for a period `p` of 1 to 7 bytes, has a 1 in the low bit of every
/// `p`-th byte: `unit * PERIOD_REPEAT[p]` repeats the `p` low bytes of `unit` over 16 bytes
/// (the copies do not overlap, so nothing carries).
const PERIOD_REPEAT: [u128; 8] = {
    let mut t = [0u128; 8];
    let mut p = 1;
    while p < 8 {
        let mut k = 0;
        while k < 16 {
            t[p] |= 1 << (8 * k);
            k += p;
        }
        p += 1;
    }
    t
};

/// `PERIOD_PHASE[p][j]` is `8 * j % p`: where in the period the `j`-th 8 bytes of a match with
/// a period `p` of 1 to 7 bytes start.
const PERIOD_PHASE: [[usize; 4]; 8] = {
    let mut t = [[0usize; 4]; 8];
    let mut p = 1;
    while p < 8 {
        let mut j = 0;
        while j < 4 {
            t[p][j] = 8 * j % p;
            j += 1;
        }
        p += 1;
    }
    t
};

/// Why an LZ4 block does not decode; `at` is the byte offset in the compressed block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lz4Error {
    /// The block ends inside a token, a length, the literals or an offset.
    #[error("lz4 block truncated: {what} at byte {at} runs past its end")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where it starts.
        at: usize,
    },
    /// A match offset of 0.
    #[error("lz4 match offset 0 at byte {at}")]
    OffsetZero {
        /// Where the offset is.
        at: usize,
    },
    /// A match reaching back before the start of the output.
    #[error("lz4 match offset {offset} at byte {at} reaches before the output's start ({written} bytes written)")]
    OffsetTooFar {
        /// Where the offset is.
        at: usize,
        /// The offset.
        offset: usize,
        /// Output bytes written before the match.
        written: usize,
    },
    /// A sequence would write beyond the declared length.
    #[error("lz4 sequence at byte {at} writes past the declared {declared} bytes")]
    TooLong {
        /// Where the sequence's token is.
        at: usize,
        /// The declared (expected) output length.
        declared: usize,
    },
    /// The block ended before writing the declared length.
    #[error("lz4 block gave {written} bytes, expected {declared}")]
    TooShort {
        /// Bytes written.
        written: usize,
        /// The declared (expected) output length.
        declared: usize,
    },
    /// A match too close to the end of the block (the last 5 bytes must be literals, the last
    /// match must start 12 bytes or more before the end).
    #[error("lz4 match of the sequence at byte {at} is too close to the end of the block")]
    MatchAtEnd {
        /// Where the sequence's token is.
        at: usize,
    },
}

/// Decodes the LZ4 block `input`, which must produce exactly `len` bytes, into `out`: cleared,
/// zero-filled to `len` bytes (see the module doc for why), then overwritten by the decoding
/// (its allocation is reused when it holds `len` bytes). On success every byte of `out` was
/// written by the decoding; on error `out` holds meaningless bytes.
pub fn decompress_into(input: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), Lz4Error> {
    out.clear();
    out.resize(len, 0);
    decode(input, out)
}

/// Decodes `input` into all of `out`.
fn decode(input: &[u8], out: &mut [u8]) -> Result<(), Lz4Error> {
    let len = out.len();
    let mut ip = 0;
    let mut op = 0;
    loop {
        // The fast path, far from both ends (see `FAST_INPUT`, `FAST_OUTPUT`): a sequence of
        // at most 32 literals (or more, when both ends stay far) and any match.
        if input.len() - ip > FAST_INPUT && len - op > FAST_OUTPUT {
            if let Some((next_ip, next_op)) = fast_sequence(input, out, ip, op)? {
                ip = next_ip;
                op = next_op;
                continue;
            }
        }
        let token_at = ip;
        let token = *input.get(ip).ok_or(Lz4Error::Truncated {
            what: "token",
            at: ip,
        })?;
        ip += 1;

        // Literals.
        let mut lit = usize::from(token >> 4);
        if lit == 15 {
            lit += read_length(input, &mut ip, "literal length")?;
        }
        if lit <= WILD && input.len() - ip >= WILD && len - op >= WILD {
            // Far from both ends: copy a fixed 16 bytes; those past `lit` are rewritten later.
            out[op..op + WILD].copy_from_slice(&input[ip..ip + WILD]);
        } else if lit <= 2 * WILD && input.len() - ip >= 2 * WILD && len - op >= 2 * WILD {
            // The same with 32.
            out[op..op + 2 * WILD].copy_from_slice(&input[ip..ip + 2 * WILD]);
        } else {
            let src = input
                .get(ip..ip.saturating_add(lit))
                .ok_or(Lz4Error::Truncated {
                    what: "literals",
                    at: ip,
                })?;
            let dst = out.get_mut(op..op + lit).ok_or(Lz4Error::TooLong {
                at: token_at,
                declared: len,
            })?;
            dst.copy_from_slice(src);
        }
        ip += lit;
        op += lit;
        if ip == input.len() {
            // The last sequence: literals only.
            if op != len {
                return Err(Lz4Error::TooShort {
                    written: op,
                    declared: len,
                });
            }
            return Ok(());
        }
        if op + MF_LIMIT > len {
            return Err(Lz4Error::MatchAtEnd { at: token_at });
        }

        // The match.
        let offset_at = ip;
        let offset = match input.get(ip..ip + 2) {
            Some(&[lo, hi]) => usize::from(u16::from_le_bytes([lo, hi])),
            _ => {
                return Err(Lz4Error::Truncated {
                    what: "match offset",
                    at: ip,
                })
            }
        };
        ip += 2;
        check_offset(offset, op, offset_at)?;
        let mut mlen = usize::from(token & 15);
        if mlen == 15 {
            mlen += read_length(input, &mut ip, "match length")?;
        }
        mlen += MIN_MATCH;
        // `op + MF_LIMIT <= len` here, so this does not underflow.
        if mlen > len - op - LAST_LITERALS {
            return Err(Lz4Error::MatchAtEnd { at: token_at });
        }
        copy_match(out, op, offset, mlen);
        op += mlen;
    }
}

/// A match offset must be non-zero and reach no further back than the `op` bytes written;
/// `at` is where the offset sits in the compressed block.
#[inline(always)]
fn check_offset(offset: usize, op: usize, at: usize) -> Result<(), Lz4Error> {
    if offset == 0 {
        return Err(Lz4Error::OffsetZero { at });
    }
    if offset > op {
        return Err(Lz4Error::OffsetTooFar {
            at,
            offset,
            written: op,
        });
    }
    Ok(())
}

/// Decodes the sequence whose token is at `input[ip]` into `out` from `op`, where
/// `input.len() - ip > FAST_INPUT` and `out.len() - op > FAST_OUTPUT`, and returns where the
/// next sequence starts in both; or `None`, having changed nothing that matters, when its
/// literal run is longer than 64 bytes (the general loop then decodes it). Branch-light: the
/// lengths' first continuation bytes are added by a mask; literals are one fixed copy of 64
/// bytes, a match of up to 32 bytes fixed copies of 32 chosen by its offset alone (the bytes
/// written past either are rewritten by the sequences after it); no length-dependent loop.
#[inline(always)]
fn fast_sequence(
    input: &[u8],
    out: &mut [u8],
    ip: usize,
    op: usize,
) -> Result<Option<(usize, usize)>, Lz4Error> {
    const W2: usize = 2 * WILD;
    const W4: usize = 4 * WILD;
    let len = out.len();
    let token = input[ip];
    // Lengths without a branch on the nibble: the byte after the token is added (and skipped)
    // only when the nibble is 15, by a mask. Which nibbles are 15 follows the data, so a
    // branch there would be mispredicted about as often as not.
    let mut p = ip + 1;
    let mut lit = usize::from(token >> 4);
    let ext = usize::from(lit == 15);
    let b = input[p];
    lit += usize::from(b) & ext.wrapping_neg();
    p += ext;
    if lit > W4 {
        // A long run (or its length goes on past the byte read): the general loop.
        return Ok(None);
    }
    // One fixed copy of 64 bytes: `p + 64 <= ip + 66 < input.len()` and `op + 64 < len` by the
    // margins.
    let src: &[u8; W4] = input[p..p + W4].try_into().expect("64 bytes");
    out[op..op + W4].copy_from_slice(src);
    p += lit;
    let op = op + lit;
    let offset_at = p;
    let offset = usize::from(u16::from_le_bytes([input[p], input[p + 1]]));
    p += 2;
    check_offset(offset, op, offset_at)?;
    let mut mlen = usize::from(token & 15);
    let ext = usize::from(mlen == 15);
    let b = input[p];
    mlen += usize::from(b) & ext.wrapping_neg();
    p += ext;
    if mlen == 15 + 255 {
        // Only a nibble of 15 followed by 255 adds up to this; the length goes on.
        mlen += read_length(input, &mut p, "match length")?;
    }
    mlen += MIN_MATCH;
    if mlen <= W2 {
        // `op + 32 + 5 < len` by the margins: room for the fixed copies, and the end-of-block
        // rules hold whatever the length.
        if offset >= W2 {
            // Two chunks of 16, each from `offset` back (written before the match).
            copy_chunk::<WILD>(out, op, offset);
            copy_chunk::<WILD>(out, op + WILD, offset);
        } else if offset >= 8 {
            // Chunks of 8, each from `offset` back (written already).
            copy_chunk::<8>(out, op, offset);
            copy_chunk::<8>(out, op + 8, offset);
            copy_chunk::<8>(out, op + 16, offset);
            copy_chunk::<8>(out, op + 24, offset);
        } else if op >= 8 {
            // A period of 1 to 7 bytes, built in registers from the 8 bytes before the match
            // and stored 8 bytes at a time: no byte waits on the store of another.
            let before: [u8; 8] = out[op - 8..op].try_into().expect("8 bytes");
            // The period (the last `offset` bytes) as the low bytes, then repeated.
            let unit = u64::from_le_bytes(before) >> (64 - 8 * offset);
            let periodic = u128::from(unit).wrapping_mul(PERIOD_REPEAT[offset]);
            for (j, &phase) in PERIOD_PHASE[offset].iter().enumerate() {
                let chunk = (periodic >> (8 * phase)) as u64;
                out[op + 8 * j..op + 8 * j + 8].copy_from_slice(&chunk.to_le_bytes());
            }
        } else {
            copy_match(out, op, offset, mlen);
        }
    } else {
        // `op + 12 <= len` by the margins.
        if mlen > len - op - LAST_LITERALS {
            return Err(Lz4Error::MatchAtEnd { at: ip });
        }
        copy_match(out, op, offset, mlen);
    }
    Ok(Some((p, op + mlen)))
}

/// Writes `out[op..op + mlen]` as a copy of the bytes `offset` back (`1 <= offset <= op`,
/// `op + mlen <= out.len()`), byte by byte in effect: an offset shorter than the match repeats
/// its period. May also write up to 15 bytes past the match, which the next sequences rewrite.
/// Copies the `N` bytes `offset` back (`offset >= N`, so all written already) to `out[o..o + N]`
/// through a register.
#[inline(always)]
fn copy_chunk<const N: usize>(out: &mut [u8], o: usize, offset: usize) {
    let mut chunk = [0u8; N];
    chunk.copy_from_slice(&out[o - offset..o - offset + N]);
    out[o..o + N].copy_from_slice(&chunk);
}

#[inline(always)]
fn copy_match(out: &mut [u8], op: usize, offset: usize, mlen: usize) {
    let end = op + mlen;
    let room = out.len() - end >= WILD;
    let short = room && mlen <= WILD_MAX;
    if short && offset >= WILD {
        // Chunks of 16 bytes, each from `offset` back (written already, even when the match
        // overlaps itself), through a register: a fixed-size copy, not a `memmove` call.
        let mut o = op;
        while o < end {
            let mut chunk = [0u8; WILD];
            chunk.copy_from_slice(&out[o - offset..o - offset + WILD]);
            out[o..o + WILD].copy_from_slice(&chunk);
            o += WILD;
        }
    } else if short && offset >= WILD / 2 {
        // The same in chunks of 8 (each source chunk still ends before its destination).
        const HALF: usize = WILD / 2;
        let mut o = op;
        while o < end {
            let mut chunk = [0u8; HALF];
            chunk.copy_from_slice(&out[o - offset..o - offset + HALF]);
            out[o..o + HALF].copy_from_slice(&chunk);
            o += HALF;
        }
    } else if short && offset == 1 {
        // A run of one byte: chunks of 16 copies of it.
        let chunk = [out[op - 1]; WILD];
        let mut o = op;
        while o < end {
            out[o..o + WILD].copy_from_slice(&chunk);
            o += WILD;
        }
    } else if offset >= mlen {
        out.copy_within(op - offset..op - offset + mlen, op);
    } else if offset < WILD && op >= WILD && short {
        // A period of 1 to 15 bytes, in chunks of 16: the chunk's byte `i` is the byte
        // `offset - i % offset` back from the chunk's start, read one at a time (so no wide
        // load waits on the narrow stores just made) through a fixed table.
        let index = &PERIOD_INDEX[offset];
        let mut o = op;
        while o < end {
            let (before, after) = out.split_at_mut(o);
            // Always both: `o >= op >= 16` and `o + 16 <= end + 16 <= out.len()`.
            if let (Some(src), Some(dst)) =
                (before.last_chunk::<WILD>(), after.first_chunk_mut::<WILD>())
            {
                for (b, &k) in dst.iter_mut().zip(index) {
                    *b = src[usize::from(k) & (WILD - 1)];
                }
            }
            o += WILD;
        }
    } else {
        // Near either end of the block or a long match with a short period: `out[start..o]`
        // repeats with period `offset` and its length stays a multiple of it until the last
        // copy, so copying a prefix of it continues the repetition.
        let start = op - offset;
        let mut o = op;
        while o < end {
            let n = (o - start).min(end - o);
            out.copy_within(start..start + n, o);
            o += n;
        }
    }
}

/// Reads the 255-run continuation of a length whose nibble was 15: bytes of 255 each add 255,
/// the first byte below 255 adds itself and ends it.
fn read_length(input: &[u8], ip: &mut usize, what: &'static str) -> Result<usize, Lz4Error> {
    let start = *ip;
    let mut sum = 0usize;
    loop {
        let b = *input
            .get(*ip)
            .ok_or(Lz4Error::Truncated { what, at: start })?;
        *ip += 1;
        sum += usize::from(b);
        if b != 255 {
            return Ok(sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8], len: usize) -> Result<Vec<u8>, Lz4Error> {
        let mut out = vec![0xAA; 7];
        decompress_into(input, len, &mut out).map(|()| out)
    }

    #[test]
    fn literals_only_and_empty() {
        assert_eq!(decode(&[0x00], 0).unwrap(), b"");
        assert_eq!(decode(&[0x30, b'a', b'b', b'c'], 3).unwrap(), b"abc");
        // Declared length disagrees.
        assert_eq!(
            decode(&[0x30, b'a', b'b', b'c'], 4),
            Err(Lz4Error::TooShort {
                written: 3,
                declared: 4
            })
        );
        assert!(matches!(
            decode(&[0x30, b'a', b'b', b'c'], 2),
            Err(Lz4Error::TooLong { at: 0, .. })
        ));
        // No input at all, and literals cut short.
        assert!(matches!(decode(&[], 0), Err(Lz4Error::Truncated { .. })));
        assert!(matches!(
            decode(&[0x30, b'a'], 3),
            Err(Lz4Error::Truncated { at: 1, .. })
        ));
        // A long literal run: 15 + 255 + 10 = 280 bytes.
        let mut block = vec![0xF0, 255, 10];
        block.extend((0..280).map(|i| i as u8));
        assert_eq!(
            decode(&block, 280).unwrap(),
            (0..280).map(|i| i as u8).collect::<Vec<_>>()
        );
        // The same with its length's continuation cut off.
        assert!(matches!(
            decode(&[0xF0, 255], 280),
            Err(Lz4Error::Truncated {
                what: "literal length",
                at: 1
            })
        ));
    }

    fn put_length(b: &mut Vec<u8>, mut rest: usize) {
        while rest >= 255 {
            b.push(255);
            rest -= 255;
        }
        b.push(rest as u8);
    }

    /// Literals, then a match (offset, length), then final literals (fewer than 15).
    fn block(lits: &[u8], offset: u16, mlen: usize, last: &[u8]) -> Vec<u8> {
        let m = mlen - MIN_MATCH;
        let mut b = vec![((lits.len().min(15) as u8) << 4) | m.min(15) as u8];
        if lits.len() >= 15 {
            put_length(&mut b, lits.len() - 15);
        }
        b.extend_from_slice(lits);
        b.extend_from_slice(&offset.to_le_bytes());
        if m >= 15 {
            put_length(&mut b, m - 15);
        }
        b.push((last.len().min(15) as u8) << 4);
        if last.len() >= 15 {
            put_length(&mut b, last.len() - 15);
        }
        b.extend_from_slice(last);
        b
    }

    #[test]
    fn matches_of_every_period() {
        let lits: Vec<u8> = (0..40).map(|i| b'a' + i % 26).collect();
        for offset in 1..=40u16 {
            for mlen in [4, 5, 15, 16, 17, 18, 19, 31, 32, 33, 40, 64, 65, 300, 1000] {
                // Right after as few literals as the offset needs (the exact paths near the
                // start), and after 40 (the chunked paths).
                // 12 final literals (the exact paths near the end), 64 (the fixed copies of
                // the general loop) or 160 (the fast path, `fast_sequence`).
                let tails: [&[u8]; 3] = [b"ZZZZZZZZZZZZ", &[b'Y'; 64], &[b'X'; 160]];
                for (n_lits, last) in [offset as usize, 40]
                    .into_iter()
                    .flat_map(|n| tails.map(|t| (n, t)))
                {
                    let lits = &lits[..n_lits];
                    let b = block(lits, offset, mlen, last);
                    let mut want = lits.to_vec();
                    for _ in 0..mlen {
                        want.push(want[want.len() - offset as usize]);
                    }
                    want.extend_from_slice(last);
                    let got = decode(&b, want.len()).unwrap();
                    assert_eq!(got, want, "{offset} {mlen} {n_lits}");
                    assert_eq!(
                        lz4_flex::block::decompress(&b, want.len()).unwrap(),
                        want,
                        "lz4_flex agrees"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_offsets() {
        let b = block(b"abcd", 0, 4, b"ZZZZZZZZ");
        assert_eq!(decode(&b, 16), Err(Lz4Error::OffsetZero { at: 5 }));
        let b = block(b"abcd", 5, 4, b"ZZZZZZZZ");
        assert_eq!(
            decode(&b, 16),
            Err(Lz4Error::OffsetTooFar {
                at: 5,
                offset: 5,
                written: 4
            })
        );
        // The offset cut short.
        assert!(matches!(
            decode(&[0x40, b'a', b'b', b'c', b'd', 1], 16),
            Err(Lz4Error::Truncated {
                what: "match offset",
                at: 5
            })
        ));
    }

    #[test]
    fn end_of_block_rules() {
        // The shortest valid block with a match: 4 literals, a match of 4 at offset 4 starting
        // 12 bytes before the end, then 8 literals.
        let ok = block(b"abcd", 4, 4, b"ZZZZZZZZ");
        assert_eq!(decode(&ok, 16).unwrap(), b"abcdabcdZZZZZZZZ");
        // A match of 8 with 4 final literals: it ends within the last 5 bytes.
        let b = block(b"abcd", 4, 8, b"ZZZZ");
        assert_eq!(decode(&b, 16), Err(Lz4Error::MatchAtEnd { at: 0 }));
        // The match starts 11 bytes before the end.
        let b = block(b"abcd", 4, 4, b"ZZZZZZZ");
        assert_eq!(decode(&b, 15), Err(Lz4Error::MatchAtEnd { at: 0 }));
        // The block ends right after a match (no final literals).
        let mut b = block(b"abcd", 4, 4, b"");
        b.pop();
        assert!(matches!(
            decode(&b, 8),
            Err(Lz4Error::MatchAtEnd { .. } | Lz4Error::Truncated { .. })
        ));
        // A match running past the declared length.
        let b = block(b"abcdabcdabcd", 4, 100, b"ZZZZZ");
        assert!(matches!(decode(&b, 30), Err(Lz4Error::MatchAtEnd { .. })));
    }

    #[test]
    fn reuses_a_buffer_that_fits() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let c = lz4_flex::block::compress(&data);
        let mut out = Vec::with_capacity(6000);
        out.extend_from_slice(&[1, 2, 3]);
        let ptr = out.as_ptr();
        decompress_into(&c, data.len(), &mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(out.as_ptr(), ptr);
        assert_eq!(out.capacity(), 6000);
    }
}
