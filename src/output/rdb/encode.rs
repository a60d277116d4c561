//! The primitive RDB encodings as Redis writes them (src/rdb.c): lengths
//! (`rdbSaveLen`), strings (`rdbSaveRawString`: integer forms, LZF, raw),
//! and doubles (binary, and the text form of RDB < 8 sorted sets).

/// `rdbSaveLen`: 6-bit, 14-bit, 32-bit or 64-bit form.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// The integer an RDB string may be stored as (`rdbTryIntegerEncoding`): at
/// most 11 bytes, the exact decimal form of a value that fits 32 bits.
fn as_int_encodable(s: &[u8]) -> Option<i64> {
    if s.len() > 11 {
        return None;
    }
    crate::token::parse_canonical_i64(s).filter(|v| i32::try_from(*v).is_ok())
}

/// `rdbEncodeInteger`: the 8, 16 or 32-bit string encodings.
fn put_int_string(out: &mut Vec<u8>, v: i64) {
    if let Ok(b) = i8::try_from(v) {
        out.push(0xc0);
        out.push(b as u8);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(0xc1);
        out.extend_from_slice(&h.to_le_bytes());
    } else {
        out.push(0xc2);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    }
}

/// `rdbSaveRawString`: integers as integers, strings over 20 bytes LZF-compressed
/// when `compress` and the result saves at least 4 bytes, raw otherwise.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if let Some(v) = as_int_encodable(s) {
        return put_int_string(out, v);
    }
    // Redis gives lzf_compress an output buffer of len - 4 bytes.
    if compress && s.len() > 20 {
        if let Some(c) = super::lzf::compress(s, s.len() - 4) {
            out.push(0xc3);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// An integer value stored as a string (`rdbSaveLongLongAsStringObject`).
pub fn put_int_as_string(out: &mut Vec<u8>, v: i64) {
    if i32::try_from(v).is_ok() {
        put_int_string(out, v);
    } else {
        let mut buf = itoa::Buffer::new();
        let s = buf.format(v).as_bytes();
        put_len(out, s.len() as u64);
        out.extend_from_slice(s);
    }
}

/// `rdbSaveBinaryDoubleValue`.
pub fn put_binary_double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// `rdbSaveDoubleValue` (sorted sets before RDB 8): 253 NaN, 254 +inf,
/// 255 -inf, else a length byte and the `%.17g` text.
pub fn put_text_double(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.push(253);
    } else if v == f64::INFINITY {
        out.push(254);
    } else if v == f64::NEG_INFINITY {
        out.push(255);
    } else {
        let text = crate::format::numbers::format_g17(v);
        out.push(text.len() as u8);
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::length::{parse_len, Len};
    use crate::token::string::parse_str;

    #[test]
    fn lengths_round_trip_in_the_smallest_form() {
        for (n, size) in [(0u64, 1), (63, 1), (64, 2), (16383, 2), (16384, 5), (u32::MAX as u64, 5), (1 << 40, 9)] {
            let mut out = Vec::new();
            put_len(&mut out, n);
            assert_eq!(out.len(), size, "{n}");
            assert_eq!(parse_len(&out).unwrap().1, Len::Plain(n));
        }
    }

    #[test]
    fn strings_pick_redis_encodings() {
        let cases: [(&[u8], u8); 6] = [
            (b"12", 0xc0),
            (b"-300", 0xc1),
            (b"2147483647", 0xc2),
            (b"2147483648", 10),  // beyond 32 bits: raw
            (b"012", 3),          // not canonical: raw
            (&[b'a'; 100], 0xc3), // compressible
        ];
        for (s, first) in cases {
            let mut out = Vec::new();
            put_string(&mut out, s, true);
            assert_eq!(out[0], first, "{:?}", String::from_utf8_lossy(s));
            let (rest, parsed) = parse_str(&out).unwrap();
            assert!(rest.is_empty());
            assert_eq!(&*parsed.bytes().unwrap(), s);
        }
        // Incompressible or short: raw.
        let mut out = Vec::new();
        put_string(&mut out, b"abcdefghijklmnopqrstuvwxyz", true);
        assert_eq!(out[0], 26);
    }
}
