//! LZF decompression as Redis uses it (`lzf_d.c`), written for speed: literal
//! runs and non-overlapping back-references are block copies.
//!
//! Format (FORMAT.md §4.3): control byte `c < 0x20` = literal run of `c + 1`
//! bytes; otherwise a back-reference of length `(c >> 5) + 2` (plus an extension
//! byte when `c >> 5 == 7`) at distance `((c & 0x1f) << 8 | next) + 1`.

/// Why a stream did not decompress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzfError {
    /// Output would exceed the declared length.
    TooLong,
    /// Input ended inside an item.
    Truncated,
    /// A back-reference points before the start of the output.
    BadReference,
}

/// One item of an LZF stream.
enum LzfItem {
    /// Copy `len` bytes from the input, starting at `from`.
    Literal { from: usize, len: usize },
    /// Copy `len` bytes from `distance` bytes back in the output.
    Backref { len: usize, distance: usize },
}

/// Read the item whose control byte is at `input[i]`; returns it and the
/// position after it.
#[inline]
fn next_item(input: &[u8], i: usize) -> Result<(LzfItem, usize), LzfError> {
    let ctrl = usize::from(input[i]);
    let i = i + 1;
    if ctrl < 0x20 {
        let len = ctrl + 1;
        if i + len > input.len() {
            return Err(LzfError::Truncated);
        }
        return Ok((LzfItem::Literal { from: i, len }, i + len));
    }
    let (mut len, mut i) = (ctrl >> 5, i);
    if len == 7 {
        len += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
        i += 1;
    }
    let low = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
    let distance = (((ctrl & 0x1f) << 8) | low) + 1;
    Ok((LzfItem::Backref { len: len + 2, distance }, i + 1))
}

/// Decompress `input` into `out` (cleared first); the result must be exactly
/// `expected` bytes, as Redis requires.
///
/// Short copies dominate LZF, so where the buffers have room both kinds of item
/// are copied as fixed-size blocks (which compile to a few vector moves), and
/// the bytes written past the item are overwritten by the next one.
pub fn decompress_into(input: &[u8], expected: usize, out: &mut Vec<u8>) -> Result<(), LzfError> {
    out.clear();
    out.resize(expected, 0);
    let (mut i, mut o) = (0usize, 0usize);
    while i < input.len() {
        let (item, next) = next_item(input, i)?;
        match item {
            LzfItem::Literal { from, len } => {
                if o + len > expected {
                    return Err(LzfError::TooLong);
                }
                if from + 32 <= input.len() && o + 32 <= expected {
                    out[o..o + 32].copy_from_slice(&input[from..from + 32]);
                } else {
                    out[o..o + len].copy_from_slice(&input[from..from + len]);
                }
                o += len;
            }
            LzfItem::Backref { len, distance } => {
                if distance > o {
                    return Err(LzfError::BadReference);
                }
                if o + len > expected {
                    return Err(LzfError::TooLong);
                }
                let start = o - distance;
                if distance >= 8 && o + len + 8 <= expected {
                    // Each 8-byte block reads only bytes already written.
                    let mut k = 0;
                    while k < len {
                        let (done, ahead) = out.split_at_mut(o + k);
                        ahead[..8].copy_from_slice(&done[start + k..start + k + 8]);
                        k += 8;
                    }
                } else if distance == 1 {
                    let b = out[start];
                    out[o..o + len].fill(b);
                } else if len > 16 {
                    // A short period repeated: copy what is already periodic,
                    // doubling the block each time.
                    let mut copied = 0;
                    while copied < len {
                        let n = (distance + copied).min(len - copied);
                        let (done, ahead) = out.split_at_mut(o + copied);
                        ahead[..n].copy_from_slice(&done[start..start + n]);
                        copied += n;
                    }
                } else {
                    // Overlapping copy: each byte may depend on one just written.
                    for k in 0..len {
                        out[o + k] = out[start + k];
                    }
                }
                o += len;
            }
        }
        i = next;
    }
    if o == expected {
        Ok(())
    } else {
        Err(LzfError::TooLong)
    }
}

/// Check that `input` is a valid LZF stream producing exactly `expected` bytes,
/// without producing them: the same verdict as [`decompress_into`] at a fraction
/// of the cost (no byte is copied), for consumers that never look at the bytes.
pub fn validate(input: &[u8], expected: usize) -> Result<(), LzfError> {
    let (mut i, mut o) = (0usize, 0usize);
    while i < input.len() {
        let (item, next) = next_item(input, i)?;
        match item {
            LzfItem::Literal { len, .. } => o += len,
            LzfItem::Backref { len, distance } => {
                if distance > o {
                    return Err(LzfError::BadReference);
                }
                o += len;
            }
        }
        if o > expected {
            return Err(LzfError::TooLong);
        }
        i = next;
    }
    if o == expected {
        Ok(())
    } else {
        Err(LzfError::TooLong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_and_errors() {
        let mut out = Vec::new();
        decompress_into(&[0x00, 0x61, 0xe0, 0x0e, 0x00], 24, &mut out).unwrap();
        assert_eq!(out, vec![b'a'; 24]);
        assert_eq!(decompress_into(&[0x00, 0x61, 0xe0, 0x0e, 0x00], 23, &mut out), Err(LzfError::TooLong));
        assert_eq!(decompress_into(&[0x00, 0x61, 0xe0, 0x0e, 0x00], 25, &mut out), Err(LzfError::TooLong));
        assert_eq!(decompress_into(&[0x20, 0x00], 3, &mut out), Err(LzfError::BadReference));
        assert_eq!(decompress_into(&[0x05, 0x61], 6, &mut out), Err(LzfError::Truncated));
        // Validation alone gives the same verdicts.
        assert_eq!(validate(&[0x00, 0x61, 0xe0, 0x0e, 0x00], 24), Ok(()));
        assert_eq!(validate(&[0x00, 0x61, 0xe0, 0x0e, 0x00], 23), Err(LzfError::TooLong));
        assert_eq!(validate(&[0x00, 0x61, 0xe0, 0x0e, 0x00], 25), Err(LzfError::TooLong));
        assert_eq!(validate(&[0x20, 0x00], 3), Err(LzfError::BadReference));
        assert_eq!(validate(&[0x05, 0x61], 6), Err(LzfError::Truncated));
    }

    #[test]
    fn agrees_with_the_lzf_crate() {
        // Round trip through the reference compressor on varied inputs.
        let mut text = Vec::new();
        for i in 0..5000u32 {
            text.extend_from_slice(format!("key:{} value-{} ", i % 97, i * 7 % 13).as_bytes());
        }
        // Short periods ("abab…") exercise the overlapping copies.
        text.extend(std::iter::repeat_n(b"ab".as_slice(), 200).flatten());
        text.extend(std::iter::repeat_n(b"xyz".as_slice(), 200).flatten());
        for len in [100usize, 1000, 4099, text.len()] {
            let c = lzf::compress(&text[..len]).unwrap();
            let mut out = Vec::new();
            decompress_into(&c, len, &mut out).unwrap();
            assert_eq!(out, &text[..len]);
        }
    }
}
