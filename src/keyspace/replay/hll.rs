//! HyperLogLog writes (hyperloglog.c): PFADD, PFMERGE, and PFCOUNT, which
//! the server logs because it rewrites the cached cardinality. The bytes
//! they leave are computed by `keyspace::hll`.

use super::{Args, Replayer, Res, WRONGTYPE};
use crate::event::OwnedValue;
use crate::keyspace::hll;
use crate::keyspace::Entry;

/// Which PF command.
#[derive(Clone, Copy)]
pub(super) enum Hll {
    Add,
    Merge,
    Count,
}

impl Replayer {
    /// PFADD key elem…, PFMERGE dst src…, PFCOUNT key (which rewrites the
    /// cached cardinality, so the server logs it): the strings they leave are
    /// the server's bytes (`hll`). Existing keys keep their TTL.
    pub(super) fn hyperloglog(&mut self, a: &Args<'_>, cmd: Hll) -> Res {
        let string = |e: Option<&Entry>| match e {
            Some(Entry { obj: OwnedValue::Str(s), .. }) => Ok(Some(s.clone())),
            Some(_) => Err(WRONGTYPE.to_string()),
            None => Ok(None),
        };
        let current = string(self.db().get(a[1]))?;
        let value = match cmd {
            Hll::Add => hll::pfadd(current.as_deref(), &a[2..])?.0,
            Hll::Merge => {
                let mut sources = Vec::new();
                for k in &a[2..] {
                    sources.extend(string(self.db().get(*k))?);
                }
                let sources: Vec<&[u8]> = sources.iter().map(Vec::as_slice).collect();
                hll::pfmerge(current.as_deref(), &sources)?
            }
            // PFCOUNT of several keys merges into a scratch value: nothing changes.
            Hll::Count if a.len() > 2 => return Ok(()),
            Hll::Count => match current {
                Some(v) => hll::pfcount(&v)?.0,
                None => return Ok(()),
            },
        };
        *self.string_or(a[1], b"")? = value;
        Ok(())
    }
}
