//! The RDB length encoding (`rdbLoadLenByRef`): 6-bit, 14-bit, 32-bit and 64-bit
//! forms, and the "special encoding" marker that only strings may use.

use super::{fail, TResult};
use crate::error::ErrorKind;
use nom::number::streaming::{be_u32, be_u64, u8 as byte};

/// A decoded length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    /// An ordinary length or count.
    Plain(u64),
    /// `11kkkkkk`: special string encoding `k`.
    Encoded(u8),
}

/// Parse one length field.
#[inline]
pub fn parse_len(i: &[u8]) -> TResult<'_, Len> {
    let (rest, first) = byte(i)?;
    match first >> 6 {
        0 => Ok((rest, Len::Plain(u64::from(first & 0x3f)))),
        1 => {
            let (rest, second) = byte(rest)?;
            Ok((rest, Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(second))))
        }
        2 => match first {
            0x80 => {
                let (rest, v) = be_u32(rest)?;
                Ok((rest, Len::Plain(u64::from(v))))
            }
            0x81 => {
                let (rest, v) = be_u64(rest)?;
                Ok((rest, Len::Plain(v)))
            }
            _ => fail(i, ErrorKind::BadLength("unknown length encoding")),
        },
        _ => Ok((rest, Len::Encoded(first & 0x3f))),
    }
}

/// Parse a length that must be a plain number.
#[inline]
pub fn parse_plain_len(i: &[u8]) -> TResult<'_, u64> {
    match parse_len(i)? {
        (rest, Len::Plain(v)) => Ok((rest, v)),
        (_, Len::Encoded(_)) => fail(i, ErrorKind::BadLength("string encoding where a length was expected")),
    }
}

/// Parse a length that will be used as a count or size in memory.
#[inline]
pub fn parse_usize_len(i: &[u8]) -> TResult<'_, usize> {
    let (rest, v) = parse_plain_len(i)?;
    match usize::try_from(v) {
        Ok(v) => Ok((rest, v)),
        Err(_) => fail(i, ErrorKind::BadLength("length does not fit in memory")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(b: &[u8]) -> Len {
        let (rest, l) = parse_len(b).unwrap();
        assert!(rest.is_empty());
        l
    }

    #[test]
    fn documented_examples() {
        // The worked values in docs/format/encodings.md, "Length encoding".
        assert_eq!(len(&[0x00]), Len::Plain(0));
        assert_eq!(len(&[0x3f]), Len::Plain(63));
        assert_eq!(len(&[0x40, 0x40]), Len::Plain(64));
        assert_eq!(len(&[0x42, 0xbc]), Len::Plain(700));
        assert_eq!(len(&[0x7f, 0xff]), Len::Plain(16383));
        assert_eq!(len(&[0x80, 0, 0, 0x40, 0]), Len::Plain(16384));
        assert_eq!(len(&[0x81, 0, 0, 0, 1, 0, 0, 0, 0]), Len::Plain(1 << 32));
        assert_eq!(len(&[0xc3]), Len::Encoded(3));
    }

    #[test]
    fn incomplete_and_invalid() {
        assert!(matches!(parse_len(&[0x80, 0, 0]), Err(nom::Err::Incomplete(_))));
        assert!(matches!(parse_len(&[]), Err(nom::Err::Incomplete(_))));
        assert!(matches!(parse_len(&[0x82, 0, 0, 0, 0]), Err(nom::Err::Failure(_))));
        assert!(parse_plain_len(&[0xc0, 1]).is_err());
    }
}
