//! The RDB string encoding (`rdbGenericLoadStringObject`): raw bytes, INT8/16/32
//! integers, and LZF-compressed blobs.

use super::length::{parse_len, Len};
use super::{fail, TResult, TokenError};
use crate::error::{ErrorKind, Integrity};
use nom::bytes::streaming::take;
use nom::number::streaming::{le_i16, le_i32, le_i8};
use std::borrow::Cow;

/// A string as it is stored, not yet decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdbStr<'a> {
    Raw(&'a [u8]),
    Int(i64),
    Lzf { compressed: &'a [u8], len: usize },
}

/// LZF expands at most ~88x (a 3-byte back-reference yields 264 bytes); a declared
/// length beyond that cannot be honest, so we refuse before allocating.
const LZF_MAX_RATIO: usize = 90;

impl<'a> RdbStr<'a> {
    /// The string's bytes: borrowed when raw, allocated when decoded.
    pub fn bytes(&self) -> Result<Cow<'a, [u8]>, TokenError> {
        match *self {
            RdbStr::Raw(b) => Ok(Cow::Borrowed(b)),
            RdbStr::Int(v) => Ok(Cow::Owned(itoa::Buffer::new().format(v).as_bytes().to_vec())),
            RdbStr::Lzf { compressed, len } => lzf_decompress(compressed, len).map(Cow::Owned),
        }
    }

    /// The string's bytes written into `out` (replacing what it held).
    pub fn bytes_into(&self, out: &mut Vec<u8>) -> Result<(), TokenError> {
        match *self {
            RdbStr::Raw(b) => {
                out.clear();
                out.extend_from_slice(b);
                Ok(())
            }
            RdbStr::Int(v) => {
                out.clear();
                out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
                Ok(())
            }
            RdbStr::Lzf { compressed, len } => lzf_decompress_into(compressed, len, out),
        }
    }

    /// Check the string decodes (LZF streams are well formed and have their
    /// declared length) without materialising it.
    pub fn validate(&self) -> Result<(), TokenError> {
        match *self {
            RdbStr::Raw(_) | RdbStr::Int(_) => Ok(()),
            RdbStr::Lzf { compressed, len } => {
                let bad = TokenError { kind: ErrorKind::Integrity(Integrity::LzfInvalid), remaining: 0 };
                if len == 0 || len / LZF_MAX_RATIO > compressed.len() {
                    return Err(bad);
                }
                super::lzf::validate(compressed, len).map_err(|_| bad)
            }
        }
    }
}

/// Decompress an LZF blob whose decoded length is declared as `len`.
pub fn lzf_decompress(compressed: &[u8], len: usize) -> Result<Vec<u8>, TokenError> {
    let mut out = Vec::new();
    lzf_decompress_into(compressed, len, &mut out).map(|()| out)
}

/// [`lzf_decompress`] into a buffer the caller reuses.
pub fn lzf_decompress_into(compressed: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), TokenError> {
    let bad = |what| TokenError { kind: ErrorKind::Integrity(what), remaining: 0 };
    if len == 0 {
        return Err(bad(Integrity::LzfZeroLength));
    }
    if len / LZF_MAX_RATIO > compressed.len() {
        return Err(bad(Integrity::LzfImpossibleLength));
    }
    super::lzf::decompress_into(compressed, len, out).map_err(|_| bad(Integrity::LzfInvalid))
}

/// A raw string with a 6- or 14-bit length (most strings) and what follows
/// it, or `None` for anything else (longer, encoded, cut short): the common
/// case of [`parse_str`] without the parser.
#[inline]
pub fn short_raw(i: &[u8]) -> Option<(&[u8], &[u8])> {
    let (header, len) = match *i.first()? >> 6 {
        0 => (1, usize::from(i[0])),
        1 => (2, (usize::from(i[0] & 0x3f) << 8) | usize::from(*i.get(1)?)),
        _ => return None,
    };
    let s = i.get(header..header + len)?;
    Some((s, &i[header + len..]))
}

/// Parse one stored string.
#[inline]
pub fn parse_str(i: &[u8]) -> TResult<'_, RdbStr<'_>> {
    let (rest, len) = parse_len(i)?;
    match len {
        Len::Plain(n) => {
            let Ok(n) = usize::try_from(n) else {
                return fail(i, ErrorKind::BadLength("string length does not fit in memory"));
            };
            let (rest, b) = take(n)(rest)?;
            Ok((rest, RdbStr::Raw(b)))
        }
        Len::Encoded(0) => le_i8(rest).map(|(r, v)| (r, RdbStr::Int(v.into()))),
        Len::Encoded(1) => le_i16(rest).map(|(r, v)| (r, RdbStr::Int(v.into()))),
        Len::Encoded(2) => le_i32(rest).map(|(r, v)| (r, RdbStr::Int(v.into()))),
        Len::Encoded(3) => {
            let (rest, clen) = super::length::parse_usize_len(rest)?;
            let (rest, ulen) = super::length::parse_usize_len(rest)?;
            let (rest, compressed) = take(clen)(rest)?;
            Ok((rest, RdbStr::Lzf { compressed, len: ulen }))
        }
        Len::Encoded(_) => fail(i, ErrorKind::BadEncoding("unknown string encoding")),
    }
}

/// Skip one stored string, returning nothing (framing).
#[inline]
pub fn skip_str(i: &[u8]) -> TResult<'_, ()> {
    parse_str(i).map(|(r, _)| (r, ()))
}

/// A double in the old string form (ZSET v1 scores): `u8 n` then n ASCII bytes;
/// 253 = NaN, 254 = +inf, 255 = -inf.
pub fn parse_string_double(i: &[u8]) -> TResult<'_, f64> {
    let (rest, n) = nom::number::streaming::u8(i)?;
    match n {
        253 => Ok((rest, f64::NAN)),
        254 => Ok((rest, f64::INFINITY)),
        255 => Ok((rest, f64::NEG_INFINITY)),
        n => {
            let (rest, text) = take(n)(rest)?;
            match parse_double_text(text) {
                Some(v) => Ok((rest, v)),
                None => fail(i, ErrorKind::BadEncoding("invalid double")),
            }
        }
    }
}

/// Parse the text of a double the way C's `strtod` (and `sscanf("%lg")`) does,
/// which is what Redis uses: leading white space is skipped and the longest
/// numeric prefix counts (`"1.5 "` is 1.5). `None` when no number starts the text.
pub fn parse_double_text(text: &[u8]) -> Option<f64> {
    let start = text.iter().position(|c| !c.is_ascii_whitespace())?;
    let t = &text[start..];
    let (sign, body) = match t.first() {
        Some(b'-') => (-1.0, &t[1..]),
        Some(b'+') => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    let word = |w: &[u8]| body.get(..w.len()).is_some_and(|p| p.eq_ignore_ascii_case(w));
    if word(b"inf") {
        return Some(sign * f64::INFINITY);
    }
    if word(b"nan") {
        return Some(f64::NAN);
    }
    // The longest prefix made of number characters that parses; Redis reads at
    // most 127 characters of a score (`zzlStrtod`'s buffer), which also bounds
    // the work here.
    let len =
        t.iter().take(127).take_while(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E')).count();
    (1..=len).rev().find_map(|n| std::str::from_utf8(&t[..n]).ok()?.parse::<f64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(b: &[u8]) -> Vec<u8> {
        let (rest, s) = parse_str(b).unwrap();
        assert!(rest.is_empty());
        s.bytes().unwrap().into_owned()
    }

    #[test]
    fn integer_forms() {
        // The worked values in docs/format/encodings.md, "String encoding".
        assert_eq!(decoded(&[0xc0, 0x7b]), b"123");
        assert_eq!(decoded(&[0xc1, 0xe8, 0x03]), b"1000");
        assert_eq!(decoded(&[0xc2, 0xa0, 0x86, 0x01, 0x00]), b"100000");
        assert_eq!(decoded(&[0xc0, 0xff]), b"-1");
        assert_eq!(decoded(&[0x03, b'0', b'0', b'7']), b"007");
        assert_eq!(decoded(&[0x00]), b"");
    }

    #[test]
    fn lzf() {
        // 24 x "a", the worked value in docs/format/encodings.md, "LZF".
        assert_eq!(decoded(&[0xc3, 0x05, 0x18, 0x00, 0x61, 0xe0, 0x0e, 0x00]), vec![b'a'; 24]);
        // Declared length too large for the data.
        let (_, s) = parse_str(&[0xc3, 0x05, 0x80, 0x10, 0, 0, 0, 0x00, 0x61, 0xe0, 0x0e, 0x00]).unwrap();
        assert!(s.bytes().is_err());
    }

    #[test]
    fn doubles_parse_like_strtod() {
        assert_eq!(parse_double_text(b"0.1"), Some(0.1));
        assert_eq!(parse_double_text(b"1e+300"), Some(1e300));
        assert_eq!(parse_double_text(b" 1.5 "), Some(1.5));
        assert_eq!(parse_double_text(b"3abc"), Some(3.0));
        assert_eq!(parse_double_text(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double_text(b"inf"), Some(f64::INFINITY));
        assert!(parse_double_text(b"nan").unwrap().is_nan());
        assert_eq!(parse_double_text(b"abc"), None);
        assert_eq!(parse_double_text(b""), None);
    }

    #[test]
    fn truncated_is_incomplete() {
        assert!(matches!(parse_str(&[0x05, b'a']), Err(nom::Err::Incomplete(_))));
        assert!(matches!(parse_str(&[0xc4]), Err(nom::Err::Failure(_))));
    }
}
