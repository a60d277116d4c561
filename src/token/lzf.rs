//! LZF decompression as Redis uses it (`lzf_d.c`), written for speed: literal
//! runs and non-overlapping back-references are block copies.
//!
//! Format (docs/format/encodings.md, "LZF"): control byte `c < 0x20` = literal
//! run of `c + 1` bytes; otherwise a back-reference of length `(c >> 5) + 2` (plus
//! an extension byte when `c >> 5 == 7`) at distance `((c & 0x1f) << 8 | next) + 1`.

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

/// The back-reference whose control byte `ctrl` (≥ 0x20) preceded `input[i]`:
/// its length, its distance and the position after it.
#[inline(always)]
fn back_reference(input: &[u8], mut i: usize, ctrl: usize) -> Result<(usize, usize, usize), LzfError> {
    let mut len = ctrl >> 5;
    if len == 7 {
        len += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
        i += 1;
    }
    let low = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
    Ok((len + 2, (((ctrl & 0x1f) << 8) | low) + 1, i + 1))
}

/// Bytes of slack after the output: block copies may write this far past an
/// item's end (the next item, or the final truncation, drops them).
const SLACK: usize = 32;

/// Decompress `input` into `out` (cleared first); the result must be exactly
/// `expected` bytes, as Redis requires.
///
/// Short items dominate LZF, so both kinds are copied as fixed-size blocks
/// (a few vector moves) into an output with `SLACK` bytes of room after
/// it; a back-reference at distance 8 or more reads only bytes already
/// written, 8 or 16 at a time.
pub fn decompress_into(input: &[u8], expected: usize, out: &mut Vec<u8>) -> Result<(), LzfError> {
    out.clear();
    out.resize(expected + SLACK, 0);
    let (mut i, mut o) = (0usize, 0usize);
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 0x20 {
            let len = ctrl + 1;
            if o + len > expected {
                return Err(LzfError::TooLong);
            }
            match input.get(i..i + 32) {
                Some(block) => out[o..o + 32].copy_from_slice(block),
                None => {
                    let run = input.get(i..i + len).ok_or(LzfError::Truncated)?;
                    out[o..o + len].copy_from_slice(run);
                }
            }
            i += len;
            o += len;
            continue;
        }
        let (len, distance, next) = back_reference(input, i, ctrl)?;
        i = next;
        if distance > o {
            return Err(LzfError::BadReference);
        }
        if o + len > expected {
            return Err(LzfError::TooLong);
        }
        let start = o - distance;
        // Fixed-size blocks compile to vector moves (a variable-length
        // `copy_within` would call memmove).
        let (done, ahead) = out.split_at_mut(o);
        if distance >= 16 && len <= 16 {
            ahead[..16].copy_from_slice(&done[start..start + 16]);
        } else if distance >= 8 {
            // Each block reads only bytes written before it.
            let mut k = 0;
            while k < len {
                let (done, ahead) = out.split_at_mut(o + k);
                ahead[..8].copy_from_slice(&done[start + k..start + k + 8]);
                k += 8;
            }
        } else if distance == 1 {
            ahead[..len].fill(done[start]);
        } else {
            // A short period repeated: copy what is already periodic,
            // doubling the block each time.
            let mut copied = 0;
            while copied < len {
                let n = (distance + copied).min(len - copied);
                out.copy_within(start..start + n, o + copied);
                copied += n;
            }
        }
        o += len;
    }
    out.truncate(expected);
    if o == expected {
        Ok(())
    } else {
        Err(LzfError::TooLong)
    }
}

/// The longest back-reference distance: once the output is longer, every
/// distance is in range.
const MAX_DISTANCE: usize = 1 << 13;

/// Check that `input` is a valid LZF stream producing exactly `expected` bytes,
/// without producing them: the same verdict as [`decompress_into`] at a fraction
/// of the cost (no byte is copied), for consumers that never look at the bytes.
///
/// The output length only grows, so it is compared once, at the end; a
/// literal run that overruns the input is found then too (its bytes are
/// never read).
pub fn validate(input: &[u8], expected: usize) -> Result<(), LzfError> {
    let (mut i, mut o) = (0usize, 0usize);
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 0x20 {
            i += ctrl + 1;
            o += ctrl + 1;
            continue;
        }
        let (len, distance, next) = back_reference(input, i, ctrl)?;
        i = next;
        if o < MAX_DISTANCE && distance > o {
            return Err(LzfError::BadReference);
        }
        o += len;
    }
    if i > input.len() {
        Err(LzfError::Truncated)
    } else if o == expected {
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

    #[test]
    fn damaged_streams_get_the_reference_verdict() {
        // Every verdict (and every output) of ours equals the reference
        // decoder's on flipped and cut copies of real streams; validation
        // agrees with decompression.
        let mut text = Vec::new();
        for i in 0..3000u32 {
            text.extend_from_slice(format!("{{\"id\":{i},\"v\":\"{}\"}}", i % 7).as_bytes());
        }
        text.extend(std::iter::repeat_n(b"abcab".as_slice(), 100).flatten());
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut out = Vec::new();
        for len in [40usize, 300, 5000, text.len()] {
            let good = lzf::compress(&text[..len]).unwrap();
            for _ in 0..400 {
                let mut bad = good.clone();
                match next() % 3 {
                    0 => bad.truncate((next() as usize) % good.len()),
                    _ => {
                        let at = (next() as usize) % bad.len();
                        bad[at] ^= 1 << (next() % 8);
                    }
                }
                let claimed = if next() % 4 == 0 { len - 1 } else { len };
                let reference = lzf::decompress(&bad, claimed).ok().filter(|v| v.len() == claimed);
                let ours = decompress_into(&bad, claimed, &mut out).ok().map(|()| out.clone());
                assert_eq!(ours, reference, "len {len}, stream {bad:02x?}");
                assert_eq!(validate(&bad, claimed).is_ok(), ours.is_some());
            }
        }
    }
}
