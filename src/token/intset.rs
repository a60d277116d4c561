//! Intset blobs (`intset.c`): sorted, unique, fixed-width little-endian integers.

use super::TokenError;
use crate::error::{ErrorKind, Integrity};

fn bad(at: &[u8], what: Integrity) -> TokenError {
    TokenError::new(ErrorKind::Integrity(what), at)
}

/// Walk an intset, validating it (`intsetValidateIntegrity`, deep) and calling `f`
/// for every member in order.
pub fn walk(is: &[u8], mut f: impl FnMut(i64) -> Result<(), TokenError>) -> Result<usize, TokenError> {
    if is.len() < 8 {
        return Err(bad(is, Integrity::IntsetTooShort));
    }
    let width = u32::from_le_bytes([is[0], is[1], is[2], is[3]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(bad(is, Integrity::IntsetBadEncoding));
    }
    let len = u32::from_le_bytes([is[4], is[5], is[6], is[7]]) as usize;
    if len.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(is.len()) {
        return Err(bad(is, Integrity::IntsetSizeMismatch));
    }
    if len == 0 {
        return Err(bad(is, Integrity::IntsetEmpty));
    }
    let mut prev: Option<i64> = None;
    for (i, chunk) in is[8..].chunks_exact(width).enumerate() {
        let v = match width {
            2 => i64::from(i16::from_le_bytes([chunk[0], chunk[1]])),
            4 => i64::from(i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])),
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(chunk);
                i64::from_le_bytes(a)
            }
        };
        if prev.is_some_and(|p| p >= v) {
            return Err(bad(&is[8 + i * width..], Integrity::IntsetNotAscending));
        }
        prev = Some(v);
        f(v)?;
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example() {
        let is = [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0];
        let mut v = vec![];
        walk(&is, |x| {
            v.push(x);
            Ok(())
        })
        .unwrap();
        assert_eq!(v, vec![1, 2, 3]);
        let unsorted = [2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0];
        assert!(walk(&unsorted, |_| Ok(())).is_err());
        assert!(walk(&is[..13], |_| Ok(())).is_err());
    }
}
