//! Binary-safe JSON writing, straight from borrowed bytes into a buffer.
//!
//! Bytes that are valid UTF-8 become a JSON string; bytes that are not, or valid
//! UTF-8 that begins with `base64:`, become `"base64:"` + standard padded base64.
//! The mapping is lossless and type-stable (a hash stays an object).
//!
//! Writers append to a `Vec<u8>` (infallible): records are built in memory by
//! worker threads and written out in order.

use base64::Engine;

pub use crate::escape::BASE64_PREFIX;

/// True for bytes that cannot be copied into a JSON string as they are:
/// controls, `"`, `\`, DEL, and anything non-ASCII (needs UTF-8 validation).
#[inline]
fn special(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\' || c >= 0x7f
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `x` is zero (exact for the "any" question).
#[inline]
fn has_zero(x: u64) -> bool {
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

/// Whether any byte of the word is special (SWAR: eight bytes per step).
#[inline]
fn word_has_special(x: u64) -> bool {
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS != 0;
    below_space
        || x & HIGHS != 0
        || has_zero(x ^ (ONES * u64::from(b'"')))
        || has_zero(x ^ (ONES * u64::from(b'\\')))
        || has_zero(x ^ (ONES * 0x7f))
}

/// Index of the first special byte; the common case (none) runs sixteen
/// bytes at a time (SSE2), then eight.
#[inline]
fn first_special(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        while i + 16 <= b.len() {
            // SAFETY: SSE2 is part of the x86_64 baseline; the unaligned load
            // reads `b[i..i + 16]`, inside the slice.
            let mask = unsafe {
                let v = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
                // c < 0x20 or c >= 0x7f  <=>  (c - 0x20) as u8 >= 0x5f
                let t = _mm_sub_epi8(v, _mm_set1_epi8(0x20));
                let range = _mm_cmpeq_epi8(_mm_max_epu8(t, _mm_set1_epi8(0x5f)), t);
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                _mm_movemask_epi8(_mm_or_si128(range, _mm_or_si128(quote, backslash)))
            };
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize);
            }
            i += 16;
        }
    }
    while i + 8 <= b.len() {
        let word = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        if word_has_special(word) {
            break;
        }
        i += 8;
    }
    b[i..].iter().position(|&c| special(c)).map(|p| i + p)
}

/// Write `b` as a JSON string under the binary-safe rule.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let Some(first) = first_special(b) else {
        if b.starts_with(BASE64_PREFIX.as_bytes()) {
            return write_base64(out, b);
        }
        out.reserve(b.len() + 2);
        out.push(b'"');
        out.extend_from_slice(b);
        out.push(b'"');
        return;
    };
    match std::str::from_utf8(b) {
        Ok(s) if !s.starts_with(BASE64_PREFIX) => write_escaped(out, b, first),
        _ => write_base64(out, b),
    }
}

/// [`write_bytes`] for bytes too large to hold twice in memory: `out` is
/// handed to `drain` (which empties it) each time it holds `step` bytes or more.
/// The text is the same as `write_bytes` gives.
pub fn write_bytes_in_steps<E>(
    out: &mut Vec<u8>,
    b: &[u8],
    step: usize,
    drain: &mut dyn FnMut(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let as_text = match first_special(b) {
        None => !b.starts_with(BASE64_PREFIX.as_bytes()),
        Some(_) => std::str::from_utf8(b).is_ok_and(|s| !s.starts_with(BASE64_PREFIX)),
    };
    out.push(b'"');
    if !as_text {
        out.extend_from_slice(BASE64_PREFIX.as_bytes());
    }
    // Whole groups of three bytes, so base64 pieces join without padding.
    for piece in b.chunks(step.max(3) / 3 * 3) {
        match as_text {
            true => escape_into(out, piece, first_special(piece)),
            false => base64_into(out, piece),
        }
        if out.len() >= step {
            drain(out)?;
        }
    }
    out.push(b'"');
    Ok(())
}

fn write_base64(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(BASE64_PREFIX.as_bytes());
    base64_into(out, b);
    out.push(b'"');
}

fn base64_into(out: &mut Vec<u8>, b: &[u8]) {
    let start = out.len();
    out.resize(start + b.len().div_ceil(3) * 4, 0);
    let n = base64::engine::general_purpose::STANDARD.encode_slice(b, &mut out[start..]).unwrap_or(0);
    out.truncate(start + n);
}

/// Write valid UTF-8 `b` with JSON escapes; `first` is the first special byte.
fn write_escaped(out: &mut Vec<u8>, b: &[u8], first: usize) {
    out.reserve(b.len() + 8);
    out.push(b'"');
    escape_into(out, b, Some(first));
    out.push(b'"');
}

/// The inside of a JSON string for UTF-8 bytes (or a piece of them: a
/// multi-byte sequence may be split, its bytes are copied as they are); `first`
/// is the first special byte. Runs of plain bytes are copied whole.
fn escape_into(out: &mut Vec<u8>, b: &[u8], first: Option<usize>) {
    let mut pos = 0;
    let mut next = first;
    while let Some(p) = next {
        let at = pos + p;
        out.extend_from_slice(&b[pos..at]);
        let c = b[at];
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x00..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            // Part of a (validated) UTF-8 sequence: copied as it is.
            _ => out.push(c),
        }
        pos = at + 1;
        next = first_special(&b[pos..]);
    }
    out.extend_from_slice(&b[pos..]);
}

pub use crate::escape::decode_bytes;

/// Write a UTF-8 string with JSON escapes.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    match first_special(s.as_bytes()) {
        None => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Some(first) => write_escaped(out, s.as_bytes(), first),
    }
}

/// Write a float as JSON: a number when finite, else `"inf"`, `"-inf"`, `"nan"`.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"nan\"");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"\"inf\"");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"\"-inf\"");
    } else if v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        // Whole numbers (most scores) as ryu prints them, `<digits>.0`,
        // without its shortest-digits search.
        write_i64(out, v as i64);
        out.extend_from_slice(b".0");
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// One-line error text without the file name (the report names it).
pub fn error_text(e: &crate::error::Error) -> String {
    let mut e = e.clone();
    e.file = None;
    e.to_string()
}

/// Bytes as a JSON value in the dump's string form (UTF-8 as is, else `base64:`).
pub fn bytes_json(b: &[u8]) -> serde_json::Value {
    let mut v = Vec::with_capacity(b.len() + 2);
    write_bytes(&mut v, b);
    serde_json::from_slice(&v).unwrap_or(serde_json::Value::Null)
}

/// An error as the JSON reports give it: class, message, file, offset,
/// phase and key (in the dump's string form).
pub fn error_json(e: &crate::error::Error) -> serde_json::Value {
    let key = e.key.as_deref().map(bytes_json);
    serde_json::json!({
        "class": e.kind.class(),
        "message": error_text(e),
        "file": e.file.as_ref().map(|f| f.display().to_string()),
        "offset": e.offset,
        "offset_hex": e.offset.map(|o| format!("{o:#x}")),
        "doing": e.doing.map(|d| d.to_string()),
        "key": key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_special_finds_the_first_special_byte() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in 0..2000usize {
            let len = n % 70;
            let mut b = vec![b'a'; len];
            // A few bytes of every class at random places.
            for _ in 0..(n % 4) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if len > 0 {
                    b[(seed as usize >> 8) % len] = seed as u8;
                }
            }
            assert_eq!(first_special(&b), b.iter().position(|&c| special(c)), "{b:?}");
        }
        for c in 0..=255u8 {
            let mut b = vec![b'x'; 40];
            b[21] = c;
            assert_eq!(first_special(&b), special(c).then_some(21), "byte {c:#x}");
        }
    }

    #[test]
    fn bytes_written_in_steps_are_the_same_text() {
        let inputs: Vec<Vec<u8>> = vec![
            b"plain ascii text that runs on for a while".to_vec(),
            "h\u{e9}llo w\u{f6}rld \u{2603} \u{1f389} \"quoted\"\n\ttab \u{7f}".as_bytes().repeat(3),
            b"base64:looks like our prefix".to_vec(),
            vec![0xff, 0x00, 0x80, b'a', b'b', 0xc3],
            (0..=255u8).collect(),
            Vec::new(),
        ];
        for b in &inputs {
            let mut whole = Vec::new();
            write_bytes(&mut whole, b);
            for step in 1..24 {
                let (mut out, mut drained, mut drains) = (Vec::new(), Vec::new(), 0);
                let mut drain = |o: &mut Vec<u8>| -> Result<(), ()> {
                    drained.append(o);
                    drains += 1;
                    Ok(())
                };
                write_bytes_in_steps(&mut out, b, step, &mut drain).unwrap();
                drained.append(&mut out);
                assert_eq!(String::from_utf8_lossy(&drained), String::from_utf8_lossy(&whole), "step {step}");
                assert!(b.len() < 2 * step || drains >= 1, "step {step}: never drained");
            }
        }
    }

    #[test]
    fn whole_numbers_print_as_ryu_prints_them() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = vec![0.0, -0.0, 1.0, -1.0, 1e15 - 1.0, -(1e15 - 1.0), 1e15, 1e16, 123456789.0];
        for _ in 0..20000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits = (seed % 17) as i32;
            values.push((seed >> 11) as f64 % 10f64.powi(digits) * if seed & 1 == 0 { 1.0 } else { -1.0 });
        }
        for v in values {
            let mut ours = Vec::new();
            write_f64(&mut ours, v);
            assert_eq!(String::from_utf8(ours).unwrap(), ryu::Buffer::new().format_finite(v), "{v}");
        }
    }

    fn s(b: &[u8]) -> String {
        let mut v = Vec::new();
        write_bytes(&mut v, b);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn binary_safe() {
        assert_eq!(s(b"plain"), "\"plain\"");
        assert_eq!(s(b"a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(s(b"\xff"), "\"base64:/w==\"");
        assert_eq!(s(b"base64:x"), "\"base64:YmFzZTY0Ong=\"");
        assert_eq!(
            s("a long string of more than sixteen bytes, then é and \"quotes\"".as_bytes()),
            "\"a long string of more than sixteen bytes, then é and \\\"quotes\\\"\""
        );
        for b in [&b"\xff\x00"[..], b"base64:x", b"ok", "é".as_bytes(), b"0123456789abcdef\x7f", b""] {
            let json: String = serde_json::from_str(&s(b)).unwrap();
            assert_eq!(decode_bytes(&json).unwrap(), b);
        }
    }
}
