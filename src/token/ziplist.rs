//! Ziplist blobs (`ziplist.c`), used by RDB 2-9 lists, hashes, sorted sets and
//! quicklist nodes. The walker validates what `ziplistValidateIntegrity` checks.

use super::{Item, TokenError};
use crate::error::{ErrorKind, Integrity};

const HEADER: usize = 10;

fn bad(at: &[u8], what: Integrity) -> TokenError {
    TokenError::new(ErrorKind::Integrity(what), at)
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Decode one entry's encoding + payload at the start of `p`.
fn decode_entry(p: &[u8]) -> Result<(Item<'_>, usize), TokenError> {
    let past = || bad(p, Integrity::ZiplistEntryPastEnd);
    let b0 = *p.first().ok_or_else(past)?;
    let get = |from: usize, n: usize| p.get(from..from + n).ok_or_else(past);
    let string = |hdr: usize, len: usize| -> Result<(Item<'_>, usize), TokenError> {
        let end = hdr.checked_add(len).ok_or_else(past)?;
        Ok((Item::Bytes(p.get(hdr..end).ok_or_else(past)?), end))
    };
    match b0 >> 6 {
        0 => return string(1, usize::from(b0 & 0x3f)),
        1 => {
            let b1 = get(1, 1)?[0];
            return string(2, (usize::from(b0 & 0x3f) << 8) | usize::from(b1));
        }
        2 => {
            let l = get(1, 4)?;
            return string(5, u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize);
        }
        _ => {}
    }
    let int = |n: usize| -> Result<i64, TokenError> {
        let b = get(1, n)?;
        let mut a = [0u8; 8];
        a[8 - n..].copy_from_slice(b);
        // Little-endian: reverse into big-endian position then sign-extend.
        a[8 - n..].reverse();
        Ok(i64::from_be_bytes(a) << (64 - 8 * n) >> (64 - 8 * n))
    };
    match b0 {
        0xc0 => Ok((Item::Int(int(2)?), 3)),
        0xd0 => Ok((Item::Int(int(4)?), 5)),
        0xe0 => Ok((Item::Int(int(8)?), 9)),
        0xf0 => Ok((Item::Int(int(3)?), 4)),
        0xfe => Ok((Item::Int(int(1)?), 2)),
        0xf1..=0xfd => Ok((Item::Int(i64::from(b0 & 0x0f) - 1), 1)),
        _ => Err(bad(p, Integrity::ZiplistBadEntryEncoding)),
    }
}

/// Walk a ziplist, validating it fully and calling `f` for every entry.
pub fn walk<'a>(zl: &'a [u8], mut f: impl FnMut(Item<'a>) -> Result<(), TokenError>) -> Result<usize, TokenError> {
    if zl.len() < HEADER + 1 {
        return Err(bad(zl, Integrity::ZiplistTooShort));
    }
    if le_u32(zl) as usize != zl.len() {
        return Err(bad(zl, Integrity::ZiplistBytesMismatch));
    }
    let tail = le_u32(&zl[4..]) as usize;
    if tail > zl.len() - 1 {
        return Err(bad(zl, Integrity::ZiplistTailOutOfRange));
    }
    if zl[zl.len() - 1] != 0xff {
        return Err(bad(&zl[zl.len() - 1..], Integrity::ZiplistNoEndByte));
    }
    let declared = usize::from(u16::from_le_bytes([zl[8], zl[9]]));
    let end = zl.len() - 1;
    let mut pos = HEADER;
    let mut prev_size = 0usize;
    let mut last_pos = HEADER;
    let mut count = 0usize;
    while pos < end {
        let p = &zl[pos..end];
        // `p` stops before the terminator; errors count from the blob's end.
        let from_blob_end = |e: TokenError| TokenError { remaining: e.remaining + 1, ..e };
        let (prevlen, hdr) = if p[0] < 254 {
            (usize::from(p[0]), 1)
        } else if p[0] == 254 {
            let b = p.get(1..5).ok_or_else(|| from_blob_end(bad(p, Integrity::ZiplistPrevlenPastEnd)))?;
            (le_u32(b) as usize, 5)
        } else {
            return Err(from_blob_end(bad(p, Integrity::ZiplistBadPrevlen)));
        };
        if prevlen != prev_size {
            return Err(from_blob_end(bad(p, Integrity::ZiplistPrevlenMismatch)));
        }
        let (item, size) = decode_entry(&p[hdr..]).map_err(from_blob_end)?;
        f(item)?;
        last_pos = pos;
        prev_size = hdr + size;
        pos += prev_size;
        count += 1;
    }
    if pos != end {
        return Err(bad(zl, Integrity::ZiplistEntriesOverrunEnd));
    }
    // Redis checks the tail only when there is an entry for it to point at.
    if count > 0 && tail != last_pos {
        return Err(bad(zl, Integrity::ZiplistTailNotLastEntry));
    }
    if declared != u16::MAX as usize && declared != count {
        return Err(bad(zl, Integrity::ZiplistCountMismatch));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(zl: &[u8]) -> Result<Vec<Item<'_>>, TokenError> {
        let mut v = Vec::new();
        walk(zl, |it| {
            v.push(it);
            Ok(())
        })?;
        Ok(v)
    }

    #[test]
    fn documented_example() {
        // Entries "a", 1: the worked value in docs/format/ziplist-listpack.md, "Ziplist".
        let zl = [0x10, 0, 0, 0, 0x0d, 0, 0, 0, 2, 0, 0x00, 0x01, b'a', 0x03, 0xf2, 0xff];
        assert_eq!(collect(&zl).unwrap(), vec![Item::Bytes(b"a"), Item::Int(1)]);
    }

    #[test]
    fn integers() {
        // int16 -2, int24 -3, int8 -4, int32, int64.
        let mut body = vec![0x00, 0xc0, 0xfe, 0xff];
        body.extend_from_slice(&[0x04, 0xf0, 0xfd, 0xff, 0xff]);
        body.extend_from_slice(&[0x05, 0xfe, 0xfc]);
        body.extend_from_slice(&[0x03, 0xd0, 0x78, 0x56, 0x34, 0x12]);
        let tail = HEADER + body.len();
        body.extend_from_slice(&[0x06, 0xe0, 1, 0, 0, 0, 0, 0, 0, 0x80]);
        let total = HEADER + body.len() + 1;
        let mut zl = Vec::new();
        zl.extend_from_slice(&(total as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&5u16.to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xff);
        assert_eq!(
            collect(&zl).unwrap(),
            vec![Item::Int(-2), Item::Int(-3), Item::Int(-4), Item::Int(0x12345678), Item::Int(i64::MIN + 1)]
        );
    }

    #[test]
    fn damage() {
        let zl = [0x10, 0, 0, 0, 0x0d, 0, 0, 0, 2, 0, 0x00, 0x01, b'a', 0x03, 0xf2, 0xff];
        for i in 0..zl.len() {
            let mut b = zl;
            b[i] ^= 0x10;
            let _ = collect(&b);
        }
        let mut b = zl;
        b[13] = 0x02; // wrong prevlen
        assert!(collect(&b).is_err());
    }
}
