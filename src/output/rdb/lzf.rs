//! LZF compression as liblzf's `lzf_compress` (the format Redis writes for
//! strings over 20 bytes): literal runs of up to 32 bytes, back-references of
//! 3 to 264 bytes within 8 KiB, found through a hash of the next 3 bytes.
//! Written here because compression is core to writing RDB files and must
//! never panic, whatever the input.

const HASH_LOG: u32 = 14;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

fn hash(b: &[u8], i: usize, log: u32) -> usize {
    let v = (u32::from(b[i]) << 16) | (u32::from(b[i + 1]) << 8) | u32::from(b[i + 2]);
    (v.wrapping_mul(0x9E37_79B1) >> (32 - log)) as usize
}

/// Compress `input`; `None` when the result would not fit in `max_out` bytes
/// (Redis gives `len - 4`: compression that saves less is not worth it).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(max_out.min(n + n / 32 + 1));
    // A table in proportion to the input: most strings are short, and a
    // zeroed 16 Ki-entry table per call would cost more than compressing them.
    let log = (n.next_power_of_two().trailing_zeros()).clamp(6, HASH_LOG);
    let mut table = vec![0u32; 1 << log];
    let mut lit_start = 0usize; // start of the pending literal run
    let mut i = 0usize;

    // Flush literals [lit_start, end) in runs of at most MAX_LIT.
    let flush = |out: &mut Vec<u8>, from: usize, to: usize| -> bool {
        let mut s = from;
        while s < to {
            let run = (to - s).min(MAX_LIT);
            if out.len() + 1 + run > max_out {
                return false;
            }
            out.push((run - 1) as u8);
            out.extend_from_slice(&input[s..s + run]);
            s += run;
        }
        true
    };

    while i + 2 < n {
        let h = hash(input, i, log);
        let cand = table[h] as usize;
        table[h] = (i + 1) as u32; // position + 1, so that 0 means "empty"
        if cand > 0 {
            let r = cand - 1;
            let off = i - r;
            if off > 0 && off <= MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let max_len = (n - i).min(MAX_REF);
                let mut len = 3;
                while len < max_len && input[r + len] == input[i + len] {
                    len += 1;
                }
                if !flush(&mut out, lit_start, i) {
                    return None;
                }
                let l = len - 2; // encoded length
                let o = off - 1;
                let need = if l < 7 { 2 } else { 3 };
                if out.len() + need > max_out {
                    return None;
                }
                if l < 7 {
                    out.push(((o >> 8) as u8) | ((l as u8) << 5));
                } else {
                    out.push(((o >> 8) as u8) | (7 << 5));
                    out.push((l - 7) as u8);
                }
                out.push(o as u8);
                // Index the positions inside the match for later references.
                let end = i + len;
                let mut k = i + 1;
                while k < end && k + 2 < n {
                    table[hash(input, k, log)] = (k + 1) as u32;
                    k += 1;
                }
                i = end;
                lit_start = i;
                continue;
            }
        }
        i += 1;
    }
    if !flush(&mut out, lit_start, n) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        if let Some(c) = compress(data, data.len() + data.len() / 16 + 64) {
            let mut back = Vec::new();
            crate::token::lzf::decompress_into(&c, data.len(), &mut back).expect("our decoder reads it");
            assert_eq!(back, data);
            let other = lzf::decompress(&c, data.len()).expect("the lzf crate reads it");
            assert_eq!(other, data);
        }
    }

    #[test]
    fn reads_back_with_both_decoders() {
        round_trip(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        round_trip(b"abcabcabcabcabcabcabcabcabcabc the quick brown fox abcabcabc");
        round_trip(&(0..5000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        round_trip(&(0..70000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>());
        round_trip(&[b'x'; 100_000]);
        // A pseudo-random sweep of short inputs of a small alphabet.
        let mut x = 0x1234_5678u32;
        for len in 0..600 {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    b'a' + (x % 4) as u8
                })
                .collect();
            round_trip(&v);
        }
    }

    #[test]
    fn refuses_to_grow_past_the_limit() {
        let mut x = 0x9E37_79B9u32;
        let noise: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
        assert!(compress(&[b'a'; 100], 96).is_some_and(|c| c.len() <= 96));
    }
}
