//! HyperLogLog string values as Redis 7.0 stores them (src/hyperloglog.c), so
//! that replaying PFADD / PFMERGE / PFCOUNT gives the server's exact bytes.
//!
//! A HyperLogLog is a plain string: a 16-byte header ("HYLL", the encoding
//! byte, 3 unused bytes, the cached cardinality as 8 little-endian bytes whose
//! top bit means "stale") followed by 16384 6-bit registers, either *dense*
//! (packed, 12288 bytes) or *sparse* (run-length opcodes ZERO / XZERO / VAL).
//! Keys start sparse and are promoted to dense when a register exceeds 32 or
//! the string would grow past `hll-sparse-max-bytes` (assumed to be the
//! default, [`SPARSE_MAX_BYTES`]).
//!
//! The sparse editing below follows the server step by step (same opcode
//! splits, same limited merge of neighbouring VAL opcodes), because the
//! sparse bytes depend on the order of the edits, not only on the registers.
//!
//! PFCOUNT of several keys changes no value and is not modelled.
//!
//! Version notes (from the redis sources up to late 2024):
//! - 7.2 preallocates sparse strings greedily but promotes at the same
//!   length, so the bytes are 7.0's; 7.2 to 8.0 otherwise only move PFADD's
//!   cache invalidation and count zeros with ctz: same values for PFADD,
//!   PFMERGE and PFCOUNT.
//! - PFMERGE writes a sparse result unless the destination or a source is
//!   dense (or the result outgrows the sparse limit), in 7.0 through 8.0. A
//!   SIMD rewrite (a branch then, meant for 8.x) fills a dense result by
//!   storing every register of the merged maximum instead of raising them;
//!   the maximum includes the destination, so the bytes are the same.
//! - The CVE-2025-32023 fix (7.2.10, 7.4.5, 8.0.3, and Debian's 7.0.15)
//!   rejects any sparse string whose runs go past the last register; the
//!   original 7.0.15 still took stray VAL opcodes after it when converting or
//!   merging. This module does what the fixed server does.

/// Bytes of the header before the registers.
const HDR: usize = 16;
/// Number of registers (P = 14).
const REGISTERS: usize = 1 << 14;
/// Length of a dense HyperLogLog string.
const DENSE_SIZE: usize = HDR + REGISTERS * 6 / 8;
const ENC_DENSE: u8 = 0;
const ENC_SPARSE: u8 = 1;
/// Largest register value a sparse VAL opcode can hold.
const SPARSE_VAL_MAX: u8 = 32;
/// Longest run of a VAL opcode.
const SPARSE_VAL_MAX_LEN: usize = 4;
/// Longest run of a ZERO opcode (longer runs use XZERO).
const SPARSE_ZERO_MAX_LEN: usize = 64;

/// The server's default `hll-sparse-max-bytes`.
pub const SPARSE_MAX_BYTES: usize = 3000;

/// Reply for a string that is not a HyperLogLog.
pub const ERR_NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// Reply for a sparse HyperLogLog whose opcodes are damaged.
pub const ERR_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// PFADD key [element ...]: `current` is the key's string value if the key
/// exists (the caller checks it holds a string). Returns the new value and
/// whether the command changed anything (Redis replies 1; a new key always
/// counts as a change, even without elements).
///
/// On error the value must be left as it was: the server may have changed
/// some registers before hitting the damage, but it does not propagate a
/// failed PFADD, so an AOF never replays it.
pub fn pfadd(current: Option<&[u8]>, elements: &[&[u8]]) -> Result<(Vec<u8>, bool), String> {
    let (mut v, mut updated) = match current {
        None => (new_sparse(), true),
        Some(cur) => {
            check_hll(cur)?;
            (cur.to_vec(), false)
        }
    };
    let mut past_end = 0;
    for ele in elements {
        let (index, count) = pattern_len(ele);
        let changed = if v[4] == ENC_DENSE {
            dense_raise(&mut v[HDR..], index, count)
        } else {
            sparse_set(&mut v, &mut past_end, index, count, SPARSE_MAX_BYTES)
                .map_err(|Corrupt| ERR_CORRUPT.to_string())?
        };
        updated |= changed;
    }
    if updated {
        invalidate_cache(&mut v);
    }
    Ok((v, updated))
}

/// PFMERGE destkey [sourcekey ...]: `dest` is the destination's value if it
/// exists, `sources` the values of the source keys that exist, in command
/// order (a source equal to the destination may be included or not: merging
/// is idempotent). Returns the destination's new value; its cache is always
/// invalidated, even if no register changed.
pub fn pfmerge(dest: Option<&[u8]>, sources: &[&[u8]]) -> Result<Vec<u8>, String> {
    // The server walks the destination first (it is argv[1] of the key list),
    // checking and merging each key in turn, so errors come in that order.
    let mut max = vec![0u8; REGISTERS];
    let mut use_dense = false;
    for v in dest.into_iter().chain(sources.iter().copied()) {
        check_hll(v)?;
        use_dense |= v[4] == ENC_DENSE;
        merge_max(&mut max, v).map_err(|Corrupt| ERR_CORRUPT.to_string())?;
    }

    let mut out = dest.map_or_else(new_sparse, <[u8]>::to_vec);
    if use_dense && out[4] == ENC_SPARSE {
        out = sparse_to_dense(&out, 0).map_err(|Corrupt| ERR_CORRUPT.to_string())?;
    }
    let mut past_end = 0;
    for (index, &count) in max.iter().enumerate() {
        if count == 0 {
            continue;
        }
        // The encoding is re-read each time: a sparse destination may be
        // promoted half way through.
        if out[4] == ENC_DENSE {
            dense_raise(&mut out[HDR..], index, count);
        } else {
            // Cannot fail: the destination was validated by merge_max; the
            // server ignores the result here too.
            let _ = sparse_set(&mut out, &mut past_end, index, count, SPARSE_MAX_BYTES);
        }
    }
    invalidate_cache(&mut out);
    Ok(out)
}

/// PFCOUNT key (a single existing key): returns the value after the command
/// and the cardinality. A valid cache is returned as is and the value is
/// unchanged; otherwise the estimate is computed and written into the cache.
/// (The server replies the count as a signed integer: a damaged dense value
/// can make it 2^63, replied as -9223372036854775808.)
pub fn pfcount(value: &[u8]) -> Result<(Vec<u8>, u64), String> {
    check_hll(value)?;
    let card = u64::from_le_bytes(value[8..HDR].try_into().unwrap_or([0; 8]));
    if value[15] & 0x80 == 0 {
        return Ok((value.to_vec(), card));
    }
    let hist = histogram(value).map_err(|Corrupt| ERR_CORRUPT.to_string())?;
    let card = estimate(&hist);
    let mut v = value.to_vec();
    v[8..HDR].copy_from_slice(&card.to_le_bytes());
    Ok((v, card))
}

/// A sparse HyperLogLog whose opcodes do not describe exactly 16384 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Corrupt;

/// isHLLObjectOrReply: the header checks the server does before any command.
/// Sparse opcodes are only validated when they are walked.
fn check_hll(v: &[u8]) -> Result<(), String> {
    let ok = v.len() >= HDR && &v[..4] == b"HYLL" && v[4] <= ENC_SPARSE && (v[4] != ENC_DENSE || v.len() == DENSE_SIZE);
    if ok {
        Ok(())
    } else {
        Err(ERR_NOT_HLL.to_string())
    }
}

/// An empty sparse HyperLogLog: one XZERO covering all registers, cache
/// valid with cardinality 0.
fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(ENC_SPARSE);
    v.resize(HDR, 0);
    push_zero_run(&mut v, REGISTERS);
    v
}

/// Sets the "stale" bit, keeping the old cardinality bytes.
fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// MurmurHash64A as Redis uses it: 8-byte blocks read little-endian on every
/// platform, and the length is mixed in as a 64-bit value.
fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element maps to (low 14 hash bits) and the length of the
/// "000..1" pattern in the remaining bits (1..=51).
fn pattern_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash as usize) & (REGISTERS - 1);
    // The sentinel bit caps the count at 64 - 14 + 1.
    let rest = (hash >> 14) | (1u64 << 50);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---- dense registers: 6 bits each, packed from the LSB of each byte ----

/// Reads register `i` from the packed register bytes. The byte after the
/// last register is the string's terminator in the server, so it reads as 0.
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let b0 = u32::from(regs.get(byte).copied().unwrap_or(0));
    let b1 = u32::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> shift) | (b1 << (8 - shift))) & 63) as u8
}

fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let val = u32::from(val);
    if let Some(b) = regs.get_mut(byte) {
        *b = ((u32::from(*b) & !(63 << shift)) | (val << shift)) as u8;
    }
    // Only the last register reaches past the array, and then it puts no
    // bits there (shift is 2).
    if let Some(b) = regs.get_mut(byte + 1) {
        *b = ((u32::from(*b) & !(63 >> (8 - shift))) | (val >> (8 - shift))) as u8;
    }
}

/// hllDenseSet: raises register `i` to `count`; true if it changed.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

// ---- sparse opcodes ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// 00xxxxxx: 1..=64 zero registers.
    Zero(usize),
    /// 01xxxxxx yyyyyyyy: 1..=16384 zero registers.
    XZero(usize),
    /// 1vvvvvxx: 1..=4 registers set to 1..=32.
    Val(u8, usize),
}

impl Op {
    fn run(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
    fn width(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            _ => 1,
        }
    }
}

/// Decodes the opcode at `p` (< v.len()). An XZERO cut short by the end of the
/// string reads its second byte from `past_end`, the byte the server keeps
/// after the string: its 0 terminator, except after an edit described in
/// [`sparse_set`].
fn op_at(v: &[u8], past_end: u8, p: usize) -> Op {
    let b = v[p];
    if b & 0xc0 == 0 {
        Op::Zero(usize::from(b & 0x3f) + 1)
    } else if b & 0x80 != 0 {
        Op::Val(((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1)
    } else {
        let lo = v.get(p + 1).copied().unwrap_or(past_end);
        Op::XZero(((usize::from(b & 0x3f) << 8) | usize::from(lo)) + 1)
    }
}

fn val_byte(value: u8, run: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (run as u8 - 1)
}

/// Appends a zero run of 1..=16384 registers: ZERO up to 64, XZERO above.
fn push_zero_run(out: &mut Vec<u8>, run: usize) {
    if run > SPARSE_ZERO_MAX_LEN {
        let l = run - 1;
        out.push(0x40 | (l >> 8) as u8);
        out.push((l & 0xff) as u8);
    } else {
        out.push((run - 1) as u8);
    }
}

/// Walks the sparse opcodes, calling `f(first_register, op)` for each, and
/// checks they cover exactly the 16384 registers (with the CVE-2025-32023
/// fix, a run going past the end is an error, not something to skip).
fn walk_sparse(v: &[u8], past_end: u8, mut f: impl FnMut(usize, Op)) -> Result<(), Corrupt> {
    let mut p = HDR;
    let mut idx = 0usize;
    while p < v.len() {
        let op = op_at(v, past_end, p);
        if idx + op.run() > REGISTERS {
            return Err(Corrupt);
        }
        f(idx, op);
        idx += op.run();
        p += op.width();
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// hllSparseToDense: the same header (cache included) with dense registers.
fn sparse_to_dense(v: &[u8], past_end: u8) -> Result<Vec<u8>, Corrupt> {
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&v[..HDR]);
    dense[4] = ENC_DENSE;
    let regs = &mut dense[HDR..];
    walk_sparse(v, past_end, |first, op| {
        if let Op::Val(val, run) = op {
            for i in first..first + run {
                dense_put(regs, i, val);
            }
        }
    })?;
    Ok(dense)
}

/// hllMerge: max[i] = max(max[i], register i) for a checked HyperLogLog.
fn merge_max(max: &mut [u8], v: &[u8]) -> Result<(), Corrupt> {
    if v[4] == ENC_DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&v[HDR..], i));
        }
        Ok(())
    } else {
        walk_sparse(v, 0, |first, op| {
            if let Op::Val(val, run) = op {
                for m in &mut max[first..first + run] {
                    *m = (*m).max(val);
                }
            }
        })
    }
}

/// How many registers hold each value 0..=63.
fn histogram(v: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut hist = [0u32; 64];
    if v[4] == ENC_DENSE {
        for i in 0..REGISTERS {
            hist[usize::from(dense_get(&v[HDR..], i))] += 1;
        }
    } else {
        walk_sparse(v, 0, |_, op| match op {
            Op::Zero(n) | Op::XZero(n) => hist[0] += n as u32,
            Op::Val(val, n) => hist[usize::from(val)] += n as u32,
        })?;
    }
    Ok(hist)
}

/// hllSparseSet: raises register `index` to `count` in a sparse value,
/// editing the opcodes in place exactly like the server (split the opcode
/// covering the register, then merge equal VAL neighbours), or promoting to
/// dense when the value does not fit a VAL opcode or the string would pass
/// `max_bytes`. Returns whether the register changed. On error `v` is
/// unchanged.
///
/// `past_end` tracks the byte after the string (see [`op_at`]), which only
/// matters for a damaged value ending in half an XZERO: splitting that opcode
/// grows the string by less than the new opcodes' size, and the server's
/// copy of them overwrites its terminator with their last byte, which the
/// next walk then reads as the XZERO's second byte.
fn sparse_set(v: &mut Vec<u8>, past_end: &mut u8, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX {
        return promote(v, *past_end, index, count);
    }

    // Step 1: find the opcode covering `index`, and the one before it.
    let end = v.len();
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev = None;
    let op = loop {
        if p >= end {
            // Registers short of `index`: the server reports corruption.
            return Err(Corrupt);
        }
        let op = op_at(v, *past_end, p);
        if index < first + op.run() {
            break op;
        }
        prev = Some(p);
        p += op.width();
        first += op.run();
    };

    // Step 2: the cheap cases rewrite one byte.
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            v[p] = val_byte(count, 1);
            merge_vals(v, past_end, prev.unwrap_or(HDR));
            invalidate_cache(v);
            return Ok(true);
        }
        _ => {}
    }

    // Otherwise split the opcode into up to three: the registers before
    // `index`, `index` itself, the registers after it.
    let last = first + op.run() - 1;
    let mut seq = Vec::with_capacity(5);
    match op {
        Op::Val(cur, _) => {
            if index != first {
                seq.push(val_byte(cur, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(cur, last - index));
            }
        }
        Op::Zero(_) | Op::XZero(_) => {
            if index != first {
                push_zero_run(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zero_run(&mut seq, last - index);
            }
        }
    }

    // Step 3: the string only grows up to max_bytes; past that, go dense.
    let new_len = end + seq.len() - op.width();
    if new_len > end && new_len > max_bytes {
        return promote(v, *past_end, index, count);
    }
    let old_end = p + op.width();
    // The server sets the new length (writing a terminator) before copying
    // the opcodes in; an XZERO cut short ends before old_end, so its last
    // new byte lands on the terminator.
    *past_end = if old_end > end { seq.last().copied().unwrap_or(0) } else { 0 };
    v.splice(p..old_end.min(end), seq);
    v.truncate(new_len);

    // Step 4.
    merge_vals(v, past_end, prev.unwrap_or(HDR));
    invalidate_cache(v);
    Ok(true)
}

/// The server's clean-up after a sparse edit: scanning at most 5 opcodes from
/// the one before the edited opcode, fuse adjacent VAL opcodes with the same
/// value while the run fits in one opcode.
fn merge_vals(v: &mut Vec<u8>, past_end: &mut u8, mut p: usize) {
    let mut budget = 5;
    while p < v.len() && budget > 0 {
        budget -= 1;
        let op = op_at(v, *past_end, p);
        let Op::Val(val, run) = op else {
            p += op.width();
            continue;
        };
        if let Some(Op::Val(next_val, next_run)) = (p + 1 < v.len()).then(|| op_at(v, *past_end, p + 1)) {
            if next_val == val && run + next_run <= SPARSE_VAL_MAX_LEN {
                v[p + 1] = val_byte(val, run + next_run);
                v.remove(p);
                // Shrinking the string rewrites its terminator.
                *past_end = 0;
                // Stay on the fused opcode: it may fuse again.
                continue;
            }
        }
        p += 1;
    }
}

/// Promotes to dense and sets the register there (it is always raised: the
/// sparse value was smaller than `count`).
fn promote(v: &mut Vec<u8>, past_end: u8, index: usize, count: u8) -> Result<bool, Corrupt> {
    let mut dense = sparse_to_dense(v, past_end)?;
    dense_raise(&mut dense[HDR..], index, count);
    *v = dense;
    Ok(true)
}

// ---- cardinality estimate (Ertl, "New cardinality estimation algorithms
// for HyperLogLog sketches", as in hllCount) ----

/// The estimate from the register histogram. The floating-point operations
/// are those of the server's compiled hllCount (x86-64 SSE2, no FMA, and
/// pow(x, 2) is x * x), in the same order, so results are identical.
fn estimate(hist: &[u32; 64]) -> u64 {
    const Q: usize = 50;
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7; // 0.5 / ln 2
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(hist[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(hist[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(hist[0]) / m);
    let e = llround(ALPHA_INF * m * m / z) as f64;
    // C's (uint64_t) of a double: exact below 2^63; the only negative value
    // llround can give here is LLONG_MIN, which x86 converts to 2^63.
    if e >= 9_223_372_036_854_775_808.0 {
        e as u64
    } else {
        e as i64 as u64
    }
}

/// llroundl on x86-64 glibc: round half away from zero; NaN, infinities and
/// values out of range give LLONG_MIN.
fn llround(x: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let r = x.round();
    if r.is_finite() && r > -LIMIT && r < LIMIT {
        r as i64
    } else {
        i64::MIN
    }
}

/// Ertl's sigma(x) = x + sum 2^(k-1) x^(2^k), iterated until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Ertl's tau(x), iterated until it stops changing.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values were recorded from redis-server 7.0.15 (Debian
    // 7.0.15-1~deb12u10) with the commands given in each test, on fresh keys,
    // reading the value back with GET. Dense values (12304 bytes) are kept as
    // their header plus an FNV-1a 64 digest of all bytes, or as the list of
    // non-zero register bytes.

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn fnv1a(b: &[u8]) -> u64 {
        b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3))
    }

    /// A dense value's non-zero bytes after the header.
    fn nonzero_regs(v: &[u8]) -> Vec<(usize, u8)> {
        v.iter().enumerate().skip(HDR).filter(|(_, &b)| b != 0).map(|(i, &b)| (i, b)).collect()
    }

    #[test]
    fn new_key_is_sparse() {
        // PFADD t:a a b c -> 1
        let (v, changed) = pfadd(None, &[b"a", b"b", b"c"]).unwrap();
        assert!(changed);
        assert_eq!(v, hex("48594c4c01000000000000000000008060f38050b1844bfb80425a"));
        // PFADD t:a a -> 0, unchanged (the cache stays as it was)
        let (v2, changed) = pfadd(Some(&v), &[b"a"]).unwrap();
        assert!(!changed);
        assert_eq!(v2, v);
        // PFADD t:e (no elements) -> 1: an empty HLL with a stale cache
        let (v, changed) = pfadd(None, &[]).unwrap();
        assert!(changed);
        assert_eq!(v, hex("48594c4c0100000000000000000000807fff"));
    }

    #[test]
    fn pfcount_writes_the_cache_once() {
        let (v, _) = pfadd(None, &[b"a", b"b", b"c"]).unwrap();
        // PFCOUNT t:a -> 3
        let (v, card) = pfcount(&v).unwrap();
        assert_eq!(card, 3);
        assert_eq!(v, hex("48594c4c01000000030000000000000060f38050b1844bfb80425a"));
        // A valid cache is returned without touching the value.
        assert_eq!(pfcount(&v).unwrap(), (v.clone(), 3));
        // PFADD t:a d -> 1: the old count stays, with the stale bit set
        let (v, changed) = pfadd(Some(&v), &[b"d"]).unwrap();
        assert!(changed);
        assert_eq!(v, hex("48594c4c0100000003000000000000805c7b8044768050b1844bfb80425a"));
    }

    #[test]
    fn promotion_to_dense_by_size() {
        // PFADD t:d e0 e1 ... e2999 -> 1, then PFCOUNT t:d -> 2979
        let eles: Vec<Vec<u8>> = (0..3000).map(|i| format!("e{i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = eles.iter().map(Vec::as_slice).collect();
        let (v, changed) = pfadd(None, &refs).unwrap();
        assert!(changed);
        assert_eq!(v.len(), DENSE_SIZE);
        assert_eq!(v[..HDR], hex("48594c4c000000000000000000000080"));
        assert_eq!(fnv1a(&v), 0x1b31_e02e_e1b5_6bce);
        let (v, card) = pfcount(&v).unwrap();
        assert_eq!(card, 2979);
        assert_eq!(v[..HDR], hex("48594c4c00000000a30b000000000000"));
        assert_eq!(fnv1a(&v), 0xb581_fa7f_a1f6_8d1c);
    }

    #[test]
    fn promotion_to_dense_by_register_value() {
        // This element's pattern length is 33, too large for a VAL opcode.
        // PFADD t:big <ba099dba00000000> -> 1
        let (v, _) = pfadd(None, &[&hex("ba099dba00000000")]).unwrap();
        assert_eq!(v.len(), DENSE_SIZE);
        assert_eq!(v[..HDR], hex("48594c4c000000000000000000000080"));
        assert_eq!(nonzero_regs(&v), [(2757, 0x84)]);
    }

    #[test]
    fn pfmerge_outputs() {
        // t:a holds a, b, c, d (as in the tests above).
        let (a, _) = pfadd(None, &[b"a", b"b", b"c", b"d"]).unwrap();
        let (m, _) = pfadd(None, &[b"x", b"y"]).unwrap();
        // PFMERGE t:m t:a -> sparse, since both are sparse
        let merged = pfmerge(Some(&m), &[&a]).unwrap();
        assert_eq!(merged, hex("48594c4c0100000000000000000000805c7b8044768050b18448ab88434e8042508408"));
        // Listing the destination among the sources changes nothing.
        assert_eq!(pfmerge(Some(&m), &[&a, &m]).unwrap(), merged);
        // PFMERGE t:n (no destination, no sources) -> an empty HLL, cache stale
        assert_eq!(pfmerge(None, &[]).unwrap(), hex("48594c4c0100000000000000000000807fff"));
        // PFMERGE t:md t:a t:big -> dense because a source is dense
        let (big, _) = pfadd(None, &[&hex("ba099dba00000000")]).unwrap();
        let md = pfmerge(None, &[&a, &big]).unwrap();
        assert_eq!(md[..HDR], hex("48594c4c000000000000000000000080"));
        assert_eq!(nonzero_regs(&md), [(2757, 0x84), (5485, 0x01), (6343, 0x01), (9549, 0x08), (11851, 0x01)]);
        // PFCOUNT t:md -> 5
        let (md, card) = pfcount(&md).unwrap();
        assert_eq!(card, 5);
        assert_eq!(md[..HDR], hex("48594c4c000000000500000000000000"));
        assert_eq!(fnv1a(&md), 0x3832_5e8c_354f_4a70);
    }

    #[test]
    fn invalid_values_are_errors() {
        let empty = pfadd(None, &[]).unwrap().0;
        for bad in [
            &b"hello"[..],
            b"HYLL",
            b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff",
            b"HYLL\0\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff",
        ] {
            assert_eq!(pfadd(Some(bad), &[b"a"]).unwrap_err(), ERR_NOT_HLL);
            assert_eq!(pfcount(bad).unwrap_err(), ERR_NOT_HLL);
            assert_eq!(pfmerge(Some(&empty), &[bad]).unwrap_err(), ERR_NOT_HLL);
            assert_eq!(pfmerge(Some(bad), &[]).unwrap_err(), ERR_NOT_HLL);
        }
        // Sparse opcodes covering 16383 or 16385 registers (checked on the
        // server: PFCOUNT and PFMERGE reply INVALIDOBJ).
        for bad in ["48594c4c0100000000000000000000807ffe", "48594c4c0100000000000000000000807fff80"] {
            let bad = hex(bad);
            assert_eq!(pfcount(&bad).unwrap_err(), ERR_CORRUPT);
            assert_eq!(pfmerge(None, &[&bad]).unwrap_err(), ERR_CORRUPT);
        }
        // A valid cache is trusted without looking at the registers.
        let stale_ok = hex("48594c4c010000000500000000000000");
        assert_eq!(pfcount(&stale_ok).unwrap().1, 5);
    }

    #[test]
    fn damaged_values_never_panic() {
        // Mutate sparse and dense values at random and run every command.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (sparse, _) = pfadd(None, &[b"a", b"b", b"c", b"d", b"e"]).unwrap();
        let (dense, _) = pfadd(None, &[&hex("ba099dba00000000")]).unwrap();
        for round in 0..3000 {
            let mut v = if round % 10 == 0 { dense.clone() } else { sparse.clone() };
            for _ in 0..1 + rand() % 4 {
                let i = (rand() as usize) % v.len();
                match rand() % 3 {
                    0 => v[i] = rand() as u8,
                    1 => v.truncate(i.max(HDR)),
                    _ => v.insert(i, rand() as u8),
                }
            }
            let ele = rand().to_le_bytes();
            let _ = pfadd(Some(&v), &[&ele, b"x", b"y"]);
            let _ = pfcount(&v);
            let _ = pfmerge(Some(&v), &[&sparse]);
            let _ = pfmerge(Some(&sparse), &[&v, &dense]);
        }
    }

    #[test]
    fn estimator_edges() {
        // PFCOUNT of dense values with every register set to the same value
        // (SET to a crafted string). 0: sigma(1) is infinite, the estimate 0.
        // 50 and up: the estimate overflows (z is tiny or 0); x86-64 llroundl
        // gives LLONG_MIN, converted to 2^63 (the server replies
        // -9223372036854775808, and the cache bytes end in 0x80 = still stale).
        for (val, expected) in
            [(0, 0), (1, 23637), (32, 50_760_319_129_350), (50, 1 << 63), (51, 1 << 63), (63, 1 << 63)]
        {
            let mut h = [0u32; 64];
            h[val] = REGISTERS as u32;
            assert_eq!(estimate(&h), expected, "all registers {val}");
        }
    }
}
