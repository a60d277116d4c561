//! Module-serialised data (`RM_Save*` with opcodes, `moduleTypeEncodeId`):
//! a sequence of typed values ended by opcode 0. Used by MODULE_2 values,
//! MODULE_AUX records and KEY_META classes. We never need the module to skip it.

use super::length::parse_plain_len;
use super::string::skip_str;
use super::{fail, TResult};
use crate::error::ErrorKind;
use crate::format::module_opcode as op;
use nom::bytes::streaming::take;

/// Skip typed values up to and including the EOF opcode.
pub fn skip_typed_values(mut i: &[u8]) -> TResult<'_, ()> {
    loop {
        let (rest, opcode) = parse_plain_len(i)?;
        i = match opcode {
            op::EOF => return Ok((rest, ())),
            op::SINT | op::UINT => parse_plain_len(rest)?.0,
            op::FLOAT => take(4usize)(rest)?.0,
            op::DOUBLE => take(8usize)(rest)?.0,
            op::STRING => skip_str(rest)?.0,
            _ => return fail(i, ErrorKind::BadEncoding("unknown module value opcode")),
        };
    }
}

/// A MODULE_2 value: module id then typed values.
pub fn parse_module2(i: &[u8]) -> TResult<'_, u64> {
    let (rest, id) = parse_plain_len(i)?;
    let (rest, ()) = skip_typed_values(rest)?;
    Ok((rest, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_all_kinds() {
        // UINT 42, SINT -1, FLOAT, DOUBLE, STRING "ab", EOF, then a trailing byte.
        let mut b = vec![0x02, 0x2a, 0x01, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        b.extend_from_slice(&[0x03, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0x05, 0x02, b'a', b'b', 0x00, 0x77]);
        let (rest, ()) = skip_typed_values(&b).unwrap();
        assert_eq!(rest, &[0x77]);
        assert!(matches!(skip_typed_values(&b[..5]), Err(nom::Err::Incomplete(_))));
        assert!(skip_typed_values(&[0x09]).is_err());
    }
}
