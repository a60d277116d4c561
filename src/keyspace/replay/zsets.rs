//! Sorted-set writes (t_zset.c): ZADD, ZINCRBY, ZREM, ZPOPMIN/ZPOPMAX, the
//! ZREMRANGEBY* family, ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE and ZRANGESTORE,
//! with score and lex ranges read as the server reads them.

use super::args::{float, int, is, uint};
use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::value::{OwnedValue, Zset};
use crate::keyspace::Entry;
use std::collections::HashMap;

/// Which STORE command of the sorted-set algebra.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ZsetOp {
    Union,
    Inter,
    Diff,
}

impl Replayer {
    fn zset_or_new(&mut self, key: &[u8]) -> Result<&mut Zset, String> {
        match self.obj_or(key, || OwnedValue::Zset(Zset::ranked([])), |o| matches!(o, OwnedValue::Zset(_)))? {
            OwnedValue::Zset(z) => Ok(z),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member… (t_zset.c
    /// `zaddGenericCommand`); GEOADD comes here too.
    pub(super) fn zadd(&mut self, a: &Args<'_>) -> Res {
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

    pub(super) fn zincrby(&mut self, a: &Args<'_>) -> Res {
        let by = float(a[2])?;
        let z = self.zset_or_new(a[1])?;
        let s = z.scores.entry(a[3].to_vec()).or_insert(0.0);
        let v = *s + by;
        if v.is_nan() {
            return Err("ERR resulting score is not a number (NaN)".into());
        }
        *s = v;
        Ok(())
    }

    pub(super) fn zrem(&mut self, a: &Args<'_>) -> Res {
        match self.get_mut(a[1]) {
            Some(Entry { obj: OwnedValue::Zset(z), .. }) => a[2..].iter().for_each(|m| {
                z.scores.swap_remove(*m);
            }),
            Some(_) => return Err(WRONGTYPE.into()),
            None => {}
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// ZPOPMIN / ZPOPMAX (`max`) key [count].
    pub(super) fn zpop(&mut self, a: &Args<'_>, max: bool) -> Res {
        let count = if a.len() > 2 { uint(a[2])? as usize } else { 1 };
        if let Some(Entry { obj: OwnedValue::Zset(z), .. }) = self.get_mut(a[1]) {
            let mut sorted: Vec<Vec<u8>> = z.sorted().into_iter().map(|(m, _)| m.to_vec()).collect();
            if max {
                sorted.reverse();
            }
            for m in sorted.into_iter().take(count) {
                z.scores.swap_remove(&m);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    pub(super) fn zremrangebyrank(&mut self, a: &Args<'_>) -> Res {
        let (start, stop) = (int(a[2])?, int(a[3])?);
        if let Some(Entry { obj: OwnedValue::Zset(z), .. }) = self.get_mut(a[1]) {
            let sorted: Vec<Vec<u8>> = z.sorted().into_iter().map(|(m, _)| m.to_vec()).collect();
            let n = sorted.len() as i64;
            let s = if start < 0 { (n + start).max(0) } else { start };
            let e = if stop < 0 { n + stop } else { stop.min(n - 1) };
            for m in sorted.iter().take((e + 1).max(0) as usize).skip(s.max(0) as usize) {
                z.scores.swap_remove(m);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    pub(super) fn zremrangebyscore(&mut self, a: &Args<'_>) -> Res {
        let (lo, hi) = (score_bound(a[2])?, score_bound(a[3])?);
        if let Some(Entry { obj: OwnedValue::Zset(z), .. }) = self.get_mut(a[1]) {
            z.scores.retain(|_, s| !(lo.below(*s) && hi.above(*s)));
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    pub(super) fn zremrangebylex(&mut self, a: &Args<'_>) -> Res {
        let (lo, hi) = (lex_bound(a[2])?, lex_bound(a[3])?);
        if let Some(Entry { obj: OwnedValue::Zset(z), .. }) = self.get_mut(a[1]) {
            // As zzlDeleteRangeByLex walks it (see `lex_walk`).
            let sorted: Vec<Vec<u8>> = z.sorted().into_iter().map(|(m, _)| m.to_vec()).collect();
            let doomed: Vec<Vec<u8>> =
                lex_walk(&sorted, &lo, &hi, false).into_iter().map(|i| sorted[i].clone()).collect();
            for m in doomed {
                z.scores.swap_remove(&m);
            }
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    /// ZUNIONSTORE / ZINTERSTORE dest n key… [WEIGHTS w…] [AGGREGATE SUM|MIN|MAX],
    /// ZDIFFSTORE dest n key…; sets count as sorted sets of score 1.
    pub(super) fn zset_store(&mut self, a: &Args<'_>, op: ZsetOp) -> Res {
        let n = uint(a[2])? as usize;
        let keys = a.get(3..3 + n).ok_or("ERR syntax error")?;
        let mut weights = vec![1.0f64; n];
        let mut aggregate = b"SUM".to_vec();
        let mut i = 3 + n;
        while i < a.len() {
            if is(a[i], "WEIGHTS") && op != ZsetOp::Diff {
                for (w, arg) in weights.iter_mut().zip(a.get(i + 1..i + 1 + n).ok_or("ERR syntax error")?) {
                    *w = float(arg).map_err(|_| "ERR weight value is not a float".to_string())?;
                }
                i += n + 1;
            } else if is(a[i], "AGGREGATE") && op != ZsetOp::Diff {
                aggregate = a.get(i + 1).ok_or("ERR syntax error")?.to_ascii_uppercase();
                i += 2;
            } else {
                return Err("ERR syntax error".into());
            }
        }
        let mut sources: Vec<HashMap<Vec<u8>, f64>> = Vec::new();
        for k in keys {
            sources.push(match self.db().get(*k) {
                Some(Entry { obj: OwnedValue::Zset(z), .. }) => z.scores.iter().map(|(m, s)| (m.clone(), *s)).collect(),
                Some(Entry { obj: OwnedValue::Set(s), .. }) => s.iter().map(|m| (m.clone(), 1.0)).collect(),
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
        let mut result: HashMap<Vec<u8>, f64> = Default::default();
        match op {
            ZsetOp::Diff => {
                if let Some((first, rest)) = sources.split_first() {
                    for (m, s) in first {
                        if rest.iter().all(|o| !o.contains_key(m)) {
                            result.insert(m.clone(), *s);
                        }
                    }
                }
            }
            ZsetOp::Union => {
                for (src, w) in sources.iter().zip(&weights) {
                    for (m, s) in src {
                        let v = nan0(s * w);
                        result.entry(m.clone()).and_modify(|acc| *acc = combine(*acc, v)).or_insert(v);
                    }
                }
            }
            ZsetOp::Inter => {
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
        self.store(a[1], OwnedValue::Zset(Zset::ranked(result)));
        Ok(())
    }

    /// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT off count].
    pub(super) fn zrangestore(&mut self, a: &Args<'_>) -> Res {
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
            Some(Entry { obj: OwnedValue::Zset(z), .. }) => {
                z.sorted().into_iter().map(|(m, s)| (m.to_vec(), s)).collect()
            }
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
        self.store(a[1], OwnedValue::Zset(Zset::ranked(picked)));
        Ok(())
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
