//! SORT … STORE (sort.c `sortCommandGeneric`): the only SORT an AOF holds
//! is one that stores. BY and GET patterns read other keys of the database.

use super::args::{int, strtod_whole};
use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::OwnedValue;
use crate::keyspace::Entry;
use std::collections::{BTreeMap, VecDeque};

impl Replayer {
    /// SORT key [BY pattern] [LIMIT off count] [GET pattern…] [ASC|DESC]
    /// [ALPHA] STORE dst, as sortCommand runs it (the only SORT an AOF holds is
    /// one that stores). Patterns read other keys of the database
    /// (`lookup_pattern`).
    pub(super) fn sort_store(&mut self, a: &Args<'_>) -> Res {
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
        let Some(dst) = store else { return Ok(()) };
        let mut items: Vec<Vec<u8>> = match self.db().get(a[1]) {
            Some(Entry { obj: OwnedValue::List(l), .. }) => l.iter().cloned().collect(),
            Some(Entry { obj: OwnedValue::Set(s), .. }) => {
                // Stored unsorted it would depend on hash order: Redis sorts it (ALPHA, no BY).
                if dontsort {
                    (dontsort, alpha, by) = (false, true, None);
                }
                s.iter().cloned().collect()
            }
            Some(Entry { obj: OwnedValue::Zset(z), .. }) => z.sorted().into_iter().map(|(m, _)| m.to_vec()).collect(),
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
        self.store(&dst, OwnedValue::List(out));
        Ok(())
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
        (OwnedValue::Hash(h), Some(f)) => h.get(f).map(|(v, _)| v.clone()),
        (OwnedValue::Str(s), None) => Some(s.clone()),
        _ => None,
    }
}
