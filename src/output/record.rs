//! The JSON record of one key, written while its value is decoded (so a large
//! collection is never held as a whole):
//!
//! `{"db":0,"key":"k","type":"hash","expire_at_ms":1767225600000,"value":{...}}`

use super::json::{write_bytes, write_f64, write_i64, write_str, write_u64};
use crate::error::{Error, Result};
use crate::event::decode::{ArrayValue, Piece, Sink};
use crate::event::stream::{StreamId, StreamMeta};
use crate::event::KeyEvent;
use crate::format::KeyType;
use crate::token::Item;
use std::io::Write;

fn io(e: std::io::Error) -> Error {
    Error::io(e)
}

fn write_item(w: &mut impl Write, it: &Item<'_>) -> std::io::Result<()> {
    match it {
        Item::Bytes(b) => write_bytes(w, b),
        Item::Int(v) => {
            w.write_all(b"\"")?;
            write_i64(w, *v)?;
            w.write_all(b"\"")
        }
    }
}

fn write_id(w: &mut impl Write, id: &StreamId) -> std::io::Result<()> {
    write!(w, "\"{id}\"")
}

/// Writes the `value` of one key as pieces arrive.
struct ValueWriter<'w, W: Write> {
    w: &'w mut W,
    kind: KeyType,
    first: bool,
    /// Hash fields with a TTL, written after the value.
    field_ttls: Vec<(Vec<u8>, i64)>,
    /// Arrays: highest index seen.
    array_max: Option<u64>,
    array_count: u64,
    array_cursor: Option<u64>,
}

impl<W: Write> ValueWriter<'_, W> {
    fn sep(&mut self) -> std::io::Result<()> {
        if !self.first {
            self.w.write_all(b",")?;
        }
        self.first = false;
        Ok(())
    }

    fn open(&mut self) -> std::io::Result<()> {
        match self.kind {
            KeyType::String | KeyType::Module => Ok(()),
            KeyType::List | KeyType::Set | KeyType::Zset => self.w.write_all(b"["),
            KeyType::Hash => self.w.write_all(b"{"),
            KeyType::Stream => self.w.write_all(b"{\"entries\":["),
            KeyType::Array => self.w.write_all(b"{\"elements\":["),
        }
    }

    fn close(&mut self) -> std::io::Result<()> {
        match self.kind {
            KeyType::String | KeyType::Module | KeyType::Stream => Ok(()),
            KeyType::List | KeyType::Set | KeyType::Zset => self.w.write_all(b"]"),
            KeyType::Hash => self.w.write_all(b"}"),
            KeyType::Array => {
                self.w.write_all(b"],\"count\":")?;
                write_u64(self.w, self.array_count)?;
                self.w.write_all(b",\"len\":")?;
                write_u64(self.w, self.array_max.map_or(0, |m| m.saturating_add(1)))?;
                self.w.write_all(b",\"cursor\":")?;
                match self.array_cursor {
                    Some(c) => write_u64(self.w, c)?,
                    None => self.w.write_all(b"null")?,
                }
                self.w.write_all(b"}")
            }
        }
    }

    fn stream_meta(&mut self, m: &StreamMeta) -> std::io::Result<()> {
        let w = &mut *self.w;
        w.write_all(b"],\"length\":")?;
        write_u64(w, m.length)?;
        w.write_all(b",\"last_id\":")?;
        write_id(w, &m.last_id)?;
        let opt_id = |w: &mut W, name: &str, id: Option<StreamId>| -> std::io::Result<()> {
            write!(w, ",\"{name}\":")?;
            match id {
                Some(id) => write_id(w, &id),
                None => w.write_all(b"null"),
            }
        };
        opt_id(w, "first_id", m.first_id)?;
        opt_id(w, "max_deleted_id", m.max_deleted_id)?;
        w.write_all(b",\"entries_added\":")?;
        match m.entries_added {
            Some(n) => write_u64(w, n)?,
            None => w.write_all(b"null")?,
        }
        w.write_all(b",\"groups\":[")?;
        for (gi, g) in m.groups.iter().enumerate() {
            if gi > 0 {
                w.write_all(b",")?;
            }
            w.write_all(b"{\"name\":")?;
            write_bytes(w, &g.name)?;
            w.write_all(b",\"last_id\":")?;
            write_id(w, &g.last_id)?;
            w.write_all(b",\"entries_read\":")?;
            match g.entries_read {
                Some(n) => write_u64(w, n)?,
                None => w.write_all(b"null")?,
            }
            w.write_all(b",\"pending\":[")?;
            for (i, p) in g.pending.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(b"{\"id\":")?;
                write_id(w, &p.id)?;
                w.write_all(b",\"consumer\":")?;
                match &p.consumer {
                    Some(c) => write_bytes(w, c)?,
                    None => w.write_all(b"null")?,
                }
                w.write_all(b",\"delivery_time_ms\":")?;
                write_i64(w, p.delivery_time_ms)?;
                w.write_all(b",\"delivery_count\":")?;
                write_u64(w, p.delivery_count)?;
                w.write_all(b"}")?;
            }
            w.write_all(b"],\"consumers\":[")?;
            for (i, c) in g.consumers.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(b"{\"name\":")?;
                write_bytes(w, &c.name)?;
                w.write_all(b",\"seen_time_ms\":")?;
                write_i64(w, c.seen_time_ms)?;
                w.write_all(b",\"active_time_ms\":")?;
                match c.active_time_ms {
                    Some(t) => write_i64(w, t)?,
                    None => w.write_all(b"null")?,
                }
                w.write_all(b",\"pending\":[")?;
                for (j, id) in c.pending.iter().enumerate() {
                    if j > 0 {
                        w.write_all(b",")?;
                    }
                    write_id(w, id)?;
                }
                w.write_all(b"]}")?;
            }
            w.write_all(b"]")?;
            if let Some(nacked) = &g.nacked {
                w.write_all(b",\"nacked\":[")?;
                for (j, id) in nacked.iter().enumerate() {
                    if j > 0 {
                        w.write_all(b",")?;
                    }
                    write_id(w, id)?;
                }
                w.write_all(b"]")?;
            }
            w.write_all(b"}")?;
        }
        w.write_all(b"]")?;
        if let Some(idmp) = &m.idmp {
            w.write_all(b",\"idmp\":{\"duration_s\":")?;
            write_u64(w, idmp.duration_s)?;
            w.write_all(b",\"max_entries\":")?;
            write_u64(w, idmp.max_entries)?;
            w.write_all(b",\"iids_added\":")?;
            write_u64(w, idmp.iids_added)?;
            w.write_all(b",\"iids_duplicates\":")?;
            write_u64(w, idmp.iids_duplicates)?;
            w.write_all(b",\"producers\":[")?;
            for (i, p) in idmp.producers.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(b"{\"pid\":")?;
                write_bytes(w, &p.pid)?;
                w.write_all(b",\"iids\":[")?;
                for (j, (iid, id)) in p.entries.iter().enumerate() {
                    if j > 0 {
                        w.write_all(b",")?;
                    }
                    w.write_all(b"[")?;
                    write_bytes(w, iid)?;
                    w.write_all(b",")?;
                    write_id(w, id)?;
                    w.write_all(b"]")?;
                }
                w.write_all(b"]}")?;
            }
            w.write_all(b"]}")?;
        }
        w.write_all(b"}")
    }
}

impl<W: Write> Sink for ValueWriter<'_, W> {
    fn piece(&mut self, piece: Piece<'_>) -> Result<()> {
        match piece {
            Piece::Str(b) => write_bytes(self.w, b),
            Piece::Elem(it) => {
                self.sep().map_err(io)?;
                write_item(self.w, &it)
            }
            Piece::Member { member, score } => {
                self.sep().map_err(io)?;
                self.w.write_all(b"[").map_err(io)?;
                write_item(self.w, &member).map_err(io)?;
                self.w.write_all(b",").map_err(io)?;
                write_f64(self.w, score).map_err(io)?;
                self.w.write_all(b"]")
            }
            Piece::Field { field, value, expire_at_ms } => {
                self.sep().map_err(io)?;
                write_item(self.w, &field).map_err(io)?;
                self.w.write_all(b":").map_err(io)?;
                if let Some(t) = expire_at_ms {
                    self.field_ttls.push((field.to_vec(), t));
                }
                write_item(self.w, &value)
            }
            Piece::ArrayHeader { count, cursor } => {
                self.array_count = count;
                self.array_cursor = cursor;
                Ok(())
            }
            Piece::ArrayElem { index, value } => {
                self.sep().map_err(io)?;
                self.array_max = Some(index);
                write!(self.w, "[{index},").map_err(io)?;
                match value {
                    ArrayValue::Bytes(b) => write_bytes(self.w, b),
                    ArrayValue::Int(v) => write!(self.w, "\"{v}\""),
                    ArrayValue::Float(f) => {
                        self.w.write_all(b"\"").map_err(io)?;
                        write_float_text(self.w, f).map_err(io)?;
                        self.w.write_all(b"\"")
                    }
                }
                .map_err(io)?;
                self.w.write_all(b"]")
            }
            Piece::Module { name, encver, raw } => {
                self.w.write_all(b"{\"module\":").map_err(io)?;
                write_str(self.w, name).map_err(io)?;
                write!(self.w, ",\"encver\":{encver},\"raw\":").map_err(io)?;
                write_bytes(self.w, raw).map_err(io)?;
                self.w.write_all(b"}")
            }
            Piece::StreamEntry { id, fields } => {
                self.sep().map_err(io)?;
                self.w.write_all(b"{\"id\":").map_err(io)?;
                write_id(self.w, &id).map_err(io)?;
                self.w.write_all(b",\"fields\":[").map_err(io)?;
                for (i, (f, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.w.write_all(b",").map_err(io)?;
                    }
                    self.w.write_all(b"[").map_err(io)?;
                    write_item(self.w, f).map_err(io)?;
                    self.w.write_all(b",").map_err(io)?;
                    write_item(self.w, v).map_err(io)?;
                    self.w.write_all(b"]").map_err(io)?;
                }
                self.w.write_all(b"]}")
            }
            Piece::StreamMeta(m) => self.stream_meta(m),
        }
        .map_err(io)
    }
}

/// A double as text the way Redis prints floats: shortest round-trip, integral
/// values with a trailing ".0" dropped only when Redis would.
pub fn write_float_text(w: &mut impl Write, f: f64) -> std::io::Result<()> {
    if f.is_infinite() {
        return w.write_all(if f > 0.0 { b"inf" } else { b"-inf" });
    }
    if f.is_nan() {
        return w.write_all(b"nan");
    }
    w.write_all(ryu::Buffer::new().format_finite(f).as_bytes())
}

/// Write one key as a JSON object (no trailing newline).
pub fn write_key_record(w: &mut impl Write, key: &KeyEvent<'_>) -> Result<()> {
    let kind = key.value.key_type();
    (|| -> std::io::Result<()> {
        write!(w, "{{\"db\":{},\"key\":", key.db)?;
        write_bytes(w, &key.key)?;
        write!(w, ",\"type\":\"{}\"", kind.name())?;
        if let Some(t) = key.expire_at_ms {
            write!(w, ",\"expire_at_ms\":{t}")?;
        }
        if let Some(i) = key.idle_s {
            write!(w, ",\"idle_s\":{i}")?;
        }
        if let Some(f) = key.freq {
            write!(w, ",\"freq\":{f}")?;
        }
        w.write_all(b",\"value\":")
    })()
    .map_err(io)?;
    let mut vw = ValueWriter {
        w,
        kind,
        first: true,
        field_ttls: Vec::new(),
        array_max: None,
        array_count: 0,
        array_cursor: None,
    };
    vw.open().map_err(io)?;
    key.value.decode(&mut vw)?;
    vw.close().map_err(io)?;
    let ttls = std::mem::take(&mut vw.field_ttls);
    (|| -> std::io::Result<()> {
        if !ttls.is_empty() {
            w.write_all(b",\"field_expire_at_ms\":{")?;
            for (i, (f, t)) in ttls.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write_bytes(w, f)?;
                write!(w, ":{t}")?;
            }
            w.write_all(b"}")?;
        }
        if let Some(meta) = &key.key_meta {
            w.write_all(b",\"key_meta\":[")?;
            for (i, class) in meta.classes().iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(b"[")?;
                write_str(w, &class.name)?;
                w.write_all(b",")?;
                write_bytes(w, class.raw)?;
                w.write_all(b"]")?;
            }
            w.write_all(b"]")?;
        }
        w.write_all(b"}")
    })()
    .map_err(io)
}
