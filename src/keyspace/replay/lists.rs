//! List writes (t_list.c): pushes, pops, moves between lists, LSET, LTRIM,
//! LREM, LINSERT. Blocking pops reach an AOF as the plain pops the server
//! propagates; a list left empty is deleted, as the server deletes it.

use super::args::{int, is, uint};
use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::OwnedValue;
use crate::keyspace::Entry;
use std::collections::VecDeque;

impl Replayer {
    fn list_or_new(&mut self, key: &[u8]) -> Result<&mut VecDeque<Vec<u8>>, String> {
        match self.obj_or(key, || OwnedValue::List(VecDeque::new()), |o| matches!(o, OwnedValue::List(_)))? {
            OwnedValue::List(l) => Ok(l),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    /// LPUSH / RPUSH (`left` or not) and their X forms (`only_existing`).
    pub(super) fn push(&mut self, a: &Args<'_>, left: bool, only_existing: bool) -> Res {
        if only_existing && !self.db().contains_key(a[1]) {
            return Ok(());
        }
        let l = self.list_or_new(a[1])?;
        for v in &a[2..] {
            if left {
                l.push_front(v.to_vec())
            } else {
                l.push_back(v.to_vec())
            }
        }
        Ok(())
    }

    /// LPOP / RPOP key [count].
    pub(super) fn pop(&mut self, a: &Args<'_>, left: bool) -> Res {
        let count = if a.len() > 2 { uint(a[2])? } else { 1 };
        if let Some(Entry { obj: OwnedValue::List(l), .. }) = self.get_mut(a[1]) {
            // A count beyond the length pops everything: bound the loop by
            // the list, never by the file's number.
            let count = usize::try_from(count).unwrap_or(usize::MAX).min(l.len());
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
        Ok(())
    }

    /// LMOVE src dst LEFT|RIGHT LEFT|RIGHT: anything but LEFT counts as RIGHT.
    pub(super) fn lmove(&mut self, a: &Args<'_>) -> Res {
        self.move_element(a, is(a[3], "LEFT"), is(a[4], "LEFT"))
    }

    /// RPOPLPUSH and LMOVE (t_list.c `lmoveGenericCommand`).
    pub(super) fn move_element(&mut self, a: &Args<'_>, from_left: bool, to_left: bool) -> Res {
        if a[1] == a[2] {
            // Rotating a list onto itself: the key (and its TTL) stays.
            if let Some(Entry { obj: OwnedValue::List(l), .. }) = self.get_mut(a[1]) {
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
            return Ok(());
        }
        if matches!(self.db().get(a[2]), Some(e) if !matches!(e.obj, OwnedValue::List(_))) {
            return Err(WRONGTYPE.into());
        }
        let v = match self.get_mut(a[1]) {
            Some(Entry { obj: OwnedValue::List(l), .. }) => {
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
        Ok(())
    }

    pub(super) fn lset(&mut self, a: &Args<'_>) -> Res {
        let i = int(a[2])?;
        match self.get_mut(a[1]) {
            Some(Entry { obj: OwnedValue::List(l), .. }) => {
                let idx = if i < 0 { l.len() as i64 + i } else { i };
                let slot = usize::try_from(idx).ok().and_then(|i| l.get_mut(i)).ok_or("ERR index out of range")?;
                *slot = a[3].to_vec();
            }
            Some(_) => return Err(WRONGTYPE.into()),
            None => return Err("ERR no such key".into()),
        }
        Ok(())
    }

    pub(super) fn ltrim(&mut self, a: &Args<'_>) -> Res {
        let (start, stop) = (int(a[2])?, int(a[3])?);
        if let Some(Entry { obj: OwnedValue::List(l), .. }) = self.get_mut(a[1]) {
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
        Ok(())
    }

    /// LREM key count value: from the head for count ≥ 0, from the tail
    /// below 0; 0 removes all.
    pub(super) fn lrem(&mut self, a: &Args<'_>) -> Res {
        let count = int(a[2])?;
        if let Some(Entry { obj: OwnedValue::List(l), .. }) = self.get_mut(a[1]) {
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
        Ok(())
    }

    /// LINSERT key BEFORE|AFTER pivot value: anything but BEFORE counts as AFTER.
    pub(super) fn linsert(&mut self, a: &Args<'_>) -> Res {
        let before = is(a[2], "BEFORE");
        if let Some(Entry { obj: OwnedValue::List(l), .. }) = self.get_mut(a[1]) {
            if let Some(i) = l.iter().position(|v| v == a[3]) {
                l.insert(if before { i } else { i + 1 }, a[4].to_vec());
            }
        }
        Ok(())
    }
}
