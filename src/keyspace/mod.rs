//! An in-memory keyspace with Redis's data model, for turning an AOF into a
//! snapshot: values ([`OwnedValue`]) are built from RDB pieces (preambles,
//! RESTORE) and changed by replayed commands (`replay`), and handed to the
//! writers as [`ValueSource`](crate::event::ValueSource)s. The whole dataset
//! is held in memory: roughly 2–3× the size of the data itself (each member
//! is its own allocation).
//!
//! Above `event` (it consumes pieces), below `cmd` (convert drives it).

pub mod command_keys;
pub mod geo;
pub mod hll;
pub mod replay;
pub mod stream;

use crate::event::value::HashField;
use crate::event::{KeyAttrs, OwnedValue};
use indexmap::{IndexMap, IndexSet};
use std::collections::BTreeMap;

/// Up to this many members, a set or hash may be a listpack or an intset in
/// the server (the compiled defaults of `hash-max-listpack-entries` and
/// `set-max-intset-entries`), whose order the replay keeps; past it the
/// server's order is its hash table's, which no replay reproduces, and
/// removal takes O(1) instead of O(n).
const ORDER_KEPT_UP_TO: usize = 512;

/// Add a set member (SADD, SMOVE) where the server's encoding puts it: a
/// small all-integer set is an intset, sorted (intset.c), and the first
/// other member turns it into a listpack that keeps that order and appends
/// (t_set.c `setTypeConvertAndExpand`); otherwise at the end.
pub(crate) fn add_member(set: &mut IndexSet<Vec<u8>>, member: &[u8]) {
    let int = |m: &[u8]| crate::token::parse_canonical_i64(m);
    if set.contains(member) {
        return;
    }
    if set.len() <= ORDER_KEPT_UP_TO && int(member).is_none() && set.iter().all(|m| int(m).is_some()) {
        set.sort_by_cached_key(|m| int(m));
    }
    set.insert(member.to_vec());
}

/// Remove a set member (SREM, SMOVE) as the server's encoding would.
pub(crate) fn remove_member(set: &mut IndexSet<Vec<u8>>, member: &[u8]) -> bool {
    if set.len() <= ORDER_KEPT_UP_TO {
        set.shift_remove(member)
    } else {
        set.swap_remove(member)
    }
}

/// Remove a hash field (HDEL, an expired field) as the server's encoding would.
pub(crate) fn remove_field(hash: &mut IndexMap<Vec<u8>, HashField>, field: &[u8]) -> Option<HashField> {
    if hash.len() <= ORDER_KEPT_UP_TO {
        hash.shift_remove(field)
    } else {
        hash.swap_remove(field)
    }
}

/// A key's value and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub obj: OwnedValue,
    pub expire_at_ms: Option<i64>,
    /// What loading gave the key besides its expiry; boxed, since nearly
    /// every key has none and the keyspace holds millions of them (inline,
    /// these fields cost 80 bytes a key: +13 % peak RSS replaying the
    /// benchmark AOF). [`Entry::attrs`] gives all of them as one `KeyAttrs`.
    loaded: Option<Box<Loaded>>,
}

/// An RDB key's attributes other than its expiry (see [`KeyAttrs`]).
#[derive(Debug, Clone, PartialEq)]
struct Loaded {
    idle_s: Option<u64>,
    freq: Option<u8>,
    ram_lru: Option<u64>,
    key_meta: Option<Vec<u8>>,
}

impl Entry {
    /// A key a command creates: a value and its expiry.
    pub fn new(obj: OwnedValue, expire_at_ms: Option<i64>) -> Entry {
        Entry { obj, expire_at_ms, loaded: None }
    }

    /// A key as loading puts it in the keyspace (an RDB preamble or base, a
    /// RESTORE), with all its attributes: a stream gets the counters a
    /// server derives on load, and a sorted set is ranked.
    pub fn loaded(mut obj: OwnedValue, attrs: &KeyAttrs<'_>) -> Entry {
        match &mut obj {
            OwnedValue::Stream(s) => s.derive_on_load(),
            OwnedValue::Zset(z) => z.file_order = false,
            _ => {}
        }
        let KeyAttrs { expire_at_ms, idle_s, freq, ram_lru, key_meta } = *attrs;
        let loaded = Loaded { idle_s, freq, ram_lru, key_meta: key_meta.map(<[u8]>::to_vec) };
        let any = loaded.idle_s.is_some() || freq.is_some() || ram_lru.is_some() || loaded.key_meta.is_some();
        Entry { obj, expire_at_ms, loaded: any.then(|| Box::new(loaded)) }
    }

    /// All its attributes.
    pub fn attrs(&self) -> KeyAttrs<'_> {
        let mut attrs = KeyAttrs { expire_at_ms: self.expire_at_ms, ..KeyAttrs::default() };
        if let Some(l) = &self.loaded {
            attrs = KeyAttrs {
                idle_s: l.idle_s,
                freq: l.freq,
                ram_lru: l.ram_lru,
                key_meta: l.key_meta.as_deref(),
                ..attrs
            };
        }
        attrs
    }

    /// COPY's destination: a new object (db.c `copyCommand`), with the
    /// source's expiry and metadata but a fresh LRU clock and LFU counter.
    pub(crate) fn copied(&self) -> Entry {
        let mut copy = self.clone();
        if let Some(l) = &mut copy.loaded {
            (l.idle_s, l.freq) = (None, None);
        }
        copy
    }

    /// A write command found the key: the server's lookup for a write
    /// refreshes its LRU clock (db.c `lookupKey`), so the idle time loaded
    /// no longer holds. (Its LFU counter moves by chance, and is kept.)
    pub(crate) fn touched(&mut self) -> &mut Entry {
        if let Some(l) = &mut self.loaded {
            l.idle_s = None;
        }
        self
    }
}

/// Databases of keys, and the function libraries.
#[derive(Debug, Clone, Default)]
pub struct Keyspace {
    pub dbs: BTreeMap<u64, BTreeMap<Vec<u8>, Entry>>,
    /// Library name → code, in load order of first appearance.
    pub functions: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Keyspace {
    pub fn db(&mut self, db: u64) -> &mut BTreeMap<Vec<u8>, Entry> {
        self.dbs.entry(db).or_default()
    }

    pub fn keys(&self) -> usize {
        self.dbs.values().map(BTreeMap::len).sum()
    }
}
