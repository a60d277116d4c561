//! The JSON record of one key, written while its value is decoded (so a large
//! collection is never held as a whole):
//!
//! `{"db":0,"key":"k","type":"hash","expire_at_ms":1767225600000,"value":{...}}`

use super::json::{write_bytes, write_bytes_in_steps, write_f64, write_i64, write_str, write_u64};
use crate::error::Result;
use crate::event::decode::{ArrayValue, Piece, Sink};
use crate::event::stream::{StreamId, StreamMeta};
use crate::event::{KeyAttrs, KeyEvent, ValueSource};
use crate::format::KeyType;
use crate::token::Item;

/// Integers stored inside compact encodings are written as strings: they are
/// the string values the user stored.
fn write_item(out: &mut Vec<u8>, it: &Item<'_>) {
    match it {
        Item::Bytes(b) => write_bytes(out, b),
        Item::Int(v) => {
            out.push(b'"');
            write_i64(out, *v);
            out.push(b'"');
        }
    }
}

fn write_id(out: &mut Vec<u8>, id: &StreamId) {
    out.push(b'"');
    write_u64(out, id.ms);
    out.push(b'-');
    write_u64(out, id.seq);
    out.push(b'"');
}

fn write_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => write_u64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_opt_id(out: &mut Vec<u8>, id: Option<StreamId>) {
    match id {
        Some(id) => write_id(out, &id),
        None => out.extend_from_slice(b"null"),
    }
}

/// Write `items` as a JSON array, each with `each`.
fn write_array<I: IntoIterator>(out: &mut Vec<u8>, items: I, mut each: impl FnMut(&mut Vec<u8>, I::Item)) {
    out.push(b'[');
    for (i, it) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, it);
    }
    out.push(b']');
}

/// A double as text the way Redis prints floats: shortest round trip.
pub fn write_float_text(out: &mut Vec<u8>, f: f64) {
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"inf" } else { b"-inf" });
    } else if f.is_nan() {
        out.extend_from_slice(b"nan");
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    }
}

fn write_stream_meta(out: &mut Vec<u8>, m: &StreamMeta) {
    out.extend_from_slice(b"],\"length\":");
    write_u64(out, m.length);
    out.extend_from_slice(b",\"last_id\":");
    write_id(out, &m.last_id);
    out.extend_from_slice(b",\"first_id\":");
    write_opt_id(out, m.first_id);
    out.extend_from_slice(b",\"max_deleted_id\":");
    write_opt_id(out, m.max_deleted_id);
    out.extend_from_slice(b",\"entries_added\":");
    write_opt_u64(out, m.entries_added);
    out.extend_from_slice(b",\"groups\":");
    write_array(out, &m.groups, |out, g| {
        out.extend_from_slice(b"{\"name\":");
        write_bytes(out, &g.name);
        out.extend_from_slice(b",\"last_id\":");
        write_id(out, &g.last_id);
        out.extend_from_slice(b",\"entries_read\":");
        write_opt_u64(out, g.entries_read);
        out.extend_from_slice(b",\"pending\":");
        write_array(out, &g.pending, |out, (id, p)| {
            out.extend_from_slice(b"{\"id\":");
            write_id(out, id);
            out.extend_from_slice(b",\"consumer\":");
            match g.owner(p) {
                Some(c) => write_bytes(out, c),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"delivery_time_ms\":");
            write_i64(out, p.delivery_time_ms);
            out.extend_from_slice(b",\"delivery_count\":");
            write_u64(out, p.delivery_count);
            out.push(b'}');
        });
        out.extend_from_slice(b",\"consumers\":");
        write_array(out, g.consumers.iter().zip(g.consumer_pels()), |out, (c, pel)| {
            out.extend_from_slice(b"{\"name\":");
            write_bytes(out, &c.name);
            out.extend_from_slice(b",\"seen_time_ms\":");
            write_i64(out, c.seen_time_ms);
            out.extend_from_slice(b",\"active_time_ms\":");
            match c.active_time_ms {
                Some(t) => write_i64(out, t),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"pending\":");
            write_array(out, &pel, write_id);
            out.push(b'}');
        });
        if let Some(nacked) = &g.nacked {
            out.extend_from_slice(b",\"nacked\":");
            write_array(out, nacked, write_id);
        }
        out.push(b'}');
    });
    if let Some(idmp) = &m.idmp {
        out.extend_from_slice(b",\"idmp\":{\"duration_s\":");
        write_u64(out, idmp.duration_s);
        out.extend_from_slice(b",\"max_entries\":");
        write_u64(out, idmp.max_entries);
        out.extend_from_slice(b",\"iids_added\":");
        write_u64(out, idmp.iids_added);
        out.extend_from_slice(b",\"iids_duplicates\":");
        write_u64(out, idmp.iids_duplicates);
        out.extend_from_slice(b",\"producers\":");
        write_array(out, &idmp.producers, |out, p| {
            out.extend_from_slice(b"{\"pid\":");
            write_bytes(out, &p.pid);
            out.extend_from_slice(b",\"iids\":");
            write_array(out, &p.entries, |out, (iid, id)| {
                out.push(b'[');
                write_bytes(out, iid);
                out.push(b',');
                write_id(out, id);
                out.push(b']');
            });
            out.push(b'}');
        });
        out.push(b'}');
    }
    out.push(b'}');
}

/// Called with the output buffer when it grows past [`SPILL_AT`] while one
/// value is written; it must drain the buffer (write it out and clear it).
pub type Spill<'s> = &'s mut dyn FnMut(&mut Vec<u8>) -> Result<()>;

/// Buffer size at which a streamed record is drained.
pub const SPILL_AT: usize = 1 << 20;

/// Writes the `value` of one key as pieces arrive.
struct ValueWriter<'w, 's> {
    out: &'w mut Vec<u8>,
    spill: Option<Spill<'s>>,
    kind: KeyType,
    first: bool,
    /// Hash fields with a TTL, written after the value.
    field_ttls: Vec<(Vec<u8>, i64)>,
    /// Arrays: highest index seen, element count, insert cursor.
    array_max: Option<u64>,
    array_count: u64,
    array_cursor: Option<u64>,
}

impl ValueWriter<'_, '_> {
    /// A list, set, sorted set or hash with no element written yet.
    fn may_be_empty(&self) -> bool {
        self.first && self.kind.is_collection()
    }

    fn sep(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    fn open(&mut self) {
        let start: &[u8] = match self.kind {
            KeyType::String | KeyType::Module => b"",
            KeyType::List | KeyType::Set | KeyType::Zset => b"[",
            KeyType::Hash => b"{",
            KeyType::Stream => b"{\"entries\":[",
            KeyType::Array => b"{\"elements\":[",
        };
        self.out.extend_from_slice(start);
    }

    fn close(&mut self) {
        match self.kind {
            KeyType::String | KeyType::Module | KeyType::Stream => {}
            KeyType::List | KeyType::Set | KeyType::Zset => self.out.push(b']'),
            KeyType::Hash => self.out.push(b'}'),
            KeyType::Array => {
                self.out.extend_from_slice(b"],\"count\":");
                write_u64(self.out, self.array_count);
                self.out.extend_from_slice(b",\"len\":");
                write_u64(self.out, self.array_max.map_or(0, |m| m.saturating_add(1)));
                self.out.extend_from_slice(b",\"cursor\":");
                write_opt_u64(self.out, self.array_cursor);
                self.out.push(b'}');
            }
        }
    }
}

impl Sink for ValueWriter<'_, '_> {
    fn piece(&mut self, piece: Piece<'_>) -> Result<()> {
        if let (Piece::Str(b), Some(spill)) = (&piece, &mut self.spill) {
            if b.len() > SPILL_AT {
                return write_bytes_in_steps(self.out, b, SPILL_AT, *spill);
            }
        }
        self.write_piece(piece);
        // Not before a collection's first element: an empty one is taken
        // back whole (see `write_record`).
        let may_be_empty = self.may_be_empty();
        match &mut self.spill {
            Some(spill) if self.out.len() >= SPILL_AT && !may_be_empty => spill(self.out),
            _ => Ok(()),
        }
    }
}

impl ValueWriter<'_, '_> {
    fn write_piece(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Str(b) => write_bytes(self.out, b),
            Piece::Elem(it) => {
                self.sep();
                write_item(self.out, &it);
            }
            Piece::Member { member, score } => {
                self.sep();
                self.out.push(b'[');
                write_item(self.out, &member);
                self.out.push(b',');
                write_f64(self.out, score);
                self.out.push(b']');
            }
            Piece::Field { field, value, expire_at_ms } => {
                self.sep();
                write_item(self.out, &field);
                self.out.push(b':');
                write_item(self.out, &value);
                if let Some(t) = expire_at_ms {
                    self.field_ttls.push((field.to_vec(), t));
                }
            }
            Piece::ArrayHeader { count, cursor } => {
                self.array_count = count;
                self.array_cursor = cursor;
            }
            Piece::ArrayElem { index, value } => {
                self.sep();
                self.array_max = self.array_max.max(Some(index));
                self.out.push(b'[');
                write_u64(self.out, index);
                self.out.push(b',');
                match value {
                    ArrayValue::Bytes(b) => write_bytes(self.out, b),
                    ArrayValue::Int(v) => write_item(self.out, &Item::Int(v)),
                    ArrayValue::Float(f) => {
                        self.out.push(b'"');
                        write_float_text(self.out, f);
                        self.out.push(b'"');
                    }
                }
                self.out.push(b']');
            }
            Piece::Module { name, encver, raw } => {
                self.out.extend_from_slice(b"{\"module\":");
                write_str(self.out, name);
                self.out.extend_from_slice(b",\"encver\":");
                write_u64(self.out, encver);
                self.out.extend_from_slice(b",\"raw\":");
                write_bytes(self.out, raw);
                self.out.push(b'}');
            }
            Piece::StreamEntry { id, fields } => {
                self.sep();
                self.out.extend_from_slice(b"{\"id\":");
                write_id(self.out, &id);
                self.out.extend_from_slice(b",\"fields\":");
                write_array(self.out, fields, |out, (f, v)| {
                    out.push(b'[');
                    write_item(out, f);
                    out.push(b',');
                    write_item(out, v);
                    out.push(b']');
                });
                self.out.push(b'}');
            }
            Piece::StreamMeta(m) => write_stream_meta(self.out, m),
            // Never asked for: a dump holds content, not how it was stored.
            Piece::Layout(_) => {}
        }
    }
}

/// Append one key as a JSON object (no trailing newline) to `out`.
pub fn write_key_record(out: &mut Vec<u8>, key: &KeyEvent<'_>) -> Result<()> {
    write_key_record_spilling(out, key, None)
}

/// Like [`write_key_record`], but hands the buffer to `spill` whenever it grows
/// past [`SPILL_AT`], so a huge value never has to be held as JSON.
pub fn write_key_record_spilling(out: &mut Vec<u8>, key: &KeyEvent<'_>, spill: Option<Spill<'_>>) -> Result<()> {
    write_record(out, key.db, &key.key, &key.attrs, &key.value, spill)
}

/// One key as a JSON object (no trailing newline), from any source (an RDB
/// key, a replayed key, a dump record). An empty list, set, sorted set or
/// hash is refused (`EmptyKey`, nothing written): the server skips such keys
/// on load, so no output of ours shows one.
pub fn write_record(
    out: &mut Vec<u8>,
    db: u64,
    name: &[u8],
    attrs: &KeyAttrs<'_>,
    value: &dyn ValueSource,
    spill: Option<Spill<'_>>,
) -> Result<()> {
    let start = out.len();
    let kind = value.key_type();
    out.extend_from_slice(b"{\"db\":");
    write_u64(out, db);
    out.extend_from_slice(b",\"key\":");
    write_bytes(out, name);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(kind.name().as_bytes());
    out.push(b'"');
    let field = |out: &mut Vec<u8>, name: &[u8], v: Option<i64>| {
        if let Some(v) = v {
            out.extend_from_slice(name);
            write_i64(out, v);
        }
    };
    field(out, b",\"expire_at_ms\":", attrs.expire_at_ms);
    if let Some(idle) = attrs.idle_s {
        out.extend_from_slice(b",\"idle_s\":");
        write_u64(out, idle);
    }
    field(out, b",\"freq\":", attrs.freq.map(i64::from));
    if let Some(ram_lru) = attrs.ram_lru {
        out.extend_from_slice(b",\"ram_lru\":");
        write_u64(out, ram_lru);
    }
    out.extend_from_slice(b",\"value\":");
    let mut vw = ValueWriter {
        out,
        spill,
        kind,
        first: true,
        field_ttls: Vec::new(),
        array_max: None,
        array_count: 0,
        array_cursor: None,
    };
    vw.open();
    value.pieces(&mut vw)?;
    if vw.may_be_empty() {
        out.truncate(start);
        return Err(crate::error::Error::new(crate::error::ErrorKind::EmptyKey));
    }
    vw.close();
    let ttls = std::mem::take(&mut vw.field_ttls);
    if !ttls.is_empty() {
        out.extend_from_slice(b",\"field_expire_at_ms\":{");
        for (i, (f, t)) in ttls.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_bytes(out, f);
            out.push(b':');
            write_i64(out, *t);
        }
        out.push(b'}');
    }
    if let Some(meta) = attrs.key_meta {
        out.extend_from_slice(b",\"key_meta\":");
        write_array(out, &crate::event::key_meta_classes(meta), |out, class| {
            out.push(b'[');
            write_str(out, &class.name);
            out.push(b',');
            write_bytes(out, class.raw);
            out.push(b',');
            write_u64(out, u64::from(class.version));
            out.push(b',');
            write_u64(out, u64::from(class.flags));
            out.push(b']');
        });
    }
    out.push(b'}');
    Ok(())
}

/// One AOF command as a JSON object (no newline):
/// `{"file":"appendonly.aof.1.incr.aof","offset":123,"db":0,"ts":1700000000,"args":["SET","k","v"]}`.
pub fn write_command_record(out: &mut Vec<u8>, file: &str, cmd: &crate::event::CommandEvent<'_>) {
    out.extend_from_slice(b"{\"file\":");
    write_str(out, file);
    out.extend_from_slice(b",\"offset\":");
    write_u64(out, cmd.offset);
    out.extend_from_slice(b",\"db\":");
    write_u64(out, cmd.db);
    out.extend_from_slice(b",\"ts\":");
    match cmd.ts {
        Some(ts) => write_i64(out, ts),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"args\":[");
    for (i, arg) in cmd.args().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_bytes(out, arg);
    }
    out.extend_from_slice(b"]}");
}
