//! Reading our own dump (JSONL, or one JSON array) back as owned keys, so that
//! `convert` can turn a dump into RDB or commands again: the inverse of
//! `output::record`, with the same binary-safe strings (`base64:` prefix).
//! JSONL is read one record at a time; a JSON array is read whole.

use super::stream::{Consumer, Group, Idmp, PendingEntry, Producer, StreamMeta};
use super::value::{OwnedValue, Stream, Zset};
use super::{ArrayValue, KeyAttrs, StreamId};
use crate::error::{Error, ErrorKind, Result};
use crate::format::KeyType;
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

/// Each element of a collection into `insert`, which says whether it was
/// new: a dump holding one twice (never one we wrote) is refused, since the
/// server refuses such a value (rdb.c `rdbLoadObject`: "Duplicate … detected").
fn unique(items: &[Json], mut insert: impl FnMut(&Json) -> Result<bool>, what: &'static str) -> Result<()> {
    for it in items {
        if !insert(it)? {
            return Err(bad(what));
        }
    }
    Ok(())
}

fn stream(v: &Json) -> Result<OwnedValue> {
    let mut entries = BTreeMap::new();
    unique(
        array(&v["entries"])?,
        |e| {
            let fields =
                array(&e["fields"])?.iter().map(|p| Ok((bytes(&p[0])?, bytes(&p[1])?))).collect::<Result<_>>()?;
            Ok(entries.insert(id_of(&e["id"])?, fields).is_none())
        },
        "a stream entry ID twice",
    )?;
    let mut groups = Vec::new();
    for g in array(&v["groups"])? {
        let mut consumers = Vec::new();
        let mut listed = Vec::new();
        for c in array(&g["consumers"])? {
            consumers.push(Consumer {
                name: bytes(&c["name"])?,
                seen_time_ms: c["seen_time_ms"].as_i64().ok_or_else(|| bad("bad seen_time_ms"))?,
                active_time_ms: c["active_time_ms"].as_i64(),
            });
            listed.push(array(&c["pending"])?.iter().map(id_of).collect::<Result<Vec<_>>>()?);
        }
        let mut pending = BTreeMap::new();
        unique(
            array(&g["pending"])?,
            |p| {
                let owner = if p["consumer"].is_null() { None } else { Some(bytes(&p["consumer"])?) };
                let entry = PendingEntry {
                    delivery_time_ms: p["delivery_time_ms"].as_i64().ok_or_else(|| bad("bad delivery_time_ms"))?,
                    delivery_count: u64_of(&p["delivery_count"])?,
                    consumer: owner.and_then(|o| consumers.iter().position(|c| c.name == o)),
                };
                Ok(pending.insert(id_of(&p["id"])?, entry).is_none())
            },
            "a pending entry ID twice in a group",
        )?;
        let nacked = match g.get("nacked") {
            Some(n) => Some(array(n)?.iter().map(id_of).collect::<Result<_>>()?),
            None => None,
        };
        let group = Group {
            name: bytes(&g["name"])?,
            last_id: id_of(&g["last_id"])?,
            entries_read: opt_u64(&g["entries_read"])?,
            pending,
            consumers,
            nacked,
        };
        // A consumer's PEL is the pending entries it owns
        // (`Group::consumer_pels`): a dump saying otherwise was edited.
        let disagrees = group.consumer_pels().into_iter().zip(listed).any(|(owned, mut said)| {
            said.sort_unstable();
            owned != said
        });
        if disagrees {
            return Err(bad("a consumer's pending list disagrees with the group's"));
        }
        groups.push(group);
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
    Ok(OwnedValue::Stream(Box::new(Stream { entries, meta })))
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
    let mut value = OwnedValue::empty(match ty {
        "string" => KeyType::String,
        "list" => KeyType::List,
        "set" => KeyType::Set,
        "zset" => KeyType::Zset,
        "hash" => KeyType::Hash,
        "stream" => KeyType::Stream,
        "module" => KeyType::Module,
        "array" => KeyType::Array,
        _ => return Err(bad("unknown type")),
    });
    match &mut value {
        OwnedValue::Str(s) => *s = bytes(v)?,
        OwnedValue::List(l) => *l = array(v)?.iter().map(bytes).collect::<Result<_>>()?,
        OwnedValue::Set(s) => unique(array(v)?, |m| Ok(s.insert(bytes(m)?)), "a set member twice")?,
        OwnedValue::Zset(Zset { scores, .. }) => unique(
            array(v)?,
            |p| Ok(scores.insert(bytes(&p[0])?, score(&p[1])?).is_none()),
            "a sorted set member twice",
        )?,
        OwnedValue::Hash(h) => {
            let obj = v.as_object().ok_or_else(|| bad("a hash is an object"))?;
            let ttls = r.get("field_expire_at_ms").and_then(Json::as_object);
            for (f, val) in obj {
                let ttl = ttls.and_then(|t| t.get(f)).and_then(Json::as_i64);
                let field = crate::escape::decode_bytes(f).ok_or_else(|| bad("bad base64: field"))?;
                if h.insert(field, (bytes(val)?, ttl)).is_some() {
                    return Err(bad("a hash field twice"));
                }
            }
        }
        OwnedValue::Stream(_) => value = stream(v)?,
        OwnedValue::Module { name, encver, raw } => {
            *name = v["module"].as_str().ok_or_else(|| bad("module without a name"))?.to_string();
            *encver = u64_of(&v["encver"])?;
            *raw = bytes(&v["raw"])?;
        }
        // The dump shows every element as text, so they come back as strings.
        OwnedValue::Array { elements, cursor } => {
            unique(
                array(&v["elements"])?,
                |e| Ok(elements.insert(u64_of(&e[0])?, ArrayValue::Bytes(bytes(&e[1])?)).is_none()),
                "an array index twice",
            )?;
            *cursor = opt_u64(&v["cursor"])?;
        }
    }
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
