//! Binary-safe JSON writing, straight from borrowed bytes.
//!
//! Bytes that are valid UTF-8 become a JSON string; bytes that are not, or valid
//! UTF-8 that begins with `base64:`, become `"base64:"` + standard padded base64.
//! The mapping is lossless and type-stable (a hash stays an object).

use base64::Engine;
use std::io::{self, Write};

pub const BASE64_PREFIX: &str = "base64:";

/// Write `b` as a JSON string under the binary-safe rule.
pub fn write_bytes(w: &mut impl Write, b: &[u8]) -> io::Result<()> {
    match std::str::from_utf8(b) {
        Ok(s) if !s.starts_with(BASE64_PREFIX) => write_str(w, s),
        _ => {
            w.write_all(b"\"")?;
            w.write_all(BASE64_PREFIX.as_bytes())?;
            let enc = base64::engine::general_purpose::STANDARD.encode(b);
            w.write_all(enc.as_bytes())?;
            w.write_all(b"\"")
        }
    }
}

/// Decode a string written by [`write_bytes`] back into bytes.
pub fn decode_bytes(s: &str) -> Option<Vec<u8>> {
    match s.strip_prefix(BASE64_PREFIX) {
        Some(b64) => base64::engine::general_purpose::STANDARD.decode(b64).ok(),
        None => Some(s.as_bytes().to_vec()),
    }
}

/// Write a UTF-8 string with JSON escapes.
pub fn write_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f | 0x7f => {
                w.write_all(&bytes[start..i])?;
                write!(w, "\\u{:04x}", c)?;
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        w.write_all(&bytes[start..i])?;
        w.write_all(esc)?;
        start = i + 1;
    }
    w.write_all(&bytes[start..])?;
    w.write_all(b"\"")
}

/// Write a float as JSON: a number when finite, else `"inf"`, `"-inf"`, `"nan"`.
pub fn write_f64(w: &mut impl Write, v: f64) -> io::Result<()> {
    if v.is_nan() {
        w.write_all(b"\"nan\"")
    } else if v == f64::INFINITY {
        w.write_all(b"\"inf\"")
    } else if v == f64::NEG_INFINITY {
        w.write_all(b"\"-inf\"")
    } else {
        let mut b = ryu::Buffer::new();
        w.write_all(b.format_finite(v).as_bytes())
    }
}

pub fn write_i64(w: &mut impl Write, v: i64) -> io::Result<()> {
    w.write_all(itoa::Buffer::new().format(v).as_bytes())
}

pub fn write_u64(w: &mut impl Write, v: u64) -> io::Result<()> {
    w.write_all(itoa::Buffer::new().format(v).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> String {
        let mut v = Vec::new();
        write_bytes(&mut v, b).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn binary_safe() {
        assert_eq!(s(b"plain"), "\"plain\"");
        assert_eq!(s(b"a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(s(b"\xff"), "\"base64:/w==\"");
        assert_eq!(s(b"base64:x"), "\"base64:YmFzZTY0Ong=\"");
        for b in [&b"\xff\x00"[..], b"base64:x", b"ok", "é".as_bytes()] {
            let json: String = serde_json::from_str(&s(b)).unwrap();
            assert_eq!(decode_bytes(&json).unwrap(), b);
        }
    }
}
