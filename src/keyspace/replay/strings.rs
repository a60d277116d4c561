//! String writes (t_string.c, bitops.c): SET and its variants, counters,
//! APPEND/SETRANGE, and bit writes (SETBIT, BITOP, BITFIELD). An AOF holds
//! no reads, so GET, STRLEN, BITCOUNT… are not here.

use super::args::{float, float_text, int, uint, TimeArg};
use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::OwnedValue;
use crate::keyspace::Entry;

impl Replayer {
    /// SET key value [NX|XX] [GET] [KEEPTTL|EX|PX|EXAT|PXAT n]
    /// (t_string.c `setGenericCommand`).
    pub(super) fn set(&mut self, a: &Args<'_>) -> Res {
        let (mut nx, mut xx, mut keepttl) = (false, false, false);
        let mut expire: Option<i64> = None;
        let mut i = 3;
        while i < a.len() {
            let opt = a[i].to_ascii_uppercase();
            match opt.as_slice() {
                b"NX" => nx = true,
                b"XX" => xx = true,
                b"GET" => {}
                b"KEEPTTL" => keepttl = true,
                b"EX" | b"PX" | b"EXAT" | b"PXAT" => {
                    let n = int(a.get(i + 1).ok_or("ERR syntax error")?)?;
                    expire = TimeArg::option(&opt).map(|unit| self.absolute_ms(unit, n));
                    i += 1;
                }
                _ => return Err("ERR syntax error".into()),
            }
            i += 1;
        }
        let exists = self.db().contains_key(a[1]);
        if (nx && exists) || (xx && !exists) {
            return Ok(());
        }
        let old_ttl = self.db().get(a[1]).and_then(|e| e.expire_at_ms);
        let ttl = if keepttl { old_ttl } else { expire };
        self.db().insert(a[1].to_vec(), Entry::new(OwnedValue::Str(a[2].to_vec()), ttl));
        Ok(())
    }

    pub(super) fn setnx(&mut self, a: &Args<'_>) -> Res {
        if !self.db().contains_key(a[1]) {
            self.db().insert(a[1].to_vec(), Entry::new(OwnedValue::Str(a[2].to_vec()), None));
        }
        Ok(())
    }

    /// SETEX / PSETEX key n value: `unit` says how `n` counts.
    pub(super) fn setex(&mut self, a: &Args<'_>, unit: TimeArg) -> Res {
        let at = self.absolute_ms(unit, int(a[2])?);
        self.db().insert(a[1].to_vec(), Entry::new(OwnedValue::Str(a[3].to_vec()), Some(at)));
        Ok(())
    }

    pub(super) fn getset(&mut self, a: &Args<'_>) -> Res {
        self.db().insert(a[1].to_vec(), Entry::new(OwnedValue::Str(a[2].to_vec()), None));
        Ok(())
    }

    pub(super) fn getdel(&mut self, a: &Args<'_>) -> Res {
        match self.db().get(a[1]) {
            Some(Entry { obj: OwnedValue::Str(_), .. }) => {
                self.db().remove(a[1]);
            }
            Some(_) => return Err(WRONGTYPE.into()),
            None => {}
        }
        Ok(())
    }

    /// Servers log GETEX as PEXPIREAT / PERSIST; older or hand-made files may hold it.
    /// (While loading, an expiry already past is set, not applied: as the server.)
    pub(super) fn getex(&mut self, a: &Args<'_>) -> Res {
        let at = match (a.get(2).map(|o| o.to_ascii_uppercase()), a.len()) {
            (None, _) => return Ok(()),
            (Some(o), 3) if o == b"PERSIST" => None,
            (Some(o), 4) if TimeArg::option(&o).is_some() => {
                let n = int(a[3])?;
                if n <= 0 {
                    return Err("ERR invalid expire time in 'getex' command".into());
                }
                TimeArg::option(&o).map(|unit| self.absolute_ms(unit, n))
            }
            _ => return Err("ERR syntax error".into()),
        };
        match self.get_mut(a[1]) {
            Some(Entry { obj: OwnedValue::Str(_), expire_at_ms, .. }) => *expire_at_ms = at,
            Some(_) => return Err(WRONGTYPE.into()),
            None => {}
        }
        Ok(())
    }

    /// MSET key value…: its own arity message (the table checks none).
    pub(super) fn mset(&mut self, a: &Args<'_>) -> Res {
        if a.len() < 3 || a.len().is_multiple_of(2) {
            return Err("ERR wrong number of arguments for 'mset' command".into());
        }
        for kv in a[1..].chunks(2) {
            self.db().insert(kv[0].to_vec(), Entry::new(OwnedValue::Str(kv[1].to_vec()), None));
        }
        Ok(())
    }

    pub(super) fn msetnx(&mut self, a: &Args<'_>) -> Res {
        if a[1..].chunks(2).all(|kv| !self.db().contains_key(kv[0])) {
            for kv in a[1..].chunks(2).filter(|kv| kv.len() == 2) {
                self.db().insert(kv[0].to_vec(), Entry::new(OwnedValue::Str(kv[1].to_vec()), None));
            }
        }
        Ok(())
    }

    pub(super) fn append(&mut self, a: &Args<'_>) -> Res {
        let s = self.string_or(a[1], b"")?;
        s.extend_from_slice(a[2]);
        Ok(())
    }

    pub(super) fn setrange(&mut self, a: &Args<'_>) -> Res {
        let off = usize::try_from(int(a[2])?).map_err(|_| "ERR offset is out of range".to_string())?;
        if off.saturating_add(a[3].len()) > 512 << 20 {
            return Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)".into());
        }
        if a[3].is_empty() {
            return Ok(());
        }
        let s = self.string_or(a[1], b"")?;
        if s.len() < off + a[3].len() {
            s.resize(off + a[3].len(), 0);
        }
        s[off..off + a[3].len()].copy_from_slice(a[3]);
        Ok(())
    }

    pub(super) fn incrby(&mut self, a: &Args<'_>) -> Res {
        let by = int(a[2])?;
        self.incr(a, by)
    }

    pub(super) fn decrby(&mut self, a: &Args<'_>) -> Res {
        let by = int(a[2])?.checked_neg().ok_or("ERR decrement would overflow")?;
        self.incr(a, by)
    }

    /// INCR, DECR, INCRBY, DECRBY: add `by` to the integer at `a[1]`.
    pub(super) fn incr(&mut self, a: &Args<'_>, by: i64) -> Res {
        let s = self.string_or(a[1], b"0")?;
        let v = int(s)?.checked_add(by).ok_or("ERR increment or decrement would overflow")?;
        *s = v.to_string().into_bytes();
        Ok(())
    }

    pub(super) fn incrbyfloat(&mut self, a: &Args<'_>) -> Res {
        let by = float(a[2])?;
        let s = self.string_or(a[1], b"0")?;
        let v = float(s)? + by;
        if !v.is_finite() {
            return Err("ERR increment would produce NaN or Infinity".into());
        }
        *s = float_text(v);
        Ok(())
    }

    pub(super) fn setbit(&mut self, a: &Args<'_>) -> Res {
        let off = usize::try_from(int(a[2])?)
            .ok()
            .filter(|o| *o < 4 << 30)
            .ok_or("ERR bit offset is not an integer or out of range")?;
        let bit = match a[3] {
            b"0" => false,
            b"1" => true,
            _ => return Err("ERR bit is not an integer or out of range".into()),
        };
        let s = self.string_or(a[1], b"")?;
        let byte = off >> 3;
        if s.len() <= byte {
            s.resize(byte + 1, 0);
        }
        let mask = 1u8 << (7 - (off & 7));
        if bit {
            s[byte] |= mask
        } else {
            s[byte] &= !mask
        }
        Ok(())
    }

    /// BITOP AND|OR|XOR|NOT dst src… (bitops.c `bitopCommand`).
    pub(super) fn bitop(&mut self, a: &Args<'_>) -> Res {
        let op = a[1].to_ascii_uppercase();
        let mut sources: Vec<Vec<u8>> = Vec::new();
        for k in &a[3..] {
            match self.db().get(*k) {
                Some(Entry { obj: OwnedValue::Str(s), .. }) => sources.push(s.clone()),
                Some(_) => return Err(WRONGTYPE.into()),
                None => sources.push(Vec::new()),
            }
        }
        if op == b"NOT" && sources.len() != 1 {
            return Err("ERR BITOP NOT must be called with a single source key.".into());
        }
        let len = sources.iter().map(Vec::len).max().unwrap_or(0);
        let byte = |s: &Vec<u8>, i: usize| s.get(i).copied().unwrap_or(0);
        let result: Vec<u8> = (0..len)
            .map(|i| match op.as_slice() {
                b"AND" => sources.iter().fold(0xff, |acc, s| acc & byte(s, i)),
                b"OR" => sources.iter().fold(0, |acc, s| acc | byte(s, i)),
                b"XOR" => sources.iter().fold(0, |acc, s| acc ^ byte(s, i)),
                _ => !byte(&sources[0], i),
            })
            .collect();
        if !matches!(op.as_slice(), b"AND" | b"OR" | b"XOR" | b"NOT") {
            return Err("ERR syntax error".into());
        }
        if result.is_empty() {
            self.db().remove(a[2]);
        } else {
            self.db().insert(a[2].to_vec(), Entry::new(OwnedValue::Str(result), None));
        }
        Ok(())
    }

    /// BITFIELD key [GET type off] [SET type off value] [INCRBY type off incr]
    /// [OVERFLOW WRAP|SAT|FAIL] …: only the writes matter to the keyspace.
    pub(super) fn bitfield(&mut self, a: &Args<'_>) -> Res {
        // Parse everything first: a syntax error anywhere changes nothing.
        enum Op {
            Set(Field, i64),
            Incr(Field, i64),
        }
        let mut ops = Vec::new();
        let mut overflow = b"WRAP".to_vec();
        let mut i = 2;
        while i < a.len() {
            let sub = a[i].to_ascii_uppercase();
            match sub.as_slice() {
                b"GET" => {
                    field_spec(a.get(i + 1).ok_or("ERR syntax error")?, a.get(i + 2).ok_or("ERR syntax error")?)?;
                    i += 3;
                }
                b"SET" | b"INCRBY" => {
                    let f =
                        field_spec(a.get(i + 1).ok_or("ERR syntax error")?, a.get(i + 2).ok_or("ERR syntax error")?)?;
                    let v = int(a.get(i + 3).ok_or("ERR syntax error")?)?;
                    let f = Field { overflow: overflow.clone(), ..f };
                    ops.push(if sub == b"SET" { Op::Set(f, v) } else { Op::Incr(f, v) });
                    i += 4;
                }
                b"OVERFLOW" => {
                    overflow = a.get(i + 1).ok_or("ERR syntax error")?.to_ascii_uppercase();
                    if !matches!(overflow.as_slice(), b"WRAP" | b"SAT" | b"FAIL") {
                        return Err("ERR Invalid OVERFLOW type specified".into());
                    }
                    i += 2;
                }
                _ => return Err("ERR syntax error".into()),
            }
        }
        if ops.is_empty() {
            return Ok(());
        }
        let s = self.string_or(a[1], b"")?;
        for op in ops {
            let (f, new) = match op {
                Op::Set(f, v) => {
                    let v = f.fit(v as i128);
                    (f, v)
                }
                Op::Incr(f, by) => {
                    let old = f.read(s);
                    let v = f.fit(old + by as i128);
                    (f, v)
                }
            };
            if let Some(v) = new {
                f.write(s, v);
            }
        }

        Ok(())
    }
}

/// A BITFIELD field: signedness, width, bit offset, overflow policy.
struct Field {
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Vec<u8>,
}

fn field_spec(ty: &[u8], off: &[u8]) -> Result<Field, String> {
    let bad = || {
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.".to_string()
    };
    let signed = match ty.first() {
        Some(b'i' | b'I') => true,
        Some(b'u' | b'U') => false,
        _ => return Err(bad()),
    };
    let bits: u32 = std::str::from_utf8(&ty[1..]).ok().and_then(|b| b.parse().ok()).ok_or_else(bad)?;
    if bits == 0 || bits > 64 || (!signed && bits == 64) {
        return Err(bad());
    }
    let offset = match off.strip_prefix(b"#") {
        Some(n) => uint(n)?.checked_mul(u64::from(bits)),
        None => Some(uint(off)?),
    }
    .filter(|o| *o < (4u64 << 30) * 8)
    .ok_or("ERR bit offset is not an integer or out of range")?;
    Ok(Field { signed, bits, offset, overflow: Vec::new() })
}

impl Field {
    fn read(&self, s: &[u8]) -> i128 {
        let mut v: u64 = 0;
        for k in 0..u64::from(self.bits) {
            let bit = self.offset + k;
            let byte = s.get((bit >> 3) as usize).copied().unwrap_or(0);
            v = (v << 1) | u64::from((byte >> (7 - (bit & 7))) & 1);
        }
        if self.signed && self.bits < 64 && v >> (self.bits - 1) & 1 == 1 {
            i128::from(v) - (1i128 << self.bits)
        } else if self.signed {
            i128::from(v as i64)
        } else {
            i128::from(v)
        }
    }

    /// The value after the overflow policy; `None` when FAIL refuses it.
    fn fit(&self, v: i128) -> Option<i128> {
        let (min, max) = if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        };
        if (min..=max).contains(&v) {
            return Some(v);
        }
        match self.overflow.as_slice() {
            b"SAT" => Some(v.clamp(min, max)),
            b"FAIL" => None,
            _ => {
                let m = 1i128 << self.bits;
                let w = v.rem_euclid(m);
                Some(if self.signed && w > max { w - m } else { w })
            }
        }
    }

    fn write(&self, s: &mut Vec<u8>, v: i128) {
        let last = ((self.offset + u64::from(self.bits) - 1) >> 3) as usize;
        if s.len() <= last {
            s.resize(last + 1, 0);
        }
        let bits = v as u64;
        for k in 0..u64::from(self.bits) {
            let bit = self.offset + k;
            let on = (bits >> (u64::from(self.bits) - 1 - k)) & 1 == 1;
            let mask = 1u8 << (7 - (bit & 7));
            let byte = &mut s[(bit >> 3) as usize];
            if on {
                *byte |= mask
            } else {
                *byte &= !mask
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::run;
    use super::super::{Outcome, Replayer};

    /// GETEX as the server runs it (its own AOFs hold PEXPIREAT/PERSIST
    /// instead, so the live differential test cannot cover it).
    #[test]
    fn getex_sets_and_removes_expiries_of_strings_only() {
        let mut r = Replayer::new();
        run(&mut r, &["SET", "k", "v"]);
        run(&mut r, &["RPUSH", "l", "x"]);
        assert_eq!(run(&mut r, &["GETEX", "k", "PXAT", "4102444800000"]), Outcome::Applied);
        assert_eq!(r.keyspace.db(0)[b"k".as_slice()].expire_at_ms, Some(4102444800000));
        assert_eq!(run(&mut r, &["GETEX", "k", "EXAT", "4102444801"]), Outcome::Applied);
        assert_eq!(r.keyspace.db(0)[b"k".as_slice()].expire_at_ms, Some(4102444801000));
        assert_eq!(run(&mut r, &["GETEX", "k"]), Outcome::Applied);
        assert_eq!(r.keyspace.db(0)[b"k".as_slice()].expire_at_ms, Some(4102444801000));
        assert_eq!(run(&mut r, &["GETEX", "k", "PERSIST"]), Outcome::Applied);
        assert_eq!(r.keyspace.db(0)[b"k".as_slice()].expire_at_ms, None);
        assert!(matches!(run(&mut r, &["GETEX", "k", "EX", "0"]), Outcome::Error(_)));
        assert!(matches!(run(&mut r, &["GETEX", "k", "EX"]), Outcome::Error(_)));
        assert!(matches!(run(&mut r, &["GETEX", "l", "PERSIST"]), Outcome::Error(e) if e.starts_with("WRONGTYPE")));
        assert!(matches!(run(&mut r, &["GETDEL", "l"]), Outcome::Error(e) if e.starts_with("WRONGTYPE")));
        assert!(r.keyspace.db(0).contains_key(b"l".as_slice()), "GETDEL of a list deletes nothing");
        assert_eq!(run(&mut r, &["PUBLISH", "channel", "message"]), Outcome::Applied);
    }
}
