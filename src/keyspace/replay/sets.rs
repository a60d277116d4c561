//! Set writes (t_set.c): SADD, SREM, SMOVE and the STORE forms of the set
//! algebra. SPOP reaches an AOF as the SREM the server propagates.

use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::OwnedValue;
use crate::keyspace::{add_member, remove_member, Entry};
use indexmap::IndexSet;

/// Which STORE command of the set algebra.
#[derive(Clone, Copy)]
pub(super) enum SetOp {
    Inter,
    Union,
    Diff,
}

impl Replayer {
    fn set_or_new(&mut self, key: &[u8]) -> Result<&mut IndexSet<Vec<u8>>, String> {
        match self.obj_or(key, || OwnedValue::Set(IndexSet::new()), |o| matches!(o, OwnedValue::Set(_)))? {
            OwnedValue::Set(s) => Ok(s),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    pub(super) fn sadd(&mut self, a: &Args<'_>) -> Res {
        let s = self.set_or_new(a[1])?;
        a[2..].iter().for_each(|m| add_member(s, m));
        Ok(())
    }

    pub(super) fn srem(&mut self, a: &Args<'_>) -> Res {
        match self.get_mut(a[1]) {
            Some(Entry { obj: OwnedValue::Set(s), .. }) => a[2..].iter().for_each(|m| {
                remove_member(s, m);
            }),
            Some(_) => return Err(WRONGTYPE.into()),
            None => {}
        }
        self.drop_if_empty(a[1]);
        Ok(())
    }

    pub(super) fn smove(&mut self, a: &Args<'_>) -> Res {
        let moved = match self.get_mut(a[1]) {
            Some(Entry { obj: OwnedValue::Set(s), .. }) => remove_member(s, a[3]),
            Some(_) => return Err(WRONGTYPE.into()),
            None => false,
        };
        self.drop_if_empty(a[1]);
        if moved {
            let s = self.set_or_new(a[2])?;
            add_member(s, a[3]);
        }
        Ok(())
    }

    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE dest key…
    pub(super) fn set_store(&mut self, a: &Args<'_>, op: SetOp) -> Res {
        let mut sets: Vec<IndexSet<Vec<u8>>> = Vec::new();
        for k in &a[2..] {
            match self.db().get(*k) {
                Some(Entry { obj: OwnedValue::Set(s), .. }) => sets.push(s.clone()),
                Some(_) => return Err(WRONGTYPE.into()),
                None => sets.push(IndexSet::new()),
            }
        }
        let mut it = sets.into_iter();
        let first = it.next().unwrap_or_default();
        // Members in the order of the first set they are found in.
        let result: IndexSet<Vec<u8>> = match op {
            SetOp::Inter => it.fold(first, |acc, s| acc.intersection(&s).cloned().collect()),
            SetOp::Union => it.fold(first, |mut acc, s| {
                acc.extend(s);
                acc
            }),
            SetOp::Diff => it.fold(first, |acc, s| acc.difference(&s).cloned().collect()),
        };
        self.store(a[1], OwnedValue::Set(result));
        Ok(())
    }
}
