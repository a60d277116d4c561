//! Hash writes (t_hash.c): HSET/HMSET, HSETNX, HDEL, HINCRBY(FLOAT) and the
//! field TTLs of Redis 7.4+ (HEXPIRE family, HPERSIST, HSETEX, HGETEX). A
//! field TTL already past is set, not applied: the loading server keeps the
//! field.

use super::args::{fields_arg, float, float_text, int, is, uint, TimeArg};
use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::value::{HashField, OwnedValue};
use crate::keyspace::{remove_field, Entry};
use indexmap::IndexMap;

impl Replayer {
    fn hash_or_new(&mut self, key: &[u8]) -> Result<&mut IndexMap<Vec<u8>, HashField>, String> {
        match self.obj_or(key, || OwnedValue::Hash(IndexMap::new()), |o| matches!(o, OwnedValue::Hash(_)))? {
            OwnedValue::Hash(h) => Ok(h),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    /// HSET / HMSET key field value…: its own arity message (the table
    /// checks none).
    pub(super) fn hset(&mut self, a: &Args<'_>) -> Res {
        if a.len() < 4 || !a.len().is_multiple_of(2) {
            return Err("ERR wrong number of arguments for 'hset' command".into());
        }
        let h = self.hash_or_new(a[1])?;
        for fv in a[2..].chunks(2) {
            // Setting a field drops its TTL.
            h.insert(fv[0].to_vec(), (fv[1].to_vec(), None));
        }
        Ok(())
    }

    pub(super) fn hsetnx(&mut self, a: &Args<'_>) -> Res {
        let h = self.hash_or_new(a[1])?;
        h.entry(a[2].to_vec()).or_insert_with(|| (a[3].to_vec(), None));
        Ok(())
    }

    pub(super) fn hdel(&mut self, a: &Args<'_>) -> Res {
        match self.get_mut(a[1]) {
            Some(Entry { obj: OwnedValue::Hash(h), .. }) => a[2..].iter().for_each(|f| {
                remove_field(h, f);
            }),
            Some(_) => return Err(WRONGTYPE.into()),
            None => {}
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// HINCRBY / HINCRBYFLOAT (`float_mode`) key field n: the field keeps its TTL.
    pub(super) fn hincrby(&mut self, a: &Args<'_>, float_mode: bool) -> Res {
        let h = self.hash_or_new(a[1])?;
        let cur = h.get(a[2]).map(|(v, _)| v.clone()).unwrap_or_else(|| b"0".to_vec());
        let ttl = h.get(a[2]).and_then(|(_, t)| *t);
        let new = if float_mode {
            let v = float(&cur)? + float(a[3])?;
            float_text(v)
        } else {
            int(&cur)?.checked_add(int(a[3])?).ok_or("ERR increment would overflow")?.to_string().into_bytes()
        };
        h.insert(a[2].to_vec(), (new, ttl));
        Ok(())
    }

    /// HEXPIRE / HPEXPIRE / HEXPIREAT / HPEXPIREAT key n [NX|XX|GT|LT]
    /// FIELDS k f… (t_hash.c `hexpireGenericCommand`): `unit` says how `n`
    /// counts.
    pub(super) fn hexpire(&mut self, a: &Args<'_>, unit: TimeArg) -> Res {
        let n = int(a[2])?;
        if n < 0 {
            return Err("ERR invalid expire time, must be >= 0".into());
        }
        let at = self.absolute_ms(unit, n);
        if at > crate::format::MAX_HASH_FIELD_TTL_MS {
            return Err("ERR invalid expire time".into());
        }
        // Optional NX|XX|GT|LT before FIELDS.
        let (cond, fields_at) = if is(a[3], "FIELDS") { (None, 3) } else { (Some(a[3].to_ascii_uppercase()), 4) };
        let fields = fields_arg(a, fields_at)?;
        if let Some(Entry { obj: OwnedValue::Hash(h), .. }) = self.get_mut(a[1]) {
            for f in fields {
                let Some((_, t)) = h.get_mut(f) else { continue };
                let ok = match cond.as_deref() {
                    Some(b"NX") => t.is_none(),
                    Some(b"XX") => t.is_some(),
                    Some(b"GT") => t.is_some_and(|c| at > c),
                    Some(b"LT") => t.is_none_or(|c| at < c),
                    _ => true,
                };
                if ok {
                    *t = Some(at);
                }
            }
            // A time already past is set, not applied: the loading server
            // keeps the field with that TTL (t_hash.c `hashTypeSetEx` deletes
            // only when `checkAlreadyExpired()`, which is false while loading).
        }
        Ok(())
    }

    /// HPERSIST key FIELDS n f…
    pub(super) fn hpersist(&mut self, a: &Args<'_>) -> Res {
        let fields = fields_arg(a, 2)?;
        if let Some(Entry { obj: OwnedValue::Hash(h), .. }) = self.get_mut(a[1]) {
            for f in fields {
                if let Some((_, t)) = h.get_mut(f) {
                    *t = None;
                }
            }
        }
        Ok(())
    }

    /// HSETEX key [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] FIELDS n f v …
    pub(super) fn hsetex(&mut self, a: &Args<'_>) -> Res {
        let (mut fnx, mut fxx, mut keepttl) = (false, false, false);
        let mut ttl: Option<i64> = None;
        let mut i = 2;
        while i < a.len() && !is(a[i], "FIELDS") {
            match a[i].to_ascii_uppercase().as_slice() {
                b"FNX" => fnx = true,
                b"FXX" => fxx = true,
                b"KEEPTTL" => keepttl = true,
                opt @ (b"EX" | b"PX" | b"EXAT" | b"PXAT") => {
                    let n = int(a.get(i + 1).ok_or("ERR syntax error")?)?;
                    ttl = TimeArg::option(opt).map(|unit| self.absolute_ms(unit, n));
                    i += 1;
                }
                _ => return Err("ERR syntax error".into()),
            }
            i += 1;
        }
        let n = uint(a.get(i + 1).ok_or("ERR syntax error")?)? as usize;
        let pairs = a.get(i + 2..).ok_or("ERR syntax error")?;
        if pairs.len() != n * 2 {
            return Err("ERR wrong number of fields".into());
        }
        let h = self.hash_or_new(a[1])?;
        let any = pairs.chunks(2).any(|p| h.contains_key(p[0]));
        let all = pairs.chunks(2).all(|p| h.contains_key(p[0]));
        if (fnx && any) || (fxx && !all) {
            // Nothing set.
        } else {
            for p in pairs.chunks(2) {
                let old = h.get(p[0]).and_then(|(_, t)| *t);
                h.insert(p[0].to_vec(), (p[1].to_vec(), if keepttl { old } else { ttl }));
            }
        }

        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// HGETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] FIELDS n f … (Redis 8.0;
    /// servers log it as HPEXPIREAT / HPERSIST, hand-made files may hold it):
    /// sets or clears the TTL of the fields that exist.
    pub(super) fn hgetex(&mut self, a: &Args<'_>) -> Res {
        let opt = a[2].to_ascii_uppercase();
        let (ttl, fields_at) = match TimeArg::option(&opt) {
            Some(unit) => {
                let n = int(a[3])?;
                if n <= 0 {
                    return Err("ERR invalid expire time, must be >= 0".into());
                }
                (Some(Some(self.absolute_ms(unit, n))), 4)
            }
            None if opt == b"PERSIST" => (Some(None), 3),
            None => (None, 2),
        };
        let fields = fields_arg(a, fields_at)?;
        let Some(ttl) = ttl else { return Ok(()) };
        if ttl.is_some_and(|t| t > crate::format::MAX_HASH_FIELD_TTL_MS) {
            return Err("ERR invalid expire time".into());
        }
        match self.get_mut(a[1]) {
            Some(Entry { obj: OwnedValue::Hash(h), .. }) => {
                for f in fields {
                    if let Some((_, t)) = h.get_mut(f) {
                        // Set even when already past: the loading server does not expire.
                        *t = ttl;
                    }
                }
                Ok(())
            }
            Some(_) => Err(WRONGTYPE.into()),
            None => Ok(()),
        }
    }
}
