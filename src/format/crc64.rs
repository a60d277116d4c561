//! Where the damage behind an RDB checksum mismatch lies.
//!
//! Redis's CRC-64 (crc64.c, "Jones": polynomial 0xad93d23594c935a9, bits
//! reflected, initial value 0, no final xor) is linear: the checksum of a
//! damaged file is the intact file's checksum xor the checksum of the error
//! pattern alone. So the *syndrome* (computed xor stored) is the checksum of
//! the error, and an error confined to one byte at offset `b`, xor `e`, has
//! syndrome `c(e) · x^(8·(L−1−b))`: the one-byte checksum of `e`, carried
//! through the `L−1−b` zero bytes after it. Multiplying by `x^8` is the table
//! step of a zero byte, and it can be undone (the table's top bytes are a
//! permutation), so walking the syndrome back one byte at a time from the end
//! meets `c(e)` exactly at the damaged byte. One pass over the length, no
//! pass over the data: every single-byte (hence every single-bit) error that
//! explains the syndrome is found, each position once.
//!
//! The checksum is used for speed elsewhere (`crc_fast`); this module needs
//! its table and the field arithmetic, written here because no crate offers
//! the inverse step.

/// The polynomial, bit-reflected as the table-driven form uses it.
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

/// `TABLE[i]`: the checksum state after the byte `i` from state 0.
static TABLE: [u64; 256] = table();

/// `TOP[b]`: the index whose table entry's top byte is `b` (the top bytes of
/// the entries are all different for this polynomial, which a test checks).
static TOP: [u8; 256] = top_index();

const fn table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut v = i as u64;
        let mut k = 0;
        while k < 8 {
            v = if v & 1 == 1 { (v >> 1) ^ POLY } else { v >> 1 };
            k += 1;
        }
        t[i] = v;
        i += 1;
    }
    t
}

const fn top_index() -> [u8; 256] {
    let t = table();
    let mut top = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        top[(t[i] >> 56) as usize] = i as u8;
        i += 1;
    }
    top
}

/// Redis's CRC-64 of `data`, bytewise (the slow reference: tests, and the
/// few bytes a candidate check needs).
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0u64, |s, &b| TABLE[((s ^ u64::from(b)) & 0xff) as usize] ^ (s >> 8))
}

/// The state after one more zero byte: the field element times `x^8`.
fn times_x8(s: u64) -> u64 {
    TABLE[(s & 0xff) as usize] ^ (s >> 8)
}

/// The inverse of [`times_x8`]: the element times `x^-8`.
fn over_x8(s: u64) -> u64 {
    let i = TOP[(s >> 56) as usize];
    ((s ^ TABLE[usize::from(i)]) << 8) | u64::from(i)
}

/// The field element 1 in the reflected form (bit `j` stands for `x^(63−j)`).
const ONE: u64 = 1 << 63;

/// The product of two field elements (Horner's rule over `b`'s coefficients,
/// from `x^63` down).
fn mul(a: u64, b: u64) -> u64 {
    let mut r = 0u64;
    for j in 0..64 {
        r = if r & 1 == 1 { (r >> 1) ^ POLY } else { r >> 1 };
        if (b >> j) & 1 == 1 {
            r ^= a;
        }
    }
    r
}

fn pow(mut base: u64, mut n: u64) -> u64 {
    let mut r = ONE;
    while n > 0 {
        if n & 1 == 1 {
            r = mul(r, base);
        }
        base = mul(base, base);
        n >>= 1;
    }
    r
}

/// A change to one byte that would explain a checksum mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteFix {
    /// Offset of the byte in the checksummed data.
    pub offset: u64,
    /// What to xor it with to restore it (one bit set: a single-bit error).
    pub xor: u8,
}

/// Every single-byte change within `len` bytes of checksummed data that
/// gives `syndrome` (computed checksum xor stored one), in offset order.
/// The walk runs in chunks on all cores, several independent chains per
/// chunk (each step waits on two table loads).
pub fn locate_byte_errors(len: u64, syndrome: u64) -> Vec<ByteFix> {
    use rayon::prelude::*;
    if syndrome == 0 || len == 0 {
        return Vec::new();
    }
    const CHAINS: u64 = 8;
    const CHUNK: u64 = 64 << 20;
    let step = over_x8(ONE);
    let chunks = len.div_ceil(CHUNK);
    let mut found: Vec<ByteFix> = (0..chunks)
        .into_par_iter()
        .flat_map_iter(|c| {
            // q counts bytes back from the end: the byte at offset L−1−q.
            let (q0, q1) = (c * CHUNK, ((c + 1) * CHUNK).min(len));
            let per = (q1 - q0).div_ceil(CHAINS);
            let mut states = [0u64; CHAINS as usize];
            let mut starts = [0u64; CHAINS as usize];
            for k in 0..CHAINS {
                starts[k as usize] = (q0 + k * per).min(q1);
                states[k as usize] = mul(syndrome, pow(step, starts[k as usize]));
            }
            let mut hits = Vec::new();
            for i in 0..per {
                for k in 0..CHAINS as usize {
                    let q = starts[k] + i;
                    let end = if k + 1 < CHAINS as usize { starts[k + 1] } else { q1 };
                    if q >= end {
                        continue;
                    }
                    let t = states[k];
                    let e = TOP[(t >> 56) as usize];
                    if TABLE[usize::from(e)] == t {
                        hits.push(ByteFix { offset: len - 1 - q, xor: e });
                    }
                    states[k] = over_x8(t);
                }
            }
            hits
        })
        .collect();
    found.sort_unstable();
    found
}

/// The stored checksum's own byte that a mismatch would come from, when
/// the syndrome is confined to one byte: `(byte index 0..8, xor)`.
pub fn stored_byte_error(syndrome: u64) -> Option<(u8, u8)> {
    let bytes = syndrome.to_le_bytes();
    let mut nonzero = bytes.iter().enumerate().filter(|(_, &b)| b != 0);
    let (i, &b) = nonzero.next()?;
    nonzero.next().is_none().then_some((i as u8, b))
}

/// The checksum of `data` with one byte changed, from the checksum of the
/// unchanged data: linear, so only the change is carried to the end.
pub fn checksum_with_fix(crc: u64, len: u64, fix: ByteFix) -> u64 {
    let tail = len - 1 - fix.offset;
    crc ^ mul(TABLE[usize::from(fix.xor)], pow(times_x8(ONE), tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis_crc(data: &[u8]) -> u64 {
        crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Redis, data)
    }

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    #[test]
    fn the_table_is_redis_crc64_and_its_top_bytes_are_a_permutation() {
        // crc64.c's own test vector.
        assert_eq!(checksum(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        let data = noise(4099, 7);
        assert_eq!(checksum(&data), redis_crc(&data));
        let mut tops: Vec<u8> = TABLE.iter().map(|t| (t >> 56) as u8).collect();
        tops.sort_unstable();
        tops.dedup();
        assert_eq!(tops.len(), 256);
        for s in [1u64, ONE, 0xdead_beef_0123_4567, u64::MAX] {
            assert_eq!(over_x8(times_x8(s)), s);
            assert_eq!(times_x8(s), mul(s, times_x8(ONE)));
        }
    }

    #[test]
    fn every_flipped_bit_and_changed_byte_is_found_where_it_is() {
        let data = noise(20_000, 99);
        let crc = redis_crc(&data);
        let mut seed = 12345u64;
        for round in 0..200 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let offset = (seed >> 33) as usize % data.len();
            let xor = if round % 2 == 0 { 1u8 << ((seed >> 20) % 8) } else { ((seed >> 8) as u8).max(1) };
            let mut damaged = data.clone();
            damaged[offset] ^= xor;
            let syndrome = redis_crc(&damaged) ^ crc;
            let found = locate_byte_errors(damaged.len() as u64, syndrome);
            assert_eq!(found, vec![ByteFix { offset: offset as u64, xor }], "round {round}");
            assert_eq!(checksum_with_fix(redis_crc(&damaged), damaged.len() as u64, found[0]), crc);
        }
    }

    #[test]
    fn chunks_and_chains_cover_every_offset_of_a_long_input() {
        // Offsets at the chunk and chain edges of a 130 MiB length (no data
        // needed: the syndrome alone locates).
        let len = 130u64 << 20;
        for offset in [0, 1, len / 2, (64 << 20) - 1, 64 << 20, len - (64 << 20) / 8, len - 2, len - 1] {
            let fix = ByteFix { offset, xor: 0x10 };
            let syndrome = checksum_with_fix(0, len, fix);
            assert_eq!(locate_byte_errors(len, syndrome), vec![fix]);
        }
    }

    #[test]
    fn a_damaged_stored_checksum_is_one_byte_of_syndrome() {
        assert_eq!(stored_byte_error(0x0000_0000_0040_0000), Some((2, 0x40)));
        assert_eq!(stored_byte_error(0x0100_0000_0040_0000), None);
        assert_eq!(stored_byte_error(0), None);
    }
}
