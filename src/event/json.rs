//! Reading our own dump (JSONL, or one JSON array) back as owned keys, so that
//! `convert` can turn a dump into RDB or commands again: the inverse of
//! `output::record`, with the same binary-safe strings (`base64:` prefix).
//! JSONL is read one record at a time; a JSON array is read whole.

use super::decode::{Piece, Sink};
use super::stream::{Consumer, Group, Idmp, PendingEntry, Producer, StreamMeta};
use super::{KeyAttrs, StreamId, ValueSource};
use crate::error::{Error, ErrorKind, Result};
use crate::format::KeyType;
use crate::token::Item;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::io::BufRead;

/// A key read from a dump.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedKey {
    pub db: u64,
    pub key: Vec<u8>,
    /// Expiry, LRU, LFU and RAM_LRU; never the metadata, which is owned
    /// here (`key_meta`): [`OwnedKey::full_attrs`] gives both.
    pub attrs: KeyAttrs<'static>,
    /// RDB 13+ module key metadata, rebuilt as a KEY_META body.
    pub key_meta: Option<Vec<u8>>,
    pub value: OwnedValue,
}

impl OwnedKey {
    /// All its attributes, the metadata included.
    pub fn full_attrs(&self) -> KeyAttrs<'_> {
        KeyAttrs { key_meta: self.key_meta.as_deref(), ..self.attrs }
    }
}

/// A stream entry: its ID and field/value pairs.
pub type OwnedEntry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

/// A whole value in memory.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Zset(Vec<(Vec<u8>, f64)>),
    /// Field, value, TTL.
    Hash(Vec<(Vec<u8>, Vec<u8>, Option<i64>)>),
    Stream {
        entries: Vec<OwnedEntry>,
        meta: Box<StreamMeta>,
    },
    Module {
        name: String,
        encver: u64,
        raw: Vec<u8>,
    },
    /// Sparse array: (index, value) in index order, and the insert cursor. The
    /// dump shows every value as text, so they come back as strings.
    Array {
        elements: Vec<(u64, Vec<u8>)>,
        cursor: Option<u64>,
    },
}

impl ValueSource for OwnedValue {
    fn key_type(&self) -> KeyType {
        match self {
            OwnedValue::String(_) => KeyType::String,
            OwnedValue::List(_) => KeyType::List,
            OwnedValue::Set(_) => KeyType::Set,
            OwnedValue::Zset(_) => KeyType::Zset,
            OwnedValue::Hash(_) => KeyType::Hash,
            OwnedValue::Stream { .. } => KeyType::Stream,
            OwnedValue::Module { .. } => KeyType::Module,
            OwnedValue::Array { .. } => KeyType::Array,
        }
    }

    fn pieces(&self, sink: &mut dyn Sink) -> Result<()> {
        match self {
            OwnedValue::String(s) => sink.piece(Piece::Str(s)),
            OwnedValue::List(items) | OwnedValue::Set(items) => {
                items.iter().try_for_each(|i| sink.piece(Piece::Elem(Item::Bytes(i))))
            }
            OwnedValue::Zset(members) => members
                .iter()
                .try_for_each(|(m, score)| sink.piece(Piece::Member { member: Item::Bytes(m), score: *score })),
            OwnedValue::Hash(fields) => fields.iter().try_for_each(|(f, v, t)| {
                sink.piece(Piece::Field { field: Item::Bytes(f), value: Item::Bytes(v), expire_at_ms: *t })
            }),
            OwnedValue::Stream { entries, meta } => {
                for (id, fields) in entries {
                    let items: Vec<(Item<'_>, Item<'_>)> =
                        fields.iter().map(|(f, v)| (Item::Bytes(f), Item::Bytes(v))).collect();
                    sink.piece(Piece::StreamEntry { id: *id, fields: &items })?;
                }
                sink.piece(Piece::StreamMeta(meta))
            }
            OwnedValue::Module { name, encver, raw } => sink.piece(Piece::Module { name, encver: *encver, raw }),
            OwnedValue::Array { elements, cursor } => {
                sink.piece(Piece::ArrayHeader { count: elements.len() as u64, cursor: *cursor })?;
                elements.iter().try_for_each(|(index, v)| {
                    sink.piece(Piece::ArrayElem { index: *index, value: super::ArrayValue::Bytes(v) })
                })
            }
        }
    }
}

fn bad(what: &'static str) -> Error {
    Error::new(ErrorKind::BadEncoding(what))
}

fn bytes(v: &Json) -> Result<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| bad("expected a string"))?;
    crate::escape::decode_bytes(s).ok_or_else(|| bad("bad base64: string"))
}

fn u64_of(v: &Json) -> Result<u64> {
    v.as_u64().ok_or_else(|| bad("expected an unsigned integer"))
}

fn opt_u64(v: &Json) -> Result<Option<u64>> {
    if v.is_null() {
        Ok(None)
    } else {
        u64_of(v).map(Some)
    }
}

fn id_of(v: &Json) -> Result<StreamId> {
    let s = v.as_str().ok_or_else(|| bad("expected a stream ID"))?;
    let (ms, seq) = s.split_once('-').ok_or_else(|| bad("a stream ID is <ms>-<seq>"))?;
    Ok(StreamId {
        ms: ms.parse().map_err(|_| bad("bad stream ID"))?,
        seq: seq.parse().map_err(|_| bad("bad stream ID"))?,
    })
}

fn opt_id(v: &Json) -> Result<Option<StreamId>> {
    if v.is_null() {
        Ok(None)
    } else {
        id_of(v).map(Some)
    }
}

fn array(v: &Json) -> Result<&Vec<Json>> {
    v.as_array().ok_or_else(|| bad("expected an array"))
}

fn score(v: &Json) -> Result<f64> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| bad("bad score")),
        Json::String(s) => match s.as_str() {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            _ => Err(bad("bad score")),
        },
        _ => Err(bad("bad score")),
    }
}

fn stream(v: &Json) -> Result<OwnedValue> {
    let mut entries = Vec::new();
    for e in array(&v["entries"])? {
        let fields = array(&e["fields"])?.iter().map(|p| Ok((bytes(&p[0])?, bytes(&p[1])?))).collect::<Result<_>>()?;
        entries.push((id_of(&e["id"])?, fields));
    }
    let mut groups = Vec::new();
    for g in array(&v["groups"])? {
        let mut consumers = Vec::new();
        for c in array(&g["consumers"])? {
            consumers.push(Consumer {
                name: bytes(&c["name"])?,
                seen_time_ms: c["seen_time_ms"].as_i64().ok_or_else(|| bad("bad seen_time_ms"))?,
                active_time_ms: c["active_time_ms"].as_i64(),
            });
            // Read for its errors only: a consumer's PEL is the pending
            // entries it owns (`Group::consumer_pels`).
            array(&c["pending"])?.iter().try_for_each(|id| id_of(id).map(drop))?;
        }
        let mut pending = BTreeMap::new();
        for p in array(&g["pending"])? {
            let owner = if p["consumer"].is_null() { None } else { Some(bytes(&p["consumer"])?) };
            pending.insert(
                id_of(&p["id"])?,
                PendingEntry {
                    delivery_time_ms: p["delivery_time_ms"].as_i64().ok_or_else(|| bad("bad delivery_time_ms"))?,
                    delivery_count: u64_of(&p["delivery_count"])?,
                    consumer: owner.and_then(|o| consumers.iter().position(|c| c.name == o)),
                },
            );
        }
        let nacked = match g.get("nacked") {
            Some(n) => Some(array(n)?.iter().map(id_of).collect::<Result<_>>()?),
            None => None,
        };
        groups.push(Group {
            name: bytes(&g["name"])?,
            last_id: id_of(&g["last_id"])?,
            entries_read: opt_u64(&g["entries_read"])?,
            pending,
            consumers,
            nacked,
        });
    }
    let idmp = match v.get("idmp").filter(|i| !i.is_null()) {
        None => None,
        Some(i) => {
            let mut producers = Vec::new();
            for p in array(&i["producers"])? {
                let entries =
                    array(&p["iids"])?.iter().map(|e| Ok((bytes(&e[0])?, id_of(&e[1])?))).collect::<Result<_>>()?;
                producers.push(Producer { pid: bytes(&p["pid"])?, entries });
            }
            Some(Idmp {
                duration_s: u64_of(&i["duration_s"])?,
                max_entries: u64_of(&i["max_entries"])?,
                producers,
                iids_added: u64_of(&i["iids_added"])?,
                iids_duplicates: u64_of(&i["iids_duplicates"])?,
            })
        }
    };
    let meta = StreamMeta {
        version: 0,
        nodes: 0,
        length: u64_of(&v["length"])?,
        last_id: id_of(&v["last_id"])?,
        first_id: opt_id(&v["first_id"])?,
        max_deleted_id: opt_id(&v["max_deleted_id"])?,
        entries_added: opt_u64(&v["entries_added"])?,
        groups,
        idmp,
    };
    Ok(OwnedValue::Stream { entries, meta: Box::new(meta) })
}

/// `[[class, raw, version, flags], …]` back into a KEY_META body: count, then
/// per class its spec (u32 LE) and its typed values.
fn key_meta_body(v: &Json) -> Result<Vec<u8>> {
    let classes = array(v)?;
    let mut body = Vec::new();
    body.push(classes.len() as u8 & 0x3f); // at most 7 classes: a 6-bit length
    for c in classes {
        let name = c[0].as_str().ok_or_else(|| bad("key_meta class name"))?;
        let version = c[2].as_u64().and_then(|v| u8::try_from(v).ok()).ok_or_else(|| bad("key_meta class version"))?;
        let flags = c[3].as_u64().and_then(|v| u8::try_from(v).ok()).ok_or_else(|| bad("key_meta class flags"))?;
        let spec =
            crate::format::key_meta_class_spec(name, version, flags).ok_or_else(|| bad("key_meta class spec"))?;
        body.extend_from_slice(&spec.to_le_bytes());
        body.extend_from_slice(&bytes(&c[1])?);
    }
    if classes.len() > 7 {
        return Err(bad("more than 7 key_meta classes"));
    }
    Ok(body)
}

/// One dump record as a key.
pub fn key_from_json(r: &Json) -> Result<OwnedKey> {
    let v = &r["value"];
    let ty = r["type"].as_str().ok_or_else(|| bad("record without a type"))?;
    let value = match ty {
        "string" => OwnedValue::String(bytes(v)?),
        "list" => OwnedValue::List(array(v)?.iter().map(bytes).collect::<Result<_>>()?),
        "set" => OwnedValue::Set(array(v)?.iter().map(bytes).collect::<Result<_>>()?),
        "zset" => {
            OwnedValue::Zset(array(v)?.iter().map(|p| Ok((bytes(&p[0])?, score(&p[1])?))).collect::<Result<_>>()?)
        }
        "hash" => {
            let obj = v.as_object().ok_or_else(|| bad("a hash is an object"))?;
            let ttls = r.get("field_expire_at_ms").and_then(Json::as_object);
            obj.iter()
                .map(|(f, val)| {
                    let ttl = ttls.and_then(|t| t.get(f)).and_then(Json::as_i64);
                    let field = crate::escape::decode_bytes(f).ok_or_else(|| bad("bad base64: field"))?;
                    Ok((field, bytes(val)?, ttl))
                })
                .collect::<Result<_>>()
                .map(OwnedValue::Hash)?
        }
        "stream" => stream(v)?,
        "module" => OwnedValue::Module {
            name: v["module"].as_str().ok_or_else(|| bad("module without a name"))?.to_string(),
            encver: u64_of(&v["encver"])?,
            raw: bytes(&v["raw"])?,
        },
        "array" => OwnedValue::Array {
            elements: array(&v["elements"])?
                .iter()
                .map(|e| Ok((u64_of(&e[0])?, bytes(&e[1])?)))
                .collect::<Result<_>>()?,
            cursor: opt_u64(&v["cursor"])?,
        },
        _ => return Err(bad("unknown type")),
    };
    Ok(OwnedKey {
        db: u64_of(&r["db"])?,
        key: bytes(&r["key"])?,
        attrs: KeyAttrs {
            expire_at_ms: r.get("expire_at_ms").and_then(Json::as_i64),
            idle_s: r.get("idle_s").and_then(Json::as_u64),
            freq: r.get("freq").and_then(Json::as_u64).and_then(|f| u8::try_from(f).ok()),
            ram_lru: r.get("ram_lru").and_then(Json::as_u64),
            key_meta: None,
        },
        key_meta: r.get("key_meta").map(key_meta_body).transpose()?,
        value,
    })
}

/// Every record of a dump (JSONL: one per line; JSON: one array), in order.
pub fn read_dump(input: impl BufRead, mut each: impl FnMut(OwnedKey) -> Result<()>) -> Result<()> {
    let stream = serde_json::Deserializer::from_reader(input).into_iter::<Json>();
    for (n, doc) in stream.enumerate() {
        let doc = doc.map_err(|e| bad("not valid JSON").detail(e.to_string()))?;
        let records: Vec<&Json> = match &doc {
            Json::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for r in records {
            let key = key_from_json(r).map_err(|e| {
                let what = e.detail.clone().unwrap_or_default();
                e.detail(format!("document {}: {what}", n + 1))
            })?;
            each(key)?;
        }
    }
    Ok(())
}
