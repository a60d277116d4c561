//! Replaying AOF commands into a [`Keyspace`] with the server's semantics for
//! what an AOF holds: the write commands as propagated (absolute expiries,
//! exact trims, XCLAIM for group reads), MULTI/EXEC, SELECT, FUNCTION.
//!
//! A command the model does not know is reported ([`Outcome::Unknown`]); one
//! that the server would answer with an error (wrong type, bad number) changes
//! nothing and is counted, as the server logs and goes on when loading.

use super::stream::{parse_id, GroupObj, Pending, StreamObj};
use super::{geo, hll};
use super::{Entry, Keyspace, Obj, ZsetObj};
use crate::event::StreamId;
use crate::token::parse_canonical_i64;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What one command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The server would reply with this error and change nothing.
    Error(String),
    /// Not a command this model knows.
    Unknown,
}

type Args<'a> = [&'a [u8]];
type Res = Result<(), String>;

fn int(b: &[u8]) -> Result<i64, String> {
    parse_canonical_i64(b).ok_or_else(|| "ERR value is not an integer or out of range".to_string())
}

fn uint(b: &[u8]) -> Result<u64, String> {
    u64::try_from(int(b)?).map_err(|_| "ERR value is out of range".to_string())
}

fn float(b: &[u8]) -> Result<f64, String> {
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

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// How an expiry argument counts: from now (`EX`, `EXPIRE`, `HPEXPIRE`…) or
/// from the epoch (`EXAT`, `PEXPIREAT`…), in seconds or milliseconds.
#[derive(Clone, Copy)]
enum TimeArg {
    InSeconds,
    InMillis,
    AtSeconds,
    AtMillis,
}

impl TimeArg {
    /// The unit of a SET/GETEX/HSETEX option or of an EXPIRE-family command name.
    fn of(word: &[u8]) -> Option<TimeArg> {
        Some(match word {
            b"EX" | b"EXPIRE" | b"HEXPIRE" | b"SETEX" => TimeArg::InSeconds,
            b"PX" | b"PEXPIRE" | b"HPEXPIRE" | b"PSETEX" => TimeArg::InMillis,
            b"EXAT" | b"EXPIREAT" | b"HEXPIREAT" => TimeArg::AtSeconds,
            b"PXAT" | b"PEXPIREAT" | b"HPEXPIREAT" => TimeArg::AtMillis,
            _ => return None,
        })
    }
}

/// Text of a number as Redis stores it after INCRBYFLOAT / HINCRBYFLOAT (%.17Lg
/// without trailing zeros: shortest round trip is what it prints for doubles).
fn float_text(f: f64) -> Vec<u8> {
    crate::output::rdb::encode::score_text(f).into_bytes()
}

/// Replays commands; one per AOF.
pub struct Replayer {
    pub keyspace: Keyspace,
    /// The clock of the server that loads the AOF (Unix ms): relative times
    /// (`EXPIRE k 10`, `SET … EX`, `XADD *`, `XCLAIM … IDLE`) count from it.
    /// Nothing is compared with it: while loading, the server sets a time
    /// already past instead of expiring (expire.c `checkAlreadyExpired` is
    /// false while `server.loading`), so the replay never expires anything.
    now_ms: i64,
    db: u64,
    /// Commands queued inside MULTI.
    queued: Option<Vec<Vec<Vec<u8>>>>,
    pub errors: u64,
    /// What the model could only approximate (reported by convert).
    pub notes: Vec<String>,
}

impl Default for Replayer {
    fn default() -> Self {
        Self::new()
    }
}

impl Replayer {
    /// A replay on the system clock.
    pub fn new() -> Self {
        Self::at(crate::clock::system_now_ms())
    }

    /// A replay whose relative times count from `now_ms` (`--now`).
    pub fn at(now_ms: i64) -> Self {
        Replayer { keyspace: Keyspace::default(), now_ms, db: 0, queued: None, errors: 0, notes: Vec::new() }
    }

    /// The absolute Unix ms that `n` in `unit` names, counted as the loading
    /// server counts it (saturating, as the server refuses what overflows).
    fn absolute_ms(&self, unit: TimeArg, n: i64) -> i64 {
        match unit {
            TimeArg::InSeconds => self.now_ms.saturating_add(n.saturating_mul(1000)),
            TimeArg::InMillis => self.now_ms.saturating_add(n),
            TimeArg::AtSeconds => n.saturating_mul(1000),
            TimeArg::AtMillis => n,
        }
    }

    /// A new file starts: the server replays each with a fresh client (db 0,
    /// no open transaction).
    pub fn new_client(&mut self) {
        self.db = 0;
        self.queued = None;
    }

    /// Insert a key read from an RDB preamble or base.
    pub fn load_key(&mut self, db: u64, key: Vec<u8>, obj: Obj, expire_at_ms: Option<i64>) {
        self.keyspace.db(db).insert(key, Entry { obj, expire_at_ms });
    }

    pub fn load_function(&mut self, code: &[u8]) {
        let name = library_name(code).unwrap_or_default();
        self.keyspace.functions.retain(|(n, _)| *n != name);
        self.keyspace.functions.push((name, code.to_vec()));
    }

    /// Apply one command.
    pub fn apply(&mut self, args: &Args<'_>) -> Outcome {
        let Some(name) = args.first() else { return Outcome::Error("ERR empty command".into()) };
        let upper = name.to_ascii_uppercase();
        match upper.as_slice() {
            b"MULTI" => {
                self.queued = Some(Vec::new());
                return Outcome::Applied;
            }
            b"EXEC" => {
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
                return if unknown { Outcome::Unknown } else { Outcome::Applied };
            }
            b"DISCARD" => {
                self.queued = None;
                return Outcome::Applied;
            }
            _ => {}
        }
        if let Some(q) = &mut self.queued {
            if !self::known(&upper) {
                return Outcome::Unknown;
            }
            q.push(args.iter().map(|a| a.to_vec()).collect());
            return Outcome::Applied;
        }
        match self.run(args) {
            Ok(true) => Outcome::Applied,
            Ok(false) => Outcome::Unknown,
            Err(e) => {
                self.errors += 1;
                Outcome::Error(e)
            }
        }
    }

    fn db(&mut self) -> &mut BTreeMap<Vec<u8>, Entry> {
        self.keyspace.db(self.db)
    }

    fn arity(args: &Args<'_>, min: usize) -> Res {
        if args.len() < min {
            return Err(format!("ERR wrong number of arguments for '{}' command", String::from_utf8_lossy(args[0])));
        }
        Ok(())
    }

    /// The object at `key` if it has the wanted type (`None` if missing).
    fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.db().get_mut(key)
    }

    /// Remove collections left empty.
    fn drop_if_empty(&mut self, key: &[u8]) {
        if self.db().get(key).is_some_and(|e| e.obj.is_empty_collection()) {
            self.db().remove(key);
        }
    }

    /// The object at `key`, created with `make` when missing; WRONGTYPE if `check` fails.
    fn obj_or(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> Obj,
        check: impl Fn(&Obj) -> bool,
    ) -> Result<&mut Obj, String> {
        let db = self.db();
        if !db.contains_key(key) {
            db.insert(key.to_vec(), Entry { obj: make(), expire_at_ms: None });
        }
        let e = db.get_mut(key).expect("present");
        if !check(&e.obj) {
            return Err(WRONGTYPE.into());
        }
        Ok(&mut e.obj)
    }

    /// The string at `key`, created as `init` when missing; WRONGTYPE otherwise.
    fn string_or(&mut self, key: &[u8], init: &[u8]) -> Result<&mut Vec<u8>, String> {
        match self.obj_or(key, || Obj::Str(init.to_vec()), |o| matches!(o, Obj::Str(_)))? {
            Obj::Str(s) => Ok(s),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    fn list_or_new(&mut self, key: &[u8]) -> Result<&mut VecDeque<Vec<u8>>, String> {
        match self.obj_or(key, || Obj::List(VecDeque::new()), |o| matches!(o, Obj::List(_)))? {
            Obj::List(l) => Ok(l),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    fn set_or_new(&mut self, key: &[u8]) -> Result<&mut BTreeSet<Vec<u8>>, String> {
        match self.obj_or(key, || Obj::Set(BTreeSet::new()), |o| matches!(o, Obj::Set(_)))? {
            Obj::Set(s) => Ok(s),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    fn zset_or_new(&mut self, key: &[u8]) -> Result<&mut ZsetObj, String> {
        match self.obj_or(key, || Obj::Zset(ZsetObj::default()), |o| matches!(o, Obj::Zset(_)))? {
            Obj::Zset(z) => Ok(z),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    fn hash_or_new(&mut self, key: &[u8]) -> Result<&mut BTreeMap<Vec<u8>, super::HashField>, String> {
        match self.obj_or(key, || Obj::Hash(BTreeMap::new()), |o| matches!(o, Obj::Hash(_)))? {
            Obj::Hash(h) => Ok(h),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    fn stream_or_new(&mut self, key: &[u8]) -> Result<&mut StreamObj, String> {
        match self.obj_or(key, || Obj::Stream(Box::default()), |o| matches!(o, Obj::Stream(_)))? {
            Obj::Stream(s) => Ok(s),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    /// An array's elements and insert cursor.
    #[allow(clippy::type_complexity)]
    fn array_or_new(&mut self, key: &[u8]) -> Result<(&mut BTreeMap<u64, super::ArrayVal>, &mut Option<u64>), String> {
        let make = || Obj::Array { elements: BTreeMap::new(), cursor: None };
        match self.obj_or(key, make, |o| matches!(o, Obj::Array { .. }))? {
            Obj::Array { elements, cursor } => Ok((elements, cursor)),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    /// Run a command; `Ok(false)` when unknown.
    fn run(&mut self, a: &Args<'_>) -> Result<bool, String> {
        let upper = a[0].to_ascii_uppercase();
        match upper.as_slice() {
            b"SELECT" => {
                Self::arity(a, 2)?;
                self.db = uint(a[1])?;
            }
            // No data changes (PUBLISH appears where a replication stream was saved as an AOF).
            b"PING" | b"ECHO" | b"PUBLISH" | b"SPUBLISH" => {}
            b"SET" => self.set(a)?,
            b"SETNX" => {
                Self::arity(a, 3)?;
                if !self.db().contains_key(a[1]) {
                    self.db().insert(a[1].to_vec(), Entry { obj: Obj::Str(a[2].to_vec()), expire_at_ms: None });
                }
            }
            b"SETEX" | b"PSETEX" => {
                Self::arity(a, 4)?;
                let unit = TimeArg::of(&upper).expect("SETEX and PSETEX count from now");
                let at = self.absolute_ms(unit, int(a[2])?);
                self.db().insert(a[1].to_vec(), Entry { obj: Obj::Str(a[3].to_vec()), expire_at_ms: Some(at) });
            }
            b"GETSET" => {
                Self::arity(a, 3)?;
                self.db().insert(a[1].to_vec(), Entry { obj: Obj::Str(a[2].to_vec()), expire_at_ms: None });
            }
            b"GETDEL" => {
                Self::arity(a, 2)?;
                match self.db().get(a[1]) {
                    Some(Entry { obj: Obj::Str(_), .. }) => {
                        self.db().remove(a[1]);
                    }
                    Some(_) => return Err(WRONGTYPE.into()),
                    None => {}
                }
            }
            // Servers log GETEX as PEXPIREAT / PERSIST; older or hand-made files may hold it.
            // (While loading, an expiry already past is set, not applied: as the server.)
            b"GETEX" => {
                Self::arity(a, 2)?;
                let at = match (a.get(2).map(|o| o.to_ascii_uppercase()), a.len()) {
                    (None, _) => return Ok(true),
                    (Some(o), 3) if o == b"PERSIST" => None,
                    (Some(o), 4) if TimeArg::of(&o).is_some() => {
                        let n = int(a[3])?;
                        if n <= 0 {
                            return Err("ERR invalid expire time in 'getex' command".into());
                        }
                        TimeArg::of(&o).map(|unit| self.absolute_ms(unit, n))
                    }
                    _ => return Err("ERR syntax error".into()),
                };
                match self.get_mut(a[1]) {
                    Some(Entry { obj: Obj::Str(_), expire_at_ms }) => *expire_at_ms = at,
                    Some(_) => return Err(WRONGTYPE.into()),
                    None => {}
                }
            }
            b"MSET" => {
                if a.len() < 3 || a.len().is_multiple_of(2) {
                    return Err("ERR wrong number of arguments for 'mset' command".into());
                }
                for kv in a[1..].chunks(2) {
                    self.db().insert(kv[0].to_vec(), Entry { obj: Obj::Str(kv[1].to_vec()), expire_at_ms: None });
                }
            }
            b"MSETNX" => {
                if a[1..].chunks(2).all(|kv| !self.db().contains_key(kv[0])) {
                    for kv in a[1..].chunks(2).filter(|kv| kv.len() == 2) {
                        self.db().insert(kv[0].to_vec(), Entry { obj: Obj::Str(kv[1].to_vec()), expire_at_ms: None });
                    }
                }
            }
            b"APPEND" => {
                Self::arity(a, 3)?;
                let s = self.string_or(a[1], b"")?;
                s.extend_from_slice(a[2]);
            }
            b"SETRANGE" => {
                Self::arity(a, 4)?;
                let off = usize::try_from(int(a[2])?).map_err(|_| "ERR offset is out of range".to_string())?;
                if off.saturating_add(a[3].len()) > 512 << 20 {
                    return Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)".into());
                }
                if a[3].is_empty() {
                    return Ok(true);
                }
                let s = self.string_or(a[1], b"")?;
                if s.len() < off + a[3].len() {
                    s.resize(off + a[3].len(), 0);
                }
                s[off..off + a[3].len()].copy_from_slice(a[3]);
            }
            b"INCR" | b"DECR" | b"INCRBY" | b"DECRBY" => {
                let by = match upper.as_slice() {
                    b"INCR" => 1,
                    b"DECR" => -1,
                    b"INCRBY" => {
                        Self::arity(a, 3)?;
                        int(a[2])?
                    }
                    _ => {
                        Self::arity(a, 3)?;
                        int(a[2])?.checked_neg().ok_or("ERR decrement would overflow")?
                    }
                };
                Self::arity(a, 2)?;
                let s = self.string_or(a[1], b"0")?;
                let v = int(s)?.checked_add(by).ok_or("ERR increment or decrement would overflow")?;
                *s = v.to_string().into_bytes();
            }
            b"INCRBYFLOAT" => {
                Self::arity(a, 3)?;
                let by = float(a[2])?;
                let s = self.string_or(a[1], b"0")?;
                let v = float(s)? + by;
                if !v.is_finite() {
                    return Err("ERR increment would produce NaN or Infinity".into());
                }
                *s = float_text(v);
            }
            b"DEL" | b"UNLINK" => {
                for k in &a[1..] {
                    self.db().remove(*k);
                }
            }
            b"RENAME" | b"RENAMENX" => {
                Self::arity(a, 3)?;
                let Some(e) = self.db().remove(a[1]) else { return Err("ERR no such key".into()) };
                if upper == b"RENAMENX" && self.db().contains_key(a[2]) {
                    self.db().insert(a[1].to_vec(), e);
                } else {
                    self.db().insert(a[2].to_vec(), e);
                }
            }
            b"MOVE" => {
                Self::arity(a, 3)?;
                let target = uint(a[2])?;
                if target != self.db && !self.keyspace.db(target).contains_key(a[1]) {
                    if let Some(e) = self.db().remove(a[1]) {
                        self.keyspace.db(target).insert(a[1].to_vec(), e);
                    }
                }
            }
            b"COPY" => {
                Self::arity(a, 3)?;
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
                if let Some(e) = self.db().get(a[1]).cloned() {
                    let dst = self.keyspace.db(target);
                    if replace || !dst.contains_key(a[2]) {
                        dst.insert(a[2].to_vec(), e);
                    }
                }
            }
            b"SWAPDB" => {
                Self::arity(a, 3)?;
                let (x, y) = (uint(a[1])?, uint(a[2])?);
                let dx = self.keyspace.dbs.remove(&x).unwrap_or_default();
                let dy = self.keyspace.dbs.remove(&y).unwrap_or_default();
                self.keyspace.dbs.insert(x, dy);
                self.keyspace.dbs.insert(y, dx);
            }
            b"FLUSHDB" => {
                self.db().clear();
            }
            b"FLUSHALL" => {
                self.keyspace.dbs.clear();
            }
            b"EXPIRE" | b"PEXPIRE" | b"EXPIREAT" | b"PEXPIREAT" => self.expire(&upper, a)?,
            b"PERSIST" => {
                Self::arity(a, 2)?;
                if let Some(e) = self.get_mut(a[1]) {
                    e.expire_at_ms = None;
                }
            }
            b"LPUSH" | b"RPUSH" | b"LPUSHX" | b"RPUSHX" => {
                Self::arity(a, 3)?;
                let only_existing = upper.ends_with(b"X");
                if only_existing && !self.db().contains_key(a[1]) {
                    return Ok(true);
                }
                let left = upper[0] == b'L';
                let l = self.list_or_new(a[1])?;
                for v in &a[2..] {
                    if left {
                        l.push_front(v.to_vec())
                    } else {
                        l.push_back(v.to_vec())
                    }
                }
            }
            b"LPOP" | b"RPOP" => {
                Self::arity(a, 2)?;
                let count = if a.len() > 2 { uint(a[2])? } else { 1 };
                let left = upper[0] == b'L';
                if let Some(Entry { obj: Obj::List(l), .. }) = self.get_mut(a[1]) {
                    for _ in 0..count {
                        if left {
                            l.pop_front();
                        } else {
                            l.pop_back();
                        }
                    }
                } else if self.db().contains_key(a[1]) {
                    return Err(WRONGTYPE.into());
                }
                self.drop_if_empty(a[1]);
            }
            b"RPOPLPUSH" | b"LMOVE" => {
                Self::arity(a, 3)?;
                let (from_left, to_left) = if upper == b"LMOVE" {
                    Self::arity(a, 5)?;
                    (is(a[3], "LEFT"), is(a[4], "LEFT"))
                } else {
                    (false, true)
                };
                if a[1] == a[2] {
                    // Rotating a list onto itself: the key (and its TTL) stays.
                    if let Some(Entry { obj: Obj::List(l), .. }) = self.get_mut(a[1]) {
                        let v = if from_left { l.pop_front() } else { l.pop_back() };
                        if let Some(v) = v {
                            if to_left {
                                l.push_front(v)
                            } else {
                                l.push_back(v)
                            }
                        }
                    } else if self.db().contains_key(a[1]) {
                        return Err(WRONGTYPE.into());
                    }
                    return Ok(true);
                }
                if matches!(self.db().get(a[2]), Some(e) if !matches!(e.obj, Obj::List(_))) {
                    return Err(WRONGTYPE.into());
                }
                let v = match self.get_mut(a[1]) {
                    Some(Entry { obj: Obj::List(l), .. }) => {
                        if from_left {
                            l.pop_front()
                        } else {
                            l.pop_back()
                        }
                    }
                    Some(_) => return Err(WRONGTYPE.into()),
                    None => None,
                };
                self.drop_if_empty(a[1]);
                if let Some(v) = v {
                    let l = self.list_or_new(a[2])?;
                    if to_left {
                        l.push_front(v)
                    } else {
                        l.push_back(v)
                    }
                }
            }
            b"LSET" => {
                Self::arity(a, 4)?;
                let i = int(a[2])?;
                match self.get_mut(a[1]) {
                    Some(Entry { obj: Obj::List(l), .. }) => {
                        let idx = if i < 0 { l.len() as i64 + i } else { i };
                        let slot =
                            usize::try_from(idx).ok().and_then(|i| l.get_mut(i)).ok_or("ERR index out of range")?;
                        *slot = a[3].to_vec();
                    }
                    Some(_) => return Err(WRONGTYPE.into()),
                    None => return Err("ERR no such key".into()),
                }
            }
            b"LTRIM" => {
                Self::arity(a, 4)?;
                let (start, stop) = (int(a[2])?, int(a[3])?);
                if let Some(Entry { obj: Obj::List(l), .. }) = self.get_mut(a[1]) {
                    let n = l.len() as i64;
                    let s = if start < 0 { (n + start).max(0) } else { start };
                    let e = if stop < 0 { n + stop } else { stop.min(n - 1) };
                    if s > e || s >= n {
                        l.clear();
                    } else {
                        l.truncate(e as usize + 1);
                        l.drain(..s as usize);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"LREM" => {
                Self::arity(a, 4)?;
                let count = int(a[2])?;
                if let Some(Entry { obj: Obj::List(l), .. }) = self.get_mut(a[1]) {
                    let mut removed = 0i64;
                    let limit = if count == 0 { i64::MAX } else { count.abs() };
                    if count >= 0 {
                        let mut i = 0;
                        while i < l.len() && removed < limit {
                            if l[i] == a[3] {
                                l.remove(i);
                                removed += 1;
                            } else {
                                i += 1;
                            }
                        }
                    } else {
                        let mut i = l.len();
                        while i > 0 && removed < limit {
                            i -= 1;
                            if l[i] == a[3] {
                                l.remove(i);
                                removed += 1;
                            }
                        }
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"LINSERT" => {
                Self::arity(a, 5)?;
                let before = is(a[2], "BEFORE");
                if let Some(Entry { obj: Obj::List(l), .. }) = self.get_mut(a[1]) {
                    if let Some(i) = l.iter().position(|v| v == a[3]) {
                        l.insert(if before { i } else { i + 1 }, a[4].to_vec());
                    }
                }
            }
            b"SADD" => {
                Self::arity(a, 3)?;
                let s = self.set_or_new(a[1])?;
                s.extend(a[2..].iter().map(|m| m.to_vec()));
            }
            b"SREM" => {
                Self::arity(a, 3)?;
                match self.get_mut(a[1]) {
                    Some(Entry { obj: Obj::Set(s), .. }) => a[2..].iter().for_each(|m| {
                        s.remove(*m);
                    }),
                    Some(_) => return Err(WRONGTYPE.into()),
                    None => {}
                }
                self.drop_if_empty(a[1]);
            }
            b"SMOVE" => {
                Self::arity(a, 4)?;
                let moved = match self.get_mut(a[1]) {
                    Some(Entry { obj: Obj::Set(s), .. }) => s.remove(a[3]),
                    Some(_) => return Err(WRONGTYPE.into()),
                    None => false,
                };
                self.drop_if_empty(a[1]);
                if moved {
                    let s = self.set_or_new(a[2])?;
                    s.insert(a[3].to_vec());
                }
            }
            b"ZADD" => self.zadd(a)?,
            b"GEOADD" => self.geoadd(a)?,
            b"PFADD" | b"PFMERGE" | b"PFCOUNT" => self.hyperloglog(&upper, a)?,
            b"GEORADIUS" | b"GEORADIUSBYMEMBER" | b"GEOSEARCHSTORE" => self.geo_store(&upper, a)?,
            b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" => self.set_store(&upper, a)?,
            b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => self.zset_store(&upper, a)?,
            b"ZRANGESTORE" => self.zrangestore(a)?,
            b"SORT" => return self.sort_store(a),
            b"BITFIELD" => self.bitfield(a)?,
            b"ZREMRANGEBYSCORE" => {
                Self::arity(a, 4)?;
                let (lo, hi) = (score_bound(a[2])?, score_bound(a[3])?);
                if let Some(Entry { obj: Obj::Zset(z), .. }) = self.get_mut(a[1]) {
                    z.scores.retain(|_, s| !(lo.below(*s) && hi.above(*s)));
                }
                self.drop_if_empty(a[1]);
            }
            b"ZREMRANGEBYLEX" => {
                Self::arity(a, 4)?;
                let (lo, hi) = (lex_bound(a[2])?, lex_bound(a[3])?);
                if let Some(Entry { obj: Obj::Zset(z), .. }) = self.get_mut(a[1]) {
                    // As zzlDeleteRangeByLex walks it (see `lex_walk`).
                    let sorted: Vec<Vec<u8>> = z.sorted().into_iter().map(|(m, _)| m.to_vec()).collect();
                    let doomed: Vec<Vec<u8>> =
                        lex_walk(&sorted, &lo, &hi, false).into_iter().map(|i| sorted[i].clone()).collect();
                    for m in doomed {
                        z.scores.remove(&m);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"SETBIT" => {
                Self::arity(a, 4)?;
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
            }
            b"BITOP" => {
                Self::arity(a, 4)?;
                let op = a[1].to_ascii_uppercase();
                let mut sources: Vec<Vec<u8>> = Vec::new();
                for k in &a[3..] {
                    match self.db().get(*k) {
                        Some(Entry { obj: Obj::Str(s), .. }) => sources.push(s.clone()),
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
                    self.db().insert(a[2].to_vec(), Entry { obj: Obj::Str(result), expire_at_ms: None });
                }
            }
            b"ZINCRBY" => {
                Self::arity(a, 4)?;
                let by = float(a[2])?;
                let z = self.zset_or_new(a[1])?;
                let s = z.scores.entry(a[3].to_vec()).or_insert(0.0);
                let v = *s + by;
                if v.is_nan() {
                    return Err("ERR resulting score is not a number (NaN)".into());
                }
                *s = v;
            }
            b"ZREM" => {
                Self::arity(a, 3)?;
                match self.get_mut(a[1]) {
                    Some(Entry { obj: Obj::Zset(z), .. }) => a[2..].iter().for_each(|m| {
                        z.scores.remove(*m);
                    }),
                    Some(_) => return Err(WRONGTYPE.into()),
                    None => {}
                }
                self.drop_if_empty(a[1]);
            }
            b"ZPOPMIN" | b"ZPOPMAX" => {
                Self::arity(a, 2)?;
                let count = if a.len() > 2 { uint(a[2])? as usize } else { 1 };
                if let Some(Entry { obj: Obj::Zset(z), .. }) = self.get_mut(a[1]) {
                    let mut sorted: Vec<Vec<u8>> = z.sorted().into_iter().map(|(m, _)| m.to_vec()).collect();
                    if upper == b"ZPOPMAX" {
                        sorted.reverse();
                    }
                    for m in sorted.into_iter().take(count) {
                        z.scores.remove(&m);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"ZREMRANGEBYRANK" => {
                Self::arity(a, 4)?;
                let (start, stop) = (int(a[2])?, int(a[3])?);
                if let Some(Entry { obj: Obj::Zset(z), .. }) = self.get_mut(a[1]) {
                    let sorted: Vec<Vec<u8>> = z.sorted().into_iter().map(|(m, _)| m.to_vec()).collect();
                    let n = sorted.len() as i64;
                    let s = if start < 0 { (n + start).max(0) } else { start };
                    let e = if stop < 0 { n + stop } else { stop.min(n - 1) };
                    for m in sorted.iter().take((e + 1).max(0) as usize).skip(s.max(0) as usize) {
                        z.scores.remove(m);
                    }
                }
                self.drop_if_empty(a[1]);
            }
            b"HSET" | b"HMSET" => {
                if a.len() < 4 || !a.len().is_multiple_of(2) {
                    return Err("ERR wrong number of arguments for 'hset' command".into());
                }
                let h = self.hash_or_new(a[1])?;
                for fv in a[2..].chunks(2) {
                    // Setting a field drops its TTL.
                    h.insert(fv[0].to_vec(), (fv[1].to_vec(), None));
                }
            }
            b"HSETNX" => {
                Self::arity(a, 4)?;
                let h = self.hash_or_new(a[1])?;
                h.entry(a[2].to_vec()).or_insert_with(|| (a[3].to_vec(), None));
            }
            b"HDEL" => {
                Self::arity(a, 3)?;
                match self.get_mut(a[1]) {
                    Some(Entry { obj: Obj::Hash(h), .. }) => a[2..].iter().for_each(|f| {
                        h.remove(*f);
                    }),
                    Some(_) => return Err(WRONGTYPE.into()),
                    None => {}
                }
                self.drop_if_empty(a[1]);
            }
            b"HINCRBY" | b"HINCRBYFLOAT" => {
                Self::arity(a, 4)?;
                let float_mode = upper == b"HINCRBYFLOAT";
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
            }
            b"HPEXPIREAT" | b"HEXPIREAT" | b"HPEXPIRE" | b"HEXPIRE" => self.hexpire(&upper, a)?,
            b"HPERSIST" => {
                let fields = fields_arg(a, 2)?;
                if let Some(Entry { obj: Obj::Hash(h), .. }) = self.get_mut(a[1]) {
                    for f in fields {
                        if let Some((_, t)) = h.get_mut(f) {
                            *t = None;
                        }
                    }
                }
            }
            b"HSETEX" => self.hsetex(a)?,
            b"HGETEX" => self.hgetex(a)?,
            b"XADD" => self.xadd(a)?,
            b"XDEL" => {
                Self::arity(a, 3)?;
                if let Some(s) = self.stream_mut(a[1])? {
                    for id in &a[2..] {
                        s.delete(parse_id(id).ok_or("ERR Invalid stream ID")?);
                    }
                }
            }
            b"XTRIM" => {
                Self::arity(a, 4)?;
                let (strategy, threshold) = trim_args(&a[2..])?;
                if let Some(s) = self.stream_mut(a[1])? {
                    apply_trim(s, strategy, threshold)?;
                }
            }
            b"XSETID" => {
                Self::arity(a, 3)?;
                let last = parse_id(a[2]).ok_or("ERR Invalid stream ID")?;
                let mut i = 3;
                let (mut added, mut maxdel) = (None, None);
                while i + 1 < a.len() {
                    if is(a[i], "ENTRIESADDED") {
                        added = Some(uint(a[i + 1])?);
                    } else if is(a[i], "MAXDELETEDID") {
                        maxdel = Some(parse_id(a[i + 1]).ok_or("ERR Invalid stream ID")?);
                    }
                    i += 2;
                }
                let Some(s) = self.stream_mut(a[1])? else { return Err("ERR no such key".into()) };
                s.last_id = last;
                if let Some(n) = added {
                    s.entries_added = n;
                }
                // MAXDELETEDID 0-0 leaves the stored value as it is (Redis 7.0).
                if let Some(m) = maxdel.filter(|m| *m != StreamId::default()) {
                    s.max_deleted_id = m;
                }
            }
            b"XGROUP" => self.xgroup(a)?,
            b"XACK" => {
                Self::arity(a, 4)?;
                if let Some(g) = self.stream_mut(a[1])?.and_then(|s| s.group(a[2])) {
                    for id in &a[3..] {
                        g.pel.remove(&parse_id(id).ok_or("ERR Invalid stream ID")?);
                    }
                }
            }
            b"XCLAIM" => self.xclaim(a)?,
            b"XNACK" => self.xnack(a)?,
            b"XCFGSET" => {
                Self::arity(a, 4)?;
                let mut cfg = (None, None);
                for pair in a[2..].chunks(2) {
                    let v = uint(pair.get(1).ok_or("ERR syntax error")?)?;
                    match pair[0].to_ascii_uppercase().as_slice() {
                        b"IDMP-DURATION" => cfg.0 = Some(v),
                        b"IDMP-MAXSIZE" => cfg.1 = Some(v),
                        _ => return Err("ERR syntax error".into()),
                    }
                }
                let Some(s) = self.stream_mut(a[1])? else { return Err("ERR no such key".into()) };
                let idmp = s.idmp_mut();
                // A new configuration empties the tracked iids; the counters stay.
                idmp.producers.clear();
                if let Some(d) = cfg.0 {
                    idmp.duration_s = d;
                }
                if let Some(m) = cfg.1 {
                    idmp.max_entries = m;
                }
            }
            b"XIDMPRECORD" => {
                Self::arity(a, 5)?;
                let id = parse_id(a[4]).ok_or("ERR Invalid stream ID")?;
                let Some(s) = self.stream_mut(a[1])? else { return Err("ERR no such key".into()) };
                s.idmp_record(a[2], a[3], id);
            }
            b"ARSET" | b"ARMSET" => {
                Self::arity(a, 4)?;
                if !(a.len() - 2).is_multiple_of(2) {
                    return Err("ERR wrong number of arguments".into());
                }
                let pairs: Vec<(u64, Vec<u8>)> =
                    a[2..].chunks(2).map(|p| Ok((uint(p[0])?, p[1].to_vec()))).collect::<Result<_, String>>()?;
                let (elements, _) = self.array_or_new(a[1])?;
                for (i, v) in pairs {
                    elements.insert(i, super::ArrayVal::Bytes(v));
                }
            }
            b"ARDEL" => {
                Self::arity(a, 3)?;
                let idx: Vec<u64> = a[2..].iter().map(|i| uint(i)).collect::<Result<_, String>>()?;
                if let Some(Entry { obj: Obj::Array { elements, .. }, .. }) = self.get_mut(a[1]) {
                    for i in idx {
                        elements.remove(&i);
                    }
                    if elements.is_empty() {
                        self.db().remove(a[1]);
                    }
                }
            }
            b"ARSEEK" => {
                Self::arity(a, 3)?;
                let n = parse_u64(a[2])?;
                if let Some(Entry { obj: Obj::Array { cursor, .. }, .. }) = self.get_mut(a[1]) {
                    // The cursor is the last insert position: ARSEEK n makes n the next one.
                    *cursor = n.checked_sub(1);
                }
            }
            b"ARINSERT" | b"ARRING" => {
                let ring = upper == b"ARRING";
                Self::arity(a, if ring { 4 } else { 3 })?;
                let (size, values) = if ring { (Some(uint(a[2])?.max(1)), &a[3..]) } else { (None, &a[2..]) };
                let (elements, cursor) = self.array_or_new(a[1])?;
                for v in values {
                    let next = cursor.map_or(0, |c| c.wrapping_add(1));
                    let at = size.map_or(next, |n| next % n);
                    elements.insert(at, super::ArrayVal::Bytes(v.to_vec()));
                    *cursor = Some(at);
                }
            }
            b"RESTORE" => {
                Self::arity(a, 4)?;
                let ttl = int(a[2])?;
                if ttl < 0 {
                    return Err("ERR Invalid TTL value, must be >= 0".into());
                }
                let opts: Vec<Vec<u8>> = a[4..].iter().map(|o| o.to_ascii_uppercase()).collect();
                let has = |w: &[u8]| opts.iter().any(|o| o == w);
                if self.db().contains_key(a[1]) && !has(b"REPLACE") {
                    return Err("BUSYKEY Target key name already exists.".into());
                }
                let templates = crate::token::value::Templates::default();
                let value = crate::event::dump_payload_value(a[3], &templates)
                    .map_err(|e| format!("ERR Bad data format ({e})"))?;
                let obj = Obj::from_source(&value).map_err(|e| format!("ERR Bad data format ({e})"))?;
                let expire_at_ms = match ttl {
                    0 => None,
                    t if has(b"ABSTTL") => Some(t),
                    t => Some(self.absolute_ms(TimeArg::InMillis, t)),
                };
                self.db().insert(a[1].to_vec(), Entry { obj, expire_at_ms });
            }
            b"FUNCTION" => {
                Self::arity(a, 2)?;
                if is(a[1], "LOAD") {
                    self.function_load(a)?;
                } else if is(a[1], "RESTORE") {
                    self.function_restore(a)?;
                } else if is(a[1], "DELETE") {
                    Self::arity(a, 3)?;
                    if !self.keyspace.functions.iter().any(|(n, _)| n == a[2]) {
                        return Err("ERR Library not found".into());
                    }
                    self.keyspace.functions.retain(|(n, _)| n != a[2]);
                } else if is(a[1], "FLUSH") {
                    self.keyspace.functions.clear();
                } else {
                    return Ok(false);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// FUNCTION LOAD [REPLACE] code (functions.c `functionLoadCommand`): the
    /// code must carry its `#!engine name=…` line; an existing library needs
    /// REPLACE. The pre-release form (`FUNCTION LOAD Lua lib code`) is
    /// refused, as the server refuses it ("Unknown option given").
    fn function_load(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 3)?;
        let (options, code) = a[2..].split_at(a.len() - 3);
        let mut replace = false;
        for o in options {
            if !is(o, "REPLACE") {
                return Err(format!("ERR Unknown option given: {}", String::from_utf8_lossy(o)));
            }
            replace = true;
        }
        let code = code[0];
        let name = library_metadata(code)?;
        if !replace && self.keyspace.functions.iter().any(|(n, _)| *n == name) {
            return Err(format!("ERR Library '{}' already exists", String::from_utf8_lossy(&name)));
        }
        self.load_function(code);
        Ok(())
    }

    /// FUNCTION RESTORE payload [APPEND|REPLACE|FLUSH] (functions.c
    /// `functionRestoreCommand`): the libraries of a `FUNCTION DUMP` payload,
    /// all or none.
    fn function_restore(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 3)?;
        if a.len() > 4 {
            return Err("ERR syntax error".into());
        }
        let policy = a.get(3).map_or(b"APPEND".to_vec(), |p| p.to_ascii_uppercase());
        if !matches!(policy.as_slice(), b"APPEND" | b"REPLACE" | b"FLUSH") {
            return Err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".into());
        }
        let body = crate::event::dump_payload_body(a[2])
            .map_err(|_| "ERR DUMP payload version or checksum are wrong".to_string())?;
        let libraries = function_payload_libraries(body)?;
        let mut names = Vec::with_capacity(libraries.len());
        for code in &libraries {
            let name = library_metadata(code)?;
            if names.contains(&name) {
                return Err(format!("ERR Library '{}' already exists", String::from_utf8_lossy(&name)));
            }
            names.push(name);
        }
        match policy.as_slice() {
            b"FLUSH" => self.keyspace.functions.clear(),
            b"APPEND" => {
                if let Some(n) = names.iter().find(|n| self.keyspace.functions.iter().any(|(m, _)| m == *n)) {
                    return Err(format!("ERR Library {} already exists", String::from_utf8_lossy(n)));
                }
            }
            _ => {}
        }
        for code in &libraries {
            self.load_function(code);
        }
        Ok(())
    }

    fn set(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 3)?;
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
                    expire = TimeArg::of(&opt).map(|unit| self.absolute_ms(unit, n));
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
        self.db().insert(a[1].to_vec(), Entry { obj: Obj::Str(a[2].to_vec()), expire_at_ms: ttl });
        Ok(())
    }

    fn expire(&mut self, cmd: &[u8], a: &Args<'_>) -> Res {
        Self::arity(a, 3)?;
        let at = self.absolute_ms(TimeArg::of(cmd).ok_or("ERR unknown command")?, int(a[2])?);
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

    fn zadd(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 4)?;
        let (mut nx, mut xx, mut gt, mut lt, mut incr) = (false, false, false, false, false);
        let mut i = 2;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"NX" => nx = true,
                b"XX" => xx = true,
                b"GT" => gt = true,
                b"LT" => lt = true,
                b"CH" => {}
                b"INCR" => incr = true,
                _ => break,
            }
            i += 1;
        }
        let pairs = &a[i..];
        if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
            return Err("ERR syntax error".into());
        }
        let parsed: Vec<(f64, &[u8])> =
            pairs.chunks(2).map(|p| Ok((float(p[0])?, p[1]))).collect::<Result<_, String>>()?;
        let z = self.zset_or_new(a[1])?;
        for (score, member) in parsed {
            let cur = z.scores.get(member).copied();
            if (nx && cur.is_some()) || (xx && cur.is_none()) {
                continue;
            }
            let new = if incr { cur.unwrap_or(0.0) + score } else { score };
            if new.is_nan() {
                return Err("ERR resulting score is not a number (NaN)".into());
            }
            if let Some(c) = cur {
                if (gt && new <= c) || (lt && new >= c) {
                    continue;
                }
            }
            z.scores.insert(member.to_vec(), new);
        }

        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// PFADD key elem…, PFMERGE dst src…, PFCOUNT key (which rewrites the
    /// cached cardinality, so the server logs it): the strings they leave are
    /// the server's bytes (`hll`). Existing keys keep their TTL.
    fn hyperloglog(&mut self, cmd: &[u8], a: &Args<'_>) -> Res {
        Self::arity(a, 2)?;
        let string = |e: Option<&Entry>| match e {
            Some(Entry { obj: Obj::Str(s), .. }) => Ok(Some(s.clone())),
            Some(_) => Err(WRONGTYPE.to_string()),
            None => Ok(None),
        };
        let current = string(self.db().get(a[1]))?;
        let value = match cmd {
            b"PFADD" => hll::pfadd(current.as_deref(), &a[2..])?.0,
            b"PFMERGE" => {
                let mut sources = Vec::new();
                for k in &a[2..] {
                    sources.extend(string(self.db().get(*k))?);
                }
                let sources: Vec<&[u8]> = sources.iter().map(Vec::as_slice).collect();
                hll::pfmerge(current.as_deref(), &sources)?
            }
            // PFCOUNT of several keys merges into a scratch value: nothing changes.
            _ if a.len() > 2 => return Ok(()),
            _ => match current {
                Some(v) => hll::pfcount(&v)?.0,
                None => return Ok(()),
            },
        };
        *self.string_or(a[1], b"")? = value;
        Ok(())
    }

    /// GEOADD key [NX|XX] [CH] lon lat member…: ZADD of the positions' scores
    /// (the server logs it as that ZADD; older or hand-written AOFs may not).
    fn geoadd(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 5)?;
        let mut i = 2;
        let mut zadd: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), a[1].to_vec()];
        while i < a.len() && (is(a[i], "NX") || is(a[i], "XX") || is(a[i], "CH")) {
            zadd.push(a[i].to_vec());
            i += 1;
        }
        let triples = &a[i..];
        if triples.is_empty() || !triples.len().is_multiple_of(3) {
            return Err("ERR syntax error. Try GEOADD key [x1] [y1] [name1] [x2] [y2] [name2] ... ".into());
        }
        for t in triples.chunks(3) {
            let (lon, lat) = lon_lat(t[0], t[1])?;
            let score = geo::score(lon, lat).ok_or("ERR invalid longitude,latitude pair")?;
            zadd.push((score as u64).to_string().into_bytes());
            zadd.push(t[2].to_vec());
        }
        let args: Vec<&[u8]> = zadd.iter().map(Vec::as_slice).collect();
        self.zadd(&args)
    }

    /// GEORADIUS / GEORADIUSBYMEMBER … STORE|STOREDIST dst, and GEOSEARCHSTORE
    /// dst src …: the searches an AOF holds (the others only read), run as
    /// georadiusGeneric runs them.
    fn geo_store(&mut self, cmd: &[u8], a: &Args<'_>) -> Res {
        let (src, base) = match cmd {
            b"GEORADIUS" => (1, 6),
            b"GEORADIUSBYMEMBER" => (1, 5),
            _ => (2, 3),
        };
        Self::arity(a, base)?;
        let search = cmd == b"GEOSEARCHSTORE";
        let zset: Option<Vec<(Vec<u8>, f64)>> = match self.db().get(a[src]) {
            Some(Entry { obj: Obj::Zset(z), .. }) => {
                Some(z.sorted().into_iter().map(|(m, s)| (m.to_vec(), s)).collect())
            }
            Some(_) => return Err(WRONGTYPE.into()),
            None => None,
        };
        let member_position = |m: &[u8]| -> Result<(f64, f64), String> {
            let z = zset.as_ref().expect("looked up only when the key exists");
            z.iter()
                .find(|(name, _)| name == m)
                .and_then(|(_, s)| geo::position(*s))
                .ok_or_else(|| "ERR could not decode requested zset member".to_string())
        };
        let mut center = None;
        let mut area = None;
        let mut conversion = 1.0;
        match cmd {
            b"GEORADIUS" => center = Some(lon_lat(a[2], a[3])?),
            b"GEORADIUSBYMEMBER" if zset.is_some() => center = Some(member_position(a[2])?),
            _ => {}
        }
        if !search && (center.is_some() || cmd == b"GEORADIUS") {
            let (r, unit) = geo_distance(a[base - 2], a[base - 1])?;
            area = Some(geo::Area::Radius(r));
            conversion = unit;
        }
        let (mut store, mut storedist) = (search.then(|| a[1]), false);
        let (mut any, mut count, mut desc, mut asc, mut with) = (false, 0i64, false, false, false);
        // As georadiusGeneric: each of FROMMEMBER/FROMLONLAT refuses the other
        // (not itself: a repeat wins), likewise BYRADIUS/BYBOX.
        let (mut frommember, mut fromlonlat, mut byradius, mut bybox) = (false, false, false, false);
        let mut i = base;
        let more = |i: usize, n: usize| i + n < a.len();
        while i < a.len() {
            let arg = a[i];
            if is(arg, "WITHDIST") || is(arg, "WITHHASH") || is(arg, "WITHCOORD") {
                with = true;
            } else if is(arg, "ANY") {
                any = true;
            } else if is(arg, "ASC") {
                (asc, desc) = (true, false);
            } else if is(arg, "DESC") {
                (asc, desc) = (false, true);
            } else if is(arg, "COUNT") && more(i, 1) {
                count = int(a[i + 1])?;
                if count <= 0 {
                    return Err("ERR COUNT must be > 0".into());
                }
                i += 1;
            } else if (is(arg, "STORE") || is(arg, "STOREDIST")) && more(i, 1) && !search {
                (store, storedist) = (Some(a[i + 1]), is(arg, "STOREDIST"));
                i += 1;
            } else if is(arg, "STOREDIST") && search {
                storedist = true;
            } else if is(arg, "FROMMEMBER") && more(i, 1) && search && !fromlonlat {
                if zset.is_some() {
                    center = Some(member_position(a[i + 1])?);
                }
                frommember = true;
                i += 1;
            } else if is(arg, "FROMLONLAT") && more(i, 2) && search && !frommember {
                center = Some(lon_lat(a[i + 1], a[i + 2])?);
                fromlonlat = true;
                i += 2;
            } else if is(arg, "BYRADIUS") && more(i, 2) && search && !bybox {
                let (r, unit) = geo_distance(a[i + 1], a[i + 2])?;
                (area, conversion, byradius) = (Some(geo::Area::Radius(r)), unit, true);
                i += 2;
            } else if is(arg, "BYBOX") && more(i, 3) && search && !byradius {
                let (width, height) = (float(a[i + 1])?, float(a[i + 2])?);
                if width < 0.0 || height < 0.0 {
                    return Err("ERR height or width cannot be negative".into());
                }
                (area, conversion, bybox) = (Some(geo::Area::Box { width, height }), geo_unit(a[i + 3])?, true);
                i += 3;
            } else {
                return Err("ERR syntax error".into());
            }
            i += 1;
        }
        let Some(dst) = store else { return Ok(()) };
        if with {
            return Err("ERR STORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options".into());
        }
        if search && !((frommember || fromlonlat) && (byradius || bybox)) {
            return Err("ERR exactly one of FROMMEMBER or FROMLONLAT and BYRADIUS or BYBOX must be given".into());
        }
        if any && count == 0 {
            return Err("ERR the ANY argument requires COUNT argument".into());
        }
        let (Some(z), Some((lon, lat)), Some(area)) = (&zset, center, area) else {
            self.db().remove(dst);
            return Ok(());
        };
        let sorted: Vec<(&[u8], f64)> = z.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
        let shape = geo::Shape { lon, lat, conversion, area };
        let limit = if any { count as usize } else { 0 };
        let mut found = geo::search(&sorted, &shape, limit);
        // COUNT without an order means the nearest (not with ANY).
        let asc = asc || (count > 0 && !desc && !any);
        if asc || desc {
            // Redis's qsort is not stable: equal distances may come out in
            // another order there (only matters with COUNT cutting a tie).
            found.sort_by(|x, y| x.meters.partial_cmp(&y.meters).unwrap_or(std::cmp::Ordering::Equal));
            if desc {
                found.reverse();
            }
        }
        if count > 0 {
            found.truncate(count as usize);
        }
        let scores = found
            .into_iter()
            .map(|f| (f.member.to_vec(), if storedist { f.meters / conversion } else { f.score }))
            .collect();
        self.store(dst, Obj::Zset(ZsetObj { scores }));
        Ok(())
    }

    /// A command's result stored at `dst` (replacing the key and its TTL); an
    /// empty collection deletes it instead.
    fn store(&mut self, dst: &[u8], obj: Obj) {
        if obj.is_empty_collection() {
            self.db().remove(dst);
        } else {
            self.db().insert(dst.to_vec(), Entry { obj, expire_at_ms: None });
        }
    }

    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE dest key…
    fn set_store(&mut self, cmd: &[u8], a: &Args<'_>) -> Res {
        Self::arity(a, 3)?;
        let mut sets: Vec<BTreeSet<Vec<u8>>> = Vec::new();
        for k in &a[2..] {
            match self.db().get(*k) {
                Some(Entry { obj: Obj::Set(s), .. }) => sets.push(s.clone()),
                Some(_) => return Err(WRONGTYPE.into()),
                None => sets.push(BTreeSet::new()),
            }
        }
        let mut it = sets.into_iter();
        let first = it.next().unwrap_or_default();
        let result: BTreeSet<Vec<u8>> = match cmd {
            b"SINTERSTORE" => it.fold(first, |acc, s| acc.intersection(&s).cloned().collect()),
            b"SUNIONSTORE" => it.fold(first, |mut acc, s| {
                acc.extend(s);
                acc
            }),
            _ => it.fold(first, |acc, s| acc.difference(&s).cloned().collect()),
        };
        self.store(a[1], Obj::Set(result));
        Ok(())
    }

    /// ZUNIONSTORE / ZINTERSTORE dest n key… [WEIGHTS w…] [AGGREGATE SUM|MIN|MAX],
    /// ZDIFFSTORE dest n key…; sets count as sorted sets of score 1.
    fn zset_store(&mut self, cmd: &[u8], a: &Args<'_>) -> Res {
        Self::arity(a, 4)?;
        let n = uint(a[2])? as usize;
        let keys = a.get(3..3 + n).ok_or("ERR syntax error")?;
        let mut weights = vec![1.0f64; n];
        let mut aggregate = b"SUM".to_vec();
        let mut i = 3 + n;
        while i < a.len() {
            if is(a[i], "WEIGHTS") && cmd != b"ZDIFFSTORE" {
                for (w, arg) in weights.iter_mut().zip(a.get(i + 1..i + 1 + n).ok_or("ERR syntax error")?) {
                    *w = float(arg).map_err(|_| "ERR weight value is not a float".to_string())?;
                }
                i += n + 1;
            } else if is(a[i], "AGGREGATE") && cmd != b"ZDIFFSTORE" {
                aggregate = a.get(i + 1).ok_or("ERR syntax error")?.to_ascii_uppercase();
                i += 2;
            } else {
                return Err("ERR syntax error".into());
            }
        }
        let mut sources: Vec<std::collections::HashMap<Vec<u8>, f64>> = Vec::new();
        for k in keys {
            sources.push(match self.db().get(*k) {
                Some(Entry { obj: Obj::Zset(z), .. }) => z.scores.clone(),
                Some(Entry { obj: Obj::Set(s), .. }) => s.iter().map(|m| (m.clone(), 1.0)).collect(),
                Some(_) => return Err(WRONGTYPE.into()),
                None => Default::default(),
            });
        }
        // Redis turns NaN (inf × 0, inf − inf) into 0.
        let nan0 = |v: f64| if v.is_nan() { 0.0 } else { v };
        let combine = |acc: f64, v: f64| match aggregate.as_slice() {
            b"MIN" => acc.min(v),
            b"MAX" => acc.max(v),
            _ => nan0(acc + v),
        };
        let mut result: std::collections::HashMap<Vec<u8>, f64> = Default::default();
        match cmd {
            b"ZDIFFSTORE" => {
                if let Some((first, rest)) = sources.split_first() {
                    for (m, s) in first {
                        if rest.iter().all(|o| !o.contains_key(m)) {
                            result.insert(m.clone(), *s);
                        }
                    }
                }
            }
            b"ZUNIONSTORE" => {
                for (src, w) in sources.iter().zip(&weights) {
                    for (m, s) in src {
                        let v = nan0(s * w);
                        result.entry(m.clone()).and_modify(|acc| *acc = combine(*acc, v)).or_insert(v);
                    }
                }
            }
            _ => {
                if let Some((first, rest)) = sources.split_first() {
                    for (m, s) in first {
                        let mut acc = nan0(s * weights[0]);
                        let mut everywhere = true;
                        for (src, w) in rest.iter().zip(&weights[1..]) {
                            match src.get(m) {
                                Some(v) => acc = combine(acc, nan0(v * w)),
                                None => everywhere = false,
                            }
                        }
                        if everywhere {
                            result.insert(m.clone(), acc);
                        }
                    }
                }
            }
        }
        self.store(a[1], Obj::Zset(ZsetObj { scores: result }));
        Ok(())
    }

    /// SORT key [BY pattern] [LIMIT off count] [GET pattern…] [ASC|DESC]
    /// [ALPHA] STORE dst, as sortCommand runs it (the only SORT an AOF holds is
    /// one that stores). Patterns read other keys of the database
    /// (`lookup_pattern`).
    fn sort_store(&mut self, a: &Args<'_>) -> Result<bool, String> {
        Self::arity(a, 2)?;
        let (mut desc, mut alpha, mut dontsort) = (false, false, false);
        let (mut limit, mut store, mut by, mut gets) = (None, None, None, Vec::new());
        let mut i = 2;
        while i < a.len() {
            let next = |n: usize| a.get(i + n).copied().ok_or_else(|| "ERR syntax error".to_string());
            match a[i].to_ascii_uppercase().as_slice() {
                b"ASC" => desc = false,
                b"DESC" => desc = true,
                b"ALPHA" => alpha = true,
                b"LIMIT" => {
                    limit = Some((int(next(1)?)?, int(next(2)?)?));
                    i += 2;
                }
                b"STORE" => {
                    store = Some(next(1)?.to_vec());
                    i += 1;
                }
                b"BY" => {
                    let pattern = next(1)?;
                    // A pattern without `*` names no per-element key: no
                    // sorting (and a later BY does not undo that).
                    if !pattern.contains(&b'*') {
                        dontsort = true;
                    }
                    by = Some(pattern);
                    i += 1;
                }
                b"GET" => {
                    gets.push(next(1)?);
                    i += 1;
                }
                _ => return Err("ERR syntax error".into()),
            }
            i += 1;
        }
        let Some(dst) = store else { return Ok(true) };
        let mut items: Vec<Vec<u8>> = match self.db().get(a[1]) {
            Some(Entry { obj: Obj::List(l), .. }) => l.iter().cloned().collect(),
            Some(Entry { obj: Obj::Set(s), .. }) => {
                // Stored unsorted it would depend on hash order: Redis sorts it (ALPHA, no BY).
                if dontsort {
                    (dontsort, alpha, by) = (false, true, None);
                }
                s.iter().cloned().collect()
            }
            Some(Entry { obj: Obj::Zset(z), .. }) => z.sorted().into_iter().map(|(m, _)| m.to_vec()).collect(),
            Some(_) => return Err(WRONGTYPE.into()),
            None => Vec::new(),
        };
        if dontsort {
            // Lists and sorted sets keep their order, read from the end for DESC.
            if desc {
                items.reverse();
            }
        } else {
            self.sort_items(&mut items, by, alpha)?;
            if desc {
                // DESC negates the comparison, tie-breaks included.
                items.reverse();
            }
        }
        if let Some((off, count)) = limit {
            let start = usize::try_from(off.max(0)).unwrap_or(0).min(items.len());
            let end = if count < 0 { items.len() } else { start.saturating_add(count as usize).min(items.len()) };
            items = items[start..end].to_vec();
        }
        let out: VecDeque<Vec<u8>> = if gets.is_empty() {
            items.into()
        } else {
            let db = self.db();
            items.iter().flat_map(|item| gets.iter().map(|g| lookup_pattern(db, g, item).unwrap_or_default())).collect()
        };
        self.store(&dst, Obj::List(out));
        Ok(true)
    }

    /// Sort SORT's elements ascending: by their own value or the value `by`
    /// finds for each, as text (ALPHA) or as numbers (ties by the element).
    fn sort_items(&mut self, items: &mut Vec<Vec<u8>>, by: Option<&[u8]>, alpha: bool) -> Res {
        let db = self.db();
        let weight = |item: &Vec<u8>| match by {
            Some(pattern) => lookup_pattern(db, pattern, item),
            None => Some(item.clone()),
        };
        if alpha {
            // A missing weight sorts first; equal weights keep no defined
            // order in Redis (its qsort is not stable).
            let mut keyed: Vec<(Option<Vec<u8>>, Vec<u8>)> = items.drain(..).map(|v| (weight(&v), v)).collect();
            keyed.sort_by(|x, y| x.0.cmp(&y.0));
            items.extend(keyed.into_iter().map(|(_, v)| v));
        } else {
            let mut keyed: Vec<(f64, Vec<u8>)> = items
                .drain(..)
                .map(|v| {
                    // A missing weight counts as 0.
                    let score = match weight(&v) {
                        Some(w) => strtod_whole(&w)
                            .ok_or_else(|| "ERR One or more scores can't be converted into double".to_string())?,
                        None => 0.0,
                    };
                    Ok((score, v))
                })
                .collect::<Result<_, String>>()?;
            keyed
                .sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal).then_with(|| x.1.cmp(&y.1)));
            items.extend(keyed.into_iter().map(|(_, v)| v));
        }
        Ok(())
    }

    fn zrangestore(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 5)?;
        let (mut byscore, mut bylex, mut rev, mut limit) = (false, false, false, None);
        let mut i = 5;
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"BYSCORE" => byscore = true,
                b"BYLEX" => bylex = true,
                b"REV" => rev = true,
                b"LIMIT" => {
                    let off = int(a.get(i + 1).ok_or("ERR syntax error")?)?;
                    let count = int(a.get(i + 2).ok_or("ERR syntax error")?)?;
                    limit = Some((off, count));
                    i += 2;
                }
                _ => return Err("ERR syntax error".into()),
            }
            i += 1;
        }
        let mut sorted: Vec<(Vec<u8>, f64)> = match self.db().get(a[2]) {
            Some(Entry { obj: Obj::Zset(z), .. }) => z.sorted().into_iter().map(|(m, s)| (m.to_vec(), s)).collect(),
            Some(_) => return Err(WRONGTYPE.into()),
            None => Vec::new(),
        };
        if rev {
            sorted.reverse();
        }
        // With REV the first bound is the upper one.
        let (first, second) = if rev { (a[4], a[3]) } else { (a[3], a[4]) };
        let picked: Vec<(Vec<u8>, f64)> = if byscore {
            let (lo, hi) = (score_bound(first)?, score_bound(second)?);
            sorted.into_iter().filter(|(_, s)| lo.below(*s) && hi.above(*s)).collect()
        } else if bylex {
            let (lo, hi) = (lex_bound(first)?, lex_bound(second)?);
            // `sorted` is already reversed for REV: walk it back in score order.
            let mut forward = sorted.clone();
            if rev {
                forward.reverse();
            }
            let members: Vec<Vec<u8>> = forward.iter().map(|(m, _)| m.clone()).collect();
            lex_walk(&members, &lo, &hi, rev).into_iter().map(|i| forward[i].clone()).collect()
        } else {
            if limit.is_some() {
                return Err(
                    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX".into()
                );
            }
            let n = sorted.len() as i64;
            let norm = |v: i64| if v < 0 { n + v } else { v };
            let (s, e) = (norm(int(a[3])?).max(0), norm(int(a[4])?).min(n - 1));
            if s > e || s >= n {
                Vec::new()
            } else {
                sorted[s as usize..=e as usize].to_vec()
            }
        };
        let picked: Vec<(Vec<u8>, f64)> = match limit {
            Some((off, count)) if off >= 0 => {
                let it = picked.into_iter().skip(off as usize);
                if count < 0 {
                    it.collect()
                } else {
                    it.take(count as usize).collect()
                }
            }
            Some(_) => Vec::new(),
            None => picked,
        };
        self.store(a[1], Obj::Zset(ZsetObj { scores: picked.into_iter().collect() }));
        Ok(())
    }

    /// BITFIELD key [GET type off] [SET type off value] [INCRBY type off incr]
    /// [OVERFLOW WRAP|SAT|FAIL] …: only the writes matter to the keyspace.
    fn bitfield(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 2)?;
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

    fn hexpire(&mut self, cmd: &[u8], a: &Args<'_>) -> Res {
        Self::arity(a, 5)?;
        let n = int(a[2])?;
        if n < 0 {
            return Err("ERR invalid expire time, must be >= 0".into());
        }
        let at = self.absolute_ms(TimeArg::of(cmd).ok_or("ERR unknown command")?, n);
        if at > crate::format::MAX_HASH_FIELD_TTL_MS {
            return Err("ERR invalid expire time".into());
        }
        // Optional NX|XX|GT|LT before FIELDS.
        let (cond, fields_at) = if is(a[3], "FIELDS") { (None, 3) } else { (Some(a[3].to_ascii_uppercase()), 4) };
        let fields = fields_arg(a, fields_at)?;
        if let Some(Entry { obj: Obj::Hash(h), .. }) = self.get_mut(a[1]) {
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

    /// HSETEX key [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] FIELDS n f v …
    fn hsetex(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 5)?;
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
                    ttl = TimeArg::of(opt).map(|unit| self.absolute_ms(unit, n));
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
    fn hgetex(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 5)?;
        let opt = a[2].to_ascii_uppercase();
        let (ttl, fields_at) = match TimeArg::of(&opt) {
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
            Some(Entry { obj: Obj::Hash(h), .. }) => {
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

    fn stream_mut(&mut self, key: &[u8]) -> Result<Option<&mut StreamObj>, String> {
        match self.get_mut(key) {
            Some(Entry { obj: Obj::Stream(s), .. }) => Ok(Some(s)),
            Some(_) => Err(WRONGTYPE.into()),
            None => Ok(None),
        }
    }

    fn xadd(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 5)?;
        let mut i = 2;
        let mut nomkstream = false;
        let mut trim: Option<(Vec<u8>, Vec<u8>)> = None;
        // Redis 8.6 idempotent producers: IDMP <pid> <iid> | IDMPAUTO <pid>.
        let mut idmp: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
        loop {
            let opt = a.get(i).ok_or("ERR syntax error")?.to_ascii_uppercase();
            match opt.as_slice() {
                b"NOMKSTREAM" => nomkstream = true,
                b"IDMP" => {
                    let pid = a.get(i + 1).ok_or("ERR syntax error")?.to_vec();
                    let iid = a.get(i + 2).ok_or("ERR syntax error")?.to_vec();
                    idmp = Some((pid, Some(iid)));
                    i += 2;
                }
                b"IDMPAUTO" => {
                    idmp = Some((a.get(i + 1).ok_or("ERR syntax error")?.to_vec(), None));
                    i += 1;
                }
                b"MAXLEN" | b"MINID" => {
                    let mut j = i + 1;
                    if matches!(a.get(j).copied(), Some(b"=") | Some(b"~")) {
                        j += 1;
                    }
                    trim = Some((opt.clone(), a.get(j).ok_or("ERR syntax error")?.to_vec()));
                    i = j;
                    if a.get(i + 1).is_some_and(|x| is(x, "LIMIT")) {
                        i += 2;
                    }
                }
                _ => break,
            }
            i += 1;
        }
        let id_arg = a[i];
        let fields = &a[i + 1..];
        if fields.is_empty() || !fields.len().is_multiple_of(2) {
            return Err("ERR wrong number of arguments for 'xadd' command".into());
        }
        if nomkstream && !self.db().contains_key(a[1]) {
            return Ok(());
        }
        let last = match self.stream_mut(a[1])? {
            Some(s) => s.last_id,
            None => StreamId::default(),
        };
        let id = if id_arg == b"*" {
            let now = self.now_ms.max(0) as u64;
            if now > last.ms {
                StreamId { ms: now, seq: 0 }
            } else {
                StreamId { ms: last.ms, seq: last.seq + 1 }
            }
        } else {
            parse_id(id_arg).ok_or("ERR Invalid stream ID specified as stream command argument")?
        };
        // A known (producer, iid) is a duplicate: nothing is added.
        if let Some((pid, Some(iid))) = &idmp {
            if let Some(s) = self.stream_mut(a[1])? {
                if s.idmp_duplicate(pid, iid) {
                    return Ok(());
                }
            }
        }
        if id <= last {
            return Err("ERR The ID specified in XADD is equal or smaller than the target stream top item".into());
        }
        if let Some((pid, None)) = &idmp {
            self.notes.push(format!(
                "XADD IDMPAUTO of producer \"{}\": the entry is added, but its content hash (the iid) is not computed, \
                 so the producer's tracked iids are incomplete",
                crate::escape::escape_bytes(pid)
            ));
        }
        let s = self.stream_or_new(a[1])?;
        match &idmp {
            Some((pid, Some(iid))) => s.idmp_record(pid, iid, id),
            Some((_, None)) => s.idmp_mut().iids_added += 1,
            None => {}
        }
        s.entries.insert(id, fields.chunks(2).map(|p| (p[0].to_vec(), p[1].to_vec())).collect());
        s.last_id = id;
        s.entries_added += 1;
        if let Some((strategy, threshold)) = trim {
            apply_trim(s, &strategy, &threshold)?;
        }
        Ok(())
    }

    fn xgroup(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 4)?;
        let sub = a[1].to_ascii_uppercase();
        let key = a[2];
        let now = self.now_ms;
        match sub.as_slice() {
            b"CREATE" => {
                Self::arity(a, 5)?;
                let mkstream = a.iter().skip(5).any(|x| is(x, "MKSTREAM"));
                let entries_read =
                    a.windows(2).skip(5).find(|w| is(w[0], "ENTRIESREAD")).map(|w| int(w[1])).transpose()?;
                if mkstream && !self.db().contains_key(key) {
                    self.db().insert(key.to_vec(), Entry { obj: Obj::Stream(Box::default()), expire_at_ms: None });
                }
                let Some(s) = self.stream_mut(key)? else {
                    return Err("ERR The XGROUP subcommand requires the key to exist".into());
                };
                if s.group(a[3]).is_some() {
                    return Err("BUSYGROUP Consumer Group name already exists".into());
                }
                let id = if a[4] == b"$" { s.last_id } else { parse_id(a[4]).ok_or("ERR Invalid stream ID")? };
                // Without ENTRIESREAD the server stores "unknown" (-1) and
                // estimates the lag when asked.
                let entries_read = entries_read.and_then(|n| u64::try_from(n).ok());
                s.groups.push(GroupObj {
                    name: a[3].to_vec(),
                    last_id: id,
                    entries_read,
                    pel: BTreeMap::new(),
                    consumers: Vec::new(),
                    nacked: None,
                });
            }
            b"SETID" => {
                Self::arity(a, 5)?;
                let entries_read =
                    a.windows(2).skip(5).find(|w| is(w[0], "ENTRIESREAD")).map(|w| int(w[1])).transpose()?;
                let Some(s) = self.stream_mut(key)? else { return Err("ERR no such key".into()) };
                let last = s.last_id;
                let g = s.group(a[3]).ok_or("NOGROUP No such consumer group")?;
                g.last_id = if a[4] == b"$" { last } else { parse_id(a[4]).ok_or("ERR Invalid stream ID")? };
                g.entries_read = entries_read.and_then(|n| u64::try_from(n).ok());
            }
            b"DESTROY" => {
                if let Some(s) = self.stream_mut(key)? {
                    s.groups.retain(|g| g.name != a[3]);
                }
            }
            b"CREATECONSUMER" => {
                Self::arity(a, 5)?;
                if let Some(g) = self.stream_mut(key)?.and_then(|s| s.group(a[3])) {
                    g.consumer(a[4], now);
                }
            }
            b"DELCONSUMER" => {
                Self::arity(a, 5)?;
                if let Some(g) = self.stream_mut(key)?.and_then(|s| s.group(a[3])) {
                    g.consumers.retain(|c| c.name != a[4]);
                    g.pel.retain(|_, p| p.consumer.as_deref() != Some(a[4]));
                }
            }
            _ => return Err("ERR unknown XGROUP subcommand".into()),
        }
        Ok(())
    }

    /// XNACK key group FAIL|SILENT|FATAL IDS n id… [RETRYCOUNT c] [FORCE] (8.8):
    /// the entries leave their consumer for the group's NACK zone; FATAL makes
    /// the delivery count the maximum, SILENT takes one back, FAIL keeps it,
    /// RETRYCOUNT sets it; FORCE creates missing pending entries.
    fn xnack(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 7)?;
        let mode = a[3].to_ascii_uppercase();
        if !is(a[4], "IDS") {
            return Err("ERR syntax error".into());
        }
        let n = uint(a[5])? as usize;
        let ids: Vec<StreamId> = a
            .get(6..6 + n)
            .ok_or("ERR syntax error")?
            .iter()
            .map(|i| parse_id(i).ok_or("ERR Invalid stream ID".to_string()))
            .collect::<Result<_, _>>()?;
        let (mut retry, mut force) = (None, false);
        let mut i = 6 + n;
        while i < a.len() {
            if is(a[i], "RETRYCOUNT") {
                retry = Some(uint(a.get(i + 1).ok_or("ERR syntax error")?)?);
                i += 2;
            } else if is(a[i], "FORCE") {
                force = true;
                i += 1;
            } else {
                return Err("ERR syntax error".into());
            }
        }
        let Some(s) = self.stream_mut(a[1])? else { return Err("NOGROUP No such key".into()) };
        let g = s.group(a[2]).ok_or("NOGROUP No such consumer group")?;
        for id in ids {
            let p = match g.pel.entry(id) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) if force => {
                    v.insert(Pending { consumer: None, delivery_time_ms: 0, delivery_count: 0 })
                }
                std::collections::btree_map::Entry::Vacant(_) => continue,
            };
            p.consumer = None;
            p.delivery_time_ms = 0;
            p.delivery_count = match (retry, mode.as_slice()) {
                (Some(c), _) => c,
                (None, b"FATAL") => i64::MAX as u64,
                (None, b"SILENT") => p.delivery_count.saturating_sub(1),
                (None, _) => p.delivery_count,
            };
            let zone = g.nacked.get_or_insert_with(Vec::new);
            zone.retain(|z| *z != id);
            zone.push(id);
        }
        Ok(())
    }

    /// XCLAIM key group consumer min-idle id… [IDLE ms] [TIME ms] [RETRYCOUNT n]
    /// [FORCE] [JUSTID] [LASTID id]: how group reads are propagated too.
    fn xclaim(&mut self, a: &Args<'_>) -> Res {
        Self::arity(a, 6)?;
        let now = self.now_ms;
        let mut ids = Vec::new();
        let mut i = 5;
        while i < a.len() {
            match parse_id(a[i]) {
                Some(id) if !a[i].is_empty() && a[i][0].is_ascii_digit() => ids.push(id),
                _ => break,
            }
            i += 1;
        }
        let (mut time, mut retry, mut force, mut justid, mut lastid) = (None, None, false, false, None);
        while i < a.len() {
            match a[i].to_ascii_uppercase().as_slice() {
                b"IDLE" => {
                    time = Some(now - int(a.get(i + 1).ok_or("ERR syntax error")?)?);
                    i += 1;
                }
                b"TIME" => {
                    time = Some(int(a.get(i + 1).ok_or("ERR syntax error")?)?);
                    i += 1;
                }
                b"RETRYCOUNT" => {
                    retry = Some(uint(a.get(i + 1).ok_or("ERR syntax error")?)?);
                    i += 1;
                }
                b"FORCE" => force = true,
                b"JUSTID" => justid = true,
                b"LASTID" => {
                    lastid = Some(parse_id(a.get(i + 1).ok_or("ERR syntax error")?).ok_or("ERR Invalid stream ID")?);
                    i += 1;
                }
                _ => return Err("ERR syntax error".into()),
            }
            i += 1;
        }
        let Some(s) = self.stream_mut(a[1])? else { return Err("NOGROUP No such key".into()) };
        let exists: Vec<bool> = ids.iter().map(|id| s.entries.contains_key(id)).collect();
        let g = s.group(a[2]).ok_or("NOGROUP No such consumer group")?;
        if let Some(l) = lastid {
            if l > g.last_id {
                g.last_id = l;
            }
        }
        let consumer = a[3].to_vec();
        for (id, exists) in ids.into_iter().zip(exists) {
            if !exists {
                // A pending entry whose stream entry is gone is dropped (a
                // dangling reference), never claimed.
                g.pel.remove(&id);
                continue;
            }
            let p = match g.pel.entry(id) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) if force => {
                    v.insert(Pending { consumer: None, delivery_time_ms: now, delivery_count: 0 })
                }
                std::collections::btree_map::Entry::Vacant(_) => continue,
            };
            p.consumer = Some(consumer.clone());
            p.delivery_time_ms = time.unwrap_or(now);
            if let Some(zone) = &mut g.nacked {
                zone.retain(|z| *z != id);
            }
            match retry {
                Some(n) => p.delivery_count = n,
                None if !justid => p.delivery_count += 1,
                None => {}
            }
            // The consumer exists once it has claimed something.
            g.consumer(&consumer, now).seen_time_ms = now;
        }
        Ok(())
    }
}

/// An unsigned 64-bit argument (cursor positions use the whole range).
/// A position argument pair, in the indexable range.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), String> {
    let (lon, lat) = (float(lon)?, float(lat)?);
    if !geo::valid_position(lon, lat) {
        return Err(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"));
    }
    Ok((lon, lat))
}

/// A unit's size in metres.
fn geo_unit(unit: &[u8]) -> Result<f64, String> {
    match unit.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err("ERR unsupported unit provided. please use M, KM, FT, MI".into()),
    }
}

/// `<radius> <unit>`: the radius and the unit's size in metres.
fn geo_distance(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), String> {
    let r = float(radius).map_err(|_| "ERR need numeric radius".to_string())?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((r, geo_unit(unit)?))
}

/// lookupKeyByPattern: `#` is the element itself; otherwise the first `*` is
/// replaced by the element to name a string key, or with `->field` after the
/// `*` a hash key and its field. `None` when there is no `*`, no such key, or
/// it has another type.
fn lookup_pattern(db: &BTreeMap<Vec<u8>, Entry>, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let rest = &pattern[star + 1..];
    // `->` with a non-empty field name after it.
    let arrow = rest.windows(2).position(|w| w == b"->").filter(|&at| at + 2 < rest.len());
    let (postfix, field) = match arrow {
        Some(at) => (&rest[..at], Some(&rest[at + 2..])),
        None => (rest, None),
    };
    let key = [&pattern[..star], element, postfix].concat();
    match (&db.get(&key)?.obj, field) {
        (Obj::Hash(h), Some(f)) => h.get(f).map(|(v, _)| v.clone()),
        (Obj::Str(s), None) => Some(s.clone()),
        _ => None,
    }
}

/// strtod over the whole text, as SORT reads a weight: leading white space
/// allowed, nothing after the number, an empty text is 0, NaN and overflow
/// (ERANGE) refused.
fn strtod_whole(b: &[u8]) -> Option<f64> {
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

fn parse_u64(b: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(b).ok().and_then(|t| t.parse().ok()).ok_or_else(|| "ERR value is out of range".to_string())
}

fn known(upper: &[u8]) -> bool {
    let mut r = Replayer::new();
    // A cheap probe: unknown commands are the ones `run` does not handle.
    let args: [&[u8]; 1] = [upper];
    !matches!(r.run(&args), Ok(false))
}

/// `FIELDS n f…` starting at `at`.
fn fields_arg<'a>(a: &Args<'a>, at: usize) -> Result<Vec<&'a [u8]>, String> {
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

/// A score range end: `(x` exclusive, `x` inclusive, `-inf`/`+inf`.
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

impl ScoreBound {
    /// `s` is at or above this lower bound.
    fn below(&self, s: f64) -> bool {
        if self.exclusive {
            s > self.value
        } else {
            s >= self.value
        }
    }
    /// `s` is at or below this upper bound.
    fn above(&self, s: f64) -> bool {
        if self.exclusive {
            s < self.value
        } else {
            s <= self.value
        }
    }
}

fn score_bound(b: &[u8]) -> Result<ScoreBound, String> {
    let (exclusive, text) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    let value = float(text).map_err(|_| "ERR min or max is not a float".to_string())?;
    Ok(ScoreBound { value, exclusive })
}

/// A lex range end: `[x` inclusive, `(x` exclusive, `-` / `+` the extremes.
enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn lex_bound(b: &[u8]) -> Result<LexBound, String> {
    match b.first() {
        Some(b'-') if b.len() == 1 => Ok(LexBound::Min),
        Some(b'+') if b.len() == 1 => Ok(LexBound::Max),
        Some(b'[') => Ok(LexBound::Incl(b[1..].to_vec())),
        Some(b'(') => Ok(LexBound::Excl(b[1..].to_vec())),
        _ => Err("ERR min or max not valid string range item".into()),
    }
}

/// The members a lex range selects, as Redis walks a compact sorted set
/// (`zzlFirstInLexRange` / `zzlLastInLexRange`): the range must overlap the
/// first and last members (in score order), then from the first member at or
/// above min while at or below max (backwards with `rev`). For members whose
/// lex order differs from their score order this is not a filter, and Redis's
/// answer is the walk's. Indices into `sorted`, in walk order.
fn lex_walk(sorted: &[Vec<u8>], lo: &LexBound, hi: &LexBound, rev: bool) -> Vec<usize> {
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else { return Vec::new() };
    if !lex_ge(lo, last) || !lex_le(hi, first) {
        return Vec::new();
    }
    if rev {
        let start = (0..sorted.len()).rev().find(|&i| lex_le(hi, &sorted[i]));
        start.map_or_else(Vec::new, |s| (0..=s).rev().take_while(|&i| lex_ge(lo, &sorted[i])).collect())
    } else {
        let start = (0..sorted.len()).find(|&i| lex_ge(lo, &sorted[i]));
        start.map_or_else(Vec::new, |s| (s..sorted.len()).take_while(|&i| lex_le(hi, &sorted[i])).collect())
    }
}

/// `m` is at or above the lower bound.
fn lex_ge(lo: &LexBound, m: &[u8]) -> bool {
    match lo {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Incl(x) => m >= x.as_slice(),
        LexBound::Excl(x) => m > x.as_slice(),
    }
}

/// `m` is at or below the upper bound.
fn lex_le(hi: &LexBound, m: &[u8]) -> bool {
    match hi {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m <= x.as_slice(),
        LexBound::Excl(x) => m < x.as_slice(),
    }
}

fn trim_args<'a>(a: &'a [&'a [u8]]) -> Result<(&'a [u8], &'a [u8]), String> {
    let strategy = a[0];
    let mut j = 1;
    if matches!(a.get(j).copied(), Some(b"=") | Some(b"~")) {
        j += 1;
    }
    Ok((strategy, a.get(j).ok_or("ERR syntax error")?))
}

fn apply_trim(s: &mut StreamObj, strategy: &[u8], threshold: &[u8]) -> Res {
    if is(strategy, "MAXLEN") {
        s.trim_maxlen(uint(threshold)?);
    } else {
        s.trim_minid(parse_id(threshold).ok_or("ERR Invalid stream ID")?);
    }
    Ok(())
}

/// The library name in a function's code: `#!<engine> name=<name>`.
/// The library name of `code`, checked as functions.c
/// `functionExtractLibMetaData` and `functionsCreateWithLibraryCtx` check
/// it: a first line `#!<engine> name=<name>` and nothing else, a known
/// engine, a name of letters, digits and underscores.
fn library_metadata(code: &[u8]) -> Result<Vec<u8>, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let mut parts = code[2..end].split(|c| c.is_ascii_whitespace()).filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    let mut name = None;
    for part in parts {
        match part.get(..5) {
            Some(p) if p.eq_ignore_ascii_case(b"name=") && name.is_none() => name = Some(part[5..].to_vec()),
            Some(p) if p.eq_ignore_ascii_case(b"name=") => {
                return Err("ERR Invalid metadata value, name argument was given multiple times".into())
            }
            _ => return Err(format!("ERR Invalid metadata value given: {}", String::from_utf8_lossy(part))),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if name.is_empty() || !name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one \
                    character long"
            .into());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!("ERR Engine '{}' not found", String::from_utf8_lossy(engine)));
    }
    Ok(name)
}

/// The library codes of a `FUNCTION DUMP` payload's records: FUNCTION2
/// records only (rdb.c's pre-release form is refused, as the server does).
fn function_payload_libraries(mut body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use crate::format::opcode;
    let mut libraries = Vec::new();
    while let Some((&ty, rest)) = body.split_first() {
        match ty {
            opcode::FUNCTION2 => {}
            opcode::FUNCTION_PRE_GA => return Err("ERR Pre-GA function format not supported".into()),
            _ => return Err("ERR given type is not a function".into()),
        }
        let (rest, code) =
            crate::token::string::parse_str(rest).map_err(|_| "ERR failed loading the given functions payload")?;
        libraries.push(code.bytes().map_err(|_| "ERR failed loading the given functions payload")?.into_owned());
        body = rest;
    }
    Ok(libraries)
}

fn library_name(code: &[u8]) -> Option<Vec<u8>> {
    let first = code.split(|&c| c == b'\n').next()?;
    let pos = first.windows(5).position(|w| w == b"name=")?;
    let rest = &first[pos + 5..];
    Some(rest.split(|c| c.is_ascii_whitespace()).next()?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Replayer, args: &[&str]) -> Outcome {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        r.apply(&args)
    }

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

    fn field_ttl(r: &mut Replayer, key: &str, field: &str) -> Option<Option<i64>> {
        match &r.keyspace.db(0).get(key.as_bytes())?.obj {
            Obj::Hash(h) => h.get(field.as_bytes()).map(|(_, t)| *t),
            other => panic!("{key} is not a hash: {other:?}"),
        }
    }

    fn key_ttl(r: &mut Replayer, key: &str) -> Option<Option<i64>> {
        r.keyspace.db(0).get(key.as_bytes()).map(|e| e.expire_at_ms)
    }

    /// While loading, the server sets a time already past instead of
    /// expiring (expire.c `checkAlreadyExpired` is false while
    /// `server.loading`): fields and keys stay, with that TTL. A fixed clock
    /// (1 000 000 ms) makes every time below lie in the past.
    #[test]
    fn times_in_the_past_are_kept_as_the_loading_server_keeps_them() {
        const NOW: i64 = 1_000_000;
        let mut r = Replayer::at(NOW);
        run(&mut r, &["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]);
        assert_eq!(run(&mut r, &["HPEXPIREAT", "h", "5000", "FIELDS", "1", "a"]), Outcome::Applied);
        assert_eq!(run(&mut r, &["HEXPIREAT", "h", "7", "FIELDS", "1", "b"]), Outcome::Applied);
        assert_eq!(run(&mut r, &["HPEXPIRE", "h", "0", "FIELDS", "1", "c"]), Outcome::Applied);
        assert_eq!(run(&mut r, &["HEXPIRE", "h", "0", "FIELDS", "1", "e"]), Outcome::Applied);
        assert_eq!(field_ttl(&mut r, "h", "a"), Some(Some(5000)));
        assert_eq!(field_ttl(&mut r, "h", "b"), Some(Some(7000)));
        assert_eq!(field_ttl(&mut r, "h", "c"), Some(Some(NOW)), "HPEXPIRE 0 is now");
        assert_eq!(field_ttl(&mut r, "h", "d"), Some(None));
        assert_eq!(field_ttl(&mut r, "h", "e"), Some(Some(NOW)));
        // Every field of a hash past its time: the hash stays too.
        run(&mut r, &["HSET", "one", "f", "v"]);
        run(&mut r, &["HPEXPIREAT", "one", "1", "FIELDS", "1", "f"]);
        assert_eq!(field_ttl(&mut r, "one", "f"), Some(Some(1)));
        // HSETEX and HGETEX with a time already past.
        assert_eq!(run(&mut r, &["HSETEX", "hs", "PXAT", "2000", "FIELDS", "2", "x", "1", "y", "2"]), Outcome::Applied);
        assert_eq!(field_ttl(&mut r, "hs", "x"), Some(Some(2000)));
        assert_eq!(field_ttl(&mut r, "hs", "y"), Some(Some(2000)));
        assert_eq!(run(&mut r, &["HSETEX", "hs", "EX", "1", "FIELDS", "1", "z", "3"]), Outcome::Applied);
        assert_eq!(field_ttl(&mut r, "hs", "z"), Some(Some(NOW + 1000)), "EX counts from --now");
        assert_eq!(run(&mut r, &["HGETEX", "hs", "PXAT", "3000", "FIELDS", "2", "x", "missing"]), Outcome::Applied);
        assert_eq!(field_ttl(&mut r, "hs", "x"), Some(Some(3000)));
        assert_eq!(field_ttl(&mut r, "hs", "missing"), None, "HGETEX creates no field");
        assert_eq!(run(&mut r, &["HGETEX", "hs", "PERSIST", "FIELDS", "1", "y"]), Outcome::Applied);
        assert_eq!(field_ttl(&mut r, "hs", "y"), Some(None));
        // What the server refuses changes nothing.
        assert!(matches!(run(&mut r, &["HPEXPIREAT", "h", "-1", "FIELDS", "1", "d"]), Outcome::Error(_)));
        assert!(matches!(run(&mut r, &["HPEXPIREAT", "h", "281474976710656", "FIELDS", "1", "d"]), Outcome::Error(_)));
        assert_eq!(field_ttl(&mut r, "h", "d"), Some(None));
        // Keys: SET … PXAT/EXAT, PEXPIREAT/EXPIREAT, RESTORE … ABSTTL in the past.
        assert_eq!(run(&mut r, &["SET", "s", "v", "PXAT", "1234"]), Outcome::Applied);
        assert_eq!(key_ttl(&mut r, "s"), Some(Some(1234)));
        assert_eq!(run(&mut r, &["SET", "s2", "v", "EXAT", "2"]), Outcome::Applied);
        assert_eq!(key_ttl(&mut r, "s2"), Some(Some(2000)));
        run(&mut r, &["SET", "p", "v"]);
        assert_eq!(run(&mut r, &["PEXPIREAT", "p", "99"]), Outcome::Applied);
        assert_eq!(key_ttl(&mut r, "p"), Some(Some(99)));
        run(&mut r, &["SET", "e", "v"]);
        assert_eq!(run(&mut r, &["EXPIREAT", "e", "3"]), Outcome::Applied);
        assert_eq!(key_ttl(&mut r, "e"), Some(Some(3000)));
        // Relative times count from the replay's clock.
        assert_eq!(run(&mut r, &["SETEX", "x", "10", "v"]), Outcome::Applied);
        assert_eq!(key_ttl(&mut r, "x"), Some(Some(NOW + 10_000)));
        assert_eq!(run(&mut r, &["EXPIRE", "x", "-5"]), Outcome::Applied);
        assert_eq!(key_ttl(&mut r, "x"), Some(Some(NOW - 5_000)), "a negative EXPIRE is kept while loading");
        assert_eq!(run(&mut r, &["XADD", "st", "*", "f", "v"]), Outcome::Applied);
        match &r.keyspace.db(0)[b"st".as_slice()].obj {
            Obj::Stream(s) => assert_eq!(s.last_id, StreamId { ms: NOW as u64, seq: 0 }, "XADD * takes --now"),
            other => panic!("not a stream: {other:?}"),
        }
    }

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
