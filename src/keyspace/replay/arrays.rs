//! Sparse-array writes (Redis 8.8): ARSET/ARMSET, ARDEL, ARSEEK,
//! ARINSERT and ARRING, which append at the insert cursor (ARRING wrapping
//! round a ring of the given size).

use super::args::{parse_u64, uint};
use super::{Args, Replayer, Res};
use crate::event::{ArrayValue, OwnedValue};
use crate::keyspace::Entry;
use std::collections::BTreeMap;

impl Replayer {
    /// An array's elements and insert cursor.
    #[allow(clippy::type_complexity)]
    fn array_or_new(
        &mut self,
        key: &[u8],
    ) -> Result<(&mut BTreeMap<u64, ArrayValue<Vec<u8>>>, &mut Option<u64>), String> {
        let make = || OwnedValue::Array { elements: BTreeMap::new(), cursor: None };
        match self.obj_or(key, make, |o| matches!(o, OwnedValue::Array { .. }))? {
            OwnedValue::Array { elements, cursor } => Ok((elements, cursor)),
            _ => unreachable!("obj_or checked the type"),
        }
    }

    /// ARSET / ARMSET key index value…: past the table's arity, its own
    /// message for an odd count.
    pub(super) fn arset(&mut self, a: &Args<'_>) -> Res {
        if !(a.len() - 2).is_multiple_of(2) {
            return Err("ERR wrong number of arguments".into());
        }
        let pairs: Vec<(u64, Vec<u8>)> =
            a[2..].chunks(2).map(|p| Ok((uint(p[0])?, p[1].to_vec()))).collect::<Result<_, String>>()?;
        let (elements, _) = self.array_or_new(a[1])?;
        for (i, v) in pairs {
            elements.insert(i, ArrayValue::Bytes(v));
        }
        Ok(())
    }

    pub(super) fn ardel(&mut self, a: &Args<'_>) -> Res {
        let idx: Vec<u64> = a[2..].iter().map(|i| uint(i)).collect::<Result<_, String>>()?;
        if let Some(Entry { obj: OwnedValue::Array { elements, .. }, .. }) = self.get_mut(a[1]) {
            for i in idx {
                elements.remove(&i);
            }
            if elements.is_empty() {
                self.db().remove(a[1]);
            }
        }
        Ok(())
    }

    pub(super) fn arseek(&mut self, a: &Args<'_>) -> Res {
        let n = parse_u64(a[2])?;
        if let Some(Entry { obj: OwnedValue::Array { cursor, .. }, .. }) = self.get_mut(a[1]) {
            // The cursor is the last insert position: ARSEEK n makes n the next one.
            *cursor = n.checked_sub(1);
        }
        Ok(())
    }

    /// ARINSERT key value… and ARRING key size value… (`ring`).
    pub(super) fn arinsert(&mut self, a: &Args<'_>, ring: bool) -> Res {
        let (size, values) = if ring { (Some(uint(a[2])?.max(1)), &a[3..]) } else { (None, &a[2..]) };
        let (elements, cursor) = self.array_or_new(a[1])?;
        for v in values {
            let next = cursor.map_or(0, |c| c.wrapping_add(1));
            let at = size.map_or(next, |n| next % n);
            elements.insert(at, ArrayValue::Bytes(v.to_vec()));
            *cursor = Some(at);
        }
        Ok(())
    }
}
