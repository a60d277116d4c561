//! Token parsers: pure functions `&[u8] -> IResult` for the constructs of the RDB
//! format (lengths, strings, LZF, ziplist, listpack, intset, zipmap, records).
//!
//! File-level parsers are built from nom's *streaming* combinators so that running
//! out of input is `Incomplete`, never a wrong value; the readers in `event/`
//! turn `Incomplete` into a refill or a `Truncated` error. Parsers of blobs that
//! are already complete in memory (a listpack inside a string) report running off
//! their end as an error. Token errors carry only a kind and the input left; no
//! I/O, absolute offsets or output formats here.

pub mod intset;
pub mod length;
pub mod listpack;
pub mod lzf;
pub mod module;
pub mod record;
pub mod resp;
pub mod string;
pub mod value;
pub mod ziplist;
pub mod zipmap;

use crate::error::ErrorKind;
use nom::error::{ErrorKind as NomKind, ParseError};

/// A token-level error: what was wrong and how many bytes of input were left at
/// that point (the reader turns that into an absolute offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenError {
    pub kind: ErrorKind,
    pub remaining: usize,
}

impl TokenError {
    pub fn new(kind: ErrorKind, at: &[u8]) -> Self {
        TokenError { kind, remaining: at.len() }
    }
}

impl<'a> ParseError<&'a [u8]> for TokenError {
    fn from_error_kind(input: &'a [u8], _kind: NomKind) -> Self {
        TokenError::new(ErrorKind::BadEncoding("unexpected bytes"), input)
    }
    fn append(_input: &'a [u8], _kind: NomKind, other: Self) -> Self {
        other
    }
}

pub type TResult<'a, T> = nom::IResult<&'a [u8], T, TokenError>;

/// Fail at `at` with `kind`.
pub fn fail<'a, T>(at: &'a [u8], kind: ErrorKind) -> TResult<'a, T> {
    Err(nom::Err::Failure(TokenError::new(kind, at)))
}

/// Signed or unsigned integers and byte strings as stored inside compact blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl<'a> Item<'a> {
    /// The item as bytes, formatting integers into `buf`.
    pub fn as_bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Item::Bytes(b) => b,
            Item::Int(i) => buf.format(*i).as_bytes(),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        self.as_bytes(&mut b).to_vec()
    }

    /// The item as an integer, if it is one or is the canonical text of one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Item::Int(i) => Some(*i),
            Item::Bytes(b) => parse_canonical_i64(b),
        }
    }
}

/// Parse a string that is the exact decimal form of an i64 (Redis `string2ll`):
/// an optional `-`, then `0` alone or digits not starting with `0`, in range.
pub fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    // 19 digits at most: i64::MIN is "-9223372036854775808".
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    if digits[0] == b'0' {
        return (digits.len() == 1 && !negative).then_some(0);
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        // 19 digits stay below 10^19 < 2^64.
        v = v * 10 + u64::from(d);
    }
    if negative {
        (v <= 1 << 63).then(|| (v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers_are_string2ll() {
        for (s, v) in [("0", Some(0)), ("-0", None), ("007", None), ("+5", None), ("", None), ("-", None), ("12a", None)] {
            assert_eq!(parse_canonical_i64(s.as_bytes()), v, "{s}");
        }
        assert_eq!(parse_canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_canonical_i64(b"9223372036854775808"), None);
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_canonical_i64(b"-9223372036854775809"), None);
        assert_eq!(parse_canonical_i64(b"99999999999999999999"), None);
        for v in [1i64, -1, 42, -4096, 1 << 40, i64::MAX, i64::MIN] {
            assert_eq!(parse_canonical_i64(v.to_string().as_bytes()), Some(v));
        }
    }
}
