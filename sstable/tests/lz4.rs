//! Our lz4 block decoder (`src/lz4.rs`, reached through `format::decompress_reusing`) against
//! `lz4_flex` and against a plain byte-at-a-time model decoder written here: everything
//! `lz4_flex::block::compress` writes decodes back exactly; hand-built blocks of every shape
//! decode as the model says; random garbage and mutated valid blocks never panic, and whatever
//! we accept, `lz4_flex` accepts with the same output. Cases per property:
//! `SSTABLE_LZ4_CASES` (default 512).

use proptest::prelude::*;
use sstable::format::{decompress_reusing, COMPRESSION_LZ4};

/// Cases per property: `SSTABLE_LZ4_CASES`, default 512 (a fraction of a second).
fn cases() -> u32 {
    std::env::var("SSTABLE_LZ4_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512)
}

/// Decodes `body` declared as `len` bytes through the table reader's entry point, into a
/// spare buffer full of junk (so that stale bytes would show).
fn ours(body: &[u8], len: usize, spare_len: usize) -> Option<Vec<u8>> {
    let mut stored = (len as u32).to_le_bytes().to_vec();
    stored.extend_from_slice(body);
    decompress_reusing(&stored, COMPRESSION_LZ4, vec![0x5A; spare_len]).ok()
}

/// `lz4_flex`'s answer when asked for exactly `len` bytes.
fn theirs(body: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    match lz4_flex::block::decompress_into(body, &mut out) {
        Ok(n) if n == len => Some(out),
        _ => None,
    }
}

/// The obvious decoder: the LZ4 block format with the reference decoder's end-of-block rules
/// (a match starts 12 or more bytes before the end and ends 5 or more before it), one byte at a
/// time.
fn model(body: &[u8], len: usize) -> Option<Vec<u8>> {
    fn length(body: &[u8], ip: &mut usize) -> Option<usize> {
        let mut n = 0;
        loop {
            let b = *body.get(*ip)?;
            *ip += 1;
            n += b as usize;
            if b != 255 {
                return Some(n);
            }
        }
    }
    let mut out = Vec::new();
    let mut ip = 0;
    loop {
        let token = *body.get(ip)?;
        ip += 1;
        let mut lit = (token >> 4) as usize;
        if lit == 15 {
            lit += length(body, &mut ip)?;
        }
        for _ in 0..lit {
            out.push(*body.get(ip)?);
            ip += 1;
        }
        if out.len() > len {
            return None;
        }
        if ip == body.len() {
            return (out.len() == len).then_some(out);
        }
        if out.len() + 12 > len {
            return None;
        }
        let offset = u16::from_le_bytes([*body.get(ip)?, *body.get(ip + 1)?]) as usize;
        ip += 2;
        if offset == 0 || offset > out.len() {
            return None;
        }
        let mut mlen = (token & 15) as usize;
        if mlen == 15 {
            mlen += length(body, &mut ip)?;
        }
        mlen += 4;
        if out.len() + mlen + 5 > len {
            return None;
        }
        for _ in 0..mlen {
            out.push(out[out.len() - offset]);
        }
    }
}

/// Writes a length's 255-run continuation.
fn put_length(b: &mut Vec<u8>, mut rest: usize) {
    while rest >= 255 {
        b.push(255);
        rest -= 255;
    }
    b.push(rest as u8);
}

/// One sequence: literals, match offset, match length.
type Sequence = (Vec<u8>, u16, usize);

/// Encodes sequences and final literals as one block.
fn encode(seqs: &[Sequence], last: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for (lits, offset, mlen) in seqs {
        let m = mlen - 4;
        b.push(((lits.len().min(15) as u8) << 4) | m.min(15) as u8);
        if lits.len() >= 15 {
            put_length(&mut b, lits.len() - 15);
        }
        b.extend_from_slice(lits);
        b.extend_from_slice(&offset.to_le_bytes());
        if m >= 15 {
            put_length(&mut b, m - 15);
        }
    }
    b.push((last.len().min(15) as u8) << 4);
    if last.len() >= 15 {
        put_length(&mut b, last.len() - 15);
    }
    b.extend_from_slice(last);
    b
}

/// Data lz4 finds matches in: runs of random bytes and runs of one byte (like the benchmark's
/// values), and copies of earlier stretches at short and long distances.
fn compressible() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..40).prop_map(|v| (0u8, v, 0usize, 0usize)),
        (any::<u8>(), 1usize..300).prop_map(|(b, n)| (1u8, vec![b; n], 0, 0)),
        (1usize..70_000, 4usize..200).prop_map(|(back, n)| (2u8, vec![], back, n)),
    ];
    prop::collection::vec(piece, 0..120).prop_map(|pieces| {
        let mut out: Vec<u8> = Vec::new();
        for (kind, bytes, back, n) in pieces {
            if kind == 2 && !out.is_empty() {
                let start = out.len().saturating_sub(back);
                for i in 0..n {
                    out.push(out[start + i % (out.len() - start).max(1)]);
                }
            } else {
                out.extend_from_slice(&bytes);
            }
        }
        out
    })
}

/// Hand-built sequences: any literal count, offsets that are valid or a little beyond the
/// output, lengths small and large.
fn sequences() -> impl Strategy<Value = (Vec<Sequence>, Vec<u8>)> {
    let seq = (
        prop::collection::vec(any::<u8>(), 0..40),
        prop_oneof![
            6 => any::<prop::sample::Index>().prop_map(Offset::Within),
            1 => any::<u16>().prop_map(Offset::Raw),
        ],
        prop_oneof![4usize..24, 4usize..600],
    );
    (
        prop::collection::vec(seq, 0..12),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..12),
            prop::collection::vec(any::<u8>(), 12..40),
        ],
    )
        .prop_map(|(seqs, last)| {
            let mut written = 0;
            let seqs = seqs
                .into_iter()
                .map(|(lits, offset, mlen)| {
                    written += lits.len();
                    let offset = match offset {
                        Offset::Within(i) if written > 0 => 1 + i.index(written.min(65_535)) as u16,
                        Offset::Within(_) => 1,
                        Offset::Raw(o) => o,
                    };
                    written += mlen;
                    (lits, offset, mlen)
                })
                .collect();
            (seqs, last)
        })
}

/// A match offset: mostly one within the output written so far, sometimes any u16.
#[derive(Debug, Clone)]
enum Offset {
    Within(prop::sample::Index),
    Raw(u16),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn roundtrip_random(data in prop::collection::vec(any::<u8>(), 0..5000), spare in 0usize..6000) {
        let c = lz4_flex::block::compress(&data);
        prop_assert_eq!(ours(&c, data.len(), spare), Some(data));
    }

    #[test]
    fn roundtrip_compressible(data in compressible(), spare in 0usize..20_000) {
        let c = lz4_flex::block::compress(&data);
        let got = ours(&c, data.len(), spare);
        prop_assert_eq!(got.as_ref(), Some(&data));
        prop_assert_eq!(model(&c, data.len()), Some(data));
    }

    #[test]
    fn hand_built_blocks_decode_as_the_model_says(
        (seqs, last) in sequences(),
        len_delta in prop_oneof![Just(0i64), -20i64..20],
    ) {
        let block = encode(&seqs, &last);
        // The length the sequences would produce if valid, nudged sometimes.
        let produced: usize = seqs.iter().map(|(l, _, m)| l.len() + m).sum::<usize>() + last.len();
        let len = (produced as i64 + len_delta).max(0) as usize;
        let got = ours(&block, len, 100);
        prop_assert_eq!(&got, &model(&block, len));
        if let Some(out) = got {
            prop_assert_eq!(theirs(&block, len), Some(out));
        }
    }

    #[test]
    fn garbage_never_panics(body in prop::collection::vec(any::<u8>(), 0..300), len in 0usize..2000) {
        let got = ours(&body, len, 64);
        prop_assert_eq!(&got, &model(&body, len));
        if let Some(out) = got {
            prop_assert_eq!(theirs(&body, len), Some(out));
        }
    }

    #[test]
    fn mutated_blocks_never_panic(
        data in compressible(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
        len_delta in prop_oneof![Just(0i64), -3i64..3],
    ) {
        let mut c = lz4_flex::block::compress(&data);
        for (at, b) in edits {
            let i = at.index(c.len());
            c[i] = b;
        }
        if let Some(cut) = cut {
            c.truncate(cut.index(c.len() + 1));
        }
        let len = (data.len() as i64 + len_delta).max(0) as usize;
        let got = ours(&c, len, 4096);
        prop_assert_eq!(&got, &model(&c, len));
        if let Some(out) = got {
            prop_assert_eq!(theirs(&c, len), Some(out));
        }
    }
}

/// Blocks written by the table builder's own settings (4 KiB of entries with the benchmark's
/// kind of values) decode the same as with `lz4_flex`.
#[test]
fn table_like_blocks_match_lz4_flex() {
    let mut rng = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..50 {
        let mut block = Vec::new();
        while block.len() < 4096 {
            block.extend_from_slice(format!("{:016}", next() % 1_000_000).as_bytes());
            block.extend_from_slice(&next().to_le_bytes());
            while block.len() % 128 != 0 {
                let run = 1 + (next() % 32) as usize;
                if next() % 2 == 0 {
                    block.extend((0..run).map(|_| next() as u8));
                } else {
                    block.extend(std::iter::repeat_n(b'a' + (next() % 26) as u8, run));
                }
            }
        }
        let c = lz4_flex::block::compress(&block);
        assert_eq!(ours(&c, block.len(), 4200).as_ref(), Some(&block));
        assert_eq!(theirs(&c, block.len()), Some(block));
    }
}
