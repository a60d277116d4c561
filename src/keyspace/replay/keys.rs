//! Commands on whole keys and databases (db.c, expire.c, cluster.c
//! `restoreCommand`, multi.c): DEL, RENAME, MOVE, COPY, SELECT, SWAPDB,
//! FLUSH*, the EXPIRE family, PERSIST, RESTORE, and MULTI/EXEC/DISCARD.
//! Expiry times are set, never applied: the loading server does not expire.

use super::args::{int, is, uint, TimeArg};
use super::{Args, Outcome, Replayer, Res};
use crate::event::{KeyAttrs, OwnedValue};
use crate::keyspace::Entry;

impl Replayer {
    pub(super) fn select(&mut self, a: &Args<'_>) -> Res {
        self.db = uint(a[1])?;
        Ok(())
    }

    /// DEL / UNLINK key…
    pub(super) fn del(&mut self, a: &Args<'_>) -> Res {
        for k in &a[1..] {
            self.db().remove(*k);
        }
        Ok(())
    }

    /// RENAME / RENAMENX src dst (db.c `renameGenericCommand`): with `nx`
    /// an existing destination leaves both keys as they were.
    pub(super) fn rename(&mut self, a: &Args<'_>, nx: bool) -> Res {
        // The source is looked up for a write (db.c `lookupKeyWrite`).
        let Some(mut e) = self.db().remove(a[1]) else { return Err("ERR no such key".into()) };
        e.touched();
        if nx && self.db().contains_key(a[2]) {
            self.db().insert(a[1].to_vec(), e);
        } else {
            self.db().insert(a[2].to_vec(), e);
        }
        Ok(())
    }

    /// MOVE key db.
    pub(super) fn move_key(&mut self, a: &Args<'_>) -> Res {
        let target = uint(a[2])?;
        if target != self.db && !self.keyspace.db(target).contains_key(a[1]) {
            if let Some(mut e) = self.db().remove(a[1]) {
                e.touched();
                self.keyspace.db(target).insert(a[1].to_vec(), e);
            }
        }
        Ok(())
    }

    /// COPY src dst [DB n] [REPLACE].
    pub(super) fn copy(&mut self, a: &Args<'_>) -> Res {
        let mut target = self.db;
        let mut replace = false;
        let mut i = 3;
        while i < a.len() {
            if is(a[i], "REPLACE") {
                replace = true;
            } else if is(a[i], "DB") && i + 1 < a.len() {
                target = uint(a[i + 1])?;
                i += 1;
            }
            i += 1;
        }
        if target == self.db && a[1] == a[2] {
            return Err("ERR source and destination objects are the same".into());
        }
        if let Some(e) = self.db().get(a[1]).map(Entry::copied) {
            let dst = self.keyspace.db(target);
            if replace || !dst.contains_key(a[2]) {
                dst.insert(a[2].to_vec(), e);
            }
        }
        Ok(())
    }

    pub(super) fn swapdb(&mut self, a: &Args<'_>) -> Res {
        let (x, y) = (uint(a[1])?, uint(a[2])?);
        let dx = self.keyspace.dbs.remove(&x).unwrap_or_default();
        let dy = self.keyspace.dbs.remove(&y).unwrap_or_default();
        self.keyspace.dbs.insert(x, dy);
        self.keyspace.dbs.insert(y, dx);
        Ok(())
    }

    pub(super) fn flushdb(&mut self, _: &Args<'_>) -> Res {
        self.db().clear();
        Ok(())
    }

    pub(super) fn flushall(&mut self, _: &Args<'_>) -> Res {
        self.keyspace.dbs.clear();
        Ok(())
    }

    /// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key n [NX|XX|GT|LT]
    /// (expire.c `expireGenericCommand`): `unit` says how `n` counts.
    pub(super) fn expire(&mut self, a: &Args<'_>, unit: TimeArg) -> Res {
        let at = self.absolute_ms(unit, int(a[2])?);
        let flag = a.get(3).map(|f| f.to_ascii_uppercase());
        let Some(e) = self.get_mut(a[1]) else { return Ok(()) };
        let ok = match flag.as_deref() {
            Some(b"NX") => e.expire_at_ms.is_none(),
            Some(b"XX") => e.expire_at_ms.is_some(),
            Some(b"GT") => e.expire_at_ms.is_some_and(|t| at > t),
            Some(b"LT") => e.expire_at_ms.is_none_or(|t| at < t),
            _ => true,
        };
        if ok {
            e.expire_at_ms = Some(at);
        }
        Ok(())
    }

    pub(super) fn persist(&mut self, a: &Args<'_>) -> Res {
        if let Some(e) = self.get_mut(a[1]) {
            e.expire_at_ms = None;
        }
        Ok(())
    }

    /// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ n]
    /// (cluster.c `restoreCommand`): the value of a DUMP payload, read as an
    /// RDB value, with the LRU idle time or LFU counter given (one of them).
    pub(super) fn restore(&mut self, a: &Args<'_>) -> Res {
        let ttl = int(a[2])?;
        if ttl < 0 {
            return Err("ERR Invalid TTL value, must be >= 0".into());
        }
        let (mut replace, mut absttl) = (false, false);
        let mut attrs = KeyAttrs::default();
        let mut i = 4;
        while i < a.len() {
            let value = a.get(i + 1);
            match (a[i].to_ascii_uppercase().as_slice(), value) {
                (b"REPLACE", _) => replace = true,
                (b"ABSTTL", _) => absttl = true,
                (b"IDLETIME", Some(v)) if attrs.freq.is_none() => {
                    let idle = u64::try_from(int(v)?).map_err(|_| "ERR Invalid IDLETIME value, must be >= 0")?;
                    attrs.idle_s = Some(idle);
                    i += 1;
                }
                (b"FREQ", Some(v)) if attrs.idle_s.is_none() => {
                    let freq = u8::try_from(int(v)?).map_err(|_| "ERR Invalid FREQ value, must be >= 0 and <= 255")?;
                    attrs.freq = Some(freq);
                    i += 1;
                }
                _ => return Err("ERR syntax error".into()),
            }
            i += 1;
        }
        if self.db().contains_key(a[1]) && !replace {
            return Err("BUSYKEY Target key name already exists.".into());
        }
        let templates = crate::token::value::Templates::default();
        let value =
            crate::event::dump_payload_value(a[3], &templates).map_err(|e| format!("ERR Bad data format ({e})"))?;
        let obj = OwnedValue::from_source(&value).map_err(|e| format!("ERR Bad data format ({e})"))?;
        attrs.expire_at_ms = match ttl {
            0 => None,
            _ if absttl => Some(TimeArg::AtMillis),
            _ => Some(TimeArg::InMillis),
        }
        .map(|unit| self.absolute_ms(unit, ttl));
        self.db().insert(a[1].to_vec(), Entry::loaded(obj, &attrs));
        Ok(())
    }

    /// MULTI: later commands are queued until EXEC (multi.c).
    pub(super) fn multi(&mut self) -> Outcome {
        self.queued = Some(Vec::new());
        Outcome::Applied
    }

    /// EXEC: the queued commands run; one the model does not know makes the
    /// whole EXEC unknown, errors are counted and the others still run.
    pub(super) fn exec(&mut self) -> Outcome {
        let Some(queued) = self.queued.take() else { return Outcome::Error("ERR EXEC without MULTI".into()) };
        let mut unknown = false;
        for cmd in queued {
            let refs: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            match self.run(&refs) {
                Ok(true) => {}
                Ok(false) => unknown = true,
                Err(_) => self.errors += 1,
            }
        }
        if unknown {
            Outcome::Unknown
        } else {
            Outcome::Applied
        }
    }

    pub(super) fn discard(&mut self) -> Outcome {
        self.queued = None;
        Outcome::Applied
    }
}
