//! Zipmap blobs (`zipmap.c`, RDB 2 hashes from Redis 2.4).

use super::TokenError;
use crate::error::{ErrorKind, Integrity};

fn bad(at: &[u8], what: Integrity) -> TokenError {
    TokenError::new(ErrorKind::Integrity(what), at)
}

/// Read a zipmap length at the start of `p`: `(value, bytes used)`, `None` at the end marker.
fn read_len(p: &[u8]) -> Result<Option<(usize, usize)>, TokenError> {
    match p.first() {
        None => Err(bad(p, Integrity::ZipmapPastEnd)),
        Some(255) => Ok(None),
        Some(254) => {
            let b = p.get(1..5).ok_or_else(|| bad(p, Integrity::ZipmapLengthPastEnd))?;
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            if v < 254 {
                return Err(bad(p, Integrity::ZipmapLongFormShortLength));
            }
            Ok(Some((v, 5)))
        }
        Some(&v) => Ok(Some((usize::from(v), 1))),
    }
}

/// Walk a zipmap, validating it and calling `f(field, value)` for every pair.
pub fn walk<'a>(
    zm: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), TokenError>,
) -> Result<usize, TokenError> {
    if zm.len() < 2 {
        return Err(bad(zm, Integrity::ZipmapTooShort));
    }
    if zm[zm.len() - 1] != 0xff {
        return Err(bad(zm, Integrity::ZipmapNoEndByte));
    }
    let declared = usize::from(zm[0]);
    let mut pos = 1;
    let mut count = 0;
    let take = |pos: usize, n: usize| -> Result<&'a [u8], TokenError> {
        let end = pos.checked_add(n).filter(|&e| e < zm.len());
        end.map(|e| &zm[pos..e]).ok_or_else(|| bad(&zm[pos.min(zm.len())..], Integrity::ZipmapEntryPastEnd))
    };
    while let Some((klen, used)) = read_len(&zm[pos..])? {
        pos += used;
        let field = take(pos, klen)?;
        pos += klen;
        let Some((vlen, used)) = read_len(&zm[pos..])? else {
            return Err(bad(&zm[pos..], Integrity::ZipmapFieldWithoutValue));
        };
        pos += used;
        let free = usize::from(*zm.get(pos).ok_or_else(|| bad(&zm[pos..], Integrity::ZipmapPastEnd))?);
        pos += 1;
        let value = take(pos, vlen)?;
        pos += vlen;
        take(pos, free)?;
        pos += free;
        f(field, value)?;
        count += 1;
    }
    if pos != zm.len() - 1 {
        return Err(bad(&zm[pos..], Integrity::ZipmapBytesAfterEnd));
    }
    if count == 0 {
        return Err(bad(zm, Integrity::ZipmapEmpty));
    }
    // As zipmap.c `zipmapValidateIntegrity`: 254 (ZIPMAP_BIGLEN) means
    // "count them"; any other header, 255 included, must be the count.
    if declared != 254 && declared != count {
        return Err(bad(zm, Integrity::ZipmapCountMismatch));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example() {
        let zm = [1, 3, b'f', b'o', b'o', 3, 0, b'b', b'a', b'r', 0xff];
        let mut v = vec![];
        walk(&zm, |f, x| {
            v.push((f.to_vec(), x.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(v, vec![(b"foo".to_vec(), b"bar".to_vec())]);
        for i in 0..zm.len() {
            let mut b = zm;
            b[i] = b[i].wrapping_add(1);
            let _ = walk(&b, |_, _| Ok(()));
        }
    }
}
