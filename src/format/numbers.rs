//! How Redis writes a double as text: scores in compact sorted sets, AOF
//! rewrites and RESP commands, and the result of INCRBYFLOAT (`score_text`);
//! C's `%.17g`, which RDB versions before 8 use for a sorted set's scores
//! (`format_g17`). Here, below every layer, because the replay computes
//! values with them as well as the writers writing them.

/// A score as Redis writes it in compact sorted sets and AOF rewrites: `inf` /
/// `-inf`, integral values as integers, others as the shortest text that reads
/// back to the same double.
pub fn score_text(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if score == score.trunc() && score.abs() < (1u64 << 53) as f64 {
        return (score as i64).to_string();
    }
    ryu::Buffer::new().format_finite(score).to_string()
}

/// C's `%.17g` for a finite double.
pub fn format_g17(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    const P: i32 = 17;
    let sci = format!("{:.*e}", (P - 1) as usize, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..P).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.abs())
    } else {
        let decimals = (P - 1 - exp).max(0) as usize;
        strip(&format!("{v:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_like_c() {
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(100.0), "100");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(1.25e-5), "1.2500000000000001e-05");
        assert_eq!(format_g17(-3.0), "-3");
        assert_eq!(format_g17(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(format_g17(0.0001), "0.0001");
    }
}
