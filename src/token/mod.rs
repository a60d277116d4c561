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

/// Parse a string that is the exact decimal form of an i64 (Redis `string2ll`).
pub fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.len() > 20 || s.starts_with('+') {
        return None;
    }
    let v: i64 = s.parse().ok()?;
    let mut buf = itoa::Buffer::new();
    (buf.format(v) == s).then_some(v)
}
