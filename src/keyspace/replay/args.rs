//! Reading command arguments as the server reads them: integers
//! (util.c `string2ll`), doubles (`strtod`, hexadecimal included), option
//! words, expiry units and `FIELDS n f…` lists. Nothing here touches the
//! keyspace.

use super::Args;
use crate::token::parse_canonical_i64;

pub(super) fn int(b: &[u8]) -> Result<i64, String> {
    parse_canonical_i64(b).ok_or_else(|| "ERR value is not an integer or out of range".to_string())
}

pub(super) fn uint(b: &[u8]) -> Result<u64, String> {
    u64::try_from(int(b)?).map_err(|_| "ERR value is out of range".to_string())
}

/// An unsigned 64-bit argument (cursor positions use the whole range).
pub(super) fn parse_u64(b: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(b).ok().and_then(|t| t.parse().ok()).ok_or_else(|| "ERR value is out of range".to_string())
}

pub(super) fn float(b: &[u8]) -> Result<f64, String> {
    let s = std::str::from_utf8(b).map_err(|_| "ERR value is not a valid float".to_string())?;
    match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => Ok(f64::INFINITY),
        "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
        t => parse_c_double(t).filter(|f| !f.is_nan()).ok_or_else(|| "ERR value is not a valid float".to_string()),
    }
}

/// A number as C's strtod reads a whole text: decimal (Rust's parser agrees)
/// or hexadecimal (`0x1.8p3`), which Rust's does not read.
fn parse_c_double(t: &str) -> Option<f64> {
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) else {
        return t.parse::<f64>().ok();
    };
    let (digits, exponent) = match hex.find(['p', 'P']) {
        Some(at) => (&hex[..at], hex[at + 1..].parse::<i32>().ok()?),
        None => (hex, 0),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    // Mantissa bits beyond 64 cannot matter for a double; keep the leading
    // ones exactly and count the rest into the exponent.
    let (mut mantissa, mut exp2, mut sticky) = (0u64, exponent as i64, false);
    for (i, c) in int.chars().chain(frac.chars()).enumerate() {
        let v = c.to_digit(16)? as u64;
        if i >= int.len() {
            exp2 -= 4;
        }
        if mantissa >> 60 == 0 {
            mantissa = mantissa << 4 | v;
        } else {
            sticky |= v != 0;
            exp2 += 4;
        }
    }
    // Round to nearest: fold the lost bits into the lowest bit. (Two steps
    // of scaling keep tiny results from flushing to zero on the way.)
    let m = (mantissa | sticky as u64) as f64;
    let e = exp2.clamp(-1200, 1200) as i32;
    let value = m * 2f64.powi(e / 2) * 2f64.powi(e - e / 2);
    Some(if negative { -value } else { value })
}

/// strtod over the whole text, as SORT reads a weight: leading white space
/// allowed, nothing after the number, an empty text is 0, NaN and overflow
/// (ERANGE) refused.
pub(super) fn strtod_whole(b: &[u8]) -> Option<f64> {
    // C strings end at the first NUL.
    let b = b.split(|&c| c == 0).next().unwrap_or_default();
    let t = std::str::from_utf8(b).ok()?.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    if t.is_empty() {
        return Some(0.0);
    }
    let f = parse_c_double(t).filter(|f| !f.is_nan())?;
    let spelled_inf = t.trim_start_matches(['+', '-']).get(..3).is_some_and(|p| p.eq_ignore_ascii_case("inf"));
    (f.is_finite() || spelled_inf).then_some(f)
}

/// Text of a number as Redis stores it after INCRBYFLOAT / HINCRBYFLOAT (%.17Lg
/// without trailing zeros: shortest round trip is what it prints for doubles).
pub(super) fn float_text(f: f64) -> Vec<u8> {
    crate::format::numbers::score_text(f).into_bytes()
}

pub(super) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// How an expiry argument counts: from now (`EX`, `EXPIRE`, `HPEXPIRE`…) or
/// from the epoch (`EXAT`, `PEXPIREAT`…), in seconds or milliseconds. The
/// loading server's clock turns it into Unix ms (`Replayer::absolute_ms`).
#[derive(Clone, Copy)]
pub(super) enum TimeArg {
    InSeconds,
    InMillis,
    AtSeconds,
    AtMillis,
}

impl TimeArg {
    /// The unit of a SET/GETEX/HSETEX/HGETEX option. Only the four option
    /// words: a command name (EXPIRE, PEXPIREAT…) given as an option is a
    /// syntax error to the server (t_string.c `getexCommand`), and the
    /// commands of those names take their unit from the command table.
    pub(super) fn option(word: &[u8]) -> Option<TimeArg> {
        Some(match word {
            b"EX" => TimeArg::InSeconds,
            b"PX" => TimeArg::InMillis,
            b"EXAT" => TimeArg::AtSeconds,
            b"PXAT" => TimeArg::AtMillis,
            _ => return None,
        })
    }
}

/// `FIELDS n f…` starting at `at`.
pub(super) fn fields_arg<'a>(a: &Args<'a>, at: usize) -> Result<Vec<&'a [u8]>, String> {
    if !a.get(at).is_some_and(|f| is(f, "FIELDS")) {
        return Err("ERR missing FIELDS argument".into());
    }
    let n = uint(a.get(at + 1).ok_or("ERR syntax error")?)? as usize;
    let f = a.get(at + 2..).unwrap_or_default();
    if f.len() != n {
        return Err("ERR the number of fields does not match".into());
    }
    Ok(f.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What glibc's strtod gives for these texts (hex floats included, which
    /// Redis accepts wherever it reads a double).
    #[test]
    fn doubles_are_read_as_strtod_reads_them() {
        let cases: [(&str, Option<f64>); 10] = [
            ("1e3", Some(1000.0)),
            ("-2.5", Some(-2.5)),
            ("0x10", Some(16.0)),
            ("0X1.8p3", Some(12.0)),
            ("-0x.8", Some(-0.5)),
            ("0x1p-1074", Some(f64::from_bits(1))),
            ("0x1fffffffffffff", Some(9007199254740991.0)),
            ("0x", None),
            ("0xg", None),
            ("1e", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_c_double(text), want, "{text}");
        }
        // SORT weights: white space before, text after a NUL ignored, empty is 0.
        assert_eq!(strtod_whole(b"  5\0junk"), Some(5.0));
        assert_eq!(strtod_whole(b""), Some(0.0));
        assert_eq!(strtod_whole(b"5 "), None);
        assert_eq!(strtod_whole(b"1e400"), None);
    }
}
