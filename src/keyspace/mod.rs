//! An in-memory keyspace with Redis's data model, for turning an AOF into a
//! snapshot: objects are built from RDB pieces (preambles, RESTORE) and changed
//! by replayed commands (`replay`), and handed to the writers as
//! [`ValueSource`]s. The whole dataset is held in memory: roughly 2–3× the size
//! of the data itself (each member is its own allocation).
//!
//! Above `event` (it consumes pieces), below `cmd` (convert drives it).

pub mod geo;
pub mod hll;
pub mod replay;
pub mod stream;

use crate::error::Result;
use crate::event::decode::{Piece, Sink};
use crate::event::ValueSource;
use crate::format::KeyType;
use crate::token::Item;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use stream::StreamObj;

/// A sorted set: member → score, written out in (score, member) order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZsetObj {
    pub scores: HashMap<Vec<u8>, f64>,
}

impl ZsetObj {
    /// Members by (score, member), as Redis orders them.
    pub fn sorted(&self) -> Vec<(&[u8], f64)> {
        let mut v: Vec<(&[u8], f64)> = self.scores.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
        v
    }
}

/// A hash field's value and TTL.
pub type HashField = (Vec<u8>, Option<i64>);

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Obj {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Zset(ZsetObj),
    Hash(BTreeMap<Vec<u8>, HashField>),
    Stream(Box<StreamObj>),
    /// A module value kept as it was read (name, encver, raw typed values).
    Module {
        name: String,
        encver: u64,
        raw: Vec<u8>,
    },
    /// A sparse array (Redis 8.8): index → value, and the insert cursor.
    Array {
        elements: BTreeMap<u64, ArrayVal>,
        cursor: Option<u64>,
    },
}

/// An array element.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayVal {
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
}

impl Obj {
    pub fn key_type(&self) -> KeyType {
        match self {
            Obj::Str(_) => KeyType::String,
            Obj::List(_) => KeyType::List,
            Obj::Set(_) => KeyType::Set,
            Obj::Zset(_) => KeyType::Zset,
            Obj::Hash(_) => KeyType::Hash,
            Obj::Stream(_) => KeyType::Stream,
            Obj::Module { .. } => KeyType::Module,
            Obj::Array { .. } => KeyType::Array,
        }
    }

    /// Collections left empty are deleted, as Redis deletes them.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Obj::List(l) => l.is_empty(),
            Obj::Set(s) => s.is_empty(),
            Obj::Zset(z) => z.scores.is_empty(),
            Obj::Hash(h) => h.is_empty(),
            _ => false,
        }
    }

    /// Build an object from any value's pieces (an RDB key, a RESTORE payload).
    pub fn from_source(v: &dyn ValueSource) -> Result<Obj> {
        let mut obj = match v.key_type() {
            KeyType::String => Obj::Str(Vec::new()),
            KeyType::List => Obj::List(VecDeque::new()),
            KeyType::Set => Obj::Set(BTreeSet::new()),
            KeyType::Zset => Obj::Zset(ZsetObj::default()),
            KeyType::Hash => Obj::Hash(BTreeMap::new()),
            KeyType::Stream => Obj::Stream(Box::default()),
            KeyType::Module => Obj::Module { name: String::new(), encver: 0, raw: Vec::new() },
            KeyType::Array => Obj::Array { elements: BTreeMap::new(), cursor: None },
        };
        v.pieces(&mut |p: Piece<'_>| {
            match (&mut obj, p) {
                (Obj::Str(s), Piece::Str(b)) => *s = b.to_vec(),
                (Obj::List(l), Piece::Elem(it)) => l.push_back(it.to_vec()),
                (Obj::Set(s), Piece::Elem(it)) => {
                    s.insert(it.to_vec());
                }
                (Obj::Zset(z), Piece::Member { member, score }) => {
                    z.scores.insert(member.to_vec(), score);
                }
                (Obj::Hash(h), Piece::Field { field, value, expire_at_ms }) => {
                    h.insert(field.to_vec(), (value.to_vec(), expire_at_ms));
                }
                (Obj::Stream(s), Piece::StreamEntry { id, fields }) => {
                    s.entries.insert(id, fields.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect());
                }
                (Obj::Stream(s), Piece::StreamMeta(m)) => s.set_meta(m),
                (Obj::Array { cursor, .. }, Piece::ArrayHeader { cursor: c, .. }) => *cursor = c,
                (Obj::Array { elements, .. }, Piece::ArrayElem { index, value }) => {
                    let v = match value {
                        crate::event::ArrayValue::Bytes(b) => ArrayVal::Bytes(b.to_vec()),
                        crate::event::ArrayValue::Int(i) => ArrayVal::Int(i),
                        crate::event::ArrayValue::Float(f) => ArrayVal::Float(f),
                    };
                    elements.insert(index, v);
                }
                (Obj::Module { name, encver, raw }, Piece::Module { name: n, encver: e, raw: r }) => {
                    *name = n.to_string();
                    *encver = e;
                    *raw = r.to_vec();
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(obj)
    }
}

impl ValueSource for Obj {
    fn key_type(&self) -> KeyType {
        Obj::key_type(self)
    }

    fn pieces(&self, sink: &mut dyn Sink) -> Result<()> {
        match self {
            Obj::Str(s) => sink.piece(Piece::Str(s)),
            Obj::List(l) => l.iter().try_for_each(|e| sink.piece(Piece::Elem(Item::Bytes(e)))),
            Obj::Set(s) => s.iter().try_for_each(|e| sink.piece(Piece::Elem(Item::Bytes(e)))),
            Obj::Zset(z) => z
                .sorted()
                .into_iter()
                .try_for_each(|(m, score)| sink.piece(Piece::Member { member: Item::Bytes(m), score })),
            Obj::Hash(h) => h.iter().try_for_each(|(f, (v, t))| {
                sink.piece(Piece::Field { field: Item::Bytes(f), value: Item::Bytes(v), expire_at_ms: *t })
            }),
            Obj::Stream(s) => s.pieces(sink),
            Obj::Module { name, encver, raw } => sink.piece(Piece::Module { name, encver: *encver, raw }),
            Obj::Array { elements, cursor } => {
                sink.piece(Piece::ArrayHeader { count: elements.len() as u64, cursor: *cursor })?;
                elements.iter().try_for_each(|(index, v)| {
                    let value = match v {
                        ArrayVal::Bytes(b) => crate::event::ArrayValue::Bytes(b),
                        ArrayVal::Int(i) => crate::event::ArrayValue::Int(*i),
                        ArrayVal::Float(f) => crate::event::ArrayValue::Float(*f),
                    };
                    sink.piece(Piece::ArrayElem { index: *index, value })
                })
            }
        }
    }
}

/// A key's value and expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub obj: Obj,
    pub expire_at_ms: Option<i64>,
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
