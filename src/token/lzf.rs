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

/// Decompress `input` into `out` (cleared first); the result must be exactly
/// `expected` bytes, as Redis requires.
pub fn decompress_into(input: &[u8], expected: usize, out: &mut Vec<u8>) -> Result<(), LzfError> {
    out.clear();
    out.reserve(expected);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 0x20 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run).ok_or(LzfError::Truncated)?;
            if out.len() + run > expected {
                return Err(LzfError::TooLong);
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
                i += 1;
            }
            let low = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
            i += 1;
            let len = len + 2;
            let distance = (((ctrl & 0x1f) << 8) | low) + 1;
            if distance > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > expected {
                return Err(LzfError::TooLong);
            }
            let start = out.len() - distance;
            if distance >= len {
                out.extend_from_within(start..start + len);
            } else {
                // Overlapping copy: each byte may depend on one just written.
                for k in 0..len {
                    let b = out[start + k];
                    out.push(b);
                }
            }
        }
    }
    if out.len() == expected {
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
    }

    #[test]
    fn agrees_with_the_lzf_crate() {
        // Round trip through the reference compressor on varied inputs.
        let mut text = Vec::new();
        for i in 0..5000u32 {
            text.extend_from_slice(format!("key:{} value-{} ", i % 97, i * 7 % 13).as_bytes());
        }
        for len in [21usize, 100, 1000, text.len()] {
            let c = lzf::compress(&text[..len]).unwrap();
            let mut out = Vec::new();
            decompress_into(&c, len, &mut out).unwrap();
            assert_eq!(out, &text[..len]);
        }
    }
}
