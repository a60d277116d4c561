//! Listpack blobs (`listpack.c`): header, entries with back-lengths, terminator.
//! The walker validates everything `lpValidateIntegrity` checks in deep mode.

use super::{Item, TokenError};
use crate::error::{ErrorKind, Integrity};

const HEADER: usize = 6;
const EOF_BYTE: u8 = 0xff;

fn bad(at: &[u8], what: Integrity) -> TokenError {
    TokenError::new(ErrorKind::Integrity(what), at)
}

/// Size in bytes of the back-length that encodes `l` (`lpEncodeBacklen`).
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Check that `b` is exactly the back-length encoding of `l`.
fn backlen_matches(b: &[u8], l: usize) -> bool {
    let n = b.len();
    // First byte holds the most significant group (bit 7 clear); every later byte
    // has bit 7 set; the last one holds the least significant 7 bits.
    let mut v: usize = 0;
    for (k, &byte) in b.iter().enumerate() {
        let high_bit = byte & 0x80 != 0;
        if (k == 0) == high_bit && n > 1 {
            return false;
        }
        v = (v << 7) | usize::from(byte & 0x7f);
    }
    if n == 1 && b[0] & 0x80 != 0 {
        return false;
    }
    v == l
}

/// Decode one entry at the start of `p`; returns the item and its encoded size
/// (without back-length).
fn decode_entry(p: &[u8]) -> Result<(Item<'_>, usize), TokenError> {
    let short = |_| bad(p, Integrity::ListpackEntryPastEnd);
    let b0 = *p.first().ok_or_else(|| bad(p, Integrity::ListpackEntryPastEnd))?;
    let get = |n: usize| p.get(1..1 + n).ok_or(()).map_err(short);
    let str_at = |hdr: usize, len: usize| -> Result<(Item<'_>, usize), TokenError> {
        let end = hdr.checked_add(len).ok_or_else(|| bad(p, Integrity::ListpackStringTooLong))?;
        let s = p.get(hdr..end).ok_or_else(|| bad(p, Integrity::ListpackEntryPastEnd))?;
        Ok((Item::Bytes(s), end))
    };
    match b0 {
        0x00..=0x7f => Ok((Item::Int(i64::from(b0)), 1)),
        0x80..=0xbf => str_at(1, usize::from(b0 & 0x3f)),
        0xc0..=0xdf => {
            let b1 = get(1)?[0];
            let raw = (u16::from(b0 & 0x1f) << 8) | u16::from(b1);
            // Sign-extend the 13-bit value.
            let v = (i64::from(raw) << 51) >> 51;
            Ok((Item::Int(v), 2))
        }
        0xe0..=0xef => {
            let b1 = get(1)?[0];
            str_at(2, (usize::from(b0 & 0x0f) << 8) | usize::from(b1))
        }
        0xf0 => {
            let l = get(4)?;
            let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
            str_at(5, len)
        }
        0xf1 => {
            let b = get(2)?;
            Ok((Item::Int(i64::from(i16::from_le_bytes([b[0], b[1]]))), 3))
        }
        0xf2 => {
            let b = get(3)?;
            let v = (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as i64;
            Ok((Item::Int(v), 4))
        }
        0xf3 => {
            let b = get(4)?;
            Ok((Item::Int(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))), 5))
        }
        0xf4 => {
            let b = get(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok((Item::Int(i64::from_le_bytes(a)), 9))
        }
        0xf5..=0xfe => Err(bad(p, Integrity::ListpackBadEntryEncoding)),
        0xff => Err(bad(p, Integrity::ListpackEarlyEndByte)),
    }
}

/// Walk a listpack, validating it fully and calling `f` for every entry in order.
/// Returns the number of entries.
pub fn walk<'a>(lp: &'a [u8], mut f: impl FnMut(Item<'a>) -> Result<(), TokenError>) -> Result<usize, TokenError> {
    if lp.len() < HEADER + 1 {
        return Err(bad(lp, Integrity::ListpackTooShort));
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err(bad(lp, Integrity::ListpackBytesMismatch));
    }
    if lp[lp.len() - 1] != EOF_BYTE {
        return Err(bad(&lp[lp.len() - 1..], Integrity::ListpackNoEndByte));
    }
    let declared = usize::from(u16::from_le_bytes([lp[4], lp[5]]));
    let body = &lp[..lp.len() - 1];
    let mut pos = HEADER;
    let mut count = 0usize;
    while pos < body.len() {
        let p = &body[pos..];
        // `p` stops before the terminator; errors count from the blob's end.
        let from_blob_end = |e: TokenError| TokenError { remaining: e.remaining + 1, ..e };
        let (item, size) = decode_entry(p).map_err(from_blob_end)?;
        // Most entries are short: their back-length is the one byte `size`.
        if size < 128 && p.get(size) == Some(&(size as u8)) {
            f(item)?;
            count += 1;
            pos += size + 1;
            continue;
        }
        let bl = backlen_size(size);
        let back = p.get(size..size + bl).ok_or_else(|| from_blob_end(bad(p, Integrity::ListpackBacklenPastEnd)))?;
        if !backlen_matches(back, size) {
            return Err(from_blob_end(bad(&p[size..], Integrity::ListpackBacklenMismatch)));
        }
        f(item)?;
        count += 1;
        pos += size + bl;
    }
    if declared != u16::MAX as usize && declared != count {
        return Err(bad(lp, Integrity::ListpackCountMismatch));
    }
    Ok(count)
}

/// Collect every entry (for callers that need random access, e.g. streams).
pub fn entries(lp: &[u8]) -> Result<Vec<Item<'_>>, TokenError> {
    let mut v = Vec::new();
    walk(lp, |it| {
        v.push(it);
        Ok(())
    })?;
    Ok(v)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub use crate::output::rdb::listpack::build;

    #[test]
    fn documented_example() {
        // ["a", 1], the worked value in docs/format/ziplist-listpack.md, "Listpack".
        let lp = [0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xff];
        assert_eq!(entries(&lp).unwrap(), vec![Item::Bytes(b"a"), Item::Int(1)]);
        assert_eq!(build(&[Item::Bytes(b"a"), Item::Int(1)]), lp);
    }

    #[test]
    fn damage_is_detected() {
        let lp = build(&[Item::Bytes(b"abc"), Item::Int(7)]);
        for i in 0..lp.len() {
            let mut bad = lp.clone();
            bad[i] ^= 0x40;
            // Any single flip must either fail or still decode to something valid
            // without panicking.
            let _ = entries(&bad);
        }
        assert!(entries(&lp[..lp.len() - 1]).is_err());
        let mut wrong_count = lp.clone();
        wrong_count[4] = 3;
        assert!(entries(&wrong_count).is_err());
        let mut wrong_back = lp.clone();
        wrong_back[10] = 9;
        assert!(entries(&wrong_back).is_err());
    }
}
