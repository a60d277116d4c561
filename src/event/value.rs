//! A whole value in memory, owned: the one type for every value held rather
//! than streamed. The dump reader builds it from a record, the keyspace from
//! an RDB preamble's or a RESTORE's pieces, and the AOF replay changes it
//! command by command; the writers read it back as pieces ([`ValueSource`]).
//!
//! Its collections keep an order, and the order is the one a server would
//! show: a list's, a set's and a hash's members in insertion order (the
//! file's, or the commands'), which is how a server keeps a listpack-encoded
//! set or hash (t_set.c, t_hash.c); a sorted set's in the file's order, or
//! once in a keyspace by (score, member) as the server ranks them (t_zset.c);
//! a stream's entries and an array's elements by ID and index.

use super::decode::{Piece, Sink};
use super::stream::{StreamId, StreamMeta};
use super::{ArrayValue, ValueSource};
use crate::error::Result;
use crate::format::KeyType;
use crate::token::Item;
use indexmap::{IndexMap, IndexSet};
use std::collections::{BTreeMap, VecDeque};

/// A hash field's value and TTL (Unix ms).
pub type HashField = (Vec<u8>, Option<i64>);

/// A stream entry's field/value pairs.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// A sorted set: member → score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Zset {
    pub scores: IndexMap<Vec<u8>, f64>,
    /// Given out in the order read (a file's: a server writes a skiplist
    /// from its highest score down, rdb.c `rdbSaveObject`) rather than by
    /// (score, member): kept for a value read from a file or a dump, so that
    /// a dump converted back writes the file's order; dropped once the value
    /// is in a keyspace, where the server ranks it.
    pub file_order: bool,
}

impl Zset {
    /// A sorted set in a keyspace: given out by (score, member).
    pub fn ranked(scores: impl IntoIterator<Item = (Vec<u8>, f64)>) -> Zset {
        Zset { scores: scores.into_iter().collect(), file_order: false }
    }

    /// Members by (score, member), as Redis ranks them.
    pub fn sorted(&self) -> Vec<(&[u8], f64)> {
        let mut v: Vec<(&[u8], f64)> = self.scores.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        v
    }

    /// Members in the order they are given out.
    fn given_out(&self) -> Vec<(&[u8], f64)> {
        if self.file_order {
            self.scores.iter().map(|(m, s)| (m.as_slice(), *s)).collect()
        } else {
            self.sorted()
        }
    }
}

/// A stream: its entries by ID, and everything else it holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stream {
    pub entries: BTreeMap<StreamId, Fields>,
    pub meta: StreamMeta,
}

/// A whole value.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Set(IndexSet<Vec<u8>>),
    Zset(Zset),
    Hash(IndexMap<Vec<u8>, HashField>),
    Stream(Box<Stream>),
    /// A module value kept as it was read: name, encoding version, and its
    /// typed values raw.
    Module {
        name: String,
        encver: u64,
        raw: Vec<u8>,
    },
    /// A sparse array (Redis 8.8): index → value, and the insert cursor.
    Array {
        elements: BTreeMap<u64, ArrayValue<Vec<u8>>>,
        cursor: Option<u64>,
    },
}

impl OwnedValue {
    /// An empty value of a type.
    pub fn empty(ty: KeyType) -> OwnedValue {
        match ty {
            KeyType::String => OwnedValue::Str(Vec::new()),
            KeyType::List => OwnedValue::List(VecDeque::new()),
            KeyType::Set => OwnedValue::Set(IndexSet::new()),
            KeyType::Zset => OwnedValue::Zset(Zset { scores: IndexMap::new(), file_order: true }),
            KeyType::Hash => OwnedValue::Hash(IndexMap::new()),
            KeyType::Stream => OwnedValue::Stream(Box::default()),
            KeyType::Module => OwnedValue::Module { name: String::new(), encver: 0, raw: Vec::new() },
            KeyType::Array => OwnedValue::Array { elements: BTreeMap::new(), cursor: None },
        }
    }

    pub fn key_type(&self) -> KeyType {
        match self {
            OwnedValue::Str(_) => KeyType::String,
            OwnedValue::List(_) => KeyType::List,
            OwnedValue::Set(_) => KeyType::Set,
            OwnedValue::Zset(_) => KeyType::Zset,
            OwnedValue::Hash(_) => KeyType::Hash,
            OwnedValue::Stream(_) => KeyType::Stream,
            OwnedValue::Module { .. } => KeyType::Module,
            OwnedValue::Array { .. } => KeyType::Array,
        }
    }

    /// Collections left empty are deleted, as Redis deletes them.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            OwnedValue::List(l) => l.is_empty(),
            OwnedValue::Set(s) => s.is_empty(),
            OwnedValue::Zset(z) => z.scores.is_empty(),
            OwnedValue::Hash(h) => h.is_empty(),
            _ => false,
        }
    }

    /// Build a value from any value's pieces (an RDB key, a RESTORE payload),
    /// in their order.
    pub fn from_source(v: &dyn ValueSource) -> Result<OwnedValue> {
        let mut value = OwnedValue::empty(v.key_type());
        v.pieces(&mut |p: Piece<'_>| {
            match (&mut value, p) {
                (OwnedValue::Str(s), Piece::Str(b)) => *s = b.to_vec(),
                (OwnedValue::List(l), Piece::Elem(it)) => l.push_back(it.to_vec()),
                (OwnedValue::Set(s), Piece::Elem(it)) => {
                    s.insert(it.to_vec());
                }
                (OwnedValue::Zset(z), Piece::Member { member, score }) => {
                    z.scores.insert(member.to_vec(), score);
                }
                (OwnedValue::Hash(h), Piece::Field { field, value, expire_at_ms }) => {
                    h.insert(field.to_vec(), (value.to_vec(), expire_at_ms));
                }
                (OwnedValue::Stream(s), Piece::StreamEntry { id, fields }) => {
                    s.entries.insert(id, fields.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect());
                }
                (OwnedValue::Stream(s), Piece::StreamMeta(m)) => s.meta = m.clone(),
                (OwnedValue::Array { cursor, .. }, Piece::ArrayHeader { cursor: c, .. }) => *cursor = c,
                (OwnedValue::Array { elements, .. }, Piece::ArrayElem { index, value }) => {
                    elements.insert(index, value.owned());
                }
                (OwnedValue::Module { name, encver, raw }, Piece::Module { name: n, encver: e, raw: r }) => {
                    *name = n.to_string();
                    *encver = e;
                    *raw = r.to_vec();
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(value)
    }
}

impl ValueSource for OwnedValue {
    fn key_type(&self) -> KeyType {
        OwnedValue::key_type(self)
    }

    fn pieces(&self, sink: &mut dyn Sink) -> Result<()> {
        match self {
            OwnedValue::Str(s) => sink.piece(Piece::Str(s)),
            OwnedValue::List(l) => l.iter().try_for_each(|e| sink.piece(Piece::Elem(Item::Bytes(e)))),
            OwnedValue::Set(s) => s.iter().try_for_each(|e| sink.piece(Piece::Elem(Item::Bytes(e)))),
            OwnedValue::Zset(z) => z
                .given_out()
                .into_iter()
                .try_for_each(|(m, score)| sink.piece(Piece::Member { member: Item::Bytes(m), score })),
            OwnedValue::Hash(h) => h.iter().try_for_each(|(f, (v, t))| {
                sink.piece(Piece::Field { field: Item::Bytes(f), value: Item::Bytes(v), expire_at_ms: *t })
            }),
            OwnedValue::Stream(s) => {
                for (id, fields) in &s.entries {
                    let items: Vec<(Item<'_>, Item<'_>)> =
                        fields.iter().map(|(f, v)| (Item::Bytes(f), Item::Bytes(v))).collect();
                    sink.piece(Piece::StreamEntry { id: *id, fields: &items })?;
                }
                sink.piece(Piece::StreamMeta(&s.meta))
            }
            OwnedValue::Module { name, encver, raw } => sink.piece(Piece::Module { name, encver: *encver, raw }),
            OwnedValue::Array { elements, cursor } => {
                sink.piece(Piece::ArrayHeader { count: elements.len() as u64, cursor: *cursor })?;
                elements
                    .iter()
                    .try_for_each(|(index, v)| sink.piece(Piece::ArrayElem { index: *index, value: v.borrowed() }))
            }
        }
    }
}
